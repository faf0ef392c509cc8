"""What a breaking-point run asserts, declared in its request: clauses such as
``{"metric": "liquidations", "op": "<=", "value": 0}`` over the metrics of a path's run
(``result.metrics.METRIC_FIELDS``), every one of which must hold on a path.

The service runs no code a request names, so a claim is data: a metric, a comparison and a
number. ``parse_checks`` checks a request's clauses (``ValueError`` naming the clause, the
value and what is valid); ``MetricCheck`` is the check a breaking-point search calls on each
path's ``ScenarioResult`` (a class, so that it pickles).
"""
from __future__ import annotations

import math
import operator
from typing import Any

from ..errors import unknown_name_message
from ..result.metrics import METRIC_FIELDS

__all__ = ["OPS", "MAX_CLAUSES", "parse_checks", "MetricCheck", "describe_checks"]

#: The comparisons a clause may make: the metric on the left, the clause's value on the right.
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
       "!=": operator.ne}
#: At most this many clauses in one check.
MAX_CLAUSES = 10
_EXAMPLE = '{"metric": "liquidations", "op": "<=", "value": 0}'


def parse_checks(raw: Any) -> list[dict[str, Any]]:
    """A request's ``check`` (one clause or a list of them) as a list of ``{metric, op, value}``;
    raises ``ValueError`` naming what is wrong and what would be valid."""
    clauses = raw if isinstance(raw, list) else [raw]
    if not clauses:
        raise ValueError(f"check = []: expected a clause such as {_EXAMPLE}, or a list of up to {MAX_CLAUSES}")
    if len(clauses) > MAX_CLAUSES:
        raise ValueError(f"check has {len(clauses)} clauses: at most {MAX_CLAUSES}")
    out = []
    for i, c in enumerate(clauses):
        where = f"check[{i}]" if isinstance(raw, list) else "check"
        if not isinstance(c, dict) or set(c) != {"metric", "op", "value"}:
            raise ValueError(f"{where} = {c!r}: expected an object with metric, op and value, such as {_EXAMPLE}")
        metric, op, value = c["metric"], c["op"], c["value"]
        if metric not in METRIC_FIELDS:
            raise ValueError(f"{where}: " + unknown_name_message("metric", str(metric), METRIC_FIELDS))
        if op not in OPS:
            raise ValueError(f"{where}: op = {op!r}; expected one of {', '.join(repr(o) for o in OPS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where}: value = {value!r}; expected a finite number")
        out.append({"metric": metric, "op": op, "value": value})
    return out


def describe_checks(clauses: list[dict[str, Any]]) -> str:
    """'liquidations <= 0 and max_drawdown < 50'."""
    return " and ".join(f"{c['metric']} {c['op']} {c['value']:g}" for c in clauses)


class MetricCheck:
    """``check(result)``: True when every clause holds on the run; else ``AssertionError`` naming
    the first that does not. A metric that is None or NaN on the run fails its clause (it cannot
    be shown to hold)."""

    def __init__(self, clauses: list[dict[str, Any]]) -> None:
        self.clauses = parse_checks(clauses)

    def __call__(self, result: Any) -> bool:
        for c in self.clauses:
            x = getattr(result, c["metric"])
            if x is None or (isinstance(x, float) and math.isnan(x)) or not OPS[c["op"]](x, c["value"]):
                raise AssertionError(f"{c['metric']} = {x!r}; the check wants {c['op']} {c['value']:g}")
        return True

    def __repr__(self) -> str:
        return f"MetricCheck({describe_checks(self.clauses)})"
