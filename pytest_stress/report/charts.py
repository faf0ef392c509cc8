"""Charts of one case as inline SVG text, drawn by matplotlib (the ``report`` extra).

matplotlib's SVG of a downsampled chart is tens of KB and needs no JavaScript (measured
for one equity-plus-drawdown chart of 1,000 points: plotly with inline JS 4.79 MB, bokeh
inline 1.28 MB, matplotlib SVG 93 KB; see the README's report section). Text stays text
(``svg.fonttype = none``) and ids are fixed (``svg.hashsalt``), so a report is small and
the same bytes for the same results.
"""
from __future__ import annotations

import io
import re
from typing import Any

from ..errors import StressError

__all__ = ["case_svg", "equity_svg", "require_matplotlib", "distribution_svg"]

_COLORS = {"price": "#1f3b73", "equity": "#1565c0", "baseline": "#9e9e9e", "drawdown": "#c62828",
           "exposure": "#6a1b9a", "short": "#c62828", "stress": "#ffb74d", "window": "#7e57c2",
           "buy": "#2e7d32", "sell": "#c62828", "liq": "#000000",
           "fan_outer": "#bbdefb", "fan_inner": "#64b5f6", "median": "#0d47a1", "worst": "#d32f2f"}

#: one colour per symbol, the same in the price and the PnL panels (fills are green/red/black)
_SYMBOL_COLORS = ("#1f3b73", "#ef6c00", "#00838f", "#8e24aa", "#6d4c41", "#546e7a")


def require_matplotlib() -> Any:
    """matplotlib's ``Figure`` (no pyplot: the user's backend is left alone), or a clear error naming the extra."""
    try:
        import matplotlib  # noqa: F401   # lazy: the report is an optional extra; imported to say it is missing
    except ImportError as exc:
        raise StressError(f"the HTML report needs matplotlib ({exc}); install it with "
                          "pip install 'pytest-stress-trading[report]'") from None
    from matplotlib.figure import Figure   # lazy: the report is an optional extra

    return Figure


def _nums(values: list) -> list[float]:
    return [float(v) for v in values]   # "nan"/"inf" strings (the one JSON form) parse as floats


def _line(ax: Any, series: dict | None, **kw: Any) -> None:
    if series and series.get("x"):
        ax.plot(series["x"], _nums(series["y"]), linewidth=kw.pop("linewidth", 0.9), **kw)


def _xticks(ax: Any, ticks: list, last: bool) -> None:
    if ticks:
        ax.set_xticks([t[0] for t in ticks])
        ax.set_xticklabels([t[1] if last else "" for t in ticks])
        if last:
            ax.set_xlabel("time (UTC)")
    ax.grid(True, linewidth=0.3, alpha=0.5)


