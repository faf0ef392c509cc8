"""``Account``: which account a run trades in, and its rules. One immutable value per run.

Three kinds (see docs/accounts.md for every default and its source):

- ``Account.cash()``: spot without borrowing. A buy is reduced to what the cash pays for
  (price and fee as filled); a sell beyond the held quantity is rejected (no shorting).
- ``Account.margin(...)``: a margin account. Orders that would take gross exposure past
  ``max_leverage`` times equity are rejected (``insufficient_margin``); borrowed cash and
  borrowed units pay interest in calendar time; below the maintenance requirement the
  account is margin-called and its positions are closed by forced taker orders.
  ``Account.reg_t()`` is the US equities preset (Reg T 50% initial, FINRA 4210 25% maintenance).
- ``Account.perpetual(...)``: USDⓈ-M-style linear perpetuals: initial margin notional /
  leverage, tiered maintenance, the venue's liquidation price, isolated or cross
  margin, an insurance fund, funding every 8 hours of calendar time.

The default account (``DEFAULT_ACCOUNT``) is a 1x margin account: no borrowing beyond
equity, shorts allowed up to equity; an insolvent account is impossible by construction.
"""
from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


from ..errors import ScenarioError, is_number, unknown_name_message
from .funding import FundingModel
from .tiers import TierTable

__all__ = ["Account", "DEFAULT_ACCOUNT", "ACCOUNT_PRESETS", "account_from"]

KINDS = ("cash", "margin", "perpetual")
MODES = ("isolated", "cross")
CHECKS = ("extremes", "close")

