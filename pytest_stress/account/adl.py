"""Auto-deleveraging (ADL): the market's insurance fund, modelled from the scenario's prices, and
the queue that decides whether the trader's own profitable position is closed when the fund runs dry.

A run holds only the trader's account, so the rest of the market (the "crowd") is a model driven
by the true market's bars, computed once per run and causal (bar t uses bars <= t). Every choice
and its source is in docs/accounts.md, "Auto-deleveraging"; in short, per symbol:

- **The crowd's positions.** Open interest is 1 on each side (every long has a short). The crowd
  opened its positions over the last ``CROWD_WINDOW_HOURS``, at the average close of that window,
  with liquidation distances spread uniformly on ``(0, CROWD_DEPTH]`` (leverage
  ``1 / (d + CROWD_MMR)``). A fall of ``dd`` below that entry has liquidated ``min(dd / CROWD_DEPTH, 1)``
  of the long open interest; a bar liquidates the band between the window's deepest earlier fall
  and its own.
- **The insurance fund** (``insurance_fund`` of one side's open interest at the start) receives what
  is left of each liquidated position's margin and pays for each one filled beyond its bankruptcy
  price. A position triggered at ``x`` fills ``FILL_LAG`` of the way from ``x`` to the bar's low
  (the liquidation engine's IOC order is late in a falling book), so a band of width ``b`` (share
  of the entry) changes the fund by ``(b / CROWD_DEPTH) * (CROWD_MMR - FILL_LAG * b / 2)``: slow
  falls feed it, violent bars drain it. Both sides are modelled the same way (rises liquidate
  the crowd's shorts).
- **ADL.** What the fund cannot pay is not filled in the market: the bankrupt positions' uncovered
  share is closed against the profitable opposite side at their bankruptcy price. That notional,
  over the opposite side's profitable share, is the part of the ADL queue that is closed.
- **The queue** is ranked as Binance ranks it (``leverage_pnl``); the trader's place in it is drawn
  from the run's own generator: ``Binomial(QUEUE_SIZE, 1 - q)`` positions ahead of it, ``q`` the
  share of the crowd's profitable positions it outranks (``adl_hit_probability`` is the formula).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..market.data import CLOSE, HIGH, LOW, OPEN, MarketData

__all__ = ["CROWD_MMR", "CROWD_DEPTH", "CROWD_WINDOW_HOURS", "FILL_LAG", "QUEUE_SIZE", "DEFAULT_INSURANCE_FUND",
           "AdlEvent", "FundPath", "leverage_pnl", "crowd_scores", "queue_quantile", "adl_hit_probability",
           "fund_path", "adl_events", "trailing_max"]

#: Maintenance rate of the crowd's positions: the first bracket of the shipped BTCUSDT and ETHUSDT
#: tables (0.4%, ``tiers.BINANCE_USDM_TIERS``); the margin left at a liquidation price.
CROWD_MMR = 0.004
#: The crowd's liquidation distances are uniform on (0, CROWD_DEPTH]. Calibrated on 10 October 2025:
#: BTC fell 14.5% (122,574.46 to 104,782.88, CoinShares) and BTC perpetual open interest fell an
#: estimated 18.6% that day (Binance Square report): 0.145 / 0.186 = 0.78, rounded down to 0.75
#: (the fall in open interest also counts voluntary closes: an upper bound on the liquidated share).
CROWD_DEPTH = 0.75
#: How old the crowd's positions are: entries within the last day (design choice).
CROWD_WINDOW_HOURS = 24.0
#: How far from its trigger towards the bar's extreme a liquidation fills (design choice: half way;
#: 0 would fill every liquidation at its trigger and never drain the fund, 1 at the bar's extreme).
FILL_LAG = 0.5
#: The ADL queue is modelled as this many equal positions besides the trader's (design choice: it
#: sets how sharp the step from "never reached" to "always reached" is around the queue's cut).
QUEUE_SIZE = 100
#: The insurance fund at the start, as a share of one side's open interest. Binance's USDⓈ-M fund
#: was about 1 billion USDT against some 30 billion of open interest (FLOX's ``binance_um_futures``
#: profile uses 900M): about 3% (design choice within that order of magnitude).
DEFAULT_INSURANCE_FUND = 0.03
#: Points of the crowd's leverage distribution the trader's score is ranked against.
_LEVERAGE_POINTS = 32


def leverage_pnl(upnl: float, wallet: float, maintenance: float) -> float:
    """Binance's ADL ranking score, "LeveragePnl" (Binance FAQ "What Is Auto-Deleveraging (ADL) and How
    Does It Work", formula at its end, as quoted on dev.binance.vision topic 17801)::

        PnlPercent  = max(0, upnl) / max(1, wallet)
        MarginRatio = maintenance / (wallet + upnl)   (0 when wallet + upnl <= 0)
        LeveragePnl = PnlPercent * MarginRatio

    The margin ratio is the maintenance rate times the effective leverage (notional over equity,
    which for one position is ``mark / (mark - bankruptcy price)``): the score is the profit ratio
    times the effective leverage, scaled by the bracket's rate. Higher is closer to the front."""
    equity = wallet + upnl
    margin_ratio = maintenance / equity if equity > 0 else 0.0
    return max(0.0, upnl) / max(1.0, wallet) * margin_ratio


