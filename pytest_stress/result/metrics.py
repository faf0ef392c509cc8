"""The metric vocabulary (one table) and the functions that compute metrics from a run.

``METRICS`` is the single owner of every scalar metric: its name, column header and
format, which direction is worse, and a one-line definition. ``ScenarioResult``'s fields,
the summary table, the failure report, baseline comparisons (compare-fail) and
``docs/metrics.md`` all derive from it or are tested against it.

Definitions follow empyrical (Quantopian): simple per-bar returns; annualisation by
bars per 365-day year from the timeframe; risk-free rate 0; sample standard deviation
(ddof=1). Percentages are numbers like 3.2 for 3.2%.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np

from ..errors import ScenarioError, unknown_name_message

__all__ = ["Metric", "METRICS", "METRIC_FIELDS", "HIGHER", "LOWER", "NEITHER", "metric", "worse_direction",
           "summary_columns", "explained_metrics", "markdown_table", "equity_metrics", "trade_metrics",
           "execution_metrics", "drawdown_curve", "periods_per_year"]

HIGHER, LOWER, NEITHER = "higher", "lower", "neither"


@dataclass(frozen=True)
class Metric:
    """One scalar metric of a ``ScenarioResult``.

    ``worse``: "higher" (a rise is a regression), "lower" (a fall is), or "neither" (no
    natural direction: any change beyond a threshold is flagged). ``column``: its place
    in the summary table (0: not shown); ``explain``: listed in a failing test's report;
    ``nullable``: None is one of its values (its definition says when), else it is always a number.
    """

    name: str
    header: str
    fmt: str
    worse: str
    definition: str
    column: int = 0
    explain: bool = False
    nullable: bool = False

    def format(self, value: Any) -> str:
        """The value as the summary table shows it ('-' for None, 'inf'/'nan' as such)."""
        if value is None:
            return "-"
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        try:
            return self.fmt.format(int(value) if self.fmt == "{:d}" else value)
        except (TypeError, ValueError):
            return str(value)


def _m(name: str, header: str, fmt: str, worse: str, definition: str, *, column: int = 0,
       explain: bool = False) -> Metric:
    return Metric(name, header, fmt, worse, definition, column, explain, nullable="None" in definition)


#: Every scalar metric, in report order.
METRICS: tuple[Metric, ...] = (
    _m("bars_processed", "bars", "{:d}", NEITHER, "bars the run went through"),
    _m("initial_equity", "initial", "{:.2f}", NEITHER, "equity at the start of the run"),
    _m("final_equity", "final", "{:.2f}", LOWER, "equity at the last bar's true close", explain=True),
    _m("total_pnl", "pnl", "{:+.2f}", LOWER, "final equity minus initial equity"),
    _m("total_return_pct", "return %", "{:+.1f}", LOWER, "total pnl as a percentage of the initial equity",
       column=2, explain=True),
    _m("max_drawdown", "max DD %", "{:.1f}", HIGHER,
       "max over bars of 1 - E_t / max_{s<=t} E_s, in percent (at most 100)",
       column=1, explain=True),
    _m("max_drawdown_duration_bars", "DD bars", "{:d}", HIGHER, "the longest run of bars below a previous equity peak"),
    _m("recovery_bars", "recovery", "{:d}", HIGHER,
       "bars from the deepest trough back to its previous peak; None if never recovered"),
    _m("volatility_pct", "vol %", "{:.1f}", HIGHER, "std(r) * sqrt(P) * 100"),
    _m("sharpe_ratio", "sharpe", "{:.2f}", LOWER, "mean(r) / std(r) * sqrt(P)", column=3, explain=True),
    _m("sortino_ratio", "sortino", "{:.2f}", LOWER, "mean(r) * P / (sqrt(mean(min(r, 0)^2)) * sqrt(P))"),
    _m("calmar_ratio", "calmar", "{:.2f}", LOWER,
       "annual return / max drawdown, annual return = (E_end / E_0)^(P / n) - 1 (-1 at ruin; 0 without drawdown)"),
    _m("var_95_pct", "VaR95 %", "{:.2f}", HIGHER, "minus the 5th percentile of r, in percent (a loss, positive)"),
    _m("cvar_95_pct", "CVaR95 %", "{:.2f}", HIGHER,
       "minus the mean of the worst 5% of r (empyrical: the int((n - 1) * 0.05) + 1 smallest), in percent"),
    _m("worst_bar_return_pct", "worst bar %", "{:.2f}", LOWER, "min(r) in percent"),
    _m("total_trades", "trades", "{:d}", NEITHER, "closed (or reduced) positions", column=4, explain=True),
    _m("winning_trades", "wins", "{:d}", NEITHER, "trades with pnl > 0"),
    _m("losing_trades", "losses", "{:d}", HIGHER, "trades with pnl < 0"),
    _m("winrate", "win %", "{:.0f}", LOWER, "winning trades / trades, in percent", column=5, explain=True),
    _m("profit_factor", "PF", "{:.2f}", LOWER, "gross profit / gross loss (inf with no losing trade, 0 with no trade)"),
    _m("avg_win", "avg win", "{:.2f}", LOWER, "mean pnl of winning trades (quote currency)"),
    _m("avg_loss", "avg loss", "{:.2f}", LOWER, "mean pnl of losing trades (negative)"),
    _m("largest_win", "best", "{:.2f}", LOWER, "largest trade pnl"),
    _m("largest_loss", "worst", "{:.2f}", LOWER, "smallest (most negative) trade pnl"),
    _m("expectancy", "expect.", "{:.2f}", LOWER,
       "mean trade pnl; trade pnl is net of the entry fees attributed to the closed quantity and of the exit fee"),
    _m("exposure_pct", "exposure %", "{:.0f}", NEITHER, "share of bars with a non-zero position, in percent"),
    _m("max_leverage", "max lev", "{:.2f}", HIGHER, "max over bars of gross position value / equity"),
    _m("orders_submitted", "orders", "{:d}", NEITHER, "orders the trader sent", explain=True),
    _m("orders_filled", "filled", "{:d}", NEITHER, "orders filled in full"),
    _m("partial_fills", "partial", "{:d}", HIGHER,
       "orders filled in part (participation cap, price band, or partial then cancel)"),
    _m("orders_rejected", "rejected", "{:d}", HIGHER, "orders the exchange rejected"),
    _m("execution_failures", "exec fail", "{:d}", HIGHER,
       "rejections (rate limits included) + timeouts + partial-then-cancel", column=6, explain=True),
    _m("avg_slippage_bps", "slip bps", "{:.1f}", HIGHER,
       "mean market impact + adverse latency drift of fills, in bps of the reference price (half-spread separate)",
       column=7, explain=True),
    _m("max_slippage_bps", "max slip", "{:.1f}", HIGHER, "largest impact + drift of one fill, in bps"),
    _m("total_slippage_cost", "slip cost", "{:.2f}", HIGHER,
       "sum over fills of qty * |fill - reference|: spread, impact and drift paid"),
    _m("total_fees", "fees", "{:.2f}", HIGHER, "maker and taker fees"),
    _m("avg_latency_ms", "lat ms", "{:.0f}", HIGHER, "mean drawn order latency"),
    _m("max_latency_ms", "max lat", "{:.0f}", HIGHER, "largest drawn order latency"),
    _m("risk_rejections", "risk rej", "{:d}", NEITHER, "orders the risk guard rejected", explain=True),
    _m("emergency_stops", "e-stops", "{:d}", NEITHER, "times the safety governor moved from trading to halted",
       column=8, explain=True),
    _m("model_failures", "model fail", "{:d}", NEITHER,
       "bars on which the signal model failed (injected by the scenario)", column=9, explain=True),
    _m("component_errors", "errors", "{:d}", HIGHER, "exceptions recorded with record_errors", explain=True),
    _m("data_issues", "bad bars", "{:d}", NEITHER, "corrupted feed bars the trader was shown (injected)",
       column=10, explain=True),
    _m("liquidations", "liq", "{:d}", HIGHER,
       "positions the venue closed: liquidations (perpetuals) and margin-call closes (margin accounts)",
       column=11, explain=True),
    _m("margin_calls", "m-calls", "{:d}", HIGHER, "margin calls of a margin account (each closes its positions)"),
    _m("margin_rejections", "m-rej", "{:d}", NEITHER,
       "fills refused (status insufficient_margin) or reduced (cash account) by the account's rules", explain=True),
    _m("ruined", "ruined", "{}", HIGHER, "the account could no longer trade (equity at zero after a forced close)",
       explain=True),
    _m("ruin_bar", "ruin bar", "{:d}", NEITHER, "the bar of ruin; None if never ruined"),
    _m("funding_paid", "funding", "{:.2f}", HIGHER,
       "perpetual funding paid (negative: received); longs pay a positive rate"),
    _m("borrow_cost", "borrow", "{:.2f}", HIGHER, "interest paid on borrowed cash and borrowed units (margin)"),
    _m("liquidation_fees", "liq fees", "{:.2f}", HIGHER, "fees charged on forced closes"),
    _m("insurance_fund_loss", "insurance", "{:.2f}", HIGHER,
       "losses beyond a position's margin (or the account's equity) that the insurance fund absorbed"),
    _m("adl_events", "adl", "{:d}", HIGHER,
       "profitable perpetual positions the venue closed by auto-deleveraging when the modelled insurance fund "
       "ran dry (status adl)", explain=True),
    _m("max_margin_usage_pct", "margin %", "{:.0f}", HIGHER,
       "max over bars of initial margin used / equity at the close, in percent"),
    _m("min_margin_ratio", "min m-ratio", "{:.2f}", LOWER,
       "min over bars with positions of equity / maintenance requirement at the close (liquidation near 1); "
       "None when never in a position or no maintenance applies", explain=True),
)

#: Metric names, in report order.
METRIC_FIELDS: tuple[str, ...] = tuple(m.name for m in METRICS)
_BY_NAME = {m.name: m for m in METRICS}


def metric(name: str) -> Metric:
    """The table row of ``name``; an error with close matches for an unknown name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ScenarioError(unknown_name_message("metric", name, METRIC_FIELDS)) from None


