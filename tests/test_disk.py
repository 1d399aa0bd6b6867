"""REPRO_HOME that cannot be written, and a disk that fills up mid-run: one `error:` line and
exit 2 for the configuration problem, and a record of every started run even when the disk is
full. Read-only and full disks are real: a small tmpfs mounted for the test (root only, as in
CI; skipped elsewhere, saying why)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import run_repro


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs; `remount(ro=True)` makes it read-only."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")

    class Disk:
        path = mount

        @staticmethod
        def remount(ro: bool) -> None:
            subprocess.run(["mount", "-o", f"remount,{'ro' if ro else 'rw'}", str(mount)], check=True)

        @staticmethod
        def fill() -> None:
            descriptor = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(descriptor, b"\0" * 4096):
                    pass
            except OSError:  # no space left: full
                pass
            finally:
                os.close(descriptor)

    yield Disk
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def assert_one_clean_error(result, *phrases: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for phrase in phrases:
        assert phrase in errors[0], errors[0]


def test_a_repro_home_that_is_a_file(tiny_papers, monkeypatch, tmp_path):
    home = tmp_path / "home-file"
    home.write_text("not a folder\n")
    monkeypatch.setenv("REPRO_HOME", str(home))
    assert_one_clean_error(run_repro("run", "tiny", "--claims", "a_score"), f"REPRO_HOME={home} is a file", "Point REPRO_HOME")
    assert_one_clean_error(run_repro("fetch", "tiny"), "is a file")
    assert home.read_text() == "not a folder\n"


def test_a_repro_home_on_a_read_only_disk(tiny_papers, monkeypatch, small_disk):
    monkeypatch.setenv("REPRO_HOME", str(small_disk.path / "home"))
    small_disk.remount(ro=True)
    assert_one_clean_error(run_repro("run", "tiny", "--claims", "a_score"), "read-only file system")


def test_a_repro_home_on_a_full_disk(tiny_papers, monkeypatch, small_disk):
    monkeypatch.setenv("REPRO_HOME", str(small_disk.path / "home"))
    (small_disk.path / "home").mkdir()
    small_disk.fill()
    assert_one_clean_error(run_repro("run", "tiny", "--claims", "a_score"), "full disk")


def test_a_disk_that_fills_mid_run_still_gets_every_record(tiny_papers, monkeypatch, small_disk):
    home = small_disk.path / "home"
    monkeypatch.setenv("REPRO_HOME", str(home))
    result = run_repro("run", "tiny", "--set", "mode=fill_the_disk", "--claims", "a_score")
    assert result.returncode == 3, result.stdout + result.stderr  # the run failed; the harness did not
    assert "Traceback" not in result.stderr
    (record,) = [json.loads(p.read_text()) for p in (home / "runs").glob("*/run.json")]
    assert record["status"] == "crashed" and record["finished"]
    assert not list((home / "runs").glob(".space-reserve-*"))  # given back when the batch ended
    (Path(record["log_path"]).parent / "work" / "filler").unlink()
    assert run_repro("run", "tiny", "--claims", "a_score").returncode == 0  # space again: runs again
