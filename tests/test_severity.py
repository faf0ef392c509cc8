"""The severity axis (``severity.py``): s = 1 is the scenario, s = 0 its calm base market, and
every stress grows monotonically with s, approaching hard limits smoothly."""
from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_stress import Scenario, library
from pytest_stress.errors import ScenarioError
from pytest_stress.parameters import Param
from pytest_stress.scenario.kinds import KINDS
from pytest_stress.severity import (at_severity, resolve_parameter, scalable_parameters, scale_value,
                                    scaled_parameters, value_severity)

SEVERITIES = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0)


def test_every_stress_parameter_of_every_kind_declares_how_it_scales():
    """The stresses the issue lists scale; durations, starts and shapes stay as given."""
    scaled = {(k.type.value, name) for k in KINDS.values() for name, p in k.params.items() if p.scale}
    for pair in [("flash_crash", "drop_pct"), ("flash_crash", "spread_mult"), ("flash_crash", "noise_mult"),
                 ("volatility_spike", "multiplier"), ("liquidity_drop", "drop_pct"),
                 ("liquidity_drop", "volume_mult"), ("spread_explosion", "spread_mult"),
                 ("data_corruption", "corruption_pct"), ("model_failure", "failure_rate"),
                 ("execution_crisis", "failure_rate"), ("execution_crisis", "latency_mult"),
                 ("trend_shift", "trend_pct"), ("pump_and_dump", "dump_pct"),
                 ("correlation_breakdown", "target_correlation")]:
        assert pair in scaled
    fixed = {name for k in KINDS.values() for name, p in k.params.items() if not p.scale}
    assert {"duration_bars", "start", "relax_bars", "front", "mode"} <= fixed
    assert not any(p.scale and p.kind != "float" for k in KINDS.values() for p in k.params.values())


#: The library's replays (historical_replay of real bars) have no stress to scale.
REPLAYS = [s.name for s in library.all() if s.type == "historical_replay"]


def test_a_replay_has_no_severity_axis():
    assert REPLAYS == ["Black Thursday 2020 Replay", "19 May 2021 Replay", "10 October 2025 Replay"]
    for name in REPLAYS:
        with pytest.raises(ScenarioError, match="has no stress to scale"):
            at_severity(library.get(name), 2.0)


@pytest.mark.parametrize("name", [n for n in library.names() if n not in REPLAYS])
def test_library_scenarios_scale_monotonically_within_their_ranges(name):
    sc = library.get(name)
    values = [scaled_parameters(sc, s) for s in SEVERITIES[1:]]
    for full, (p, defined) in scalable_parameters(sc).items():
        series = [v[full] for v in values]
        assert values[SEVERITIES[1:].index(1.0)][full] == pytest.approx(defined, rel=1e-12)
        calm = {"share": 0.0, "factor": 1.0, "growth": 0.0}.get(p.scale)
        way = np.sign(defined - calm) if calm is not None else np.sign(
            defined - sc.parameters.get("base_correlation", 0.6))
        steps = np.diff(series) * (way or 1)
        assert (steps >= 0).all(), (full, series)          # never milder at a higher severity
        assert all(p.low <= v <= p.high for v in series), (full, series)
        built = at_severity(sc, 2.0)                       # validates every parameter
        assert built.seed == sc.seed and built.bars == sc.bars


def test_shares_approach_their_limit_smoothly_and_never_reach_it():
    p = Param("drop_pct", 0.3, "", low=0.0, high=0.99, low_inclusive=False, scale="share")
    got = [scale_value(p, 0.3, s) for s in (0.5, 1, 2, 3, 10, 40)]
    assert got[1] == pytest.approx(0.3)
    assert got[2] == pytest.approx(0.99 * (1 - (1 - 0.3 / 0.99) ** 2))   # 51% at s = 2
    assert all(a < b < 0.99 for a, b in zip(got, got[1:]))
    assert scale_value(p, 0.3, 0.0) == 0.0
    # the inverse, as a parameter search reports the severity of the value it found
    for s in (0.3, 1.0, 2.5):
        assert value_severity(p, 0.3, scale_value(p, 0.3, s)) == pytest.approx(s)


def test_factors_scale_in_logs_and_clip_at_their_bound():
    p = Param("spread_mult", 20.0, "", low=1.0, high=1000.0, scale="factor")
    assert scale_value(p, 20.0, 0.5) == pytest.approx(math.sqrt(20))
    assert scale_value(p, 20.0, 2.0) == pytest.approx(400.0)
    assert scale_value(p, 20.0, 3.0) == 1000.0                  # 8000 clipped to the parameter's range
    drought = Param("volume_mult", 0.3, "", low=0.001, high=100.0, scale="factor")
    assert scale_value(drought, 0.3, 2.0) == pytest.approx(0.09)   # a drought deepens


def test_severity_zero_is_the_calm_base_market_on_the_same_seed():
    sc = library.get("Black Swan Combo")
    calm = at_severity(sc, 0)
    assert calm.type.value == "synthetic" and calm.seed == sc.seed and calm.faults.exchange_failure_rate == 0
    np.testing.assert_array_equal(calm.build_market().true.values, sc.base_market().values)
    assert at_severity(sc, 1) is sc


def test_a_flash_crash_measured_at_each_severity_drops_by_the_scaled_share():
    sc = Scenario("crash", "flash_crash", {"drop_pct": 0.3, "duration_bars": 5, "start": 0.5}, bars=200, seed=3)
    i0 = 100
    drops = []
    for s in (0.5, 1.0, 2.0):
        close = at_severity(sc, s).build_market().true.close[0]
        drops.append(1 - close[i0 + 4] / close[i0 - 1])      # the trough close is exact
    assert drops == pytest.approx([scaled_parameters(sc, s)["drop_pct"] for s in (0.5, 1.0, 2.0)], rel=1e-9)
    assert drops[0] < 0.3 < drops[2] < 0.99


def test_parameters_resolve_by_their_short_name_and_bad_ones_are_named():
    swan = library.get("Black Swan Combo")
    assert resolve_parameter(swan, "execution_failure_rate") == "execution_failure_rate"
    assert resolve_parameter(swan, "multiplier") == "volatility_multiplier"
    with pytest.raises(ScenarioError, match="'drop_pct' is ambiguous: 'flash_crash_drop_pct' or 'liquidity_drop_pct'"):
        resolve_parameter(swan, "drop_pct")
    with pytest.raises(ScenarioError, match="does not scale with severity"):
        resolve_parameter(swan, "flash_crash_duration_bars")
    with pytest.raises(ScenarioError, match="Did you mean 'spread_mult'"):
        resolve_parameter(swan, "spred_mult")
    with pytest.raises(ScenarioError, match="no stress to scale"):
        at_severity(Scenario("calm", "synthetic", bars=50), 2.0)
    with pytest.raises(ScenarioError, match="severity = -1; expected a finite number >= 0"):
        at_severity(swan, -1)
