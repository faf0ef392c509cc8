"""Verdicts about the scenario, not the seed (issue 24), in real pytest sessions and in the core:
a claim that fails on about half of a scenario's paths FAILS under any seed, with -n 0 and -n 2,
naming a seed that reproduces it; one that holds on every path PASSES; the verdict is the same
to the bit whatever runs the paths."""
import json
import re
import shlex
import textwrap

import pytest

from pytest_stress import library
from pytest_stress.runner import run_verdict
from pytest_stress.scenario.definition import derive_seed
from pytest_stress.verdict import VerdictRule

pytest_plugins = ["pytester"]

CONFTEST = textwrap.dedent('''
    import pytest
    from pytest_stress import buy, sell
    from pytest_stress.indicators import sma

    class Trend:
        """Long while SMA(10) > SMA(30), 30% of equity; counts the bars it saw."""
        def __init__(self):
            self.bars_seen = 0
        def indicators(self, feed):
            return {"f": sma(feed.close[0], 10), "s": sma(feed.close[0], 30)}
        def on_bar(self, ctx):
            self.bars_seen += 1
            if getattr(self, "idle", False):          # a module's own variant: never trades
                return None
            f, s, pos = ctx.value("f"), ctx.value("s"), ctx.position()
            if f > s and pos == 0:
                return buy(0.3 * ctx.equity / ctx.price)
            if f < s and pos > 0:
                return sell(pos)

    @pytest.fixture(scope="session")
    def trader_factory():
        return Trend
''')

TESTS = textwrap.dedent('''
    from pytest_stress import stress

    @stress("BTC Flash Crash 2021", bars=200)
    def test_coin_flip(stress_result):
        # the market's own drift decides: about half of the paths end above their start
        assert stress_result.final_equity > stress_result.initial_equity

    @stress("BTC Flash Crash 2021", bars=200)
    def test_always(stress_result):
        assert stress_result.bars_processed == 200
''')


@pytest.fixture
def project(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_v=TESTS)
    return pytester


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


@pytest.mark.parametrize("seed, xdist", [(None, ["-n", "0"]), (11, ["-n", "2"]), (12345, ["-n", "0"])],
                         ids=["default-n0", "seed11-n2", "seed12345-n0"])
def test_a_coin_flip_fails_and_a_sure_thing_passes_under_any_seed(project, seed, xdist):
    args = [*xdist] + ([f"--stress-seed={seed}"] if seed is not None else [])
    res = run(project, *args)
    res.assert_outcomes(passed=1, failed=1)
    out = res.stdout.str()
    assert re.search(r"test_always\S* \(PASS: failed on 0 of 31 paths, CI 0%-11%; medians\)", out)
    m = re.search(r"'BTC Flash Crash 2021': FAIL: the assertion failed on (\d+) of (\d+) paths", out)
    assert m and int(m.group(1)) >= 2
    assert "first failure, path " in out and "assert " in out
    # the worst failing path, as a command that reruns it alone: it fails the same way, to the bit
    line = re.search(r"    (pytest 'test_v.py::test_coin_flip\[btc-flash-crash-2021\]' .*)", out).group(1)
    worst_seed = int(re.search(r"worst failing path: path \d+ \(seed (\d+)", out).group(1))
    assert f"--stress-seed={worst_seed}" in line and "--stress-verdict=seed" in line
    values = re.findall(r"assert ([0-9.e+-]+) > 100000\.0", out)
    alone = run(project, *shlex.split(line)[1:])
    alone.assert_outcomes(failed=1)
    again = re.findall(r"assert ([0-9.e+-]+) > 100000\.0", alone.stdout.str())
    assert again and again[0] in _path_values(project, worst_seed, values)
    alone.stdout.fnmatch_lines([f"*single seed {worst_seed}: one draw*"])


def _path_values(project, seed, printed):
    """The final equity the verdict's run gave the path with this seed (recomputed in the core)."""
    from pytest_stress.runner import run_scenario
    ns: dict = {}
    exec(compile(CONFTEST.replace("@pytest.fixture(scope=\"session\")", ""), "conftest", "exec"), ns)
    result = run_scenario(library.get("BTC Flash Crash 2021", bars=200, seed=seed), ns["Trend"](), "calm")
    return {repr(result.final_equity), str(result.final_equity)} | set(printed)


def test_verdict_figures_are_identical_in_process_on_path_workers_and_under_xdist(project, tmp_path):
    saved = {}
    for label, args in {"one": ["-n", "0", "--stress-path-workers=1"], "two": ["-n", "0", "--stress-path-workers=2"],
                        "xdist": ["-n", "2"]}.items():
        out = tmp_path / f"{label}.json"
        run(project, f"--stress-save={out}", *args).assert_outcomes(passed=1, failed=1)
        saved[label] = json.loads(out.read_text())["results"]
    for entry in saved["one"].values():
        assert {"verdict", "paths_run", "path_failures", "failure_interval", "path_values", "rule"} <= set(entry)
    for key in ("two", "xdist"):
        assert set(saved[key]) == set(saved["one"])
        for test in saved["one"]:
            a, b = dict(saved["one"][test]), dict(saved[key][test])
            for e in (a, b):
                e.pop("options", None)
                e.pop("saved_at", None)
                e.pop("saved", None)
            assert a == b, test


