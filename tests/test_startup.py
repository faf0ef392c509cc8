"""Start-up structure (never time): what loading the plugin imports, and what pytest rewrites.

Every pytest process of an environment with pytest-stress installed loads the plugin, stress
tests or not, xdist workers and controller alike. These tests check, in fresh processes, that
loading it imports nothing heavy and that pytest's assertion rewriting is narrowed from the
whole package to the plugin module. The figures are printed by ``benchmarks/bench_plugin.py``.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: What a session without a stress test must not import because of the plugin.
HEAVY = ("numpy", "pandas", "hypothesis", "matplotlib")
SIMULATION = ("pytest_stress.library", "pytest_stress.runner", "pytest_stress.engine", "pytest_stress.market",
              "pytest_stress.scenario", "pytest_stress.result", "pytest_stress.transforms", "pytest_stress.trader",
              "pytest_stress.report", "pytest_stress.strategies", "pytest_stress.account.ledger",
              "pytest_stress.exchange.simulator")
#: The modules pytest imports through its rewriting hook before the plugin narrows it (the plugin
#: module and its two parent packages, a few lines each).
REWRITTEN = ["pytest_stress", "pytest_stress.plugin", "pytest_stress.plugin.hooks"]

PROBE_TEST = '''
def test_probe():
    {imports}
'''

#: Records, at the very end of the session (after the summary, the baseline and the report
#: hooks), the modules loaded and those pytest loaded through its assertion-rewriting hook.
PROBE_CONFTEST = '''
import json, sys
from pathlib import Path

import pytest
from _pytest.assertion.rewrite import AssertionRewritingHook


@pytest.fixture(scope="session")
def trader_factory():
    return lambda: type("Idle", (), {{"on_bar": lambda self, ctx: None}})()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r} or m.startswith("pytest_stress"))
    rewritten = sorted(n for n, m in list(sys.modules.items()) if n.startswith("pytest_stress")
                       and isinstance(getattr(m, "__loader__", None), AssertionRewritingHook))
    Path("probe.json").write_text(json.dumps({{"loaded": loaded, "rewritten": rewritten}}))
'''

#: schemathesis (a dev dependency, for the service's tests) imports hypothesis and numpy when pytest
#: loads it; blocked here only to keep these runs short. Every check compares runs with and without
#: our plugin, so other installed plugins cannot make them pass or fail.
QUIET = ("-p", "no:cacheprovider", "-p", "no:schemathesis")


def _probe(pytester: pytest.Pytester, *args: str, imports: str = "pass", passed: int = 1) -> dict[str, list[str]]:
    pytester.makeconftest(PROBE_CONFTEST.format(heavy=HEAVY))
    pytester.makepyfile(test_probe=PROBE_TEST.format(imports=imports))
    res = pytester.runpytest_subprocess(*QUIET, *args)
    res.assert_outcomes(passed=passed)
    return json.loads((pytester.path / "probe.json").read_text())


def _simulation(loaded: list[str]) -> list[str]:
    return [m for m in loaded if any(m == s or m.startswith(s + ".") for s in SIMULATION)]


def test_importing_the_plugin_module_imports_nothing_heavy():
    code = ("import json, sys, pytest_stress.plugin.hooks; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in %r or m.startswith('pytest_stress'))))"
            % (HEAVY,))
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                       check=True).stdout)
    assert "pytest_stress.plugin.hooks" in loaded
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []
    assert _simulation(loaded) == []


def test_a_session_without_stress_tests_loads_nothing_heavy_for_the_plugin(pytester):
    """At the default verbosity, so that the run header (which reads the options) is printed too."""
    without = _probe(pytester, "-p", "no:stress")
    with_plugin = _probe(pytester)
    assert "pytest_stress.plugin.hooks" in with_plugin["loaded"]
    assert not [m for m in without["loaded"] if m.startswith("pytest_stress")]
    heavy_added = sorted({m for m in with_plugin["loaded"] if m.split(".")[0] in HEAVY}
                         - set(without["loaded"]))
    assert heavy_added == []
    assert _simulation(with_plugin["loaded"]) == []


def test_the_simulation_is_loaded_once_a_stress_test_is_collected(pytester):
    """The counterpart of the test above: the lazy imports do happen when they are needed."""
    pytester.makepyfile(test_case="from pytest_stress import stress\n\n@stress('BTC Flash Crash 2021', bars=60)\n"
                                  "def test_case(stress_result):\n    assert stress_result.success\n")
    probe = _probe(pytester, passed=2)
    assert {"pytest_stress.library", "pytest_stress.runner", "numpy"} <= set(probe["loaded"])


def test_pytest_rewrites_only_the_plugin_module_not_the_package(pytester, monkeypatch):
    """pytest marks a plugin distribution's whole top-level package for assertion rewriting (for
    an editable install: when the package is importable from ``sys.path``, as it is from the
    repository's root or from site-packages). Without the plugin loaded, the simulation is
    rewritten; with it, only the plugin module and its parent packages are."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    imports = "import pytest_stress.runner, pytest_stress.library, pytest_stress.plugin.fixtures"
    without = _probe(pytester, "-p", "no:stress", imports=imports)
    assert "pytest_stress.runner" in without["rewritten"], (
        "pytest no longer marks the whole package for rewriting: pytest_stress.plugin.hooks."
        "_rewrite_only_the_plugin has nothing left to do and can go")
    probe = _probe(pytester, imports=imports)
    assert "pytest_stress.runner" in probe["loaded"] and "pytest_stress.plugin.fixtures" in probe["loaded"]
    assert probe["rewritten"] == REWRITTEN


