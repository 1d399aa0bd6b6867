"""`repro sweep` as a library call: a grid of config values, each point over seeds, and
whether the best point is distinguishable from the runner-up.

    from repro.sweep import run_sweep
    result = run_sweep("mnist1d", grid={"learning_rate": [0.001, 0.003, 0.01]}, seeds=[0, 1, 2])
    for row in result.rows: print(row.claim.id, row.best, row.sentence)

Every point of the grid (the product of each key's values) runs the profile's claim settings
on the same seeds, as its own batch (`--set`-style overrides, so the records say which point
they ran), all in one call of the executor (one Slurm job array). Per claim, the points are
ranked by the mean of its metric in its direction, and the best is compared with each other
point through significance.difference, paired by seed: "maybe the hyperparameters were not
tuned" becomes a table with intervals. The summary is saved under $REPRO_HOME/sweeps/.
"""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from repro.catalog import Claim, ConfigValue, Paper, load_paper
from repro.catalog.papers import resolve_impl
from repro.errors import UsageError
from repro.execute import DEFAULT, executor_class
from repro.plan import new_batch_id, parse_overrides, select_claims, usable_cores
from repro.records import Record, write_json_atomic
from repro.render.progress import Progress
from repro.significance import Difference, difference, sentence

DEFAULT_SEEDS = 3
MAX_POINTS = 200  # a grid beyond this is a typo, not a sweep


def parse_grid(texts: list[str], paper: Paper, fixed: dict[str, ConfigValue] | None = None) -> dict[str, list[ConfigValue]]:
    """--grid key=v1,v2,v3 (repeatable) -> {key: [values typed like the manifest's default]}."""
    grid: dict[str, list[ConfigValue]] = {}
    for text in texts:
        key, sep, values = text.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise UsageError(f"--grid {text!r}: expected key=value1,value2,... (e.g. --grid learning_rate=1e-3,1e-2)")
        if key in grid:
            raise UsageError(f"--grid {key}: given twice; list every value in one --grid {key}=...")
        if key in (fixed or {}):
            raise UsageError(f"--grid {key}: also fixed by --set {key}; keep one")
        typed = [next(iter(parse_overrides([f"{key}={value.strip()}"], paper).values()))
                 for value in values.split(",") if value.strip()]
        if len(set(map(repr, typed))) != len(typed):
            raise UsageError(f"--grid {text!r}: a value is listed twice")
        grid[key] = typed
    if not grid:
        raise UsageError("give at least one --grid key=value1,value2,...")
    if len(points_of(grid)) > MAX_POINTS:
        raise UsageError(f"the grid has {len(points_of(grid))} points; at most {MAX_POINTS} in one sweep")
    return grid


def points_of(grid: dict[str, list[ConfigValue]]) -> list[dict[str, ConfigValue]]:
    """Every combination of the grid's values, in the order given."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def point_label(point: dict[str, ConfigValue]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


@dataclass
class Ranked:
    """One grid point's values of a claim's metric, and its difference from the best point."""

    label: str
    point: dict[str, ConfigValue]
    values: dict[int, float]  # by seed
    versus_best: Difference | None  # this point - the best; None for the best itself or without values

    @property
    def mean(self) -> float | None:
        return sum(self.values.values()) / len(self.values) if self.values else None


@dataclass
class ClaimSweep:
    claim: Claim
    ranked: list[Ranked]  # best first; points without results last
    sentence: str

    @property
    def decided(self) -> bool:
        """The best point is told apart from the runner-up (or there is no runner-up)."""
        return len(self.ranked) < 2 or (self.ranked[1].versus_best is not None and self.ranked[1].versus_best.decided)

    def to_dict(self) -> dict:
        return {"claim": self.claim.id, "metric": self.claim.metric, "setting": self.claim.setting_label,
                "direction": self.claim.direction, "decided": self.decided, "sentence": self.sentence,
                "ranked": [{"point": r.point, "mean": r.mean, "values": r.values,
                            "versus_best": r.versus_best.to_dict() if r.versus_best else None} for r in self.ranked]}


@dataclass
class Sweep:
    paper: Paper
    impl: str
    profile: str
    seeds: list[int]
    grid: dict[str, list[ConfigValue]]
    overrides: dict[str, ConfigValue]
    records: list[Record]
    rows: list[ClaimSweep]
    saved: Path | None = None
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    @property
    def failed(self) -> list[Record]:
        return [r for r in self.records if r.status != "ok"]

    @property
    def exit_code(self) -> int:
        """3 if a run failed; 1 if a claim's best point is not told apart from its runner-up; else 0."""
        if self.failed:
            return 3
        return 0 if all(row.decided for row in self.rows) else 1

    def to_dict(self) -> dict:
        return {"paper": self.paper.id, "impl": self.impl, "profile": self.profile, "seeds": self.seeds,
                "grid": self.grid, "overrides": self.overrides, "created": self.created, "exit_code": self.exit_code,
                "claims": [row.to_dict() for row in self.rows], "runs": [r.run_id for r in self.records],
                "failed": [{"run_id": r.run_id, "status": r.status, "error": r.error, "log": r.log_path}
                           for r in self.failed]}


