"""Downsampling that keeps extremes: the minimum and the maximum of every pixel column.

A chart ``width`` columns wide cannot show more than two values per column (the lowest
and the highest point of the vertical stroke drawn there), so keeping exactly those two,
in time order, draws the same picture as the full series: a 1,000,000-bar run still
shows its real worst bar and its real maximum drawdown. Pure numpy, no plotting library.
"""
from __future__ import annotations

import numpy as np

__all__ = ["minmax", "envelope", "DEFAULT_COLUMNS"]

#: Pixel columns of a report chart (points kept: at most twice this).
DEFAULT_COLUMNS = 800


def _columns(n: int, width: int) -> np.ndarray:
    """Start index of each of ``width`` near-equal buckets of ``n`` points."""
    return np.unique(np.linspace(0, n, width + 1).astype(np.int64)[:-1])


def minmax(y: np.ndarray, width: int = DEFAULT_COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, values)``: per column the index of the minimum and of the maximum, in order.

    Series of at most ``2 * width`` points come back whole. NaNs are ignored within a
    column (a column of only NaNs keeps one NaN, so gaps stay gaps).
    """
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if width < 1:
        raise ValueError(f"minmax: width = {width!r}; expected at least 1 column")
    if n <= 2 * width:
        return np.arange(n, dtype=np.int64), y.copy()
    starts = _columns(n, width)
    lo_fill = np.where(np.isnan(y), np.inf, y)
    hi_fill = np.where(np.isnan(y), -np.inf, y)
    # argmin/argmax per bucket: reduceat gives the values; find their first position per bucket
    mins = np.minimum.reduceat(lo_fill, starts)
    maxs = np.maximum.reduceat(hi_fill, starts)
    bucket = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))
    pos = np.arange(n)
    big = np.iinfo(np.int64).max
    imin = np.full(len(starts), big)
    imax = np.full(len(starts), big)
    np.minimum.at(imin, bucket, np.where(lo_fill == mins[bucket], pos, big))
    np.minimum.at(imax, bucket, np.where(hi_fill == maxs[bucket], pos, big))
    all_nan = imin == big
    imin[all_nan] = starts[all_nan]
    imax[all_nan] = starts[all_nan]
    idx = np.unique(np.concatenate([imin, imax, [0, n - 1]]))
    return idx, y[idx]


def envelope(y: np.ndarray, width: int = DEFAULT_COLUMNS, *, lower: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, values)``: one point per column, the column's minimum (``lower``) or maximum.

    For band edges (percentile fans): the lower edge keeps each column's lowest value and
    the upper edge its highest, so a band is never drawn narrower than it was. The index
    is each column's first bar, shared by every edge of the same length and width.
    """
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n <= width:
        return np.arange(n, dtype=np.int64), y.copy()
    starts = _columns(n, width)
    vals = (np.fmin if lower else np.fmax).reduceat(y, starts)
    return starts, vals
