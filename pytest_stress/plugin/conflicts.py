"""The unrelated ``pytest-stress`` distribution, installed beside this one, found at start-up.

This project is published as ``pytest-stress-trading``; the name ``pytest-stress`` on the
package index belongs to an unrelated 2019 plugin ("loop tests for a user defined amount of
time", version 1.0.1). Both install the import package ``pytest_stress``: whichever was
installed last owns ``pytest_stress/__init__.py`` (the unrelated one's is empty, so
``from pytest_stress import buy`` fails), and both register a pytest plugin. Nothing works
reliably with both installed, so the plugin refuses to start and says so in one line.

A distribution named ``pytest-stress`` whose pytest plugin is this project's own module is this
project under its former name (an older editable install) and is not a conflict.

Only the standard library and pytest are imported here: the check runs while the plugin module
loads, before anything that needs this project's ``pytest_stress/__init__.py``.
"""
from __future__ import annotations

import importlib.metadata as md

import pytest

#: The distribution this project is published as, and the unrelated one that shares its import package.
THIS = "pytest-stress-trading"
OTHER = "pytest-stress"
#: This project's pytest11 entry point (pyproject.toml); a ``pytest-stress`` distribution registering it is ours.
OWN_PLUGIN = "pytest_stress.plugin.hooks"


def _is_ours(dist: md.Distribution) -> bool:
    return any(ep.group == "pytest11" and ep.value.strip() == OWN_PLUGIN for ep in dist.entry_points)


def conflicting_distribution() -> md.Distribution | None:
    """The unrelated ``pytest-stress`` distribution if it is installed where this process looks
    (``sys.path``), else ``None``."""
    for dist in md.distributions(name=OTHER):
        if not _is_ours(dist):
            return dist
    return None


def conflict_message(dist: md.Distribution) -> str:
    """One line: both distributions, where the other one is, and the fix."""
    try:
        at = f" in {dist.locate_file('')}"     # the folder its dist-info directory is in (site-packages)
    except NotImplementedError:                # a Distribution that is not on a path
        at = ""
    summary = ((dist.metadata.get_all("Summary") or [""])[0] or "").strip().rstrip(".")
    about = f' ("{summary}")' if summary else ""
    return (f"{THIS} cannot run beside the unrelated {OTHER} {dist.version}{about}, installed{at}: both install "
            f"the package pytest_stress. Fix: pip uninstall {OTHER} && pip install --force-reinstall --no-deps {THIS}")


def refuse_conflicting_install() -> None:
    """Raise ``pytest.UsageError`` (pytest prints it as one ``ERROR:`` line, exit status 4) if the
    unrelated ``pytest-stress`` is installed beside this project."""
    dist = conflicting_distribution()
    if dist is not None:
        raise pytest.UsageError(conflict_message(dist))
