"""Settings from repro.toml or [tool.repro] in pyproject.toml, under the command line's options."""

from __future__ import annotations

import json
import os

import pytest

from conftest import run_repro


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty folder to run repro from, with no REPRO_CONFIG pointing elsewhere."""
    monkeypatch.delenv("REPRO_CONFIG", raising=False)
    folder = tmp_path / "lab"
    folder.mkdir()
    return folder


def config_of(folder) -> dict:
    result = run_repro("config", "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_nearest_settings_file_is_used(project):
    assert config_of(project)["file"] is None
    assert config_of(project)["run"]["executor"] == "local"

    (project / "pyproject.toml").write_text('[project]\nname = "lab"\n\n[tool.repro.slurm]\npartition = "gpu"\ntime = "1:30:00"\n')
    inside = project / "experiments" / "today"
    inside.mkdir(parents=True)
    found = config_of(inside)  # from a folder below, as from the project's root
    assert found["file"] == str(project / "pyproject.toml")
    assert found["slurm"]["partition"] == "gpu" and found["slurm"]["time_minutes"] == 90

    (project / "repro.toml").write_text('[run]\nexecutor = "slurm"\njobs = 4\n[slurm]\nmem = "16g"\n')
    found = config_of(inside)
    assert found["file"] == str(project / "repro.toml")  # repro.toml first, and on its own
    assert found["run"] == {"executor": "slurm", "jobs": 4, "threads": None}
    assert found["slurm"]["mem"] == "16G" and found["slurm"]["partition"] is None
    text = run_repro("config", cwd=inside).stdout
    assert f"settings from {project / 'repro.toml'}" in text and "executor:      slurm" in text


def test_a_bad_settings_file_names_the_file_the_field_and_the_reason(project, tiny_papers, monkeypatch):
    (project / "repro.toml").write_text('[run]\njobs = 0\n[slurm]\npartiton = "gpu"\nmem = "lots"\ntime = "soon"\n')
    for command in (("config",), ("run", "tiny")):
        result = run_repro(*command, cwd=project)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        path = project / "repro.toml"
        assert f"{path}: run.jobs: Input should be greater than or equal to 1" in result.stderr
        assert f"{path}: slurm.partiton: not a setting" in result.stderr
        assert f"{path}: slurm.mem: 'LOTS' is not a memory size" in result.stderr
        assert f"{path}: slurm.time: 'soon' is not a time limit" in result.stderr

    (project / "repro.toml").write_text("[run\nexecutor = 'slurm'\n")
    broken = run_repro("config", cwd=project)
    assert broken.returncode == 2 and "not valid TOML" in broken.stderr

    monkeypatch.setenv("REPRO_CONFIG", str(project / "nope.toml"))
    missing = run_repro("config", cwd=project)
    assert missing.returncode == 2 and "REPRO_CONFIG" in missing.stderr and "no such file" in missing.stderr


def test_the_command_line_wins_over_the_file(project, tiny_papers, repro_home):
    (project / "repro.toml").write_text('[run]\njobs = 2\n[slurm]\ncpus_per_run = 3\n')

    def planned_threads(*options):
        result = run_repro("run", "tiny", "--dry-run", "--json", *options, cwd=project)
        assert result.returncode == 0, result.stderr
        return {spec["threads"] for spec in json.loads(result.stdout)}

    cores = len(os.sched_getaffinity(0))
    assert planned_threads() == {max(1, cores // 2)}  # jobs = 2 from the file: two runs share the cores
    assert planned_threads("--jobs", "1") == {cores}
    assert planned_threads("--executor", "slurm") == {3}  # a Slurm run's threads are its cores
    assert planned_threads("--executor", "slurm", "--cpus-per-run", "5") == {5}
    assert planned_threads("--threads", "1") == {1}  # asked for: one thread each, however many cores
    assert planned_threads("--executor", "slurm", "--threads", "2") == {2}

    (project / "repro.toml").write_text('[run]\njobs = 2\nthreads = 3\n')
    assert planned_threads() == {3}
    assert planned_threads("--threads", "1") == {1}
    refused = run_repro("run", "tiny", "--dry-run", "--threads", "0", cwd=project)
    assert refused.returncode == 2 and "--threads 0" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize("option, value, message", [
    ("--mem", "4X", "'4X' is not a memory size like 16G"),
    ("--time", "tomorrow", "'tomorrow' is not a time limit"),
    ("--gpus-per-run", "-1", "--gpus-per-run -1: Input should be greater than or equal to 0"),
    ("--cpus-per-run", "0", "--cpus-per-run 0: Input should be greater than or equal to 1"),
])
def test_bad_slurm_options_are_usage_errors(tiny_papers, repro_home, option, value, message):
    result = run_repro("run", "tiny", "--executor", "slurm", option, value)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
