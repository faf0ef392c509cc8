"""Re-pricing shared by the price transforms: stress windows and consistent OHLC rebuilding.

A price transform only decides ``delta``, a per-bar change of the log close; ``reprice``
rebuilds open, high and low around it, so every transform keeps
low <= min(open, close) <= max(open, close) <= high and prices > 0 by construction.
"""
from __future__ import annotations

import numpy as np

from ..market.data import CLOSE, DEPTH, HIGH, LOW, OPEN, SPREAD, VOLUME, MarketData, owned, take_values
from ..market.profiles import MARKET_MODEL

__all__ = ["stress_window", "reprice", "anchored_delta", "log_returns", "relaxation", "calm_sigma", "calm_level",
           "respond", "raise_spreads", "reflect_below", "Segment", "PRICE_BOUNDS", "CALM_BARS", "RELAX_DOC"]

#: Bars before a stress from which its calm reference levels are measured (one week of 1h bars).
CALM_BARS = 168
#: The ``relax_bars`` parameter every market stress shares.
RELAX_DOC = dict(doc="half-life in bars of the stress after its window: the excess decays as "
                     "1 / (1 + k / relax_bars), a power law (0: it stops at the window end)",
                 kind="int", low=0, high=100_000)
#: Prices are kept inside this range (a numerical guard: only stacks of extreme parameters,
#: say x50 volatility on x50 noise on a x6 pump, reach it; ordering is kept, so OHLC stays valid).
PRICE_BOUNDS = (1e-100, 1e100)
#: Volume grows as (local volatility / calm) ** this; depth as volume / volatility (docs/market.md).
VOLUME_ELASTICITY = MARKET_MODEL.volume_elasticity


def stress_window(n: int, start: float, duration_bars: int | None) -> tuple[int, int]:
    """Bars ``[i0, i1)`` of a stress starting at fraction ``start`` of ``n`` bars.

    The start is at least bar 1 (so a pre-stress close exists); the window is cut at the end.
    """
    i0 = min(max(int(round(start * n)), 1), n - 1)
    i1 = n if duration_bars is None else min(n, i0 + int(duration_bars))
    return i0, i1


def relaxation(n: int, i0: int, i1: int, relax_bars: int) -> np.ndarray:
    """Intensity of a stress per bar: 0 before ``i0``, 1 in ``[i0, i1)``, then 1 / (1 + k / relax_bars).

    k counts bars after the window (1 for bar ``i1``), so ``relax_bars`` is the half-life
    of the excess, and the tail decays as a power law (an Omori law: volatility after a crash
    relaxes as a power of the time since it, Lillo & Mantegna 2003; Petersen et al. 2010).
    ``relax_bars = 0`` ends the stress at the window end.
    """
    w = np.zeros(n)
    w[i0:i1] = 1.0
    if relax_bars > 0 and i1 < n:
        k = np.arange(1, n - i1 + 1, dtype=np.float64)
        k /= relax_bars
        k += 1.0
        np.divide(1.0, k, out=w[i1:])
    return w


def calm_sigma(close: np.ndarray, i0: int) -> np.ndarray:
    """Per-symbol calm sd of bar log returns (shape (S, 1)): their RMS over up to ``CALM_BARS``
    bars before ``i0``; when fewer than 8 bars precede it, a robust figure over the whole
    series (1.4826 x the median absolute return), which a stress inside it barely moves.
    A floor keeps it > 0."""
    r = log_returns(close)
    lo = max(1, i0 - CALM_BARS)
    if i0 - lo >= 8:
        seg = r[:, lo:i0]
        sd = np.sqrt(np.mean(seg * seg, axis=1, keepdims=True))
    elif r.shape[1] > 1:
        sd = 1.4826 * np.median(np.abs(r[:, 1:]), axis=1, keepdims=True)
    else:
        sd = np.zeros((r.shape[0], 1))
    return np.maximum(sd, 1e-6)


def calm_level(field: np.ndarray, i0: int) -> np.ndarray:
    """Per-symbol median of a field (shape (S, N)) over up to ``CALM_BARS`` bars before ``i0`` (shape (S, 1)).

    Stresses of one scenario that share a start (Black Swan Combo) all measure the same,
    unstressed week; a stress that follows an earlier one within a week sees part of it.
    """
    lo = max(0, i0 - CALM_BARS)
    return _row_median(field[:, lo:max(i0, lo + 1)])


