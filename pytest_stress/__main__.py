"""Command line: ``python -m pytest_stress`` (or ``pytest-stress``).

- ``types``: the scenario types and their parameters (with ranges);
- ``demo``: build each stress on one synthetic market and print what it did;
- ``metrics``: the metric table (``--markdown``: as in docs/metrics.md).
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

log = logging.getLogger("pytest_stress")


def _demo(args: argparse.Namespace) -> int:
    import numpy as np   # lazy here and below: each command imports only what it needs

    from .scenario import KINDS, Scenario   # lazy: each command imports only what it needs

    rows = []
    for stype, kind in KINDS.items():
        if kind.needs_data:
            continue
        params = dict(kind.example)
        symbols = ("BTCUSDT", "ETHUSDT", "SOLUSDT")[:kind.min_symbols(params)]
        sc = Scenario(stype.value, stype, params, symbols=symbols, bars=args.bars, seed=args.seed)
        views = sc.build_market()
        base, true, feed = views.base, views.true, views.feed
        c0, c1 = base.close[0], true.close[0]
        r0, r1 = np.diff(np.log(c0)), np.diff(np.log(c1))
        rows.append((stype.value, f"{c1.min() / c0[0] - 1:+.1%}", f"{c1.max() / c0[0] - 1:+.1%}",
                     f"{r1.std() / r0.std():.2f}x", f"{np.median(true.spread / base.spread):.1f}x/"
                     f"{(true.spread / base.spread).max():.1f}x",
                     f"{(true.volume / base.volume).min():.2f}x", f"{int(views.corrupted.sum())}"))
    head = ("scenario type", "low vs start", "high vs start", "return vol", "spread med/max", "min volume",
            "bad feed bars")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(f"{args.bars} bars of 1h BTCUSDT, seed {args.seed}: what each stress did to the synthetic base")
    for r in [head, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
    return 0


def _list(args: argparse.Namespace) -> int:
    from .scenario import ScenarioType, params_for   # lazy: each command imports only what it needs

    for stype in ScenarioType:
        print(stype.value)
        for p in params_for(stype).values():
            print(f"    {p.name:<32} default {p.default!r:<12} {p.describe_range()}: {p.doc}")
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from .result.metrics import METRICS, markdown_table   # lazy: each command imports only what it needs

    if args.markdown:
        print(markdown_table())
        return 0
    for m in METRICS:
        print(f"{m.name:<28} worse: {m.worse:<8} {m.definition}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pytest-stress", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="apply every stress to one synthetic market and print what it did")
    demo.add_argument("--bars", type=int, default=1000)
    demo.add_argument("--seed", type=int, default=20210519)
    demo.set_defaults(func=_demo)
    lst = sub.add_parser("types", help="list scenario types and their parameters")
    lst.set_defaults(func=_list)
    met = sub.add_parser("metrics", help="list the metrics: name, which direction is worse, definition")
    met.add_argument("--markdown", action="store_true", help="print the table of docs/metrics.md")
    met.set_defaults(func=_metrics)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
