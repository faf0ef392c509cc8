"""Stress transforms: pure, seeded, vectorised functions from one market to a stressed one.

Each takes ``(market, rng, **parameters)`` and carries its ``ParamSet`` as ``.params``.
Which transform a scenario kind applies, to the true market or to the feed, is decided
in one table: ``pytest_stress.scenario.kinds``.
"""
from __future__ import annotations

from .correlation import correlation_breakdown
from .corruption import CORRUPTION_KINDS, corrupt_feed
from .liquidity import liquidity_drop, spread_explosion
from .mixed import mixed_custom
from .price import flash_crash, pump_and_dump, trend_shift, volatility_spike

__all__ = [
    "flash_crash", "volatility_spike", "trend_shift", "liquidity_drop", "spread_explosion",
    "corrupt_feed", "correlation_breakdown", "pump_and_dump", "mixed_custom", "CORRUPTION_KINDS",
]
