"""How ``pytest_stress.account.funding.FUNDING_MODELS`` was fitted (issue #27): re-run it to check
the shipped parameters. A few minutes on one core.

    python benchmarks/fit_funding.py

Data: the prints of the shared file (2024-12-31 08:00 .. 2025-09-14 16:00; the first has no close
before it) and the perpetual hourly closes of the same period (``bench_accounts.PERP_DATA``). Step
1, the trend part: least squares of the model without noise against the prints, over half-lives 24 h
.. 21 d and a grid of betas and base levels. Step 2, the noise: a grid over the slow noise's sd and
half-life and the jitter's sd, each with the base level that matches the mean, scored by the
simulated rates' (64 draws) distance to the prints' mean, sd, share at exactly 0.0100% (in units of
sd, sd, 0.05) and autocorrelation at lags 1 and 21 (in units of 0.2).
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_accounts import FIT_END, perp_data  # noqa: E402

from pytest_stress.account.funding import premium_trend  # noqa: E402

INTEREST, C = 0.0001, 0.0005
HALF_LIVES = (24, 48, 72, 120, 168, 336, 504)
BASES = np.linspace(-7e-4, 0.0, 141)


def rate(p: np.ndarray) -> np.ndarray:
    return np.where(p < INTEREST - C, p + C, np.where(p > INTEREST + C, p - C, INTEREST))


def acf(x: np.ndarray, k: int) -> float:
    x = np.atleast_2d(x)
    return float(np.mean([np.corrcoef(r[k:], r[:-k])[0, 1] for r in x]))


def fit(symbol: str, index, close, prints, draws: int = 64) -> dict:
    prev = index.get_indexer(prints.index) - 1
    keep = (prints.index < FIT_END) & (prev >= 0)     # the shared file's prints less the first (no close before)
    prints, prev = prints[keep], prev[keep]
    y = prints.to_numpy()
    best = None
    for h in HALF_LIVES:                                  # step 1: the trend part
        d = premium_trend(close, 3600, h)[prev]
        for beta in np.linspace(0.0, 0.006, 61):
            err = np.mean((rate(BASES[:, None] + beta * d[None, :]) - y) ** 2, axis=1)
            k = int(np.argmin(err))
            if best is None or err[k] < best[0]:
                best = (err[k], h, beta)
    _, h, beta = best
    trend = beta * premium_trend(close, 3600, h)[prev]
    target = np.array([y.mean(), y.std(), np.mean(y == INTEREST), acf(y, 1), acf(y, 21)])
    scale = np.array([y.std(), y.std(), 0.05, 0.2, 0.2])
    rng = np.random.default_rng(1)
    z1, z2 = rng.standard_normal((draws, len(y))), rng.standard_normal((draws, len(y)))
    levels = np.linspace(-7e-4, -2e-4, 51)
    found = None
    for days, slow_sd, jitter in itertools.product((1, 2, 3, 5, 7, 10, 14), np.linspace(0, 6e-4, 25),
                                                   np.linspace(0, 6e-4, 25)):
        phi = 0.5 ** (8.0 / (24.0 * days))
        shocks = z1 * (slow_sd * np.sqrt(1 - phi * phi))
        shocks[:, 0] = z1[:, 0] * slow_sd
        u = lfilter([1.0], [1.0, -phi], shocks, axis=1) + jitter * z2     # AR(1), every draw at once
        means = np.array([rate(b + trend + u).mean() for b in levels])
        base = levels[int(np.argmin(np.abs(means - y.mean())))]
        f = rate(base + trend + u)
        got = np.array([f.mean(), f.std(axis=1).mean(), np.mean(f == INTEREST), acf(f, 1), acf(f, 21)])
        loss = float(np.sum(((got - target) / scale) ** 2))
        if found is None or loss < found[0]:
            found = (loss, days, slow_sd, jitter, base)
    loss, days, slow_sd, jitter, base = found
    return {"symbol": symbol, "trend_half_life_hours": h, "trend_beta": beta, "premium_base": base,
            "noise_sd": slow_sd, "noise_half_life_days": days, "jitter_sd": jitter, "loss": loss}


def main(argv: list[str] | None = None) -> None:
    symbols = (sys.argv[1:] if argv is None else argv) or None     # e.g. ETHUSDT; default: all three
    for symbol, (index, close, prints) in perp_data().items():
        if symbols and symbol not in symbols:
            continue
        p = fit(symbol, index, close, prints)
        print(f"{symbol}: premium_base {p['premium_base'] * 100:.4f}%, trend_beta {p['trend_beta']:.5f}, "
              f"trend_half_life_hours {p['trend_half_life_hours']}, noise_sd {p['noise_sd'] * 100:.4f}%, "
              f"noise_half_life_days {p['noise_half_life_days']}, jitter_sd {p['jitter_sd'] * 100:.4f}% "
              f"(moment loss {p['loss']:.2f})")


if __name__ == "__main__":
    main()
