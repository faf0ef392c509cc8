"""Liquidity stresses: book depth draining (with traded volume free to rise) and spread explosion.

Prices are untouched. Depth and traded volume are different things: on Black Thursday
(12 March 2020) order books emptied while traded volume set records, so ``liquidity_drop``
drains depth and sets volume separately. Spreads compose by maximum, not product: a
stress asks for spreads of at least its multiple of the calm spread (the median before
the stress), so stacked stresses do not compound. Every stress relaxes after its window
(``reprice.relaxation``).
"""
from __future__ import annotations

import numpy as np

from ..market.data import DEPTH, SPREAD, VOLUME, MarketData, take_values
from ..parameters import with_params
from .reprice import RELAX_DOC, calm_level, frozen, raise_spreads, relaxation, stress_window

__all__ = ["liquidity_drop", "spread_explosion"]

_START = dict(doc="where the stress starts, as a fraction of the series", low=0.0, high=0.99)


@with_params(
    drop_pct=dict(doc="share of the book depth near the touch that disappears in the window", low=0.0,
                  high=0.999, scale="share"),
    volume_mult=dict(doc="factor on traded volume in the window (above 1: panic trading into an empty book, "
                         "below 1: a drought)", low=0.001, high=100.0, scale="factor"),
    spread_impact=dict(doc="spreads widen to at least calm x (1 - drop_pct) ** -spread_impact", low=0.0, high=2.0),
    duration_bars=dict(doc="bars the drain lasts", kind="int", low=1, high=1_000_000),
    relax_bars=RELAX_DOC,
    start=_START,
)
def liquidity_drop(market: MarketData, rng: np.random.Generator | None = None, *, drop_pct: float = 0.95,
                   volume_mult: float = 1.0, spread_impact: float = 0.5, duration_bars: int = 72,
                   relax_bars: int = 12, start: float = 0.4) -> MarketData:
    """Drain depth by ``drop_pct``, set traded volume by ``volume_mult``, widen spreads accordingly.

    Thinner books mean wider quotes: with the default ``spread_impact`` of 0.5 the spread
    is at least calm x (remaining depth) ** -0.5 (x4.5 at 95%, x10 at 99%), as the
    square-root law of impact implies for the cost of a fixed-size trade. After the
    window, depth, volume and spreads relax over ``relax_bars`` (spreads keep
    1 / (1 + k / relax_bars) of their gap to the stressed level).
    """
    n = market.n_bars
    i0, i1 = stress_window(n, start, duration_bars)
    w = relaxation(n, i0, i1, relax_bars)[i0:]
    values = take_values(market)      # its own buffer if given away (market.data.spare), else a copy
    remaining = 1.0 - drop_pct * w
    values[DEPTH, :, i0:] *= remaining
    values[VOLUME, :, i0:] *= 1.0 + (volume_mult - 1.0) * w
    target = calm_level(market.values[SPREAD], i0) * (1.0 - drop_pct) ** -spread_impact
    raise_spreads(values, target, w, i0)
    return market.replace(values=frozen(values))


@with_params(
    spread_mult=dict(doc="spreads in the window are at least this multiple of the calm spread", low=1.0,
                     high=1000.0, scale="factor"),
    duration_bars=dict(doc="bars the explosion lasts", kind="int", low=1, high=1_000_000),
    relax_bars=RELAX_DOC,
    start=_START,
)
def spread_explosion(market: MarketData, rng: np.random.Generator | None = None, *, spread_mult: float = 20.0,
                     duration_bars: int = 24, relax_bars: int = 6, start: float = 0.5) -> MarketData:
    """Spreads of at least ``spread_mult`` x calm inside the window, relaxing after it.

    Calm is the median spread over the week before the window; a bar already wider (a
    volatility spike, a drought) keeps its own spread, so stacked stresses do not compound.
    After the window each bar keeps 1 / (1 + k / relax_bars) of its gap to the target.
    """
    n = market.n_bars
    i0, i1 = stress_window(n, start, duration_bars)
    w = relaxation(n, i0, i1, relax_bars)[i0:]
    values = take_values(market)      # its own buffer if given away (market.data.spare), else a copy
    raise_spreads(values, calm_level(market.values[SPREAD], i0) * spread_mult, w, i0)
    return market.replace(values=frozen(values))
