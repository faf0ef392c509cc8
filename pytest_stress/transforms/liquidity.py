"""Liquidity stresses: volume drought and spread explosion (prices untouched)."""
from __future__ import annotations

import numpy as np

from ..market.data import SPREAD, VOLUME, MarketData
from ..parameters import with_params
from .reprice import frozen, stress_window

__all__ = ["liquidity_drop", "spread_explosion"]

_START = dict(doc="where the stress starts, as a fraction of the series", low=0.0, high=0.99)


@with_params(
    drop_pct=dict(doc="share of traded volume that disappears in the window", low=0.0, high=0.999),
    spread_impact=dict(doc="spreads widen by (1 - drop_pct) ** -spread_impact", low=0.0, high=2.0),
    duration_bars=dict(doc="bars the drought lasts", kind="int", low=1, high=1_000_000),
    start=_START,
)
def liquidity_drop(market: MarketData, rng: np.random.Generator | None = None, *, drop_pct: float = 0.95,
                   spread_impact: float = 0.5, duration_bars: int = 72, start: float = 0.4) -> MarketData:
    """Cut volume by ``drop_pct`` and widen spreads accordingly (x4.5 at 95%, x10 at 99%).

    Thinner books mean wider quotes: with the default ``spread_impact`` of 0.5 the spread
    grows with the inverse square root of the remaining volume, as the square-root
    law of impact implies for the cost of a fixed-size trade.
    """
    i0, i1 = stress_window(market.n_bars, start, duration_bars)
    values = market.values.copy()
    values[VOLUME, :, i0:i1] *= 1.0 - drop_pct
    values[SPREAD, :, i0:i1] *= (1.0 - drop_pct) ** -spread_impact
    return market.replace(values=frozen(values))


@with_params(
    spread_mult=dict(doc="factor on the quoted spread in the window", low=1.0, high=1000.0),
    duration_bars=dict(doc="bars the explosion lasts", kind="int", low=1, high=1_000_000),
    start=_START,
)
def spread_explosion(market: MarketData, rng: np.random.Generator | None = None, *, spread_mult: float = 20.0,
                     duration_bars: int = 24, start: float = 0.5) -> MarketData:
    """Multiply spreads by ``spread_mult`` inside the window."""
    i0, i1 = stress_window(market.n_bars, start, duration_bars)
    values = market.values.copy()
    values[SPREAD, :, i0:i1] *= spread_mult
    return market.replace(values=frozen(values))
