"""Verdicts about a scenario, not a seed: the one module that decides a claim over paths.

A stress test's assertion holds on some of a scenario's market paths and fails on others; its
verdict is a statement about the share ``p`` of paths on which it fails. ``VerdictRule`` decides,
path after path, between

- PASS: ``p <= pass_rate`` (the assertion fails on at most an acceptable share of paths), and
- FAIL: ``p >= fail_rate`` (it fails on at least an unacceptable share),

with error probabilities bounded by ``1 - confidence`` each: a scenario whose failure rate is
at most ``pass_rate`` is failed with probability at most ``alpha``, one whose rate is at least
``fail_rate`` is passed with probability at most ``beta``. Between the two rates (the
indifference zone) either verdict is acceptable.

The test is Wald's sequential probability ratio test for a Bernoulli rate (A. Wald, *Sequential
tests of statistical hypotheses*, Ann. Math. Statist. 16(2), 1945, 117-186): after ``n`` paths
with ``k`` failures the log likelihood ratio is ``k log(p1/p0) + (n-k) log((1-p1)/(1-p0))``;
the test stops with FAIL when it reaches ``log A`` and with PASS when it reaches ``log B``.
Wald's ``A = (1-beta)/alpha``, ``B = beta/(1-alpha)`` bound the errors only approximately (the
overshoot is ignored) and say nothing of a test cut off at ``max_paths``. Here the stopping
boundaries are integer failure counts, so the truncated test's exact operating characteristic
(the probability of PASS, of FAIL and the expected number of paths at any true rate) is a
finite sum over the binomial lattice, computed by dynamic programming (``operating``). The
thresholds are then calibrated on that exact computation: the PASS threshold (which decides
what a healthy system costs in paths) is moved as close to zero as the exact false-PASS
probability allows; the FAIL threshold stays Wald's unless the exact false-FAIL probability
needs it higher; the rule is refused if no thresholds meet both bounds within ``max_paths``. The error bounds are therefore exact for the rule as
run, the cap included, not Wald's approximations; ``tests/test_verdict.py`` checks them by
simulation as well, and ``benchmarks/bench_verdict.py`` prints the table.

At the cap (``max_paths`` paths with neither boundary reached, which happens mostly in the
indifference zone) the verdict is the sign of the log likelihood ratio: FAIL if the observed
share of failures is nearer ``fail_rate`` in the likelihood sense (above
``log((1-p0)/(1-p1)) / log(p1 (1-p0) / (p0 (1-p1)))``, about 3.9% for the defaults), else PASS;
the summary says the cap was reached. That answer is part of the computed error bounds.

Defaults: ``pass_rate`` 1%, ``fail_rate`` 10%, ``confidence`` 0.95 (alpha = beta = 5%),
``max_paths`` 300. A system that never fails its assertion is passed after 31 paths (no rule
can do it in fewer than 29, since 0.9^28 > 0.05; the last two pay for the later chances to pass
with a failure on the way), a system that fails on 30% of paths is failed after about 7 (two
failing paths are the fewest that fail it); a fixed-size test with the same bounds needs 61
paths (``fixed_sample``).

Also here: the Clopper-Pearson interval of a failure rate or a share of paths
(``rate_interval``), distribution-free confidence bounds for a quantile from order statistics
(``quantile_bounds``), used by ``PathsResult``; and, for judging a change between two sets of
paths (a baseline's and this run's), the Hodges-Lehmann shift with its Mann-Whitney confidence
interval (``shift_interval``), used by the baseline comparison (``plugin/compare.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from .errors import ScenarioError

__all__ = ["VerdictRule", "Operating", "PASS", "FAIL", "DEFAULT_RULE", "rate_interval", "quantile_bounds",
           "RULE_FIELDS", "check_confidence", "rate_bound", "quantile_bound_min_values", "Shift", "shift_interval",
           "shift_min_values"]

PASS = "pass"
FAIL = "fail"

#: The knobs of a rule, in the order the marker, the command line and the ini read them.
RULE_FIELDS = ("pass_rate", "fail_rate", "confidence", "max_paths")


@dataclass(frozen=True)
class Operating:
    """The exact operating characteristic of a rule at one true failure rate: the probability
    of each verdict (``cap_pass`` and ``cap_fail`` are the parts decided at the cap) and the
    expected number of paths run."""

    rate: float
    pass_prob: float
    fail_prob: float
    expected_paths: float
    cap_pass: float
    cap_fail: float


@dataclass(frozen=True)
class VerdictRule:
    """A sequential test of a Bernoulli failure rate (module docstring).

    ``VerdictRule(pass_rate=0.01, fail_rate=0.10, confidence=0.95, max_paths=300)``:
    ``decision(failures, paths)`` is ``PASS``, ``FAIL`` or None (run another path)."""

    pass_rate: float = 0.01
    fail_rate: float = 0.10
    confidence: float = 0.95
    max_paths: int = 300
    _thresholds: tuple[float, float] = field(init=False, repr=False, compare=False, default=(0.0, 0.0))

    def __post_init__(self) -> None:
        def number(name: str, value: object) -> float:
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ScenarioError(f"verdict: {name} = {value!r}; expected a number")
            return float(value)

        p0, p1 = number("pass_rate", self.pass_rate), number("fail_rate", self.fail_rate)
        conf = number("confidence", self.confidence)
        if not 0 < p0 < 1:
            raise ScenarioError(f"verdict: pass_rate = {self.pass_rate!r}; expected a share of paths in (0, 1), "
                                "such as 0.01 (the assertion may fail on 1% of paths)")
        if not 0 < p1 < 1:
            raise ScenarioError(f"verdict: fail_rate = {self.fail_rate!r}; expected a share of paths in (0, 1), "
                                "such as 0.10 (failing on 10% of paths fails the test)")
        if not p0 < p1:
            raise ScenarioError(f"verdict: pass_rate = {p0:g} is not below fail_rate = {p1:g}; the pass rate is the "
                                "acceptable share of failing paths, the fail rate the unacceptable one "
                                "(e.g. pass_rate=0.01, fail_rate=0.10)")
        if not 0.5 < conf < 1:
            raise ScenarioError(f"verdict: confidence = {self.confidence!r}; expected a probability in (0.5, 1), "
                                "such as 0.95 (each wrong verdict at most 5% likely)")
        cap = self.max_paths
        if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
            raise ScenarioError(f"verdict: max_paths = {cap!r}; expected a whole number >= 1, such as 300")
        object.__setattr__(self, "pass_rate", p0)
        object.__setattr__(self, "fail_rate", p1)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "max_paths", int(cap))
        object.__setattr__(self, "_thresholds", _calibrate(p0, p1, 1.0 - conf, int(cap)))

    # -- the test ---------------------------------------------------------------
    @property
    def alpha(self) -> float:
        """The bound on a false FAIL (failure rate at most ``pass_rate``), and on a false PASS."""
        return 1.0 - self.confidence

    def llr(self, failures: int, paths: int) -> float:
        """The log likelihood ratio of ``fail_rate`` against ``pass_rate`` after ``paths`` paths."""
        up, down = _log_steps(self.pass_rate, self.fail_rate)
        return failures * up + (paths - failures) * down

    @cached_property
    def boundaries(self) -> tuple[np.ndarray, np.ndarray]:
        """``(pass_max, fail_min)``, indexed by paths run (0..max_paths): PASS when failures <=
        ``pass_max[n]`` (-1: no pass possible yet), FAIL when failures >= ``fail_min[n]``."""
        return _boundaries(self.pass_rate, self.fail_rate, *self._thresholds, self.max_paths)

    def decision(self, failures: int, paths: int) -> str | None:
        """``PASS`` or ``FAIL`` once decided after ``paths`` paths with ``failures`` failures, else None;
        at ``max_paths`` always decided (the likelihood ratio's sign)."""
        pass_max, fail_min = self.boundaries
        if failures >= fail_min[paths]:
            return FAIL
        if failures <= pass_max[paths]:
            return PASS
        if paths >= self.max_paths:
            return FAIL if failures >= _cap_fail_min(self.pass_rate, self.fail_rate, paths) else PASS
        return None

    def decided_at_cap(self, failures: int, paths: int) -> bool:
        """Whether a decision after ``paths`` paths was the cap's (neither boundary was reached)."""
        pass_max, fail_min = self.boundaries
        return paths >= self.max_paths and pass_max[paths] < failures < fail_min[paths]

    def min_paths(self) -> tuple[int, int]:
        """The fewest paths that can PASS (all clean) and that can FAIL (all failing)."""
        pass_max, fail_min = self.boundaries
        n = np.arange(len(fail_min))
        return int(np.argmax(pass_max >= 0)), int(np.argmax(fail_min <= n))

    def operating(self, rate: float) -> Operating:
        """The exact probabilities of PASS and FAIL and the expected paths at true failure rate ``rate``."""
        pass_max, fail_min = self.boundaries
        return _operating(rate, pass_max, fail_min, self.max_paths,
                          _cap_fail_min(self.pass_rate, self.fail_rate, self.max_paths))

    def simulate(self, rate: float, cases: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Run the rule on ``cases`` simulated scenarios whose paths fail with probability ``rate``
        (Bernoulli draws from ``rng``, no trading), each path by path through ``decision`` until it
        decides: an independent check of ``operating``. Returns (verdict is FAIL, paths used) per case."""
        draws = rng.random((cases, self.max_paths)) < rate
        failed = np.zeros(cases, bool)
        used = np.zeros(cases, np.int64)
        for c in range(cases):
            k = 0
            for n in range(1, self.max_paths + 1):
                k += int(draws[c, n - 1])
                verdict = self.decision(k, n)
                if verdict is not None:
                    failed[c], used[c] = verdict == FAIL, n
                    break
        return failed, used

    def fixed_sample(self) -> tuple[int, int]:
        """The fixed-size test with the same error bounds: the fewest paths ``n`` and the largest
        number of failures ``c`` that still passes (PASS iff failures <= c)."""
        return fixed_sample(self.pass_rate, self.fail_rate, self.alpha)

    def describe(self) -> str:
        return (f"pass if the assertion fails on at most {self.pass_rate:.3%} of paths, fail if on at least "
                f"{self.fail_rate:.3%}, each wrong verdict at most {self.alpha:.3%} likely, at most {self.max_paths} "
                "paths (Wald's sequential test, exact bounds)").replace(".000%", "%")

    def as_dict(self) -> dict[str, float | int]:
        return {"pass_rate": self.pass_rate, "fail_rate": self.fail_rate, "confidence": self.confidence,
                "max_paths": self.max_paths}


def _log_steps(p0: float, p1: float) -> tuple[float, float]:
    """What one failing path and one clean path add to the log likelihood ratio of p1 against p0."""
    return math.log(p1 / p0), math.log((1 - p1) / (1 - p0))


def _cap_fail_min(p0: float, p1: float, paths: int) -> int:
    """After ``paths`` paths: the fewest failures whose log likelihood ratio is positive (FAIL at the cap)."""
    up, down = _log_steps(p0, p1)
    return int(math.floor(-paths * down / (up - down))) + 1


def _boundaries(p0: float, p1: float, log_a: float, log_b: float, cap: int) -> tuple[np.ndarray, np.ndarray]:
    up, down = _log_steps(p0, p1)
    n = np.arange(cap + 1, dtype=np.float64)
    # failures k: llr = k (up - down) + n down. FAIL: llr >= log_a; PASS: llr <= log_b
    fail_min = np.ceil((log_a - n * down) / (up - down) - 1e-9).astype(np.int64)
    pass_max = np.floor((log_b - n * down) / (up - down) + 1e-9).astype(np.int64)
    fail_min = np.maximum(fail_min, 1)
    pass_max = np.minimum(pass_max, fail_min - 1)
    pass_max[0] = -1                       # no verdict before the first path
    fail_min[0] = 1
    return pass_max, fail_min


def _operating(rate: float, pass_max: np.ndarray, fail_min: np.ndarray, cap: int, cap_fail_min: int) -> Operating:
    """Dynamic programming over (paths, failures): the mass still undecided, absorbed at each boundary.
    Only counts below the highest fail boundary can be undecided, so the state is that short."""
    if not 0 <= rate <= 1:
        raise ScenarioError(f"operating: rate = {rate!r}; expected a probability in [0, 1]")
    width = int(fail_min.max()) + 1
    alive = [0.0] * (width + 1)
    alive[0] = 1.0
    stay, move = 1.0 - rate, rate
    p_pass = p_fail = expected = 0.0
    top = 0                                    # the highest count that can hold mass
    for n in range(1, cap + 1):
        top = min(top + 1, width)
        for k in range(top, 0, -1):
            alive[k] = alive[k] * stay + alive[k - 1] * move
        alive[0] *= stay
        f = int(fail_min[n])
        if f <= top:
            mass = sum(alive[f:top + 1])
            alive[f:top + 1] = [0.0] * (top + 1 - f)
            p_fail += mass
            expected += n * mass
            top = f - 1
        k = int(pass_max[n])
        if k >= 0:
            mass = sum(alive[:k + 1])
            alive[:k + 1] = [0.0] * (k + 1)
            p_pass += mass
            expected += n * mass
    cap_fail = sum(alive[cap_fail_min:top + 1]) if cap_fail_min <= top else 0.0
    cap_pass = sum(alive[:min(cap_fail_min, top + 1)])
    expected += cap * (cap_fail + cap_pass)
    return Operating(rate, p_pass + cap_pass, p_fail + cap_fail, expected, cap_pass, cap_fail)


@lru_cache(maxsize=64)
def _calibrate(p0: float, p1: float, alpha: float, cap: int) -> tuple[float, float]:
    """The thresholds ``(log A, log B)`` nearest zero whose truncated test meets both error bounds
    exactly (``_operating``), starting from Wald's; refused if none does within ``cap`` paths."""
    up, down = _log_steps(p0, p1)
    log_a, log_b = math.log((1 - alpha) / alpha), math.log(alpha / (1 - alpha))
    cap_fail_min = _cap_fail_min(p0, p1, cap)

    def false_fail(a: float, b: float) -> float:
        return _operating(p0, *_boundaries(p0, p1, a, b, cap), cap, cap_fail_min).fail_prob

    def false_pass(a: float, b: float) -> float:
        return _operating(p1, *_boundaries(p0, p1, a, b, cap), cap, cap_fail_min).pass_prob

    def tighten(lo: float, hi: float, ok) -> float:
        """The value in [lo, hi] nearest lo for which ok() holds (ok(hi) holds), by bisection."""
        if ok(lo):
            return lo
        for _ in range(24):
            mid = (lo + hi) / 2
            if ok(mid):
                hi = mid
            else:
                lo = mid
        return hi

    slack = 1e-12
    # FAIL keeps Wald's threshold (two failing paths, not one, are the least that fail a test at the
    # defaults), raised only if the exact false-FAIL rate needs it; PASS, which decides how many
    # paths a healthy system costs, is moved as near zero as the exact false-PASS rate allows.
    far_a = log_a * 4 + up
    if false_fail(log_a, log_b) > alpha + slack and false_fail(far_a, log_b) <= alpha + slack:
        log_a = tighten(log_a, far_a, lambda a: false_fail(a, log_b) <= alpha + slack)
    far_b = log_b * 4 + down
    if false_pass(log_a, far_b) <= alpha + slack:
        log_b = tighten(0.0, far_b, lambda b: false_pass(log_a, b) <= alpha + slack)
    worst = max(false_fail(log_a, log_b), false_pass(log_a, log_b))
    if worst > alpha + slack:
        need = fixed_sample(p0, p1, alpha)[0]
        raise ScenarioError(
            f"verdict: max_paths = {cap} cannot tell a failure rate of {p0:g} from {p1:g} with confidence "
            f"{1 - alpha:g} (the best rule within {cap} paths errs with probability {worst:.3g}); "
            f"allow more paths (a fixed-size test needs {need}; the sequential one usually far fewer), "
            "widen the rates, or lower the confidence")
    return log_a, log_b


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k), exactly summed (n is at most a few thousand here)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    from scipy.special import bdtr   # lazy: only for a bound (scipy.special: 0.2 s to import, scipy.stats 0.7 s)

    return float(bdtr(k, n, p))


def fixed_sample(p0: float, p1: float, alpha: float, limit: int = 100_000) -> tuple[int, int]:
    """The fewest paths ``n`` (and pass count ``c``) of a fixed-size test of ``p0`` against ``p1``
    with both errors at most ``alpha``: P(X > c | p0) <= alpha and P(X <= c | p1) <= alpha."""
    c = 0
    for n in range(1, limit + 1):
        while _binom_cdf(c, n, p0) < 1 - alpha:      # the smallest c with P(X <= c | p0) >= 1 - alpha
            c += 1
        if _binom_cdf(c, n, p1) <= alpha:
            return n, c
    raise ScenarioError(f"fixed_sample: no fixed-size test within {limit} paths")


def rate_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Clopper-Pearson (exact binomial) two-sided interval of a rate from ``successes`` of
    ``trials`` (C. J. Clopper, E. S. Pearson, Biometrika 26(4), 1934, 404-413). After a
    sequential test stopped, it is the fixed-sample interval of the paths that ran (the
    stopping rule makes it approximate)."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ScenarioError(f"rate_interval: {successes} of {trials}; expected 0 <= successes <= trials")
    if not 0 < confidence < 1:
        raise ScenarioError(f"rate_interval: confidence = {confidence!r}; expected a probability in (0, 1)")
    if trials == 0:
        return 0.0, 1.0
    tail = (1 - confidence) / 2
    if successes == 0:     # the beta quantile in closed form: a passing verdict needs no scipy
        return 0.0, 1.0 - tail ** (1.0 / trials)
    if successes == trials:
        return tail ** (1.0 / trials), 1.0
    from scipy.special import betaincinv   # lazy: scipy.special only for a bound; beta.ppf(q, a, b)

    lo = float(betaincinv(successes, trials - successes + 1, tail))
    hi = float(betaincinv(successes + 1, trials - successes, 1 - tail))
    return lo, hi


def quantile_bounds(values: np.ndarray, q: float, confidence: float = 0.95) -> tuple[float, float]:
    """One-sided distribution-free confidence bounds for the ``q`` quantile of the distribution
    the ``values`` were drawn from (i.i.d.), from their order statistics: ``(lower,
    upper)`` with P(lower <= true quantile) >= confidence and P(upper >= true quantile) >=
    confidence. The ``k``-th smallest of ``n`` lies at or above the quantile with probability
    P(Binomial(n, q) <= k - 1) (H. A. David, H. N. Nagaraja, *Order Statistics*, 3rd ed., 2003,
    section 7.1). With too few values for a bound the answer is -inf or +inf (an assertion on it
    then fails, as it should: the paths cannot support the claim). NaN values (failed paths, None
    metrics) are left out; infinite ones are values like any other (a profit factor of inf)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = np.sort(x[~np.isnan(x)])
    n = len(x)
    if not 0 < q < 1:
        raise ScenarioError(f"quantile_bounds: q = {q!r}; expected a quantile in (0, 1), such as 0.95")
    if not 0.5 < confidence < 1:
        raise ScenarioError(f"quantile_bounds: confidence = {confidence!r}; expected a probability in (0.5, 1)")
    if n == 0:
        return -math.inf, math.inf
    from scipy.special import bdtr   # lazy: scipy.special only for a bound (bdtr is the binomial cdf)

    k = np.arange(1, n + 1)
    at_or_above = bdtr(k - 1, n, q)              # P(X_(k) >= quantile)
    ok_hi = np.flatnonzero(at_or_above >= confidence)
    ok_lo = np.flatnonzero(1 - at_or_above >= confidence)   # P(X_(k) <= quantile) = P(Bin >= k)
    upper = float(x[ok_hi[0]]) if len(ok_hi) else math.inf
    lower = float(x[ok_lo[-1]]) if len(ok_lo) else -math.inf
    return lower, upper


#: The rule a stress test uses unless told otherwise.
DEFAULT_RULE = VerdictRule()


# =============================================================================================
# One-sided bounds for assertions on a PathsResult, and the shift between two sets of paths
# (the baseline comparison). Everything below is distribution-free: it assumes only that a set's
# paths are independent draws from one distribution (their seeds are), nothing about its shape.
# =============================================================================================

def check_confidence(where: str, confidence: object) -> float:
    """``confidence`` as a float in (0.5, 1), or an error naming ``where`` and the value."""
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.integer, np.floating)) \
            or not 0.5 < float(confidence) < 1:
        raise ScenarioError(f"{where}: confidence = {confidence!r}; expected a probability in (0.5, 1), such as "
                            "0.95 (the claim holds with probability at least 95%)")
    return float(confidence)


def rate_bound(successes: int, trials: int, confidence: float = 0.95, upper: bool = True) -> float:
    """The one-sided Clopper-Pearson bound of a rate at ``confidence``: the upper (or lower) end of
    the two-sided interval at ``2 * confidence - 1`` (``rate_interval``; Clopper and Pearson 1934),
    so P(true rate <= upper bound) >= confidence. 0 of 59 trials bounds the rate below 5% at 95%."""
    check_confidence("rate_bound", confidence)
    lo, hi = rate_interval(successes, trials, 2 * confidence - 1)
    return hi if upper else lo


def quantile_bound_min_values(q: float, confidence: float = 0.95, upper: bool = True) -> int:
    """The fewest values for which ``quantile_bounds`` gives a finite upper (or lower) bound of the
    ``q`` quantile: the largest of ``n`` lies above the quantile with probability ``1 - q**n``
    (the smallest below it with ``1 - (1-q)**n``; David and Nagaraja 2003, section 7.1), so
    ``n >= log(1 - confidence) / log(q)``: 59 values for the p95 at 95%, 299 for the p99."""
    if not 0 < q < 1:
        raise ScenarioError(f"quantile_bound_min_values: q = {q!r}; expected a quantile in (0, 1), such as 0.95")
    conf = check_confidence("quantile_bound_min_values", confidence)
    p = q if upper else 1 - q
    n = max(1, math.ceil(math.log1p(-conf) / math.log(p)) - 1)
    while 1 - p ** n < conf:      # the closed form, made exact against rounding
        n += 1
    return n


@dataclass(frozen=True)
class Shift:
    """The shift of ``current`` against ``baseline`` (``current - baseline``, in the metric's units):
    the Hodges-Lehmann ``estimate`` and the confidence interval ``[low, high]`` (infinite when too
    few values for one); ``sizes``: (baseline values, current values); ``exact``: from the exact
    null distribution of the Mann-Whitney statistic (else its normal approximation)."""

    estimate: float
    low: float
    high: float
    confidence: float
    sizes: tuple[int, int]
    exact: bool

    @property
    def bounded(self) -> bool:
        """Whether the values were enough for a finite interval."""
        return math.isfinite(self.low) and math.isfinite(self.high)


#: Up to this many pairwise differences the interval sorts them in memory (32 MB); beyond, their
#: order statistics are found by bisection on counts (``_kth_difference``).
_PAIRS_IN_MEMORY = 1 << 22

#: The Mann-Whitney null distribution is computed exactly when the smaller set has at most this
#: many values (and the product of the sizes is at most a million): there its float computation
#: is exact to about 1e-13 (checked against whole-number arithmetic in tests/test_verdict.py);
#: beyond, its normal approximation, which there is within a rank or two of the exact one and
#: errs on the wide side.
_EXACT_SMALLER = 50


def _mann_whitney_counts(m: int, n: int) -> np.ndarray:
    """The number of arrangements of ``m`` and ``n`` values with each Mann-Whitney count U =
    0..mn (no ties), as floats: the coefficients of the Gaussian binomial coefficient
    prod_{i=1..n} (1 - x^(m+i)) / (1 - x^i) (G. E. Andrews, *The Theory of Partitions*, 1976,
    theorem 3.1), built one factor at a time; after factor i the polynomial has degree m i and
    nothing above it is computed (where rounding would otherwise grow)."""
    if n > m:
        m, n = n, m
    poly = np.zeros(m * n + 1)
    poly[0] = 1.0
    for i in range(1, n + 1):
        top = m * i + 1
        part = poly[:top].copy()
        part[m + i:] -= poly[:top - (m + i)]                      # times (1 - x^(m+i))
        for r in range(i):                                        # divided by (1 - x^i): a strided running sum
            np.cumsum(part[r::i], out=part[r::i])
        poly[:top] = part
    return poly


def shift_min_values(confidence: float = 0.95) -> int:
    """The fewest values on each side (equal sizes) for which ``shift_interval`` is finite: 4 at
    95% (the most extreme arrangement of 4 and 4 values has probability 1/70 < 2.5%)."""
    conf = check_confidence("shift_min_values", confidence)
    n = 1
    while math.comb(2 * n, n) * (1 - conf) / 2 < 1:
        n += 1
    return n


@lru_cache(maxsize=256)
def _interval_rank(m: int, n: int, confidence: float) -> tuple[int, bool]:
    """``(c, exact)``: the interval of the shift is the c-th smallest to the c-th largest of the
    ``m * n`` pairwise differences, where ``c - 1`` is the largest u with P(U <= u) <= (1 -
    confidence) / 2 under no shift (c = 0: no finite interval). Exact up to ``_EXACT_SMALLER``
    values on the smaller side; beyond, c = floor(mn/2 - z sqrt(mn(m+n+1)/12)) (Hollander, Wolfe
    and Chicken 2014, section 4.3, the large-sample approximation)."""
    tail = (1 - confidence) / 2
    if min(m, n) <= _EXACT_SMALLER and m * n <= 1_000_000:
        counts = _mann_whitney_counts(m, n)
        cdf = np.cumsum(counts) / math.comb(m + n, n)
        return int(np.count_nonzero(cdf <= tail * (1 + 1e-12))), True
    from scipy.special import ndtri   # lazy: scipy.special only for a bound (ndtri is the normal quantile)

    c = math.floor(m * n / 2 - ndtri(1 - tail) * math.sqrt(m * n * (m + n + 1) / 12))
    return max(c, 0), False


def _kth_difference(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """The ``k``-th smallest (1-based) of the differences ``y[j] - x[i]`` of sorted ``x`` and ``y``
    without making them: bisection on t, counting the differences <= t with a binary search per
    ``x`` value, down to adjacent floats."""
    def count(t: float) -> int:
        return int(np.searchsorted(y, x + t, side="right").sum())

    lo, hi = float(y[0] - x[-1]), float(y[-1] - x[0])
    if count(lo) >= k:
        return lo
    for _ in range(2200):                 # enough for any pair of doubles
        mid = lo + (hi - lo) / 2
        if not lo < mid < hi:
            break
        if count(mid) >= k:
            hi = mid
        else:
            lo = mid
    return hi


def shift_interval(baseline: np.ndarray, current: np.ndarray, confidence: float = 0.95) -> Shift:
    """The shift of ``current`` against ``baseline``: the Hodges-Lehmann estimator (the median of
    the ``m * n`` differences ``current[j] - baseline[i]``) and the distribution-free confidence
    interval from the Mann-Whitney statistic, the c-th smallest to the c-th largest of those
    differences (J. L. Hodges, E. L. Lehmann, Ann. Math. Statist. 34(2), 1963, 598-611;
    M. Hollander, D. A. Wolfe, E. Chicken, *Nonparametric Statistical Methods*, 3rd ed., 2014,
    section 4.3; ``_interval_rank``). It covers the true shift with probability at least
    ``confidence`` when the two sets are independent draws from distributions that differ by a
    shift; ties (whole-number metrics) make it approximate. Identical sets give the estimate 0
    and an interval symmetric about 0. Values must be finite (leave out failed paths first)."""
    conf = check_confidence("shift_interval", confidence)
    x = np.sort(np.asarray(baseline, dtype=np.float64).ravel())
    y = np.sort(np.asarray(current, dtype=np.float64).ravel())
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ScenarioError("shift_interval: the values hold inf or NaN; expected finite numbers (leave out failed "
                            "paths and None metrics first)")
    m, n = len(x), len(y)
    if m == 0 or n == 0:
        raise ScenarioError(f"shift_interval: {m} baseline and {n} current values; expected at least one on each side")
    c, exact = _interval_rank(m, n, conf)
    total = m * n
    if total <= _PAIRS_IN_MEMORY:
        d = (y[None, :] - x[:, None]).ravel()
        ranks = sorted({(total - 1) // 2, total // 2} | ({c - 1, total - c} if c >= 1 else set()))
        d.partition(ranks)
        kth = lambda k: float(d[k - 1])   # noqa: E731
    else:
        kth = lambda k: _kth_difference(x, y, k)   # noqa: E731
    estimate = (kth((total + 1) // 2) + kth(total // 2 + 1)) / 2
    if c < 1:
        return Shift(estimate, -math.inf, math.inf, conf, (m, n), exact)
    return Shift(estimate, kth(c), kth(total + 1 - c), conf, (m, n), exact)
