"""Property tests (a test using ``stress_runner``, typically hypothesis ``@given``) as cases of the
session: in the summary table, the report and pytest-html, with their outcome.

``stress_runner`` keeps, per test, how many scenarios it ran, the last run and the run with the
deepest drawdown (``RunLog``; nothing more, whatever the number of examples). When the test is
reported, ``property_summary`` makes its case summary: the figures of the last run when it
failed (hypothesis replays the falsifying example last, so that is the shrunk example), else of
the run with the deepest drawdown; the scenario as a line of Python that pastes back.

A property test's figures depend on the examples hypothesis drew, not on a seed of ours, so it is
never saved into a baseline nor compared with one (``session.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["RunLog", "property_summary", "PROPERTY"]

#: The ``verdict`` key of a property test's summary.
PROPERTY = "property"


@dataclass
class RunLog:
    """What ``stress_runner`` ran for the current test: (scenario, result, exchange) of the last run
    and of the deepest-drawdown run, and the count."""

    count: int = 0
    last: tuple[Any, Any, Any] | None = None
    deepest: tuple[Any, Any, Any] | None = None

    def add(self, scenario: Any, result: Any, exchange: Any) -> None:
        self.count += 1
        self.last = (scenario, result, exchange)
        dd = _drawdown(result)
        if self.deepest is None or dd > _drawdown(self.deepest[1]):
            self.deepest = (scenario, result, exchange)


def _drawdown(result: Any) -> float:
    value = getattr(result, "max_drawdown", None)
    if value is None and hasattr(result, "summary"):   # a Monte Carlo result: its median
        value = (result.summary().get("median") or {}).get("max_drawdown")
    if isinstance(value, (int, float)) and value == value:   # NaN (a failed run) ranks below every number
        return float(value)
    return -1.0


def property_summary(log: RunLog, failed: bool) -> tuple[dict[str, Any], Any, Any, Any] | None:
    """``(summary, shown result, its scenario, its exchange)`` of a property test that ran at least
    one scenario; None when it ran none."""
    from .session import summarize   # lazy: the results' modules, once a property test ran

    chosen = log.last if failed else log.deepest
    if chosen is None:
        return None
    scenario, result, exchange = chosen
    summary = summarize(result)
    which = ("the falsifying example (hypothesis's last run)" if failed
             else f"the deepest drawdown of the {log.count} run(s)")
    summary.update(verdict=PROPERTY, runs=log.count, scenario_repr=repr(scenario),
                   note=f"property test: {log.count} run(s); figures: {which}")
    return summary, result, scenario, exchange
