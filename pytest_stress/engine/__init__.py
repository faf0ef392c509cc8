"""The engine: the bar loop over built parts, and the run's book of working orders."""
from .book import OrderBook, Ticket
from .loop import ErrorPolicy, LoopRecord, bar_loop

__all__ = ["bar_loop", "LoopRecord", "ErrorPolicy", "OrderBook", "Ticket"]
