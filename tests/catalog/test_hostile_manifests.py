"""Manifests that are malformed on purpose: read with bounded time and memory, and every
problem reported as `file: field: reason` (exit 2), never a traceback or an unbounded value."""

from __future__ import annotations

import time

import pytest

from conftest import TINY_MANIFEST, run_repro


def show_with(tiny_papers, text: str | bytes):
    manifest = tiny_papers / "tiny" / "paper.yaml"
    manifest.write_bytes(text if isinstance(text, bytes) else text.encode())
    started = time.monotonic()
    result = run_repro("show", "tiny")
    return result, time.monotonic() - started


def assert_refused(result, *phrases: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr) < 3000, f"an unbounded message ({len(result.stderr)} characters)"
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_deep_nesting_is_refused(tiny_papers):
    deep = TINY_MANIFEST.replace("venue: Tests", "venue: " + "[" * 600 + "]" * 600)
    result, seconds = show_with(tiny_papers, deep)
    assert_refused(result, "paper.yaml", "nested deeper than")


def test_an_alias_bomb_is_refused_quickly(tiny_papers):
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 10):
        bomb += f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]\n"
    text = TINY_MANIFEST.replace("venue: Tests", "venue: Tests\nbomb:\n  " + bomb.replace("\n", "\n  ") + "all: *a9")
    result, seconds = show_with(tiny_papers, text)
    assert_refused(result, "aliases")
    assert seconds < 10


def test_a_huge_manifest_is_refused_by_its_size(tiny_papers):
    result, _ = show_with(tiny_papers, TINY_MANIFEST + "# " + "x" * (2 * 1024 * 1024) + "\n")
    assert_refused(result, "paper.yaml", "larger than")


def test_a_huge_title_is_refused_and_not_printed(tiny_papers):
    result, _ = show_with(tiny_papers, TINY_MANIFEST.replace("A tiny paper for testing the harness", "T" * 200_000))
    assert_refused(result, "title")


def test_a_nul_byte_gets_its_line_and_column(tiny_papers):
    result, _ = show_with(tiny_papers, TINY_MANIFEST.replace("venue: Tests", "venue: Te\0sts"))
    assert_refused(result, "line 5, column 10", "NUL")


@pytest.mark.parametrize("value, reason", [("true", "a number"), ('"32.0"', "a number")])
def test_reported_must_be_a_number_not_a_boolean_or_text(tiny_papers, value, reason):
    result, _ = show_with(tiny_papers, TINY_MANIFEST.replace("reported: 1.0", f"reported: {value}", 1))
    assert_refused(result, "claims[0] (a_score).reported", reason)


def test_a_config_value_that_is_a_mapping_is_one_problem(tiny_papers):
    result, _ = show_with(tiny_papers, TINY_MANIFEST.replace("  steps: 5", "  steps: {a: 1}"))
    assert_refused(result, "config.steps")
    assert result.stderr.count("config.steps") == 1, result.stderr


def test_a_manifest_that_is_a_folder(tiny_papers):
    manifest = tiny_papers / "tiny" / "paper.yaml"
    manifest.unlink()
    manifest.mkdir()
    result = run_repro("show", "tiny")
    assert_refused(result, "paper.yaml", "a folder, not a file")