def _row_median(x: np.ndarray) -> np.ndarray:
    """``np.median(x, axis=1, keepdims=True)`` of a 2-D float array by numpy's own steps (the same
    partition, then the mean of the middle one or two), without its general wrapper (two thirds
    of the call on a week of bars); a row with a NaN, or no columns: ``np.median`` itself."""
    sz = x.shape[1]
    if sz == 0:
        return np.median(x, axis=1, keepdims=True)
    half = sz // 2
    kth = [half - 1, half, -1] if sz % 2 == 0 else [(sz - 1) // 2, -1]
    part = np.partition(x, kth, axis=1)
    if np.isnan(part[:, -1]).any():       # NaN sorts last: numpy's answer is NaN for that row
        return np.median(x, axis=1, keepdims=True)
    middle = slice(half, half + 1) if sz % 2 else slice(half - 1, half + 1)
    return np.mean(part[:, middle], axis=1, keepdims=True)


def respond(values: np.ndarray, source: np.ndarray, level: np.ndarray, i0: int) -> None:
    """The book's response to a local volatility ``level`` (multiple of calm, shape (S, N - i0)), in place.

    Quotes scale with volatility, without compounding other stresses: spreads become at
    least the calm spread times ``level`` (calm: the median before the stress in ``source``;
    below level 2 only part of the gap, ``level - 1``, so a fading stress hands back to the
    base's own spreads smoothly).
    Volume grows as level ** e and depth as level ** (e - 1) (depth is volume over
    volatility, Wyart et al. 2008), e = ``VOLUME_ELASTICITY``.
    """
    calm = calm_level(source[SPREAD], i0)
    raise_spreads(values, calm * level, np.clip(level - 1.0, 0.0, 1.0), i0)
    values[VOLUME, :, i0:] *= level ** VOLUME_ELASTICITY
    values[DEPTH, :, i0:] *= level ** (VOLUME_ELASTICITY - 1.0)


def raise_spreads(values: np.ndarray, target: np.ndarray, weight: np.ndarray | float, i0: int) -> None:
    """Spreads from bar ``i0`` on move up toward ``target`` by ``weight`` (0..1) of the gap, in place.

    Weight 1 is max(spread, target): a stress sets a floor, and stacked stresses take the
    widest floor instead of multiplying. A relaxing stress's weight fades with it, so the
    base's own spreads (narrower than calm included) come back untouched.
    """
    s = values[SPREAD, :, i0:]
    gap = target - s
    np.maximum(gap, 0.0, out=gap)
    gap *= weight
    s += gap


def reflect_below(log_close: np.ndarray, floor: np.ndarray, a: int, b: int) -> np.ndarray:
    """Mirror the closes in ``[a, b)`` that fall below ``floor`` (per symbol) back above it.

    Returns the change to add to the log close in ``[a, b)`` (shape (S, b - a): it is zero
    elsewhere). The trough of an anchored crash stays its lowest close; the callers keep part
    of each excursion as the bar's wick.
    """
    gap = floor[:, None] - log_close[:, a:b]
    np.maximum(gap, 0.0, out=gap)
    gap *= 2.0
    return gap


def log_returns(close: np.ndarray) -> np.ndarray:
    """Close-to-close log returns with 0 for the first bar; works on (..., N)."""
    r = np.zeros_like(close)
    np.divide(close[..., 1:], close[..., :-1], out=r[..., 1:])
    np.log(r[..., 1:], out=r[..., 1:])
    return r


def reprice(market: MarketData, delta: np.ndarray, i0: int, *, gap_scale: np.ndarray | float = 1.0,
            wick_scale: np.ndarray | float = 1.0, values: np.ndarray | None = None) -> np.ndarray:
    """New values with the log close shifted by ``delta`` (shape (S, N), zero before ``i0``).

    Open follows the previous bar's shifted close (its gap optionally scaled), high and
    low keep their wicks beyond max/min(open, close) (optionally scaled). Bars before
    ``i0`` are copied untouched. Volume and spread are copied; callers change them.
    The new values go into ``values`` if given, else into the market's own buffer if it was
    given away (``market.data.spare``), else into a copy; every bar is read before it is written.
    """
    src = market.values
    out = take_values(market) if values is None else values
    n = src.shape[2]
    # Block by block from the last bar backwards: a block reads its own bars and the close
    # before it, which an earlier block (processed later) has not written yet, so ``out``
    # may be ``src``'s own buffer. Temporaries are a few block-sized arrays; the arithmetic
    # is the plain formula's, operation for operation.
    stop = n
    while stop > i0:
        start = max(i0, stop - _BLOCK)
        _reprice_block(src, out, delta, start, stop, _block_of(gap_scale, start - i0, stop - i0),
                       _block_of(wick_scale, start - i0, stop - i0))
        stop = start
    return out


_BLOCK = 1 << 14      # bars per block of ``reprice`` (its temporaries: a few blocks, issue #16)


def _block_of(scale: np.ndarray | float, a: int, b: int) -> np.ndarray | float:
    """Bars ``a:b`` (counted from the stress start) of a per-bar scale; a number as it is."""
    return scale[..., a:b] if isinstance(scale, np.ndarray) and scale.ndim else scale


def _reprice_block(src: np.ndarray, out: np.ndarray, delta: np.ndarray, i0: int, i1: int,
                   gap_scale: np.ndarray | float, wick_scale: np.ndarray | float) -> None:
    """``reprice`` of bars ``[i0, i1)``: all reads of ``src`` first, then the writes to ``out``."""
    lo_b, hi_b = np.log(PRICE_BOUNDS[0]), np.log(PRICE_BOUNDS[1])
    new_c = np.log(src[CLOSE, :, i0:i1])
    o = np.log(src[OPEN, :, i0:i1])
    up = np.log(src[HIGH, :, i0:i1])
    up -= np.maximum(o, new_c)                                # the upper wick: high - max(open, close)
    down = np.minimum(o, new_c)
    down -= np.log(src[LOW, :, i0:i1])                        # the lower wick: min(open, close) - low
    new_o = np.log(src[CLOSE, :, i0 - 1:i1 - 1])              # the previous close
    gap = o
    gap -= new_o                                              # the opening gap
    del o
    new_c += delta[:, i0:i1]
    np.clip(new_c, lo_b, hi_b, out=new_c)                     # in logs: never an overflow
    new_o += delta[:, i0 - 1:i1 - 1]
    gap *= gap_scale
    new_o += gap
    del gap
    np.clip(new_o, lo_b, hi_b, out=new_o)
    np.exp(new_o, out=out[OPEN, :, i0:i1])
    np.exp(new_c, out=out[CLOSE, :, i0:i1])
    edge = np.maximum(new_o, new_c)                            # the new body's top
    up *= wick_scale
    up += edge
    np.clip(up, edge, hi_b, out=up)
    np.exp(up, out=out[HIGH, :, i0:i1])
    del up
    np.minimum(new_o, new_c, out=edge)                         # the new body's bottom
    down *= wick_scale
    np.subtract(edge, down, out=down)
    np.clip(down, lo_b, edge, out=down)
    np.exp(down, out=out[LOW, :, i0:i1])


#: One leg of ``anchored_delta``: (bars, target log change, exponent or cumulative shape).
Segment = tuple[int, float | np.ndarray, float | np.ndarray]


def anchored_delta(log_close: np.ndarray, i0: int, segments: list[Segment],
                   plus: np.ndarray | None = None) -> np.ndarray:
    """A log-close shift that walks the close to target levels, segment by segment.

    ``segments`` are ``(bars, target_log_change, exponent)``: over ``bars`` bars the shift
    moves so that the close at the segment's last bar is exactly the pre-stress close
    (bar ``i0 - 1``) times ``exp(target_log_change)`` (a number, or one per symbol, shape (S,));
    ``exponent`` shapes the way there
    (1 linear, 2 parabolic: accelerating; -2: front-loaded, 1 - (1 - u) ** 2, steepest first),
    or is the way itself: an array of ``bars`` cumulative shares of the move (the last one 1).
    The base path's own noise stays on top of the shape. With an exponent, the base's own drift
    over the segment is taken out along the shape; with an array, along a straight line (a
    bridge), so that the array's steps (a lumpy fall, ``crash_shape.fall_shape``) are kept as
    drawn. After the last segment the shift is held. Segments cut by the end of the series stop
    there. ``plus``: the path is ``log_close + plus`` (only the columns read are added: no array of it).
    """
    s, n = log_close.shape

    def close_at(j: int) -> np.ndarray:
        return log_close[:, j] if plus is None else log_close[:, j] + plus[:, j]

    delta = np.zeros((s, n))
    pre = close_at(i0 - 1)
    start_shift = np.zeros(s)
    start_target: float | np.ndarray = 0.0
    pos = i0
    for bars, target, exponent in segments:
        bars = max(int(bars), 1)
        anchor = pos + bars - 1
        anchor_c = close_at(min(anchor, n - 1))
        end_shift = pre + target - anchor_c
        stop = min(pos + bars, n)
        if stop > pos:
            progress = (np.arange(pos, stop) - pos + 1) / bars
            if isinstance(exponent, np.ndarray):
                # the move along the array, the base's drift (anchor_c - close_at(pos - 1)) along a line
                move = np.asarray(target - start_target, dtype=np.float64).reshape(-1)
                drift = anchor_c - close_at(pos - 1)
                delta[:, pos:stop] = (start_shift[:, None] + move[:, None] * exponent[None, :stop - pos]
                                      - drift[:, None] * progress)
            else:
                shape = progress ** exponent if exponent > 0 else 1.0 - (1.0 - progress) ** -exponent
                delta[:, pos:stop] = start_shift[:, None] + (end_shift - start_shift)[:, None] * shape
        start_shift = end_shift
        start_target = target
        pos += bars
        if pos >= n:
            break
    if pos < n:
        delta[:, pos:] = start_shift[:, None]
    return delta


def frozen(values: np.ndarray) -> np.ndarray:
    """Hand a transform's fresh values array to ``MarketData`` without a copy (prices kept in ``PRICE_BOUNDS``)."""
    prices = values[OPEN:CLOSE + 1]
    np.clip(prices, *PRICE_BOUNDS, out=prices)
    return owned(values)
