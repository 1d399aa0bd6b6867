"""What differs between two runs: the answer to "it doesn't reproduce and I don't know why".

`diff_runs(a, b)` compares two run records section by section: status, metrics (a, b,
b - a, relative), spec (paper, impl, profile, setting, seed, device, threads, overrides),
config key by key, and the environment (python, torch, CUDA, GPUs, CPU, threads, numpy,
repro's version and git state, the device, the reference commit, the numerics fingerprint
(CPU model and ISA, ATen's capability, MKL and oneDNN, TF32 and determinism flags), the
recorded environment variables and the sha256 of every data file).

It takes any dict shaped like a record (records.py), not only a record from disk, so that a
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

from tabulate import tabulate


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
_LONG_HEX_RE = re.compile(r"^[0-9a-f]{40,}$")
_SHOWN = 4  # names listed in the summary line before "+N more"

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
        return {"name": self.name, "kind": self.kind, "a": _json_value(self.a), "b": _json_value(self.b)}


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
        return {"name": self.name, "a": _json_value(self.a), "b": _json_value(self.b),
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
            label = ",".join(f"{k}={v}" for k, v in setting.items()) or "default"
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
        if _is_number(va) and _is_number(vb):
            delta = vb - va
            if va != 0:
                relative = delta / abs(va)
            elif vb == 0:
                relative = 0.0
        deltas.append(MetricDelta(name, va, vb, delta, relative))
    return deltas


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _equal(va: Any, vb: Any) -> bool:
    if va is MISSING or vb is MISSING:
        return va is vb
    return va == vb


# --------------------------------------------------------------------- rendering


def summary_line(d: RunDiff) -> str:
    """'differs in: config (1 key: steps), environment (torch, torch_threads)', and what is missing."""
    differences = d.differences()
    parts = []
    for section, names in differences.items():
        if section == "status":
            parts.append(f"status ({_fmt(d.statuses[0])} -> {_fmt(d.statuses[1])})")
        elif section == "config":
            parts.append(f"config ({len(names)} key{'s' if len(names) != 1 else ''}: {_names(names)})")
        else:
            parts.append(f"{section} ({_names(names)})")
    line = "differs in: " + ", ".join(parts) if parts else "no differences"
    for side, sections in d.missing().items():
        described = [
            section if names == [section] else f"{section} ({_names(names)})" for section, names in sections.items()
        ]
        line += f"; not recorded in {side}: " + ", ".join(described)
    return line


def _numerics_line(d: RunDiff) -> list[str]:
    """What a difference of numerics fingerprints means for the metrics."""
    ids = next((c for c in d.environment if c.name == "numerics_id"), None)
    if ids is None or ids.kind == MISSING_KIND:
        return []
    return ["numerics: the fingerprints differ, so the same code and seed may give other last bits, and training "
            "amplifies them (`repro noise PAPER` measures by how much)"]


def diff_text(d: RunDiff) -> str:
    """A few short sections, the most telling first: status, metrics, spec, config, environment."""
    lines = [
        f"a: {d.a_id}" + (f" (started {d.a_started})" if d.a_started is not MISSING else ""),
        f"b: {d.b_id}" + (f" (started {d.b_started})" if d.b_started is not MISSING else ""),
        summary_line(d),
        *_numerics_line(d),
        "",
    ]
    if d.status_differs:
        lines.append(f"status: {_fmt(d.statuses[0])} -> {_fmt(d.statuses[1])}")
        for side, error in zip("ab", d.errors):
            if error and error is not MISSING:
                lines.append(f"  {side}: {error}")
    else:
        lines.append(f"status: same ({_fmt(d.statuses[0])})")

    if not d.metrics:
        lines.append("metrics: none in either run")
    elif all(m.same for m in d.metrics):
        lines.append("metrics: same (" + ", ".join(f"{m.name}={_number(m.a)}" for m in d.metrics) + ")")
    else:
        rows = [
            [m.name, _number(m.a), _number(m.b),
             "-" if m.delta is None else f"{m.delta:+.4g}",
             "-" if m.relative is None else f"{m.relative:+.2%}"]
            for m in d.metrics
        ]
        lines += ["", "metrics", tabulate(rows, headers=["metric", "a", "b", "b - a", "relative"], disable_numparse=True), ""]

    for title, changes, headers in (
        ("spec", d.spec, ["field", "a", "b"]),
        ("config", d.config, ["key", "change", "a", "b"]),
        ("environment", d.environment, ["field", "a", "b"]),
    ):
        if not changes:
            lines.append(f"{title}: same")
            continue
        if title == "config":
            rows = [[c.name, c.kind, _fmt(c.a), _fmt(c.b)] for c in changes]
        else:
            rows = [[c.name, _fmt(c.a), _fmt(c.b)] for c in changes]
        widths = [None] * (len(headers) - 2) + [48, 48]
        lines += ["", title, tabulate(rows, headers=headers, disable_numparse=True, maxcolwidths=widths), ""]
    return "\n".join(_tidy(lines))


def diff_json(d: RunDiff) -> dict:
    """The same as data; values a record lacks are the string "missing"."""
    return {
        "a": d.a_id,
        "b": d.b_id,
        "identical": d.identical,
        "differs_in": d.differences(),
        "missing": d.missing(),
        "summary": summary_line(d),
        "status": {"same": not d.status_differs, "a": _json_value(d.statuses[0]), "b": _json_value(d.statuses[1]),
                   "error_a": _json_value(d.errors[0]), "error_b": _json_value(d.errors[1])},
        "metrics": [m.to_dict() for m in d.metrics],
        "spec": [c.to_dict() for c in d.spec],
        "config": [c.to_dict() for c in d.config],
        "environment": [c.to_dict() for c in d.environment],
    }


def _tidy(lines: list[str]) -> list[str]:
    """No blank line before a one-line section that follows another one-line section."""
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return out


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f", +{len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _number(value: Any) -> str:
    if _is_number(value):
        return f"{value:.6g}"
    return _fmt(value)


def _fmt(value: Any) -> str:
    """A value for a table cell: hashes shortened to 12 hex digits, empty containers as (none)."""
    if value is MISSING:
        return "missing"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) or "(none)"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value) or "(none)"
    text = str(value)
    if _LONG_HEX_RE.fullmatch(text):
        return text[:12]
    return text


def _json_value(value: Any) -> Any:
    return "missing" if value is MISSING else value
