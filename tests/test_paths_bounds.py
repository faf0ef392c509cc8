"""Assertions about a scenario, not its paths: PathsResult's confidence bounds on a percentile
(order statistics) and on a share of paths (Clopper-Pearson), checked for coverage on synthetic
path tables whose true distribution is known, and their edge cases and errors."""
import math
import pickle

import numpy as np
import pytest

from pytest_stress import library
from pytest_stress.errors import ScenarioError
from pytest_stress.result.metrics import METRIC_FIELDS
from pytest_stress.result.paths import Bound, PathsResult, PathTable

SC = library.get("BTC Flash Crash 2021", bars=200)
COL = {m: j for j, m in enumerate(METRIC_FIELDS)}


def synthetic(**columns: np.ndarray) -> PathsResult:
    """A PathsResult whose paths hold the given metric columns (NaN: a failed path), zeros elsewhere."""
    n = len(next(iter(columns.values())))
    table = PathTable.empty(n)
    table.seeds[:] = np.arange(n)
    table.values[:] = 0.0
    table.success[:] = True
    for name, col in columns.items():
        table.values[:, COL[name]] = col
    failed = np.isnan(table.values).any(axis=1)
    table.success[failed] = False
    table.values[failed] = np.nan
    table.errors.update({int(i): "failed" for i in np.flatnonzero(failed)})
    return PathsResult(SC, table=table)


def test_percentile_bounds_cover_the_true_percentile_on_the_worse_side():
    rng = np.random.default_rng(11)
    reps, n = 300, 100
    dd_true = 5.0 * -math.log(1 - 0.95)                    # p95 of an exponential drawdown, mean 5
    ret_true = -2.0 + 4.0 * -1.6448536269514722            # p5 of a normal return, mean -2, sd 4
    dd_cover = ret_cover = 0
    for _ in range(reps):
        r = synthetic(max_drawdown=rng.exponential(5.0, n), total_return_pct=rng.normal(-2.0, 4.0, n))
        dd = r.percentile_bound("max_drawdown", 95)        # higher is worse: an upper bound
        ret = r.percentile_bound("total_return_pct", 5)    # lower is worse: a lower bound
        assert dd.side == "upper" and ret.side == "lower"
        assert dd >= r.percentile("max_drawdown", 95) and ret <= r.percentile("total_return_pct", 5)
        dd_cover += dd >= dd_true
        ret_cover += ret <= ret_true
    floor = 0.95 - 3 * math.sqrt(0.95 * 0.05 / reps)
    assert dd_cover / reps >= floor and ret_cover / reps >= floor


def test_the_bound_is_a_float_that_says_what_it_bounds():
    r = synthetic(max_drawdown=np.arange(1.0, 201.0))
    b = r.percentile_bound("max_drawdown", 95)
    assert isinstance(b, float) and isinstance(b, Bound)
    assert float(b) == 196.0                                # the 196th of 200 values
    assert str(b) == "196.0" and f"{b:.1f}" == "196.0" and b + 1 == 197.0
    assert repr(b) == ("<upper 95% confidence bound on the p95 of max_drawdown: 196 (point estimate 190.05; "
                       "200 paths)>")
    assert pickle.loads(pickle.dumps(b)) == b and repr(pickle.loads(pickle.dumps(b))) == repr(b)
    lower = r.percentile_bound("max_drawdown", 95, side="lower", confidence=0.9)
    assert lower.side == "lower" and lower < r.percentile("max_drawdown", 95) < b


def test_too_few_paths_bound_nothing_and_say_how_many_it_takes():
    r = synthetic(max_drawdown=np.linspace(1, 10, 50))
    b = r.percentile_bound("max_drawdown", 95)
    assert b == math.inf and not b < 20
    assert "50 paths are too few to bound it (it takes at least 59)" in repr(b)
    assert r.percentile_bound("total_return_pct", 1) == -math.inf
    assert "it takes at least 299" in repr(r.percentile_bound("total_return_pct", 1))
    assert synthetic(max_drawdown=np.linspace(1, 10, 59)).percentile_bound("max_drawdown", 95) == 10.0


def test_failed_paths_and_none_metrics_are_left_out_and_counted():
    col = np.r_[np.arange(1.0, 100.0), np.nan]
    r = synthetic(max_drawdown=col)
    b = r.percentile_bound("max_drawdown", 50)
    assert "99 paths of 100 have a value" in repr(b)
    assert b == synthetic(max_drawdown=col[:-1]).percentile_bound("max_drawdown", 50)


