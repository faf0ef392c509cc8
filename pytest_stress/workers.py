"""Worker processes that run tasks one at a time, each under a deadline: a task whose worker
dies or hangs loses only itself.

Why not ``ProcessPoolExecutor``: when one of its workers dies (``os._exit``, a segfault, the
OOM killer) the pool breaks and every pending future fails with ``BrokenProcessPool``, and it
has no way to stop a task that hangs. Here each worker is a process with a pipe of its own:

- a worker that dies is replaced; only its task is reported, with the exit code (or signal);
- a task past its deadline is interrupted: the parent sends ``SIGUSR1``, which raises
  ``TimeLimitExceeded`` inside the task (a ``BaseException``, so ``except Exception`` in
  user code does not swallow it; the task's own handler can read where it was from the
  traceback). A trader that catches it anyway and returns is stopped before its next bar
  (``engine.where.stop_at_next_bar``). If no answer comes within ``grace`` seconds (the
  interruption was swallowed in a loop, or the code is in a C loop that never returns to
  Python) the worker is killed and replaced. Where there is no ``SIGUSR1`` (Windows) the
  worker is killed at the deadline.
- a task made of steps (``run_paths``: a chunk of paths) calls ``step(i)`` as each begins: the
  deadline is then per step (each step gets ``timeout`` seconds from its start), and a task
  killed past it reports the step it was on (``Outcome.step``), so that its caller can name it
  and run the other steps again.

Workers are reused across tasks (a new process per task would pay the interpreter start
and the imports again under the ``spawn`` start method). They ignore SIGINT: on Ctrl-C the
parent gets ``KeyboardInterrupt`` and kills them.

Workers die with their parent (``_bind_to_parent``): a parent killed by SIGKILL or the OOM killer
runs no cleanup, and orphaned workers would run on and keep its inherited pipes open, so that
whoever waits for those pipes' end (xdist's controller, a caller reading its output) waits forever.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

__all__ = ["TimeLimitExceeded", "Outcome", "run_tasks", "step", "rerun_on_fresh_pools", "DEFAULT_TIMEOUT",
           "DEFAULT_GRACE"]

#: Default time limit of one case, in seconds (``run_batch`` and the pytest plugin). A library
#: scenario at 1,000 bars takes 0.01 to 0.25 s with the eight-role example system
#: (``conftest_examples``), so 300 s never fires on it, yet still lets a trader spend 0.3 s on
#: every one of 1,000 bars; a hung trader costs five minutes instead of forever.
DEFAULT_TIMEOUT = 300.0

#: Seconds a worker gets, once interrupted at its deadline, to report where it was before it
#: is killed.
DEFAULT_GRACE = 5.0


class TimeLimitExceeded(BaseException):
    """Raised inside a task that ran past its deadline."""


@dataclass
class Outcome:
    """What became of one task: ``status`` "ok" (``value`` is its return value), "error"
    (it raised: ``detail`` is the traceback), "died" (its worker process ended: ``detail``
    says how) or "timeout" (it ran past its deadline and did not answer: ``detail``)."""

    status: str
    value: Any = None
    detail: str = ""
    exitcode: int | None = None
    step: int | None = None   # the last step the task began (``step()``), for "died" and "timeout"


@dataclass(frozen=True)
class _Step:
    """A worker's message that its task began step ``index`` (the parent restarts its clock)."""

    index: int


_busy = False   # in a worker: a task is running (only then does SIGUSR1 interrupt)
_conn: Any = None            # in a worker: its end of the pipe (``step`` writes to it)
_limit: float | None = None  # in a worker: the running task's time limit per step
_step_started = 0.0          # in a worker: when the running step began (monotonic clock)


def step(index: int) -> None:
    """In a worker running a task under a time limit: step ``index`` of the task begins (the
    step's clock starts now). Anywhere else: nothing."""
    global _step_started
    if _conn is None or not _busy:
        return
    _step_started = time.monotonic()
    _conn.send(_Step(index))


