"""Market-side speed: the synthetic model beside constant-volatility GBM, and the stress transforms.

Run: python benchmarks/bench_market.py [--bars N] [--repeat R] [--stats] [--seeds S]
Prints the best and median wall time of R runs. ``--stats`` also prints the base market's
statistics (N bars of BTC/ETH/SOL at correlation 0.6) and every library scenario's figures
over S Monte Carlo seeds (p5 / median / p95), the figures docs/market.md and the scenario
descriptions quote. Target: 1,000,000 bars of one symbol
with the full model (Student-t shocks, fast GARCH, slow factor, volume memory and daily
profile, spreads and depth) at most 3x constant-volatility numpy GBM bars (the same
OHLCV + spread + depth fields, Gaussian shocks, no variance model), measured in this run.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from pytest_stress.market.synthetic import garch_variance, garch_variance_loop, generate_market
from pytest_stress import transforms as T

GBM = dict(garch=False, tail_nu=float("inf"), volume_memory_vol=0.0, volume_season=0.0)


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def numpy_gbm_close(n: int, seed: int) -> np.ndarray:
    """The bare minimum: closes of a constant-volatility GBM (for scale)."""
    sigma = 0.6 * np.sqrt(3600 / (365 * 86_400))
    r = np.random.default_rng(seed).standard_normal(n)
    r *= sigma
    r -= 0.5 * sigma * sigma
    np.cumsum(r, out=r)
    np.exp(r, out=r)
    r *= 30_000.0
    return r


def _acf(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    return float((x[:-lag] * x[lag:]).mean() / x.var())


def base_stats(n: int) -> None:
    """The base market's facts on n hourly bars of BTC, ETH and SOL (correlation 0.6)."""
    m = generate_market(("BTCUSDT", "ETHUSDT", "SOLUSDT"), n, "1h", np.random.default_rng(1), correlation=0.6)
    r = np.diff(np.log(m.close), axis=1)
    print(f"base market: {n:,} hourly bars, BTC/ETH/SOL, correlation 0.6, seed 1")
    for s, sym in enumerate(m.symbols):
        x = r[s] - r[s].mean()
        sd = x.std()
        a = np.abs(r[s])
        lo, hi = np.quantile(a, [0.1, 0.9])
        sp = m.spread[s, 1:]
        logv = np.log(m.volume[s])
        print(f"  {sym}: annual vol {sd * np.sqrt(8760):.3f}, excess kurtosis {(x ** 4).mean() / sd ** 4 - 3:.1f}, "
              f"largest |r| {np.abs(x).max() / sd:.1f} sigma, bars beyond 5 sigma {int(np.sum(np.abs(x) > 5 * sd))}, "
              f"beyond 10 sigma {int(np.sum(np.abs(x) > 10 * sd))}")
        print(f"    r^2 ACF lag 1/24/168/500: " + " / ".join(f"{_acf(r[s] ** 2, k):.3f}" for k in (1, 24, 168, 500))
              + "; |r| ACF lag 1/24/168/500: " + " / ".join(f"{_acf(a, k):.3f}" for k in (1, 24, 168, 500)))
        print(f"    log-volume ACF lag 1/12/24: " + " / ".join(f"{_acf(logv, k):.3f}" for k in (1, 12, 24))
              + f"; mean volume per bar {m.volume[s].mean():,.0f}")
        print(f"    spread top/bottom |r| decile {sp[a > hi].mean() / sp[a < lo].mean():.2f}, "
              f"corr(log spread, log |r|) {np.corrcoef(np.log(sp[a > 0]), np.log(a[a > 0]))[0, 1]:.2f}, "
              f"spread max/median {sp.max() / np.median(sp):.1f}; depth median {np.median(m.depth[s]):,.0f}")
    worst = r[0] < np.quantile(r[0], 0.01)
    print(f"  correlation BTC-ETH: all bars {np.corrcoef(r[:2])[0, 1]:.2f}, BTC's worst 1% "
          f"{np.corrcoef(r[:2, worst])[0, 1]:.2f}, worst 0.1% "
          f"{np.corrcoef(r[:2, r[0] < np.quantile(r[0], 0.001)])[0, 1]:.2f}")
    from pytest_stress.scenario.definition import Scenario   # lazy: only for --stats
    big = Scenario("big", bars=1_000_000).base_market().close[0]
    rb = np.diff(np.log(big))
    print(f"  Scenario('big', bars=1_000_000): min close {big.min():.3g}, last {big[-1]:.3g}, "
          f"zero returns {np.mean(rb == 0):.2%}, bars at the minimum {np.mean(big == big.min()):.4%}")


