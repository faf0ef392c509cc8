"""The trader's account: its rules (cash, margin, perpetual), the run's ledger, cash and positions.

Exports load on first use, so that the pytest plugin can read the account rules at start-up
without importing the ledger (numpy, the market, the results).
"""
from __future__ import annotations

from ..lazy_exports import lazy_exports

_EXPORTS = {"Account": "rules", "DEFAULT_ACCOUNT": "rules", "ACCOUNT_PRESETS": "rules", "account_from": "rules",
            "Ledger": "ledger", "Portfolio": "portfolio", "mark_to_market": "portfolio", "TierTable": "tiers",
            "BINANCE_USDM_TIERS": "tiers", "TIERS_DATE": "tiers", "isolated_liquidation_price": "tiers",
            "FundingModel": "funding", "FUNDING_MODELS": "funding", "binance_funding_prints": "funding"}

__all__ = ["Account", "DEFAULT_ACCOUNT", "ACCOUNT_PRESETS", "account_from", "Ledger", "Portfolio", "mark_to_market",
           "TierTable", "BINANCE_USDM_TIERS", "TIERS_DATE", "isolated_liquidation_price", "FundingModel",
           "FUNDING_MODELS", "binance_funding_prints"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
