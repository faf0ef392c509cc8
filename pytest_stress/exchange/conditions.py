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
- ``liquidity``: what the book can give near the touch: min(bar volume, book depth).
- ``stress`` in [0, 1]: the largest of four distances from a fixed reference (the
  trailing reference of ``smoothing.trailing_reference``, bars before t only): sigma up,
  spread up, volume abnormal in either direction, depth down. A ratio within x2 of
  the reference is noise (0); ``stress_vol_mult`` (sigma), ``stress_spread_mult`` (spread)
  and 1 / (1 - ``stress_volume_drop``) (volume either way, depth down) mean full stress;
  log-linear in between.
- ``venue``: the venue's stress per bar, the largest over symbols (one venue, one state).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..market.data import MarketData
from .config import ExchangeConfig
from .smoothing import ewma, trailing_reference
from .spreads import ohlc_spread

__all__ = ["Conditions", "market_conditions", "bar_variance", "ewma"]

#: A ratio to the reference within this factor is ordinary noise, not stress (design choice:
#: one Garman-Klass bar estimate has a relative error near 50% in variance).
NOISE_BAND = 2.0
_TINY = 1e-300


@dataclass(frozen=True, eq=False)
class Conditions:
    """Per symbol and bar, shaped (symbol, bar); ``venue`` is per bar. See the module docstring."""

    sigma: np.ndarray
    stress: np.ndarray
    spread: np.ndarray
    liquidity: np.ndarray
    venue: np.ndarray


def bar_variance(true: MarketData) -> np.ndarray:
    """Each bar's own log-return variance: Garman-Klass on (O, H, L, C) plus the squared gap
    from the previous close (0 at bar 0). Garman & Klass (1980), J. of Business 53(1)."""
    o, h, low, c = true.open, true.high, true.low, true.close
    # 0.5 hl^2 - (2 ln 2 - 1) co^2 + gap^2, with the logs of the day: computed in four arrays
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
    gap[:, 0] = 0.0
    np.maximum(c[:, :-1], _TINY, out=gap[:, 1:])
    np.log(gap[:, 1:], out=gap[:, 1:])
    np.subtract(lo[:, 1:], gap[:, 1:], out=gap[:, 1:])
    del lo
    gap *= gap
    v += gap
    np.nan_to_num(v, copy=False, nan=0.0, posinf=0.0)
    return v


def _level(log_ratio: np.ndarray, full: float, out: np.ndarray) -> None:
    """out = max(out, (log_ratio - log 2) / (log full - log 2) clipped to [0, 1]), in place."""
    lo = np.log(NOISE_BAND)
    span = max(np.log(full) - lo, 1e-12)
    log_ratio -= lo
    log_ratio /= span
    np.maximum(out, log_ratio, out=out)


def _effective_spread(true: MarketData) -> np.ndarray:
    quoted = np.array(true.spread, dtype=np.float64)
    changed = quoted != quoted[:, :1]
    first = np.where(changed.any(axis=1), changed.argmax(axis=1), quoted.shape[1])   # first bar that differs
    for s in np.flatnonzero(first > 1):        # constant so far (causal): estimate from OHLC up to there
        k = int(first[s])
        est = ohlc_spread(true.high[s:s + 1, :k], true.low[s:s + 1, :k], true.close[s:s + 1, :k])[0]
        np.maximum(est, quoted[s, :k], out=quoted[s, :k])
    return quoted


def market_conditions(true: MarketData, config: ExchangeConfig) -> Conditions:
    """The conditions of every bar of ``true`` (see the module docstring)."""
    var = bar_variance(true)
    spread = _effective_spread(true)
    stress = np.zeros_like(var)
    full_volume = 1.0 / (1.0 - config.stress_volume_drop)
    # one level at a time (a level's reference depends on that level only): its log, less its
    # trailing reference, then its distance into ``stress``; two bar-length arrays of a level
    # are alive at once, not the eight of all four levels
    levels = ((var, np.log(1e-16)), (spread, np.log(1e-12)), (true.volume, np.log(1e-12)),
              (true.depth, np.log(1e-12)))
    for level, (source, floor) in enumerate(levels):
        dev = np.maximum(source, 1e-300)
        np.log(dev, out=dev)
        np.maximum(dev, floor, out=dev)
        ref = trailing_reference(dev)
        if level == 0:                  # sqrt(max(var, ref / 4)), in one array
            sigma = np.exp(ref)
            sigma *= 0.25
            np.maximum(var, sigma, out=sigma)
            np.sqrt(sigma, out=sigma)
        dev -= ref
        del ref
        if level == 0:
            dev *= 0.5                                              # variance -> volatility
            _level(dev, config.stress_vol_mult, stress)             # volatility up
        elif level == 1:
            _level(dev, config.stress_spread_mult, stress)          # spread up
        elif level == 2:
            _level(np.abs(dev), full_volume, stress)                # volume abnormal, either way
        else:
            np.negative(dev, out=dev)
            _level(dev, full_volume, stress)                        # depth down
        del dev
    del levels, var
    np.clip(stress, 0.0, 1.0, out=stress)
    depth = true.depth
    liquidity = np.maximum(np.minimum(true.volume, depth), 0.0)
    np.nan_to_num(liquidity, copy=False, nan=0.0)
    venue = stress.max(axis=0) if stress.shape[0] else np.zeros(stress.shape[1])
    return Conditions(sigma, stress, spread, liquidity, venue)
