"""The fixtures a stress test uses; override any of them in your conftest.py."""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ..account.rules import Account, account_from
from ..exchange.config import ExchangeConfig, preset
from .session import RESULT_KEY, SESSION_KEY, VERDICT_KEY

if TYPE_CHECKING:   # the simulation (numpy, the library) is imported when a case runs, not at start-up
    from ..result.models import ScenarioResult
    from ..result.paths import PathsResult
    from ..result.verdicts import VerdictResult
    from ..scenario.definition import Scenario
    from ..verdict import VerdictRule
    from .marker import StressSpec

__all__ = ["trader_factory", "trader_under_test", "stress_base_data", "stress_scenario", "stress_exchange",
           "stress_account",
           "exchange_sim", "stress_result", "stress_runner", "StressRunner", "VerdictPlan", "BreakingPlan"]

#: The trader the default ``trader_under_test`` built from ``trader_factory`` for a case: a
#: module that overrides the fixture gives another object, whose copies its paths then run.
_BUILT_KEY = pytest.StashKey[Any]()

#: A case whose run failed while its fixtures were set up (the trader raised, the time limit ran
#: out, the scenario does not fit its bars or data, a Monte Carlo path failed): the exception, which
#: ``pytest_pyfunc_call`` raises again as the test is called. pytest then reports the test FAILED
#: with the same message and traceback; at setup it would be an ERROR, which to pytest users means
#: a broken fixture. The test body never runs. A fixture that cannot do its own job (no trader
#: defined, no marker) still fails at setup.
CASE_FAILURE_KEY = pytest.StashKey[BaseException]()


def _case_failed(request: pytest.FixtureRequest, exc: BaseException) -> None:
    """Keep ``exc`` for the test call (``CASE_FAILURE_KEY``); a scenario problem (a ``StressError``)
    becomes its one-line message, a trader's exception stays itself, with its traceback."""
    from ..errors import StressError   # lazy: light, but only needed once a case failed

    if isinstance(exc, StressError):
        failure: BaseException = pytest.fail.Exception(str(exc), pytrace=False)
    else:
        failure = exc
    request.node.stash.setdefault(CASE_FAILURE_KEY, failure)   # the first failure is the case's

MISSING_TRADER = """pytest-stress needs your trading system. Define it in your conftest.py, either as
a factory (lets property tests and Monte Carlo paths build a fresh one each time):

    @pytest.fixture(scope="session")
    def trader_factory():
        return MyTrader            # any zero-argument callable returning a fresh trader

or as the trader itself:

    @pytest.fixture
    def trader_under_test():
        return MyTrader()

A trader is any object with on_bar(ctx) returning orders (pytest_stress.buy/sell), or
pytest_stress.compose(model, risk_guard=..., governor=..., ...) of your components."""


def _spec_and_item(request: pytest.FixtureRequest) -> tuple[StressSpec, Any]:
    callspec = getattr(request.node, "callspec", None)
    param = callspec.params.get("stress_scenario") if callspec else None
    if param is None:
        pytest.fail("this test uses pytest-stress fixtures but has no @stress(...) marker; add "
                    "@stress('Black Swan Combo') (or @stress() for every library scenario), or use the "
                    "stress_runner fixture to run scenarios yourself", pytrace=False)
    return param


@pytest.fixture(scope="session")
def trader_factory() -> Callable[[], Any] | None:
    """Override: a zero-argument callable that builds a fresh trader (None: not given)."""
    return None


@pytest.fixture
def trader_under_test(request: pytest.FixtureRequest, trader_factory: Callable[[], Any] | None) -> Any:
    """Override: the trading system under test (default: ``trader_factory()``)."""
    if trader_factory is None:
        pytest.fail(MISSING_TRADER, pytrace=False)
    if not callable(trader_factory):
        pytest.fail(f"trader_factory returned {trader_factory!r}, an instance; it must return a callable that "
                    f"builds a fresh trader: `return {type(trader_factory).__name__}` (the class) or "
                    f"`return lambda: {type(trader_factory).__name__}(...)`", pytrace=False)
    trader = trader_factory()
    request.node.stash[_BUILT_KEY] = trader
    return trader


