"""What a run produces: one record per order outcome, per closed trade, and the scenario result.

Percentages are numbers like 3.2 for 3.2%. ``ScenarioResult.to_dict`` is strict JSON in the
one form every reader uses (``result/jsonform.py``: non-finite floats as "inf"/"-inf"/"nan").
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .jsonform import decode, encode
from .metrics import METRIC_FIELDS


if TYPE_CHECKING:  # pragma: no cover - pandas only where a DataFrame is asked for
    import pandas as pd

__all__ = ["TradeRecord", "ExecutionResult", "ScenarioResult", "SearchInProgress", "SEARCHING"]


class SearchInProgress(BaseException):
    """Raised by ``ScenarioResult.breaking_point`` while a breaking-point search runs the test body
    as its check: the claims above it held on that path. A ``BaseException``, as pytest's own
    outcomes are, so that a broad ``except Exception`` in a test does not end the search."""


#: What ``ScenarioResult.breaking_point`` holds while the search runs (``SearchInProgress``).
SEARCHING = object()


@dataclasses.dataclass(slots=True)
class TradeRecord:
    """A closed (or reduced) position: from the average entry to this exit."""

    symbol: str
    side: str                 #: "long" or "short"
    quantity: float
    entry_bar: int
    exit_bar: int
    entry_price: float        #: average entry price of the closed quantity
    exit_price: float
    pnl: float                #: net of the entry and exit fees attributed to this quantity
    return_pct: float         #: pnl over the entry notional
    fees: float
    exit_reason: str = "signal"   #: signal, stop, liquidation, margin_call, adl or end_of_run (still open, marked)


@dataclasses.dataclass(slots=True)
class ExecutionResult:
    """What the exchange did with one order at one bar."""

    order_id: int
    symbol: str
    side: str                 #: "buy" or "sell"
    order_type: str           #: "market", "limit" or "stop"
    bar: int                  #: the bar the exchange handled it on
    #: filled, partial, band_limited, rejected, rate_limited, timeout, late_fill, partial_cancel, cancelled,
    #: cancel_rejected, expired, insufficient_margin, liquidation, adl (README.md lists them;
    #: tests/test_readme.py checks the list)
    status: str
    requested_qty: float
    filled_qty: float
    reference_price: float    #: the observable price the fill is measured against (open, limit or stop)
    fill_price: float         #: NaN when nothing filled
    spread_bps: float         #: half-spread paid, in basis points of the reference price
    slippage_bps: float       #: market impact + adverse drift during latency, in bps
    fee: float
    latency_ms: float
    reason: str = ""
    #: the trader's own impact in this fill (part of slippage_bps): earlier fills' + this bar's
    impact_bps: float = 0.0
    #: the fill price is outside the true bar's [low, high] (a stale book's: the earlier bar's), which only own
    #: impact can do
    outside_bar: bool = False
    late: bool = False        #: a fill of an order already reported as timed out (status late_fill)
    #: rate_limited: the seconds to wait before sending again (the venue's Retry-After); 0 otherwise
    retry_after_s: float = 0.0


@dataclasses.dataclass
class ScenarioResult:
    """The outcome of one scenario run against one trading system. See docs/metrics.md.

    The scalar metric fields, from ``bars_processed`` to ``data_issues``, are exactly
    ``result.metrics.METRICS`` in order (a test holds them together).
    """

    scenario_name: str
    scenario_type: str
    seed: int
    success: bool = True
    error: str | None = None
    duration_s: float = 0.0
    bars_processed: int = 0
    initial_equity: float = 0.0
    final_equity: float = 0.0
    total_pnl: float = 0.0
    total_return_pct: float = 0.0
    max_drawdown: float = 0.0
    max_drawdown_duration_bars: int = 0
    recovery_bars: int | None = None
    volatility_pct: float = 0.0
    sharpe_ratio: float = 0.0
    sortino_ratio: float = 0.0
    calmar_ratio: float = 0.0
    var_95_pct: float = 0.0
    cvar_95_pct: float = 0.0
    worst_bar_return_pct: float = 0.0
    total_trades: int = 0
    winning_trades: int = 0
    losing_trades: int = 0
    winrate: float = 0.0
    profit_factor: float = 0.0
    avg_win: float = 0.0
    avg_loss: float = 0.0
    largest_win: float = 0.0
    largest_loss: float = 0.0
    expectancy: float = 0.0
    exposure_pct: float = 0.0
    max_leverage: float = 0.0
    orders_submitted: int = 0
    orders_filled: int = 0
    partial_fills: int = 0
    orders_rejected: int = 0
    execution_failures: int = 0
    avg_slippage_bps: float = 0.0
    max_slippage_bps: float = 0.0
    total_slippage_cost: float = 0.0
    total_fees: float = 0.0
    avg_latency_ms: float = 0.0
    max_latency_ms: float = 0.0
    risk_rejections: int = 0
    emergency_stops: int = 0
    model_failures: int = 0
    component_errors: int = 0
    data_issues: int = 0
    liquidations: int = 0
    margin_calls: int = 0
    margin_rejections: int = 0
    ruined: bool = False
    ruin_bar: int | None = None
    funding_paid: float = 0.0
    borrow_cost: float = 0.0
    liquidation_fees: float = 0.0
    insurance_fund_loss: float = 0.0
    adl_events: int = 0
    max_margin_usage_pct: float = 0.0
    min_margin_ratio: float | None = None
    account: str = ""                     #: the account the run traded in (``Account.describe()``)
    component_error_details: list[str] = dataclasses.field(default_factory=list)
    risk_rejection_details: list[str] = dataclasses.field(default_factory=list)   #: "bar N: reason" per rejection
    #: (bar, key, value)
    policy_changes: list[tuple[int, str, Any]] = dataclasses.field(default_factory=list, repr=False)
    equity_curve: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0), repr=False)
    drawdown_curve: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0), repr=False)
    timestamps: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    trades: list[TradeRecord] = dataclasses.field(default_factory=list, repr=False)
    executions: list[ExecutionResult] = dataclasses.field(default_factory=list, repr=False)
    symbols: tuple[str, ...] = ()     #: the run's symbols, in the order of ``positions``' rows
    #: (symbol, bar) units
    positions: np.ndarray = dataclasses.field(default_factory=lambda: np.empty((0, 0)), repr=False)
    cash_curve: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0), repr=False)  #: cash after each bar
    #: (symbol, bar) prices the positions are marked at: the true close (the venue's mark price)
    mark_prices: np.ndarray = dataclasses.field(default_factory=lambda: np.empty((0, 0)), repr=False)

    _CURVES = ("equity_curve", "drawdown_curve", "timestamps", "positions", "cash_curve", "mark_prices")
    _RECORDS = {"trades": TradeRecord, "executions": ExecutionResult}
    _DETAIL = ("policy_changes",)

    def __repr__(self) -> str:
        # short, so that a failing assertion on one metric stays readable
        if not self.success:
            return f"ScenarioResult({self.scenario_name!r}, seed={self.seed}, FAILED: {self.error!s:.80})"
        return (f"ScenarioResult({self.scenario_name!r}, seed={self.seed}, max_drawdown={self.max_drawdown:.2f}, "
                f"total_return_pct={self.total_return_pct:.2f}, trades={self.total_trades}, "
                f"execution_failures={self.execution_failures}, emergency_stops={self.emergency_stops})")

    @property
    def breaking_point(self) -> Any:
        """The case's breaking point under ``@stress(..., breaking_point=True)``, once its search is
        done (a ``result.breaking.BreakingPoint``); None in any other run. While the search runs
        the test body on a path as its check, reading it ends the check on that path: the claims
        above it held (``SearchInProgress``)."""
        bp = self.__dict__.get("_breaking_point")
        if bp is SEARCHING:
            raise SearchInProgress("the breaking-point search is running the test body as its check")
        self.__dict__["_breaking_point_read"] = True
        return bp

    def metrics(self) -> dict[str, Any]:
        """The scalar metrics only (see ``METRIC_FIELDS``)."""
        return {k: getattr(self, k) for k in METRIC_FIELDS}

    def to_dict(self, curves: bool = False, records: bool = False) -> dict[str, Any]:
        """Strict-JSON dict (see ``result/jsonform.py``); curves and trade/execution records only if asked."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in self._CURVES:
                if curves:
                    out[f.name] = encode(v)
            elif f.name in self._RECORDS:
                if records:
                    out[f.name] = [encode(dataclasses.asdict(r)) for r in v]
            elif f.name in self._DETAIL:
                if records:
                    out[f.name] = [[b, k, x if isinstance(x, (bool, int, float, str, type(None))) else repr(x)]
                                   for b, k, x in v]
            else:
                out[f.name] = encode(v)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ScenarioResult":
        """The result back from ``to_dict`` (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: decode(v) for k, v in d.items() if k in names}
        for k in cls._CURVES:
            if k in kw:
                kw[k] = np.asarray(kw[k], dtype=np.int64 if k == "timestamps" else np.float64)
        for k, rec in cls._RECORDS.items():
            if k in kw:
                kw[k] = [rec(**r) for r in kw[k]]
        if "policy_changes" in kw:
            kw["policy_changes"] = [tuple(c) for c in kw["policy_changes"]]
        if "symbols" in kw:
            kw["symbols"] = tuple(kw["symbols"])
        return cls(**kw)

    # -- DataFrames and extremes (result/frames.py, result/extremes.py) --------
    def equity_frame(self) -> "pd.DataFrame":
        """Per bar on the UTC index: equity, drawdown, cash, exposure, leverage, positions (see ``frames``)."""
        from .frames import equity_frame   # lazy: pandas only when a frame is asked for

        return equity_frame(self)

    def trades_frame(self) -> "pd.DataFrame":
        """One row per closed trade, with entry and exit times."""
        from .frames import trades_frame   # lazy: pandas only when a frame is asked for

        return trades_frame(self)

    def executions_frame(self) -> "pd.DataFrame":
        """One row per order outcome, with the time of its bar."""
        from .frames import executions_frame   # lazy: pandas only when a frame is asked for

        return executions_frame(self)

    def extremes(self) -> dict[str, Any]:
        """Bar, timestamp and value of the maximum drawdown and of the worst bar (``result/extremes.py``)."""
        from .extremes import extremes   # lazy: keeps this module's imports to the record types

        return extremes(self.equity_curve, self.timestamps, self.initial_equity)
