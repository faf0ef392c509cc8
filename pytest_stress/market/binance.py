"""A Binance spot klines client: paging, back-off, retries and an on-disk cache.

Standard library only (``urllib``): one GET endpoint does not justify an HTTP dependency.
Fetched pages are cached with the symbol, interval and time range they answer, so a rerun
of the same range is offline.

The client is meant to survive a misbehaving server (or a man in the middle, or a broken
disk) by failing with a ``HistoricalDataError`` that names the symbol, interval, time range
and URL, in bounded time and memory. Its limits, all keyword arguments of ``BinanceKlines``:

``max_wait_s = 300`` (5 minutes)
    The longest ``Retry-After`` (on HTTP 429 and 418) the client waits out. Binance documents
    ``Retry-After`` as seconds: on a 429, the time until its rate-limit window resets (the
    request-weight window is one minute, the raw-request window five), so at most 300 s;
    on a 418, the length of the IP ban, which "scales from 2 minutes to 3 days" for repeat
    offenders. Waiting out a window inside a test session is reasonable; sleeping through a
    multi-hour ban (or a server's ``Retry-After: 1000000000``) is not, so a longer ask fails
    at once, naming the wait.
``deadline_s = 60``
    The overall deadline of one HTTP request (connect, TLS, headers, body, same-host
    redirects). ``timeout`` (10 s) applies to each socket operation only, so a server
    that drips one byte every few seconds never trips it; the deadline does. A full page
    (1000 klines, ~165 kB) takes well under a second on a working link and ~17 s even at
    10 kB/s; 60 s leaves room for a slow link and still ends a stalled download.
``max_response_bytes = 8 MiB``
    The largest body read. Binance returns at most 1000 klines per page (``limit=1000``,
    its documented maximum) of 150-170 bytes each, ~165 kB; 8 MiB is about 50 times that
    (room for a mirror that pretty-prints its JSON) while a runaway or hostile response is
    stopped long before it costs real memory. ``Content-Length`` is checked before
    reading; the body is read in chunks and reading stops past the cap.

Other defences: redirects to another scheme, host or port are refused (data cached under
the venue's key must come from the venue); a page whose bars lie outside the requested
range (a server that ignores ``startTime``) stops the fetch instead of looping; prices and
volumes must be finite; bodies shorter than their ``Content-Length`` or not UTF-8 are
retried; the symbol must be 1-64 of ``[A-Za-z0-9._-]`` (starting with a letter or digit)
since it names cache files; cache files are written to unique temporary files and moved
into place atomically, and a cache file that is unreadable or answers another question is
logged (``logging.getLogger("pytest_stress")``) and refetched.
"""
from __future__ import annotations

import email.utils
import functools
import hashlib
import http.client
import json
import logging
import math
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import KW_ONLY, dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..atomic_write import write_text_atomically
from ..errors import HistoricalDataError, ScenarioError
from .data import MarketData, TIMEFRAMES
from .loaders import market_from_frames, parse_timestamps

__all__ = ["BinanceKlines", "BinanceSource"]

log = logging.getLogger("pytest_stress")

DEFAULT_URL = "https://api.binance.com"
_LIMIT = 1000
_CHUNK = 64 * 1024
_CACHE_FORMAT = 2          # 1 was the exchange's bare JSON list, without metadata
_FIELDS = ("open", "high", "low", "close", "volume")
_SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SYMBOL_RULE = ("1-64 characters among letters, digits, '.', '_' and '-', starting with a letter "
                "or digit (e.g. 'BTCUSDT')")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _ms(t: str | int | pd.Timestamp) -> int:
    if isinstance(t, (int, np.integer)):
        return int(t)
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


def _iso(ms: int) -> str:
    try:
        return pd.Timestamp(ms, unit="ms", tz="UTC").isoformat()
    except (OverflowError, ValueError):   # out of pandas' range: a garbage timestamp from a server
        return f"{ms} ms"


def _redact(url: str, *, query: bool = True) -> str:
    """``url`` without user:password (and without its query string unless ``query``)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query if query else "", ""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait for a ``Retry-After`` header value, or ``None`` if absent or invalid.

    Both forms of RFC 9110 are understood: delay-seconds (``"120"``) and an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, a date in the past meaning 0). Negative, non-finite
    and unparseable values give ``None``; the caller then backs off as if there were none.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:          # "-0000" means UTC with no stated zone
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


# -- one HTTP request under an overall deadline -------------------------------


class _Retry(Exception):
    """A transient failure of one attempt; ``wait`` overrides the back-off if given."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


