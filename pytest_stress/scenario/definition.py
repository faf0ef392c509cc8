"""``Scenario``: an immutable, validated description of one stress test."""
from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import ScenarioError, is_number, unknown_name_message
from ..market.data import MarketData, MarketViews, spare, timeframe_seconds
from ..market.sources import DataSource, data_shape, load_source, source_from_dict, source_to_dict
from ..market.synthetic import generate_market
from .faults import Faults
from .kinds import BASE_PARAMS, kind_of, params_for
from .types import ScenarioType

__all__ = ["Scenario", "DEFAULT_SEED", "derive_seed", "name_seed", "slug", "exact_slug"]

#: The seed of ``pytest-stress demo`` (every stress on one market). A ``Scenario`` given no
#: seed takes ``name_seed(name)`` instead, so two scenarios never share a base market by default.
DEFAULT_SEED = 20210519
_MAX_SEED = 2**63 - 1
#: The bar length of a synthetic market when the scenario names none.
SYNTHETIC_TIMEFRAME = "1h"
#: What to do with invalid data: raise with the report (None), drop bad rows, or fill them.
REPAIR_POLICIES = (None, "drop", "fill")
_STREAMS = ("market", "stress", "exchange", "faults", "adl", "funding")   # appended: earlier streams keep their keys


def derive_seed(seed: int, *path: int) -> int:
    """A deterministic child seed (for Monte Carlo paths): the same in every process, and
    short enough (32 bits) to paste into ``@stress(..., seed=...)``."""
    return int(np.random.SeedSequence([seed, *path]).generate_state(1, np.uint32)[0])


def _ascii_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def exact_slug(name: str) -> str:
    """An id that only ``name`` itself has: its ASCII letters and digits as in ``slug``, then the
    first 8 hex digits of the SHA-256 of the exact name (UTF-8): 'my crash' -> 'my-crash-6e951093',
    'My Crash' -> 'my-crash-9b3ddd81', '🙂' -> 'd06f1525' (the service files custom scenarios under it)."""
    base = _ascii_slug(name)
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{base}-{digest}" if base else digest


def slug(name: str) -> str:
    """A scenario's shell-friendly id: 'Pump & Dump Mania' -> 'pump-dump-mania'.

    A name with characters outside ASCII, or with no ASCII letter or digit ('!!!'), gets
    ``exact_slug(name)`` instead: what it has of
    ASCII letters and digits, then a hash of the whole name ('Crash ä' -> 'crash-HASH', '中文场景'
    -> 'HASH'). Dropping the other characters alone gave every such name the same id (all of
    '中文场景', 'Сценарий краха' and '🙂' were ''). An ASCII name's id is as it always was.
    """
    base = _ascii_slug(name)
    return base if name.isascii() and base else exact_slug(name)


def name_seed(name: str) -> int:
    """The seed of a scenario named ``name`` when none is given: the first 4 bytes (big-endian)
    of the SHA-256 of its ASCII id (what ``slug(name)`` is for an ASCII name; of the name itself
    when that is empty), so a 32-bit integer, the same in every process and on every platform
    (not ``hash()``). Names with the same id ('Pump & Dump Mania', 'pump-dump-mania') have the
    same seed. (Computed as before ``slug`` gave non-ASCII names a hash suffix: seeds unchanged.)"""
    key = _ascii_slug(name) or name
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big")


