"""The local executor: run RunSpecs in worker subprocesses, at most `jobs` at once.

Each worker is forked from a forkserver that has torch imported (see worker_context), gets
its own process group (so Ctrl-C reaches only the harness, which then stops the workers
itself), writes its stdout and stderr straight to the run's log file, and reports progress
through the events.jsonl it appends to. Whatever happens, each started
run ends with a run.json that says how: ok, crashed, timeout, killed or interrupted.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from repro.plan import RunSpec
from repro.plots import plot_run
from repro.progress import Progress
from repro.records import (
    ACTIVE_STATUSES,
    curves_from_events,
    log_tail,
    parse_events,
    read_events,
    read_json,
    runs_dir,
    save_record,
    write_json_atomic,
)
from repro.worker import forked_fingerprint, forked_main

POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL


class Interrupted(Exception):
    """Ctrl-C: the running workers were stopped and recorded as interrupted."""

    def __init__(self, records: list[dict]):
        self.records = records
        super().__init__("interrupted")


class RunFolder:
    """The files of one planned run, and what the harness has read of its events so far.

    Shared by both executors: a local worker and a Slurm array task write the same files.
    """

    def __init__(self, index: int, spec: RunSpec):
        self.index = index
        self.spec = spec
        self.dir = runs_dir() / spec.run_id
        self.log_path = self.dir / "log.txt"
        self.events_path = self.dir / "events.jsonl"
        self.events_read = 0
        self.started = time.time()

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

    def record(self, status: str, **fields) -> dict:
        """The run.json for this run in `status`; `fields` add to it or replace its defaults."""
        finished = time.time() if status not in ACTIVE_STATUSES else None
        record = {
            "run_id": self.spec.run_id,
            "status": status,
            "spec": self.spec.to_dict(),
            "metrics": {},
            "curves": curves_from_events(read_events(self.events_path)),
            "started": iso_time(self.started),
            "finished": iso_time(finished) if finished else None,
            "duration_s": round(finished - self.started, 3) if finished else None,  # wall, start to end
            "train_s": None,  # inside run(), without the worker's start-up
            "environment": read_json(self.dir / "environment.json"),
            "executor": "local",
            "worker_pid": None,
            "log_path": str(self.log_path),
            "error": None,
        }
        record.update(fields)
        return record

    def final_record(self, status: str, message: str | None, result: dict | None, **fields) -> dict:
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


class _Worker(RunFolder):
    """One run in a local worker process."""

    def __init__(self, index: int, spec: RunSpec, gpu: str | None = None):
        super().__init__(index, spec)
        self.gpu = gpu  # the one GPU this worker sees, where there are several
        self.process = None  # a multiprocessing Process, once started
        self.stop_reason: str | None = None  # "timeout" or "interrupted" when we stopped it
        self.stop_message: str | None = None

    def start(self, context) -> None:
        self.prepare()
        self.process = context.Process(
            target=forked_main, args=(str(self.dir), str(self.log_path), self.worker_env(self.gpu)),
            name=self.spec.run_id,
        )
        self.process.start()
        save_record(self.record("running", **self._local_fields()))

    def poll(self) -> int | None:
        """The exit code once the worker has ended (negative: killed by that signal), else None."""
        return self.process.exitcode

    def stop(self, reason: str, message: str) -> None:
        """SIGTERM the worker's process group, then SIGKILL it after a grace period."""
        self.stop_reason, self.stop_message = reason, message
        _signal_group(self.process.pid, signal.SIGTERM)
        self.process.join(GRACE_SECONDS)
        if self.process.exitcode is None:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.join()

    def finish(self) -> dict:
        """Write the final run.json from what the worker left behind."""
        code = self.process.exitcode
        status, message, result = self.outcome()
        if self.stop_reason is not None:
            status, message = self.stop_reason, self.stop_message
        elif code is not None and code < 0:
            name = signal.Signals(-code).name
            hint = " (out of memory? see the log and `dmesg`)" if name == "SIGKILL" else ""
            status, message = "killed", f"worker killed by {name}{hint}"
        elif code != 0 and status == "ok":
            status, message = "crashed", f"worker exited with code {code} after writing its result"
        elif status == "crashed" and message is None:
            message = f"worker exited with code {code} and no result"
        record = self.final_record(status, message, result, returncode=code, **self._local_fields())
        save_record(record)
        return record

    def _local_fields(self) -> dict:
        return {"worker_pid": self.process.pid if self.process else None, "gpu": self.gpu}


def worker_environment(threads: int, numerics_env: dict[str, str] | None = None,
                       gpu: str | None = None) -> dict[str, str]:
    """What a worker's environment gets: the kernel variables set here now (a forkserver
    started earlier would not pass them on), its thread count, the spec's numerics
    variables, and its GPU if it was given one."""
    from repro.numerics import KERNEL_ENV_VARS

    env = {name: os.environ[name] for name in KERNEL_ENV_VARS if name in os.environ}
    env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"})
    env.update(numerics_env or {})
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


