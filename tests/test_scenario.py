import json

import numpy as np
import pandas as pd
import pytest

from pytest_stress import Scenario, ScenarioType
from pytest_stress.errors import ScenarioError
from pytest_stress.scenario import name_seed
from pytest_stress.scenario.faults import Faults


def test_exactly_thirteen_types():
    assert [t.value for t in ScenarioType] == [
        "historical_replay", "synthetic", "flash_crash", "volatility_spike", "trend_shift", "liquidity_drop",
        "spread_explosion", "data_corruption", "correlation_breakdown", "pump_and_dump", "mixed_custom",
        "model_failure", "execution_crisis"]


def test_defaults():
    s = Scenario("calm")
    assert (s.type, s.symbols, s.bars, s.timeframe) == (ScenarioType.SYNTHETIC, ("BTCUSDT",), 1000, None)
    assert s.bar_timeframe == "1h" and s.build_market().true.timeframe == "1h"
    assert s.seed == name_seed("calm") != Scenario("other").seed   # each name its own base market
    with pytest.raises(TypeError):
        s.parameters["x"] = 1  # immutable
    with pytest.raises(AttributeError):
        s.bars = 5


@pytest.mark.parametrize("kw,match", [
    ({"type": "flash_crash", "parameters": {"drop_pct": 1.5}}, r"'drop_pct' = 1.5 .*\(0, 0.99\]"),
    ({"type": "volatility_spike", "parameters": {"multiplier": -2}}, r"'multiplier' = -2.*\[1, 100\]"),
    ({"type": "flash_crash", "parameters": {"dorp_pct": 0.2}}, r"unknown parameter 'dorp_pct'.*'drop_pct'"),
    ({"bars": 1}, r"bars = 1; expected an integer >= 2"),
    ({"timeframe": "7x"}, r"unknown timeframe '7x'.*'1m'"),
    ({"type": "flash-crash"}, r"unknown scenario type 'flash-crash'; did you mean 'flash_crash'"),
    ({"type": "correlation_breakdown"}, r"at least 2 symbols"),
    ({"type": "historical_replay"}, r"needs data="),
    ({"parameters": {"garch_alpha": 0.5, "garch_beta": 0.6}}, r"garch_alpha \+ garch_beta = 1.1; expected < 1"),
    ({"type": "data_corruption", "parameters": {"kinds": ["nan", "gremlins"]}}, r"'kinds'.*'stale'"),
    ({"seed": -1}, r"seed = -1"),
    ({"initial_equity": 0}, r"initial_equity = 0"),
])
def test_validation_names_key_value_and_range(kw, match):
    with pytest.raises(ScenarioError, match=match):
        Scenario("bad", **kw)


def test_json_round_trip_is_lossless(tmp_path):
    frame = pd.DataFrame({"open": [1.0, 2.0], "high": [2.0, 3.0], "low": [0.5, 1.5], "close": [1.5, 2.5],
                          "volume": [10.0, 11.0]}, index=pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC"))
    cases = [
        Scenario("a", "mixed_custom", {"flash_crash_drop_pct": 0.5, "corruption_kinds": ["nan", "spike"]},
                 symbols=("BTCUSDT", "ETHUSDT"), bars=50, seed=3, description="d"),
        Scenario("b", "historical_replay", data={"BTCUSDT": frame}),
        Scenario("c", "flash_crash", data=str(tmp_path / "{symbol}.csv")),
    ]
    for s in cases:
        d = json.loads(json.dumps(s.to_dict()))
        back = Scenario.from_dict(d)
        assert back == s
        assert back.to_dict() == s.to_dict()


def test_same_seed_same_market_other_seed_other_market():
    a = Scenario("x", "flash_crash", bars=300).build_market()
    b = Scenario("x", "flash_crash", bars=300).build_market()
    c = Scenario("x", "flash_crash", bars=300, seed=1).build_market()
    np.testing.assert_array_equal(a.true.values, b.true.values)
    assert not np.array_equal(a.true.values, c.true.values)


def test_the_seed_comes_from_the_name_unless_given():
    s = Scenario("My Crash", "flash_crash", bars=300)
    assert s.seed == name_seed("My Crash") == name_seed("my-crash") == 4049552091   # sha256(b"my-crash")[:4]
    assert Scenario("My Crash", seed=7).seed == 7 and Scenario("x", seed=None).seed == name_seed("x")
    assert eval(repr(s)) == s and f"seed={s.seed}" in repr(s)
    assert s.replace(name="Other").seed == s.seed                 # a field's value by then: kept
    assert s.replace(name="Other", seed=None).seed == name_seed("Other")
    d = s.to_dict()
    del d["seed"]
    assert Scenario.from_dict(d) == s
    assert name_seed("Крах") != name_seed("Буря")                 # no ASCII id: the name itself


def test_faults_from_type_and_mixed_prefixes():
    assert Scenario("m", "model_failure").faults == Faults(model_failure_rate=0.3, model_mode="mixed")
    assert Scenario("e", "execution_crisis", {"latency_mult": 5}).faults.latency_mult == 5
    mixed = Scenario("x", "mixed_custom", {"execution_failure_rate": 0.2, "model_mode": "garbage"}).faults
    assert (mixed.exchange_failure_rate, mixed.latency_mult, mixed.model_mode) == (0.2, 10.0, "garbage")
    assert Scenario("calm").faults == Faults()


def test_replace_merges_parameters_and_revalidates():
    s = Scenario("x", "flash_crash", {"drop_pct": 0.2})
    t = s.replace(parameters={"duration_bars": 3}, bars=100)
    assert dict(t.parameters) == {"drop_pct": 0.2, "duration_bars": 3} and t.bars == 100
    with pytest.raises(ScenarioError):
        s.replace(parameters={"drop_pct": 2})


def test_scenario_on_given_frames_keeps_their_bars():
    from pytest_stress.market.synthetic import generate_market

    frames = generate_market(("BTCUSDT",), 120, "1h", 1).frames()
    views = Scenario("x", "spread_explosion", data=frames, bars=10).build_market()
    assert views.true.n_bars == 120
    np.testing.assert_array_equal(views.base.close[0], frames["BTCUSDT"]["close"].to_numpy())
