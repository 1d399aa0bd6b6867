"""`repro diff`'s output: the differences diff.py found, as short text sections or as JSON."""

from __future__ import annotations

import re
from typing import Any

from tabulate import tabulate

from repro.diff import MISSING, MISSING_KIND, RunDiff, is_number, json_value

_LONG_HEX_RE = re.compile(r"^[0-9a-f]{40,}$")
_SHOWN = 4  # names listed in the summary line before "+N more"


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
        "status": {"same": not d.status_differs, "a": json_value(d.statuses[0]), "b": json_value(d.statuses[1]),
                   "error_a": json_value(d.errors[0]), "error_b": json_value(d.errors[1])},
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
    if is_number(value):
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

