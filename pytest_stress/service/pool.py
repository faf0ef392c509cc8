"""The worker pool: ``workers`` slots, each a one-process ``ProcessPoolExecutor`` created at
start-up (forkserver or spawn context), fed from the store's queue by one dispatcher task.

With ``--dask-scheduler`` the slots share a dask.distributed cluster's ``Executor``
instead (its scheduler re-runs a task whose worker died, up to its allowed-failures, then
the run fails); workers then need the trader's module and the store (the SQLite file on a
shared disk, or the PostgreSQL server of a postgresql:// --db).

One process per slot is what keeps a crash local: a worker that dies breaks only its own
executor (``BrokenProcessPool``), so only its own run fails; the slot gets a fresh
executor and the other runs go on. Runs never execute on the event loop.
"""
from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .settings import Settings
from .store import RunStore
from .worker import execute, init_worker

__all__ = ["WorkerPool"]

log = logging.getLogger("pytest_stress")


class _Slot:
    """One run at a time: its own one-process executor, or a share of a cluster's executor."""

    def __init__(self, settings: Settings, shared: Executor | None = None) -> None:
        self.settings = settings
        self.run_id: str | None = None
        self.shared = shared
        self.executor = shared if shared is not None else self._new()

    def _new(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context(self.settings.mp_context)
        return ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=init_worker,
                                   initargs=(self.settings.trader_factory, os.getpid()))

    def renew(self) -> None:
        if self.shared is None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = self._new()

    def pids(self) -> list[int]:
        return [] if self.shared is not None else list(getattr(self.executor, "_processes", None) or {})

    def shutdown(self) -> None:
        if self.shared is None:
            self.executor.shutdown(wait=False, cancel_futures=True)


