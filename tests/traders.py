"""Traders used across the execution tests."""
import numpy as np

from pytest_stress import buy, sell
from pytest_stress.indicators import sma


def exact_sma(close: np.ndarray, n: int) -> np.ndarray:
    return sma(close, n, tick=0.01)


class SmaCross:
    """Long one unit while SMA(fast) > SMA(slow) (strictly); flat otherwise."""

    def __init__(self, fast=10, slow=30, qty=1.0):
        self.fast, self.slow, self.qty = fast, slow, qty

    def indicators(self, feed):
        c = feed.close[0]
        return {"fast": exact_sma(c, self.fast), "slow": exact_sma(c, self.slow)}

    def on_bar(self, ctx):
        f, s = ctx.value("fast"), ctx.value("slow")
        pos = ctx.position()
        if f > s and pos == 0:
            return buy(self.qty)
        if f < s and pos > 0:
            return sell(pos)
        return None


def hand_loop(open_, close, fast, slow, cash, qty=1.0):
    """The reference: next-bar-open fills over plain lists. Returns trades and final equity."""
    o, f, s = open_.tolist(), fast.tolist(), slow.tolist()
    pos, pending, entry, trades = 0.0, 0.0, None, []
    for t in range(len(o)):
        if pending:
            price = o[t]
            cash -= pending * price
            if pending > 0:
                entry = (t, price)
            else:
                trades.append((entry[0], t, entry[1], price))
            pos += pending
            pending = 0.0
        if f[t] > s[t] and pos == 0:
            pending = qty
        elif f[t] < s[t] and pos > 0:
            pending = -pos
    return trades, cash + pos * float(close[-1])


class Scripted:
    """Sends given orders at given bars; records what it saw."""

    def __init__(self, script):
        self.script = script
        self.fills, self.rejections = [], []

    def on_bar(self, ctx):
        return self.script.get(ctx.t)

    def on_fill(self, execution, ctx):
        self.fills.append(execution)

    def on_rejection(self, execution, ctx):
        self.rejections.append(execution)


class Flat:
    def on_bar(self, ctx):
        return None


class LeveredLong:
    """Opens a long of ``multiple`` x its equity on the first bar and holds it (in a 5x isolated
    perpetual account, 4.9x is a 5x position; the reverse-stress tests' known answer)."""

    def __init__(self, multiple=4.9):
        self.multiple = multiple
        self.opened = False

    def on_bar(self, ctx):
        if not self.opened:
            self.opened = True
            return buy(self.multiple * ctx.equity / ctx.price)
        return None


class LeveredLong2x(LeveredLong):
    """``LeveredLong`` at 1.9x: a 2x isolated perpetual's whole margin (liquidated by a fall of
    about half; BTC Flash Crash 2021's noise alone, at 121% volatility, liquidates a 5x one)."""

    def __init__(self):
        super().__init__(1.9)


class Script:
    """Returns the order (or orders) given for each bar, nothing on other bars."""

    def __init__(self, script):
        self.script = script

    def on_bar(self, ctx):
        return self.script.get(ctx.t)


def hand_made_bars(rows, symbol="BTCUSDT", liquidity=1e12):
    """An hourly market from (open, high, low, close) rows; volume and depth ``liquidity``, spread 0."""
    from pytest_stress.market.data import MarketData

    a = np.array(rows, dtype=float).T
    n = a.shape[1]
    big = np.full((1, n), liquidity)
    values = np.vstack([a, big, np.zeros((1, n)), big])[:, None, :]
    return MarketData((symbol,), np.arange(n, dtype=np.int64) * 3_600_000_000_000, values, "1h")
