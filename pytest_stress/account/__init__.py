"""The trader's account: cash, positions and equity."""
from .portfolio import Portfolio, mark_to_market

__all__ = ["Portfolio", "mark_to_market"]
