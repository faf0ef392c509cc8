"""run_paths under a time limit (issue 28, item 3): a path that catches the interruption and returns is
stopped before its next bar, a path that never stops has its worker killed after the grace period; each
fails alone, named, and every other path's row is the one it has without faults, to the bit.
Real worker processes, real SIGUSR1 and SIGKILL."""
import time

import numpy as np

from pytest_stress import library, run_paths
from pytest_stress.scenario.definition import derive_seed

SCENARIO = library.get("BTC Flash Crash 2021", bars=200)


def _first_close(seed):
    return float(SCENARIO.replace(seed=seed).build_market().feed.close[0, 0])


#: path -> what its trader does at bar 20, recognised by the path's first price (the trader sees no seed)
FAULTS = {3: "swallow", 5: "forever"}


class Stubborn:
    """Buys and sells on a fixed rhythm; on the paths of FAULTS, catches the interruption at bar 20
    (once, or forever)."""

    marks = None   # {first close: mode}, set by the test before the run (inherited by forked workers)

    def __init__(self):
        self.mode = None

    def indicators(self, feed):
        self.mode = (self.marks or {}).get(float(feed.close[0, 0]))
        return {}

    def on_bar(self, ctx):
        if ctx.t == 20 and self.mode is not None:
            while True:
                try:
                    time.sleep(10**6)
                except BaseException:
                    pass
                if self.mode == "swallow":
                    break
        if ctx.t % 10 == 0:
            return ctx.target_position(0.0 if ctx.position() else 0.01)
        return None


def test_a_stubborn_path_fails_alone_and_the_others_are_unchanged():
    clean = run_paths(SCENARIO, Stubborn, 8, "calm", workers=1)
    Stubborn.marks = {_first_close(derive_seed(SCENARIO.seed, i)): mode for i, mode in FAULTS.items()}
    try:
        started = time.monotonic()
        res = run_paths(SCENARIO, Stubborn, 8, "calm", workers=2, timeout=1)
        took = time.monotonic() - started
    finally:
        Stubborn.marks = None
    assert took < 20     # 1 s limit + 5 s grace for the path that never stops, and the reruns
    errors = {f.path: f.error for f in res.failures}
    assert sorted(errors) == [3, 5]
    s3, s5 = derive_seed(SCENARIO.seed, 3), derive_seed(SCENARIO.seed, 5)
    assert errors[3].startswith(f"TimeLimitExceeded: path 3 (seed {s3}) ran past its time limit of 1 s, caught the "
                                "interruption and went on; stopped before its next bar, in scenario 'BTC Flash Crash "
                                f"2021' (seed {s3}) at bar 20 of 200")
    assert errors[5] == (f"TimeLimitExceeded: path 5 (seed {s5}) ran past its time limit of 1 s and did not stop "
                         "within 5 s of being interrupted; its worker process was killed")
    for metric in ("final_equity", "max_drawdown", "total_trades"):
        want, got = clean.values(metric).astype(float), res.values(metric).astype(float)
        keep = [i for i in range(8) if i not in FAULTS]
        assert np.array_equal(want[keep], got[keep]), metric
        assert np.isnan(got[list(FAULTS)]).all()


def test_a_path_that_sleeps_no_longer_hangs_run_paths_with_few_paths():
    """3 paths used to run in the caller's process, where nothing could stop a sleeping path; with a
    time limit they run in a worker process."""
    Stubborn.marks = {_first_close(derive_seed(SCENARIO.seed, 1)): "swallow"}
    try:
        res = run_paths(SCENARIO, Stubborn, 3, "calm", workers=2, timeout=1)
    finally:
        Stubborn.marks = None
    assert [f.path for f in res.failures] == [1]
