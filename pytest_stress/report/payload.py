"""What a report draws for one case, as a small JSON-safe dict (built where the run happened).

A plugin run builds this on the xdist worker that ran the case and ships it on the test
report, so only downsampled series travel (a few hundred KB at most, whatever the run's
length); the HTML is drawn on the controller. Every series is cut to at most two points
per pixel column by ``downsample.minmax`` (extremes kept), fills to one marker per
column, symbol, side and kind. numpy only: no plotting library is needed here.

The market drawn is the run's true market (what the exchange filled against), rebuilt
from the scenario (a scenario is bit-identical from its seed) when it is not given.
Two kinds of window are marked on the market: the venue's stress windows, the bars where the
exchange's own stress measure (``exchange.conditions``: spread, volatility and volume against
their medians) is at least ``STRESS_SHADE``; and the scenario's own windows, where its kind
places each stress episode (``scenario.kinds.Kind.windows``: the crash, the spike, the
breakdown...), which the venue may feel before or after.

Exposure is signed: the positions' net value over equity (a short is below zero), and each
symbol's position in units (its change points: a position is constant between fills).
``position_notes`` names positions the trader did not ask for (``result.positions``).
``currency`` is the quote currency of the symbols (``USDT`` for ``BTCUSDT``), the unit of
prices and equity.
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
from ..result.positions import position_notes
from .downsample import DEFAULT_COLUMNS, envelope, minmax

if TYPE_CHECKING:
    from ..exchange.config import ExchangeConfig
    from ..market.data import MarketViews
    from ..result.models import ScenarioResult
    from ..result.paths import PathsResult
    from ..scenario.definition import Scenario

__all__ = ["case_payload", "run_payload", "paths_payload", "STRESS_SHADE", "PAYLOAD_VERSION", "quote_currency",
           "scenario_windows"]

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


def _steps(y: np.ndarray, width: int) -> dict[str, list]:
    """A piecewise-constant series (a position) as its change points only, drawn as steps: exact
    and a few points for a few trades; a series changing more often than the chart has columns
    is cut as any other (``_series``)."""
    n = len(y)
    if n == 0:
        return {"x": [], "y": []}
    changes = np.flatnonzero(np.diff(y)) + 1
    if len(changes) > 2 * width:
        return _series(y, width)
    x = np.unique(np.concatenate([[0], changes, [n - 1]]))
    return {"x": x.tolist(), "y": [_num(a) for a in y[x].tolist()]}


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


#: Quote currencies recognised at the end of a symbol, longest first (FDUSD before USD).
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "GBP", "JPY", "BTC", "ETH")


def quote_currency(symbols: list[str] | tuple[str, ...]) -> str | None:
    """The quote currency all ``symbols`` share (``USDT`` for ``BTCUSDT``), None if they share none
    that is recognised."""
    found = {next((q for q in _QUOTES if s.upper().endswith(q) and len(s) > len(q)), None) for s in symbols}
    return found.pop() if len(found) == 1 and None not in found else None


def scenario_windows(scenario: "Scenario", n: int) -> list[list[Any]]:
    """``[label, first bar, last bar]`` of each stress episode the scenario's kind places in a run of
    ``n`` bars (``Kind.windows``: start bar ``max(round(start * n), 1)``, the core's length)."""
    from ..scenario.kinds import kind_of   # lazy: the scenario table, only to draw a scenario's windows

    out: list[list[Any]] = []
    for label, start, length in kind_of(scenario.type).windows(scenario.own_parameters()):
        a = max(int(round(start * n)), 1)
        if a < n:
            out.append([label, a, min(a + length - 1, n - 1)])
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
                exchange: "ExchangeConfig | None" = None, width: int = DEFAULT_COLUMNS,
                scenario: "Scenario | None" = None) -> dict[str, Any]:
    """The report data of one run: price path with the venue's stress windows, the scenario's own
    windows (``scenario`` given) and fills, equity, drawdown, signed net exposure and each
    symbol's position, per-symbol PnL (several symbols: fills and marks; funding and interest
    are in equity only), where the run was at its worst, and positions it did not ask for."""
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
    notes = position_notes(result)
    if notes:
        out["position_notes"] = notes
    traded, qty, cash = holdings(result)
    currency = quote_currency(list(getattr(result, "symbols", ()) or traded))
    if currency:
        out["currency"] = currency
    if traded:
        out["positions"] = {sym: _steps(qty[s], width) for s, sym in enumerate(traded)}
    if scenario is not None:
        out["scenario_windows"] = scenario_windows(scenario, n)
    if views is None or views.true.n_bars != n:
        if views is not None:
            log.warning("report: market of %d bars for a run of %d; price path left out", views.true.n_bars, n)
        with np.errstate(divide="ignore", invalid="ignore"):   # equity - cash: the positions' signed net value
            out["exposure"] = _series((equity - cash) / np.where(equity > 0, equity, np.nan), width)
        out["exposure_kind"] = "net"
        return out
    true = views.true
    symbols = list(true.symbols)
    close = true.close
    normalise = len(symbols) > 1
    out["symbols"] = symbols
    currency = quote_currency(symbols)
    if currency:
        out["currency"] = currency
    out["price_normalised"] = normalise
    out["price"] = [_series(close[s] / close[s, 0] * 100.0 if normalise else close[s], width)
                    for s in range(len(symbols))]
    if exchange is not None:
        stress = market_conditions(true, exchange, liquidity=False).venue   # the largest over symbols, per bar
        out["stress_windows"] = _windows(stress, n, width)
    scale = [100.0 / float(close[s, 0]) if normalise else 1.0 for s in range(len(symbols))]
    out["fills"] = _fills(result, symbols, n, width, scale)
    net = np.zeros(n)
    pnl = {}
    for s, sym in enumerate(traded):
        c = close[symbols.index(sym)]
        value = qty[s] * c
        net += value
        if normalise:
            flows = np.zeros(n)
            for e in result.executions:
                if e.filled_qty > 0 and e.symbol == sym:
                    flows[e.bar] -= (1 if e.side == "buy" else -1) * e.filled_qty * e.fill_price + e.fee
            pnl[sym] = _series(value + np.cumsum(flows), width)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["exposure"] = _series(net / np.where(equity > 0, equity, np.nan), width)
    out["exposure_kind"] = "net"
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
    notes = position_notes(worst)
    if notes:
        out["worst"]["position_notes"] = notes
    currency = quote_currency(list(getattr(worst, "symbols", ()) or ()))
    if currency:
        out["currency"] = currency
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
    return run_payload(result, views, exchange, width, scenario)  # type: ignore[arg-type]


