"""Causal indicators to precompute once per run instead of recomputing over history each bar.

A trader (or its signal model) may define ``indicators(feed) -> {name: array}``; the
executor calls it once on the whole feed, proves every array causal (recomputing on
prefixes of the feed: a value that changes when later bars are removed is look-ahead,
and the run stops with ``LookAheadError``), and reveals it bar by bar through
``ctx.value(name)`` (this bar's value) and ``ctx.indicator(name)`` (history to now).
Every function here is causal: its value at bar t uses bars 0..t only.
"""
from __future__ import annotations

import logging
import weakref
from typing import Any

import numpy as np

from .errors import LookAheadError, ScenarioError
from .market.data import CLOSE, DEPTH, FIELDS, HIGH, LOW, OPEN, SPREAD, VOLUME, MarketData

__all__ = ["sma", "ema", "rolling_std", "returns", "precompute_indicators", "RELATIVE_TOLERANCE"]

log = logging.getLogger("pytest_stress")


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
    trader that keeps it learns nothing (use ``ctx`` for history). The proof recomputes the
    indicators on prefixes of the feed, cut
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
        full = _checked(_call(fn, private, n, who, keep=True), n, who, feed.n_symbols)
        scales = {k: _scale(v) for k, v in full.items()}
        early, spread = _cuts(feed)
        for cut in early + spread:
            if cut in early:
                try:      # a prefix this short is the proof's own probe: a hook that cannot take it says nothing
                    part = _checked(_call(fn, private, cut, who, keep=False), cut, who, feed.n_symbols)
                except Exception as exc:   # noqa: BLE001 - any error of the user's hook on a tiny prefix
                    log.info("%s: the causality proof skipped its cut at bar %d (%s: %s)", who, cut,
                             type(exc).__name__, exc)
                    continue
            else:
                part = _checked(_call(fn, private, cut, who, keep=False), cut, who, feed.n_symbols)
            for k, v in full.items():
                p = part.get(k)
                if p is None:
                    raise LookAheadError(f"{who}: indicator {k!r} is missing when the feed is cut at bar {cut}")
                head = v[..., :cut]
                # equal, both NaN, or within the indicator's rounding (a relative 1e-9 of its largest value:
                # an FFT or a summation in another order on a shorter input moves the last digits)
                same = (p == head) | (np.isnan(p) & np.isnan(head)) | (np.abs(p - head) <= scales[k])
                if not same.all():
                    bad = int(np.flatnonzero(~same.reshape(-1, cut).all(axis=0))[0])
                    raise LookAheadError(
                        f"indicator {k!r} of {type(owner).__name__} looks ahead: its value at bar {bad} changes "
                        f"when bars from {cut} on are removed ({n} bars in the run); compute it from past and "
                        "current bars only")
                del p, head, same
            del part                              # before the next (longer) cut is computed
    finally:
        private.close()
    return full


#: Differences within this share of an indicator's largest absolute value are rounding, not look-ahead.
RELATIVE_TOLERANCE = 1e-9


def _scale(v: np.ndarray) -> float:
    """The absolute difference an indicator may show between cuts: ``RELATIVE_TOLERANCE`` of its
    largest finite absolute value."""
    finite = np.abs(v[np.isfinite(v)])
    return RELATIVE_TOLERANCE * float(finite.max()) if finite.size else 0.0


