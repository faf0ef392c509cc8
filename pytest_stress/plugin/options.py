"""Command-line and ini options (all ``--stress-*`` / ``stress_*``) and their resolved values."""
from __future__ import annotations

import argparse
import math
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import ScenarioError, close_matches
from ..account.rules import ACCOUNT_PRESETS, account_from
from ..exchange.config import preset
from ..workers import DEFAULT_GRACE, DEFAULT_TIMEOUT

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


def _seconds(text: str, name: str = "--stress-timeout") -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected seconds, such as 300 or 2.5") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected a finite number of seconds >= 0"
                                         + (" (0: no time limit)" if name == "--stress-timeout" else ""))
    return value


def _grace_seconds(text: str) -> float:
    return _seconds(text, "--stress-timeout-grace")


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


#: How a stress case decides: over the scenario's paths (the default), or on one seed (a smoke run).
VERDICT_MODES = ("scenario", "seed")

#: The verdict rule's knobs: (command-line option, ini name, check of a value, what is valid).
_RULE_KNOBS = {
    "pass_rate": ("--stress-pass-rate", "a share of paths in (0, 1), such as 0.01"),
    "fail_rate": ("--stress-fail-rate", "a share of paths in (0, 1), such as 0.10"),
    "confidence": ("--stress-confidence", "a probability in (0.5, 1), such as 0.95"),
    "max_paths": ("--stress-max-paths", "a whole number >= 1, such as 300"),
}


def check_rule_value(name: str, value: Any, where: str) -> float | int:
    """One verdict knob's value, checked on its own (the rule checks them together when it is
    built): raises ``ScenarioError`` naming ``where``, the value and what is valid."""
    valid = _RULE_KNOBS[name][1]
    given = value
    if isinstance(value, str):
        try:
            value = int(value) if name == "max_paths" else float(value)
        except ValueError:
            raise ScenarioError(f"{where} = {value!r}: expected {valid}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{where} = {given!r}: expected {valid}")
    if name == "max_paths":
        if not isinstance(value, int) or value < 1:
            raise ScenarioError(f"{where} = {given!r}: expected {valid}")
        return value
    low = 0.5 if name == "confidence" else 0.0
    if not low < value < 1:
        raise ScenarioError(f"{where} = {given!r}: expected {valid}")
    return float(value)


def _verdict_mode(text: str) -> str:
    raw = str(text).strip().lower()
    if raw not in VERDICT_MODES:
        hint = close_matches(raw, VERDICT_MODES)
        raise argparse.ArgumentTypeError(f"--stress-verdict = {text!r}: expected 'scenario' (decide over the "
                                         "scenario's paths) or 'seed' (one draw: a smoke run)"
                                         + (f"; did you mean {hint[0]!r}?" if hint else ""))
    return raw


