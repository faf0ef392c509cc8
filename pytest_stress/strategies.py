"""Hypothesis strategies for stress scenarios, in the style of ``hypothesis.extra.pandas``.

Install with ``pip install 'pytest-stress-trading[hypothesis]'``. Every function is keyword-only
after its first argument, validates its arguments (``InvalidArgument`` naming the bad
one) and draws only valid values: parameters over their documented ranges, scenarios
that construct, and OHLCV frames that satisfy the market invariants.

When a property fails, hypothesis shrinks toward the smallest stress that still breaks
the system: floats toward their lower bound, bar counts toward the minimum.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typing import TYPE_CHECKING

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .market.data import TIMEFRAMES
from .parameters import Param, ParamSet
from .scenario.definition import Scenario
from .scenario.kinds import BASE_PARAMS, kind_of, params_for
from .scenario.types import ScenarioType

if TYPE_CHECKING:  # pandas is imported when market_frames draws, not when hypothesis collects
    import pandas as pd

__all__ = ["parameters", "scenarios", "market_frames"]


def _type(value: Any, arg: str = "scenario_type") -> ScenarioType:
    try:
        return ScenarioType(value)
    except ValueError:
        raise InvalidArgument(f"{arg}={value!r} is not a scenario type; valid: "
                              + ", ".join(t.value for t in ScenarioType)) from None


def _param_strategy(p: Param, max_bars: int | None) -> st.SearchStrategy[Any]:
    if p.kind == "bool":
        return st.booleans()
    if p.kind == "choice":
        return st.sampled_from(p.choices)
    if p.kind == "choices":
        return st.lists(st.sampled_from(p.choices), min_size=1, unique=True)
    if p.kind == "int":
        high = int(p.high) if p.high is not None else 10**6
        if max_bars is not None and p.name.endswith("bars"):
            high = max(int(p.low or 0), min(high, max_bars))
        return st.integers(int(p.low if p.low is not None else 0), high)
    return st.floats(p.low, p.high, exclude_min=not p.low_inclusive, allow_nan=False, allow_infinity=False)


def parameters(scenario_type: ScenarioType | str, *, fixed: dict[str, Any] | None = None,
               only: Sequence[str] | None = None, max_bars: int | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid parameter dicts for ``scenario_type``, each drawn over its whole documented range.

    - ``fixed``: parameters pinned to a value (validated like any scenario parameter);
    - ``only``: draw just these parameters (the others keep their defaults);
    - ``max_bars``: cap every ``*_bars`` length at this many bars.

    The base-market parameters (``base_vol``, ``garch_*``...) are drawn only if named in
    ``only`` or ``fixed``.
    """
    stype = _type(scenario_type)
    spec: ParamSet = params_for(stype)
    fixed = dict(fixed or {})
    unknown = [k for k in [*fixed, *(only or ())] if k not in spec]
    if unknown:
        raise InvalidArgument(f"{unknown} are not parameters of {stype.value}; valid: {', '.join(spec)}")
    try:
        fixed = spec.validate(fixed, f"parameters({stype.value!r})")
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    if max_bars is not None and (not isinstance(max_bars, int) or max_bars < 1):
        raise InvalidArgument(f"max_bars={max_bars!r}; expected an integer >= 1")
    names = list(only) if only is not None else [n for n in spec if n not in BASE_PARAMS]
    drawn = {n: _param_strategy(spec[n], max_bars) for n in names if n not in fixed}
    return st.fixed_dictionaries(drawn).map(lambda d: {**d, **fixed})


@st.composite
def _scenario(draw, types, symbols, bars, timeframe, seeds, name, max_bars_per_window):
    stype = draw(st.sampled_from(types))
    n = draw(bars)
    params = draw(parameters(stype, max_bars=max_bars_per_window or n))
    syms = symbols
    extra = (s for s in ("ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT") if s not in syms)
    while len(syms) < kind_of(stype).min_symbols(params):   # e.g. a correlation breakdown needs a pair
        syms = (*syms, next(extra))
    kind = kind_of(stype)
    params = kind.fit_starts(params, n)                      # a late start moves in, the run keeps n bars
    own = {k: v for k, v in params.items() if k not in BASE_PARAMS}
    n = max(n, kind.min_bars(own))                           # only a core of n bars or more grows it
    return Scenario(f"{name} {stype.value}", stype, params, symbols=syms, bars=n, timeframe=draw(timeframe),
                    seed=draw(seeds))


