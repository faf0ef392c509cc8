"""The fidelity table: how much each library scenario that cites a real event looks like it.

Run: python benchmarks/bench_fidelity.py [--seeds 40] [--sentences]

One function (``pytest_stress.market.fidelity.event_figures``) measures the figures on the real
event (Binance hourly bars shipped in ``pytest_stress/market/event_data``) and on the scenario's
true market on ``--seeds`` seeds (``derive_seed(scenario.seed, i)``, as Monte Carlo paths use
them; market builds only, no trading). Printed as markdown, the tables of ``docs/fidelity.md``:

1. the real events, every shipped symbol, with each alt's drop as a multiple of BTC's;
2. per citing scenario: the event's figure, the scenario's p5 / p50 / p95, and the mark:
   ``matches`` (the median within the figure's tolerance of the event's), ``differs`` (a design
   choice its description states, with the median it states), or ``no data`` (the cited event
   ships no bars);
3. per multi-symbol crash (``CROSS_SYMBOL``): each alt's drop as a multiple of the first
   symbol's, on the event and on the scenario run on those symbols (p5 / p50 / p95).

``--sentences`` also prints the "Differs from the event" sentence each description carries.
``tests/test_fidelity.py`` holds the medians at 40 seeds.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def real_table() -> list[str]:
    from pytest_stress.market.events import EVENTS
    from pytest_stress.market.fidelity import FIGURES, real_figures

    cols = [(key, sym) for key, ev in EVENTS.items() for sym in ev.symbols]
    figs = {c: real_figures(*c) for c in cols}
    head = "| figure | " + " | ".join(f"{sym[:-4]} {EVENTS[key].title}" for key, sym in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    for f in FIGURES:
        lines.append(f"| {f.label} | " + " | ".join(f.show(figs[c][f.key]) for c in cols) + " |")
    ratios = []
    for key, sym in cols:
        btc, own = figs[(key, "BTCUSDT")], figs[(key, sym)]
        ratios.append("-" if sym == "BTCUSDT" else
                      f"{own['drop_hl'] / btc['drop_hl']:.2f} / {own['drop_cc'] / btc['drop_cc']:.2f}")
    lines.append("| drop as a multiple of BTC's, high-low / close-close | " + " | ".join(ratios) + " |")
    return lines


def scenario_table(citation, seeds: int) -> tuple[list[str], float]:
    from pytest_stress import derive_seed, library
    from pytest_stress.market.fidelity import FIGURES, TOLERANCES, quantiles, real_figures, scenario_figures

    sc = library.get(citation.scenario)
    started = time.perf_counter()
    q = quantiles(scenario_figures(sc, [derive_seed(sc.seed, i) for i in range(seeds)]))
    took = time.perf_counter() - started
    real = real_figures(citation.event, citation.symbol) if citation.event else None
    where = f"{citation.symbol[:-4]} {citation.cited}" + ("" if real else " (no data shipped)")
    lines = [f"| figure | {where} | {citation.scenario}: p5 / p50 / p95 | |", "|---|---|---|---|"]
    for f in FIGURES:
        p5, p50, p95 = q[f.key]
        if real is None:
            mark = "no data"
        elif f.key in citation.differs:
            mark = f"**differs** (states {f.show(citation.differs[f.key])})"
        else:
            mark = f"matches ({TOLERANCES[f.key]})"
        lines.append(f"| {f.label} | {f.show(real[f.key]) if real else 'n/a'} | "
                     f"{f.show(p5)} / {f.show(p50)} / {f.show(p95)} | {mark} |")
    return lines, took


def ratio_table(cross, seeds: int) -> list[str]:
    from pytest_stress import derive_seed, library
    from pytest_stress.market.fidelity import RATIO_TOLERANCES, drop_ratios, real_figures, scenario_figures

    sc = library.get(cross.scenario, symbols=cross.symbols)
    seed_list = [derive_seed(sc.seed, i) for i in range(seeds)]
    ours = drop_ratios({s: scenario_figures(sc, seed_list, s) for s in cross.symbols}, cross.symbols)
    real = drop_ratios({s: real_figures(cross.event, s) for s in cross.symbols}, cross.symbols)
    first = cross.symbols[0][:-4]
    lines = [f"| drop as a multiple of {first}'s | {cross.event} | {cross.scenario}: p5 / p50 / p95 | |",
             "|---|---|---|---|"]
    for sym in cross.symbols[1:]:
        for key, label in (("drop_hl", "high to low"), ("drop_cc", "close to close")):
            p5, p50, p95 = np.percentile(ours[sym][key], (5, 50, 95))
            tol = RATIO_TOLERANCES[key]
            mark = f"matches ({tol})" if tol.holds(float(p50), float(real[sym][key])) else f"**off** ({tol})"
            lines.append(f"| {sym[:-4]}, {label} | {float(real[sym][key]):.2f} | {p5:.2f} / {p50:.2f} / {p95:.2f} "
                         f"| {mark} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    from pytest_stress.market.fidelity import CITATIONS, CROSS_SYMBOL, real_figures

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40, help="seeds per scenario (default 40)")
    ap.add_argument("--sentences", action="store_true", help="also print each description's 'Differs' sentence")
    args = ap.parse_args(argv)
    print("Real events (Binance spot; 10 October 2025: USDⓈ-M perpetual trade prices; hourly; "
          "pytest_stress/market/event_data):\n")
    print("\n".join(real_table()))
    for c in CITATIONS:
        lines, took = scenario_table(c, args.seeds)
        print(f"\n{c.scenario} (cites {c.cited}; {args.seeds} seeds, {took:.2f} s):\n")
        print("\n".join(lines))
        if args.sentences and c.event:
            print("\n" + c.differs_sentence(real_figures(c.event, c.symbol)))
    for x in CROSS_SYMBOL:
        print(f"\n{x.scenario} on {', '.join(x.symbols)} (cites {x.event}; {args.seeds} seeds):\n")
        print("\n".join(ratio_table(x, args.seeds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
