"""Monte Carlo results: one scenario on many independently seeded market paths, and the aggregate.

Path i uses seed ``derive_seed(scenario.seed, i)`` (``runner.run_paths``): the same in
every process, so any path can be rerun alone from the seed the aggregate reports.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ScenarioError
from ..scenario.definition import Scenario
from .jsonform import encode
from .metrics import HIGHER, LOWER, METRIC_FIELDS
from .metrics import metric as metric_row
from .models import ScenarioResult


if TYPE_CHECKING:  # pragma: no cover - pandas only where a DataFrame is asked for
    import pandas as pd

__all__ = ["PathsResult"]


@dataclass
class PathsResult:
    """The results of one scenario over many market paths, with percentile helpers."""

    scenario: Scenario
    results: list[ScenarioResult]

    @property
    def paths(self) -> int:
        return len(self.results)

    @property
    def scenario_name(self) -> str:
        return self.scenario.name

    def values(self, metric: str) -> np.ndarray:
        """One value per path (None, as in an unrecovered drawdown, becomes NaN)."""
        name = metric_row(metric).name   # an unknown metric raises with close matches
        return np.array([np.nan if (v := getattr(r, name)) is None else v for r in self.results], dtype=float)

    def percentile(self, metric: str, q: float) -> float:
        """The q-th percentile (0-100) of a metric over the paths, NaN-aware."""
        return float(np.nanpercentile(self.values(metric), q))

    def mean(self, metric: str) -> float:
        return float(np.nanmean(self.values(metric)))

    def fraction(self, predicate: Callable[[ScenarioResult], bool]) -> float:
        """Share of paths for which ``predicate(result)`` holds, e.g. ``lambda r: r.emergency_stops > 0``."""
        return sum(1 for r in self.results if predicate(r)) / len(self.results)

    def worst(self, metric: str = "max_drawdown") -> ScenarioResult:
        """The path with the worst value of ``metric`` (its ``seed`` reruns it alone).

        Only metrics with a worse direction have a worst path (``docs/metrics.md``).
        """
        worse = metric_row(metric).worse
        if worse not in (HIGHER, LOWER):
            raise ScenarioError(f"worst({metric!r}): {metric} has no worse direction; use values({metric!r}) or "
                                "fraction(...) instead")
        vals = self.values(metric)
        higher = worse == HIGHER
        vals = np.where(np.isnan(vals), -np.inf if higher else np.inf, vals)
        i = int(np.argmax(vals) if higher else np.argmin(vals))
        return self.results[i]

    @property
    def worst_seed(self) -> int:
        """The seed of the path with the deepest drawdown: ``@stress(name, seed=...)`` reruns it."""
        return self.worst("max_drawdown").seed

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    def summary(self) -> dict[str, Any]:
        """The aggregate in the one JSON form: median and 95th percentile of each metric over
        its finite values, and the worst path's seed."""
        medians: dict[str, float] = {}
        p95: dict[str, float] = {}
        for m in METRIC_FIELDS:
            v = self.values(m)
            finite = v[np.isfinite(v)]
            medians[m] = float(np.median(finite)) if len(finite) else math.nan
            p95[m] = float(np.percentile(finite, 95)) if len(finite) else math.nan
        return encode({"paths": self.paths, "worst_seed": self.worst_seed, "median": medians, "p95": p95})

    def __repr__(self) -> str:
        return (f"PathsResult({self.scenario.name!r}, paths={self.paths}, "
                f"p95 max_drawdown={self.percentile('max_drawdown', 95):.2f}, worst_seed={self.worst_seed})")

    def to_frame(self) -> "pd.DataFrame":
        """One row per path: its seed, success and every metric (``result/frames.py``)."""
        from .frames import paths_frame   # lazy: pandas only when a frame is asked for

        return paths_frame(self)
