"""The chart of a reverse stress test: the failure rate against severity (or the searched
parameter's value), from a breaking point's JSON form (``BreakingPoint.summary``).

One point per decided level, at ``failures / paths``, with its Clopper-Pearson interval
(``level["failure_interval"]``) as an error bar. A level that passed is a green circle, one
that failed a red square; the main paths (shared by every level) are filled markers, each
confirmation set (independent paths, ``path_set`` > 0) hollow ones. The verdict's
``pass_rate`` and ``fail_rate`` are horizontal lines, the bracket (last pass, first fail) is
shaded, the scenario as defined is a dotted vertical line. The y axis is linear up to the pass
rate and logarithmic above it (matplotlib's ``symlog``), so that 1% and 10% are as readable as
100%. The harsher end of the searched range is always on the right.

Each group of the figure carries an SVG id (``{gid}-pass-main``, ``{gid}-fail-confirm``,
``{gid}-bracket``, ``{gid}-pass-rate``, ...) that a test or a stylesheet can find it by.
"""
from __future__ import annotations

import math
from typing import Any, cast

from .charts import _RC, _svg, require_matplotlib

__all__ = ["breaking_svg"]

_PASS, _FAIL = "#2e7d32", "#c62828"
_BRACKET, _DEFINED = "#ffb74d", "#616161"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _rate(level: dict[str, Any]) -> tuple[float, float, float]:
    """(failure rate, distance down to its interval's low end, up to its high end)."""
    paths = int(level["paths"])
    y = int(level["failures"]) / paths if paths else math.nan
    lo, hi = (float(v) for v in level["failure_interval"])
    return y, max(y - lo, 0.0), max(hi - y, 0.0)


def _levels(ax: Any, levels: list[dict[str, Any]], gid: str) -> None:
    for verdict, color, marker in (("pass", _PASS, "o"), ("fail", _FAIL, "s")):
        for confirm in (False, True):
            pts = [lv for lv in levels if lv["verdict"] == verdict and (int(lv.get("path_set") or 0) > 0) == confirm]
            if not pts:
                continue
            rates = [_rate(lv) for lv in pts]
            what = "confirmation paths" if confirm else "main paths"
            cont = ax.errorbar([float(lv["x"]) for lv in pts], [r[0] for r in rates],
                               yerr=[[r[1] for r in rates], [r[2] for r in rates]], fmt=marker, color=color,
                               markersize=7 if confirm else 5, markerfacecolor="none" if confirm else color,
                               markeredgewidth=1.2, elinewidth=0.9, capsize=3, zorder=4 if confirm else 3,
                               linestyle="none", label=f"{verdict}, {what} ({len(pts)})")
            name = f"{gid}-{verdict}-{'confirm' if confirm else 'main'}"
            cont.lines[0].set_gid(name)
            for bars in cont.lines[2]:
                bars.set_gid(f"{name}-interval")


def _bracket(ax: Any, bp: dict[str, Any], gid: str) -> None:
    lo, hi = bp["bracket"]
    axis = bp["axis"]
    if lo is not None and hi is not None:
        span = ax.axvspan(min(lo, hi), max(lo, hi), color=_BRACKET, alpha=0.35, linewidth=0,
                          label=f"bracket: holds at {_fmt(lo)}, fails at {_fmt(hi)}")
        span.set_gid(f"{gid}-bracket")
        for x in (lo, hi):
            ax.axvline(x, color=_BRACKET, linewidth=0.8).set_gid(f"{gid}-bracket-edge")
    elif lo is not None:   # never breaks: it held at the harsh end
        ax.axvline(lo, color=_PASS, linewidth=1.2, label=f"holds at the harsh end, {axis} {_fmt(lo)}"
                   ).set_gid(f"{gid}-bracket")
    elif hi is not None:   # already fails at the mild end
        ax.axvline(hi, color=_FAIL, linewidth=1.2, label=f"fails already at the mild end, {axis} {_fmt(hi)}"
                   ).set_gid(f"{gid}-bracket")


def breaking_svg(bp: dict[str, Any], title: str, gid: str = "bp") -> str:
    """The SVG of a breaking point's JSON form (module docstring); ``gid`` prefixes its SVG ids."""
    Figure = require_matplotlib()
    import matplotlib   # lazy: the report is an optional extra
    from matplotlib.ticker import FixedLocator, PercentFormatter   # lazy: as above

    rule = bp.get("rule") or {}
    pass_rate, fail_rate = float(rule.get("pass_rate", 0.01)), float(rule.get("fail_rate", 0.10))
    levels = bp.get("levels") or []
    with matplotlib.rc_context(cast(Any, _RC)):   # the user's own matplotlib settings stay as they were
        fig = Figure(figsize=(10, 3.6), layout="constrained")
        ax = fig.subplots()
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
        _bracket(ax, bp, gid)
        defined = bp.get("defined")
        if isinstance(defined, (int, float)) and math.isfinite(defined):
            ax.axvline(defined, color=_DEFINED, linewidth=0.9, linestyle=":",
                       label=f"as defined ({bp['axis']} {_fmt(defined)})").set_gid(f"{gid}-defined")
        ax.axhline(pass_rate, color=_PASS, linewidth=0.9, linestyle="--",
                   label=f"pass rate {pass_rate:.3g}: tolerated").set_gid(f"{gid}-pass-rate")
        ax.axhline(fail_rate, color=_FAIL, linewidth=0.9, linestyle="--",
                   label=f"fail rate {fail_rate:.3g}: not tolerated").set_gid(f"{gid}-fail-rate")
        _levels(ax, levels, gid)
        ax.set_yscale("symlog", linthresh=pass_rate, linscale=0.4)
        ax.set_ylim(-0.25 * pass_rate, 1.3)   # room for markers at 0% and 100%
        ticks = sorted({0.0, pass_rate, fail_rate, *[t for t in (0.001, 0.01, 0.1, 0.5, 1.0) if t > pass_rate]})
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_minor_locator(FixedLocator([]))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        low, high = float(bp["low"]), float(bp["high"])
        xs = [low, high, *(float(lv["x"]) for lv in levels)]
        pad = (max(xs) - min(xs)) * 0.03 or 0.05
        ax.set_xlim(min(xs) - pad, max(xs) + pad)
        if high < low:   # a parameter that is harsher when smaller: the harsher end still on the right
            ax.invert_xaxis()
        ax.set_xlabel(f"{bp['axis']} (harsher to the right)")
        ax.set_ylabel("failure rate\n(share of paths)")
        ax.set_title(f"failure rate against {bp['axis']}: {len(levels)} levels decided, "
                     f"{(bp.get('evaluations') or {}).get('paths', '?')} paths "
                     f"(error bars: {float(rule.get('confidence', 0.95)):.0%} Clopper-Pearson intervals)", loc="left")
        ax.grid(True, linewidth=0.3, alpha=0.5)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=6, frameon=False)
        return _svg(fig)
