"""Output paths checked before anything runs (``run --json/--report``, ``--stress-save``, ``--stress-report``).

A results file or report is written at the end of a run that may take minutes; a path that
cannot be written must fail at start-up, not after the work. A path is accepted when it is
not a directory, its folder exists and is a writable directory, and an existing file there is
writable. Missing folders are not created: a typo such as ``/nonexistent/r.json`` is an error,
not a new tree of folders.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import StressError

__all__ = ["check_output_path"]


def check_output_path(path: str | Path, what: str, example: str = "results.json") -> Path:
    """``path`` if a file can be written there; else a ``StressError`` naming ``what`` (the option),
    the path and what would be valid."""
    given = str(path)
    path = Path(path).expanduser()
    if not given.strip():
        raise StressError(f"{what}: the path is empty; give a file path such as {example!r}")
    if path.is_dir():
        raise StressError(f"{what} {given!r}: is a directory; give a file path such as {str(path / example)!r}")
    folder = path.parent
    shown = f"the folder {str(folder)!r}" if str(folder) != "." else "the current directory"
    if not folder.exists():
        raise StressError(f"{what} {given!r}: {shown} does not exist; create it first "
                          f"(mkdir -p {folder}) or give a path in an existing folder")
    if not folder.is_dir():
        raise StressError(f"{what} {given!r}: {str(folder)!r} is a file, not a folder; give a path in an "
                          "existing folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StressError(f"{what} {given!r}: {shown} is not writable by this user; "
                          "give a path in a writable folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise StressError(f"{what} {given!r}: the file exists and is not writable by this user; "
                          "give another path or make it writable")
    return path
