"""The trader's account: its rules (cash, margin, perpetual), the run's ledger, cash and positions."""
from .ledger import Ledger
from .portfolio import Portfolio, mark_to_market
from .rules import ACCOUNT_PRESETS, DEFAULT_ACCOUNT, Account, account_from
from .tiers import BINANCE_USDM_TIERS, TIERS_DATE, TierTable, isolated_liquidation_price

__all__ = ["Account", "DEFAULT_ACCOUNT", "ACCOUNT_PRESETS", "account_from", "Ledger", "Portfolio", "mark_to_market",
           "TierTable", "BINANCE_USDM_TIERS", "TIERS_DATE", "isolated_liquidation_price"]
