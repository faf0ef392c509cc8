"""Plain-text tables of results, shared by the batch runner, the command line and the pytest summary."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .metrics import Metric, summary_columns

__all__ = ["format_table"]


def _get(r: Any, key: str) -> Any:
    return r.get(key) if isinstance(r, Mapping) else getattr(r, key, None)


def format_table(results: Iterable[Any], *, label: str = "scenario_name", label_header: str = "scenario",
                 extra: Sequence[tuple[str, str]] = (), columns: Sequence[Metric] | None = None) -> str:
    """One row per result (a ScenarioResult or a dict of its fields), failures first, then worst max drawdown first.

    ``label`` is the key of the first column (headed ``label_header``); ``extra`` are
    ``(key, header)`` text columns after it; ``columns`` the metrics (default: the metric
    table's summary columns).
    """
    metrics = tuple(columns) if columns is not None else summary_columns()
    rows = sorted(results, key=lambda r: (bool(_get(r, "success")), -(_get(r, "max_drawdown") or 0.0)))
    head = [label_header, *[h for _, h in extra], *[m.header for m in metrics]]
    body = []
    failed = set()
    for r in rows:
        cells = [str(_get(r, label)), *[str(_get(r, k) or "") for k, _ in extra]]
        if not _get(r, "success"):
            err = (str(_get(r, "error") or "").splitlines() or [""])[0][:80]
            failed.add(len(body))
            body.append([*cells, "FAILED: " + err])
            continue
        body.append([*cells, *[m.format(_get(r, m.name)) for m in metrics]])
    widths = [max(len(row[i]) for j, row in enumerate([head, *body])
                  if i < len(row) and not (j - 1 in failed and i >= 1 + len(extra)))
              for i in range(len(head))]
    fixed = 1 + len(extra)
    lines = ["  ".join(h.ljust(w) if i < fixed else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    for j, row in enumerate(body):
        if j in failed:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row[:fixed], widths)) + "  " + row[fixed])
        else:
            lines.append("  ".join(c.ljust(w) if i < fixed else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)
