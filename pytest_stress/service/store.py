"""The run store: runs, their progress and their results, in SQLite or PostgreSQL.

One class and one set of SQL for both databases (``?`` placeholders, standard SQL only: the
upsert is ``INSERT ... ON CONFLICT DO UPDATE``, which both speak). What differs between them
(the placeholder, the auto-numbered key, how a write transaction serialises, a snapshot read,
connection set-up) is one table in ``database.py``; see docs/service.md. Every write is a
transaction that runs alone (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so a
read-check-write such as an idempotency key or the active-run limit is safe under concurrent
requests and processes. The server and its worker processes each open their own connection
to the same database; the server writes states and results, a worker writes its run's
progress and reads its cancel flag.
"""
from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path
from typing import Any

from .database import Database, Dialect, describe

__all__ = ["RunStore", "ACTIVE", "TERMINAL", "STATES", "FAILURES", "TooManyActive"]

log = logging.getLogger("pytest_stress")

STATES = ("queued", "running", "finished", "failed", "cancelled")
ACTIVE = ("queued", "running")
TERMINAL = ("finished", "failed", "cancelled")
#: Why a run did not finish (its ``failure``): its trader raised; the run itself failed (the engine
#: marked it so, e.g. Monte Carlo paths that failed); its worker process died; it was cancelled; the
#: server stopped while it ran; its state was lost while the store was unreachable; the server
#: could not hand it to a worker.
FAILURES = ("trader_error", "run_error", "worker_died", "cancelled", "interrupted", "state_lost", "internal")

# {serial_key}: INTEGER PRIMARY KEY AUTOINCREMENT (SQLite) or an identity column (PostgreSQL).
# DOUBLE PRECISION is SQLite's REAL; epoch seconds as floats, JSON as text.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    n {serial_key},
    id TEXT NOT NULL UNIQUE,
    scenario TEXT NOT NULL,
    slug TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    created DOUBLE PRECISION NOT NULL,
    started DOUBLE PRECISION,
    finished DOUBLE PRECISION,
    pid INTEGER,
    cancel INTEGER NOT NULL DEFAULT 0,
    idem_key TEXT UNIQUE,
    idem_body TEXT,
    bars_total INTEGER NOT NULL,
    bar INTEGER NOT NULL DEFAULT -1,
    equity DOUBLE PRECISION,
    drawdown DOUBLE PRECISION,
    summary TEXT,
    failure TEXT,
    max_drawdown DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS runs_slug ON runs (slug, n);
