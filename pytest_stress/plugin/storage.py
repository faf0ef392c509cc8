"""Run files and baselines: one JSON file with a schema version, merged and written atomically.

Results are deterministic, so one committed baseline file serves every machine (no
per-machine folders).

The format (``schema_version`` 2; strict JSON, non-finite numbers as the strings "inf",
"-inf", "nan": ``result/jsonform.py``)::

    {
      "schema_version": 2,
      "pytest_stress_version": "0.1.0",
      "created": "2026-11-25T10:00:00+00:00",       # when the file was last written
      "options": {"exchange": "calm", ...},          # the options of the run that last wrote it
      "results": {                                   # one entry per test id, sorted
        "test_a.py::test_x[black-swan-combo]": {
          "scenario": "Black Swan Combo", "scenario_type": "mixed_custom", "seed": 1163482350,
          "success": true, "error": null, "outcome": "passed",
          "metrics": {"max_drawdown": 3.2, ...},     # every metric of result/metrics.py's table
          "options": {"exchange": "calm", "bars": null, "seed": null, ...},   # what it was made under
          "saved": "2026-11-25T10:00:00+00:00",      # when this entry was written
          # Monte Carlo cases also: "paths", "worst_seed", "metrics_p95" (metrics are medians)
          # per-test tolerances: "tolerance": {"max_drawdown": "5%"}
          # with --stress-save-detail: "detail": [run, ...], each run
          #   ScenarioResult.to_dict(curves=True, records=True) (equity and drawdown curves,
          #   timestamps, trades, executions); one run for a plain case; for Monte Carlo the
          #   worst path's run, with "fan" (percentile bands of equity per chart column,
          #   result.paths.fan_of) and "successful" (files written before: one run per path).
          #   ScenarioResult.from_dict reads a run back.
        }
      }
    }

``--stress-save`` merges: the cases of this run replace their entries, every other entry
stays (``--stress-save-fresh`` starts afresh). Each entry carries the options it was made
under, so a file merged from runs under different options still says which is which.

Version 1 files (no per-entry ``options``, ``saved`` or ``detail``; the file's ``options``
hold for every entry) are read as they are, and upgraded to version 2 when saved into.

Writing goes to a unique temporary file in the same directory (mode 0666 less the user's
umask, like any other file), then ``os.replace``: a full disk or any other failure leaves
the old file as it was and no temporary file behind. Sessions saving into one file at the
same time take turns: the read, merge and write hold an exclusive ``flock`` on a lock file
beside it (``.NAME.lock``, left in place: removing it would let a third session lock a new
file while a second waits on the old one), so no session's entries are lost; where there is
no ``fcntl`` (Windows) there is no lock. Every problem (unreadable, not
UTF-8, not JSON, another version, an entry or a metric of the wrong kind) is a
``StressError`` naming the file and the entry.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:   # Windows: saves are not locked (module docstring)
    fcntl = None   # type: ignore[assignment]

from .. import __version__
from ..atomic_write import write_text_atomically
from ..errors import StressError
from ..result.jsonform import decode_metrics

__all__ = ["SCHEMA_VERSION", "READABLE_VERSIONS", "save_results", "load_results", "merge_results"]

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def merge_results(old: Mapping[str, dict[str, Any]], new: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``old`` with every entry of ``new`` replacing its namesake, sorted by test id."""
    return dict(sorted({**old, **new}.items()))


def save_results(path: str | Path, results: Mapping[str, dict[str, Any]], options: dict[str, Any], *,
                 fresh: bool = False, what: str = "--stress-save") -> Path:
    """Write ``{test id: entry}`` into the file at ``path``, merged into what it holds unless ``fresh``.

    Each new entry gets the run's ``options`` (without the scenario selection) and the time.
    """
    path = Path(path)
    stamp = _now()
    conditions = {k: v for k, v in options.items() if k != "scenarios"}
    new = {test: {**entry, "options": conditions, "saved": stamp} for test, entry in results.items()}
    if path.is_dir():
        raise StressError(f"{what}: {str(path)!r} is a directory; "
                          f"give a file path such as {str(path / 'baseline.json')!r}")
    with _locked(path, what):   # another session saving into the same file waits here
        old: dict[str, dict[str, Any]] = {}
        if not fresh and path.exists():
            try:
                old = load_results(path, what=what)
            except StressError as exc:
                raise StressError(f"{exc}\n{what}: not merging into a file that cannot be read; fix or remove it, "
                                  "or start afresh with --stress-save-fresh") from None
        doc = {"schema_version": SCHEMA_VERSION, "pytest_stress_version": __version__, "created": stamp,
               "options": options, "results": merge_results(old, new)}
        _write_atomically(path, dumps_readable(doc) + "\n", what)
    return path


