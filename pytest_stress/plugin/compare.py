"""Regression checks of a run against a baseline: ``METRIC:THRESHOLD`` (absolute or percent).

Which way is worse comes from the metric table: for "higher" and "lower" metrics a move
in that direction beyond the threshold is a regression; for metrics with no direction
("neither", such as ``emergency_stops``) a change either way beyond it is flagged.

When both the baseline's case and this run's carry the metric's value on every path
(``path_values``), the change is judged against the paths' own noise: the Hodges-Lehmann
shift of this run's paths against the baseline's, with its 95% Mann-Whitney confidence
interval (``verdict.shift_interval``), is a regression only when the whole interval lies
beyond the threshold in the worse direction. An unchanged system (the same paths) is never
flagged; a threshold of 0 flags any significant worsening. Paths that failed or where the
metric is None are left out.

Otherwise (a baseline saved before path values were kept, a single run, paths with an
infinite value such as a ``profit_factor`` of inf, or too few paths for an interval) the
check falls back to one number per side (the medians over paths), and the regression's
description says so. There, a change to or from a non-finite value in the worse direction is
a regression whatever the threshold; NaN on either side is not compared.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ScenarioError, StressError, unknown_name_message
from ..result.metrics import HIGHER, LOWER, METRIC_FIELDS, metric, worse_direction

if TYPE_CHECKING:   # the verdict module imports numpy: loaded when comparing, not at start-up
    from ..verdict import Shift

__all__ = ["Threshold", "Regression", "parse_threshold", "check", "check_judgeable", "decode_path_values",
           "COMPARE_CONFIDENCE"]

#: The confidence of the interval of a change between a baseline's paths and this run's.
COMPARE_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Threshold:
    """How much worse ``metric`` may get: ``value`` in its own units, or in percent of the baseline."""

    metric: str
    value: float
    percent: bool

    def __str__(self) -> str:
        return f"{self.metric}:{self.value:g}{'%' if self.percent else ''}"

    def allowed(self, baseline: float) -> float:
        """The change allowed, in the metric's units, from a baseline value ``baseline``."""
        return abs(baseline) * self.value / 100.0 if self.percent else self.value


@dataclass(frozen=True)
class Regression:
    """A metric of ``test`` that got worse than ``threshold`` allows. ``baseline`` and ``now``: the
    numbers compared (medians over paths for Monte Carlo cases). ``shift``: the interval of the
    change that decided it, when both sides had path values; else ``point`` says why one number
    per side was compared."""

    test: str
    metric: str
    baseline: float
    now: float
    threshold: Threshold
    shift: Shift | None = None
    point: str | None = None

    @property
    def change(self) -> float:
        return self.now - self.baseline

    def describe(self) -> str:
        worse = worse_direction(self.metric)
        how = f"{worse} is worse" if worse in (HIGHER, LOWER) else "no worse direction: a change either way counts"
        allowed = self.threshold.allowed(self.baseline)
        limit = f"{allowed:.6g}" + (f" ({self.threshold.value:g}% of the baseline)" if self.threshold.percent else "")
        if self.shift is not None:
            sh = self.shift
            med = _decimals(self.baseline, self.now)
            dec = _decimals(sh.estimate, sh.low, sh.high)
            return (f"{self.metric}: median {self.baseline:.{med}f} -> {self.now:.{med}f} ({sh.sizes[0]} -> "
                    f"{sh.sizes[1]} paths), shift {sh.estimate:+.{dec}f} [{sh.confidence * 100:g}% CI "
                    f"{sh.low:+.{dec}f}, {sh.high:+.{dec}f}] beyond allowed {'' if worse in (HIGHER, LOWER) else '+-'}"
                    f"{limit} ({how}; the shift of the paths' values and its confidence interval: Hodges-Lehmann, "
                    "Mann-Whitney)")
        finite = math.isfinite(self.baseline) and math.isfinite(self.now)
        pct = f"{self.change / abs(self.baseline) * 100:+.1f}%" if self.baseline and finite else ""
        why = f"one number per side: {self.point}" if self.point else ""
        note = f" ({'; '.join(p for p in (pct, why) if p)})" if pct or why else ""
        return (f"{self.metric}: baseline {self.baseline:.6g}, now {self.now:.6g}, change {self.change:+.6g}{note} "
                f"({how}; allowed {self.threshold})")


def _decimals(*values: float) -> int:
    """Decimals that show the largest of ``values`` to about three significant digits (0 to 6)."""
    top = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    return 2 if top == 0 else max(0, min(6, 2 - math.floor(math.log10(top))))


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


def decode_path_values(raw: Any, where: str) -> dict[str, list[float]] | None:
    """A case's ``path_values`` read from JSON (``{metric: [value per path]}``, non-finite values
    as strings, None for a None metric or a failed path), as floats with NaN for None; None
    when the case has none (a baseline saved before path values were kept)."""
    from ..result.jsonform import decode   # lazy: numpy, only when comparing

    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise StressError(f"{where}: 'path_values' is a {type(raw).__name__}; expected a mapping of metric -> "
                          "list of numbers, one per path")
    out: dict[str, list[float]] = {}
    for name, values in raw.items():
        if not isinstance(values, list):
            raise StressError(f"{where}: path_values[{name!r}] is a {type(values).__name__}; expected a list of "
                              "numbers, one per path")
        row = []
        for i, v in enumerate(decode(values)):
            if v is None:
                row.append(math.nan)
            elif isinstance(v, (int, float)):
                row.append(float(v))
            else:
                raise StressError(f"{where}: path_values[{name!r}][{i}] = {values[i]!r}; expected a number, "
                                  "\"inf\", \"-inf\", \"nan\" or null")
        out[name] = row
    return out


