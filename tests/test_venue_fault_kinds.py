"""The venue's fault kinds (issue #27 item 7, docs/venue.md "Fault kinds"): order rate limits (429 with
a retry-after, 418 for not backing off), cancel-only and submit-only windows, a stale book, cancel
acknowledgement latency. Each triggers in its window and not outside, is seeded, reaches the trader,
and reads no later bar."""
import dataclasses
import hashlib
import math
import subprocess
import sys

import numpy as np
import pytest

from pytest_stress import Scenario, buy, library, sell
from pytest_stress.engine.book import Ticket
from pytest_stress.errors import ScenarioError
from pytest_stress.exchange import SimulatedExchange, preset
from pytest_stress.exchange.faults import BAN_FIRST_S, VenueFaults, bars_in
from pytest_stress.market.data import CLOSE, HIGH, LOW, OPEN, MarketViews
from pytest_stress.runner import run_scenario
from pytest_stress.scenario.faults import Faults
from traders import Scripted

#: a venue with no failures of its own: only the fault kinds under test act
QUIET = {"failure_rate": 0.0, "latency_mult": 1.0}


def venue(params, bars=400, timeframe="1h", seed=0):
    """The true market and a frictionless exchange with the given fault kinds."""
    sc = Scenario("vf", "execution_crisis", {**QUIET, **params}, bars=bars, timeframe=timeframe)
    true = sc.build_market().true
    return true, SimulatedExchange(preset("frictionless"), true, np.random.default_rng(seed), sc.faults)


class Ids:
    def __init__(self):
        self.n = 0

    def tickets(self, orders, symbol):
        out = []
        for o in orders:
            self.n += 1
            out.append(Ticket(self.n, o, symbol))
        return out


def burst(n):
    return [(buy if i % 2 else sell)(0.001) for i in range(n)]


# -- rate limits -----------------------------------------------------------------------

def test_orders_over_the_10s_limit_get_a_429_the_trader_sees_with_its_retry_after():
    sc = Scenario("rl", "execution_crisis", {**QUIET, "orders_per_10s": 300}, bars=12, timeframe="1h")
    trader = Scripted({3: burst(350), 6: burst(100)})
    res = run_scenario(sc, trader, "frictionless")
    at4 = [e for e in res.executions if e.bar == 4]
    limited = [e for e in at4 if e.status == "rate_limited"]
    # the first 300 reach the venue inside the limit; the bar opens on a 10 s boundary: 10 s to wait
    assert sorted(e.order_id for e in at4 if e.status == "filled") == list(range(1, 301))
    assert [e.order_id for e in limited] == list(range(301, 351))
    assert all(e.retry_after_s == 10.0 and e.reason.startswith("429") and e.filled_qty == 0 for e in limited)
    assert trader.rejections == limited                 # on_rejection, with the retry-after on the report
    assert all(e.status == "filled" for e in res.executions if e.bar == 7)    # a new window: all 100 go through
    assert res.execution_failures == 50                 # a 429 is an execution failure


def run_bursts(skip_after_429):
    """Bursts of 300 orders at every 10-second bar against 900 per minute; ``skip_after_429``: the trader
    honours each retry-after (sends nothing until it has passed)."""
    true, ex = venue({"orders_per_10s": 300, "orders_per_minute": 900}, bars=30, timeframe="10s")
    idx, ids, sym = {true.symbols[0]: 0}, Ids(), true.symbols[0]
    out, wait_until = {}, -1.0
    for t in range(1, 30):
        if skip_after_429 and t * 10.0 < wait_until:
            continue
        res, _ = ex.process(t, ids.tickets(burst(300), sym), idx)
        out[t] = res
        limited = [r.retry_after_s for r in res if r.status == "rate_limited"]
        if limited:
            wait_until = t * 10.0 + max(limited)
    return out


