"""Reverse stress tests: the mildest severity of a scenario (or value of one of its parameters) at
which a claim about the trading system fails on more paths than the verdict tolerates.

The search (``find_breaking_point``) bisects ``[low, high]``; each level is decided by the
verdict's sequential test (``runner.run_verdict``: PASS if the claim fails on at most
``pass_rate`` of paths, FAIL if on at least ``fail_rate``, each error at most 1 - confidence).
Every level runs on the same paths: path i has the same seed, so the same base market and the
same draws, at every level (common random numbers), and two levels differ by their stress, not
by their luck; that makes a path's failure nearly monotone in the severity, and the bisection
sharp. When the bracket (last pass, first fail) is at most ``precision`` wide, both ends are
decided again on an independent set of paths; an end that does not hold up moves the bracket
(a pass that fails moves it down, a fail that passes up) and the bisection goes on, at most
``CONFIRMATIONS`` times. The ends of the range are decided only when the bisection reaches
them. The answer is the same to the bit for a given seed, whatever runs the paths.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, cast

from .account.rules import Account
from .errors import ScenarioError
from .exchange.config import ExchangeConfig
from .parameters import Param
from .result.breaking import AT_LOW, FOUND, NEVER, UNFINISHED, BreakingPoint, Level
from .result.models import ScenarioResult
from .runner import Check, _resolve, run_scenario, run_verdict
from .scenario.definition import Scenario, derive_seed
from .severity import (at_severity, calm_value, limit_of, resolve_parameter, scalable_parameters,
                       value_severity)
from .verdict import DEFAULT_RULE, VerdictRule

__all__ = ["find_breaking_point", "search_breaking_point", "scenario_at", "run_where_it_held", "DEFAULT_HIGH",
           "DEFAULT_PRECISION", "CONFIRMATIONS"]

log = logging.getLogger("pytest_stress")

#: The default searched range of severity is [0, DEFAULT_HIGH]: up to four times the scenario.
DEFAULT_HIGH = 4.0
#: The default precision of a severity search (a parameter's: a hundredth of its range).
DEFAULT_PRECISION = 0.05
#: At most this many rounds of confirmation on independent paths.
CONFIRMATIONS = 3
#: The default budget of paths for one search.
DEFAULT_MAX_RUNS = 5000
#: Tags the seeds of the confirmation path sets apart from the main paths' (``derive_seed``).
_CONFIRM_TAG = 0x0B5E55ED


class _Axis:
    """What the search moves along: ``build(x)`` the scenario at level x, ``severity(x)`` and
    ``value(x)`` what it reports; ``direction`` +1 when a larger x is more severe, -1 when smaller."""

    def __init__(self, scenario: Scenario, parameter: str | None) -> None:
        self.scenario = scenario
        self.parameter = parameter
        self.direction = 1
        self.param: Param | None = None
        self.defined = math.nan
        self.base_correlation = float(scenario.parameters.get("base_correlation", 0.6))
        if parameter is not None:
            self.param, self.defined = scalable_parameters(scenario)[parameter]
            calm = calm_value(self.param, self.base_correlation)
            self.direction = -1 if self.defined < calm else 1

    def build(self, x: float) -> Scenario:
        if self.parameter is None:
            return at_severity(self.scenario, x)
        return Scenario.replace(self.scenario, name=f"{self.scenario.name} @ {self.parameter}={x:.6g}",
                                parameters={self.parameter: x})

    def severity(self, x: float) -> float | None:
        if self.param is None:
            return x
        return value_severity(self.param, self.defined, x, self.base_correlation)

    def value(self, x: float) -> float | None:
        return None if self.param is None else x

    def milder(self, a: float, b: float) -> bool:
        """Whether level ``a`` is milder than level ``b``."""
        return self.direction * (a - b) < 0

    def inside(self, x: float) -> float:
        """``x`` moved into the parameter's valid range (an exclusive bound by a hair)."""
        p = self.param
        if p is None:
            return x
        lo = -math.inf if p.low is None else p.low
        hi = math.inf if p.high is None else p.high
        x = min(max(x, lo), hi)
        if x == p.low and not p.low_inclusive:
            x = p.low + (hi - lo if math.isfinite(hi - lo) else 1.0) * 1e-9
        return x

    def default_range(self) -> tuple[float, float]:
        if self.param is None:
            return 0.0, DEFAULT_HIGH
        p = self.param
        calm = calm_value(p, self.base_correlation)
        if p.scale == "correlation":
            far = 1.0 if self.direction > 0 else -1.0
        else:
            far = limit_of(p, self.direction > 0)
        return self.inside(calm), self.inside(far)


