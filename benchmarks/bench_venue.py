"""The venue table: what one market order costs, how long it takes and how often it fails,
per library scenario and order size, beside the square-root law (issue #11).

Run: python benchmarks/bench_venue.py [--draws 200] [--exchange calm]

For each library scenario the bar is the scenario's worst one for the venue (highest
stress, then highest realised sigma); the first row is a typical bar of a calm market. At that bar, ``draws`` independent exchanges (seeds
0..draws-1) each receive one market sell of the given size, by calling
``SimulatedExchange.process`` directly. Sizes: 0.01%, 0.1%, 1%, 10% of the bar's volume,
and 10% of *normal* volume (the trailing reference volume before the stress).

Columns: the bar's stress; median and p95 total cost of the fills in bps of the reference
price (half-spread + drift + impact + taker fee); the square-root-law figure
Y sigma sqrt(Q / V) on the bar's realised (Garman-Klass) sigma and volume, and 2/3 of it
(the average cost of walking a square-root book, what the venue charges when depth does
not bind); median latency; filled share of the quantity; failures (rejected / timeout /
partial then cancel) and band-limited orders, in percent of orders.
"""
from __future__ import annotations

import argparse
import math

import numpy as np

from pytest_stress import Scenario, library, sell
from pytest_stress.engine.book import Ticket
from pytest_stress.exchange import SimulatedExchange, preset
from pytest_stress.exchange.conditions import Conditions, bar_variance, market_conditions
from pytest_stress.exchange.smoothing import trailing_reference

SIZES = [("0.01% V", 1e-4), ("0.1% V", 1e-3), ("1% V", 1e-2), ("10% V", 0.1), ("10% normal V", None)]


def worst_bar(c: Conditions) -> int:
    return int(np.lexsort((c.sigma[0], c.stress[0]))[-1])


def one_cell(sc: Scenario, true, config, t: int, qty: float, draws: int) -> dict:
    sym = true.symbols[0]
    costs, lat, filled, status = [], [], 0.0, {}
    for seed in range(draws):
        ex = SimulatedExchange(config, true, np.random.default_rng(seed), sc.faults)
        res, _ = ex.process(t, [Ticket(1, sell(qty, sym), sym)], {sym: 0})
        r = res[0]
        status[r.status] = status.get(r.status, 0) + 1
        lat.append(r.latency_ms)
        if r.filled_qty > 0:
            filled += r.filled_qty
            fee_bps = r.fee / (r.filled_qty * r.reference_price) * 1e4
            costs.append(r.spread_bps + r.slippage_bps + fee_bps)
    costs = np.array(costs) if costs else np.array([math.nan])
    pct = {k: 100.0 * v / draws for k, v in status.items()}
    return {"median": float(np.median(costs)), "p95": float(np.percentile(costs, 95)), "lat": float(np.median(lat)),
            "filled": 100.0 * filled / (qty * draws), "rej": pct.get("rejected", 0.0), "tmo": pct.get("timeout", 0.0),
            "pc": pct.get("partial_cancel", 0.0), "band": pct.get("band_limited", 0.0)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--exchange", default="calm")
    args = ap.parse_args()
    config = preset(args.exchange)
    scenarios = [Scenario("calm market", bars=1000)] + library.all()
    print(f"exchange preset {args.exchange!r}; {args.draws} draws per cell; one market sell at the scenario's worst bar")
    head = (f"{'scenario':<26} {'bar':>4} {'stress':>6} {'size':<13} {'med bps':>8} {'p95 bps':>8} {'sqrt law':>8} "
            f"{'2/3 law':>8} {'lat ms':>7} {'filled%':>7} {'rej%':>5} {'tmo%':>5} {'pc%':>5} {'band%':>5}")
    print(head)
    print("-" * len(head))
    for sc in scenarios:
        true = sc.build_market().true
        conditions = market_conditions(true, config)       # what the exchange computes for this market
        t = worst_bar(conditions) if sc.name != "calm market" else true.n_bars // 2     # calm: a typical bar
        sigma_real = math.sqrt(bar_variance(true)[0, t])
        volume = float(true.volume[0, t])
        normal = float(np.exp(trailing_reference(np.log(np.maximum(true.volume, 1e-12)))[0, t]))
        stress = float(conditions.stress[0, t])
        for label, share in SIZES:
            qty = share * volume if share is not None else 0.1 * normal
            law = config.impact_coef * sigma_real * math.sqrt(qty / volume) * 1e4 if volume > 0 else math.inf
            cell = one_cell(sc, true, config, t, qty, args.draws)
            print(f"{sc.name[:26]:<26} {t:>4} {stress:>6.2f} {label:<13} {cell['median']:>8.1f} {cell['p95']:>8.1f} "
                  f"{law:>8.1f} {2 * law / 3:>8.1f} {cell['lat']:>7.0f} {cell['filled']:>7.1f} {cell['rej']:>5.1f} "
                  f"{cell['tmo']:>5.1f} {cell['pc']:>5.1f} {cell['band']:>5.1f}")


if __name__ == "__main__":
    main()
