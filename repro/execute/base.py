"""What every executor shares: the Executor contract, a run's folder, and the batch loop's
Ctrl-C handling, progress and plots.

An executor turns planned RunSpecs into finished records. Each backend is one module in this
folder that defines one subclass of Executor and names it EXECUTOR (local.py, slurm.py):

    class Executor:
        name                    "local", "slurm": --executor's value and its table in repro.toml
        summary                 one line for `repro run --help`
        Options                 a pydantic model of its settings ([slurm] in repro.toml), or None
        add_arguments(group)    its command-line flags under `repro run` (values go to Options)
        threads_per_run()       torch threads it gives each run (None: the plan shares the cores)
        runs_vectorized         whether it starts one worker for a group of seeds (local: yes)
        run_batch(specs, jobs, batch, expected_seconds) -> records, in plan order
        stop_unfinished(batch, why) -> the records of the runs it stopped

`execute()` is the same for all: it opens the Batch, calls run_batch, and on Ctrl-C (or a bug
in the harness) asks the backend to stop what is unfinished, then raises Interrupted with
those records. However a run ends, its folder ends with a run.json that says how
(records.py). A worker writes the same files whoever started it, so the records read alike.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import ClassVar

from repro.errors import Interrupted, Stopped, signal_name
from repro.paths import runs_dir
from repro.plan import RunSpec
from repro.records import (
    ACTIVE_STATUSES,
    RECORD_FIELDS,
    Record,
    SpaceReserve,
    curves_from_events,
    log_tail,
    parse_events,
    read_events,
    read_json,
    write_json_atomic,
)
from repro.render.progress import Progress


class Executor(ABC):
    """One way of running a batch of runs. Subclasses: local.LocalExecutor, slurm.SlurmExecutor."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one line for `repro run --help`
    Options: ClassVar[type | None] = None  # a pydantic model of its settings, if it has any
    runs_vectorized: ClassVar[bool] = False  # can start one worker for a group of seeds (RunSpec.vectorized_with)

    def __init__(self, options=None):
        self.options = options if options is not None or self.Options is None else self.Options()

    @classmethod
    def add_arguments(cls, group) -> None:
        """Its own flags under `repro run` (an argparse argument group); dest names are Options fields."""

    def check(self, specs: list[RunSpec]) -> None:
        """Refuse (UsageError) a plan this executor cannot run, before anything starts or is
        fetched: a --device cuda where no GPU can be seen, GPUs asked for CPU runs."""

    def threads_per_run(self) -> int | None:
        """The torch threads each run gets, where the executor decides (a Slurm run: its cores)."""
        return None

    def execute(self, specs: list[RunSpec], *, jobs: int | None = None, progress: Progress | None = None,
                expected_seconds: float | None = None) -> list[Record]:
        """Run every spec; return their final records in plan order. Ctrl-C stops the unfinished
        runs, records them as interrupted and raises Interrupted."""
        progress = progress or Progress(total_runs=len(specs), enabled=False)
        with SpaceReserve(runs_dir()), Batch(progress) as batch:
            try:
                return self.run_batch(specs, jobs, batch, expected_seconds)
            except BaseException as exc:  # Ctrl-C, a signal, or a bug in the harness: never leave runs behind
                stopped = self.stop_unfinished(batch, why_stopped(exc))
                if isinstance(exc, KeyboardInterrupt):
                    raise Interrupted(stopped, getattr(exc, "signum", signal.SIGINT)) from None
                raise

    @abstractmethod
    def run_batch(self, specs: list[RunSpec], jobs: int | None, batch: Batch,
                  expected_seconds: float | None) -> list[Record]:
        """Start the runs, wait for them (checking batch.stop), pass each finished record
        through batch.finished; return the records in plan order."""

    @abstractmethod
    def stop_unfinished(self, batch: Batch, why: str) -> list[Record]:
        """Stop every run still going, record it as interrupted (`why` says by what), and
        return those records (each through batch.finished)."""


