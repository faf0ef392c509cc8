"""Data quality: find what is wrong with bars, report it, and repair only when asked."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataQualityError, ScenarioError, unknown_name_message
from .data import FUNDING_FIELD, MarketData

__all__ = ["Finding", "QualityReport", "validate", "validate_frame", "repair_frame", "REPAIR_POLICIES",
           "require_valid"]

PRICE_COLUMNS = ("open", "high", "low", "close")
#: Findings that are reported but do not make the data unusable.
WARNINGS = frozenset({"gaps"})


@dataclass(frozen=True)
class Finding:
    check: str
    count: int
    examples: tuple[str, ...]   #: the first few offending timestamps (or row numbers)


@dataclass
class QualityReport:
    """What ``validate`` found, per symbol and check. ``ok`` is False if any error was found."""

    findings: dict[str, list[Finding]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(f.check not in WARNINGS for fs in self.findings.values() for f in fs)

    def count(self, check: str) -> int:
        return sum(f.count for fs in self.findings.values() for f in fs if f.check == check)

    def __str__(self) -> str:
        if not any(self.findings.values()):
            return "data quality: no findings"
        lines = ["data quality findings:"]
        for symbol, fs in self.findings.items():
            for f in fs:
                kind = "warning" if f.check in WARNINGS else "error"
                lines.append(f"  {symbol}: {f.check}: {f.count} ({kind}), e.g. {', '.join(f.examples)}")
        return "\n".join(lines)


def _finding(check: str, mask: np.ndarray, labels: pd.Index | np.ndarray) -> Finding | None:
    n = int(np.count_nonzero(mask))
    if n == 0:
        return None
    where = np.flatnonzero(mask)[:3]
    return Finding(check, n, tuple(str(labels[i]) for i in where))


def validate_frame(frame: pd.DataFrame, expected_step: pd.Timedelta | None = None) -> list[Finding]:
    """Check one symbol's OHLCV (+ optional spread) frame on a DatetimeIndex."""
    idx = frame.index
    cols = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns if c in
            (*PRICE_COLUMNS, "volume", "spread", "depth")}
    o, h, lo, c = (cols[k] for k in PRICE_COLUMNS)
    ts = idx.asi8 if isinstance(idx, pd.DatetimeIndex) else np.asarray(idx, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        checks = {
            "nan": np.any(np.isnan(np.vstack(list(cols.values()))), axis=0),
            "infinite": np.any(np.isinf(np.vstack(list(cols.values()))), axis=0),
            "non_positive_price": np.any(np.vstack([o, h, lo, c]) <= 0, axis=0),
            "high_below_low": h < lo,
            "high_below_open_close": h < np.maximum(o, c),
            "low_above_open_close": lo > np.minimum(o, c),
            "negative_volume": cols["volume"] < 0,
            "negative_spread": cols["spread"] < 0 if "spread" in cols else np.zeros(len(idx), bool),
            "negative_depth": cols["depth"] < 0 if "depth" in cols else np.zeros(len(idx), bool),
            "duplicate_timestamp": np.r_[False, ts[1:] == ts[:-1]],
            "unsorted_timestamp": np.r_[False, ts[1:] < ts[:-1]],
        }
        if len(ts) > 2:
            diffs = np.diff(ts)
            step = (expected_step.value if expected_step is not None
                    else int(np.median(diffs[diffs > 0])) if np.any(diffs > 0) else 0)
            checks["gaps"] = np.r_[False, diffs > step] if step else np.zeros(len(ts), bool)
    return [f for name, m in checks.items() if (f := _finding(name, m, idx)) is not None]


def validate(market_or_frames) -> QualityReport:
    """A report of every finding in a ``MarketData`` or a mapping of symbol -> DataFrame.

    Returns the report; it never raises and never changes the data.
    """
    frames = market_or_frames.frames() if isinstance(market_or_frames, MarketData) else market_or_frames
    report = QualityReport()
    for symbol, frame in frames.items():
        missing = [c for c in (*PRICE_COLUMNS, "volume") if c not in frame.columns]
        if missing:
            raise ScenarioError(f"validate: {symbol!r} has no {missing} column(s); columns are {list(frame.columns)}")
        if len(frame) < 2:
            raise ScenarioError(f"market data for {symbol!r} has {len(frame)} bar(s); a run needs at least 2")
        report.findings[symbol] = validate_frame(frame)
    return report


def _drop(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[~frame.index.duplicated(keep="first")].sort_index()
    o, h, lo, c = (frame[k].to_numpy(np.float64) for k in PRICE_COLUMNS)
    # (funding prints are empty on the bars without one: never a reason to drop a bar)
    num = frame.drop(columns=FUNDING_FIELD, errors="ignore").select_dtypes("number").to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        bad_rows = (~np.isfinite(num).all(axis=1) | (np.vstack([o, h, lo, c]) <= 0).any(axis=0) | (h < lo)
                    | (h < np.maximum(o, c)) | (lo > np.minimum(o, c)) | (frame["volume"].to_numpy() < 0))
        for col in ("spread", "depth"):
            if col in frame:
                bad_rows |= frame[col].to_numpy() < 0
    return frame[~bad_rows]


def _fill(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[~frame.index.duplicated(keep="last")].sort_index().copy()
    prints = frame.pop(FUNDING_FIELD) if FUNDING_FIELD in frame else None     # a print is never carried over
    frame = frame.replace([np.inf, -np.inf], np.nan)
    frame = frame.where(frame[list(PRICE_COLUMNS)].gt(0).reindex(columns=frame.columns, fill_value=True))
    frame = frame.ffill().dropna()
    if prints is not None:
        frame[FUNDING_FIELD] = prints.reindex(frame.index)
    frame["high"] = frame[["open", "high", "low", "close"]].max(axis=1)
    frame["low"] = frame[["open", "high", "low", "close"]].min(axis=1)
    frame["volume"] = frame["volume"].clip(lower=0)
    for col in ("spread", "depth"):
        if col in frame:
            frame[col] = frame[col].clip(lower=0)
    return frame


#: Named repair policies. ``drop``: remove every bad row (duplicates keep the first);
#: ``fill``: sort, keep the last duplicate, carry the last good value over NaN, infinite or
#: non-positive prices, widen high/low to contain open/close, clip negatives to 0.
#: Gaps are never filled: a bar that did not happen is not invented.
REPAIR_POLICIES = {"drop": _drop, "fill": _fill}


def repair_frame(frame: pd.DataFrame, policy: str) -> pd.DataFrame:
    if policy not in REPAIR_POLICIES:
        raise ScenarioError(unknown_name_message("repair policy", policy, REPAIR_POLICIES))
    return REPAIR_POLICIES[policy](frame)


def require_valid(frames: dict[str, pd.DataFrame], repair: str | None) -> dict[str, pd.DataFrame]:
    """The frames if valid, repaired by the named policy if asked, else a ``DataQualityError``."""
    if repair is not None:
        frames = {s: repair_frame(f, repair) for s, f in frames.items()}
    report = validate(frames)
    if not report.ok:
        hint = "" if repair else (
            "; to repair it instead, name a policy ('drop' bad rows, or 'fill' them from the previous bar): "
            "Scenario(..., repair='drop'), library.get(name, data=..., repair='drop'), @stress(..., repair='drop'), "
            "or return (data, 'drop') from the stress_base_data fixture")
        raise DataQualityError(f"invalid market data{hint}\n{report}", report)
    return frames