def crowd_scores(entries: np.ndarray, price: float, side: int) -> np.ndarray:
    """``leverage_pnl`` of the crowd's positions on ``side`` (+1 long, -1 short) entered at ``entries``
    and marked at ``price``, for each point of the leverage distribution (flattened): per unit of
    entry notional (the 1-USDT floor of the wallet does not apply to the crowd). Losing positions
    score 0."""
    d = (np.arange(_LEVERAGE_POINTS) + 0.5) / _LEVERAGE_POINTS * CROWD_DEPTH
    inv_lev = (d + CROWD_MMR)[:, None]                       # 1 / leverage = margin per entry notional
    r = side * (price - entries[None, :]) / entries[None, :]   # return on the entry notional
    mm = CROWD_MMR * price / entries[None, :]                # maintenance per entry notional
    equity = inv_lev + r
    score = np.where((r > 0) & (equity > 0), r / inv_lev * mm / np.where(equity > 0, equity, 1.0), 0.0)
    return score.ravel()


def queue_quantile(score: float, crowd: np.ndarray) -> float:
    """The share of the crowd's profitable positions (score > 0) that ``score`` outranks."""
    queue = crowd[crowd > 0]
    if not len(queue):
        return 1.0
    return float(np.count_nonzero(queue < score)) / len(queue)


def adl_hit_probability(quantile: float, share: float, queue: int = QUEUE_SIZE) -> float:
    """The probability that an ADL closing ``share`` of the queue reaches a position that outranks
    ``quantile`` of it: with ``k ~ Binomial(queue, 1 - quantile)`` positions ahead, it is reached when
    ``k + 1 <= share * (queue + 1)``. The plain formula of what ``AdlEvent`` draws."""
    cut = math.floor(share * (queue + 1) + 1e-12) - 1
    if cut < 0:
        return 0.0
    p = 1.0 - quantile
    # the binomial CDF at cut, summed in log space (no scipy at run time)
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if cut >= queue else 0.0
    total = 0.0
    for k in range(0, min(cut, queue) + 1):
        total += math.exp(math.lgamma(queue + 1) - math.lgamma(k + 1) - math.lgamma(queue - k + 1)
                          + k * math.log(p) + (queue - k) * math.log1p(-p))
    return min(total, 1.0)


def trailing_max(x: np.ndarray, window: int) -> np.ndarray:
    """``y[t] = max(x[max(0, t - window + 1) .. t])``, by doubling (exact: max does not round)."""
    m = np.array(x, dtype=np.float64, copy=True)
    n = len(m)
    p = 1
    while 2 * p <= window and p < n:
        np.maximum(m[p:], m[:-p].copy(), out=m[p:])   # the copy: the two slices overlap
        p *= 2
    if p >= window or p >= n:
        return m
    shift = window - p
    if shift < n:
        np.maximum(m[shift:], m[:-shift].copy(), out=m[shift:])
    return m


def average_entry(close: np.ndarray, open_: np.ndarray, window: int) -> np.ndarray:
    """The crowd's average entry at each bar: the mean of the ``window`` closes before it (fewer at
    the start; bar 0: its open)."""
    n = len(close)
    total = np.empty(n + 1)
    total[0] = 0.0
    np.add.accumulate(close, out=total[1:])            # sequential: the same to the bit anywhere
    out = np.empty(n)
    out[0] = open_[0]
    k = min(window, n)
    out[1:k] = total[1:k] / np.arange(1, k)
    if n > window:
        # the window's sum added up shift by shift: element-wise adds in a fixed order (the same to
        # the bit anywhere), and no running total to cancel (a difference of running totals loses
        # every digit when prices span many orders of magnitude, and gave entries of 0)
        acc = np.zeros(n - window)
        for j in range(window):
            acc += close[j:n - window + j]
        np.divide(acc, window, out=out[window:])
    return out