def _rule_option(name: str):
    def parse(text: str) -> float | int:
        try:
            return check_rule_value(name, text, _RULE_KNOBS[name][0])
        except ScenarioError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


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
    group.addoption("--stress-timeout-grace", type=_grace_seconds, default=None, metavar="SECONDS",
                    help=f"seconds a case interrupted at its time limit gets to stop before its process is ended "
                         f"(default {DEFAULT_GRACE:g}; under xdist that costs only the case, see the README)")
    group.addoption("--stress-save-fresh", action="store_true", default=False,
                    help="with --stress-save: write the file afresh instead of merging this run's cases into it")
    group.addoption("--stress-save-detail", action="store_true", default=False,
                    help="with --stress-save: also save every case's curves and trades (for a report)")
    group.addoption("--stress-compare-strict", action="store_true", default=False,
                    help="with --stress-compare: a baseline made under other options (exchange, account, bars, "
                         "seed) is an error, not a warning")
    group.addoption("--stress-report", default=None, metavar="PATH",
                    help="write a self-contained HTML report (charts of every case; "
                         "needs pytest-stress-trading[report])")
    group.addoption("--stress-path-workers", type=_path_workers, default=None, metavar="N|auto",
                    help="worker processes for a case's Monte Carlo paths (paths=); default auto: the cores "
                         "divided by the xdist workers, at least 1 (1: in the test's own process)")
    group.addoption("--stress-verdict", type=_verdict_mode, default=None, metavar="scenario|seed",
                    help="scenario (default): decide each case over the scenario's paths, path after path, until a "
                         "sequential test says PASS or FAIL with bounded error; seed: run one seed only (a quick "
                         "smoke run whose verdict is one draw)")
    group.addoption("--stress-pass-rate", type=_rule_option("pass_rate"), default=None, metavar="SHARE",
                    help="a case passes if its assertion fails on at most this share of paths (default 0.01)")
    group.addoption("--stress-fail-rate", type=_rule_option("fail_rate"), default=None, metavar="SHARE",
                    help="a case fails if its assertion fails on at least this share of paths (default 0.10)")
    group.addoption("--stress-confidence", type=_rule_option("confidence"), default=None, metavar="P",
                    help="each wrong verdict (a false PASS, a false FAIL) at most 1 - P likely (default 0.95)")
    group.addoption("--stress-max-paths", type=_rule_option("max_paths"), default=None, metavar="N",
                    help="at most this many paths per case (default 300); "
                         "undecided there, the likelihood ratio decides")
    parser.addini("stress_verdict", "scenario or seed (see --stress-verdict)", default="")
    for knob, (flag, _) in _RULE_KNOBS.items():
        parser.addini(f"stress_{knob}", f"see {flag}", default="")
    parser.addini("stress_exchange", "default exchange preset (see --stress-exchange)", default="calm")
    parser.addini("stress_account", "default account (see --stress-account)", default="")
    parser.addini("stress_bars", "default bar-count override (see --stress-bars)", default="")
    parser.addini("stress_seed", "default seed override (see --stress-seed)", default="")
    parser.addini("stress_compare", "default baseline to compare with (see --stress-compare)", default="")
    parser.addini("stress_timeout", "default time limit of each stress case in seconds (see --stress-timeout)",
                  default="")
    parser.addini("stress_timeout_grace", "see --stress-timeout-grace", default="")
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
    timeout_grace: float = DEFAULT_GRACE   # after the limit, seconds before the case's process is ended
    save_fresh: bool = False
    save_detail: bool = False
    compare_strict: bool = False
    report: str | None = None
    path_workers: int | str = "auto"   # worker processes for Monte Carlo paths, or "auto"
    verdict: str = "scenario"          # "scenario": over the scenario's paths; "seed": one draw
    rule: dict[str, float | int] = field(default_factory=dict)   # the verdict knobs set (the rest: defaults)

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
                return _seconds(raw, "--" + name.replace("_", "-"))
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

        def option_or_ini(name: str, parse: Any, default: Any) -> Any:
            """The command line's value, else the ini's (parsed as the option is), else ``default``."""
            value = getattr(opt, name)
            if value is not None:
                return value
            raw = str(config.getini(name) or "").strip()
            try:
                return parse(raw) if raw else default
            except argparse.ArgumentTypeError as exc:
                raise pytest.UsageError(f"ini option {name}: {exc}") from None

        path_workers = option_or_ini("stress_path_workers", _path_workers, "auto")
        verdict = option_or_ini("stress_verdict", _verdict_mode, "scenario")
        rule: dict[str, float | int] = {}
        for knob in _RULE_KNOBS:
            value = getattr(opt, f"stress_{knob}")
            if value is None:
                raw = str(config.getini(f"stress_{knob}") or "").strip()
                try:
                    value = check_rule_value(knob, raw, f"ini option stress_{knob}") if raw else None
                except ScenarioError as exc:
                    raise pytest.UsageError(str(exc)) from None
            if value is not None:
                rule[knob] = value
        if "pass_rate" in rule and "fail_rate" in rule and not rule["pass_rate"] < rule["fail_rate"]:
            raise pytest.UsageError(f"--stress-pass-rate = {rule['pass_rate']:g} is not below --stress-fail-rate = "
                                    f"{rule['fail_rate']:g}: the pass rate is the acceptable share of failing paths, "
                                    "the fail rate the unacceptable one")
        # a flag that modifies another option does nothing alone: said, not ignored
        lonely = [(flag, partner) for flag, given, partner in (
            ("--stress-save-fresh", opt.stress_save_fresh, "--stress-save=PATH"),
            ("--stress-save-detail", opt.stress_save_detail, "--stress-save=PATH"),
        ) if given and not opt.stress_save]
        compare = opt.stress_compare or ini_path("stress_compare")
        lonely += [(flag, partner) for flag, given, partner in (
            ("--stress-compare-fail", bool(opt.stress_compare_fail), "--stress-compare=PATH (or ini stress_compare)"),
            ("--stress-compare-strict", opt.stress_compare_strict, "--stress-compare=PATH (or ini stress_compare)"),
        ) if given and not compare]
        if lonely:
            flag, partner = lonely[0]
            raise pytest.UsageError(f"{flag} was given without {partner}; it only changes what that option does, so "
                                    "alone it would do nothing")

        return cls(
            verdict=verdict,
            rule=rule,
            exchange=exchange,
            account=account,
            bars=opt.stress_bars if opt.stress_bars is not None else ini_int("stress_bars"),
            seed=opt.stress_seed if opt.stress_seed is not None else ini_int("stress_seed"),
            scenarios=list(opt.stress_scenario),
            save=opt.stress_save,
            compare=compare,
            compare_fail=list(opt.stress_compare_fail) or ini_fail,
            record_errors=opt.stress_record_errors,
            timeout=opt.stress_timeout if opt.stress_timeout is not None else ini_seconds("stress_timeout"),
            timeout_grace=next(v for v in (opt.stress_timeout_grace, ini_seconds("stress_timeout_grace"),
                                           DEFAULT_GRACE) if v is not None),
            save_fresh=opt.stress_save_fresh,
            save_detail=opt.stress_save_detail,
            compare_strict=opt.stress_compare_strict or bool(config.getini("stress_compare_strict")),
            report=opt.stress_report,
            path_workers=path_workers,
        )

    def reproduce(self, *, seed: int | None = None, verdict: str | None = None) -> str:
        """The command-line options that reproduce this run's stress settings (``seed`` and
        ``verdict``: instead of the session's, to rerun one path alone)."""
        parts = [f"--stress-exchange={self.exchange}"]
        if self.account is not None:
            parts.append(f"--stress-account={shlex.quote(self.account)}")
        if self.bars is not None:
            parts.append(f"--stress-bars={self.bars}")
        seed = self.seed if seed is None else seed
        if seed is not None:
            parts.append(f"--stress-seed={seed}")
        parts += [f"--stress-scenario={shlex.quote(s)}" for s in self.scenarios]
        if self.record_errors:
            parts.append("--stress-record-errors")
        verdict = verdict or self.verdict
        if verdict != "scenario":
            parts.append(f"--stress-verdict={verdict}")
        else:
            parts += [f"{_RULE_KNOBS[k][0]}={v:g}" for k, v in self.rule.items()]
        return " ".join(parts)

    def check_paths(self) -> None:
        """At start-up, before any case runs: ``--stress-save`` and ``--stress-report`` are files that
        can be written (their folder exists and is writable; no folder is created), and the
        ``--stress-compare`` baseline exists. Raises ``pytest.UsageError`` naming the option."""
        from pathlib import Path   # lazy: only a session that saves, reports or compares needs it

        from ..errors import StressError   # lazy: as above
        from ..outputs import check_output_path   # lazy: as above

        for flag, path, example in (("--stress-save", self.save, "baseline.json"),
                                    ("--stress-report", self.report, "stress-report.html")):
            if path:
                try:
                    check_output_path(path, flag, example)
                except StressError as exc:
                    raise pytest.UsageError(str(exc)) from None
        if self.compare and not Path(self.compare).is_file():
            what = "is a directory, not a file" if Path(self.compare).is_dir() else "does not exist"
            raise pytest.UsageError(f"--stress-compare: no baseline at {self.compare!r} (it {what}); create one with "
                                    f"--stress-save={self.compare}, or give the path of one")

    def as_dict(self) -> dict[str, Any]:
        return {"exchange": self.exchange, "account": account_from(self.account).describe(), "bars": self.bars,
                "seed": self.seed, "scenarios": self.scenarios, "verdict": self.verdict, "rule": dict(self.rule)}
