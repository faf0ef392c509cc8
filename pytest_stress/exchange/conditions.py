"""The market's condition at each bar, as the exchange sees it while filling in that bar.

Computed once per run, vectorised, and causal: the value at bar t uses bars <= t only
(the exchange fills during bar t, so it may use bar t's own range, never a later bar).
Removing bars >= k changes nothing before k (tests/test_venue_causality.py).

- ``sigma``: the bar's own volatility, Garman-Klass on its OHLC plus the squared opening
  gap (Garman & Klass 1980), floored at half the trailing reference so a flat bar still
  carries some risk.
- ``spread``: the quoted spread; while a symbol's spread has been constant since bar 0
  (data without a spread column gets a constant), the OHLC estimate of ``spreads.py``
  (Corwin & Schultz 2012; Abdi & Ranaldo 2017), floored at that constant.
- ``liquidity``: what the book can give near the touch over the bar: min(bar volume, book depth x
  refill), at least 0 (NaN: 0), where ``refill = 1 + bar seconds / book_refill_s`` counts the
  standing depth and the times it refills within the bar (resilience, Obizhaeva & Wang 2013:
  a trade spread over T against a book of depth D that refills in tau meets about D T / tau;
  issue #27: without it a depth-drained crash bar's book was its standing depth, a few BTC
  against thousands traded). ``liquidity_at`` is the same for one bar (the venue reads it per
  order instead of keeping a bar-length array: issue #16).
- ``stress`` in [0, 1]: the largest of four distances from a fixed reference (the
  trailing reference of ``smoothing.trailing_reference``, bars before t only): sigma up,
  spread up, volume abnormal in either direction, depth down. A ratio within x2 of
  the reference is noise (0); ``stress_vol_mult`` (sigma), ``stress_spread_mult`` (spread)
  and 1 / (1 - ``stress_volume_drop``) (volume either way, depth down) mean full stress;
  log-linear in between.
- ``venue``: the venue's stress per bar, the largest over symbols (one venue, one state).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from ..market.data import MarketData
from .config import ExchangeConfig
from .smoothing import ewma, trailing_reference
from .spreads import ohlc_spread

__all__ = ["Conditions", "market_conditions", "bar_variance", "ewma", "liquidity_at"]

#: A ratio to the reference within this factor is ordinary noise, not stress (design choice:
#: one Garman-Klass bar estimate has a relative error near 50% in variance).
NOISE_BAND = 2.0
_TINY = 1e-300
_INF = float("inf")


@dataclass(frozen=True, eq=False)
class Conditions:
    """Per symbol and bar, shaped (symbol, bar); ``venue`` is per bar. See the module docstring.
    ``liquidity`` is None when not asked for (``market_conditions(..., liquidity=False)``)."""

    sigma: np.ndarray
    stress: np.ndarray
    spread: np.ndarray
    liquidity: np.ndarray | None
    venue: np.ndarray


def liquidity_at(volume: float, depth: float, refill: float = 1.0) -> float:
    """One bar's ``liquidity`` from its volume, its depth and the book's ``refill`` factor
    (``ExchangeConfig.refill``; 1: the standing depth only): bit for bit the element of
    ``market_conditions(...).liquidity`` (min(volume, depth x refill), at least 0, NaN -> 0, inf -> the
    largest float)."""
    if volume != volume or depth != depth:
        return 0.0
    if refill != 1.0 and depth > 0.0:
        depth = depth * refill
    x = volume if volume < depth else depth
    if not x > 0.0:
        return 0.0
    return x if x != _INF else sys.float_info.max


#: bars per block of the exchange's element-wise arrays (``bar_variance``, the venue's failure budget):
#: a few temporaries of a block instead of the run (memory: issue #16)
BLOCK_BARS = 1 << 14


#: the most elements (levels x symbols x bars) for which ``market_conditions`` stacks the spread,
#: volume and depth levels into one array (a short run; a long one keeps one level at a time: issue #16)
_STACK_MAX = BLOCK_BARS


def bar_variance(true: MarketData) -> np.ndarray:
    """Each bar's own log-return variance: Garman-Klass on (O, H, L, C) plus the squared gap
    from the previous close (0 at bar 0). Garman & Klass (1980), J. of Business 53(1).
    Element-wise, so computed in blocks of bars: the result and a few blocks' temporaries (issue #16)."""
    n = true.n_bars
    out = np.empty((true.n_symbols, n))
    for a in range(0, n, BLOCK_BARS):
        b = min(a + BLOCK_BARS, n)
        out[:, a:b] = _bar_variance_block(true, a, b)
    return out


