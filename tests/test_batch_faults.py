"""run_batch under faults: a worker that dies or a scenario that hangs loses only itself."""
import faulthandler
import os
import signal
import sys
import time

import pytest

from pytest_stress import library, run_batch
from pytest_stress.errors import ScenarioError
from pytest_stress.workers import DEFAULT_TIMEOUT, run_tasks
from traders import SmaCross


def _only_eth(feed):
    return tuple(feed.symbols) == ("ETHUSDT",)     # ETH Liquidity Collapse, alone among the ten


class DiesOnEth(SmaCross):
    """os._exit(1) at bar 300 of ETH Liquidity Collapse; a plain SmaCross elsewhere."""

    def indicators(self, feed):
        self.target = _only_eth(feed)
        return super().indicators(feed)

    def on_bar(self, ctx):
        if self.target and ctx.t == 300:
            os._exit(1)
        return super().on_bar(ctx)


class SegfaultsOnEth(DiesOnEth):
    """A real SIGSEGV in the worker at bar 300 of ETH Liquidity Collapse. The worker inherits
    pytest's faulthandler, which would print "Fatal Python error: Segmentation fault" and a
    traceback on the terminal of a green run: the dump goes to ``dump`` (a file the test reads)."""

    dump = None

    def on_bar(self, ctx):
        if self.target and ctx.t == 300:
            faulthandler.enable(file=open(self.dump, "w"))   # in the worker process only
            os.kill(os.getpid(), signal.SIGSEGV)
        return SmaCross.on_bar(self, ctx)


class ExitsOnEth(DiesOnEth):
    def on_bar(self, ctx):
        if self.target and ctx.t == 300:
            sys.exit(3)
        return SmaCross.on_bar(self, ctx)


class HangsOnEth(DiesOnEth):
    """Sleeps for eleven days at bar 417 of ETH Liquidity Collapse, even through `except Exception`."""

    def on_bar(self, ctx):
        if self.target and ctx.t == 417:
            try:
                time.sleep(10**6)
            except Exception:
                pass
        return SmaCross.on_bar(self, ctx)


def test_a_dying_worker_loses_only_its_own_scenario():
    batch = run_batch(library.all()[:10], DiesOnEth, max_workers=2)
    assert [r.scenario_name for r in batch.results] == library.names()[:10]
    assert [r.success for r in batch.results] == [name != "ETH Liquidity Collapse" for name in library.names()[:10]]
    dead = batch.results[1]
    assert dead.error.startswith("WorkerDied: scenario 'ETH Liquidity Collapse' its worker process died (exit code 1)")
    assert batch.successful == 9
    # the survivors are the very results a healthy run gives
    healthy = run_batch(library.all()[:10], SmaCross, max_workers=2)
    assert [r.final_equity for r in batch.ok] == [r.final_equity for r in healthy.results if r.scenario_name !=
                                                  "ETH Liquidity Collapse"]


def test_a_segfault_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(SegfaultsOnEth, "dump", str(tmp_path / "worker-stderr.txt"))
    names = ["BTC Flash Crash 2021", "ETH Liquidity Collapse", "Black Swan Combo"]
    batch = run_batch(names, SegfaultsOnEth, max_workers=2)
    assert [r.success for r in batch.results] == [True, False, True]
    assert "killed by SIGSEGV (exit code -11)" in batch.results[1].error
    # the worker died of the signal itself: faulthandler saw it, in the worker's on_bar
    dump = (tmp_path / "worker-stderr.txt").read_text()
    assert dump.startswith("Fatal Python error: Segmentation fault") and "in on_bar" in dump


def test_sys_exit_in_a_trader_fails_only_its_scenario():
    batch = run_batch(["BTC Flash Crash 2021", "ETH Liquidity Collapse"], ExitsOnEth, max_workers=2)
    assert [r.success for r in batch.results] == [True, False]
    assert batch.results[1].error.startswith("SystemExit: 3 (scenario 'ETH Liquidity Collapse', in its worker process)")


def test_a_hung_trader_fails_its_scenario_naming_the_bar_and_the_batch_goes_on():
    names = ["BTC Flash Crash 2021", "ETH Liquidity Collapse", "Black Swan Combo", "Execution Crisis"]
    started = time.monotonic()
    batch = run_batch(names, HangsOnEth, max_workers=2, timeout=1.5)
    assert time.monotonic() - started < 15
    assert [r.success for r in batch.results] == [True, False, True, True]
    err = batch.results[1].error
    assert err.startswith("TimeLimitExceeded: ran past its time limit of 1.5 s, in scenario 'ETH Liquidity Collapse' "
                          "(seed 1268758881) at bar 417 of 1000 (")
    assert "FAILED: TimeLimitExceeded" in batch.summary()


def test_the_default_time_limit_never_fires_on_the_library():
    assert DEFAULT_TIMEOUT >= 60
    batch = run_batch(library.all(), SmaCross, max_workers=2)
    assert batch.failed == 0
    assert max(r.duration_s for r in batch.results) < DEFAULT_TIMEOUT / 100


def _stubborn(seconds):
    """Ignores even the interruption at its deadline: only killing its process stops it."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            time.sleep(0.05)
        except BaseException:
            pass
    return "done"


def _quick(x):
    return x * 2


def test_a_task_that_ignores_the_interruption_is_killed_after_the_grace_period():
    started = time.monotonic()
    out = run_tasks(_stubborn, [(60,), (0.01,)], workers=2, timeout=0.5, grace=0.5)
    assert time.monotonic() - started < 10
    assert out[0].status == "timeout" and "did not stop within 0.5 s of being interrupted" in out[0].detail
    assert (out[1].status, out[1].value) == ("ok", "done")


def test_workers_are_reused_and_unpicklable_tasks_are_reported():
    out = run_tasks(_quick, [(1,), (lambda: 0,), (3,)], workers=1, timeout=None)
    assert [o.status for o in out] == ["ok", "error", "ok"]
    assert [out[0].value, out[2].value] == [2, 6]
    assert "could not be sent to a worker process" in out[1].detail


def test_bad_batch_arguments_are_named():
    with pytest.raises(ScenarioError, match=r"timeout = -1; expected seconds"):
        run_batch(["Black Swan Combo"], SmaCross, timeout=-1)
    with pytest.raises(ScenarioError, match=r"max_workers = 0; expected an integer >= 1"):
        run_batch(["Black Swan Combo"], SmaCross, max_workers=0)
