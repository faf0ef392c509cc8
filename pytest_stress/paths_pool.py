"""Where Monte Carlo paths run: in this process, in worker processes, or on any ``Executor``.

``runner.run_paths`` hands this module a chunk function (``fn(job, start, stop)`` runs paths
``start..stop-1`` and returns their reduced rows as a ``PathChunk``) and gets back one
``PathTable``. Paths are cut into chunks (about sixteen per worker, at most ``MAX_CHUNK`` paths)
so that the per-task cost (a pipe round trip, a cluster's scheduling) is paid per chunk,
and a chunk's reduced rows are all that travels back (about 0.5 KB per path).

- Own worker processes (``workers.run_tasks``: fork where the platform has it, so that the
  trader factory need not pickle): a worker that dies loses its chunk, whose paths are then
  run one per task again, so a path that kills its worker costs only itself (failed, with
  its seed and the exit code or signal).
- An ``Executor`` (``dask.distributed``'s ``Client.get_executor()``, a
  ``ProcessPoolExecutor``, ...): chunks are submitted to it (the job must pickle); a chunk
  whose task raised (a worker that died for good, a task that did not pickle) is submitted
  again path by path, the same way.
- In this process, one path after the other, for one worker or fewer than
  ``IN_PROCESS_BELOW`` paths (no pool to start).

Results are identical whatever runs them: every path's draws come from its own seed.
"""
from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from .errors import ScenarioError
from .result.paths import PathChunk, PathTable
from .workers import Outcome, rerun_on_fresh_pools, run_tasks

__all__ = ["run_path_chunks", "run_path_range", "resolve_path_workers", "available_cores", "chunk_bounds", "MAX_CHUNK",
           "IN_PROCESS_BELOW"]

log = logging.getLogger("pytest_stress")

#: At most this many paths per task (a chunk's rows are about 0.5 KB per path).
MAX_CHUNK = 256
#: Chunks per worker: enough that the last ones even out the workers' finishing times (a chunk of
#: the 1,000-path benchmark is about 0.4 s of work), few enough that their cost stays small (a
#: task's round trip: 0.35 ms, measured on a busy 2-core machine).
CHUNKS_PER_WORKER = 16
#: Fewer paths than this run in this process: starting workers would cost more than it saves.
IN_PROCESS_BELOW = 4
#: Chunks aimed at when the executor's size is unknown (a cluster).
EXECUTOR_CHUNKS = 64