def _interrupt(signum: int, frame: Any) -> None:
    # A SIGUSR1 the parent sent for a step that has ended since (the step's message and the signal
    # crossed) finds a step that began moments ago: it is ignored, and the parent's clock restarts
    # with that step's message. (The step it was meant for has run about the whole limit: the
    # parent's clock starts when the task or the step's message reaches it, a little later.)
    if not _busy or (_limit and time.monotonic() - _step_started < _limit / 2):
        return
    limit = f" of {_limit:g} s" if _limit else ""
    from .engine.where import stop_at_next_bar   # lazy: the bar loop (numpy), only once a task is interrupted

    stop_at_next_bar(frame, TimeLimitExceeded(f"ran past its time limit{limit}, caught the interruption and went on; "
                                              "stopped before its next bar"))
    raise TimeLimitExceeded(f"ran past its time limit{limit}")


#: ``prctl`` option: the signal this process gets when its parent dies (``<linux/prctl.h>``).
_PR_SET_PDEATHSIG = 1
#: Seconds between two looks at the parent where the kernel cannot watch it (no ``prctl``).
_PARENT_POLL = 0.5


def _bind_to_parent(parent: int | None, keep: tuple[int, ...]) -> None:
    """Make this worker die with ``parent``, the process that started it, and hold none of its stdio.

    On Linux the kernel sends SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``, see
    prctl(2); it fires when the thread that forked this process ends, and ``run_tasks`` stops
    its workers before it returns). prctl(2) notes the race: a parent that died before the call
    sends nothing, so the parent is checked once after it. Where there is no prctl (macOS), or
    it fails, a daemon thread looks at the parent every ``_PARENT_POLL`` s. Either way an orphan
    ends at once (SIGKILL or exit code 1) and runs no cleanup: nobody is left to want its results.
    ``parent`` None: whichever process forked this one (a ``forkserver`` context's fork server).

    A forked worker also inherits its parent's descriptors. Stdin is pointed at /dev/null and
    stdout at stderr (a trader's print() still shows), so that the worker does not keep the
    output pipe of a caller that was killed open for as long as the worker lives. Other inherited
    descriptors stay: they may belong to objects the trader uses, and closing them under those
    objects would make them write to whatever file next gets the number. An xdist worker's
    channel to its controller is among those (execnet moves it off fds 0 and 1 at start-up);
    there, dying with the parent is what ends the channel. ``keep``: descriptors left as they
    are (the worker's own pipe, which a parent started with fd 0 or 1 closed may have there).
    """
    parent = os.getppid() if parent is None else parent
    watched = False
    if sys.platform.startswith("linux"):
        try:
            watched = ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):   # no libc symbols to load: the thread below watches instead
            pass
    if os.getppid() != parent:   # it died before anything watched it: no signal is coming
        os._exit(1)
    if not watched:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(_PARENT_POLL)
            os._exit(1)
        threading.Thread(target=watch, name="pytest-stress parent watch", daemon=True).start()
    null = os.open(os.devnull, os.O_RDWR)
    try:
        if 0 not in keep:
            os.dup2(null, 0)
        if 1 not in keep:
            try:
                os.dup2(2, 1)
            except OSError:   # no stderr either
                os.dup2(null, 1)
    finally:
        if null > 2:   # else it was a free standard descriptor, now /dev/null: leave it so
            os.close(null)


