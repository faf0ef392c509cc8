"""Results as pandas DataFrames (the edge of the library: the run itself never touches pandas).

- ``equity_frame``: one row per bar on the scenario's UTC index: equity, drawdown, cash,
  exposure and each traded symbol's position;
- ``trades_frame`` / ``executions_frame``: one row per closed trade / per order outcome,
  with the bar's timestamp beside the bar number;
- ``paths_frame``: one row per Monte Carlo path with its seed and every metric.

Positions and cash are the run's own account curves (a test checks ``cash + position
value == equity`` at every bar).
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .metrics import METRIC_FIELDS

if TYPE_CHECKING:
    from .models import ScenarioResult
    from .paths import PathsResult

__all__ = ["holdings", "equity_frame", "trades_frame", "executions_frame", "paths_frame"]


def _index(timestamps: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(timestamps, dtype=np.int64).astype("datetime64[ns]"), tz="UTC",
                            name="timestamp")


def holdings(result: "ScenarioResult") -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(symbols, positions, cash)`` after every bar: positions shaped (symbol, bar) in units.

    From the run's own account curves (``ScenarioResult.positions`` and ``cash_curve``);
    a result without them (read from an older file) has them rebuilt from its fills, which
    is exact for an account whose cash changes only on fills (no funding or interest).
    """
    n = len(result.equity_curve)
    positions = np.asarray(getattr(result, "positions", np.empty((0, 0))), dtype=np.float64)
    cash_curve = np.asarray(getattr(result, "cash_curve", np.empty(0)), dtype=np.float64)
    symbols = list(getattr(result, "symbols", ()) or ())
    if positions.ndim == 2 and positions.shape == (len(symbols), n) and cash_curve.shape == (n,) and symbols:
        return symbols, positions, cash_curve
    symbols = []
    fills = [e for e in result.executions if e.filled_qty > 0]
    for e in fills:
        if e.symbol not in symbols:
            symbols.append(e.symbol)
    qty = np.zeros((len(symbols), n))
    flow = np.zeros(n)
    if fills:
        bars = np.array([e.bar for e in fills], dtype=np.int64)
        sign = np.array([1.0 if e.side == "buy" else -1.0 for e in fills])
        amount = np.array([e.filled_qty for e in fills]) * sign
        price = np.array([e.fill_price for e in fills])
        fee = np.array([e.fee for e in fills])
        which = np.array([symbols.index(e.symbol) for e in fills])
        np.add.at(flow, bars, -(amount * price) - fee)
        for s in range(len(symbols)):
            mask = which == s
            np.add.at(qty[s], bars[mask], amount[mask])
        qty = np.cumsum(qty, axis=1)
    cash = result.initial_equity + np.cumsum(flow)
    return symbols, qty, cash


def equity_frame(result: "ScenarioResult") -> pd.DataFrame:
    """Per bar: ``equity``, ``drawdown`` (percent below the running peak), ``cash``,
    ``exposure`` (net value of the positions: equity - cash), ``leverage`` (|exposure| /
    equity) and ``position_<SYMBOL>`` (units) for each symbol, on the UTC index."""
    symbols, qty, cash = holdings(result)
    equity = np.asarray(result.equity_curve, dtype=np.float64)
    exposure = equity - cash
    with np.errstate(divide="ignore", invalid="ignore"):
        leverage = np.where(equity > 0, np.abs(exposure) / equity, np.where(exposure != 0, np.inf, 0.0))
    data: dict[str, Any] = {"equity": equity, "drawdown": np.asarray(result.drawdown_curve, dtype=np.float64),
                            "cash": cash, "exposure": exposure, "leverage": leverage}
    for s, sym in enumerate(symbols):
        data[f"position_{sym}"] = qty[s]
    return pd.DataFrame(data, index=_index(result.timestamps[: len(equity)]))


def _records_frame(records: list[Any], record_type: type, timestamps: np.ndarray, bar_columns: tuple[str, ...]
                   ) -> pd.DataFrame:
    columns = [f.name for f in dataclasses.fields(record_type)]
    df = pd.DataFrame([dataclasses.astuple(r) for r in records], columns=columns)
    ts = np.asarray(timestamps, dtype=np.int64)
    for col in bar_columns:
        bars = df[col].to_numpy(dtype=np.int64)
        ok = (bars >= 0) & (bars < len(ts))
        stamps = np.where(ok, ts[np.clip(bars, 0, max(len(ts) - 1, 0))] if len(ts) else 0, np.iinfo(np.int64).min)
        df[col.replace("bar", "time")] = pd.DatetimeIndex(stamps.astype("datetime64[ns]"), tz="UTC")
    return df


def trades_frame(result: "ScenarioResult") -> pd.DataFrame:
    """One row per closed (or reduced) trade: every ``TradeRecord`` field, plus ``entry_time``
    and ``exit_time`` (UTC) beside ``entry_bar`` and ``exit_bar``."""
    return _records_frame(result.trades, type(result)._RECORDS["trades"], result.timestamps, ("entry_bar", "exit_bar"))


def executions_frame(result: "ScenarioResult") -> pd.DataFrame:
    """One row per order outcome: every ``ExecutionResult`` field, plus ``time`` (UTC) of its bar."""
    return _records_frame(result.executions, type(result)._RECORDS["executions"], result.timestamps, ("bar",))


def paths_frame(paths: "PathsResult") -> pd.DataFrame:
    """One row per Monte Carlo path: ``path``, ``seed``, ``success`` and every metric."""
    frame = pd.DataFrame(paths.table.columns(), columns=["seed", "success", *METRIC_FIELDS])
    frame.index.name = "path"
    return frame
