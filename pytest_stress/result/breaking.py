"""The answer of a reverse stress test (``breaking.find_breaking_point``): the mildest severity
(or parameter value) at which the claim fails on more paths than the verdict tolerates.

It holds every level the search decided, so that the failure rate against severity can be
drawn (the report) and every figure traced to its paths; it describes itself in one line and
as JSON (``summary``), the form the plugin saves and the service returns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..verdict import PASS, VerdictRule, rate_interval
from .jsonform import encode

__all__ = ["Level", "Evaluations", "BreakingPoint", "BreakingCase", "FOUND", "NEVER", "AT_LOW", "UNFINISHED",
           "describe_summary", "short_note"]

#: The search's outcomes.
FOUND = "found"             #: a bracket (last pass, first fail) at most ``precision`` wide
NEVER = "never"             #: the claim holds at the high end of the searched range
AT_LOW = "at_low"           #: the claim already fails at the low end
UNFINISHED = "unfinished"   #: the run budget ran out first; the bracket is the narrowest reached


@dataclass(frozen=True)
class Level:
    """One decided level: where (``x``: the searched coordinate; ``severity`` and ``value``),
    the verdict over its paths, how many ran and failed, and on which path set (``0``: the main
    paths, shared by every level; ``k > 0``: the k-th independent confirmation set)."""

    x: float
    severity: float | None
    value: float | None
    verdict: str
    paths: int
    failures: int
    path_set: int = 0
    failing: tuple[int, ...] = ()      #: the indices of the paths on which the claim failed

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    def interval(self, confidence: float) -> tuple[float, float]:
        """The failure rate's Clopper-Pearson interval on this level's paths."""
        return rate_interval(self.failures, self.paths, confidence)

    def as_dict(self, confidence: float) -> dict[str, Any]:
        lo, hi = self.interval(confidence)
        return {"x": self.x, "severity": self.severity, "value": self.value, "verdict": self.verdict,
                "paths": self.paths, "failures": self.failures, "failure_interval": [lo, hi],
                "path_set": self.path_set, "failing": list(self.failing)}


@dataclass(frozen=True)
class Evaluations:
    """What the search cost: levels decided and paths run (each path one run of the scenario)."""

    levels: int
    paths: int

    def __str__(self) -> str:
        return f"{self.levels} levels, {self.paths} paths"


@dataclass(frozen=True)
class BreakingPoint:
    """Where the claim breaks (module docstring).

    - ``status``: ``FOUND``, ``NEVER`` (holds up to ``high``), ``AT_LOW`` (fails at ``low``) or
      ``UNFINISHED`` (the run budget ran out);
    - ``severity``: the first failing level's severity; with a ``parameter``, the severity of that
      parameter alone (``severity.value_severity``). ``NEVER``: the high end of the range, a lower
      bound (the claim held there), so that ``severity >= margin`` holds for any margin the search
      covered and fails for one beyond it; None when the search ended before any failing level;
    - ``value``: the parameter's value there (a ``parameter`` search only);
    - ``bracket``: (last passing, first failing) level, in the searched coordinate (severity, or
      the parameter's value); None at an end that was not reached;
    - ``scenario``: the mildest failing ``Scenario`` (its repr pastes back as Python);
    - ``levels``: every decided level, in the order the search decided them;
    - ``evaluations``: levels and paths it took.
    """

    status: str
    parameter: str | None
    severity: float | None
    value: float | None
    bracket: tuple[float | None, float | None]
    scenario: Any
    levels: tuple[Level, ...]
    rule: VerdictRule
    low: float
    high: float
    precision: float
    base: str                     #: the searched scenario's name
    defined: float = 1.0          #: the scenario's own level on the axis (severity 1, or the parameter's value)
    notes: tuple[str, ...] = ()

    @property
    def breaks_as_defined(self) -> bool:
        """Whether the scenario as defined is at or past the breaking point: a failing level no
        harsher than the scenario's own (``defined``)."""
        hi = self.bracket[1]
        if hi is None:
            return False
        harsher = (self.high > self.low) == (hi > self.defined)
        return hi == self.defined or not harsher

    @property
    def evaluations(self) -> Evaluations:
        return Evaluations(len(self.levels), sum(level.paths for level in self.levels))

    @property
    def found(self) -> bool:
        return self.status == FOUND

    @property
    def axis(self) -> str:
        """What the search moved along: the parameter's name, or "severity"."""
        return self.parameter or "severity"

    def headline(self) -> str:
        return describe_summary(self.summary())

    def summary(self) -> dict[str, Any]:
        """The JSON form (saved with a case, returned by the service, drawn by the report)."""
        return encode({
            "status": self.status, "axis": self.axis, "parameter": self.parameter, "severity": self.severity,
            "value": self.value, "bracket": list(self.bracket), "low": self.low, "high": self.high,
            "precision": self.precision, "scenario": None if self.scenario is None else self.scenario.to_dict(),
            "scenario_repr": None if self.scenario is None else repr(self.scenario), "base": self.base,
            "levels": [level.as_dict(self.rule.confidence) for level in self.levels],
            "evaluations": {"levels": self.evaluations.levels, "paths": self.evaluations.paths},
            "defined": self.defined, "breaks_as_defined": self.breaks_as_defined,
            "rule": self.rule.as_dict(), "notes": list(self.notes)})

    def __str__(self) -> str:
        lines = [self.headline()]
        if self.scenario is not None:
            lines.append(f"  mildest failing scenario: {self.scenario!r}")
        lines.append(f"  rule at each level: {self.rule.describe()}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"BreakingPoint({self.headline()})"


@dataclass(frozen=True)
class BreakingCase:
    """A pytest case with a breaking-point search: the search's answer and the one run the test
    body was last called with (a path that held at the bracket's passing end)."""

    result: Any
    breaking_point: BreakingPoint


def short_note(s: dict[str, Any]) -> str:
    """A few words for a table: 'breaks at severity 1.25 (holds at 1.2)'."""
    axis, (lo, hi) = s["axis"], s["bracket"]
    if s["status"] == "never":
        return f"never breaks up to {axis} {_fmt(s['high'])}"
    if s["status"] == "at_low":
        return f"fails already at {axis} {_fmt(hi)}"
    return f"breaks at {axis} {_fmt(hi)} (holds at {_fmt(lo)})" + (" unfinished" if s["status"] == "unfinished" else "")


def _fmt(x: Any) -> str:
    return "?" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def describe_summary(s: dict[str, Any]) -> str:
    """One line from a breaking point's JSON form (``BreakingPoint.summary``): what broke where."""
    axis, (lo, hi) = s["axis"], s["bracket"]
    ev = s["evaluations"]
    cost = f"{ev['levels']} levels, {ev['paths']} paths"
    sev = "" if s["parameter"] is None or s["severity"] is None else f" (severity {_fmt(s['severity'])})"
    if s["status"] == "found":
        return (f"breaks at {axis} {_fmt(hi)}{sev} of {s['base']!r}: holds at {_fmt(lo)}, fails at {_fmt(hi)} "
                f"(precision {_fmt(s['precision'])}; {cost})")
    if s["status"] == "never":
        return (f"never breaks within {axis} {_fmt(s['low'])}-{_fmt(s['high'])} of {s['base']!r}: holds at "
                f"{_fmt(lo)} ({cost})")
    if s["status"] == "at_low":
        return (f"already fails at the low end, {axis} {_fmt(hi)}{sev} of {s['base']!r}: nothing milder was "
                f"searched ({cost})")
    return (f"unfinished: the run budget ran out with {axis} between {_fmt(lo)} (holds) and {_fmt(hi)} (fails) "
            f"of {s['base']!r} ({cost})")
