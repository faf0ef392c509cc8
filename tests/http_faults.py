"""A fake Binance klines server on 127.0.0.1 that misbehaves on request, for tests/test_binance.py.

``Exchange().script`` lists the answers to the next requests, ``default`` the answer after
that; an answer is a name or a ``(name, argument)`` pair (see ``_Handler``). Every answer
ends in bounded time, even against a client that would wait forever: drips stop after
``DRIP_LIMIT_S``, large bodies after ``STREAM_LIMIT`` bytes, and after ``max_requests``
requests every answer is a 404.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z
DRIP_EVERY_S = 0.05
DRIP_LIMIT_S = 2.0
STREAM_LIMIT = 16 * 1024 * 1024


def kline(t: int, symbol: str = "BTCUSDT") -> list[Any]:
    """A kline in Binance's format; prices depend on the symbol so that mix-ups show."""
    p = (100 if symbol == "BTCUSDT" else 1000) + (t - T0) / HOUR
    return [t, f"{p:.2f}", f"{p + 1:.2f}", f"{p - 1:.2f}", f"{p + 0.5:.2f}", "12.5", t + HOUR - 1, "0", 10,
            "0", "0", "0"]


def klines(q: dict[str, str], start: int | None = None) -> list[list[Any]]:
    """What Binance answers to query ``q`` (hourly bars), from ``start`` if given instead of startTime."""
    start = int(q["startTime"]) if start is None else start
    return [kline(t, q["symbol"]) for t in range(start, int(q["endTime"]) + 1, HOUR)][: int(q["limit"])]