class WorkerPool:
    """Runs queued runs from ``store`` on ``settings.workers`` worker processes."""

    def __init__(self, settings: Settings, store: RunStore, shared: Executor | None = None) -> None:
        """``shared``: a cluster's executor (dask.distributed ``Client.get_executor()``) that
        every slot submits to; ``settings.workers`` is then how many runs it gets at once."""
        self.settings, self.store = settings, store
        self.shared = shared
        self.slots = [_Slot(settings, shared) for _ in range(settings.workers)]
        self.wake = asyncio.Event()
        self.done: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task | None = None
        self._mend: asyncio.Task | None = None
        #: outcomes not yet written (the store was unreachable): run id -> (state, error, summary)
        self.unsettled: dict[str, tuple[str, str | None, dict | None, str | None]] = {}
        self._jobs: set[asyncio.Task] = set()
        self.initialized = True

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._dispatch())
        self._mend = self._loop.create_task(self._mend_states())
        self.notify()   # runs still queued when the server last stopped

    async def stop(self) -> None:
        self.initialized = False
        lost = self.store.fail_interrupted("the server stopped while this run was running; submit it again")
        if lost:
            log.warning("server stopping: %d running run(s) marked failed: %s", len(lost), lost)
        for task in (self._task, self._mend):
            if task is not None:
                task.cancel()
        for slot in self.slots:
            for pid in slot.pids():   # our own worker processes: a run in flight is failed at the next start
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            slot.shutdown()
        if self.shared is None:
            # wait for each executor to wind down (its workers were told to stop), then let go of it:
            # its queues' named semaphores are unlinked when they are collected. Left to the end of the
            # process they never were: uvicorn ends a SIGTERMed server by the same signal, with no
            # exit handlers, and the resource tracker warned of leaked semaphores.
            waits = [asyncio.to_thread(slot.executor.shutdown, wait=True) for slot in self.slots]
            try:
                await asyncio.wait_for(asyncio.gather(*waits), timeout=5.0)
            except asyncio.TimeoutError:
                log.warning("worker processes still running 5 s after the server asked them to stop")
            self.slots = []
            import gc   # lazy: once, at shutdown

            gc.collect()

    def notify(self) -> None:
        """Something was queued (or a slot freed): look at the queue again (from any thread)."""
        self._loop.call_soon_threadsafe(self.wake.set)

    def finished_event(self, run_id: str) -> asyncio.Event:
        return self.done.setdefault(run_id, asyncio.Event())

    def _signal_done(self, run_id: str) -> None:
        ev = self.done.pop(run_id, None)
        if ev is not None:
            ev.set()

    async def _dispatch(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            free = [s for s in self.slots if s.run_id is None]
            if not free:
                continue
            busy = {s.run_id for s in self.slots}
            try:
                waiting = [r for r in await asyncio.to_thread(self.store.queued) if r["id"] not in busy]
            except Exception as exc:   # the store is unreadable for now (locked, down, disk full): try again shortly
                if isinstance(exc, self.store.errors):
                    log.warning("cannot read the queue (%s: %s); retrying in 1 s", type(exc).__name__, exc)
                else:
                    log.exception("cannot read the queue; retrying in 1 s")
                self._loop.call_later(1.0, self.wake.set)
                continue
            for slot, run in zip(free, waiting):
                slot.run_id = run["id"]
                job = asyncio.get_running_loop().create_task(self._run(slot, run))
                self._jobs.add(job)
                job.add_done_callback(self._jobs.discard)

    async def _run(self, slot: _Slot, run: dict[str, Any]) -> None:
        run_id = run["id"]
        s = self.settings
        try:
            future = slot.executor.submit(execute, run_id, json.loads(run["spec"]), self.store.path,
                                          s.progress_every_s, s.progress_every_bars,
                                          s.trader_factory if self.shared is not None else None)
            watch = asyncio.get_running_loop().create_task(self._watch_cancel(slot, run_id))
            try:
                out = await asyncio.wrap_future(future)
            finally:
                watch.cancel()
            await self._settle(run_id, out["state"], out.get("error"), out.get("summary"), out.get("failure"))
        except BrokenProcessPool as exc:
            cancelled = await asyncio.to_thread(self.store.cancel_requested, run_id)
            state, why = (("cancelled", "cancelled: its worker process was stopped") if cancelled else
                          ("failed", f"its worker process died while running it ({exc}); the server and the "
                                     "other runs are unaffected"))
            kind = "cancelled" if cancelled else "worker_died"
            log.error("run %s: %s", run_id, why)
            await self._settle(run_id, state, why, failure=kind)
            slot.renew()
        except asyncio.CancelledError:
            raise
        except Exception as exc:   # the task could not be sent or its answer not read: the run fails, not the server
            log.exception("run %s could not be run", run_id)
            await self._settle(run_id, "failed", f"{type(exc).__name__}: {exc}", failure="internal")
        finally:
            slot.run_id = None
            self._signal_done(run_id)
            self.notify()

    async def _settle(self, run_id: str, state: str, error: str | None = None, summary: dict | None = None,
                      failure: str | None = None) -> None:
        """Write a run's outcome (in a thread: the event loop never waits on the database); if the
        store cannot be reached (a database restart longer than ``--db-reconnect``), keep it and
        write it when the store is back (``_mend_states``)."""
        try:
            await asyncio.to_thread(self.store.set_state, run_id, state, error=error, summary=summary,
                                    failure=failure, only_from=("queued", "running"))
        except self.store.errors as exc:
            log.error("run %s ended %s, but the run store is unreachable (%s); its outcome is written when "
                      "the store is back", run_id, state, type(exc).__name__)
            self.unsettled[run_id] = (state, error, summary, failure)

    async def _mend_states(self, every_s: float = 1.0) -> None:
        """Every ``every_s``: write the outcomes kept while the store was unreachable, and fail any
        run the store says is running that no slot of this server runs (its outcome was lost: it
        would otherwise stay running, uncancellable, and count against the active-run limit).
        A run the store says is running was given a slot before its worker marked it so; a slot
        is freed only after its outcome was written or kept: so a running run in no slot now,
        and not kept, is no run of ours."""
        while True:
            await asyncio.sleep(every_s)
            try:
                for run_id, (state, error, summary, failure) in list(self.unsettled.items()):
                    await asyncio.to_thread(self.store.set_state, run_id, state, error=error, summary=summary,
                                            failure=failure, only_from=("queued", "running"))
                    del self.unsettled[run_id]
                    log.warning("run %s: its outcome (%s), kept while the run store was unreachable, is written",
                                run_id, state)
                running = await asyncio.to_thread(self.store.running)
                ours = {s.run_id for s in self.slots}   # after the query, on the loop (see above)
                for run_id in running:
                    if run_id not in ours and run_id not in self.unsettled:
                        moved = await asyncio.to_thread(
                            self.store.set_state, run_id, "failed", only_from=("running",), failure="state_lost",
                            error="its state was lost while the run store was unreachable (no worker of this "
                                  "server runs it); submit it again")
                        if moved:
                            log.error("run %s was running with no worker: marked failed", run_id)
            except self.store.errors as exc:
                log.warning("the run store is still unreachable (%s); trying again in %g s", type(exc).__name__,
                            every_s)
            except asyncio.CancelledError:
                raise
            except Exception:   # never let the mending task die
                log.exception("mending run states failed; trying again in %g s", every_s)

    async def _watch_cancel(self, slot: _Slot, run_id: str) -> None:
        """A running run whose cancel flag its worker has not honoured within the grace time
        (a trader stuck in its own code) is stopped by stopping its worker process."""
        while True:
            try:
                if await asyncio.to_thread(self.store.cancel_requested, run_id):
                    break
            except self.store.errors:   # unreachable for now: look again
                pass
            await asyncio.sleep(0.25)
        await asyncio.sleep(self.settings.cancel_grace_s)
        if slot.run_id == run_id:
            for pid in slot.pids():
                log.warning("run %s ignored its cancel flag for %.1f s: stopping worker %d", run_id,
                            self.settings.cancel_grace_s, pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
