"""The verdict rule's error bounds, proven by simulation (Bernoulli draws, no trading), and its
exact operating characteristic, its knobs' errors, and the interval helpers."""
import math

import numpy as np
import pytest

from pytest_stress.errors import ScenarioError
from pytest_stress import verdict
from pytest_stress.verdict import (FAIL, PASS, VerdictRule, quantile_bound_min_values, quantile_bounds, rate_bound,
                                   rate_interval, shift_interval, shift_min_values)

CASES = 2000


@pytest.mark.parametrize("rate", [0.0, 0.01, 0.05, 0.10, 0.30])
def test_error_bounds_hold_on_simulated_cases(rate):
    rule = VerdictRule()
    failed, used = rule.simulate(rate, CASES, np.random.default_rng(int(rate * 1000) + 7))
    exact = rule.operating(rate)
    # the simulated frequency agrees with the exact probability (4 binomial standard errors)
    se = math.sqrt(max(exact.fail_prob * (1 - exact.fail_prob), 1e-4) / CASES)
    assert abs(failed.mean() - exact.fail_prob) < 4 * se + 1e-9
    assert abs(used.mean() - exact.expected_paths) < 4 * used.std() / math.sqrt(CASES) + 1e-9
    if rate <= rule.pass_rate:       # a false FAIL at most alpha (exactly; and by simulation, within noise)
        assert exact.fail_prob <= rule.alpha + 1e-12
        assert failed.mean() <= rule.alpha + 4 * math.sqrt(rule.alpha * (1 - rule.alpha) / CASES)
    if rate >= rule.fail_rate:       # a false PASS at most beta
        assert exact.pass_prob <= rule.alpha + 1e-12
        assert (~failed).mean() <= rule.alpha + 4 * math.sqrt(rule.alpha * (1 - rule.alpha) / CASES)


@pytest.mark.parametrize("p0, p1, confidence, cap", [(0.01, 0.10, 0.95, 300), (0.05, 0.20, 0.9, 100),
                                                     (0.001, 0.05, 0.99, 2000), (0.02, 0.5, 0.8, 40)])
def test_exact_errors_within_bounds_for_other_rules(p0, p1, confidence, cap):
    rule = VerdictRule(p0, p1, confidence, cap)
    assert rule.operating(p0).fail_prob <= 1 - confidence + 1e-12
    assert rule.operating(p1).pass_prob <= 1 - confidence + 1e-12
    # the operating characteristic is monotone: a worse system is failed more often
    probs = [rule.operating(p).fail_prob for p in np.linspace(0, 1, 21)]
    assert all(b >= a - 1e-12 for a, b in zip(probs, probs[1:]))


def test_defaults_decide_fast_at_the_extremes():
    rule = VerdictRule()
    n_fixed, _ = rule.fixed_sample()
    assert n_fixed == 61
    assert rule.min_paths() == (31, 2)           # 31 clean paths pass; 2 failing paths fail
    assert rule.operating(0.0).expected_paths == 31
    assert rule.operating(0.30).expected_paths < 8
    assert rule.decision(0, 31) == PASS and rule.decision(0, 30) is None
    assert rule.decision(2, 2) == FAIL and rule.decision(1, 1) is None


def test_the_cap_decides_by_the_likelihood_ratio():
    rule = VerdictRule(max_paths=300)
    pass_max, fail_min = rule.boundaries
    assert (pass_max[300], fail_min[300]) == (10, 14)
    # 11 failures in 300 paths (3.7%): neither boundary; the likelihood ratio favours the pass rate
    assert rule.decision(11, 300) == PASS and rule.decided_at_cap(11, 300)
    assert rule.decision(13, 300) == FAIL and rule.decided_at_cap(13, 300)
    assert rule.llr(11, 300) < 0 < rule.llr(12, 300)
    assert rule.decision(11, 299) is None and not rule.decided_at_cap(10, 300)


@pytest.mark.parametrize("kwargs, words", [
    ({"pass_rate": 0.0}, "pass_rate = 0.0; expected a share of paths in (0, 1)"),
    ({"fail_rate": 1.5}, "fail_rate = 1.5; expected a share of paths in (0, 1)"),
    ({"pass_rate": 0.2, "fail_rate": 0.1}, "pass_rate = 0.2 is not below fail_rate = 0.1"),
    ({"confidence": 0.4}, "confidence = 0.4; expected a probability in (0.5, 1)"),
    ({"confidence": 1.0}, "confidence = 1.0; expected a probability in (0.5, 1)"),
    ({"max_paths": 0}, "max_paths = 0; expected a whole number >= 1"),
    ({"max_paths": 10}, "max_paths = 10 cannot tell a failure rate of 0.01 from 0.1 with confidence 0.95"),
    ({"pass_rate": "1%"}, "pass_rate = '1%'; expected a number"),
])
def test_bad_knobs_are_named(kwargs, words):
    with pytest.raises(ScenarioError, match=None) as info:
        VerdictRule(**kwargs)
    assert words in str(info.value)