@pytest.fixture
def stress_base_data() -> Any:
    """Override to run library scenarios on your own market: a mapping of symbol -> DataFrame
    (or CSV/Parquet path), a path with ``{symbol}``, or a historical source. None: synthetic."""
    return None


@pytest.fixture
def stress_scenario(request: pytest.FixtureRequest, stress_base_data: Any) -> Scenario:
    """The scenario of this case, with the marker's and the command line's overrides applied."""
    spec, item = _spec_and_item(request)
    opts = request.config.stash[SESSION_KEY].options
    if opts.bars is None and opts.seed is None:
        return spec.scenario(item, data=stress_base_data)
    from ..errors import StressError   # lazy: light, but only needed with the session's overrides

    try:
        return spec.scenario(item, bars=opts.bars, seed=opts.seed, data=stress_base_data)
    except StressError as exc:
        # the session's --stress-bars/--stress-seed do not fit this case (a stress window longer
        # than the bars): the test fails with the message when called, and until then other fixtures
        # see the scenario as the marker defines it (validated at collection); the body never runs
        _case_failed(request, exc)
        return spec.scenario(item, data=stress_base_data)


@pytest.fixture
def exchange_sim(request: pytest.FixtureRequest, stress_scenario: Scenario) -> ExchangeConfig:
    """The old name of ``stress_exchange``, kept so that existing overrides keep working."""
    spec, _ = _spec_and_item(request)
    chosen = spec.overrides.get("exchange") or request.config.stash[SESSION_KEY].options.exchange
    return preset(chosen) if isinstance(chosen, str) else chosen


@pytest.fixture
def stress_exchange(exchange_sim: ExchangeConfig) -> ExchangeConfig:
    """The simulated exchange's configuration (override to set your fees, latency, limits):
    the marker's ``exchange=``, else ``--stress-exchange``. The scenario's faults (failure
    rate, latency multiplier) are applied on top of it."""
    return exchange_sim


@pytest.fixture
def stress_account(request: pytest.FixtureRequest, stress_scenario: Scenario) -> Account:
    """The account the case trades in (override to use your venue's margin rules): the marker's
    ``account=``, else ``--stress-account``, else the default 1x margin account."""
    spec, _ = _spec_and_item(request)
    chosen = spec.overrides.get("account") or request.config.stash[SESSION_KEY].options.account
    return account_from(chosen)


def fresh_traders(trader: Any, factory: Callable[[], Any] | None) -> Callable[[], Any]:
    """What builds each path's trader: ``factory``, or copies of ``trader`` as it is now (before its
    first bar) when there is no factory (a module's own ``trader_under_test``)."""
    if factory is not None:
        return factory
    pristine = copy.deepcopy(trader)
    return lambda: copy.deepcopy(pristine)


def run_case(scenario: Scenario, exchange: ExchangeConfig | str, *, trader: Any = None,
             factory: Callable[[], Any] | None = None, paths: int | None = None,
             account: Account | str | None = None, record_errors: bool = False,
             path_workers: int | str = "auto") -> ScenarioResult | PathsResult:
    """Run one case: on ``paths`` Monte Carlo paths (each with a fresh trader from ``factory``,
    or a deep copy of ``trader``; in ``path_workers`` processes), or once with ``trader`` (or
    ``factory()``)."""
    from ..runner import run_paths, run_scenario   # lazy: the simulation, once a case runs

    if paths:
        return run_paths(scenario, fresh_traders(trader, factory), paths, exchange, account=account,
                         record_errors=record_errors, workers=path_workers,
                         timeout=None)   # the case's own time limit applies (plugin/timelimit.py)
    return run_scenario(scenario, trader if trader is not None else factory(), exchange,   # type: ignore[misc]
                        account=account, record_errors=record_errors)


@dataclass
class _PathsPlan:
    """What a case run over its scenario's paths needs: the scenario, fresh traders, the venue,
    the account, the verdict's rule and where the paths run."""

    scenario: Scenario
    factory: Callable[[], Any]
    exchange: ExchangeConfig
    account: Account
    record_errors: bool
    rule: VerdictRule
    workers: int | str


