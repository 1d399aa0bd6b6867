"""PNG plots of recorded runs: one run's learning curves, one claim's seeds against the paper,
and a saved comparison's seeds.

matplotlib is imported on first use, never at import time, so `repro --help` stays fast.
The figures are drawn with matplotlib's object API on an Agg canvas, not through pyplot:
no GUI backend is ever chosen, no global figure list grows (nothing to close), and a
caller that uses pyplot itself keeps its own backend.
"""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path
from typing import Any

from repro.records import Record

# Fixed colours for the two implementations every paper may have; students get the rest in
# name order, so one implementation keeps its colour across the claims of a report.
IMPL_COLOURS = {"reference": "tab:purple", "reimpl": "tab:blue"}
OTHER_COLOURS = ["tab:orange", "tab:green", "tab:red", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]
DPI = 100

_matplotlib: dict[str, Any] = {}  # Figure and FigureCanvasAgg, once imported


def _new_figure(width: float, height: float):
    """A Figure on an Agg canvas (matplotlib imported once per process, on first use)."""
    if not _matplotlib:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        _matplotlib.update(Figure=Figure, Canvas=FigureCanvasAgg, MaxNLocator=MaxNLocator)
    figure = _matplotlib["Figure"](figsize=(width, height), dpi=DPI, layout="constrained")
    _matplotlib["Canvas"](figure)
    return figure


def _integer_ticks():
    """Steps are whole numbers: ticks at 1, 2 or 5 times a power of ten (not at 2.5 or 800)."""
    return _matplotlib["MaxNLocator"](integer=True, steps=[1, 2, 5, 10])


