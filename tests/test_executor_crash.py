"""A path or scenario that kills its worker on a stdlib ``ProcessPoolExecutor`` loses only itself
(issue 28, item 4): the pool breaks (``BrokenProcessPool`` for every pending task), so the lost
tasks run again on fresh pools of its size, and the one that breaks a pool alone is named.
Real processes killed by a real SIGSEGV."""
import faulthandler
import os
import signal
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from pytest_stress import library, run_batch, run_paths
from pytest_stress.scenario.definition import derive_seed
from test_batch_faults import SegfaultsOnEth

SCENARIO = library.get("BTC Flash Crash 2021", bars=200)
CRASHES = 5   # the path whose trader segfaults


def _first_close(seed):
    return float(SCENARIO.replace(seed=seed).build_market().feed.close[0, 0])


MARK = _first_close(derive_seed(SCENARIO.seed, CRASHES))


class SegfaultsOnOnePath:
    """Trades on a fixed rhythm; on path CRASHES (known by its first price) it segfaults at bar 50.
    The worker's faulthandler dump goes to ``dump`` (as ``SegfaultsOnEth``'s), not the terminal."""

    dump = None

    def __init__(self, crash=True):
        self.crash, self.here = crash, False

    def indicators(self, feed):
        self.here = self.crash and float(feed.close[0, 0]) == MARK
        return {}

    def on_bar(self, ctx):
        if self.here and ctx.t == 50:
            faulthandler.enable(file=open(self.dump, "w"))   # in the worker process only
            os.kill(os.getpid(), signal.SIGSEGV)
        if ctx.t % 10 == 0:
            return ctx.target_position(0.0 if ctx.position() else 0.01)
        return None


def _never_crashes():
    return SegfaultsOnOnePath(crash=False)


def test_one_segfaulting_path_on_a_process_pool_fails_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(SegfaultsOnOnePath, "dump", str(tmp_path / "worker-stderr.txt"))
    clean = run_paths(SCENARIO, _never_crashes, 16, "calm", workers=1)
    with ProcessPoolExecutor(2) as pool:
        res = run_paths(SCENARIO, SegfaultsOnOnePath, 16, "calm", executor=pool)
    assert [f.path for f in res.failures] == [CRASHES]
    assert res.failures[0].error == (
        f"WorkerDied: path {CRASHES} (seed {derive_seed(SCENARIO.seed, CRASHES)}) killed its worker process (it broke "
        "the executor's ProcessPoolExecutor, and again a fresh pool where it ran alone; the other paths are unaffected)")
    keep = [i for i in range(16) if i != CRASHES]
    for metric in ("final_equity", "max_drawdown", "total_trades"):
        assert np.array_equal(clean.values(metric).astype(float)[keep], res.values(metric).astype(float)[keep]), metric


def test_one_segfaulting_scenario_on_a_process_pool_fails_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(SegfaultsOnEth, "dump", str(tmp_path / "worker-stderr.txt"))
    names = ["BTC Flash Crash 2021", "ETH Liquidity Collapse", "Black Swan Combo", "Pump & Dump Mania", "COVID Crash 2020"]
    names = [n for n in names if n in {s.name for s in library.all()}]
    scenarios = [library.get(n, bars=400) for n in names]
    with ProcessPoolExecutor(2) as pool:
        batch = run_batch(scenarios, SegfaultsOnEth, "calm", executor=pool)
    failed = {r.scenario_name: r.error for r in batch.results if not r.success}
    assert failed == {"ETH Liquidity Collapse": (
        "WorkerDied: scenario 'ETH Liquidity Collapse' killed its worker process (it broke the executor's "
        "ProcessPoolExecutor, and again a fresh pool where it ran alone; the other scenarios are unaffected)")}
    assert batch.successful == len(scenarios) - 1