def _serve(conn: Any, fn: Callable[..., Any], parent: int | None) -> None:
    """A worker's main loop: receive a task, run it, send its outcome; ``None`` ends it.
    ``parent``: the pid of the process it dies with (``_bind_to_parent``)."""
    global _busy, _conn, _limit, _step_started
    _bind_to_parent(parent, keep=(conn.fileno(),))
    _conn = conn
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, _interrupt)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        task, _limit = task
        _step_started = time.monotonic()
        _busy = True
        try:
            out = Outcome("ok", fn(*task))
        except TimeLimitExceeded as exc:
            out = Outcome("timeout", detail="interrupted at its deadline" + (
                "; it caught the interruption and went on, and was stopped before its next bar"
                if "caught" in str(exc) else ""))
        except BaseException as exc:   # noqa: BLE001 - reported to the parent, never swallowed
            out = Outcome("error", detail="".join(traceback.format_exception(exc)).rstrip())
        finally:
            _busy = False
        try:
            conn.send(out)
        except Exception as exc:   # the value would not pickle: say so instead
            conn.send(Outcome("error", detail=f"the result could not be sent back: {type(exc).__name__}: {exc}"))


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "its worker process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"its worker process was killed by {name} (exit code {code})"
    return f"its worker process died (exit code {code})"


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[..., Any]) -> None:
        self.conn, child = ctx.Pipe()
        # the process the worker must die with: this one, except under forkserver, which forks it
        parent = None if ctx.get_start_method() == "forkserver" else os.getpid()
        self.proc = ctx.Process(target=_serve, args=(child, fn, parent), name="pytest-stress worker")
        self.proc.start()
        child.close()
        self.index: int | None = None
        self.deadline: float | None = None
        self.signalled = False
        self.step: int | None = None

    def give(self, index: int, task: tuple, timeout: float | None) -> None:
        self.conn.send((task, timeout))
        self.index, self.signalled, self.step = index, False, None
        self.deadline = time.monotonic() + timeout if timeout else None

    def stop(self, kill: bool = False) -> int | None:
        if not kill:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                kill = True
        self.conn.close()
        if not kill:
            self.proc.join(2.0)
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        code = self.proc.exitcode
        self.proc.close()
        return code


def run_tasks(fn: Callable[..., Any], tasks: Sequence[tuple], *, workers: int, timeout: float | None,
              grace: float = DEFAULT_GRACE, context: Any = None,
              on_done: Callable[[int, Outcome], None] | None = None) -> list[Outcome]:
    """Run ``fn(*task)`` for every task in at most ``workers`` processes; outcomes in task order.

    ``timeout``: seconds each task may run (None or 0: no limit), or each of its steps
    (``step``). ``fn`` and the tasks must pickle (``context``: a ``multiprocessing`` context;
    default: the platform's). ``on_done(i, outcome)``: called in this process as each task's
    outcome is in (a progress display).
    """
    ctx = context or multiprocessing.get_context()
    outcomes: list[Outcome | None] = [None] * len(tasks)
    todo = deque(range(len(tasks)))
    idle: list[_Worker] = []
    busy: list[_Worker] = []
    told: set[int] = set()

    def tell() -> None:   # on_done for every outcome that came in since the last call
        if on_done is not None:
            for k, o in enumerate(outcomes):
                if o is not None and k not in told:
                    told.add(k)
                    on_done(k, o)
    try:
        while todo or busy:
            tell()
            while todo and len(busy) < workers:
                w = idle.pop() if idle else _Worker(ctx, fn)
                i = todo.popleft()
                try:
                    w.give(i, tasks[i], timeout)
                except Exception as exc:   # the task would not pickle: the worker is still idle
                    outcomes[i] = Outcome("error", detail=f"the task could not be sent to a worker process: "
                                                          f"{type(exc).__name__}: {exc}")
                    idle.append(w)
                    continue
                busy.append(w)
            if not busy:
                continue
            deadlines = [w.deadline for w in busy if w.deadline is not None]
            wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            ready = set(multiprocessing.connection.wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                                                        timeout=wait))
            for w in list(busy):
                i = w.index
                assert i is not None
                if w.conn in ready or w.proc.sentinel in ready:
                    got: Outcome | None = None
                    try:
                        while w.conn.poll():
                            got = w.conn.recv()
                            if not isinstance(got, _Step):
                                break
                            # the next step began: its own clock (and a signal sent for the last
                            # step, if any, is ignored by the worker)
                            w.step, w.signalled, got = got.index, False, None
                            w.deadline = time.monotonic() + timeout if timeout else None
                    except (EOFError, OSError):
                        got = None
                    if got is None and w.proc.sentinel not in ready and w.proc.is_alive():
                        continue   # only steps were reported: the task goes on
                    busy.remove(w)
                    if got is not None:
                        outcomes[i] = got
                        if got.status == "timeout":
                            got.detail = f"ran past its time limit of {timeout:g} s; {got.detail}"
                        idle.append(w)
                        continue
                    code = w.stop(kill=True)
                    outcomes[i] = (Outcome("timeout", detail=f"ran past its time limit of {timeout:g} s; "
                                                            f"{_describe_exit(code)} when interrupted", exitcode=code,
                                           step=w.step)
                                   if w.signalled else Outcome("died", detail=_describe_exit(code), exitcode=code,
                                                               step=w.step))
                elif w.deadline is not None and time.monotonic() >= w.deadline:
                    if not w.signalled and hasattr(signal, "SIGUSR1"):
                        w.signalled = True
                        w.deadline = time.monotonic() + grace
                        try:
                            os.kill(w.proc.pid, signal.SIGUSR1)
                        except ProcessLookupError:
                            pass
                        continue
                    busy.remove(w)
                    code = w.stop(kill=True)
                    outcomes[i] = Outcome("timeout", exitcode=code, step=w.step, detail=(
                        f"ran past its time limit of {timeout:g} s and did not stop within {grace:g} s "
                        "of being interrupted; its worker process was killed" if w.signalled else
                        f"ran past its time limit of {timeout:g} s; its worker process was killed"))
        tell()
    finally:
        for w in busy:
            w.stop(kill=True)
        for w in idle:
            w.stop()
    return [o if o is not None else Outcome("error", detail="no outcome") for o in outcomes]


