"""The severity axis: one number s >= 0 that scales a scenario's stress (``docs/severity.md``).

s = 1 is the scenario as defined, s = 0 its calm base market with no faults, and every
stress grows monotonically with s. Each parameter declares how it scales (``Param.scale``):

- ``"share"``, a share with a hard limit L (the parameter's upper bound: a crash's drop below
  100%, a failure rate below 1): ``L * (1 - (1 - v / L) ** s)``. 0 at s = 0, v at s = 1, and
  L is approached smoothly, never reached (a 30% drop: 51% at s = 2, 66% at s = 3).
- ``"factor"``, a multiple of calm (spreads, volatility, latency, volume, noise): ``v ** s``,
  the log of the multiple scales with s; clipped to the parameter's range.
- ``"growth"``, a price change (a trend, a pump): the log price change scales with s,
  ``(1 + v) ** s - 1``; a fall approaches its bound as a share does.
- ``"correlation"``: the target correlation moves from the base correlation (the calm
  market's) towards the limit it points at (-1 or 1) as a share does.
- None: the parameter stays as given at every severity (durations, starts, shapes, modes):
  a window stays where the scenario puts it, and a crash gets faster (per bar) as it deepens.

For a mixed scenario every component present scales together; a component's parameters the
scenario leaves at their defaults scale from those defaults. The base market's parameters
never scale: every severity runs on the same base market, path for path.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from .errors import ScenarioError, close_matches
from .parameters import Param, split_prefixed
from .scenario.definition import Scenario
from .scenario.kinds import BASE_PARAMS, MIXED_COMPONENTS, kind_of
from .scenario.types import ScenarioType

__all__ = ["at_severity", "limit_of", "scaled_parameters", "scalable_parameters", "resolve_parameter", "scale_value",
           "value_severity", "calm_value", "SCALES"]

#: How a parameter can scale with severity (module docstring).
SCALES = ("share", "factor", "growth", "correlation")
#: Kinds without a stress of their own: nothing to scale.
_CALM_KINDS = (ScenarioType.SYNTHETIC, ScenarioType.HISTORICAL_REPLAY)
_DEFAULT_BASE_CORRELATION = BASE_PARAMS["base_correlation"].default


def _toward(limit: float, start: float, value: float, s: float) -> float:
    """From ``start`` (s = 0) through ``value`` (s = 1) towards ``limit``, approached smoothly."""
    span = limit - start
    if span == 0:
        return start
    share = (value - start) / span      # in [0, 1] when value lies between start and limit
    if share >= 1.0:
        return limit if s > 0 else start
    return start + span * (1.0 - (1.0 - share) ** s)


def _clip(p: Param, v: float) -> float:
    lo = -math.inf if p.low is None else p.low
    hi = math.inf if p.high is None else p.high
    return min(max(v, lo), hi)


def calm_value(p: Param, base_correlation: float = _DEFAULT_BASE_CORRELATION) -> float:
    """The parameter's value at severity 0 (no stress of its kind)."""
    if p.scale == "correlation":
        return base_correlation
    return {"share": 0.0, "factor": 1.0, "growth": 0.0}[str(p.scale)]


def limit_of(p: Param, upper: bool) -> float:
    """The parameter's upper (or lower) bound, which a share or a fall approaches."""
    bound = p.high if upper else p.low
    if bound is None:
        raise ScenarioError(f"parameter {p.name!r} scales as a {p.scale} but has no {'upper' if upper else 'lower'} "
                            "bound to approach")
    return bound


def scale_value(p: Param, value: float, s: float, base_correlation: float = _DEFAULT_BASE_CORRELATION) -> float:
    """The parameter ``p``, ``value`` as defined (s = 1), at severity ``s`` (module docstring)."""
    if p.scale == "share":
        return _clip(p, _toward(limit_of(p, True), 0.0, value, s))
    if p.scale == "factor":
        return _clip(p, value ** s)
    if p.scale == "growth":
        if value < 0:
            return _clip(p, _toward(limit_of(p, False), 0.0, value, s))
        return _clip(p, (1.0 + value) ** s - 1.0)
    if p.scale == "correlation":
        limit = -1.0 if value < base_correlation else 1.0
        return _clip(p, _toward(limit, base_correlation, value, s))
    raise ScenarioError(f"parameter {p.name!r} has no severity scale (scale = {p.scale!r}; expected one of {SCALES})")


def value_severity(p: Param, defined: float, value: float,
                   base_correlation: float = _DEFAULT_BASE_CORRELATION) -> float | None:
    """The severity at which ``p`` (``defined`` at s = 1) takes ``value``: the inverse of
    ``scale_value``; None where it has no inverse (the definition is the calm value, or a clip)."""
    try:
        if p.scale == "factor":
            return math.log(value) / math.log(defined)
        if p.scale == "growth" and defined >= 0:
            return math.log1p(value) / math.log1p(defined)
        if p.scale == "share" or p.scale == "growth":
            limit = limit_of(p, p.scale == "share")
            return math.log(1.0 - value / limit) / math.log(1.0 - defined / limit)
        if p.scale == "correlation":
            limit = -1.0 if defined < base_correlation else 1.0
            span = limit - base_correlation
            return (math.log(1.0 - (value - base_correlation) / span)
                    / math.log(1.0 - (defined - base_correlation) / span))
    except (ValueError, ZeroDivisionError):
        return None
    return None


