"""The real events shipped with the package (``market.events``) and the library's replays of them:
offline, validated, through every exchange preset and account, one market path per replay."""
from __future__ import annotations

import gzip
import hashlib
import pickle
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pytest_stress import Scenario, derive_seed, library, run_paths, run_scenario
from pytest_stress.account.rules import ACCOUNT_PRESETS
from pytest_stress.cli import main
from pytest_stress.errors import ScenarioError
from pytest_stress.exchange.config import PRESETS
from pytest_stress.market.events import EVENTS, EventSource, event_file, load_event
from pytest_stress.plugin.session import summarize
from pytest_stress.result.verdicts import REPLAY_NOTE, case_note
from pytest_stress.runner import run_verdict
from pytest_stress.verdict import VerdictRule
from traders import SmaCross

ROOT = Path(__file__).resolve().parent.parent
REPLAYS = {"Black Thursday 2020 Replay": "2020-03-12", "19 May 2021 Replay": "2021-05-19",
           "10 October 2025 Replay": "2025-10-10"}
#: What each replay's description names: its data and where it came from
SOURCES = {"2020-03-12": ("Binance spot", "bcf8fc9e"), "2021-05-19": ("Binance spot", "bcf8fc9e"),
           "2025-10-10": ("Binance USDⓈ-M perpetual", "mark price", "funding prints", "Harthor/marketlab @ 6135a753")}


def test_the_shipped_files_are_the_calibration_data_byte_for_byte():
    for key, ev in EVENTS.items():
        with event_file(key).open("rb") as fh:
            raw = fh.read()
        assert len(raw) < 100_000                               # small: 27, 48 and 74 kB gzipped
        assert hashlib.sha256(gzip.decompress(raw)).hexdigest() == ev.sha256
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["pytest_stress"]
    shipped = {p.name for g in globs for p in (ROOT / "pytest_stress").glob(g)}
    assert {ev.file for ev in EVENTS.values()} <= shipped       # in the wheel, not only in the checkout


@pytest.mark.parametrize("key, symbol, low, at", [("2020-03-12", "BTCUSDT", 3782.13, "2020-03-13 02:00"),
                                                  ("2021-05-19", "BTCUSDT", 30000.00, "2021-05-19 13:00"),
                                                  # (the BTCUSDT perpetual's trade low in this data)
                                                  ("2025-10-10", "BTCUSDT", 101516.5, "2025-10-10 21:00")])
def test_the_events_hold_the_widely_reported_lows(key, symbol, low, at):
    ev = EVENTS[key]
    m = load_event(key)
    assert m.symbols == ev.symbols and m.n_bars == ev.n_bars == 696 and m.timeframe == "1h"
    assert m.index[0] == pd.Timestamp(ev.first_bar, tz="UTC") and m.index[-1] == pd.Timestamp(ev.last_bar, tz="UTC")
    assert (np.diff(m.timestamps) == 3_600 * 10**9).all()       # no gaps
    i = m.symbol_index(symbol)
    a, b = (int(np.searchsorted(m.timestamps, pd.Timestamp(x, tz="UTC").value)) for x in ev.trough_search)
    t = a + int(np.argmin(m.low[i, a:b]))
    assert m.low[i, t] == low and m.index[t] == pd.Timestamp(at, tz="UTC")
    assert load_event(key) is m                                 # one immutable market per process
    assert not m.values.flags.writeable


def test_the_replays_are_library_scenarios_with_their_data():
    for name, key in REPLAYS.items():
        sc = library.get(name)
        assert sc.type == "historical_replay" and sc.data == EventSource(key)
        assert sc.symbols == EVENTS[key].symbols and sc.length() == (696, "1h")
        for must in ("replayed unchanged", "One market path", "docs/events.md") + SOURCES[key]:
            assert must in sc.description, (name, must)
        views = sc.build_market()
        assert views.true is views.feed and views.true.n_bars == 696
        assert np.array_equal(views.true.close, load_event(key).close)      # the real bars, unchanged
        back = Scenario.from_dict(sc.to_dict())
        assert back == sc and back.data == sc.data and sc.to_dict()["data"] == {"kind": "event", "event": key}
        assert pickle.loads(pickle.dumps(sc)).data == sc.data
    assert "SOL from zuvelatamara/Data-Crypto2 @ 54515716" in library.get("19 May 2021 Replay").description


