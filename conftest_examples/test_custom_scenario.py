"""Your own scenarios: a Scenario object in the marker, or one registered in conftest.py."""
from pytest_stress import Scenario, stress

RATE_SHOCK = Scenario("Rate Shock", "mixed_custom",
                      {"trend_pct": -0.3, "trend_start": 0.3, "volatility_multiplier": 3.0,
                       "volatility_start": 0.3, "volatility_duration_bars": 100},
                      symbols=("ETHUSDT",), bars=800, description="A macro repricing (our own design).")


@stress(RATE_SHOCK, "Weekend Gap Down")
def test_own_scenarios(stress_result):
    assert stress_result.max_drawdown < 25


@stress("BTC Flash Crash 2021", bars=500, seed=7, parameters={"drop_pct": 0.45})
def test_a_deeper_crash_on_a_shorter_series(stress_scenario, stress_result):
    assert stress_scenario.parameters["drop_pct"] == 0.45
    # a 45% crash: the governor gets out, but not before a trade's worth of damage (p99 drawdown 29%)
    assert stress_result.final_equity > 0.6 * stress_result.initial_equity
