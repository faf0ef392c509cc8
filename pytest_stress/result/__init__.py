"""Results of a run: records, the scenario result, Monte Carlo aggregates, the metric table."""
from .metrics import METRIC_FIELDS, METRICS, Metric
from .models import ExecutionResult, ScenarioResult, TradeRecord
from .paths import PathsResult

__all__ = ["ScenarioResult", "TradeRecord", "ExecutionResult", "PathsResult", "METRIC_FIELDS", "METRICS", "Metric"]
