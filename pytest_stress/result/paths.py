"""Monte Carlo results: one scenario on many independently seeded market paths, and the aggregate.

Path i uses seed ``derive_seed(scenario.seed, i)`` (``runner.run_paths``): the same in
every process, so any path can be rerun alone from the seed the aggregate reports.

A path is reduced where it ran (a worker process, a cluster's worker) to its row: seed,
success, error and every metric of ``METRICS``. ``PathsResult`` keeps those rows in a
compact table (``PathTable``: about 0.5 KB per path instead of the run's ~30 KB, so that
100,000 paths fit in 50 MB), plus the equity curves of the first ``FAN_PATHS`` paths cut to
one minimum and one maximum per chart column (``report.downsample.envelope``) for the
report's fan chart. A path's full ``ScenarioResult`` (curves, trades) is rebuilt on demand by
rerunning its seed in this process (``worst()``): every draw comes from the seeded run, so
the rerun is bit-identical (a trader that is not deterministic from its seed gets a warning).
"""
from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ScenarioError, unknown_name_message
from ..report.downsample import DEFAULT_COLUMNS, envelope
from ..scenario.definition import Scenario
from ..verdict import check_confidence, quantile_bound_min_values, quantile_bounds, rate_bound, rate_interval
from .jsonform import encode
from .metrics import HIGHER, LOWER, METRIC_FIELDS
from .metrics import metric as metric_row
from .models import ScenarioResult


if TYPE_CHECKING:  # pragma: no cover - pandas only where a DataFrame is asked for
    import pandas as pd

__all__ = ["PathsResult", "PathRow", "PathTable", "PathChunk", "Bound", "reduce_path", "fan_of", "FAN_PATHS"]

log = logging.getLogger("pytest_stress")

#: Paths whose equity curves (cut to ``2 * DEFAULT_COLUMNS`` numbers each) are kept for the
#: report's fan of percentile bands: the first ones, a fair sample since paths are i.i.d.
#: (at most 12.8 MB however many paths run).
FAN_PATHS = 1000

_INDEX = {name: i for i, name in enumerate(METRIC_FIELDS)}


def _kind(annotation: Any) -> type:
    text = str(annotation)
    return bool if text.startswith("bool") else int if text.startswith("int") else float


#: The Python type of each metric (``ScenarioResult``'s field annotations), so rows give back
#: ints and bools as such.
_KINDS: tuple[type, ...] = tuple(_kind({f.name: f.type for f in dataclasses.fields(ScenarioResult)}[m])
                                 for m in METRIC_FIELDS)


