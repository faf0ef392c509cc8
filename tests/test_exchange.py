import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from pytest_stress import Account, ExchangeConfig, Scenario, buy, library, sell
from pytest_stress.errors import ScenarioError
from pytest_stress.exchange import PRESETS, SimulatedExchange, preset
from pytest_stress.exchange.conditions import market_conditions
from pytest_stress.runner import run_scenario
from pytest_stress.engine.book import Ticket
from pytest_stress.scenario.faults import Faults
from pytest_stress.market.data import MarketData
from pytest_stress.trader.orders import Order
from traders import Scripted

BENCH_VENUE = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_venue.py"


def bars(rows, symbol="X"):
    """A market from (open, high, low, close) rows, volume 1000, spread 10 bp."""
    a = np.array(rows, dtype=float).T
    n = a.shape[1]
    values = np.vstack([a, np.full((1, n), 1000.0), np.full((1, n), 0.001), np.full((1, n), 1000.0)])[:, None, :]
    return MarketData((symbol,), np.arange(n, dtype=np.int64) * 3_600_000_000_000, values, "1h")


def fill(market, order, config="frictionless", t=1):
    ex = SimulatedExchange(preset(config) if isinstance(config, str) else config, market, np.random.default_rng(0))
    return ex.process(t, [Ticket(1, order, market.symbols[0])], {market.symbols[0]: 0})


CALM = [(100, 101, 99, 100)]


def test_limit_buy_needs_the_price_to_trade_through():
    m = bars(CALM + [(100, 101, 98, 100)])
    res, resting = fill(m, buy(1, limit=98))
    assert res == [] and len(resting) == 1              # touched, not traded through
    res, _ = fill(m, buy(1, limit=99))
    assert res[0].fill_price == 99 and res[0].fee == 0
    res, _ = fill(bars(CALM + [(95, 96, 94, 95)]), buy(1, limit=99))
    assert res[0].fill_price == 95                      # gapped below: the open is better


def test_stop_loss_in_a_gap_fills_at_the_gapped_open():
    m = bars(CALM + [(80, 85, 78, 82)])
    res, _ = fill(m, sell(1, stop=95))
    assert res[0].fill_price == 80 and res[0].reference_price == 80
    res, _ = fill(bars(CALM + [(100, 101, 94, 96)]), sell(1, stop=95))
    assert res[0].fill_price == 95
    res, resting = fill(bars(CALM + [(100, 101, 96, 97)]), sell(1, stop=95))
    assert res == [] and resting


def test_stops_are_handled_before_limits_within_a_bar():
    m = bars(CALM + [(100, 106, 94, 100)])
    ex = SimulatedExchange(preset("frictionless"), m, np.random.default_rng(0))
    tp, sl = Ticket(1, sell(1, "X", limit=105), "X"), Ticket(2, sell(1, "X", stop=95), "X")
    res, _ = ex.process(1, [tp, sl], {"X": 0})
    assert [r.order_type for r in res] == ["stop", "limit"]


def test_taker_costs_add_half_spread_impact_and_fees():
    m = bars([(100, 101, 99, 100)] * 40)
    cfg = PRESETS["calm"].replace(latency_ms=0.0, crisis_latency_ms=0.0, failure_rate=0, crisis_failure_rate=0)
    res, _ = fill(m, buy(10), cfg, t=30)
    r = res[0]
    c = market_conditions(m, cfg)
    half = c.spread[0, 30] / 2            # a constant spread column: estimated from OHLC (docs/venue.md)
    impact = 2 / 3 * c.sigma[0, 30] * math.sqrt(10 / 1000)     # average over the order's own segment
    assert r.fill_price == pytest.approx(100 * (1 + half) * (1 + impact))
    assert r.spread_bps == pytest.approx(half * 1e4)
    assert r.impact_bps == pytest.approx(impact * 1e4)
    assert r.fee == pytest.approx(10 * r.fill_price * 0.0005)


