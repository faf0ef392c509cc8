"""The architecture holds: no import cycles, lazy imports say why, one metric table, one kinds table."""
import ast
import dataclasses
import tomllib
from pathlib import Path

import pytest

from pytest_stress.result.metrics import METRIC_FIELDS, METRICS, markdown_table
from pytest_stress.result.models import ScenarioResult
from pytest_stress.scenario import KINDS, ScenarioType

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "pytest_stress"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every pytest_stress module this one imports at run time (function-local imports included)."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m in modules and m != name and m != "pytest_stress"}


def test_no_import_cycles_counting_function_local_imports():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # a module's own packages are already being imported when it runs: no edge back to them
    graph = {n: {m for m in deps if not n.startswith(m + ".")} for n, deps in graph.items()}
    cycles = []
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m, stack + [m])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    assert cycles == []


def test_every_function_local_import_says_why_it_is_lazy():
    missing = []
    for name, path in _modules().items():
        text = path.read_text().splitlines()
        tree = ast.parse("\n".join(text))
        skip = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)) and sub.lineno not in skip:
                        if "#" not in text[sub.end_lineno - 1]:
                            missing.append(f"{name}:{sub.lineno}: {text[sub.lineno - 1].strip()}")
    assert missing == []


def test_the_core_never_imports_pytest_or_hypothesis():
    offenders = []
    for name, path in _modules().items():
        if name.startswith("pytest_stress.plugin") or name == "pytest_stress.strategies":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{name}: {n}" for n in names if n.split(".")[0] in ("pytest", "_pytest", "hypothesis")]
    assert offenders == []


def test_scenario_result_fields_are_the_metric_table():
    names = [f.name for f in dataclasses.fields(ScenarioResult)]
    start, stop = names.index(METRIC_FIELDS[0]), names.index(METRIC_FIELDS[-1]) + 1
    assert tuple(names[start:stop]) == METRIC_FIELDS
    assert len(set(METRIC_FIELDS)) == len(METRICS)
    assert all(m.worse in ("higher", "lower", "neither") and m.definition and m.header for m in METRICS)


def test_docs_metrics_holds_the_generated_table():
    """docs/metrics.md is regenerated with: python -m pytest_stress metrics --markdown"""
    assert markdown_table() in (ROOT / "docs" / "metrics.md").read_text()


def test_every_scenario_type_has_one_row():
    assert set(KINDS) == set(ScenarioType)
    assert all(k.type is t for t, k in KINDS.items())


def test_pytest_is_a_runtime_dependency_of_the_plugin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.split(">")[0].split("=")[0].strip() == "pytest" for d in project["dependencies"])
    assert project["entry-points"]["pytest11"]["stress"] == "pytest_stress.plugin.hooks"


@pytest.mark.parametrize("old", ["pytest_stress.executor", "pytest_stress.montecarlo",
                                 "pytest_stress.faults", "pytest_stress.transforms.window"])
def test_old_module_names_are_gone(old):
    with pytest.raises(ModuleNotFoundError):
        __import__(old)
