"""Causal smoothers the exchange's conditions are built from, vectorised once per run.

``ewma``: an exponentially weighted mean over bars <= t. ``trailing_reference``: a
robust level from bars strictly before t (median of block means), so that a stress
window shorter than half its memory cannot move its own reference.
"""
from __future__ import annotations

import numpy as np

__all__ = ["ewma", "ewma_rows", "trailing_reference", "REF_BLOCK", "REF_BLOCKS"]

_BLOCK = 64

#: Bars per block of ``trailing_reference`` and blocks it remembers: 24 x 14 (two weeks
#: of hourly bars). A design choice: longer than any library stress window (96 bars), so a
#: window is never more than half the memory.
REF_BLOCK, REF_BLOCKS = 24, 14
_SORT_CHUNK = 1 << 12     # windows sorted at a time by trailing_reference (memory: issue #16)


def ewma(x: np.ndarray, halflife: float) -> np.ndarray:
    """y[0] = x[0]; y[t] = d y[t-1] + (1 - d) x[t] with d = 0.5 ** (1 / halflife).

    Vectorised in blocks of 64 bars, all blocks at once: the recursion runs from zero inside
    every block together (64 elementwise numpy steps over one value per block), then each
    block adds its carry (the previous block's last value) times d ** (offset + 1); only the
    carries are a Python loop. Elementwise multiply and add only, in a fixed order: no BLAS
    (a matrix product woke OpenBLAS's second thread on every run, which then busy-waited), so
    the bits depend on neither the BLAS build nor its thread count. A prefix of ``x`` gives a
    prefix of the result, bit for bit. Matches the scalar recursion to about 1e-15 relative.
    """
    n = len(x)
    if n == 0:
        return np.empty(0)
    d = 0.5 ** (1.0 / halflife)
    width = min(_BLOCK, n)
    blocks = -(-n // width)
    flat = np.zeros(blocks * width)
    flat[:n] = x
    cols = flat.reshape(blocks, width).T.copy()          # (offset in block, block), rows contiguous
    cols *= 1.0 - d
    step = np.empty(blocks)
    for j in range(1, width):                             # inner[j] = d inner[j-1] + (1-d) x[j]
        np.multiply(cols[j - 1], d, out=step)
        cols[j] += step
    decay = np.full(width, d)
    np.multiply.accumulate(decay, out=decay)              # d ** (offset + 1), by repeated products
    carries = np.empty(blocks)
    carry = float(x[0])                                   # as if y[-1] = x[0], so that y[0] = x[0]
    tail = float(decay[-1])
    for b, last in enumerate(cols[-1].tolist()):
        carries[b] = carry
        carry = tail * carry + last
    cols += decay[:, None] * carries[None, :]
    return cols.T.ravel()[:n]


def ewma_rows(x: np.ndarray, halflife: float) -> np.ndarray:
    """``ewma`` of each row of a (symbol, bar) array."""
    return np.vstack([ewma(row, halflife) for row in x]) if x.size else np.zeros_like(x)


def trailing_reference(x: np.ndarray, block: int = REF_BLOCK, blocks: int = REF_BLOCKS, *,
                       subtract: bool = False) -> np.ndarray:
    """A robust reference level of each row of ``x`` (symbol, bar) at each bar, from earlier bars only.

    Bars are grouped in blocks of ``block``; a bar's reference is the median of the means
    of the last ``blocks`` complete blocks before its own block. In the first block (no
    complete block yet) it is the mean of the bars before it, and at bar 0 the bar itself
    (no history: no stress from levels). Pass logs of positive levels.

    ``subtract=True``: ``x`` minus its reference, written into ``x`` and returned (the same
    subtraction as ``x - trailing_reference(x)``, without an array of the reference: issue #16).
    """
    k, n = x.shape
    out = x if subtract else np.empty_like(x)
    if n == 0:
        return out
    first = min(block, n)
    nb = n // block
    # everything read from x before anything is written (x may be out)
    head = np.cumsum(x[:, :first], axis=1)[:, :first - 1] / np.arange(1, first)
    means = x[:, :nb * block].reshape(k, nb, block).mean(axis=2) if nb and n > block else None   # (k, nb)
    if subtract:
        x[:, :1] -= x[:, :1]
        x[:, 1:first] -= head
    else:
        out[:, 0] = x[:, 0]
        out[:, 1:first] = head
    if means is None:
        return out
    # the median of each window of the last 'blocks' block means, by a sort: the first blocks - 1
    # windows are partial, padded with NaN, which sorts last, so their median sits at index
    # (have - 1) // 2 and have // 2 of their sorted values (as np.median gives it); one sort for
    # all windows, in chunks (a sorted copy of a chunk only: issue #16)
    padded = np.empty((k, blocks - 1 + nb))
    padded[:, :blocks - 1] = np.nan
    padded[:, blocks - 1:] = means
    windows = np.lib.stride_tricks.as_strided(
        padded, (k, nb, blocks), (padded.strides[0], padded.strides[1], padded.strides[1]), writeable=False)
    have = np.minimum(np.arange(nb), blocks - 1)      # values in a window, less one
    med = np.empty((k, nb))
    for a in range(0, nb, _SORT_CHUNK):
        srt = np.sort(windows[:, a:a + _SORT_CHUNK], axis=2)
        rows = np.arange(srt.shape[1])
        part = have[a:a + _SORT_CHUNK]
        med[:, a:a + _SORT_CHUNK] = 0.5 * (srt[:, rows, part // 2] + srt[:, rows, (part + 1) // 2])
    # blocks 1.. use the median over complete blocks before them: med[:, b - 1]
    # (written through a (symbol, block, bar) view of out: no repeated copy of med)
    body = out[:, block:nb * block].reshape(k, nb - 1, block)
    if subtract:
        body -= med[:, :nb - 1, None]
        if n > nb * block:
            out[:, nb * block:] -= med[:, nb - 1:nb]
    else:
        body[:] = med[:, :nb - 1, None]
        if n > nb * block:
            out[:, nb * block:] = med[:, nb - 1:nb]
    return out
