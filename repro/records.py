"""Run records on disk: one folder per run under <home>/runs/<run_id>/.

    spec.json         the RunSpec the worker ran (written before it starts)
    run.json          the record: status, metrics, curves, durations, environment
    events.jsonl      what the worker logged, one JSON object a line, as it happened
    environment.json  the worker's environment fingerprint (written when it starts)
    result.json       the worker's final metrics (written only when run() returned)
    error.json        the exception that ended a crashed run
    log.txt           the worker's stdout and stderr

Every JSON file is written atomically (temp file + rename), so a reader never sees half of
one. run.json is written with status "running" before the worker starts (on Slurm, "queued"
when the array is submitted, "running" when sacct says it started) and rewritten when it
ends; a record still queued or running whose worker (Slurm: harness) pid is gone says the
harness itself died.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from repro.errors import UsageError
from repro.paths import runs_dir
from repro.plan import RunSpec

TERMINAL_STATUSES = ("ok", "crashed", "timeout", "killed", "interrupted")
ACTIVE_STATUSES = ("queued", "running")  # queued: waiting for a Slurm node


@dataclass
class Record:
    """One run's run.json, typed: written by an executor (execute/base.RunFolder), read by
    everything after it. `to_dict()` is the file's JSON, key for key and in the same order."""

    run_id: str
    status: str  # queued, running, ok, crashed, timeout, killed, interrupted; lost when read back
    spec: RunSpec
    metrics: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[list[float]]] = field(default_factory=dict)
    started: str | None = None
    finished: str | None = None
    duration_s: float | None = None  # wall, start to end
    train_s: float | None = None  # inside run(), without the worker's start-up
    environment: dict | None = None  # the worker's fingerprint (worker/environment.py)
    executor: str = "local"
    worker_pid: int | None = None
    log_path: str = ""
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # the rest: log_tail, and what an executor adds
    # (local: returncode, gpu; Slurm: harness_pid, queued_s, slurm {job_id, state, log})

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def setting(self) -> str:
        return self.spec.setting_label

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def impl(self) -> str:
        return self.spec.impl

    @property
    def log_tail(self) -> str:
        return self.details.get("log_tail") or ""

    @property
    def slurm(self) -> dict | None:
        return self.details.get("slurm")

    @property
    def numerics_id(self) -> str | None:
        return (self.environment or {}).get("numerics_id")

    def to_dict(self) -> dict:
        data = {name: getattr(self, name) for name in RECORD_FIELDS}
        data["spec"] = self.spec.to_dict()
        return {**data, **self.details}

    @classmethod
    def from_dict(cls, data: dict) -> Record:
        known = {name: data[name] for name in RECORD_FIELDS if name in data}
        known["spec"] = RunSpec.from_dict(data.get("spec") or {})
        return cls(**known, details={k: v for k, v in data.items() if k not in RECORD_FIELDS})


RECORD_FIELDS = ("run_id", "status", "spec", "metrics", "curves", "started", "finished", "duration_s", "train_s",
                  "environment", "executor", "worker_pid", "log_path", "error")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temp file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any | None:
    """The JSON in `path`, or None when it does not exist (or is not valid JSON)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_events(path: Path) -> list[dict]:
    """Every complete event in an events.jsonl file."""
    try:
        return parse_events(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return []


def parse_events(text: str) -> list[dict]:
    """One event per JSON line; a last line cut short by a kill is skipped."""
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def curves_from_events(events: list[dict]) -> dict[str, list[list[float]]]:
    """{metric: [[step, value], ...]} from the worker's log events."""
    curves: dict[str, list[list[float]]] = {}
    for event in events:
        if event.get("event") == "log":
            for name, value in event["metrics"].items():
                curves.setdefault(name, []).append([event["step"], value])
    return curves


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")  # never a path: no '/', no leading '.'
RESERVE_BYTES = 1 << 20  # a batch's run.json files, however full the disk gets meanwhile


class SpaceReserve:
    """Disk space set aside while a batch runs, so that every started run still gets the record
    saying how it ended when the disk fills up meanwhile: save_record gives it back and
    retries once when a write finds no space. A batch that cannot reserve it does not start."""

    current: SpaceReserve | None = None

    def __init__(self, folder: Path):
        self.path = folder / f".space-reserve-{os.getpid()}"

    def __enter__(self) -> SpaceReserve:
        from repro.errors import HomeUnusable
        from repro.paths import home_problem

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "wb") as reserve:
                reserve.write(b"\0" * RESERVE_BYTES)
                reserve.flush()
                os.fsync(reserve.fileno())
        except OSError as exc:
            self.release()
            raise HomeUnusable(home_problem(exc) or str(exc)) from None
        SpaceReserve.current = self
        return self

    def release(self) -> bool:
        """Give the space back; True if there was any to give."""
        try:
            self.path.unlink()
            return True
        except OSError:
            return False

    def __exit__(self, *exc_info) -> None:
        self.release()
        SpaceReserve.current = None


