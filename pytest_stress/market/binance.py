"""A Binance spot klines client: paging, back-off, retries and an on-disk cache.

Standard library only (``urllib``): one GET endpoint does not justify an HTTP dependency.
Fetched pages are cached as the exchange's own JSON, so a rerun of the same range is offline.
"""
from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import HistoricalDataError
from .data import MarketData, TIMEFRAMES
from .loaders import market_from_frames, parse_timestamps

__all__ = ["BinanceKlines", "BinanceSource"]

log = logging.getLogger("pytest_stress")

DEFAULT_URL = "https://api.binance.com"
_LIMIT = 1000


def _ms(t: str | int | pd.Timestamp) -> int:
    if isinstance(t, (int, np.integer)):
        return int(t)
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


def _iso(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").isoformat()


@dataclass
class BinanceKlines:
    """``GET /api/v3/klines`` with paging over long ranges.

    - 429 and 418: wait ``Retry-After`` seconds (or the back-off if absent), then retry;
    - 5xx, timeouts and dropped connections: capped exponential back-off
      (``backoff * 2**attempt``, at most ``max_backoff``), up to ``max_retries`` times;
    - a body that is not a list of klines raises ``HistoricalDataError`` naming the
      symbol and the time range.
    """

    base_url: str = DEFAULT_URL
    cache_dir: str | Path | None = ".stress-cache/binance"
    timeout: float = 10.0
    max_retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def fetch(self, symbol: str, interval: str, start: str | int | pd.Timestamp,
              end: str | int | pd.Timestamp) -> pd.DataFrame:
        """Bars of ``symbol`` with open time in [start, end), as a normalised DataFrame."""
        if interval not in TIMEFRAMES:
            raise HistoricalDataError(f"Binance interval {interval!r} unknown; valid: {', '.join(TIMEFRAMES)}")
        start_ms, end_ms = _ms(start), _ms(end)
        step = TIMEFRAMES[interval] * 1000
        rows: list[list[Any]] = []
        cursor = start_ms
        while cursor < end_ms:
            page = self._page(symbol, interval, cursor, end_ms - 1)
            if not page:
                break
            rows.extend(page)
            cursor = int(page[-1][0]) + step
            if len(page) < _LIMIT:
                break
        return self._frame(rows, symbol, start_ms, end_ms)

    # -- one page, with cache and retries ----------------------------------
    def _page(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[list[Any]]:
        query = {"symbol": symbol, "interval": interval, "startTime": start_ms, "endTime": end_ms, "limit": _LIMIT}
        cached = self._cache_path(query)
        if cached is not None and cached.exists():
            return self._parse(cached.read_text(), symbol, start_ms, end_ms)
        body = self._get("/api/v3/klines?" + urllib.parse.urlencode(query), symbol, start_ms, end_ms)
        page = self._parse(body, symbol, start_ms, end_ms)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(body)
            tmp.replace(cached)
        return page

    def _cache_path(self, query: dict[str, Any]) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256((self.base_url + json.dumps(query, sort_keys=True)).encode()).hexdigest()[:24]
        return Path(self.cache_dir) / f"{query['symbol']}-{query['interval']}-{query['startTime']}-{key}.json"

    def _get(self, path: str, symbol: str, start_ms: int, end_ms: int) -> str:
        url = self.base_url.rstrip("/") + path
        what = f"Binance klines {symbol} {_iso(start_ms)}..{_iso(end_ms)}"
        for attempt in range(self.max_retries + 1):
            wait = min(self.backoff * 2**attempt, self.max_backoff)
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                    return resp.read().decode("utf-8")
            except urllib.error.HTTPError as err:
                if err.code in (418, 429):
                    retry_after = err.headers.get("Retry-After")
                    wait = float(retry_after) if retry_after else wait
                    reason = f"HTTP {err.code} (rate limited)"
                elif err.code >= 500:
                    reason = f"HTTP {err.code}"
                else:
                    raise HistoricalDataError(f"{what}: HTTP {err.code}: {err.read()[:200]!r}") from err
            except (TimeoutError, socket.timeout, urllib.error.URLError, ConnectionError) as err:
                reason = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
            if attempt == self.max_retries:
                raise HistoricalDataError(f"{what}: gave up after {attempt + 1} attempts; last: {reason}")
            log.warning("%s: %s; retrying in %.2fs (attempt %d of %d)", what, reason, wait, attempt + 1,
                        self.max_retries)
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _parse(body: str, symbol: str, start_ms: int, end_ms: int) -> list[list[Any]]:
        what = f"Binance klines {symbol} {_iso(start_ms)}..{_iso(end_ms)}"
        try:
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            raise HistoricalDataError(f"{what}: malformed response (not JSON: {exc}); body starts {body[:80]!r}") from None
        if not isinstance(data, list) or any(not isinstance(r, list) or len(r) < 6 for r in data):
            raise HistoricalDataError(f"{what}: malformed response (expected a list of klines); "
                                      f"body starts {body[:80]!r}")
        try:
            for r in data:
                int(r[0]), *(float(x) for x in r[1:6])
        except (TypeError, ValueError) as exc:
            raise HistoricalDataError(f"{what}: malformed kline ({exc})") from None
        return data

    @staticmethod
    def _frame(rows: list[list[Any]], symbol: str, start_ms: int, end_ms: int) -> pd.DataFrame:
        if not rows:
            raise HistoricalDataError(f"Binance klines {symbol} {_iso(start_ms)}..{_iso(end_ms)}: no bars returned")
        arr = np.array([[float(x) for x in r[1:6]] for r in rows])
        index = parse_timestamps(np.array([int(r[0]) for r in rows], dtype=np.int64))
        return pd.DataFrame(arr, columns=["open", "high", "low", "close", "volume"], index=index)


@dataclass(frozen=True)
class BinanceSource:
    """A historical data source for ``Scenario(data=...)``: Binance bars over [start, end)."""

    start: str
    end: str
    base_url: str = DEFAULT_URL
    cache_dir: str | None = ".stress-cache/binance"

    def load(self, symbols: Sequence[str], timeframe: str) -> MarketData:
        client = BinanceKlines(base_url=self.base_url, cache_dir=self.cache_dir)
        frames = {s: client.fetch(s, timeframe, self.start, self.end) for s in symbols}
        return market_from_frames(frames, timeframe)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "binance", "start": self.start, "end": self.end, "base_url": self.base_url,
                "cache_dir": self.cache_dir}