def test_a_metric_with_no_direction_needs_a_side():
    r = synthetic(emergency_stops=np.arange(100.0) % 3)
    with pytest.raises(ScenarioError, match="emergency_stops has no worse direction; say which bound: side='upper'"):
        r.percentile_bound("emergency_stops", 90)
    assert r.percentile_bound("emergency_stops", 90, side="upper") == 2.0


@pytest.mark.parametrize("call, words", [
    (lambda r: r.percentile_bound("max_drawdwn", 95),
     "percentile_bound('max_drawdwn', 95): unknown metric 'max_drawdwn'; did you mean 'max_drawdown'"),
    (lambda r: r.percentile_bound("max_drawdown", 0), "percentile_bound('max_drawdown', 0): q = 0; expected a "
                                                       "percentile strictly between 0 and 100, such as 95"),
    (lambda r: r.percentile_bound("max_drawdown", 100), "q = 100; expected a percentile strictly between 0 and 100"),
    (lambda r: r.percentile_bound("max_drawdown", 0.95 * -1), "q = -0.95; expected a percentile"),
    (lambda r: r.percentile_bound("max_drawdown", "95"), "q = '95'; expected a percentile"),
    (lambda r: r.percentile_bound("max_drawdown", 95, confidence=0.5),
     "percentile_bound('max_drawdown', 95): confidence = 0.5; expected a probability in (0.5, 1), such as 0.95"),
    (lambda r: r.percentile_bound("max_drawdown", 95, confidence=95), "confidence = 95; expected a probability"),
    (lambda r: r.percentile_bound("max_drawdown", 95, side="up"),
     "unknown side 'up'; did you mean 'upper'? Valid: 'upper', 'lower'"),
    (lambda r: r.fraction_bound(lambda p: True, confidence=1.0),
     "fraction_bound: confidence = 1.0; expected a probability in (0.5, 1)"),
    (lambda r: r.fraction_bound(lambda p: True, side="hi"), "fraction_bound: unknown side 'hi'"),
    (lambda r: r.fraction_interval(lambda p: True, confidence=0.2),
     "fraction_interval: confidence = 0.2; expected a probability in (0.5, 1)"),
])
def test_bad_input_is_named(call, words):
    r = synthetic(max_drawdown=np.arange(10.0))
    with pytest.raises(ScenarioError) as info:
        call(r)
    assert words in str(info.value)


def test_fraction_bounds_cover_the_true_share():
    rng = np.random.default_rng(7)
    reps, n, p = 300, 150, 0.04
    up = both = 0
    for _ in range(reps):
        r = synthetic(emergency_stops=(rng.random(n) < p).astype(float))
        stops = lambda row: row.emergency_stops > 0   # noqa: E731
        lo, hi = r.fraction_interval(stops)
        b = r.fraction_bound(stops)
        assert lo <= r.fraction(stops) <= hi and b < hi          # one-sided at 95% is tighter than two-sided
        up += p <= b
        both += lo <= p <= hi
    floor = 0.95 - 3 * math.sqrt(0.95 * 0.05 / reps)
    assert up / reps >= floor and both / reps >= floor


def test_fraction_bound_edge_cases():
    r = synthetic(max_drawdown=np.r_[np.ones(200), np.nan])            # 200 successful paths, 1 failed
    none = r.fraction_bound(lambda row: row.max_drawdown > 5)
    assert math.isclose(none, 1 - 0.05 ** (1 / 200))                   # 0 of 200: 1.5%
    assert repr(none).startswith("<upper 95% confidence bound on the share of paths where the predicate holds: "
                                 "0.014867 (point estimate 0; 0 of 200 successful paths)>")
    assert r.fraction_bound(lambda row: True, side="lower") == 0.05 ** (1 / 200)
    assert r.fraction_interval(lambda row: False) == (0.0, pytest.approx(1 - 0.025 ** (1 / 200)))

    def deep(row):
        return row.max_drawdown > 0

    assert "the share of paths where deep(row) holds" in repr(r.fraction_bound(deep))
    failed = synthetic(max_drawdown=np.full(3, np.nan))
    assert failed.fraction_bound(deep) == 1.0 and "no successful path to count" in repr(failed.fraction_bound(deep))
    assert failed.fraction_interval(deep) == (0.0, 1.0)