class _Fatal(Exception):
    """A failure that retrying would not change."""


def _shutdown(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for an SSLSocket: it acts on the descriptor and
    # leaves the SSL object, which the reading thread may be using, alone.
    with suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """Shuts the sockets of one request down when its overall deadline passes.

    ``timeout`` bounds each socket operation, so a server dripping a byte per read never
    trips it; after the shutdown a blocked read returns at once. ``stop()`` disarms it
    before the sockets are closed, so it never touches a descriptor that was reused.
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._stopped = False
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def stop(self) -> None:
        with self._lock:    # waits for a running _expire
            self._stopped = True
        self._timer.cancel()

    def track(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired and not self._stopped:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.expired = True
            # a connection still in its TLS handshake has its socket only on .sock
            for sock in self._sockets + [c.sock for c in self._connections if c.sock is not None]:
                _shutdown(sock)


class _Watched:
    """Mixin: a connection whose socket the request's watchdog shuts down at the deadline."""

    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)   # type: ignore[call-arg]
        self._watchdog = watchdog
        watchdog.track(self)

    def connect(self) -> None:
        super().connect()   # type: ignore[misc]
        self._watchdog.watch(self.sock)   # type: ignore[attr-defined]


class _WatchedHTTPConnection(_Watched, http.client.HTTPConnection):
    pass


if hasattr(http.client, "HTTPSConnection"):   # Python built with ssl
    class _WatchedHTTPSConnection(_Watched, http.client.HTTPSConnection):
        pass


class _WatchedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self._watchdog = watchdog

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_WatchedHTTPConnection, watchdog=self._watchdog), req)


