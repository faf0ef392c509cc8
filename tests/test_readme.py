"""README.md's Python examples, run as written (issue 31, item 2).

Every ```python block of the README is extracted and run, grouped the way the text reads:

- the trader (the block defining ``class MyTrader``) and the ``conftest.py`` block (the
  ``trader_factory`` fixture returning it) make the project's ``conftest.py``;
- each block with a test function (``def test_...``) is a test module of that project, and all
  of them run in one pytest session in a subprocess, with the README's defaults (verdicts over
  paths); every test passes, as the text says of them;
- every other block is a script (the README's "Outside pytest"), run in a subprocess after the
  ``MyTrader`` block it uses, and must exit 0.

A block that cannot run as written is marked in the README by an HTML comment on the line just
above it, ``<!-- not-run: reason -->``; the reason must be given, and such blocks stay rare. A
test block the text says fails is marked ``<!-- fails with: TEXT -->``: its tests fail, and the
session's output holds TEXT (the failure the README shows).
"""
import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>.*?)\s*-->\s*$")
FAILS = re.compile(r"<!--\s*fails with:\s*(?P<text>.*?)\s*-->\s*$")
#: At most this many blocks may be marked not-run.
MAX_NOT_RUN = 1


@dataclass
class Block:
    line: int            #: the README line of the opening fence (1-based)
    code: str
    not_run: str | None  #: the reason given, for a block marked not-run
    fails: str | None = None   #: what its failure says, for a test block the README says fails

    @property
    def tests(self):
        return re.findall(r"^def (test_\w+)\(", self.code, re.M)


def readme_blocks(text):
    blocks = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        above = text[:m.start()].rstrip("\n").rpartition("\n")[2]
        marked = NOT_RUN.search(above)
        indent = len(m.group("indent"))
        code = "\n".join(ln[indent:] for ln in m.group("body").splitlines()) + "\n"
        fails = FAILS.search(above)
        blocks.append(Block(line, code, marked.group("reason") if marked else None,
                            fails.group("text") if fails else None))
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
RUN = [b for b in BLOCKS if b.not_run is None]
TRADER = [b for b in RUN if re.search(r"^class MyTrader\b", b.code, re.M)]
CONFTEST = [b for b in RUN if re.search(r"^def trader_factory\(", b.code, re.M)]
TESTS = [b for b in RUN if b.tests]
SCRIPTS = [b for b in RUN if b not in TRADER + CONFTEST + TESTS]


def test_the_readme_blocks_are_found_and_each_has_one_role():
    assert len(BLOCKS) >= 8, f"found only {len(BLOCKS)} python blocks in README.md"
    assert len(TRADER) == 1 and len(CONFTEST) == 1, "one MyTrader block and one trader_factory block"
    assert not set(map(id, TESTS)) & set(map(id, TRADER + CONFTEST))
    marked = [b for b in BLOCKS if b.not_run is not None]
    assert len(marked) <= MAX_NOT_RUN, [b.line for b in marked]
    assert all(b.not_run for b in marked), "a not-run mark must say why"


def _conftest():
    return "import pytest\n\n" + TRADER[0].code + "\n\n" + CONFTEST[0].code


def test_the_readme_tests_pass_as_written(pytester):
    pytester.makeconftest(_conftest())
    expected, failing = [], []
    for b in TESTS:
        pytester.makepyfile(**{f"test_readme_line_{b.line}": b.code})
        names = [f"test_readme_line_{b.line}.py::{name}" for name in b.tests]
        (failing if b.fails else expected).extend(names)
    assert len(failing) <= 1, "the README's failing examples stay few"
    # hypothesis's seed fixed, so that the property block draws the same examples on every run
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "--hypothesis-seed=0",
                                        "-rA", "-q")
    out = res.stdout.str()
    passed = sorted(set(re.findall(r"^PASSED (\S+?)(?:\[.*\])?(?: |$)", out, re.M)))
    failed = sorted(set(re.findall(r"^FAILED (\S+?)(?:\[.*\])?(?: |$)", out, re.M)))
    assert passed == sorted(expected), out[-4000:]
    assert failed == sorted(failing), out[-4000:]
    for b in TESTS:
        if b.fails:
            assert b.fails in out, f"README line {b.line} says it fails with {b.fails!r}:\n" + out[-4000:]
    assert res.ret == (1 if failing else 0), out[-4000:]


