"""The account: cash and positions with average prices, closed-trade records, and equity at every bar."""
from __future__ import annotations

import numpy as np

from ..result.models import TradeRecord

__all__ = ["Portfolio", "mark_to_market"]


class Portfolio:
    """Accounting in cash and units, marked at the true close (``mark``).

    Invariant (tested): equity == cash + sum(qty * close) at every bar, and
    final equity == initial + realised PnL + unrealised PnL - fees.
    """

    __slots__ = ("symbols", "qty", "avg", "cash", "entry_fees", "entry_bar", "trades", "_closes", "close0")

    def __init__(self, symbols: tuple[str, ...], cash: float, close: "np.ndarray | None" = None) -> None:
        n = len(symbols)
        self.symbols = symbols
        self.qty = [0.0] * n
        self.avg = [0.0] * n
        self.cash = float(cash)
        self._closes = None if close is None else memoryview(close)   # [symbol, bar] -> a float
        #: [bar] -> the first symbol's true close (1-D: cheaper); BarContext.equity marks with it too
        self.close0 = None if close is None else memoryview(close[0])
        self.entry_fees = [0.0] * n
        self.entry_bar = [0] * n
        self.trades: list[TradeRecord] = []

    def drop_market(self) -> None:
        """The run is over: let go of the true closes (``mark`` no longer works; the trades remain)."""
        self._closes = self.close0 = None

    def fill(self, s: int, sign: int, qty: float, price: float, fee: float, bar: int, reason: str = "signal") -> None:
        """Apply a fill of ``qty`` units (``sign`` +1 buy, -1 sell) at ``price`` paying ``fee``.

        ``reason`` becomes the exit reason of any trade this fill closes: "signal" (the
        trader's order), "stop", "liquidation", "margin_call" or "adl"."""
        self.cash -= sign * qty * price + fee
        qtys, avgs = self.qty, self.avg
        pos = qtys[s]
        if pos == 0.0:
            qtys[s] = sign * qty
            avgs[s] = price
            self.entry_fees[s] = fee
            self.entry_bar[s] = bar
            return
        size = pos if pos > 0.0 else -pos
        if (pos > 0.0) == (sign > 0):
            new = pos + sign * qty
            avgs[s] = (avgs[s] * size + price * qty) / (size + qty)
            self.entry_fees[s] += fee
            qtys[s] = new
            return
        closing = qty if qty < size else size
        avg = avgs[s]
        gross = (price - avg) * closing if pos > 0.0 else (avg - price) * closing
        entry_fee = self.entry_fees[s] * closing / size
        exit_fee = fee * closing / qty
        self.entry_fees[s] -= entry_fee
        net = gross - entry_fee - exit_fee
        self.trades.append(TradeRecord(self.symbols[s], "long" if pos > 0.0 else "short", closing, self.entry_bar[s],
                                       bar, avg, price, net, 100.0 * net / (avg * closing), entry_fee + exit_fee,
                                       reason))
        new = pos + sign * qty
        if abs(new) <= 1e-12 * (size if size > qty else qty):
            new = 0.0
        if new == 0.0:
            avgs[s] = 0.0
            self.entry_fees[s] = 0.0
        elif (new > 0.0) != (pos > 0.0):   # flipped through zero: the rest opens at this price
            avgs[s] = price
            self.entry_fees[s] = fee * (qty - closing) / qty
            self.entry_bar[s] = bar
        qtys[s] = new

    def open_trades(self, bar: int, closes: list[float]) -> list[TradeRecord]:
        """The positions still open, as trades marked at ``closes`` with exit reason "end_of_run"
        (the account is not changed: no fee, no cash moves)."""
        out = []
        for s, q in enumerate(self.qty):
            if q == 0.0:
                continue
            size, avg, price = abs(q), self.avg[s], closes[s]
            gross = (price - avg) * size if q > 0 else (avg - price) * size
            net = gross - self.entry_fees[s]
            out.append(TradeRecord(self.symbols[s], "long" if q > 0 else "short", size, self.entry_bar[s], bar, avg,
                                   price, net, 100.0 * net / (avg * size), self.entry_fees[s], "end_of_run"))
        return out

    def mark(self, t: int) -> float:
        """Equity at bar ``t``'s close: cash plus every position at that close."""
        qty = self.qty
        if len(qty) == 1:
            q = qty[0]
            return self.cash + q * self.close0[t] if q else self.cash
        eq = self.cash
        for s, q in enumerate(qty):
            if q:
                eq += q * self._closes[s, t]
        return eq


def mark_to_market(bars: list[int], cash: list[float], qty: list[float], initial: float,
                   close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Equity, gross exposure, positions (symbol, bar) and the positions' net value at every
    bar's true close, from the account after each bar on which it changed (fills, forced
    closes, funding, interest): ``bars[i]``, ``cash[i]`` and ``qty[i * k:(i + 1) * k]`` for k symbols.

    Cash and positions only change on fills, so the per-bar marks are computed once,
    vectorised, after the loop: equity[t] = cash[t] + sum_s qty[s, t] * close[s, t].
    """
    k, n = close.shape
    cash_at = np.empty(len(cash) + 1)
    cash_at[0] = initial
    cash_at[1:] = cash
    qty_at = np.zeros((len(bars) + 1, k))
    qty_at[1:] = np.asarray(qty, dtype=np.float64).reshape(-1, k)
    # snapshot i holds from its bar to the next one's (bars are increasing, one per bar at most);
    # row 0, the initial account, from bar 0 to the first snapshot
    edges = np.empty(len(bars) + 2, dtype=np.int64)
    edges[0], edges[-1] = 0, n
    edges[1:-1] = bars
    lengths = np.diff(edges)
    held = np.repeat(qty_at.T, lengths, axis=1)
    value = held * close
    net = value.sum(axis=0)
    equity = np.repeat(cash_at, lengths) + net
    np.abs(value, out=value)
    return equity, value.sum(axis=0), held, net
