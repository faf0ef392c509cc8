"""The chart of a scenario's history: its key metrics run after run (the service's
``GET /scenarios/{name}/history/chart``, drawn on its dashboard).

One small panel per metric, the runs oldest to newest along x. Runs made under the settings the
regression check compared under are filled blue circles joined by a line; runs made under other
settings (or with no result) are hollow grey circles, not joined (their figures are not
comparable). The run the check compared against is ringed; the latest run is ringed too, in red
with an "x" on each metric that regressed (beyond its threshold), in green when it passed.

Each marked point carries an SVG id (``{gid}-{metric}-regression``, ``{gid}-{metric}-against``,
``{gid}-{metric}-latest``) that a test can find it by.
"""
from __future__ import annotations

import math
from typing import Any, cast

from .charts import _RC, _svg, require_matplotlib

__all__ = ["history_svg"]

_SAME, _OTHER, _BAD, _GOOD = "#1565c0", "#9e9e9e", "#c62828", "#2e7d32"


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def history_svg(runs: list[dict[str, Any]], metrics: list[tuple[str, str]], *, latest: str | None,
                against: str | None, regressed: set[str], passed: bool | None, title: str,
                gid: str = "history") -> str:
    """``runs`` oldest first, each ``{"run_id", "label", "comparable": bool, "metrics": {name: value}}``;
    ``metrics``: ``(name, header)`` per panel; ``latest``/``against``: the run ids the check compared;
    ``regressed``: the metrics that regressed; ``passed``: the check's outcome (None: not checked)."""
    Figure = require_matplotlib()
    import matplotlib   # lazy: the report is an optional extra

    with matplotlib.rc_context(cast(Any, _RC)):
        fig = Figure(figsize=(8, 0.9 + 1.0 * len(metrics)), layout="constrained")
        axes = fig.subplots(len(metrics), 1, sharex=True)
        axes = list(axes) if len(metrics) > 1 else [axes]
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
        xs = list(range(len(runs)))
        for ax, (name, header) in zip(axes, metrics):
            ys = [_num(r["metrics"].get(name)) for r in runs]
            same = [(x, y) for x, y, r in zip(xs, ys, runs) if r["comparable"]]
            other = [(x, y) for x, y, r in zip(xs, ys, runs) if not r["comparable"]]
            if same:
                ax.plot([x for x, _ in same], [y for _, y in same], "-o", color=_SAME, markersize=4, linewidth=0.9,
                        label="same settings")
            if other:
                ax.plot([x for x, _ in other], [y for _, y in other], "o", color=_OTHER, markersize=4,
                        markerfacecolor="none", linestyle="none", label="other settings")
            for rid, role in ((against, "against"), (latest, "latest")):
                if rid is None or rid not in [r["run_id"] for r in runs]:
                    continue
                i = [r["run_id"] for r in runs].index(rid)
                bad = role == "latest" and name in regressed
                color = _BAD if bad else (_GOOD if role == "latest" and passed else _OTHER if role == "against"
                                          else _SAME)
                ring = ax.plot([i], [ys[i]], "o", markersize=10, markerfacecolor="none", markeredgecolor=color,
                               markeredgewidth=1.4, label="compared with" if role == "against" else "latest")[0]
                ring.set_gid(f"{gid}-{name}-{role}")
                if bad:
                    mark = ax.plot([i], [ys[i]], "x", color=_BAD, markersize=9, markeredgewidth=2,
                                   label="regression")[0]
                    mark.set_gid(f"{gid}-{name}-regression")
            ax.set_ylabel(header, fontsize=7)
            ax.grid(True, linewidth=0.3, alpha=0.5)
            if ax is axes[0] and ax.get_legend_handles_labels()[0]:   # one legend: the panels draw alike
                ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=6, frameon=False, borderaxespad=0)
        step = max(1, len(runs) // 8)
        axes[-1].set_xticks(xs[::step])
        axes[-1].set_xticklabels([r["label"] for r in runs][::step], fontsize=6)
        axes[-1].set_xlabel("runs, oldest to newest (submitted, UTC)")
        return _svg(fig)
