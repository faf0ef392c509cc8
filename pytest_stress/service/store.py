"""The run store: one SQLite file holding runs, their progress and their results.

WAL mode (readers never block the one writer), a busy timeout, and ``BEGIN IMMEDIATE``
for every write transaction (a read that upgrades to a write can otherwise get
SQLITE_BUSY despite the timeout; see docs/service.md). The server and its worker
processes each open their own connection to the same file; the server writes states and
results, a worker writes its run's progress and reads its cancel flag.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["RunStore", "ACTIVE", "TERMINAL", "STATES"]

STATES = ("queued", "running", "finished", "failed", "cancelled")
ACTIVE = ("queued", "running")
TERMINAL = ("finished", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    scenario TEXT NOT NULL,
    slug TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    pid INTEGER,
    cancel INTEGER NOT NULL DEFAULT 0,
    idem_key TEXT UNIQUE,
    idem_body TEXT,
    bars_total INTEGER NOT NULL,
    bar INTEGER NOT NULL DEFAULT -1,
    equity REAL,
    drawdown REAL,
    summary TEXT
);
CREATE INDEX IF NOT EXISTS runs_slug ON runs (slug, n);
CREATE INDEX IF NOT EXISTS runs_state ON runs (state);
CREATE TABLE IF NOT EXISTS progress (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    bar INTEGER NOT NULL,
    equity REAL,
    drawdown REAL,
    at REAL NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS baselines (
    slug TEXT PRIMARY KEY,
    run_id TEXT NOT NULL
);
"""

_COLUMNS = ("id", "scenario", "slug", "spec", "state", "error", "created", "started", "finished", "pid",
            "cancel", "bars_total", "bar", "equity", "drawdown", "summary")


