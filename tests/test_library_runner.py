import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pytest_stress import Scenario, library, run_batch, run_scenario
from pytest_stress.errors import ScenarioError, UnknownScenarioError
from pytest_stress.market.synthetic import generate_market
from pytest_stress.scenario import name_seed
from traders import Flat, SmaCross

NAMES = ["BTC Flash Crash 2021", "ETH Liquidity Collapse", "SOL Volatility Explosion", "Mixed Regime Chaos",
         "Model Failure Simulation", "Data Corruption Shock", "Execution Crisis", "Correlation Breakdown",
         "Pump & Dump Mania", "Black Swan Combo"]


def test_the_ten_scenarios():
    assert library.names()[:10] == NAMES
    for s in library.all()[:10]:
        assert s.description
        views = s.build_market()
        assert views.true.n_bars == 1000


def test_each_library_scenario_has_its_own_base_market():
    seeds = {s.name: s.seed for s in library.all()[:10]}
    assert seeds == {n: name_seed(library.slug(n)) for n in NAMES} and len(set(seeds.values())) == 10
    single = [s for s in library.all()[:10] if len(s.symbols) == 1]
    returns = np.array([np.diff(np.log(s.base_market().close[0, :351])) for s in single])
    r = np.corrcoef(returns)[~np.eye(len(single), dtype=bool)]
    assert np.abs(r).max() < 0.3, r      # one shared seed gave 1.0000; 350 independent returns: |r| ~ 0.05
    code = "import json; from pytest_stress import library; print(json.dumps({s.name: s.seed for s in library.all()}))"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for hash_seed in ("1", "2"):       # str hashes differ between these processes; the seeds must not
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed}).stdout
        assert {k: v for k, v in json.loads(out).items() if k in seeds} == seeds


def test_calibrations():
    crash = library.get("BTC Flash Crash 2021").build_market()
    c, b = crash.true.close[0], crash.base.close[0]
    assert c[523] / c[499] == pytest.approx(0.79, rel=1e-9)         # 21% in 24 bars
    r, rb = np.diff(np.log(c[331:500])), np.diff(np.log(b[331:500]))
    np.testing.assert_allclose(r, 2.3 * rb, rtol=1e-9, atol=1e-12)   # after a week at x2.3 the base's volatility
    for seed in (None, 0, 11, 14):     # spreads x20 calm (the median of the week before) at every seed
        bs = library.get("Black Swan Combo", seed=seed).build_market()
        assert bs.true.close[0, 531] / bs.base.close[0, 499] == pytest.approx(0.53, rel=1e-9)
        calm = np.median(bs.base.spread[0, 500 - 168:500])
        np.testing.assert_allclose(bs.true.spread[0, 500:548] / calm, 20.0, rtol=1e-9)
    pump = library.get("Pump & Dump Mania").build_market()
    assert pump.true.close[0, 400 + 71] / pump.base.close[0, 399] == pytest.approx(2.2, rel=1e-9)
    assert library.get("Execution Crisis").faults.exchange_failure_rate == 0.4


def test_get_is_forgiving_but_never_guesses():
    assert library.get("black-swan-combo").name == "Black Swan Combo"
    assert library.get("black swan combo").name == "Black Swan Combo"
    with pytest.raises(UnknownScenarioError, match="did you mean 'Black Swan Combo'"):
        library.get("Black Swan Combination")
    assert library.slug("Pump & Dump Mania") == "pump-dump-mania"


def test_register_your_own_and_run_on_your_own_data():
    mine = Scenario("My Crash", "flash_crash", {"drop_pct": 0.6})
    library.register(mine)
    try:
        assert library.get("my-crash") is mine
        with pytest.raises(ScenarioError, match="exists"):
            library.register(mine)
    finally:
        library.unregister("My Crash")
    frames = generate_market(("BTCUSDT",), 300, "1h", 5).frames()
    s = library.get("BTC Flash Crash 2021", data=frames)
    views = s.build_market()
    assert views.true.n_bars == 300
    pd.testing.assert_index_equal(views.base.index, frames["BTCUSDT"].index)


def test_readme_snippet():
    result = run_scenario(library.get("Black Swan Combo"), SmaCross())
    assert result.execution_failures > 0 and result.bars_processed == 1000
    batch = run_batch(library.all(), trader_factory=SmaCross, max_workers=2)
    assert [r.scenario_name for r in batch.results] == library.names()
    assert batch.total_scenarios == batch.successful == len(library.names())
    text = batch.summary()
    assert "Black Swan Combo" in text and "worst_drawdown=" in text


class Fragile(SmaCross):
    def on_bar(self, ctx):
        if ctx.t == 700:
            raise RuntimeError("boom")
        return super().on_bar(ctx)


def test_one_failing_scenario_loses_nothing_else():
    scenarios = [library.get(n) for n in NAMES[:3]] + [Scenario("short", bars=100)]
    batch = run_batch(scenarios, trader_factory=Fragile, max_workers=2)
    assert [r.scenario_name for r in batch.results] == [s.name for s in scenarios]
    assert [r.success for r in batch.results] == [False, False, False, True]
    assert "RuntimeError: boom" in batch.results[0].error and "bar 700" in batch.results[0].error
    assert batch.failed == 3 and batch.successful == 1
    assert "FAILED: RuntimeError: boom" in batch.summary()


def test_sequential_and_parallel_give_identical_results():
    seq = run_batch(library.all(), SmaCross, max_workers=1)
    par = run_batch(library.all(), SmaCross, max_workers=2)
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k != "duration_s"}  # noqa: E731
    assert [strip(r) for r in seq.results] == [strip(r) for r in par.results]


@pytest.mark.slow
def test_runs_on_a_dask_local_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        batch = run_batch(NAMES[:4], SmaCross, executor=client.get_executor())
        pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids
    local = run_batch(NAMES[:4], SmaCross, max_workers=1)
    assert [r.final_equity for r in batch.results] == [r.final_equity for r in local.results]


def test_non_ascii_names_have_ids_of_their_own():
    from pytest_stress import Scenario
    from pytest_stress.scenario.definition import exact_slug, name_seed

    names = ["中文场景", "Сценарий краха", "🙂", "Crash ä", "crash Ä"]
    assert len({library.slug(n) for n in names}) == len(names) and all(library.slug(n) for n in names)
    assert library.slug("Crash ä").startswith("crash-") and library.slug("!!!") != ""
    assert {library.slug(s.name) for s in library.all()} >= {"black-swan-combo", "pump-dump-mania"}   # unchanged
    assert exact_slug("my crash") != exact_slug("My Crash")
    assert name_seed("中文场景") == int.from_bytes(__import__("hashlib").sha256("中文场景".encode()).digest()[:4], "big")
    try:   # two such names in the library: no longer one id
        for n in names[:2]:
            library.register(Scenario(n, "flash_crash", {"drop_pct": 0.2}, bars=200))
        assert library.get(library.slug(names[1])).name == names[1]
    finally:
        for n in names[:2]:
            if n in library.names():
                library.unregister(n)