def _bar_variance_block(true: MarketData, a: int, b: int) -> np.ndarray:
    """``bar_variance`` of bars ``[a, b)`` (the close before ``a`` for its first gap)."""
    o, h, low, c = (f[:, a:b] for f in (true.open, true.high, true.low, true.close))
    # 0.5 hl^2 - (2 ln 2 - 1) co^2 + gap^2, with the logs of the day: computed in four block arrays
    # (in place, the same operations in the same order as the formula)
    lo = np.maximum(o, _TINY)
    np.log(lo, out=lo)                                  # log open
    hl = np.maximum(h, _TINY)
    np.log(hl, out=hl)
    v = np.maximum(low, _TINY)
    np.log(v, out=v)
    hl -= v                                             # log high - log low
    co = np.maximum(c, _TINY)
    np.log(co, out=co)
    co -= lo                                            # log close - log open
    np.multiply(0.5, hl, out=v)
    v *= hl                                             # 0.5 hl hl
    np.multiply(2.0 * np.log(2.0) - 1.0, co, out=hl)
    hl *= co                                            # (2 ln 2 - 1) co co
    v -= hl
    del hl
    np.maximum(v, 0.0, out=v)
    gap = co                                            # the opening gap: log open - log previous close
    first = 1 if a == 0 else 0                          # bar 0 has no previous close: no gap
    gap[:, :first] = 0.0
    np.maximum(true.close[:, a + first - 1:b - 1], _TINY, out=gap[:, first:])
    np.log(gap[:, first:], out=gap[:, first:])
    np.subtract(lo[:, first:], gap[:, first:], out=gap[:, first:])
    del lo
    gap *= gap
    v += gap
    if not np.isfinite(v).all():       # rare (bad data): nan_to_num's own pass costs more than this check
        np.nan_to_num(v, copy=False, nan=0.0, posinf=0.0)
    return v


def _scale(log_ratio: np.ndarray, full: float) -> np.ndarray:
    """log_ratio -> (log_ratio - log 2) / (log full - log 2), in place: the stress of a distance
    from the reference (0 within the noise band, 1 at ``full``; clipped to [0, 1] by the caller)."""
    lo = np.log(NOISE_BAND)
    span = max(np.log(full) - lo, 1e-12)
    log_ratio -= lo
    log_ratio /= span
    return log_ratio


def _effective_spread(true: MarketData) -> np.ndarray:
    """The quoted spread, floored by the OHLC estimate while a symbol's spread has been constant
    since bar 0. The market's own (read-only) array when no symbol is in that case (a synthetic
    market, data with a spread column): no copy."""
    quoted = true.spread
    changed = quoted != quoted[:, :1]
    first = np.where(changed.any(axis=1), changed.argmax(axis=1), quoted.shape[1])   # first bar that differs
    del changed
    if not np.any(first > 1):
        return quoted
    quoted = np.array(quoted, dtype=np.float64)
    for s in np.flatnonzero(first > 1):        # constant so far (causal): estimate from OHLC up to there
        k = int(first[s])
        est = ohlc_spread(true.high[s:s + 1, :k], true.low[s:s + 1, :k], true.close[s:s + 1, :k])[0]
        np.maximum(est, quoted[s, :k], out=quoted[s, :k])
    return quoted


