"""What accounts do to a leveraged trader in a crash: a 5x long bought just before Black Swan
Combo's crash (default seed) and held, per exchange preset and account. Prints a table.
Then funding (issue #27): the model before and after its calibration against Binance's prints,
on the real perpetual closes of the same period, and a 1x long's yearly funding over 90-day
windows, real and synthetic.
Then auto-deleveraging before/after (``adl_section``): a 5x short through the same crash.

    python benchmarks/bench_accounts.py [--seeds 200] [--funding-only | --adl-only]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pytest_stress import Account, Scenario, buy, library, run_scenario, sell
from pytest_stress.account.adl import adl_events
from pytest_stress.account.funding import funding_model_for, funding_schedule, model_rates
from pytest_stress.market.data import CLOSE, OPEN
from pytest_stress.runner import path_seeds


class FiveX:
    """Buys 5 x equity a few bars before the crash (trying again until it fills) and holds."""

    def on_bar(self, ctx):
        if 490 <= ctx.t < 499 and ctx.position() == 0 and not ctx.open_orders and ctx.equity > 0:
            return buy(5 * ctx.equity / ctx.price)
        return None


def crash_section() -> None:
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
# -- funding: the model against Binance's prints (issue #27) ---------------------------------------
#: Binance USDⓈ-M perpetual hourly closes and funding prints (BTCUSDT, ETHUSDT, SOLUSDT) from
#: 2024-12-31 to 2026-02-19: Harthor/marketlab @ 6135a753, user_data/data/binance/futures/
#: *_USDT_USDT-1h-futures.feather and *-1h-funding_rate.feather (freqtrade downloads); the prints up
#: to 2025-09-14 are ../shared/data/binance_usdm_funding_2025-01_to_2025-09-14.csv, the fit's data.
PERP_DATA = Path(__file__).resolve().parent / "data" / "binance_usdm_perp_1h_2025-01_to_2026-02.csv.gz"
FIT_END = "2025-09-15"          # the shared file's prints (the fit) end on 2025-09-14 16:00
FLOOR = 0.0001


def before_rates(close: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """The model as it was before issue #27 (commit 827e669, ``ledger.funding_schedule``):
    P = 0.05 ln(close[prev] / close[prev - 8 bars]), F = P + clamp(0.01% - P, +-0.05%), cap +-0.75%."""
    start = np.maximum(prev - 8, 0)
    premium = 0.05 * np.log(close[prev] / close[start])
    rates = premium + np.clip(FLOOR - premium, -0.0005, 0.0005)
    return np.clip(rates, -0.0075, 0.0075)


def perp_data() -> dict[str, tuple[pd.DatetimeIndex, np.ndarray, pd.Series]]:
    """symbol -> (hourly timestamps, closes, funding prints) of the real perpetuals."""
    data = pd.read_csv(PERP_DATA, compression="gzip")
    out = {}
    for symbol, rows in data.groupby("symbol", sort=True):
        index = pd.DatetimeIndex(pd.to_datetime(rows["timestamp"], utc=True))
        prints = pd.Series(rows["funding_rate"].to_numpy(), index=index).dropna()
        out[str(symbol)] = (index, rows["close"].to_numpy(dtype=float), prints)
    return out


def _stats(rates: np.ndarray, real: np.ndarray | None = None) -> dict[str, float]:
    s = {"mean": rates.mean(), "sd": rates.std(), "max": rates.max(), "min": rates.min(),
         "floor": float(np.mean(np.abs(rates - FLOOR) < 1e-12)), "carry": rates.mean() * 3 * 365}
    if real is not None:
        s["corr"] = float(np.corrcoef(rates, real)[0, 1]) if rates.std() > 0 else float("nan")
    return s


def real_figures(seeds: int = 20) -> dict[str, dict[str, dict[str, float]]]:
    """Per symbol and period (fit: to 2025-09-14; held out: after; all: 2024-12-31 .. 2026-02-19): the
    prints' figures, the model before #27 and after (the median over ``seeds`` noise draws; and
    without its noise: what the closes explain), computed
    on the real closes with each print's bar as the payment bar (the premium sees closes up to the
    bar before)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for symbol, (index, close, prints) in perp_data().items():
        bars = index.get_indexer(prints.index)
        keep = bars > 0
        bars, real = bars[keep], prints.to_numpy()[keep]
        prev = bars - 1
        model = funding_model_for(symbol)
        after = np.array([model_rates(model, close, 3600, prev, 8.0,
                                      np.random.default_rng(seed).standard_normal((2, len(prev))))
                          for seed in range(seeds)])
        before = before_rates(close, prev)
        quiet = model_rates(model, close, 3600, prev, 8.0)      # the part the closes explain
        when = prints.index[keep]
        for period, mask in (("fit", when < FIT_END), ("held out", when >= FIT_END),
                             ("all", np.ones(len(when), bool))):
            key = f"{symbol} {period}"
            after_stats = [_stats(a[mask], real[mask]) for a in after]
            out[key] = {"real": _stats(real[mask]), "before": _stats(before[mask], real[mask]),
                        "after": {k: float(np.median([s[k] for s in after_stats])) for k in after_stats[0]},
                        "no noise": _stats(quiet[mask], real[mask])}
    return out


