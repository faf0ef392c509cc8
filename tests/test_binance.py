"""The Binance klines client against a real HTTP server on 127.0.0.1 (no internet).

The server (``http_faults.Exchange``) misbehaves on request; every test is bounded in time
and never sleeps for real beyond fractions of a second (waits go to an injected ``sleep``).
"""
import email.utils
import json
import logging
import multiprocessing
import os
import shutil
import time

import pandas as pd
import pytest

from http_faults import HOUR, T0, Exchange, fetch_rounds, run_bounded
from pytest_stress import Scenario
from pytest_stress.errors import HistoricalDataError
from pytest_stress.market.binance import BinanceKlines, BinanceSource, retry_after_seconds

RANGE_5H = r"BTCUSDT 2024-01-01T00:00:00\+00:00\.\.2024-01-01T04:59:59.999000\+00:00"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Requests go straight to 127.0.0.1, whatever proxy the environment names."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture
def exchange():
    with Exchange() as ex:
        yield ex


def client(exchange, tmp_path, **kw):
    sleeps = []
    kw.setdefault("cache_dir", tmp_path / "cache")
    c = BinanceKlines(base_url=exchange.url, sleep=sleeps.append, **kw)
    return c, sleeps


def cache_files(tmp_path, pattern="*"):
    return sorted((tmp_path / "cache").glob(pattern)) if (tmp_path / "cache").exists() else []


def test_pages_through_a_long_range(exchange, tmp_path):
    c, _ = client(exchange, tmp_path)
    df = c.fetch("BTCUSDT", "1h", T0, T0 + 2500 * HOUR)
    assert len(df) == 2500
    assert df.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert [int(r["startTime"]) for r in exchange.requests] == [T0, T0 + 1000 * HOUR, T0 + 2000 * HOUR]
    assert all(r["limit"] == "1000" and r["symbol"] == "BTCUSDT" and r["interval"] == "1h" for r in exchange.requests)
    assert df["close"].iloc[1] == pytest.approx(101.5)


def test_rerun_is_served_from_the_cache(exchange, tmp_path):
    c, _ = client(exchange, tmp_path)
    first = c.fetch("BTCUSDT", "1h", T0, T0 + 1500 * HOUR)
    n = len(exchange.requests)
    exchange.server.shutdown()  # offline from here on
    again = c.fetch("BTCUSDT", "1h", T0, T0 + 1500 * HOUR)
    pd.testing.assert_frame_equal(first, again)
    assert len(exchange.requests) == n


def test_429_honours_retry_after(exchange, tmp_path):
    exchange.script = ["429"]
    c, sleeps = client(exchange, tmp_path)
    df = c.fetch("ETHUSDT", "1h", T0, T0 + 10 * HOUR)
    assert len(df) == 10 and sleeps == [2.0]


def test_5xx_and_timeouts_back_off_exponentially(exchange, tmp_path):
    exchange.script = ["500", "slow", "500"]
    c, sleeps = client(exchange, tmp_path, timeout=0.2, backoff=0.5, max_backoff=1.5)
    df = c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)
    assert len(df) == 5
    assert sleeps == [0.5, 1.0, 1.5]   # doubling, capped


def test_gives_up_after_max_retries(exchange, tmp_path):
    exchange.script = ["500"] * 10
    c, sleeps = client(exchange, tmp_path, max_retries=2)
    with pytest.raises(HistoricalDataError, match="gave up after 3 attempts; last: HTTP 500"):
        c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)


def test_malformed_body_names_symbol_and_range(exchange, tmp_path):
    exchange.script = ["malformed"]
    c, _ = client(exchange, tmp_path)
    with pytest.raises(HistoricalDataError, match=RANGE_5H + ": malformed"):
        c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)


def test_scenario_on_a_binance_source(exchange, tmp_path):
    src = BinanceSource(start="2024-01-01", end="2024-01-03", base_url=exchange.url, cache_dir=str(tmp_path))
    s = Scenario("replay", "historical_replay", data=src, symbols=("BTCUSDT", "ETHUSDT"))
    views = s.build_market()
    assert views.true.n_bars == 48 and views.true.symbols == ("BTCUSDT", "ETHUSDT")
    assert Scenario.from_dict(s.to_dict()).data == src


