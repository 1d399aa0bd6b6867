"""Is the difference between two implementations real? Statistics of A - B over seeds.

`difference(a, b)` takes each side's values by seed and says, for one metric:

- the mean difference A - B and its 95% interval: from the paired t distribution where both
  sides ran the same seeds (each seed's pair shares its data order and, where the code
  allows, its initial weights, so pairing removes what the seed alone explains), else
  Welch's t (unequal variances, Welch-Satterthwaite degrees of freedom);
- a two-sided p-value from the same test (scipy.stats' t distribution);
- whether it is decided: the interval excludes zero, or both sides gave the same value on
  every seed (the same computation under two names), which no number of seeds changes;
- how many seeds would detect a difference of `effect` with 80% power at the 5% level
  (the noncentral t, from the spread measured here): the answer to "no difference
  detectable" is then "not with this many seeds", with a number.

A metric's direction (higher or lower is better, from the paper's claims) turns "higher by"
into "better by". Nothing here runs anything: versus.py and sweep.py call it on records.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from repro.compare import Stats, summarize

ALPHA = 0.05  # two-sided: the 95% interval
POWER = 0.8  # what "would detect" means in the seeds-needed estimate
MAX_SEEDS_NEEDED = 1000  # beyond this the estimate says "more than"

PAIRED, WELCH, IDENTICAL, NO_TEST = "paired t", "Welch t", "identical", "none"


@dataclass(frozen=True)
class Difference:
    """A - B for one metric, and what it lets one say."""

    metric: str
    direction: str | None  # "higher" or "lower" is better; None: the metric has no claim
    a: Stats
    b: Stats
    test: str  # PAIRED, WELCH, IDENTICAL, or NO_TEST (a side has one value)
    seeds_paired: int  # seeds both sides ran (0 for Welch)
    mean: float  # mean(A) - mean(B) (paired: the mean of the per-seed differences, the same number)
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    effect: float | None  # the difference the seeds-needed estimate is for
    seeds_needed: int | None  # seeds per side for 80% power at that effect; None: cannot say

    @property
    def decided(self) -> bool:
        """The interval excludes zero, or the two sides are the same on every seed."""
        if self.test == IDENTICAL:
            return True
        return self.ci_low is not None and bool(self.ci_low > 0 or self.ci_high < 0)

    @property
    def a_better(self) -> bool | None:
        """A better than B (True), worse (False), or no direction / not decided (None)."""
        if not self.decided or self.test == IDENTICAL or self.direction is None:
            return None
        return (self.mean > 0) == (self.direction == "higher")

    def to_dict(self) -> dict:
        return {**asdict(self), "decided": self.decided, "a_better": self.a_better}


def difference(a: dict[int, float], b: dict[int, float], *, metric: str = "", direction: str | None = None,
               effect: float | None = None) -> Difference:
    """A - B from each side's values by seed: paired where at least two seeds are on both
    sides (only those seeds count), else Welch. `effect`: the difference worth detecting,
    for the seeds-needed estimate (None: none is made)."""
    if not a or not b:
        raise ValueError("each side needs at least one value")
    common = sorted(set(a) & set(b))
    if len(common) >= 2:
        return _paired(metric, direction, {s: a[s] for s in common}, {s: b[s] for s in common}, effect)
    return _welch(metric, direction, list(a.values()), list(b.values()), effect)


def _paired(metric, direction, a: dict[int, float], b: dict[int, float], effect) -> Difference:
    from scipy import stats

    seeds = sorted(a)
    d = [a[s] - b[s] for s in seeds]
    n = len(d)
    mean = math.fsum(d) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (n - 1))
    sides = summarize([a[s] for s in seeds]), summarize([b[s] for s in seeds])
    if all(x == 0 for x in d):
        return Difference(metric, direction, *sides, IDENTICAL, n, 0.0, 0.0, 0.0, 1.0, effect, None)
    if sd == 0:  # the same nonzero difference on every seed: no spread to test against
        return Difference(metric, direction, *sides, PAIRED, n, mean, mean, mean, 0.0, effect, None)
    se = sd / math.sqrt(n)
    half = float(stats.t.ppf(1 - ALPHA / 2, n - 1)) * se
    p = float(2 * stats.t.sf(abs(mean) / se, n - 1))
    needed = seeds_needed(effect, sd, paired=True) if effect else None
    return Difference(metric, direction, *sides, PAIRED, n, mean, mean - half, mean + half, p, effect, needed)


def _welch(metric, direction, a: list[float], b: list[float], effect) -> Difference:
    from scipy import stats

    sa, sb = summarize(a), summarize(b)
    mean = sa.mean - sb.mean
    if sa.n < 2 or sb.n < 2:
        return Difference(metric, direction, sa, sb, NO_TEST, 0, mean, None, None, None, effect, None)
    va, vb = sa.sd**2 / sa.n, sb.sd**2 / sb.n
    if va + vb == 0:
        if mean == 0:
            return Difference(metric, direction, sa, sb, IDENTICAL, 0, 0.0, 0.0, 0.0, 1.0, effect, None)
        return Difference(metric, direction, sa, sb, WELCH, 0, mean, mean, mean, 0.0, effect, None)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (sa.n - 1) + vb**2 / (sb.n - 1))
    half = float(stats.t.ppf(1 - ALPHA / 2, df)) * se
    p = float(2 * stats.t.sf(abs(mean) / se, df))
    pooled = math.sqrt((sa.sd**2 + sb.sd**2) / 2)
    needed = seeds_needed(effect, pooled, paired=False) if effect else None
    return Difference(metric, direction, sa, sb, WELCH, 0, mean, mean - half, mean + half, p, effect, needed)


def seeds_needed(effect: float, sd: float, *, paired: bool) -> int | None:
    """The fewest seeds (per side) at which a two-sided t-test at ALPHA finds a true
    difference of `effect` with probability POWER, when the spread is `sd` (of the per-seed
    differences if paired, of each side's values if not). None where sd is 0 or the answer
    is over MAX_SEEDS_NEEDED."""
    from scipy import stats

    if sd <= 0 or effect == 0:
        return None
    # the normal approximation is a little below the t's answer: start the search just under it
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    approximate = (z * sd / abs(effect)) ** 2 * (1 if paired else 2)
    if approximate > MAX_SEEDS_NEEDED:
        return None
    for n in range(max(2, math.floor(approximate) - 1), MAX_SEEDS_NEEDED + 1):
        if paired:
            df, nc = n - 1, abs(effect) / (sd / math.sqrt(n))
        else:
            df, nc = 2 * n - 2, abs(effect) / (sd * math.sqrt(2 / n))
        critical = stats.t.ppf(1 - ALPHA / 2, df)
        if stats.nct.sf(critical, df, nc) + stats.nct.cdf(-critical, df, nc) >= POWER:
            return n
    return None


def number(value: float, digits: int = 3) -> str:
    """A difference for a sentence: `digits` significant digits, no exponent for usual sizes."""
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    return f"{value:.{max(0, digits - 1 - magnitude)}f}"


def sentence(d: Difference, a: str = "A", b: str = "B") -> str:
    """What the difference lets one say, in one plain sentence."""
    seeds = d.seeds_paired or min(d.a.n, d.b.n)
    if d.test == IDENTICAL:
        return f"{a} and {b} gave the same {d.metric} on every one of the {seeds} seeds (the same computation?)"
    if d.test == NO_TEST:
        return (f"{a} - {b} = {number(d.mean)} from one run on a side: no interval without a spread; "
                "run at least 2 seeds each (--seeds 5)")
    if d.decided:
        word = ("better" if d.a_better else "worse") if d.a_better is not None else ("higher" if d.mean > 0 else "lower")
        low, high = sorted((abs(d.ci_low), abs(d.ci_high)))
        return (f"{a} is {word} than {b} by {number(abs(d.mean))} (95% CI {number(low)} to {number(high)}; "
                f"{d.test}, p = {d.p_value:.2g}, {seeds} seeds)")
    said = (f"no difference detectable with {seeds} seeds ({a} - {b} = {number(d.mean)}, "
            f"95% CI {number(d.ci_low)} to {number(d.ci_high)})")
    if d.effect:
        if d.seeds_needed is None:
            said += f"; even {MAX_SEEDS_NEEDED} seeds would hardly detect a difference of {number(d.effect)}"
        elif d.seeds_needed <= seeds:
            said += f"; {seeds} seeds were enough to detect a difference of {number(d.effect)}, so any is likely smaller"
        else:
            said += f"; about {d.seeds_needed} seeds would detect a difference of {number(d.effect)}"
    return said
