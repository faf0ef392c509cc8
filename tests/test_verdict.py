"""The verdict rule's error bounds, proven by simulation (Bernoulli draws, no trading), and its
exact operating characteristic, its knobs' errors, and the interval helpers."""
import math

import numpy as np
import pytest

from pytest_stress.errors import ScenarioError
from pytest_stress.verdict import FAIL, PASS, VerdictRule, quantile_bounds, rate_interval

CASES = 2000


def _simulate(rule: VerdictRule, rate: float, cases: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Run the rule on ``cases`` simulated scenarios with true failure rate ``rate``: each draws
    its paths' outcomes until the rule decides. Returns (verdicts == FAIL, paths used)."""
    rng = np.random.default_rng(seed)
    draws = rng.random((cases, rule.max_paths)) < rate
    failed = np.zeros(cases, bool)
    used = np.zeros(cases, np.int64)
    for c in range(cases):
        k = 0
        for n in range(1, rule.max_paths + 1):
            k += int(draws[c, n - 1])
            verdict = rule.decision(k, n)
            if verdict is not None:
                failed[c] = verdict == FAIL
                used[c] = n
                break
    return failed, used


@pytest.mark.parametrize("rate", [0.0, 0.01, 0.05, 0.10, 0.30])
def test_error_bounds_hold_on_simulated_cases(rate):
    rule = VerdictRule()
    failed, used = _simulate(rule, rate, CASES, seed=int(rate * 1000) + 7)
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