# -- a server that ignores startTime ------------------------------------------


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "no-cache"])
def test_server_ignoring_start_time_stops_the_fetch(exchange, tmp_path, cached):
    # Every page starts at T0 whatever startTime says: the cursor cannot advance.
    exchange.default = "ignore_start"
    c, _ = client(exchange, tmp_path, cache_dir=tmp_path / "cache" if cached else None)

    def unstick():   # for a client that loops (on the server, or on its cache): make it fail
        exchange.default = "404"
        shutil.rmtree(tmp_path / "cache", ignore_errors=True)

    with pytest.raises(HistoricalDataError) as info:
        run_bounded(lambda: c.fetch("BTCUSDT", "1h", T0, T0 + 2500 * HOUR), 5, unstick)
    msg = str(info.value)
    assert "1h klines BTCUSDT 2024-02-11T16:00:00+00:00..2024-04-14T03:59:59.999000+00:00" in msg
    assert "outside the requested range" in msg and "startTime" in msg
    assert f"GET {exchange.url}/api/v3/klines?symbol=BTCUSDT" in msg
    assert len(exchange.requests) == 2


# -- Retry-After ----------------------------------------------------------------


@pytest.mark.parametrize("code, retry_after", [("429", "1000000000"), ("418", "a day ahead")],
                         ids=["seconds", "http-date"])
def test_retry_after_over_max_wait_fails_at_once(exchange, tmp_path, code, retry_after):
    if retry_after == "a day ahead":   # an IP ban of a day, as an HTTP-date
        retry_after = email.utils.formatdate(time.time() + 86_400, usegmt=True)
    exchange.script = [(code, retry_after)]
    c, sleeps = client(exchange, tmp_path)
    with pytest.raises(HistoricalDataError, match=RANGE_5H + rf": HTTP {code} \(rate limited\) asks to wait") as info:
        c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)
    assert "over max_wait_s=300" in str(info.value) and "Retry-After" in str(info.value)
    assert sleeps == [] and len(exchange.requests) == 1


def test_max_wait_is_configurable(exchange, tmp_path):
    exchange.script = [("429", "120"), ("429", "121")]
    c, sleeps = client(exchange, tmp_path, max_wait_s=120)
    with pytest.raises(HistoricalDataError, match=r"asks to wait 121 s .* over max_wait_s=120"):
        c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)
    assert sleeps == [120.0]


def test_retry_after_as_an_http_date(exchange, tmp_path):
    exchange.script = [("429", email.utils.formatdate(time.time() + 30, usegmt=True)),
                       ("418", "Thu, 01 Jan 2015 00:00:00 GMT")]   # in the past: retry at once
    c, sleeps = client(exchange, tmp_path)
    assert len(c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)) == 5
    assert 27 <= sleeps[0] <= 31 and sleeps[1] == 0.0


@pytest.mark.parametrize("retry_after", ["-5", "soon", "nan", "inf", ""])
def test_invalid_retry_after_falls_back_to_the_backoff(exchange, tmp_path, caplog, retry_after):
    exchange.script = [("429", retry_after)]
    c, sleeps = client(exchange, tmp_path, backoff=0.25)
    with caplog.at_level(logging.WARNING, logger="pytest_stress"):
        assert len(c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)) == 5
    assert sleeps == [0.25]
    if retry_after:
        assert f"ignoring invalid Retry-After {retry_after!r}" in caplog.text


def test_retry_after_parser():
    now = 1_700_000_000.0
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds(" 0 ", now) == 0.0
    assert retry_after_seconds(email.utils.formatdate(now + 90, usegmt=True), now) == pytest.approx(90, abs=1)
    assert retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", now) == 0.0
    assert retry_after_seconds("Sun, 06 Nov 2094 08:49:37 -0000", now) > 0
    for bad in (None, "", "-1", "1e999", "nan", "tomorrow", "Sun, 99 Nov 1994 08:49:37 GMT"):
        assert retry_after_seconds(bad, now) is None, bad


# -- slow, short, oversized and undecodable bodies ------------------------------


@pytest.mark.parametrize("where", ["drip_body", "drip_headers"])
def test_request_deadline_bounds_a_dripping_server(exchange, tmp_path, where):
    # One byte every 50 ms never trips the per-read timeout of 1 s; the deadline does.
    exchange.script = [where] * 2
    c, sleeps = client(exchange, tmp_path, timeout=1.0, deadline_s=0.3, max_retries=1)
    t0 = time.monotonic()
    with pytest.raises(HistoricalDataError, match=RANGE_5H + ": gave up after 2 attempts; last: no complete "
                                                  r"response within deadline_s=0.3 s") as info:
        c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)
    assert time.monotonic() - t0 < 1.5
    assert f"GET {exchange.url}/api/v3/klines?" in str(info.value)
    assert sleeps == [0.5]