class _BoolCheck:
    """A ``check(result)`` returning a bool, as the verdict's ``check(result, trader)``: False fails
    the path. A class, not a closure, so that it pickles for an executor when ``check`` does."""

    def __init__(self, check: Callable[[ScenarioResult], Any]) -> None:
        self.check = check

    def __call__(self, result: ScenarioResult, trader: Any) -> None:
        held = self.check(result)
        if held is not None and not held:
            raise AssertionError(f"check returned {held!r}")


def scenario_at(scenario: Scenario, x: float, parameter: str | None = None) -> Scenario:
    """The scenario a search evaluates at level ``x``: at severity ``x``, or with ``parameter``
    (its full name, ``severity.resolve_parameter``) set to ``x``. Path i is its seed's path i."""
    return _Axis(scenario, parameter).build(x)


def run_where_it_held(bp: BreakingPoint, scenario: Scenario, trader_factory: Callable[[], Any],
                      exchange: ExchangeConfig | str | None = None, *, account: Account | str | None = None,
                      record_errors: bool = False) -> tuple[ScenarioResult, Any]:
    """One run to show beside a breaking point, and its trader: the first path on which the claim
    held at the bracket's passing end (path 0 at its failing end when nothing passed)."""
    lo, hi = bp.bracket
    x = lo if lo is not None else hi
    if x is None:
        raise ScenarioError("run_where_it_held: the breaking point has no decided level")
    level = next(level for level in bp.levels if level.x == x and level.path_set == 0)
    path = next(i for i in range(level.paths + 1) if i not in level.failing) if lo is not None else 0
    sc = scenario_at(scenario, x, bp.parameter)
    trader = trader_factory()
    return run_scenario(sc.replace(seed=derive_seed(cast(int, sc.seed), path)), trader, exchange, account=account,
                        record_errors=record_errors), trader


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"find_breaking_point: {name} = {value!r}; expected a finite number")
    return float(value)


def search_breaking_point(scenario: Scenario | str, trader_factory: Callable[[], Any], check: Check, *,
                          parameter: str | None = None, low: float | None = None, high: float | None = None,
                          precision: float | None = None, exchange: ExchangeConfig | str | None = None,
                          account: Account | str | None = None, rule: VerdictRule | None = None,
                          record_errors: bool = False, workers: int | str | None = None,
                          executor: Executor | None = None, max_runs: int = DEFAULT_MAX_RUNS,
                          on_level: Callable[[Level], None] | None = None) -> BreakingPoint:
    """``find_breaking_point`` with a check of the verdict's form: ``check(result, trader)``
    raises ``AssertionError`` where the claim does not hold (the pytest plugin's test body)."""
    scenario = _resolve(scenario)
    rule = rule if rule is not None else DEFAULT_RULE
    full = resolve_parameter(scenario, parameter) if parameter is not None else None
    if full is None:
        at_severity(scenario, 1.0)          # raises for a scenario with no stress to scale
    axis = _Axis(scenario, full)
    lo_default, hi_default = axis.default_range()
    low = axis.inside(_number("low", low)) if low is not None else lo_default
    high = axis.inside(_number("high", high)) if high is not None else hi_default
    if full is None and low < 0:
        raise ScenarioError(f"find_breaking_point: low = {low!r}; a severity is >= 0 (0: the calm market)")
    if low == high:
        raise ScenarioError(f"find_breaking_point: low = high = {low!r}; expected a range to search")
    if full is None and low > high:
        raise ScenarioError(f"find_breaking_point: low = {low!r} > high = {high!r}; expected low < high")
    axis.direction = 1 if high > low else -1     # low is the mildest level searched, high the harshest
    width = abs(high - low)
    precision = _number("precision", precision) if precision is not None else (
        DEFAULT_PRECISION if full is None else width / 100)
    if not precision > 0:
        raise ScenarioError(f"find_breaking_point: precision = {precision!r}; expected a number > 0")
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise ScenarioError(f"find_breaking_point: max_runs = {max_runs!r}; expected a whole number >= 1")

    levels: list[Level] = []
    decided: dict[tuple[float, int], Level] = {}

    def evaluate(x: float, path_set: int = 0) -> Level:
        key = (x, path_set)
        if key in decided:
            return decided[key]
        sc = axis.build(x)
        if path_set:
            sc = sc.replace(seed=derive_seed(cast(int, scenario.seed), _CONFIRM_TAG, path_set))
        v = run_verdict(sc, trader_factory, check, exchange, rule=rule, account=account,
                        record_errors=record_errors, workers=workers, executor=executor)
        level = Level(x, axis.severity(x), axis.value(x), v.verdict, v.paths, v.failures, path_set,
                      tuple(f.path for f in v.failing))
        log.info("breaking point of %r: %s %.6g -> %s (%d of %d paths failed)", scenario.name, axis.parameter
                 or "severity", x, v.verdict, v.failures, v.paths)
        decided[key] = level
        levels.append(level)
        if on_level is not None:
            on_level(level)
        return level

    def runs() -> int:
        return sum(level.paths for level in levels)

    def answer(status: str, lo: float | None, hi: float | None, notes: tuple[str, ...] = ()) -> BreakingPoint:
        at = high if status == NEVER else hi      # never broke: the high end, a lower bound (it held there)
        return BreakingPoint(status=status, parameter=full, severity=None if at is None else axis.severity(at),
                             value=None if at is None else axis.value(at), bracket=(lo, hi),
                             scenario=None if hi is None else axis.build(hi), levels=tuple(levels), rule=rule,
                             low=low, high=high, precision=precision, base=scenario.name,
                             defined=1.0 if full is None else axis.defined, notes=notes)

    lo, hi = low, high
    lo_known = hi_known = False         # whether lo passed / hi failed on the main paths
    notes: list[str] = []
    for round_ in range(CONFIRMATIONS + 1):
        while abs(hi - lo) > precision:
            if runs() >= max_runs:
                return answer(UNFINISHED, lo if lo_known else None, hi if hi_known else None,
                              (f"stopped after {runs()} paths (max_runs={max_runs})",))
            mid = lo + (hi - lo) / 2
            if evaluate(mid).passed:
                lo, lo_known = mid, True
            else:
                hi, hi_known = mid, True
        if not hi_known:
            if evaluate(hi).passed:
                return answer(NEVER, hi, None)
            hi_known = True
        if not lo_known:
            if not evaluate(lo).passed:
                return answer(AT_LOW, None, lo)
            lo_known = True
        if round_ == CONFIRMATIONS:
            notes.append(f"the bracket's ends were still moving after {CONFIRMATIONS} rounds of confirmation on "
                         "independent paths: the failure rate rises slowly through the verdict's indifference zone "
                         "here; the bracket is the last one found")
            break
        confirm_lo = evaluate(lo, round_ + 1)
        confirm_hi = evaluate(hi, round_ + 1)
        if confirm_lo.passed and not confirm_hi.passed:
            break
        main = [level for level in levels if level.path_set == 0]
        if not confirm_lo.passed:      # the pass at lo did not hold: the break is at or below lo
            milder = [level.x for level in main if level.passed and axis.milder(level.x, lo)]
            hi, hi_known = lo, True
            lo = max(milder, key=lambda x: axis.direction * x) if milder else low
            lo_known = bool(milder)
        else:                          # the fail at hi did not hold: the break is above hi
            harsher = [level.x for level in main if not level.passed and axis.milder(hi, level.x)]
            lo, lo_known = hi, True
            hi = min(harsher, key=lambda x: axis.direction * x) if harsher else high
            hi_known = bool(harsher)
    return answer(FOUND, lo, hi, tuple(notes))


