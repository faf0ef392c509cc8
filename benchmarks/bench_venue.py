"""The venue table: what one market order costs, how long it takes and how often it fails,
per library scenario and order size, beside the square-root law (issue #11).

Run: python benchmarks/bench_venue.py [--draws 200] [--seeds 20] [--exchange calm]
     [--only table,exits,failures,relaxation]

For each library scenario the bar is the scenario's worst one for the venue (highest
stress, then highest realised sigma); the first row is a typical bar of a calm market. At that
bar, ``draws`` independent exchanges (seeds 0..draws-1) each receive one market sell of the given size, by calling
``SimulatedExchange.process`` directly. Sizes: 0.01%, 0.1%, 1%, 10% of the bar's volume,
and 10% of *normal* volume (the trailing reference volume before the stress).

Columns: the bar's stress; median and p95 total cost of the fills in bps of the reference
price (half-spread + drift + impact + taker fee); the square-root-law figure
Y sigma sqrt(Q / V) on the bar's realised (Garman-Klass) sigma and volume, and 2/3 of it
(the average cost of walking a square-root book, what the venue charges when depth does
not bind); median latency; filled share of the quantity; failures (rejected / timeout /
partial then cancel) and band-limited orders, in percent of orders.

Three calibration checks of issue #27 follow the table, each printed next to the event
figure it is calibrated to (``--only`` picks parts: table, exits, failures, relaxation):

- ``exits``: a market sell of 0.01%, 0.1%, 1% and 10% of the bar's volume at each bar of Black Swan
  Combo's 48-bar crash window: fill ratio (of the quantity sent, failed orders included) and the
  median impact + latency drift of the fills, beside the square-root law on the bar's traded
  volume and the half spread. Two traders: ``one order`` (a fresh exchange per bar and seed: no
  carried displacement) and ``steady`` (one exchange, an order every bar: its own displacement
  carries).
- ``failures``: the share of a steady trader's orders (one every bar) that fail (rejected,
  timeout, partial then cancel), over the run and inside the crisis window, with the calm and the
  stressed preset, beside the rate the scenario's description states.
- ``relaxation``: bars with venue stress >= 0.5 in the week after Black Swan Combo's window,
  beside the same count on the real bars after Black Thursday and 19 May 2021 (the replays).
"""
from __future__ import annotations

import argparse
import math

import numpy as np

import pytest_stress
from pytest_stress import Scenario, buy, library, sell
from pytest_stress.engine.book import Ticket
from pytest_stress.exchange import SimulatedExchange, preset
from pytest_stress.exchange.conditions import Conditions, bar_variance, market_conditions
from pytest_stress.exchange.smoothing import trailing_reference
from pytest_stress.runner import run_scenario

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


def print_table(config, draws: int, name: str) -> None:
    scenarios = [Scenario("calm market", bars=1000)] + library.all()
    print(f"exchange preset {name!r}; {draws} draws per cell; one market sell at the scenario's worst bar")
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
            cell = one_cell(sc, true, config, t, qty, draws)
            print(f"{sc.name[:26]:<26} {t:>4} {stress:>6.2f} {label:<13} {cell['median']:>8.1f} {cell['p95']:>8.1f} "
                  f"{law:>8.1f} {2 * law / 3:>8.1f} {cell['lat']:>7.0f} {cell['filled']:>7.1f} {cell['rej']:>5.1f} "
                  f"{cell['tmo']:>5.1f} {cell['pc']:>5.1f} {cell['band']:>5.1f}")


# -- issue #27: exits in a crash ---------------------------------------------------------

#: Black Swan Combo's crisis window: every stress starts in its first bar (library.py: start 0.5 of
#: 1,000 bars; 48 bars: the 32-bar fall and 16 bars of the recovery)
CRASH = range(500, 548)
EXIT_SIZES = (1e-4, 1e-3, 1e-2, 1e-1)
FAILED = ("rejected", "timeout", "partial_cancel")


