"""The simulated exchange and its configuration.

Exports load on first use, so that the pytest plugin can read the exchange presets at start-up
without importing the simulator (numpy, the market, the trader API).
"""
from __future__ import annotations

from ..lazy_exports import lazy_exports

_EXPORTS = {"ExchangeConfig": "config", "PRESETS": "config", "preset": "config", "SimulatedExchange": "simulator"}

__all__ = ["ExchangeConfig", "PRESETS", "preset", "SimulatedExchange"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