def check_judgeable(where: str, baseline: Mapping[str, Any], now: Mapping[str, Any], threshold: Threshold) -> None:
    """Raise ``StressError`` (naming ``where``: the file and the entry) when the baseline cannot judge
    ``threshold``'s metric although this run has a value: the metric is missing from the entry, or
    null where the metric is always a number (``Metric.nullable``). Otherwise the check would find
    no regression, whatever this run did."""
    name = threshold.metric
    if now.get(name) is None or (baseline.get(name) is None and metric(name).nullable and name in baseline):
        return
    if name not in baseline:
        raise StressError(f"{where}: the entry has no metric {name!r}, so --stress-compare-fail {threshold} cannot "
                          "judge it; re-save this case into the baseline with --stress-save")
    if baseline[name] is None:
        raise StressError(f"{where}: metric {name!r} is null, but it is always a number (this run: {now[name]!r}), so "
                          f"--stress-compare-fail {threshold} cannot judge it; the file is damaged: re-save this case")


def check(test: str, baseline: dict, now: dict, threshold: Threshold, *,
          baseline_paths: Mapping[str, Sequence[float]] | None = None,
          now_paths: Mapping[str, Sequence[float]] | None = None) -> Regression | None:
    """A regression if ``metric`` moved in its worse direction (either way: "neither") by more than allowed.

    ``baseline`` and ``now`` hold decoded numbers (``result.jsonform.decode_metrics``);
    ``baseline_paths`` and ``now_paths`` each case's values per path (``decode_path_values``),
    if it has them: with both, the shift's confidence interval decides (module docstring).
    """
    metric = threshold.metric
    b_paths = None if baseline_paths is None else baseline_paths.get(metric)
    n_paths = None if now_paths is None else now_paths.get(metric)
    if b_paths is not None and n_paths is not None:
        judged = _check_paths(test, b_paths, n_paths, threshold)
        if isinstance(judged, str):
            return _check_point(test, baseline, now, threshold, judged)
        return judged
    missing = [side for side, values in (("the baseline", b_paths), ("this run", n_paths)) if values is None]
    why = " and ".join(missing) + (" have" if len(missing) > 1 else " has") + " no path values"
    if missing == ["the baseline"]:
        why += ": it was saved before they were kept" if baseline_paths is None else f" of {metric}"
    elif missing == ["this run"] and now_paths is not None:
        why += f" of {metric}"
    return _check_point(test, baseline, now, threshold, why)


def _check_paths(test: str, b_paths: Sequence[float], n_paths: Sequence[float],
                 threshold: Threshold) -> Regression | None | str:
    """The shift's interval against the threshold; a string (why) when the paths cannot decide."""
    import numpy as np   # lazy: numpy only when comparing

    from ..verdict import shift_interval, shift_min_values   # lazy: the statistics (numpy, scipy) only when comparing

    x, y = np.asarray(b_paths, dtype=np.float64), np.asarray(n_paths, dtype=np.float64)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if np.isinf(x).any() or np.isinf(y).any():
        return "the paths hold infinite values, which have no shift"
    need = shift_min_values(COMPARE_CONFIDENCE)
    if len(x) < need or len(y) < need:
        return (f"{len(x)} and {len(y)} paths with a value are too few for a {COMPARE_CONFIDENCE * 100:g}% "
                f"interval of the change, which takes {need} on each side")
    shift = shift_interval(x, y, COMPARE_CONFIDENCE)
    if not shift.bounded:
        return (f"{len(x)} and {len(y)} paths with a value are too few for a {COMPARE_CONFIDENCE * 100:g}% "
                "interval of the change")
    b, n = float(np.median(x)), float(np.median(y))
    allowed = threshold.allowed(b)
    worse = worse_direction(threshold.metric)
    if worse == HIGHER:
        regressed = shift.low > allowed
    elif worse == LOWER:
        regressed = -shift.high > allowed
    else:
        regressed = shift.low > allowed or -shift.high > allowed
    return Regression(test, threshold.metric, b, n, threshold, shift=shift) if regressed else None


def _check_point(test: str, baseline: dict, now: dict, threshold: Threshold, why: str) -> Regression | None:
    """One number per side (today's check before path values): worse by more than allowed."""
    b, n = baseline.get(threshold.metric), now.get(threshold.metric)
    if b is None or n is None or math.isnan(b) or math.isnan(n) or b == n:
        return None
    worse = worse_direction(threshold.metric)
    worse_by = (n - b) if worse == HIGHER else (b - n) if worse == LOWER else abs(n - b)
    if not (math.isfinite(b) and math.isfinite(n)):
        return Regression(test, threshold.metric, b, n, threshold, point=why) if worse_by > 0 else None
    allowed = threshold.allowed(b)
    return Regression(test, threshold.metric, b, n, threshold, point=why) if worse_by > allowed + 1e-12 else None
