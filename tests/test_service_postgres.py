"""The run store on both of its databases, SQLite and a real PostgreSQL server started by the
tests (tests/pg_server.py): the same store code, raced from many connections at once.

Each "client" below has its own ``RunStore`` (its own connection), as the server and its
worker processes do; a barrier releases them together so that their read-check-
write transactions really overlap. The end-to-end restart and concurrency tests of
tests/test_service.py run against both databases too (its ``server`` fixture is parametrized).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from pg_server import BACKENDS, database, postgres   # noqa: F401  (SQLite and a real PostgreSQL server)

from pytest_stress.service.database import dialect_of
from pytest_stress.service.store import RunStore, TooManyActive

CLIENTS = 12


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    return database(request, request.param, tmp_path / "runs.db")


@pytest.fixture()
def stores(db):
    """``CLIENTS`` stores on one database, each with its own connections."""
    opened = [RunStore(db) for _ in range(CLIENTS)]
    yield opened
    for s in opened:
        s.close()


def race(stores, fn):
    """``fn(store, i)`` on every store at once; each call's result, or the exception it raised."""
    gate = threading.Barrier(len(stores))

    def one(i):
        gate.wait()
        try:
            return fn(stores[i], i)
        except Exception as exc:   # collected: the test asserts on which calls raised what
            return exc
    with ThreadPoolExecutor(len(stores)) as ex:
        return list(ex.map(one, range(len(stores))))


def test_the_dialect_follows_the_url(db, stores):
    assert stores[0].dialect.name == ("postgresql" if db.startswith("postgresql://") else "sqlite")
    assert stores[0].path == db   # what the worker processes open


def test_one_idempotency_key_raced_by_every_client_makes_one_run(stores):
    out = race(stores, lambda s, i: s.add(f"run-{i}", "X", "x", {"seed": 1}, 100, idem_key="key-1",
                                         idem_body="body"))
    assert not [o for o in out if isinstance(o, Exception)], out
    assert sorted(created for _, created in out) == [False] * (CLIENTS - 1) + [True]
    assert len({run["id"] for run, _ in out}) == 1
    assert stores[0].page(100, 0)[1] == 1
    with pytest.raises(KeyError):   # the same key with another body
        stores[1].add("run-x", "X", "x", {"seed": 2}, 100, idem_key="key-1", idem_body="other body")


def test_the_active_run_limit_holds_under_concurrent_submissions(stores):
    out = race(stores, lambda s, i: s.add(f"run-{i}", "X", "x", {}, 100, max_active=5))
    refused = [o for o in out if isinstance(o, TooManyActive)]
    assert len(refused) == CLIENTS - 5 and all(isinstance(o, tuple) for o in out if o not in refused), out
    assert stores[0].counts()["queued"] == 5
    rows, total = stores[0].page(100, 0)
    assert total == 5 and [r["n"] for r in rows] == sorted((r["n"] for r in rows), reverse=True)