def find_breaking_point(scenario: Scenario | str, trader_factory: Callable[[], Any],
                        check: Callable[[ScenarioResult], Any], *, parameter: str | None = None,
                        low: float | None = None, high: float | None = None, precision: float | None = None,
                        exchange: ExchangeConfig | str | None = None, account: Account | str | None = None,
                        rule: VerdictRule | None = None, record_errors: bool = False,
                        workers: int | str | None = None, executor: Executor | None = None,
                        max_runs: int = DEFAULT_MAX_RUNS, on_level: Callable[[Level], None] | None = None
                        ) -> BreakingPoint:
    """A reverse stress test: the mildest severity of ``scenario`` (a ``Scenario`` or a library
    name) at which ``check`` fails on more of its paths than the verdict tolerates.

    ``check(result)`` takes a path's ``ScenarioResult`` and returns a bool (False: the claim
    fails on that path) or raises ``AssertionError``. Severity (``severity.py``, docs/severity.md)
    is 1 for the scenario as defined and 0 for its calm market; the default range is
    [0, ``DEFAULT_HIGH``] with ``precision`` 0.05. With ``parameter`` ('drop_pct',
    'spread_mult', 'execution_failure_rate', ...) the search moves that one parameter instead,
    ``low``, ``high`` and ``precision`` in its units (default: from its calm value to its limit,
    a hundredth of that). ``rule`` decides each level (default: the verdict's, ``VerdictRule()``);
    paths run as ``runner.run_verdict`` runs them (``workers``, ``executor``); ``max_runs``
    bounds the paths of the whole search; ``on_level(level)`` is called as each level is decided
    (a progress display). Module docstring: how the search copes with noise.
    """
    if not callable(check):
        raise ScenarioError(f"check = {check!r}; expected a callable taking a ScenarioResult and returning a bool "
                            "(or raising AssertionError)")

    return search_breaking_point(scenario, trader_factory, _BoolCheck(check), parameter=parameter, low=low, high=high,
                                 precision=precision, exchange=exchange, account=account, rule=rule,
                                 record_errors=record_errors, workers=workers, executor=executor, max_runs=max_runs,
                                 on_level=on_level)
