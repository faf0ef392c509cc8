"""Command-line and ini options (all ``--stress-*`` / ``stress_*``) and their resolved values."""
from __future__ import annotations

import argparse
import math
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import ScenarioError
from ..account.rules import ACCOUNT_PRESETS, account_from
from ..exchange.config import preset
from ..workers import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from .compare import Threshold

__all__ = ["add_options", "StressOptions"]


def _threshold(text: str) -> Threshold:
    from .compare import parse_threshold   # lazy: the metric table (numpy) only when a threshold is given

    try:
        return parse_threshold(text)
    except ScenarioError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected a whole number") from None
        if value < (2 if name == "--stress-bars" else 0):
            raise argparse.ArgumentTypeError(
                f"{name} = {value}: expected {'at least 2 bars' if name == '--stress-bars' else 'a seed >= 0'}")
        return value
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--stress-timeout = {text!r}: expected seconds, such as 300 or 2.5") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"--stress-timeout = {text!r}: expected a finite number of seconds >= 0 "
                                         "(0: no time limit)")
    return value


def _path_workers(text: str) -> int | str:
    """``auto`` or a whole number >= 1 (``--stress-path-workers``, ini ``stress_path_workers``)."""
    raw = str(text).strip().lower()
    if raw == "auto":
        return "auto"
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--stress-path-workers = {text!r}: expected a whole number >= 1, or 'auto' "
                                         "(the cores divided by the xdist workers)")
    return value


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("stress", "pytest-stress (stress-test your trading system)")
    group.addoption("--stress-list", action="store_true", default=False,
                    help="list the scenario library (names, ids, types, descriptions) and exit")
    group.addoption("--stress-scenario", action="append", default=[], metavar="NAME",
                    help="run only these scenarios (name or id, repeatable); other stress cases are deselected")
    group.addoption("--stress-bars", type=_positive_int("--stress-bars"), default=None, metavar="N",
                    help="override every scenario's bar count (a quick run)")
    group.addoption("--stress-seed", type=_positive_int("--stress-seed"), default=None, metavar="SEED",
                    help="override every scenario's seed")
    group.addoption("--stress-exchange", default=None, metavar="PRESET",
                    help="exchange preset for exchange_sim: frictionless, calm (default) or stressed")
    group.addoption("--stress-account", default=None, metavar="ACCOUNT",
                    help="the account every case trades in: " + ", ".join(ACCOUNT_PRESETS)
                         + " (default: margin, 1x), or NAME:key=value,... such as perpetual:leverage=10,mode=cross")
    group.addoption("--stress-save", default=None, metavar="PATH",
                    help="write every stress result to PATH (JSON with a schema version): a baseline to commit")
    group.addoption("--stress-compare", default=None, metavar="PATH",
                    help="compare this run's results with a file written by --stress-save")
    group.addoption("--stress-compare-fail", action="append", default=[], type=_threshold,
                    metavar="METRIC:THRESHOLD",
                    help="fail the session if METRIC got worse than the baseline by more than THRESHOLD "
                         "(absolute, or percent with %%), e.g. max_drawdown:2 or total_pnl:10%% (repeatable)")
    group.addoption("--stress-record-errors", action="store_true", default=False,
                    help="record exceptions from the trader in component_errors instead of failing the case")
    group.addoption("--stress-timeout", type=_seconds, default=None, metavar="SECONDS",
                    help=f"time limit of each stress case (default {DEFAULT_TIMEOUT:g}; 0: none), enforced by "
                         "pytest-timeout: a case past it fails naming its scenario and bar, the session goes on")
    group.addoption("--stress-save-fresh", action="store_true", default=False,
                    help="with --stress-save: write the file afresh instead of merging this run's cases into it")
    group.addoption("--stress-save-detail", action="store_true", default=False,
                    help="with --stress-save: also save every case's curves and trades (for a report)")
    group.addoption("--stress-compare-strict", action="store_true", default=False,
                    help="with --stress-compare: a baseline made under other options (exchange, account, bars, "
                         "seed) is an error, not a warning")
    group.addoption("--stress-report", default=None, metavar="PATH",
                    help="write a self-contained HTML report (charts of every case; needs pytest-stress[report])")
    group.addoption("--stress-path-workers", type=_path_workers, default=None, metavar="N|auto",
                    help="worker processes for a case's Monte Carlo paths (paths=); default auto: the cores "
                         "divided by the xdist workers, at least 1 (1: in the test's own process)")
    parser.addini("stress_exchange", "default exchange preset (see --stress-exchange)", default="calm")
    parser.addini("stress_account", "default account (see --stress-account)", default="")
    parser.addini("stress_bars", "default bar-count override (see --stress-bars)", default="")
    parser.addini("stress_seed", "default seed override (see --stress-seed)", default="")
    parser.addini("stress_compare", "default baseline to compare with (see --stress-compare)", default="")
    parser.addini("stress_timeout", "default time limit of each stress case in seconds (see --stress-timeout)",
                  default="")
    parser.addini("stress_compare_strict", "see --stress-compare-strict", type="bool", default=False)
    parser.addini("stress_path_workers", "default worker processes for Monte Carlo paths (see --stress-path-workers)",
                  default="")
    parser.addini("stress_compare_fail", "default compare-fail thresholds, one per line", type="linelist",
                  default=[])


