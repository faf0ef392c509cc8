"""How the simulated exchange behaves: costs, latency, failures, liquidity; with named presets."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..errors import ScenarioError, is_number, unknown_name_message

__all__ = ["ExchangeConfig", "PRESETS", "preset"]


@dataclass(frozen=True)
class ExchangeConfig:
    """Every knob of the simulated exchange. Levels interpolate geometrically between the
    calm figure and the crisis figure by the market's stress level (0 calm, 1 crisis).

    Costs of a taker fill (market and triggered stop orders, and limit orders that are
    marketable when they arrive), as fractions of the reference price: half the current
    spread (if ``charge_spread``), adverse drift during the order's latency
    ``sigma * sqrt(latency / bar_length) * |z|`` (both kept inside the bar's range), the
    displacement the trader's earlier fills left, and square-root impact on the trader's
    cumulative quantity in the bar (``exchange/impact.py``). docs/venue.md has the model
    and the sources of every default.
    """

    maker_fee: float = 0.0002            #: fee on limit fills, fraction of notional
    taker_fee: float = 0.0005            #: fee on market and stop fills
    charge_spread: bool = True           #: takers pay half the quoted spread
    impact_coef: float = 1.0             #: Y in the square-root law
    latency_ms: float = 50.0             #: median order latency, calm market
    crisis_latency_ms: float = 1000.0    #: median order latency at full stress
    latency_dispersion: float = 0.5      #: sigma of the log-normal latency draw
    timeout_ms: float = 10_000.0         #: an order whose latency exceeds this times out
    failure_rate: float = 0.001          #: probability an order fails, calm market
    crisis_failure_rate: float = 0.30    #: probability an order fails at full stress
    participation: float = math.inf      #: at most this share of a bar's volume fills per side and bar (inf: no cap)
    carry_remainder: bool = False        #: unfilled remainder rests to the next bar (else cancelled)
    stress_spread_mult: float = 20.0     #: spread this many times its median means full stress
    stress_vol_mult: float = 10.0        #: volatility this many times its median means full stress
    stress_volume_drop: float = 0.95     #: volume (either way) or depth this far from its reference means full stress
    #: a taker order walks the book at most this far (Binance USDⓈ-M PERCENT_PRICE 0.95-1.05)
    price_band: float = 0.05
    permanent_impact: float = 0.5        #: theta: share of impact that stays (on the net quantity, exchange/impact.py)
    outage_share: float = 0.5            #: share of the failure probability that comes as venue outages
    outage_mean_s: float = 1500.0        #: mean outage length (about 25 min, 13 March 2020)
    late_fill_prob: float = 0.5          #: probability that a timed-out order fills late anyway
    #: the book near the touch refills once every this many seconds within a bar (resilience,
    #: exchange/conditions.py: a bar's liquidity is min(volume, depth x (1 + bar / refill)));
    #: inf: never (the standing depth only), 0: at once (the bar's volume)
    book_refill_s: float = 2.0

    def __post_init__(self) -> None:
        checks = {
            "maker_fee": (-0.01, 0.1), "taker_fee": (0.0, 0.1), "impact_coef": (0.0, 100.0),
            "latency_ms": (0.0, 1e7), "crisis_latency_ms": (0.0, 1e7), "latency_dispersion": (0.0, 5.0),
            "timeout_ms": (0.0, math.inf), "failure_rate": (0.0, 1.0), "crisis_failure_rate": (0.0, 1.0),
            "participation": (0.0, math.inf), "stress_spread_mult": (1.0, 1e6), "stress_vol_mult": (1.0, 1e6),
            "stress_volume_drop": (0.0, 0.999999), "price_band": (0.0, math.inf), "permanent_impact": (0.0, 1.0),
            "outage_share": (0.0, 1.0), "outage_mean_s": (0.0, 1e9),
            "late_fill_prob": (0.0, 1.0), "book_refill_s": (0.0, math.inf),
        }
        for name, (lo, hi) in checks.items():
            v = getattr(self, name)
            if not is_number(v) or not (lo <= v <= hi) or (v != v):    # True is not a rate
                raise ScenarioError(f"ExchangeConfig: {name} = {v!r}; expected a number in [{lo:g}, {hi:g}]")
            object.__setattr__(self, name, float(v))    # numpy's numbers too, stored as floats
        for name in ("charge_spread", "carry_remainder"):
            v = getattr(self, name)
            if not isinstance(v, bool):     # 'no' and 'False' are true strings: refused, not read as on
                raise ScenarioError(f"ExchangeConfig: {name} = {v!r}; expected True or False")
        if self.participation == 0:
            raise ScenarioError("ExchangeConfig: participation = 0 would never fill; expected > 0 (inf: no cap)")
        if self.price_band == 0:
            raise ScenarioError("ExchangeConfig: price_band = 0 would never fill a taker order; expected > 0 "
                                "(inf: no band)")

    def latency_at(self, stress: float, mult: float = 1.0) -> float:
        """Median latency (ms) at a stress level in [0, 1]: geometric between calm and crisis."""
        return _between(self.latency_ms, self.crisis_latency_ms, stress) * mult

    def refill(self, bar_seconds: float) -> float:
        """How many times the book near the touch is there to take within a bar of ``bar_seconds``:
        the standing depth and its refills, ``1 + bar_seconds / book_refill_s`` (inf if it refills at once)."""
        if self.book_refill_s == 0:
            return math.inf
        return 1.0 + bar_seconds / self.book_refill_s

    def failure_rate_at(self, stress: float) -> float:
        """Probability that an order fails at a stress level in [0, 1]."""
        return _between(self.failure_rate, self.crisis_failure_rate, stress)

    @property
    def frictionless(self) -> bool:
        return (self.maker_fee == self.taker_fee == 0 and not self.charge_spread and self.impact_coef == 0
                and self.latency_ms == self.crisis_latency_ms == 0 and self.failure_rate == 0
                and self.crisis_failure_rate == 0 and math.isinf(self.participation))

    def replace(self, **changes) -> "ExchangeConfig":
        return dataclasses.replace(self, **changes)


def _between(calm: float, crisis: float, stress: float) -> float:
    if calm > 0 and crisis > 0:
        return calm * (crisis / calm) ** stress
    return calm + (crisis - calm) * stress


#: Named configurations. ``frictionless``: fills exactly at the next bar's open, nothing
#: else. ``calm``: the defaults (major crypto pair, liquid venue). ``stressed``: a venue
#: already under strain before any scenario stress.
PRESETS: dict[str, ExchangeConfig] = {
    "frictionless": ExchangeConfig(maker_fee=0.0, taker_fee=0.0, charge_spread=False, impact_coef=0.0,
                                   latency_ms=0.0, crisis_latency_ms=0.0, latency_dispersion=0.0,
                                   failure_rate=0.0, crisis_failure_rate=0.0, participation=math.inf),
    "calm": ExchangeConfig(),
    "stressed": ExchangeConfig(taker_fee=0.0007, impact_coef=1.5, latency_ms=200.0, crisis_latency_ms=3000.0,
                               failure_rate=0.01, crisis_failure_rate=0.5, price_band=0.03, book_refill_s=5.0),
}


def preset(name: str) -> ExchangeConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ScenarioError(unknown_name_message("exchange preset", name, PRESETS)) from None
