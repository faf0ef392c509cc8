"""Price-path stresses: flash crash, volatility spike, trend shift, pump and dump.

Each is pure (the input is never changed), seeded where it draws, vectorised, and keeps
the OHLC invariants and the index. ``start`` is where the stress begins as a fraction of
the series (bar ``round(start * bars)``, at least 1); windows are cut at the series end.

Every stress relaxes after its window instead of stopping in one bar: its excess decays
as 1 / (1 + k / relax_bars) (``reprice.relaxation``, an Omori power law). Spreads, volume
and depth answer the local volatility (``reprice.respond``): quotes widen with it, volume
rises and depth near the touch thins.
"""
from __future__ import annotations

import numpy as np

from ..market.data import CLOSE, HIGH, LOW, MarketData
from ..parameters import with_params
from .crash_shape import capitulation_wick, depth_exponents, fall_shape
from .reprice import (RELAX_DOC, Segment, anchored_delta, calm_sigma, frozen, log_returns, reflect_below,
                      relaxation, reprice, respond, stress_window)

__all__ = ["flash_crash", "volatility_spike", "trend_shift", "pump_and_dump"]

_START = dict(doc="where the stress starts, as a fraction of the series", low=0.0, high=0.99)
_NOISE = dict(doc="local volatility during the move, as a multiple of calm (relaxing after it; an input "
                  "already that volatile is left as it is)", low=1.0, high=50.0, scale="factor")
_SPREAD = dict(doc="spreads at the steepest bar of the forced move, as a multiple of calm (other bars in "
                   "proportion to their move); volume and depth answer the same level", low=1.0, high=1000.0,
               scale="factor")
_FRONT = dict(doc="front-loading of the fall: its shape is 1 - (1 - u) ** front (1: linear; 2: the first "
                  "bar takes about 2 / bars of it; below 1: back-loaded, the fall gathers pace)", low=0.25,
              high=10.0)
_LUMPY = dict(doc="unevenness of the fall: each bar's share of the front-loaded shape is multiplied by an "
                  "exponential draw to this power (0: an even fall; 2: a few bars carry most of it, as in the "
                  "crashes of 19 May 2021 and 12-13 March 2020)", low=0.0, high=4.0)
_WICK = dict(doc="share of the log fall from the pre-crash close to the trough bar's low that lies below the "
                 "trough close (the capitulation wick; 0: none beyond the bar's own)", low=0.0, high=0.9)
_PRE_VOL = dict(doc="volatility of the bars before the crash and through it, as a multiple of the base's "
                    "(returns, gaps and wicks scaled; the book answers it; relaxing after): real crashes came "
                    "after an already volatile week", low=1.0, high=20.0, scale="factor")
_PRE_BARS = dict(doc="bars before the crash's start that pre_vol_mult already acts on", kind="int", low=0,
                 high=100_000)
_DEPTH_SPREAD = dict(doc="how much deeper alts fall than the first symbol: each symbol's log fall is the first's "
                         "times (its crash_shape.CRASH_DEPTH / the first's) ** this (0: every symbol falls the "
                         "same; 1: ETH 1.53x and SOL 2.03x BTC's log fall, 19 May 2021)", low=0.0, high=3.0)


def _trailing_rms(r: np.ndarray, window: int) -> np.ndarray:
    """Root mean square of the last ``window`` returns up to each bar (fewer at the start)."""
    sq = r * r
    np.cumsum(sq, axis=1, out=sq)
    out = sq.copy()
    out[:, window:] -= sq[:, :-window]
    del sq
    out[:, :window] /= np.arange(1, min(window, r.shape[1]) + 1)    # fewer bars at the start
    out[:, window:] /= window
    np.maximum(out, 0.0, out=out)
    return np.sqrt(out, out=out)