def _cuts(feed: MarketData) -> tuple[list[int], list[int]]:
    """Where the proof cuts the feed, as (early cuts, spread cuts).

    Early: after bars 2, 9, 65, 513, ... (8^k + 1) up to the first spread cut: inside any
    warm-up of 3 bars or more (a back-filled moving average's first values come from later
    bars), before an early extreme (a normalisation by the whole series' maximum, unless it is
    one of the first two bars), through a peek in the first bars. Prefixes this short cost
    little (together under a seventh of a run), so what they add is mostly the hook's fixed
    cost per call: three calls on 1,000 bars.
    Spread: over the run (off round numbers, so that calendar groupings do not line up with a
    cut), the last bar, and, on a feed with corrupted (NaN) bars, just after the first and the
    last of them (where a backward fill would look ahead) and in the middle of the two longest
    clean stretches (where a centred window has clean bars on both sides: NaN everywhere near a
    cut would hide its peeking)."""
    n = feed.n_bars
    if n < 2:
        return [], []
    first = n // 4 + 1
    early = {8 ** k + 1 for k in range(0, max(1, first).bit_length() // 3 + 1)}
    cuts = {first, n // 2 + 3, (3 * n) // 4 + 5, n - 1}
    nan_bar = np.isnan(feed.values).any(axis=(0, 1))
    bad = np.flatnonzero(nan_bar)
    if len(bad):
        cuts.update({int(bad[0]) + 1, int(bad[-1]) + 1})
        edges = np.flatnonzero(np.diff(np.concatenate([[1], nan_bar.astype(np.int8), [1]])))
        runs = sorted(zip(edges[::2], edges[1::2]), key=lambda r: r[0] - r[1])[:2]   # (start, stop) of clean runs
        cuts.update(int((a + b) // 2) for a, b in runs if b - a >= 2)
    spread = sorted(c for c in cuts if 1 <= c < n)
    return sorted(c for c in early if 1 <= c < first and c not in cuts), spread


class _PrivateFeed:
    """The proof's feeds: for each call, a feed of the first ``stop`` bars (``_Prefix``) whose
    arrays are private copies made when the hook first reads them.

    Each array (a field such as ``close``, all of ``values``, ``timestamps``) is its own
    allocation of exactly that call's bars: nothing past ``stop`` is reachable, not even
    through ``.base``, and a call costs the copies of what it reads (an SMA hook: one field,
    not seven). ``close()`` ends the proof: every array someone still holds (a kept feed, a
    kept view: the only way one stays alive) is filled with NaN and NaT, and a kept feed gives
    only NaN and NaT from then on, so a trader that keeps it learns nothing."""

    def __init__(self, feed: MarketData) -> None:
        self.source: MarketData | None = feed
        self._k = feed.n_symbols
        self._made: list[weakref.ref] = []      # every array handed out, alive only if someone holds it

    def prefix(self, stop: int) -> MarketData:
        return _Prefix(self, stop)

    def copy(self, key: int | str, stop: int) -> np.ndarray:
        """Field ``key`` (or "values", "timestamps") of the first ``stop`` bars: a private copy
        while the proof runs, NaN (NaT) after it."""
        src = self.source
        if src is None:                           # the proof is over: a kept feed gives nothing
            if key == "timestamps":
                a = np.full(stop, _NAT, dtype=np.int64)
            else:
                a = np.full((len(FIELDS), self._k, stop) if key == "values" else (self._k, stop), np.nan)
        elif key == "values":
            a = np.array(src.values[:, :, :stop])
        elif key == "timestamps":
            a = np.array(src.timestamps[:stop])
        else:
            a = np.array(src.values[key, :, :stop])
        a.flags.writeable = False
        self._made.append(weakref.ref(a))
        return a

    def close(self) -> None:
        self.source = None
        for ref in self._made:
            a = ref()
            if a is not None:                     # held by someone: emptied
                a.flags.writeable = True
                a.fill(_NAT if a.dtype == np.int64 else np.nan)
                a.flags.writeable = False
        self._made.clear()


class _Prefix(MarketData):
    """A ``MarketData`` of a feed's first ``stop`` bars for one call of the proof: its arrays are
    made by ``_PrivateFeed.copy`` when first read (see there)."""

    def __init__(self, proof: _PrivateFeed, stop: int) -> None:     # not MarketData's: nothing is copied yet
        set_ = object.__setattr__
        set_(self, "symbols", proof.source.symbols)
        set_(self, "timeframe", proof.source.timeframe)
        set_(self, "_spare", False)
        set_(self, "_proof", proof)
        set_(self, "_stop", stop)
        set_(self, "_arrays", {})

    def _array(self, key: int | str) -> np.ndarray:
        a = self._arrays.get(key)
        if a is None:
            whole = self._arrays.get("values")
            a = whole[key] if whole is not None and isinstance(key, int) else self._proof.copy(key, self._stop)
            self._arrays[key] = a
        return a

    values = property(lambda self: self._array("values"))
    timestamps = property(lambda self: self._array("timestamps"))
    open = property(lambda self: self._array(OPEN))
    high = property(lambda self: self._array(HIGH))
    low = property(lambda self: self._array(LOW))
    close = property(lambda self: self._array(CLOSE))
    volume = property(lambda self: self._array(VOLUME))
    spread = property(lambda self: self._array(SPREAD))
    depth = property(lambda self: self._array(DEPTH))
    n_bars = property(lambda self: self._stop)
    n_symbols = property(lambda self: len(self.symbols))


_NAT = np.iinfo(np.int64).min


def _call(fn: Any, private: _PrivateFeed, stop: int, who: str, keep: bool) -> Any:
    """``fn`` on the private feed's first ``stop`` bars; its arrays as float64. ``keep``: the run's
    indicators, copied (nothing of the trader's can change them); otherwise a cut's, compared at
    once and dropped."""
    out = fn(private.prefix(stop))
    if isinstance(out, dict):
        arrays = {}
        for k, v in out.items():
            try:
                if keep:
                    arrays[k] = np.array(v, dtype=np.float64)
                else:
                    arrays[k] = np.asarray(v, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ScenarioError(f"{who}: indicator {k!r} is not numeric ({exc})") from None
        out = arrays
    return out


def _checked(out: Any, n: int, who: str, symbols: int = 1) -> dict[str, np.ndarray]:
    if not isinstance(out, dict):
        raise ScenarioError(f"{who} returned {out!r} ({type(out).__name__}); expected a dict of name -> array "
                            "with one value per bar (per symbol: shape (symbols, bars))")
    for k, v in out.items():
        if not isinstance(k, str):
            raise ScenarioError(f"{who}: indicator name {k!r} is not a string")
        if v.shape != (n,) and v.shape != (symbols, n):
            per = f" or shape ({symbols}, {n}) (one row per symbol)"
            raise ScenarioError(f"{who}: indicator {k!r} has shape {v.shape}; expected {n} values (one per bar){per}")
    return out