def scenario_stats(seeds: int) -> None:
    """Each library scenario's stated figures over seeds derive_seed(seed, i): p5 / median / p95."""
    from pytest_stress import library   # lazy: only for --stats
    from pytest_stress.scenario.definition import derive_seed   # lazy: only for --stats

    def rv(c, a, b):
        x = np.diff(np.log(c[a - 1:b]))
        return float(np.sqrt(np.mean(x * x)))

    def calm(f, i):
        return float(np.median(f[0, max(0, i - 168):i]))

    def crash(t, i0, d, u, f):
        c = t.close[0]
        e, pre = i0 + d + u, c[i0 - 1]
        f["trough (lowest close in window)"] = c[i0:e].min() / pre - 1
        f["first bar"] = c[i0] / pre - 1
        f["window end vs pre-crash"] = c[e - 1] / pre - 1
        f["series end vs pre-crash"] = c[-1] / pre - 1
        f["realised vol / calm week, window"] = rv(c, i0, e) / rv(c, i0 - 168, i0)
        f["realised vol / calm, next 24 bars"] = rv(c, e, e + 24) / rv(c, i0 - 168, i0)
        f["realised vol / calm, next 168 bars"] = rv(c, e, e + 168) / rv(c, i0 - 168, i0)
        f["max spread / calm"] = t.spread[0, i0:e].max() / calm(t.spread, i0)
        f["spread / calm, bar after window"] = t.spread[0, e] / calm(t.spread, i0)
        f["median volume / calm"] = np.median(t.volume[0, i0:e]) / calm(t.volume, i0)
        f["median depth / calm"] = np.median(t.depth[0, i0:e]) / calm(t.depth, i0)
        f["largest wick below body"] = np.max(1 - t.low[0, i0:e] / np.minimum(t.open[0, i0:e], c[i0:e]))
        f["largest bar range"] = np.max(t.high[0, i0:e] / t.low[0, i0:e] - 1)

    print(f"library scenarios over {seeds} seeds (p5 / median / p95); calm = median of the week before")
    for name in library.names():
        s0 = library.get(name)
        rows = []
        for i in range(seeds):
            v = s0.replace(seed=derive_seed(s0.seed, i)).build_market()
            t, b = v.true, v.base
            c = t.close[0]
            f: dict[str, float] = {}
            if name == "BTC Flash Crash 2021":
                crash(t, 500, 24, 24, f)
            elif name == "Black Swan Combo":
                crash(t, 500, 32, 24, f)
            elif name == "ETH Liquidity Collapse":
                crash(t, 400, 36, 24, f)
                f["median depth / calm, 4 days"] = np.median(t.depth[0, 400:496]) / calm(t.depth, 400)
                f["median volume / calm, 4 days"] = np.median(t.volume[0, 400:496]) / calm(t.volume, 400)
                f["min spread / calm"] = t.spread[0, 400:496].min() / calm(t.spread, 400)
                f["spread / calm, 24 bars after"] = t.spread[0, 519] / calm(t.spread, 400)
            elif name == "SOL Volatility Explosion":
                f["realised vol / calm week"] = rv(c, 500, 572) / rv(c, 332, 500)
                f["realised vol / base, window"] = rv(c, 500, 572) / rv(b.close[0], 500, 572)
                f["realised vol / calm, next 24 bars"] = rv(c, 572, 596) / rv(c, 332, 500)
                f["median volume / calm"] = np.median(t.volume[0, 500:572]) / calm(t.volume, 500)
                f["median depth / calm"] = np.median(t.depth[0, 500:572]) / calm(t.depth, 500)
                f["median spread / calm"] = np.median(t.spread[0, 500:572]) / calm(t.spread, 500)
            elif name == "Mixed Regime Chaos":
                f["trend segment (bars 150-349)"] = c[349] / c[149] - 1
                f["spike realised vol / base"] = rv(c, 350, 410) / rv(b.close[0], 350, 410)
                f["drought median depth / calm"] = np.median(t.depth[0, 600:680]) / calm(t.depth, 600)
                f["drought median volume / calm"] = np.median(t.volume[0, 600:680]) / calm(t.volume, 600)
                f["wide-spread median / calm"] = np.median(t.spread[0, 800:860]) / calm(t.spread, 800)
                f["series end"] = c[-1] / c[0] - 1
            elif name == "Correlation Breakdown":
                r = np.diff(np.log(t.close), axis=1)
                f["corr BTC-ETH before"] = np.corrcoef(r[:, 200:499])[0, 1]
                f["corr BTC-ETH in window"] = np.corrcoef(r[:, 500:667])[0, 1]
                f["corr BTC-SOL in window"] = np.corrcoef(r[:, 500:667])[0, 2]
            elif name == "Pump & Dump Mania":
                pre = c[399]
                f["peak vs start"] = c[471] / pre - 1
                f["dump end vs start"] = c[483] / pre - 1
                f["lowest dump close vs start"] = c[472:484].min() / pre - 1
                f["first dump bar"] = c[472] / c[471] - 1
                f["dump realised vol (annual)"] = rv(c, 472, 484) * np.sqrt(8760)
                f["max dump spread / calm"] = t.spread[0, 472:484].max() / calm(t.spread, 400)
                f["median dump volume / calm"] = np.median(t.volume[0, 472:484]) / calm(t.volume, 400)
            else:
                f["annual vol"] = np.diff(np.log(c)).std() * np.sqrt(8760)
                f["end vs start"] = c[-1] / c[0] - 1
            rows.append(f)
        print(f"  {name}")
        for key in rows[0]:
            p5, p50, p95 = np.percentile([row[key] for row in rows], [5, 50, 95])
            print(f"    {key:<36} {p5:9.3f} {p50:9.3f} {p95:9.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--stats", action="store_true", help="also print base-market and scenario statistics")
    ap.add_argument("--seeds", type=int, default=40, help="Monte Carlo seeds per scenario for --stats")
    args = ap.parse_args()
    n = args.bars
    rng = np.random.default_rng(0)
    z = rng.standard_normal(n)
    rows = []
    rows.append(("GARCH variance, plain Python loop", *timed(lambda: garch_variance_loop(z, 1e-6, 0.05, 0.9), 1)))
    rows.append(("GARCH variance, chunked numpy", *timed(lambda: garch_variance(z, 1e-6, 0.05, 0.9), args.repeat)))
    rows.append(("numpy GBM, closes only", *timed(lambda: numpy_gbm_close(n, 1), args.repeat)))
    gbm = lambda: generate_market(("BTCUSDT",), n, "1h", np.random.default_rng(1), **GBM)  # noqa: E731
    rows.append(("constant-vol GBM bars (OHLCV+spread+depth)", *timed(gbm, args.repeat)))
    gen = lambda: generate_market(("BTCUSDT",), n, "1h", np.random.default_rng(1))  # noqa: E731
    rows.append(("generate_market, full model, 1 symbol", *timed(gen, args.repeat)))
    m = gen()
    for name, fn in [("flash_crash", T.flash_crash), ("volatility_spike", T.volatility_spike),
                     ("liquidity_drop", T.liquidity_drop), ("spread_explosion", T.spread_explosion)]:
        rows.append((f"transform {name}", *timed(lambda fn=fn: fn(m, np.random.default_rng(2)), args.repeat)))
    rows.append(("transform corrupt_feed (15%)", *timed(lambda: T.corrupt_feed(m, np.random.default_rng(2)),
                                                         args.repeat)))
    agree = np.max(np.abs(garch_variance(z, 1e-6, 0.05, 0.9) / garch_variance_loop(z, 1e-6, 0.05, 0.9) - 1))
    print(f"{n:,} bars, best / median of {args.repeat} runs (seconds)")
    for name, best, med in rows:
        print(f"  {name:<48} {best:8.4f} {med:8.4f}")
    base, full, bare = rows[3][1], rows[4][1], rows[2][1]
    print(f"chunked GARCH vs loop: max relative difference {agree:.2e} (must be < 1e-12)")
    print(f"full model / constant-vol GBM bars: {full / base:.2f}x (target <= 3x: "
          f"{'met' if full <= 3 * base else 'MISSED'}); / numpy GBM closes only: {full / bare:.1f}x")
    if args.stats:
        base_stats(n)
        scenario_stats(args.seeds)


if __name__ == "__main__":
    main()
