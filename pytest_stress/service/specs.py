"""What a request may ask for, checked: a library scenario or a custom one, with numbers and
preset names only (no code, no file paths), within the server's limits; optionally a
breaking-point search of it (``breaking_point``, ``search_range``, ``precision``, ``max_runs``
and a declarative ``check``, ``checks.py``).

``resolve`` turns a request's fields into a ``Scenario`` plus the plain, JSON-able spec
that goes to a worker process and into the store; each problem is a ``SpecError`` naming
the field, the value and what would be valid, with the HTTP status it deserves.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import library
from ..account.rules import account_from
from ..errors import StressError, UnknownScenarioError, unknown_name_message
from ..runner import exchange_config
from ..scenario.definition import Scenario, exact_slug
from ..scenario.kinds import kind_of
from ..scenario.types import ScenarioType
from ..severity import at_severity, resolve_parameter
from ..verdict import DEFAULT_RULE
from ..claims import claims_from_request
from .settings import Limits

__all__ = ["SpecError", "resolve", "build_scenario", "planned_bars", "search_paths", "SEARCH_FIELDS", "CUSTOM",
           "custom_id", "scenario_id", "run_settings", "settings_of", "differences"]

#: The prefix of a custom scenario's id: library ids are ``[a-z0-9-]`` only, so no custom
#: scenario's id is ever a library scenario's (issue 30: a custom run named "BTC Flash Crash 2021"
#: was filed as the library scenario's latest run).
CUSTOM = "custom."

#: The fields that shape a breaking-point search (each needs ``breaking_point``).
SEARCH_FIELDS = ("search_range", "precision", "max_runs", "check")


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


def custom_id(name: str) -> str:
    """The id runs of the custom scenario ``name`` are filed under: ``custom.`` and an id that only
    this exact name has ('my crash' -> 'custom.my-crash-6e951093', '🙂' -> 'custom.d06f1525')."""
    return CUSTOM + exact_slug(name)


def scenario_id(spec: dict[str, Any], scenario: Scenario) -> str:
    """The id a resolved run is filed under: a library scenario's own id, or ``custom_id``."""
    return library.slug(scenario.name) if spec.get("library") else custom_id(scenario.name)


#: What two runs must share to be compared: the scenario's definition (its name and description
#: aside), paths, exchange, account and the trader. The trader's version is recorded and shown,
#: not required to match: a new version of the trader is what a regression check is for.
COMPARED = ("scenario", "paths", "exchange", "account", "trader")


def run_settings(scenario: Scenario, spec: dict[str, Any], trader: str | None,
                 trader_version: str | None) -> dict[str, Any]:
    """The settings a run is made under (stored with it, so that a later change of a library
    scenario's definition does not make old runs look comparable)."""
    definition = {k: v for k, v in scenario.to_dict().items() if k not in ("name", "description")}
    return {"scenario": definition, "paths": int(spec.get("paths") or 1), "exchange": spec.get("exchange") or "calm",
            "account": spec.get("account"), "trader": trader, "trader_version": trader_version}


def settings_of(spec: dict[str, Any]) -> dict[str, Any]:
    """A stored run's settings: as recorded, or (a run stored before they were) rebuilt from its
    request with today's library and no trader (so it compares with no run that names one)."""
    if spec.get("settings"):
        return spec["settings"]
    try:
        scenario = build_scenario(spec)
    except (StressError, ValueError, TypeError, KeyError):
        return {"scenario": None, "paths": spec.get("paths"), "exchange": spec.get("exchange"),
                "account": spec.get("account"), "trader": None, "trader_version": None}
    return run_settings(scenario, spec, None, None)


def differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    """What differs between two runs' settings, ``{field: [a's, b's]}`` (a scenario's fields by
    their own names: ``bars``, ``seed``, ``parameters.drop_pct``, ...); empty: comparable."""
    out: dict[str, list[Any]] = {}
    for key in COMPARED:
        x, y = a.get(key), b.get(key)
        if key == "scenario" and isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                if k == "parameters" and isinstance(x.get(k), dict) and isinstance(y.get(k), dict):
                    for pk in sorted(set(x[k]) | set(y[k])):
                        if x[k].get(pk) != y[k].get(pk):
                            out[f"parameters.{pk}"] = [x[k].get(pk), y[k].get(pk)]
                elif x.get(k) != y.get(k):
                    out[k] = [x.get(k), y.get(k)]
        elif x != y:
            out[key] = [x, y]
    return out


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
    exchange = fields.get("exchange")   # "" is not a preset (422), not the default
    spec: dict[str, Any] = {"paths": fields.get("paths") or 1, "exchange": "calm" if exchange is None else exchange,
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
        for key, value in (fields.get("parameters") or {}).items():
            if isinstance(value, float) and not math.isfinite(value):
                raise SpecError(422, "parameters", f"parameters: {key} = {value!r}; expected a finite number "
                                "(JSON's NaN, Infinity and numbers too large for a float, such as 1e400, are not)")
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
    except (StressError, ValueError, TypeError, OverflowError) as exc:
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
    if fields.get("breaking_point") not in (None, False):
        spec["breaking_point"] = _search(fields, scenario, spec, limits)
    else:
        given = [k for k in SEARCH_FIELDS if fields.get(k) is not None]
        if given:
            raise SpecError(422, given[0], f"{given[0]} shapes a breaking-point search; add breaking_point (true to "
                            "search the severity, or the name of a parameter to search along)")
    return scenario, spec


def search_paths(max_runs: int) -> int:
    """The paths a search with budget ``max_runs`` may run at most: it starts no level once the budget
    is spent, but the level it is in finishes (up to the verdict's ``max_paths``), and then the run
    shown with it (one more path)."""
    return max_runs + DEFAULT_RULE.max_paths + 1


def planned_bars(scenario: Scenario, spec: dict[str, Any]) -> int:
    """The bars a run goes through at most: its paths x bars (a search's: ``search_paths``)."""
    search = spec.get("breaking_point")
    return scenario.bars * (search_paths(search["max_runs"]) if search else spec["paths"])


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(422, field, f"{field} = {value!r}; expected a finite number")
    return float(value)


def _search(fields: dict[str, Any], scenario: Scenario, spec: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """The breaking-point search a request asks for, checked (the plain JSON the worker runs)."""
    bp = fields["breaking_point"]
    if spec["paths"] > 1:
        raise SpecError(422, "paths", f"paths = {spec['paths']}: a breaking-point search decides each level over as "
                        "many of the scenario's paths as its verdict needs; leave paths out")
    parameter = None
    try:
        if isinstance(bp, str):
            parameter = resolve_parameter(scenario, bp)
        else:
            at_severity(scenario, 1.0)   # raises for a scenario with no stress to scale
    except StressError as exc:
        raise SpecError(422, "breaking_point", f"breaking_point: {exc}") from None
    if fields.get("check") is None:
        raise SpecError(422, "check", "breaking_point needs a check: what must hold on each path, such as "
                        '{"metric": "liquidations", "op": "<=", "value": 0} (or a list of such clauses, all of '
                        "which must hold)")
    try:
        check = claims_from_request(fields["check"])
    except ValueError as exc:
        raise SpecError(422, "check", str(exc)) from None
    low = high = None
    if fields.get("search_range") is not None:
        rng = fields["search_range"]
        if not isinstance(rng, (list, tuple)) or len(rng) != 2:
            raise SpecError(422, "search_range", f"search_range = {rng!r}; expected [low, high]: the mildest and the "
                            "harshest level to search")
        low, high = (_number("search_range", v) for v in rng)
        if low == high:
            raise SpecError(422, "search_range", f"search_range = [{low:g}, {high:g}]; expected a range, low != high")
        if parameter is None and not 0 <= low < high:
            raise SpecError(422, "search_range", f"search_range = [{low:g}, {high:g}]; a severity range is "
                            "0 <= low < high (0: the calm market, 1: the scenario as defined)")
    precision = None
    if fields.get("precision") is not None:
        precision = _number("precision", fields["precision"])
        if not precision > 0:
            raise SpecError(422, "precision", f"precision = {precision:g}; expected a number > 0 (the bracket's "
                            "width at most)")
    work = scenario.bars * len(scenario.symbols)
    fits = limits.max_work // work - search_paths(0)    # the largest budget whose worst case fits the limit
    max_runs = fields.get("max_runs")
    if max_runs is not None and max_runs > limits.max_search_paths:
        raise _over("max_runs", max_runs, limits.max_search_paths, "paths per breaking-point search")
    if max_runs is None and fits >= 1:
        max_runs = min(limits.max_search_paths, fits)
    elif max_runs is None or max_runs > fits:
        runs = max_runs or 1
        raise SpecError(413, "max_runs" if fields.get("max_runs") else "bars",
                        f"bars x symbols x paths = {scenario.bars} x {len(scenario.symbols)} x {search_paths(runs)} "
                        f"(a search with max_runs = {runs} runs up to {search_paths(runs)} paths): over this "
                        f"server's limit of {limits.max_work} bar-symbols per run")
    return {"parameter": parameter, "low": low, "high": high, "precision": precision, "max_runs": int(max_runs),
            "check": check.as_list(), "describe": str(check)}
