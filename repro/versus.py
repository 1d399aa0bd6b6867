"""`repro compare` as a library call: two implementations on the same seeds, and whether
they differ.

    from repro.versus import compare_impls
    result = compare_impls("mnist1d", "reimpl", "cnn_gap", seeds=[0, 1, 2, 3, 4])
    for row in result.rows: print(row.setting, row.sentence)

Both implementations run the profile's claim settings on the same seeds, the same config
(--set applies to both) and the same torch threads, in one batch of the executor (one
Slurm job array), so each seed gives a pair. significance.difference turns each setting's
and metric's pairs into A - B with its interval, p-value and the seeds a given difference
would need. With `until_decided`, rounds of new seeds follow until every primary metric (a
claim's) is decided or `max_seeds` is reached. The runs are ordinary records; the
comparison itself is saved under $REPRO_HOME/comparisons/ for the report.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from repro.catalog import ConfigValue, Paper, load_paper
from repro.catalog.papers import resolve_impl
from repro.errors import UsageError
from repro.execute import DEFAULT, executor_class
from repro.plan import claim_settings, offers_run_seeds, select_claims, usable_cores
from repro.records import Record, write_json_atomic
from repro.render.progress import Progress
from repro.render.versus import seed_text
from repro.significance import Difference, difference, sentence

DEFAULT_SEEDS = 5
DEFAULT_MAX_SEEDS = 20


@dataclass
class Row:
    """One setting and metric: the difference A - B (None where a side has no result)."""

    setting: str
    metric: str
    primary: bool  # a claim's metric at this setting: what --until-decided waits for
    difference: Difference | None
    sentence: str
    values_a: dict[int, float] = field(default_factory=dict)  # by seed
    values_b: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"setting": self.setting, "metric": self.metric, "primary": self.primary, "sentence": self.sentence,
                "difference": self.difference.to_dict() if self.difference else None,
                "values_a": self.values_a, "values_b": self.values_b}


@dataclass
class Versus:
    paper: Paper
    impl_a: str
    impl_b: str
    profile: str
    seeds: list[int]
    overrides: dict[str, ConfigValue]
    records: list[Record]  # both sides, every round
    rows: list[Row]
    rounds: int
    saved: Path | None = None
    stopped_because: str = ""  # why --until-decided stopped adding seeds
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    @property
    def failed(self) -> list[Record]:
        return [r for r in self.records if r.status != "ok"]

    @property
    def exit_code(self) -> int:
        """3 if a run failed; 1 if a primary metric is undecided (like INCONCLUSIVE); else 0."""
        if self.failed or any(row.difference is None for row in self.rows if row.primary):
            return 3
        return 1 if any(row.primary and not row.difference.decided for row in self.rows) else 0

    def to_dict(self) -> dict:
        return {"paper": self.paper.id, "impl_a": self.impl_a, "impl_b": self.impl_b, "profile": self.profile,
                "seeds": self.seeds, "overrides": self.overrides, "rounds": self.rounds, "created": self.created,
                "stopped_because": self.stopped_because, "exit_code": self.exit_code,
                "rows": [row.to_dict() for row in self.rows],
                "runs": {"a": [r.run_id for r in self.records if r.impl == self.impl_a],
                         "b": [r.run_id for r in self.records if r.impl == self.impl_b]},
                "failed": [{"run_id": r.run_id, "status": r.status, "error": r.error, "log": r.log_path}
                           for r in self.failed]}


def compare_impls(
    paper: Paper | str,
    impl_a: str,
    impl_b: str,
    *,
    profile: str = "quick",
    seeds: list[int] | None = None,
    overrides: dict[str, ConfigValue] | None = None,
    claim_ids: list[str] | None = None,
    effect: float | None = None,
    until_decided: bool = False,
    max_seeds: int = DEFAULT_MAX_SEEDS,
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
) -> Versus:
    """Run impl_a and impl_b on the same seeds (default 0..4) and settings; return the rows.

    `effect`: the smallest difference worth detecting, in the metric's units, for the
    seeds-needed estimate (default: each claim's tolerance band; none for other metrics).
    `until_decided`: after the first round, add as many new seeds again per round until every
    primary metric is decided or `max_seeds` seeds have run. Raises UsageError before
    anything runs for the same implementation twice or a bad option.
    """
    from repro.run import plan_and_fetch

    paper = load_paper(paper) if isinstance(paper, str) else paper
    name_a, name_b = resolve_impl(paper, impl_a)[0], resolve_impl(paper, impl_b)[0]
    if name_a == name_b:
        raise UsageError(f"--impl and --vs both name {name_a!r}: compare two implementations (a copy of one "
                         "under another name is the fair null test)")
    seeds = list(seeds) if seeds is not None else list(range(DEFAULT_SEEDS))
    if until_decided and max_seeds < len(seeds):
        raise UsageError(f"--max-seeds {max_seeds} is below the {len(seeds)} seeds of the first round")
    if effect is not None and not effect > 0:
        raise UsageError("--effect must be a positive difference, in the metric's units")
    runner = executor_class(executor)(executor_options)
    if vectorize_seeds and not all(offers_run_seeds(resolve_impl(paper, impl)[1]) for impl in (impl_a, impl_b)):
        vectorize_seeds = False  # both sides or neither: batched kernels round differently from one-seed runs
        if show_progress:
            print("--vectorize-seeds: only one side has run_seeds(cfg, contexts), so both run one worker per seed "
                  "(a pair must be computed alike)", file=sys.stderr, flush=True)
    claims = select_claims(paper, profile, claim_ids)
    runs_a_round = 2 * len(claim_settings(claims)) * len(seeds)
    # one thread count for every run of both sides and every round: numbers move with it
    threads = threads or runner.threads_per_run() or max(1, usable_cores() // max(1, min(jobs or runs_a_round, runs_a_round)))
    options = dict(runner=runner, profile=profile, overrides=overrides, claim_ids=claim_ids, device=device,
                   jobs=jobs, threads=threads, timeout_s=timeout_s, data_dir=data_dir, show_progress=show_progress,
                   vectorize_seeds=vectorize_seeds)

    records: list[Record] = []
    ran: list[int] = []
    round_seeds, rounds, stopped_because = seeds, 0, ""
    while True:
        rounds += 1
        if show_progress:
            print(f"compare: {paper.id} {name_a} vs {name_b}, {profile}, round {rounds}: seeds "
                  f"{seed_text(round_seeds)}", file=sys.stderr, flush=True)
        specs = (plan_and_fetch(paper, impl=impl_a, seeds=round_seeds, **options)
                 + plan_and_fetch(paper, impl=impl_b, seeds=round_seeds, **options))
        progress = Progress(len(specs), enabled=show_progress, show_impl=True)
        if vectorize_seeds:
            from repro.run import vectorize_note

            progress.note(vectorize_note(specs, runner))
        records += runner.execute(specs, jobs=jobs, progress=progress,
                                  expected_seconds=paper.profiles[profile].expected_seconds)
        ran += round_seeds
        rows = compare_records(paper, claims, records, name_a, name_b, effect=effect)
        if not until_decided:
            break
        if any(r.status != "ok" for r in records):
            stopped_because = "a run failed"
            break
        if all(row.difference is not None and row.difference.decided for row in rows if row.primary):
            stopped_because = f"every claim's metric decided after {len(ran)} seeds"
            break
        if len(ran) >= max_seeds:
            stopped_because = f"--max-seeds {max_seeds} reached"
            break
        start = max(ran) + 1
        round_seeds = list(range(start, start + min(len(seeds), max_seeds - len(ran))))

    result = Versus(paper, name_a, name_b, profile, ran, dict(overrides or {}), records, rows, rounds,
                    stopped_because=stopped_because)
    if save:
        result.saved = save_comparison(result)
    return result


def compare_records(paper: Paper, claims, records: list[Record], name_a: str, name_b: str, *,
                    effect: float | None = None) -> list[Row]:
    """The rows of a comparison from records of both implementations: per claim setting, each
    metric both sides report (not the speed metrics), claims' metrics first."""
    rows = []
    for setting in claim_settings(claims):
        own_claims = {c.metric: c for c in claims if c.setting_label == setting}
        sides = [{r.seed: r for r in records if r.impl == name and r.setting == setting and r.ok}
                 for name in (name_a, name_b)]
        reported = set().union(*(r.metrics for side in sides for r in side.values())) - set(paper.speed_metrics)
        for metric in sorted(reported | set(own_claims), key=lambda m: (m not in own_claims, m)):
            claim = own_claims.get(metric)
            a, b = ({seed: r.metrics[metric] for seed, r in side.items() if metric in r.metrics} for side in sides)
            if not a or not b:
                missing = name_a if not a else name_b
                rows.append(Row(setting, metric, claim is not None, None, f"{missing} has no result for {metric}",
                                a, b))
                continue
            band = claim.tolerance.band(claim.reported) if claim else None
            found = difference(a, b, metric=metric, direction=claim.direction if claim else None,
                               effect=effect if effect is not None else band)
            rows.append(Row(setting, metric, claim is not None, found, sentence(found, name_a, name_b), a, b))
    return rows


def comparisons_dir() -> Path:
    from repro.paths import home

    return home() / "comparisons"


def save_comparison(result: Versus) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = comparisons_dir() / f"{stamp}-{result.paper.id}-{result.impl_a}-vs-{result.impl_b}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, result.to_dict())
    return path


def saved_comparisons(paper_id: str) -> list[dict]:
    """The comparisons saved for a paper, the latest of each (A, B, profile) pair, newest first."""
    import json

    latest: dict[tuple, dict] = {}
    for path in sorted(comparisons_dir().glob(f"*-{paper_id}-*-vs-*.json"), reverse=True):
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # half-written or hand-edited: not worth failing a report for
        if saved.get("paper") == paper_id:
            latest.setdefault((saved.get("impl_a"), saved.get("impl_b"), saved.get("profile")), saved)
    return list(latest.values())
