"""Start-up of pytest with the plugin, and the example suite with -n 0 and -n 2 (issue #16).

Run: python benchmarks/bench_plugin.py [--rounds 3] [--only cached|nobytecode] [--tree DIR] [--quick]
     [--before DIR] [--breakdown]

Every figure is a wall time of a fresh ``python -m pytest`` process, and the CPU time of its
whole process tree (xdist workers included); the variants run in interleaved rounds (the
order rotates every round) and each ratio or difference is taken within one round, then
summarised as median [min-max] over the rounds: on a shared, noisy machine only those mean
something, and CPU seconds are steadier than wall seconds (but a machine whose cores are all
busy cannot show the wall-time gain of ``-n 2``). Two bytecode conditions:

- ``cached``: bytecode caching on, into a private ``PYTHONPYCACHEPREFIX`` (filled by a warm-up
  run, so the checkout is not touched): what a developer's machine sees from the second run on;
- ``nobytecode``: ``PYTHONDONTWRITEBYTECODE=1`` (containers, CI images): installed packages'
  ``.pyc`` files are read, but nothing is written, so every process compiles the checkout's
  modules and pytest rewrites the assertions of every module it marks, again in each process.

Printed: an empty test file with and without the plugin (``-p no:stress``) and what each
other installed plugin adds; the example suite (``conftest_examples -m stress``, README's main
job) at ``-n 0`` and ``-n 2``; the simulation time (the sum of the cases' setup, call and
teardown durations in the ``-n 0`` run, from its JUnit XML); ``(-n 2)/(-n 0)`` for information
(issue #16's target "``-n 2`` faster than ``-n 0``" on the 3-second example suite is retired:
``benchmarks/bench_verdict.py`` judges ``-n 2`` against ``-n 0`` on the suite with verdicts, at
least 1.5x faster); and the target of issue #16:

- ``-n 0`` at most 1.5x (bare pytest start-up + simulation time), bare start-up being the empty
  file's run without the plugin, with every installed plugin (pytest's default) and, stricter,
  with only the plugins the example suite's ``pytest.ini`` loads (``--disable-plugin-autoload``
  and its ``-p`` list).

``--breakdown``: after the rounds, one ``-n 0`` and one ``-n 2`` run of the example suite with a
small timing plugin in every process (controller and workers), and where their time went: each
process's start-up (process start to session start), collection, tests and end, in wall and CPU
seconds; and the critical path that the CPU seconds give on an otherwise idle machine (on a
shared one, wall seconds mostly measure the neighbours).

The package measured is the one in ``--tree`` (default: this checkout), put first on
``PYTHONPATH``: so pytest finds it on ``sys.path`` and marks it for assertion rewriting as it
does for an installed wheel, and a copy of another version (``git archive``) gives before/after
figures on the same machine.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "conftest_examples"
PY = sys.executable
BASE = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"]

#: Other plugins installed in the dev environment, by their entry-point names.
OTHERS = {
    "pytest-html (+ pytest-metadata)": ["-p", "no:html", "-p", "no:html_fixtures", "-p", "no:metadata"],
    "pytest-timeout": ["-p", "no:timeout"],
    "hypothesis's plugin": ["-p", "no:hypothesispytest"],
    "schemathesis (dev extra, service tests)": ["-p", "no:schemathesis"],
    "anyio": ["-p", "no:anyio"],
    "xdist": ["-p", "no:xdist", "-p", "no:xdist.looponfail"],
}


def _cpu() -> float:
    """CPU seconds (user + system) of every finished child process, and theirs, so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the process tree, exit code."""
    cpu, t = _cpu(), time.perf_counter()
    rc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    return time.perf_counter() - t, _cpu() - cpu, rc


def _simulation_seconds(junit: Path) -> float:
    """The sum of every test case's time (setup + call + teardown) in a JUnit XML file."""
    return sum(float(case.get("time", 0)) for case in ET.parse(junit).getroot().iter("testcase"))


def _suite_plugins(examples: Path) -> list[str]:
    """The plugin options of the example suite's ``pytest.ini`` (``--disable-plugin-autoload`` and
    its ``-p`` list), without ``-p stress``: the bare start-up of a process loading what the suite
    loads, our plugin aside."""
    import configparser
    import shlex

    ini = configparser.ConfigParser()
    ini.read(examples / "pytest.ini")
    words = shlex.split(ini.get("pytest", "addopts", fallback=""))
    out = ["--disable-plugin-autoload"] if "--disable-plugin-autoload" in words else []
    for flag, value in zip(words, words[1:]):
        if flag == "-p" and value != "stress":
            out += [flag, value]
    return out


SUITE_BARE = "empty file, the example suite's plugins, -p no:stress"


