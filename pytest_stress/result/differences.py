"""What changed in a case against its baseline entry, threshold or not: for the terminal's
differences section and the report's baseline columns (``--stress-compare``).

A case's comparison (``case_comparison``) is a small JSON-safe dict: its ``status``
("regressed" when a regression check failed, "changed" when any summary metric moved,
"unchanged"), the metrics that moved (baseline, now, change, relative change; the summary
table's metrics and any checked by a threshold), and the regressions' own descriptions
(``plugin.compare.Regression.describe``). Whether a change is a regression is decided by the
thresholds alone (``plugin/compare.py``); this module only lists what moved.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .metrics import metric, summary_columns

__all__ = ["KEY_METRICS", "metric_changes", "case_comparison", "describe_change"]

#: The metrics the report's baseline columns show for every compared case.
KEY_METRICS = ("max_drawdown", "total_return_pct")

#: Relative difference below which two numbers are the same (a baseline re-read from JSON).
_SAME = 1e-9


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _moved(b: float, n: float) -> bool:
    if math.isnan(b) or math.isnan(n):
        return math.isnan(b) != math.isnan(n)
    if not (math.isfinite(b) and math.isfinite(n)):
        return b != n
    return abs(n - b) > _SAME * max(1.0, abs(b), abs(n))


def metric_changes(base: Mapping[str, Any], now: Mapping[str, Any],
                   names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """``[{"metric", "baseline", "now", "change", "pct"}]`` for each of ``names`` (default: the
    summary table's metrics and ``KEY_METRICS``) that both sides hold as a number and that moved.
    ``pct``: the change in percent of the baseline (None when the baseline is 0 or not finite)."""
    order = list(dict.fromkeys([*KEY_METRICS, *(names if names is not None else
                                                [m.name for m in summary_columns()])]))
    out = []
    for name in order:
        b, n = _number(base.get(name)), _number(now.get(name))
        if b is None or n is None or not _moved(b, n):
            continue
        finite = math.isfinite(b) and math.isfinite(n)
        out.append({"metric": name, "baseline": b, "now": n, "change": n - b if finite else None,
                    "pct": (n - b) / abs(b) * 100.0 if finite and b else None})
    return out


def describe_change(c: Mapping[str, Any]) -> str:
    """``max DD % 6.5 -> 14.8 (+8.3, +126.8%)``, each number in its metric's table format."""
    m = metric(c["metric"])
    text = f"{m.header} {m.format(c['baseline'])} -> {m.format(c['now'])}"
    parts = []
    if c.get("change") is not None:
        parts.append(_signed(m.format(c["change"])))
    if c.get("pct") is not None:
        parts.append(f"{c['pct']:+.1f}%")
    return text + (f" ({', '.join(parts)})" if parts else "")


def _signed(text: str) -> str:
    return text if text.startswith(("+", "-")) else "+" + text


def case_comparison(base_metrics: Mapping[str, Any], now_metrics: Mapping[str, Any],
                    regressions: Sequence[str] = (), checked: Iterable[str] = ()) -> dict[str, Any]:
    """One case's comparison (module docstring): ``regressions`` are the descriptions of the
    threshold checks that failed, ``checked`` the metrics the thresholds check (listed when moved)."""
    names = [*[m.name for m in summary_columns()], *checked]
    changes = metric_changes(base_metrics, now_metrics, names)
    keys = {name: {"baseline": _number(base_metrics.get(name)), "now": _number(now_metrics.get(name))}
            for name in KEY_METRICS}
    status = "regressed" if regressions else "changed" if changes else "unchanged"
    return {"status": status, "changes": changes, "regressions": list(regressions), "key": keys}