@pytest.mark.parametrize("fault, reason", [
    ("short", r"body shorter than its Content-Length \(\d+ of \d+ bytes\)"),
    ("not_utf8", r"body is not UTF-8 \('utf-8' codec can't decode byte 0xff"),
])
def test_truncated_or_non_utf8_body_is_retried_then_reported(exchange, tmp_path, fault, reason):
    exchange.script = [fault]
    c, sleeps = client(exchange, tmp_path)
    assert len(c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)) == 5
    assert sleeps == [0.5] and len(exchange.requests) == 2

    exchange.script = [fault] * 3
    c, sleeps = client(exchange, tmp_path, cache_dir=None, max_retries=2)
    with pytest.raises(HistoricalDataError, match=RANGE_5H + f": gave up after 3 attempts; last: {reason}"):
        c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)


def test_response_with_a_huge_content_length_is_refused_unread(exchange, tmp_path):
    exchange.script = [("huge", True)]    # Content-Length: 400 MB; default cap 8 MiB
    c, sleeps = client(exchange, tmp_path)
    t0 = time.monotonic()
    with pytest.raises(HistoricalDataError, match=RANGE_5H + r": response of 400000000 bytes \(Content-Length\) "
                                                  r"is over max_response_bytes=8388608"):
        c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)
    assert time.monotonic() - t0 < 2 and sleeps == [] and len(exchange.requests) == 1


def test_response_without_a_length_stops_at_the_cap(exchange, tmp_path):
    exchange.script = [("huge", False)]   # no Content-Length; streams up to 16 MB
    c, sleeps = client(exchange, tmp_path, max_response_bytes=100_000)
    with pytest.raises(HistoricalDataError, match=RANGE_5H + r": response is over max_response_bytes=100000 "
                                                  r"\(stopped reading at \d+ bytes\)"):
        c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)
    assert sleeps == [] and len(exchange.requests) == 1 and cache_files(tmp_path, "*.json") == []


@pytest.mark.parametrize("value", ['"NaN"', '"Infinity"', '"-Infinity"', '"inf"', "NaN", "Infinity"])
def test_non_finite_prices_are_rejected(exchange, tmp_path, value):
    exchange.script = [("nonfinite", value)]
    c, sleeps = client(exchange, tmp_path)
    with pytest.raises(HistoricalDataError, match=RANGE_5H + r": bar at 2024-01-01T02:00:00\+00:00: close is .*"
                                                  r"must be finite numbers"):
        c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)
    assert cache_files(tmp_path, "*.json") == []


# -- redirects ------------------------------------------------------------------


@pytest.mark.parametrize("elsewhere", ["port", "scheme"])
def test_redirect_to_another_origin_is_refused(exchange, tmp_path, elsewhere):
    with Exchange() as other:
        target = other.url if elsewhere == "port" else exchange.url.replace("http:", "https:")
        exchange.script = [("redirect", target + "/api/v3/klines?symbol=BTCUSDT&interval=1h&startTime=0"
                                                   "&endTime=1&limit=1000")]
        c, sleeps = client(exchange, tmp_path)
        with pytest.raises(HistoricalDataError, match=RANGE_5H + r": refusing a redirect \(HTTP 302\) to "
                                                      + target.replace(".", r"\.") + r"/api/v3/klines: only "
                                                      r"redirects within http://127\.0\.0\.1:\d+ are followed"):
            c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)
        assert other.requests == [] and len(exchange.requests) == 1
    assert sleeps == [] and cache_files(tmp_path) == []


def test_redirect_within_the_origin_is_followed(exchange, tmp_path):
    exchange.script = [("redirect", "/api/v3/klines?symbol=BTCUSDT&interval=1h"
                                    f"&startTime={T0}&endTime={T0 + 5 * HOUR - 1}&limit=1000")]
    c, _ = client(exchange, tmp_path)
    assert len(c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)) == 5
    assert len(exchange.requests) == 2


# -- the cache ------------------------------------------------------------------


def _truncate(path, tmp_path, exchange):
    path.write_bytes(path.read_bytes()[:50])


def _binary(path, tmp_path, exchange):
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes(range(256)))


def _empty(path, tmp_path, exchange):
    path.write_bytes(b"")


def _other_symbol(path, tmp_path, exchange):
    # a valid entry, but for ETHUSDT over the same range: copied over, or a key collision
    c, _ = client(exchange, tmp_path)
    c.fetch("ETHUSDT", "1h", T0, T0 + 5 * HOUR)
    shutil.copyfile(cache_files(tmp_path, "ETHUSDT-*.json")[0], path)


