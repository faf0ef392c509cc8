"""The stress-testing service end to end: a real server (``pytest-stress serve``) on 127.0.0.1,
started and stopped by these tests, driven over HTTP with httpx."""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from pg_server import BACKENDS, database, postgres   # noqa: E402,F401  (SQLite and a real PostgreSQL server)

API = "/api/stress-testing"
FLASH = "btc-flash-crash-2021"

TRADER = textwrap.dedent('''
    import os
    import time

    from pytest_stress import buy, sell


    class Trader:
        """Trades every 20 bars; sleeps 10 ms a bar on SLOWUSDT; raises on RAISEUSDT; its worker
        process exits on CRASHUSDT; on LEVUSDT opens a long of 4.9x its equity on the first bar and
        holds it (a 5x perpetual account: a breaking-point search's known case)."""

        def on_bar(self, ctx):
            if ctx.symbol == "LEVUSDT":
                return buy(4.9 * ctx.equity / ctx.price) if ctx.t == 0 else None
            if ctx.symbol == "CRASHUSDT" and ctx.t == 5:
                os._exit(3)
            if ctx.symbol == "RAISEUSDT" and ctx.t == 3:
                raise ValueError("the trader's own bug")
            if ctx.symbol == "SLOWUSDT":
                time.sleep(0.01)
            if ctx.t % 20 == 0:
                pos = ctx.position()
                return buy(1) if pos == 0 else sell(pos) if pos > 0 else buy(-pos)
            return None


    def make():
        return Trader()
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``pytest-stress serve`` in its own process group, on a free port of 127.0.0.1."""

    def __init__(self, workdir: Path, db: Path | str, *extra: str) -> None:
        self.workdir, self.db, self.extra = workdir, db, extra
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Server":
        (self.workdir / "svc_traders.py").write_text(TRADER)
        cmd = [sys.executable, "-m", "pytest_stress", "serve", "--trader", "svc_traders:make", "--db", str(self.db),
               "--port", str(self.port), "--workers", "2", "--progress-every", "0.05", *self.extra]
        self.log = open(self.workdir / f"server-{self.port}.log", "w")
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.workdir / f"server-{self.port}.log").read_text()
            try:
                if httpx.get(self.base + API + "/status", timeout=1,
                             headers=self.auth()).status_code in (200, 401):
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not start in 30 s")

    def auth(self) -> dict[str, str]:
        if "--token" in self.extra:
            return {"Authorization": "Bearer " + self.extra[self.extra.index("--token") + 1]}
        return {}

    def kill(self) -> None:
        """SIGKILL the server and its worker processes at once (a machine that went down)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module", params=BACKENDS)   # every test of `server` runs on both stores
def server(request, tmp_path_factory):
    work = tmp_path_factory.mktemp("service")
    srv = Server(work, database(request, request.param, work / "runs.db"), "--max-bars", "5000", "--max-paths",
                 "4", "--max-symbols", "3", "--max-body", "4096", "--max-active", "8",
                 "--max-search-paths", "2000").start()
    yield srv
    srv.stop()


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server.base + API, timeout=20) as c:
        yield c


def submit(client, body, **kw):
    r = client.post("/scenarios/run", json=body, **kw)
    assert r.status_code in (200, 202), r.text
    return r.json()


def wait_state(client, run_id, states=("finished", "failed", "cancelled"), timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/results/{run_id}").json()
        if run["state"] in states:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {run['state']} after {timeout} s (wanted {states})")


def slow(bars=150, **kw):
    return {"name": "slow", "type": "synthetic", "symbols": ["SLOWUSDT"], "bars": bars, **kw}


def read_events(client, run_id, headers=None, timeout=30.0):
    events = []
    with client.stream("GET", f"/results/{run_id}/events", headers=headers or {}, timeout=timeout) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        ev: dict = {}
        for line in r.iter_lines():
            if not line:
                if ev:
                    events.append(ev)
                    if ev.get("event") in ("end", "timeout"):
                        break
                ev = {}
                continue
            key, _, value = line.partition(":")
            if key == "data":
                ev["data"] = json.loads(value.strip())
            elif key in ("event", "id"):
                ev[key] = value.strip()
    return events


# -- the original endpoints -------------------------------------------------------------
def test_submit_is_answered_at_once_and_the_run_finishes(client):
    started = time.monotonic()
    r = client.post("/scenarios/run", json={"scenario_name": FLASH, "bars": 200})
    assert time.monotonic() - started < 2.0
    assert r.status_code == 202
    body = r.json()
    assert body["status"] == "submitted" and body["scenario_name"] == "BTC Flash Crash 2021"
    assert body["message"] and body["run_id"] and body["state"] == "queued"
    assert r.headers["location"] == body["result_url"] == f"{API}/results/{body['run_id']}"
    run = wait_state(client, body["run_id"])
    assert run["state"] == "finished", run["error"]
    assert run["metrics"]["bars_processed"] == 200
    assert run["progress"]["bar"] == 199 and run["progress"]["fraction"] == 1.0
    assert run["failure"] is None and 0 < run["duration_s"] < 30 and run["finished_at"].count(".") == 1   # ms
    assert "report" in run["summary"] and run["summary"]["success"] is True
    latest = client.get(f"/results/{FLASH}").json()   # a scenario name gives its latest run
    assert latest["scenario_id"] == FLASH and latest["state"] in ("queued", "running", "finished")


def test_monte_carlo_paths_and_a_custom_scenario(client):
    rid = submit(client, {"type": "flash_crash", "name": "my crash", "parameters": {"drop_pct": 0.2},
                          "symbols": ["BTCUSDT"], "bars": 100, "seed": 5, "paths": 2,
                          "exchange": "stressed", "account": "perpetual:leverage=3"})["run_id"]
    run = wait_state(client, rid)
    assert run["state"] == "finished", run["error"]
    assert run["scenario_name"] == "my crash" and run["progress"]["bars"] == 200 and run["progress"]["bar"] == 199
    assert run["summary"]["paths"] == 2 and run["spec"]["exchange"] == "stressed"
    from pytest_stress.runner import path_seeds

    assert run["summary"]["report"]["kind"] == "paths" and run["summary"]["worst_seed"] in path_seeds(5, 2)


def test_status_library_and_unknown_names(client):
    st = client.get("/status").json()
    assert st["available"] is True and st["executor_initialized"] is True
    assert {"running_tests", "completed_tests", "last_run"} <= set(st)
    lib = client.get("/scenarios/library").json()
    assert lib["total"] == len(lib["scenarios"]) >= 10
    assert FLASH in {s["id"] for s in lib["scenarios"]}
    r = client.post("/scenarios/run", json={"scenario_name": "btc flash crash"})
    assert r.status_code == 404 and "BTC Flash Crash 2021" in r.json()["detail"]
    r = client.get("/results/btc-flash-crsh-2021-nope")
    assert r.status_code == 404


def test_batch_waits_for_every_scenario_and_aggregates(client):
    names = [FLASH, "sol-volatility-explosion", "Execution Crisis"]
    r = client.post("/scenarios/batch", json={"scenario_names": names, "bars": 150, "max_workers": 2})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["total_scenarios"] == 3 and b["successful"] == 3 and b["failed"] == 0
    assert [x["state"] for x in b["results"]] == ["finished"] * 3
    assert b["worst_drawdown"] == max(x["metrics"]["max_drawdown"] for x in b["results"])
    assert 0.0 <= b["avg_winrate"] <= 100.0
    r = client.post("/scenarios/batch", json={"scenario_names": [FLASH, "no such scenario"]})
    assert r.status_code == 404   # checked before anything runs


def wait_batch(client, batch_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        b = client.get(f"/batches/{batch_id}").json()
        if b["state"] == "finished":
            return b
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} still {b['state']} after {timeout} s")


def test_a_batch_is_a_resource_answered_at_once(client):
    body = {"scenario_names": [FLASH, "sol-volatility-explosion", "Execution Crisis"], "bars": 200, "seed": 3}
    t0 = time.monotonic()
    r = client.post("/batches", json=body, headers={"Idempotency-Key": "batch-1"})
    assert r.status_code == 202 and time.monotonic() - t0 < 2, r.text
    b = r.json()
    assert r.headers["location"] == b["batch_url"] == f"{API}/batches/{b['batch_id']}"
    assert b["state"] in ("queued", "running") and b["total_scenarios"] == 3
    again = client.post("/batches", json=body, headers={"Idempotency-Key": "batch-1"})   # a retried submission
    assert again.status_code == 200 and again.json()["batch_id"] == b["batch_id"]
    assert client.post("/batches", json={**body, "seed": 4}, headers={"Idempotency-Key": "batch-1"}).status_code == 409
    done = wait_batch(client, b["batch_id"])
    assert done["successful"] == 3 and done["failed"] == done["cancelled"] == 0 and done["finished_at"]
    assert [x["scenario_name"] for x in done["results"]] == ["BTC Flash Crash 2021", "SOL Volatility Explosion",
                                                             "Execution Crisis"]
    assert done["worst_drawdown"] == max(x["metrics"]["max_drawdown"] for x in done["results"])
    assert client.get("/batches/no-such-batch").status_code == 404
    before = client.get("/results").json()["total"]
    assert client.post("/batches", json={"scenario_names": [FLASH, "no such scenario"]}).status_code == 404
    assert client.post("/batches", json={"scenario_names": [FLASH] * 9}).status_code == 429   # all or none (8 here)
    assert client.get("/results").json()["total"] == before
    slow_batch = client.post("/batches", json={"scenario_names": [FLASH] * 3, "bars": 5000}).json()["batch_id"]
    r = client.post(f"/batches/{slow_batch}/cancel", json={})
    assert r.status_code in (202, 409), r.text
    ended = wait_batch(client, slow_batch)
    assert ended["cancelled"] + ended["successful"] == 3
    assert client.post(f"/batches/{slow_batch}/cancel", json={}).status_code == 409


def test_results_are_paginated_newest_first(client):
    ids = [submit(client, {"scenario_name": FLASH, "bars": 60, "seed": i})["run_id"] for i in range(3)]
    for i in ids:
        wait_state(client, i)
    first = client.get("/results", params={"limit": 2, "offset": 0}).json()
    second = client.get("/results", params={"limit": 2, "offset": 2}).json()
    assert first["total"] == second["total"] >= 3
    assert len(first["results"]) == 2 and first["limit"] == 2 and first["offset"] == 0
    assert [r["run_id"] for r in first["results"]] == ids[::-1][:2]
    assert second["results"][0]["run_id"] == ids[0]
    assert not {r["run_id"] for r in first["results"]} & {r["run_id"] for r in second["results"]}
    assert client.get("/results", params={"limit": 0}).status_code == 422
    assert client.get("/results", params={"offset": 2**63}).status_code == 422   # found by schemathesis: was a 500
    only = client.get("/results", params={"state": "finished", "limit": 1000}).json()
    assert only["results"] and {r["state"] for r in only["results"]} == {"finished"}
    # by submission time (RFC 3339): since the second run, until the third
    at = [client.get(f"/results/{i}").json()["created_at"] for i in ids]
    window = client.get("/results", params={"since": at[1], "until": at[2], "scenario": FLASH}).json()
    assert [r["run_id"] for r in window["results"]] == [ids[1]] and window["total"] == 1
    later = client.get("/results", params={"since": at[1].replace("+00:00", "Z"), "scenario": FLASH}).json()
    assert [r["run_id"] for r in later["results"]] == ids[:0:-1]
    for bad in ("0.5", "2026-12-07", "2026-13-07T10:00:00Z"):   # a number, a date alone, no 13th month
        assert client.get("/results", params={"since": bad}).status_code == 422, bad


def test_delete_a_stored_run_but_not_a_running_one(client):
    done = submit(client, {"scenario_name": FLASH, "bars": 60})["run_id"]
    wait_state(client, done)
    running = submit(client, slow(2000))["run_id"]
    wait_state(client, running, ("running",))
    assert client.delete(f"/results/{running}").status_code == 409
    assert client.delete(f"/results/{done}").status_code == 204
    assert client.get(f"/results/{done}").status_code == 404
    assert client.delete(f"/results/{done}").status_code == 404
    assert client.post(f"/results/{running}/cancel", json={}).status_code == 202
    assert wait_state(client, running, timeout=10)["state"] == "cancelled"


# -- run states, progress, cancel, faults -----------------------------------------------
def test_live_progress_as_server_sent_events_with_resume(client):
    rid = submit(client, slow(150))["run_id"]
    events = read_events(client, rid)
    progress = [e for e in events if e.get("event") == "progress"]
    assert len(progress) >= 3
    bars = [e["data"]["bar"] for e in progress]
    assert bars == sorted(bars) and bars[-1] == 149
    assert all("equity" in e["data"] and e["data"]["drawdown"] >= 0 for e in progress)
    assert [e["data"]["state"] for e in events if e.get("event") == "state"][-1] == "finished"
    assert events[-1]["event"] == "end" and events[-1]["data"]["state"] == "finished"
    # resume: a reconnecting client sends the last id it saw and gets only what came after
    mid = progress[len(progress) // 2]["id"]
    again = [e for e in read_events(client, rid, {"Last-Event-ID": mid}) if e.get("event") == "progress"]
    assert [e["id"] for e in again] == [e["id"] for e in progress if int(e["id"]) > int(mid)]


def test_the_last_progress_event_has_the_runs_drawdown_and_comes_before_its_final_state(client):
    rid = submit(client, {"scenario_name": FLASH, "bars": 300, "seed": 4})["run_id"]   # a run of a few rows at most
    events = read_events(client, rid)
    run = client.get(f"/results/{rid}").json()
    assert run["state"] == "finished" and run["metrics"]["max_drawdown"] > 0
    kinds = [e.get("event") for e in events]
    last = max(i for i, k in enumerate(kinds) if k == "progress")
    # after the last progress: state changes only (a run this short may still show 'running' there,
    # when it went from queued to finished between two polls), the last one finished, then the end
    tail = kinds[last + 1:]
    assert tail[-1] == "end" and set(tail[:-1]) == {"state"}, kinds
    assert events[len(kinds) - 2]["data"]["state"] == "finished", kinds
    assert not any(e.get("event") == "state" and e["data"]["state"] == "finished" for e in events[:last]), kinds
    final = events[last]["data"]
    assert final["bar"] == 299 and final["max_drawdown"] == pytest.approx(run["metrics"]["max_drawdown"])
    assert run["progress"]["max_drawdown"] == final["max_drawdown"]
    assert 0 <= final["drawdown"] <= final["max_drawdown"]


def test_one_event_stream_follows_every_active_run(client):
    ids = {submit(client, slow(80))["run_id"] for _ in range(3)}   # two run, one waits
    events, ended = [], set()
    with client.stream("GET", "/events", timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        ev: dict = {}
        for line in r.iter_lines():
            if line.startswith("event:"):
                ev["event"] = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                ev["data"] = json.loads(line.partition(":")[2])
            elif not line and ev:
                events.append(ev)
                if ev.get("event") == "end" and ev["data"]["run_id"] in ids:
                    ended.add(ev["data"]["run_id"])
                    if ended == ids:
                        break
                ev = {}
    mine = [e for e in events if e["data"].get("run_id") in ids]
    assert {e["data"]["run_id"] for e in mine if e["event"] == "progress"} == ids
    for rid in ids:
        kinds = [e["event"] for e in mine if e["data"]["run_id"] == rid]
        assert kinds[0] == "state" and kinds[-1] == "end" and "progress" in kinds, kinds
        states = [e["data"]["state"] for e in mine if e["data"]["run_id"] == rid and e["event"] == "state"]
        assert states[-1] == "finished" and "running" in states, states
        end = next(e["data"] for e in mine if e["data"]["run_id"] == rid and e["event"] == "end")
        assert end["state"] == "finished" and end["metrics"]["bars_processed"] == 80


def test_cancel_a_running_run(client):
    rid = submit(client, slow(3000))["run_id"]
    wait_state(client, rid, ("running",))
    r = client.post(f"/results/{rid}/cancel", json={})
    assert r.status_code == 202 and r.json()["state"] == "running"
    t0 = time.monotonic()
    run = wait_state(client, rid, timeout=10)
    assert run["state"] == "cancelled" and "cancel" in run["error"] and run["failure"] == "cancelled"
    assert time.monotonic() - t0 < 3
    assert 0 <= run["progress"]["bar"] < 2999
    assert client.post(f"/results/{rid}/cancel", json={}).status_code == 409


def test_a_crashed_worker_fails_its_run_not_the_server(client):
    rid = submit(client, {"type": "synthetic", "symbols": ["CRASHUSDT"], "bars": 100})["run_id"]
    run = wait_state(client, rid)
    assert run["state"] == "failed" and "worker process died" in run["error"] and run["failure"] == "worker_died"
    after = submit(client, {"scenario_name": FLASH, "bars": 80})["run_id"]
    assert wait_state(client, after)["state"] == "finished"
    assert client.get("/status").json()["available"] is True


def test_a_trader_error_fails_the_run_with_its_traceback(client):
    rid = submit(client, {"type": "synthetic", "symbols": ["RAISEUSDT"], "bars": 50})["run_id"]
    run = wait_state(client, rid)
    assert run["state"] == "failed" and run["metrics"] is None and run["failure"] == "trader_error"
    assert run["error"].startswith("ValueError: the trader's own bug") and "svc_traders.py" in run["error"]
    assert "bar 3" in run["error"]
    assert client.get(f"/results/{rid}/report").status_code == 409   # no result to report
    assert client.get("/results/no-such-run/events").status_code == 404


def test_concurrent_submissions_and_idempotency(client):
    with ThreadPoolExecutor(8) as ex:
        answers = list(ex.map(lambda i: client.post("/scenarios/run", json={"scenario_name": FLASH, "bars": 60,
                                                                             "seed": 100 + i}), range(6)))
    assert [a.status_code for a in answers] == [202] * 6
    ids = {a.json()["run_id"] for a in answers}
    assert len(ids) == 6
    for i in ids:
        assert wait_state(client, i)["state"] == "finished"
    body = {"scenario_name": FLASH, "bars": 60, "seed": 7}
    with ThreadPoolExecutor(5) as ex:
        same = list(ex.map(lambda _: client.post("/scenarios/run", json=body, headers={"Idempotency-Key": "k-1"}),
                           range(5)))
    assert sorted(a.status_code for a in same) == [200] * 4 + [202]
    assert len({a.json()["run_id"] for a in same}) == 1
    other = client.post("/scenarios/run", json={**body, "seed": 8}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409


# -- limits and security ------------------------------------------------------------------
def test_each_limit_has_its_status(client):
    big = {"scenario_name": FLASH, "name": "x" * 5000}
    r = client.post("/scenarios/run", json=big)
    assert r.status_code == 413 and "4096" in r.json()["detail"]

    def chunks():   # no Content-Length: the limit counts what streams in
        yield b'{"scenario_name": "' + b"x" * 3000
        yield b"y" * 3000 + b'"}'
    r = client.post("/scenarios/run", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    for body, field in [({"scenario_name": FLASH, "bars": 6000}, "bars"),
                        ({"scenario_name": FLASH, "paths": 5}, "paths"),
                        ({"type": "synthetic", "symbols": ["A", "B", "C", "D"]}, "symbols")]:
        r = client.post("/scenarios/run", json=body)
        assert r.status_code == 413 and r.json()["field"] == field, r.text
    for body, field in [({"scenario_name": FLASH, "bars": 1}, "bars"),
                        ({"scenario_name": FLASH, "seed": "abc"}, "seed"),
                        ({"scenario_name": FLASH, "strategy_path": "evil:Strategy"}, "strategy_path"),
                        ({"scenario_name": FLASH, "exchange": "/etc/passwd"}, "exchange"),
                        ({"type": "flash_crash", "parameters": {"drop_pct": 7}}, "parameters"),
                        ({"type": "no_such_type"}, "type"),
                        ({"scenario_name": "sol-volatility-explosion", "bars": 50}, "bars")]:   # its window does not fit
        r = client.post("/scenarios/run", json=body)
        assert r.status_code == 422, (body, r.text)
        assert [field in e["loc"] for e in r.json()["detail"]] == [True], r.text
    # too many queued or running: 429 with Retry-After (the limit here is 8)
    ids = [submit(client, slow(3000))["run_id"] for _ in range(8)]
    r = client.post("/scenarios/run", json=slow(3000))
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    states = {}
    for i in ids:
        r = client.post(f"/results/{i}/cancel", json={})
        assert r.status_code == 202, r.text
        states[i] = r.json()["state"]
    assert "cancelled" in states.values()   # the queued ones at once
    for i in ids:
        assert wait_state(client, i, timeout=10)["state"] == "cancelled"


def test_the_host_header_is_checked(server):
    r = httpx.get(server.base + API + "/status", headers={"Host": "rebind.example.com"})
    assert r.status_code == 400
    assert httpx.get(server.base + API + "/status", headers={"Host": f"localhost:{server.port}"}).status_code == 200


def test_non_finite_numbers_are_422_not_500_or_429(client):
    for raw, field in [('{"scenario_name": "%s", "seed": NaN}' % FLASH, "seed"),
                       ('{"scenario_name": "%s", "bars": Infinity}' % FLASH, "bars"),
                       ('{"type": "flash_crash", "parameters": {"drop_pct": 1e400}}', "parameters"),
                       ('{"type": "flash_crash", "parameters": {"duration_bars": -Infinity}}', "parameters")]:
        r = client.post("/scenarios/run", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422 and "retry-after" not in r.headers, (raw, r.status_code, r.text)
        (err,) = r.json()["detail"]
        assert field in err["loc"] and "finite" in err["msg"], err


def test_ipv6_loopback_host_and_a_cross_origin_post_is_refused(server, client):
    url = server.base + API + "/status"
    assert httpx.get(url, headers={"Host": f"[::1]:{server.port}"}).status_code == 200   # the docs list ::1
    assert httpx.get(url, headers={"Host": "[::1]"}).status_code == 200
    assert httpx.get(url, headers={"Host": f"[::2]:{server.port}"}).status_code == 400
    rid = submit(client, slow(3000))["run_id"]
    wait_state(client, rid, ("running",))
    # what a page on another origin can make a browser send without asking (no-cors): no body,
    # or text/plain or a form; none of them cancels
    for headers in ({}, {"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"},
                    {"content-type": "multipart/form-data; boundary=x"}):
        r = client.post(f"/results/{rid}/cancel", headers={"Origin": "https://evil.example", **headers})
        assert r.status_code == 415 and "application/json" in r.json()["detail"], (headers, r.text)
    r = client.post("/scenarios/run", content=json.dumps(slow(10)), headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert client.get(f"/results/{rid}").json()["state"] == "running"
    assert client.post(f"/results/{rid}/cancel", json={}).status_code == 202
    assert client.post(f"/results/{rid}/cancel", headers={"content-type": "application/json"}).status_code in (202, 409)
    assert wait_state(client, rid, timeout=10)["state"] == "cancelled"


def test_a_token_is_required_when_configured(tmp_path):
    srv = Server(tmp_path, tmp_path / "t.db", "--token", "s3cret-token").start()
    try:
        url = srv.base + API + "/status"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url, headers=srv.auth()).json()["available"] is True
        assert httpx.get(url + "?token=s3cret-token").status_code == 200   # EventSource cannot send headers
        assert httpx.get(srv.base + "/").status_code == 200               # the page holds no data
    finally:
        srv.stop()


def test_binding_beyond_loopback_makes_a_token(tmp_path):
    from pytest_stress.cli import build_parser
    from pytest_stress.service.serve import settings_from

    args = build_parser().parse_args(["serve", "--trader", "m:f", "--host", "0.0.0.0", "--db", str(tmp_path / "x.db")])
    args.token = None
    settings = settings_from(args, dict)
    assert settings.token and len(settings.token) >= 32
    path = tmp_path / "x.token"
    assert path.read_text().strip() == settings.token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    local = build_parser().parse_args(["serve", "--trader", "m:f", "--db", str(tmp_path / "y.db")])
    local.token = None
    assert settings_from(local, dict).token is None


# -- breaking-point runs ------------------------------------------------------------------
#: A 5x long opened before a flash crash (tests/test_breaking.py's known case), on LEVUSDT, where
#: the server's trader opens 4.9x its equity on the first bar and holds it.
LEVERED = {"type": "flash_crash", "name": "levered crash", "symbols": ["LEVUSDT"], "bars": 60, "seed": 7,
           "parameters": {"drop_pct": 0.3, "duration_bars": 6, "front": 1.0, "noise_mult": 1.0, "recovery_pct": 0.0,
                          "start": 0.5, "base_vol": 0.05},
           "exchange": "frictionless", "account": "perpetual:leverage=5"}
NO_LIQUIDATION = {"metric": "liquidations", "op": "<=", "value": 0}


def _server_trader():
    """The server's trader factory, built here from the same source (svc_traders.make)."""
    space: dict = {}
    exec(compile(TRADER, "svc_traders.py", "exec"), space)
    return space["make"]


def test_a_breaking_point_run_stores_and_returns_the_search(client):
    from pytest_stress import Scenario
    from pytest_stress.breaking import find_breaking_point
    from pytest_stress.result.breaking import short_note
    from pytest_stress.claims import claims_from_request
    from pytest_stress.service.specs import search_paths

    body = {**LEVERED, "breaking_point": "drop_pct", "search_range": [0.1, 0.3], "precision": 0.02,
            "check": NO_LIQUIDATION}
    rid = submit(client, body)["run_id"]
    run = wait_state(client, rid)
    assert run["state"] == "finished", run["error"]
    bp = run["breaking_point"]
    # the same answer, to the bit, as the search run here with the server's trader and the same check
    sc = Scenario(LEVERED["name"], "flash_crash", LEVERED["parameters"], symbols=("LEVUSDT",), bars=60, seed=7)
    here = find_breaking_point(sc, _server_trader(), claims_from_request([NO_LIQUIDATION]), parameter="drop_pct", low=0.1,
                               high=0.3, precision=0.02, exchange="frictionless", account="perpetual:leverage=5",
                               workers=1, max_runs=2000)
    assert bp == json.loads(json.dumps(here.summary()))
    assert bp["status"] == "found" and bp["bracket"][1] - bp["bracket"][0] <= 0.02
    assert 0.12 < bp["value"] < 0.2 and bp["scenario_repr"].startswith("Scenario('levered crash @ drop_pct=")
    assert run["summary"]["breaking_point"] == bp and run["summary"]["check"] == "liquidations <= 0"
    assert run["breaking_point_note"] == short_note(bp) and run["breaking_point_note"].startswith("breaks at drop_pct")
    assert run["spec"]["breaking_point"]["check"] == [NO_LIQUIDATION]
    # the run shown with it held (no liquidation) at the bracket's passing end
    assert run["metrics"]["liquidations"] == 0 and run["summary"]["report"]["kind"] == "run"
    # progress: every path's bars, of at most the budget's worst case
    paths = bp["evaluations"]["paths"] + 1     # and the run shown
    assert run["progress"]["bar"] == 60 * paths - 1 and run["progress"]["bars"] == 60 * search_paths(2000)
    listed = next(r for r in client.get("/results").json()["results"] if r["run_id"] == rid)
    assert listed["breaking_point_note"] == run["breaking_point_note"] and "breaking_point" not in listed
    page = client.get(f"/results/{rid}/report")
    assert page.status_code == 200 and "mildest failing scenario (paste back as Python)" in page.text
    assert f'-bp-pass-main"' in page.text and f'-bp-bracket"' in page.text
    # not a baseline, and not in the scenario's regression check
    assert client.put("/scenarios/levered crash/baseline", json={"run_id": rid}).status_code == 409
    h = client.get("/scenarios/levered crash/history").json()
    assert rid in [r["run_id"] for r in h["runs"]] and h["regression"]["latest_run_id"] != rid


def test_a_breaking_point_search_that_never_breaks_and_one_out_of_budget(client):
    never = submit(client, {**LEVERED, "breaking_point": "drop_pct", "search_range": [0.02, 0.1], "precision": 0.02,
                            "check": [NO_LIQUIDATION, {"metric": "final_equity", "op": ">", "value": 0}]})["run_id"]
    short = submit(client, {**LEVERED, "breaking_point": True, "max_runs": 20, "check": NO_LIQUIDATION})["run_id"]
    run = wait_state(client, never)
    assert run["state"] == "finished", run["error"]
    assert run["breaking_point"]["status"] == "never" and run["breaking_point_note"] == "never breaks up to drop_pct 0.1"
    assert run["summary"]["check"] == "liquidations <= 0 and final_equity > 0"
    run = wait_state(client, short)
    assert run["state"] == "finished", run["error"]
    bp = run["breaking_point"]
    assert bp["status"] == "unfinished" and bp["evaluations"]["paths"] < 20 + 300
    assert bp["notes"] == [f"stopped after {bp['evaluations']['paths']} paths (max_runs=20)"]


def test_a_breaking_point_run_can_be_cancelled_mid_search(client):
    slow_crash = {**LEVERED, "symbols": ["SLOWUSDT"], "bars": 40}     # 10 ms a bar: 0.4 s a path
    rid = submit(client, {**slow_crash, "breaking_point": True, "check": NO_LIQUIDATION})["run_id"]
    deadline = time.monotonic() + 20
    while client.get(f"/results/{rid}").json()["progress"]["bar"] < 60:    # into its second path
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.post(f"/results/{rid}/cancel", json={}).status_code == 202
    run = wait_state(client, rid, timeout=10)
    assert run["state"] == "cancelled" and "breaking_point" not in run


@pytest.mark.parametrize("body, status, field, says", [
    ({"breaking_point": "drop_pct"}, 422, "check", "breaking_point needs a check"),
    ({"breaking_point": True, "check": {**NO_LIQUIDATION, "metric": "liquidatons"}}, 422, "check",
     "unknown metric 'liquidatons'; did you mean 'liquidations'"),
    ({"breaking_point": True, "check": {**NO_LIQUIDATION, "op": "=<"}}, 422, "op", "'<='"),
    ({"breaking_point": True, "check": {**NO_LIQUIDATION, "extra": 1}}, 422, "extra", "xtra"),
    ({"breaking_point": "spread", "check": NO_LIQUIDATION}, 422, "breaking_point",
     "unknown parameter 'spread'. Did you mean 'spread_mult'?"),
    ({"breaking_point": "duration_bars", "check": NO_LIQUIDATION}, 422, "breaking_point", "does not scale"),
    ({"search_range": [0.1, 0.3], "check": NO_LIQUIDATION}, 422, "search_range", "add breaking_point"),
    ({"breaking_point": True, "search_range": [2, 1], "check": NO_LIQUIDATION}, 422, "search_range",
     "0 <= low < high"),
    ({"breaking_point": True, "search_range": [1], "check": NO_LIQUIDATION}, 422, "search_range", "at least 2"),
    ({"breaking_point": True, "precision": 0, "check": NO_LIQUIDATION}, 422, "precision", "greater than 0"),
    ({"breaking_point": True, "paths": 2, "check": NO_LIQUIDATION}, 422, "paths", "leave paths out"),
    ({"breaking_point": True, "max_runs": 2001, "check": NO_LIQUIDATION}, 413, "max_runs",
     "over this server's limit of 2000 paths per breaking-point search"),
])
def test_a_bad_breaking_point_request_names_its_field(client, body, status, field, says):
    r = client.post("/scenarios/run", json={**LEVERED, **body})
    assert r.status_code == status, r.text
    out = r.json()
    if status == 413:
        assert out["field"] == field and says in out["detail"]
    else:
        (err,) = out["detail"]
        assert field in err["loc"] and says in err["msg"], err


# -- history, report, dashboard -----------------------------------------------------------
def test_history_with_a_regression_check(client):
    name = "sol-volatility-explosion"
    a = submit(client, {"scenario_name": name, "bars": 200, "seed": 1})["run_id"]
    wait_state(client, a)
    b = submit(client, {"scenario_name": name, "bars": 200, "seed": 1})["run_id"]
    wait_state(client, b)
    h = client.get(f"/scenarios/{name}/history", params={"threshold": "total_pnl:0"}).json()
    assert [r["run_id"] for r in h["runs"]][:2] == [b, a]
    reg = h["regression"]
    assert reg["checked"] and reg["latest_run_id"] == b and reg["against_run_id"] == a
    pnl_a = client.get(f"/results/{a}").json()["metrics"]["total_pnl"]
    pnl_b = client.get(f"/results/{b}").json()["metrics"]["total_pnl"]
    assert reg["passed"] == (pnl_b >= pnl_a)
    assert client.get(f"/scenarios/{name}/history", params={"against": "baseline"}).status_code == 404
    assert client.put(f"/scenarios/{name}/baseline", json={"run_id": b}).status_code == 200
    same = client.get(f"/scenarios/{name}/history", params={"against": "baseline"}).json()["regression"]
    assert same["against_run_id"] == b and same["checked"] is False   # the latest is the baseline itself
    assert client.get(f"/scenarios/{name}/history", params={"threshold": "nope:1"}).status_code == 422


def test_the_regression_check_compares_only_runs_made_under_the_same_settings(client):
    name = "eth-liquidity-collapse"   # no other test runs it: its history is this test's
    same = {"scenario_name": name, "bars": 200, "seed": 1}
    first = submit(client, same)["run_id"]
    longer = submit(client, {**same, "bars": 300})["run_id"]
    harsher = submit(client, {**same, "exchange": "stressed", "account": "perpetual:leverage=10"})["run_id"]
    reseeded = submit(client, {**same, "seed": 2})["run_id"]
    again = submit(client, same)["run_id"]
    for rid in (first, longer, harsher, reseeded, again):
        assert wait_state(client, rid)["state"] == "finished"
    reg = client.get(f"/scenarios/{name}/history", params={"threshold": "total_pnl:0"}).json()["regression"]
    assert reg["latest_run_id"] == again and reg["against_run_id"] == first   # not the newer unlike runs
    assert reg["checked"] and reg["passed"] and reg["regressions"] == []     # the same trader, the same run
    assert reg["baseline"]["run_id"] == first and "same settings" in reg["baseline"]["why"]
    assert reg["settings"]["scenario"]["bars"] == 200 and reg["settings"]["exchange"] == "calm"
    assert reg["settings"]["trader"] == "svc_traders:make" and reg["comparable_run_ids"] == [first]
    unlike = {u["run_id"]: u for u in reg["not_comparable"]}
    assert set(unlike) == {longer, harsher, reseeded}
    assert unlike[longer]["differs"] == {"bars": [300, 200]}
    assert set(unlike[harsher]["differs"]) == {"exchange", "account"} and "stressed" in unlike[harsher]["why"]
    assert unlike[reseeded]["differs"] == {"seed": [2, 1]}
    # against a pinned baseline: only a later run made as the baseline was is checked
    assert client.put(f"/scenarios/{name}/baseline", json={"run_id": longer}).status_code == 200
    pinned = client.get(f"/scenarios/{name}/history", params={"against": "baseline"}).json()["regression"]
    assert pinned["against_run_id"] == longer and pinned["checked"] is False and pinned["latest_run_id"] is None
    assert "since the baseline" in pinned["detail"] and again in {u["run_id"] for u in pinned["not_comparable"]}
    later = submit(client, {**same, "bars": 300})["run_id"]
    wait_state(client, later)
    pinned = client.get(f"/scenarios/{name}/history", params={"against": "baseline"}).json()["regression"]
    assert pinned["checked"] and pinned["latest_run_id"] == later and pinned["against_run_id"] == longer
    assert pinned["baseline"]["why"] == "the pinned baseline"


def test_library_and_custom_scenarios_and_non_ascii_names_never_share_an_id(client):
    lib = submit(client, {"scenario_name": FLASH, "bars": 60, "seed": 11})["run_id"]
    wait_state(client, lib)
    impostor = submit(client, {"name": "BTC Flash Crash 2021", "type": "synthetic", "bars": 40})["run_id"]
    wait_state(client, impostor)
    assert client.get(f"/results/{FLASH}").json()["run_id"] == lib   # the library's latest run is its own
    assert client.get("/results/BTC Flash Crash 2021").json()["run_id"] == lib
    own = client.get(f"/results/{impostor}").json()["scenario_id"]
    assert own.startswith("custom.") and client.get(f"/results/{own}").json()["run_id"] == impostor
    assert impostor not in {r["run_id"] for r in client.get(f"/scenarios/{FLASH}/history").json()["runs"]}
    names = ["中文场景", "Сценарий краха", "Crash ä", "crash Ä"]
    ids = {n: submit(client, {"name": n, "type": "synthetic", "bars": 40})["run_id"] for n in names}
    runs = {n: wait_state(client, rid) for n, rid in ids.items()}
    assert len({r["scenario_id"] for r in runs.values()}) == len(names)
    for n, rid in ids.items():
        assert client.get(f"/results/{n}").json()["run_id"] == rid
        assert [r["run_id"] for r in client.get(f"/scenarios/{n}/history").json()["runs"]] == [rid]
    assert client.delete("/results/🙂").status_code == 404   # was: deleted every non-ASCII run
    assert client.delete("/results/中文场景").status_code == 204
    assert client.get(f"/results/{ids['中文场景']}").status_code == 404
    assert all(client.get(f"/results/{ids[n]}").status_code == 200 for n in names[1:])


def test_report_of_a_stored_run(client):
    rid = submit(client, {"scenario_name": FLASH, "bars": 120})["run_id"]
    wait_state(client, rid)
    r = client.get(f"/results/{rid}/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "BTC Flash Crash 2021" in r.text and "<svg" in r.text
    # built once: the same page again, faster, and 304 for a client that has it
    t0 = time.perf_counter()
    again = client.get(f"/results/{rid}/report")
    assert again.text == r.text and again.headers["etag"] == r.headers["etag"]
    assert time.perf_counter() - t0 < 0.5
    assert client.get(f"/results/{rid}/report", headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_dashboard_is_one_page_without_external_resources(server):
    r = httpx.get(server.base + "/")
    assert r.status_code == 200 and "pytest-stress service" in r.text
    assert "http://" not in r.text and "https://" not in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_openapi_marks_the_event_stream(server):
    spec = httpx.get(server.base + "/openapi.json").json()
    ev = spec["paths"][API + "/results/{run_id}/events"]["get"]
    assert "text/event-stream" in json.dumps(ev["responses"])


def test_an_idle_stream_gets_keep_alives_then_a_timeout_event(tmp_path):
    srv = Server(tmp_path, tmp_path / "k.db", "--workers", "1", "--sse-keepalive", "0.3",
                 "--sse-idle-timeout", "1.5").start()
    try:
        with httpx.Client(base_url=srv.base + API, timeout=20) as c:
            busy = submit(c, slow(3000))["run_id"]
            waiting = submit(c, slow(100))["run_id"]   # queued behind it: no change for a while
            lines = []
            with c.stream("GET", f"/results/{waiting}/events") as r:
                for line in r.iter_lines():
                    lines.append(line)
                    if line.startswith("event: timeout"):
                        break
            assert lines.count(": keep-alive") >= 2
            assert "event: state" in lines and lines[-1] == "event: timeout"
            for rid in (waiting, busy):
                assert c.post(f"/results/{rid}/cancel", json={}).status_code == 202
    finally:
        srv.stop()


# -- persistence ---------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_results_survive_a_restart_and_a_run_in_flight_is_failed(request, backend, tmp_path):
    db = database(request, backend, tmp_path / "p.db")
    first = Server(tmp_path, db).start()
    try:
        with httpx.Client(base_url=first.base + API, timeout=20) as c:
            done = submit(c, {"scenario_name": FLASH, "bars": 100})["run_id"]
            wait_state(c, done)
            busy = submit(c, slow(3000))["run_id"]
            deadline = time.monotonic() + 20
            while c.get(f"/results/{busy}").json()["progress"]["bar"] < 20:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            before = c.get(f"/results/{done}").json()
    finally:
        first.kill()
    second = Server(tmp_path, db).start()
    try:
        with httpx.Client(base_url=second.base + API, timeout=20) as c:
            after = c.get(f"/results/{done}").json()
            assert after["metrics"] == before["metrics"] and after["summary"]["report"] == before["summary"]["report"]
            lost = c.get(f"/results/{busy}").json()
            assert lost["state"] == "failed" and "server stopped" in lost["error"] and lost["failure"] == "interrupted"
            assert lost["progress"]["bar"] >= 20   # its progress is kept
            events = read_events(c, busy)
            assert [e for e in events if e.get("event") == "progress"] and events[-1]["data"]["state"] == "failed"
            assert wait_state(c, submit(c, {"scenario_name": FLASH, "bars": 60})["run_id"])["state"] == "finished"
    finally:
        second.stop()


def _descendants(pid: int) -> set[int]:
    """Every live process under ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat_ = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat_.rpartition(")")[2].split()[1])
            children.setdefault(ppid, []).append(int(d))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_server_killed_alone(tmp_path):
    srv = Server(tmp_path, tmp_path / "o.db").start()
    try:
        with httpx.Client(base_url=srv.base + API, timeout=20) as c:
            ids = [submit(c, slow(3000))["run_id"] for _ in range(2)]   # 30 s each: both workers busy
            for rid in ids:
                wait_state(c, rid, ("running",))
        procs = _descendants(srv.proc.pid)
        assert len(procs) >= 3   # the fork server and two workers
        os.kill(srv.proc.pid, signal.SIGKILL)   # the server alone, not its process group
        srv.proc.wait(10)
        deadline = time.monotonic() + 5
        while [p for p in procs if _alive(p)] and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {p: Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")[:150] for p in procs if _alive(p)}
        assert not left, f"orphaned workers still running: {left}"
    finally:
        srv.kill()
        try:
            os.killpg(srv.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture()
def own_postgres():
    """A PostgreSQL server of this test's own (it is restarted: the session's is shared)."""
    from pg_server import SKIP_REASON, PgServer

    bindir = PgServer.find_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(SKIP_REASON)
        pytest.skip(SKIP_REASON)
    pg = PgServer(bindir).start()
    yield pg
    pg.stop()


def test_a_postgresql_restart_leaves_no_run_stuck(own_postgres, tmp_path):
    db = own_postgres.new_database()
    srv = Server(tmp_path, db, "--max-active", "4", "--db-reconnect", "0.5").start()
    try:
        with httpx.Client(base_url=srv.base + API, timeout=20) as c:
            # a short restart while two runs are running and one is queued
            ids = [submit(c, slow(300))["run_id"] for _ in range(3)]
            for rid in ids[:2]:
                wait_state(c, rid, ("running",))
            down = own_postgres.restart(0.2)
            runs = [wait_state(c, rid, timeout=30) for rid in ids]
            assert [r["state"] for r in runs] == ["finished"] * 3, (down, [r["error"] for r in runs])
            # down longer than the server's reconnect time (0.5 s) while runs end: their results are kept
            # and written once the database is back, and nothing counts against the active-run limit
            ids = [submit(c, slow(200))["run_id"] for _ in range(2)]   # 2 s each: they end while it is down
            for rid in ids:
                wait_state(c, rid, ("running",))
            with ThreadPoolExecutor(1) as ex:
                down = ex.submit(own_postgres.restart, 4.0)
                seen = {}
                while not down.done():   # meanwhile: 503 with Retry-After, never a 500
                    if 503 not in seen:
                        r = c.get("/status")
                        seen[r.status_code] = r
                    time.sleep(0.2)
                down.result()
            assert set(seen) <= {200, 503} and 503 in seen, seen
            assert "unreachable" in seen[503].json()["detail"] and seen[503].headers["retry-after"]
            runs = [wait_state(c, rid, timeout=30) for rid in ids]
            assert [r["state"] for r in runs] == ["finished"] * 2, [r["error"] for r in runs]
            assert all(r["metrics"]["bars_processed"] == 200 for r in runs)
            assert "is written when the store is back" in (tmp_path / f"server-{srv.port}.log").read_text()
            st = c.get("/status").json()
            assert st["running_tests"] == st["queued_tests"] == 0
            assert c.delete(f"/results/{ids[0]}").status_code == 204
            new = [submit(c, slow(20))["run_id"] for _ in range(4)]   # the whole limit is free again
            assert {wait_state(c, rid)["state"] for rid in new} == {"finished"}
            # a run the store says is running that no worker runs (its outcome lost) is failed
            import psycopg

            with psycopg.connect(db, autocommit=True) as conn:
                conn.execute("UPDATE runs SET state = 'running', finished = NULL WHERE id = %s", (new[0],))
            lost = wait_state(c, new[0], ("failed",), timeout=10)
            assert "state was lost while the run store was unreachable" in lost["error"]
            assert lost["failure"] == "state_lost"
    finally:
        srv.stop()


def test_a_sigterm_stops_the_server_without_leaking_semaphores(tmp_path):
    srv = Server(tmp_path, tmp_path / "t.db").start()
    try:
        with httpx.Client(base_url=srv.base + API, timeout=20) as c:
            rid = submit(c, slow(2000))["run_id"]
            wait_state(c, rid, ("running",))
        os.kill(srv.proc.pid, signal.SIGTERM)   # the server alone, as a service manager stops it
        srv.proc.wait(20)
        time.sleep(0.5)   # the resource tracker reports after the server's end
        text = (tmp_path / f"server-{srv.port}.log").read_text()
        assert "server stopping: 1 running run(s) marked failed" in text and "leaked" not in text, text
    finally:
        srv.kill()
        try:
            os.killpg(srv.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