class _Handler(BaseHTTPRequestHandler):
    exchange: Exchange   # set on a subclass per server

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        ex = self.exchange
        q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        with ex.lock:
            ex.requests.append(q)
            if len(ex.requests) > ex.max_requests:
                action = "404"
            else:
                action = ex.script.pop(0) if ex.script else ex.default
        name, arg = (action, None) if isinstance(action, str) else action
        try:
            getattr(self, "answer_" + name)(q, arg)
        except (BrokenPipeError, ConnectionResetError):   # the client hung up, as it may
            pass

    # -- answers ------------------------------------------------------------
    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
        for k, v in headers.items():
            if v is not None:
                self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def answer_ok(self, q: dict[str, str], arg: Any) -> None:
        self._send(200, json.dumps(klines(q)).encode())

    def answer_paired(self, q: dict[str, str], padding: int = 0) -> None:
        """Wait for a second request for the same page, then answer both at once (up to 5 s);
        ``padding`` characters in each kline's last field make the body (and its cache file) large."""
        key = (q["symbol"], q["interval"], q["startTime"], q["endTime"])
        with self.exchange.lock:
            barrier = self.exchange.pairs.setdefault(key, threading.Barrier(2))
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        rows = klines(q)
        for r in rows:
            r[-1] = "0" * (padding or 0)
        self._send(200, json.dumps(rows).encode())

    def answer_slow(self, q: dict[str, str], arg: Any) -> None:
        time.sleep(0.5)
        self.answer_ok(q, arg)

    def answer_ignore_start(self, q: dict[str, str], arg: Any) -> None:
        self._send(200, json.dumps(klines(q, start=T0)).encode())

    def answer_429(self, q: dict[str, str], arg: Any) -> None:
        self._send(429, headers={"Retry-After": "2" if arg is None else arg})

    def answer_418(self, q: dict[str, str], arg: Any) -> None:
        self._send(418, headers={"Retry-After": arg})

    def answer_500(self, q: dict[str, str], arg: Any) -> None:
        self._send(500)

    def answer_404(self, q: dict[str, str], arg: Any) -> None:
        self._send(404, b'{"code": -1, "msg": "gone"}')

    def answer_malformed(self, q: dict[str, str], arg: Any) -> None:
        self._send(200, b'{"code": -1, "msg": "oops"')

    def answer_nonfinite(self, q: dict[str, str], arg: str) -> None:
        """Bar 2's close is ``arg``, raw JSON text: '"NaN"' (a string) or 'NaN' (a literal)."""
        rows = klines(q)
        rows[2][4] = "@@"
        self._send(200, json.dumps(rows).replace('"@@"', arg).encode())

    def answer_short(self, q: dict[str, str], arg: Any) -> None:
        """Half the body, then the connection closes: shorter than the Content-Length."""
        body = json.dumps(klines(q)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])

    def answer_not_utf8(self, q: dict[str, str], arg: Any) -> None:
        self._send(200, json.dumps(klines(q)).encode().replace(b'"12.5"', b'"12.5\xff"', 1))

    def answer_redirect(self, q: dict[str, str], location: str) -> None:
        self._send(302, headers={"Location": location})

    def _drip(self, data: bytes) -> None:
        stop = time.monotonic() + DRIP_LIMIT_S
        for i in range(len(data)):
            if self.exchange.stopping.is_set() or time.monotonic() > stop:
                return
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(DRIP_EVERY_S)

    def answer_drip_body(self, q: dict[str, str], arg: Any) -> None:
        """Headers at once, then one byte of the body every ``DRIP_EVERY_S``."""
        body = json.dumps(klines(q)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        self._drip(body)

    def answer_drip_headers(self, q: dict[str, str], arg: Any) -> None:
        """The status line and headers one byte every ``DRIP_EVERY_S``."""
        body = json.dumps(klines(q)).encode()
        self._drip(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 200
                   + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)

    def answer_huge(self, q: dict[str, str], declared: bool) -> None:
        """A large body (with a 400 MB Content-Length if ``declared``); stops after STREAM_LIMIT bytes."""
        self.send_response(200)
        if declared:
            self.send_header("Content-Length", str(400_000_000))
        self.end_headers()
        chunk = b"[" + b"0," * 32767 + b"0"
        while self.exchange.bytes_streamed < STREAM_LIMIT and not self.exchange.stopping.is_set():
            self.wfile.write(chunk)
            self.exchange.bytes_streamed += len(chunk)


class Exchange:
    """A ThreadingHTTPServer on 127.0.0.1 serving Binance klines; use as a context manager."""

    def __init__(self, max_requests: int = 50) -> None:
        self.requests: list[dict[str, str]] = []
        self.script: list[str | tuple[str, Any]] = []
        self.default: str | tuple[str, Any] = "ok"
        self.max_requests = max_requests
        self.bytes_streamed = 0
        self.pairs: dict[tuple[str, ...], threading.Barrier] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"exchange": self}))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> Exchange:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def run_bounded(fn: Callable[[], Any], seconds: float, unstick: Callable[[], None]) -> Any:
    """``fn()`` in a thread; if it is still running after ``seconds``, ``unstick()`` it and fail."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:   # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        unstick()
        thread.join(10)
        raise AssertionError(f"still running after {seconds} s (and stopped only by force)")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _no_sleep(seconds: float) -> None:
    pass


def fetch_rounds(base_url: str, cache_dir: str, rounds: int, bars: int, barrier: Any, results: Any) -> None:
    """In a child process: ``rounds`` fetches of ``bars`` hourly bars, each round starting with
    the other process at ``barrier``; puts the bar counts (or the errors, as text) on ``results``."""
    from pytest_stress.market.binance import BinanceKlines

    client = BinanceKlines(base_url=base_url, cache_dir=cache_dir, sleep=_no_sleep)
    out: list[int | str] = []
    for i in range(rounds):
        start = T0 + i * bars * HOUR
        try:
            barrier.wait(timeout=30)
            out.append(len(client.fetch("BTCUSDT", "1h", start, start + bars * HOUR)))
        except Exception as exc:   # reported to the test, which fails on it
            out.append(f"{type(exc).__name__}: {exc}")
    results.put(out)
