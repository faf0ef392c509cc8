"""What accounts do to a leveraged trader in a crash: a 5x long bought just before Black Swan
Combo's crash (default seed) and held, per exchange preset and account. Prints a table.
Then auto-deleveraging before/after (``adl_section``): a 5x short through the same crash.

    python benchmarks/bench_accounts.py
"""
from __future__ import annotations

import time

import numpy as np

from pytest_stress import Account, buy, library, run_scenario, sell
from pytest_stress.account.adl import adl_events
from pytest_stress.runner import path_seeds


class FiveX:
    """Buys 5 x equity a few bars before the crash (trying again until it fills) and holds."""

    def on_bar(self, ctx):
        if 490 <= ctx.t < 499 and ctx.position() == 0 and not ctx.open_orders and ctx.equity > 0:
            return buy(5 * ctx.equity / ctx.price)
        return None


def main() -> None:
    sc = library.get("Black Swan Combo")
    true = sc.build_market().true
    close = true.close[0]
    print(f"Black Swan Combo, seed {sc.seed}: pre-crash close {close[499]:,.0f}, trough {close[500:560].min():,.0f}")
    accounts = [("default (1x margin)", None), ("5x isolated perpetual", Account.perpetual(leverage=5)),
                ("5x cross perpetual", Account.perpetual(leverage=5, mode="cross")),
                ("5x margin, 10% maintenance", Account.margin(max_leverage=5, maintenance_margin=0.1))]
    for exchange in ("frictionless", "calm"):
        for label, account in accounts:
            r = run_scenario(sc, FiveX(), exchange, account=account)
            held = [e for e in r.executions if e.filled_qty > 0 and e.status != "liquidation"]
            liq = [e for e in r.executions if e.status == "liquidation"]
            when = (f"bar {liq[0].bar} ({np.datetime64(int(r.timestamps[liq[0].bar]), 'ns').astype('datetime64[m]')}Z)"
                    f" at {liq[0].fill_price:,.0f}") if liq else "never"
            print(f"{exchange:<12} {label:<27} filled {sum(e.filled_qty for e in held):6.2f} units; liquidated {when};"
                  f" final equity {r.final_equity:>10,.0f}; max drawdown {r.max_drawdown:5.1f}%; ruined {r.ruined};"
                  f" insurance {r.insurance_fund_loss:,.0f}; refused {r.margin_rejections}")


class ShortIntoTheCrash:
    """Sells 1 x equity a few bars before the crash (trying again until it fills) and holds: the side
    that profits from the crash, the side auto-deleveraging closes."""

    def on_bar(self, ctx):
        if 490 <= ctx.t < 499 and ctx.position() == 0 and not ctx.open_orders and ctx.equity > 0:
            return sell(ctx.equity / ctx.price)
        return None


def adl_section(paths: int = 20, repeats: int = 5) -> None:
    """Auto-deleveraging, before (``adl=False``, what the package did) and after (the default): a short
    of 1 x equity through Black Swan Combo's crash on a 20x isolated perpetual, over ``paths`` seeds; the
    outcome, and the cost of a run (the best of ``repeats``, before and after interleaved on each path,
    so that the machine's load falls on both alike), and the market model's own cost."""
    base = library.get("Black Swan Combo")
    print(f"\nauto-deleveraging: Black Swan Combo, {paths} paths, a short of 1 x equity before the crash, "
          "20x isolated perpetual")
    labels = {False: "before (adl=False)", True: "after (adl=True)"}
    accounts = {adl: Account.perpetual(leverage=20, adl=adl) for adl in labels}
    results: dict[bool, list] = {False: [], True: []}
    best: dict[bool, list[float]] = {False: [], True: []}
    for seed in path_seeds(base.seed, paths):
        sc = library.get("Black Swan Combo", seed=seed)
        market = sc.build_market()
        times: dict[bool, list[float]] = {False: [], True: []}
        last = {}
        for _ in range(repeats):
            for adl in labels:
                t0 = time.perf_counter()
                last[adl] = run_scenario(sc, ShortIntoTheCrash(), "calm", account=accounts[adl], market=market)
                times[adl].append(time.perf_counter() - t0)
        for adl in labels:
            results[adl].append(last[adl])
            best[adl].append(min(times[adl]))
    for adl, label in labels.items():
        rs = results[adl]
        ret = np.array([r.total_return_pct for r in rs])
        liquidated = sum(r.liquidations > 0 for r in rs)
        print(f"  {label:<19} paths with ADL {sum(r.adl_events > 0 for r in rs):2d}/{paths}; mean return "
              f"{ret.mean():7.1f}%; median {np.median(ret):7.1f}%; liquidated {liquidated:2d}; "
              f"run time {1e3 * sum(best[adl]) / paths:6.2f} ms/path")
    market = base.build_market().true
    t0 = time.perf_counter()
    for _ in range(20):
        adl_events(market, 0.03)
    model = (time.perf_counter() - t0) / 20
    print(f"  run time after / before: {sum(best[True]) / sum(best[False]):.3f}; the market model alone "
          f"(adl_events, {market.n_bars} bars): {1e3 * model:.2f} ms")


if __name__ == "__main__":
    main()
    adl_section()