CREATE INDEX IF NOT EXISTS runs_state ON runs (state);
CREATE TABLE IF NOT EXISTS progress (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    bar INTEGER NOT NULL,
    equity DOUBLE PRECISION,
    drawdown DOUBLE PRECISION,
    max_drawdown DOUBLE PRECISION,
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS baselines (
    slug TEXT PRIMARY KEY,
    run_id TEXT NOT NULL
);
"""


class TooManyActive(Exception):
    """``RunStore.add``: the active-run limit is reached (its own class: an ``OverflowError`` from a
    number too large for a float, raised while a request was resolved, was taken for it: 429)."""


def _retried(method: Any) -> Any:
    """A write that runs once more, whole, when the database dropped the connection under it
    (a PostgreSQL restart: its transaction was rolled back, or committed and the answer lost;
    each write below gives the same outcome run twice). Its ``BEGIN`` waits for the database
    to come back (``Database.reconnect_s``)."""
    @functools.wraps(method)
    def wrapper(self: "RunStore", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except self._db.errors:
            if not self._db.lost():
                raise
            log.info("the run store's connection was lost during %s; running it again", method.__name__)
            return method(self, *args, **kwargs)
    return wrapper


#: Columns added since the first version of the store: (table, column, type), added where missing.
_ADDED = (("runs", "failure", "TEXT"), ("runs", "max_drawdown", "DOUBLE PRECISION"),
          ("progress", "max_drawdown", "DOUBLE PRECISION"), ("runs", "batch", "TEXT"))


def _one(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None


class RunStore:
    """Runs, progress and results in ``db``: a SQLite file path or a ``postgresql://`` URL
    (one connection per store, thread-safe)."""

    def __init__(self, db: str | Path, *, busy_timeout_ms: int = 5000, reconnect_s: float = 5.0) -> None:
        self.path = str(db)   # what the worker processes open (a path or a URL)
        self._db = Database(db, busy_timeout_ms=busy_timeout_ms, reconnect_s=reconnect_s)
        try:
            self._db.script(_SCHEMA)   # CREATE ... IF NOT EXISTS: an existing store is kept as it is
            self._migrate()
        except self._db.errors as exc:
            self._db.close()
            raise ValueError(f"cannot set up the run store in --db {describe(db)!r}: "
                             f"{type(exc).__name__}: {str(exc).strip()}") from exc

    def _migrate(self) -> None:
        """Columns added since a store was made (``ALTER TABLE ... ADD COLUMN``, which both databases
        speak), in a write transaction so that the server and its workers starting together do not race."""
        with self._db.write() as db:
            for table, column, kind in _ADDED:
                have = {c[0] for c in db.execute(f"SELECT * FROM {table} LIMIT 0").description}
                if column not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            db.execute("CREATE INDEX IF NOT EXISTS runs_batch ON runs (batch)")

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """What the database driver raises (``sqlite3.Error``, ``psycopg.Error``)."""
        return self._db.errors

    def running(self) -> list[str]:
        """The ids of the runs whose stored state is running."""
        return [r["id"] for r in self._rows("SELECT id FROM runs WHERE state = 'running' ORDER BY n")]

    @property
    def dialect(self) -> Dialect:
        """The database's dialect (``.name``: ``"sqlite"`` or ``"postgresql"``)."""
        return self._db.dialect

    def close(self) -> None:
        self._db.close()

    def _rows(self, sql: str, args: tuple | list = ()) -> list[dict[str, Any]]:
        return self._db.rows(sql, args)

    # -- runs --------------------------------------------------------------------
    @_retried
    def add(self, run_id: str, scenario: str, slug: str, spec: dict[str, Any], bars_total: int, *,
            idem_key: str | None = None, idem_body: str | None = None,
            max_active: int | None = None) -> tuple[dict[str, Any], bool]:
        """Queue a run; ``(run, created)``. With ``idem_key`` already used: that run, not created.
        ``max_active``: raise ``TooManyActive`` if that many runs are already queued or running."""
        with self._db.write() as db:
            again = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if again is not None:   # this very call committed before the connection dropped (``_retried``)
                return dict(again), True
            if idem_key is not None:
                old = db.execute("SELECT * FROM runs WHERE idem_key = ?", (idem_key,)).fetchone()
                if old is not None:
                    if old["idem_body"] != idem_body:
                        raise KeyError(idem_key)
                    return dict(old), False
            if max_active is not None:
                active = db.execute("SELECT COUNT(*) AS c FROM runs WHERE state IN ('queued', 'running')"
                                    ).fetchone()["c"]
                if active >= max_active:
                    raise TooManyActive(active)
            db.execute("INSERT INTO runs (id, scenario, slug, spec, state, created, idem_key, idem_body, bars_total) "
                       "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                       (run_id, scenario, slug, json.dumps(spec), time.time(), idem_key, idem_body, bars_total))
            return dict(db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()), True

    @_retried
    def add_batch(self, batch_id: str, runs: list[tuple[str, str, str, dict[str, Any], int]], *,
                  idem_key: str | None = None, idem_body: str | None = None,
                  max_active: int | None = None) -> tuple[str, bool]:
        """Queue ``runs`` (each ``(run_id, scenario, slug, spec, bars_total)``) as one batch, all or
        none, in one transaction; ``(batch id, created)``. With ``idem_key`` already used for a batch:
        that batch, not created (``KeyError`` if with another body). ``max_active``: raise
        ``TooManyActive`` unless all of them fit under it."""
        key = None if idem_key is None else "batch:" + idem_key   # runs' and batches' keys apart
        with self._db.write() as db:
            again = db.execute("SELECT batch FROM runs WHERE batch = ? LIMIT 1", (batch_id,)).fetchone()
            if again is not None:   # this very call committed before the connection dropped (``_retried``)
                return batch_id, True
            if key is not None:
                old = db.execute("SELECT batch, idem_body FROM runs WHERE idem_key = ?", (key,)).fetchone()
                if old is not None:
                    if old["idem_body"] != idem_body:
                        raise KeyError(idem_key)
                    return old["batch"], False
            if max_active is not None:
                active = db.execute("SELECT COUNT(*) AS c FROM runs WHERE state IN ('queued', 'running')"
                                    ).fetchone()["c"]
                if active + len(runs) > max_active:
                    raise TooManyActive(active)
            now = time.time()
            for i, (run_id, scenario, slug, spec, bars_total) in enumerate(runs):
                db.execute("INSERT INTO runs (id, scenario, slug, spec, state, created, idem_key, idem_body, "
                           "bars_total, batch) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
                           (run_id, scenario, slug, json.dumps(spec), now, key if i == 0 else None,
                            idem_body if i == 0 else None, bars_total, batch_id))
            return batch_id, True

    def batch_runs(self, batch_id: str) -> list[dict[str, Any]]:
        """The runs of a batch, in the order they were given."""
        return self._rows("SELECT * FROM runs WHERE batch = ? ORDER BY n", (batch_id,))

    def get(self, run_id: str) -> dict[str, Any] | None:
        return _one(self._rows("SELECT * FROM runs WHERE id = ?", (run_id,)))

    def latest_of(self, slug: str) -> dict[str, Any] | None:
        return _one(self._rows("SELECT * FROM runs WHERE slug = ? ORDER BY n DESC LIMIT 1", (slug,)))

    def page(self, limit: int, offset: int, state: str | None = None, slug: str | None = None,
             since: float | None = None, until: float | None = None) -> tuple[list[dict[str, Any]], int]:
        """Runs newest first, ``limit`` from ``offset``, and how many match in all (one snapshot);
        ``since``/``until``: submitted at or after / before these times (seconds since the epoch)."""
        where: list[str] = []
        args: list[Any] = []
        if state:
            where.append("state = ?")
            args.append(state)
        if slug:
            where.append("slug = ?")
            args.append(slug)
        if since is not None:
            where.append("created >= ?")
            args.append(since)
        if until is not None:
            where.append("created < ?")
            args.append(until)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self._db.snapshot() as db:
            rows = db.rows(f"SELECT * FROM runs{clause} ORDER BY n DESC LIMIT ? OFFSET ?", (*args, limit, offset))
            total = db.execute(f"SELECT COUNT(*) AS c FROM runs{clause}", args).fetchone()["c"]
        return rows, total

    def live(self, also: list[str]) -> list[dict[str, Any]]:
        """The runs queued or running, and the runs ``also`` whatever their state, in submission order."""
        ids = list(also)[:1000]
        extra = f" OR id IN ({', '.join('?' * len(ids))})" if ids else ""
        return self._rows(f"SELECT * FROM runs WHERE state IN ('queued', 'running'){extra} ORDER BY n", ids)

    def queued(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM runs WHERE state = 'queued' AND cancel = 0 ORDER BY n")

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for r in self._rows("SELECT state, COUNT(*) AS c FROM runs GROUP BY state"):
            out[r["state"]] = r["c"]
        return out

    def last_finished(self) -> dict[str, Any] | None:
        return _one(self._rows("SELECT * FROM runs WHERE finished IS NOT NULL ORDER BY finished DESC LIMIT 1"))

    @_retried
    def set_state(self, run_id: str, state: str, *, error: str | None = None, summary: dict | None = None,
                  only_from: tuple[str, ...] | None = None, failure: str | None = None) -> bool:
        """Move a run to ``state`` (only from ``only_from`` states, if given); False if it did not move.
        ``failure``: why it did not finish (``FAILURES``)."""
        now = time.time()
        sets, args = ["state = ?"], [state]
        if failure is not None:
            sets.append("failure = ?")
            args.append(failure)
        if error is not None:
            sets.append("error = ?")
            args.append(error)
        if state == "running":
            sets.append("started = ?")
            args.append(now)
        if state in TERMINAL:
            sets.append("finished = ?")
            args.append(now)
        if summary is not None:
            sets.append("summary = ?")
            args.append(json.dumps(summary))
        cond = ""
        if only_from:
            cond = f" AND state IN ({', '.join('?' * len(only_from))})"
            args += [run_id, *only_from]
        else:
            args.append(run_id)
        with self._db.write() as db:
            return db.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id = ?{cond}", args).rowcount > 0

    @_retried
    def start(self, run_id: str, pid: int) -> bool:
        """A worker took the run: running, with its process id (False if it was cancelled meanwhile)."""
        with self._db.write() as db:
            return db.execute("UPDATE runs SET state = 'running', started = ?, pid = ? WHERE id = ? AND cancel = 0 "
                              "AND (state = 'queued' OR (state = 'running' AND pid = ?))",   # or did, then retried
                              (time.time(), pid, run_id, pid)).rowcount > 0

    @_retried
    def request_cancel(self, run_id: str) -> tuple[str, str] | None:
        """Cancel: a queued run at once, a running one at its next progress check.
        ``(state before, state now)``, or None if there is no such run."""
        with self._db.write() as db:
            row = db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            if row["state"] == "queued":
                db.execute("UPDATE runs SET state = 'cancelled', cancel = 1, finished = ?, failure = 'cancelled', "
                           "error = 'cancelled before it started' WHERE id = ?", (time.time(), run_id))
                return "queued", "cancelled"
            if row["state"] == "running":
                db.execute("UPDATE runs SET cancel = 1 WHERE id = ?", (run_id,))
            return row["state"], row["state"]

    def cancel_requested(self, run_id: str) -> bool:
        rows = self._rows("SELECT cancel FROM runs WHERE id = ?", (run_id,))
        return bool(rows and rows[0]["cancel"])

    @_retried
    def delete(self, run_ids: list[str]) -> None:
        with self._db.write() as db:
            for rid in run_ids:
                db.execute("DELETE FROM progress WHERE run_id = ?", (rid,))
                db.execute("DELETE FROM baselines WHERE run_id = ?", (rid,))
                db.execute("DELETE FROM runs WHERE id = ?", (rid,))

    @_retried
    def fail_interrupted(self, reason: str) -> list[str]:
        """At start-up: runs left running by a server that stopped become failed with ``reason``."""
        with self._db.write() as db:
            ids = [r["id"] for r in db.rows("SELECT id FROM runs WHERE state = 'running' ORDER BY n")]
            db.execute("UPDATE runs SET state = 'failed', error = ?, finished = ?, failure = 'interrupted' "
                       "WHERE state = 'running'", (reason, time.time()))
            return ids

    @_retried
    def refile(self, filed_under: Any) -> int:
        """At start-up: each run whose id is not ``filed_under(scenario, {"library": ...})`` moves to it
        (with its pinned baseline); how many moved. Runs stored before library and custom scenarios had
        ids of their own (issue 30) were filed by a slug of their name, custom ones among the library's."""
        with self._db.write() as db:
            rows = db.rows("SELECT id, scenario, slug, CASE WHEN spec LIKE ? THEN 1 ELSE 0 END AS custom FROM runs",
                           ('%"library": null%',))
            moved = 0
            for r in rows:
                slug = filed_under(r["scenario"], {"library": None if r["custom"] else r["scenario"]})
                if slug != r["slug"]:
                    db.execute("UPDATE runs SET slug = ? WHERE id = ?", (slug, r["id"]))
                    pinned = db.execute("SELECT slug FROM baselines WHERE run_id = ?", (r["id"],)).fetchone()
                    if pinned is not None:
                        db.execute("DELETE FROM baselines WHERE run_id = ?", (r["id"],))
                        db.execute("INSERT INTO baselines (slug, run_id) VALUES (?, ?) ON CONFLICT (slug) DO NOTHING",
                                   (slug, r["id"]))
                    moved += 1
            return moved

    def history(self, slug: str, limit: int = 50) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM runs WHERE slug = ? ORDER BY n DESC LIMIT ?", (slug, limit))

    # -- progress ----------------------------------------------------------------
    @_retried
    def add_progress(self, run_id: str, seq: int, bar: int, equity: float, drawdown: float,
                     max_drawdown: float | None = None) -> None:
        """One progress row: the bar reached, equity, the drawdown from the peak so far and the
        largest drawdown so far (percent)."""
        with self._db.write() as db:
            db.execute("INSERT INTO progress (run_id, seq, bar, equity, drawdown, max_drawdown, at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, seq) DO UPDATE SET bar = excluded.bar, "
                       "equity = excluded.equity, drawdown = excluded.drawdown, "
                       "max_drawdown = excluded.max_drawdown, at = excluded.at",
                       (run_id, seq, bar, equity, drawdown, max_drawdown, time.time()))
            db.execute("UPDATE runs SET bar = ?, equity = ?, drawdown = ?, max_drawdown = ? WHERE id = ?",
                       (bar, equity, drawdown, max_drawdown, run_id))

    def progress_after(self, run_id: str, seq: int) -> list[dict[str, Any]]:
        return self._rows("SELECT seq, bar, equity, drawdown, max_drawdown, at FROM progress WHERE run_id = ? "
                          "AND seq > ? ORDER BY seq", (run_id, seq))

    # -- baselines ---------------------------------------------------------------
    @_retried
    def pin(self, slug: str, run_id: str) -> None:
        with self._db.write() as db:
            db.execute("INSERT INTO baselines (slug, run_id) VALUES (?, ?) "
                       "ON CONFLICT (slug) DO UPDATE SET run_id = excluded.run_id", (slug, run_id))

    def pinned(self, slug: str) -> str | None:
        rows = self._rows("SELECT run_id FROM baselines WHERE slug = ?", (slug,))
        return rows[0]["run_id"] if rows else None
