"""The pytest plugin module (entry point ``stress``): options, marker, parametrisation,
results from every case (xdist workers included) to one table, baselines.

Start-up. This module is imported by every pytest process of an environment where pytest-stress
is installed (each xdist worker and the controller too), whether or not the session has a
stress test. So it imports only pytest, the standard library and the plugin's own light
modules; the simulation, the scenario library, numpy and the result tables are imported when
a session first needs them (a ``@stress`` test collected, a case run, a baseline compared).
``tests/test_startup.py`` checks this in a subprocess.

Assertion rewriting. pytest marks every top-level package of a distribution that registers a
``pytest11`` plugin for assertion rewriting (``Config._mark_plugins_for_rewrite``), so the whole
of ``pytest_stress`` would be parsed and rewritten on import in every process; where no
rewritten ``.pyc`` can be cached (``PYTHONDONTWRITEBYTECODE=1``, read-only installs) that is
paid again by every process. The package holds no assertion a user reads, so the plugin narrows
the mark to what is imported before it can act: this module and its two parent packages
(``_rewrite_only_the_plugin``; ``benchmarks/bench_plugin.py`` measures the effect).

Under xdist, each worker's collection is ordered so that every worker starts on one of the
longest units (``_spread_longest``), which the ``load`` scheduler would otherwise hand out
in file order, often one after another to the same worker at the end of the run.
"""
from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest

_PACKAGE = __name__.partition(".")[0]


def _rewrite_only_the_plugin(hook: object) -> bool:
    """Narrow pytest's assertion rewriting from the whole package to the modules imported so far
    (this one and its two parent packages, see the module docstring): every later import of
    ``pytest_stress.*`` is compiled as plain Python. pytest offers no public way to unmark a
    name (pytest-dev/pytest#2419), so this reads the rewrite hook's set of marked names; if pytest
    ever stores them otherwise, nothing changes (all stays rewritten, only slower;
    ``tests/test_startup.py`` would say so). Returns whether it unmarked."""
    marked = getattr(hook, "_must_rewrite", None)
    if not isinstance(marked, set) or _PACKAGE not in marked:
        return False
    marked.discard(_PACKAGE)
    hook.mark_rewrite()   # type: ignore[attr-defined]   # marks nothing more; clears the hook's cached decisions
    return True


# Before the plugin's own imports below, so that they are not rewritten either: the hook that
# pytest installed for this session is the first of its kind on sys.meta_path (found by name,
# not imported: nothing here may fail to import). pytest_addoption repeats this with the
# session's own hook, for in-process pytester runs.
_rewrite_only_the_plugin(next((f for f in sys.meta_path if type(f).__name__ == "AssertionRewritingHook"), None))

from .conflicts import refuse_conflicting_install   # noqa: E402

# Before anything that needs this project's pytest_stress/__init__.py: the unrelated pytest-stress,
# installed beside it, may have replaced it (conflicts.py).
refuse_conflicting_install()

from .. import __version__   # noqa: E402
from ..account.rules import account_from   # noqa: E402
from ..errors import StressError   # noqa: E402
from .fixtures import CASE_FAILURE_KEY, BreakingPlan   # noqa: E402
from .fixtures import (exchange_sim, stress_account, stress_base_data, stress_exchange,  # noqa: F401
                       stress_result, stress_runner, stress_scenario, trader_factory, trader_under_test)
from .marker import OVERRIDES, StressSpec   # noqa: E402
from .options import StressOptions, add_options   # noqa: E402
from .reporting import (pytest_html_results_table_header, pytest_html_results_table_html,  # noqa: F401
                        pytest_html_results_table_row, case_extras, check_report_option, where_lines,
                        write_session_report)
from .session import REGRESSED, RESULT_KEY, SESSION_KEY, VERDICT_KEY, StressSession, summarize   # noqa: E402
from .timelimit import apply_time_limits, describe_time_limit, register_clocks, timed_out_summary   # noqa: E402

log = logging.getLogger("pytest_stress")

