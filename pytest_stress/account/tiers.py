"""Maintenance-margin tiers of linear perpetuals, and the venue's liquidation-price formula.

The shipped tables are Binance USDⓈ-M's, as cached in freqtrade's
``freqtrade/exchange/binance_leverage_tiers.json`` (file last changed 2024-10-24; Binance
serves them from the authenticated ``/fapi/v1/leverageBracket``). They change over time,
so pass your own ``tiers=`` to ``Account.perpetual`` for your venue and date.

Each tier is ``(notional floor, maintenance margin rate, max leverage, maintenance amount)``:
a position of notional N in the bracket ``[floor, next floor)`` needs maintenance margin
``N * rate - amount`` and may be opened at most at ``max leverage``. The maintenance
amounts ("cum") make the requirement continuous across brackets:
``cum_i = cum_{i-1} + floor_i * (rate_i - rate_{i-1})``; they are derived here from the
brackets rather than typed in.
"""
from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ScenarioError

__all__ = ["Tier", "TierTable", "BINANCE_USDM_TIERS", "TIERS_DATE", "tiers_for", "isolated_liquidation_price",
           "entry_bracket_liquidation_price"]

#: When the shipped tables were taken (freqtrade's cached copy of Binance's brackets).
TIERS_DATE = "2024-10-24"


@dataclass(frozen=True)
class Tier:
    """One notional bracket: from ``floor`` up, ``rate`` maintenance, ``max_leverage``, ``amount`` (cum)."""

    floor: float
    rate: float
    max_leverage: float
    amount: float


class TierTable:
    """A symbol's brackets, sorted by floor, with lookups by notional."""

    def __init__(self, brackets: Sequence[tuple[float, float, float]], name: str = "custom") -> None:
        """``brackets``: ``(notional floor, maintenance rate, max leverage)``, the first floor 0."""
        rows = sorted((float(f), float(r), float(lev)) for f, r, lev in brackets)
        if not rows or rows[0][0] != 0.0:
            raise ScenarioError(f"tier table {name!r}: expected brackets starting at notional 0, got {brackets!r}")
        tiers: list[Tier] = []
        cum = 0.0
        for i, (floor, rate, lev) in enumerate(rows):
            if not (0.0 < rate < 1.0) or not lev >= 1.0:
                raise ScenarioError(f"tier table {name!r}: bracket {i} has rate {rate!r} and max leverage {lev!r}; "
                                    "expected 0 < rate < 1 and max leverage >= 1")
            if i:
                cum += floor * (rate - rows[i - 1][1])
            tiers.append(Tier(floor, rate, lev, cum))
        self.name = name
        self.tiers = tuple(tiers)
        self._floors = [t.floor for t in tiers]

    def tier(self, notional: float) -> Tier:
        """The bracket a position of this (absolute) notional falls in."""
        return self.tiers[max(bisect.bisect_right(self._floors, abs(notional)) - 1, 0)]

    def maintenance(self, notional: float) -> float:
        """Maintenance margin of a position of this notional: ``N * rate - amount``."""
        t = self.tier(notional)
        return abs(notional) * t.rate - t.amount

    def max_leverage(self, notional: float) -> float:
        return self.tier(notional).max_leverage

    def __repr__(self) -> str:
        return f"TierTable({self.name!r}, {len(self.tiers)} brackets)"


def _table(name: str, rows: Sequence[tuple[float, float, float]]) -> TierTable:
    return TierTable(rows, name)