class RunFolder:
    """The files of one planned run, and what the harness has read of its events so far.

    Shared by every executor: a local worker and a Slurm array task write the same files.
    """

    executor = "local"  # the record's "executor" field

    def __init__(self, index: int, spec: RunSpec):
        self.index = index
        self.spec = spec
        self.dir = runs_dir() / spec.run_id
        self.log_path = self.dir / "log.txt"
        self.events_path = self.dir / "events.jsonl"
        self.events_read = 0
        self.started = time.time()
        self.stop_reason: str | None = None  # "timeout" or "interrupted" when the harness stopped it
        self.stop_message: str | None = None

    def prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.dir / "spec.json", self.spec.to_dict())

    def worker_env(self, gpu: str | None = None) -> dict[str, str]:
        return worker_environment(self.spec.threads, self.spec.env, gpu)

    def new_events(self) -> list[dict]:
        """Events appended since the last call (complete lines only)."""
        try:
            with open(self.events_path, "rb") as f:
                f.seek(self.events_read)
                chunk = f.read()
        except OSError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.events_read += len(complete)
        return parse_events(complete.decode("utf-8", errors="replace"))

    def outcome(self) -> tuple[str, str | None, dict | None]:
        """(status, error message, result) from what the worker left: result.json or error.json."""
        result = read_json(self.dir / "result.json")
        error = read_json(self.dir / "error.json")
        if result is not None:
            return "ok", None, result
        if error is not None:
            return "crashed", f"{error['type']}: {error['message']}", None
        return "crashed", None, None  # no message: the executor knows better why

    def record(self, status: str, **fields) -> Record:
        """The run.json for this run in `status`; `fields` set its fields, and any other
        keyword is kept in its details (what this executor adds)."""
        finished = time.time() if status not in ACTIVE_STATUSES else None
        values = dict(
            run_id=self.spec.run_id,
            status=status,
            spec=self.spec,
            curves=curves_from_events(read_events(self.events_path)),
            started=iso_time(self.started),
            finished=iso_time(finished) if finished else None,
            duration_s=round(finished - self.started, 3) if finished else None,
            environment=read_json(self.dir / "environment.json"),
            executor=self.executor,
            log_path=str(self.log_path),
        )
        values.update({key: value for key, value in fields.items() if key in RECORD_FIELDS})
        return Record(**values, details={key: value for key, value in fields.items() if key not in RECORD_FIELDS})

    def final_record(self, status: str, message: str | None, result: dict | None, **fields) -> Record:
        """The finished run's record: metrics and time when it went well, the log's tail when not."""
        ok = status == "ok"
        return self.record(
            status,
            error=message,
            metrics=result["metrics"] if ok else {},
            train_s=round(result["train_seconds"], 3) if ok else None,
            log_tail=log_tail(self.log_path) if not ok else "",
            **fields,
        )


def worker_environment(threads: int, numerics_env: dict[str, str] | None = None,
                       gpu: str | None = None) -> dict[str, str]:
    """What a worker's environment gets: the kernel variables set here now (a forkserver
    started earlier would not pass them on), its thread count, the spec's numerics
    variables, and its GPU if it was given one."""
    from repro.worker.numerics import KERNEL_ENV_VARS, thread_env

    env = {name: os.environ[name] for name in KERNEL_ENV_VARS if name in os.environ}
    env.update({**thread_env(threads), "PYTHONUNBUFFERED": "1"})
    env.update(numerics_env or {})
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


class Batch:
    """What every executor's wait loop shares: the stopping signals as a flag, each finished run
    shown and its curves plotted (in a background thread, while the next runs train), and on the
    way out, however it goes, the plots finished and the display closed."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.stop = StopSignals()
        self.plotter = ThreadPoolExecutor(max_workers=1)

    def finished(self, run: RunFolder, record: Record) -> Record:
        self.progress.finished(run.index, record)
        self.plotter.submit(plot_quietly, record, run.dir / "curves.png")
        return record

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.restore()
        self.plotter.shutdown(wait=True)
        self.progress.close()


STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """Ctrl-C, SIGTERM and SIGHUP as a flag the loop checks between steps, not an exception that
    may land inside multiprocessing's own reads and locks (where it can leave them half done).
    The first one received decides the exit code (130, 143, 129)."""

    def __init__(self):
        self.signum: int | None = None
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in STOPPING_SIGNALS:
                self.previous[signum] = signal.signal(signum, self._receive)

    @property
    def pressed(self) -> bool:
        return self.signum is not None

    def _receive(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum

    def check(self) -> None:
        if self.signum is not None:
            raise Stopped(self.signum)

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less if a stopping signal comes meanwhile."""
        deadline = time.time() + seconds
        while time.time() < deadline and not self.pressed:
            time.sleep(min(0.1, seconds))

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def why_stopped(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return signal_name(getattr(exc, "signum", signal.SIGINT))
    return f"an error in the harness ({exc!r})"


def plot_quietly(record: Record, path) -> None:
    """A picture of the curves beside the record; a plotting problem must not fail the run."""
    from repro.render.plots import plot_run

    try:
        plot_run(record, path)
    except Exception as exc:  # noqa: BLE001
        print(f"warning: no curve plot for {record.run_id}: {exc!r}", file=sys.stderr)


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")