def _saved_market(summary: dict[str, Any], n: int) -> tuple[Any, Any, Any]:
    """``(scenario, market views, exchange config)`` rebuilt from a saved entry's
    ``scenario_definition`` (a scenario is bit-identical from its definition and seed) and its
    options' exchange preset; Nones where it cannot be (an entry saved before definitions were kept,
    a data file gone), with a log line saying why."""
    raw = summary.get("scenario_definition")
    if not raw:
        return None, None, None
    from ..runner import exchange_config   # lazy: the venue, only to shade a saved run's stress windows
    from ..scenario.definition import Scenario   # lazy: as above

    try:
        scenario = Scenario.from_dict(raw)
        views = scenario.build_market()
    except Exception as exc:   # a data file moved, a definition from another version: the chart goes on
        log.warning("report: market of %r not rebuilt from its saved definition (%s: %s); no price panel",
                    summary.get("scenario"), type(exc).__name__, exc)
        return None, None, None
    if views.true.n_bars != n:
        return scenario, None, None
    chosen = (summary.get("options") or {}).get("exchange")
    try:
        exchange = exchange_config(chosen) if isinstance(chosen, str) else None
    except Exception:   # a preset this version does not know: no stress shading, the rest is drawn
        exchange = None
    return scenario, views, exchange


def detail_payload(summary: dict[str, Any], width: int = DEFAULT_COLUMNS) -> dict[str, Any] | None:
    """Chart data from a saved entry's ``detail`` (``--stress-save-detail``: every run's curves
    and trades), or None without one. The market is rebuilt from the entry's
    ``scenario_definition`` when it has one (the price panel, the venue's stress windows under the
    exchange preset it was saved under, the scenario's windows)."""
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
    scenario, views, exchange = _saved_market(summary, len(runs[0].equity_curve))
    return run_payload(runs[0], views, exchange, width, scenario)
