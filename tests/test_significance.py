"""The statistics of A - B (repro.significance): hand-computed cases, and by simulation the
rates a student relies on: a true null called a difference about 5% of the time, a planted
effect found as often as the seeds-needed estimate promises."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.significance import IDENTICAL, NO_TEST, PAIRED, WELCH, difference, seeds_needed, sentence


def test_paired_difference_by_hand():
    # per-seed differences 2, 2.2, 1.8: mean 2, sd 0.2, se 0.2/sqrt(3); t(0.975, 2) = 4.3027
    d = difference({0: 12.0, 1: 12.2, 2: 11.8}, {0: 10.0, 1: 10.0, 2: 10.0}, metric="acc", direction="higher")
    assert (d.test, d.seeds_paired) == (PAIRED, 3) and d.mean == pytest.approx(2.0)
    half = 4.3027 * 0.2 / math.sqrt(3)
    assert (d.ci_low, d.ci_high) == pytest.approx((2 - half, 2 + half), abs=1e-4)
    assert d.p_value == pytest.approx(0.00332, abs=1e-4)  # t = 17.3 on 2 df
    assert d.decided and d.a_better is True
    assert sentence(d, "mine", "theirs").startswith("mine is better than theirs by 2.00 (95% CI 1.50 to 2.50; paired t")


def test_a_wide_interval_is_not_decided():
    # differences 1, 2, 3: t = 3.46 on 2 df, p = 0.074, the interval -0.48 to 4.48 holds zero
    d = difference({0: 11.0, 1: 12.0, 2: 13.0}, {0: 10.0, 1: 10.0, 2: 10.0}, metric="acc", direction="higher")
    assert d.p_value == pytest.approx(0.0742, abs=1e-3) and d.ci_low < 0 < d.ci_high
    assert not d.decided and d.a_better is None


def test_lower_is_better_turns_a_higher_value_into_worse():
    d = difference({0: 0.5, 1: 0.6, 2: 0.55}, {0: 0.4, 1: 0.42, 2: 0.41}, metric="mse", direction="lower")
    assert d.decided and d.a_better is False
    assert sentence(d, "A", "B").startswith("A is worse than B by 0.140")


def test_welch_where_the_seeds_differ():
    d = difference({0: 1.0, 1: 2.0, 2: 3.0}, {5: 1.5, 6: 2.5, 7: 3.5, 8: 4.5})
    assert d.test == WELCH and d.seeds_paired == 0
    assert d.mean == pytest.approx(-1.0)
    # se = sqrt(1/3 + 1.6667/4) = 0.866; Welch df = 0.75^2 / ((1/3)^2/2 + (0.41667)^2/3) = 4.88
    assert d.p_value == pytest.approx(0.3, abs=0.01)
    assert not d.decided


def test_the_same_values_on_every_seed_are_identical_and_decided():
    values = {0: 31.2, 1: 30.7, 2: 32.1}
    d = difference(values, dict(values), metric="acc", direction="higher")
    assert d.test == IDENTICAL and d.decided and d.a_better is None
    assert "gave the same acc on every one of the 3 seeds" in sentence(d)


def test_one_run_a_side_gives_no_interval():
    d = difference({0: 1.0}, {0: 2.0})
    assert d.test == NO_TEST and not d.decided and d.ci_low is None
    assert "run at least 2 seeds" in sentence(d)


def test_an_undecided_difference_says_how_many_seeds_would_tell():
    d = difference({0: 1.0, 1: 2.0, 2: 0.5}, {0: 1.2, 1: 1.0, 2: 1.1}, effect=0.5)
    assert not d.decided and d.seeds_needed is not None and d.seeds_needed > 3
    assert f"about {d.seeds_needed} seeds would detect a difference of 0.500" in sentence(d)


def test_seeds_needed_by_hand():
    # paired, effect = sd: the textbook answer is 10 pairs (two-sided 5%, power 80%)
    assert seeds_needed(1.0, 1.0, paired=True) == 10
    # unpaired, effect = sd: 17 a side
    assert seeds_needed(1.0, 1.0, paired=False) == 17
    assert seeds_needed(1.0, 0.0, paired=True) is None


def _simulated(rng: random.Random, n: int, shift: float, paired: bool):
    """Two sides of n seeds: each seed's value = a seed effect (shared when paired) + noise."""
    seed_effect = [rng.gauss(0, 2.0) for _ in range(n)]
    a = {s: (seed_effect[s] if paired else rng.gauss(0, 2.0)) + rng.gauss(0, 1.0) + shift for s in range(n)}
    b = {s: seed_effect[s] + rng.gauss(0, 1.0) for s in range(n)}
    return a, b if paired else {s + n: v for s, v in b.items()}


@pytest.mark.parametrize("paired", [True, False])
def test_a_true_null_is_called_a_difference_about_five_percent_of_the_time(paired):
    rng = random.Random(1)
    repeats = 2000
    called = sum(difference(*_simulated(rng, 5, 0.0, paired)).decided for _ in range(repeats))
    assert 0.03 * repeats <= called <= 0.07 * repeats  # 5% +- 2 points (binomial sd 0.5 points)


def test_a_planted_effect_is_found_as_often_as_the_seeds_needed_estimate_promises():
    rng = random.Random(2)
    # paired: the per-seed differences have sd sqrt(2) (the shared seed effect cancels)
    n = seeds_needed(1.5, math.sqrt(2), paired=True)
    found = sum(difference(*_simulated(rng, n, 1.5, True)).decided for _ in range(1000))
    assert 0.75 * 1000 <= found <= 0.9 * 1000  # power 80% at the estimated count


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=12), st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=12))
def test_any_values_give_a_difference_and_a_sentence(a, b):
    d = difference(dict(enumerate(a)), dict(enumerate(b)), metric="m", direction="higher", effect=1.0)
    assert d.test in (PAIRED, WELCH, IDENTICAL, NO_TEST)
    if d.ci_low is not None:
        assert d.ci_low <= d.mean <= d.ci_high
    assert sentence(d)
