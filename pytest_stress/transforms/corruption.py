"""Data corruption: bad bars in the trader's feed while the true market stays clean."""
from __future__ import annotations

import numpy as np

from ..market.data import CLOSE, HIGH, LOW, OPEN, VOLUME, MarketData
from ..parameters import with_params
from .reprice import frozen, stress_window

__all__ = ["corrupt_feed", "CORRUPTION_KINDS"]

#: What a corrupted bar can look like.
CORRUPTION_KINDS = ("nan", "spike", "stale", "zero_volume", "timestamp")


@with_params(
    corruption_pct=dict(doc="share of the window's bars corrupted", low=0.0, high=0.5, scale="share"),
    kinds=dict(doc="which corruptions to inject, drawn uniformly per bad bar", kind="choices",
               choices=CORRUPTION_KINDS),
    spike_mult=dict(doc="a price spike multiplies or divides the bar's prices by this", low=1.5, high=100.0,
                    scale="factor"),
    duration_bars=dict(doc="bars of the window (unset: to the end)", kind="int", low=1, high=10_000_000),
    start=dict(doc="where the window starts, as a fraction of the series", low=0.0, high=0.99),
)
def corrupt_feed(market: MarketData, rng: np.random.Generator | None = None, *, corruption_pct: float = 0.15,
                 kinds: tuple[str, ...] = CORRUPTION_KINDS, spike_mult: float = 5.0,
                 duration_bars: int | None = None, start: float = 0.0) -> tuple[MarketData, np.ndarray]:
    """Return the corrupted feed and a per-bar mask of the bars that were corrupted.

    - ``nan``: the close, and each other field with probability 1/2, become NaN;
    - ``spike``: the bar's prices are multiplied or divided by ``spike_mult``;
    - ``stale``: the feed repeats the previous bar's close as open, high, low and close;
    - ``zero_volume``: the bar reports no volume;
    - ``timestamp``: the bar's timestamp duplicates the previous one or goes back before it.

    Each symbol gets its own bad bars; a timestamp fault hits every symbol (the index is shared).
    """
    rng = np.random.default_rng() if rng is None else rng
    kinds = tuple(kinds)
    n, k = market.n_bars, market.n_symbols
    i0, i1 = stress_window(n, start, duration_bars)
    i0 = 0 if start == 0 else i0
    count = int(round(corruption_pct * (i1 - i0)))
    values = market.values.copy()
    timestamps = market.timestamps.copy()
    mask = np.zeros(n, dtype=bool)
    if count == 0:
        return market, mask
    first = max(i0, 1)  # bar 0 has no previous bar to go stale on or collide with
    for s in range(k):
        bars = np.sort(rng.choice(np.arange(first, i1), size=min(count, i1 - first), replace=False))
        which = rng.integers(0, len(kinds), size=len(bars))
        coin = rng.random((len(bars), 4))
        for kind_i, kind in enumerate(kinds):
            sel = bars[which == kind_i]
            c = coin[which == kind_i]
            if kind == "nan":
                values[CLOSE, s, sel] = np.nan
                for j, f in enumerate((OPEN, HIGH, LOW, VOLUME)):
                    values[f, s, sel[c[:, j] < 0.5]] = np.nan
            elif kind == "spike":
                factor = np.where(c[:, 0] < 0.5, spike_mult, 1.0 / spike_mult)
                values[OPEN:CLOSE + 1, s, sel] *= factor
            elif kind == "stale":
                prev = market.values[CLOSE, s, sel - 1]
                for f in (OPEN, HIGH, LOW, CLOSE):
                    values[f, s, sel] = prev
            elif kind == "zero_volume":
                values[VOLUME, s, sel] = 0.0
            elif kind == "timestamp":
                step = market.bar_seconds * 1_000_000_000
                back = np.where(c[:, 0] < 0.5, 0, step)
                timestamps[sel] = market.timestamps[sel - 1] - back
        mask[bars] = True
    return market.replace(values=frozen(values), timestamps=timestamps), mask
