"""Command line: ``pytest-stress`` (or ``python -m pytest_stress``).

- ``list``: the scenario library: names, ids, types, key figures;
- ``run NAME... --trader MODULE:FACTORY``: run scenarios against your trader, print the
  summary table, exit 1 if a run failed (``--json``, ``--report`` to keep the results);
- ``report RESULTS.json -o report.html``: the HTML report of a saved run;
- ``types``: the scenario types and their parameters (with ranges);
- ``demo``: build each stress on one synthetic market and print what it did;
- ``metrics``: the metric table (``--markdown``: as in docs/metrics.md).
- ``serve --trader MODULE:FACTORY``: the stress-testing service over HTTP (the README's "The service").

Every bad input ends with a one-line error naming it (exit status 2), never a traceback.
``--help`` shows ``DESCRIPTION`` below: the same in plain text.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


#: What ``pytest-stress --help`` says before the commands (plain text: the terminal shows it as written).
DESCRIPTION = """\
Stress-test a trading system from the command line: run library scenarios against your
trader and print the summary table, draw the HTML report of a saved run, or serve runs
over HTTP. Every bad input ends with a one-line error naming it (exit status 2).

  pytest-stress list                              the scenario library
  pytest-stress run NAME... --trader MODULE:FACTORY [--paths N] [--json FILE] [--report FILE]
  pytest-stress report RESULTS.json -o report.html
  pytest-stress COMMAND --help                    a command's options