@dataclass(frozen=True)
class Account:
    """The rules of the account a run trades in. Build it with ``Account.cash()``,
    ``Account.margin(...)``, ``Account.reg_t()`` or ``Account.perpetual(...)``."""

    kind: str = "margin"
    #: margin: gross exposure / equity allowed when opening; perpetual: the leverage of new positions
    max_leverage: float = 1.0
    #: margin: maintenance requirement as a share of gross exposure
    maintenance_margin: float = 0.25
    #: margin: yearly rate on borrowed cash (calendar time, 365-day year)
    borrow_rate: float = 0.0
    #: margin: yearly rate on the value of borrowed units (shorts)
    short_borrow_rate: float = 0.0
    #: perpetual: "isolated" (each position risks its own margin) or "cross" (the whole wallet)
    mode: str = "isolated"
    #: perpetual: tier tables by symbol (None: the shipped Binance USDⓈ-M tables)
    tiers: Mapping[str, TierTable] | None = field(default=None, compare=False)
    #: perpetual: None (no funding), a constant rate per interval, "model" (Binance's formula with
    #: each symbol's fitted premium model, ``funding.FUNDING_MODELS``), a ``FundingModel`` (that
    #: model for every symbol), or a pandas Series of rates indexed by UTC time (paid as given)
    funding: Any = "model"
    funding_interval_hours: float = 8.0
    #: fee on the notional of a liquidation (or a margin call's forced close)
    liquidation_fee: float = 0.015
    #: "extremes": a long is liquidated when the bar's low reaches its liquidation price, a
    #: short when the high does (pessimistic, intrabar); "close": only the close counts
    check: str = "extremes"
    #: perpetual: auto-deleveraging when the modelled insurance fund runs dry (docs/accounts.md);
    #: None: on for perpetual accounts, off for the others
    adl: bool | None = None
    #: perpetual: the modelled insurance fund at the start, as a share of one side's open interest
    insurance_fund: float = 0.03

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ScenarioError(unknown_name_message("account kind", str(self.kind), KINDS))
        if self.mode not in MODES:
            raise ScenarioError(f"Account: mode = {self.mode!r}; expected 'isolated' or 'cross'")
        if self.check not in CHECKS:
            raise ScenarioError(f"Account: check = {self.check!r}; expected 'extremes' or 'close'")
        numbers = {"max_leverage": (1.0, 1000.0), "maintenance_margin": (0.0, 1.0), "borrow_rate": (0.0, 10.0),
                   "short_borrow_rate": (0.0, 10.0), "funding_interval_hours": (0.25, 24.0 * 7),
                   "liquidation_fee": (0.0, 0.5)}
        for name, (lo, hi) in numbers.items():
            v = getattr(self, name)
            if not is_number(v) or not (lo <= v <= hi) or math.isnan(v):
                raise ScenarioError(f"Account: {name} = {v!r}; expected a number in [{lo:g}, {hi:g}]")
            object.__setattr__(self, name, float(v))    # numpy's numbers too, stored as floats
        if self.kind == "cash":
            # a cash account neither borrows nor pays funding: a leverage or a rate given to it would be ignored
            ignored = {k: getattr(self, k) for k in ("max_leverage", "borrow_rate", "short_borrow_rate")
                       if getattr(self, k) != _CASH_FIELDS[k]}
            if self.funding is not None:
                ignored["funding"] = self.funding
            if ignored:
                k, v = next(iter(ignored.items()))
                raise ScenarioError(f"Account.cash: {k} = {v!r} does not apply to a cash account (no borrowing, no "
                                    "shorting, no funding); use Account.margin(max_leverage=...) or "
                                    "Account.perpetual(...) for leverage")
        self._check_adl()
        self._check_tiers()
        if self.kind == "perpetual":
            self._check_leverage_against_tiers()
        if self.kind == "margin" and self.maintenance_margin >= 1.0 / self.max_leverage:
            raise ScenarioError(f"Account.margin: maintenance_margin = {self.maintenance_margin:g} must be below the "
                                f"initial margin 1 / max_leverage = {1.0 / self.max_leverage:g}")
        f = self.funding
        if not (f is None or (isinstance(f, str) and f == "model") or isinstance(f, FundingModel)
                or (is_number(f) and math.isfinite(f) and abs(f) < 0.1)
                or _is_series(f)):      # a str has an .index method too: 'modle' is refused here
            raise ScenarioError(f"Account: funding = {f!r}; expected None, 'model', a rate per interval in "
                                "(-0.1, 0.1), a FundingModel, or a pandas Series of rates indexed by time")
        if is_number(f):
            object.__setattr__(self, "funding", float(f))      # np.float32(0.0001) too
        elif _is_series(f):
            _check_funding_series(f)

    def _check_adl(self) -> None:
        """``adl``: None (on for perpetuals), a bool (0/1 and 'true'/'false' from a preset string too),
        True on perpetuals only; ``insurance_fund``: a share of open interest in (0, 1]."""
        a = self.adl
        if a is None:
            a = self.kind == "perpetual"
        elif isinstance(a, str) and a.strip().lower() in ("true", "false"):
            a = a.strip().lower() == "true"
        elif is_number(a) and not isinstance(a, bool) and a in (0, 1):
            a = bool(a)
        if not isinstance(a, bool):
            raise ScenarioError(f"Account: adl = {self.adl!r}; expected True or False")
        object.__setattr__(self, "adl", a)
        if a and self.kind != "perpetual":
            raise ScenarioError(f"Account.{self.kind}: adl = True applies to perpetual accounts only "
                                "(auto-deleveraging closes profitable perpetual positions); use Account.perpetual(...)")
        f = self.insurance_fund
        if not is_number(f) or isinstance(f, bool) or not (0.0 < f <= 1.0):
            raise ScenarioError(f"Account: insurance_fund = {f!r}; expected a share of open interest in (0, 1], "
                                "e.g. 0.03 (3%)")
        object.__setattr__(self, "insurance_fund", float(f))

    def _check_tiers(self) -> None:
        """``tiers``: None or a mapping of symbol -> ``TierTable`` (``account.tiers``)."""
        t = self.tiers
        if t is None:
            return
        if not isinstance(t, Mapping) or not t:
            raise ScenarioError(f"Account: tiers = {t!r}; expected None (the shipped Binance tables) or a non-empty "
                                "mapping of symbol -> TierTable, e.g. {'BTCUSDT': TierTable([(0, 0.004, 125)])}")
        for symbol, table in t.items():
            if not isinstance(symbol, str) or not isinstance(table, TierTable):
                raise ScenarioError(f"Account: tiers[{symbol!r}] = {table!r}; expected a TierTable, e.g. "
                                    "TierTable([(0, 0.004, 125), (50_000, 0.005, 100)]) (notional floor, "
                                    "maintenance rate, max leverage)")

    def _check_leverage_against_tiers(self) -> None:
        """A perpetual's leverage is at most what its tier tables allow in their first bracket (the
        shipped Binance tables: 125x BTCUSDT and ETHUSDT, 100x SOLUSDT): above it every order would
        be refused (``insufficient_margin``) and a test would pass with no trade at all."""
        from .tiers import BINANCE_USDM_TIERS   # the shipped tables, when the account has none of its own

        tables = dict(self.tiers) if self.tiers else BINANCE_USDM_TIERS
        tops = {symbol: table.tiers[0].max_leverage for symbol, table in tables.items()}
        if tops and self.max_leverage > max(tops.values()):
            listed = ", ".join(f"{symbol} {top:g}x" for symbol, top in tops.items())
            raise ScenarioError(f"Account.perpetual: leverage = {self.max_leverage:g}; expected at most "
                                f"{max(tops.values()):g} (the tier tables' highest: {listed}); above a bracket's "
                                "maximum leverage every order is refused")

    # -- constructors ----------------------------------------------------------
    @classmethod
    def cash(cls) -> "Account":
        """Spot without borrowing: buys limited to cash, no short selling."""
        return cls(kind="cash", funding=None, liquidation_fee=0.0)

    @classmethod
    def margin(cls, max_leverage: float = 1.0, maintenance_margin: float = 0.25, borrow_rate: float = 0.0,
               short_borrow_rate: float = 0.0, *, liquidation_fee: float = 0.0, check: str = "extremes") -> "Account":
        """A margin account: gross exposure up to ``max_leverage`` x equity when opening,
        margin call below ``maintenance_margin`` x gross exposure, yearly interest on what is borrowed."""
        return cls(kind="margin", max_leverage=max_leverage, maintenance_margin=maintenance_margin,
                   borrow_rate=borrow_rate, short_borrow_rate=short_borrow_rate, funding=None,
                   liquidation_fee=liquidation_fee, check=check)

    @classmethod
    def reg_t(cls, borrow_rate: float = 0.06, short_borrow_rate: float = 0.005) -> "Account":
        """US equities: Reg T 50% initial margin (2x), FINRA Rule 4210 25% maintenance;
        default rates are illustrative broker figures (set your own)."""
        return cls.margin(max_leverage=2.0, maintenance_margin=0.25, borrow_rate=borrow_rate,
                          short_borrow_rate=short_borrow_rate)

    @classmethod
    def perpetual(cls, leverage: float = 5.0, mode: str = "isolated", tiers: Mapping[str, TierTable] | None = None,
                  funding: Any = "model", *, funding_interval_hours: float = 8.0, liquidation_fee: float = 0.015,
                  check: str = "extremes", adl: bool = True, insurance_fund: float = 0.03) -> "Account":
        """Linear (USDⓈ-M) perpetuals at ``leverage``, ``mode`` isolated or cross, tiered maintenance;
        ``adl``: auto-deleveraging when the modelled insurance fund (``insurance_fund`` of one side's
        open interest at the start) runs dry (docs/accounts.md, "Auto-deleveraging")."""
        return cls(kind="perpetual", max_leverage=leverage, mode=mode, tiers=tiers, funding=funding,
                   funding_interval_hours=funding_interval_hours, liquidation_fee=liquidation_fee, check=check,
                   adl=adl, insurance_fund=insurance_fund)

    def replace(self, **changes: Any) -> "Account":
        return dataclasses.replace(self, **changes)

    # -- description -----------------------------------------------------------
    def describe(self) -> str:
        """One line for run headers and reports."""
        if self.kind == "cash":
            return "cash (no borrowing, no shorting)"
        if self.kind == "margin":
            return (f"margin {self.max_leverage:g}x (maintenance {self.maintenance_margin:.0%}, "
                    f"borrow {self.borrow_rate:.2%}/y, short borrow {self.short_borrow_rate:.2%}/y)")
        funding = ("no funding" if self.funding is None
                   else "funding model" if isinstance(self.funding, str) and self.funding == "model"
                   else "funding model (custom)" if isinstance(self.funding, FundingModel)
                   else f"funding {self.funding:.4%}/{self.funding_interval_hours:g}h"
                   if isinstance(self.funding, (int, float)) else "funding schedule")
        adl = f", ADL below an insurance fund of {self.insurance_fund:.1%} of open interest" if self.adl else ""
        return (f"perpetual {self.max_leverage:g}x {self.mode} (tiered maintenance, liquidation fee "
                f"{self.liquidation_fee:.2%}, {funding}, checked at bar {self.check}{adl})")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible form (custom tier tables and funding series are named, not stored)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["tiers"] = None if self.tiers is None else sorted(self.tiers)
        if isinstance(self.funding, FundingModel):
            d["funding"] = {"model": dataclasses.asdict(self.funding)}
        elif self.funding is not None and not isinstance(self.funding, (str, int, float)):
            d["funding"] = "schedule"
        return d


