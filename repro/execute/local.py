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
import threading
import time
from contextlib import contextmanager

from repro.execute.base import STOPPING_SIGNALS, Batch, Executor, RunFolder, worker_environment
from repro.plan import RunSpec
from repro.records import Record, read_json, save_record
from repro.worker.process import forked_fingerprint, forked_main

POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL


class _Worker(RunFolder):
    """One run in a local worker process; with --vectorize-seeds, also the other seeds of its
    setting (passengers), which the same process trains at once."""

    def __init__(self, index: int, spec: RunSpec, gpu: str | None = None, passengers: list[RunFolder] = ()):
        super().__init__(index, spec)
        self.gpu = gpu  # the one GPU this worker sees, where there are several
        self.process = None  # a multiprocessing Process, once started
        self.oom_kills_before: int | None = None
        self.passengers = list(passengers)
        for passenger in self.passengers:
            passenger.log_path = self.log_path  # one process, one log

    @property
    def folders(self) -> list[RunFolder]:
        return [self, *self.passengers]

    def start(self, context) -> None:
        for folder in self.folders:
            folder.prepare()
            folder.started = time.time()
        self.process = context.Process(
            target=forked_main, args=(str(self.dir), str(self.log_path), {**os.environ, **self.worker_env(self.gpu)}),
            name=self.spec.run_id,
        )
        self.oom_kills_before = oom_kills()
        self.process.start()
        for folder in self.folders:
            save_record(folder.record("running", **self._local_fields()))

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

    def finish(self) -> list[Record]:
        """Write the final run.json of each run from what the worker left behind (its own
        result.json or error.json; the worker's exit or the harness's stop for all)."""
        code = self.process.exitcode
        records = []
        for folder in self.folders:
            status, message, result = folder.outcome()
            if self.stop_reason is not None:
                status, message = self.stop_reason, self.stop_message
            elif code is not None and code < 0:
                status, message = "killed", killed_by(signal.Signals(-code), self.oom_kills_before, oom_kills())
            elif code != 0 and status == "ok":
                status, message = "crashed", f"worker exited with code {code} after writing its result"
            elif status == "crashed" and message is None:
                message = f"worker exited with code {code} and no result"
            record = folder.final_record(status, message, result, returncode=code, **self._local_fields())
            save_record(record)
            records.append(record)
        return records

    def _local_fields(self) -> dict:
        fields = {"worker_pid": self.process.pid if self.process else None, "gpu": self.gpu,
                  "harness_pid": os.getpid()}
        if self.passengers:
            fields["vectorized_seeds"] = [folder.spec.seed for folder in self.folders]
        return fields