def test_single_seed_mode_says_it_is_one_draw(project):
    res = run(project, "--stress-verdict=seed", "-k", "always")
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines(["*test_always?btc-flash-crash-2021? (single seed * one draw)*"])


def test_each_path_gets_a_fresh_copy_of_a_modules_own_trader(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_own=textwrap.dedent('''
        import pytest
        from pytest_stress import stress

        @pytest.fixture
        def trader_under_test(trader_factory):
            t = trader_factory()
            t.marked, t.idle = "module's own", True
            return t

        @stress("BTC Flash Crash 2021", bars=200)
        def test_fresh(stress_result, trader_under_test):
            # a copy made before its first bar: it saw exactly this path's bars, and is the module's own
            assert trader_under_test.marked == "module's own"
            assert trader_under_test.bars_seen == stress_result.bars_processed == 200
            assert stress_result.total_trades == 0      # the idle override ran, not trader_factory's

        @stress("BTC Flash Crash 2021", bars=200, paths=5)
        def test_paths_use_it_too(stress_result, trader_under_test):
            # the paths ran copies of the idle override (trader_factory's Trend trades on every path)
            assert trader_under_test.bars_seen == 0 and stress_result.paths == 5
            assert stress_result.fraction(lambda r: r.total_trades == 0) == 1
    '''))
    res = run(pytester)
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["*test_fresh* (PASS: failed on 0 of 31 paths, CI 0%-11%; medians)*"])


def test_an_error_in_the_trader_is_not_a_statistic(pytester):
    pytester.makeconftest(CONFTEST.replace("self.bars_seen += 1", "self.bars_seen += 1\n"
                                           "        if ctx.t == 40: raise RuntimeError('boom at bar 40')"))
    pytester.makepyfile(test_e="from pytest_stress import stress\n@stress('Black Swan Combo', bars=100)\n"
                               "def test_x(stress_result):\n    pass\n")
    res = run(pytester)
    res.assert_outcomes(failed=1)        # path 0 raised: the case fails at once (its run, not a fixture), no verdict
    res.stdout.fnmatch_lines(["*RuntimeError: boom at bar 40*"])
    assert "FAIL: the assertion failed" not in res.stdout.str()


class BoomAt40:
    def on_bar(self, ctx):
        if ctx.t == 40:
            raise RuntimeError("boom at bar 40")


def test_an_error_on_a_worker_path_stops_the_verdict_naming_path_and_seed():
    from pytest_stress.errors import PathError
    from pytest_stress.runner import run_scenario

    first = run_scenario(SC.replace(seed=derive_seed(SC.seed, 0)), Flat(), "calm")
    with pytest.raises(PathError) as info:
        run_verdict(SC, BoomAt40, lambda r, t: None, workers=2, first=(first, Flat()))
    text = str(info.value)
    assert f"path 1 (seed {derive_seed(SC.seed, 1)})" in text and "RuntimeError: boom at bar 40" in text


@pytest.mark.parametrize("marker, words", [
    ("pass_rate=1.5", "@stress: pass_rate = 1.5: expected a share of paths in (0, 1)"),
    ("fail_rate=0", "@stress: fail_rate = 0: expected a share of paths in (0, 1)"),
    ("pass_rate=0.2", "pass_rate = 0.2 is not below fail_rate = 0.1"),
    ("confidence=0.4", "@stress: confidence = 0.4: expected a probability in (0.5, 1)"),
    ("max_paths=0", "@stress: max_paths = 0: expected a whole number >= 1"),
    ("max_paths=5", "max_paths = 5 cannot tell a failure rate of 0.01 from 0.1 with confidence 0.95"),
    ("verdict='seeds'", "@stress: verdict = 'seeds'; expected 'scenario' (decide over the scenario's paths) or "
                        "'seed' (one draw: a smoke run); did you mean 'seed'?"),
    ("paths=10, max_paths=50", "@stress: paths = 10 runs a fixed-size Monte Carlo"),
])
def test_bad_verdict_knobs_fail_collection_with_the_message(pytester, marker, words):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_k=f"from pytest_stress import stress\n@stress('Black Swan Combo', {marker})\n"
                               "def test_x(stress_result):\n    pass\n")
    res = run(pytester)
    assert res.ret != 0
    out = res.stdout.str()
    assert words in out, out
    assert "Traceback" not in out


