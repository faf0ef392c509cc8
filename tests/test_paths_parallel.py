"""Monte Carlo paths across processes and clusters: the same rows whatever runs them, rows (not
runs) in the parent, a crashed path costs only itself, and the plugin under xdist."""
import os
import textwrap

import numpy as np
import pytest
from traders import SmaCross

from pytest_stress import library, run_paths, run_scenario
from pytest_stress.errors import ScenarioError
from pytest_stress.paths_pool import MAX_CHUNK, chunk_bounds, resolve_path_workers
from pytest_stress.result.paths import PathRow
from pytest_stress.runner import path_seeds

pytest_plugins = ["pytester"]

SC = library.get("BTC Flash Crash 2021", bars=200)
PATHS = 10


@pytest.fixture(scope="module")
def serial():
    return run_paths(SC, SmaCross, PATHS, "calm", workers=1)


class FirstPrice:
    """Records the price it saw at its first bar."""

    def __init__(self):
        self.first = None

    def on_bar(self, ctx):
        if self.first is None:
            self.first = float(ctx.price)


def first_price(path: int) -> float:
    t = FirstPrice()
    run_scenario(SC.replace(seed=path_seeds(SC.seed, PATHS)[path]), t, "calm")
    return t.first


class Breaks(SmaCross):
    """SmaCross, except on the path whose first price is ``target``: raises, or kills its process."""

    def __init__(self, target, how):
        super().__init__()
        self.target, self.how = target, how

    def on_bar(self, ctx):
        if ctx.t == 0 and float(ctx.price) == self.target:
            if self.how == "exit":
                os._exit(3)
            raise ValueError("the trader broke on this path")
        return super().on_bar(ctx)


def test_two_workers_give_bit_identical_rows(serial):
    par = run_paths(SC, SmaCross, PATHS, "calm", workers=2)
    assert par.table.same_as(serial.table)
    assert serial.seeds == par.seeds == path_seeds(SC.seed, PATHS)
    assert par.success and par.successful == PATHS
    assert par.summary() == serial.summary() and par.fan() == serial.fan() and par.fan()["sample"] == PATHS


def test_worst_path_rerun_in_the_parent_is_bit_identical(serial):
    par = run_paths(SC, SmaCross, PATHS, "calm", workers=2)
    assert not par._runs                       # the parent holds rows, not runs
    i = par.worst_path("max_drawdown")
    worst = par.worst("max_drawdown")
    alone = run_scenario(SC.replace(seed=par.seeds[i]), SmaCross(), "calm")
    assert worst.seed == par.worst_seed == alone.seed
    assert np.array_equal(worst.equity_curve, alone.equity_curve)
    row = par.results[i]
    for m, v in row.metrics().items():
        got = getattr(worst, m)
        assert (got is None and v is None) or got == v or (np.isnan(got) and np.isnan(v)), m
    assert worst.max_drawdown == par.values("max_drawdown").max()


def test_rows_carry_metric_attributes_with_their_types(serial):
    row = serial.results[0]
    assert isinstance(row, PathRow) and row.path == 0 and row.success and row.error is None
    assert isinstance(row.total_trades, int) and isinstance(row.ruined, bool) and isinstance(row.max_drawdown, float)
    assert serial.fraction(lambda r: r.total_trades > 0) == np.mean(serial.values("total_trades") > 0)
    with pytest.raises(AttributeError, match="equity_curve"):
        row.equity_curve
    frame = serial.to_frame()
    assert list(frame["seed"]) == serial.seeds and frame["total_trades"].dtype == np.int64
    assert serial.table.nbytes / PATHS < 1024   # about 0.5 KB per path, whatever the bars


def test_a_path_that_raises_fails_alone_with_its_seed_in_any_process(serial):
    target = first_price(4)
    one = run_paths(SC, lambda: Breaks(target, "raise"), PATHS, "calm", workers=1)
    two = run_paths(SC, lambda: Breaks(target, "raise"), PATHS, "calm", workers=2)
    assert one.table.same_as(two.table)
    assert [f.path for f in two.failures] == [4] and not two.success and two.successful == PATHS - 1
    err = two.failures[0].error
    assert f"seed {path_seeds(SC.seed, PATHS)[4]}" in err and "ValueError: the trader broke" in err
    assert np.isnan(two.values("max_drawdown")[4])
    keep = np.arange(PATHS) != 4
    assert np.array_equal(two.table.values[keep], serial.table.values[keep], equal_nan=True)


def test_a_path_that_kills_its_worker_costs_only_itself(serial):
    target = first_price(6)
    res = run_paths(SC, lambda: Breaks(target, "exit"), PATHS, "calm", workers=2)
    assert [f.path for f in res.failures] == [6]
    err = res.failures[0].error
    assert err.startswith("WorkerDied: path 6 (seed ") and "exit code 3" in err
    keep = np.arange(PATHS) != 6
    assert np.array_equal(res.table.values[keep], serial.table.values[keep], equal_nan=True)