def save_record(record: Record) -> None:
    path = runs_dir() / record.run_id / "run.json"
    try:
        write_json_atomic(path, record.to_dict())
    except OSError as exc:
        if exc.errno != errno.ENOSPC or SpaceReserve.current is None or not SpaceReserve.current.release():
            raise
        write_json_atomic(path, record.to_dict())  # into the space the batch set aside


def load_record(run_id: str) -> Record:
    """The record of `run_id`, or of the one run whose id starts with it."""
    if not RUN_ID_RE.fullmatch(run_id):
        raise UsageError(f"{run_id[:80]!r} is not a run id (letters, digits, '.', '_', '-'; `repro runs` lists them)")
    root = runs_dir()
    exact = root / run_id / "run.json"
    if exact.is_file():
        return _with_liveness(Record.from_dict(read_json(exact)))
    matches = sorted(p.name for p in root.glob(f"{glob_escape(run_id)}*") if (p / "run.json").is_file())
    if len(matches) == 1:
        return _with_liveness(Record.from_dict(read_json(root / matches[0] / "run.json")))
    if not matches:
        raise UsageError(f"no run {run_id!r} under {root}; `repro runs` lists the recorded runs")
    raise UsageError(f"{run_id!r} matches {len(matches)} runs ({', '.join(matches[:3])}, ...); give more of the id")


def list_records(paper: str | None = None) -> list[Record]:
    """Every readable record, oldest first, optionally of one paper."""
    root = runs_dir()
    if not root.is_dir():
        return []
    records = []
    for path in sorted(root.glob("*/run.json")):
        data = read_json(path)
        if data and (paper is None or (data.get("spec") or {}).get("paper") == paper):
            records.append(_with_liveness(Record.from_dict(data)))
    records.sort(key=lambda r: r.started or "")
    return records


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _with_liveness(record: Record) -> Record:
    """A queued or running record whose worker (or, on Slurm, whose harness) is gone was
    orphaned: the harness died before it could write how the run ended."""
    if record.status in ACTIVE_STATUSES:
        slurm = record.slurm
        pid = record.details.get("harness_pid") if slurm else record.worker_pid
        if pid is None or not _pid_alive(pid):
            error = "the harness stopped before this run finished"
            if slurm:
                error += (f"; Slurm job {slurm['job_id']} may still be running (squeue -j {slurm['job_id']}) until "
                          "it notices (repro.toml's [slurm] orphan_after, 300 s by default)")
            record = replace(record, status="lost", error=error)
    return record


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ------------------------------------------------------------------ which batch judges


def judging_batch(paper, records: list[Record], setting: str | None = None) -> list[Record]:
    """The one rule for which batch of runs (one `repro run`, by spec.batch_id) judges an
    implementation, used by the HTML report and the model-card export alike: of these
    records' finished batches (batch_finished), the latest batch of a paper-protocol profile
    without --set overrides, else the latest such batch with overrides, else the latest batch
    of another profile (`quick`). A batch still going is never the result: a reader who opens
    the report during a long run sees the last finished numbers (and, beside them, the batch
    in progress: batch_in_progress). Runs under a numerics perturbation (`repro noise`,
    `repro baseline`) are never a result. With `setting` (a setting label), among the batches
    that ran it, and only its runs (the model-card export judges setting by setting). [] when
    there is none."""
    finished = {batch_id: runs for batch_id, runs in _batches(records).items() if batch_finished(runs)}
    if setting is not None:
        finished = {batch_id: own for batch_id, runs in finished.items()
                    if (own := [r for r in runs if r.setting == setting])}
    if not finished:
        return []

    def rank(item: tuple[str, list[Record]]) -> tuple:
        batch_id, runs = item
        spec = runs[0].spec
        profile = paper.profiles.get(str(spec.profile))
        return (bool(profile and profile.paper_protocol), not spec.overrides, batch_started(runs), batch_id)

    return max(finished.items(), key=rank)[1]


def batch_in_progress(records: list[Record]) -> list[Record]:
    """Of these records, the latest batch that has not finished (a run queued or running, or
    runs still to start while its harness lives); [] when there is none."""
    going = [runs for runs in _batches(records).values() if not batch_finished(runs)]
    return max(going, key=batch_started) if going else []


def batch_finished(runs: list[Record]) -> bool:
    """Every run of the batch has ended: none queued or running, and as many records as the
    batch planned (spec.batch_runs), unless the harness that ran it is gone (a batch stopped
    by Ctrl-C never starts the rest)."""
    if any(r.status in ACTIVE_STATUSES for r in runs):
        return False
    planned = runs[0].spec.batch_runs
    if planned is None or len(runs) >= planned:
        return True
    harnesses = {r.details.get("harness_pid") for r in runs} - {None}
    return not any(_pid_alive(pid) for pid in harnesses)


def _batches(records: list[Record]) -> dict[str, list[Record]]:
    """The records by batch id, leaving out runs under a numerics perturbation."""
    batches: dict[str, list[Record]] = {}
    for record in records:
        if not record.spec.env:
            batches.setdefault(str(record.spec.batch_id or record.run_id), []).append(record)
    return batches


def batch_started(records: list[Record]) -> str:
    """When a batch ran: the latest start among its runs (ISO 8601 UTC sorts as text)."""
    return max(str(r.started or "") for r in records)
