"""Several market stresses in one run, configured by prefixed parameters.

``{"flash_crash_drop_pct": 0.5, "volatility_multiplier": 15, "spread_mult": 20,
"liquidity_drop_pct": 0.99}`` runs a flash crash, a volatility spike, a spread explosion
and a liquidity drop. A component runs when at least one of its parameters is given;
the others keep their defaults. A parameter name already starting with its prefix keeps
its name (``spread_mult``, ``pump_pct``). Only market components live here; the
``mixed_custom`` scenario kind (``scenario/kinds.py``) adds feed corruption and faults.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..market.data import MarketData, spare
from ..parameters import ParamSet, split_prefixed
from .correlation import correlation_breakdown
from .liquidity import liquidity_drop, spread_explosion
from .price import flash_crash, pump_and_dump, trend_shift, volatility_spike

__all__ = ["MARKET_COMPONENTS", "MARKET_COMPONENT_PARAMS", "apply_components", "mixed_custom"]

#: (prefix, transform), in the order they are applied to the market.
MARKET_COMPONENTS: tuple[tuple[str, Callable[..., MarketData]], ...] = (
    ("trend_", trend_shift),
    ("volatility_", volatility_spike),
    ("flash_crash_", flash_crash),
    ("pump_", pump_and_dump),
    ("correlation_", correlation_breakdown),
    ("liquidity_", liquidity_drop),
    ("spread_", spread_explosion),
)

#: (prefix, parameters) of each market component, for ``split_prefixed``.
MARKET_COMPONENT_PARAMS: tuple[tuple[str, ParamSet], ...] = tuple((p, fn.params) for p, fn in MARKET_COMPONENTS)


def apply_components(market: MarketData, rng: np.random.Generator, groups: Mapping[str, Mapping[str, Any]]
                     ) -> MarketData:
    """Apply each market component that has a group in ``groups`` (prefix -> its own parameters), in order.

    Each intermediate market is this function's own, so the next component writes into its
    buffer (``spare``) instead of a new one; the given market and the result are never given away.
    """
    stages = [(fn, groups[prefix]) for prefix, fn in MARKET_COMPONENTS if prefix in groups]
    given = market
    for i, (fn, params) in enumerate(stages):
        market = fn(market, rng, **params)
        if i < len(stages) - 1 and market is not given:
            spare(market)
    return market


def mixed_custom(market: MarketData, rng: np.random.Generator | None = None, **params: Any) -> MarketData:
    """Apply every market component named in ``params`` (prefixed names, see the module doc)."""
    rng = np.random.default_rng() if rng is None else rng
    values = mixed_custom.params.validate(params, "mixed_custom")   # type: ignore[attr-defined]
    return apply_components(market, rng, split_prefixed(values, MARKET_COMPONENT_PARAMS))


mixed_custom.params = ParamSet([  # type: ignore[attr-defined]
    param for prefix, ps in MARKET_COMPONENT_PARAMS for param in ps.prefixed(prefix).values()])
