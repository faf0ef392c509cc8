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

__all__ = ["MODEL_FAILURE_PARAMS", "EXECUTION_CRISIS_PARAMS", "MODEL_FAILURE_MODES", "Faults", "NO_FAULTS",
           "ModelFault", "garbage_signals", "garbage_scale"]

MODEL_FAILURE_MODES = ("outage", "garbage", "mixed")

MODEL_FAILURE_PARAMS = ParamSet([
    Param("failure_rate", 0.3, "share of bars on which the signal model fails", low=0.0, high=1.0, scale="share"),
    Param("mode", "mixed", "outage: no output; garbage: wrong output; mixed: either, half and half",
          kind="choice", choices=MODEL_FAILURE_MODES),
])

EXECUTION_CRISIS_PARAMS = ParamSet([
    Param("failure_rate", 0.4, "probability that the exchange fails an order (on top of its own, "
          "stress-driven failures)", low=0.0, high=1.0, scale="share"),
    Param("latency_mult", 10.0, "factor on the exchange's latency", low=1.0, high=1000.0, scale="factor"),
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

    @classmethod
    def of(cls, model: Mapping[str, Any] | None = None, execution: Mapping[str, Any] | None = None) -> "Faults":
        """Faults from a model-failure and an execution-crisis parameter group (missing keys: defaults)."""
        kw: dict[str, Any] = {}
        if model is not None:
            p = {**MODEL_FAILURE_PARAMS.defaults(), **model}
            kw.update(model_failure_rate=p["failure_rate"], model_mode=p["mode"])
        if execution is not None:
            p = {**EXECUTION_CRISIS_PARAMS.defaults(), **execution}
            kw.update(exchange_failure_rate=p["failure_rate"], latency_mult=p["latency_mult"])
        return cls(**kw)

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