def _groups(scenario: Scenario) -> list[tuple[str, Any, dict[str, Any]]]:
    """``(prefix, ParamSet, values with defaults filled in)`` of each stress the scenario runs."""
    own = scenario.own_parameters()
    kind = kind_of(scenario.type)
    if scenario.type is ScenarioType.MIXED_CUSTOM:
        split = split_prefixed(own, MIXED_COMPONENTS)
        return [(prefix, ps, {**ps.defaults(), **split[prefix]}) for prefix, ps in MIXED_COMPONENTS if prefix in split]
    return [("", kind.params, {**kind.params.defaults(), **own})]


def scalable_parameters(scenario: Scenario) -> dict[str, tuple[Param, float]]:
    """Every parameter of ``scenario`` that scales with severity, by its name in the scenario's
    ``parameters`` (prefixed in a mixed scenario): ``(its Param, its value at s = 1)``."""
    out = {}
    for prefix, ps, values in _groups(scenario):
        for name, full in ps.full_names(prefix):
            p = ps[name]
            if p.scale is not None and values.get(name) is not None:
                out[full] = (dataclasses.replace(p, name=full), float(values[name]))
    return out


def _check_scalable(scenario: Scenario) -> None:
    if scenario.type in _CALM_KINDS:
        raise ScenarioError(f"Scenario {scenario.name!r} ({ScenarioType(scenario.type).value}) has no stress to "
                            "scale: severity 0 and 1 are the same market. Search a scenario with a stress (a library "
                            "scenario, or a flash_crash, volatility_spike, ... of your own)")


def scaled_parameters(scenario: Scenario, s: float) -> dict[str, Any]:
    """``scenario``'s parameters at severity ``s`` > 0 (every scalable one written out)."""
    base_corr = float(scenario.parameters.get("base_correlation", _DEFAULT_BASE_CORRELATION))
    return {name: scale_value(p, v, s, base_corr) for name, (p, v) in scalable_parameters(scenario).items()}


def at_severity(scenario: Scenario, s: float) -> Scenario:
    """``scenario`` at severity ``s`` (module docstring): itself at 1; its calm base market (a
    ``synthetic`` scenario, or a ``historical_replay`` of its data, on the same seed) at 0.
    The name says the severity; the seed is kept, so path i has the same base market at every s."""
    _check_scalable(scenario)
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s < 0:
        raise ScenarioError(f"severity = {s!r}; expected a finite number >= 0 (1: the scenario as defined)")
    if s == 1:
        return scenario
    name = f"{scenario.name} @ severity {s:.4g}"
    if s == 0:
        calm = ScenarioType.HISTORICAL_REPLAY if scenario.data is not None else ScenarioType.SYNTHETIC
        base = {k: v for k, v in scenario.parameters.items() if k in BASE_PARAMS}
        return dataclasses.replace(scenario, name=name, type=calm, parameters=base)
    return dataclasses.replace(scenario, name=name,
                               parameters={**scenario.parameters, **scaled_parameters(scenario, float(s))})


def resolve_parameter(scenario: Scenario, name: str) -> str:
    """The full name of the scalable parameter ``name`` in ``scenario`` ('drop_pct' in a mixed
    scenario is the one component parameter so named); raises naming the valid ones."""
    _check_scalable(scenario)
    if not isinstance(name, str):
        raise ScenarioError(f"parameter = {name!r}; expected the name of one of the scenario's parameters")
    names = scalable_parameters(scenario)
    if name in names:
        return name
    ends = [full for full in names if full.endswith("_" + name)]
    if len(ends) == 1:
        return ends[0]
    owner = f"Scenario {scenario.name!r} ({ScenarioType(scenario.type).value})"
    if len(ends) > 1:
        raise ScenarioError(f"{owner}: parameter {name!r} is ambiguous: {' or '.join(map(repr, ends))}")
    every = {full for prefix, ps, _ in _groups(scenario) for _, full in ps.full_names(prefix)}
    if name in every or name in BASE_PARAMS:
        raise ScenarioError(f"{owner}: parameter {name!r} does not scale with severity (a duration, start, shape "
                            f"or base-market parameter); search one of: {', '.join(names)}")
    hints = close_matches(name, list(names))
    raise ScenarioError(f"{owner}: unknown parameter {name!r}." + (f" Did you mean {hints[0]!r}?" if hints else "")
                        + f" Parameters that scale: {', '.join(names)}")