def test_participation_caps_fills_and_remainder_is_cancelled_or_carried():
    m = bars([(100, 101, 99, 100)] * 5)
    cfg = PRESETS["frictionless"].replace(participation=0.1)
    res, resting = fill(m, buy(250), cfg)
    assert res[0].status == "partial" and res[0].filled_qty == 100 and resting == []
    res, resting = fill(m, buy(250), cfg.replace(carry_remainder=True))
    assert resting[0].quantity == 150


#: an account that lets the cost probes below add up to ~25x equity without refusals
LEVERED = Account.margin(max_leverage=50, maintenance_margin=0.01)


def _costs(scenario, n_orders=400, config="calm"):
    sc = library.get(scenario, bars=1000) if isinstance(scenario, str) else scenario
    step = max(1, 998 // n_orders)
    script = {b: (buy if (b // step) % 2 else sell)(0.05) for b in range(1, 999, step)}
    return run_scenario(sc, Scripted(script), config, account=LEVERED)


def test_execution_gets_worse_as_the_market_does():
    calm = _costs(Scenario("calm", bars=1000))
    worst = _costs("Black Swan Combo")
    assert worst.avg_slippage_bps > 3 * calm.avg_slippage_bps
    assert worst.avg_latency_ms > 5 * calm.avg_latency_ms
    assert worst.execution_failures > 10 * max(calm.execution_failures, 1)


def test_latency_and_failure_levels_calm_and_crisis():
    cfg = preset("calm")
    n = 4000
    calm_m = bars([(100, 101, 99, 100)] * n)
    v = calm_m.values.copy()
    v[5, 0] *= 1 + 0.01 * np.sin(np.arange(n))      # a quoted spread that moves a little
    calm_m = calm_m.replace(values=v)
    c = market_conditions(calm_m, cfg)
    assert np.all(c.stress == 0)
    assert cfg.latency_at(0.0) == 50.0 and cfg.failure_rate_at(0.0) == pytest.approx(0.001)
    # full stress: spreads 25x their reference on the last bars (fewer than half the reference's memory)
    v = calm_m.values.copy()
    v[5, 0, -100:] *= 25
    crisis = market_conditions(calm_m.replace(values=v), cfg)
    assert crisis.stress[0, -1] == pytest.approx(1.0)
    assert cfg.latency_at(crisis.stress[0, -1]) == pytest.approx(1000.0)
    assert cfg.failure_rate_at(crisis.stress[0, -1]) == pytest.approx(0.30)
    assert cfg.latency_at(0.5) == pytest.approx(np.sqrt(50 * 1000))
    # drawn latency: log-normal around the level
    ex = SimulatedExchange(cfg, calm_m, np.random.default_rng(1))
    orders = [Ticket(i + 1, Order("buy", 0.01, "X"), "X") for i in range(n)]
    lat = []
    for t, o in enumerate(orders[1:], start=1):
        res, _ = ex.process(t, [o], {"X": 0})
        lat.append(res[0].latency_ms)
    assert np.median(lat) == pytest.approx(50, rel=0.1)


def test_failure_kinds_are_distinct():
    sc = Scenario("e", "execution_crisis", {"failure_rate": 0.9}, bars=2000)
    res = run_scenario(sc, Scripted({b: buy(0.01) for b in range(1, 1999)}))
    kinds = {e.status for e in res.executions}
    assert {"rejected", "timeout", "partial_cancel", "filled"} <= kinds


@pytest.mark.parametrize("bad", [{"taker_fee": -1}, {"participation": 0}, {"failure_rate": 2}])
def test_config_is_validated(bad):
    with pytest.raises(ScenarioError):
        ExchangeConfig(**bad)


def test_unknown_preset_suggests():
    with pytest.raises(ScenarioError, match="unknown exchange preset 'stresed'; did you mean 'stressed'"):
        preset("stresed")


def test_exchange_draws_come_from_the_run_generator():
    sc = library.get("Execution Crisis")
    script = {b: buy(0.01) for b in range(1, 999)}
    a = run_scenario(sc, Scripted(dict(script))).to_dict(records=True)
    b = run_scenario(sc, Scripted(dict(script))).to_dict(records=True)
    a.pop("duration_s"), b.pop("duration_s")
    assert a == b
    c = run_scenario(sc.replace(seed=1), Scripted(dict(script)))
    assert c.executions != run_scenario(sc, Scripted(dict(script))).executions


def test_faults_multiply_latency():
    m = bars([(100, 101, 99, 100)] * 200)
    ex = SimulatedExchange(preset("calm").replace(latency_dispersion=0.0), m, np.random.default_rng(0),
                           Faults(latency_mult=10))
    res, _ = ex.process(100, [Ticket(1, Order("buy", 0.01, "X"), "X")], {"X": 0})
    assert res[0].latency_ms == pytest.approx(500.0)


# -- the failures a scenario describes are the failures a steady trader sees (issue #27) ------

FAILED = ("rejected", "timeout", "partial_cancel")


def _run_failure_share(name, config):
    """One run (the scenario's seed), an order every bar: the share of orders failed on arrival."""
    sc = library.get(name)
    script = {b: (buy if b % 2 else sell)(0.01, sc.symbols[0]) for b in range(1, sc.bars - 1)}
    res = run_scenario(sc, Scripted(script), config)
    first = {}
    for e in res.executions:
        first.setdefault(e.order_id, e)
    return sum(e.status in FAILED for e in first.values()) / len(first)


def _window_failure_share(name, config, window, seeds):
    """An order at every bar of ``window`` on ``seeds`` venues over the scenario's market: the
    measurement ``benchmarks/bench_venue.py`` prints (one copy of it)."""
    return _bench_venue().window_failures(name, preset(config), window, seeds)


def _bench_venue():
    spec = importlib.util.spec_from_file_location("bench_venue", BENCH_VENUE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("config, run, window", [("calm", 33, 63), ("stressed", 42, 99)])
def test_black_swan_describes_the_failures_a_steady_trader_sees(config, run, window):
    description = library.get("Black Swan Combo").description
    stated = f"{run}% of its orders fail over the run and {window}% in the window" if config == "calm" \
        else f"stressed preset: {run}% and {window}%"
    assert stated in description
    assert 100 * _run_failure_share("Black Swan Combo", config) == pytest.approx(run, abs=3)
    # the window's expected share (one run's 48 orders meet a few 25-minute outages: +-15 points)
    assert 100 * _window_failure_share("Black Swan Combo", config, range(500, 548), 60) == pytest.approx(window, abs=3)


def test_black_swans_window_share_is_the_budget_in_closed_form():
    """At full stress (calm): the budget p = 1 - 0.7 x 0.7 (venue's crisis rate, scenario's 30%); half of
    it is outage time, and of the rest the latency (median 1 s x 10 = the 10 s timeout) times out half:
    0.255 + 0.745 / 2 = 0.6275."""
    cfg = preset("calm")
    p = 1 - (1 - cfg.crisis_failure_rate) * (1 - 0.3)
    down = cfg.outage_share * p
    assert cfg.crisis_latency_ms * 10 == cfg.timeout_ms
    assert down + (1 - down) * 0.5 == pytest.approx(0.6275)
    assert _window_failure_share("Black Swan Combo", "calm", range(500, 548), 60) == pytest.approx(0.6275, abs=0.03)


@pytest.mark.parametrize("config", ["calm", "stressed"])
def test_execution_crisis_fails_what_its_description_says(config):
    assert "40% of orders fail" in library.get("Execution Crisis").description
    assert 100 * _run_failure_share("Execution Crisis", config) == pytest.approx(40, abs=3)
