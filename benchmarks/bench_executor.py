"""Executor speed against a hand-written loop and backtesting.py, on one generated series.

Run: pip install -e '.[bench]' && python benchmarks/bench_executor.py [--bars 200000]

Strategy everywhere: SMA(10) / SMA(30) crossover, long-only, one unit, fills at the next
bar's open. Crossover rule: long while SMA10 > SMA30 strictly, flat otherwise; decided on
a bar's close, filled at the next open. SMAs are exact: the series is on a 0.01 tick
grid and sums are taken in whole ticks (``pytest_stress.indicators.sma(..., tick=0.01)``);
the hand-written loop keeps integer sums. Every engine must make the same trades.
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
import warnings

import numpy as np

from pytest_stress import Account, Reject, Scenario, buy, compose, library, run_batch, sell
from pytest_stress.account import DEFAULT_ACCOUNT
from pytest_stress.runner import run_scenario
from pytest_stress.indicators import sma
from pytest_stress.trader import FLATTEN, FixedSizer

FAST, SLOW, TICK = 10, 30, 0.01


class SmaTrader:
    """The simple form: on_bar over precomputed (causal, exact) SMAs."""

    def indicators(self, feed):
        c = feed.close[0]
        return {"fast": sma(c, FAST, tick=TICK), "slow": sma(c, SLOW, tick=TICK)}

    def on_bar(self, ctx):
        pos = ctx.position()
        if ctx.value("fast") > ctx.value("slow"):
            if pos == 0:
                return buy(1.0)
        elif pos > 0:
            return sell(pos)
        return None


class SmaModel:
    """Signal generation: a target exposure on each crossover, None between them."""

    def __init__(self):
        self.long = False

    indicators = SmaTrader.indicators

    def generate(self, ctx):
        up = ctx.value("fast") > ctx.value("slow")
        if up is not self.long:
            self.long = up
            return {ctx.symbol: 1.0 if up else 0.0}
        return None


class FiniteFilter:
    def filter(self, signals, ctx):
        if signals is None:
            return None
        return {k: v for k, v in signals.items() if math.isfinite(v) and -1.0 <= v <= 1.0} or None


class CapGuard:
    def review(self, order, ctx):
        return order if order.quantity <= 10 else Reject("over 10 units")


class GrossBalancer:
    def balance(self, targets, ctx):
        return {k: max(min(v, 10.0), -10.0) for k, v in targets.items()}


class DrawdownGovernor:
    def __init__(self):
        self.peak = 0.0

    def check(self, ctx):
        eq = ctx.equity
        if eq > self.peak:
            self.peak = eq
        return FLATTEN if eq < 0.5 * self.peak else None


class QuietPolicy:
    def update(self, ctx, policy):
        if ctx.halted:
            policy.set("position_pct", 0.0)


def eight_roles():
    return compose(SmaModel(), filter=FiniteFilter(), risk_guard=CapGuard(), balancer=GrossBalancer(),
                   governor=DrawdownGovernor(), policy_controller=QuietPolicy(), sizer=FixedSizer(1.0))


def hand_loop(o, c, cash):
    """Plain Python over lists with integer tick sums: the floor any engine pays."""
    ticks = [round(x / TICK) for x in c]
    fsum = ssum = 0
    pos = 0.0
    pending = 0.0
    entry = -1
    trades = []
    for t in range(len(o)):
        if pending:
            cash -= pending * o[t]
            if pending > 0:
                entry = t
            else:
                trades.append((entry, t))
            pos += pending
            pending = 0.0
        x = ticks[t]
        fsum += x
        ssum += x
        if t >= FAST:
            fsum -= ticks[t - FAST]
        if t >= SLOW:
            ssum -= ticks[t - SLOW]
        if t >= SLOW - 1 and fsum * SLOW > ssum * FAST:
            if pos == 0:
                pending = 1.0
        elif pos > 0:
            pending = -pos
    return trades, cash + pos * c[-1]


def run_backtesting_py(views):
    try:
        from backtesting import Backtest, Strategy
    except ImportError:
        return None
    m = views.true
    df = m.frame().rename(columns=str.title)[["Open", "High", "Low", "Close", "Volume"]]
    df.index = df.index.tz_localize(None)
    fast_arr, slow_arr = sma(m.close[0], FAST, tick=TICK), sma(m.close[0], SLOW, tick=TICK)

    class Cross(Strategy):
        def init(self):
            self.f = self.I(lambda: fast_arr, name="fast")
            self.s = self.I(lambda: slow_arr, name="slow")

        def next(self):
            if self.f[-1] > self.s[-1]:
                if not self.position:
                    self.buy(size=1)
            elif self.position:
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(df, Cross, cash=10_000_000, commission=0.0, trade_on_close=False, exclusive_orders=False,
                      finalize_trades=True)
        t = time.perf_counter()
        stats = bt.run()
        dt = time.perf_counter() - t
    tr = stats["_trades"]
    trades = [(int(a), int(b)) for a, b in zip(tr["EntryBar"], tr["ExitBar"])]
    if trades and trades[-1][1] == len(df) - 1:   # finalize_trades closes the last open trade
        trades = trades[:-1]
    return dt, trades


def timed(fn, repeat=5):
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def peak_memory(bars: int) -> tuple[float, float, float]:
    code = f"""