def _anchored_move(market: MarketData, rng: np.random.Generator, i0: int, segments: list[Segment],
                   noisy: tuple[int, int], floor_segment: tuple[int, int, float | np.ndarray] | None, noise_mult: float,
                   spread_mult: float, relax_bars: int) -> np.ndarray:
    """New values for a move pinned to target closes, noisy inside ``noisy`` (bars [a, b)).

    The base returns are scaled so that their local volatility (trailing 24-bar RMS) is at
    least k x calm, k = ``noise_mult`` inside ``noisy`` and relaxing after (an input already
    that wild is left alone, so stacked stresses do not compound), then ``anchored_delta``
    walks the closes to the segment targets.
    Inside ``floor_segment`` = (a, b, log target) no close goes below the target: dips
    below it are mirrored back and kept as the bar's wick (the low pierces by half the dip,
    at most two local sigmas; the close bounces). Bars of the forced move get wicks
    beyond their body of an exponential share (mean 0.3) of the move, drawn from ``rng``.
    The book answers a level max(k, 1 + (spread_mult - 1) x move / steepest move): spreads
    at least calm x level, volume x level ** e, depth x level ** (e - 1) (``respond``).
    """
    n = market.n_bars
    log_c = np.log(market.close)
    a, b = noisy
    k = 1.0 + (noise_mult - 1.0) * relaxation(n, a, b, relax_bars)
    r = log_returns(market.close)
    sigma = calm_sigma(market.close, i0)
    # noise_mult is a level relative to calm, not a product: where the input is already
    # that wild (a volatility spike in the same scenario), the move adds no noise of its own
    # (full-length arrays are made once and changed in place: the market is the large part)
    gain = _trailing_rms(r, 24)
    np.maximum(gain, 1e-300, out=gain)
    np.divide(sigma, gain, out=gain)
    np.minimum(gain, 1.0, out=gain)
    gain *= k
    np.maximum(gain, 1.0, out=gain)
    gain[:, :i0] = 1.0
    noise = gain - 1.0
    noise *= r
    del r
    np.cumsum(noise, axis=1, out=noise)
    delta = anchored_delta(log_c, i0, segments, plus=noise)
    delta += noise
    del noise
    # the forced move alone: the shape walked on a flat path, bar to bar from i0
    flat = np.broadcast_to(log_c[:, i0 - 1:i0], log_c.shape)
    forced = np.diff(anchored_delta(flat, i0, segments)[:, i0 - 1:], axis=1)
    move = np.abs(forced)
    steepest = np.maximum(move.max(axis=1, keepdims=True), 1e-12)
    level = move * (spread_mult - 1.0)
    level /= steepest
    level += 1.0
    np.maximum(level, k[None, i0:], out=level)
    pierce = None
    if floor_segment is not None:
        fa, fb, target = floor_segment
        floor = log_c[:, i0 - 1] + target
        log_c += delta
        w0, w1 = fa, min(fb, n)
        seg = reflect_below(log_c, floor, w0, w1)        # the mirror in [w0, w1), zero outside
        del log_c
        if seg.any():
            # only bars inside [w0, w1) can pierce the floor
            cap = np.zeros((seg.shape[0], w1 - w0))
            c0 = max(i0, w0)
            cap[:, c0 - w0:] = 2.0 * sigma * k[None, c0:w1]
            pierce = (w0, w1, np.where(seg > 0, floor[:, None] - np.minimum(0.5 * seg, cap), np.inf))
            delta[:, w0:w1] += seg
        del seg
    else:
        del log_c
    values = reprice(market, delta, i0, gap_scale=gain[:, i0:], wick_scale=gain[:, i0:])
    del delta, gain
    extra = rng.standard_exponential(move.shape)
    move *= 0.3
    extra *= move
    del move
    np.exp(extra, out=extra)
    down = forced < 0
    np.divide(values[LOW, :, i0:], extra, out=values[LOW, :, i0:], where=down)
    np.logical_not(down, out=down)
    np.multiply(values[HIGH, :, i0:], extra, out=values[HIGH, :, i0:], where=down)
    del extra, down, forced
    if pierce is not None:
        w0, w1, p = pierce
        np.minimum(values[LOW, :, w0:w1], np.exp(p), out=values[LOW, :, w0:w1])
    respond(values, market.values, level, i0)
    return values


