"""What differs between two runs: the answer to "it doesn't reproduce and I don't know why".

`diff_runs(a, b)` compares two run records section by section: status, metrics (a, b,
b - a, relative), spec (paper, impl, profile, setting, seed, device, threads, overrides),
config key by key, and the environment (python, torch, CUDA, GPUs, CPU, threads, numpy,
repro's version and git state, the device, the reference commit, the numerics fingerprint
(CPU model and ISA, ATen's capability, MKL and oneDNN, TF32 and determinism flags), the
recorded environment variables and the sha256 of every data file).

Rendering (text and JSON) is render/diff.py. It takes any dict shaped like a record (records.py), not only a record from disk, so that a
stored baseline turned into such a dict can be compared too. A key that one side does not
have is reported as "missing" (not recorded), apart from a real difference: a baseline that
does not record the CPU count does not mean the CPU count differs. In config, env and data,
a key on one side only is "added" (only in b) or "removed" (only in a): there its absence is
part of what the run ran with.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from repro.catalog.manifest import setting_label


class _Missing:
    """The value of a key that a record does not have (shown and serialised as "missing")."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "missing"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

SPEC_FIELDS = ("paper", "impl", "profile", "setting", "seed", "device", "threads", "overrides")
# The environment, most telling first. Dotted names reach into nested dicts.
ENVIRONMENT_FIELDS = (
    "device", "torch", "cuda", "gpus", "cpu", "cpu_count", "torch_threads", "python", "numpy", "platform",
    "repro", "repro_git.sha", "repro_git.dirty", "reference_commit",
    # the numerics fingerprint (numerics.py): equal ids, expect equal bits
    "numerics_id", "numerics.cpu.vendor", "numerics.cpu.model", "numerics.cpu.family_model_stepping",
    "numerics.cpu.isa", "numerics.cpu_capability", "numerics.mkl", "numerics.onednn", "numerics.torch_threads",
    "numerics.deterministic_algorithms", "numerics.gpu.name", "numerics.gpu.capability", "numerics.gpu.cuda",
    "numerics.gpu.cudnn", "numerics.gpu.tf32_matmul", "numerics.gpu.tf32_cudnn", "numerics.gpu.cudnn_deterministic",
)
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

CHANGED, ADDED, REMOVED, MISSING_KIND = "changed", "added", "removed", "missing"


@dataclass(frozen=True)
class Change:
    """One field or key that is not the same in a and b.

    kind: "changed" (both have it, with different values), "added" (only b has the key),
    "removed" (only a has it), or "missing" (one side did not record it: not a difference).
    """

    name: str
    a: Any
    b: Any
    kind: str = CHANGED

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "a": json_value(self.a), "b": json_value(self.b)}


@dataclass(frozen=True)
class MetricDelta:
    """A metric of either run: its values, b - a, and (b - a) / |a| (None where undefined)."""

    name: str
    a: Any  # a number, or MISSING
    b: Any
    delta: float | None
    relative: float | None

    @property
    def same(self) -> bool:
        return self.a is not MISSING and self.b is not MISSING and self.a == self.b

    def to_dict(self) -> dict:
        return {"name": self.name, "a": json_value(self.a), "b": json_value(self.b),
                "delta": self.delta, "relative": self.relative, "same": self.same}


@dataclass
class RunDiff:
    """Two runs compared. Lists hold only what is not the same, except `metrics`: every metric."""

    a_id: str
    b_id: str
    a_started: Any
    b_started: Any
    statuses: tuple[Any, Any]
    errors: tuple[Any, Any]
    metrics: list[MetricDelta]
    spec: list[Change]
    config: list[Change]
    environment: list[Change]

    @property
    def status_differs(self) -> bool:
        return self.statuses[0] != self.statuses[1]

    def differences(self) -> dict[str, list[str]]:
        """Section -> names that really differ (a missing value is not counted), sections in text order."""
        found = {
            "status": ["status"] if self.status_differs and MISSING not in self.statuses else [],
            "metrics": [m.name for m in self.metrics if not m.same],
            "spec": [c.name for c in self.spec if c.kind != MISSING_KIND],
            "config": [c.name for c in self.config if c.kind != MISSING_KIND],
            "environment": [c.name for c in self.environment if c.kind != MISSING_KIND],
        }
        return {section: names for section, names in found.items() if names}

    def missing(self) -> dict[str, dict[str, list[str]]]:
        """'a' / 'b' -> section -> the fields that side did not record (where the other did)."""
        found: dict[str, dict[str, list[str]]] = {"a": {}, "b": {}}
        if self.status_differs and MISSING in self.statuses:
            found["a" if self.statuses[0] is MISSING else "b"]["status"] = ["status"]
        for section, changes in (("spec", self.spec), ("config", self.config), ("environment", self.environment)):
            for change in changes:
                if change.kind == MISSING_KIND:
                    side = "a" if change.a is MISSING else "b"
                    found[side].setdefault(section, []).append(change.name)
        return {side: sections for side, sections in found.items() if sections}

    @property
    def identical(self) -> bool:
        return not self.differences() and not self.missing()