def crash_exits(config, seeds: int = 20, share: float = 1e-3, steady: bool = False,
                bars: range = CRASH) -> dict[str, float]:
    """A market sell of ``share`` of each crash bar's volume at every bar of ``bars`` of Black Swan
    Combo, over ``seeds`` exchanges: the filled share of the quantity sent (failed orders
    included), the filled share of the quantity the venue took (no rejection or timeout, or a
    late fill: what the book, not the venue's faults, decides), and
    the medians over the fills of impact + latency drift (``slippage_bps``) and own impact
    (``impact_bps``). ``steady``: one exchange per seed receives every bar's order (its own
    displacement carries), else a fresh exchange per bar and seed. Late fills count as filled."""
    sc = library.get("Black Swan Combo")
    true = sc.build_market().true
    sym = true.symbols[0]
    volume = true.volume[0]
    sent = accepted = filled = 0.0
    slip: list[float] = []
    own: list[float] = []
    for seed in range(seeds):
        ex = SimulatedExchange(config, true, np.random.default_rng(seed), sc.faults) if steady else None
        for t in bars:
            if not steady:
                ex = SimulatedExchange(config, true, np.random.default_rng([seed, t]), sc.faults)
            qty = share * float(volume[t])
            res, _ = ex.process(t, [Ticket(t, sell(qty, sym), sym)], {sym: 0})
            sent += qty
            for r in res:
                if r.late or r.status not in ("rejected", "timeout"):
                    accepted += r.requested_qty         # the venue took it (late fills too)
                if r.filled_qty > 0:
                    filled += r.filled_qty
                    slip.append(r.slippage_bps)
                    own.append(r.impact_bps)
    return {"fill": filled / sent, "fill_accepted": filled / accepted if accepted else math.nan,
            "slip": float(np.median(slip)) if slip else math.nan, "impact": float(np.median(own)) if own else math.nan}


def crash_law(config, share: float, bars: range = CRASH) -> dict[str, float]:
    """The documented figures for a sell of ``share`` of each crash bar's volume: medians over
    ``bars`` of the square-root law on the bar's traded volume, ``Y sigma sqrt(share)`` (sigma the bar's
    Garman-Klass volatility), 2/3 of it (the average over a walk), the half spread, and the bar's
    volume over the trailing reference volume."""
    true = library.get("Black Swan Combo").build_market().true
    sigma = np.sqrt(bar_variance(true)[0, list(bars)])
    c = market_conditions(true, config)
    normal = np.exp(trailing_reference(np.log(np.maximum(true.volume, 1e-12)))[0, list(bars)])
    law = config.impact_coef * sigma * math.sqrt(share) * 1e4
    return {"law": float(np.median(law)), "law23": float(np.median(law) * 2 / 3),
            "half_spread": float(np.median(c.spread[0, list(bars)]) * 0.5e4),
            "volume_x": float(np.median(true.volume[0, list(bars)] / normal))}


def print_exits(config, name: str, seeds: int) -> None:
    law0 = crash_law(config, 1e-4)
    print(f"\nexits in Black Swan Combo's crash window (bars {CRASH.start}-{CRASH.stop - 1}), preset {name!r}, "
          f"{seeds} seeds; a market sell of x% of the bar's volume at every bar")
    print(f"event figures: Black Thursday BTCUSDT traded x4.3 its week-before volume (shared/data README; this "
          f"window: median x{law0['volume_x']:.1f}); impact ~ Y sigma sqrt(Q/V), Y of order 1 "
          f"(scenario-calibration.md; Donier & Bonart 2015); half spread here {law0['half_spread']:.1f} bps "
          f"(spreads x10-100 calm in the events)")
    head = (f"{'size':<8} {'trader':<10} {'filled%':>8} {'of accepted%':>13} {'impact+drift bps':>17} "
            f"{'own impact bps':>15} {'sqrt law bps':>13} {'2/3 law bps':>12}")
    print(head)
    print("-" * len(head))
    for share in EXIT_SIZES:
        law = crash_law(config, share)
        for steady in (False, True):
            m = crash_exits(config, seeds, share, steady)
            print(f"{share:<8.2%} {'steady' if steady else 'one order':<10} {100 * m['fill']:>8.1f} "
                  f"{100 * m['fill_accepted']:>13.1f} {m['slip']:>17.0f} {m['impact']:>15.0f} {law['law']:>13.0f} "
                  f"{law['law23']:>12.0f}")


# -- issue #27: the failures a steady trader measures -----------------------------------

class _EveryBar:
    """A buy or a sell of 0.01 at every bar (the steady trader of tests/test_venue_faults.py)."""

    def __init__(self, symbol: str, bars: int) -> None:
        self.symbol, self.last = symbol, bars - 1

    def on_bar(self, ctx):
        if 1 <= ctx.t < self.last:
            return (buy if ctx.t % 2 else sell)(0.01, self.symbol)
        return None


def measured_failures(name: str, config, window: range | None = None) -> float:
    """The share of a steady trader's orders (one every bar) whose first outcome is a failure
    (rejected, timeout, partial then cancel) in one run of the scenario (its own seed): over the
    run, or among orders handled in ``window``."""
    sc = library.get(name)
    res = run_scenario(sc, _EveryBar(sc.symbols[0], sc.bars), config)
    first: dict[int, object] = {}
    for e in res.executions:
        first.setdefault(e.order_id, e)
    outcomes = [e for e in first.values() if window is None or e.bar in window]
    return sum(e.status in FAILED for e in outcomes) / len(outcomes)