@dataclass
class VerdictPlan(_PathsPlan):
    """A case decided over its scenario's paths: what ``pytest_pyfunc_call`` needs to run the
    test body on path after path (``runner.run_verdict``). Path 0 ran in the fixture (``first``)."""

    first: tuple[ScenarioResult, Any]

    def run(self, check: Callable[[ScenarioResult, Any], None]) -> VerdictResult:
        from ..runner import run_verdict   # lazy: the simulation, once a case runs

        return run_verdict(self.scenario, self.factory, check, self.exchange, rule=self.rule, account=self.account,
                           record_errors=self.record_errors, workers=self.workers, first=self.first)


@dataclass
class BreakingPlan(_PathsPlan):
    """A case with a breaking-point search (``@stress(..., breaking_point=True)``): what
    ``pytest_pyfunc_call`` needs to run the search with the test body as its check
    (``breaking.search_breaking_point``), and then the body once more with the answer."""

    parameter: str | None
    search_range: tuple[float, float] | None
    precision: float | None

    def search(self, check: Callable[[ScenarioResult, Any], None]) -> Any:
        from ..breaking import search_breaking_point   # lazy: the simulation, once a case runs

        low, high = self.search_range or (None, None)
        return search_breaking_point(self.scenario, self.factory, check, parameter=self.parameter, low=low, high=high,
                                     precision=self.precision, exchange=self.exchange, account=self.account,
                                     rule=self.rule, record_errors=self.record_errors, workers=self.workers)

    def shown_run(self, bp: Any) -> tuple[ScenarioResult, Any]:
        """The run the body is called with once the search is done: the first path that held at the
        bracket's passing end (at its failing end when nothing passed), and its trader."""
        from ..breaking import run_where_it_held   # lazy: as above

        return run_where_it_held(bp, self.scenario, self.factory, self.exchange, account=self.account,
                                 record_errors=self.record_errors)


@pytest.fixture
def stress_result(request: pytest.FixtureRequest, stress_scenario: Scenario, trader_under_test: Any,
                  stress_exchange: ExchangeConfig, stress_account: Account,
                  trader_factory: Callable[[], Any] | None) -> ScenarioResult | PathsResult:
    """The run the test asserts on. By default the test is decided over the scenario's paths:
    this is path 0's result, and the test body then runs on path after path (each a fresh
    trader: from ``trader_factory``, or copies of a module's own ``trader_under_test``) until
    the verdict is decided (``VerdictPlan``, ``runner.run_verdict``). With ``verdict="seed"``,
    the scenario's own seed, once; with ``paths=N``, a ``PathsResult`` of N seeded paths.

    A run that fails here (the trader raises, the time limit, a scenario that does not fit its
    data) fails the test when it is called, with the same message (``CASE_FAILURE_KEY``); this
    fixture then gives None."""
    spec, _ = _spec_and_item(request)
    if CASE_FAILURE_KEY in request.node.stash:   # stress_scenario failed already
        return None   # type: ignore[return-value]
    try:
        return _run_for_test(request, spec, stress_scenario, trader_under_test, stress_exchange, stress_account,
                             trader_factory)
    except (Exception, pytest.fail.Exception) as exc:   # re-raised by pytest_pyfunc_call, never dropped
        _case_failed(request, exc)
        return None   # type: ignore[return-value]


