"""Issue 28 item 11: the venue's and the model's faults at bar t never depend on later bars (nor on the
run's length): the outage a rejection reports is what is known at the bar's open, and the model-fault
schedule's bars, kinds and draws at bar t are the same in a run cut after t."""
import numpy as np
import pytest

from pytest_stress.exchange.outages import draw_outages
from pytest_stress.scenario.faults import Faults


@pytest.mark.parametrize("mode", ["mixed", "outage", "garbage"])
def test_the_model_fault_schedule_does_not_depend_on_the_run_length(mode):
    faults = Faults(model_failure_rate=0.3, model_mode=mode)
    full = faults.model_schedule(400, np.random.default_rng(11))
    for k in (3, 57, 200, 399):
        cut = faults.model_schedule(k, np.random.default_rng(11))
        assert cut == {t: f for t, f in full.items() if t < k}
    kinds = {f[0] for f in full.values()}
    assert kinds == ({"outage", "garbage"} if mode == "mixed" else {mode})


def test_an_outage_is_reported_as_known_at_the_bar_open():
    bar_ms, mean_ms = 60_000.0, 1_500_000.0
    share = np.full(3000, 0.3)
    full = draw_outages(share, bar_ms, mean_ms, np.random.default_rng(5))
    moved = 0
    for k in range(50, 3000, 97):
        cut = draw_outages(share[:k], bar_ms, mean_ms, np.random.default_rng(5))
        for t in range(k):
            now = t * bar_ms
            assert (full.end_of(now) is None) == (cut.end_of(now) is None)         # down or up: causal already
            assert full.known_end(now) == cut.known_end(now)                        # what it reports: causal now
            moved += full.end_of(now) != cut.end_of(now)
    assert moved > 0     # the merged end (when the venue is up again) does take later faults in: not reported