def test_clopper_pearson():
    lo, hi = rate_interval(0, 31)
    assert lo == 0 and 0.11 < hi < 0.12            # 1 - 0.025 ** (1 / 31)
    assert math.isclose(hi, 1 - 0.025 ** (1 / 31))
    lo, hi = rate_interval(5, 10)
    assert math.isclose(lo, 0.187086, rel_tol=1e-5) and math.isclose(hi, 0.812914, rel_tol=1e-5)


def test_quantile_bounds_cover_the_true_quantile():
    rng = np.random.default_rng(3)
    q, conf, n = 0.95, 0.9, 200
    truth = -math.log(1 - q)                       # exponential(1)
    below = above = 0
    for _ in range(400):
        lo, hi = quantile_bounds(rng.exponential(size=n), q, conf)
        below += lo <= truth
        above += hi >= truth
    assert below / 400 >= conf - 0.04 and above / 400 >= conf - 0.04
    # too few values for an upper bound on the p95 at 95%: infinite, so an assertion on it fails
    assert quantile_bounds(np.arange(20.0), 0.95, 0.95)[1] == math.inf


# -- one-sided bounds, and the shift between two sets of paths ----------------------------------

def test_one_sided_bounds_and_the_paths_they_take():
    assert math.isclose(rate_bound(0, 59), 1 - 0.05 ** (1 / 59))          # 0 of 59 bounds the rate below 5%
    assert rate_bound(0, 59) < 0.05 < rate_bound(0, 58)
    assert math.isclose(rate_bound(5, 10, 0.95, upper=False), rate_interval(5, 10, 0.90)[0])
    assert quantile_bound_min_values(0.95) == 59 and quantile_bound_min_values(0.99) == 299
    assert quantile_bound_min_values(0.05, upper=False) == 59
    for q, conf in [(0.95, 0.95), (0.9, 0.8), (0.5, 0.99), (0.99, 0.9)]:
        need = quantile_bound_min_values(q, conf)
        assert quantile_bounds(np.arange(float(need)), q, conf)[1] < math.inf
        assert quantile_bounds(np.arange(float(need - 1)), q, conf)[1] == math.inf
    # NaN (a failed path) is left out; inf is a value like any other
    lo, hi = quantile_bounds(np.r_[np.arange(99.0), math.inf, math.nan], 0.5, 0.95)
    assert 40 < lo < 50 < hi < 60
    assert quantile_bounds(np.r_[np.arange(59.0), math.inf], 0.95, 0.95)[1] == math.inf    # the 60th of 60: inf
    with pytest.raises(ScenarioError, match=r"rate_bound: confidence = 0.3; expected a probability in \(0.5, 1\)"):
        rate_bound(1, 10, 0.3)


def _counts_exact(m: int, n: int) -> list[int]:
    """The Mann-Whitney counts in whole numbers (the same product, no rounding)."""
    m, n = max(m, n), min(m, n)
    poly = [1] + [0] * (m * n)
    for i in range(1, n + 1):
        top = m * i + 1
        part = poly[:top]
        for k in range(top - 1, m + i - 1, -1):
            part[k] -= part[k - (m + i)]
        for k in range(i, top):
            part[k] += part[k - i]
        poly[:top] = part
    return poly


def test_mann_whitney_counts_are_exact():
    import itertools

    for m, n in [(3, 4), (5, 5), (2, 7), (6, 1)]:     # by enumerating every arrangement
        brute = np.zeros(m * n + 1)
        for xs in itertools.combinations(range(m + n), m):
            brute[sum(1 for i in xs for j in range(m + n) if j not in xs and j > i)] += 1
        assert np.array_equal(brute, verdict._mann_whitney_counts(m, n))
    for m, n in [(50, 50), (50, 200), (30, 300)]:     # the float computation up to _EXACT_SMALLER, to ~1e-13
        total = math.comb(m + n, n)
        exact = np.cumsum([c / total for c in _counts_exact(m, n)])
        got = np.cumsum(verdict._mann_whitney_counts(m, n)) / total
        assert np.max(np.abs(got - exact)) < 1e-12