# ------------------------------------------------------------------------- diff


def diff_runs(a: dict, b: dict) -> RunDiff:
    """Compare two run records (or record-shaped dicts); never raises on missing keys."""
    a, b = (x if isinstance(x, dict) else {} for x in (a, b))
    return RunDiff(
        a_id=str(a.get("run_id") or "a"),
        b_id=str(b.get("run_id") or "b"),
        a_started=_get(a, "started"),
        b_started=_get(b, "started"),
        statuses=(_get(a, "status"), _get(b, "status")),
        errors=(_get(a, "error"), _get(b, "error")),
        metrics=_metric_deltas(_get(a, "metrics"), _get(b, "metrics")),
        spec=_field_changes([(name, _spec_field(a, name), _spec_field(b, name)) for name in SPEC_FIELDS]),
        config=_mapping_changes("config", _get(a, "spec", "config"), _get(b, "spec", "config"), prefix=""),
        environment=_environment_changes(a, b),
    )


def _get(record: Any, *path: str) -> Any:
    """record[path[0]][path[1]]..., or MISSING where a key (or a dict on the way) is absent."""
    node = record
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def _spec_field(record: dict, name: str) -> Any:
    if name == "setting":  # compare the label: a record has both, a baseline only the label
        label = _get(record, "spec", "setting_label")
        setting = _get(record, "spec", "setting")
        if label is MISSING and isinstance(setting, dict):
            label = setting_label(setting)
        return label
    return _get(record, "spec", name)


def _field_changes(triples: list[tuple[str, Any, Any]]) -> list[Change]:
    changes = []
    for name, va, vb in triples:
        if _equal(va, vb):
            continue
        kind = MISSING_KIND if MISSING in (va, vb) else CHANGED
        changes.append(Change(name, va, vb, kind))
    return changes


def _mapping_changes(name: str, ma: Any, mb: Any, prefix: str) -> list[Change]:
    """Key by key: changed, added (only in b), removed (only in a); a side without the whole
    mapping gives one "missing" row named `name`."""
    if ma is MISSING and mb is MISSING:
        return []
    if not isinstance(ma, dict) or not isinstance(mb, dict):
        if _equal(ma, mb):
            return []
        kind = MISSING_KIND if MISSING in (ma, mb) else CHANGED
        return [Change(name, ma, mb, kind)]
    changes = []
    for key in [*ma, *(k for k in mb if k not in ma)]:
        va, vb = ma.get(key, MISSING), mb.get(key, MISSING)
        if va is MISSING:
            changes.append(Change(f"{prefix}{key}", va, vb, ADDED))
        elif vb is MISSING:
            changes.append(Change(f"{prefix}{key}", va, vb, REMOVED))
        elif not _equal(va, vb):
            changes.append(Change(f"{prefix}{key}", va, vb, CHANGED))
    return changes


def _environment_changes(a: dict, b: dict) -> list[Change]:
    triples = [(name, _environment_field(a, name), _environment_field(b, name)) for name in ENVIRONMENT_FIELDS]
    changes = _field_changes(triples)
    changes += _mapping_changes("env", _get(a, "environment", "env"), _get(b, "environment", "env"), prefix="env:")
    changes += _mapping_changes("data", _data_hashes(a), _data_hashes(b), prefix="data:")
    return changes


def _environment_field(record: dict, name: str) -> Any:
    value = _get(record, "environment", *name.split("."))
    if value is MISSING and name == "reference_commit":
        value = _get(record, "spec", "reference_commit")
    return value


def _data_hashes(record: dict) -> Any:
    """{name: sha256} from spec.data, whose paths are <home>/data/files/<sha256>/<name> or
    <home>/data/extracted/<sha256>; a path outside that layout is kept whole."""
    data = _get(record, "spec", "data")
    if not isinstance(data, dict):
        return data
    return {name: data_hash(path) for name, path in data.items()}


def data_hash(path: Any) -> Any:
    """The sha256 in a cached data path (the last 64-hex part), else the path itself."""
    if not isinstance(path, str):
        return path
    for part in reversed(PurePath(path).parts):
        if _SHA256_RE.fullmatch(part):
            return part
    return path


def _metric_deltas(ma: Any, mb: Any) -> list[MetricDelta]:
    ma = ma if isinstance(ma, dict) else {}
    mb = mb if isinstance(mb, dict) else {}
    deltas = []
    for name in [*ma, *(k for k in mb if k not in ma)]:
        va, vb = ma.get(name, MISSING), mb.get(name, MISSING)
        delta = relative = None
        if is_number(va) and is_number(vb):
            delta = vb - va
            if va != 0:
                relative = delta / abs(va)
            elif vb == 0:
                relative = 0.0
        deltas.append(MetricDelta(name, va, vb, delta, relative))
    return deltas


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _equal(va: Any, vb: Any) -> bool:
    if va is MISSING or vb is MISSING:
        return va is vb
    return va == vb


def json_value(value: Any) -> Any:
    return "missing" if value is MISSING else value