@with_params(
    drop_pct=dict(doc="fall of the close from the pre-crash close to the trough (its lowest close); of the first "
                      "symbol (the others: depth_spread)", low=0.0, high=0.99, low_inclusive=False, scale="share"),
    duration_bars=dict(doc="bars from the start to the trough", kind="int", low=1, high=10_000),
    recovery_pct=dict(doc="share of the drop won back by the end of the recovery", low=0.0, high=1.0),
    recovery_bars=dict(doc="bars from the trough to the end of the recovery", kind="int", low=1, high=10_000),
    front=_FRONT,
    lumpiness=_LUMPY,
    wick_share=_WICK,
    noise_mult=_NOISE,
    spread_mult=_SPREAD,
    pre_vol_mult=_PRE_VOL,
    pre_bars=_PRE_BARS,
    depth_spread=_DEPTH_SPREAD,
    relax_bars=RELAX_DOC,
    start=_START,
)
def flash_crash(market: MarketData, rng: np.random.Generator | None = None, *, drop_pct: float = 0.3,
                duration_bars: int = 5, recovery_pct: float = 0.5, recovery_bars: int = 24, front: float = 2.0,
                lumpiness: float = 0.0, wick_share: float = 0.0, noise_mult: float = 3.0,
                spread_mult: float = 15.0, pre_vol_mult: float = 1.0, pre_bars: int = 168, depth_spread: float = 1.0,
                relax_bars: int = 12, start: float = 0.5) -> MarketData:
    """Drop by ``drop_pct`` over ``duration_bars``, front-loaded and noisy, then win back ``recovery_pct``.

    The close at the trough bar (``duration_bars - 1`` after the start) is exactly
    (1 - drop_pct) times the pre-crash close and no close of the crash or the recovery is
    lower (dips below are mirrored and left as wicks); the recovery's last close is exactly
    the recovered level. ``lumpiness`` makes the fall uneven (a few steep hours), ``wick_share``
    leaves that share of the fall in the trough bar's wick (``crash_shape``). Other symbols
    fall to their own depth (``depth_spread``; ``crash_shape.CRASH_DEPTH``), each exactly, and
    win back the same share. Before the crash (``pre_bars``) and through it the base's
    volatility is raised to ``pre_vol_mult`` x (relaxing after); on top of that level the noise
    is raised to ``noise_mult`` x in the crash and the recovery and relaxes after; spreads widen to
    ``spread_mult`` x the week before's at the steepest bar (in proportion to the move
    elsewhere), volume surges and depth thins with them. After the recovery the market goes on
    from there.
    """
    rng = np.random.default_rng() if rng is None else rng
    i0, _ = stress_window(market.n_bars, start, None)
    end = i0 + duration_bars + recovery_bars
    if pre_vol_mult > 1.0:
        market = _spike(market, max(i0 - pre_bars, 1), min(end, market.n_bars), pre_vol_mult, relax_bars)
    beta = depth_exponents(market.symbols, depth_spread)
    trough = beta * float(np.log1p(-drop_pct))
    recovered = np.log1p(np.expm1(trough) * (1.0 - recovery_pct))
    shape = fall_shape(rng, duration_bars, front, lumpiness) if lumpiness > 0 else -front
    values = _anchored_move(market, rng, i0, [(duration_bars, trough, shape), (recovery_bars, recovered, 1.0)],
                            (i0, end), (i0, end, trough), noise_mult, spread_mult, relax_bars)
    capitulation_wick(values, i0 + duration_bars - 1, values[CLOSE, :, i0 - 1], wick_share)
    return market.replace(values=frozen(values))


@with_params(
    multiplier=dict(doc="factor on returns' volatility and bar ranges in the window", low=1.0, high=100.0,
                    scale="factor"),
    duration_bars=dict(doc="bars the spike lasts", kind="int", low=1, high=1_000_000),
    relax_bars=RELAX_DOC,
    start=_START,
)
def volatility_spike(market: MarketData, rng: np.random.Generator | None = None, *, multiplier: float = 8.0,
                     duration_bars: int = 48, relax_bars: int = 24, start: float = 0.5) -> MarketData:
    """Multiply the bar-to-bar log returns, gaps and wicks by ``multiplier`` inside the window.

    Both directions are amplified (the base returns keep their signs); after the window the
    factor relaxes over ``relax_bars``. Quotes scale with volatility: spreads are at least
    the calm spread times the factor, volume is multiplied by factor ** e and depth by
    factor ** (e - 1) (``reprice.respond``; e = 0.5: x2.8 volume, /2.8 depth at x8).
    """
    i0, i1 = stress_window(market.n_bars, start, duration_bars)
    return _spike(market, i0, i1, multiplier, relax_bars)


def _spike(market: MarketData, i0: int, i1: int, multiplier: float, relax_bars: int) -> MarketData:
    """``volatility_spike`` on bars ``[i0, i1)`` (``i0`` >= 1), relaxing after."""
    n = market.n_bars
    k = 1.0 + (multiplier - 1.0) * relaxation(n, i0, i1, relax_bars)
    r = log_returns(market.close)
    delta = np.cumsum((k - 1.0)[None, :] * r, axis=1)
    values = reprice(market, delta, i0, gap_scale=k[i0:], wick_scale=k[i0:])
    respond(values, market.values, np.broadcast_to(k[i0:], (market.n_symbols, n - i0)), i0)
    return market.replace(values=frozen(values))


