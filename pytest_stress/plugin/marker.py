"""``@stress(*scenarios, **overrides)``: which scenarios a test runs, and how.

The marker parametrises the test over its scenarios (all library scenarios when none is
named) with shell-friendly ids such as ``test_x[black-swan-combo]``, identical and in the
same order on every xdist worker: only names and ids are computed at collection.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import ScenarioError, close_matches, is_integer, is_number
from ..account.rules import account_from
from ..exchange.config import ExchangeConfig, preset
from .options import VERDICT_MODES, check_rule_value

if TYPE_CHECKING:   # the library (numpy, the market) is imported once a @stress test is collected
    from ..scenario.definition import Scenario

__all__ = ["stress", "StressSpec", "OVERRIDES"]

#: Keyword arguments the marker accepts, and what they do.
OVERRIDES: dict[str, str] = {
    "bars": "bar count of every scenario",
    "seed": "seed of every scenario",
    "symbols": "symbols of every scenario",
    "timeframe": "bar length of every scenario",
    "initial_equity": "starting equity",
    "parameters": "parameter overrides, merged into each scenario's parameters",
    "data": "your own base market (DataFrames, a path or a historical source)",
    "repair": "what to do with invalid data: 'drop' bad rows or 'fill' them (default: fail with the report)",
    "paths": "Monte Carlo: run each scenario on this many seeded market paths",
    "exchange": "an exchange preset name or ExchangeConfig for this test",
    "account": "the account: Account.cash() / .margin(...) / .perpetual(...) or a preset name",
    "tolerance": "per-test compare-fail thresholds, e.g. {'max_drawdown': '5%'}",
    "record_errors": "record trader exceptions in component_errors instead of failing",
    "timeout": "time limit of each case in seconds (0: none), instead of --stress-timeout",
    "verdict": "'scenario' (default: decided over the scenario's paths) or 'seed' (one draw, a smoke run)",
    "pass_rate": "pass if the assertion fails on at most this share of paths (default 0.01)",
    "fail_rate": "fail if the assertion fails on at least this share of paths (default 0.10)",
    "confidence": "each wrong verdict at most 1 - confidence likely (default 0.95)",
    "max_paths": "at most this many paths (default 300)",
    "breaking_point": "True: search the severity at which the test body starts failing (a reverse stress test; "
                      "stress_result.breaking_point); a parameter name: search along that parameter",
    "search_range": "(low, high) of the breaking-point search: severities (default (0, 4)), or the parameter's values",
    "precision": "the breaking-point bracket's width at most (default 0.05 severity, or 1% of the parameter's range)",
}
#: The breaking-point search's knobs among the overrides.
_BREAKING_KEYS = ("breaking_point", "search_range", "precision")
#: The verdict rule's knobs among the overrides (``verdict.RULE_FIELDS``).
_RULE_KEYS = ("pass_rate", "fail_rate", "confidence", "max_paths")
_SCENARIO_FIELDS = ("bars", "seed", "symbols", "timeframe", "initial_equity", "parameters", "data", "repair")


def stress(*scenarios: str | Scenario, **overrides: Any) -> pytest.MarkDecorator:
    """Mark a test to run once per scenario: library names (none: every one) or ``Scenario`` objects.

    ``@stress("Black Swan Combo", "ETH Liquidity Collapse", bars=500, paths=50)``.
    """
    return pytest.mark.stress(*scenarios, **overrides)


@dataclass(frozen=True)
class StressSpec:
    """What one ``@stress`` marker asks for, validated."""

    scenarios: tuple[str | Scenario, ...]
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_marker(cls, mark: pytest.Mark) -> "StressSpec":
        from .. import library   # lazy: the scenario library, once a @stress test is collected
        from ..scenario.definition import Scenario   # lazy: as above
        from .compare import parse_threshold   # lazy: the metric table, as above

        unknown = [k for k in mark.kwargs if k not in OVERRIDES]
        if unknown:
            hints = {k: close_matches(k, OVERRIDES) for k in unknown}
            detail = "; ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items())
            raise ScenarioError(f"@stress: unknown keyword {detail}. Valid: {', '.join(OVERRIDES)}")
        items: list[str | Scenario] = []
        for arg in mark.args or tuple(library.names()):
            if isinstance(arg, Scenario):
                items.append(arg)
            elif isinstance(arg, str):
                items.append(library.get(arg).name)      # raises UnknownScenarioError with close matches
            else:
                raise ScenarioError(f"@stress: {arg!r} is neither a scenario name nor a Scenario")
        paths = mark.kwargs.get("paths")
        if paths is not None and (not is_integer(paths) or paths < 1):
            raise ScenarioError(f"@stress: paths = {paths!r}; expected an integer >= 1")
        acct = mark.kwargs.get("account")
        if acct is not None:
            account_from(acct)    # raises naming the preset and what is valid
        limit = mark.kwargs.get("timeout")
        if limit is not None and (not is_number(limit) or not limit >= 0 or limit == float("inf")):
            raise ScenarioError(f"@stress: timeout = {limit!r}; expected seconds (a finite number >= 0; 0: no limit)")
        record = mark.kwargs.get("record_errors")
        if record is not None and not isinstance(record, bool):    # 'no' is a true string: refused, not read as on
            raise ScenarioError(f"@stress: record_errors = {record!r}; expected True (record the trader's exceptions "
                                "in component_errors and go on) or False")
        exch = mark.kwargs.get("exchange")
        if exch is not None and not isinstance(exch, (str, ExchangeConfig)):
            raise ScenarioError(f"@stress: exchange = {exch!r}; expected a preset name or an ExchangeConfig")
        if isinstance(exch, str):
            preset(exch)          # raises naming the presets
        mode = mark.kwargs.get("verdict")
        if mode is not None and mode not in VERDICT_MODES:
            hint = close_matches(str(mode), VERDICT_MODES)
            raise ScenarioError(f"@stress: verdict = {mode!r}; expected 'scenario' (decide over the scenario's paths) "
                                "or 'seed' (one draw: a smoke run)" + (f"; did you mean {hint[0]!r}?" if hint else ""))
        knobs = [k for k in _RULE_KEYS if k in mark.kwargs]
        for knob in knobs:
            check_rule_value(knob, mark.kwargs[knob], f"@stress: {knob}")
        if paths is not None and (knobs or mode is not None):
            raise ScenarioError(f"@stress: paths = {paths} runs a fixed-size Monte Carlo (the test gets a PathsResult "
                                f"and decides itself); {', '.join(knobs + (['verdict'] if mode else []))} set the "
                                "sequential verdict over paths: use one or the other")
        _check_breaking(mark.kwargs, paths, mode)
        tolerance = mark.kwargs.get("tolerance")
        if tolerance is not None:
            if not isinstance(tolerance, Mapping):
                raise ScenarioError(f"@stress: tolerance = {tolerance!r}; expected a mapping such as "
                                    "{'max_drawdown': '5%'}")
            for metric_name, value in tolerance.items():
                parse_threshold(f"{metric_name}:{value}")      # raises naming the metric and close matches
        spec = cls(tuple(items), dict(mark.kwargs))
        for item in spec.scenarios:
            scenario = spec.scenario(item)   # every override is validated now, at collection, not when the case runs
            if spec.breaking:
                from ..severity import resolve_parameter   # lazy: as above

                if isinstance(spec.breaking, str):
                    resolve_parameter(scenario, spec.breaking)   # raises naming the parameters that scale
                else:
                    from ..severity import at_severity   # lazy: as above

                    at_severity(scenario, 1.0)    # raises for a scenario with no stress to scale
        return spec

    @property
    def breaking(self) -> bool | str:
        """``breaking_point``: False, True (search the severity) or a parameter's name."""
        return self.overrides.get("breaking_point") or False

    def mode(self, options: Any) -> str:
        """How this test decides: "paths" (``paths=N``: a fixed-size Monte Carlo the test judges),
        "breaking" (a reverse stress test: the verdict at level after level), "scenario" (the
        sequential verdict over the scenario's paths) or "seed" (one draw)."""
        if self.overrides.get("paths"):
            return "paths"
        if self.breaking:
            return "breaking"
        return self.overrides.get("verdict") or options.verdict

    def rule(self, options: Any) -> Any:
        """The ``VerdictRule`` of this test: the marker's knobs over the session's over the defaults."""
        from ..verdict import VerdictRule   # lazy: the statistics (numpy) once a case runs or is collected

        knobs = {**options.rule, **{k: self.overrides[k] for k in _RULE_KEYS if k in self.overrides}}
        return VerdictRule(**knobs)

    def ids(self) -> list[str]:
        from .. import library   # lazy: the scenario library, once a @stress test is collected
        from ..scenario.definition import Scenario   # lazy: as above

        seen: dict[str, int] = {}
        out = []
        for item in self.scenarios:
            base = library.slug(item.name if isinstance(item, Scenario) else item)
            seen[base] = seen.get(base, 0) + 1
            out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
        return out

    def scenario(self, item: str | Scenario, bars: int | None = None, seed: int | None = None,
                 data: Any = None) -> Scenario:
        """The scenario of one case: the marker's overrides, then the session's, then the base data
        (``data`` may be ``(data, repair_policy)``, as the ``stress_base_data`` fixture may return)."""
        from .. import library   # lazy: the scenario library, once a @stress test is collected
        from ..scenario.definition import Scenario   # lazy: as above

        base = item if isinstance(item, Scenario) else library.get(item)
        changes = {k: self.overrides[k] for k in _SCENARIO_FIELDS if k in self.overrides}
        if isinstance(data, tuple) and len(data) == 2 and (data[1] is None or isinstance(data[1], str)):
            data, repair = data
            changes.setdefault("repair", repair)
        if data is not None and "data" not in changes:
            changes["data"] = data
        if bars is not None:
            changes["bars"] = bars
        if seed is not None:
            changes["seed"] = seed
        return base.replace(**changes) if changes else base


