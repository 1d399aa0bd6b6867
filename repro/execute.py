"""The local executor: run RunSpecs in worker subprocesses, at most `jobs` at once.

Each worker gets its own process group (so Ctrl-C reaches only the harness, which then
stops the workers itself), its stdout and stderr go straight to the run's log file, and
its progress is read from the events.jsonl it appends to. Whatever happens, each started
run ends with a run.json that says how: ok, crashed, timeout, killed or interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from repro.plan import RunSpec
from repro.progress import Progress
from repro.records import (
    curves_from_events,
    log_tail,
    read_events,
    read_json,
    runs_dir,
    save_record,
    write_json_atomic,
)

POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL


class Interrupted(Exception):
    """Ctrl-C: the running workers were stopped and recorded as interrupted."""

    def __init__(self, records: list[dict]):
        self.records = records
        super().__init__("interrupted")


class _Worker:
    """One started run: its process, files, and what the parent has read of its events."""

    def __init__(self, index: int, spec: RunSpec):
        self.index = index
        self.spec = spec
        self.dir = runs_dir() / spec.run_id
        self.log_path = self.dir / "log.txt"
        self.events_path = self.dir / "events.jsonl"
        self.events_read = 0
        self.started = time.time()
        self.process: subprocess.Popen | None = None
        self.stop_reason: str | None = None  # "timeout" or "interrupted" when we stopped it

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.dir / "spec.json", self.spec.to_dict())
        env = dict(os.environ)
        env.update({"OMP_NUM_THREADS": str(self.spec.threads), "MKL_NUM_THREADS": str(self.spec.threads)})
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "repro.worker", str(self.dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        save_record(self._record("running"))

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
        events = []
        for line in complete.decode("utf-8", errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def stop(self, reason: str) -> None:
        """SIGTERM the worker's process group, then SIGKILL it after a grace period."""
        self.stop_reason = reason
        _signal_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait()

    def finish(self) -> dict:
        """Write the final run.json from what the worker left behind."""
        code = self.process.returncode
        result = read_json(self.dir / "result.json")
        error = read_json(self.dir / "error.json")
        if self.stop_reason == "timeout":
            status, message = "timeout", f"stopped after the {self.spec.timeout_s:g} s timeout"
        elif self.stop_reason == "interrupted":
            status, message = "interrupted", "stopped by Ctrl-C"
        elif code == 0 and result is not None:
            status, message = "ok", None
        elif code is not None and code < 0:
            name = signal.Signals(-code).name
            hint = " (out of memory? see the log and `dmesg`)" if name == "SIGKILL" else ""
            status, message = "killed", f"worker killed by {name}{hint}"
        elif error is not None:
            status, message = "crashed", f"{error['type']}: {error['message']}"
        else:
            status, message = "crashed", f"worker exited with code {code} and no result"
        record = self._record(status)
        record.update(
            returncode=code,
            error=message,
            metrics=(result or {}).get("metrics", {}) if status == "ok" else {},
            log_tail=log_tail(self.log_path) if status != "ok" else "",
        )
        save_record(record)
        return record

    def _record(self, status: str) -> dict:
        finished = time.time() if status != "running" else None
        return {
            "run_id": self.spec.run_id,
            "status": status,
            "spec": self.spec.to_dict(),
            "metrics": {},
            "curves": curves_from_events(read_events(self.events_path)),
            "started": _iso(self.started),
            "finished": _iso(finished) if finished else None,
            "duration_s": round(finished - self.started, 3) if finished else None,
            "environment": read_json(self.dir / "environment.json"),
            "worker_pid": self.process.pid if self.process else None,
            "log_path": str(self.log_path),
            "error": None,
        }


def execute(specs: list[RunSpec], jobs: int = 1, progress: Progress | None = None) -> list[dict]:
    """Run every spec, `jobs` at a time; return their final records in plan order.

    Ctrl-C stops the running workers, records them as interrupted and raises Interrupted.
    """
    progress = progress or Progress(total_runs=len(specs), enabled=False)
    pending = list(enumerate(specs, start=1))
    running: list[_Worker] = []
    records: dict[int, dict] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                worker = _Worker(*pending.pop(0))
                worker.start()
                running.append(worker)
                progress.started(worker.index, worker.spec)
            time.sleep(POLL_SECONDS)
            for worker in list(running):
                for event in worker.new_events():
                    progress.event(worker.index, event)
                timeout = worker.spec.timeout_s
                if worker.process.poll() is None and timeout and time.time() - worker.started > timeout:
                    worker.stop("timeout")
                if worker.process.poll() is not None:
                    running.remove(worker)
                    records[worker.index] = worker.finish()
                    progress.finished(worker.index, records[worker.index])
    except KeyboardInterrupt:
        for worker in running:
            worker.stop("interrupted")
            records[worker.index] = worker.finish()
            progress.finished(worker.index, records[worker.index])
        progress.close()
        raise Interrupted([records[i] for i in sorted(records)]) from None
    progress.close()
    return [records[i] for i in sorted(records)]


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")