@dataclass
class StressOptions:
    """The options of this session: the command line first, then the ini file."""

    exchange: str = "calm"
    account: str | None = None
    bars: int | None = None
    seed: int | None = None
    scenarios: list[str] = field(default_factory=list)
    save: str | None = None
    compare: str | None = None
    compare_fail: list[Threshold] = field(default_factory=list)
    record_errors: bool = False
    timeout: float | None = None       # None: not set (the default applies, or pytest-timeout's own setting)
    save_fresh: bool = False
    save_detail: bool = False
    compare_strict: bool = False
    report: str | None = None
    path_workers: int | str = "auto"   # worker processes for Monte Carlo paths, or "auto"

    @classmethod
    def from_config(cls, config: pytest.Config) -> "StressOptions":
        opt = config.option

        def ini_int(name: str) -> int | None:
            raw = str(config.getini(name) or "").strip()
            if not raw:
                return None
            try:
                return int(raw)
            except ValueError:
                raise pytest.UsageError(f"ini option {name} = {raw!r}: expected a whole number") from None

        account = opt.stress_account or str(config.getini("stress_account") or "").strip() or None
        try:
            account_from(account)
        except ScenarioError as exc:
            raise pytest.UsageError(f"--stress-account: {exc}") from None
        def ini_seconds(name: str) -> float | None:
            raw = str(config.getini(name) or "").strip()
            if not raw:
                return None
            try:
                return _seconds(raw)
            except argparse.ArgumentTypeError as exc:
                raise pytest.UsageError(f"ini option {name}: {exc}") from None

        exchange = opt.stress_exchange or config.getini("stress_exchange") or "calm"
        try:
            preset(exchange)
        except ScenarioError as exc:
            raise pytest.UsageError(f"--stress-exchange: {exc}") from None
        ini_fail: list[Threshold] = []
        try:
            for text in config.getini("stress_compare_fail"):
                from .compare import parse_threshold   # lazy: the metric table (numpy) only when a threshold is given

                ini_fail.append(parse_threshold(text))
        except ScenarioError as exc:
            raise pytest.UsageError(f"ini option stress_compare_fail: {exc}") from None
        def ini_path(name: str) -> str | None:
            raw = str(config.getini(name) or "").strip()
            if not raw:
                return None
            base = config.inipath.parent if config.inipath else config.rootpath
            return str(base / raw)        # an ini file's paths are relative to the ini file

        path_workers = opt.stress_path_workers
        if path_workers is None:
            raw = str(config.getini("stress_path_workers") or "").strip()
            try:
                path_workers = _path_workers(raw) if raw else "auto"
            except argparse.ArgumentTypeError as exc:
                raise pytest.UsageError(f"ini option stress_path_workers: {exc}") from None

        return cls(
            exchange=exchange,
            account=account,
            bars=opt.stress_bars if opt.stress_bars is not None else ini_int("stress_bars"),
            seed=opt.stress_seed if opt.stress_seed is not None else ini_int("stress_seed"),
            scenarios=list(opt.stress_scenario),
            save=opt.stress_save,
            compare=opt.stress_compare or ini_path("stress_compare"),
            compare_fail=list(opt.stress_compare_fail) or ini_fail,
            record_errors=opt.stress_record_errors,
            timeout=opt.stress_timeout if opt.stress_timeout is not None else ini_seconds("stress_timeout"),
            save_fresh=opt.stress_save_fresh,
            save_detail=opt.stress_save_detail,
            compare_strict=opt.stress_compare_strict or bool(config.getini("stress_compare_strict")),
            report=opt.stress_report,
            path_workers=path_workers,
        )

    def reproduce(self) -> str:
        """The command-line options that reproduce this run's stress settings."""
        parts = [f"--stress-exchange={self.exchange}"]
        if self.account is not None:
            parts.append(f"--stress-account={shlex.quote(self.account)}")
        if self.bars is not None:
            parts.append(f"--stress-bars={self.bars}")
        if self.seed is not None:
            parts.append(f"--stress-seed={self.seed}")
        parts += [f"--stress-scenario={shlex.quote(s)}" for s in self.scenarios]
        if self.record_errors:
            parts.append("--stress-record-errors")
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"exchange": self.exchange, "account": account_from(self.account).describe(), "bars": self.bars,
                "seed": self.seed, "scenarios": self.scenarios}
