"""The simulated exchange and its configuration.

Exports load on first use, so that the pytest plugin can read the exchange presets at start-up
without importing the simulator (numpy, the market, the trader API).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"ExchangeConfig": "config", "PRESETS": "config", "preset": "config", "SimulatedExchange": "simulator"}

__all__ = ["ExchangeConfig", "PRESETS", "preset", "SimulatedExchange"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)   # lazy: see the docstring
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