def test_a_replay_of_some_of_its_symbols_and_the_errors():
    sc = library.get("19 May 2021 Replay", symbols=("SOLUSDT",))
    assert sc.build_market().true.symbols == ("SOLUSDT",)
    with pytest.raises(ScenarioError, match=r"event '2020-03-12' .* has no data for symbol\(s\) \['SOLUSDT'\]; it has "
                                            r"\['BTCUSDT', 'ETHUSDT'\]"):
        library.get("Black Thursday 2020 Replay", symbols=("SOLUSDT",)).build_market()
    with pytest.raises(ScenarioError, match="unknown event '2020-03-13'.*2020-03-12"):
        EventSource("2020-03-13")
    with pytest.raises(ScenarioError, match="contradicts the data"):
        library.get("Black Thursday 2020 Replay", timeframe="4h").build_market()


@pytest.mark.parametrize("name", REPLAYS)
def test_a_replay_runs_through_every_exchange_preset_and_account(name):
    for exchange in PRESETS:
        for account in ACCOUNT_PRESETS:
            r = run_scenario(name, SmaCross(qty=0.5), exchange, account=account)
            assert r.success and r.bars_processed == 696, (exchange, account, r.error)
            assert r.total_trades > 0


def test_a_replays_paths_share_one_market_and_differ_only_by_the_venue():
    sc = library.get("19 May 2021 Replay")
    paths = run_paths(sc, lambda: SmaCross(qty=0.5), 6, "stressed")
    assert paths.paths == 6
    first, other = (run_scenario(sc.replace(seed=derive_seed(sc.seed, i)), SmaCross(qty=0.5), "stressed")
                    for i in (0, 5))
    assert np.array_equal(first.mark_prices, other.mark_prices)          # the same prices on every path
    assert len({round(v, 6) for v in paths.values("final_equity")}) > 1    # the venue's draws differ
    assert case_note(summarize(paths)).endswith(f"({REPLAY_NOTE})")


def test_a_replays_verdict_says_it_has_one_market_path():
    def holds(result, trader):
        assert result.final_equity > 0

    v = run_verdict("Black Thursday 2020 Replay", lambda: SmaCross(qty=0.5), holds, "calm",
                    rule=VerdictRule(pass_rate=0.05, fail_rate=0.5, max_paths=40))
    assert v.passed and v.headline().endswith(REPLAY_NOTE)
    assert REPLAY_NOTE in case_note(summarize(v))
    synthetic = run_verdict(library.get("BTC Flash Crash 2021", bars=300), lambda: SmaCross(qty=0.5), holds,
                            "calm", rule=VerdictRule(pass_rate=0.05, fail_rate=0.5, max_paths=40))
    assert REPLAY_NOTE not in synthetic.headline() and REPLAY_NOTE not in case_note(summarize(synthetic))


def test_list_says_each_scenarios_bars_and_timeframe(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "Black Thursday 2020 Replay  [black-thursday-2020-replay]  historical_replay: BTCUSDT, ETHUSDT, " \
           "696 x 1h of its data, seed " in out
    assert "19 May 2021 Replay  [19-may-2021-replay]  historical_replay: BTCUSDT, ETHUSDT, SOLUSDT, 696 x 1h" in out
    assert "10 October 2025 Replay  [10-october-2025-replay]  historical_replay: BTCUSDT, ETHUSDT, SOLUSDT, " \
           "696 x 1h" in out
    assert "x None" not in out
    frames = load_event("2021-05-19", ("BTCUSDT",)).frames()
    assert library.get("BTC Flash Crash 2021", data=frames).length_label() == "696 x 1h of its data (inferred)"
    assert library.get("BTC Flash Crash 2021", data="bars_{symbol}.csv").length_label() == \
        "its data's bars (timeframe from their spacing)"
    no_time = {"BTCUSDT": pd.DataFrame({"close": [1.0, 2.0]})}          # fails when loaded, not when listed
    assert library.get("BTC Flash Crash 2021", data=no_time).length() == (None, None)