_STRESS_FIXTURES = {"stress_scenario", "stress_result", "stress_exchange", "exchange_sim"}


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    _rewrite_only_the_plugin(getattr(pluginmanager, "rewrite_hook", None))   # this session's hook, before any conftest.py
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stress(*scenarios, **overrides): run the test once per scenario (library names or Scenario objects; "
        "none: the whole library). Overrides: " + ", ".join(OVERRIDES))
    stress = StressSession(config, StressOptions.from_config(config))
    check_report_option(stress.options)
    if not stress.is_worker:   # the controller writes and reads these files: checked before any case runs
        stress.options.check_paths()
    config.stash[SESSION_KEY] = stress
    config.pluginmanager.register(stress, "stress-session")   # per config: receives its reports
    register_clocks(config, stress.options.timeout_grace)    # stress cases' time limits (timelimit.py)
    worker = getattr(config, "workerinput", {})
    if (worker.get("stress_dist") == "load" and worker.get("workercount")
            and not config.getoption("failedfirst", False) and not config.pluginmanager.hasplugin("randomly")):
        config.pluginmanager.register(_XdistOrder(int(worker["workercount"])), "stress-xdist-order")


def pytest_report_header(config: pytest.Config) -> str:
    opts = config.stash[SESSION_KEY].options
    seeds = "each scenario's own fixed seed" if opts.seed is None else f"seed {opts.seed}"
    decide = ("each case decided over its scenario's paths" if opts.verdict == "scenario"
              else "single seeds (one draw each, not a verdict about the scenario)")
    return (f"pytest-stress {__version__}: exchange {opts.exchange}, "
            f"account {account_from(opts.account).describe()}, {seeds}, {decide}, {describe_time_limit(config, opts)}; "
            f"reproduce with: {opts.reproduce()}")


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.option.stress_list:
        return None
    from _pytest.config import create_terminal_writer   # as pytest's own --markers does
    from .. import library   # lazy: the scenario library (numpy, the market) only when it is listed

    config._do_configure()   # conftest.py files may register scenarios
    tw = create_terminal_writer(config)
    for s in library.all():
        tw.line(f"{s.name}  [{library.slug(s.name)}]  {s.type.value}, {', '.join(s.symbols)}, {s.length_label()},"
                f" seed {s.seed}", bold=True)
        tw.line(f"    {s.description}")
    config._ensure_unconfigure()
    return 0


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marks = list(metafunc.definition.iter_markers("stress"))
    if not marks:
        return
    if not _STRESS_FIXTURES & set(metafunc.fixturenames):
        pytest.fail(f"@stress on {metafunc.function.__name__}: the test must use stress_result (or "
                    "stress_scenario / exchange_sim) to receive its scenario", pytrace=False)
    params, ids, problem = [], [], None
    options = metafunc.config.stash[SESSION_KEY].options
    try:
        for mark in reversed(marks):   # decorators apply bottom-up; keep them in reading order
            spec = StressSpec.from_marker(mark)
            if spec.mode(options) in ("scenario", "breaking"):
                spec.rule(options)     # the knobs together, with the session's (pass below fail, enough paths)
            params += [(spec, item) for item in spec.scenarios]
            ids += spec.ids()
    except StressError as exc:
        problem = f"@stress on {metafunc.function.__name__}: {exc}"
    if problem:
        pytest.fail(problem, pytrace=False)
    metafunc.parametrize("stress_scenario", params, ids=ids, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "stress_runner" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("stress"):
            item.add_marker(pytest.mark.stress)   # so -m stress selects property tests too
    apply_time_limits(config, items, config.stash[SESSION_KEY].options)
    _select_scenarios(config, items)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, on the controller: tell each worker which scheduler hands its tests out (a worker's
    own ``dist`` option reads "no")."""
    node.workerinput["stress_dist"] = node.config.getoption("dist", "no")

def _select_scenarios(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--stress-scenario``: deselect the stress cases of other scenarios."""
    wanted = config.stash[SESSION_KEY].options.scenarios
    if not wanted:
        return
    from .. import library   # lazy: the scenario library only when --stress-scenario selects from it

    try:
        names = {library.get(w).name for w in wanted}
    except StressError as exc:
        raise pytest.UsageError(f"--stress-scenario: {exc}") from None
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        param = callspec.params.get("stress_scenario") if callspec else None
        if param is None:
            keep.append(item)
            continue
        scenario = param[1]
        name = scenario if isinstance(scenario, str) else scenario.name
        (keep if name in names else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _cost(item: pytest.Item) -> float:
    """A test's expected simulation work, for ordering only: bars x symbols x paths of a stress
    case (read from its marker and scenario, nothing built); a test running scenarios through
    ``stress_runner`` (a property test: one test, many runs) counts as the largest; any other
    test as none."""
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get("stress_scenario") if callspec else None
    if param is None:
        return float("inf") if "stress_runner" in getattr(item, "fixturenames", ()) else 0.0
    from .. import library   # lazy: loaded already, by the marker's checks at collection

    spec, scenario = param
    base = library.get(scenario) if isinstance(scenario, str) else scenario
    # over given data (a replay) ``bars`` does not apply: the data's own count (a replay's ``bars``)
    bars = base.bars if base.data is not None else spec.overrides.get("bars") or base.bars
    symbols = spec.overrides.get("symbols") or base.symbols
    count = 1 if isinstance(symbols, str) else len(symbols)
    return float(bars * count * (spec.overrides.get("paths") or 1))


class _XdistOrder:
    """On an xdist worker under the ``load`` scheduler (and no other ordering asked for:
    ``--failed-first``, pytest-randomly): sort the collection after every deselection, the
    same way on every worker (xdist requires one collection)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        _spread_longest(items, self.workers)


def _spread_longest(items: list[pytest.Item], workers: int) -> None:
    """Order the cases so that each xdist worker starts on one of the longest units.

    xdist's ``load`` scheduler sends each worker a first chunk of consecutive tests (a quarter
    of its share, at least 2; one each when there are fewer than two per worker) and then keeps
    every worker two tests ahead, in collection order. A 50-path Monte Carlo case and a property
    test collected side by side near the end (as in ``conftest_examples``) thus run one after
    the other on one worker, the run's tail, while the other worker has nothing left. Here the
    ``workers`` longest units open the workers' first chunks, the shortest tests fill those
    chunks, and the rest follow longest first. Only the order changes (identically on every
    worker, as xdist requires); with another xdist scheduler nothing is done."""
    if len(items) <= workers:
        return
    costs = {id(item): _cost(item) for item in items}
    ranked = sorted(items, key=lambda item: -costs[id(item)])   # stable: equal costs keep their order
    if not costs[id(ranked[0])]:
        return                        # no stress case at all: the collection order stays
    chunk = 1 if len(items) < 2 * workers else max(2, len(items) // workers // 4)
    heads, rest = ranked[:workers], ranked[workers:]
    fill = rest[len(rest) - min(len(rest), workers * (chunk - 1)):][::-1]   # the shortest, shortest first
    rest = rest[:len(rest) - len(fill)]
    order: list[pytest.Item] = []
    for head in heads:
        order += [head, *fill[:chunk - 1]]
        fill = fill[chunk - 1:]
    items[:] = order + fill + rest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A case decided over its scenario's paths: run the test body on path after path (the
    fixture ran path 0) until the verdict is decided; fail the test with the verdict's account
    if it is FAIL. The body's ``stress_result`` (and ``trader_under_test``) are each path's.

    A case whose run failed during setup (``fixtures.CASE_FAILURE_KEY``) fails here, as the test
    is called, with that exception: a FAILED test, not an ERROR in a fixture."""
    __tracebackhide__ = True
    failure = pyfuncitem.stash.get(CASE_FAILURE_KEY, None)
    if failure is not None:
        raise failure
    plan = pyfuncitem.stash.get(VERDICT_KEY, None)
    if plan is None:
        return None
    body = pyfuncitem.obj
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    def call_body(result: Any, trader: Any) -> None:
        call = {**args, "stress_result": result}
        if "trader_under_test" in call:
            call["trader_under_test"] = trader
        body(**call)

    def check(result: Any, trader: Any) -> None:
        try:
            call_body(result, trader)
        except pytest.fail.Exception as exc:   # pytest.fail() in the body: a failed claim on this path
            raise AssertionError(exc.msg) from None

    if isinstance(plan, BreakingPlan):
        _breaking_point_case(pyfuncitem, plan, call_body)
        return True
    verdict = plan.run(check)
    spec = pyfuncitem.callspec.params["stress_scenario"][0]
    pyfuncitem.stash[RESULT_KEY] = (verdict, spec.overrides.get("tolerance"))
    if not verdict.passed:
        opts = pyfuncitem.config.stash[SESSION_KEY].options
        pytest.fail(_verdict_failure(verdict, pyfuncitem.nodeid, opts), pytrace=False)
    return True


def _breaking_point_case(item: pytest.Function, plan: BreakingPlan, call_body: Any) -> None:
    """Search the breaking point with the test body as the check (up to its first reading of
    ``stress_result.breaking_point``), then call the body once more with the answer on a path that
    held at the bracket's passing end. A body that never reads the answer fails when the scenario
    as defined is at or past its breaking point, as its verdict would."""
    from ..result.breaking import AT_LOW, BreakingCase   # lazy: the simulation, once a case runs
    from ..result.models import SEARCHING, SearchInProgress   # lazy: as above

    def check(result: Any, trader: Any) -> None:
        result.__dict__["_breaking_point"] = SEARCHING
        try:
            call_body(result, trader)
        except SearchInProgress:      # the claims above the margin's assertion held on this path
            return
        except pytest.fail.Exception as exc:
            raise AssertionError(exc.msg) from None

    bp = plan.search(check)
    result, trader = plan.shown_run(bp)
    result.__dict__["_breaking_point"] = bp
    spec = item.callspec.params["stress_scenario"][0]
    item.stash[RESULT_KEY] = (BreakingCase(result, bp), spec.overrides.get("tolerance"))
    if bp.status == AT_LOW:
        pytest.fail(f"{plan.scenario.name!r}: {bp}", pytrace=False)
    call_body(result, trader)
    if not result.__dict__.get("_breaking_point_read") and bp.breaks_as_defined:
        pytest.fail(f"{plan.scenario.name!r} as defined is at or past its breaking point: {bp}", pytrace=False)


def _verdict_failure(verdict: Any, nodeid: str, options: Any) -> str:
    """A FAIL verdict's message: paths run and failed, the rate's interval, the rule, the first
    failure's message, and the worst failing path as a command that reruns it alone."""
    first, worst = verdict.failing[0], verdict.worst_failure
    dd = verdict.path_results.values("max_drawdown")[worst.path]
    message = "\n".join("    " + line for line in first.message.splitlines())
    return (f"{verdict.scenario.name!r}: {verdict.headline()}\n"
            f"  rule: {verdict.rule.describe()}\n"
            f"  first failure, path {first.path} (seed {first.seed}):\n{message}\n"
            f"  worst failing path: path {worst.path} (seed {worst.seed}, max drawdown {dd:.2f}%); rerun it alone "
            f"(it fails the same way, to the bit):\n"
            f"    pytest '{nodeid}' {options.reproduce(seed=worst.seed, verdict='seed')}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    unfinished = timed_out_summary(item, call)     # names the scenario and bar in the timeout's message
    report = yield
    if unfinished is not None and report.when in ("setup", "call") and item.stash.get(RESULT_KEY, None) is None:
        report.stress_result = json.dumps(unfinished)
        return report
    runner = getattr(item, "funcargs", {}).get("stress_runner")
    if runner is not None and report.when == "setup":
        runner.log = type(runner.log)()      # a session-scoped runner: this test's runs only
    if report.when != "call":
        return report
    stored = item.stash.get(RESULT_KEY, None)
    if stored is None and runner is not None:
        _report_property_test(item, report, runner)
    if stored is not None:
        result, tolerance = stored
        summary = summarize(result, tolerance, detail=item.config.stash[SESSION_KEY].options.save_detail)
        # a verdict's paths, as a Monte Carlo case's; a breaking-point case's run where it held
        shown = getattr(result, "path_results", None) or getattr(result, "result", result)
        opts = item.config.stash[SESSION_KEY].options
        summary.update(case_extras(item, shown, opts))
        if summary.get("paths_run"):   # a verdict: what its assertion reads, and its worst failing path's rerun
            summary["asserted"] = _asserted_metrics(item)
            if summary.get("worst_failing_seed") is not None:
                summary["worst_failing_rerun"] = (f"pytest '{item.nodeid}' "
                                                  f"{opts.reproduce(seed=summary['worst_failing_seed'], verdict='seed')}")
        scenario = getattr(item, "funcargs", {}).get("stress_scenario")
        if opts.save_detail and scenario is not None:   # the market is redrawn from it (report/payload.py)
            try:
                summary["scenario_definition"] = scenario.to_dict()
            except Exception as exc:   # data given in memory has no JSON form: the saved report has no market
                log.info("pytest-stress: %s: scenario definition not saved (%s)", item.nodeid, exc)
        report.stress_result = json.dumps(summary)   # JSON travels from xdist workers with the report
        if report.failed:
            report.sections.append((f"stress result: {summary['scenario']}",
                                    _explain(summary, item.nodeid, item.config.stash[SESSION_KEY].options.reproduce())))
    return report


def _report_property_test(item: pytest.Item, report: pytest.TestReport, runner: Any) -> None:
    """A property test (``stress_runner``) as a case: its outcome and the figures of its falsifying
    example (failed) or of its deepest drawdown (passed); ``plugin/properties.py``."""
    from .properties import property_summary   # lazy: once a property test has run

    made = property_summary(runner.log, report.failed)
    if made is None:
        return
    summary, result, scenario, exchange = made
    opts = item.config.stash[SESSION_KEY].options
    extras = case_extras(item, result, opts, scenario=scenario, exchange=exchange)
    summary.update(extras)
    report.stress_result = json.dumps(summary)
    if report.failed:
        report.sections.append((f"stress result: {summary['scenario']}", _explain(summary, item.nodeid, opts.reproduce())))


def _asserted_metrics(item: pytest.Item) -> list[str]:
    """The metrics the test body names (``stress_result.max_drawdown``...): those its assertion reads."""
    import inspect   # lazy: only a verdict case's summary reads its test's source
    import re   # lazy: as above

    from ..result.metrics import METRIC_FIELDS   # lazy: the metric table, once a case has run

    try:
        source = inspect.getsource(item.obj)  # type: ignore[attr-defined]
    except (OSError, TypeError):
        return []
    named = set(re.findall(r"\.([a-z_0-9]+)\b", source))
    return [m for m in METRIC_FIELDS if m in named]


def _explain(s: dict[str, Any], nodeid: str, options: str = "") -> str:
    """The failure report's section: scenario, seed, key figures, and a rerun command with the
    session's options (so that it reproduces the failure)."""
    from ..result.jsonform import decode   # lazy: as below
    from ..result.metrics import explained_metrics   # lazy: the metric table (numpy) only for a failed case

    m = s["metrics"]
    if s.get("breaking_point"):
        head = (f": {s['note']} (seed {s['seed']}); mildest failing: "
                f"{s['breaking_point']['scenario_repr'] or 'none in the searched range'}")
    elif s.get("paths_run"):
        head = (f", {s['paths_run']} paths from base seed {s['seed']} (medians below; worst drawdown on seed "
                f"{s['worst_seed']})")
    elif s.get("paths"):
        head = f", seed {s['seed']}, {s['paths']} paths (medians below; worst drawdown on seed {s['worst_seed']})"
    else:
        head = f", seed {s['seed']} (a single seed: one draw of the scenario)"
    lines = [f"scenario {s['scenario']!r} ({s['scenario_type']})" + head]
    lines += [f"  {x.name:<20} {x.format(decode(m[x.name]))}" for x in explained_metrics() if x.name in m]
    lines += where_lines(s)
    if not s.get("success", True) and s.get("error"):
        lines.append(f"  error: {s['error']}")
    rerun = f"pytest '{nodeid}'" + (f" {options}" if options else "")
    if s.get("paths") and not s.get("paths_run"):
        rerun += f"  (worst path alone: @stress({s['scenario']!r}, seed={s['worst_seed']}))"
    lines.append(f"rerun: {rerun}")
    return "\n".join(lines)




def pytest_sessionfinish(session: pytest.Session) -> None:
    stress = session.config.stash[SESSION_KEY]
    try:
        stress.finish(session)
    except StressError as exc:
        stress.error = str(exc)
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
    try:   # the report is drawn even when the comparison failed
        stress.report_written = write_session_report(session, stress)
    except StressError as exc:
        stress.error = "\n".join(filter(None, [stress.error, f"--stress-report: {exc}"]))
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    stress = config.stash[SESSION_KEY]
    if stress.is_worker:
        return
    error = stress.error
    if error:
        terminalreporter.write_sep("=", "pytest-stress error", red=True)
        terminalreporter.write_line(error)
    lines = stress.report_lines()
    if getattr(stress, "report_written", None):
        lines = [*lines, stress.report_written]
    if lines:
        terminalreporter.write_sep("=", "stress summary (worst drawdown first)")
        for line in lines:
            terminalreporter.write_line(line)
    differences = stress.difference_lines()
    if differences:
        terminalreporter.write_sep("=", f"stress differences from {stress.options.compare} (what moved, threshold "
                                        "or not)")
        for line in differences:
            terminalreporter.write_line(line)
    warnings = stress.warning_lines()
    if warnings:
        terminalreporter.write_sep("=", f"stress baseline warnings ({stress.options.compare})", yellow=True)
        for line in warnings:
            terminalreporter.write_line(line)
    regressions = stress.regression_lines()
    if regressions:
        terminalreporter.write_sep("=", f"stress regressions against {stress.options.compare}", red=True)
        for line in regressions:
            terminalreporter.write_line(line)
        # the closing line says why the session failed: "26 passed, 2 regressed (--stress-compare-fail)"
        terminalreporter.stats.setdefault(REGRESSED, []).extend(stress.regressed_tests())
