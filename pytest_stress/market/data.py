"""The market container: OHLCV plus spread for several symbols on one UTC index.

DataFrames at the boundary (``from_frames`` / ``frame``), one contiguous read-only
float64 array inside, shaped ``(field, symbol, bar)``, so the bar loop indexes plain
numpy memory and never touches pandas.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ScenarioError, unknown_name_message
from .profiles import profile_for

if TYPE_CHECKING:  # pandas is imported only where DataFrames cross the boundary
    import pandas as pd   # lazy: DataFrames only at the edges

__all__ = ["FIELDS", "REQUIRED_FIELDS", "TIMEFRAMES", "MarketData", "MarketViews", "timeframe_seconds", "default_depth",
           "spare", "take_values"]

FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume", "spread", "depth")
OPEN, HIGH, LOW, CLOSE, VOLUME, SPREAD, DEPTH = range(7)
#: Fields a data source must give; the others have defaults (``from_frames``).
REQUIRED_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


def default_depth(volume: np.ndarray) -> np.ndarray:
    """Book depth for data that has none: the bar's traded volume (a rough stand-in).

    Depth and volume are different things (in a crash volume spikes while depth
    vanishes); scenarios and synthetic markets set depth themselves. This default only
    keeps data without a depth column usable.
    """
    return np.array(volume, dtype=np.float64, copy=True)

#: Bar lengths in seconds, named as exchanges name their kline intervals.
TIMEFRAMES: dict[str, int] = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800,
    "1h": 3600, "2h": 7200, "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200,
    "1d": 86400, "3d": 259200, "1w": 604800,
}


#: Units of a bar length written ``<N><unit>`` ("10m", "90s", "2d"), in seconds.
_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


def timeframe_seconds(timeframe: str) -> int:
    """Seconds in one bar of ``timeframe``: a named one (``TIMEFRAMES``) or any ``<N><unit>`` with
    unit s, m, h, d or w ("10m", "45s", "90m"); a clear error for anything else."""
    seconds = TIMEFRAMES.get(timeframe) if isinstance(timeframe, str) else None
    return seconds if seconds is not None else _parse_timeframe(str(timeframe) if isinstance(timeframe, str)
                                                                 else repr(timeframe))


@functools.lru_cache(maxsize=64)
def _parse_timeframe(timeframe: str) -> int:
    if timeframe[-1:] in _UNITS and timeframe[:-1].isdigit() \
            and int(timeframe[:-1]) > 0 and timeframe[0] != "0":
        return int(timeframe[:-1]) * _UNITS[timeframe[-1]]
    raise ScenarioError(unknown_name_message("timeframe", timeframe, TIMEFRAMES)
                        + "; or any whole number of s, m, h, d or w, such as '10m' or '90s'")


def timeframe_name(seconds: int) -> str:
    """The name of a bar length: ``TIMEFRAMES``' where it has one, else ``<N><largest unit>`` ("10m")."""
    for name, secs in TIMEFRAMES.items():
        if secs == seconds:
            return name
    unit = next(u for u, secs in _UNITS.items() if seconds % secs == 0)
    return f"{seconds // _UNITS[unit]}{unit}"


def _frozen(a: np.ndarray, dtype) -> np.ndarray:
    """A read-only contiguous array; a writeable input is copied, never frozen in place.

    Internal code hands over arrays it made with ``owned()`` so that nothing is copied.
    """
    a = np.asarray(a)
    if a.dtype != dtype or not a.flags.c_contiguous or a.flags.writeable:
        a = np.array(a, dtype=dtype, order="C", copy=True)
    a.flags.writeable = False
    return a


def owned(a: np.ndarray) -> np.ndarray:
    """Mark a freshly made array read-only so ``MarketData`` takes it without a copy."""
    a.flags.writeable = False
    return a


def spare(market: "MarketData", give: bool = True) -> "MarketData":
    """Give ``market``'s values away: the next transform may write its result into them.

    For markets nobody else holds (a base market built for one run, the intermediate
    stages of a mixed scenario): the transform then needs no second full-size array. The
    market must not be read after it was transformed. ``give=False`` takes the offer back
    (a market no transform consumed). Returns ``market``.
    """
    object.__setattr__(market, "_spare", bool(give))
    return market


