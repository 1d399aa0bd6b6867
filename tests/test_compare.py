"""Verdict statistics on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from repro.compare import (
    BETTER, INCONCLUSIVE, NO_RESULT, REPRODUCED, WORSE,
    compare_claims, exit_code, summarize, t_quantile_975, verdict,
)
from repro.catalog.manifest import Claim
from repro.records import Record


def claim(reported: float, *, abs_tol: float | None = None, rel_tol: float | None = None, direction: str = "higher") -> Claim:
    tolerance = {"abs": abs_tol} if abs_tol is not None else {"rel": rel_tol}
    return Claim(id="c", metric="m", reported=reported, direction=direction, tolerance=tolerance, source="Table 1")


def test_summary_of_three_values():
    # mean 94, sample sd sqrt(((-1)^2 + 0 + 1^2) / 2) = 1, half-width t(0.975, 2) / sqrt(3) = 4.303 / 1.7321
    s = summarize([93.0, 94.0, 95.0])
    assert (s.n, s.mean, s.sd) == (3, 94.0, 1.0)
    assert s.ci_low == pytest.approx(94 - 2.484338, abs=1e-6)
    assert s.ci_high == pytest.approx(94 + 2.484338, abs=1e-6)


def test_summary_of_two_values_uses_t_with_one_degree_of_freedom():
    s = summarize([1.0, 3.0])  # sd = sqrt(2); half-width = 12.706 * sqrt(2) / sqrt(2)
    assert s.sd == pytest.approx(math.sqrt(2))
    assert (s.ci_low, s.ci_high) == pytest.approx((2 - 12.706, 2 + 12.706))


def test_one_value_has_no_interval():
    s = summarize([90.0])
    assert (s.n, s.mean, s.sd, s.ci_low, s.ci_high) == (1, 90.0, None, None, None)


def test_t_quantiles():
    assert t_quantile_975(1) == 12.706
    assert t_quantile_975(2) == 4.303
    assert t_quantile_975(35) == 2.042  # between table rows: the lower df, a wider interval
    assert t_quantile_975(1000) == 1.960
    with pytest.raises(ValueError):
        t_quantile_975(0)


THREE = [93.0, 94.0, 95.0]  # mean 94, 95% interval [91.52, 96.48]


@pytest.mark.parametrize(
    "the_claim, values, expected",
    [
        (claim(94.0, abs_tol=0.5), THREE, REPRODUCED),  # mean on the reported value
        (claim(96.0, abs_tol=2.0), THREE, REPRODUCED),  # mean exactly on the band's edge
        (claim(98.0, abs_tol=2.0), THREE, INCONCLUSIVE),  # band [96, 100], interval reaches 96.48
        (claim(99.0, abs_tol=2.0), THREE, WORSE),  # band [97, 101], interval ends at 96.48
        (claim(88.0, abs_tol=2.0), THREE, BETTER),  # band [86, 90], interval starts at 91.52
        (claim(88.0, abs_tol=2.0, direction="lower"), THREE, WORSE),  # a loss above the band
        (claim(99.0, abs_tol=2.0, direction="lower"), THREE, BETTER),  # a loss below the band
        (claim(100.0, rel_tol=0.05), THREE, INCONCLUSIVE),  # band [95, 105], interval reaches 96.48
        (claim(110.0, rel_tol=0.05), THREE, WORSE),  # band [104.5, 115.5]
        (claim(32.0, abs_tol=3.5), [35.5], REPRODUCED),  # 32 + 3.5 is inside, despite float rounding
        (claim(94.0, abs_tol=2.0), [90.0], WORSE),  # one seed: the mean decides
        (claim(94.0, abs_tol=2.0), [91.0, 91.0, 91.0], WORSE),  # no spread: a zero-width interval
        (claim(94.0, abs_tol=2.0), None, NO_RESULT),
    ],
)
def test_verdicts(the_claim, values, expected):
    assert verdict(the_claim, summarize(values) if values else None) == expected


def record(setting: str, value: float, status: str = "ok") -> Record:
    return Record.from_dict({"run_id": f"r-{setting}-{value}", "status": status, "spec": {"setting_label": setting},
                             "metrics": {"m": value} if status == "ok" else {}})


def test_compare_claims_groups_runs_by_setting_and_ignores_failed_runs():
    c = Claim(id="c", metric="m", setting={"model": "cnn"}, reported=94.0, direction="higher",
              tolerance={"abs": 2.0}, source="Table 1")
    records = [record("model=cnn", 93.0), record("model=cnn", 95.0), record("model=mlp", 10.0),
               record("model=cnn", 0.0, status="crashed")]
    (result,) = compare_claims([c], records)
    assert result.values == [93.0, 95.0]
    assert result.delta == 0.0 and result.verdict == REPRODUCED and result.stats.n == 2
    assert exit_code([result], records) == 3  # a crashed run always fails the command


def test_exit_codes():
    good = compare_claims([claim(94.0, abs_tol=2.0)], [record("default", 94.0)])
    worse = compare_claims([claim(94.0, abs_tol=2.0)], [record("default", 80.0)])
    better = compare_claims([claim(94.0, abs_tol=2.0)], [record("default", 99.0)])
    assert exit_code(good, [record("default", 94.0)]) == 0
    assert exit_code(better, [record("default", 99.0)]) == 0
    assert exit_code(worse, [record("default", 80.0)]) == 1
    assert exit_code(compare_claims([claim(94.0, abs_tol=2.0)], []), []) == 3


@pytest.mark.parametrize("values, reported, measured, delta", [
    ([0.036], 0.04, "0.036 (n=1)", "-0.004"),  # not 0.04 and -0.00
    ([0.00038, 0.00040], 0.0004, "0.00039 ± 1.41e-05 (n=2)", "-1e-05"),  # not 0.00 ± 0.00
    ([64.4, 63.9, 65.1], 68.0, "64.47 ± 0.603 (n=3)", "-3.53"),
    ([12345.6], 12000.0, "12346 (n=1)", "+346"),  # no 1.235e+04
])
def test_verdict_tables_print_significant_digits(values, reported, measured, delta):
    from repro.render.text import delta_text, measured_text

    (result,) = compare_claims([claim(reported, rel_tol=0.1)], [record("default", v) for v in values])
    assert (measured_text(result), delta_text(result)) == (measured, delta)