def test_the_readme_scripts_run_as_written(pytester):
    assert SCRIPTS, "the README's 'Outside pytest' block was not found"
    for b in SCRIPTS:
        script = pytester.path / f"readme_line_{b.line}.py"
        script.write_text(TRADER[0].code + "\n\n" + b.code)
        res = pytester.run(sys.executable, str(script))
        assert res.ret == 0, f"README line {b.line}:\n" + res.stderr.str()[-3000:]


def _statuses_in_the_code():
    """Every execution status the package's code writes: the ``status`` argument of each
    ``ExecutionResult(...)`` (and of the simulator's ``_failure(...)``) built with a literal one,
    the statuses ``_status`` returns, a literal assigned to ``.status``, and ``expired``'s
    statuses (its default and its callers')."""
    found = set()
    for path in (ROOT / "pytest_stress").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
                name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                at = {"ExecutionResult": 5, "expired": 3, "_failure": 2}.get(name)
                if at is not None and len(node.args) > at and isinstance(node.args[at], ast.Constant):
                    found.add(node.args[at].value)
            elif isinstance(node, ast.FunctionDef) and node.name in ("_status", "expired"):
                for sub in ast.walk(node):
                    if (isinstance(sub, ast.Return) and isinstance(sub.value, ast.Tuple)
                            and isinstance(sub.value.elts[0], ast.Constant)):
                        found.add(sub.value.elts[0].value)
                found.update(d.value for d in node.args.defaults if isinstance(d, ast.Constant)
                             and node.name == "expired")
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
                for target in node.targets:
                    if isinstance(target, ast.Tuple):
                        found.update(v.value for t, v in zip(target.elts, node.value.elts)
                                     if isinstance(t, ast.Attribute) and t.attr == "status"
                                     and isinstance(v, ast.Constant))
    return found


def test_the_readme_names_every_execution_status():
    text = " ".join(README.read_text(encoding="utf-8").split())
    listed = re.search(r"`status` \((.*?)\),\s*`requested_qty`", text)
    assert listed, "the README's list of execution statuses was not found"
    named = {re.match(r"\s*(\w+)", item).group(1) for item in re.split(r",(?![^(]*\))", listed.group(1))}
    in_code = _statuses_in_the_code()
    assert {"filled", "late_fill", "band_limited", "liquidation"} <= in_code, in_code   # the scan still finds them
    assert named == in_code


def test_ci_lints_and_type_checks_then_runs_exactly_the_readme_test_command():
    text = README.read_text(encoding="utf-8")
    command = re.search(r"^Tests: .*?```bash\n(.*?)\n```", text, re.M | re.S).group(1).strip()
    steps = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert steps[-1] == command
    assert steps.index(".venv/bin/ruff check pytest_stress") < steps.index(".venv/bin/mypy") < len(steps) - 1


def test_the_package_ships_its_license_and_type_marker():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "pytest-stress-trading"
    assert meta["project"]["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) 2026 pytest-stress authors\n")
    assert (ROOT / "pytest_stress" / "py.typed").exists()
    # py.typed, and the real events the library's replays run on (docs/events.md)
    assert meta["tool"]["setuptools"]["package-data"]["pytest_stress"] == ["py.typed", "market/event_data/*.csv.gz"]
    assert {"ruff", "mypy"} <= {re.split(r"[<>=\[]", d)[0] for d in meta["project"]["optional-dependencies"]["dev"]}