def _is_series(value: Any) -> bool:
    """Whether ``value`` is a pandas Series, without importing pandas (no Series exists before it is:
    the plugin reads the account rules at start-up)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.Series)


def _check_funding_series(series: Any) -> None:
    import numpy as np   # lazy: the plugin reads the account rules at start-up, before any numpy
    import pandas as pd   # lazy: only a funding schedule needs it

    try:
        pd.DatetimeIndex(series.index)
        rates = series.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"Account: funding is a Series that is not rates indexed by time ({exc}); expected a "
                            "pandas Series of rates per interval indexed by UTC timestamps") from None
    bad = ~(np.isfinite(rates) & (np.abs(rates) < 0.1))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ScenarioError(f"Account: funding[{series.index[k]!s}] = {float(rates[k])!r}; expected a rate per "
                            f"interval in (-0.1, 0.1) ({int(bad.sum())} such value(s) in the Series)")


#: What a cash account's fields are (``Account.cash()``): anything else would be ignored.
_CASH_FIELDS = {"max_leverage": 1.0, "borrow_rate": 0.0, "short_borrow_rate": 0.0}

#: The keys of ``NAME:key=value`` that apply to each kind of account.
_KIND_KEYS = {
    "cash": ("check",),
    "margin": ("max_leverage", "maintenance_margin", "borrow_rate", "short_borrow_rate", "liquidation_fee", "check"),
    "perpetual": ("max_leverage", "mode", "funding", "funding_interval_hours", "liquidation_fee", "check", "adl",
                  "insurance_fund"),
}

#: The account a run uses when none is chosen: 1x margin, so an insolvent account is impossible.
DEFAULT_ACCOUNT = Account.margin(max_leverage=1.0)

#: Named accounts for ``--stress-account``, the ini option and the command line.
ACCOUNT_PRESETS: dict[str, Account] = {
    "margin": DEFAULT_ACCOUNT,
    "cash": Account.cash(),
    "reg-t": Account.reg_t(),
    "perpetual": Account.perpetual(),
}


def account_from(spec: "Account | str | None") -> Account:
    """An ``Account`` from an Account, None (the default), a preset name, or ``NAME:key=value,...``
    (``perpetual:leverage=10,mode=cross``, ``margin:max_leverage=3``)."""
    if spec is None:
        return DEFAULT_ACCOUNT
    if isinstance(spec, Account):
        return spec
    if not isinstance(spec, str):
        raise ScenarioError(f"account = {spec!r}; expected an Account, a preset name ({', '.join(ACCOUNT_PRESETS)}) "
                            "or NAME:key=value,...")
    name, _, rest = spec.partition(":")
    name = name.strip()
    if name not in ACCOUNT_PRESETS:
        raise ScenarioError(unknown_name_message("account preset", name, ACCOUNT_PRESETS))
    base = ACCOUNT_PRESETS[name]
    if not rest.strip():
        return base
    changes: dict[str, Any] = {}
    keys = _KIND_KEYS[base.kind]
    names = set(keys) | ({"leverage"} if "max_leverage" in keys else set())
    for item in rest.split(","):
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or key not in names:
            other = [k for k, v in _KIND_KEYS.items() if key in v or (key == "leverage" and "max_leverage" in v)]
            why = (f" ({key!r} applies to {' and '.join(other)} accounts, not to {name!r})" if sep and other else "")
            raise ScenarioError(f"account {spec!r}: {item.strip()!r} is not key=value with a key among "
                                + ", ".join(sorted(names)) + why)
        key = "max_leverage" if key == "leverage" else key
        if key in changes:
            raise ScenarioError(f"account {spec!r}: {'leverage' if key == 'max_leverage' else key} is given twice; "
                                "give each key once")
        value: Any = raw
        if raw.lower() in ("none", "null"):
            value = None
        else:
            try:
                value = float(raw)
            except ValueError:
                pass
        changes[key] = value
    return base.replace(**changes)