def _run_for_test(request: pytest.FixtureRequest, spec: StressSpec, stress_scenario: Scenario,
                  trader_under_test: Any, stress_exchange: ExchangeConfig, stress_account: Account,
                  trader_factory: Callable[[], Any] | None) -> ScenarioResult | PathsResult:
    """``stress_result``'s run (see there)."""
    opts = request.config.stash[SESSION_KEY].options
    record = spec.overrides.get("record_errors", opts.record_errors)
    own = request.node.stash.get(_BUILT_KEY, None) is not trader_under_test   # the module's own trader
    factory = None if own else trader_factory
    mode = spec.mode(opts)
    if mode == "breaking":
        from ..severity import resolve_parameter   # lazy: the simulation, once a case runs

        parameter = spec.breaking if isinstance(spec.breaking, str) else None
        request.node.stash[VERDICT_KEY] = BreakingPlan(
            stress_scenario, fresh_traders(trader_under_test, factory), stress_exchange, stress_account, record,
            spec.rule(opts), opts.path_workers,
            None if parameter is None else resolve_parameter(stress_scenario, parameter),
            spec.overrides.get("search_range"), spec.overrides.get("precision"))
    if mode in ("scenario", "breaking"):
        from ..runner import run_scenario   # lazy: the simulation, once a case runs
        from ..scenario.definition import derive_seed   # lazy: as above

        build = fresh_traders(trader_under_test, factory)
        trader = build()
        first = run_scenario(stress_scenario.replace(seed=derive_seed(stress_scenario.seed, 0)), trader,
                             stress_exchange, account=stress_account, record_errors=record)
        if mode == "scenario":
            request.node.stash[VERDICT_KEY] = VerdictPlan(stress_scenario, build, stress_exchange, stress_account,
                                                          record, spec.rule(opts), opts.path_workers, (first, trader))
        return first
    result = run_case(stress_scenario, stress_exchange, trader=trader_under_test, factory=factory,
                      paths=spec.overrides.get("paths"), account=stress_account, record_errors=record,
                      path_workers=opts.path_workers)
    request.node.stash[RESULT_KEY] = (result, spec.overrides.get("tolerance"))
    from ..result.paths import PathsResult   # lazy: loaded by run_case already

    if isinstance(result, PathsResult) and not result.success:   # a path's trader raised or its worker died
        first_failure = result.failures[0]
        pytest.fail(f"{len(result.failures)} of {result.paths} Monte Carlo paths of {stress_scenario.name!r} failed; "
                    f"path {first_failure.path} (seed {first_failure.seed}, rerun alone with "
                    f"@stress(..., seed={first_failure.seed}, verdict='seed')):\n{first_failure.error}", pytrace=False)
    return result


class StressRunner:
    """Run scenarios from inside a test (for hypothesis property tests): a fresh trader each call.

    A library name gets the session's ``--stress-bars``/``--stress-seed``; a ``Scenario``
    object (such as one hypothesis drew) runs exactly as given.
    """

    def __init__(self, factory: Callable[[], Any] | None, exchange: str, bars: int | None = None,
                 seed: int | None = None, account: str | None = None, path_workers: int | str = "auto") -> None:
        self._factory = factory
        self._path_workers = path_workers
        self._exchange = exchange
        self._account = account
        self._overrides = {k: v for k, v in (("bars", bars), ("seed", seed)) if v is not None}
        from .properties import RunLog   # light: a dataclass

        #: what this runner ran for the current test (the plugin reports it as the test's case)
        self.log = RunLog()

    def __call__(self, scenario: Scenario | str, trader: Any = None, *,
                 exchange: ExchangeConfig | str | None = None, paths: int | None = None,
                 account: Account | str | None = None, record_errors: bool = False) -> ScenarioResult | PathsResult:
        if isinstance(scenario, str):
            from .. import library   # lazy: the scenario library, once a test runs a scenario

            scenario = library.get(scenario, **self._overrides)
        if trader is None and self._factory is None:
            pytest.fail(MISSING_TRADER, pytrace=False)
        venue = exchange if exchange is not None else self._exchange
        result = run_case(scenario, venue, trader=trader, factory=self._factory if trader is None else None,
                          paths=paths, account=account if account is not None else self._account,
                          record_errors=record_errors, path_workers=self._path_workers)
        self.log.add(scenario, result, venue)
        return result


@pytest.fixture(scope="session")
def stress_runner(request: pytest.FixtureRequest, trader_factory: Callable[[], Any] | None) -> StressRunner:
    """``stress_runner(scenario, trader=None)`` runs a scenario with a fresh trader from
    ``trader_factory``; session-scoped, so hypothesis ``@given`` tests can use it."""
    opts = request.config.stash[SESSION_KEY].options
    return StressRunner(trader_factory, opts.exchange, opts.bars, opts.seed, opts.account, opts.path_workers)