def test_the_interval_ranks_exact_and_approximate():
    assert verdict._interval_rank(4, 4, 0.95) == (1, True)      # 1/70 < 2.5%: the extremes
    assert verdict._interval_rank(3, 3, 0.95) == (0, True)      # 1/20 > 2.5%: no interval
    assert verdict._interval_rank(10, 10, 0.95) == (24, True)   # Hollander-Wolfe's table: C = 24
    assert shift_min_values(0.95) == 4 and shift_min_values(0.99) == 5
    # the normal approximation (beyond 50 on the smaller side) is within a few ranks of the exact one, on the wide side
    for m, n in [(60, 60), (100, 100)]:
        total = math.comb(m + n, n)
        cdf = np.cumsum([c / total for c in _counts_exact(m, n)])
        exact = int(np.count_nonzero(cdf <= 0.025))
        approx, is_exact = verdict._interval_rank(m, n, 0.95)
        assert not is_exact and exact - 3 <= approx <= exact


@pytest.mark.parametrize("m, n", [(12, 15), (40, 40), (80, 70)])
def test_the_shift_interval_covers_the_true_shift(m, n):
    rng = np.random.default_rng(m * 1000 + n)
    reps, shift, covered, widths = 300, 2.5, 0, []
    for _ in range(reps):
        x = rng.gamma(2.0, 3.0, m)                      # skewed, like drawdowns
        y = rng.gamma(2.0, 3.0, n) + shift
        s = shift_interval(x, y)
        covered += s.low <= shift <= s.high
        widths.append(s.high - s.low)
    se = math.sqrt(0.95 * 0.05 / reps)
    assert covered / reps >= 0.95 - 3 * se
    assert covered / reps <= 0.995                      # not trivially wide either
    assert 0 < np.median(widths) < 8


def test_identical_samples_give_no_shift():
    x = np.random.default_rng(1).normal(10, 3, 50)
    s = shift_interval(x, x.copy())
    assert s.estimate == 0 and s.low == -s.high and s.low < 0 < s.high and s.bounded and s.sizes == (50, 50)
    same = shift_interval(np.full(30, 4.0), np.full(30, 4.0))          # constant paths: exactly zero
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    few = shift_interval(np.arange(3.0), np.arange(3.0))               # too few for any interval
    assert few.estimate == 0 and few.low == -math.inf and few.high == math.inf and not few.bounded


def test_noise_is_not_a_shift_and_a_doubling_is():
    rng = np.random.default_rng(5)
    flagged = 0
    for _ in range(200):                                # two draws of the same system: 0 is inside
        s = shift_interval(rng.gamma(4, 1.6, 40), rng.gamma(4, 1.6, 40))
        flagged += not s.low <= 0 <= s.high
    assert flagged <= 0.05 * 200 + 3 * math.sqrt(0.05 * 0.95 * 200)
    for _ in range(100):      # a doubled drawdown (median 11.5, p95 19, as the Monte Carlo example's): beyond 2 points
        x = rng.gamma(8, 1.5, 30)
        assert shift_interval(x, 2 * rng.gamma(8, 1.5, 30)).low > 2


def test_the_shift_of_many_pairs_by_bisection_equals_the_sorted_one(monkeypatch):
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1, 120), rng.normal(0.5, 2, 90)
    for a, b in [(x, y), (np.round(x, 1), np.round(y, 1))]:          # ties too
        whole = shift_interval(a, b)
        monkeypatch.setattr(verdict, "_PAIRS_IN_MEMORY", 10)
        cut = shift_interval(a, b)
        monkeypatch.undo()
        for f in ("estimate", "low", "high"):
            assert math.isclose(getattr(whole, f), getattr(cut, f), rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("args, words", [
    ((np.r_[1.0, math.nan], np.ones(5)), "shift_interval: the values hold inf or NaN; expected finite numbers"),
    ((np.ones(5), np.r_[1.0, math.inf]), "shift_interval: the values hold inf or NaN"),
    ((np.ones(0), np.ones(5)), "shift_interval: 0 baseline and 5 current values; expected at least one on each side"),
    ((np.ones(5), np.ones(5), 1.0), "shift_interval: confidence = 1.0; expected a probability in (0.5, 1)"),
])
def test_shift_interval_bad_input(args, words):
    with pytest.raises(ScenarioError) as info:
        shift_interval(*args)
    assert words in str(info.value)
