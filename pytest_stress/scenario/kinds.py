"""One table of scenario kinds: what each ``ScenarioType`` means.

Per kind: its parameters, what it does to the true market, what it does to the trader's
feed, its faults, how many symbols it needs, and an example that shows it at work. A
new kind is one row here plus its transform; validation, building the market, the
engine's faults, the command line and the hypothesis strategies all read this table.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScenarioError
from ..market.data import MarketData, MarketViews
from ..parameters import Param, ParamSet, split_prefixed
from ..transforms.correlation import correlation_breakdown
from ..transforms.corruption import corrupt_feed
from ..transforms.liquidity import liquidity_drop, spread_explosion
from ..transforms.mixed import MARKET_COMPONENT_PARAMS, apply_components
from ..transforms.price import flash_crash, pump_and_dump, trend_shift, volatility_spike
from .faults import EXECUTION_CRISIS_PARAMS, MODEL_FAILURE_PARAMS, NO_FAULTS, Faults
from .types import ScenarioType

__all__ = ["Kind", "KINDS", "BASE_PARAMS", "kind_of", "params_for", "MIXED_COMPONENTS"]

Params = Mapping[str, Any]

#: Parameters of the synthetic base market, accepted by every kind (ignored over given data).
BASE_PARAMS = ParamSet([
    Param("base_vol", None, "annualised volatility of the synthetic base (unset: the asset's profile)",
          low=0.0, high=10.0, low_inclusive=False),
    Param("base_drift", 0.0, "annualised arithmetic drift of the synthetic base (E[price] grows at it; "
          "0 is a martingale; docs/market.md)", low=-5.0, high=5.0),
    Param("garch_alpha", 0.05, "hourly reaction of the fast GARCH(1,1) variance to the last shock "
          "(alpha + beta < 1; converted to the bar length, docs/market.md)", low=0.0, high=1.0),
    Param("garch_beta", 0.90, "hourly persistence of the fast variance beyond alpha (alpha + beta < 1; "
          "the half-life in hours is kept on every timeframe)", low=0.0, high=1.0),
    Param("base_correlation", 0.6, "pairwise correlation of the symbols' shocks", low=-1.0, high=1.0),
])

#: (prefix, parameters) of every component of a mixed scenario: market, feed and faults.
MIXED_COMPONENTS: tuple[tuple[str, ParamSet], ...] = (
    *MARKET_COMPONENT_PARAMS,
    ("corruption_", corrupt_feed.params),
    ("model_", MODEL_FAILURE_PARAMS),
    ("execution_", EXECUTION_CRISIS_PARAMS),
)
_MIXED_PARAMS = ParamSet([p for prefix, ps in MIXED_COMPONENTS for p in ps.prefixed(prefix).values()])


#: Parameters whose bars make up a stress window's core (``windows``).
_CORE_LENGTHS = ("duration_bars", "pump_bars", "dump_bars")


def _one_symbol(params: Params) -> int:
    return 1


@dataclass(frozen=True)
class Kind:
    """What one scenario type does. ``params`` excludes the base market's (``BASE_PARAMS``).

    - ``market(base, rng, params)``: the true market (None: the base, unchanged);
    - ``feed(params)``: the ``corrupt_feed`` parameters for the trader's feed, or None;
    - ``faults(params)``: the run's ``Faults``;
    - ``min_symbols(params)``: how many symbols the scenario needs;
    - ``needs_data``: the kind replays given data and has no synthetic base;
    - ``example``: parameters that show the kind at work (``pytest-stress demo``).
    """

    type: ScenarioType
    params: ParamSet
    market: Callable[[MarketData, np.random.Generator, Params], MarketData] | None = None
    feed: Callable[[Params], Params | None] | None = None
    faults: Callable[[Params], Faults] = lambda params: NO_FAULTS
    min_symbols: Callable[[Params], int] = _one_symbol
    needs_data: bool = False
    example: Params = field(default_factory=dict)

    def windows(self, params: Params) -> list[tuple[str, float, int]]:
        """``(component, start fraction, core length in bars)`` of each stress window the parameters
        place (the core: the crash, the pump and dump, the spike...; recovery and relaxation may be
        cut by the end of the run)."""
        return [(label, start, length) for label, _, start, length in self._windows(params)]

    def _windows(self, params: Params) -> list[tuple[str, str, float, int]]:
        """``windows``, each with the name of its start parameter in ``params``."""
        if self.type is ScenarioType.MIXED_CUSTOM:
            split = split_prefixed(params, MIXED_COMPONENTS)
            groups = [(prefix, ps, split.get(prefix)) for prefix, ps in MIXED_COMPONENTS]
        else:
            groups = [("", self.params, params)]
        out = []
        for prefix, ps, given in groups:
            if given is None or "start" not in ps:
                continue
            values = {**ps.defaults(), **given}
            length = sum(int(values[k]) for k in _CORE_LENGTHS if values.get(k) is not None)
            label = prefix.rstrip("_") or self.type.value
            out.append((label, prefix + "start", float(values["start"]), max(length, 1)))
        return out

    def fit_starts(self, params: Params, n: int) -> dict[str, Any]:
        """``params`` with each stress window's start scaled by ``max(n - core - 1, 0) / n``: a
        window whose core is shorter than ``n`` bars then fits in ``n`` bars wherever in ``[0, 1)``
        its start was, and a start of 0 stays 0. (The hypothesis strategies use it so that a
        scenario has the bars asked for; growing the run to fit a late start made runs of tens
        of thousands of bars out of ``bars=300``.)"""
        out = dict(params)
        for _, key, start, length in self._windows(params):
            out[key] = start * max(n - length - 1, 0) / n
        return out

    def min_bars(self, params: Params) -> int:
        """The fewest bars in which every stress window fits (at least 2)."""
        need = 2
        for _, start, length in self.windows(params):
            m = max(need, length + 1, int(length / max(1.0 - start, 1e-6)) - 2)   # just below the answer
            while max(int(round(start * m)), 1) + length > m:
                m += 1
            need = max(need, m)
        return need

    def check_fits(self, params: Params, n: int, owner: str) -> None:
        """Raise if a stress window does not fit in ``n`` bars, saying how many bars it needs."""
        for label, start, length in self.windows(params):
            i0 = max(int(round(start * n)), 1)
            if i0 + length > n:
                need = self.min_bars(params)
                raise ScenarioError(
                    f"{owner}: the {label} window ({length} bars from {start:.0%} of the run) does not fit in "
                    f"{n} bars; it needs at least {need} bars (or an earlier start, or a shorter window)")

    def build(self, params: Params, base: MarketData, rng: np.random.Generator) -> MarketViews:
        """The true market and the feed: the market stress on both, corruption on the feed only.

        ``params`` holds this kind's own parameters (no base-market ones). Draws come from
        ``rng`` in a fixed order: the market stress first, then the corruption.
        """
        true = self.market(base, rng, params) if self.market is not None else base
        corruption = self.feed(params) if self.feed is not None else None
        if corruption is None:
            return MarketViews(true=true, feed=true, base=base)
        feed, mask = corrupt_feed(true, rng, **corruption)
        return MarketViews(true=true, feed=feed, base=base, corrupted=mask)


def _transform(fn: Callable[..., MarketData]) -> Callable[[MarketData, np.random.Generator, Params], MarketData]:
    return lambda base, rng, params: fn(base, rng, **params)


def _mixed_market(base: MarketData, rng: np.random.Generator, params: Params) -> MarketData:
    return apply_components(base, rng, split_prefixed(params, MARKET_COMPONENT_PARAMS))


def _mixed_feed(params: Params) -> Params | None:
    return split_prefixed(params, MIXED_COMPONENTS).get("corruption_")


def _mixed_faults(params: Params) -> Faults:
    groups = split_prefixed(params, MIXED_COMPONENTS)
    if "model_" not in groups and "execution_" not in groups:
        return NO_FAULTS
    return Faults.of(model=groups.get("model_"), execution=groups.get("execution_"))


def _mixed_symbols(params: Params) -> int:
    return 2 if "correlation_" in split_prefixed(params, MIXED_COMPONENTS) else 1


KINDS: dict[ScenarioType, Kind] = {k.type: k for k in (
    Kind(ScenarioType.HISTORICAL_REPLAY, ParamSet([]), needs_data=True),
    Kind(ScenarioType.SYNTHETIC, ParamSet([])),
    Kind(ScenarioType.FLASH_CRASH, flash_crash.params, market=_transform(flash_crash)),
    Kind(ScenarioType.VOLATILITY_SPIKE, volatility_spike.params, market=_transform(volatility_spike)),
    Kind(ScenarioType.TREND_SHIFT, trend_shift.params, market=_transform(trend_shift)),
    Kind(ScenarioType.LIQUIDITY_DROP, liquidity_drop.params, market=_transform(liquidity_drop)),
    Kind(ScenarioType.SPREAD_EXPLOSION, spread_explosion.params, market=_transform(spread_explosion)),
    Kind(ScenarioType.DATA_CORRUPTION, corrupt_feed.params, feed=dict),
    Kind(ScenarioType.CORRELATION_BREAKDOWN, correlation_breakdown.params, market=_transform(correlation_breakdown),
         min_symbols=lambda params: 2),
    Kind(ScenarioType.PUMP_AND_DUMP, pump_and_dump.params, market=_transform(pump_and_dump)),
    Kind(ScenarioType.MIXED_CUSTOM, _MIXED_PARAMS, market=_mixed_market, feed=_mixed_feed, faults=_mixed_faults,
         min_symbols=_mixed_symbols,
         example={"flash_crash_drop_pct": 0.5, "volatility_multiplier": 15, "spread_mult": 20,
                  "liquidity_drop_pct": 0.99}),
    Kind(ScenarioType.MODEL_FAILURE, MODEL_FAILURE_PARAMS, faults=lambda params: Faults.of(model=params)),
    Kind(ScenarioType.EXECUTION_CRISIS, EXECUTION_CRISIS_PARAMS, faults=lambda params: Faults.of(execution=params)),
)}


def kind_of(scenario_type: ScenarioType | str) -> Kind:
    """The table row of a scenario type."""
    return KINDS[ScenarioType(scenario_type)]


def params_for(scenario_type: ScenarioType | str) -> ParamSet:
    """Every parameter a scenario of this type accepts: its own and the base market's."""
    return kind_of(scenario_type).params | BASE_PARAMS
