"""The pytest plugin module (entry point ``stress``): options, marker, parametrisation,
results from every case (xdist workers included) to one table, baselines."""
from __future__ import annotations

import json
from typing import Any

import pytest

from .. import __version__, library
from ..errors import StressError
from ..account.rules import account_from
from ..result.metrics import explained_metrics
from .fixtures import (exchange_sim, stress_account, stress_base_data, stress_exchange,  # noqa: F401
                       stress_result, stress_runner, stress_scenario, trader_factory, trader_under_test)
from .marker import OVERRIDES, StressSpec
from .options import StressOptions, add_options
from .reporting import (pytest_html_results_table_header, pytest_html_results_table_html,  # noqa: F401
                        pytest_html_results_table_row, case_extras, check_report_option, where_lines,
                        write_session_report)
from .session import REGRESSED, RESULT_KEY, SESSION_KEY, StressSession, summarize
from .timelimit import apply_time_limits, describe_time_limit, timed_out_summary

_STRESS_FIXTURES = {"stress_scenario", "stress_result", "stress_exchange", "exchange_sim"}


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stress(*scenarios, **overrides): run the test once per scenario (library names or Scenario objects; "
        "none: the whole library). Overrides: " + ", ".join(OVERRIDES))
    stress = StressSession(config, StressOptions.from_config(config))
    check_report_option(stress.options)
    config.stash[SESSION_KEY] = stress
    config.pluginmanager.register(stress, "stress-session")   # per config: receives its reports


def pytest_report_header(config: pytest.Config) -> str:
    opts = config.stash[SESSION_KEY].options
    seeds = "each scenario's own fixed seed" if opts.seed is None else f"seed {opts.seed}"
    return (f"pytest-stress {__version__}: {len(library.names())} library scenarios, exchange {opts.exchange}, "
            f"account {account_from(opts.account).describe()}, {seeds}, {describe_time_limit(config, opts)}; "
            f"reproduce with: {opts.reproduce()}")


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.option.stress_list:
        return None
    from _pytest.config import create_terminal_writer   # as pytest's own --markers does

    config._do_configure()   # conftest.py files may register scenarios
    tw = create_terminal_writer(config)
    for s in library.all():
        tw.line(f"{s.name}  [{library.slug(s.name)}]  {s.type.value}, {', '.join(s.symbols)}, {s.bars} x {s.timeframe},"
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
    try:
        for mark in reversed(marks):   # decorators apply bottom-up; keep them in reading order
            spec = StressSpec.from_marker(mark)
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
    wanted = config.stash[SESSION_KEY].options.scenarios
    if not wanted:
        return
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    unfinished = timed_out_summary(item, call)     # names the scenario and bar in the timeout's message
    report = yield
    if unfinished is not None and report.when in ("setup", "call") and item.stash.get(RESULT_KEY, None) is None:
        report.stress_result = json.dumps(unfinished)
        return report
    if report.when != "call":
        return report
    stored = item.stash.get(RESULT_KEY, None)
    if stored is not None:
        result, tolerance = stored
        summary = summarize(result, tolerance, detail=item.config.stash[SESSION_KEY].options.save_detail)
        summary.update(case_extras(item, result, item.config.stash[SESSION_KEY].options))
        report.stress_result = json.dumps(summary)   # JSON travels from xdist workers with the report
        if report.failed:
            report.sections.append((f"stress result: {summary['scenario']}",
                                    _explain(summary, item.nodeid, item.config.stash[SESSION_KEY].options.reproduce())))
    return report


def _explain(s: dict[str, Any], nodeid: str, options: str = "") -> str:
    """The failure report's section: scenario, seed, key figures, and a rerun command with the
    session's options (so that it reproduces the failure)."""
    m = s["metrics"]
    lines = [f"scenario {s['scenario']!r} ({s['scenario_type']}), seed {s['seed']}"
             + (f", {s['paths']} paths (medians below; worst drawdown on seed {s['worst_seed']})" if s.get("paths")
                else "")]
    lines += [f"  {x.name:<20} {m[x.name]!r}" for x in explained_metrics() if x.name in m]
    lines += where_lines(s)
    if not s.get("success", True) and s.get("error"):
        lines.append(f"  error: {s['error']}")
    rerun = f"pytest '{nodeid}'" + (f" {options}" if options else "")
    if s.get("paths"):
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
