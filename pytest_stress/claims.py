"""Claims about a run written as data: ``liquidations == 0``, ``max_drawdown < 25``.

Where there is no test body to assert in (the command line's ``--check``, a service request),
a claim is a metric, a comparison and a number; a run holds it when its metric compares so.
One parser and one evaluator for every such place.
"""
from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ScenarioError, close_matches
from .result.metrics import METRIC_FIELDS

__all__ = ["Claim", "parse_claim", "claim_from_dict", "claims_from_request", "Claims", "OPERATORS", "MAX_CLAUSES"]

#: At most this many claims in one request.
MAX_CLAUSES = 10
_EXAMPLE = '{"metric": "liquidations", "op": "<=", "value": 0}'

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt}
_TEXT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Claim:
    """``metric op value``: holds on a run whose metric compares so (a None metric never holds)."""

    metric: str
    op: str
    value: float

    def __post_init__(self) -> None:
        if self.metric not in METRIC_FIELDS:
            hints = close_matches(self.metric, METRIC_FIELDS)
            raise ScenarioError(f"claim: unknown metric {self.metric!r}" + (f"; did you mean {hints[0]!r}?" if hints
                                                                              else "")
                                + " (pytest-stress metrics lists them)")
        if self.op not in OPERATORS:
            raise ScenarioError(f"claim: operator {self.op!r}; expected one of {', '.join(OPERATORS)}")
        v = self.value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ScenarioError(f"claim {self.metric} {self.op} {v!r}: expected a finite number to compare with")
        object.__setattr__(self, "value", float(v))

    def holds(self, result: Any) -> bool:
        """Whether ``result``'s metric compares so; a None or NaN metric never holds (it cannot be
        shown to)."""
        got = getattr(result, self.metric)
        return got is not None and not math.isnan(float(got)) and bool(OPERATORS[self.op](float(got), self.value))

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "op": self.op, "value": self.value}


def parse_claim(text: str) -> Claim:
    """``"liquidations == 0"`` -> ``Claim("liquidations", "==", 0.0)``; raises naming what is valid."""
    m = _TEXT.match(text) if isinstance(text, str) else None
    if m is None:
        raise ScenarioError(f"claim {text!r}: expected METRIC OP NUMBER, such as 'liquidations == 0' or "
                            "'max_drawdown < 25' (OP one of " + ", ".join(OPERATORS) + ")")
    try:
        value = float(m.group(3))
    except ValueError:
        raise ScenarioError(f"claim {text!r}: {m.group(3)!r} is not a number") from None
    return Claim(m.group(1), m.group(2), value)


def claim_from_dict(d: Mapping[str, Any]) -> Claim:
    """A claim from ``{"metric": ..., "op": ..., "value": ...}`` (a service request)."""
    if not isinstance(d, Mapping) or set(d) != {"metric", "op", "value"}:
        raise ScenarioError(f"claim {d!r}: expected an object with exactly the keys metric, op and value, such as "
                            f"{_EXAMPLE}")
    return Claim(d["metric"], d["op"], d["value"])


def claims_from_request(raw: Any) -> "Claims":
    """A request's ``check``: one ``{metric, op, value}`` object or a list of up to ``MAX_CLAUSES``;
    raises naming the clause (``check[i]``), the value and what is valid."""
    clauses = raw if isinstance(raw, list) else [raw]
    if not clauses:
        raise ScenarioError(f"check = []: expected a clause such as {_EXAMPLE}, or a list of up to {MAX_CLAUSES}")
    if len(clauses) > MAX_CLAUSES:
        raise ScenarioError(f"check has {len(clauses)} clauses: at most {MAX_CLAUSES}")
    out = []
    for i, c in enumerate(clauses):
        try:
            out.append(claim_from_dict(c))
        except ScenarioError as exc:
            raise ScenarioError(f"{f'check[{i}]' if isinstance(raw, list) else 'check'}: {exc}") from None
    return Claims(out)


class Claims:
    """Every claim must hold; a check for ``find_breaking_point`` (``check(result)`` -> bool) that
    pickles (for an executor) and says which claim failed."""

    def __init__(self, claims: Sequence[Claim]) -> None:
        if not claims:
            raise ScenarioError("no claim given: at least one METRIC OP NUMBER, such as 'liquidations == 0'")
        self.claims = tuple(claims)

    def __call__(self, result: Any) -> bool:
        for claim in self.claims:
            if not claim.holds(result):
                raise AssertionError(f"{claim} does not hold: {claim.metric} = {getattr(result, claim.metric)!r}")
        return True

    def __str__(self) -> str:
        return " and ".join(map(str, self.claims))

    def __repr__(self) -> str:
        return f"Claims({self})"

    def as_list(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.claims]