def window_failures(name: str, config, window: range, seeds: int = 100) -> float:
    """The share of orders that fail on arrival when one is sent at every bar of ``window``, over
    ``seeds`` venues on the scenario's market (the window's expected figure: one run's 48 orders
    meet a few outages of about 25 minutes each, so one run's share scatters by +-15 points)."""
    sc = library.get(name)
    true = sc.build_market().true
    sym = true.symbols[0]
    failed = n = 0
    for seed in range(seeds):
        ex = SimulatedExchange(config, true, np.random.default_rng(seed), sc.faults)
        for t in window:
            res, _ = ex.process(t, [Ticket(t, (buy if t % 2 else sell)(0.01, sym), sym)], {sym: 0})
            first = [r for r in res if not r.late]
            failed += sum(r.status in FAILED for r in first)
            n += len(first)
    return failed / n


def print_failures(seeds: int) -> None:
    rows = (("Black Swan Combo", "30%", CRASH), ("Execution Crisis", "40%", range(1, 999)))
    print(f"\nfailure share a steady trader measures (an order every bar; rejected + timeout + partial_cancel): "
          f"'run' over one run (the scenario's seed), 'window' the expected share in its window ({seeds} venues)")
    head = (f"{'scenario':<18} {'described':>9} {'calm run':>9} {'calm window':>12} {'stressed run':>13} "
            f"{'stressed window':>16}")
    print(head)
    print("-" * len(head))
    for name, described, window in rows:
        cells = []
        for preset_name in ("calm", "stressed"):
            cfg = preset(preset_name)
            cells.append(100 * measured_failures(name, cfg))
            cells.append(100 * window_failures(name, cfg, window, seeds if window is CRASH else max(seeds // 20, 2)))
        print(f"{name:<18} {described:>9} {cells[0]:>8.1f}% {cells[1]:>11.1f}% {cells[2]:>12.1f}% "
              f"{cells[3]:>15.1f}%")
    calm, stressed = (100 * expected_crisis_failure(preset(p)) for p in ("calm", "stressed"))
    print(f"Black Swan Combo's window at full stress, expected: calm {calm:.1f}%, stressed {stressed:.1f}% "
          f"(outage share + the rest's timeouts, closed form)")


def expected_crisis_failure(config, extra: float = 0.3, latency_mult: float = 10.0) -> float:
    """The failure share at full stress in closed form: the outage share ``outage_share x p``
    (p = 1 - (1 - crisis rate)(1 - extra)), then of the rest, the larger of the log-normal timeout
    probability and the rest of the budget."""
    p = 1.0 - (1.0 - config.crisis_failure_rate) * (1.0 - extra)
    down = config.outage_share * p
    median = config.crisis_latency_ms * latency_mult
    z = math.log(config.timeout_ms / median) / config.latency_dispersion
    p_to = 0.5 * math.erfc(z / math.sqrt(2.0))
    rest = (p - down) / (1.0 - down)
    return down + (1.0 - down) * max(p_to, rest)


# -- issue #27: how long the venue stays in crisis after the event ------------------------

def crisis_after(name: str, symbol: int | None, end: int, config, span: int = 168) -> tuple[int, int]:
    """Bars with stress >= 0.5 among the ``span`` bars after bar ``end`` (the venue's stress, or one
    symbol's), and the last such bar's distance from ``end``."""
    true = library.get(name).build_market().true
    c = market_conditions(true, config)
    s = (c.venue if symbol is None else c.stress[symbol])[end + 1:end + 1 + span]
    hi = np.flatnonzero(s >= 0.5)
    return int(len(hi)), int(hi[-1]) + 1 if len(hi) else 0


def print_relaxation(config) -> None:
    print("\nbars in crisis (stress >= 0.5) in the week (168 bars) after the event window")
    rows = (("Black Swan Combo (synthetic)", "Black Swan Combo", None, CRASH.stop - 1,
             "its 48-bar window"),
            ("Black Thursday BTCUSDT (real)", "Black Thursday 2020 Replay", 0, 386,
             "peak 11 Mar 22:00 to a day after the trough, 14 Mar 02:00"),
            ("19 May 2021 BTCUSDT (real)", "19 May 2021 Replay", 0, 373,
             "to a day after the trough, 20 May 13:00"))
    for label, name, sym, end, what in rows:
        n, last = crisis_after(name, sym, end, config)
        print(f"{label:<32} {n:>4} bars in crisis, the last {last:>3} bars after the window ({what})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=20, help="seeds per exit cell")
    ap.add_argument("--exchange", default="calm")
    ap.add_argument("--only", default="table,exits,failures,relaxation")
    args = ap.parse_args()
    config = preset(args.exchange)
    parts = set(args.only.split(","))
    print(f"pytest_stress from {pytest_stress.__file__}")
    if "table" in parts:
        print_table(config, args.draws, args.exchange)
    if "exits" in parts:
        print_exits(config, args.exchange, args.seeds)
    if "failures" in parts:
        print_failures(5 * args.seeds)
    if "relaxation" in parts:
        print_relaxation(config)


if __name__ == "__main__":
    main()
