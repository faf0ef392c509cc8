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
    lo = np.log(np.maximum(o, _TINY))
    hl = np.log(np.maximum(h, _TINY)) - np.log(np.maximum(low, _TINY))
    co = np.log(np.maximum(c, _TINY)) - lo
    v = 0.5 * hl * hl - (2.0 * np.log(2.0) - 1.0) * co * co
    np.maximum(v, 0.0, out=v)
    gap = np.zeros_like(v)
    gap[:, 1:] = lo[:, 1:] - np.log(np.maximum(c[:, :-1], _TINY))
    v += gap * gap
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
    k = var.shape[0]
    logs = np.concatenate([var, spread, true.volume, true.depth])
    np.maximum(logs, 1e-300, out=logs)            # in place: this is the largest array of the run's set-up
    np.log(logs, out=logs)
    np.maximum(logs[:k], np.log(1e-16), out=logs[:k])
    np.maximum(logs[k:2 * k], np.log(1e-12), out=logs[k:2 * k])
    np.maximum(logs[2 * k:], np.log(1e-12), out=logs[2 * k:])
    # logs - reference, in place, one level at a time (a row's reference depends on that row
    # only): one level's reference array is alive at once, not four
    for level in range(4):
        rows = logs[level * k:(level + 1) * k]
        ref = trailing_reference(rows)
        if level == 0:
            sigma = np.sqrt(np.maximum(var, 0.25 * np.exp(ref)))
            del var
        rows -= ref
        del ref
    dev = logs                                     # logs is not used again
    del logs
    stress = np.zeros_like(sigma)
    full_volume = 1.0 / (1.0 - config.stress_volume_drop)
    dev[:k] *= 0.5                                 # variance -> volatility
    _level(dev[:k], config.stress_vol_mult, stress)                 # volatility up
    _level(dev[k:2 * k], config.stress_spread_mult, stress)         # spread up
    _level(np.abs(dev[2 * k:3 * k]), full_volume, stress)           # volume abnormal, either way
    np.negative(dev[3 * k:], out=dev[3 * k:])
    _level(dev[3 * k:], full_volume, stress)                        # depth down
    np.clip(stress, 0.0, 1.0, out=stress)
    depth = true.depth
    liquidity = np.maximum(np.minimum(true.volume, depth), 0.0)
    np.nan_to_num(liquidity, copy=False, nan=0.0)
    venue = stress.max(axis=0) if stress.shape[0] else np.zeros(stress.shape[1])
    return Conditions(sigma, stress, spread, liquidity, venue)
