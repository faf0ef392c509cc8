"""The unrelated ``pytest-stress`` distribution installed beside this one (issue 31, item 1).

Each session test puts a real dist-info directory (installed metadata, as pip writes it) in a
folder at the front of ``PYTHONPATH`` and runs pytest in a subprocess, where
``importlib.metadata`` finds it exactly as it would find an installed distribution.
"""
import importlib.metadata as md
import os

import pytest

from pytest_stress.plugin.conflicts import THIS, conflict_message, conflicting_distribution

#: The unrelated distribution's own METADATA (its first lines, as its 1.0.1 wheel has them).
UNRELATED = """Metadata-Version: 2.1
Name: pytest-stress
Version: 1.0.1
Summary: A Pytest plugin that allows you to loop tests for a user defined amount of time.
Home-page: https://pypi.org/project/pytest-stress
License: MIT
"""

#: This project under its former distribution name (an older editable install): not a conflict.
FORMER_NAME = """Metadata-Version: 2.1
Name: pytest-stress
Version: 0.1.0
"""


def _install_metadata(root, metadata, entry_points=None):
    """A folder holding one ``pytest_stress-<version>.dist-info`` directory; returns the folder."""
    version = next(line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Version: "))
    site = root / "site"
    info = site / f"pytest_stress-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(metadata)
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)
    return site


def _on_path(monkeypatch, site):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))


def test_the_unrelated_distribution_stops_pytest_with_one_line(pytester, monkeypatch):
    # Its entry point (pytest_stress.pytest_stress) is left out: its module is not installed here,
    # and pytest would fail importing it before our plugin had a say.
    site = _install_metadata(pytester.path, UNRELATED)
    _on_path(monkeypatch, site)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in res.errlines if line.strip()]
    assert errors == [
        f"ERROR: pytest-stress-trading cannot run beside the unrelated pytest-stress 1.0.1 (\"A Pytest plugin "
        f"that allows you to loop tests for a user defined amount of time\"), installed in {site}: both install "
        f"the package pytest_stress. Fix: pip uninstall pytest-stress && pip install --force-reinstall --no-deps "
        f"pytest-stress-trading"]
    assert "passed" not in res.stdout.str()


def test_this_project_under_its_former_name_is_not_a_conflict(pytester, monkeypatch):
    site = _install_metadata(pytester.path, FORMER_NAME, "[pytest11]\nstress = pytest_stress.plugin.hooks\n")
    _on_path(monkeypatch, site)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    assert "cannot run beside" not in res.stdout.str() + res.stderr.str()


def test_this_environment_has_no_conflict():
    """The test suite's own environment (this project installed under either name) passes the check."""
    assert conflicting_distribution() is None


def test_the_message_names_both_distributions_and_the_fix(tmp_path):
    site = _install_metadata(tmp_path, UNRELATED)
    msg = conflict_message(md.PathDistribution(site / "pytest_stress-1.0.1.dist-info"))
    assert "\n" not in msg
    assert msg.startswith(f"{THIS} cannot run beside the unrelated pytest-stress 1.0.1 ")
    assert msg.endswith("Fix: pip uninstall pytest-stress && "
                        "pip install --force-reinstall --no-deps pytest-stress-trading")
