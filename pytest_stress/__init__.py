"""pytest-stress: stress-test your own trading system from pytest.

Everything is exported lazily, so ``import pytest_stress`` is cheap and never imports
pytest or hypothesis; ``from pytest_stress import stress`` imports pytest (it is a marker).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Scenario": "pytest_stress.scenario",
    "ScenarioType": "pytest_stress.scenario",
    "derive_seed": "pytest_stress.scenario",
    "name_seed": "pytest_stress.scenario",
    "MarketData": "pytest_stress.market",
    "MarketViews": "pytest_stress.market",
    "generate_market": "pytest_stress.market",
    "validate": "pytest_stress.market",
    "ScenarioResult": "pytest_stress.result",
    "TradeRecord": "pytest_stress.result",
    "ExecutionResult": "pytest_stress.result",
    "StressError": "pytest_stress.errors",
    "ScenarioError": "pytest_stress.errors",
    "UnknownScenarioError": "pytest_stress.errors",
    "DataQualityError": "pytest_stress.errors",
    "HistoricalDataError": "pytest_stress.errors",
    "LookAheadError": "pytest_stress.errors",
    "Order": "pytest_stress.trader",
    "buy": "pytest_stress.trader",
    "sell": "pytest_stress.trader",
    "compose": "pytest_stress.trader",
    "TradingSystem": "pytest_stress.trader",
    "PolicyStore": "pytest_stress.trader",
    "EventBus": "pytest_stress.trader",
    "Reject": "pytest_stress.trader",
    "HALT": "pytest_stress.trader",
    "FLATTEN": "pytest_stress.trader",
    "FixedSizer": "pytest_stress.trader",
    "ExchangeConfig": "pytest_stress.exchange",
    "Account": "pytest_stress.account",
    "run_scenario": "pytest_stress.runner",
    "run_batch": "pytest_stress.runner",
    "run_paths": "pytest_stress.runner",
    "BatchResult": "pytest_stress.runner",
    "PathsResult": "pytest_stress.result",
    "find_breaking_point": "pytest_stress.breaking",
    "BreakingPoint": "pytest_stress.result.breaking",
    "at_severity": "pytest_stress.severity",
    "library": None,
    "transforms": None,
    "indicators": None,
    "stress": "pytest_stress.plugin.marker",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pytest_stress' has no attribute {name!r}")
    target = _EXPORTS[name]
    if target is None:
        value: Any = importlib.import_module(f"pytest_stress.{name}")
    else:
        value = getattr(importlib.import_module(target), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