if hasattr(urllib.request, "HTTPSHandler"):
    class _WatchedHTTPSHandler(urllib.request.HTTPSHandler):
        def __init__(self, watchdog: _Watchdog) -> None:
            super().__init__()
            self._watchdog = watchdog

        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(functools.partial(_WatchedHTTPSConnection, watchdog=self._watchdog), req,
                                context=self._context)


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects within the same scheme, host and port; refuses any other."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self._max_bytes = max_bytes

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        try:
            same = _origin(newurl) == _origin(req.full_url)
        except ValueError:   # a port that is not a number
            same = False
        if not same:
            fp.close()
            scheme, host, port = _origin(req.full_url)
            raise _Fatal(f"refusing a redirect (HTTP {code}) to {_redact(newurl, query=False)}: only redirects "
                         f"within {scheme}://{host}:{port} are followed, so that data cached for this venue "
                         f"comes from it (set base_url to the new address if you trust it)")
        # urllib reads the whole body of a redirect before following it: bound that read
        if len(fp.read(self._max_bytes + 1)) > self._max_bytes:
            fp.close()
            raise _Fatal(f"redirect (HTTP {code}) with a body over max_response_bytes={self._max_bytes}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# -- the client ---------------------------------------------------------------


@dataclass(frozen=True)
class _Page:
    """One ``klines`` request: what it asks for, for messages and cache metadata."""

    symbol: str
    interval: str
    start_ms: int
    end_ms: int
    url: str

    @property
    def what(self) -> str:
        return f"Binance {self.interval} klines {self.symbol} {_iso(self.start_ms)}..{_iso(self.end_ms)}"

    def error(self, problem: str) -> HistoricalDataError:
        return HistoricalDataError(f"{self.what}: {problem} (GET {_redact(self.url)})")

    def meta(self) -> dict[str, Any]:
        return {"format": _CACHE_FORMAT, "symbol": self.symbol, "interval": self.interval,
                "startTime": self.start_ms, "endTime": self.end_ms, "limit": _LIMIT}


@dataclass
class BinanceKlines:
    """``GET /api/v3/klines`` with paging over long ranges.

    - 429 and 418: wait ``Retry-After`` (seconds or an HTTP-date; the back-off if absent or
      invalid), then retry; a wait over ``max_wait_s`` fails at once instead;
    - 5xx, timeouts, dropped connections, truncated or non-UTF-8 bodies and requests over
      ``deadline_s``: capped exponential back-off (``backoff * 2**attempt``, at most
      ``max_backoff``), up to ``max_retries`` times;
    - other 4xx, cross-host redirects, bodies over ``max_response_bytes``, bodies that are
      not a list of finite klines inside the requested range: ``HistoricalDataError`` at
      once, naming the symbol, interval, time range and URL.

    ``timeout`` bounds each socket operation, ``deadline_s`` a whole request. The defaults
    of ``max_wait_s`` (300 s), ``deadline_s`` (60 s) and ``max_response_bytes`` (8 MiB)
    are explained in the module docstring. ``sleep`` is called for every wait (tests
    inject a recorder).
    """

    base_url: str = DEFAULT_URL
    cache_dir: str | Path | None = ".stress-cache/binance"
    timeout: float = 10.0
    max_retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    _: KW_ONLY
    max_wait_s: float = 300.0
    deadline_s: float = 60.0
    max_response_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("timeout", "deadline_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ScenarioError(f"BinanceKlines {name}={value!r} is invalid; expected a finite number > 0")
        for name in ("max_wait_s", "backoff", "max_backoff"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ScenarioError(f"BinanceKlines {name}={value!r} is invalid; expected a finite number >= 0")
        if not (isinstance(self.max_response_bytes, int) and self.max_response_bytes > 0):
            raise ScenarioError(f"BinanceKlines max_response_bytes={self.max_response_bytes!r} is invalid; "
                                f"expected an int > 0")
        if not (isinstance(self.max_retries, int) and self.max_retries >= 0):
            raise ScenarioError(f"BinanceKlines max_retries={self.max_retries!r} is invalid; expected an int >= 0")

    def fetch(self, symbol: str, interval: str, start: str | int | pd.Timestamp,
              end: str | int | pd.Timestamp) -> pd.DataFrame:
        """Bars of ``symbol`` with open time in [start, end), as a normalised DataFrame."""
        if interval not in TIMEFRAMES:
            raise HistoricalDataError(f"Binance interval {interval!r} unknown; valid: {', '.join(TIMEFRAMES)}")
        if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
            raise HistoricalDataError(f"Binance symbol {symbol!r} ({interval} klines {start}..{end}) is not "
                                      f"valid: expected {_SYMBOL_RULE}")
        start_ms, end_ms = _ms(start), _ms(end)
        step = TIMEFRAMES[interval] * 1000
        rows: list[list[Any]] = []
        cursor = start_ms
        while cursor < end_ms:
            page = self._page(symbol, interval, cursor, end_ms - 1)
            if not page:
                break
            rows.extend(page)
            after = int(page[-1][0]) + step
            if after <= cursor:   # _check rejects bars before cursor: a safety net against looping
                raise HistoricalDataError(
                    f"Binance {interval} klines {symbol} {_iso(start_ms)}..{_iso(end_ms)}: the page from "
                    f"{_iso(cursor)} ends at {_iso(int(page[-1][0]))}, so paging would not advance; stopping")
            cursor = after
            if len(page) < _LIMIT:
                break
        return self._frame(rows, symbol, interval, start_ms, end_ms)

    # -- one page, with cache and retries ----------------------------------
    def _page(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[list[Any]]:
        query = {"symbol": symbol, "interval": interval, "startTime": start_ms, "endTime": end_ms, "limit": _LIMIT}
        req = _Page(symbol, interval, start_ms, end_ms,
                    self.base_url.rstrip("/") + "/api/v3/klines?" + urllib.parse.urlencode(query))
        cached = self._cache_path(query)
        if cached is not None:
            page = self._read_cache(cached, req)
            if page is not None:
                return page
        body = self._get(req)
        page = self._parse(body, req)
        if cached is not None:
            self._write_cache(cached, json.dumps({**req.meta(), "klines": page}, separators=(",", ":")))
        return page

    def _cache_path(self, query: dict[str, Any]) -> Path | None:
        if self.cache_dir is None:
            return None
        # symbol and interval were validated by fetch(): no separators, no "..", so the
        # file is directly inside cache_dir
        key = hashlib.sha256((self.base_url + json.dumps(query, sort_keys=True)).encode()).hexdigest()[:24]
        return Path(self.cache_dir) / f"{query['symbol']}-{query['interval']}-{query['startTime']}-{key}.json"

    def _read_cache(self, path: Path, req: _Page) -> list[list[Any]] | None:
        """The cached page, or ``None`` if there is none or it is unusable (logged)."""
        try:
            size = path.stat().st_size
            if size > self.max_response_bytes + _CHUNK:
                problem = f"{size} bytes, over max_response_bytes={self.max_response_bytes}"
            else:
                entry = json.loads(path.read_bytes().decode("utf-8"))
                problem = self._cache_problem(entry, req)
                if problem is None:
                    try:
                        return self._check(entry["klines"], req)
                    except HistoricalDataError as exc:
                        problem = str(exc)
        except FileNotFoundError:
            return None
        except OSError as exc:
            problem = f"unreadable: {exc}"
        except UnicodeDecodeError:
            problem = "not UTF-8 text"
        except json.JSONDecodeError as exc:
            problem = f"not JSON: {exc}"
        log.warning("Binance cache file %s is unusable (%s); refetching %s", path, problem, req.what)
        return None

    @staticmethod
    def _cache_problem(entry: Any, req: _Page) -> str | None:
        if not isinstance(entry, dict) or entry.get("format") != _CACHE_FORMAT or "klines" not in entry:
            return (f"not a cache entry of format {_CACHE_FORMAT} (written by an older version, or "
                    f"corrupted)")
        want = req.meta()
        got = {k: entry.get(k) for k in want}
        if got != want:
            return f"holds {got}, expected {want}"
        return None

    @staticmethod
    def _write_cache(path: Path, text: str) -> None:
        """Write atomically: a unique temporary file in the same directory, then ``os.replace``.

        The file is created with mode 0666 less the user's umask, like any other file."""
        try:
            write_text_atomically(path, text)
        except OSError as exc:
            log.warning("could not write Binance cache file %s (%s); continuing without caching this page",
                        path, exc)

    def _get(self, req: _Page) -> str:
        for attempt in range(self.max_retries + 1):
            wait = min(self.backoff * 2**attempt, self.max_backoff)
            try:
                return self._attempt(req)
            except _Fatal as exc:
                raise req.error(str(exc)) from None
            except _Retry as exc:
                reason = str(exc)
                wait = wait if exc.wait is None else exc.wait
            if attempt == self.max_retries:
                raise req.error(f"gave up after {attempt + 1} attempts; last: {reason}")
            log.warning("%s: %s; retrying in %.2fs (attempt %d of %d)", req.what, reason, wait, attempt + 1,
                        self.max_retries)
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, req: _Page) -> str:
        """One GET under ``deadline_s``: the body as text, or ``_Retry`` / ``_Fatal``."""
        watchdog = _Watchdog(self.deadline_s)
        handlers: list[urllib.request.BaseHandler] = [_SameOriginRedirects(self.max_response_bytes),
                                                      _WatchedHTTPHandler(watchdog)]
        if hasattr(urllib.request, "HTTPSHandler"):
            handlers.append(_WatchedHTTPSHandler(watchdog))
        opener = urllib.request.build_opener(*handlers)
        try:
            try:
                resp = opener.open(req.url, timeout=min(self.timeout, self.deadline_s))
            except urllib.error.HTTPError as err:
                try:
                    failure = self._http_error(err, req)
                finally:
                    watchdog.stop()
                    if err.fp is not None:
                        err.close()
                raise failure from None
            with resp:
                try:
                    body = self._read_capped(resp, watchdog)
                finally:
                    watchdog.stop()
        except (_Retry, _Fatal):
            raise
        except (OSError, http.client.HTTPException) as err:   # URLError and timeouts are OSErrors
            if watchdog.expired:
                raise self._overdue() from None
            raise _Retry(f"{type(err).__name__}: {getattr(err, 'reason', err)}") from None
        finally:
            watchdog.stop()
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Retry(f"body is not UTF-8 ({exc})") from None

    def _overdue(self) -> _Retry:
        return _Retry(f"no complete response within deadline_s={self.deadline_s:g} s (timeout={self.timeout:g} s "
                      f"applies per read; raise deadline_s for a slow link)")

    def _read_capped(self, resp: http.client.HTTPResponse, watchdog: _Watchdog) -> bytes:
        cap = self.max_response_bytes
        declared = resp.headers.get("Content-Length")
        expected = int(declared) if declared is not None and declared.strip().isdigit() else None
        if expected is not None and expected > cap:
            raise _Fatal(f"response of {expected} bytes (Content-Length) is over max_response_bytes={cap}; "
                         f"a full page of {_LIMIT} klines is ~165 kB")
        chunks: list[bytes] = []
        total = 0
        while chunk := resp.read1(_CHUNK):
            total += len(chunk)
            if total > cap:
                raise _Fatal(f"response is over max_response_bytes={cap} (stopped reading at {total} bytes); "
                             f"a full page of {_LIMIT} klines is ~165 kB")
            chunks.append(chunk)
        if watchdog.expired:
            raise self._overdue()
        if expected is not None and total < expected:
            raise _Retry(f"body shorter than its Content-Length ({total} of {expected} bytes)")
        return b"".join(chunks)

    def _http_error(self, err: urllib.error.HTTPError, req: _Page) -> Exception:
        if err.code in (418, 429):
            raw = err.headers.get("Retry-After")
            wait = retry_after_seconds(raw)
            if wait is None and raw is not None:
                log.warning("%s: ignoring invalid Retry-After %r (expected seconds >= 0 or an HTTP-date); "
                            "backing off instead", req.what, raw)
            if wait is not None and wait > self.max_wait_s:
                return _Fatal(f"HTTP {err.code} (rate limited) asks to wait {wait:.0f} s (Retry-After: {raw!r}), "
                              f"over max_wait_s={self.max_wait_s:g}; giving up (retry later, or raise max_wait_s)")
            return _Retry(f"HTTP {err.code} (rate limited)", wait)
        if err.code >= 500:
            return _Retry(f"HTTP {err.code}")
        try:
            body = err.read(200)
        except (OSError, http.client.HTTPException):
            body = b""
        return _Fatal(f"HTTP {err.code}: {body!r}")

    @staticmethod
    def _parse(body: str, req: _Page) -> list[list[Any]]:
        try:
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            raise req.error(f"malformed response (not JSON: {exc}); body starts {body[:80]!r}") from None
        return BinanceKlines._check(data, req, body)

    @staticmethod
    def _check(data: Any, req: _Page, body: str | None = None) -> list[list[Any]]:
        """``data`` if it is a list of klines with finite values inside the requested range."""
        if not isinstance(data, list) or any(not isinstance(r, list) or len(r) < 6 for r in data):
            start = f"; body starts {body[:80]!r}" if body is not None else ""
            raise req.error(f"malformed response (expected a list of klines){start}")
        for r in data:
            try:
                t = int(r[0])
                values = [float(x) for x in r[1:6]]
            except (TypeError, ValueError, OverflowError) as exc:
                raise req.error(f"malformed kline ({exc})") from None
            if not req.start_ms <= t <= req.end_ms:
                raise req.error(f"bar at {_iso(t)} is outside the requested range (does the server honour "
                                f"startTime and endTime?); stopping")
            for name, raw, value in zip(_FIELDS, r[1:6], values):
                if not math.isfinite(value):
                    raise req.error(f"bar at {_iso(t)}: {name} is {raw!r}; prices and volume must be "
                                    f"finite numbers")
        return data

    @staticmethod
    def _frame(rows: list[list[Any]], symbol: str, interval: str, start_ms: int, end_ms: int) -> pd.DataFrame:
        if not rows:
            raise HistoricalDataError(f"Binance {interval} klines {symbol} {_iso(start_ms)}..{_iso(end_ms)}: "
                                      f"no bars returned")
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
        """Fetch each symbol (through the cache) and build the market."""
        client = BinanceKlines(base_url=self.base_url, cache_dir=self.cache_dir)
        frames = {s: client.fetch(s, timeframe, self.start, self.end) for s in symbols}
        return market_from_frames(frames, timeframe)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible form, read back by ``sources.source_from_dict``."""
        return {"kind": "binance", "start": self.start, "end": self.end, "base_url": self.base_url,
                "cache_dir": self.cache_dir}
