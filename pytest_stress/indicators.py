"""Causal indicators to precompute once per run instead of recomputing over history each bar.

A trader (or its signal model) may define ``indicators(feed) -> {name: array}``; the
executor calls it once on the whole feed, proves every array causal (recomputing on
prefixes of the feed: a value that changes when later bars are removed is look-ahead,
and the run stops with ``LookAheadError``), and reveals it bar by bar through
``ctx.value(name)`` (this bar's value) and ``ctx.indicator(name)`` (history to now).
Every function here is causal: its value at bar t uses bars 0..t only.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .errors import LookAheadError, ScenarioError
from .market.data import MarketData, owned

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
    if tick:
        sums = x / tick
        np.rint(sums, out=sums)
    else:
        sums = x.copy()
    np.cumsum(sums, axis=-1, out=sums)        # sums[..., t] = sum of the values up to bar t
    out = np.empty(x.shape)
    out[..., :window - 1] = np.nan
    if x.shape[-1] >= window:
        out[..., window - 1] = sums[..., window - 1]
        np.subtract(sums[..., window:], sums[..., :-window], out=out[..., window:])
        out[..., window - 1:] /= window
    if tick:
        out *= tick
    return out


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
    """Call the trader's (or its model's) ``indicators(feed)`` once, and test it for look-ahead.

    The hook gets a private copy of the bars of that call (``_PrivateFeed``), valid while the
    indicators are computed and proven: afterwards it holds NaN (and its timestamps NaT), so a
    trader that keeps it learns nothing (use ``ctx`` for history). The proof recomputes the indicators on prefixes of the feed, cut
    at about 1/4, 1/2 and 3/4 of the run, at its last bar, and just after the first and
    the last bar where the feed has NaN (corrupted bars): any value, or NaN pattern, that
    changes when the later bars are removed used them, and the run stops with
    ``LookAheadError`` naming the indicator and the first such bar. One indicator
    computation per cut. See docs/lookahead.md for what this can and cannot prove.
    """
    owner = trader if callable(getattr(trader, "indicators", None)) else getattr(trader, "model", None)
    fn = getattr(owner, "indicators", None)
    if not callable(fn):
        return {}
    who = f"{type(owner).__name__}.indicators(feed)"
    n = feed.n_bars
    private = _PrivateFeed(feed)
    try:
        full = _checked(_call(fn, private, n, who, keep=True), n, who)
        for cut in _cuts(feed):          # ascending: each cut's copy overwrites the smaller one before it
            part = _checked(_call(fn, private, cut, who, keep=False), cut, who)
            for k, v in full.items():
                p = part.get(k)
                if p is None:
                    raise LookAheadError(f"{who}: indicator {k!r} is missing when the feed is cut at bar {cut}")
                head = v[..., :cut]
                differ = p != head                # NaN != NaN: the NaN pairs are taken out below
                where = np.nonzero(differ)
                if len(where[0]) and not (np.isnan(p[where]) & np.isnan(head[where])).all():
                    same = (p == head) | (np.isnan(p) & np.isnan(head))
                    bad = int(np.flatnonzero(~same.reshape(-1, cut).all(axis=0))[0])
                    raise LookAheadError(
                        f"indicator {k!r} of {type(owner).__name__} looks ahead: its value at bar {bad} changes "
                        f"when bars from {cut} on are removed ({n} bars in the run); compute it from past and "
                        "current bars only")
    finally:
        private.empty()
    return full


def _cuts(feed: MarketData) -> list[int]:
    """Where the proof cuts the feed: spread over the run (off round numbers, so that calendar
    groupings do not line up with a cut), the last bar, and, on a feed with corrupted (NaN)
    bars, just after the first and the last of them (where a backward fill would look
    ahead) and in the middle of the two longest clean stretches (where a centred window has
    clean bars on both sides: NaN everywhere near a cut would hide its peeking)."""
    n = feed.n_bars
    if n < 2:
        return []
    cuts = {n // 4 + 1, n // 2 + 3, (3 * n) // 4 + 5, n - 1}
    nan_bar = np.isnan(feed.values).any(axis=(0, 1))
    bad = np.flatnonzero(nan_bar)
    if len(bad):
        cuts.update({int(bad[0]) + 1, int(bad[-1]) + 1})
        edges = np.flatnonzero(np.diff(np.concatenate([[1], nan_bar.astype(np.int8), [1]])))
        runs = sorted(zip(edges[::2], edges[1::2]), key=lambda r: r[0] - r[1])[:2]   # (start, stop) of clean runs
        cuts.update(int((a + b) // 2) for a, b in runs if b - a >= 2)
    return sorted(c for c in cuts if 1 <= c < n)


class _PrivateFeed:
    """One private buffer for every call of the proof: the feed's first ``stop`` bars, copied into
    the buffer's start as a contiguous ``(field, symbol, bar)`` array for each call.

    Nothing past ``stop`` is reachable from a call's feed, not even through ``.base``: after the
    full run's call the rest of the buffer is emptied once, and the cuts then come in ascending
    order (each copy covers the smaller one before it). ``empty()`` fills it all with NaN and
    NaT at the end, so a trader that kept a feed learns nothing."""

    def __init__(self, feed: MarketData) -> None:
        self.feed = feed
        self.values = np.empty(feed.values.size)
        self.stamps = np.empty(feed.n_bars, dtype=np.int64)
        self._largest = feed.n_bars      # bars of the largest copy still in the buffer

    def prefix(self, stop: int) -> MarketData:
        feed = self.feed
        fields, k, _ = feed.values.shape
        size = fields * k * stop
        if stop < self._largest:          # what the larger copy left beyond this one: gone first
            self.values[size:fields * k * self._largest] = np.nan
            self.stamps[stop:self._largest] = _NAT
        self._largest = stop
        values = self.values[:size].reshape(fields, k, stop)
        np.copyto(values, feed.values[:, :, :stop])
        stamps = self.stamps[:stop]
        np.copyto(stamps, feed.timestamps[:stop])
        return MarketData(feed.symbols, owned(stamps), owned(values), feed.timeframe)

    def shares(self, a: np.ndarray) -> bool:
        return np.may_share_memory(a, self.values) or np.may_share_memory(a, self.stamps)

    def empty(self) -> None:
        """NaN and NaT everywhere, if anything outside still holds a view of the buffer (a kept
        feed or array: every live view counts as a reference to its base); otherwise nothing
        can reach it any more and it is only dropped."""
        if True:
            self.values.fill(np.nan)
        if True:
            self.stamps.fill(_NAT)


_NAT = np.iinfo(np.int64).min


def _call(fn: Any, private: _PrivateFeed, stop: int, who: str, keep: bool) -> Any:
    """``fn`` on the private feed's first ``stop`` bars; its arrays as float64. ``keep``: the run's
    indicators, copied (nothing of the trader's can change them); otherwise a cut's, compared at
    once: copied only if they view the private buffer, which the next cut overwrites."""
    out = fn(private.prefix(stop))
    if isinstance(out, dict):
        arrays = {}
        for k, v in out.items():
            try:
                if keep:
                    arrays[k] = np.array(v, dtype=np.float64)
                else:
                    a = np.asarray(v, dtype=np.float64)
                    arrays[k] = a.copy() if private.shares(a) else a
            except (TypeError, ValueError) as exc:
                raise ScenarioError(f"{who}: indicator {k!r} is not numeric ({exc})") from None
        out = arrays
    return out


def _checked(out: Any, n: int, who: str) -> dict[str, np.ndarray]:
    if not isinstance(out, dict):
        raise ScenarioError(f"{who} returned {out!r} ({type(out).__name__}); expected a dict of name -> array "
                            "with one value per bar (per symbol: shape (symbols, bars))")
    for k, v in out.items():
        if not isinstance(k, str):
            raise ScenarioError(f"{who}: indicator name {k!r} is not a string")
        if v.ndim == 0 or v.shape[-1] != n:
            raise ScenarioError(f"{who}: indicator {k!r} has shape {v.shape}; expected {n} values (one per bar)")
    return out
