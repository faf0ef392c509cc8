"""Historical bars from DataFrames, CSV and Parquet files, normalised to our columns."""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataGapWarning, ScenarioError
from .data import FIELDS, FUNDING_FIELD, MARK_FIELDS, MarketData
from .quality import require_valid

__all__ = ["normalize_frame", "read_bars", "parse_timestamps", "frames_from", "market_from_frames"]

_TIME_COLUMNS = ("timestamp", "time", "date", "datetime", "open_time", "opentime", "open time", "ts")
_ALIASES = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vol": "volume"}


def parse_timestamps(values: pd.Series | np.ndarray | pd.Index, what: str = "timestamps") -> pd.DatetimeIndex:
    """UTC timestamps from epoch seconds, epoch milliseconds (or micro/nanoseconds) or ISO strings.

    A value that is none of these is an error naming ``what`` (the symbol, file and column), the
    row and the value; so is a mix of times with and without a UTC offset."""
    s = pd.Series(np.asarray(values))
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = s.astype("float64")
        bad = ~np.isfinite(x.to_numpy())
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ScenarioError(f"{what}: row {k} has time {s.iloc[k]!r}; expected epoch seconds or milliseconds, "
                                "or ISO 8601 text, on every row")
        biggest = float(np.nanmax(np.abs(x))) if len(x) else 0.0
        unit = "s" if biggest < 1e11 else "ms" if biggest < 1e14 else "us" if biggest < 1e17 else "ns"
        out = pd.to_datetime(s.astype("int64"), unit=unit, utc=True)
    else:
        text = s.astype(str)
        has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
        if has_offset.any() and not has_offset.all():
            k = int(np.flatnonzero(~has_offset.to_numpy())[0])
            j = int(np.flatnonzero(has_offset.to_numpy())[0])
            raise ScenarioError(f"{what}: times mix UTC offsets and none (row {j}: {s.iloc[j]!r}, row {k}: "
                                f"{s.iloc[k]!r}); expected every time with an offset, or none (read as UTC)")
        try:
            out = pd.to_datetime(s, utc=True, format="ISO8601")
        except (ValueError, TypeError, OverflowError):
            parsed = [_parse_one(v) for v in s.tolist()]
            k = next(i for i, v in enumerate(parsed) if v is None)
            raise ScenarioError(f"{what}: row {k} has time {s.iloc[k]!r}; expected epoch seconds or milliseconds, "
                                "or ISO 8601 text such as '2024-01-01 00:00:00', on every row") from None
    return pd.DatetimeIndex(out, name="timestamp").as_unit("ns")


def _parse_one(value: object) -> pd.Timestamp | None:
    try:
        return pd.to_datetime(value, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return None


def normalize_frame(frame: pd.DataFrame, symbol: str = "?", source: str = "") -> pd.DataFrame:
    """Columns ``open, high, low, close, volume`` (+ ``spread``, ``depth``, a mark price ``mark_high,
    mark_low, mark_close`` and funding prints ``funding_rate`` if given: ``MarketData``) on a UTC
    DatetimeIndex.

    Column names match case-insensitively (``Open``, ``CLOSE``, ``o``...); the time comes
    from the index if it is a DatetimeIndex, else from a column such as ``timestamp``,
    ``time``, ``date`` or ``open_time``. Rows are neither sorted nor cleaned here:
    ``quality.validate`` reports what is wrong.
    """
    where = f"{symbol!r}" + (f" ({source})" if source else "")
    if not isinstance(frame, pd.DataFrame):
        raise ScenarioError(f"{where}: data is a {type(frame).__name__}; expected a DataFrame of bars, a path to a "
                            ".csv or .parquet file, or a BinanceSource")
    df = frame.copy()
    df.columns = [_ALIASES.get(str(c).strip().lower(), str(c).strip().lower()) for c in df.columns]
    seen: dict[str, object] = {}
    for given, name in zip(frame.columns, df.columns):
        if name in seen:      # two columns for one field: which one the run used would be a guess
            raise ScenarioError(f"{where}: columns {seen[name]!r} and {given!r} both give {name!r}; expected one "
                                "column per field (a file read twice side by side, or a column repeated?)")
        seen[name] = given
    if isinstance(df.index, pd.DatetimeIndex):
        index = df.index.tz_localize("UTC") if df.index.tz is None else df.index.tz_convert("UTC")
        index = pd.DatetimeIndex(index, name="timestamp").as_unit("ns")
    else:
        tcol = next((c for c in _TIME_COLUMNS if c in df.columns), None)
        if tcol is None:
            raise ScenarioError(
                f"{where}: no time column; expected a DatetimeIndex or one of {list(_TIME_COLUMNS)}, "
                f"got columns {list(frame.columns)}")
        index = parse_timestamps(df[tcol], f"{where}, column {tcol!r}")
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in df.columns]
    if missing:
        raise ScenarioError(f"{where}: missing column(s) {missing}; got {list(frame.columns)}")
    keep = [c for c in (*FIELDS, *MARK_FIELDS, FUNDING_FIELD) if c in df.columns]
    out = pd.DataFrame({c: pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64) for c in keep}, index=index)
    out.attrs["naive_time"] = _naive(frame, df)
    return out


