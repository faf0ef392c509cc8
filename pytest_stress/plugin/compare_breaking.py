"""A breaking point against a baseline's: the system now breaks where the baseline held.

A breaking-point case's figures are one path at one level (``result.breaking.BreakingCase``), so its
metrics are not compared; its answer is. Each end of a bracket is a verdict over paths, so the
comparison needs no threshold: it is a regression when this run's first failing level is no
harsher than the baseline's last passing one (it fails where the baseline held), or when the
baseline never broke within a range this run breaks in. A search of another scenario, axis or
direction is not comparable and says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["BreakingMove", "check_breaking", "comparable"]


def _harsher(s: dict[str, Any]) -> int:
    """+1 when a larger level is harsher in this search, -1 when smaller."""
    return 1 if s["high"] > s["low"] else -1


def comparable(base: dict[str, Any], now: dict[str, Any]) -> str | None:
    """None when the two searches can be compared, else why not."""
    if base.get("axis") != now.get("axis"):
        return f"searched along {base.get('axis')} in the baseline, {now.get('axis')} now"
    if _harsher(base) != _harsher(now):
        return "searched in opposite directions"
    return None


@dataclass(frozen=True)
class BreakingMove:
    """This run breaks at a level the baseline held (``describe`` says both brackets)."""

    test: str
    axis: str
    baseline: dict[str, Any]
    now: dict[str, Any]

    def describe(self) -> str:
        from ..result.breaking import short_note   # lazy: the result types, only for a moved breaking point

        return (f"breaking point ({self.axis}) moved: baseline {short_note(self.baseline)}, now "
                f"{short_note(self.now)}: it fails where the baseline held")


def check_breaking(test: str, base: dict[str, Any], now: dict[str, Any]) -> BreakingMove | None:
    """The move of ``now``'s breaking point against ``base``'s, if it now fails where the baseline held."""
    if comparable(base, now) is not None:
        return None
    fails_now = now["bracket"][1]
    if fails_now is None:            # nothing fails now: no regression
        return None
    way = _harsher(now)
    held = base["bracket"][0]        # the baseline's last passing level (its high end when it never broke)
    if held is None:                 # the baseline already failed at its low end
        return None
    if way * (fails_now - held) <= 0:
        return BreakingMove(test, now["axis"], base, now)
    return None
