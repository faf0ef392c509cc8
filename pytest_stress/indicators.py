"""Causal indicators to precompute once per run instead of recomputing over history each bar.

A trader (or its signal model) may define ``indicators(feed) -> {name: array}``; the
executor calls it once on the whole feed, proves every array causal (recomputing on
prefixes of the feed: a value that changes when later bars are removed is look-ahead,
and the run stops with ``LookAheadError``), and reveals it bar by bar through
``ctx.value(name)`` (this bar's value) and ``ctx.indicator(name)`` (history to now).
Every function here is causal: its value at bar t uses bars 0..t only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import LookAheadError, ScenarioError
from .market.data import MarketData

__all__ = ["sma", "ema", "rolling_std", "returns", "precompute_indicators"]


def sma(values: np.ndarray, window: int, *, tick: float | None = None) -> np.ndarray:
    """Simple moving average over ``window`` bars; NaN until the window is full.

    With ``tick`` (prices on a tick grid, such as 0.01) the sums are taken in whole ticks,
    which float64 adds exactly, so two averages that are mathematically equal compare
    equal: crossover rules then give the same trades in every engine. Without ``tick``,
    a cumulative sum is used (relative error around 1e-13). NaN in the input makes every
    later value NaN (a corrupted bar poisons the average, as it would in a running sum).
    """
    x = np.asarray(values, dtype=np.float64)
    if window < 1:
        raise ValueError(f"sma: window = {window!r}; expected an integer >= 1")
    scaled = np.rint(x / tick) if tick else x
    sums = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(scaled, axis=-1)], axis=-1)
    out = np.full(x.shape, np.nan)
    if x.shape[-1] >= window:
        out[..., window - 1:] = (sums[..., window:] - sums[..., :-window]) / window
    return out * tick if tick else out


def ema(values: np.ndarray, span: int) -> np.ndarray:
    """Exponential moving average with alpha = 2 / (span + 1), seeded with the first value."""
    import pandas as pd   # lazy: only ema and rolling_std need it; a synthetic run never does

    x = np.asarray(values, dtype=np.float64)
    return pd.DataFrame(np.atleast_2d(x).T).ewm(span=span, adjust=False).mean().to_numpy().T.reshape(x.shape)


def returns(values: np.ndarray) -> np.ndarray:
    """Simple returns, NaN at bar 0."""
    x = np.asarray(values, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    out[..., 1:] = x[..., 1:] / x[..., :-1] - 1.0
    return out


def rolling_std(values: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation over ``window`` bars (ddof=1); NaN until full."""
    import pandas as pd   # lazy: only ema and rolling_std need it; a synthetic run never does

    x = np.asarray(values, dtype=np.float64)
    return pd.DataFrame(np.atleast_2d(x).T).rolling(window).std().to_numpy().T.reshape(x.shape)


def precompute_indicators(trader: Any, feed: MarketData) -> dict[str, np.ndarray]:
    """Call the trader's (or its model's) ``indicators(feed)`` once, and prove it causal.

    The indicators are recomputed on the first half of the feed; any value that changes
    when the later bars are removed used them (look-ahead), which raises
    ``LookAheadError`` naming the indicator and the first such bar.
    """
    owner = trader if callable(getattr(trader, "indicators", None)) else getattr(trader, "model", None)
    fn = getattr(owner, "indicators", None)
    if not callable(fn):
        return {}
    full = {k: np.asarray(v, dtype=np.float64) for k, v in fn(feed).items()}
    for k, v in full.items():
        if v.shape[-1] != feed.n_bars:
            raise ScenarioError(f"indicator {k!r}: {v.shape[-1]} values for {feed.n_bars} bars")
    for cut in [feed.n_bars // 2] if feed.n_bars >= 2 else []:
        part = fn(feed.slice(0, cut))
        for k, v in full.items():
            p = np.asarray(part[k], dtype=np.float64)
            same = (p == v[..., :cut]) | (np.isnan(p) & np.isnan(v[..., :cut]))
            if not np.all(same):
                bad = int(np.flatnonzero(~same.reshape(-1, cut).all(axis=0))[0])
                raise LookAheadError(
                    f"indicator {k!r} of {type(owner).__name__} looks ahead: its value at bar {bad} changes "
                    f"when bars from {cut} on are removed; compute it from past and current bars only")
    return full