def _log_level(source: np.ndarray, floor: float, out: np.ndarray | None = None) -> np.ndarray:
    """A level's log (of at least 1e-300, then at least ``floor``; into ``out``, else a new array)."""
    dev = np.maximum(source, 1e-300, out=out)
    np.log(dev, out=dev)
    np.maximum(dev, floor, out=dev)
    return dev


def market_conditions(true: MarketData, config: ExchangeConfig, *, liquidity: bool = True) -> Conditions:
    """The conditions of every bar of ``true`` (see the module docstring); ``liquidity=False``: no
    liquidity array (a reader takes ``liquidity_at`` of a bar's volume and depth).

    Memory (issue #16): one level at a time (a level's reference depends on that level only),
    so at most three bar-length arrays are alive at once (sigma, stress and a level's distance
    from its reference, computed in place; at the first level the variance, its log and the
    reference, which becomes sigma); the first level's distance becomes ``stress``; the spread
    is the market's own array unless it needs the OHLC estimate; ``venue`` is a view of
    ``stress`` for one symbol."""
    var = bar_variance(true)
    spread = _effective_spread(true)
    full_volume = 1.0 / (1.0 - config.stress_volume_drop)
    # volatility up: the distance of log variance from its reference, halved (variance -> volatility)
    dev = _log_level(var, np.log(1e-16))
    ref = trailing_reference(dev)
    dev -= ref
    sigma = np.exp(ref, out=ref)        # sqrt(max(var, exp(ref) / 4)), in the reference's array
    del ref
    sigma *= 0.25
    np.maximum(var, sigma, out=sigma)
    del var
    np.sqrt(sigma, out=sigma)
    dev *= 0.5
    stress = _scale(dev, config.stress_vol_mult)
    np.maximum(0.0, stress, out=stress)
    del dev
    # spread up, volume abnormal either way, depth down: each level's distance raises stress
    levels = ((1, spread, np.log(1e-12)), (2, true.volume, np.log(1e-12)), (3, true.depth, np.log(1e-12)))
    k, n = stress.shape
    stacked = None
    if 3 * k * n <= _STACK_MAX:
        # a short run: the three levels' logs in one array and one trailing_reference call (its rows
        # are independent: the same distances), since its fixed cost, not the arrays, is what counts
        stacked = np.empty((3 * k, n))
        for i, (_, source, floor) in enumerate(levels):
            _log_level(source, floor, out=stacked[i * k:(i + 1) * k])
        trailing_reference(stacked, subtract=True)
    for i, (level, source, floor) in enumerate(levels):
        if stacked is not None:
            dev = stacked[i * k:(i + 1) * k]
        else:
            dev = trailing_reference(_log_level(source, floor), subtract=True)    # the distance, in place
        if level == 2:
            np.abs(dev, out=dev)
        elif level == 3:
            np.negative(dev, out=dev)
        np.maximum(stress, _scale(dev, config.stress_spread_mult if level == 1 else full_volume), out=stress)
        del dev
    del stacked
    np.clip(stress, 0.0, 1.0, out=stress)
    liq = None
    if liquidity:
        refill = config.refill(true.bar_seconds)
        if refill != 1.0:
            liq = np.multiply(true.depth, refill, where=true.depth > 0.0, out=np.array(true.depth, dtype=np.float64))
            np.minimum(true.volume, liq, out=liq)
        else:
            liq = np.minimum(true.volume, true.depth)
        np.maximum(liq, 0.0, out=liq)
        np.nan_to_num(liq, copy=False, nan=0.0)
    if stress.shape[0] == 1:
        venue = stress[0]             # the largest over one symbol: the row itself
    else:
        venue = stress.max(axis=0) if stress.shape[0] else np.zeros(stress.shape[1])
    return Conditions(sigma, stress, spread, liq, venue)