def scenarios(*, types: Sequence[ScenarioType | str] | None = None, symbols: Sequence[str] = ("BTCUSDT",),
              bars: int | st.SearchStrategy[int] = st.integers(100, 1000),
              timeframe: str | st.SearchStrategy[str] = "1h",
              seeds: st.SearchStrategy[int] = st.integers(0, 2**32 - 1), name: str = "fuzzed",
              max_bars_per_window: int | None = None) -> st.SearchStrategy[Scenario]:
    """Whole, valid scenarios: a type from ``types`` (default: every synthetic-base type),
    its parameters over their ranges, ``bars`` bars (an int or a strategy), a seed.

    A stress window's start is scaled into the run (``Kind.fit_starts``), so a scenario has
    the bars drawn; it has more only if a window's core is ``bars`` bars or longer (then
    exactly as many as the window needs). Cap core lengths with ``max_bars_per_window``.

    Correlation breakdowns get a second symbol if ``symbols`` has only one.
    """
    chosen = [ScenarioType.HISTORICAL_REPLAY] if types == () else [_type(t, "types") for t in (types or ScenarioType)]
    chosen = [t for t in chosen if not kind_of(t).needs_data]
    if not chosen:
        raise InvalidArgument("types must name at least one scenario type that does not need data "
                              "(historical_replay replays given data)")
    symbols = (symbols,) if isinstance(symbols, str) else tuple(symbols)
    if not symbols or len(set(symbols)) != len(symbols):
        raise InvalidArgument(f"symbols={symbols!r}; expected distinct names, at least one")
    if isinstance(bars, int):
        if bars < 2:
            raise InvalidArgument(f"bars={bars!r}; expected an integer >= 2")
        bars = st.just(bars)
    if isinstance(timeframe, str):
        if timeframe not in TIMEFRAMES:
            raise InvalidArgument(f"timeframe={timeframe!r}; valid: {', '.join(TIMEFRAMES)}")
        timeframe = st.just(timeframe)
    return _scenario(chosen, symbols, bars, timeframe, seeds, name, max_bars_per_window)


@st.composite
def _frames(draw, bars, start, timeframe, min_price, max_price, max_move, spread):
    import pandas as pd   # lazy: the other strategies never need it (a cheaper collection)

    n = draw(bars)
    p0 = draw(st.floats(min_price, max_price))
    moves = draw(st.lists(st.floats(-max_move, max_move), min_size=n, max_size=n))
    wick = draw(st.lists(st.tuples(st.floats(0, max_move), st.floats(0, max_move)), min_size=n, max_size=n))
    gaps = draw(st.lists(st.floats(-max_move / 4, max_move / 4), min_size=n, max_size=n))
    close = p0 * np.exp(np.cumsum(moves))
    open_ = np.r_[p0, close[:-1]] * np.exp(gaps)
    w = np.array(wick)
    high = np.maximum(open_, close) * np.exp(w[:, 0])
    low = np.minimum(open_, close) * np.exp(-w[:, 1])
    volume = draw(st.lists(st.floats(0, 1e6), min_size=n, max_size=n))
    data = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    if spread:
        data["spread"] = draw(st.lists(st.floats(0, 0.01), min_size=n, max_size=n))
    index = pd.date_range(start, periods=n, freq=pd.Timedelta(seconds=TIMEFRAMES[timeframe]), tz="UTC",
                          name="timestamp")
    return pd.DataFrame(data, index=index)


def market_frames(*, bars: int | st.SearchStrategy[int] = st.integers(2, 300), start: str = "2024-01-01",
                  timeframe: str = "1h", min_price: float = 1.0, max_price: float = 100_000.0,
                  max_move: float = 0.2, spread: bool = True) -> st.SearchStrategy[pd.DataFrame]:
    """OHLCV (+ spread) DataFrames on a UTC index that pass ``pytest_stress.market.validate``:
    prices > 0, low <= open, close <= high, volume and spread >= 0. ``max_move`` bounds
    each bar's log return, gap and wicks."""
    if isinstance(bars, int):
        if bars < 1:
            raise InvalidArgument(f"bars={bars!r}; expected an integer >= 1")
        bars = st.just(bars)
    if timeframe not in TIMEFRAMES:
        raise InvalidArgument(f"timeframe={timeframe!r}; valid: {', '.join(TIMEFRAMES)}")
    if not 0 < min_price <= max_price:
        raise InvalidArgument(f"min_price={min_price!r}, max_price={max_price!r}; expected 0 < min_price <= max_price")
    if not 0 < max_move <= 1:
        raise InvalidArgument(f"max_move={max_move!r}; expected a number in (0, 1]")
    return _frames(bars, start, timeframe, min_price, max_price, max_move, spread)
