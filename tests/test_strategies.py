import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from pytest_stress import Scenario
from pytest_stress import strategies as sst
from pytest_stress.market import validate
from pytest_stress.scenario import BASE_PARAMS, ScenarioType, kind_of, params_for


@settings(max_examples=60, deadline=None)
@given(s=sst.scenarios())
def test_scenarios_always_construct_and_build(s):
    assert isinstance(s, Scenario)
    views = Scenario.from_dict(s.to_dict()).build_market()
    assert views.true.n_bars == s.bars
    assert np.all(views.true.low > 0)


@settings(max_examples=40, deadline=None)
@given(p=sst.parameters("flash_crash", fixed={"duration_bars": 3}))
def test_parameters_respect_ranges_and_fixed(p):
    assert p["duration_bars"] == 3
    assert 0 < p["drop_pct"] <= 0.99
    Scenario("x", "flash_crash", p)


@settings(max_examples=30, deadline=None)
@given(df=sst.market_frames(bars=50))
def test_market_frames_are_valid(df):
    assert len(df) == 50
    report = validate({"X": df})
    assert report.ok, str(report)


@pytest.mark.parametrize("call,match", [
    (lambda: sst.parameters("flash-crash"), "not a scenario type"),
    (lambda: sst.parameters("flash_crash", fixed={"drop": 1}), "not parameters of flash_crash"),
    (lambda: sst.parameters("flash_crash", fixed={"drop_pct": 2}), "'drop_pct' = 2"),
    (lambda: sst.scenarios(types=["historical_replay"]), "at least one scenario type"),
    (lambda: sst.scenarios(bars=1), "bars=1"),
    (lambda: sst.market_frames(max_move=2), "max_move=2"),
])
def test_bad_arguments_name_themselves(call, match):
    with pytest.raises(InvalidArgument, match=match):
        call()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_type_has_a_strategy(data):
    t = data.draw(st.sampled_from([t for t in ScenarioType if t is not ScenarioType.HISTORICAL_REPLAY]))
    p = data.draw(sst.parameters(t))
    assert set(p) <= set(params_for(t))
    bars = kind_of(t).min_bars({k: v for k, v in p.items() if k not in BASE_PARAMS})   # every window fits
    Scenario("x", t, p, symbols=("BTCUSDT", "ETHUSDT"), bars=max(bars, 1000))


@settings(max_examples=80, deadline=None)
@given(s=sst.scenarios(types=["flash_crash", "pump_and_dump", "mixed_custom"], bars=300))
def test_scenarios_keep_the_bars_asked_for(s):
    """A late start is moved into the run instead of growing it (a start of 0.99 used to make a
    12,500-bar run out of bars=300); only a core of 300 bars or more grows it, to what it needs."""
    kind = kind_of(s.type)
    own = s.own_parameters()
    cores = [length for _, _, length in kind.windows(own)]
    if all(length < 300 for length in cores):
        assert s.bars == 300
    else:
        assert s.bars == kind.min_bars({**own, **{k: 0.0 for k in own if k.endswith("start")}})
    kind.check_fits(own, s.bars, "test")


def test_a_shrunk_scenario_prints_as_a_line_that_pastes_back(monkeypatch):
    """hypothesis's falsifying example is ``Scenario(...)``, the scenario's repr, which rebuilds it (its
    pretty printer listed the dataclass's fields: ``type=<ScenarioType...>, parameters=mappingproxy(...)``)."""
    import hypothesis.core
    from hypothesis import Phase
    from hypothesis.vendor.pretty import RepresentationPrinter, pretty

    import pytest_stress

    # schemathesis (in the dev extra) swaps hypothesis's printer for one that prints nothing ("s=,")
    # once it is imported, as its pytest plugin does: the test uses hypothesis's own
    monkeypatch.setattr(hypothesis.core, "RepresentationPrinter", RepresentationPrinter)

    @settings(max_examples=20, database=None, phases=[Phase.generate, Phase.shrink])
    @given(sst.scenarios(types=["flash_crash"], bars=300))
    def falls_below_a_tenth(s):
        assert s.parameters["drop_pct"] < 0.1

    with pytest.raises(AssertionError) as info:
        falls_below_a_tenth()
    note = "\n".join(getattr(info.value, "__notes__", []))
    line = next(x.strip() for x in note.splitlines() if x.strip().startswith("s="))
    assert line.startswith("s=Scenario('fuzzed flash_crash', 'flash_crash', {") and "mappingproxy" not in line
    rebuilt = eval(line[2:].rstrip(","), vars(pytest_stress))
    assert isinstance(rebuilt, Scenario) and rebuilt.parameters["drop_pct"] >= 0.1 and rebuilt.bars == 300
    sc = Scenario("x", "flash_crash", {"drop_pct": 0.2}, bars=200, seed=3)
    assert pretty(sc) == repr(sc) and eval(pretty(sc), vars(pytest_stress)) == sc


def test_fit_starts_scales_every_window_into_the_run():
    fc = kind_of("flash_crash")
    late = fc.fit_starts({"start": 0.99, "duration_bars": 50}, 300)
    assert late["start"] == 0.99 * 249 / 300 and late["duration_bars"] == 50
    fc.check_fits(late, 300, "test")
    assert fc.fit_starts({"start": 0.0, "duration_bars": 50}, 300)["start"] == 0.0
    assert fc.fit_starts({"start": 0.5, "duration_bars": 299}, 300)["start"] == 0.0   # fits only from the start
    assert fc.min_bars(fc.fit_starts({"start": 0.99, "duration_bars": 299}, 300)) == 300
    assert fc.min_bars(fc.fit_starts({"start": 0.99, "duration_bars": 300}, 300)) == 301   # a core of n bars grows it
    mixed = kind_of("mixed_custom")
    both = mixed.fit_starts({"flash_crash_start": 0.98, "flash_crash_duration_bars": 100,
                             "pump_start": 0.97, "pump_bars": 30, "pump_dump_bars": 20,
                             "volatility_multiplier": 3}, 400)
    assert both["flash_crash_start"] == 0.98 * 299 / 400 and both["pump_start"] == 0.97 * 349 / 400
    assert both["volatility_multiplier"] == 3
    mixed.check_fits(both, 400, "test")
