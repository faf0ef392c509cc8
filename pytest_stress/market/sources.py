"""Where a scenario's base market comes from when it is not synthetic.

A data source is one of: a mapping of symbol -> DataFrame (or file path); a path to a
CSV/Parquet file (one symbol), optionally with a ``{symbol}`` placeholder for several;
or a historical source object with ``load(symbols, timeframe)`` and ``to_dict()``
(``BinanceSource``; ``events.EventSource``, the real events shipped with the package).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

import numpy as np

from ..errors import ScenarioError
from .data import FIELDS, FUNDING_FIELD, MARK_FIELDS, MarketData

if TYPE_CHECKING:  # loading real data needs pandas; synthetic markets do not
    import pandas as pd

__all__ = ["DataSource", "HistoricalSource", "load_source", "data_shape", "source_to_dict",
           "source_from_dict"]


@runtime_checkable
class HistoricalSource(Protocol):
    def load(self, symbols: Sequence[str], timeframe: str) -> MarketData: ...

    def to_dict(self) -> dict[str, Any]: ...


DataSource = Union[Mapping[str, Union["pd.DataFrame", str, Path]], str, Path, HistoricalSource]


def load_source(source: DataSource, symbols: Sequence[str], timeframe: str | None,
                repair: str | None = None) -> MarketData:
    """The validated market of ``symbols`` from any data source (``timeframe`` None: the data's own)."""
    from .loaders import frames_from, market_from_frames   # lazy: pandas only when real data is loaded
    if isinstance(source, HistoricalSource):
        return source.load(symbols, timeframe or "1h")
    if isinstance(source, (str, Path)):
        text = str(source)
        if "{symbol}" in text:
            mapping = {s: text.format(symbol=s) for s in symbols}
        elif len(symbols) == 1:
            mapping = {symbols[0]: text}
        else:
            raise ScenarioError(f"data={text!r} is one file for {len(symbols)} symbols; "
                                "use a '{symbol}' placeholder or a mapping of symbol -> path")
        return market_from_frames(frames_from(mapping), timeframe, repair)
    if isinstance(source, Mapping):
        missing = [s for s in symbols if s not in source]
        if missing:
            raise ScenarioError(f"data has no entry for symbol(s) {missing}; it has {list(source)}")
        return market_from_frames(frames_from({s: source[s] for s in symbols}), timeframe, repair)
    raise ScenarioError(f"data={source!r}: expected a mapping of symbol -> DataFrame/path, a path, "
                        "or a historical source with load(symbols, timeframe)")


def data_shape(source: DataSource, symbols: Sequence[str], timeframe: str | None) -> tuple[int, str] | None:
    """``(bars, timeframe)`` of the market ``source`` gives for ``symbols``, where that is known
    without reading a file or the network: a shipped event's window, or DataFrames in memory (their
    common bars before validation, the timeframe given or inferred from their spacing). None for
    files, remote sources and frames that do not load (``load_source`` says, once they are read)."""
    from .events import EventSource   # lazy: the shipped events' table

    if isinstance(source, EventSource):
        from .events import event_of   # lazy: as above

        return event_of(source.event).n_bars, timeframe or "1h"
    if not isinstance(source, Mapping) or any(isinstance(source.get(s), (str, Path)) for s in symbols):
        return None
    if any(s not in source for s in symbols):
        return None
    from .data import infer_timeframe   # lazy: as below
    from .loaders import normalize_frame   # lazy: pandas, already imported by the caller's DataFrames

    index = None
    for s in symbols:
        try:
            frame_index = normalize_frame(source[s], s).index
        except ScenarioError:      # a frame that cannot load says so when it is loaded, not in a listing
            return None
        index = frame_index if index is None else index.intersection(frame_index)
    if index is None or len(index) < 2:
        return None
    return len(index), timeframe or infer_timeframe(index.sort_values().asi8)


def source_to_dict(source: DataSource) -> dict[str, Any]:
    """A JSON-compatible form of a data source (DataFrames are stored column by column)."""
    if isinstance(source, HistoricalSource):
        return source.to_dict()
    if isinstance(source, (str, Path)):
        return {"kind": "path", "path": str(source)}
    import pandas as pd   # lazy: only DataFrame sources need it

    out: dict[str, Any] = {}
    for sym, v in source.items():
        if isinstance(v, (str, Path)):
            out[sym] = {"path": str(v)}
        else:
            idx = v.index
            ts = idx.asi8 if isinstance(idx, pd.DatetimeIndex) else np.asarray(idx)
            out[sym] = {"timestamp_ns": [int(x) for x in ts],
                        **{c: [float(x) for x in v[c]] for c in v.columns if str(c).lower() in FIELDS + MARK_FIELDS},
                        **{c: [None if x != x else float(x) for x in v[c]] for c in v.columns    # NaN: no print
                           if str(c).lower() == FUNDING_FIELD}}
    return {"kind": "frames", "frames": out}


def source_from_dict(d: Mapping[str, Any]) -> DataSource:
    kind = d.get("kind")
    if kind == "path":
        return str(d["path"])
    if kind == "binance":
        from .binance import BinanceSource   # lazy: the client imports pandas

        return BinanceSource(**{k: v for k, v in d.items() if k != "kind"})
    if kind == "event":
        from .events import EventSource   # lazy: the shipped events are read with pandas

        return EventSource(d["event"])
    if kind == "frames":
        import pandas as pd   # lazy: only DataFrame sources need it

        out: dict[str, Any] = {}
        for sym, v in d["frames"].items():
            if "path" in v:
                out[sym] = v["path"]
            else:
                index = pd.DatetimeIndex(pd.to_datetime(v["timestamp_ns"], unit="ns", utc=True), name="timestamp")
                out[sym] = pd.DataFrame({c: v[c] for c in v if c != "timestamp_ns"}, index=index)
        return out
    raise ScenarioError(f"unknown data source kind {kind!r}; valid: 'path', 'frames', 'binance', 'event'")
