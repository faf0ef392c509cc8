"""Start-up of pytest with the plugin, and the example suite with -n 0 and -n 2 (issue #16).

Run: python benchmarks/bench_plugin.py [--rounds 3] [--only cached|nobytecode] [--tree DIR] [--quick]
     [--before DIR]

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
teardown durations in the ``-n 0`` run, from its JUnit XML); and the targets of issue #16:

- ``-n 2`` faster than ``-n 0`` on the example suite;
- ``-n 0`` at most 1.5x (bare pytest start-up + simulation time), bare start-up being the empty
  file's run without the plugin.

The package measured is the one in ``--tree`` (default: this checkout), put first on
``PYTHONPATH``: so pytest finds it on ``sys.path`` and marks it for assertion rewriting as it
does for an installed wheel, and a copy of another version (``git archive``) gives before/after
figures on the same machine.
"""
from __future__ import annotations

import argparse
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


def _variants(empty: Path, junit: Path, others: dict[str, list[str]]) -> dict[str, tuple[list[str], Path]]:
    """The commands, each with its working directory: never the checkout's root, whose package
    would come first on ``sys.path`` (``python -m``) whatever ``--tree`` says."""
    no_stress = ["-p", "no:stress"]
    out = {
        "empty file, with the plugin": ([*BASE, str(empty)], empty.parent),
        "empty file, -p no:stress (bare start-up)": ([*BASE, *no_stress, str(empty)], empty.parent),
    }
    for name, flags in others.items():
        out[f"empty file, -p no:stress, without {name}"] = ([*BASE, *no_stress, *flags, str(empty)], empty.parent)
    examples = [*BASE, "conftest_examples", "-m", "stress"]
    here = empty.parent.parent                         # holds a copy of conftest_examples
    out["example suite -n 0"] = ([*examples, "-n", "0", f"--junitxml={junit}"], here)
    out["example suite -n 2"] = ([*examples, "-n", "2"], here)
    return out


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
PAIRED = ("empty file, with the plugin", "empty file, -p no:stress (bare start-up)", "example suite -n 0",
          "example suite -n 2")


def measure(condition: str, rounds: int, tmp: Path, tree: Path, others: dict[str, list[str]],
            before: Path | None = None) -> None:
    empty = tmp / "empty" / "test_empty.py"
    empty.parent.mkdir(exist_ok=True)
    if not (tmp / "conftest_examples").exists():   # run from a copy, out of the checkout's root (see _variants)
        shutil.copytree(EXAMPLES, tmp / "conftest_examples", ignore=shutil.ignore_patterns("__pycache__"))
    empty.write_text("def test_nothing():\n    assert 1 + 1 == 2\n")
    junit = tmp / f"junit-{condition}.xml"
    env = _environment(condition, tmp / f"pycache-{condition}", tree)
    variants = {name: (cmd, cwd, env) for name, (cmd, cwd) in _variants(empty, junit, others).items()}
    if before is not None:
        old_env = _environment(condition, tmp / f"pycache-{condition}", before)
        old = _variants(empty, tmp / f"junit-before-{condition}.xml", {})
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
    bare = times[key_bare]
    n0, n2 = times["example suite -n 0"], times["example suite -n 2"]
    c0, c2 = cpus["example suite -n 0"], cpus["example suite -n 2"]
    print(f"   example suite: CPU seconds of -n 2 minus -n 0 (the start-up work xdist repeats): "
          f"{_summary([b - a for a, b in zip(c0, c2)])}")
    speed = [b / a for a, b in zip(n0, n2)]
    budget = [a / (b + s) for a, b, s in zip(n0, bare, sims)]
    print(f"   target: example suite -n 2 faster than -n 0: (-n 2)/(-n 0) = {_summary(speed)}: "
          f"{'met' if statistics.median(speed) < 1 else 'MISSED'}")
    print(f"   target: -n 0 at most 1.5x (bare start-up + simulation): (-n 0)/(bare + sim) = {_summary(budget)}: "
          f"{'met' if statistics.median(budget) <= 1.5 else 'MISSED'}")
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=["cached", "nobytecode"], default=None)
    ap.add_argument("--tree", type=Path, default=ROOT, help="the directory holding the pytest_stress package to measure")
    ap.add_argument("--quick", action="store_true", help="skip the rows of what each other installed plugin adds")
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
            measure(condition, args.rounds, Path(tmp), tree, {} if args.quick else OTHERS,
                    args.before.resolve() if args.before else None)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