def worse_direction(name: str) -> str:
    """"higher", "lower" or "neither": which way a change of ``name`` is a regression."""
    return metric(name).worse


def summary_columns() -> tuple[Metric, ...]:
    """The metrics the summary table shows, in order."""
    return tuple(sorted((m for m in METRICS if m.column), key=lambda m: m.column))


def explained_metrics() -> tuple[Metric, ...]:
    """The metrics a failing test's report lists."""
    return tuple(m for m in METRICS if m.explain)


def markdown_table() -> str:
    """The definitions table of ``docs/metrics.md``, generated from ``METRICS``."""
    lines = ["| metric | worse when | definition |", "|---|---|---|"]
    lines += [f"| `{m.name}` | {m.worse if m.worse != NEITHER else 'either way (no direction)'} | {m.definition} |"
              for m in METRICS]
    return "\n".join(lines)


def periods_per_year(bar_seconds: int) -> float:
    return 365 * 86_400 / bar_seconds


def drawdown_curve(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak, in percent (0 at a new high, positive below it)."""
    peak = np.maximum.accumulate(equity)
    return _drawdown_from_peak((equity,), peak, 100.0)


def _drawdown_from_peak(curve: Sequence[np.ndarray], peak: np.ndarray, scale: float | None) -> np.ndarray:
    """(1 - curve / peak) (times ``scale`` if given) where the peak is positive, else ``scale or 1``;
    written into ``peak`` (which the caller hands over) instead of new arrays. ``curve``: the
    curve in consecutive pieces (no array of the whole curve is needed)."""
    dd = peak
    bad = ~(peak > 0)
    start = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for piece in curve:
            stop = start + len(piece)
            np.divide(piece, peak[start:stop], out=dd[start:stop])
            start = stop
    np.subtract(1.0, dd, out=dd)
    if scale is not None:
        dd *= scale
    np.copyto(dd, 1.0 if scale is None else scale, where=bad)
    return dd


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


def _bar_returns(equity: np.ndarray, initial: float, out: np.ndarray | None = None) -> np.ndarray:
    """Simple return of each bar from the equity after it (``initial`` before bar 0), ruin-aware:
    -100% on the bar equity reaches zero (or below, or NaN), 0 on every bar after a non-positive
    equity. Into ``out`` if given (else one new array); no copy of the curve with ``initial`` in front."""
    n = len(equity)
    r = np.empty(n) if out is None else out
    if n == 0:
        return r
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(equity[:1], initial, out=r[:1])
        np.divide(equity[1:], equity[:-1], out=r[1:])
    r -= 1.0
    np.copyto(r, -1.0, where=~(equity > 0))          # the bar of ruin: -100%
    if not initial > 0:                              # after ruin: flat
        r[0] = 0.0
    np.copyto(r[1:], 0.0, where=~(equity[:-1] > 0))
    return r


def _sample_std_in_place(x: np.ndarray) -> float:
    """``x.std(ddof=1)`` of a 1-D float64 array of two or more values, with numpy's operations in
    numpy's order (the mean, the squared deviations from it, their sum over n - 1), but in ``x``'s
    own memory instead of a temporary of its size: ``x`` is overwritten."""
    mean = np.add.reduce(x, keepdims=True)
    np.true_divide(mean, len(x), out=mean)
    np.subtract(x, mean, out=x)
    np.square(x, out=x)
    return float(np.sqrt(np.add.reduce(x) / (len(x) - 1)))


def _percentile_5(r: np.ndarray, worst: int) -> float:
    """``np.percentile(r, 5)`` ('linear') of ``r`` already partitioned at ``worst`` = int((len - 1) * 0.05),
    numpy's own arithmetic on the two order statistics around (len - 1) * 0.05 (the floor and the
    next: the smallest value after ``worst``), without its general machinery (a sixth of the
    measure). Fewer than two values, or a NaN: numpy's function itself (r is partitioned in place)."""
    n = len(r)
    if n < 2 or np.isnan(r[worst:]).any():      # a NaN sorts last: only the values from worst on can hold one
        return float(np.percentile(r, 5, overwrite_input=True))
    virtual = (n - 1) * (5 / 100)                # numpy: (n - 1) * quantile, in float64
    gamma = virtual - math.floor(virtual)        # floor(virtual) == worst
    a, b = float(r[worst]), float(np.min(r[worst + 1:]))
    diff = b - a                                 # numpy's _lerp, from the nearer end
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