def _save(figure, path: Path) -> Path:
    """Write the PNG to a temp file beside `path` and rename it, so no reader sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        figure.savefig(tmp, format="png", dpi=DPI)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _points(curve: list) -> tuple[list[float], list[float]]:
    """Steps and values of a [[step, value], ...] curve; non-finite values become gaps (NaN)."""
    steps, values = [], []
    for step, value in curve:
        steps.append(step)
        finite = isinstance(value, (int, float)) and math.isfinite(value)
        values.append(float(value) if finite else math.nan)
    return steps, values


def impl_colours(impls: list[str]) -> dict[str, str]:
    """A colour per implementation name: fixed for reference and reimpl, the rest in name order."""
    others = sorted(name for name in impls if name not in IMPL_COLOURS)
    colours = {name: OTHER_COLOURS[i % len(OTHER_COLOURS)] for i, name in enumerate(others)}
    return {name: IMPL_COLOURS.get(name) or colours[name] for name in impls}


def plot_run(record: Record, path: Path) -> Path | None:
    """The learning curves of one run record as a PNG: one row per metric, step on x.

    Returns the path written, or None (and writes nothing) when the record has no curves.
    """
    curves = {name: curve for name, curve in (record.curves or {}).items() if curve}
    if not curves:
        return None
    spec = record.spec
    figure = _new_figure(6, 2.5 * len(curves) + 0.4)
    axes = figure.subplots(len(curves), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, curve) in zip(axes, curves.items()):
        steps, values = _points(curve)
        ax.plot(steps, values, color="tab:blue", linewidth=1.2, marker="o" if len(steps) <= 30 else None, markersize=3)
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("step")
    axes[-1].xaxis.set_major_locator(_integer_ticks())
    figure.suptitle(
        f"{record.run_id}\n{spec.setting_label}, seed {spec.seed}, {record.status}", fontsize=9
    )
    return _save(figure, path)


def plot_claim(claim, runs_by_impl: dict[str, list[Record]], path: Path) -> Path:
    """One claim against the paper: every seed's final value as a point, one column per
    implementation side by side (so a reader sees at a glance who reproduces), over the
    tolerance band (shaded) and the reported value (dashed), with each column's mean and, from
    two seeds, its 95% t-interval.

    `claim` is a manifest.Claim; runs of other settings in `runs_by_impl` are left out, and so
    are implementations left without a finished value (the report says so in words instead of
    drawing an empty axis: call this only where some run has one).
    """
    from repro.compare import summarize

    band = claim.tolerance.band(claim.reported)
    columns = {}
    for impl, records in runs_by_impl.items():
        values = [r.metrics.get(claim.metric) for r in records if r.setting == claim.setting_label and r.ok]
        values = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if values:
            columns[impl] = values
    colours = impl_colours(list(columns))
    figure = _new_figure(max(4.6, 1.8 + 1.3 * len(columns)), 3.6)
    ax = figure.subplots()
    ax.axhspan(claim.reported - band, claim.reported + band, color="tab:green", alpha=0.15,
               label=f"tolerance {claim.tolerance.describe()}")
    ax.axhline(claim.reported, color="black", linestyle="--", linewidth=1.2, label=f"reported {claim.reported:g}")
    for x, (impl, values) in enumerate(columns.items()):
        spread = [x + 0.18 * ((i % 5) - 2) / 2 for i in range(len(values))]  # side by side, not on top
        ax.plot(spread, values, color=colours[impl], marker="o", markersize=6, linestyle="none", alpha=0.85)
        stats = summarize(values)
        ax.plot([x - 0.3, x + 0.3], [stats.mean, stats.mean], color=colours[impl], linewidth=2)
        if stats.ci_low is not None:
            ax.errorbar([x + 0.34], [stats.mean], yerr=[[stats.mean - stats.ci_low], [stats.ci_high - stats.mean]],
                        color=colours[impl], capsize=4, linewidth=1.2)
    ax.set_xticks(range(len(columns)), [f"{impl}\n{len(v)} seed{'s' if len(v) != 1 else ''}"
                                        for impl, v in columns.items()])
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylabel(claim.metric)
    ax.grid(True, axis="y", alpha=0.3)
    title = f"{claim.id} ({claim.setting_label}): {claim.metric}, {claim.direction} is better"
    ax.set_title("\n".join(textwrap.wrap(title, 48)), fontsize=9)
    ax.legend(fontsize=8, loc="best", framealpha=0.85)
    return _save(figure, path)


def plot_comparison(row: dict, impl_a: str, impl_b: str, path: Path) -> Path:
    """One metric of a saved comparison (versus.Row.to_dict()): each seed's value of A and of B
    as points, a thin line joining the two runs of a seed (the pairs the test is about), and
    each side's mean with its 95% interval."""
    colours = impl_colours([impl_a, impl_b])
    figure = _new_figure(4.2, 3.4)
    ax = figure.subplots()
    a, b = row.get("values_a") or {}, row.get("values_b") or {}
    for seed in sorted(set(a) & set(b), key=str):
        ax.plot([0, 1], [a[seed], b[seed]], color="gray", linewidth=0.7, alpha=0.6)
    difference = row.get("difference") or {}
    for x, (impl, values, side) in enumerate(((impl_a, a, "a"), (impl_b, b, "b"))):
        points = [v for v in values.values() if isinstance(v, (int, float)) and math.isfinite(v)]
        ax.plot([x] * len(points), points, color=colours[impl], marker="o", linestyle="none", markersize=5, alpha=0.8)
        stats = difference.get(side) or {}
        if stats.get("ci_low") is not None:
            ax.errorbar([x + 0.12], [stats["mean"]], yerr=[[stats["mean"] - stats["ci_low"]], [stats["ci_high"] - stats["mean"]]],
                        color=colours[impl], marker="_", markersize=14, capsize=4, linewidth=1.5)
    ax.set_xticks([0, 1], [f"A: {impl_a}", f"B: {impl_b}"])
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylabel(row.get("metric", ""))
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(f"{row.get('setting', '')}: {row.get('metric', '')}, {len(a)} and {len(b)} seeds", fontsize=9)
    return _save(figure, path)