@dataclass
class PathTable:
    """Rows of paths in numpy arrays: ``seeds`` (int64), ``success`` (bool), ``values``
    (float64, one column per metric of ``METRIC_FIELDS``; NaN where a metric was None or the
    path failed), ``none`` (where a metric was None) and ``errors`` (path index -> error text,
    failed paths only)."""

    seeds: np.ndarray
    success: np.ndarray
    values: np.ndarray
    none: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)

    @classmethod
    def empty(cls, n: int) -> "PathTable":
        """A table of ``n`` paths, every row failed until filled."""
        m = len(METRIC_FIELDS)
        return cls(np.zeros(n, np.int64), np.zeros(n, bool), np.full((n, m), np.nan), np.zeros((n, m), bool))

    def __len__(self) -> int:
        return len(self.seeds)

    def set_row(self, i: int, seed: int, result: ScenarioResult | None, error: str | None = None) -> None:
        """Fill row ``i`` from a run's result, or as failed with ``error``."""
        self.seeds[i] = seed
        if result is None or not result.success:
            self.success[i] = False
            self.values[i] = np.nan
            self.none[i] = False
            self.errors[i] = error if error is not None else (result.error if result is not None else None) or "failed"
            return
        vals = [getattr(result, m) for m in METRIC_FIELDS]
        self.success[i] = True
        self.none[i] = [v is None for v in vals]
        self.values[i] = [math.nan if v is None else float(v) for v in vals]
        self.errors.pop(i, None)

    def put(self, start: int, part: "PathTable") -> None:
        """Copy ``part`` (rows ``start..start+len(part)``) into this table."""
        stop = start + len(part)
        self.seeds[start:stop] = part.seeds
        self.success[start:stop] = part.success
        self.values[start:stop] = part.values
        self.none[start:stop] = part.none
        for i in range(start, stop):
            self.errors.pop(i, None)
        self.errors.update({start + i: e for i, e in part.errors.items()})

    def rows(self, start: int, stop: int) -> "PathTable":
        """Rows ``start..stop-1`` as a table of their own (copies; row ``start`` is its row 0)."""
        return PathTable(self.seeds[start:stop].copy(), self.success[start:stop].copy(),
                         self.values[start:stop].copy(), self.none[start:stop].copy(),
                         {i - start: e for i, e in self.errors.items() if start <= i < stop})

    def same_as(self, other: "PathTable") -> bool:
        """Bit-identical rows (NaNs included)."""
        return (self.seeds.tobytes() == other.seeds.tobytes() and self.success.tobytes() == other.success.tobytes()
                and self.values.tobytes() == other.values.tobytes() and self.none.tobytes() == other.none.tobytes()
                and self.errors == other.errors)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (error texts not counted)."""
        return self.seeds.nbytes + self.success.nbytes + self.values.nbytes + self.none.nbytes

    def columns(self) -> dict[str, np.ndarray]:
        """``seed``, ``success`` and every metric as one array each: whole numbers and bools as
        such where no path has None (or failed) there, else floats with NaN."""
        out: dict[str, np.ndarray] = {"seed": self.seeds.copy(), "success": self.success.copy()}
        for j, m in enumerate(METRIC_FIELDS):
            col = self.values[:, j]
            whole = _KINDS[j] is not float and not np.isnan(col).any()
            out[m] = col.astype(np.int64 if _KINDS[j] is int else bool) if whole else col.copy()
        return out

    def value(self, i: int, metric: str) -> Any:
        """Row ``i``'s ``metric`` as the run gave it (int, bool, float or None)."""
        j = _INDEX[metric]
        if self.none[i, j]:
            return None
        v = float(self.values[i, j])
        kind = _KINDS[j]
        return v if kind is float or math.isnan(v) else kind(v)


class PathRow:
    """One path's row: ``path`` (its index), ``seed``, ``success``, ``error`` and every metric
    of ``METRICS`` as an attribute (``row.max_drawdown``, ``row.emergency_stops``, ...), with the
    same names and types as on ``ScenarioResult``. A failed path's metrics are NaN.
    ``PathsResult.worst()`` (or ``run(path)``) gives a path's full ``ScenarioResult``."""

    __slots__ = ("_table", "path")

    def __init__(self, table: PathTable, path: int) -> None:
        self._table = table
        self.path = path

    @property
    def seed(self) -> int:
        return int(self._table.seeds[self.path])

    @property
    def success(self) -> bool:
        return bool(self._table.success[self.path])

    @property
    def error(self) -> str | None:
        return self._table.errors.get(self.path)

    def __getattr__(self, name: str) -> Any:
        if name in _INDEX:
            return self._table.value(self.path, name)
        raise AttributeError(f"a Monte Carlo path row has no attribute {name!r}; it has path, seed, success, error "
                             "and the metrics of docs/metrics.md (PathsResult.worst() gives a full ScenarioResult)")

    def metrics(self) -> dict[str, Any]:
        """Every metric of this path by name."""
        return {m: self._table.value(self.path, m) for m in METRIC_FIELDS}

    def __repr__(self) -> str:
        state = "ok" if self.success else "failed"
        return f"PathRow(path={self.path}, seed={self.seed}, {state}, max_drawdown={self.max_drawdown})"