The README (the project's description on the package index; "The command line" and "The
service" sections) has the details.
"""


# -- argument types ----------------------------------------------------------------
def _int_at_least(low: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number ({what})") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value}: expected {what}")
        return value
    return parse


_BARS = _int_at_least(2, "at least 2 bars")
_SEED = _int_at_least(0, "a seed >= 0")
_COUNT = _int_at_least(1, "a whole number >= 1")


def load_factory(spec: str) -> Callable[[], Any]:
    """The callable named by ``MODULE:ATTRIBUTE`` (the attribute may be dotted, e.g. ``mod:Cls.build``).

    The current directory is importable, as with ``python -m``. Raises ``ValueError`` with
    a one-line message naming the module or attribute and the exception.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--trader {spec!r}: expected MODULE:FACTORY, e.g. my_bot.traders:MyTrader")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:   # the user's module: any import-time error is reported, not raised
        raise ValueError(f"--trader {spec!r}: cannot import module {module_name!r}: "
                         f"{type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            from .errors import close_matches   # lazy: each command imports only what it needs

            hints = close_matches(part, names)
            raise ValueError(f"--trader {spec!r}: module {module_name!r} has no attribute {attr!r}"
                             + (f"; did you mean {' or '.join(repr(h) for h in hints)}?" if hints else "")) from None
    if not callable(obj):
        raise ValueError(f"--trader {spec!r}: {attr} is a {type(obj).__name__}, not a callable that builds a trader")
    return obj


# -- commands ----------------------------------------------------------------------
def _demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import numpy as np   # lazy: each command imports only what it needs

    from .scenario import DEFAULT_SEED, KINDS, Scenario, params_for   # lazy: each command imports only what it needs

    seed = DEFAULT_SEED if args.seed is None else args.seed   # one market for every stress
    examples = [(stype, kind, dict(kind.example)) for stype, kind in KINDS.items() if not kind.needs_data]
    need = max(kind.min_bars(params_for(stype).validate(params, "demo")) for stype, kind, params in examples)
    if args.bars < need:
        parser.error(f"argument --bars: {args.bars}: the demo applies every stress type's example to one market, "
                     f"and the longest stress window needs at least {need} bars")
    rows = []
    for stype, kind, params in examples:
        symbols = ("BTCUSDT", "ETHUSDT", "SOLUSDT")[:kind.min_symbols(params)]
        sc = Scenario(stype.value, stype, params, symbols=symbols, bars=args.bars, seed=seed)
        views = sc.build_market()
        base, true = views.base, views.true
        c0, c1 = base.close[0], true.close[0]
        r0, r1 = np.diff(np.log(c0)), np.diff(np.log(c1))
        rows.append((stype.value, f"{c1.min() / c0[0] - 1:+.1%}", f"{c1.max() / c0[0] - 1:+.1%}",
                     f"{r1.std() / r0.std():.2f}x", f"{np.median(true.spread / base.spread):.1f}x/"
                     f"{(true.spread / base.spread).max():.1f}x",
                     f"{(true.volume / base.volume).min():.2f}x", f"{int(views.corrupted.sum())}"))
    head = ("scenario type", "low vs start", "high vs start", "return vol", "spread med/max", "min volume",
            "bad feed bars")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(f"{args.bars} bars of 1h BTCUSDT, seed {seed}: what each stress did to the synthetic base")
    for r in [head, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
    return 0


def _types(args: argparse.Namespace) -> int:
    from .scenario import ScenarioType, params_for   # lazy: each command imports only what it needs

    for stype in ScenarioType:
        print(stype.value)
        for p in params_for(stype).values():
            print(f"    {p.name:<32} default {p.default!r:<12} {p.describe_range()}: {p.doc}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from . import library   # lazy: each command imports only what it needs

    for s in library.all():
        figures = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in s.own_parameters().items())
        print(f"{s.name}  [{library.slug(s.name)}]  {s.type.value}: {', '.join(s.symbols)}, "
              f"{s.length_label()}, seed {s.seed}")
        if figures:
            print(f"    {figures}")
        if args.verbose and s.description:
            print(f"    {s.description}")
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from .result.metrics import METRICS, markdown_table   # lazy: each command imports only what it needs

    if args.markdown:
        print(markdown_table())
        return 0
    for m in METRICS:
        print(f"{m.name:<28} worse: {m.worse:<8} {m.definition}")
    return 0


def _scenarios(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Any]:
    from . import library   # lazy: each command imports only what it needs
    from .errors import StressError   # lazy: each command imports only what it needs

    overrides = {k: v for k, v in (("bars", args.bars), ("seed", args.seed)) if v is not None}
    out = []
    for name in args.names:
        try:
            out.append(library.get(name, **overrides))
        except StressError as exc:
            parser.error(str(exc))
    return out


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from .errors import StressError   # lazy: each command imports only what it needs
    from .plugin.session import summarize   # lazy: each command imports only what it needs
    from .progress import Progress   # lazy: each command imports only what it needs
    from .runner import exchange_config, run_batch, run_paths   # lazy: each command imports only what it needs

    try:
        factory = load_factory(args.trader)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        factory()   # build one now, so that a factory that cannot build fails here with its own error
    except Exception as exc:   # the user's factory: report what it raised, in one line
        parser.error(f"--trader {args.trader!r}: calling it to build a trader raised {type(exc).__name__}: {exc}")
    try:
        exchange = exchange_config(args.exchange)
    except StressError as exc:
        parser.error(f"--exchange: {exc}")
    scenarios = _scenarios(parser, args)
    account = None
    if args.account is not None:
        from .account.rules import account_from   # lazy: each command imports only what it needs

        try:
            account = account_from(args.account)
        except StressError as exc:
            parser.error(f"--account: {exc}")
    claims = _claims(parser, args)
    _check_outputs(parser, args)     # before the run: a path that cannot be written fails now, not after it
    started = time.perf_counter()
    cases: list[tuple[str, Any, Any]] = []   # (label, scenario, ScenarioResult | PathsResult | BreakingCase)

    if claims is not None:
        cases += _breaking_points(parser, args, scenarios, factory, exchange, account, claims)
    elif args.paths:
        # each path reduced to its metric row where it ran (run_paths): memory per path, not per run
        with Progress(len(scenarios) * args.paths, "path") as progress:
            for sc in scenarios:
                progress.describe(sc.name)
                res = run_paths(sc, factory, args.paths, exchange, account=account, workers=args.workers,
                                progress=progress.advance)
                cases.append((f"{sc.name} ({args.paths} paths: medians)", sc, res))
                progress.write(_verdict_line(sc.name, res), quiet=True)
    else:
        with Progress(len(scenarios), "scenario") as progress:
            def done(result: Any) -> None:
                progress.write(_verdict_line(result.scenario_name, result), quiet=True)
                progress.advance()

            batch = run_batch(scenarios, factory, exchange, max_workers=args.workers, account=account,
                              progress=done).results
        cases += [(sc.name, sc, r) for sc, r in zip(scenarios, batch)]
    elapsed = time.perf_counter() - started
    from .result.table import format_table   # lazy: each command imports only what it needs

    rows = []
    for label, _sc, res in cases:
        s = summarize(res)
        if s.get("breaking_point"):
            label = f"{label}: {s['note']}"
        if s.get("paths"):   # "NAME (N paths: medians; worst seed S)"
            label = f"{label[:-1]}; worst seed {s['worst_seed']})"
        rows.append({"case": label,
                     "success": s["success"], "error": s.get("error"), **_decoded(s["metrics"])})
    print(format_table(rows, label="case", label_header="scenario"))
    failed = [label for label, _, res in cases if not getattr(res, "result", res).success]
    print(f"{len(cases)} case(s) in {elapsed:.1f}s"
          + (f"; {len(failed)} failed: {', '.join(failed)}" if failed else ""))
    if args.json or args.report:
        results = _summaries(cases, exchange, args)
        command = "pytest-stress run " + " ".join(_quote(a) for a in args.argv)
        options = {"trader": args.trader, "exchange": args.exchange, "account": args.account, "bars": args.bars,
                   "seed": args.seed, "paths": args.paths, "command": command}
        if claims is not None:
            options.update(breaking_point=args.breaking_point, check=str(claims))
        problems = []   # the paths were checked before the run; what still fails (a full disk) is said, each
        if args.json:
            from .plugin.storage import save_results   # lazy: each command imports only what it needs

            try:
                print(f"results saved to {save_results(args.json, results, options, fresh=True, what='--json')}")
            except StressError as exc:
                problems.append(str(exc))
        if args.report:
            from .report.html import write_report   # lazy: matplotlib only when a report is asked for

            try:
                shown = {k: v for k, v in options.items() if k != "command"}
                print(f"report written to {write_report(args.report, results, options=shown, command=command)}")
            except StressError as exc:
                problems.append(f"--report: {exc}")
        for problem in problems:   # one line each, after the results, without the usage text
            print(f"{parser.prog}: error: {problem}", file=sys.stderr)
        if problems:
            return 2
    return 1 if failed else 0


def _claims(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The ``--check`` claims of a ``--breaking-point`` run (None without it); usage errors before anything runs."""
    from .errors import StressError   # lazy: each command imports only what it needs

    search = [flag for flag, given in (("--check", args.check), ("--search-range", args.search_range),
                                       ("--precision", args.precision)) if given is not None]
    if args.breaking_point is None:
        if search:
            parser.error(f"{', '.join(search)}: only with --breaking-point")
        return None
    if args.paths:
        parser.error("--breaking-point decides each level with the sequential verdict over paths; --paths runs a "
                     "fixed-size Monte Carlo: use one or the other")
    if not args.check:
        parser.error("--breaking-point needs at least one --check 'METRIC OP NUMBER', such as --check "
                     "'liquidations == 0'")
    from .claims import Claims, parse_claim   # lazy: each command imports only what it needs

    try:
        return Claims([parse_claim(text) for text in args.check])
    except StressError as exc:
        parser.error(f"--check: {exc}")


def _breaking_points(parser: argparse.ArgumentParser, args: argparse.Namespace, scenarios: list[Any],
                     factory: Callable[[], Any], exchange: Any, account: Any,
                     claims: Any) -> list[tuple[str, Any, Any]]:
    """Each scenario's breaking point (``breaking.find_breaking_point``), printed as it is found,
    with the run where the claims held at the bracket's passing end."""
    from .breaking import find_breaking_point, run_where_it_held   # lazy: each command imports only what it needs
    from .errors import StressError   # lazy: each command imports only what it needs
    from .result.breaking import BreakingCase   # lazy: each command imports only what it needs

    from .progress import Progress, level_note, levels_of   # lazy: each command imports only what it needs

    parameter = args.breaking_point if isinstance(args.breaking_point, str) else None
    low, high = args.search_range or (None, None)
    per_scenario = levels_of(args.search_range, args.precision, parameter)
    axis = parameter or "severity"
    out = []
    with Progress(per_scenario * len(scenarios), "level") as progress:
        for k, sc in enumerate(scenarios):
            started = time.perf_counter()
            progress.describe(sc.name)
            try:
                bp = find_breaking_point(sc, factory, claims, parameter=parameter, low=low, high=high,
                                         precision=args.precision, exchange=exchange, account=account,
                                         workers=args.workers,
                                         on_level=lambda level: progress.advance(note=level_note(level, axis)))
            except StressError as exc:
                progress.close()
                parser.error(f"--breaking-point: {exc}")
            progress.write(f"{bp}\n  checked on every path: {claims}; {time.perf_counter() - started:.1f}s\n",
                           file=sys.stdout)
            progress.advance(max(0, per_scenario * (k + 1) - progress.count), note="")   # the estimate's rest
            result, _ = run_where_it_held(bp, sc, factory, exchange, account=account)
            out.append((sc.name, sc, BreakingCase(result, bp)))
    return out


def _check_outputs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--json`` and ``--report``: each a file that can be written (``outputs.check_output_path``), and
    ``--report`` with matplotlib installed, checked before anything runs."""
    from .errors import StressError   # lazy: each command imports only what it needs
    from .outputs import check_output_path   # lazy: each command imports only what it needs

    for flag, path, example in (("--json", args.json, "results.json"), ("--report", args.report, "report.html")):
        if path is not None:
            try:
                check_output_path(path, flag, example)
            except StressError as exc:
                parser.error(str(exc))
    if args.report is not None:
        import importlib.util   # lazy: only --report needs it

        if importlib.util.find_spec("matplotlib") is None:
            parser.error("--report needs matplotlib; install it with pip install 'pytest-stress-trading[report]'")
    if args.json is not None and args.report is not None and Path(args.json).resolve() == Path(args.report).resolve():
        parser.error(f"--json and --report name the same file {args.json!r}; give each its own")


def _verdict_line(name: str, result: Any) -> str:
    """A finished case's line above the progress bar: its verdict (the run failed or not, as the
    table and the exit status say) and key figures."""
    if hasattr(result, "failures"):      # a PathsResult: how many paths ran, the median drawdown
        failed = len(result.failures)
        if failed:
            return f"FAILED  {name}: {failed} of {result.paths} paths failed"
        return (f"passed  {name}: {result.paths} paths, median max drawdown "
                f"{result.percentile('max_drawdown', 50):.2f}%")
    if not result.success:
        return f"FAILED  {name}: {(str(result.error or '').splitlines() or [''])[0][:100]}"
    return (f"passed  {name}: max drawdown {result.max_drawdown:.2f}%, return {result.total_return_pct:+.2f}%, "
            f"{result.total_trades} trades")


def _decoded(metrics: dict[str, Any]) -> dict[str, Any]:
    from .result.jsonform import decode   # lazy: each command imports only what it needs

    return decode(metrics)


def _quote(text: str) -> str:
    import shlex   # lazy: each command imports only what it needs

    return shlex.quote(text)


def _summaries(cases: list[tuple[str, Any, Any]], exchange: Any, args: argparse.Namespace) -> dict[str, Any]:
    from . import library   # lazy: each command imports only what it needs
    from .plugin.session import summarize   # lazy: each command imports only what it needs
    from .report.payload import case_payload   # lazy: each command imports only what it needs

    out = {}
    for _label, sc, res in cases:
        s = summarize(res)
        if s.get("breaking_point"):   # the run shown beside it: where the claims held, on its own scenario
            from .breaking import scenario_at   # lazy: each command imports only what it needs

            bp = res.breaking_point
            sc, res = scenario_at(sc, next(x for x in bp.bracket if x is not None), bp.parameter), res.result
        s["outcome"] = "passed" if res.success else "failed"
        s["report"] = case_payload(res, sc, exchange)
        key = f"run[{library.slug(sc.name)}]" + (f"[{args.paths}-paths]" if args.paths else "")
        out[key] = s
    return out


def _report(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from .errors import StressError   # lazy: each command imports only what it needs

    try:
        results, options = read_results(args.results)
    except StressError as exc:
        parser.error(str(exc))
    from .report.html import no_chart_reason, write_report   # lazy: matplotlib only when a report is asked for

    started = time.perf_counter()
    try:
        path = write_report(args.output, results, options={k: v for k, v in options.items() if k != "command"},
                            command=options.get("command"), title=args.title)
    except StressError as exc:
        parser.error(str(exc))
    print(f"report of {len(results)} case(s) written to {path} ({path.stat().st_size / 1e3:,.0f} KB, "
          f"{time.perf_counter() - started:.1f}s)")
    reason = no_chart_reason(results)
    if reason:
        print(f"{reason}")
    return 0


def read_results(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``({test id: summary}, options)`` from a file written by ``--stress-save`` or ``run --json``
    (``plugin/storage.py`` checks it: version, entries, metrics)."""
    from .plugin.storage import load_results   # lazy: each command imports only what it needs

    from .errors import StressError   # lazy: each command imports only what it needs

    if not Path(path).exists():
        raise StressError(f"no results file at {str(path)!r} (write one with pytest --stress-save=PATH, or "
                          "pytest-stress run ... --json PATH)")
    results = load_results(path, what="pytest-stress report")
    try:
        options = json.loads(Path(path).read_text(encoding="utf-8")).get("options") or {}
    except (OSError, ValueError, AttributeError):
        options = {}
    return results, options


# -- parser ------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The ``pytest-stress`` argument parser (every sub-command)."""
    parser = argparse.ArgumentParser(prog="pytest-stress", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lst = sub.add_parser("list", help="the scenario library: names, ids, types, key figures")
    lst.add_argument("-v", "--verbose", action="store_true", help="also print each scenario's description")
    lst.set_defaults(func=lambda p, a: _list(a), subparser=lst)

    run = sub.add_parser("run", help="run scenarios against your trader and print the summary table")
    run.add_argument("names", nargs="+", metavar="NAME", help="library scenario names or ids (see: pytest-stress list)")
    run.add_argument("--trader", required=True, metavar="MODULE:FACTORY",
                     help="a zero-argument callable building a fresh trader, e.g. my_bot.traders:MyTrader")
    run.add_argument("--paths", type=_COUNT, default=None, metavar="N", help="Monte Carlo: N seeded market paths each")
    run.add_argument("--bars", type=_BARS, default=None, metavar="N", help="override every scenario's bar count")
    run.add_argument("--seed", type=_SEED, default=None, metavar="N", help="override every scenario's seed")
    run.add_argument("--exchange", default="calm", metavar="PRESET", help="frictionless, calm (default) or stressed")
    run.add_argument("--account", default=None, metavar="ACCOUNT",
                     help="the account to trade in: a preset (margin, cash, reg-t, perpetual) or NAME:key=value,... "
                          "such as perpetual:leverage=10 (default: margin, 1x)")
    run.add_argument("--workers", type=_COUNT, default=None, metavar="N",
                     help="worker processes for the scenarios, or for the paths of each with --paths "
                          "(default: all cores; 1: in this process)")
    run.add_argument("--breaking-point", nargs="?", const=True, default=None, metavar="PARAMETER",
                     help="a reverse stress test: the mildest severity of each scenario (or value of PARAMETER, such "
                          "as drop_pct) at which a --check fails on more paths than the verdict tolerates")
    run.add_argument("--check", action="append", default=None, metavar="'METRIC OP NUMBER'",
                     help="with --breaking-point: a claim each path must hold, such as 'liquidations == 0' or "
                          "'max_drawdown < 25' (repeat for several)")
    run.add_argument("--search-range", nargs=2, type=float, default=None, metavar=("LOW", "HIGH"),
                     help="with --breaking-point: the range searched (severities, default 0 4; or PARAMETER's values, "
                          "LOW the mildest)")
    run.add_argument("--precision", type=float, default=None, metavar="P",
                     help="with --breaking-point: the bracket's width at most (default 0.05 severity, or 1%% of "
                          "PARAMETER's range)")
    run.add_argument("--json", default=None, metavar="FILE", help="save the results (the --stress-save format)")
    run.add_argument("--report", default=None, metavar="FILE", help="write the HTML report")
    run.set_defaults(func=_run, subparser=run)

    rep = sub.add_parser("report", help="the HTML report of a results file (--stress-save or run --json)")
    rep.add_argument("results", metavar="RESULTS.json")
    rep.add_argument("-o", "--output", default="stress-report.html", metavar="FILE",
                     help="where to write the report (default: stress-report.html)")
    rep.add_argument("--title", default="pytest-stress report", help="the page title")
    rep.set_defaults(func=_report, subparser=rep)

    typ = sub.add_parser("types", help="list scenario types and their parameters")
    typ.set_defaults(func=lambda p, a: _types(a), subparser=typ)
    demo = sub.add_parser("demo", help="apply every stress to one synthetic market and print what it did")
    demo.add_argument("--bars", type=_BARS, default=1000, metavar="N",
                      help="the market's length (default 1000; at least what the longest stress window needs)")
    demo.add_argument("--seed", type=_SEED, default=None, help="the market's seed (default: DEFAULT_SEED)")
    demo.set_defaults(func=_demo, subparser=demo)
    met = sub.add_parser("metrics", help="list the metrics: name, which direction is worse, definition")
    met.add_argument("--markdown", action="store_true", help="print the table of docs/metrics.md")
    met.set_defaults(func=lambda p, a: _metrics(a), subparser=met)
    from .service.serve import add_arguments, run_command   # lazy: the service's options (FastAPI only when serving)

    srv = sub.add_parser("serve", help="the stress-testing service: background runs over HTTP, live progress, "
                                       "history, a dashboard (extra 'server')")
    add_arguments(srv)
    srv.set_defaults(func=lambda p, a: run_command(p, a, load_factory), subparser=srv)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv[1:]
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console.addFilter(lambda record: record.levelno >= logging.WARNING)   # a progress display may ask for INFO
    logging.basicConfig(level=logging.WARNING, handlers=[console])
    try:
        return args.func(args.subparser, args)   # the sub-command's parser: its errors name the sub-command
    except BrokenPipeError:       # the output's reader went away (pytest-stress list | head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())   # so that the interpreter's final flush does not fail again
        return 1                                # as Python itself exits on a broken pipe