import sys
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
from bench_executor import SmaTrader
from pytest_stress import Scenario
from pytest_stress.runner import run_scenario
import tracemalloc
def hwm():  # this process's peak RSS in kB (ru_maxrss would carry the parent's over exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
base = hwm()
tracemalloc.start()
run_scenario(Scenario("big", bars={bars}), SmaTrader(), "calm")
traced = tracemalloc.get_traced_memory()[1]
print(base, hwm(), traced)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]) / 1024, int(out[1]) / 1024, int(out[2]) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=200_000)
    ap.add_argument("--memory-bars", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.bars
    sc = Scenario("bench", bars=n, seed=42)
    views = sc.build_market()
    o, c = views.true.open[0].tolist(), views.true.close[0].tolist()
    rows = {}

    t_hand, (hand_trades, hand_final) = timed(lambda: hand_loop(o, c, sc.initial_equity))
    rows["hand-written loop (lists)"] = t_hand
    results = {}
    perp = Account.perpetual(leverage=5)
    for label, make, exch, acct in [
            ("pytest-stress simple, frictionless", SmaTrader, "frictionless", None),
            ("pytest-stress simple, stressed exchange", SmaTrader, "stressed", None),
            ("pytest-stress simple, frictionless, 5x isolated perp", SmaTrader, "frictionless", perp),
            ("pytest-stress eight roles, frictionless", eight_roles, "frictionless", None),
            ("pytest-stress eight roles, stressed exchange", eight_roles, "stressed", None)]:
        dt, res = timed(lambda: run_scenario(sc, make(), exch, account=acct, market=views))
        rows[label] = dt
        results[label] = res
    bpy = run_backtesting_py(views)
    if bpy:
        rows["backtesting.py"] = bpy[0]

    print(f"{n:,} hourly bars, SMA({FAST}/{SLOW}) crossover, next-bar-open fills; best of 5 (1 for backtesting.py); "
          f"account: the default ({DEFAULT_ACCOUNT.describe()}) unless named")
    for label, dt in rows.items():
        print(f"  {label:<46} {n / dt:>12,.0f} bars/s  {dt:8.3f} s")
    simple = n / rows["pytest-stress simple, frictionless"]
    roles = n / rows["pytest-stress eight roles, frictionless"]
    hand = n / rows["hand-written loop (lists)"]
    print("ratios:")
    if bpy:
        b = n / bpy[0]
        print(f"  simple form / backtesting.py        {simple / b:6.1f}x  (target >= 10x)")
        print(f"  eight roles / backtesting.py        {roles / b:6.1f}x  (target >= 5x)")
    print(f"  hand loop / simple form             {hand / simple:6.1f}x  (target <= 5x)")
    perp_label = "pytest-stress simple, frictionless, 5x isolated perp"
    print(f"  5x perpetual / default account, simple {rows[perp_label] / rows['pytest-stress simple, frictionless']:5.2f}x"
          "  (the margin checks' cost)")
    print(f"  stressed / frictionless cost, simple {rows['pytest-stress simple, stressed exchange'] / rows['pytest-stress simple, frictionless']:5.2f}x  (target <= 2x)")
    print(f"  stressed / frictionless cost, roles  {rows['pytest-stress eight roles, stressed exchange'] / rows['pytest-stress eight roles, frictionless']:5.2f}x  (target <= 2x)")

    ours = [(t.entry_bar, t.exit_bar) for t in results["pytest-stress simple, frictionless"].trades
            if t.exit_reason != "end_of_run"]
    roles_t = [(t.entry_bar, t.exit_bar) for t in results["pytest-stress eight roles, frictionless"].trades
               if t.exit_reason != "end_of_run"]
    same = {"hand loop": hand_trades == ours, "eight roles": roles_t == ours}
    if bpy:
        same["backtesting.py"] = bpy[1] == ours
    final_equal = results["pytest-stress simple, frictionless"].final_equity == hand_final
    print(f"same trades as the simple form ({len(ours)} round trips): "
          + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in same.items())
          + f"; final equity equal to the hand loop: {'yes' if final_equal else 'NO'}")

    for workers in (1, 2):
        t = time.perf_counter()
        batch = run_batch(library.all(), SmaTrader, max_workers=workers)
        dt = time.perf_counter() - t
        print(f"library, {len(batch.results)} scenarios at default size, max_workers={workers}: {dt:.3f} s "
              f"({batch.successful} ok){'  (target < 0.3 s)' if workers == 1 else ''}")
    base, peak, traced = peak_memory(args.memory_bars)
    print(f"{args.memory_bars:,}-bar scenario (market built and run), calm exchange: peak of the run's own "
          f"allocations {traced:.0f} MB (target < 300 MB); process peak RSS {peak:.0f} MB, of which "
          f"{base:.0f} MB is the interpreter and its imports before the run (a synthetic run never imports pandas)")
    costs = {}
    for name in ("BTC Flash Crash 2021", "Black Swan Combo"):
        r = run_scenario(library.get(name), SmaTrader(), "calm")
        costs[name] = (r.avg_slippage_bps, r.avg_latency_ms, r.execution_failures, r.orders_submitted)
    calm = run_scenario(Scenario("calm", bars=1000), SmaTrader(), "calm")
    print(f"calm market, calm exchange: slippage {calm.avg_slippage_bps:.1f} bps, latency {calm.avg_latency_ms:.0f} ms,"
          f" failures {calm.execution_failures}/{calm.orders_submitted}")
    for name, (s, l, f, o) in costs.items():
        print(f"{name}, calm exchange: slippage {s:.1f} bps, latency {l:.0f} ms, failures {f}/{o}")


if __name__ == "__main__":
    main()
