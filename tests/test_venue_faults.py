"""The venue's faults: outage windows whose rate rises with stress, late fills after timeouts,
and each library scenario's described failure rate (issue #11)."""
import numpy as np
import pytest

from pytest_stress import Scenario, buy, library, sell
from pytest_stress.engine.book import Ticket
from pytest_stress.exchange import SimulatedExchange, preset
from pytest_stress.exchange.conditions import market_conditions
from pytest_stress.exchange.outages import draw_outages
from pytest_stress.exchange.simulator import outage_share
from pytest_stress.runner import run_scenario
from traders import Scripted

FAILED = ("rejected", "timeout", "partial_cancel")


def every_bar(sc, qty=0.01):
    return Scripted({b: (buy if b % 2 else sell)(qty, sc.symbols[0]) for b in range(1, sc.bars - 1)})


def failure_share(result):
    return result.execution_failures / result.orders_submitted


# -- the described failure rates ------------------------------------------------------

@pytest.mark.parametrize("name, described", [("Execution Crisis", 0.40), ("Black Swan Combo", 0.30)])
def test_scenario_fails_orders_at_its_described_rate(name, described):
    sc = library.get(name)
    share = failure_share(run_scenario(sc, every_bar(sc)))
    assert share == pytest.approx(described, abs=0.04)


@pytest.mark.parametrize("name", [n for n in library.names() if n not in ("Execution Crisis", "Black Swan Combo")])
def test_scenarios_without_a_failing_venue_fail_few_orders(name):
    sc = library.get(name)
    assert failure_share(run_scenario(sc, every_bar(sc))) < 0.05


def test_the_failure_rate_holds_with_another_seed_and_timeframe():
    sc = library.get("Execution Crisis").replace(seed=11, timeframe="15m", bars=1500)
    assert failure_share(run_scenario(sc, every_bar(sc))) == pytest.approx(0.40, abs=0.04)


# -- outages ----------------------------------------------------------------------------

def test_outage_schedule_has_the_target_down_share_and_mean_length():
    rng = np.random.default_rng(5)
    bar_ms, mean_ms = 3_600_000.0, 1_500_000.0
    sched = draw_outages(np.full(20_000, 0.2), bar_ms, mean_ms, rng)
    assert sched.down_share(20_000, bar_ms) == pytest.approx(0.2, abs=0.01)
    lengths = np.array(sched.ends) - np.array(sched.starts)
    assert np.all(np.array(sched.starts[1:]) > np.array(sched.ends[:-1]))      # disjoint, sorted
    assert mean_ms <= lengths.mean() <= 1.3 * mean_ms     # merged overlaps make them a little longer


def test_outage_schedule_before_k_does_not_depend_on_later_bars():
    share = np.random.default_rng(1).uniform(0, 0.3, 5000)
    full = draw_outages(share, 60_000.0, 1_500_000.0, np.random.default_rng(9))
    short = draw_outages(share[:2000], 60_000.0, 1_500_000.0, np.random.default_rng(9))
    cut = 2000 * 60_000.0
    a = [(s, e) for s, e in zip(full.starts, full.ends) if s < cut]
    b = list(zip(short.starts, short.ends))
    assert len(b) > 5 and a == b


def test_outages_are_more_frequent_under_stress():
    sc = Scenario("spread", "spread_explosion", {"spread_mult": 30.0, "duration_bars": 160, "start": 0.5},
                  bars=4000, timeframe="15m")
    true = sc.build_market().true
    cfg = preset("calm").replace(outage_mean_s=60.0)
    ex = SimulatedExchange(cfg, true, np.random.default_rng(3))
    venue = market_conditions(true, cfg).venue
    target = outage_share(cfg, venue)                           # the down share the exchange drew from
    order = np.argsort(venue, kind="stable")
    assert np.all(np.diff(target[order]) >= 0)                  # the target down share rises with stress
    bar_ms = true.bar_seconds * 1000.0

    def down(a, b):        # share of time in [bar a, bar b) the venue is down
        lo, hi = a * bar_ms, b * bar_ms
        return sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in zip(ex.outages.starts, ex.outages.ends)) / (hi - lo)

    assert venue[2005:2150].mean() > 0.9
    assert down(0, 1900) < 0.01
    assert down(2005, 2150) == pytest.approx(target[2005:2150].mean(), rel=0.25)
    assert down(2005, 2150) > 0.1


def test_failures_come_in_contiguous_outages_not_one_by_one():
    sc = library.get("Execution Crisis").replace(timeframe="1m", bars=3000)
    res = run_scenario(sc, every_bar(sc))
    first = {}
    for e in res.executions:
        first.setdefault(e.order_id, e)
    failed = np.array([first[i].status in FAILED for i in sorted(first)])
    p = failed.mean()
    after_failure = failed[1:][failed[:-1]].mean()
    assert p == pytest.approx(0.40, abs=0.05)
    assert after_failure > p + 0.15               # i.i.d. failures would give about p
    outage = [e for e in res.executions if "outage" in e.reason]
    assert len(outage) > 0.15 * len(first) and all(e.status == "timeout" for e in outage)


# -- late fills -----------------------------------------------------------------------

class Recorder(Scripted):
    def __init__(self, script):
        super().__init__(script)
        self.seen = []

    def on_fill(self, execution, ctx):
        self.seen.append((ctx.t, execution))


def test_timed_out_orders_may_fill_late_and_the_trader_is_told():
    sc = library.get("Execution Crisis")
    trader = Recorder({b: (buy if b % 2 else sell)(0.01) for b in range(1, 998)})
    res = run_scenario(sc, trader)
    timeouts = {e.order_id: e for e in res.executions if e.status == "timeout"}
    late = [e for e in res.executions if e.status == "late_fill"]
    assert late and all(e.late and e.filled_qty > 0 for e in late)
    for e in late:
        assert e.order_id in timeouts and e.bar > timeouts[e.order_id].bar
    # about late_fill_prob of the timeouts fill (a few fall due after the run)
    assert len(late) == pytest.approx(0.5 * len(timeouts), rel=0.2)
    told = [e for t, e in trader.seen if e.late]
    assert told == late and all(t == e.bar for t, e in trader.seen if e.late)


def test_no_late_fills_when_the_probability_is_zero():
    sc = library.get("Execution Crisis", bars=400)
    res = run_scenario(sc, every_bar(sc), preset("calm").replace(late_fill_prob=0.0))
    assert any(e.status == "timeout" for e in res.executions)
    assert not any(e.late for e in res.executions)


def test_late_fill_is_delivered_by_process_even_without_new_orders():
    """The exchange owes the fill; ``late_due`` says when, ``process`` delivers it."""
    sc = library.get("Execution Crisis", bars=300)
    true = sc.build_market().true
    ex = SimulatedExchange(preset("calm").replace(late_fill_prob=1.0), true, np.random.default_rng(0),
                           sc.faults)
    idx = {true.symbols[0]: 0}
    t, tid = 5, 1
    while ex.late_due() is None:
        res, _ = ex.process(t, [Ticket(tid, buy(0.01, true.symbols[0]), true.symbols[0])], idx)
        t, tid = t + 1, tid + 1
    due = ex.late_due()
    assert due >= t
    res, resting = ex.process(due, [], idx)
    assert resting == [] and len(res) == 1 and res[0].late and res[0].status == "late_fill"
    assert res[0].bar == due and ex.late_due() is None or ex.late_due() > due