def take_values(market: "MarketData") -> np.ndarray:
    """A writeable values array for a transform's result, holding ``market``'s values.

    The market's own buffer if it was given away with ``spare`` (and owns its memory),
    otherwise a copy. Either way the transform writes only into the returned array and
    reads ``market`` where it has not written yet.
    """
    values = market.values
    if market._spare and values.base is None:
        object.__setattr__(market, "_spare", False)       # a buffer is given away once
        values.flags.writeable = True
        return values
    return values.copy()


@dataclass(frozen=True, eq=False)
class MarketData:
    """Immutable OHLCV + spread bars of ``symbols`` on ``timestamps`` (int64 ns, UTC).

    ``values[f, s, t]`` is field ``FIELDS[f]`` of symbol ``symbols[s]`` at bar ``t``;
    ``spread`` is the quoted bid-ask spread as a fraction of price; ``depth`` is the
    quantity (base units) resting in the book near the touch, a typical level over the bar.
    """

    symbols: tuple[str, ...]
    timestamps: np.ndarray
    values: np.ndarray
    timeframe: str = "1h"
    #: the values may be written into by the next transform (``spare``); never set by users
    _spare: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", tuple(self.symbols))
        values = _frozen(self.values, np.float64)
        ts = _frozen(self.timestamps, np.int64)
        if values.ndim != 3 or values.shape[0] != len(FIELDS) or values.shape[1] != len(self.symbols):
            raise ScenarioError(
                f"MarketData: values must have shape ({len(FIELDS)}, {len(self.symbols)}, bars), got {values.shape}")
        if ts.shape != (values.shape[2],):
            raise ScenarioError(f"MarketData: {ts.shape[0]} timestamps for {values.shape[2]} bars")
        timeframe_seconds(self.timeframe)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "timestamps", ts)

    # -- shape and access -------------------------------------------------
    @property
    def n_bars(self) -> int:
        return self.values.shape[2]

    @property
    def n_symbols(self) -> int:
        return self.values.shape[1]

    @property
    def open(self) -> np.ndarray:
        return self.values[OPEN]

    @property
    def high(self) -> np.ndarray:
        return self.values[HIGH]

    @property
    def low(self) -> np.ndarray:
        return self.values[LOW]

    @property
    def close(self) -> np.ndarray:
        return self.values[CLOSE]

    @property
    def volume(self) -> np.ndarray:
        return self.values[VOLUME]

    @property
    def spread(self) -> np.ndarray:
        return self.values[SPREAD]

    @property
    def depth(self) -> np.ndarray:
        return self.values[DEPTH]

    @property
    def index(self) -> "pd.DatetimeIndex":
        import pandas as pd   # lazy: DataFrames only at the edges; a synthetic run never imports pandas

        return pd.DatetimeIndex(self.timestamps.astype("datetime64[ns]"), tz="UTC", name="timestamp")

    @property
    def bar_seconds(self) -> int:
        return timeframe_seconds(self.timeframe)

    def symbol_index(self, symbol: str) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise ScenarioError(unknown_name_message("symbol", symbol, self.symbols)) from None

    def replace(self, **changes) -> "MarketData":
        """A copy with some of ``symbols``, ``timestamps``, ``values``, ``timeframe`` replaced."""
        kw = {"symbols": self.symbols, "timestamps": self.timestamps, "values": self.values,
              "timeframe": self.timeframe}
        kw.update(changes)
        return MarketData(**kw)

    def slice(self, start: int, stop: int) -> "MarketData":
        """Bars ``start:stop`` (a copy)."""
        return self.replace(values=self.values[:, :, start:stop].copy(), timestamps=self.timestamps[start:stop].copy())

    # -- DataFrame boundary -----------------------------------------------
    def frame(self, symbol: str | None = None) -> "pd.DataFrame":
        """One symbol's bars as a DataFrame with a UTC DatetimeIndex."""
        import pandas as pd   # lazy: DataFrames only at the edges; a synthetic run never imports pandas

        s = 0 if symbol is None else self.symbol_index(symbol)
        return pd.DataFrame({f: self.values[i, s] for i, f in enumerate(FIELDS)}, index=self.index)

    def frames(self) -> "dict[str, pd.DataFrame]":
        return {sym: self.frame(sym) for sym in self.symbols}

    @classmethod
    def from_frames(cls, frames: "Mapping[str, pd.DataFrame]", timeframe: str | None = None) -> "MarketData":
        """Build from one DataFrame per symbol, all on the same DatetimeIndex.

        Each frame needs ``open, high, low, close, volume``; ``spread`` and ``depth`` are
        optional (missing: the symbol's typical calm spread; ``default_depth``). Use
        ``pytest_stress.market.loaders`` to normalise raw files first.
        """
        if not frames:
            raise ScenarioError("MarketData.from_frames: no frames given")
        symbols = tuple(frames)
        first = frames[symbols[0]]
        index = _utc_index(first.index, symbols[0])
        values = np.empty((len(FIELDS), len(symbols), len(index)))
        for s, sym in enumerate(symbols):
            df = frames[sym]
            if not _utc_index(df.index, sym).equals(index):
                raise ScenarioError(f"MarketData.from_frames: {sym!r} is not on the same index as {symbols[0]!r}")
            for f, name in enumerate(FIELDS):
                if name in df.columns:
                    values[f, s] = df[name].to_numpy(dtype=np.float64)
                elif name == "spread":
                    values[f, s] = profile_for(sym).spread
                elif name == "depth":
                    values[f, s] = default_depth(values[VOLUME, s])
                else:
                    raise ScenarioError(
                        f"MarketData.from_frames: {sym!r} has no {name!r} column; columns are {list(df.columns)}")
        inferred = infer_timeframe(index.asi8)
        if timeframe is None:
            timeframe = inferred
        elif len(index) > 2 and timeframe_seconds(timeframe) not in (
                timeframe_seconds(inferred), timeframe_seconds(infer_timeframe(index.asi8, smallest=True))):
            raise ScenarioError(
                f"timeframe = {timeframe!r} contradicts the data: its bars are {inferred!r} apart (median spacing). "
                f"Leave timeframe unset to use the data's ({inferred!r}), or resample the data")
        return cls(symbols, index.asi8.copy(), values, timeframe)