ChunkFn = Callable[[Any, int, int], PathChunk]
#: ``progress(n)``: n more paths are done (the command line's progress display), or None.
Progress = Callable[[int], None] | None


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_path_workers(workers: int | str | None) -> int:
    """Worker processes for paths: an integer >= 1 as given; ``None`` or ``"auto"``: the cores
    divided by the xdist workers sharing them (``PYTEST_XDIST_WORKER_COUNT``), at least 1, so
    that ``pytest -n 2`` on 2 cores runs each test's paths in its own process."""
    if workers is None or workers == "auto":
        try:
            sharing = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
        except ValueError:
            sharing = 1
        return max(1, available_cores() // max(1, sharing))
    if isinstance(workers, str) and workers.strip().isdigit():
        workers = int(workers)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ScenarioError(f"path workers = {workers!r}; expected an integer >= 1, or 'auto' (None): the cores "
                            "divided by the xdist workers")
    return workers


def chunk_bounds(paths: int, tasks: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of about ``tasks`` near-equal chunks of ``paths``, each at most ``MAX_CHUNK``."""
    size = max(1, min(MAX_CHUNK, math.ceil(paths / max(1, tasks))))
    return [(a, min(a + size, paths)) for a in range(0, paths, size)]


def _fork_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork") if "fork" in methods else multiprocessing.get_context()


def _could_not_run(what: str, path: str) -> str:
    return f"{what} (the executor could not run {path})"


def _failed_chunk(start: int, seed_of: Callable[[int], int], name: str, error: Callable[[str], str]) -> PathChunk:
    """The row of path ``start`` that could not run: ``error(label)`` names it by its label."""
    seed = seed_of(start)
    chunk = PathChunk(start, PathTable.empty(1))
    chunk.table.set_row(0, seed, None, error(f"path {start} (seed {seed})"))
    log.error("scenario %r: %s", name, chunk.table.errors[0])
    return chunk


def _outcome_error(outcome: Outcome) -> Callable[[str], str]:
    def error(path: str) -> str:
        if outcome.status == "died":
            return f"WorkerDied: {path} {outcome.detail} (the other paths are unaffected)"
        if outcome.status == "timeout":
            return f"TimeLimitExceeded: {path} {outcome.detail}"
        if outcome.detail.startswith("Traceback"):   # SystemExit, KeyboardInterrupt out of the trader
            return f"{outcome.detail.splitlines()[-1]} ({path}, in its worker process)\n{outcome.detail}"
        return f"WorkerError: {path}: {outcome.detail}"
    return error


def _on_pool(fn: ChunkFn, job: Any, bounds: list[tuple[int, int]], workers: int,
             seed_of: Callable[[int], int], name: str, progress: Progress = None,
             timeout: float | None = None) -> list[PathChunk]:
    """``timeout``: seconds each path may run (the chunk function calls ``workers.step`` as each
    path begins). A path interrupted at its limit is a failed row of its chunk; a path that does
    not stop within the grace period has its worker killed: it fails, named, and the other paths
    of its chunk run again (their rows are the same to the bit: each path's draws come from its seed).
    ``progress(n)``: called as each chunk of ``n`` paths is done."""
    ctx = _fork_context()
    task = partial(fn, job)   # given to each worker when it starts (inherited under fork: need not pickle)
    done = None if progress is None else (lambda k, _: progress(bounds[k][1] - bounds[k][0]))
    outcomes = run_tasks(task, bounds, workers=workers, timeout=timeout, context=ctx, on_done=done)
    out: list[PathChunk] = []
    redo: list[int] = []
    for (a, b), o in zip(bounds, outcomes):
        if o.status == "ok":
            out.append(o.value)
        elif b - a == 1:
            out.append(_failed_chunk(a, seed_of, name, _outcome_error(o)))
        elif o.status == "timeout" and o.step is not None and a <= o.step < b:   # the path that hung is known
            out.append(_failed_chunk(o.step, seed_of, name, _outcome_error(o)))
            log.warning("scenario %r: path %d hung and its worker was killed; running paths %d..%d again without it",
                        name, o.step, a, b - 1)
            redo.extend(i for i in range(a, b) if i != o.step)
        else:
            log.warning("scenario %r: paths %d..%d lost their worker (%s); running them one by one",
                        name, a, b - 1, o.detail.splitlines()[-1] if o.detail else o.status)
            redo.extend(range(a, b))
    if redo:
        singles = [(i, i + 1) for i in redo]
        for (a, _), o in zip(singles, run_tasks(task, singles, workers=workers, timeout=timeout, context=ctx)):
            out.append(o.value if o.status == "ok" else _failed_chunk(a, seed_of, name, _outcome_error(o)))
    return out


def _on_executor(fn: ChunkFn, job: Any, bounds: list[tuple[int, int]], executor: Executor,
                 seed_of: Callable[[int], int], name: str) -> list[PathChunk]:
    def failed(a: int, exc: BaseException) -> PathChunk:
        return _failed_chunk(a, seed_of, name, lambda path: f"{type(exc).__name__}: {exc} (the executor could not "
                                                            f"run {path}: its worker died or the task did not pickle)")

    futures: list[Any] = []
    for a, b in bounds:
        try:
            futures.append(executor.submit(fn, job, a, b))
        except BrokenProcessPool as exc:   # broken while submitting: the rest are lost with it (below)
            futures.append(exc)
    out: list[PathChunk] = []
    redo: list[tuple[int, int]] = []
    broken: list[int] = []
    for k, (a, b) in enumerate(bounds):
        try:
            if isinstance(futures[k], BaseException):
                raise futures[k]
            out.append(futures[k].result())
        except BrokenProcessPool:   # a worker of a ProcessPoolExecutor died: every task in it is lost
            broken.extend(range(a, b))
        except Exception as exc:   # the task's worker died for good, or it did not pickle
            if b - a == 1:
                out.append(failed(a, exc))
            else:
                log.warning("scenario %r: paths %d..%d failed in the executor (%s: %s); running them one by one",
                            name, a, b - 1, type(exc).__name__, exc)
                redo.append((a, b))
        futures[k] = None   # its rows are merged: let the executor release them
    for a, b in redo:
        singles = [executor.submit(fn, job, i, i + 1) for i in range(a, b)]
        for i, f in zip(range(a, b), singles):
            try:
                out.append(f.result())
            except Exception as exc:   # this path alone cannot run: a failed row
                out.append(failed(i, exc))
    if broken:
        out += _rerun_broken(fn, job, broken, executor, seed_of, name)
    return out


def _rerun_broken(fn: ChunkFn, job: Any, paths: list[int], executor: Executor, seed_of: Callable[[int], int],
                  name: str) -> list[PathChunk]:
    """Paths lost with a broken ``ProcessPoolExecutor``, path by path on fresh pools made like it
    (``workers.rerun_on_fresh_pools``): the path that breaks a pool alone fails, named; the others
    get their rows, the same to the bit."""
    log.warning("scenario %r: a worker process of the executor died and broke it (BrokenProcessPool), losing "
                "%d path(s); running them again on fresh ProcessPoolExecutors of its size (the executor passed "
                "stays broken and takes no new task)", name, len(paths))
    out: list[PathChunk] = []
    for i, (ok, value) in zip(paths, rerun_on_fresh_pools(executor, fn, [(job, i, i + 1) for i in paths])):
        if ok:
            out.append(value)
        elif isinstance(value, BrokenProcessPool):
            out.append(_failed_chunk(i, seed_of, name, lambda path: (
                f"WorkerDied: {path} killed its worker process (it broke the executor's ProcessPoolExecutor, and "
                "again a fresh pool where it ran alone; the other paths are unaffected)")))
        else:
            what = f"{type(value).__name__}: {value}"
            out.append(_failed_chunk(i, seed_of, name, partial(_could_not_run, what)))
    return out


def run_path_range(fn: ChunkFn, job: Any, start: int, stop: int, *, seed_of: Callable[[int], int], name: str,
                   workers: int | str | None = None, executor: Executor | None = None,
                   progress: Progress = None, timeout: float | None = None) -> list[PathChunk]:
    """Run paths ``start..stop-1`` as ``fn(job, a, b)`` chunks and return the chunks, in path
    order. ``workers``: as ``resolve_path_workers`` (1, or fewer than ``IN_PROCESS_BELOW``
    paths: one chunk in this process); ``executor``: run on it instead (``job`` and ``fn``
    must pickle; ``workers``, if given, is its size, for the chunking). ``seed_of(i)``: path
    i's seed (for the rows of paths that could not run); ``name``: the scenario's, for messages.
    ``progress(n)``: called in this process as each chunk of ``n`` paths is done (a progress display;
    in this process the paths then run in chunks too: the rows are the same). ``timeout``: seconds
    each path may run in a worker process (``_on_pool``); with one, paths run in worker processes
    even when there are few (in this process nothing could stop them), but never with one worker
    (``workers=1``: this process, no limit) or on an executor (its workers are its own)."""
    n = resolve_path_workers(workers)   # checked even for an executor
    paths = stop - start
    if executor is not None:   # its size is unknown unless workers= says it
        given = workers is not None and workers != "auto"
        bounds = chunk_bounds(paths, CHUNKS_PER_WORKER * n if given else EXECUTOR_CHUNKS)
        chunks = _on_executor(fn, job, [(a + start, b + start) for a, b in bounds], executor, seed_of, name)
    elif n == 1 or (paths < IN_PROCESS_BELOW and not timeout):
        if progress is None:
            chunks = [fn(job, start, stop)]
        else:
            chunks = []
            for a, b in chunk_bounds(paths, CHUNKS_PER_WORKER):
                chunks.append(fn(job, a + start, b + start))
                progress(b - a)
    else:
        bounds = chunk_bounds(paths, CHUNKS_PER_WORKER * n)
        chunks = _on_pool(fn, job, [(a + start, b + start) for a, b in bounds], min(n, len(bounds)), seed_of, name,
                          progress, timeout)
    return sorted(chunks, key=lambda c: c.start)


def run_path_chunks(fn: ChunkFn, job: Any, paths: int, *, seed_of: Callable[[int], int], name: str,
                    workers: int | str | None = None, executor: Executor | None = None, progress: Progress = None,
                    timeout: float | None = None) -> tuple[PathTable, dict[int, tuple[int, Any, Any]]]:
    """Run paths ``0..paths-1`` (``run_path_range``); their rows in one table, and the kept
    cut equity curves."""
    chunks = run_path_range(fn, job, 0, paths, seed_of=seed_of, name=name, workers=workers, executor=executor,
                            progress=progress, timeout=timeout)
    table = PathTable.empty(paths)
    sketches: dict[int, tuple[int, Any, Any]] = {}
    for c in chunks:
        table.put(c.start, c.table)
        sketches.update(c.sketches)
    return table, sketches
