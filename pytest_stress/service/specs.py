"""What a request may ask for, checked: a library scenario or a custom one, with numbers and
preset names only (no code, no file paths), within the server's limits.

``resolve`` turns a request's fields into a ``Scenario`` plus the plain, JSON-able spec
that goes to a worker process and into the store; each problem is a ``SpecError`` naming
the field, the value and what would be valid, with the HTTP status it deserves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import library
from ..account.rules import account_from
from ..errors import StressError, UnknownScenarioError, unknown_name_message
from ..runner import exchange_config
from ..scenario.definition import Scenario
from ..scenario.kinds import kind_of
from ..scenario.types import ScenarioType
from .settings import Limits

__all__ = ["SpecError", "resolve", "build_scenario"]


@dataclass
class SpecError(Exception):
    """A request field that cannot be served: ``status`` 404 (unknown scenario), 413 (over a limit) or 422."""

    status: int
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


def build_scenario(spec: dict[str, Any]) -> Scenario:
    """The scenario of a resolved spec (called again in the worker process)."""
    if spec.get("library"):
        overrides = {k: spec[k] for k in ("bars", "seed") if spec.get(k) is not None}
        return library.get(spec["library"], **overrides)
    return Scenario(spec["name"], spec["type"], dict(spec.get("parameters") or {}),
                    symbols=tuple(spec["symbols"]), bars=spec["bars"], seed=spec["seed"])


def _over(field: str, value: int, limit: int, what: str) -> SpecError:
    return SpecError(413, field, f"{field} = {value}: over this server's limit of {limit} {what} "
                                 "(ask for less, or start the server with a higher limit)")


def resolve(fields: dict[str, Any], limits: Limits) -> tuple[Scenario, dict[str, Any]]:
    """``(scenario, spec)`` for a run request's fields (already type-checked by the API)."""
    name = fields.get("scenario_name")
    custom = fields.get("type") is not None
    if bool(name) == custom:
        raise SpecError(422, "scenario_name", "give either scenario_name (a library scenario: see GET "
                        "/scenarios/library) or a custom scenario (name, type, parameters, symbols, ...), not "
                        + ("both" if name else "neither"))
    spec: dict[str, Any] = {"paths": fields.get("paths") or 1, "exchange": fields.get("exchange") or "calm",
                            "account": fields.get("account")}
    try:
        exchange_config(spec["exchange"])
    except StressError as exc:
        raise SpecError(422, "exchange", f"exchange: {exc}") from None
    try:
        account_from(spec["account"])
    except StressError as exc:
        raise SpecError(422, "account", f"account: {exc}") from None
    if name:
        spec.update(library=name, bars=fields.get("bars"), seed=fields.get("seed"))
        try:
            library.get(name)
        except UnknownScenarioError as exc:
            raise SpecError(404, "scenario_name", str(exc)) from None
    else:
        try:
            kind = kind_of(fields["type"])
        except (StressError, ValueError):
            raise SpecError(422, "type", "type: " + unknown_name_message(
                "scenario type", str(fields["type"]), [t.value for t in ScenarioType])) from None
        if kind.needs_data:
            raise SpecError(422, "type", f"type = {fields['type']!r} replays given data, which a request cannot "
                            "name (no file paths); use a synthetic scenario type")
        spec.update(library=None, name=fields.get("name") or str(fields["type"]), type=kind.type.value,
                    parameters=dict(fields.get("parameters") or {}), symbols=list(fields.get("symbols") or ["BTCUSDT"]),
                    bars=fields.get("bars") or 1000, seed=fields.get("seed"))   # None: from the name
        if len(spec["symbols"]) > limits.max_symbols:
            raise _over("symbols", len(spec["symbols"]), limits.max_symbols, "symbols")
    if spec["bars"] is not None and spec["bars"] > limits.max_bars:
        raise _over("bars", spec["bars"], limits.max_bars, "bars")
    if spec["paths"] > limits.max_paths:
        raise _over("paths", spec["paths"], limits.max_paths, "paths")
    try:
        scenario = build_scenario(spec)
    except (StressError, ValueError, TypeError) as exc:
        text = str(exc).lower()
        field = ("bars" if "does not fit" in text or "bars =" in text else "parameters" if "param" in text
                 else "symbols" if "symbol" in text else "scenario")
        raise SpecError(422, field, f"{field}: {exc}") from None
    if scenario.bars > limits.max_bars:
        raise _over("bars", scenario.bars, limits.max_bars, "bars")
    if len(scenario.symbols) > limits.max_symbols:
        raise _over("symbols", len(scenario.symbols), limits.max_symbols, "symbols")
    if scenario.bars * len(scenario.symbols) * spec["paths"] > limits.max_work:
        raise SpecError(413, "bars", f"bars x symbols x paths = {scenario.bars} x {len(scenario.symbols)} x "
                        f"{spec['paths']}: over this server's limit of {limits.max_work} bar-symbols per run")
    return scenario, spec