def _naive(frame: pd.DataFrame, df: pd.DataFrame) -> bool | None:
    """Whether the frame's times carried no time zone (read as UTC); None when that is unknown (epoch numbers)."""
    if isinstance(frame.index, pd.DatetimeIndex):
        return frame.index.tz is None
    tcol = next((c for c in _TIME_COLUMNS if c in df.columns), None)
    col = df[tcol] if tcol is not None else None
    if col is None or pd.api.types.is_numeric_dtype(col):
        return None
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return False
    if pd.api.types.is_datetime64_dtype(col):
        return True
    return not bool(col.astype(str).str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).any())


def read_bars(path: str | Path, symbol: str = "?") -> pd.DataFrame:
    """Read one symbol's bars from a ``.csv`` (optionally compressed) or ``.parquet`` file."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"{symbol!r}: data file {str(path)!r} does not exist")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            raw = pd.read_parquet(path)
        except ImportError as exc:
            raise ScenarioError(f"reading {path}: Parquet needs pyarrow: "
                                "pip install 'pytest-stress-trading[parquet]'") from exc
    else:
        try:
            raw = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise ScenarioError(f"{symbol!r}: data file {str(path)!r} is empty; expected a CSV with a header row "
                                "(time, open, high, low, close, volume) and one row per bar") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            why = " ".join(str(exc).split())
            raise ScenarioError(f"{symbol!r}: data file {str(path)!r} is not a readable CSV ({why}); expected text "
                                "with a header row (time, open, high, low, close, volume) and one row per bar"
                                ) from None
        for col in raw.columns:      # read_csv renames a repeated header 'open' to 'open.1'
            base, dot, num = str(col).rpartition(".")
            if dot and num.isdigit() and base in raw.columns:
                raise ScenarioError(f"{symbol!r}: data file {str(path)!r} has the column {base!r} twice; expected "
                                    "one column per field")
    return normalize_frame(raw, symbol, f"file {str(path)!r}")


def frames_from(source: Mapping[str, pd.DataFrame | str | Path]) -> dict[str, pd.DataFrame]:
    """Normalised frames from a mapping of symbol -> DataFrame or file path. Symbols whose times
    mix time-zone-aware and naive data (naive is read as UTC) are an error: the bars would be
    aligned hours apart without a word."""
    frames = {sym: read_bars(v, sym) if isinstance(v, (str, Path)) else normalize_frame(v, sym)
              for sym, v in source.items()}
    naive = {sym: f.attrs.get("naive_time") for sym, f in frames.items()}
    if True in naive.values() and False in naive.values():
        a = next(s for s, v in naive.items() if v)
        b = next(s for s, v in naive.items() if v is False)
        raise ScenarioError(f"market data: {a!r} has times without a time zone and {b!r} with one; naive times are "
                            "read as UTC, which aligns them with the other symbol only if they are UTC. Expected "
                            f"every symbol's times in one kind: localise {a!r} (index.tz_localize(...)) or give all "
                            "naive UTC")
    return frames


def market_from_frames(frames: "Mapping[str, pd.DataFrame]", timeframe: str | None,
                       repair: str | None = None) -> MarketData:
    """Validate (raising with the report, or repairing by a named policy), align, and pack frames."""
    if not frames:
        raise ScenarioError("market data: no symbols given")
    for sym, f in frames.items():
        if len(f) < 2:
            raise ScenarioError(f"market data for {sym!r} has {len(f)} bar(s); a run needs at least 2")
    frames = require_valid(dict(frames), repair)
    index = None
    for f in frames.values():
        index = f.index if index is None else index.intersection(f.index)
    if len(index) < 2:
        spans = ", ".join(f"{s}: {f.index[0]} .. {f.index[-1]}" for s, f in frames.items() if len(f))
        raise ScenarioError(f"market data: the symbols share {len(index)} bar(s) ({spans}); a run needs at least 2 "
                            "common bars")
    if any(len(f.index) != len(index) for f in frames.values()):
        frames = {s: f.loc[index] for s, f in frames.items()}
    market = MarketData.from_frames(frames, timeframe)
    _warn_gaps(market)
    return market


def _warn_gaps(market: MarketData) -> None:
    """A ``DataGapWarning`` if the bars skip any of their own spacing (the run treats the bars on
    either side of a gap as adjacent: indicators, returns and the venue's timing see no gap)."""
    step = market.bar_seconds * 1_000_000_000
    diffs = np.diff(market.timestamps)
    gaps = np.flatnonzero(diffs > step)
    if not len(gaps):
        return
    k = int(gaps[np.argmax(diffs[gaps])])
    missing = int(round(diffs[k] / step)) - 1
    after = pd.Timestamp(int(market.timestamps[k]), tz="UTC")
    warnings.warn(DataGapWarning(
        f"market data ({', '.join(market.symbols)}, {market.timeframe} bars): {len(gaps)} gap(s) in the bars; the "
        f"longest, {missing} missing bar(s), after {after}. The run treats the bars on either side of a gap as "
        "adjacent (repair never invents bars); give complete data, or cut the run to a span without gaps"),
        stacklevel=2)