@pytest.mark.parametrize("option, words", [
    ("--stress-pass-rate=0", "--stress-pass-rate = '0': expected a share of paths in (0, 1)"),
    ("--stress-confidence=1", "--stress-confidence = '1': expected a probability in (0.5, 1)"),
    ("--stress-max-paths=0", "--stress-max-paths = '0': expected a whole number >= 1"),
    ("--stress-verdict=paths", "--stress-verdict = 'paths': expected 'scenario'"),
])
def test_bad_verdict_options_are_usage_errors(pytester, option, words):
    pytester.makepyfile("def test_x():\n    pass\n")
    res = run(pytester, option)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert words in res.stderr.str()


def test_pass_rate_not_below_fail_rate_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x():\n    pass\n")
    res = run(pytester, "--stress-pass-rate=0.2", "--stress-fail-rate=0.1")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "--stress-pass-rate = 0.2 is not below --stress-fail-rate = 0.1" in res.stderr.str()


# -- the core: run_verdict -----------------------------------------------------------------
class Flat:
    def on_bar(self, ctx):
        return None


def _half(result, trader):
    assert result.seed % 2 == 0, f"odd seed {result.seed}"


SC = library.get("Execution Crisis", bars=120)


def test_run_verdict_stops_at_the_rules_decision_and_names_the_failing_paths():
    v = run_verdict(SC, Flat, _half, workers=1)
    assert not v.passed and v.verdict == "fail"
    odd = [i for i in range(v.paths) if derive_seed(SC.seed, i) % 2]
    assert [f.path for f in v.failing] == odd
    rule = VerdictRule()
    assert rule.decision(len(odd), v.paths) == "fail"
    assert all(rule.decision(sum(1 for i in odd if i < n), n) is None for n in range(1, v.paths))
    assert v.failing[0].message.startswith("odd seed")
    assert v.headline().startswith(f"FAIL: the assertion failed on {len(odd)} of {v.paths} paths")
    ok = run_verdict(SC, Flat, lambda r, t: None, workers=1)
    assert ok.passed and ok.paths == 31 and ok.failures == 0
    assert ok.interval[0] == 0 and 0.11 < ok.interval[1] < 0.12


def test_run_verdict_is_the_same_on_two_workers_and_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    one = run_verdict(SC, Flat, _half, workers=1)
    two = run_verdict(SC, Flat, _half, workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        dask = run_verdict(SC, Flat, _half, executor=client.get_executor(), workers=2)
    for other in (two, dask):
        assert other.verdict == one.verdict and other.paths == one.paths
        assert [(f.path, f.seed) for f in other.failing] == [(f.path, f.seed) for f in one.failing]
        assert other.path_results.table.same_as(one.path_results.table)
    assert two.failing == one.failing   # forked workers run this module as pytest rewrote it: same messages


def test_regressions_are_judged_against_the_paths_noise(pytester, tmp_path, monkeypatch):
    """A verdict case's saved paths: rerunning an unchanged system never regresses; trading 2.5x
    the size (drawdowns about 2.5x) always does, with the shift's interval in the line."""
    from test_plugin import CONFTEST as SIZED, run as run_session

    pytester.makeconftest(SIZED)
    pytester.makepyfile(test_r=textwrap.dedent('''
        from pytest_stress import stress

        @stress("BTC Flash Crash 2021", bars=300)
        def test_x(stress_result):
            assert stress_result.bars_processed == 300
    '''))
    base = tmp_path / "baseline.json"
    run_session(pytester, f"--stress-save={base}", verdicts=True).assert_outcomes(passed=1)
    entry = next(iter(json.loads(base.read_text())["results"].values()))
    assert entry["paths_run"] == 31 and len(entry["path_values"]["max_drawdown"]) == 31
    same = run_session(pytester, f"--stress-compare={base}", "--stress-compare-fail=max_drawdown:0", verdicts=True)
    assert same.ret == 0 and "stress regressions" not in same.stdout.str()
    monkeypatch.setenv("STRESS_TEST_WORSE", "1")
    worse = run_session(pytester, f"--stress-compare={base}", "--stress-compare-fail=max_drawdown:0.5",
                        verdicts=True)
    assert worse.ret == pytest.ExitCode.TESTS_FAILED
    worse.stdout.fnmatch_lines(["*stress regressions against*",
                                "test_r.py::test_x[btc-flash-crash-2021]",
                                "    max_drawdown: median * -> * (31 -> 31 paths), shift +* ?95% CI +*, +*? beyond*"])


def test_the_report_draws_a_verdict_case_as_its_paths(project):
    (project.path / "out").mkdir()       # the report's folder must exist (checked at start-up)
    res = run(project, "-k", "always", "--stress-report=out/report.html")
    res.assert_outcomes(passed=1)
    page = (project.path / "out" / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 1 and "worst path: seed" in page and "test_always" in page
