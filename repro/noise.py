"""`repro noise PAPER`: how much a metric moves with the seed, and with the machine.

A student's first question about a difference ("is my 2-point gain real?") and CI's about
a baseline made on another CPU ("is 64.7 against 61.5 a regression?") have one answer:
the spread the metric has anyway. This module measures it for a paper, implementation and
profile, on the CPU with one torch thread a run, in two ways:

- over seeds: the profile's seeds and more (0..n-1), with this machine's own numerics;
- over numerics: the profile's seeds again under each perturbation this machine can apply
  (numerics.perturbations: ATen's kernels, MKL's code path and oneDNN's ISA capped lower),
  each standing in for another machine.

Training turns a last-bit difference into a different trajectory, so after enough steps a
run on another machine lands like a run with another seed: for the final metrics the spread
that matters is the larger of the two. `portable_tolerance` is K_SPREADS times it, what
baselines.py allows between a stored run and one from a machine with another fingerprint.

That leaves a gate blind to a change smaller than the seed spread (a dropped MLP layer moves
MNIST-1D's quick test accuracy less than another CPU does). Early in training the two
trajectories have not parted yet, so each curve's first logged point (`train_loss@250`) is
measured too, as an *early point*, with the numerics spread (floored at a tenth of the seed
spread, since a few emulated machines may all agree where a real one does not): tight where
a changed model or optimizer already shows.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field

from repro.catalog.manifest import Paper
from repro.records import Record

NOISE_SEEDS = 5  # seeds 0..4, and the profile's own
K_SPREADS = 5.0  # portable tolerance = K_SPREADS x the larger spread (about 3.5 sd of a difference of two runs)
THREADS_PER_RUN = 1  # numbers depend on the thread count; baselines and noise fix it at 1
NATIVE = "native"
EARLY_SEED_FRACTION = 0.1  # an early point's spread is at least this fraction of its sd over seeds


def early_points(record: Record, leave_out: list[str] = ()) -> dict[str, float]:
    """Each curve's first logged point, as {'train_loss@250': value}."""
    return {f"{name}@{points[0][0]}": points[0][1] for name, points in sorted((record.curves or {}).items())
            if points and name not in leave_out}


