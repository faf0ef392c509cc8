"""``pytest-stress serve --dask-scheduler ADDRESS``: runs go to a dask.distributed cluster (a
LocalCluster on 127.0.0.1 started by the test) through its Executor interface, with the
same states, progress, results and cancel as local worker processes."""
from __future__ import annotations

import os
import sqlite3

import pytest

httpx = pytest.importorskip("httpx")
distributed = pytest.importorskip("distributed")
pytest.importorskip("fastapi")

from test_service import API, FLASH, TRADER, Server, slow, submit, wait_state   # noqa: E402


def test_runs_go_to_a_dask_cluster(tmp_path, monkeypatch):
    (tmp_path / "svc_traders.py").write_text(TRADER)
    monkeypatch.syspath_prepend(str(tmp_path))   # the cluster's workers import the trader's module
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
        srv = Server(tmp_path, tmp_path / "k.db", "--dask-scheduler", cluster.scheduler_address).start()
        try:
            with httpx.Client(base_url=srv.base + API, timeout=20) as c:
                ids = [submit(c, {"scenario_name": FLASH, "bars": 150, "seed": i})["run_id"] for i in range(3)]
                runs = [wait_state(c, i) for i in ids]
                assert [r["state"] for r in runs] == ["finished"] * 3
                assert len({r["metrics"]["final_equity"] for r in runs}) == 3
                long = submit(c, slow(3000))["run_id"]
                wait_state(c, long, ("running",))
                assert c.post(f"/results/{long}/cancel", json={}).status_code == 202
                assert wait_state(c, long, timeout=10)["state"] == "cancelled"
                assert c.get(f"/results/{ids[0]}/report").status_code == 200
        finally:
            srv.stop()
    with sqlite3.connect(tmp_path / "k.db") as db:
        pids = {p for (p,) in db.execute("SELECT pid FROM runs")}
    assert pids <= worker_pids and pids   # ran on the cluster's workers, not the server's own processes
