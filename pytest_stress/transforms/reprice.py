"""Re-pricing shared by the price transforms: stress windows and consistent OHLC rebuilding.

A price transform only decides ``delta``, a per-bar change of the log close; ``reprice``
rebuilds open, high and low around it, so every transform keeps
low <= min(open, close) <= max(open, close) <= high and prices > 0 by construction.
"""
from __future__ import annotations

import numpy as np

from ..market.data import CLOSE, HIGH, LOW, OPEN, MarketData, owned

__all__ = ["stress_window", "reprice", "anchored_delta", "log_returns"]


def stress_window(n: int, start: float, duration_bars: int | None) -> tuple[int, int]:
    """Bars ``[i0, i1)`` of a stress starting at fraction ``start`` of ``n`` bars.

    The start is at least bar 1 (so a pre-stress close exists); the window is cut at the end.
    """
    i0 = min(max(int(round(start * n)), 1), n - 1)
    i1 = n if duration_bars is None else min(n, i0 + int(duration_bars))
    return i0, i1


def log_returns(close: np.ndarray) -> np.ndarray:
    """Close-to-close log returns with 0 for the first bar; works on (..., N)."""
    r = np.zeros_like(close)
    np.log(close[..., 1:] / close[..., :-1], out=r[..., 1:])
    return r


def reprice(market: MarketData, delta: np.ndarray, i0: int, *, gap_scale: np.ndarray | float = 1.0,
            wick_scale: np.ndarray | float = 1.0, values: np.ndarray | None = None) -> np.ndarray:
    """New values with the log close shifted by ``delta`` (shape (S, N), zero before ``i0``).

    Open follows the previous bar's shifted close (its gap optionally scaled), high and
    low keep their wicks beyond max/min(open, close) (optionally scaled). Bars before
    ``i0`` are copied untouched. Volume and spread are copied; callers change them.
    """
    src = market.values
    out = src.copy() if values is None else values
    o, h, lo, c = (src[f, :, i0:] for f in (OPEN, HIGH, LOW, CLOSE))
    top = np.maximum(o, c)
    bottom = np.minimum(o, c)
    up = np.log(h / top)
    down = np.log(bottom / lo)
    prev_c = src[CLOSE, :, i0 - 1:-1]
    gap = np.log(o / prev_c)
    d = delta[:, i0:]
    prev_d = delta[:, i0 - 1:-1]
    new_c = c * np.exp(d)
    new_o = prev_c * np.exp(prev_d + gap * gap_scale)
    new_top = np.maximum(new_o, new_c)
    new_bottom = np.minimum(new_o, new_c)
    out[OPEN, :, i0:] = new_o
    out[CLOSE, :, i0:] = new_c
    out[HIGH, :, i0:] = new_top * np.exp(up * wick_scale)
    out[LOW, :, i0:] = new_bottom * np.exp(-down * wick_scale)
    return out


def anchored_delta(log_close: np.ndarray, i0: int, segments: list[tuple[int, float, float]]) -> np.ndarray:
    """A log-close shift that walks the close to target levels, segment by segment.

    ``segments`` are ``(bars, target_log_change, exponent)``: over ``bars`` bars the shift
    moves so that the close at the segment's last bar is exactly the pre-stress close
    (bar ``i0 - 1``) times ``exp(target_log_change)``; ``exponent`` shapes the way there
    (1 linear, 2 parabolic). The base path's own noise stays on top of the shape. After
    the last segment the shift is held. Segments cut by the end of the series stop there.
    """
    s, n = log_close.shape
    delta = np.zeros((s, n))
    pre = log_close[:, i0 - 1]
    start_shift = np.zeros(s)
    pos = i0
    for bars, target, exponent in segments:
        bars = max(int(bars), 1)
        anchor = pos + bars - 1
        anchor_c = log_close[:, min(anchor, n - 1)]
        end_shift = pre + target - anchor_c
        stop = min(pos + bars, n)
        if stop > pos:
            progress = (np.arange(pos, stop) - pos + 1) / bars
            delta[:, pos:stop] = start_shift[:, None] + (end_shift - start_shift)[:, None] * progress ** exponent
        start_shift = end_shift
        pos += bars
        if pos >= n:
            break
    if pos < n:
        delta[:, pos:] = start_shift[:, None]
    return delta


def frozen(values: np.ndarray) -> np.ndarray:
    """Hand a transform's fresh values array to ``MarketData`` without a copy."""
    return owned(values)