def probe_fingerprint(threads: int = 1, numerics_env: dict[str, str] | None = None) -> dict | None:
    """The numerics fingerprint a CPU run with these threads and variables would record, from
    a probe forked the way a run's worker is (a fraction of a second once the forkserver is up).
    None if the probe failed."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="repro-probe-") as folder:
        path = Path(folder) / "numerics.json"
        process = worker_context().Process(
            target=forked_fingerprint, args=(str(path), threads, worker_environment(threads, numerics_env)))
        process.start()
        process.join(120)
        return read_json(path)


def worker_context():
    """Workers fork from a forkserver that imported torch once, instead of each importing it.

    Forking after `import torch` (before any op runs) is what torch's own DataLoader workers
    do; each run still gets its own process, and torch's thread pool starts in the child.
    """
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "torch._inductor.config", "numpy", "repro.worker"])
    return context


def execute(specs: list[RunSpec], jobs: int = 1, progress: Progress | None = None) -> list[dict]:
    """Run every spec, `jobs` at a time; return their final records in plan order.

    Where several GPUs are visible, each worker sees one (CUDA_VISIBLE_DEVICES), the least
    busy. Ctrl-C stops the running workers, records them as interrupted and raises Interrupted.
    """
    progress = progress or Progress(total_runs=len(specs), enabled=False)
    gpus = visible_gpus() if any(spec.device != "cpu" for spec in specs) else []
    context = worker_context()
    pending = list(enumerate(specs, start=1))
    running: list[_Worker] = []
    records: dict[int, dict] = {}
    with Batch(progress) as batch:
        try:
            while pending or running:
                batch.ctrl_c.check()
                while pending and len(running) < jobs:
                    worker = _Worker(*pending.pop(0), gpu=least_busy_gpu(gpus, running))
                    running.append(worker)  # first, so that Ctrl-C during start still stops it
                    worker.start(context)
                    progress.started(worker.index, worker.spec)
                time.sleep(POLL_SECONDS)
                for worker in list(running):
                    for event in worker.new_events():
                        progress.event(worker.index, event)
                    timeout = worker.spec.timeout_s
                    if worker.poll() is None and timeout and time.time() - worker.started > timeout:
                        worker.stop("timeout", f"stopped after the {timeout:g} s timeout")
                    if worker.poll() is not None:
                        running.remove(worker)
                        records[worker.index] = batch.finished(worker.index, worker.finish(), worker.dir)
        except BaseException as exc:  # Ctrl-C, or a bug in the harness: never leave workers behind
            stopped = []
            for worker in running:
                if worker.process is None or worker.process.pid is None:
                    continue  # stopped before it started: nothing ran, nothing to record
                worker.stop("interrupted", f"stopped by {why_stopped(exc)}")
                stopped.append(batch.finished(worker.index, worker.finish(), worker.dir))
            if isinstance(exc, KeyboardInterrupt):
                raise Interrupted(stopped) from None
            raise
    return [records[i] for i in sorted(records)]


class Batch:
    """What both executors' wait loops share: Ctrl-C as a flag, each finished run shown and its
    curves plotted (in a background thread, while the next runs train), and on the way out,
    however it goes, the plots finished and the display closed."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.ctrl_c = CtrlCFlag()
        self.plotter = ThreadPoolExecutor(max_workers=1)

    def finished(self, index: int, record: dict, run_dir) -> dict:
        self.progress.finished(index, record)
        self.plotter.submit(plot_quietly, record, run_dir / "curves.png")
        return record

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc_info) -> None:
        self.ctrl_c.restore()
        self.plotter.shutdown(wait=True)
        self.progress.close()


def why_stopped(exc: BaseException) -> str:
    return "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else f"an error in the harness ({exc!r})"


def visible_gpus() -> list[str]:
    """The GPUs this machine lets runs use: CUDA_VISIBLE_DEVICES's list where it is set, else
    what nvidia-smi lists; none without either. (Asking torch would initialise CUDA here.)"""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [gpu.strip() for gpu in listed.split(",") if gpu.strip() and gpu.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def least_busy_gpu(gpus: list[str], running: list[_Worker]) -> str | None:
    """The GPU with the fewest running workers, for a worker about to start; None (the worker
    sees what the harness sees) unless there are at least two to choose from."""
    if len(gpus) < 2:
        return None
    busy = [worker.gpu for worker in running]
    return min(gpus, key=busy.count)


class CtrlCFlag:
    """Ctrl-C as a flag the loop checks between steps, not an exception that may land inside
    multiprocessing's own reads and locks (where it can leave them half done)."""

    def __init__(self):
        self.pressed = False
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._press)

    def _press(self, signum, frame) -> None:
        self.pressed = True

    def check(self) -> None:
        if self.pressed:
            raise KeyboardInterrupt

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def plot_quietly(record: dict, path) -> None:
    """A picture of the curves beside the record; a plotting problem must not fail the run."""
    try:
        plot_run(record, path)
    except Exception as exc:  # noqa: BLE001
        print(f"warning: no curve plot for {record['run_id']}: {exc!r}", file=sys.stderr)


def _signal_group(pid: int, sig: int) -> None:
    """Signal the worker's process group (its children too), or the worker alone if it has
    not reached os.setsid() yet."""
    for kill, target in ((os.killpg, pid), (os.kill, pid)):
        try:
            kill(target, sig)
            return
        except (ProcessLookupError, PermissionError):
            continue


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")
