"""What a report draws for one case, as a small JSON-safe dict (built where the run happened).

A plugin run builds this on the xdist worker that ran the case and ships it on the test
report, so only downsampled series travel (a few hundred KB at most, whatever the run's
length); the HTML is drawn on the controller. Every series is cut to at most two points
per pixel column by ``downsample.minmax`` (extremes kept), fills to one marker per
column, symbol, side and kind. numpy only: no plotting library is needed here.

The market drawn is the run's true market (what the exchange filled against), rebuilt
from the scenario (a scenario is bit-identical from its seed) when it is not given.
Stress windows are the bars where the exchange's own stress measure
(``exchange.conditions``: spread, volatility and volume against their medians) is at
least ``STRESS_SHADE``.
"""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exchange.conditions import market_conditions
from ..result.extremes import extremes, utc_stamp
from ..result.frames import holdings
from ..result.paths import fan_of
from .downsample import DEFAULT_COLUMNS, envelope, minmax

if TYPE_CHECKING:
    from ..exchange.config import ExchangeConfig
    from ..market.data import MarketViews
    from ..result.models import ScenarioResult
    from ..result.paths import PathsResult
    from ..scenario.definition import Scenario

__all__ = ["case_payload", "run_payload", "paths_payload", "STRESS_SHADE", "PAYLOAD_VERSION"]

log = logging.getLogger("pytest_stress")

#: Bars whose market stress (0 calm .. 1 crisis) is at least this are shaded as stress windows.
STRESS_SHADE = 0.5
PAYLOAD_VERSION = 1
_MAX_FILL_MARKERS = 3 * DEFAULT_COLUMNS


def _num(v: float) -> Any:
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return float(f"{v:.6g}")


def _series(y: np.ndarray, width: int) -> dict[str, list]:
    x, v = minmax(y, width)
    return {"x": x.tolist(), "y": [_num(a) for a in v.tolist()]}


def _ticks(timestamps: np.ndarray, count: int = 6) -> list[list]:
    """(bar, 'YYYY-MM-DD HH:MM') pairs for the x axis (bars on the axis, times on the labels)."""
    n = len(timestamps)
    if n == 0:
        return []
    bars = np.unique(np.linspace(0, n - 1, count).astype(np.int64))
    return [[int(b), utc_stamp(timestamps[b])[:16].replace("T", " ")] for b in bars]