def _other_range(path, tmp_path, exchange):
    c, _ = client(exchange, tmp_path)
    c.fetch("BTCUSDT", "1h", T0 + 100 * HOUR, T0 + 105 * HOUR)
    shutil.copyfile(cache_files(tmp_path, f"BTCUSDT-1h-{T0 + 100 * HOUR}-*.json")[0], path)


def _bare_list(path, tmp_path, exchange):
    # the format of earlier versions: the exchange's JSON, no metadata
    path.write_text(json.dumps([[T0 + i * HOUR, "1", "1", "1", "1", "1"] for i in range(5)]))


@pytest.mark.parametrize("corrupt", [_truncate, _binary, _empty, _other_symbol, _other_range, _bare_list],
                         ids=lambda f: f.__name__.strip("_"))
def test_unusable_cache_file_is_logged_and_refetched(exchange, tmp_path, caplog, corrupt):
    c, _ = client(exchange, tmp_path)
    good = c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)
    [path] = cache_files(tmp_path, f"BTCUSDT-1h-{T0}-*.json")
    corrupt(path, tmp_path, exchange)
    n = len(exchange.requests)
    with caplog.at_level(logging.WARNING, logger="pytest_stress"):
        again = c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)
    pd.testing.assert_frame_equal(again, good)
    assert len(exchange.requests) == n + 1
    assert [r.name for r in caplog.records] == ["pytest_stress"]
    assert f"Binance cache file {path} is unusable" in caplog.text and "refetching" in caplog.text
    caplog.clear()   # the refetched page replaced the bad file
    exchange.server.shutdown()
    pd.testing.assert_frame_equal(c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR), good)
    assert caplog.text == ""


def test_two_processes_share_a_cache(tmp_path):
    # Both fetch the same new page each round, and the server answers both requests at once,
    # so both write the same cache file at the same time.
    rounds, bars = 20, 1000   # one page a round
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    with Exchange(max_requests=2 * rounds) as exchange:
        exchange.default = ("paired", 1000)   # ~1 MB pages: writing one takes a while
        procs = [ctx.Process(target=fetch_rounds, args=(exchange.url, str(tmp_path / "cache"), rounds, bars,
                                                        barrier, results)) for _ in range(2)]
        for p in procs:
            p.start()
        try:
            outcomes = [results.get(timeout=60) for _ in procs]
        finally:
            for p in procs:
                p.join(10)
                if p.is_alive():
                    p.terminate()
                    p.join()
    assert [len(out) for out in outcomes] == [rounds, rounds]
    assert [o for out in outcomes for o in out if o != bars] == []   # no fetch failed
    assert cache_files(tmp_path, "*.tmp*") == [] and len(cache_files(tmp_path, "*.json")) == rounds


def test_failed_cache_write_is_logged_and_leaves_no_temp_file(exchange, tmp_path, caplog, monkeypatch):
    def no_space(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    c, _ = client(exchange, tmp_path)
    with caplog.at_level(logging.WARNING, logger="pytest_stress"):
        assert len(c.fetch("BTCUSDT", "1h", T0, T0 + 5 * HOUR)) == 5
    assert "could not write Binance cache file" in caplog.text and "No space left" in caplog.text
    assert cache_files(tmp_path) == []


@pytest.mark.parametrize("symbol", ["../../escaped", "BTC/USDT", "..", ".hidden", "", "BTC USDT",
                                    "C:\\x", "BTC\x00", "A" * 65])
def test_symbol_that_is_not_a_plain_name_is_rejected(exchange, tmp_path, symbol):
    cache = tmp_path / "a" / "b" / "cache"
    c, _ = client(exchange, tmp_path, cache_dir=cache)
    with pytest.raises(HistoricalDataError, match=r"Binance symbol .* is not valid: expected 1-64 characters "
                                                  r"among letters, digits, '\.', '_' and '-'") as info:
        c.fetch(symbol, "1h", T0, T0 + 5 * HOUR)
    assert repr(symbol) in str(info.value)
    assert exchange.requests == [] and list(tmp_path.rglob("*")) == []   # nothing written anywhere


def test_symbols_with_dots_dashes_and_underscores_are_fine(exchange, tmp_path):
    c, _ = client(exchange, tmp_path)
    for symbol in ("BTC-USD", "BTC_USDT", "1000SHIBUSDT", "BTC.P"):
        assert len(c.fetch(symbol, "1h", T0, T0 + 2 * HOUR)) == 2
    assert len(cache_files(tmp_path, "*.json")) == 4
