"""What accounts do to a leveraged trader in a crash: a 5x long bought just before Black Swan
Combo's crash (default seed) and held, per exchange preset and account. Prints a table.

    python benchmarks/bench_accounts.py
"""
from __future__ import annotations

import numpy as np

from pytest_stress import Account, buy, library, run_scenario


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


if __name__ == "__main__":
    main()
