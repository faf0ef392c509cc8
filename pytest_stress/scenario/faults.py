"""Faults outside the market data: a failing signal model and a failing exchange.

One owner for what a fault means: its parameters, the per-run schedule of model
failures (drawn from the run's ``faults`` stream), and what a failing model's output
looks like. The engine only looks up the schedule; the exchange reads ``Faults``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..parameters import Param, ParamSet

__all__ = ["MODEL_FAILURE_PARAMS", "EXECUTION_CRISIS_PARAMS", "VENUE_FAULT_PARAMS", "MODEL_FAILURE_MODES", "Faults",
           "NO_FAULTS", "ModelFault", "garbage_signals", "garbage_scale"]

MODEL_FAILURE_MODES = ("outage", "garbage", "mixed")

MODEL_FAILURE_PARAMS = ParamSet([
    Param("failure_rate", 0.3, "share of bars on which the signal model fails", low=0.0, high=1.0, scale="share"),
    Param("mode", "mixed", "outage: no output; garbage: wrong output; mixed: either, half and half",
          kind="choice", choices=MODEL_FAILURE_MODES),
])

#: The venue's fault kinds beyond outages, timeouts and late fills (``exchange/faults.py``,
#: docs/venue.md "Fault kinds"); every one is off at its default.
VENUE_FAULT_PARAMS = ParamSet([
    Param("orders_per_10s", 0, "order rate limit: new orders accepted per fixed 10-second window, more are "
          "refused with a 429 and a retry-after (0: no limit; Binance USD-M futures: 300)", kind="int", low=0,
          high=1_000_000),
    Param("orders_per_minute", 0, "order rate limit: new orders accepted per fixed minute (0: no limit; "
          "Binance USD-M futures: 1,200)", kind="int", low=0, high=1_000_000),
    Param("cancel_only_share", 0.0, "share of time the venue is in cancel-only mode: new orders are rejected, "
          "cancels accepted, nothing matches", low=0.0, high=1.0, scale="share"),
    Param("submit_only_share", 0.0, "share of time the venue rejects cancels (new orders are accepted)",
          low=0.0, high=1.0, scale="share"),
    Param("stale_book_share", 0.0, "share of time the venue's book is stale: fills are priced off the book "
          "of stale_book_bars bars earlier while the feed moves on", low=0.0, high=1.0, scale="share"),
    Param("stale_book_bars", 1, "how many bars a stale book lags the feed", kind="int", low=1, high=1000),
    Param("fault_window_s", 300.0, "mean length in seconds of a cancel-only, submit-only or stale-book window",
          low=0.0, high=1e7, low_inclusive=False),
    Param("cancel_ack_mult", 0.0, "a cancel takes effect after this many times the venue's order latency "
          "(a log-normal draw at that bar; 0: at once)", low=0.0, high=1e6, scale="factor"),
])

EXECUTION_CRISIS_PARAMS = ParamSet([
    Param("failure_rate", 0.4, "probability that the exchange fails an order (on top of its own, "
          "stress-driven failures)", low=0.0, high=1.0, scale="share"),
    Param("latency_mult", 10.0, "factor on the exchange's latency", low=1.0, high=1000.0, scale="factor"),
    *VENUE_FAULT_PARAMS.values(),
])

#: On a failing-model bar: ``(kind, u)``, kind "outage" or "garbage" and ``u`` a uniform
#: draw from the run's fault stream that shapes the garbage.
ModelFault = tuple[str, float]


@dataclass(frozen=True)
class Faults:
    """The fault settings of one run."""

    model_failure_rate: float = 0.0
    model_mode: str = "mixed"
    exchange_failure_rate: float = 0.0
    latency_mult: float = 1.0
    #: the venue's fault kinds (``VENUE_FAULT_PARAMS``; ``exchange/faults.py``)
    orders_per_10s: int = 0
    orders_per_minute: int = 0
    cancel_only_share: float = 0.0
    submit_only_share: float = 0.0
    stale_book_share: float = 0.0
    stale_book_bars: int = 1
    fault_window_s: float = 300.0
    cancel_ack_mult: float = 0.0

    @classmethod
    def of(cls, model: Mapping[str, Any] | None = None, execution: Mapping[str, Any] | None = None) -> "Faults":
        """Faults from a model-failure and an execution-crisis parameter group (missing keys: defaults)."""
        kw: dict[str, Any] = {}
        if model is not None:
            p = {**MODEL_FAILURE_PARAMS.defaults(), **model}
            kw.update(model_failure_rate=p["failure_rate"], model_mode=p["mode"])
        if execution is not None:
            p = {**EXECUTION_CRISIS_PARAMS.defaults(), **execution}
            kw.update(exchange_failure_rate=p["failure_rate"], latency_mult=p["latency_mult"],
                      **{name: p[name] for name in VENUE_FAULT_PARAMS})
        return cls(**kw)

    @property
    def venue_faults(self) -> bool:
        """True if any of the venue's fault kinds (``VENUE_FAULT_PARAMS``) is on."""
        return bool(self.orders_per_10s or self.orders_per_minute or self.cancel_only_share > 0
                    or self.submit_only_share > 0 or self.stale_book_share > 0 or self.cancel_ack_mult > 0)

    def model_schedule(self, n: int, rng: np.random.Generator) -> dict[int, ModelFault]:
        """Bars on which the signal model fails, with the failure kind and a uniform draw."""
        if self.model_failure_rate <= 0:
            return {}
        # three draws per bar, bar after bar (one (n, 3) block: row t is the same stream values whatever
        # n is), so bar t's fault, kind and draw never depend on the run's length (three separate
        # rng.random(n) made the kinds at bar t depend on n)
        draws = rng.random((n, 3))
        fail, pick, u = draws[:, 0], draws[:, 1], draws[:, 2]
        bars = np.flatnonzero(fail < self.model_failure_rate)
        if self.model_mode == "outage":
            kinds = ["outage"] * len(bars)
        elif self.model_mode == "garbage":
            kinds = ["garbage"] * len(bars)
        else:
            kinds = np.where(pick[bars] < 0.5, "outage", "garbage").tolist()
        return {int(t): (k, float(u[t])) for t, k in zip(bars.tolist(), kinds)}


NO_FAULTS = Faults()


def garbage_signals(symbols: Sequence[str], u: float) -> dict[str, float]:
    """What an eight-role model emits on a garbage bar: one exposure in [-3, 3) for every symbol."""
    return {s: (2.0 * u - 1.0) * 3.0 for s in symbols}


def garbage_scale(u: float) -> float:
    """What a simple trader's orders become on a garbage bar: side flipped, quantity times this, in [0.5, 3)."""
    return 0.5 + 2.5 * u