def window_carry(rates: np.ndarray, price: np.ndarray, days: int = 90) -> np.ndarray:
    """What a 1x long opened at each payment pays a year over the next ``days`` (3 payments a
    day): the sum of rate x price / price at the window's first payment, annualised."""
    n = 3 * days
    c = np.concatenate(([0.0], np.cumsum(rates * price)))
    return (c[n:] - c[:-n]) / price[:len(price) - n + 1] * 365.0 / days


def synthetic_carry(seeds: int = 200, days: int = 90) -> dict[str, np.ndarray]:
    """A 1x BTCUSDT long's yearly funding over the library's synthetic base market (a scenario
    of ``days`` hourly bars, seeds 0..seeds-1), before #27 and after (the noise from the run's
    ``funding`` stream, as in a run): the sum of rate x open / the first bar's open, annualised
    (what ``Ledger.finance`` charges a position bought at the first bar's open)."""
    acct = Account.perpetual(leverage=1)
    out: dict[str, list[float]] = {"before": [], "after": []}
    for seed in range(seeds):
        sc = Scenario("base", bars=days * 24, seed=seed)
        m = sc.build_market().true
        bars, rates = funding_schedule(acct, m, sc.rng("funding"))
        b = np.asarray(bars)
        rel = m.values[OPEN, 0][b] / m.values[OPEN, 0][0]
        out["after"].append(float(np.sum(np.asarray(rates)[:, 0] * rel)) * 365.0 / days)
        out["before"].append(float(np.sum(before_rates(m.values[CLOSE, 0], np.maximum(b - 1, 0)) * rel))
                             * 365.0 / days)
    return {k: np.array(v) for k, v in out.items()}


def funding_section(seeds: int = 200, noise_seeds: int = 20) -> dict:
    """Prints the funding figures: model before/after against the real prints."""
    pct = "{:+.4f}%".format
    print("\nFunding per 8 h, Binance USDⓈ-M prints vs the model on the same perpetual closes "
          "(fit = the shared file's prints, 2024-12-31..2025-09-14; held out = 2025-09-15..2026-02-19; all = both)")
    print(f"{'':<18}{'':<8}{'mean':>11}{'sd':>11}{'max':>11}{'min':>11}{'at 0.01%':>9}{'corr':>7}{'carry/y':>9}")
    figures = real_figures(noise_seeds)
    for key, rows in figures.items():
        for who in ("real", "before", "after", "no noise"):
            s = rows[who]
            corr = f"{s['corr']:7.2f}" if "corr" in s else " " * 7
            print(f"{key if who == 'real' else '':<18}{who:<8}{pct(s['mean'] * 100):>11}{pct(s['sd'] * 100):>11}"
                  f"{pct(s['max'] * 100):>11}{pct(s['min'] * 100):>11}{s['floor']:9.2f}{corr}"
                  f"{s['carry'] * 100:8.2f}%")
    data = perp_data()
    index, close, prints = data["BTCUSDT"]
    in2025 = prints[prints.index < "2026-01-01"]
    bars = index.get_indexer(in2025.index)
    real90 = window_carry(in2025.to_numpy(), close[np.maximum(bars - 1, 0)])
    syn = synthetic_carry(seeds)
    print("\nA 1x BTCUSDT long's funding a year over 90-day windows (p5 .. p95):")
    print(f"  real prints, windows within 2025:          {np.percentile(real90, 5) * 100:6.2f}% .. "
          f"{np.percentile(real90, 95) * 100:6.2f}%  ({len(real90)} windows)")
    for who in ("before", "after"):
        v = syn[who]
        print(f"  model {who:<6} on synthetic markets, {seeds} seeds: {np.percentile(v, 5) * 100:6.2f}% .. "
              f"{np.percentile(v, 95) * 100:6.2f}%")
    return {"figures": figures, "real90": real90, "synthetic": syn}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200, help="synthetic 90-day markets for the carry figure")
    parser.add_argument("--noise-seeds", type=int, default=20, help="noise draws on the real closes")
    parser.add_argument("--funding-only", action="store_true")
    parser.add_argument("--adl-only", action="store_true")
    args = parser.parse_args(argv)
    if args.adl_only:
        adl_section()
        return {}
    if not args.funding_only:
        crash_section()
    figures = funding_section(args.seeds, args.noise_seeds)
    if not args.funding_only:
        adl_section()
    return figures


if __name__ == "__main__":
    main()
