"""Where a run was at its worst: the bar and timestamp of the maximum drawdown and of the worst bar.

Computed from the equity curve the same way the metrics are (``result/metrics.py``:
returns against the previous bar, the first against the initial equity), so the bar
named here is the bar behind ``max_drawdown`` and ``worst_bar_return_pct``. numpy only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["extremes", "utc_stamp", "describe_extremes"]


def utc_stamp(ns: int) -> str:
    """An int64 nanosecond UTC timestamp as ISO text, e.g. '2021-05-19T13:00:00Z'."""
    return np.datetime_as_string(np.datetime64(int(ns), "ns"), unit="s") + "Z"


def extremes(equity: np.ndarray, timestamps: np.ndarray, initial: float) -> dict[str, Any]:
    """``{"max_drawdown": {...}, "worst_bar": {...}}``, each with ``bar``, ``time`` and ``value``
    (percent); the drawdown also names its ``peak_bar`` and ``peak_time``. Empty for an empty curve."""
    equity = np.asarray(equity, dtype=np.float64)
    n = len(equity)
    if n == 0:
        return {}
    curve = np.concatenate([[initial], equity])
    peak = np.maximum.accumulate(curve)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, (1.0 - curve / peak) * 100.0, 100.0)[1:]
        r = curve[1:] / curve[:-1] - 1.0
    r = np.where(np.isfinite(r), r, -1.0)
    t_dd = int(np.argmax(dd))
    peak_at = int(np.argmax(curve[: t_dd + 2])) - 1      # -1: the initial equity, before bar 0
    t_worst = int(np.argmin(r))
    ts = np.asarray(timestamps)

    def stamp(t: int) -> str | None:
        return utc_stamp(ts[t]) if 0 <= t < len(ts) else None

    return {
        "max_drawdown": {"bar": t_dd, "time": stamp(t_dd), "value": float(dd[t_dd]),
                         "peak_bar": max(peak_at, 0), "peak_time": stamp(max(peak_at, 0))},
        "worst_bar": {"bar": t_worst, "time": stamp(t_worst), "value": float(r[t_worst]) * 100.0},
    }


def describe_extremes(ext: Any, drawdown: str = "max drawdown") -> list[str]:
    """The maximum drawdown and the worst bar of ``extremes()``, one sentence each (for reports)."""
    parts = []
    dd = ext.get("max_drawdown")
    if dd:
        parts.append(f"{drawdown} {dd['value']:.2f}% at bar {dd['bar']} ({dd['time']}), from the peak at "
                     f"bar {dd['peak_bar']} ({dd['peak_time']})")
    wb = ext.get("worst_bar")
    if wb:
        parts.append(f"worst bar {wb['bar']} ({wb['time']}): {wb['value']:+.2f}%")
    return parts