def test_the_minute_limit_and_a_ban_for_not_backing_off():
    out = run_bursts(skip_after_429=False)
    status = {t: {r.status for r in res} for t, res in out.items()}
    assert all(status[t] == {"filled"} for t in (1, 2, 3))              # 900 in the first minute
    assert {(r.retry_after_s, r.reason[:3]) for r in out[4]} == {(20.0, "429")}   # 40 s: 20 s to the minute's end
    # 50 s: sent again inside the retry-after: banned for 2 minutes, to 170 s
    assert {(r.retry_after_s, r.reason[:3]) for r in out[5]} == {(BAN_FIRST_S, "418")}
    for t in range(6, 17):
        assert {(r.retry_after_s, r.reason[:3]) for r in out[t]} == {(170.0 - 10.0 * t, "418")}
    assert status[17] == status[18] == status[19] == status[20] == {"filled"}   # 170 s: a new minute
    # 210 s: the fourth burst of minute 3 gets a 429 (30 s); at 220 s, the second ban, twice as long
    assert {(r.retry_after_s, r.reason[:3]) for r in out[21]} == {(30.0, "429")}
    assert {(r.retry_after_s, r.reason[:3]) for r in out[22]} == {(2 * BAN_FIRST_S, "418")}


def test_a_trader_that_honours_the_retry_after_is_never_banned():
    out = run_bursts(skip_after_429=True)
    reasons = {r.reason[:3] for res in out.values() for r in res if r.status == "rate_limited"}
    assert reasons == {"429"}
    # per minute: 900 orders, then one burst refused, then nothing until the next minute
    filled = sum(r.status == "filled" for res in out.values() for r in res)
    assert filled == 900 * 5        # minutes starting at 0, 60, 120, 180, 240 s (bars 1-29: up to 290 s)


# -- cancel-only and submit-only windows ------------------------------------------------

def test_cancel_only_windows_reject_new_orders_and_match_nothing_only_inside_them():
    true, ex = venue({"cancel_only_share": 0.3, "fault_window_s": 5 * 3600.0}, bars=1500)
    inside = bars_in(ex.venue.cancel_only, true.n_bars, 3600_000.0)
    assert inside.mean() == pytest.approx(0.3, abs=0.1)
    idx, ids, sym = {true.symbols[0]: 0}, Ids(), true.symbols[0]
    for t in range(1, true.n_bars):
        (r,), _ = ex.process(t, ids.tickets([buy(0.01)], sym), idx)
        if inside[t]:
            assert r.status == "rejected" and r.reason.startswith("cancel-only"), t
        else:
            assert r.status == "filled" and r.fill_price == true.open[0, t], t


def resting_limit_fills(params, true_bars=1500):
    """For bars w whose bar w - 1 is outside the windows: a buy limit sent at w - 1, priced between bar
    w's low and bar w - 1's (it rests at w - 1 and would fill at w); the bars at which it filled."""
    true, ex = venue(params, bars=true_bars)
    idx, ids, sym = {true.symbols[0]: 0}, Ids(), true.symbols[0]
    lo = true.low[0]
    fills = {}
    for w in range(2, true.n_bars - 1, 2):
        limit = 0.5 * (lo[w] + lo[w - 1])
        if not lo[w] < limit < lo[w - 1] or ex.venue.cancel_only_at(w - 1):
            continue
        res, resting = ex.process(w - 1, ids.tickets([buy(0.01, limit=limit)], sym), idx)
        assert res == [] and len(resting) == 1           # outside a window it rests at w - 1
        res, resting = ex.process(w, resting, idx)
        fills[w] = [r.bar for r in res if r.filled_qty > 0]
    return ex, fills


def test_a_resting_order_does_not_match_in_a_cancel_only_window():
    ex, fills = resting_limit_fills({"cancel_only_share": 0.3, "fault_window_s": 5 * 3600.0})
    inside = bars_in(ex.venue.cancel_only, ex._n, 3600_000.0)
    tried = list(fills)
    assert sum(inside[w] for w in tried) > 10 and sum(not inside[w] for w in tried) > 10
    for w in tried:
        assert fills[w] == ([] if inside[w] else [w]), w


class Canceller:
    """Rests a far buy limit, asks to cancel it on the next bar, and rests a new one once it is gone."""

    def __init__(self):
        self.refused, self.sent = [], {}

    def on_bar(self, ctx):
        working = ctx.open_orders
        if not working:
            order = buy(0.01, limit=0.5 * ctx.price)
            self.sent[ctx.t] = order
            return order
        ctx.cancel(working[0])
        return None

    def on_rejection(self, execution, ctx):
        self.refused.append((ctx.t, execution))