def _variants(empty: Path, junit: Path, others: dict[str, list[str]], here: Path) -> dict[str, tuple[list[str], Path]]:
    """The commands, each with its working directory: never the checkout's root, whose package
    would come first on ``sys.path`` (``python -m``) whatever ``--tree`` says. ``here`` holds a
    copy of ``conftest_examples``."""
    no_stress = ["-p", "no:stress"]
    out = {
        "empty file, with the plugin": ([*BASE, str(empty)], empty.parent),
        "empty file, -p no:stress (bare start-up)": ([*BASE, *no_stress, str(empty)], empty.parent),
        SUITE_BARE: ([*BASE, *_suite_plugins(here / "conftest_examples"), *no_stress, str(empty)], empty.parent),
    }
    for name, flags in others.items():
        out[f"empty file, -p no:stress, without {name}"] = ([*BASE, *no_stress, *flags, str(empty)], empty.parent)
    examples = [*BASE, "conftest_examples", "-m", "stress"]
    out["example suite -n 0"] = ([*examples, "-n", "0", f"--junitxml={junit}"], here)
    out["example suite -n 2"] = ([*examples, "-n", "2"], here)
    return out


def _copy_examples(source: Path, here: Path) -> Path:
    """A copy of ``source`` (a ``conftest_examples``) as ``here/conftest_examples``; returns ``here``."""
    if not (here / "conftest_examples").exists():
        shutil.copytree(source, here / "conftest_examples", ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    return here


def _environment(condition: str, prefix: Path, tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH", "")]))
    if condition == "nobytecode":
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(prefix)
    return env


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} [{min(values):.2f}-{max(values):.2f}]"


#: The variants also run for ``--before``'s tree, in the same rounds.
PAIRED = ("empty file, with the plugin", "empty file, -p no:stress (bare start-up)", SUITE_BARE,
          "example suite -n 0", "example suite -n 2")


def measure(condition: str, rounds: int, tmp: Path, tree: Path, others: dict[str, list[str]],
            before: Path | None = None) -> None:
    empty = tmp / "empty" / "test_empty.py"
    empty.parent.mkdir(exist_ok=True)
    here = _copy_examples(EXAMPLES, tmp / "examples")   # run from a copy, out of the checkout's root (see _variants)
    empty.write_text("def test_nothing():\n    assert 1 + 1 == 2\n")
    junit = tmp / f"junit-{condition}.xml"
    env = _environment(condition, tmp / f"pycache-{condition}", tree)
    variants = {name: (cmd, cwd, env) for name, (cmd, cwd) in _variants(empty, junit, others, here).items()}
    if before is not None:   # the other tree's package and its own conftest_examples (if it has one)
        old_env = _environment(condition, tmp / f"pycache-{condition}", before)
        old_examples = before / "conftest_examples" if (before / "conftest_examples").is_dir() else EXAMPLES
        old = _variants(empty, tmp / f"junit-before-{condition}.xml", {},
                        _copy_examples(old_examples, tmp / "examples-before"))
        variants.update({f"before: {name}": (*old[name], old_env) for name in PAIRED})
    names = list(variants)
    print(f"\n== {condition}: "
          + ("bytecode cached in a private PYTHONPYCACHEPREFIX (warm)" if condition == "cached"
             else "PYTHONDONTWRITEBYTECODE=1 (nothing written: every process compiles and rewrites again)"))
    stale = sorted(p.name for p in (tree / "pytest_stress").rglob("__pycache__/*.pyc"))
    if condition == "nobytecode" and stale:
        print(f"   note: {len(stale)} .pyc files of pytest_stress exist in the checkout and are read")
    for name in names:                                 # warm-up: fills the cache, loads the disk cache
        _run(variants[name][0], variants[name][2], variants[name][1])
    times: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    sims: list[float] = []
    failed: set[str] = set()
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            cmd, cwd, run_env = variants[name]
            seconds, cpu, rc = _run(cmd, run_env, cwd)
            times[name].append(seconds)
            cpus[name].append(cpu)
            if rc not in (0, 5):   # 5: no tests collected (not expected here either)
                failed.add(f"{name} (exit code {rc})")
            if name == "example suite -n 0":
                sims.append(_simulation_seconds(junit))
    print(f"   median [min-max] of {rounds} interleaved rounds{'':<31}wall seconds         CPU seconds")
    for name in names:
        print(f"   {name:<74} {_summary(times[name])}  {_summary(cpus[name])}")
    print(f"   {'simulation: sum of the cases durations in the -n 0 run':<74} {_summary(sims)}")
    print("   added to an empty session, per process (paired within each round):  wall seconds         CPU seconds")
    key_with, key_bare = "empty file, with the plugin", "empty file, -p no:stress (bare start-up)"
    rows = {"pytest-stress": (key_with, key_bare)}
    rows.update({name: (key_bare, f"empty file, -p no:stress, without {name}") for name in others})
    for name, (a, b) in rows.items():
        print(f"     {name:<68} {_summary([x - y for x, y in zip(times[a], times[b])])}"
              f"  {_summary([x - y for x, y in zip(cpus[a], cpus[b])])}")
    label = "the example suite's plugins only (its pytest.ini), instead of every installed one"
    print(f"     {label:<68} "
          f"{_summary([x - y for x, y in zip(times[SUITE_BARE], times[key_bare])])}"
          f"  {_summary([x - y for x, y in zip(cpus[SUITE_BARE], cpus[key_bare])])}")
    n0, n2 = times["example suite -n 0"], times["example suite -n 2"]
    c0, c2 = cpus["example suite -n 0"], cpus["example suite -n 2"]
    print(f"   example suite: CPU seconds of -n 2 minus -n 0 (the start-up work xdist repeats): "
          f"{_summary([b - a for a, b in zip(c0, c2)])}")
    speed = [b / a for a, b in zip(n0, n2)]
    print(f"   example suite (-n 2)/(-n 0) = {_summary(speed)} (for information; the -n 2 target is "
          "bench_verdict.py's, on the suite with verdicts)")
    for label, bare in (("bare start-up", times[key_bare]), ("bare start-up with the suite's plugins", times[SUITE_BARE])):
        budget = [a / (b + s) for a, b, s in zip(n0, bare, sims)]
        print(f"   target: -n 0 at most 1.5x ({label} + simulation): (-n 0)/(bare + sim) = {_summary(budget)}: "
              f"{'PASS' if statistics.median(budget) <= 1.5 else 'MISS'}")
    if before is not None:
        print(f"   before ({before}) and this tree, paired within each round: this tree / before")
        for name in PAIRED:
            a, b = f"before: {name}", name
            print(f"     {name:<68} {_summary([y / x for x, y in zip(times[a], times[b])])}"
                  f"  {_summary([y / x for x, y in zip(cpus[a], cpus[b])])}")
        a, b = "before: empty file, with the plugin", "before: empty file, -p no:stress (bare start-up)"
        print(f"     {'CPU seconds the plugin adds to an empty session, before':<68} "
              f"{'':22}{_summary([x - y for x, y in zip(cpus[a], cpus[b])])}")
        old_speed = [b / a for a, b in zip(times["before: example suite -n 0"], times["before: example suite -n 2"])]
        print(f"     {'(-n 2)/(-n 0) before':<68} {_summary(old_speed)}")
    if failed:
        print(f"   warning: these runs did not pass (their times still count): {', '.join(sorted(failed))}")


#: A plugin (``-p stress_bench_timeline``) that records, in every process of a session, the process's
#: start, its session start, collection, each test and the end, in wall and CPU seconds.
TIMELINE_PLUGIN = '''
import json, os, time
import pytest

def _process_start():
    """The process's start on the wall clock (Linux: /proc; elsewhere: when this module loads)."""
    try:
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        with open(f"/proc/{os.getpid()}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration):
        return time.time()

def _cpu():
    t = os.times()
    return t.user + t.system

EVENTS = [("process start", _process_start(), 0.0)]
TESTS = []

def _event(name):
    EVENTS.append((name, time.time(), _cpu()))

def pytest_sessionstart(session):
    _event("session start")

def pytest_collection_finish(session):
    _event("collected")

@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    _event("session finish")

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    wall, cpu = time.time(), _cpu()
    yield
    TESTS.append((item.nodeid, wall, time.time() - wall, _cpu() - cpu))

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    _event("end")
    t = os.times()
    tag = getattr(config, "workerinput", {}).get("workerid", "controller")
    with open(os.path.join(os.environ["STRESS_BENCH_TIMELINE"], tag + ".json"), "w") as f:
        json.dump({"events": EVENTS, "tests": TESTS, "children_cpu": t.children_user + t.children_system}, f)
'''


def _timeline(cmd: list[str], env: dict[str, str], cwd: Path, tmp: Path) -> tuple[float, dict[str, dict]]:
    """Run ``cmd`` with the timeline plugin; its wall seconds and every process's record."""
    out = tmp / "timeline"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (tmp / "stress_bench_timeline.py").write_text(TIMELINE_PLUGIN)
    run_env = dict(env, STRESS_BENCH_TIMELINE=str(out),
                   PYTHONPATH=os.pathsep.join([str(tmp), env.get("PYTHONPATH", "")]))
    t = time.perf_counter()
    subprocess.run([*cmd, "-p", "stress_bench_timeline"], env=run_env, cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    return wall, {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}


def _phases(rec: dict) -> dict[str, tuple[float, float]]:
    """Per phase of one process: (wall seconds, CPU seconds). Start-up: from the process's start to
    its session start; collection (not on an xdist controller); run: to the session's finish (the
    tests, or on a controller, waiting for the workers); end: the session's finish to the exit."""
    ev = {name: (wall, cpu) for name, wall, cpu in rec["events"]}
    marks = [("start-up", "session start"), ("collection", "collected"), ("run", "session finish"), ("end", "end")]
    out, (wall, cpu) = {}, ev["process start"]
    for phase, name in marks:
        if name in ev:
            out[phase] = (ev[name][0] - wall, ev[name][1] - cpu)
            wall, cpu = ev[name]
    return out


def breakdown(condition: str, tmp: Path, tree: Path) -> None:
    """Where the time of one -n 0 and one -n 2 run of the example suite goes (see the module docstring)."""
    here = _copy_examples(EXAMPLES, tmp / "examples")
    env = _environment(condition, tmp / f"pycache-{condition}", tree)
    cores = os.cpu_count() or 1
    print(f"\n== breakdown ({condition}): one run each, load average {os.getloadavg()[0]:.1f}; "
          "wall / CPU seconds per process and phase (child processes: Monte Carlo path workers, or xdist's)")
    examples = [*BASE, "conftest_examples", "-m", "stress"]
    estimates = {}
    for n in ("0", "2"):
        wall, recs = _timeline([*examples, "-n", n], env, here, tmp)
        t0 = min(r["events"][0][1] for r in recs.values())
        print(f"   -n {n}: {wall:.2f} s wall")
        for tag, rec in recs.items():
            phases = _phases(rec)
            text = "  ".join(f"{name} {w:.2f}/{c:.2f}" for name, (w, c) in phases.items())
            longest = max(rec["tests"], key=lambda t: t[3], default=None)
            print(f"     {tag:<11} from {rec['events'][0][1] - t0:5.2f} s: {text}"
                  + (f"; child processes {rec['children_cpu']:.2f} CPU" if rec["children_cpu"] > 0.05 else "")
                  + (f"; {len(rec['tests'])} tests, longest {longest[0].split('::')[-1]} {longest[2]:.2f}/{longest[3]:.2f}"
                     if longest else ""))
        ctl = _phases(recs["controller"])
        own = recs["controller"]["events"]
        tail = wall - (own[-1][1] - own[0][1])   # the process's exit (and its launch): not seen from inside
        if n == "0":   # the path workers (forked) share the cores while their test waits
            estimates[n] = own[-1][2] + recs["controller"]["children_cpu"] / cores + tail
        else:          # the controller starts, the workers run side by side, the controller ends (its
            # wall: it waits for the workers' processes to exit)
            busiest = max(r["events"][-1][2] for tag, r in recs.items() if tag != "controller")
            estimates[n] = ctl["start-up"][1] + busiest + ctl["end"][0] + tail
    print(f"   CPU critical path (an otherwise idle {cores}-core machine): -n 0 {estimates['0']:.2f} s "
          f"(its CPU + the path workers' CPU / {cores} + its exit), -n 2 {estimates['2']:.2f} s (the controller's "
          f"start-up + the busiest worker + the controller's end and exit): "
          f"(-n 2)/(-n 0) = {estimates['2'] / estimates['0']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=["cached", "nobytecode"], default=None)
    ap.add_argument("--tree", type=Path, default=ROOT, help="the directory holding the pytest_stress package to measure")
    ap.add_argument("--quick", action="store_true", help="skip the rows of what each other installed plugin adds")
    ap.add_argument("--breakdown", action="store_true",
                    help="also one timed -n 0 and -n 2 run of the example suite per condition, per process and phase")
    ap.add_argument("--before", type=Path, default=None,
                    help="another tree (e.g. `git archive` of an older commit) to run in the same rounds, for "
                         "paired before/after ratios")
    args = ap.parse_args()
    tree = args.tree.resolve()
    if not (tree / "pytest_stress" / "__init__.py").is_file():
        ap.error(f"--tree {args.tree}: holds no pytest_stress/__init__.py")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"package: {tree / 'pytest_stress'}")
    with tempfile.TemporaryDirectory() as tmp:
        for condition in ([args.only] if args.only else ["cached", "nobytecode"]):
            if args.rounds > 0:
                measure(condition, args.rounds, Path(tmp), tree, {} if args.quick else OTHERS,
                        args.before.resolve() if args.before else None)
            if args.breakdown:
                breakdown(condition, Path(tmp), tree)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