@contextlib.contextmanager
def _locked(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``.NAME.lock`` beside ``path`` (module docstring)."""
    if fcntl is None:
        yield
        return
    lock = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        # no file can be made in that directory (it is a file, or read-only): the write's own
        # temporary file cannot either, and that error names the file being saved (_write_atomically)
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # releases the lock


def dumps_readable(value: Any, level: int = 0) -> str:
    """JSON indented one space per level, as ``json.dumps(indent=1)``, except that a list of
    numbers, strings and nulls stays on one line (a case's values per path: one line a metric,
    not one line a path)."""
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(value, Mapping) and value:
        items = [f"{inner}{json.dumps(str(k))}: {dumps_readable(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
        return "[\n" + ",\n".join(inner + dumps_readable(v, level + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value)


def _write_atomically(path: Path, text: str, what: str) -> None:
    try:
        write_text_atomically(path, text, durable=True)
    except OSError as exc:
        reason = f"{type(exc).__name__}: {exc.strerror or exc}"
        raise StressError(f"{what}: could not write {str(path)!r} ({reason}); "
                          + ("the existing file is unchanged" if path.is_file() else "nothing was written")) from None


def load_results(path: str | Path, *, what: str = "--stress-compare") -> dict[str, dict[str, Any]]:
    """``{test id: entry}`` from a file written by ``--stress-save`` (version 1 or 2), every entry
    checked and given its ``options`` (a version-1 file's options hold for all its entries)."""
    path = Path(path)
    where = f"{what}: {str(path)!r}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StressError(f"{what}: no baseline at {str(path)!r}; create one with --stress-save={path}") from None
    except OSError as exc:
        raise StressError(f"{where} cannot be read ({type(exc).__name__}: {exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StressError(f"{where} is not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}); "
                          "a file written by --stress-save is UTF-8 JSON") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StressError(f"{where} is not JSON ({exc})") from None
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise StressError(f"{where} has schema_version {version!r}; this pytest-stress reads versions "
                          f"{', '.join(map(str, READABLE_VERSIONS))}. Re-create it with --stress-save.")
    results = doc.get("results")
    if not isinstance(results, dict):
        raise StressError(f"{where} has no 'results' mapping")
    file_options = doc.get("options") if isinstance(doc.get("options"), dict) else {}
    out: dict[str, dict[str, Any]] = {}
    for test, entry in results.items():
        at = f"{where}, entry {test!r}"
        if not isinstance(entry, dict):
            raise StressError(f"{at} is a {type(entry).__name__} ({_short(entry)}); expected a mapping with "
                              "'metrics'")
        _check_metrics(entry, at)
        options = entry.get("options", {k: v for k, v in file_options.items() if k != "scenarios"})
        if not isinstance(options, dict):
            raise StressError(f"{at}: 'options' is a {type(options).__name__}; expected a mapping")
        detail = entry.get("detail")
        if detail is not None and not (isinstance(detail, list) and all(isinstance(d, dict) for d in detail)):
            raise StressError(f"{at}: 'detail' is {_short(detail)}; expected a list of runs (mappings)")
        out[test] = {**entry, "options": options}
    return out


def _check_metrics(entry: dict[str, Any], at: str) -> None:
    """An entry's metrics as ``--stress-save`` writes them: present, not empty, each a number, a
    non-finite string or null (``decode_metrics``), and no JSON number out of range (``1e999``,
    which reads as inf: the file holds non-finite values as the strings "inf", "-inf", "nan")."""
    if "metrics" not in entry:
        raise StressError(f"{at} has no 'metrics'; every entry --stress-save writes has them. The file is damaged: "
                          "re-save this case (or remove the entry)")
    metrics = entry["metrics"]
    if isinstance(metrics, Mapping) and not metrics:
        raise StressError(f"{at} has empty 'metrics'; every entry --stress-save writes has them. The file is damaged: "
                          "re-save this case (or remove the entry)")
    decode_metrics(metrics, at)          # raises StressError naming the metric
    for name, raw in metrics.items():
        if isinstance(raw, float) and not math.isfinite(raw):
            raise StressError(f"{at}: metric {name!r} is the JSON number {raw!r} (a number out of range such as "
                              "1e999, or a NaN/Infinity token); --stress-save writes non-finite values as the strings "
                              "\"inf\", \"-inf\" and \"nan\". The file is damaged: re-save this case")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
