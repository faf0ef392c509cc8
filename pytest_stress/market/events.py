"""Real market events shipped with the package: the bars the library's replays run on.

Two windows of Binance spot hourly klines and one of Binance USDⓈ-M perpetual hourly klines
(``event_data/``, gzipped CSV, long format: one row per (timestamp, symbol); UTC bar open times;
volume in base units); the spot files are byte-identical to the files of the project's shared
calibration data once decompressed:

- ``2020-03-12``: Black Thursday, BTCUSDT and ETHUSDT, 2020-02-27 00:00 to 2020-03-26 23:00
  (696 bars). BTC's low 3,782.13 in the 13 March 02:00 bar.
- ``2021-05-19``: the 19 May 2021 crash, BTCUSDT, ETHUSDT and SOLUSDT, 2021-05-05 00:00 to
  2021-06-02 23:00 (696 bars). BTC's low 30,000.00 in the 19 May 13:00 bar.
- ``2025-10-10``: the 10 October 2025 crash, BTCUSDT, ETHUSDT and SOLUSDT perpetuals, 2025-09-26
  00:00 to 2025-10-24 23:00 (696 bars), with each bar's mark price (``mark_high, mark_low,
  mark_close``) and the 8-hourly funding prints (``funding_rate`` at the bar it is paid).
  SOL's mark fell 26.8% open to low in the 10 October 21:00 bar (196.60 to 143.83), its trade
  price 28.2% (196.85 to 141.28). From Harthor/marketlab @ 6135a753
  (``user_data/data/binance/futures/*_USDT_USDT-1h-{futures,mark,funding_rate}.feather``,
  freqtrade's download of Binance's klines, mark-price klines and funding history).

Sources (each event's ``source``): BTC and ETH from andrewsiah/crypto-historical-data @ bcf8fc9e
(``Binance_BTCUSDT_1h.csv``, ``Binance_ETHUSDT_1h.csv``, a CryptoDataDownload export of Binance
klines); SOL from zuvelatamara/Data-Crypto2 @ 54515716 (``Binance_SOLUSDT_1h.csv``). Prices are
facts; the data is Binance's. ``EventSource(key)`` is a data source for ``Scenario(data=...)``:
offline, and it round-trips through JSON (``{"kind": "event", "event": key}``).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..errors import ScenarioError, unknown_name_message
from .data import MarketData

__all__ = ["Event", "EVENTS", "EventSource", "event_of", "load_event", "event_file"]

_SOURCE_BTC_ETH = ("Binance spot klines; BTCUSDT and ETHUSDT from andrewsiah/crypto-historical-data @ bcf8fc9e "
                   "(Binance_BTCUSDT_1h.csv, Binance_ETHUSDT_1h.csv, a CryptoDataDownload export)")


@dataclass(frozen=True)
class Event:
    """One shipped event: its window of hourly bars and where the data came from.

    ``trough_search`` is the UTC interval [start, end) in which the event's trough (the lowest
    low) lies: what ``fidelity.event_figures`` searches on the real bars."""

    key: str
    title: str
    file: str
    symbols: tuple[str, ...]
    first_bar: str
    last_bar: str
    n_bars: int
    trough_search: tuple[str, str]
    source: str
    #: SHA-256 of the decompressed CSV: the shared calibration file's, byte for byte (the spot events)
    sha256: str


EVENTS: dict[str, Event] = {e.key: e for e in (
    Event("2020-03-12", "Black Thursday 12-13 March 2020", "event_2020-03-12_black_thursday_spot_1h.csv.gz",
          ("BTCUSDT", "ETHUSDT"), "2020-02-27 00:00", "2020-03-26 23:00", 696,
          ("2020-03-12 00:00", "2020-03-14 00:00"), _SOURCE_BTC_ETH,
          "f6eb5075db6295b2091842da35a2edad411cc33c6cde6f6a4febd37f4bfa8507"),
    Event("2021-05-19", "19 May 2021", "event_2021-05-19_crash_spot_1h.csv.gz",
          ("BTCUSDT", "ETHUSDT", "SOLUSDT"), "2021-05-05 00:00", "2021-06-02 23:00", 696,
          ("2021-05-19 00:00", "2021-05-20 00:00"),
          _SOURCE_BTC_ETH + "; SOLUSDT from zuvelatamara/Data-Crypto2 @ 54515716 (Binance_SOLUSDT_1h.csv)",
          "a6096c0293abaadee330cd350d6577e39cbffe2bed745f85242517d92adb9ea1"),
    Event("2025-10-10", "10 October 2025", "event_2025-10-10_crash_usdm_perp_1h.csv.gz",
          ("BTCUSDT", "ETHUSDT", "SOLUSDT"), "2025-09-26 00:00", "2025-10-24 23:00", 696,
          ("2025-10-10 00:00", "2025-10-12 00:00"),
          "Binance USDⓈ-M perpetual klines, mark-price klines and funding prints; BTCUSDT, ETHUSDT and SOLUSDT "
          "from Harthor/marketlab @ 6135a753 (user_data/data/binance/futures/*_USDT_USDT-1h-futures.feather, "
          "*-1h-mark.feather, *-1h-funding_rate.feather: freqtrade's download from Binance)",
          "bfe761c4563910aac7a3e9a06c79ffa99400951ed8e464939487150964173a50"),
)}


def event_of(key: str) -> Event:
    """The shipped event ``key`` ('2020-03-12', '2021-05-19', '2025-10-10'); an error names the valid ones."""
    try:
        return EVENTS[key]
    except (KeyError, TypeError):
        raise ScenarioError(unknown_name_message("event", str(key), EVENTS)) from None


def event_file(key: str) -> Any:
    """The shipped file of event ``key`` (an ``importlib.resources`` traversable: ``.open("rb")``)."""
    return resources.files(__package__).joinpath("event_data", event_of(key).file)


@functools.lru_cache(maxsize=8)
def _frames(key: str) -> dict[str, Any]:
    import pandas as pd   # lazy: real data needs pandas; synthetic markets do not

    from .loaders import normalize_frame   # lazy: as above

    with event_file(key).open("rb") as fh:
        raw = pd.read_csv(fh, compression="gzip")
    return {sym: normalize_frame(rows.drop(columns="symbol").reset_index(drop=True), sym)
            for sym, rows in raw.groupby("symbol", sort=False)}


@functools.lru_cache(maxsize=32)
def _market(key: str, symbols: tuple[str, ...], timeframe: str | None) -> MarketData:
    from .loaders import market_from_frames   # lazy: pandas

    event = event_of(key)
    missing = [s for s in symbols if s not in event.symbols]
    if missing:
        raise ScenarioError(f"event {key!r} ({event.title}) has no data for symbol(s) {missing}; "
                            f"it has {list(event.symbols)}")
    frames = _frames(key)
    return market_from_frames({s: frames[s] for s in symbols}, timeframe)


def load_event(key: str, symbols: Sequence[str] | None = None, timeframe: str | None = None) -> MarketData:
    """The shipped bars of event ``key`` for ``symbols`` (None: all of the event's), validated.

    The market is cached per process; it is immutable, so every run may share it."""
    event = event_of(key)
    return _market(key, tuple(event.symbols if symbols is None else symbols), timeframe)


@dataclass(frozen=True)
class EventSource:
    """A data source for ``Scenario(data=...)``: the shipped bars of one event (``EVENTS``)."""

    event: str

    def __post_init__(self) -> None:
        event_of(self.event)

    def load(self, symbols: Sequence[str], timeframe: str) -> MarketData:
        return load_event(self.event, symbols, timeframe)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible form, read back by ``sources.source_from_dict``."""
        return {"kind": "event", "event": self.event}
