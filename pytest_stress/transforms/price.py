"""Price-path stresses: flash crash, volatility spike, trend shift, pump and dump.

Each is pure (the input is never changed), seeded where it draws, vectorised, and keeps
the OHLC invariants and the index. ``start`` is where the stress begins as a fraction of
the series (bar ``round(start * bars)``, at least 1); windows are cut at the series end.
"""
from __future__ import annotations

import numpy as np

from ..market.data import SPREAD, VOLUME, MarketData
from ..parameters import with_params
from .reprice import anchored_delta, frozen, log_returns, reprice, stress_window

__all__ = ["flash_crash", "volatility_spike", "trend_shift", "pump_and_dump"]

_START = dict(doc="where the stress starts, as a fraction of the series", low=0.0, high=0.99)


def _volume_surge(market: MarketData, values: np.ndarray, delta: np.ndarray, i0: int) -> None:
    """Forced moves trade heavily: volume grows with the added move, in base-return sigmas (max 20x)."""
    base_r = log_returns(market.close)
    sigma = np.maximum(base_r[:, 1:].std(axis=1, keepdims=True), 1e-12)
    added = np.abs(np.diff(delta, axis=1, prepend=0.0))[:, i0:]
    values[VOLUME, :, i0:] *= np.minimum(1.0 + added / sigma, 20.0)


@with_params(
    drop_pct=dict(doc="fall of the close from the pre-crash close to the trough", low=0.0, high=0.99,
                  low_inclusive=False),
    duration_bars=dict(doc="bars from the start to the trough", kind="int", low=1, high=10_000),
    recovery_pct=dict(doc="share of the drop won back by the end of the recovery", low=0.0, high=1.0),
    recovery_bars=dict(doc="bars from the trough to the end of the recovery", kind="int", low=1, high=10_000),
    start=_START,
)
def flash_crash(market: MarketData, rng: np.random.Generator | None = None, *, drop_pct: float = 0.3,
                duration_bars: int = 5, recovery_pct: float = 0.5, recovery_bars: int = 24,
                start: float = 0.5) -> MarketData:
    """Drop by ``drop_pct`` over ``duration_bars``, then win back ``recovery_pct`` of the drop.

    The close at the trough bar (``duration_bars - 1`` after the start) is exactly
    (1 - drop_pct) times the pre-crash close; the path keeps the base market's noise on the
    way down and up; volume surges with the forced move. After the recovery the market
    goes on from the recovered level.
    """
    i0, _ = stress_window(market.n_bars, start, None)
    log_c = np.log(market.close)
    trough = np.log1p(-drop_pct)
    recovered = np.log1p(-drop_pct * (1.0 - recovery_pct))
    delta = anchored_delta(log_c, i0, [(duration_bars, trough, 1.0), (recovery_bars, recovered, 1.0)])
    values = reprice(market, delta, i0)
    _volume_surge(market, values, delta, i0)
    return market.replace(values=frozen(values))


@with_params(
    multiplier=dict(doc="factor on returns' volatility and bar ranges in the window", low=1.0, high=100.0),
    duration_bars=dict(doc="bars the spike lasts", kind="int", low=1, high=1_000_000),
    start=_START,
)
def volatility_spike(market: MarketData, rng: np.random.Generator | None = None, *, multiplier: float = 8.0,
                     duration_bars: int = 48, start: float = 0.5) -> MarketData:
    """Multiply the bar-to-bar log returns, gaps and wicks by ``multiplier`` inside the window.

    Both directions are amplified (the base returns keep their signs). Market makers quote
    wider in such markets: spreads widen by sqrt(multiplier) in the window.
    """
    i0, i1 = stress_window(market.n_bars, start, duration_bars)
    r = log_returns(market.close)
    extra = np.zeros_like(r)
    extra[:, i0:i1] = (multiplier - 1.0) * r[:, i0:i1]
    delta = np.cumsum(extra, axis=1)
    scale = np.ones(market.n_bars)
    scale[i0:i1] = multiplier
    values = reprice(market, delta, i0, gap_scale=scale[i0:], wick_scale=scale[i0:])
    values[SPREAD, :, i0:i1] *= np.sqrt(multiplier)
    return market.replace(values=frozen(values))


@with_params(
    trend_pct=dict(doc="price change the new trend adds by the last bar (-0.4: 40% lower than it would be)",
                   low=-0.95, high=5.0),
    reverse=dict(doc="also reverse the prevailing drift (the mean log return before the start)", kind="bool"),
    start=_START,
)
def trend_shift(market: MarketData, rng: np.random.Generator | None = None, *, trend_pct: float = -0.4,
                reverse: bool = True, start: float = 0.5) -> MarketData:
    """From the start on, bend the drift so the last close is (1 + trend_pct) times the base's.

    With ``reverse`` the prevailing drift is also flipped (its opposite replaces it).
    """
    n = market.n_bars
    i0, _ = stress_window(n, start, None)
    r = log_returns(market.close)
    prevailing = r[:, 1:i0].mean(axis=1) if i0 > 1 else np.zeros(market.n_symbols)
    per_bar = np.log1p(trend_pct) / (n - i0) - (2.0 * prevailing if reverse else 0.0)
    steps = np.arange(n) - i0 + 1
    delta = np.where(steps > 0, steps, 0)[None, :] * np.broadcast_to(per_bar, (market.n_symbols,))[:, None]
    return market.replace(values=frozen(reprice(market, delta, i0)))


@with_params(
    pump_pct=dict(doc="rise from the pre-pump close to the peak (1.2 = +120%)", low=0.0, high=20.0,
                  low_inclusive=False),
    pump_bars=dict(doc="bars of the parabolic rise", kind="int", low=1, high=100_000),
    dump_pct=dict(doc="fall from the peak to the end of the dump", low=0.0, high=0.99, low_inclusive=False),
    dump_bars=dict(doc="bars of the collapse", kind="int", low=1, high=100_000),
    start=_START,
)
def pump_and_dump(market: MarketData, rng: np.random.Generator | None = None, *, pump_pct: float = 1.2,
                  pump_bars: int = 72, dump_pct: float = 0.65, dump_bars: int = 12,
                  start: float = 0.4) -> MarketData:
    """A parabolic rise of ``pump_pct`` over ``pump_bars``, then a collapse of ``dump_pct`` from the peak.

    The defaults end the dump below the start: (1 + 1.2) * (1 - 0.65) = 0.77.
    """
    i0, _ = stress_window(market.n_bars, start, None)
    peak = np.log1p(pump_pct)
    bottom = peak + np.log1p(-dump_pct)
    delta = anchored_delta(np.log(market.close), i0, [(pump_bars, peak, 2.0), (dump_bars, bottom, 1.0)])
    values = reprice(market, delta, i0)
    _volume_surge(market, values, delta, i0)
    return market.replace(values=frozen(values))