def _pool_like(executor: Executor) -> ProcessPoolExecutor:
    """A fresh ``ProcessPoolExecutor`` made as ``executor`` was (its size, start method, initializer:
    read from its attributes, which the standard library does not document; missing ones take the
    defaults)."""
    kwargs: dict[str, Any] = {"max_workers": getattr(executor, "_max_workers", None),
                              "mp_context": getattr(executor, "_mp_context", None),
                              "initializer": getattr(executor, "_initializer", None),
                              "initargs": getattr(executor, "_initargs", ())}
    if getattr(executor, "_max_tasks_per_child", None) is not None:
        kwargs["max_tasks_per_child"] = executor._max_tasks_per_child   # type: ignore[attr-defined]
    return ProcessPoolExecutor(**kwargs)


def rerun_on_fresh_pools(executor: Executor, fn: Callable[..., Any], tasks: Sequence[tuple],
                         ) -> list[tuple[bool, Any]]:
    """Run again ``fn(*task)`` for tasks lost when a worker of ``executor`` (a ``ProcessPoolExecutor``)
    died: such a pool is broken for good (every pending task fails with ``BrokenProcessPool`` and it
    takes no new one), and it cannot say which task killed it.

    The tasks run on fresh pools made like ``executor`` (``_pool_like``): first all together (the
    innocent ones finish, unless the culprit breaks the pool before they do), then those lost again
    one at a time, each alone on a pool, so that the one that breaks a pool alone is known. Returns
    ``(True, value)`` or ``(False, exception)`` per task, in order; ``BrokenProcessPool`` there means
    that task broke a pool while running alone. ``executor`` itself is left as it is (broken)."""
    results: list[tuple[bool, Any] | None] = [None] * len(tasks)
    lost = list(range(len(tasks)))
    pool = _pool_like(executor)
    try:
        futures = {}
        for k in lost:
            try:
                futures[k] = pool.submit(fn, *tasks[k])
            except BrokenProcessPool:   # it broke while the rest were submitted: those run alone below
                break
        for k, f in futures.items():
            try:
                results[k] = (True, f.result())
            except BrokenProcessPool:
                pass
            except Exception as exc:   # the task itself raised: that is its result
                results[k] = (False, exc)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    pool = None
    try:
        for k in (k for k in lost if results[k] is None):
            if pool is None:
                pool = _pool_like(executor)
            try:
                results[k] = (True, pool.submit(fn, *tasks[k]).result())
            except BrokenProcessPool as exc:   # alone on its pool, it broke it: the culprit
                results[k] = (False, exc)
                pool.shutdown(wait=True)
                pool = None
            except Exception as exc:
                results[k] = (False, exc)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return [r if r is not None else (False, RuntimeError("no result")) for r in results]