def _check_breaking(kwargs: Mapping[str, Any], paths: Any, mode: Any) -> None:
    """The breaking-point knobs, each on its own (the parameter is checked against each scenario)."""
    bp = kwargs.get("breaking_point")
    if bp is not None and not (bp is True or bp is False or (isinstance(bp, str) and bp)):
        raise ScenarioError(f"@stress: breaking_point = {bp!r}; expected True (search the severity) or the name of "
                            "a parameter to search along, such as 'drop_pct'")
    given = [k for k in _BREAKING_KEYS[1:] if k in kwargs]
    if given and not bp:
        raise ScenarioError(f"@stress: {', '.join(given)} set a breaking-point search; add breaking_point=True "
                            "(or a parameter name)")
    if bp and paths is not None:
        raise ScenarioError("@stress: breaking_point searches with the sequential verdict at each level; paths = "
                            f"{paths} runs a fixed-size Monte Carlo: use one or the other")
    if bp and mode == "seed":
        raise ScenarioError("@stress: breaking_point decides each level over the scenario's paths; verdict = 'seed' "
                            "runs one draw: use one or the other")
    rng = kwargs.get("search_range")
    if rng is not None:
        ok = (isinstance(rng, (tuple, list)) and len(rng) == 2
              and all(is_number(v) and math.isfinite(v) for v in rng)
              and rng[0] != rng[1])
        if not ok:
            raise ScenarioError(f"@stress: search_range = {rng!r}; expected (low, high), two different finite numbers "
                                "(severities, or the parameter's values: low the mildest)")
    prec = kwargs.get("precision")
    if prec is not None and (not is_number(prec) or not math.isfinite(prec) or prec <= 0):
        raise ScenarioError(f"@stress: precision = {prec!r}; expected a number > 0 (the bracket's width at most)")