class RunStore:
    """Runs, progress and results in the SQLite file at ``path`` (one connection, thread-safe)."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=busy_timeout_ms / 1000, isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: takes the write lock up front)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    # -- runs --------------------------------------------------------------------
    def add(self, run_id: str, scenario: str, slug: str, spec: dict[str, Any], bars_total: int, *,
            idem_key: str | None = None, idem_body: str | None = None,
            max_active: int | None = None) -> tuple[dict[str, Any], bool]:
        """Queue a run; ``(run, created)``. With ``idem_key`` already used: that run, not created.
        ``max_active``: raise ``OverflowError`` if that many runs are already queued or running."""
        with self._write() as db:
            if idem_key is not None:
                old = db.execute("SELECT * FROM runs WHERE idem_key = ?", (idem_key,)).fetchone()
                if old is not None:
                    if old["idem_body"] != idem_body:
                        raise KeyError(idem_key)
                    return dict(old), False
            if max_active is not None:
                (active,) = db.execute("SELECT COUNT(*) FROM runs WHERE state IN ('queued', 'running')").fetchone()
                if active >= max_active:
                    raise OverflowError(active)
            db.execute("INSERT INTO runs (id, scenario, slug, spec, state, created, idem_key, idem_body, bars_total) "
                       "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                       (run_id, scenario, slug, json.dumps(spec), time.time(), idem_key, idem_body, bars_total))
            return dict(db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()), True

    def get(self, run_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM runs WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def latest_of(self, slug: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM runs WHERE slug = ? ORDER BY n DESC LIMIT 1", (slug,))
        return rows[0] if rows else None

    def page(self, limit: int, offset: int, state: str | None = None,
             slug: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Runs newest first, ``limit`` from ``offset``, and how many match in all."""
        where, args = [], []
        if state:
            where.append("state = ?")
            args.append(state)
        if slug:
            where.append("slug = ?")
            args.append(slug)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self._lock:   # one snapshot for the page and its total
            self._db.execute("BEGIN")
            try:
                rows = self._rows(f"SELECT * FROM runs{clause} ORDER BY n DESC LIMIT ? OFFSET ?",
                                  (*args, limit, offset))
                (total,) = self._db.execute(f"SELECT COUNT(*) FROM runs{clause}", args).fetchone()
            finally:
                self._db.execute("COMMIT")
        return rows, total

    def queued(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM runs WHERE state = 'queued' AND cancel = 0 ORDER BY n")

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for r in self._rows("SELECT state, COUNT(*) AS c FROM runs GROUP BY state"):
            out[r["state"]] = r["c"]
        return out

    def last_finished(self) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM runs WHERE finished IS NOT NULL ORDER BY finished DESC LIMIT 1")
        return rows[0] if rows else None

    def set_state(self, run_id: str, state: str, *, error: str | None = None, summary: dict | None = None,
                  only_from: tuple[str, ...] | None = None) -> bool:
        """Move a run to ``state`` (only from ``only_from`` states, if given); False if it did not move."""
        now = time.time()
        sets = ["state = ?", "error = COALESCE(?, error)"]
        args: list[Any] = [state, error]
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
        with self._write() as db:
            return db.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id = ?{cond}", args).rowcount > 0

    def start(self, run_id: str, pid: int) -> bool:
        """A worker took the run: running, with its process id (False if it was cancelled meanwhile)."""
        with self._write() as db:
            return db.execute("UPDATE runs SET state = 'running', started = ?, pid = ? "
                              "WHERE id = ? AND state = 'queued' AND cancel = 0",
                              (time.time(), pid, run_id)).rowcount > 0

    def request_cancel(self, run_id: str) -> tuple[str, str] | None:
        """Cancel: a queued run at once, a running one at its next progress check.
        ``(state before, state now)``, or None if there is no such run."""
        with self._write() as db:
            row = db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            if row["state"] == "queued":
                db.execute("UPDATE runs SET state = 'cancelled', cancel = 1, finished = ?, "
                           "error = 'cancelled before it started' WHERE id = ?", (time.time(), run_id))
                return "queued", "cancelled"
            if row["state"] == "running":
                db.execute("UPDATE runs SET cancel = 1 WHERE id = ?", (run_id,))
            return row["state"], row["state"]

    def cancel_requested(self, run_id: str) -> bool:
        rows = self._rows("SELECT cancel FROM runs WHERE id = ?", (run_id,))
        return bool(rows and rows[0]["cancel"])

    def delete(self, run_ids: list[str]) -> None:
        with self._write() as db:
            for rid in run_ids:
                db.execute("DELETE FROM progress WHERE run_id = ?", (rid,))
                db.execute("DELETE FROM baselines WHERE run_id = ?", (rid,))
                db.execute("DELETE FROM runs WHERE id = ?", (rid,))

    def fail_interrupted(self, reason: str) -> list[str]:
        """At start-up: runs left running by a server that stopped become failed with ``reason``."""
        with self._write() as db:
            ids = [r["id"] for r in db.execute("SELECT id FROM runs WHERE state = 'running'").fetchall()]
            db.execute("UPDATE runs SET state = 'failed', error = ?, finished = ? WHERE state = 'running'",
                       (reason, time.time()))
            return ids

    def history(self, slug: str, limit: int = 50) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM runs WHERE slug = ? ORDER BY n DESC LIMIT ?", (slug, limit))

    # -- progress ----------------------------------------------------------------
    def add_progress(self, run_id: str, seq: int, bar: int, equity: float, drawdown: float) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO progress (run_id, seq, bar, equity, drawdown, at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (run_id, seq, bar, equity, drawdown, time.time()))
            db.execute("UPDATE runs SET bar = ?, equity = ?, drawdown = ? WHERE id = ?",
                       (bar, equity, drawdown, run_id))

    def progress_after(self, run_id: str, seq: int) -> list[dict[str, Any]]:
        return self._rows("SELECT seq, bar, equity, drawdown, at FROM progress WHERE run_id = ? AND seq > ? "
                          "ORDER BY seq", (run_id, seq))

    # -- baselines ---------------------------------------------------------------
    def pin(self, slug: str, run_id: str) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO baselines (slug, run_id) VALUES (?, ?)", (slug, run_id))

    def pinned(self, slug: str) -> str | None:
        rows = self._rows("SELECT run_id FROM baselines WHERE slug = ?", (slug,))
        return rows[0]["run_id"] if rows else None