#: Binance USDⓈ-M brackets (notional floor in USDT, maintenance rate, max leverage), see the module doc.
BINANCE_USDM_TIERS: dict[str, TierTable] = {
    "BTCUSDT": _table("Binance USDⓈ-M BTCUSDT " + TIERS_DATE, [
        (0, 0.004, 125), (50_000, 0.005, 100), (600_000, 0.0065, 75), (3_000_000, 0.01, 50),
        (12_000_000, 0.02, 25), (70_000_000, 0.025, 20), (100_000_000, 0.05, 10), (230_000_000, 0.10, 5),
        (480_000_000, 0.125, 4), (600_000_000, 0.15, 3), (800_000_000, 0.25, 2), (1_200_000_000, 0.50, 1)]),
    "ETHUSDT": _table("Binance USDⓈ-M ETHUSDT " + TIERS_DATE, [
        (0, 0.004, 125), (50_000, 0.005, 100), (600_000, 0.0065, 75), (3_000_000, 0.01, 50),
        (12_000_000, 0.02, 25), (50_000_000, 0.025, 20), (65_000_000, 0.05, 10), (150_000_000, 0.10, 5),
        (320_000_000, 0.125, 4), (400_000_000, 0.15, 3), (530_000_000, 0.25, 2), (800_000_000, 0.50, 1)]),
    "SOLUSDT": _table("Binance USDⓈ-M SOLUSDT " + TIERS_DATE, [
        (0, 0.005, 100), (20_000, 0.0065, 75), (100_000, 0.01, 50), (800_000, 0.02, 25),
        (4_000_000, 0.025, 20), (8_000_000, 0.05, 10), (40_000_000, 0.10, 5), (80_000_000, 0.125, 4),
        (100_000_000, 0.25, 2), (200_000_000, 0.50, 1)]),
}

#: For symbols without a shipped table: the SOLUSDT brackets (the strictest of the three).
_FALLBACK = "SOLUSDT"


def tiers_for(symbol: str, tables: dict[str, TierTable] | None = None) -> TierTable:
    """The tier table of ``symbol``: the user's tables first, then Binance's, then the strictest shipped one."""
    if tables and symbol in tables:
        return tables[symbol]
    return BINANCE_USDM_TIERS.get(symbol) or BINANCE_USDM_TIERS[_FALLBACK]


def isolated_liquidation_price(wallet: float, qty: float, entry: float, table: TierTable) -> float:
    """Binance's liquidation price of one position (its FAQ "How to Calculate Liquidation Price of
    USDⓈ-M Futures Contracts"; freqtrade ``binance.py`` implements the formula):

    ``liq = (WB + cum - side * amount * entry) / (amount * MMR - side * amount)``

    with ``WB`` the position's margin (isolated) or the wallet behind it (cross, one position),
    ``amount = |qty|``, side +1 long, -1 short, and ``MMR``/``cum`` **the bracket of the notional at
    the liquidation price**, ``amount * liq``: the FAQ says that where the position's bracket at the
    liquidation price differs from its bracket at the opening price, the liquidation price is
    recalculated with the former (freqtrade takes the bracket at entry). It is the one price where
    the position's equity ``WB + side * amount * (p - entry)`` equals its maintenance margin
    ``amount * p * MMR(p) - cum(p)``, the same condition the pooled check applies to a whole
    account: the difference is monotone in p and continuous across brackets (``cum`` makes it so),
    so exactly one bracket holds its root, found by evaluating it at the brackets' floors.
    Returns 0 for a long that cannot be liquidated and ``inf`` for a short that cannot.
    """
    amount = abs(qty)
    if amount == 0.0:
        return 0.0 if qty >= 0 else float("inf")
    side = 1.0 if qty > 0 else -1.0
    base = wallet - side * amount * entry
    tiers = table.tiers
    t = tiers[0]
    for nxt in tiers[1:]:
        # equity less maintenance where the notional is this bracket's floor (p = floor / amount);
        # the root is in this bracket or above it when that is <= 0 for a long (>= 0 for a short)
        gap = base + side * nxt.floor - (nxt.floor * nxt.rate - nxt.amount)
        if (gap > 0.0) if side > 0 else (gap < 0.0):
            break
        t = nxt
    liq = (base + t.amount) / (amount * t.rate - side * amount)
    if side > 0:
        return max(liq, 0.0)
    return liq if liq > 0 else float("inf")


def entry_bracket_liquidation_price(wallet: float, qty: float, entry: float, table: TierTable) -> float:
    """The same formula with the bracket of the notional at entry (freqtrade's choice, and this
    package's for a single position until issue #27): kept to show the difference; a position whose
    bracket changes between entry and liquidation gets a price beyond its bankruptcy price."""
    amount = abs(qty)
    if amount == 0.0:
        return 0.0 if qty >= 0 else float("inf")
    side = 1.0 if qty > 0 else -1.0
    t = table.tier(amount * entry)
    liq = (wallet + t.amount - side * amount * entry) / (amount * t.rate - side * amount)
    if side > 0:
        return max(liq, 0.0)
    return liq if liq > 0 else float("inf")