def sample_sd(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


@dataclass
class MetricNoise:
    """One metric of one setting: its values over seeds and over numerics environments."""

    setting: str
    metric: str
    over_seeds: dict[int, float]  # seed -> value, this machine's numerics
    over_numerics: dict[str, float]  # perturbation label -> value at the first seed (NATIVE included)
    early: bool = False  # a curve's first point (metric is 'name@step'), not a final metric

    @property
    def sd_seeds(self) -> float | None:
        return sample_sd(list(self.over_seeds.values()))

    @property
    def sd_numerics(self) -> float | None:
        return sample_sd(list(self.over_numerics.values()))

    @property
    def spread(self) -> float:
        """The larger of the two sds (0 where neither could be measured); for an early point,
        the sd over numerics, but at least EARLY_SEED_FRACTION of the sd over seeds."""
        if self.early:
            return max(self.sd_numerics or 0.0, EARLY_SEED_FRACTION * (self.sd_seeds or 0.0))
        return max((sd for sd in (self.sd_seeds, self.sd_numerics) if sd is not None), default=0.0)

    @property
    def mean(self) -> float:
        values = list(self.over_seeds.values())
        return sum(values) / len(values)

    @property
    def portable_tolerance(self) -> float:
        return round(K_SPREADS * self.spread, 6)

    def suggested_claim_tolerance(self, seeds_in_protocol: int) -> float:
        """About 95% of the means of `seeds_in_protocol` runs fall within this of the true mean:
        a floor for a claim's band (the paper's own rounding comes on top)."""
        return 2 * self.spread / math.sqrt(max(1, seeds_in_protocol))

    def to_dict(self) -> dict:
        return {"setting": self.setting, "metric": self.metric, "early": self.early, "mean": self.mean, "sd_seeds": self.sd_seeds,
                "sd_numerics": self.sd_numerics, "spread": self.spread, "portable_tolerance": self.portable_tolerance,
                "over_seeds": self.over_seeds, "over_numerics": self.over_numerics}


@dataclass
class Noise:
    paper: Paper
    impl: str
    profile: str
    seeds: list[int]
    perturbations: dict[str, dict[str, str]]  # label -> environment
    metrics: list[MetricNoise]
    native_records: list[Record] = field(default_factory=list)  # this machine's runs, every seed
    failed: list[Record] = field(default_factory=list)  # runs that did not end ok

    def for_setting(self, setting: str) -> dict[str, MetricNoise]:
        return {m.metric: m for m in self.metrics if m.setting == setting}


def measure_noise(paper: Paper, impl: str = "reimpl", profile: str = "quick", *, seeds: int = NOISE_SEEDS,
                  perturb: bool = True, show_progress: bool = False) -> Noise:
    """Run the profile over seeds and over this machine's numerics perturbations (CPU, one
    thread a run, every core busy) and collect each metric's values."""
    from repro.execute.local import LocalExecutor
    from repro.worker.numerics import perturbations
    from repro.render.progress import Progress
    from repro.run import plan_and_fetch

    profile_seeds = paper.profiles[profile].seed_list()
    seed_list = sorted(set(profile_seeds) | set(range(seeds)))
    first = profile_seeds[0]
    environments = perturbations() if perturb else {}
    jobs = os.cpu_count() or 1
    options = dict(impl=impl, profile=profile, device="cpu", jobs=jobs, threads=THREADS_PER_RUN,
                   show_progress=show_progress)
    planned = {NATIVE: plan_and_fetch(paper, seeds=seed_list, **options)}
    for label, env in environments.items():
        planned[label] = plan_and_fetch(paper, seeds=[first], env=env, **options)
    specs = [spec for specs in planned.values() for spec in specs]
    if show_progress:
        print(f"noise: {paper.id} {impl} {profile}: {len(specs)} runs, seeds {','.join(map(str, seed_list))} with "
              f"this machine's numerics and seed {first} under {len(environments)} numerics environment(s)",
              file=sys.stderr, flush=True)
    # one batch, so that every core stays busy to the end
    records = {r.run_id: r for r in LocalExecutor().execute(specs, jobs=jobs, progress=Progress(len(specs), enabled=show_progress))}
    native = [records[spec.run_id] for spec in planned.pop(NATIVE)]
    perturbed = {label: [records[spec.run_id] for spec in specs] for label, specs in planned.items()}

    return noise_from_records(paper, impl, profile, seed_list, environments, native, perturbed)


def noise_from_records(paper: Paper, impl: str, profile: str, seed_list: list[int],
                       environments: dict[str, dict[str, str]], native: list[Record],
                       perturbed: dict[str, list[Record]]) -> Noise:
    """Each final metric's and early point's values over seeds (native) and over numerics
    environments (perturbed, by label, at the profile's first seed)."""
    first = paper.profiles[profile].seed_list()[0]
    every = native + [r for records in perturbed.values() for r in records]
    metrics = []
    for record in (r for r in native if r.status == "ok" and r.seed == first):
        setting = record.setting
        for early, values_of in ((False, lambda r: r.metrics),
                                 (True, lambda r: early_points(r, paper.speed_metrics))):
            for name in sorted(set(values_of(record)) - set(paper.speed_metrics)):
                over_seeds = {r.seed: values_of(r)[name] for r in _ok(native, setting) if name in values_of(r)}
                over_numerics = {NATIVE: values_of(record)[name]}
                for label, records in perturbed.items():
                    for r in _ok(records, setting):
                        if name in values_of(r):
                            over_numerics[label] = values_of(r)[name]
                metrics.append(MetricNoise(setting, name, over_seeds, over_numerics, early))
    return Noise(paper, impl, profile, seed_list, environments, metrics, native,
                 [r for r in every if r.status != "ok"])


def _ok(records: list[Record], setting: str) -> list[Record]:
    return [r for r in records if r.status == "ok" and r.setting == setting]