def test_submit_only_windows_refuse_cancels_only_inside_them_and_the_trader_is_told():
    sc = Scenario("so", "execution_crisis", {**QUIET, "submit_only_share": 0.3, "fault_window_s": 3 * 3600.0},
                  bars=600)
    views = sc.build_market()
    trader = Canceller()
    res = run_scenario(sc, trader, "frictionless", market=views)
    refused = [e for e in res.executions if e.status == "cancel_rejected"]
    cancelled = [e for e in res.executions if e.status == "cancelled"]
    assert len(refused) > 30 and len(cancelled) > 30
    # the run's own windows: drawn again from the run's exchange stream
    windows = _run_venue(sc, views).submit_only
    inside = bars_in(windows, sc.bars, 3600_000.0)
    assert all(inside[e.bar] for e in refused) and not any(inside[e.bar] for e in cancelled)
    assert [e for _, e in trader.refused] == refused and all(t == e.bar for t, e in trader.refused)


def _run_venue(sc, views=None):
    """The VenueFaults of a run of ``sc``: its exchange is built from the scenario's "exchange" stream."""
    true = (views or sc.build_market()).true
    return SimulatedExchange(preset("frictionless"), true, sc.rng("exchange"), sc.faults).venue


def test_cancels_are_accepted_in_a_cancel_only_window():
    true, ex = venue({"cancel_only_share": 0.5, "fault_window_s": 5 * 3600.0}, bars=300)
    inside = bars_in(ex.venue.cancel_only, true.n_bars, 3600_000.0)
    t = int(np.flatnonzero(inside)[0])
    ticket = Ticket(1, buy(0.01, limit=1.0), true.symbols[0])
    assert ex.venue.cancels(t, [1], {1: ticket}) == ([1], [], [])


# -- stale book ---------------------------------------------------------------------------

def test_a_stale_book_fills_at_the_prices_of_an_earlier_bar_only_inside_its_windows():
    true, ex = venue({"stale_book_share": 0.3, "stale_book_bars": 2, "fault_window_s": 3 * 3600.0}, bars=800)
    stale = ex.venue.stale
    assert stale.mean() == pytest.approx(0.3, abs=0.1)
    idx, ids, sym = {true.symbols[0]: 0}, Ids(), true.symbols[0]
    for t in range(1, true.n_bars):
        (r,), _ = ex.process(t, ids.tickets([sell(0.01)], sym), idx)
        src = max(t - 2, 0) if stale[t] else t
        assert r.status == "filled" and r.fill_price == r.reference_price == true.open[0, src], t
        assert ("stale book" in r.reason) == bool(stale[t])


def test_the_stale_book_holds_earlier_bars_prices_and_reads_no_later_bar():
    faults = Faults(stale_book_share=0.4, stale_book_bars=3, fault_window_s=7200.0)
    true = Scenario("s", "synthetic", bars=500).build_market().true
    vf = VenueFaults(faults, 500, 3600_000.0, true.symbols, np.random.default_rng(4))
    book = vf.book(true.values)
    bars = np.flatnonzero(vf.stale)
    assert len(bars) > 100
    for f in (OPEN, HIGH, LOW, CLOSE):
        np.testing.assert_array_equal(book[f, :, bars], true.values[f, :, np.maximum(bars - 3, 0)])
        np.testing.assert_array_equal(book[f, :, ~vf.stale], true.values[f, :, ~vf.stale])
    np.testing.assert_array_equal(book[4:], true.values[4:])          # volume, spread, depth: the bar's own
    k = 250
    later = true.values.copy()
    later[:, :, k:] *= 1.7                                            # change every bar from k on
    short = VenueFaults(faults, k, 3600_000.0, true.symbols, np.random.default_rng(4))
    np.testing.assert_array_equal(short.stale, vf.stale[:k])          # the windows before k: the same
    np.testing.assert_array_equal(vf.book(later)[:, :, :k], book[:, :, :k])


# -- cancel acknowledgement latency -------------------------------------------------------

