"""`repro run --executor slurm` against a real single-node Slurm cluster (see conftest's slurm_cluster)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import repro_cmd, run_repro
from test_local import records_of


def wait_for_records(home: Path, ready, timeout: float = 90) -> list[dict]:
    """The records once ready(records) says so."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        records = records_of(home)
        if records and ready(records):
            return records
        time.sleep(0.3)
    raise AssertionError(f"records never got ready: {[r['status'] for r in records_of(home)]}")


def pid_alive(pid: int, seconds: float) -> bool:
    """Whether the process is still there after `seconds` (a zombie counts as gone)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True


def test_a_job_array_gives_the_same_table_and_records_as_a_local_run(tiny_papers, repro_home, slurm_cluster):
    local = run_repro("run", "tiny", "--profile", "full", "--json")
    on_slurm = slurm_cluster.repro("run", "tiny", "--profile", "full", "--json", "--executor", "slurm",
                                   "--gpus-per-run", "1", "--mem", "200M", "--time", "5")
    assert on_slurm.returncode == 0, on_slurm.stderr
    def claims(result):  # everything but the run ids
        return [{k: v for k, v in claim.items() if k != "run_ids"} for claim in json.loads(result.stdout)["claims"]]

    assert claims(on_slurm) == claims(local)
    assert "submitted 4 run(s) to Slurm as job" in on_slurm.stderr
    assert "4 queued, 0 running, 0 done" in on_slurm.stderr and "0 queued, 0 running, 4 done" in on_slurm.stderr

    records = [r for r in records_of(repro_home) if r["executor"] == "slurm"]
    assert len(records) == 4 and {r["status"] for r in records} == {"ok"}
    job_ids = sorted(r["slurm"]["job_id"] for r in records)
    array = job_ids[0].split("_")[0]
    assert job_ids == [f"{array}_{task}" for task in range(4)]  # one array, a task per run
    for record in records:
        assert record["slurm"]["state"] == "COMPLETED"
        assert record["spec"]["threads"] == 1  # --cpus-per-run's default
        slurm_env = record["environment"]["env"]
        assert slurm_env["SLURM_GPUS_ON_NODE"] == "1" and slurm_env["SLURM_MEM_PER_NODE"] == "200"
        assert record["curves"]["loss"][-1] == [5, 0.2] and record["duration_s"] > 0
    listing = run_repro("runs", "tiny")
    assert f"{array}_0" in listing.stdout


def test_compare_and_sweep_each_go_as_one_job_array(tiny_papers, repro_home, slurm_cluster, tmp_path):
    """`repro compare` puts both implementations' runs, `repro sweep` every grid point's, in one array."""
    import shutil

    copy = tmp_path / "renamed.py"
    shutil.copy(tiny_papers / "tiny" / "reimpl.py", copy)
    compared = slurm_cluster.repro("compare", "tiny", "--vs", str(copy), "--claims", "a_score", "--seeds", "2",
                                   "--executor", "slurm", "--json")
    assert compared.returncode == 0, compared.stderr
    assert "submitted 4 run(s) to Slurm as job" in compared.stderr
    rows = json.loads(compared.stdout)["rows"]
    assert {row["difference"]["test"] for row in rows} == {"identical"}
    swept = slurm_cluster.repro("sweep", "tiny", "--grid", "score=1.0,2.0", "--claims", "a_score", "--seeds", "2",
                                "--executor", "slurm", "--json")
    assert swept.returncode == 0, swept.stderr
    assert "submitted 4 run(s) to Slurm as job" in swept.stderr
    assert json.loads(swept.stdout)["claims"][0]["ranked"][0]["point"] == {"score": 2.0}
    arrays = {}
    for record in records_of(repro_home):
        assert record["executor"] == "slurm" and record["status"] == "ok"
        arrays.setdefault(record["slurm"]["job_id"].split("_")[0], []).append(record["spec"]["impl"])
    assert sorted(len(impls) for impls in arrays.values()) == [4, 4]  # two arrays: the sweep's, the comparison's
    assert any(sorted(set(impls)) == ["reimpl", "renamed"] for impls in arrays.values())


def test_a_failed_job_reports_its_slurm_id_state_and_log(tiny_papers, repro_home, slurm_cluster):
    result = slurm_cluster.repro("run", "tiny", "--set", "mode=crash", "--claims", "a_score", "--executor", "slurm")
    assert result.returncode == 3, result.stderr
    (record,) = records_of(repro_home)
    assert record["status"] == "crashed" and record["slurm"]["state"] == "FAILED"
    assert "ZeroDivisionError" in record["error"] and "1 / 0" in record["log_tail"]
    slurm_log = record["slurm"]["log"]
    assert f"(Slurm job {record['slurm']['job_id']}, FAILED; Slurm's log: {slurm_log})" in result.stdout
    assert Path(slurm_log).is_file() and "Traceback" not in result.stderr


def test_runs_shows_queued_and_running_and_ctrl_c_cancels_the_array(tiny_papers, repro_home, slurm_cluster):
    whole_node = str(os.cpu_count())  # one run at a time fits: the other waits in the queue
    harness = subprocess.Popen(
        slurm_cluster.command(*repro_cmd("run", "tiny", "--set", "mode=sleep", "--executor", "slurm",
                                         "--cpus-per-run", whole_node)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_records(repro_home, lambda rs: sorted(r["status"] for r in rs) == ["queued", "running"])
        listing = json.loads(run_repro("runs", "tiny", "--json").stdout)
        assert sorted(r["status"] for r in listing) == ["queued", "running"]
        assert all(r["executor"] == "slurm" and r["slurm"]["job_id"] for r in listing)
        assert "queued" in run_repro("runs", "tiny").stdout
    finally:
        harness.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
        _, stderr = harness.communicate(timeout=60)
    assert harness.returncode == 130, stderr
    assert "2 unfinished run(s) stopped" in stderr and "Traceback" not in stderr
    records = records_of(repro_home)
    assert {r["status"] for r in records} == {"interrupted"}
    assert all("cancelled by Ctrl-C" in r["error"] for r in records)
    array = records[0]["slurm"]["job_id"].split("_")[0]
    deadline = time.time() + 30
    while slurm_cluster.run("squeue", "-h", "-j", array).stdout.strip() and time.time() < deadline:
        time.sleep(0.5)
    assert not slurm_cluster.run("squeue", "-h", "-j", array).stdout.strip(), "the array is still in the queue"
    states = slurm_cluster.run("sacct", "-n", "-X", "-P", "-j", array, "-o", "State").stdout.splitlines()
    assert states and {state.split()[0] for state in states} == {"CANCELLED"}


def test_a_killed_harness_leaves_lost_runs_that_then_stop_themselves(tiny_papers, repro_home, slurm_cluster, tmp_path):
    """kill -9 cancels nothing in Slurm: the task sees the harness's heartbeat stop, records
    itself interrupted and ends, the script it started with it."""
    project = tmp_path / "lab"
    project.mkdir()
    (project / "repro.toml").write_text("[slurm]\norphan_after = 5\n")
    harness = subprocess.Popen(
        slurm_cluster.command(*repro_cmd("run", "tiny", "--set", "mode=sleep_with_a_child", "--claims", "a_score",
                                         "--executor", "slurm")),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=project,
    )
    (record,) = wait_for_records(repro_home, lambda rs: rs[0]["status"] == "running")
    harness.kill()
    harness.wait()
    job_id = record["slurm"]["job_id"]
    try:
        (summary,) = json.loads(run_repro("runs", "tiny", "--json").stdout)
        assert summary["status"] == "lost"
        assert f"Slurm job {job_id} may still be running (squeue -j {job_id})" in summary["error"]
        (after,) = wait_for_records(repro_home, lambda rs: rs[0]["status"] == "interrupted", timeout=60)
        assert "stopped answering" in after["error"] and "this Slurm task stopped itself" in after["error"]
        deadline = time.time() + 30
        while slurm_cluster.run("squeue", "-h", "-j", job_id).stdout.strip() and time.time() < deadline:
            time.sleep(0.5)
        assert not slurm_cluster.run("squeue", "-h", "-j", job_id).stdout.strip(), "the task is still in the queue"
        child = int(next((repro_home / "runs").glob("*/work/child.pid")).read_text())
        assert not pid_alive(child, seconds=15), "the script the task started outlived it"
    finally:
        slurm_cluster.run("scancel", job_id)


def test_the_timeout_cancels_a_task(tiny_papers, repro_home, slurm_cluster):
    result = slurm_cluster.repro("run", "tiny", "--set", "mode=sleep", "--claims", "a_score",
                                 "--executor", "slurm", "--timeout", "3")
    assert result.returncode == 3
    (record,) = records_of(repro_home)
    assert record["status"] == "timeout" and "cancelled after the 3 s timeout" in record["error"]
    assert record["slurm"]["state"] == "CANCELLED" and "sleeping" in record["log_tail"]


def test_the_executor_and_partition_come_from_the_settings_file(tiny_papers, repro_home, slurm_cluster, tmp_path):
    project = tmp_path / "lab"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "lab"\n\n[tool.repro.run]\nexecutor = "slurm"\n\n[tool.repro.slurm]\npartition = "debug"\n'
    )
    result = slurm_cluster.repro("run", "tiny", "--claims", "a_score", cwd=project)
    assert result.returncode == 0, result.stderr
    (record,) = records_of(repro_home)
    assert record["executor"] == "slurm" and record["environment"]["env"]["SLURM_JOB_PARTITION"] == "debug"

    # repro.toml, where there is one, is read instead of pyproject.toml
    (project / "repro.toml").write_text('[run]\nexecutor = "slurm"\n[slurm]\npartition = "no-such-partition"\n')
    refused = slurm_cluster.repro("run", "tiny", "--claims", "a_score", cwd=project)
    assert refused.returncode == 2
    assert "sbatch refused the job array" in refused.stderr and "invalid partition" in refused.stderr.lower()
    assert "Traceback" not in refused.stderr
    assert len(list((repro_home / "runs").iterdir())) == 1  # the refused run left no folder behind


def test_without_slurm_commands_the_error_says_where_to_run(tiny_papers, repro_home):
    env = {**os.environ, "PATH": "/nonexistent"}
    result = subprocess.run(repro_cmd("run", "tiny", "--executor", "slurm"), capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "sbatch and sacct are not on PATH" in result.stderr and "--executor local" in result.stderr
    assert not (repro_home / "runs").exists() or not list((repro_home / "runs").iterdir())