def _valid_seed(seed: Any, owner: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= _MAX_SEED:
        raise ScenarioError(f"{owner}: seed = {seed!r}; expected an integer in [0, 2**63 - 1]")
    return int(seed)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One stress test: what market, what stress, how long, which seed.

    ``parameters`` are checked against the type's parameter set (see ``params_for``);
    ``data`` replaces the synthetic base market with given data (a DataFrame per
    symbol, a CSV or Parquet path, or a historical source) and then ``bars`` is not used.
    ``timeframe`` None means: "1h" for a synthetic market, inferred from the data's bar
    spacing for given data (a timeframe that contradicts the data is an error).
    ``repair`` is what to do with invalid data: None (raise with the quality report),
    "drop" or "fill".

    ``repr`` is valid Python that rebuilds the scenario (given data shows as ``data=...``).
    """

    name: str
    type: ScenarioType | str = ScenarioType.SYNTHETIC
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    symbols: tuple[str, ...] = ("BTCUSDT",)
    bars: int = 1000
    timeframe: str | None = None
    seed: int | None = None
    initial_equity: float = 100_000.0
    description: str = ""
    data: DataSource | None = dataclasses.field(default=None, compare=False, repr=False)
    repair: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.name, str) or not self.name.strip():
            raise ScenarioError(f"Scenario: name = {self.name!r}; expected a non-empty string")
        try:
            stype = ScenarioType(self.type)
        except ValueError:
            raise ScenarioError(unknown_name_message("scenario type", str(self.type),
                                                     [t.value for t in ScenarioType])) from None
        set_(self, "type", stype)
        owner = f"Scenario {self.name!r} ({stype.value})"
        symbols = (self.symbols,) if isinstance(self.symbols, str) else tuple(self.symbols)
        if not symbols or len(set(symbols)) != len(symbols) or not all(isinstance(s, str) and s for s in symbols):
            raise ScenarioError(f"{owner}: symbols = {self.symbols!r}; expected distinct non-empty names")
        set_(self, "symbols", symbols)
        if isinstance(self.bars, bool) or not isinstance(self.bars, (int, np.integer)) or self.bars < 2:
            raise ScenarioError(f"{owner}: bars = {self.bars!r}; expected an integer >= 2")
        set_(self, "bars", int(self.bars))
        if self.timeframe is not None:
            try:
                timeframe_seconds(self.timeframe)
            except ScenarioError as exc:
                raise ScenarioError(f"{owner}: {exc}") from None
        if self.repair not in REPAIR_POLICIES:
            raise ScenarioError(f"{owner}: repair = {self.repair!r}; expected one of "
                                + ", ".join(map(repr, REPAIR_POLICIES)))
        set_(self, "seed", _valid_seed(name_seed(self.name) if self.seed is None else self.seed, owner))
        if not (is_number(self.initial_equity) and np.isfinite(self.initial_equity)    # True is not 1.0 of cash
                and self.initial_equity > 0):
            raise ScenarioError(f"{owner}: initial_equity = {self.initial_equity!r}; expected a number > 0")
        set_(self, "initial_equity", float(self.initial_equity))
        if self.parameters is None or not isinstance(self.parameters, Mapping):
            raise ScenarioError(f"{owner}: parameters = {self.parameters!r}; expected a mapping of name -> value "
                                f"(valid names: {', '.join(params_for(stype))})")
        params = params_for(stype).validate(dict(self.parameters), owner)
        alpha = params.get("garch_alpha", 0.05)
        beta = params.get("garch_beta", 0.90)
        if alpha + beta >= 1:
            raise ScenarioError(f"{owner}: garch_alpha + garch_beta = {alpha + beta:g}; expected < 1")
        kind = kind_of(stype)
        needed = kind.min_symbols(params)
        if len(symbols) < needed:
            raise ScenarioError(f"{owner}: needs at least {needed} symbols with these parameters, got {list(symbols)}")
        if self.data is None:
            kind.check_fits({k: v for k, v in params.items() if k not in BASE_PARAMS}, int(self.bars), owner)
        if kind.needs_data and self.data is None:
            raise ScenarioError(f"{owner}: {stype.value} needs data= (DataFrames, a CSV/Parquet path "
                                "or a historical source)")
        set_(self, "parameters", MappingProxyType(params))

    # -- derived ---------------------------------------------------------
    def replace(self, **changes: Any) -> "Scenario":
        """A validated copy with some fields changed (``parameters`` are merged, not replaced)."""
        if changes.keys() == {"seed"} and changes["seed"] is not None and type(self) is Scenario:
            # a new seed (a Monte Carlo path): the other fields are this scenario's, already
            # validated and canonical, so only the seed is checked (re-validating every parameter
            # cost a quarter of a short run)
            seed = _valid_seed(changes["seed"], f"Scenario {self.name!r} ({self.type.value})")
            copy = object.__new__(Scenario)
            copy.__dict__.update(self.__dict__)
            object.__setattr__(copy, "seed", seed)
            return copy
        if "parameters" in changes:
            changes["parameters"] = {**self.parameters, **changes["parameters"]}
        return dataclasses.replace(self, **changes)

    def own_parameters(self) -> dict[str, Any]:
        """The parameters of this scenario's kind, without the base market's."""
        return {k: v for k, v in self.parameters.items() if k not in BASE_PARAMS}

    @property
    def faults(self) -> Faults:
        """The faults this scenario injects (a failing model, a failing exchange)."""
        return kind_of(self.type).faults(self.own_parameters())

    def rng(self, stream: str) -> np.random.Generator:
        """The run's generator for one stream ('market', 'stress', 'exchange', 'faults', 'adl', 'funding').

        Streams are independent children of the seed, so the exchange's draws do not
        change when, say, the corruption draws more numbers.
        """
        # the child SeedSequence(seed).spawn(5)[i] would be, built alone (a run asks for four or five
        # streams: spawning all the children each time cost a fifth of the market's build)
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_STREAMS.index(stream),)))

    def base_market(self) -> MarketData:
        """The unstressed market: the data source, or a synthetic market from the seed."""
        if self.data is not None:
            return load_source(self.data, self.symbols, self.timeframe, self.repair)
        p = self.parameters
        return generate_market(
            self.symbols, self.bars, self.timeframe or SYNTHETIC_TIMEFRAME, self.rng("market"),
            annual_vol=p.get("base_vol"), annual_drift=p.get("base_drift", 0.0),
            garch_alpha=p.get("garch_alpha", 0.05), garch_beta=p.get("garch_beta", 0.90),
            correlation=p.get("base_correlation", 0.6) if len(self.symbols) > 1 else None)

    def build_market(self, base: MarketData | None = None, *, keep_base: bool = True) -> MarketViews:
        """The true market and the trader's feed of this scenario (on ``base`` if given).

        ``keep_base=False`` (a run, which never looks at the base): the stresses may write into
        the synthetic base market's memory instead of a second full-size array, and
        ``views.base`` is None. A given ``base`` or data source is never written into.
        """
        own = base is None and self.data is None
        base = self.base_market() if base is None else base
        kind = kind_of(self.type)
        kind.check_fits(self.own_parameters(), base.n_bars, f"Scenario {self.name!r} ({self.type.value})")
        if keep_base:
            return kind.build(self.own_parameters(), base, self.rng("stress"))
        if own:
            spare(base)
        views = kind.build(self.own_parameters(), base, self.rng("stress"))
        spare(base, False)      # when no stress wrote into it, it is the true market itself
        return dataclasses.replace(views, base=None)

    def __reduce__(self):
        # MappingProxyType does not pickle; rebuild from plain fields (processes, xdist, dask)
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["parameters"] = dict(self.parameters)
        return (_rebuild, (fields,))

    # -- JSON ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict; ``Scenario.from_dict`` restores an equal scenario."""
        out = {
            "name": self.name, "type": self.type.value,
            "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in self.parameters.items()},
            "symbols": list(self.symbols), "bars": self.bars, "timeframe": self.timeframe,
            "seed": self.seed, "initial_equity": self.initial_equity, "description": self.description,
        }
        if self.data is not None:
            out["data"] = source_to_dict(self.data)
        if self.repair is not None:
            out["repair"] = self.repair
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Scenario":
        d = dict(d)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ScenarioError(f"Scenario.from_dict: unknown keys {sorted(unknown)}")
        if d.get("data") is not None:
            d["data"] = source_from_dict(d["data"])
        d["symbols"] = tuple(d.get("symbols", ("BTCUSDT",)))
        return cls(**d)

    def __repr__(self) -> str:
        """Valid Python that rebuilds this scenario (given data shows as ``data=...``)."""
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.parameters.items()}
        parts = [repr(self.name), repr(self.type.value), repr(params), f"symbols={self.symbols!r}",
                 f"bars={self.bars}"]
        if self.timeframe is not None:
            parts.append(f"timeframe={self.timeframe!r}")
        parts.append(f"seed={self.seed}")
        if self.initial_equity != 100_000.0:
            parts.append(f"initial_equity={self.initial_equity!r}")
        if self.data is not None:
            parts.append("data=...")
        if self.repair is not None:
            parts.append(f"repair={self.repair!r}")
        return f"Scenario({', '.join(parts)})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How hypothesis (and IPython) print a scenario, such as a shrunk falsifying example: its
        ``repr``, one ``Scenario(...)`` line that pastes back and rebuilds it. Their pretty
        printers would otherwise list the dataclass's fields (``type=<ScenarioType.FLASH_CRASH:
        'flash_crash'>, parameters=mappingproxy({...})``), which is not Python."""
        printer.text(repr(self))

    @property
    def bar_timeframe(self) -> str | None:
        """The bar length: as given, "1h" for a synthetic market, None until given data is loaded."""
        return self.timeframe or (SYNTHETIC_TIMEFRAME if self.data is None else None)

    def length(self) -> tuple[int | None, str | None]:
        """``(bars, timeframe)`` of this scenario's market: ``bars`` and ``bar_timeframe`` for a
        synthetic market; for given data, its own count and timeframe (inferred when none is
        named) where they are known without loading it (a shipped event, DataFrames), else
        ``(None, timeframe)``: ``bars`` is not used over given data."""
        if self.data is None:
            return self.bars, self.bar_timeframe
        shape = data_shape(self.data, self.symbols, self.timeframe)
        return shape if shape is not None else (None, self.timeframe)

    def length_label(self) -> str:
        """``length`` in words, for listings: '1000 x 1h', '696 x 1h of its data', or what is unknown."""
        bars, timeframe = self.length()
        if self.data is None:
            return f"{bars} x {timeframe}"
        if bars is None:
            return f"its data's bars ({timeframe or 'timeframe from their spacing'})"
        return f"{bars} x {timeframe} of its data" + ("" if self.timeframe else " (inferred)")


def _rebuild(fields: dict[str, Any]) -> Scenario:
    return Scenario(**fields)