def _windows(stress: np.ndarray, n: int, width: int) -> list[list[int]]:
    """[start, end] bar ranges where stress >= STRESS_SHADE, merged when less than 1% of the run apart."""
    hot = stress >= STRESS_SHADE
    if not hot.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], hot.astype(np.int8), [0]])))
    spans = edges.reshape(-1, 2)
    gap = max(1, n // 100)    # windows less than 1% of the run apart are drawn as one
    out: list[list[int]] = []
    for a, b in spans.tolist():
        if out and a - out[-1][1] <= gap:
            out[-1][1] = b - 1
        else:
            out.append([a, b - 1])
    return out


def _fills(result: "ScenarioResult", symbols: list[str], n: int, width: int, scale: list[float]) -> list[list]:
    """[symbol index, bar, price x scale, side (+1 buy / -1 sell), liquidation (0/1)], one per
    column, symbol, side and kind (``scale``: per symbol, as the price panel draws it)."""
    seen: set[tuple] = set()
    out: list[list] = []
    for e in result.executions:
        if e.filled_qty <= 0 or e.symbol not in symbols:
            continue
        liq = int(e.status == "liquidation" or "liquidat" in (e.reason or ""))
        side = 1 if e.side == "buy" else -1
        key = (e.bar * width // max(n, 1), e.symbol, side, liq)
        if key in seen:
            continue
        seen.add(key)
        s = symbols.index(e.symbol)
        out.append([s, int(e.bar), _num(e.fill_price * scale[s]), side, liq])
        if len(out) >= _MAX_FILL_MARKERS:
            break
    return out


def run_payload(result: "ScenarioResult", views: "MarketViews | None" = None,
                exchange: "ExchangeConfig | None" = None, width: int = DEFAULT_COLUMNS) -> dict[str, Any]:
    """The report data of one run: price path with stress windows and fills, equity, drawdown,
    exposure, per-symbol PnL (several symbols: fills and marks; funding and interest are in
    equity only), and where the run was at its worst."""
    equity = np.asarray(result.equity_curve, dtype=np.float64)
    n = len(equity)
    ts = np.asarray(result.timestamps, dtype=np.int64)
    out: dict[str, Any] = {"version": PAYLOAD_VERSION, "kind": "run", "bars": n, "seed": result.seed,
                           "initial_equity": result.initial_equity, "ticks": _ticks(ts)}
    if n == 0:
        return out
    out["equity"] = _series(equity, width)
    out["drawdown"] = _series(np.asarray(result.drawdown_curve, dtype=np.float64), width)
    out["extremes"] = extremes(equity, ts, result.initial_equity)
    traded, qty, cash = holdings(result)
    if views is None or views.true.n_bars != n:
        if views is not None:
            log.warning("report: market of %d bars for a run of %d; price path left out", views.true.n_bars, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["exposure"] = _series(np.abs(equity - cash) / np.where(equity > 0, equity, np.nan), width)
        out["exposure_kind"] = "net"      # without the market: |equity - cash|, the positions' net value
        return out
    true = views.true
    symbols = list(true.symbols)
    close = true.close
    normalise = len(symbols) > 1
    out["symbols"] = symbols
    out["price_normalised"] = normalise
    out["price"] = [_series(close[s] / close[s, 0] * 100.0 if normalise else close[s], width)
                    for s in range(len(symbols))]
    if exchange is not None:
        stress = market_conditions(true, exchange, liquidity=False).venue   # the largest over symbols, per bar
        out["stress_windows"] = _windows(stress, n, width)
    scale = [100.0 / float(close[s, 0]) if normalise else 1.0 for s in range(len(symbols))]
    out["fills"] = _fills(result, symbols, n, width, scale)
    gross = np.zeros(n)
    pnl = {}
    for s, sym in enumerate(traded):
        c = close[symbols.index(sym)]
        value = qty[s] * c
        gross += np.abs(value)
        if normalise:
            flows = np.zeros(n)
            for e in result.executions:
                if e.filled_qty > 0 and e.symbol == sym:
                    flows[e.bar] -= (1 if e.side == "buy" else -1) * e.filled_qty * e.fill_price + e.fee
            pnl[sym] = _series(value + np.cumsum(flows), width)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["exposure"] = _series(np.where(equity > 0, gross / equity, np.nan), width)
    out["exposure_kind"] = "gross"
    if pnl:
        out["symbol_pnl"] = pnl
    return out


def _curve_fan(results: "list[ScenarioResult]", width: int) -> dict[str, Any] | None:
    """The fan of full runs' equity curves (saved entries with every path's curves)."""
    sketches = [(len(r.equity_curve), envelope(np.asarray(r.equity_curve, dtype=np.float64), width, lower=True)[1],
                 envelope(np.asarray(r.equity_curve, dtype=np.float64), width, lower=False)[1])
                for r in results if r.success and len(r.equity_curve)]
    return fan_of(sketches, width)


def paths_payload(fan: dict[str, Any] | None, worst: "ScenarioResult | None", paths: int, successful: int,
                  seed: int, width: int = DEFAULT_COLUMNS) -> dict[str, Any]:
    """The report data of a Monte Carlo case: percentile bands of equity over the paths
    (``fan``: ``result.paths.fan_of``, p5, p25, median, p75, p95 per chart column) and the
    worst path (deepest drawdown, its full run) with its seed; ``seed``: the scenario's."""
    out: dict[str, Any] = {"version": PAYLOAD_VERSION, "kind": "paths", "paths": paths,
                           "successful": successful, "seed": seed}
    if not fan or worst is None or not worst.success:
        return out
    band = {name: [_num(float(v)) if not isinstance(v, str) else v for v in fan[name]]
            for name in ("p5", "p25", "p75", "p95")}
    band["x"] = list(fan["x"])
    band["median"] = {"x": list(fan["median_x"]),
                      "y": [_num(float(v)) if not isinstance(v, str) else v for v in fan["median"]]}
    ts = np.asarray(worst.timestamps, dtype=np.int64)
    out.update(bars=fan["bars"], sample=fan["sample"], initial_equity=worst.initial_equity, ticks=_ticks(ts), fan=band,
               worst={"seed": worst.seed, "max_drawdown": _num(worst.max_drawdown),
                      "equity": _series(np.asarray(worst.equity_curve, dtype=np.float64), width),
                      "drawdown": _series(np.asarray(worst.drawdown_curve, dtype=np.float64), width),
                      "extremes": extremes(worst.equity_curve, ts, worst.initial_equity)})
    return out


def case_payload(result: "ScenarioResult | PathsResult", scenario: "Scenario | None" = None,
                 exchange: "ExchangeConfig | None" = None, width: int = DEFAULT_COLUMNS) -> dict[str, Any]:
    """The report data of one case: a run (its market rebuilt from ``scenario`` when given)
    or a Monte Carlo aggregate (its worst path rerun from its seed when it ran elsewhere)."""
    if hasattr(result, "table"):
        paths: PathsResult = result  # type: ignore[assignment]
        worst = paths.worst("max_drawdown") if paths.successful else None
        return paths_payload(paths.fan(width), worst, paths.paths, paths.successful, paths.scenario.seed, width)
    views = None
    if scenario is not None and result.success:
        views = scenario.build_market()
    return run_payload(result, views, exchange, width)  # type: ignore[arg-type]


def detail_payload(summary: dict[str, Any], width: int = DEFAULT_COLUMNS) -> dict[str, Any] | None:
    """Chart data from a saved entry's ``detail`` (``--stress-save-detail``: every run's curves
    and trades), or None without one. The market is not in a saved entry, so there is no price
    panel; save with ``--stress-report`` too for that."""
    detail = summary.get("detail")
    if not detail:
        return None
    from ..result.models import ScenarioResult   # lazy: only saved files with detail need the result type

    runs = [ScenarioResult.from_dict(d) for d in detail]
    if summary.get("paths"):   # the worst path's run, and the fan (older files: every path's run)
        ok = [r for r in runs if r.success]
        worst = max(ok, key=lambda r: r.max_drawdown) if ok else None
        fan = summary.get("fan") or _curve_fan(runs, width)
        return paths_payload(fan, worst, int(summary["paths"]), int(summary.get("successful", len(ok))),
                             int(summary.get("seed", 0)), width)
    return run_payload(runs[0], None, None, width)