def test_workers_progress_server_states_and_cancels_interleave_without_lost_writes(stores):
    ids = [f"run-{i}" for i in range(CLIENTS // 2)]
    for rid in ids:
        stores[0].add(rid, "X", "x", {}, 1000)
        assert stores[0].start(rid, 4242)

    def work(s, i):
        rid = ids[i % len(ids)]
        if i < len(ids):   # a worker: 40 progress rows, the last one twice (an upsert, not a duplicate)
            for seq in range(1, 41):
                s.add_progress(rid, seq, seq * 10, 1000.0 + seq, 0.5)
            s.add_progress(rid, 40, 400, 1040.0, 0.5)
            return "worker"
        if i % 2:   # the server cancelling a running run while its worker writes
            return s.request_cancel(rid)
        s.pin("x", rid)   # the server pinning baselines, and reading pages
        return s.page(3, 0)[1]
    out = race(stores, work)
    assert not [o for o in out if isinstance(o, Exception)], out
    for rid in ids:
        rows = stores[0].progress_after(rid, 0)
        assert [r["seq"] for r in rows] == list(range(1, 41))
        run = stores[0].get(rid)
        assert run["bar"] == 400 and run["equity"] == 1040.0 and run["state"] == "running"
    cancelled = {ids[i % len(ids)] for i in range(len(ids), CLIENTS) if i % 2}
    assert cancelled and {rid for rid in ids if stores[0].cancel_requested(rid)} == cancelled
    assert stores[0].pinned("x") in ids


def test_a_state_moves_once_when_two_writers_race_for_it(stores):
    stores[0].add("r", "X", "x", {}, 100)
    assert stores[0].start("r", 1)
    moved = race(stores, lambda s, i: s.set_state("r", "finished" if i % 2 else "failed", error=f"by {i}",
                                                  only_from=("running",)))
    assert moved.count(True) == 1 and moved.count(False) == CLIENTS - 1
    run = stores[0].get("r")
    assert run["error"] == f"by {moved.index(True)}"
    assert run["state"] == ("finished" if moved.index(True) % 2 else "failed")


def test_a_reopened_store_fails_what_was_running_and_keeps_the_rest(db):
    first = RunStore(db)
    first.add("done", "X", "x", {"a": 1}, 100)
    first.start("done", 1)
    first.set_state("done", "finished", summary={"metrics": {"total_pnl": 1.5}})
    first.add("busy", "X", "x", {}, 100)
    first.start("busy", 2)
    first.add_progress("busy", 1, 20, 990.0, 1.0)
    first.add("waiting", "X", "x", {}, 100)
    first.close()
    second = RunStore(db)   # the same database opened again, its tables found, not made again
    try:
        assert second.fail_interrupted("the server stopped") == ["busy"]
        assert second.get("busy")["state"] == "failed" and second.get("busy")["bar"] == 20
        assert second.get("done")["summary"] == '{"metrics": {"total_pnl": 1.5}}'
        assert [r["id"] for r in second.queued()] == ["waiting"]
        second.delete(["done"])
        assert second.get("done") is None and second.counts()["finished"] == 0
    finally:
        second.close()


def test_bad_database_urls_are_named_with_what_would_be_valid():
    with pytest.raises(ValueError, match=r"--db 'mysql://u:\*\*\*@127.0.0.1/x': unsupported database URL.*postgresql://"):
        dialect_of("mysql://u:pw@127.0.0.1/x")
    with pytest.raises(ValueError, match="names no database"):
        dialect_of("postgresql://u@127.0.0.1")
    assert dialect_of("postgres://u@127.0.0.1/x").name == "postgresql" and dialect_of("runs.db").name == "sqlite"


def test_an_unreachable_or_missing_database_is_named_without_its_password(postgres):
    dead = postgres.url("nope").replace(f":{postgres.port}/", ":1/").replace("postgres@", "postgres:s3cret@")
    t0 = time.monotonic()
    with pytest.raises(ValueError, match=r"cannot open the run store --db 'postgresql://postgres:\*\*\*@127.0.0.1:1/nope'"):
        RunStore(dead)
    assert time.monotonic() - t0 < 10
    with pytest.raises(ValueError, match='database "nope" does not exist'):
        RunStore(postgres.url("nope"))


def test_a_dropped_postgresql_connection_is_opened_again(postgres, caplog):
    import psycopg   # lazy: only with a PostgreSQL server

    url = postgres.new_database()
    st = RunStore(url)
    try:
        st.add("r", "X", "x", {}, 100)
        with psycopg.connect(url, autocommit=True) as admin:   # what a restarted database server does to it
            killed = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
        assert killed == [(True,)]
        assert st.get("r")["state"] == "queued"   # a read: retried on a new connection
        assert "was lost; opening it again" in caplog.text
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        assert st.request_cancel("r") == ("queued", "cancelled")   # a write: its BEGIN retried
    finally:
        st.close()


def test_runs_stored_under_a_slug_of_their_name_are_refiled_at_start(db):
    from pytest_stress.service.app import _filed_under

    st = RunStore(db)
    try:   # as stored before library and custom scenarios had ids of their own (issue 30)
        st.add("lib", "BTC Flash Crash 2021", "btc-flash-crash-2021", {"library": "BTC Flash Crash 2021"}, 100)
        st.add("own", "BTC Flash Crash 2021", "btc-flash-crash-2021", {"library": None, "name": "x"}, 100)
        st.add("cn", "中文场景", "", {"library": None}, 100)
        st.pin("btc-flash-crash-2021", "own")
        assert st.refile(_filed_under) == 2 and st.refile(_filed_under) == 0
        assert [r["id"] for r in st.history("btc-flash-crash-2021")] == ["lib"]
        own = st.get("own")["slug"]
        assert own.startswith("custom.btc-flash-crash-2021-") and st.pinned(own) == "own"
        assert st.pinned("btc-flash-crash-2021") is None and st.get("cn")["slug"].startswith("custom.")
    finally:
        st.close()


def test_a_store_made_before_the_failure_column_gets_it(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    st = RunStore(path)
    st.add("old", "X", "x", {}, 100)
    st.close()
    with sqlite3.connect(path) as conn:   # as an earlier version made it
        conn.execute("ALTER TABLE runs DROP COLUMN failure")
    st = RunStore(path)
    try:
        assert st.get("old")["failure"] is None and st.start("old", 1)
        assert st.set_state("old", "failed", error="e", failure="worker_died")
        assert st.get("old")["failure"] == "worker_died"
    finally:
        st.close()