@dataclass(frozen=True)
class _Side:
    """One side of the crowd on the bars where it has liquidations (``bars``, sorted)."""

    bars: np.ndarray
    liquidated: np.ndarray   #: share of the side's open interest liquidated in the bar
    flow: np.ndarray         #: the fund's change from those liquidations
    loss: np.ndarray         #: what the bankrupt ones cost the fund (gross)
    bankrupt: np.ndarray     #: their notional
    price: np.ndarray        #: their mean bankruptcy price, within the bar's range


def _side(entry: np.ndarray, extreme: np.ndarray, side: int, window: int, low: np.ndarray,
          high: np.ndarray) -> _Side:
    """The crowd's ``side`` (+1 longs against the bar's low, -1 shorts against its high) on the bars
    where it has liquidations: the share liquidated, the fund's change, the gross loss of bankrupt
    positions, their notional and their mean bankruptcy price."""
    move = np.subtract(entry, extreme) if side > 0 else np.subtract(extreme, entry)
    move /= entry                                             # the adverse move from the entry
    np.clip(move, 0.0, CROWD_DEPTH, out=move)
    deepest = np.empty_like(move)                             # the deepest of the window before the bar
    deepest[0] = 0.0
    deepest[1:] = trailing_max(move, window)[:-1]
    band = np.subtract(move, deepest, out=deepest)            # the newly reached liquidation distances
    bars = np.flatnonzero(band > 0)
    b = band[bars]
    ref = entry[bars]
    liquidated = b / CROWD_DEPTH
    flow = liquidated * (CROWD_MMR - FILL_LAG * b / 2.0)
    y0 = CROWD_MMR / FILL_LAG                                  # triggers this far above the low go bankrupt
    over = np.maximum(b - y0, 0.0)
    loss = liquidated * FILL_LAG * over * over / (2.0 * b)
    bankrupt = liquidated * over / b
    price = extreme[bars] + side * ((y0 + b) / 2.0 - CROWD_MMR) * ref
    np.clip(price, low[bars], high[bars], out=price)
    return _Side(bars, liquidated, flow, loss, bankrupt, price)


@dataclass(frozen=True)
class _Fund:
    """The fund on the bars where something happens (``bars``, sorted), and each side's ADL notional
    there: the bankrupt longs' uncovered share is closed against the profitable shorts, and back."""

    bars: np.ndarray
    fund: np.ndarray
    longs: _Side
    shorts: _Side
    adl_shorts: np.ndarray   #: on ``longs.bars``
    adl_longs: np.ndarray    #: on ``shorts.bars``


def _fund(high: np.ndarray, low: np.ndarray, close: np.ndarray, open_: np.ndarray, window: int,
          insurance_fund: float) -> _Fund:
    """The fund follows ``F_t = max(0, F_(t-1) + flow_t)`` (a Lindley recursion: the running sum less
    its running minimum below 0), over the bars with liquidations only (the others add 0.0, which
    changes no bit). What the floor adds at bar t is the bar's uncovered loss, shared between the
    sides in proportion to their losses."""
    entry = average_entry(close, open_, window)
    longs = _side(entry, low, 1, window, low, high)
    shorts = _side(entry, high, -1, window, low, high)
    bars = np.union1d(longs.bars, shorts.bars)
    il = np.searchsorted(bars, longs.bars)
    is_ = np.searchsorted(bars, shorts.bars)
    flow = np.zeros(len(bars))
    flow[il] = longs.flow
    flow[is_] += shorts.flow                                  # longs first, then shorts: a fixed order
    losses = np.zeros(len(bars))
    losses[il] = longs.loss
    losses[is_] += shorts.loss
    level = np.add.accumulate(flow)
    level += insurance_fund
    floor = np.minimum(np.minimum.accumulate(level), 0.0) if len(level) else level
    fund = level - floor
    uncovered = np.empty_like(floor)
    if len(floor):
        uncovered[0] = -floor[0]
        uncovered[1:] = floor[:-1] - floor[1:]
    share = np.zeros(len(bars))
    hit = losses > 0
    share[hit] = np.minimum(uncovered[hit] / losses[hit], 1.0)
    return _Fund(bars, fund, longs, shorts, longs.bankrupt * share[il], shorts.bankrupt * share[is_])


