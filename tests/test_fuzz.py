"""Property-based tests (hypothesis): whatever a manifest or a command line holds, repro ends
with exit 0 or exit 2 and a `file: field: reason` (or a flag) — never a Python traceback,
never more than a few seconds.

Manifests are the tiny paper's with one field's value replaced by a generated YAML value
(scalars of every kind, nested lists and mappings, odd strings), or with generated text
spliced in; command lines are `repro run tiny --dry-run` with generated values for its
options. Both run the CLI in this process (conftest.run_repro).
"""

from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import TINY_MANIFEST, run_repro

FIELDS = [  # (path in the manifest, as keys and list indexes)
    ("title",), ("authors",), ("year",), ("venue",), ("reference", "repo"), ("reference", "commit"),
    ("config", "steps"), ("config", "score"), ("profiles", "quick", "seeds"), ("profiles", "quick", "expected_seconds"),
    ("profiles", "full", "paper_protocol"), ("claims", 0, "reported"), ("claims", 0, "tolerance"),
    ("claims", 0, "setting"), ("claims", 1, "direction"), ("claims", 1, "metric"), ("claims",), ("profiles",),
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["", "~", "null", "yes", "0x1F", "1e999", ".nan", "-.inf", "2024-01-01", "{", "[", "*a", "&a x"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                      max_leaves=12)

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def write_manifest(folder, text: str) -> None:
    (folder / "tiny" / "paper.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")


def assert_clean(result, seconds: float) -> None:
    assert result.returncode in (0, 2), result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert seconds < 5, f"took {seconds:.1f} s"
    if result.returncode == 2:
        assert result.stderr.startswith("error:") and len(result.stderr) < 20_000, result.stderr[:500]


@FUZZ
@given(field=st.sampled_from(FIELDS), value=values)
@example(field=("claims", 0, "setting"), value={"\r": None})  # found by CI: a setting key that broke the line
@example(field=("config",), value={"\n": 1})
def test_any_value_in_any_field_is_a_clean_outcome(tiny_papers, field, value):
    manifest = yaml.safe_load(TINY_MANIFEST)
    node = manifest
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    write_manifest(tiny_papers, yaml.safe_dump(manifest, allow_unicode=True))
    started = time.monotonic()
    result = run_repro("show", "tiny")
    assert_clean(result, time.monotonic() - started)
    if result.returncode == 2 and "problem(s) in the manifest" in result.stderr:
        problems = [line.strip() for line in result.stderr.splitlines()[1:]]
        assert all(line.startswith(str(tiny_papers / "tiny" / "paper.yaml") + ": ") for line in problems), problems


@FUZZ
@given(junk=st.text(max_size=200), at=st.integers(min_value=0, max_value=len(TINY_MANIFEST)))
def test_any_text_spliced_into_the_file_is_a_clean_outcome(tiny_papers, junk, at):
    write_manifest(tiny_papers, TINY_MANIFEST[:at] + junk + TINY_MANIFEST[at:])
    started = time.monotonic()
    assert_clean(run_repro("show", "tiny"), time.monotonic() - started)


option_values = st.one_of(st.text(max_size=30), st.integers(min_value=-(2**80), max_value=2**80).map(str),
                          st.floats().map(str), st.sampled_from(["", ",", ",,", "nan", "inf", "-1", "0", "1e9"]))


@FUZZ
@given(option=st.sampled_from(["--seeds", "--claims", "--timeout", "--jobs", "--threads", "--set", "--profile",
                               "--impl", "--device", "--mem", "--time", "--cpus-per-run"]),
       value=option_values)
def test_any_value_of_any_run_option_is_a_clean_outcome(tiny_papers, repro_home, option, value):
    started = time.monotonic()
    result = run_repro("run", "tiny", "--dry-run", f"{option}={value}")
    if result.returncode == 2 and "usage:" in result.stderr:  # argparse's own refusal (a type or a choice)
        assert "Traceback" not in result.stderr
        return
    assert_clean(result, time.monotonic() - started)
    assert not (repro_home / "runs").exists()


@pytest.mark.parametrize("text", ["\ufeff" + TINY_MANIFEST, TINY_MANIFEST.replace("\n", "\r\n"), "\t" + TINY_MANIFEST])
def test_byte_order_marks_line_ends_and_tabs(tiny_papers, text):
    write_manifest(tiny_papers, text)
    started = time.monotonic()
    assert_clean(run_repro("show", "tiny"), time.monotonic() - started)