def _legend(ax: Any, **kw: Any) -> None:
    """The legend beside the panel, off the data (right of the axes)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=6, frameon=False, borderaxespad=0, **kw)


def _unit(p: dict[str, Any]) -> str:
    return f" ({p['currency']})" if p.get("currency") else " (quote currency)"


def _shade_windows(ax: Any, p: dict[str, Any]) -> list[Any]:
    """The venue's stress windows (filled orange) and the scenario's own windows (violet, hatched,
    outlined, named at the top): distinguishable where they overlap."""
    from matplotlib.patches import Patch   # lazy: the report is an optional extra

    handles = []
    for a, b in p.get("stress_windows", []):
        ax.axvspan(a, b + 1, color=_COLORS["stress"], alpha=0.3, linewidth=0, zorder=0)
    if p.get("stress_windows"):
        handles.append(Patch(color=_COLORS["stress"], alpha=0.3, label="venue stress >= 0.5"))
    for _label, a, b in p.get("scenario_windows", []):
        ax.axvspan(a, b + 1, facecolor="none", edgecolor=_COLORS["window"], hatch="////", linewidth=0.8, zorder=0,
                   alpha=0.6)
    for i, (label, a, _b) in enumerate(p.get("scenario_windows", [])):   # names stacked: windows may share a start
        ax.text(a, 0.97 - 0.09 * i, f" {label}", transform=ax.get_xaxis_transform(), fontsize=6,
                color=_COLORS["window"], va="top", ha="left")
    if p.get("scenario_windows"):
        handles.append(Patch(facecolor="none", edgecolor=_COLORS["window"], hatch="////", label="scenario window"))
    return handles


def _mark_drawdown(axes_eq: Any, axes_dd: Any, ext: dict | None) -> None:
    dd = (ext or {}).get("max_drawdown")
    if not dd:
        return
    for ax in (axes_eq, axes_dd):
        ax.axvline(dd["bar"], color=_COLORS["drawdown"], linewidth=0.8, linestyle="--")
    axes_dd.annotate(f"max drawdown {dd['value']:.2f}% at bar {dd['bar']}\n{dd['time']}",
                     xy=(dd["bar"], dd["value"]), xytext=(0.02, 0.08), textcoords="axes fraction",
                     fontsize=7, color=_COLORS["drawdown"])


_PATH_DATA = re.compile(r' d="([^"]*)"')
_DECIMALS = re.compile(r"(\d\.\d)\d+")
_LINETO = re.compile(r"(?<=\d)\s*L\s*(?=[-\d.])")
_CURVES = re.compile(r"[CcQqSsTtAa]")


def _short_path(d: str) -> str:
    d = _DECIMALS.sub(r"\1", d).replace("\n", "")
    return d if _CURVES.search(d) else _LINETO.sub(" ", d)   # a curve's pairs are its own: left alone


def _compact(svg: str) -> str:
    """Path coordinates to 0.1 px (matplotlib writes 1e-6 px), one line per path, and in a path of
    straight segments the "L" of each segment left out (SVG reads further coordinate pairs after a
    moveto or lineto as linetos): well under half the bytes, the same drawing."""
    return _PATH_DATA.sub(lambda m: ' d="' + _short_path(m.group(1)) + '"', svg)


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return _compact(text[text.index("<svg"):])   # no XML prolog or doctype: the SVG goes inline in HTML


def _run_svg(p: dict[str, Any], baseline: dict[str, Any] | None, title: str, *, compact: bool = False) -> str:
    Figure = require_matplotlib()
    panels = ["price"] if p.get("price") and not compact else []
    panels += ["equity", "drawdown"] if compact else ["equity", "drawdown", "exposure"]
    if p.get("positions") and not compact:
        panels.append("position")
    if p.get("symbol_pnl") and not compact:
        panels.append("pnl")
    heights = {"price": 2.2, "equity": 1.8, "drawdown": 1.2, "exposure": 1.1, "position": 1.0, "pnl": 1.4}
    fig = Figure(figsize=(8 if compact else 10, sum(heights[k] for k in panels)), layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True, height_ratios=[heights[k] for k in panels])
    axes = list(axes) if len(panels) > 1 else [axes]
    ax_of = dict(zip(panels, axes))
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    if "price" in ax_of:
        ax = ax_of["price"]
        shading = _shade_windows(ax, p)
        for s, (sym, series) in enumerate(zip(p["symbols"], p["price"])):
            _line(ax, series, label=sym, color=_SYMBOL_COLORS[s % len(_SYMBOL_COLORS)])
        by_sym: dict[int, dict[str, list]] = {}
        for s, bar, price, side, liq in p.get("fills", []):
            kind = "liq" if liq else ("buy" if side > 0 else "sell")
            d = by_sym.setdefault(s, {})
            d.setdefault(kind, []).append((bar, float(price)))
        labelled: set[str] = set()
        for kinds in by_sym.values():
            for kind, pts in kinds.items():
                marker = {"buy": "^", "sell": "v", "liq": "X"}[kind]
                label = {"buy": "buy fill", "sell": "sell fill", "liq": "liquidation"}[kind]
                ax.scatter([b for b, _ in pts], [v for _, v in pts], s=30 if kind == "liq" else 16, marker=marker,
                           color=_COLORS[kind], zorder=3, linewidths=0, label=None if label in labelled else label)
                labelled.add(label)
        ax.set_ylabel("close (start = 100)" if p.get("price_normalised") else f"true close{_unit(p)}")
        ax.set_title("market" + (" (shaded: venue stress and the scenario's windows)" if shading else ""),
                     loc="left")
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles + shading, labels + [h.get_label() for h in shading], loc="upper left",
                  bbox_to_anchor=(1.005, 1.0), fontsize=6, frameon=False, borderaxespad=0)
    ax = ax_of["equity"]
    if baseline and baseline.get("equity"):
        _line(ax, baseline["equity"], color=_COLORS["baseline"], label="baseline", linestyle="--")
    _line(ax, p.get("equity"), color=_COLORS["equity"], label="equity")
    ax.set_ylabel(f"equity{_unit(p)}")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    _legend(ax)
    ax = ax_of["drawdown"]
    if baseline and baseline.get("drawdown"):
        _line(ax, baseline["drawdown"], color=_COLORS["baseline"], linestyle="--")
    dd = p.get("drawdown")
    if dd and dd.get("x"):
        ax.fill_between(dd["x"], 0, _nums(dd["y"]), color=_COLORS["drawdown"], alpha=0.35, linewidth=0)
    ax.invert_yaxis()
    ax.set_ylabel("drawdown %")
    _mark_drawdown(ax_of["equity"], ax, p.get("extremes"))
    if "exposure" in ax_of:
        _exposure(ax_of["exposure"], p)
    if "position" in ax_of:
        ax = ax_of["position"]
        order = p.get("symbols") or list(p["positions"])
        for sym, series in p["positions"].items():
            i = order.index(sym) if sym in order else 0
            _line(ax, series, label=sym, color=_SYMBOL_COLORS[i % len(_SYMBOL_COLORS)], drawstyle="steps-post")
        ax.axhline(0, color="#757575", linewidth=0.5)
        ax.set_ylabel("position\n(units, short < 0)")
        _legend(ax)
    if "pnl" in ax_of:
        ax = ax_of["pnl"]
        order = p.get("symbols") or list(p["symbol_pnl"])
        for sym, series in p["symbol_pnl"].items():
            i = order.index(sym) if sym in order else 0
            _line(ax, series, label=sym, color=_SYMBOL_COLORS[i % len(_SYMBOL_COLORS)])
        ax.set_ylabel(f"PnL by symbol\n{_unit(p).strip()}")
        _legend(ax)
    for i, a in enumerate(axes):
        _xticks(a, p.get("ticks", []), i == len(axes) - 1)
    return _svg(fig)


def _exposure(ax: Any, p: dict[str, Any]) -> None:
    """Signed net exposure over equity; the stretches where it is short (below zero) shaded red
    (rectangles, a few bytes each, not a second copy of the curve)."""
    ex = p.get("exposure")
    signed = p.get("exposure_kind") == "net"
    if ex and ex.get("x"):
        _line(ax, ex, color=_COLORS["exposure"])
        if signed:
            for i, (a, b) in enumerate(_below_zero(ex["x"], _nums(ex["y"]))):
                ax.axvspan(a, b, color=_COLORS["short"], alpha=0.15, linewidth=0, label="short" if i == 0 else None)
    ax.axhline(0, color="#757575", linewidth=0.5)
    ax.set_ylabel("net exposure\n/ equity" if signed else f"{p.get('exposure_kind', 'gross')} exposure\n/ equity")
    _legend(ax)


def _below_zero(x: list, y: list[float]) -> list[tuple[float, float]]:
    """``(first x, next x)`` of each run of points below zero."""
    runs: list[tuple[float, float]] = []
    start = None
    for i, v in enumerate(y):
        if v < 0 and start is None:
            start = x[i]
        elif not v < 0 and start is not None:
            runs.append((start, x[i]))
            start = None
    if start is not None:
        runs.append((start, x[-1] + 1))
    return runs


def _paths_svg(p: dict[str, Any], title: str) -> str:
    Figure = require_matplotlib()
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax, ax_dd = fig.subplots(2, 1, sharex=True, height_ratios=[2.4, 1.2])
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    fan = p.get("fan")
    if fan:
        x = fan["x"]
        ax.fill_between(x, _nums(fan["p5"]), _nums(fan["p95"]), color=_COLORS["fan_outer"], linewidth=0,
                        label="p5-p95")
        ax.fill_between(x, _nums(fan["p25"]), _nums(fan["p75"]), color=_COLORS["fan_inner"], linewidth=0,
                        label="p25-p75")
        _line(ax, fan["median"], color=_COLORS["median"], linewidth=1.0, label="median")
    worst = p.get("worst")
    if worst:
        _line(ax, worst["equity"], color=_COLORS["worst"], linewidth=1.0,
              label=f"worst path: seed {worst['seed']} (max drawdown {worst['max_drawdown']:.2f}%)")
        dd = worst["drawdown"]
        ax_dd.fill_between(dd["x"], 0, _nums(dd["y"]), color=_COLORS["worst"], alpha=0.35, linewidth=0)
        ax_dd.invert_yaxis()
        _mark_drawdown(ax, ax_dd, worst.get("extremes"))
    ax.set_ylabel(f"equity{_unit(p)}")
    sample = p.get("sample")
    of = f" (the first {sample})" if sample and sample < (p.get("successful") or 0) else ""
    ax.set_title(f"{p.get('paths')} paths: equity percentiles per bar{of}", loc="left")
    _legend(ax)
    ax_dd.set_ylabel("worst path\ndrawdown %")
    _xticks(ax, p.get("ticks", []), False)
    _xticks(ax_dd, p.get("ticks", []), True)
    return _svg(fig)


_RC = {"svg.fonttype": "none", "svg.hashsalt": "pytest-stress", "font.size": 8, "axes.titlesize": 9,
       "axes.spines.top": False, "axes.spines.right": False, "path.simplify": True,
       "path.simplify_threshold": 0.5}


def case_svg(payload: dict[str, Any], title: str, baseline: dict[str, Any] | None = None) -> str:
    """The SVG of one case's payload (``report.payload``): a run's stacked panels or a Monte Carlo fan."""
    require_matplotlib()
    import matplotlib   # lazy: the report is an optional extra

    with matplotlib.rc_context(_RC):   # the user's own matplotlib settings stay as they were
        if payload.get("kind") == "paths":
            return _paths_svg(payload, title)
        return _run_svg(payload, baseline, title)


def equity_svg(payload: dict[str, Any], title: str) -> str:
    """One case's equity and drawdown only (a run's two panels, or a Monte Carlo fan and its worst
    path's drawdown), 8 inches wide: the service dashboard's chart of a run."""
    require_matplotlib()
    import matplotlib   # lazy: the report is an optional extra

    with matplotlib.rc_context(_RC):
        if payload.get("kind") == "paths":
            return _paths_svg(payload, title)
        return _run_svg(payload, None, title, compact=True)


def distribution_svg(series: dict[str, tuple[list[float], list[float]]], gid: str = "dist") -> str:
    """Histograms of metrics over a verdict's paths, one small panel each: ``{metric: (values where
    the assertion held, values where it failed)}``, the failing ones stacked in red. SVG ids
    ``{gid}-{metric}-held-{bin}`` and ``{gid}-{metric}-failed-{bin}``."""
    Figure = require_matplotlib()
    import matplotlib   # lazy: the report is an optional extra

    from ..result.metrics import metric   # lazy: light, with the report

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(10, 1.5), layout="constrained")
        axes = fig.subplots(1, len(series))
        axes = list(axes) if len(series) > 1 else [axes]
        for ax, (name, (held, failed)) in zip(axes, series.items()):
            both = held + failed
            if not both:
                continue
            lo, hi = min(both), max(both)
            bins = [lo + (hi - lo) * i / 20 for i in range(21)] if hi > lo else [lo - 0.5, lo + 0.5]
            _, _, bars = ax.hist([held, failed], bins=bins, stacked=True, color=["#9e9e9e", _COLORS["drawdown"]],
                                 label=["held", "failed"])
            for part, which in zip(bars, ("held", "failed")):
                for k, patch in enumerate(part):
                    patch.set_gid(f"{gid}-{name}-{which}-{k}")
            ax.set_title(f"{metric(name).header} ({name}) over {len(both)} paths", loc="left", fontsize=7)
            ax.set_ylabel("paths")
        return _svg(fig)
