"""The market container: OHLCV plus spread for several symbols on one UTC index.

DataFrames at the boundary (``from_frames`` / ``frame``), one contiguous read-only
float64 array inside, shaped ``(field, symbol, bar)``, so the bar loop indexes plain
numpy memory and never touches pandas.

Perpetual data may carry two optional read-only arrays beside it (None for everything else):
``mark``, the venue's mark price (``MARK_FIELDS``: high, low, close; shaped ``(field, symbol,
bar)``), on which the account's liquidation check runs (docs/accounts.md), and ``funding``, the
venue's funding prints (``(symbol, bar)``: the rate paid at that bar's open, NaN where none is).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ScenarioError, unknown_name_message
from .profiles import profile_for

if TYPE_CHECKING:  # pandas is imported only where DataFrames cross the boundary
    import pandas as pd   # lazy: DataFrames only at the edges

__all__ = ["FIELDS", "MARK_FIELDS", "FUNDING_FIELD", "REQUIRED_FIELDS", "TIMEFRAMES",
           "MarketData", "MarketViews", "timeframe_seconds", "default_depth",
           "spare", "take_values"]

FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume", "spread", "depth")
OPEN, HIGH, LOW, CLOSE, VOLUME, SPREAD, DEPTH = range(7)
#: The optional mark price's fields (``MarketData.mark``), named as data columns.
MARK_FIELDS: tuple[str, ...] = ("mark_high", "mark_low", "mark_close")
MARK_HIGH, MARK_LOW, MARK_CLOSE = range(3)
#: The optional funding prints' column: the rate per interval paid at the bar's open (NaN: no print).
FUNDING_FIELD = "funding_rate"
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
    # (a market with a mark keeps its buffer: ``replace`` tells moved prices by a new values array)
    if market._spare and values.base is None and market.mark is None:
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

    ``mark[f, s, t]`` (optional) is field ``MARK_FIELDS[f]`` of symbol ``s``'s mark price at bar
    ``t`` (a symbol the data gave no mark for has its trade high, low and close there);
    ``funding[s, t]`` (optional) the funding print paid at bar ``t``'s open, NaN where none is.
    Both belong to these prices and times: ``replace`` keeps the mark only while the open, high,
    low and close stay the same (a price stress drops it) and the prints while the times do.
    """

    symbols: tuple[str, ...]
    timestamps: np.ndarray
    values: np.ndarray
    timeframe: str = "1h"
    mark: np.ndarray | None = None
    funding: np.ndarray | None = None
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
        if self.mark is not None:
            mark = _frozen(self.mark, np.float64)
            if mark.shape != (len(MARK_FIELDS),) + values.shape[1:]:
                raise ScenarioError(f"MarketData: mark must have shape ({len(MARK_FIELDS)}, {values.shape[1]}, "
                                    f"{values.shape[2]}) ({', '.join(MARK_FIELDS)}), got {mark.shape}")
            object.__setattr__(self, "mark", mark)
        if self.funding is not None:
            funding = _frozen(self.funding, np.float64)
            if funding.shape != values.shape[1:]:
                raise ScenarioError(f"MarketData: funding must have shape ({values.shape[1]}, {values.shape[2]}) "
                                    f"(symbol, bar), got {funding.shape}")
            object.__setattr__(self, "funding", funding)

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
        """A copy with some of ``symbols``, ``timestamps``, ``values``, ``timeframe``, ``mark``, ``funding``
        replaced. Unless given, the mark is kept only if the times and the open, high, low and close are
        unchanged (a stress that moves prices leaves a mark that no longer belongs to them: the copy has
        none, and is liquidated on its own prices), the funding prints only if the times are."""
        kw: dict[str, Any] = {"symbols": self.symbols, "timestamps": self.timestamps, "values": self.values,
                              "timeframe": self.timeframe}
        kw.update(changes)
        if self.mark is not None or self.funding is not None:    # (nothing to compare on most markets)
            ts, values = kw["timestamps"], kw["values"]
            same_times = ts is self.timestamps or (np.shape(ts) == self.timestamps.shape
                                                   and np.array_equal(ts, self.timestamps))
            if "mark" not in changes:
                same_prices = values is self.values or (np.shape(values) == self.values.shape and np.array_equal(
                    np.asarray(values)[:CLOSE + 1], self.values[:CLOSE + 1]))
                kw["mark"] = self.mark if same_times and same_prices else None
            if "funding" not in changes:
                kw["funding"] = self.funding if same_times and np.shape(values)[1:] == self.values.shape[1:] \
                    else None
        return MarketData(**kw)

    def slice(self, start: int, stop: int) -> "MarketData":
        """Bars ``start:stop`` (a copy)."""
        return self.replace(values=self.values[:, :, start:stop].copy(), timestamps=self.timestamps[start:stop].copy(),
                            mark=None if self.mark is None else self.mark[:, :, start:stop].copy(),
                            funding=None if self.funding is None else self.funding[:, start:stop].copy())

    # -- DataFrame boundary -----------------------------------------------
    def frame(self, symbol: str | None = None) -> "pd.DataFrame":
        """One symbol's bars as a DataFrame with a UTC DatetimeIndex."""
        import pandas as pd   # lazy: DataFrames only at the edges; a synthetic run never imports pandas

        s = 0 if symbol is None else self.symbol_index(symbol)
        columns = {f: self.values[i, s] for i, f in enumerate(FIELDS)}
        if self.mark is not None:
            columns.update({f: self.mark[i, s] for i, f in enumerate(MARK_FIELDS)})
        if self.funding is not None:
            columns[FUNDING_FIELD] = self.funding[s]
        return pd.DataFrame(columns, index=self.index)

    def frames(self) -> "dict[str, pd.DataFrame]":
        return {sym: self.frame(sym) for sym in self.symbols}

    @classmethod
    def from_frames(cls, frames: "Mapping[str, pd.DataFrame]", timeframe: str | None = None) -> "MarketData":
        """Build from one DataFrame per symbol, all on the same DatetimeIndex.

        Each frame needs ``open, high, low, close, volume``; ``spread`` and ``depth`` are
        optional (missing: the symbol's typical calm spread; ``default_depth``), and so are a mark
        price (``mark_high, mark_low, mark_close``, all three: ``mark_values``) and funding prints
        (``funding_rate``: ``funding_values``). Use ``pytest_stress.market.loaders`` to normalise
        raw files first.
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
        ordered = [frames[s] for s in symbols]
        return cls(symbols, index.asi8.copy(), values, timeframe, mark=mark_values(ordered, symbols, values, index),
                   funding=funding_values(ordered, symbols, index))


def mark_values(frames: "list[pd.DataFrame]", symbols: tuple[str, ...], values: np.ndarray,
                index: "pd.DatetimeIndex") -> np.ndarray | None:
    """The ``(3, symbol, bar)`` mark array of ``frames`` (``MARK_FIELDS``; a symbol without mark
    columns gets its trade high, low and close), or None when no frame has one. Bad marks are
    an error naming the symbol, the bar and the value: every mark positive and finite, with
    ``mark_low <= mark_close <= mark_high``."""
    if not any(f in df.columns for df in frames for f in MARK_FIELDS):
        return None
    mark = np.empty((len(MARK_FIELDS),) + values.shape[1:])
    for s, (sym, df) in enumerate(zip(symbols, frames)):
        given = [f for f in MARK_FIELDS if f in df.columns]
        if not given:
            mark[:, s] = values[[HIGH, LOW, CLOSE], s]
            continue
        if len(given) < len(MARK_FIELDS):
            missing = [f for f in MARK_FIELDS if f not in df.columns]
            raise ScenarioError(f"market data: {sym!r} has {given} but no {missing}; a mark price needs all of "
                                f"{list(MARK_FIELDS)} (or none: liquidation is then checked on the trade price)")
        for f, name in enumerate(MARK_FIELDS):
            mark[f, s] = df[name].to_numpy(dtype=np.float64)
            bad = ~(np.isfinite(mark[f, s]) & (mark[f, s] > 0))
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise ScenarioError(f"market data: {sym!r} {name} = {float(mark[f, s, k])!r} at {index[k]}; "
                                    f"expected a positive finite price on every bar ({int(bad.sum())} bar(s) are not)")
        hi, lo, cl = mark[MARK_HIGH, s], mark[MARK_LOW, s], mark[MARK_CLOSE, s]
        for rows, what in ((lo > hi, "mark_low above mark_high"), (cl > hi, "mark_close above mark_high"),
                           (cl < lo, "mark_close below mark_low")):
            if rows.any():
                k = int(np.flatnonzero(rows)[0])
                raise ScenarioError(f"market data: {sym!r} {what} at {index[k]} (mark_high {float(hi[k])!r}, "
                                    f"mark_low {float(lo[k])!r}, mark_close {float(cl[k])!r}); expected "
                                    "mark_low <= mark_close <= mark_high")
    return mark


#: Funding prints larger than this per interval are refused as bad input (Binance's largest caps are 3%;
#: ``FundingModel``'s cap is at most 10%, the same bound).
_MAX_PRINT = 0.1


def funding_values(frames: "list[pd.DataFrame]", symbols: tuple[str, ...],
                   index: "pd.DatetimeIndex") -> np.ndarray | None:
    """The ``(symbol, bar)`` funding prints of ``frames`` (``funding_rate``: the rate per interval paid
    at the bar's open; NaN or empty where no print is due; a symbol without the column: NaN
    everywhere), or None when no frame has the column. A print that is not a number in
    [-0.1, 0.1] is an error naming the symbol, the bar and the value."""
    if not any(FUNDING_FIELD in df.columns for df in frames):
        return None
    out = np.full((len(symbols), len(index)), np.nan)
    for s, (sym, df) in enumerate(zip(symbols, frames)):
        if FUNDING_FIELD not in df.columns:
            continue
        out[s] = df[FUNDING_FIELD].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            bad = np.isinf(out[s]) | (np.abs(out[s]) > _MAX_PRINT)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ScenarioError(f"market data: {sym!r} {FUNDING_FIELD} = {float(out[s, k])!r} at {index[k]}; "
                                f"expected a rate per funding interval in [-{_MAX_PRINT:g}, {_MAX_PRINT:g}] "
                                "(0.0001 = 0.01%), or empty where no print is due")
    return out


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