@dataclass(frozen=True)
class FundPath:
    """The modelled market of one symbol, bar by bar (arrays of the run's length)."""

    fund: np.ndarray         #: the insurance fund after the bar, in shares of one side's open interest
    liquidated: np.ndarray   #: share of open interest liquidated in the bar (longs + shorts)
    adl_longs: np.ndarray    #: notional (share of open interest) ADL closes among the profitable longs
    adl_shorts: np.ndarray   #: ... among the profitable shorts
    price_longs: np.ndarray  #: the bankruptcy price the longs are closed at (NaN: no ADL)
    price_shorts: np.ndarray


def fund_path(high: np.ndarray, low: np.ndarray, open_: np.ndarray, close: np.ndarray, window: int,
              insurance_fund: float) -> FundPath:
    """The crowd, its insurance fund and the ADL notional of one symbol, bar by bar (module docstring;
    ``adl_events`` reads the same numbers on the bars where something happens)."""
    f = _fund(high, low, close, open_, window, insurance_fund)
    n = len(close)
    at = np.searchsorted(f.bars, np.arange(n), side="right") - 1     # the last bar with a change, <= t
    fund = np.where(at >= 0, f.fund[np.maximum(at, 0)] if len(f.bars) else 0.0, insurance_fund)
    liquidated = np.zeros(n)
    liquidated[f.longs.bars] += f.longs.liquidated
    liquidated[f.shorts.bars] += f.shorts.liquidated
    adl_shorts, adl_longs = np.zeros(n), np.zeros(n)
    adl_shorts[f.longs.bars] = f.adl_shorts
    adl_longs[f.shorts.bars] = f.adl_longs
    price_shorts, price_longs = np.full(n, math.nan), np.full(n, math.nan)
    price_shorts[f.longs.bars] = np.where(f.adl_shorts > 0, f.longs.price, math.nan)
    price_longs[f.shorts.bars] = np.where(f.adl_longs > 0, f.shorts.price, math.nan)
    return FundPath(fund, liquidated, adl_longs, adl_shorts, price_longs, price_shorts)


@dataclass(frozen=True)
class AdlEvent:
    """ADL in one symbol at one bar: the profitable positions on ``side`` (+1 longs, -1 shorts) are
    closed from the front of the queue at ``price`` (the bankrupt counterparties' price) until
    ``share`` of the queue is closed. ``entries``: the crowd's entries of that side in profit then."""

    bar: int
    symbol: int
    side: int
    price: float
    share: float
    entries: np.ndarray

    def quantile(self, score: float) -> float:
        """The share of the crowd's profitable positions that a position scoring ``score`` outranks."""
        return queue_quantile(score, crowd_scores(self.entries, self.price, self.side))

    def reaches(self, quantile: float, rng: np.random.Generator) -> bool:
        """One draw from the run's generator: does the ADL reach a position at ``quantile``?"""
        ahead = int(rng.binomial(QUEUE_SIZE, min(max(1.0 - quantile, 0.0), 1.0)))
        return ahead + 1 <= self.share * (QUEUE_SIZE + 1) + 1e-12


def window_bars(bar_seconds: float) -> int:
    """The crowd's window in bars (at least one)."""
    return max(int(round(CROWD_WINDOW_HOURS * 3600.0 / bar_seconds)), 1)


def adl_events(market: MarketData, insurance_fund: float) -> dict[int, list[AdlEvent]]:
    """Every ADL event of the run, by bar, computed once from the true market (causal: bar t's
    event uses bars <= t). A side's queue is its profitable positions: the crowd's entries (the
    closes of the window before the bar) on the right side of the ADL price; with none, no event."""
    v = market.values
    window = window_bars(market.bar_seconds)
    out: dict[int, list[AdlEvent]] = {}
    for s in range(v.shape[1]):
        close = v[CLOSE, s]
        f = _fund(v[HIGH, s], v[LOW, s], close, v[OPEN, s], window, insurance_fund)
        # the bankrupt shorts' ADL closes profitable longs (+1), the bankrupt longs' closes shorts (-1)
        for side, crowd, notional in ((1, f.shorts, f.adl_longs), (-1, f.longs, f.adl_shorts)):
            for i in np.flatnonzero(notional > 0).tolist():
                t = int(crowd.bars[i])
                price = float(crowd.price[i])
                entries = close[max(t - window, 0):t] if t else v[OPEN, s, :1]
                profitable = entries[side * (price - entries) > 0]
                if not len(profitable):
                    continue
                share = min(float(notional[i]) * len(entries) / len(profitable), 1.0)
                out.setdefault(t, []).append(AdlEvent(t, s, side, price, share, np.array(profitable, copy=True)))
    return out
