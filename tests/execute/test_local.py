"""Runs end to end through the CLI on a tiny paper: success, crash, timeout, SIGKILL, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from pathlib import Path

from conftest import repro_cmd, run_repro


def records_of(home: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "runs").glob("*/run.json"))]


def wait_for_running_record(home: Path, timeout: float = 60) -> dict:
    """The first record whose worker has started and logged, once it exists."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in (home / "runs").glob("*/run.json"):
            record, log = json.loads(path.read_text()), path.parent / "log.txt"
            if record["status"] == "running" and log.is_file() and log.read_text().count("sleeping"):
                return record
        time.sleep(0.2)
    raise AssertionError("no worker reached its sleep in time")


def test_successful_run_records_everything(tiny_papers, repro_home):
    result = run_repro("run", "tiny", "--profile", "full", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [c["verdict"] for c in out["claims"]] == ["REPRODUCED", "REPRODUCED"]
    assert out["claims"][0]["values"] == [1.0, 1.01]
    assert out["claims"][1]["values"] == [2.0, 2.01]

    records = records_of(repro_home)
    assert len(records) == 4 and {r["status"] for r in records} == {"ok"}
    record = records[0]
    assert record["spec"]["config"]["steps"] == 5  # full profile keeps the default
    assert record["curves"]["loss"] == [[1, 1.0], [2, 0.5], [3, 1 / 3], [4, 0.25], [5, 0.2]]
    env = record["environment"]
    assert env["torch"] and env["python"] and env["cpu"] and env["device"] == "cpu"
    assert env["reference_commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert record["duration_s"] > record["train_s"] >= 0 and record["finished"]
    plot = repro_home / "runs" / record["run_id"] / "curves.png"
    assert plot.read_bytes().startswith(b"\x89PNG")  # every record gets a picture of its curves


def test_seeding_is_per_run_and_repeatable(tiny_papers, repro_home):
    first = json.loads(run_repro("run", "tiny", "--seeds", "0,7", "--claims", "a_score", "--json").stdout)
    second = json.loads(run_repro("run", "tiny", "--seeds", "0,7", "--claims", "a_score", "--json").stdout)
    randoms = [[r["metrics"]["first_random"] for r in out["runs"]] for out in (first, second)]
    assert randoms[0] == randoms[1]  # python's random is seeded from the run's seed
    assert randoms[0][0] != randoms[0][1]


def test_jobs_split_threads_and_run_in_parallel(tiny_papers, repro_home):
    out = json.loads(run_repro("run", "tiny", "--seeds", "4", "--jobs", "2", "--json").stdout)
    cores = len(os.sched_getaffinity(0))
    assert {r["metrics"]["threads"] for r in out["runs"]} == {max(1, cores // 2)}
    assert len(out["runs"]) == 8
    # more jobs than runs: the cores are shared by the runs there are, not by --jobs
    out = json.loads(run_repro("run", "tiny", "--jobs", "8", "--json").stdout)
    assert {r["metrics"]["threads"] for r in out["runs"]} == {max(1, cores // 2)}


def test_each_worker_sees_one_gpu_where_there_are_several(tiny_papers, repro_home, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # no GPU here: torch still runs on the CPU
    assert run_repro("run", "tiny", "--seeds", "2", "--jobs", "2").returncode == 0
    records = records_of(repro_home)  # in plan order: the first two ran at once
    assert [r["gpu"] for r in records][:2] == ["0", "1"] and {r["gpu"] for r in records} == {"0", "1"}
    for record in records:  # what the worker itself saw
        assert record["environment"]["env"]["CUDA_VISIBLE_DEVICES"] == record["gpu"]


def test_cpu_runs_get_no_gpu(tiny_papers, repro_home, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert run_repro("run", "tiny", "--jobs", "2", "--device", "cpu").returncode == 0
    assert {r["gpu"] for r in records_of(repro_home)} == {None}


def test_crash_leaves_a_record_with_the_log_tail(tiny_papers, repro_home):
    result = run_repro("run", "tiny", "--set", "mode=crash", "--claims", "a_score")
    assert result.returncode == 3
    assert "crashed: ZeroDivisionError" in result.stdout
    assert "full log:" in result.stdout and "Traceback" not in result.stderr
    (record,) = records_of(repro_home)
    assert record["status"] == "crashed"
    assert "ZeroDivisionError" in record["error"]
    assert "1 / 0" in record["log_tail"]
    assert record["curves"]["loss"][-1] == [3, 1 / 3]  # what it logged before dying is kept
    assert (repro_home / "runs" / record["run_id"] / "curves.png").exists()
    assert not (repro_home / "runs" / record["run_id"] / "result.json").exists()


def test_bad_return_value_is_a_clear_crash(tiny_papers, repro_home):
    result = run_repro("run", "tiny", "--set", "mode=bad_return", "--claims", "a_score")
    assert result.returncode == 3
    (record,) = records_of(repro_home)
    assert record["error"] == "TypeError: run() returned metric 'score' = 'high', which is not a number"


def test_timeout_stops_the_worker(tiny_papers, repro_home):
    started = time.time()
    result = run_repro("run", "tiny", "--set", "mode=sleep", "--claims", "a_score", "--timeout", "4")
    assert time.time() - started < 60
    assert result.returncode == 3
    (record,) = records_of(repro_home)
    assert record["status"] == "timeout"
    assert "4 s timeout" in record["error"]
    assert "sleeping" in record["log_tail"]


def test_worker_killed_with_sigkill(tiny_papers, repro_home):
    harness = subprocess.Popen(
        repro_cmd("run", "tiny", "--set", "mode=sleep", "--claims", "a_score"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    record = wait_for_running_record(repro_home)
    os.kill(record["worker_pid"], signal.SIGKILL)
    stdout, _ = harness.communicate(timeout=60)
    assert harness.returncode == 3
    (record,) = records_of(repro_home)
    assert record["status"] == "killed"
    assert "SIGKILL" in record["error"] and "SIGKILL" in stdout


def test_ctrl_c_stops_workers_and_records_them(tiny_papers, repro_home):
    harness = subprocess.Popen(
        repro_cmd("run", "tiny", "--set", "mode=sleep", "--seeds", "2", "--jobs", "2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    record = wait_for_running_record(repro_home)
    harness.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
    _, stderr = harness.communicate(timeout=60)
    assert harness.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    records = records_of(repro_home)
    assert records and {r["status"] for r in records} == {"interrupted"}
    for r in records:
        try:
            os.kill(r["worker_pid"], 0)
            raise AssertionError(f"worker {r['worker_pid']} still alive after Ctrl-C")
        except ProcessLookupError:
            pass
    assert record["run_id"] in {r["run_id"] for r in records}


def processes_in_group(pgid: int) -> list[int]:
    """The live processes of a process group (a worker's: itself and what it started)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            found.append(int(stat.parent.name))
    return found


def wait_until_gone(pgid: int, seconds: float = 15) -> list[int]:
    deadline = time.time() + seconds
    while (alive := processes_in_group(pgid)) and time.time() < deadline:
        time.sleep(0.1)
    return alive


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])  # SIGINT: the Ctrl-C test above
def test_a_stopping_signal_stops_the_workers_records_them_and_exits_like_the_shell(tiny_papers, repro_home, sig, code):
    harness = subprocess.Popen(
        repro_cmd("run", "tiny", "--set", "mode=sleep_with_a_child", "--seeds", "2", "--jobs", "2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    record = wait_for_running_record(repro_home)
    harness.send_signal(sig)
    _, stderr = harness.communicate(timeout=60)
    assert harness.returncode == code, stderr
    name = "Ctrl-C" if sig == signal.SIGINT else sig.name
    assert f"interrupted by {name}" in stderr and "Traceback" not in stderr
    records = records_of(repro_home)
    assert records and {r["status"] for r in records} == {"interrupted"}
    assert all(f"stopped by {name}" in r["error"] for r in records)
    for r in records:
        assert wait_until_gone(r["worker_pid"]) == [], f"processes of run {r['run_id']} outlived the harness"
    assert wait_until_gone(harness.pid) == [], "the forkserver or the resource tracker outlived the harness"
    assert record["run_id"] in {r["run_id"] for r in records}
    assert run_repro("run", "tiny", "--claims", "a_score").returncode == 0  # a rerun works


def test_a_harness_killed_with_sigkill_takes_its_workers_with_it(tiny_papers, repro_home):
    harness = subprocess.Popen(
        repro_cmd("run", "tiny", "--set", "mode=sleep_with_a_child", "--claims", "a_score"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    record = wait_for_running_record(repro_home)
    harness.kill()
    harness.wait()
    assert wait_until_gone(record["worker_pid"]) == []  # the worker and the script it started
    assert wait_until_gone(harness.pid) == []  # the harness's own group: the forkserver, the resource tracker
    (after,) = records_of(repro_home)
    assert after["status"] == "interrupted"
    assert "the harness" in after["error"] and "ended while this run was going" in after["error"]
    (summary,) = json.loads(run_repro("runs", "tiny", "--json").stdout)
    assert summary["status"] == "interrupted"
    assert run_repro("run", "tiny", "--claims", "a_score").returncode == 0


@pytest.mark.parametrize("delay", [0.3, 1.0])
def test_ctrl_c_during_start_up_is_a_clean_130(tiny_papers, repro_home, delay):
    """While the forkserver imports torch: one line, exit 130, no traceback, no bare run folder."""
    harness = subprocess.Popen(repro_cmd("run", "tiny", "--seeds", "2"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(delay)
    harness.send_signal(signal.SIGINT)
    _, stderr = harness.communicate(timeout=60)
    if harness.returncode == 0:
        pytest.skip(f"the runs finished within {delay} s, before the signal")
    assert harness.returncode == 130, stderr
    assert "Traceback" not in stderr and "EOFError" not in stderr and "interrupted" in stderr
    runs = repro_home / "runs"
    folders = list(runs.iterdir()) if runs.is_dir() else []
    assert all((folder / "run.json").is_file() for folder in folders), "a run folder without its record"
    assert all(json.loads((f / "run.json").read_text())["status"] in ("interrupted", "ok") for f in folders)
    assert wait_until_gone(harness.pid) == [], "a process of the harness (the forkserver?) outlived it"
    assert run_repro("run", "tiny", "--claims", "a_score").returncode == 0  # a rerun works


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_while_the_command_line_is_imported_is_one_line_and_the_shells_code(sig, code):
    """The first tens of milliseconds, before repro.cli is imported: the signal is sent from an
    import hook, so it lands there every time, not when a sleep happens to line up."""
    program = textwrap.dedent(f"""
        import os, sys
        class SignalOnImport:
            def find_spec(self, name, path=None, target=None):
                if name == "repro.commands":
                    os.kill(os.getpid(), {int(sig)})
        sys.meta_path.insert(0, SignalOnImport())
        from repro._entry import main
        sys.exit(main())
    """)
    result = subprocess.run([sys.executable, "-c", program, "list"], capture_output=True, text=True, timeout=60)
    assert result.returncode == code, result.stderr
    name = "Ctrl-C" if sig == signal.SIGINT else sig.name
    assert result.stderr == f"interrupted by {name}\n" and result.stdout == ""


def test_ctrl_c_inside_exec_of_a_string_during_the_commands_imports_exits_130(tmp_path):
    """Found by CI: a Ctrl-C that lands inside exec() of a string (dataclasses and pydantic
    build methods that way while repro.execute.local is imported for the parser) was caught
    and answered 130, yet `python -m repro` (CPython 3.11) ended by SIGINT (-2). The signal is
    sent from exec'd code, by a sitecustomize hook, so it lands there every time."""
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent("""
        import sys
        class SignalInsideExec:
            def find_spec(self, name, path=None, target=None):
                if name == "repro.execute.local":
                    exec("import os, signal\\nos.kill(os.getpid(), signal.SIGINT)\\nfor _ in range(10**5): pass")
        sys.meta_path.insert(0, SignalInsideExec())
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(repro_cmd("run", "nothing"), capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 130, result.stderr
    assert result.stderr == "interrupted by Ctrl-C\n" and result.stdout == ""


def test_a_worker_killed_from_outside_is_not_said_to_be_out_of_memory(tiny_papers, repro_home):
    harness = subprocess.Popen(repro_cmd("run", "tiny", "--set", "mode=sleep", "--claims", "a_score"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    record = wait_for_running_record(repro_home)
    os.kill(record["worker_pid"], signal.SIGKILL)
    harness.communicate(timeout=60)
    (record,) = records_of(repro_home)
    assert record["status"] == "killed" and "SIGKILL" in record["error"]
    assert "so out of memory" not in record["error"]  # the OOM killer's count did not move


def test_secrets_in_the_environment_never_reach_a_record(tiny_papers, repro_home, monkeypatch):
    monkeypatch.setenv("REPRO_TEST_SECRET", "hunter2-token")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_should_not_leak")
    assert run_repro("run", "tiny", "--claims", "a_score").returncode == 0
    (run_dir,) = (repro_home / "runs").iterdir()
    for name in ("run.json", "spec.json", "environment.json", "events.jsonl"):
        text = (run_dir / name).read_text()
        assert "hunter2" not in text and "ghp_should_not_leak" not in text


def test_runs_list_and_show(tiny_papers, repro_home):
    assert run_repro("run", "tiny", "--claims", "a_score").returncode == 0
    listing = run_repro("runs")
    assert listing.returncode == 0 and "tiny" in listing.stdout and "ok" in listing.stdout
    (summary,) = json.loads(run_repro("runs", "tiny", "--json").stdout)
    shown = run_repro("runs", "show", summary["run_id"][:20])
    assert shown.returncode == 0
    assert "status:   ok" in shown.stdout and "score=1" in shown.stdout and "torch" in shown.stdout
    as_json = json.loads(run_repro("runs", "show", summary["run_id"], "--json").stdout)
    assert as_json["metrics"]["score"] == 1.0
    missing = run_repro("runs", "show", "no-such-run")
    assert missing.returncode == 2 and "no run 'no-such-run'" in missing.stderr
    assert json.loads(run_repro("runs", "other", "--json").stdout) == []


def test_dry_run_plans_and_runs_nothing(tiny_papers, repro_home):
    result = run_repro("run", "tiny", "--profile", "full", "--seeds", "3", "--dry-run")
    assert result.returncode == 0
    assert "6 runs" in result.stdout and "dry run" in result.stdout
    assert not (repro_home / "runs").exists()
    plan = json.loads(run_repro("run", "tiny", "--dry-run", "--json", "--set", "steps=9").stdout)
    assert [(s["setting_label"], s["seed"], s["config"]["steps"]) for s in plan] == [("variant=a", 0, 9), ("variant=b", 0, 9)]


def test_usage_errors_exit_2_without_traceback(tiny_papers, repro_home):
    cases = {
        ("run", "nope"): "unknown paper 'nope'",
        ("run", "tiny", "--impl", "missing"): "no implementation 'missing'",
        ("run", "tiny", "--profile", "huge"): "no profile 'huge'",
        ("run", "tiny", "--seeds", "x"): "--seeds 'x'",
        ("run", "tiny", "--seeds", "0,0"): "distinct",
        ("run", "tiny", "--set", "stepz=3"): "not a config key",
        ("run", "tiny", "--set", "steps=many"): "expected an integer",
        ("run", "tiny", "--set", "variant=b"): "--claims",
        ("run", "tiny", "--claims", "c_score"): "not a claim",
        ("run", "tiny", "--jobs", "0"): "--jobs",
        ("run", "tiny", "--timeout", "-1"): "--timeout",
    }
    for args, message in cases.items():
        result = run_repro(*args, "--dry-run")
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (repro_home / "runs").exists()


def test_worse_claim_exits_1(tiny_papers, repro_home):
    result = run_repro("run", "tiny", "--set", "score=0.5", "--json")
    assert result.returncode == 1
    verdicts = [c["verdict"] for c in json.loads(result.stdout)["claims"]]
    assert verdicts == ["WORSE", "WORSE"]


def test_library_api_reproduce(tiny_papers, repro_home):
    from repro.catalog import load_paper
    from repro.run import reproduce

    outcome = reproduce(load_paper("tiny"), profile="full", seeds=[3], overrides={"steps": 2}, jobs=2)
    assert outcome.exit_code == 0
    assert [(r.seed, r.spec.config["steps"], r.status) for r in outcome.records] == [(3, 2, "ok")] * 2
    assert [c.verdict for c in outcome.claims] == ["REPRODUCED", "REPRODUCED"]
    assert outcome.claims[0].values == [1.03]
