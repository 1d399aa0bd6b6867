"""Compare measured metrics with the paper's claims: statistics over seeds and verdicts.

Verdicts, for a claim with reported value r, tolerance band b and n seeds:
  REPRODUCED    |mean - r| <= b
  BETTER/WORSE  the mean lies outside the band, in that direction, and so does the
                whole 95% t-interval of the mean (or n = 1: no interval exists)
  INCONCLUSIVE  the mean lies outside the band but its interval reaches it: more seeds
                could change the answer
  NO RESULT     no run of the claim's setting finished
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from repro.catalog.manifest import Claim
from repro.records import Record

REPRODUCED, BETTER, WORSE, INCONCLUSIVE, NO_RESULT = "REPRODUCED", "BETTER", "WORSE", "INCONCLUSIVE", "NO RESULT"

# Two-sided 95% quantiles of Student's t, t(0.975, df). Between listed df the next lower
# df is used, which widens the interval slightly (the conservative side).
_T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
    10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
    18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060,
    26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980,
}


def t_quantile_975(df: int) -> float:
    if df < 1:
        raise ValueError("the t distribution needs at least one degree of freedom")
    return _T975[max(k for k in _T975 if k <= df)] if df <= 120 else 1.960


@dataclass(frozen=True)
class Stats:
    n: int
    mean: float
    sd: float | None  # sample sd (n - 1 in the denominator); None when n = 1
    ci_low: float | None  # 95% t-interval of the mean; None when n = 1
    ci_high: float | None


def summarize(values: list[float]) -> Stats:
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = math.fsum(values) / n
    if n == 1:
        return Stats(1, mean, None, None, None)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return Stats(n, mean, sd, mean - half, mean + half)


def verdict(claim: Claim, stats: Stats | None) -> str:
    if stats is None:
        return NO_RESULT
    band = claim.tolerance.band(claim.reported)
    low, high = claim.reported - band, claim.reported + band
    eps = 1e-9 * max(1.0, abs(claim.reported))  # 32.0 + 3.5 must count as inside
    if low - eps <= stats.mean <= high + eps:
        return REPRODUCED
    if stats.ci_low is not None and stats.ci_low <= high + eps and stats.ci_high >= low - eps:
        return INCONCLUSIVE
    above = stats.mean > high
    return BETTER if above == (claim.direction == "higher") else WORSE


@dataclass
class ClaimResult:
    claim_id: str
    description: str
    source: str
    metric: str
    setting: str
    reported: float
    reported_sd: float | None
    tolerance: str
    band: float
    stats: Stats | None
    delta: float | None
    verdict: str
    values: list[float]
    run_ids: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def compare_claims(claims: list[Claim], records: list[Record]) -> list[ClaimResult]:
    """One ClaimResult per claim, from the successful runs of the claim's setting."""
    results = []
    for claim in claims:
        matching = [
            r for r in records
            if r.status == "ok" and r.setting == claim.setting_label and claim.metric in r.metrics
        ]
        values = [r.metrics[claim.metric] for r in matching]
        stats = summarize(values) if values else None
        results.append(
            ClaimResult(
                claim_id=claim.id,
                description=claim.description,
                source=claim.source,
                metric=claim.metric,
                setting=claim.setting_label,
                reported=claim.reported,
                reported_sd=claim.reported_sd,
                tolerance=claim.tolerance.describe(),
                band=claim.tolerance.band(claim.reported),
                stats=stats,
                delta=stats.mean - claim.reported if stats else None,
                verdict=verdict(claim, stats),
                values=values,
                run_ids=[r.run_id for r in matching],
            )
        )
    return results


def exit_code(results: list[ClaimResult], records: list[Record]) -> int:
    """3 if a run failed, else 1 if a claim is WORSE or INCONCLUSIVE, else 0."""
    if any(r.status != "ok" for r in records) or any(c.verdict == NO_RESULT for c in results):
        return 3
    if any(c.verdict in (WORSE, INCONCLUSIVE) for c in results):
        return 1
    return 0