def test_cancel_delays_follow_the_formula():
    """A cancel takes effect floor(d / bar + u) bars later, d = mult x the venue's log-normal latency:
    its mean is E[d] / bar = mult x median x exp(sigma^2 / 2) / bar."""
    true = Scenario("s", "synthetic", bars=10).build_market().true
    vf = VenueFaults(Faults(cancel_ack_mult=3.0), 10, 60_000.0, true.symbols, np.random.default_rng(8))
    vf.lat, vf.dispersion = np.full((1, 10), 20_000.0), 0.5
    ticket = Ticket(1, buy(0.01, limit=1.0), true.symbols[0])
    delays = []
    for _ in range(40_000):
        vf._cancel_due.clear()
        now, later, _ = vf.cancels(2, [1], {1: ticket})
        delays.append(0 if now else vf._cancel_due[1] - 2)
    expect = 3.0 * 20_000.0 * math.exp(0.5 ** 2 / 2) / 60_000.0
    assert np.mean(delays) == pytest.approx(expect, rel=0.02)
    assert 0 < np.mean(np.array(delays) == 0) < 0.3


class LateCanceller:
    """Rests a buy limit a little under the market and asks to cancel it at once, every few bars."""

    def on_bar(self, ctx):
        if ctx.t % 6 == 0:
            return buy(0.01, limit=ctx.price * 0.999)
        if ctx.t % 6 == 1:
            for o in ctx.open_orders:
                ctx.cancel(o)
        return None


def test_a_slow_cancel_lets_the_order_fill_meanwhile():
    params = {**QUIET, "latency_mult": 20.0}
    slow = Scenario("ca", "execution_crisis", {**params, "cancel_ack_mult": 60.0}, bars=1200, timeframe="1m")
    fast = Scenario("ca", "execution_crisis", params, bars=1200, timeframe="1m")
    views = slow.build_market()
    runs = {}
    for name, sc in (("slow", slow), ("fast", fast)):
        res = run_scenario(sc, LateCanceller(), "calm", market=views)
        # per order sent at bar 6k: asked to cancel at 6k + 1, so the cancel reaches the venue at 6k + 2
        runs[name] = {e.order_id: e for e in res.executions if e.status in ("cancelled", "filled", "partial")}
    fast_cancel = [e.bar for e in runs["fast"].values() if e.status == "cancelled"]
    slow_cancel = [e for e in runs["slow"].values() if e.status == "cancelled"]
    assert fast_cancel and all(b % 6 == 2 for b in fast_cancel)            # at once: the next bar
    assert any(e.bar % 6 > 2 for e in slow_cancel)                          # later, when the delay ends
    # orders the immediate cancel removed that filled meanwhile under the slow one
    fast_ids = {i for i, e in runs["fast"].items() if e.status == "cancelled"}
    filled_late = [e for i, e in runs["slow"].items() if i in fast_ids and e.filled_qty > 0 and e.bar % 6 >= 2]
    assert filled_late


# -- seeded, causal, validated --------------------------------------------------------------

EVERY_KIND = {"orders_per_10s": 2, "orders_per_minute": 3, "cancel_only_share": 0.1, "submit_only_share": 0.1,
              "stale_book_share": 0.1, "cancel_ack_mult": 5.0, "fault_window_s": 2 * 3600.0}


def every_kind_run(bars=None, market=None):
    sc = library.get("Execution Crisis")
    sc = sc.replace(parameters={**sc.parameters, **EVERY_KIND})
    if bars is not None:
        sc = sc.replace(bars=bars)
    script = {b: [(buy if b % 2 else sell)(0.01) for _ in range(1 + b % 4)] + [buy(0.01, limit=1000.0)]
              for b in range(1, 598)}

    class Trader(Scripted):
        def on_bar(self, ctx):
            for o in ctx.open_orders[:2]:
                ctx.cancel(o)
            return self.script.get(ctx.t)

    return run_scenario(sc, Trader(script), market=market)


def digest(res):
    """Every field of every execution record, hashed (NaN and all, as repr writes them)."""
    return hashlib.sha256(repr([dataclasses.astuple(e) for e in res.executions]).encode()).hexdigest()