def _utc_index(index: "pd.Index", symbol: str) -> "pd.DatetimeIndex":
    import pandas as pd   # lazy: DataFrames only at the edges

    if not isinstance(index, pd.DatetimeIndex):
        raise ScenarioError(f"{symbol!r}: expected a DatetimeIndex, got {type(index).__name__}")
    idx = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return idx.as_unit("ns")


def infer_timeframe(timestamps_ns: np.ndarray, smallest: bool = False) -> str:
    """The bar length of the data: the median spacing (``smallest``: the smallest positive
    spacing, which gaps in the data do not widen), to the whole second, named as
    ``timeframe_name`` names it ("15m", or "10m": any regular length, not the nearest named one)."""
    if len(timestamps_ns) < 2:
        return "1h"
    diffs = np.diff(timestamps_ns)
    if smallest:
        positive = diffs[diffs > 0]
        step = float(positive.min()) / 1e9 if len(positive) else 3600.0
    else:
        step = float(np.median(diffs)) / 1e9
    if step < 1.0:
        raise ScenarioError(f"market data: its bars are {step:g} s apart (median spacing); expected at least 1 s "
                            "between bars (sorted, without duplicate times)")
    return timeframe_name(int(round(step)))


@dataclass(frozen=True, eq=False)
class MarketViews:
    """The two views of one stressed market, kept apart.

    ``true`` is what the exchange fills against; ``feed`` is what the trader observes
    (the very same object, one array, except under data corruption); ``corrupted[t]``
    marks feed bars that were corrupted; ``base`` is the unstressed market the scenario
    started from (None when a run's build let the stresses reuse its memory:
    ``Scenario.build_market(keep_base=False)``).
    """

    true: MarketData
    feed: MarketData
    base: MarketData | None
    corrupted: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.corrupted is None:
            object.__setattr__(self, "corrupted", np.zeros(self.true.n_bars, dtype=bool))