@with_params(
    trend_pct=dict(doc="price change over the window (-0.25: the close at the window end is 25% lower)",
                   low=-0.95, high=5.0, scale="growth"),
    duration_bars=dict(doc="bars of the trend (unset: to the end of the series)", kind="int", low=1,
                       high=10_000_000),
    anchored=dict(doc="true: the close at the window end is exactly (1 + trend_pct) x the pre-window close "
                      "(the base noise rides on top); false: (1 + trend_pct) x the base's own close there",
                  kind="bool"),
    start=_START,
)
def trend_shift(market: MarketData, rng: np.random.Generator | None = None, *, trend_pct: float = -0.4,
                duration_bars: int | None = None, anchored: bool = True, start: float = 0.5) -> MarketData:
    """A trend stated as a target: the window's total price change, reached at its last bar.

    Anchored (the default), the close at the window end is exactly (1 + trend_pct) times
    the close before the window, whatever the base did there; otherwise a linear drift is
    added so that it is (1 + trend_pct) times the base's own close. Nothing is extrapolated
    from the base's past drift. After the window the market goes on from the level reached.
    """
    n = market.n_bars
    i0, i1 = stress_window(n, start, duration_bars)
    target = float(np.log1p(trend_pct))
    if anchored:
        delta = anchored_delta(np.log(market.close), i0, [(i1 - i0, target, 1.0)])
    else:
        steps = np.clip(np.arange(n) - i0 + 1, 0, i1 - i0).astype(np.float64)
        delta = np.broadcast_to(steps * (target / (i1 - i0)), (market.n_symbols, n))
    return market.replace(values=frozen(reprice(market, delta, i0)))


@with_params(
    pump_pct=dict(doc="rise from the pre-pump close to the peak (1.2 = +120%)", low=0.0, high=20.0,
                  low_inclusive=False, scale="growth"),
    pump_bars=dict(doc="bars of the parabolic rise", kind="int", low=1, high=100_000),
    dump_pct=dict(doc="fall from the peak to the end of the dump (its lowest close)", low=0.0, high=0.99,
                  low_inclusive=False, scale="share"),
    dump_bars=dict(doc="bars of the collapse", kind="int", low=1, high=100_000),
    front=_FRONT,
    lumpiness=_LUMPY,
    wick_share=dict(_WICK, doc="share of the log fall from the peak close to the dump's last bar's low that lies "
                               "below that bar's close (0: none beyond the bar's own)"),
    noise_mult=_NOISE,
    spread_mult=_SPREAD,
    relax_bars=RELAX_DOC,
    start=_START,
)
def pump_and_dump(market: MarketData, rng: np.random.Generator | None = None, *, pump_pct: float = 1.2,
                  pump_bars: int = 72, dump_pct: float = 0.65, dump_bars: int = 12, front: float = 2.0,
                  lumpiness: float = 0.0, wick_share: float = 0.0, noise_mult: float = 3.0,
                  spread_mult: float = 15.0, relax_bars: int = 12,
                  start: float = 0.4) -> MarketData:
    """A parabolic rise of ``pump_pct`` over ``pump_bars``, then a front-loaded, noisy collapse of ``dump_pct``.

    The peak close and the dump's last close are exact; no close of the dump is below its
    last one (dips are mirrored into wicks). The noise is raised to ``noise_mult`` x calm in
    the dump and relaxes after; spreads reach ``spread_mult`` x calm at the steepest dump bar
    (the late pump bars widen them in proportion), volume and depth answer the same level.
    ``lumpiness`` makes the dump uneven and ``wick_share`` leaves that share of it in its last
    bar's wick, as in ``flash_crash``. The defaults end the dump below the start:
    (1 + 1.2) * (1 - 0.65) = 0.77.
    """
    rng = np.random.default_rng() if rng is None else rng
    i0, _ = stress_window(market.n_bars, start, None)
    peak = float(np.log1p(pump_pct))
    bottom = peak + float(np.log1p(-dump_pct))
    a = i0 + pump_bars
    shape = fall_shape(rng, dump_bars, front, lumpiness) if lumpiness > 0 else -front
    values = _anchored_move(market, rng, i0, [(pump_bars, peak, 2.0), (dump_bars, bottom, shape)],
                            (a, a + dump_bars), (a, a + dump_bars, bottom), noise_mult, spread_mult, relax_bars)
    if a - 1 < market.n_bars:
        capitulation_wick(values, a + dump_bars - 1, values[CLOSE, :, a - 1], wick_share)
    return market.replace(values=frozen(values))