@dataclass
class PathChunk:
    """What a worker sends back for paths ``start..start+len(table)``: their rows, the cut
    equity curves (``{path: (bars, column minima, column maxima)}``) of those below
    ``FAN_PATHS``, and, for a verdict, the paths on which the test's assertion failed (``{path:
    its message}``)."""

    start: int
    table: PathTable
    sketches: dict[int, tuple[int, np.ndarray, np.ndarray]] = field(default_factory=dict)
    checks: dict[int, str] = field(default_factory=dict)


def reduce_path(chunk: PathChunk, path: int, seed: int, result: ScenarioResult | None, error: str | None = None,
                fan_paths: int = FAN_PATHS, width: int = DEFAULT_COLUMNS) -> None:
    """Reduce one path's run into ``chunk`` (its row; its cut equity curve if ``path < fan_paths``)."""
    chunk.table.set_row(path - chunk.start, seed, result, error)
    if result is not None and result.success and path < fan_paths and len(result.equity_curve):
        curve = np.asarray(result.equity_curve, dtype=np.float64)
        chunk.sketches[path] = (len(curve), envelope(curve, width, lower=True)[1],
                                envelope(curve, width, lower=False)[1])


def fan_of(sketches: Sequence[tuple[int, np.ndarray, np.ndarray]],
           width: int = DEFAULT_COLUMNS) -> dict[str, Any] | None:
    """Percentile bands over paths of equity, per chart column: p5 and p25 of each path's
    column minimum, p75 and p95 of its column maximum, and the median of both (for at most
    ``width`` bars, a column is a bar: exactly the per-bar percentiles). ``sketches``:
    ``(bars, column minima, column maxima)`` per path (those of another length than the
    first are left out). JSON-safe lists; None without a sketch."""
    if not sketches:
        return None
    bars = sketches[0][0]
    same = [s for s in sketches if s[0] == bars]
    lo = np.vstack([s[1] for s in same])
    hi = np.vstack([s[2] for s in same])
    x = envelope(np.zeros(bars), width, lower=True)[0]
    p5, p25, mlo = np.percentile(lo, [5, 25, 50], axis=0)
    mhi, p75, p95 = np.percentile(hi, [50, 75, 95], axis=0)
    if bars <= width:
        median_x, median = x, mlo
    else:   # each column's median low and median high, as a vertical stroke
        median_x, median = np.repeat(x, 2), np.column_stack([mlo, mhi]).ravel()
    return encode({"bars": bars, "sample": len(same), "x": x, "p5": p5, "p25": p25, "p75": p75, "p95": p95,
                   "median_x": median_x, "median": median})


class Bound(float):
    """A one-sided confidence bound, returned by ``PathsResult.percentile_bound`` and
    ``fraction_bound``: a float (compare it as one: ``assert bound < 20``) whose repr, which a
    failed assertion shows, says what it bounds, from how many paths, and, when it is infinite
    because the paths are too few to bound anything, how many it would take."""

    what: str
    side: str
    confidence: float
    estimate: float
    basis: str
    short: str

    def __new__(cls, value: float, what: str, side: str, confidence: float, estimate: float, basis: str,
                short: str = "") -> "Bound":
        self = super().__new__(cls, value)
        self.what, self.side, self.confidence = what, side, confidence
        self.estimate, self.basis, self.short = estimate, basis, short
        return self

    def __reduce__(self) -> tuple:
        return (Bound, (float(self), self.what, self.side, self.confidence, self.estimate, self.basis, self.short))

    __str__ = float.__repr__       # the number, as print and f-strings show it

    def __repr__(self) -> str:
        head = f"<{self.side} {self.confidence * 100:.3g}% confidence bound on {self.what}: {float(self):.6g}"
        if self.short:
            return f"{head}; {self.short}>"
        return f"{head} (point estimate {self.estimate:.6g}; {self.basis})>"


