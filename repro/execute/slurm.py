"""The Slurm executor: the planned runs as one job array, submitted through submitit.

Each array task runs one RunSpec with the same worker code as a local run (repro.worker.process),
writing the same files into the same run folder, so the records, the verdict table and
`repro runs` read the same. What differs is who starts the worker (Slurm, on a node) and how
the harness learns how it went: the task's state from sacct (one call for the whole array,
through submitit's watcher), then the run's result.json or error.json.

The run folders (REPRO_HOME) must be on a filesystem the nodes share with the machine that
submits, as home folders are on most clusters. submitit's files (the pickled call, and each
task's stdout and stderr as Slurm wrote them) go to REPRO_HOME/slurm/<batch id>/.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from repro.errors import SlurmError
from repro.execute.base import Batch, Executor, RunFolder, iso_time
from repro.paths import home
from repro.plan import RunSpec
from repro.records import Record, save_record

POLL_SECONDS = 2.0
RESULT_GRACE_SECONDS = 10.0  # a task that wrote its result is done, even if sacct lags behind
WAITING_STATES = ("PENDING", "UNKNOWN", "REQUEUED", "CONFIGURING", "SUSPENDED")  # UNKNOWN: not in sacct yet
RUNNING_STATES = ("RUNNING", "COMPLETING")  # anything else has ended (ENDED: squeue no longer lists it)
SUBMITIT_EARLY_STOP_S = 90  # submitit signals a task this long before its time limit
CLOCK_SKEW_SECONDS = 300  # how far a node's clock may be from the one that wrote the heartbeat



def slurm_task(run_dir: str, log_path: str, env: dict[str, str], heartbeat: str, orphan_after: float) -> None:
    """What each array task runs on its node: the worker, output appended to the run's log.

    A failed run raises, so that Slurm's accounting says FAILED too. The task watches the
    harness's heartbeat and stops itself when the harness has gone (see HarnessWatch).
    """
    from repro.worker.process import run_here

    try:
        os.setsid()  # a process group of its own: the task and the scripts it starts, stopped together
    except PermissionError:
        pass  # already the leader of its own group
    HarnessWatch(Path(run_dir), Path(heartbeat), orphan_after).start()
    code = run_here(run_dir, log_path, env)
    if code != 0:
        raise RuntimeError(f"the run failed (exit code {code}); its log: {log_path}")


class Heartbeat:
    """The harness's side: touch a file in the batch's Slurm folder every few seconds while the
    batch runs. Nothing else tells a task on a node that the harness is still there: a harness
    killed with kill -9, or whose machine went down, cancels nothing."""

    def __init__(self, path: Path, every: float):
        self.path, self.every = path, every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="repro-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopped.set()

    def _beat(self) -> None:
        while not self._stopped.wait(self.every):
            try:
                os.utime(self.path)
            except OSError:
                pass  # a full or flaky disk: the next beat tries again


class HarnessWatch(threading.Thread):
    """The task's side: when the heartbeat has not changed for `orphan_after` seconds (by this
    node's own clock, so the nodes' clocks need not agree), record the run as interrupted and
    stop: the task, and any script it started. A task that Slurm starts long after the harness
    has gone stops at once."""

    def __init__(self, run_dir: Path, heartbeat: Path, orphan_after: float):
        super().__init__(name="repro-harness-watch", daemon=True)
        self.run_dir, self.heartbeat, self.orphan_after = run_dir, heartbeat, orphan_after

    def _last_beat(self) -> float | None:
        try:
            return self.heartbeat.stat().st_mtime
        except OSError:
            return None

    def run(self) -> None:
        seen, since = self._last_beat(), time.monotonic()
        if seen is None or time.time() - seen > self.orphan_after + CLOCK_SKEW_SECONDS:
            self._stop_the_task()
        while True:
            time.sleep(min(10.0, self.orphan_after / 5))
            beat = self._last_beat()
            if beat != seen:
                seen, since = beat, time.monotonic()
            elif time.monotonic() - since > self.orphan_after:
                self._stop_the_task()

    def _stop_the_task(self) -> None:
        from repro.worker.process import record_orphaned

        record_orphaned(self.run_dir, f"stopped answering (its heartbeat {self.heartbeat} did not "
                                      f"change for {self.orphan_after:g} s: killed, or its machine went down); "
                                      "this Slurm task stopped itself")
        os.killpg(os.getpgrp(), signal.SIGKILL)


class _ArrayTask(RunFolder):
    """One run as one task of the array: its submitit Job and the Slurm state last seen."""

    def __init__(self, index: int, spec: RunSpec):
        super().__init__(index, spec)
        self.job = None  # a submitit Job, once submitted
        self.state = "PENDING"
        self.queued_at = time.time()
        self.running_since: float | None = None  # when Slurm started it
        self.ended: float | None = None  # when Slurm says it ended
        self.result_seen: float | None = None

    @property
    def job_id(self) -> str:
        return self.job.job_id

    executor = "slurm"

    def slurm_fields(self) -> dict:
        return {
            "harness_pid": os.getpid(),
            "queued_s": round((self.running_since or time.time()) - self.queued_at, 3),
            "slurm": {"job_id": self.job_id, "state": self.state, "log": str(self.job.paths.stderr)},
        }

    def finished_fields(self) -> dict:
        """When it ended by Slurm's clock (not when the harness noticed), where Slurm says."""
        if self.ended is None or self.running_since is None:
            return {}
        return {"finished": iso_time(self.ended), "duration_s": round(self.ended - self.running_since, 3)}

    def save(self, status: str) -> None:
        save_record(self.record(status, **self.slurm_fields()))

    def has_result_file(self) -> bool:
        return self.job.paths.result_pickle.exists()

    def finish(self, time_limit_min: int) -> Record:
        status, message, result = self.outcome()
        state = self.state
        if self.stop_reason is not None:
            status, message = self.stop_reason, self.stop_message
        elif status == "ok":
            pass
        elif message and message.startswith("UncompletedJobError") and "timed-out" in message:
            status = "timeout"
            message = (f"it ran into Slurm's time limit ({time_limit_min} min, --time): submitit stopped it "
                       f"when Slurm warned, up to {SUBMITIT_EARLY_STOP_S} s before the limit")
        elif state == "TIMEOUT":
            status, message = "timeout", f"Slurm stopped it at its time limit ({time_limit_min} min, --time)"
        elif state == "OUT_OF_MEMORY":
            status, message = "killed", "out of memory: Slurm killed it at its memory limit (--mem)"
        elif state == "CANCELLED":
            status, message = "killed", "cancelled in Slurm (scancel, or the cluster's administrators)"
        elif state == "ENDED":  # seen through squeue: the cluster keeps no accounting
            message = message or "it left Slurm's queue without a result (no accounting here to say why: see Slurm's log)"
        elif status == "crashed" and message is None:
            status, message = ("killed" if state in ("NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "DEADLINE") else "crashed",
                               f"Slurm ended it {state} and the worker left no result")
        if status != "ok":
            message = f"{message} (Slurm job {self.job_id}, {state}; Slurm's log: {self.job.paths.stderr})"
        record = self.final_record(status, message, result, **self.slurm_fields(), **self.finished_fields())
        save_record(record)
        return record


class SlurmOptions(BaseModel):
    """The [slurm] table of repro.toml, and the flags of the same names (the flags win)."""

    model_config = ConfigDict(extra="forbid")

    partition: Optional[str] = None
    gpus_per_run: int = Field(0, ge=0)
    cpus_per_run: int = Field(1, ge=1)
    mem: Optional[str] = None
    time_minutes: Optional[int] = Field(None, alias="time")
    setup: list[str] = []
    additional: dict[str, str | int] = {}
    orphan_after: int = Field(300, ge=5)  # seconds a task runs on once the harness's heartbeat stops

    def describe(self) -> dict[str, str]:
        """Each setting as `repro config` shows it, with what an unset one means."""
        return {
            "partition": self.partition or "the cluster default",
            "gpus_per_run": str(self.gpus_per_run),
            "cpus_per_run": str(self.cpus_per_run),
            "mem": self.mem or "the cluster default",
            "time": f"{self.time_minutes} min" if self.time_minutes else "from --timeout or the profile",
            "setup": "; ".join(self.setup) or "-",
            "additional": ", ".join(f"--{k}={v}" for k, v in self.additional.items()) or "-",
            "orphan_after": f"{self.orphan_after} s without the harness's heartbeat, a task stops itself",
        }

    @field_validator("mem", mode="before")
    @classmethod
    def _mem(cls, value):
        return None if value is None else parse_mem(value)

    @field_validator("time_minutes", mode="before")
    @classmethod
    def _time(cls, value):
        return None if value is None else parse_time(value)


class SlurmExecutor(Executor):
    """Every run a task of one Slurm job array, submitted through submitit; states from sacct.

    `jobs` caps how many tasks run at once (Slurm's %N); by default Slurm runs as many as fit.
    Ctrl-C cancels the array (scancel) and records the unfinished runs as interrupted.
    """

    name = "slurm"
    summary = "one Slurm job array through submitit, a task per run (states from sacct)"
    Options = SlurmOptions
    options: SlurmOptions

    def __init__(self, options: SlurmOptions | None = None):
        super().__init__(options)
        self.array_id: str | None = None
        self.waiting: list[_ArrayTask] = []
        self.time_limit = 0

    @classmethod
    def add_arguments(cls, group) -> None:
        group.title = "Slurm (with --executor slurm; defaults from repro.toml, see `repro config --help`)"
        group.add_argument("--partition", metavar="P", help="the partition to submit to (default: the cluster's)")
        group.add_argument("--gpus-per-run", type=int, metavar="G", help="GPUs per run (default 0)")
        group.add_argument("--cpus-per-run", type=int, metavar="C", help="cores per run, and its torch threads (default 1)")
        group.add_argument("--mem", type=_flag_type(parse_mem), metavar="M", help="memory per run, e.g. 16G")
        group.add_argument("--time", type=_flag_type(parse_time), metavar="T",
                           help="time limit per run, in Slurm's formats: 90, 1:30:00, 2-00:00:00 "
                           "(default: from --timeout, else 4x the profile's expected time)")

    def check(self, specs: list[RunSpec]) -> None:
        if self.options.gpus_per_run and all(spec.device == "cpu" for spec in specs):
            from repro.errors import UsageError

            raise UsageError(f"--gpus-per-run {self.options.gpus_per_run} with --device cpu: the runs would hold "
                             "GPUs they never use; drop one of the two")

    def threads_per_run(self) -> int:
        return self.options.cpus_per_run  # a run's torch threads are the cores Slurm gives it

    def run_batch(self, specs: list[RunSpec], jobs: int | None, batch: Batch,
                  expected_seconds: float | None) -> list[Record]:
        """Submit every spec as one job array, then poll sacct until every task has ended."""
        import submitit

        if shutil.which("sbatch") is None or shutil.which("sacct") is None:
            raise SlurmError("--executor slurm: sbatch and sacct are not on PATH here; run repro where "
                             "Slurm's commands work (a login node), or use --executor local")
        self.time_limit = time_limit_minutes(self.options, specs[0].timeout_s, expected_seconds)
        folder = home() / "slurm" / specs[0].batch_id
        executor = submitit.SlurmExecutor(folder=folder / "%j", max_num_timeout=0)
        executor.update_parameters(**sbatch_parameters(self.options, specs, jobs, self.time_limit))
        tasks = [_ArrayTask(index, spec) for index, spec in enumerate(specs, start=1)]
        for task in tasks:
            task.prepare()
        with Heartbeat(folder / "harness-heartbeat", every=min(30.0, self.options.orphan_after / 5)) as heartbeat:
            return self._submit_and_wait(executor, tasks, heartbeat.path, batch, folder)

    def _submit_and_wait(self, executor, tasks: list[_ArrayTask], heartbeat: Path, batch: Batch,
                         folder: Path) -> list[Record]:
        import submitit

        try:
            submitted = executor.map_array(
                slurm_task,
                [str(task.dir) for task in tasks],
                [str(task.log_path) for task in tasks],
                [task.worker_env() for task in tasks],
                [str(heartbeat)] * len(tasks),
                [float(self.options.orphan_after)] * len(tasks),
            )
        except submitit.core.utils.FailedJobError as exc:
            for task in tasks:  # nothing was queued: leave no half-made run folders behind
                shutil.rmtree(task.dir, ignore_errors=True)
            raise SlurmError(f"sbatch refused the job array: {str(exc).strip()}\n"
                             "check --partition, --gpus-per-run, --cpus-per-run, --mem and --time "
                             "(or the [slurm] table of your repro.toml) against `sinfo`") from None
        self.array_id = submitted[0].job_id.split("_")[0]
        for task, job in zip(tasks, submitted):
            task.job = job
            task.save("queued")
        self.waiting = list(tasks)
        batch.progress.note(f"submitted {len(tasks)} run(s) to Slurm as job {self.array_id}; Slurm's logs in {folder}")
        return self._wait(tasks, batch)

    def _wait(self, tasks: list[_ArrayTask], batch: Batch) -> list[Record]:
        progress, waiting = batch.progress, self.waiting
        records: dict[int, Record] = {}
        while waiting:
            batch.stop.check()
            states = array_states(self.array_id, [task.job_id for task in waiting])
            for task in list(waiting):
                slurm = states[task.job_id]
                task.state, task.ended = slurm.state, slurm.ended
                if task.running_since is None and task.state not in WAITING_STATES:
                    task.running_since = task.started = slurm.started or time.time()
                    task.save("running")
                    progress.started(task.index, task.spec)
                for event in task.new_events():
                    progress.event(task.index, event)
                timeout = task.spec.timeout_s
                if task.running_since and timeout and task.stop_reason is None \
                        and time.time() - task.running_since > timeout:
                    task.stop_reason, task.stop_message = "timeout", f"cancelled after the {timeout:g} s timeout"
                    _scancel(task.job_id)
                if task.has_result_file() and task.result_seen is None:
                    task.result_seen = time.time()
                lagging = task.result_seen is not None and time.time() - task.result_seen > RESULT_GRACE_SECONDS
                if _ended(task.state) or lagging:
                    waiting.remove(task)
                    records[task.index] = batch.finished(task, task.finish(self.time_limit))
            progress.states(f"Slurm job {self.array_id}: " + _state_counts(tasks, waiting),
                            done=len(tasks) - len(waiting))
            if waiting:
                batch.stop.sleep(POLL_SECONDS)
        return [records[i] for i in sorted(records)]

    def stop_unfinished(self, batch: Batch, why: str) -> list[Record]:
        if self.array_id is None:
            return []  # nothing was submitted
        _scancel(self.array_id)
        stopped = []
        for task in self.waiting:
            task.stop_reason = "interrupted"
            task.stop_message = f"Slurm job {task.job_id} cancelled by {why}"
            stopped.append(batch.finished(task, task.finish(self.time_limit)))
        return stopped


@dataclass
class TaskState:
    """A task as Slurm sees it: its state, and when it started and ended (Slurm's clock)."""

    state: str
    started: float | None = None
    ended: float | None = None


def array_states(array_id: str, job_ids: list[str]) -> dict[str, TaskState]:
    """How each of job_ids ("12_3": task 3 of array 12) stands, in one sacct call.

    sacct lists a task that has started on its own line ("12_3|RUNNING|...") and the tasks
    still waiting as one range ("12_[4-7%2]|PENDING|..."); a task's own line wins over a range.
    (submitit's watcher lets the range win, so a running task of a throttled array read
    PENDING.) Where sacct does not work (a cluster without accounting), squeue says which tasks
    are still queued or running, and a task it no longer lists has ENDED.
    """
    listed = _command_lines(["sacct", "-X", "-n", "-P", "-o", "JobID,State,Start,End", "-j", array_id])
    missing = TaskState("UNKNOWN")  # not in the accounting yet
    if listed is None:
        listed = _command_lines(["squeue", "-h", "-r", "-o", "%i|%T|%S|", "-j", array_id]) or []
        missing = TaskState("ENDED")
    own, ranged = {}, {}
    for line in listed:
        job_id, state, start, end = (line.split("|") + ["", "", ""])[:4]
        task = TaskState(state.split()[0] if state.strip() else "UNKNOWN",  # "CANCELLED by 0" -> CANCELLED
                         _slurm_time(start), _slurm_time(end))
        match = re.fullmatch(r"(\d+)_\[([0-9,\-]+)(?:%\d+)?\]", job_id)
        if match:
            for number in _task_ids(match.group(2)):
                ranged[f"{match.group(1)}_{number}"] = TaskState(task.state)
        else:
            own[job_id] = task
    states = {**ranged, **own}
    return {job_id: states.get(job_id, missing) for job_id in job_ids}


def _slurm_time(text: str) -> float | None:
    """sacct's and squeue's times ("2026-11-27T20:14:40", the cluster's local time) as a
    timestamp; None for "Unknown", "None" or "N/A"."""
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        return None


def _task_ids(ranges: str) -> list[int]:
    """"0-3,7" -> [0, 1, 2, 3, 7]."""
    ids = []
    for part in ranges.split(","):
        first, _, last = part.partition("-")
        ids += range(int(first), int(last or first) + 1)
    return ids


def _command_lines(command: list[str]) -> list[str] | None:
    """The lines a Slurm command printed, or None where it failed."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [line.strip() for line in done.stdout.splitlines() if line.strip()] if done.returncode == 0 else None


def sbatch_parameters(settings: SlurmOptions, specs: list[RunSpec], jobs: int | None, time_limit: int) -> dict:
    """submitit's SlurmExecutor parameters for the array (each becomes an #SBATCH line)."""
    spec = specs[0]
    parameters = {
        "job_name": f"repro-{spec.paper}-{spec.impl}-{spec.profile}",
        "time": time_limit,
        "cpus_per_task": settings.cpus_per_run,
        "array_parallelism": jobs or len(specs),
        "setup": list(settings.setup),
        "additional_parameters": dict(settings.additional),
    }
    if settings.partition:
        parameters["partition"] = settings.partition
    if settings.gpus_per_run:
        parameters["gpus_per_node"] = settings.gpus_per_run
    if settings.mem:
        parameters["mem"] = settings.mem
    return parameters


def time_limit_minutes(settings: SlurmOptions, timeout_s: float | None, expected_seconds: float | None) -> int:
    """The time each task asks Slurm for: --time if set; else from --timeout; else four times
    the profile's expected time (at least 10 minutes); else an hour. Said on stderr when guessed."""
    if settings.time_minutes:
        return settings.time_minutes
    if timeout_s:
        minutes, why = math.ceil(timeout_s / 60) + 2, "--timeout plus 2 minutes"
    elif expected_seconds:
        minutes, why = max(10, math.ceil(4 * expected_seconds / 60)), "4x the profile's expected time, at least 10"
    else:
        minutes, why = 60, "no expected time in the manifest"
    print(f"note: no --time given; asking Slurm for {minutes} min per run ({why})", file=sys.stderr)
    return minutes


def _ended(state: str) -> bool:
    return state not in WAITING_STATES and state not in RUNNING_STATES


def _state_counts(tasks: list[_ArrayTask], waiting: list[_ArrayTask]) -> str:
    queued = sum(task.running_since is None for task in waiting)
    return f"{queued} queued, {len(waiting) - queued} running, {len(tasks) - len(waiting)} done"


def _scancel(job_id: str) -> None:
    subprocess.run(["scancel", job_id], capture_output=True, timeout=60)


# ------------------------------------------------------------------ options


def parse_mem(text: str) -> str:
    """Slurm's --mem: a number with an optional unit, K, M (the default), G or T."""
    text = str(text).strip().upper()
    if not re.fullmatch(r"[1-9][0-9]*[KMGT]?", text):
        raise ValueError(f"{text!r} is not a memory size like 16G or 4000M")
    return text


def parse_time(text: str | int) -> int:
    """Slurm's --time in whole minutes. Accepts Slurm's formats: MM, MM:SS, HH:MM:SS,
    D-HH, D-HH:MM and D-HH:MM:SS (seconds round up)."""
    text = str(text).strip()
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not match:
        raise ValueError(f"{text!r} is not a time limit like 90, 1:30:00 or 2-00:00:00")
    days, first, second, third = (int(part) if part else None for part in match.groups())
    if days is None:
        if third is not None:  # HH:MM:SS
            hours, minutes, seconds = first, second, third
        else:  # MM or MM:SS
            hours, minutes, seconds = 0, first, second or 0
    else:  # D-HH, D-HH:MM, D-HH:MM:SS
        hours, minutes, seconds = first, second or 0, third or 0
    total = (days or 0) * 1440 + hours * 60 + minutes + math.ceil(seconds / 60)
    if total < 1:
        raise ValueError(f"{text!r}: a time limit must be at least one minute")
    return total


def _flag_type(parse):
    """An argparse type from a parser above: its ValueError becomes argparse's usage error."""
    import argparse

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


EXECUTOR = SlurmExecutor