def test_every_kind_in_one_run_is_seeded_and_bit_identical_in_another_process():
    res = every_kind_run(bars=600)
    statuses = {e.status for e in res.executions}
    assert {"rate_limited", "cancel_rejected", "cancelled", "filled"} <= statuses
    assert any("cancel-only" in e.reason for e in res.executions)
    assert any("stale book" in e.reason for e in res.executions)
    assert digest(res) == digest(every_kind_run(bars=600))
    code = ("import sys; sys.path[:0] = ['tests']; import test_venue_fault_kinds as m; "
            "print(m.digest(m.every_kind_run(bars=600)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == digest(res)


def test_every_kind_reads_no_later_bar():
    sc = library.get("Execution Crisis").replace(bars=600)
    sc = sc.replace(parameters={**sc.parameters, **EVERY_KIND})
    views = sc.build_market()
    k = 400
    short = MarketViews(views.true.slice(0, k), views.feed.slice(0, k), views.base.slice(0, k))
    a = every_kind_run(bars=600, market=views).executions
    b = every_kind_run(bars=k, market=short).executions
    before = [r for r in a if r.bar < k - 1]
    assert len(before) > 300 and before == [r for r in b if r.bar < k - 1]


@pytest.mark.parametrize("params, named", [
    ({"orders_per_10s": -5}, "'orders_per_10s' = -5 is invalid; expected an integer in [0, 1e+06]"),
    ({"stale_book_bars": 0}, "'stale_book_bars' = 0 is invalid; expected an integer in [1, 1000]"),
    ({"cancel_only_share": 1.5}, "'cancel_only_share' = 1.5 is invalid; expected a number in [0, 1]"),
    ({"fault_window_s": 0.0}, "'fault_window_s' = 0.0 is invalid; expected a number in (0, 1e+07]"),
])
def test_bad_parameters_name_the_value_and_the_range(params, named):
    with pytest.raises(ScenarioError, match="execution_crisis|Scenario") as err:
        Scenario("bad", "execution_crisis", params)
    assert named in str(err.value)
    mixed = {"execution_" + k: v for k, v in params.items()}
    with pytest.raises(ScenarioError) as err:
        Scenario("bad", "mixed_custom", {"flash_crash_drop_pct": 0.3, **mixed})
    assert named.replace("'", "'execution_", 1) in str(err.value)


def test_a_faults_object_out_of_range_is_refused_when_the_venue_is_built():
    true = Scenario("s", "synthetic", bars=20).build_market().true
    bad = Faults(stale_book_bars=0, stale_book_share=0.1)
    named = r"Faults: stale_book_bars = 0 is invalid; expected an integer in \[1, 1000\]"
    with pytest.raises(ScenarioError, match=named):
        SimulatedExchange(preset("calm"), true, np.random.default_rng(0), bad)


# -- the library --------------------------------------------------------------------------

@pytest.mark.parametrize("name, prefix", [("Execution Crisis", ""), ("Black Swan Combo", "execution_")])
def test_the_library_scenarios_use_them_as_described(name, prefix):
    sc = library.get(name)
    p = sc.parameters
    assert (p[prefix + "orders_per_10s"], p[prefix + "orders_per_minute"]) == (300, 1200)     # Binance USD-M futures
    assert sc.faults.stale_book_share == 0.05 and sc.faults.cancel_ack_mult == 1.0
    assert _run_venue(sc).stale.mean() == pytest.approx(0.05, abs=0.025)     # "a bar stale 5% of the time"
    assert "Binance's order rate limits" in sc.description and "stale 5% of the time" in sc.description


class LongWithATakeProfit:
    """A 4.9x long on the first bar and a far take-profit resting above it; never cancels anything."""

    def __init__(self):
        self.sent = 0

    def on_bar(self, ctx):
        self.sent += 1
        if self.sent == 1:
            return buy(4.9 * ctx.equity / ctx.price)
        if self.sent == 3:
            return sell(ctx.position(), limit=ctx.price * 10)
        return None


def test_a_liquidation_cancels_resting_orders_even_when_the_venue_refuses_cancels():
    sc = Scenario("liq", "mixed_custom", {"flash_crash_drop_pct": 0.5, "flash_crash_start": 0.5,
                                          "execution_failure_rate": 0.0, "execution_latency_mult": 1.0,
                                          "execution_submit_only_share": 1.0}, bars=300)
    inside = bars_in(_run_venue(sc).submit_only, sc.bars, 3600_000.0)
    res = run_scenario(sc, LongWithATakeProfit(), "frictionless", account="perpetual:leverage=5")
    liquidated = [e for e in res.executions if e.status == "liquidation"]
    take_profit = [e for e in res.executions if e.order_type == "limit"]
    assert liquidated and [e.status for e in take_profit] == ["cancelled"]
    assert take_profit[0].bar == liquidated[0].bar + 1                 # the venue's own cancel: at once
    assert inside[take_profit[0].bar] and inside.mean() > 0.99         # though the venue refuses cancels
    assert not any(e.status == "cancel_rejected" for e in res.executions)