def test_a_dask_cluster_of_two_processes_gives_the_same_rows(serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        res = run_paths(SC, SmaCross, PATHS, "calm", executor=client.get_executor(), workers=2)
        ran_on = set(client.run(os.getpid).values())
    assert res.table.same_as(serial.table)
    assert len(ran_on) == 2 and os.getpid() not in ran_on
    assert res.worst().max_drawdown == serial.worst().max_drawdown   # rerun here from its seed


def test_any_executor_gives_the_same_rows_and_unpicklable_tasks_fail_by_name(serial):
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    with ThreadPoolExecutor(2) as ex:
        assert run_paths(SC, SmaCross, PATHS, "calm", executor=ex).table.same_as(serial.table)
    with ProcessPoolExecutor(1) as ex:   # a lambda does not pickle: every path fails, saying so
        res = run_paths(SC, lambda: SmaCross(), 4, "calm", executor=ex)
    assert res.successful == 0 and [f.path for f in res.failures] == [0, 1, 2, 3]
    assert all("did not pickle" in f.error and f"seed {f.seed}" in f.error for f in res.failures)


def test_path_workers_share_the_cores_with_xdist(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    cores = len(os.sched_getaffinity(0))
    assert resolve_path_workers(None) == resolve_path_workers("auto") == cores
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(cores))
    assert resolve_path_workers("auto") == 1
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(cores * 4))
    assert resolve_path_workers(None) == 1
    assert resolve_path_workers(3) == resolve_path_workers("3") == 3
    for bad in (0, -1, "many", 1.5, True):
        with pytest.raises(ScenarioError, match="expected an integer >= 1, or 'auto'"):
            resolve_path_workers(bad)


def test_chunks_cover_every_path_once():
    for paths, tasks in ((1, 16), (50, 16), (1000, 16), (100_000, 16), (7, 3)):
        bounds = chunk_bounds(paths, tasks)
        assert bounds[0][0] == 0 and bounds[-1][1] == paths
        assert all(b == a2 for (_, b), (a2, _) in zip(bounds, bounds[1:]))
        assert all(0 < b - a <= MAX_CHUNK for a, b in bounds)


def test_bad_arguments_name_themselves():
    with pytest.raises(ScenarioError, match="paths = 0"):
        run_paths(SC, SmaCross, 0)
    with pytest.raises(ScenarioError, match="trader_factory = "):
        run_paths(SC, SmaCross(), 2)
    with pytest.raises(ScenarioError, match="path workers = 0"):
        run_paths(SC, SmaCross, 8, workers=0)


CONFTEST = textwrap.dedent('''
    import os
    import pytest
    from pytest_stress import buy, sell

    class Momentum:
        def __init__(self):
            with open(os.environ["PIDS_FILE"], "a") as f:
                f.write(f"{os.getpid()}\\n")
        def on_bar(self, ctx):
            if ctx.t >= 20 and ctx.position() == 0 and ctx.price > ctx.close[-20:].mean():
                return buy(1.0)
            if ctx.position() > 0 and ctx.price < ctx.close[-20:].mean():
                return sell(ctx.position())

    @pytest.fixture(scope="session")
    def trader_factory():
        return Momentum
''')


def test_plugin_paths_under_xdist_use_their_own_workers(pytester, tmp_path, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_mc=textwrap.dedent('''
        import os
        from pytest_stress import run_paths, stress

        @stress("BTC Flash Crash 2021", "Execution Crisis", paths=8, bars=150)
        def test_tail(stress_result, stress_scenario, trader_factory):
            with open(os.environ["TEST_PIDS"], "a") as f:
                f.write(f"{os.getpid()}\\n")
            assert stress_result.paths == 8 and stress_result.success
            alone = run_paths(stress_scenario, trader_factory, 8, "calm", workers=1)
            assert stress_result.table.same_as(alone.table)
            assert stress_result.fraction(lambda r: r.max_drawdown >= 0) == 1
    '''))
    monkeypatch.setenv("PIDS_FILE", str(tmp_path / "pids"))
    monkeypatch.setenv("TEST_PIDS", str(tmp_path / "test_pids"))
    pytester.makeini("[pytest]\nstress_path_workers = 2\n")   # auto would be 1 here: 2 cores, 2 xdist workers
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "-n", "2")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["*test_tail?btc-flash-crash-2021? (8 paths: medians; worst seed *"])
    tests = set((tmp_path / "test_pids").read_text().split())
    traders = set((tmp_path / "pids").read_text().split())
    assert len(tests) == 2                       # the two cases ran on the two xdist workers
    assert len(traders - tests) >= 2             # their paths ran in worker processes of their own


def test_plugin_fails_a_case_whose_path_raises_naming_the_seed(pytester):
    pytester.makeconftest(textwrap.dedent('''
        import pytest

        class Broken:
            def on_bar(self, ctx):
                if ctx.t == 30:
                    raise RuntimeError("boom at bar 30")

        @pytest.fixture(scope="session")
        def trader_factory():
            return Broken
    '''))
    pytester.makepyfile(test_mc=textwrap.dedent('''
        from pytest_stress import stress

        @stress("BTC Flash Crash 2021", paths=4, bars=100)
        def test_tail(stress_result):
            assert stress_result.percentile("max_drawdown", 95) < 100
    '''))
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "--stress-path-workers=2")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*4 of 4 Monte Carlo paths of 'BTC Flash Crash 2021' failed; path 0 (seed *",
                              "*RuntimeError: boom at bar 30*"])


def test_path_workers_option_is_checked(pytester):
    pytester.makepyfile("def test_x():\n    pass\n")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--stress-path-workers=0")
    assert res.ret == 4
    res.stderr.fnmatch_lines(["*--stress-path-workers = '0': expected a whole number >= 1, or 'auto'*"])


def test_saved_detail_draws_the_same_fan_as_the_live_result(serial):
    from pytest_stress.plugin.session import summarize
    from pytest_stress.report.payload import case_payload, detail_payload

    live = case_payload(serial)
    assert live["fan"] and live["worst"]["seed"] == serial.worst_seed and live["sample"] == PATHS
    saved = summarize(serial, detail=True)
    assert len(saved["detail"]) == 1 and saved["fan"]["sample"] == PATHS
    assert detail_payload(saved) == live
    runs = [serial.run(i) for i in range(PATHS)]   # files written before: every path's run, no fan
    old = {"paths": PATHS, "seed": SC.seed, "detail": [r.to_dict(curves=True, records=True) for r in runs]}
    assert detail_payload(old) == live