def equity_metrics(equity: np.ndarray, gross: np.ndarray, initial: float, bar_seconds: int,
                   drawdown: np.ndarray | None = None) -> dict:
    """Return, drawdown, volatility, Sharpe, Sortino, Calmar, VaR/CVaR, exposure and leverage.

    Ruin-aware: no return is computed from a non-positive equity. The bar on which equity
    reaches zero (or below) returns -100%; every later bar whose previous equity is not
    positive returns 0 (the account is flat at ruin). Drawdown is at most 100%; leverage
    is taken over bars with positive equity. The annualised return of Calmar is computed
    in log space (inf past float range, never an OverflowError), and is -100% at ruin.

    ``drawdown``: ``drawdown_curve`` of the curve with the initial equity in front, if the
    caller has it (computed here otherwise).

    Memory (issue #16): one bar-length float array beyond the inputs is alive at a time (the
    running peak, then the returns, then the leverage), with a bar-length bool or int8 array
    or two; the curve with the initial equity in front is never made, and VaR partitions the
    returns in place.
    """
    n = len(equity)
    out: dict = {"bars_processed": n, "initial_equity": initial}
    final = float(equity[-1]) if n else initial
    out["final_equity"] = final
    out["total_pnl"] = final - initial
    out["total_return_pct"] = (final / initial - 1.0) * 100.0
    ppy = periods_per_year(bar_seconds)
    if drawdown is None:
        drawdown = drawdown_curve(np.concatenate([[initial], equity]))
    out["max_drawdown"] = min(float(drawdown[1:].max()), 100.0) if n else 0.0
    del drawdown
    out.update(_drawdown_durations(equity, initial))
    # the returns, in one array: overwritten by the deviations of the std, then by the downside
    # squares, and made again each time (cheaper than a second array of the run's length)
    r = _bar_returns(equity, initial)
    mean = float(r.mean()) if n else 0.0
    worst_bar = float(r.min()) * 100.0 if n else 0.0
    sd = _sample_std_in_place(r) if n > 1 else 0.0
    out["volatility_pct"] = sd * math.sqrt(ppy) * 100.0
    out["sharpe_ratio"] = mean / sd * math.sqrt(ppy) if sd > 0 else 0.0
    if n:
        low = np.minimum(_bar_returns(equity, initial, out=r), 0.0, out=r)
        np.square(low, out=low)
        downside = math.sqrt(float(np.mean(low))) * math.sqrt(ppy)
        del low
    else:
        downside = 0.0
    out["sortino_ratio"] = _finite(mean * ppy / downside) if downside > 0 else 0.0
    years = n / ppy
    growth = final / initial
    if years > 0 and growth > 0:
        exponent = math.log(growth) / years
        annual = math.expm1(exponent) if exponent < 700 else math.inf
    else:
        annual = -1.0          # ruined (or no time): -100% a year
    mdd = out["max_drawdown"] / 100.0
    out["calmar_ratio"] = _finite(annual / mdd) if mdd > 0 else 0.0
    if n:
        _bar_returns(equity, initial, out=r)
        worst = max(int((n - 1) * 0.05), 0)          # empyrical's conditional_value_at_risk
        r.partition(worst)                           # r is ours: partitioned in place, no copy
        cvar = -float(np.mean(r[:worst + 1])) * 100.0
        out["var_95_pct"] = -_percentile_5(r, worst) * 100.0
        out["worst_bar_return_pct"] = worst_bar
        out["cvar_95_pct"] = cvar
    del r
    positive = equity > 0
    lev = np.where(positive, equity, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(gross, lev, out=lev)
    np.copyto(lev, 0.0, where=~positive)
    out["exposure_pct"] = float(np.count_nonzero(gross) / n * 100.0) if n else 0.0
    out["max_leverage"] = float(lev.max()) if n else 0.0
    return out


def _drawdown_durations(equity: np.ndarray, initial: float) -> dict:
    """Longest stretch below a previous peak, and bars from the deepest trough back to its peak,
    of the curve ``initial`` then ``equity`` (that curve is not made: one array, its running peak)."""
    n = len(equity)
    peak = np.empty(n + 1)
    peak[0] = initial
    peak[1:] = equity
    np.maximum.accumulate(peak, out=peak)
    under = np.empty(n + 3, dtype=np.int8)                # 0, curve < peak, 0
    under[0] = under[-1] = 0
    under[1] = initial < peak[0]
    np.less(equity, peak[1:], out=under[2:-1])
    edges = np.flatnonzero(np.diff(under))
    del under
    longest = int((edges[1::2] - edges[::2]).max()) if len(edges) else 0
    head = np.array([initial], dtype=np.float64)
    dd = _drawdown_from_peak((head, equity), peak, None)   # peak is overwritten: keep what recovery needs
    trough = int(np.argmax(dd))
    recovery: int | None = 0
    if dd[trough] > 0:
        # the running peak at the trough, and the first bar from the trough on back at it
        level = float(np.maximum.reduce(equity[:trough], initial=head[0])) if trough else float(head[0])
        if trough == 0 and head[0] >= level:
            recovery = 0
        else:
            after = np.flatnonzero(equity[max(trough - 1, 0):] >= level)
            recovery = int(after[0]) + (1 if trough == 0 else 0) if len(after) else None
    return {"max_drawdown_duration_bars": longest, "recovery_bars": recovery}


def trade_metrics(trades: Sequence[Any]) -> dict:
    """Counts, win rate (%), profit factor, average and extreme wins and losses, expectancy."""
    pnl = np.fromiter(map(attrgetter("pnl"), trades), np.float64, len(trades))
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_win, gross_loss = float(wins.sum()), float(-losses.sum())
    n = len(pnl)
    return {
        "total_trades": n,
        "winning_trades": len(wins),
        "losing_trades": len(losses),
        "winrate": len(wins) / n * 100.0 if n else 0.0,
        "profit_factor": gross_win / gross_loss if gross_loss > 0 else (math.inf if gross_win > 0 else 0.0),
        "avg_win": float(wins.mean()) if len(wins) else 0.0,
        "avg_loss": float(losses.mean()) if len(losses) else 0.0,
        "largest_win": float(wins.max()) if len(wins) else 0.0,
        "largest_loss": float(losses.min()) if len(losses) else 0.0,
        "expectancy": float(pnl.mean()) if n else 0.0,
    }


def execution_metrics(executions: Sequence[Any]) -> dict:
    """Fill, failure, slippage, fee and latency statistics over the exchange's execution records."""
    n = len(executions)

    def column(name: str) -> np.ndarray:     # one field of every record, gathered in C (no bytecode per record)
        return np.fromiter(map(attrgetter(name), executions), np.float64, n)

    qty = column("filled_qty")
    filled = qty > 0
    slips = column("slippage_bps")[filled]
    lat = column("latency_ms")
    lat = lat[lat > 0]
    # summed as Python floats, in record order (sum's own algorithm, as over the records themselves)
    cost = sum((qty[filled] * np.abs(column("fill_price")[filled] - column("reference_price")[filled])).tolist())
    status = Counter(map(attrgetter("status"), executions))      # one pass, in C
    return {
        "orders_filled": status["filled"],
        "partial_fills": status["partial"] + status["partial_cancel"] + status["band_limited"],
        "orders_rejected": status["rejected"],
        "execution_failures": (status["rejected"] + status["rate_limited"] + status["timeout"]
                               + status["partial_cancel"]),
        "avg_slippage_bps": float(slips.mean()) if len(slips) else 0.0,
        "max_slippage_bps": float(slips.max()) if len(slips) else 0.0,
        "total_slippage_cost": float(cost),
        "total_fees": float(sum(map(attrgetter("fee"), executions))),
        "avg_latency_ms": float(lat.mean()) if len(lat) else 0.0,
        "max_latency_ms": float(lat.max()) if len(lat) else 0.0,
    }
