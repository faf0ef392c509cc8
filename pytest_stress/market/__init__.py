"""Market data: the container, synthetic and historical sources, and quality checks.

The quality checks work on DataFrames and import pandas; they are loaded on first use,
so a synthetic run never imports pandas.
"""
from typing import Any

from .data import FIELDS, TIMEFRAMES, MarketData, MarketViews, timeframe_seconds
from .profiles import AssetProfile, profile_for
from .synthetic import generate_market

__all__ = ["FIELDS", "TIMEFRAMES", "MarketData", "MarketViews", "timeframe_seconds", "AssetProfile",
           "profile_for", "QualityReport", "validate", "generate_market"]


def __getattr__(name: str) -> Any:
    if name in ("QualityReport", "validate"):
        from . import quality   # lazy: the quality checks import pandas

        return getattr(quality, name)
    raise AttributeError(f"module 'pytest_stress.market' has no attribute {name!r}")
