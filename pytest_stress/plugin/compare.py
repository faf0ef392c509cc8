"""Regression checks of a run against a baseline: ``METRIC:THRESHOLD`` (absolute or percent).

Which way is worse comes from the metric table: for "higher" and "lower" metrics a move
in that direction beyond the threshold is a regression; for metrics with no direction
("neither", such as ``emergency_stops``) a change either way beyond it is flagged. A
change to or from a non-finite value (``profit_factor`` inf) in the worse direction is a
regression whatever the threshold; NaN on either side is not compared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ScenarioError, unknown_name_message
from ..result.metrics import HIGHER, LOWER, METRIC_FIELDS, worse_direction

__all__ = ["Threshold", "Regression", "parse_threshold", "check"]


@dataclass(frozen=True)
class Threshold:
    """How much worse ``metric`` may get: ``value`` in its own units, or in percent of the baseline."""

    metric: str
    value: float
    percent: bool

    def __str__(self) -> str:
        return f"{self.metric}:{self.value:g}{'%' if self.percent else ''}"


@dataclass(frozen=True)
class Regression:
    test: str
    metric: str
    baseline: float
    now: float
    threshold: Threshold

    @property
    def change(self) -> float:
        return self.now - self.baseline

    def describe(self) -> str:
        finite = math.isfinite(self.baseline) and math.isfinite(self.now)
        pct = f" ({self.change / abs(self.baseline) * 100:+.1f}%)" if self.baseline and finite else ""
        worse = worse_direction(self.metric)
        how = f"{worse} is worse" if worse in (HIGHER, LOWER) else "no worse direction: a change either way counts"
        return (f"{self.metric}: baseline {self.baseline:.6g}, now {self.now:.6g}, change {self.change:+.6g}{pct} "
                f"({how}; allowed {self.threshold})")


def parse_threshold(text: str) -> Threshold:
    """``max_drawdown:2`` (2 points worse at most) or ``total_pnl:10%`` (10% of the baseline)."""
    metric, sep, raw = str(text).partition(":")
    metric, raw = metric.strip(), raw.strip()
    if not sep or not raw:
        raise ScenarioError(f"compare-fail {text!r}: expected METRIC:THRESHOLD such as max_drawdown:2 or total_pnl:10%")
    if metric not in METRIC_FIELDS:
        raise ScenarioError(f"compare-fail {text!r}: " + unknown_name_message("metric", metric, METRIC_FIELDS))
    percent = raw.endswith("%")
    try:
        value = float(raw[:-1] if percent else raw)
    except ValueError:
        raise ScenarioError(f"compare-fail {text!r}: threshold {raw!r} is not a number (or a number and %)") from None
    if not value >= 0 or math.isinf(value):
        raise ScenarioError(f"compare-fail {text!r}: threshold must be a finite number >= 0")
    return Threshold(metric, value, percent)


def check(test: str, baseline: dict, now: dict, threshold: Threshold) -> Regression | None:
    """A regression if ``metric`` moved in its worse direction (either way: "neither") by more than allowed.

    ``baseline`` and ``now`` hold decoded numbers (``result.jsonform.decode_metrics``).
    """
    b, n = baseline.get(threshold.metric), now.get(threshold.metric)
    if b is None or n is None or math.isnan(b) or math.isnan(n) or b == n:
        return None
    worse = worse_direction(threshold.metric)
    worse_by = (n - b) if worse == HIGHER else (b - n) if worse == LOWER else abs(n - b)
    if not (math.isfinite(b) and math.isfinite(n)):
        return Regression(test, threshold.metric, b, n, threshold) if worse_by > 0 else None
    allowed = abs(b) * threshold.value / 100.0 if threshold.percent else threshold.value
    return Regression(test, threshold.metric, b, n, threshold) if worse_by > allowed + 1e-12 else None