def probe_fingerprint(threads: int = 1, numerics_env: dict[str, str] | None = None) -> dict | None:
    """The numerics fingerprint a CPU run with these threads and variables would record, from
    a probe forked the way a run's worker is (a fraction of a second once the forkserver is up).
    None if the probe failed."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="repro-probe-") as folder:
        path = Path(folder) / "numerics.json"
        process = worker_context().Process(
            target=forked_fingerprint, args=(str(path), threads, {**os.environ, **worker_environment(threads, numerics_env)}))
        process.start()
        process.join(120)
        return read_json(path)


def worker_context():
    """Workers fork from a forkserver that imported torch once, instead of each importing it.

    Forking after `import torch` (before any op runs) is what torch's own DataLoader workers
    do; each run still gets its own process, and torch's thread pool starts in the child.
    """
    import multiprocessing
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "torch._inductor.config", "numpy", "repro.worker.process"])
    # Started now, with the stopping signals ignored (an ignored signal stays ignored across
    # exec): it shares the terminal's process group, and a Ctrl-C or a closed terminal during
    # its torch import would kill it, leaving the harness an EOFError. It still exits when the
    # harness does; workers forked from it take the signals back (die_with_the_harness).
    with _ignoring(STOPPING_SIGNALS):
        forkserver.ensure_running()
    return context


@contextmanager
def _ignoring(signals):
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class LocalExecutor(Executor):
    """Worker processes on this machine, at most `jobs` at once (default 1).

    Where several GPUs are visible, each worker sees one (CUDA_VISIBLE_DEVICES), the least
    busy. A run past its --timeout gets SIGTERM, then SIGKILL after GRACE_SECONDS.
    """

    name = "local"
    summary = "worker processes on this machine, --jobs at once (default 1)"
    runs_vectorized = True

    def __init__(self, options=None):
        super().__init__(options)
        self.running: list[_Worker] = []

    def check(self, specs: list[RunSpec]) -> None:
        if any(spec.device == "cuda" for spec in specs) and not visible_gpus():
            from repro.errors import UsageError

            raise UsageError("--device cuda: no GPU is visible here (no nvidia-smi, or CUDA_VISIBLE_DEVICES is "
                             "empty); use --device cpu (or auto), or --executor slurm --gpus-per-run 1")

    def run_batch(self, specs: list[RunSpec], jobs: int | None, batch: Batch,
                  expected_seconds: float | None) -> list[Record]:
        jobs = jobs or 1
        gpus = visible_gpus() if any(spec.device != "cpu" for spec in specs) else []
        context = worker_context()
        passengers: dict[str, list[RunFolder]] = {}  # a group's other seeds, by the run whose worker trains them
        for index, spec in enumerate(specs, start=1):
            if spec.vectorized_by:
                passengers.setdefault(spec.vectorized_by, []).append(RunFolder(index, spec))
        pending = [(i, spec) for i, spec in enumerate(specs, start=1) if not spec.vectorized_by]
        records: dict[int, Record] = {}
        progress = batch.progress
        while pending or self.running:
            batch.stop.check()
            while pending and len(self.running) < jobs:
                index, spec = pending.pop(0)
                worker = _Worker(index, spec, gpu=least_busy_gpu(gpus, self.running),
                                 passengers=passengers.get(spec.run_id, []))
                self.running.append(worker)  # first, so that Ctrl-C during start still stops it
                worker.start(context)
                for folder in worker.folders:
                    progress.started(folder.index, folder.spec)
            time.sleep(POLL_SECONDS)
            for worker in list(self.running):
                for folder in worker.folders:
                    for event in folder.new_events():
                        progress.event(folder.index, event)
                timeout = worker.spec.timeout_s
                if worker.poll() is None and timeout and time.time() - worker.started > timeout:
                    worker.stop("timeout", f"stopped after the {timeout:g} s timeout")
                if worker.poll() is not None:
                    self.running.remove(worker)
                    for folder, record in zip(worker.folders, worker.finish()):
                        records[folder.index] = batch.finished(folder, record)
        return [records[i] for i in sorted(records)]

    def stop_unfinished(self, batch: Batch, why: str) -> list[Record]:
        stopped = []
        for worker in self.running:
            if worker.process is None or worker.process.pid is None:
                for folder in worker.folders:
                    if folder.dir.is_dir():  # prepared, never started: say so rather than leave a bare spec.json
                        record = folder.final_record("interrupted", f"stopped by {why} before its worker started",
                                                     None, **worker._local_fields())
                        save_record(record)
                        stopped.append(batch.finished(folder, record))
                continue
            worker.stop("interrupted", f"stopped by {why}")
            stopped += [batch.finished(folder, record) for folder, record in zip(worker.folders, worker.finish())]
        return stopped


def killed_by(sig: signal.Signals, oom_before: int | None, oom_after: int | None) -> str:
    """What is known about a worker killed by a signal repro did not send."""
    if sig != signal.SIGKILL:
        return f"worker killed by {sig.name}, sent from outside repro"
    if oom_before is not None and oom_after is not None:
        if oom_after > oom_before:
            return "worker killed by SIGKILL: the kernel's OOM killer killed a process meanwhile, so out of memory (`dmesg` says which)"
        return "worker killed by SIGKILL, not by the OOM killer (its count did not move): a kill -9 from outside repro?"
    return "worker killed by SIGKILL from outside repro: a kill -9, or the kernel out of memory (`dmesg` says)"


def oom_kills() -> int | None:
    """How many processes the OOM killer has killed in this process's memory cgroup (v2's
    memory.events, v1's memory.oom_control), or None where no counter can be read."""
    from pathlib import Path

    candidates = []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                candidates.append(Path("/sys/fs/cgroup") / path.lstrip("/") / "memory.events")
            elif "memory" in controllers.split(","):
                candidates.append(Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "memory.oom_control")
    except (OSError, ValueError):
        pass
    candidates += [Path("/sys/fs/cgroup/memory.events"), Path("/sys/fs/cgroup/memory/memory.oom_control")]
    for candidate in candidates:
        try:
            for line in candidate.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            continue
    return None


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


def _signal_group(pid: int, sig: int) -> None:
    """Signal the worker's process group (its children too), or the worker alone if it has
    not reached os.setsid() yet."""
    for kill, target in ((os.killpg, pid), (os.kill, pid)):
        try:
            kill(target, sig)
            return
        except (ProcessLookupError, PermissionError):
            continue


EXECUTOR = LocalExecutor
