"""Historical bars from DataFrames, CSV and Parquet files, normalised to our columns."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ScenarioError
from .data import FIELDS, MarketData
from .quality import require_valid

__all__ = ["normalize_frame", "read_bars", "parse_timestamps", "frames_from", "market_from_frames"]

_TIME_COLUMNS = ("timestamp", "time", "date", "datetime", "open_time", "opentime", "open time", "ts")
_ALIASES = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vol": "volume"}


def parse_timestamps(values: pd.Series | np.ndarray | pd.Index) -> pd.DatetimeIndex:
    """UTC timestamps from epoch seconds, epoch milliseconds (or micro/nanoseconds) or ISO strings."""
    s = pd.Series(np.asarray(values))
    if pd.api.types.is_numeric_dtype(s):
        x = s.astype("float64")
        biggest = float(np.nanmax(np.abs(x))) if len(x) else 0.0
        unit = "s" if biggest < 1e11 else "ms" if biggest < 1e14 else "us" if biggest < 1e17 else "ns"
        out = pd.to_datetime(s.astype("int64"), unit=unit, utc=True)
    else:
        out = pd.to_datetime(s, utc=True, format="ISO8601")
    return pd.DatetimeIndex(out, name="timestamp").as_unit("ns")


def normalize_frame(frame: pd.DataFrame, symbol: str = "?") -> pd.DataFrame:
    """Columns ``open, high, low, close, volume`` (+ ``spread`` if given) on a UTC DatetimeIndex.

    Column names match case-insensitively (``Open``, ``CLOSE``, ``o``...); the time comes
    from the index if it is a DatetimeIndex, else from a column such as ``timestamp``,
    ``time``, ``date`` or ``open_time``. Rows are neither sorted nor cleaned here:
    ``quality.validate`` reports what is wrong.
    """
    df = frame.copy()
    df.columns = [_ALIASES.get(str(c).strip().lower(), str(c).strip().lower()) for c in df.columns]
    if isinstance(df.index, pd.DatetimeIndex):
        index = df.index.tz_localize("UTC") if df.index.tz is None else df.index.tz_convert("UTC")
        index = pd.DatetimeIndex(index, name="timestamp").as_unit("ns")
    else:
        tcol = next((c for c in _TIME_COLUMNS if c in df.columns), None)
        if tcol is None:
            raise ScenarioError(
                f"{symbol!r}: no time column; expected a DatetimeIndex or one of {list(_TIME_COLUMNS)}, "
                f"got columns {list(frame.columns)}")
        index = parse_timestamps(df[tcol])
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in df.columns]
    if missing:
        raise ScenarioError(f"{symbol!r}: missing column(s) {missing}; got {list(frame.columns)}")
    keep = [c for c in FIELDS if c in df.columns]
    out = pd.DataFrame({c: pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64) for c in keep}, index=index)
    return out


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
        raw = pd.read_csv(path)
    return normalize_frame(raw, symbol)


def frames_from(source: Mapping[str, pd.DataFrame | str | Path]) -> dict[str, pd.DataFrame]:
    """Normalised frames from a mapping of symbol -> DataFrame or file path."""
    return {sym: read_bars(v, sym) if isinstance(v, (str, Path)) else normalize_frame(v, sym)
            for sym, v in source.items()}


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
    return MarketData.from_frames(frames, timeframe)