class PathsResult:
    """The results of one scenario over many market paths, with percentile helpers.

    ``PathsResult(scenario, results)`` builds one from full ``ScenarioResult``s (kept, so
    ``worst()`` needs no rerun); ``runner.run_paths`` builds one from a reduced ``table``.
    """

    def __init__(self, scenario: Scenario, results: Sequence[ScenarioResult] | None = None, *,
                 table: PathTable | None = None,
                 sketches: Mapping[int, tuple[int, np.ndarray, np.ndarray]] | None = None,
                 rerun: Callable[[int], ScenarioResult] | None = None) -> None:
        self.scenario = scenario
        self._runs: dict[int, ScenarioResult] = {}
        if results is not None:
            results = list(results)
            chunk = PathChunk(0, PathTable.empty(len(results)))
            for i, r in enumerate(results):
                reduce_path(chunk, i, r.seed, r)
            self.table, self._sketches = chunk.table, dict(chunk.sketches)
            self._runs = dict(enumerate(results))
        elif table is not None:
            self.table, self._sketches = table, dict(sketches or {})
        else:
            raise ScenarioError("PathsResult needs results (a list of ScenarioResult) or a table")
        if len(self.table) < 1:
            raise ScenarioError("PathsResult of 0 paths; expected at least one path")
        self._rerun = rerun

    @property
    def paths(self) -> int:
        return len(self.table)

    @property
    def scenario_name(self) -> str:
        return self.scenario.name

    @property
    def results(self) -> list[PathRow]:
        """One row per path (``PathRow``: seed, success, error and every metric as attributes),
        not full runs: ``worst()`` (or ``run(path)``) gives a path's ``ScenarioResult``."""
        return [PathRow(self.table, i) for i in range(self.paths)]

    rows = results

    def __iter__(self) -> Iterator[PathRow]:
        return iter(self.results)

    @property
    def seeds(self) -> list[int]:
        return self.table.seeds.tolist()

    @property
    def failures(self) -> list[PathRow]:
        """The paths that failed (their ``error`` says why; their ``seed`` reruns them alone)."""
        return [PathRow(self.table, i) for i in sorted(self.table.errors)]

    @property
    def successful(self) -> int:
        return int(np.count_nonzero(self.table.success))

    def values(self, metric: str) -> np.ndarray:
        """One value per path (None, as in an unrecovered drawdown, and failed paths are NaN)."""
        name = metric_row(metric).name   # an unknown metric raises with close matches
        return self.table.values[:, _INDEX[name]].copy()

    def percentile(self, metric: str, q: float) -> float:
        """The q-th percentile (0-100) of a metric over the paths, NaN-aware: a point estimate,
        which another set of paths moves (``percentile_bound`` is a claim about the scenario)."""
        return float(np.nanpercentile(self.values(metric), q))

    def percentile_bound(self, metric: str, q: float, confidence: float = 0.95, side: str | None = None) -> Bound:
        """A distribution-free confidence bound on the scenario's true q-th percentile (0-100) of
        ``metric``, from the paths' order statistics (``verdict.quantile_bounds``): on the side
        that is worse for the metric (upper for ``max_drawdown``, lower for ``total_return_pct``;
        ``side="upper"`` or ``"lower"`` for a metric with no direction). ``assert
        result.percentile_bound("max_drawdown", 95) < 20`` reads: with 95% confidence, the p95
        drawdown of the scenario (not of these paths) is below 20. Paths where the metric is None
        or that failed are left out. Too few paths bound nothing: the bound is +inf (-inf), the
        assertion fails, and its repr says how many paths it takes (59 for the p95 at 95%)."""
        where = f"percentile_bound({metric!r}, {q!r})"
        try:
            name = metric_row(metric).name   # an unknown metric raises with close matches
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        if isinstance(q, bool) or not isinstance(q, (int, float, np.integer, np.floating)) or not 0 < q < 100:
            raise ScenarioError(f"{where}: q = {q!r}; expected a percentile strictly between 0 and 100, such as 95 "
                                "(q = 0 or 100 would be the extremes, which no finite set of paths bounds)")
        conf = check_confidence(where, confidence)
        upper = self._upper(where, name, side)
        vals = self.values(name)
        vals = vals[~np.isnan(vals)]
        lo, hi = quantile_bounds(vals, float(q) / 100, conf)
        value = hi if upper else lo
        label = f"the p{float(q):g} of {name}"
        estimate = float(np.percentile(vals, q)) if len(vals) else math.nan
        basis = f"{len(vals)} paths" + (f" of {self.paths} have a value" if len(vals) < self.paths else "")
        need = quantile_bound_min_values(float(q) / 100, conf, upper)
        short = ""
        if len(vals) < need:
            short = (f"{basis} are too few to bound it (it takes at least {need}); run more paths, or bound a "
                     f"{'lower' if upper else 'higher'} percentile or at a lower confidence")
        return Bound(value, label, "upper" if upper else "lower", conf, estimate, basis, short)

    def _upper(self, where: str, metric: str, side: str | None) -> bool:
        """Whether the bound asked for is an upper one: ``side``, else the metric's worse side."""
        if side is None:
            worse = metric_row(metric).worse
            if worse not in (HIGHER, LOWER):
                raise ScenarioError(f"{where}: {metric} has no worse direction; say which bound: side='upper' or "
                                    "side='lower'")
            return worse == HIGHER
        if side not in ("upper", "lower"):
            raise ScenarioError(f"{where}: " + unknown_name_message("side", str(side), ("upper", "lower")))
        return side == "upper"

    def mean(self, metric: str) -> float:
        return float(np.nanmean(self.values(metric)))

    def fraction(self, predicate: Callable[[PathRow], bool]) -> float:
        """Share of the successful paths for which ``predicate(row)`` holds, e.g.
        ``lambda r: r.emergency_stops > 0``; ``row`` is a ``PathRow`` (the metrics by their
        ``ScenarioResult`` names, plus seed). All paths when none failed. A point estimate:
        ``fraction_bound`` and ``fraction_interval`` are claims about the scenario."""
        hits, n = self._count(predicate)
        return hits / n if n else math.nan

    def _count(self, predicate: Callable[[PathRow], bool]) -> tuple[int, int]:
        """How many successful paths satisfy ``predicate``, of how many successful paths."""
        ok = np.flatnonzero(self.table.success)
        return sum(1 for i in ok if predicate(PathRow(self.table, int(i)))), len(ok)

    def fraction_interval(self, predicate: Callable[[PathRow], bool],
                          confidence: float = 0.95) -> tuple[float, float]:
        """The two-sided Clopper-Pearson interval ``(low, high)`` of the scenario's true share of
        paths for which ``predicate(row)`` holds (``verdict.rate_interval``), over the successful
        paths: it holds the true share with probability at least ``confidence``."""
        conf = check_confidence("fraction_interval", confidence)
        hits, n = self._count(predicate)
        return rate_interval(hits, n, conf)

    def fraction_bound(self, predicate: Callable[[PathRow], bool], confidence: float = 0.95,
                       side: str = "upper") -> Bound:
        """A one-sided Clopper-Pearson bound on the scenario's true share of paths for which
        ``predicate(row)`` holds (``verdict.rate_bound``), over the successful paths; upper unless
        ``side="lower"``. ``assert result.fraction_bound(lambda r: r.emergency_stops > 0) < 0.1``
        reads: with 95% confidence, fewer than one path in ten hits the kill switch. With no path
        satisfying it, the upper bound is 1 - (1 - confidence) ** (1 / paths): 0.058 from 50
        paths, 0.015 from 200."""
        where = "fraction_bound"
        conf = check_confidence(where, confidence)
        upper = self._upper(where, "", side or "upper")
        hits, n = self._count(predicate)
        value = rate_bound(hits, n, conf, upper)
        name = getattr(predicate, "__name__", "")
        what = "the share of paths where " + (f"{name}(row)" if name and name != "<lambda>" else "the predicate") \
               + " holds"
        short = "" if n else "no successful path to count"
        return Bound(value, what, "upper" if upper else "lower", conf, hits / n if n else math.nan,
                     f"{hits} of {n} successful paths", short)

    def worst_path(self, metric: str = "max_drawdown") -> int:
        """The index of the path with the worst value of ``metric`` (failed paths last)."""
        worse = metric_row(metric).worse
        if worse not in (HIGHER, LOWER):
            raise ScenarioError(f"worst({metric!r}): {metric} has no worse direction; use values({metric!r}) or "
                                "fraction(...) instead")
        vals = self.values(metric)
        higher = worse == HIGHER
        vals = np.where(np.isnan(vals), -np.inf if higher else np.inf, vals)
        return int(np.argmax(vals) if higher else np.argmin(vals))

    def worst(self, metric: str = "max_drawdown") -> ScenarioResult:
        """The full run of the path with the worst value of ``metric`` (its ``seed`` reruns it
        alone), rebuilt by rerunning that seed here when it was reduced in a worker.

        Only metrics with a worse direction have a worst path (``docs/metrics.md``).
        """
        return self.run(self.worst_path(metric))

    def run(self, path: int) -> ScenarioResult:
        """Path ``path``'s full ``ScenarioResult``: kept, or rerun from its seed in this process
        (checked bit-identical with its row; a mismatch is logged as a warning)."""
        if not 0 <= path < self.paths:
            raise ScenarioError(f"path = {path!r}; expected 0 <= path < {self.paths}")
        if path in self._runs:
            return self._runs[path]
        row = PathRow(self.table, path)
        if not row.success:
            return ScenarioResult(scenario_name=self.scenario.name, scenario_type=self.scenario.type.value,
                                  seed=row.seed, success=False, error=row.error,
                                  initial_equity=self.scenario.initial_equity,
                                  final_equity=self.scenario.initial_equity)
        if self._rerun is None:
            raise ScenarioError(f"path {path} (seed {row.seed}) was reduced to its metrics and this PathsResult "
                                "cannot rerun it; run it alone with scenario.replace(seed=...)")
        result = self._rerun(path)
        differ = [m for m in METRIC_FIELDS
                  if not _same(getattr(result, m), row.metrics()[m])] if result.success else ["success"]
        if differ:
            log.warning("path %d (seed %d) of %r: its rerun in this process differs from its run in the worker (%s): "
                        "the trader is not deterministic from the seed (global random state, the clock, ...?)",
                        path, row.seed, self.scenario.name, ", ".join(differ[:5]))
        self._runs[path] = result
        return result

    @property
    def worst_seed(self) -> int:
        """The seed of the path with the deepest drawdown: ``@stress(name, seed=...)`` reruns it."""
        return int(self.table.seeds[self.worst_path("max_drawdown")])

    @property
    def success(self) -> bool:
        return bool(self.table.success.all())

    def fan(self, width: int = DEFAULT_COLUMNS) -> dict[str, Any] | None:
        """The report's percentile bands of equity (``fan_of``) over the kept cut curves (the
        first ``FAN_PATHS`` paths; ``width``: other than the default, from kept full runs only)."""
        sketches = self._sketches
        if width != DEFAULT_COLUMNS:   # sketches were cut at DEFAULT_COLUMNS: cut the kept runs again
            chunk = PathChunk(0, PathTable.empty(self.paths))
            for i, r in self._runs.items():
                reduce_path(chunk, i, r.seed, r, width=width)
            sketches = chunk.sketches
        return fan_of([sketches[i] for i in sorted(sketches)], width)

    def summary(self) -> dict[str, Any]:
        """The aggregate in the one JSON form: median and 95th percentile of each metric over
        its finite values, and the worst path's seed."""
        finite_ok = np.isfinite(self.table.values)
        medians: dict[str, float] = {}
        p95: dict[str, float] = {}
        for m, j in _INDEX.items():
            finite = self.table.values[finite_ok[:, j], j]
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


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    fa, fb = float(a), float(b)
    return fa == fb or (math.isnan(fa) and math.isnan(fb))