def run_sweep(
    paper: Paper | str,
    grid: dict[str, list[ConfigValue]],
    *,
    impl: str = "reimpl",
    profile: str = "quick",
    seeds: list[int] | None = None,
    overrides: dict[str, ConfigValue] | None = None,
    claim_ids: list[str] | None = None,
    device: str = "auto",
    jobs: int | None = 1,
    threads: int | None = None,
    timeout_s: float | None = None,
    executor: str = DEFAULT,
    executor_options=None,
    data_dir: Path | None = None,
    show_progress: bool = False,
    save: bool = True,
    vectorize_seeds: bool = False,
) -> Sweep:
    """Run every point of `grid` (as parse_grid gives it) on `seeds` (default 0..2); rank
    the points per claim and compare the best with the others."""
    from repro.run import plan_and_fetch

    paper = load_paper(paper) if isinstance(paper, str) else paper
    impl_name = resolve_impl(paper, impl)[0]
    seeds = list(seeds) if seeds is not None else list(range(DEFAULT_SEEDS))
    points = points_of(grid)
    claims = select_claims(paper, profile, claim_ids)
    setting_keys = {key for claim in claims for key in claim.setting}
    if setting_keys & set(grid):
        raise UsageError(f"--grid {', '.join(sorted(setting_keys & set(grid)))}: each claim sets it itself; "
                         "choose claims with --claims instead")
    runner = executor_class(executor)(executor_options)
    total = len(points) * len({c.setting_label for c in claims}) * len(seeds)
    threads = threads or runner.threads_per_run() or max(1, usable_cores() // max(1, min(jobs or total, total)))
    base = new_batch_id()
    specs = []
    for index, point in enumerate(points):
        specs += plan_and_fetch(paper, runner=runner, impl=impl, profile=profile, seeds=seeds,
                                overrides={**(overrides or {}), **point}, claim_ids=claim_ids, device=device,
                                jobs=jobs, threads=threads, timeout_s=timeout_s, data_dir=data_dir,
                                show_progress=show_progress, batch_id=f"{base}-p{index}",
                                vectorize_seeds=vectorize_seeds)
    if show_progress:
        print(f"sweep: {paper.id} {impl_name} {profile}: {len(points)} points x {len(seeds)} seeds = {len(specs)} runs",
              file=sys.stderr, flush=True)
    progress = Progress(len(specs), enabled=show_progress, show_keys=list(grid))
    if vectorize_seeds:
        from repro.run import vectorize_note

        progress.note(vectorize_note(specs, runner))
    records = runner.execute(specs, jobs=jobs, progress=progress,
                             expected_seconds=paper.profiles[profile].expected_seconds)
    rows = [rank_claim(claim, points, records) for claim in claims]
    result = Sweep(paper, impl_name, profile, seeds, grid, dict(overrides or {}), records, rows)
    if save:
        result.saved = save_sweep(result)
    return result


def rank_claim(claim: Claim, points: list[dict[str, ConfigValue]], records: list[Record]) -> ClaimSweep:
    """The points ranked by the claim's metric (in its direction), each compared with the best."""
    ranked = []
    for point in points:
        own = [r for r in records if r.ok and r.setting == claim.setting_label and claim.metric in r.metrics
               and all(r.spec.overrides.get(k) == v for k, v in point.items())]
        ranked.append(Ranked(point_label(point), point, {r.seed: r.metrics[claim.metric] for r in own}, None))
    sign = 1 if claim.direction == "higher" else -1
    ranked.sort(key=lambda r: (r.mean is None, -sign * (r.mean or 0.0)))
    best = ranked[0]
    if best.mean is None:
        return ClaimSweep(claim, ranked, f"no point has a result for {claim.metric}")
    for other in ranked[1:]:
        if other.values:
            other.versus_best = difference(other.values, best.values, metric=claim.metric, direction=claim.direction)
    if len(ranked) < 2 or ranked[1].versus_best is None:
        return ClaimSweep(claim, ranked, f"best: {best.label} (no runner-up with results)")
    runner_up = ranked[1]
    versus = difference(best.values, runner_up.values, metric=claim.metric, direction=claim.direction)
    if versus.decided and versus.test != "identical":
        said = f"best: {best.label}; " + sentence(versus, best.label, runner_up.label)
    else:
        said = (f"best: {best.label}, but not distinguishable from the runner-up {runner_up.label}: "
                + sentence(versus, best.label, runner_up.label))
    return ClaimSweep(claim, ranked, said)


def sweeps_dir() -> Path:
    from repro.paths import home

    return home() / "sweeps"


def save_sweep(result: Sweep) -> Path:
    path = sweeps_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{result.paper.id}-{result.impl}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, result.to_dict())
    return path