ORDER_CONFTEST = '''
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def trader_factory():
    return lambda: type("Idle", (), {"on_bar": lambda self, ctx: None})()


def pytest_collection_finish(session):
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    Path(f"order-{worker}.json").write_text(json.dumps([item.name for item in session.items]))
'''

ORDER_TESTS = '''
from pytest_stress import stress


@stress()
def test_library(stress_result):
    assert stress_result.success


@stress("BTC Flash Crash 2021", paths=5)
def test_paths(stress_result):
    assert stress_result.paths == 5


def test_property(stress_runner):
    assert stress_runner("BTC Flash Crash 2021").success


def test_plain():
    assert True
'''


def test_under_xdist_each_worker_starts_on_one_of_the_longest_units(pytester):
    """xdist's load scheduler sends each worker a first chunk of consecutive tests (here 16 tests,
    2 workers: chunks of 2); the property test (many runs) and the Monte Carlo case open them."""
    pytester.makeconftest(ORDER_CONFTEST)
    pytester.makepyfile(test_order=ORDER_TESTS)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:schemathesis", "-n", "2")
    res.assert_outcomes(passed=16)
    orders = [json.loads((pytester.path / f"order-gw{i}.json").read_text()) for i in range(2)]
    assert orders[0] == orders[1] and len(orders[0]) == 16
    # the two longest units (the property test, 5 paths of 1,000 bars) open the two first chunks,
    # the shortest tests fill them, the rest follow longest first (3 symbols before 1)
    assert orders[0][:4] == ["test_property", "test_plain", "test_paths[btc-flash-crash-2021]",
                             "test_library[black-swan-combo]"]
    assert orders[0][4] == "test_library[correlation-breakdown]"
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:schemathesis", "-n", "0")
    res.assert_outcomes(passed=16)
    main = json.loads((pytester.path / "order-main.json").read_text())
    assert main[:2] == ["test_library[btc-flash-crash-2021]", "test_library[eth-liquidity-collapse]"]
    assert main.index("test_paths[btc-flash-crash-2021]") == 13    # after the library's 13
    assert main[-2:] == ["test_property", "test_plain"]   # without xdist: the file's order


EXAMPLES = ROOT / "conftest_examples"

#: Records, in every process (the controller and each xdist worker), the plugins registered and
#: the top-level packages of the modules loaded through pytest's assertion-rewriting hook.
PLUGINS_PROBE = '''
import json, os
from pathlib import Path

import pytest
from _pytest.assertion.rewrite import AssertionRewritingHook


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    import sys
    # a module named like a test file (python_files: test_*.py, *_test.py) is rewritten wherever it
    # lives: scipy.stats._bws_test, imported with the verdicts' statistics, is one; not a package's worth
    rewritten = sorted({n.split(".")[0] for n, m in list(sys.modules.items())
                        if isinstance(getattr(m, "__loader__", None), AssertionRewritingHook)
                        and not n.rsplit(".", 1)[-1].endswith("_test")})
    plugins = sorted(name for name, plugin in config.pluginmanager.list_name_plugin() if plugin is not None)
    tag = getattr(config, "workerinput", {}).get("workerid", "controller")
    Path(os.environ["PROBE_OUT"], tag + ".json").write_text(json.dumps({"rewritten": rewritten, "plugins": plugins}))
'''


def test_the_example_suite_loads_only_its_own_plugins_in_every_process(pytester, monkeypatch):
    """conftest_examples/pytest.ini disables plugin autoloading and names the four plugins it uses:
    no process (the controller, each xdist worker) loads another installed plugin (pytest-html,
    anyio, schemathesis of the dev extra) or assertion-rewrites a third-party package (all of
    hypothesis, when its plugin is autoloaded: start-up paid in every process, again where no
    bytecode is written). ``benchmarks/bench_plugin.py`` measures what that saves."""
    shutil.copytree(EXAMPLES, pytester.path / "conftest_examples", ignore=shutil.ignore_patterns("__pycache__"))
    (pytester.path / "plugins_probe.py").write_text(PLUGINS_PROBE)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    monkeypatch.setenv("PROBE_OUT", str(pytester.path))
    # one short case runs (every test module is collected, so each worker imports hypothesis); the
    # baseline's other cases are then listed as not run, which fails nothing
    res = pytester.runpytest_subprocess("conftest_examples", "-m", "stress", "-k", "survives_a_failing_exchange",
                                        "-p", "no:cacheprovider", "-p", "plugins_probe", "-n", "2")
    res.assert_outcomes(passed=1)
    seen = {tag: json.loads((pytester.path / f"{tag}.json").read_text()) for tag in ("controller", "gw0", "gw1")}
    for tag, probe in seen.items():
        assert {"stress", "xdist", "hypothesispytest", "timeout"} <= set(probe["plugins"]), tag
        assert not {"html", "metadata", "anyio", "schemathesis"} & set(probe["plugins"]), (tag, probe["plugins"])
        # the test files and conftest.py are rewritten, and xdist (pytest marks a plugin named by -p)
        third_party = {p for p in probe["rewritten"] if not p.startswith(("test_", "conftest", "plugins_probe"))}
        assert third_party <= {"xdist"}, (tag, probe["rewritten"])
    assert "test_properties" in seen["gw0"]["rewritten"]   # the workers collected (and rewrote) the tests
