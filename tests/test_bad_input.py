"""Bad data and bad options get errors that name the thing, the value and what would be valid."""
import textwrap

import numpy as np
import pandas as pd
import pytest

from pytest_stress import Scenario, library, run_scenario, strategies
from pytest_stress.errors import DataGapWarning, DataQualityError, ScenarioError

pytest_plugins = ["pytester"]


def frame(n=200, freq="1h", seed=0, start="2024-01-01"):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[100, close[:-1]]
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.001,
                         "low": np.minimum(open_, close) * 0.999, "close": close, "volume": 1000.0}, index=idx)


class Hold:
    def on_bar(self, ctx):
        return None


@pytest.mark.parametrize("column", ["high", "close", "volume"])
def test_infinite_values_are_rejected_like_nan(column):
    df = frame()
    df.iloc[50, df.columns.get_loc(column)] = np.inf
    with pytest.raises(DataQualityError, match="infinite"):
        run_scenario(Scenario("d", data={"BTCUSDT": df}), Hold())


def test_repair_is_an_option_where_data_enters():
    df = frame()
    df.iloc[50, df.columns.get_loc("close")] = np.inf
    with pytest.raises(DataQualityError, match="repair='drop'"):
        Scenario("d", data={"BTCUSDT": df}).build_market()
    with pytest.warns(DataGapWarning, match="1 gap"):
        views = Scenario("d", data={"BTCUSDT": df}, repair="drop").build_market()
    assert views.true.n_bars == 199 and np.isfinite(views.true.values).all()
    views = library.get("BTC Flash Crash 2021", data={"BTCUSDT": df}, repair="fill").build_market()
    assert views.true.n_bars == 200 and np.isfinite(views.true.values).all()
    with pytest.raises(ScenarioError, match="repair = 'mend'; expected one of None, 'drop', 'fill'"):
        Scenario("d", repair="mend")


@pytest.mark.parametrize("data,message", [
    ({"BTCUSDT": frame().iloc[:0]}, "'BTCUSDT' has 0 bar"),
    ({"BTCUSDT": frame().iloc[:1]}, "'BTCUSDT' has 1 bar"),
])
def test_empty_or_single_bar_data_is_a_clear_error(data, message):
    with pytest.raises(ScenarioError, match=message):
        Scenario("d", data=data).build_market()


def test_symbols_without_common_bars_are_a_clear_error():
    data = {"BTCUSDT": frame(start="2024-01-01"), "ETHUSDT": frame(start="2025-01-01")}
    with pytest.raises(ScenarioError, match="share 0 bar"):
        Scenario("d", symbols=("BTCUSDT", "ETHUSDT"), data=data).build_market()


@pytest.mark.parametrize("freq,timeframe", [("1D", "1d"), ("1min", "1m"), ("4h", "4h")])
def test_the_timeframe_is_inferred_from_the_data(freq, timeframe):
    df = frame(freq=freq)
    sc = library.get("BTC Flash Crash 2021", data={"BTCUSDT": df})
    assert sc.timeframe is None
    assert sc.build_market().true.timeframe == timeframe


def test_a_timeframe_that_contradicts_the_data_is_an_error():
    with pytest.raises(ScenarioError, match="timeframe = '1h' contradicts the data: its bars are '1d' apart"):
        Scenario("d", data={"BTCUSDT": frame(freq="1D")}, timeframe="1h").build_market()


def test_daily_data_is_annualised_as_daily():
    df = frame(n=400, freq="1D")
    res = run_scenario(Scenario("d", data={"BTCUSDT": df}), Hold())
    assert res.bars_processed == 400 and res.timestamps[1] - res.timestamps[0] == 86_400 * 10**9


def test_the_repr_of_a_scenario_rebuilds_it():
    from hypothesis import given, settings

    @settings(max_examples=20, deadline=None)
    @given(strategies.scenarios(bars=200))
    def check(sc):
        assert eval(repr(sc), {"Scenario": Scenario}) == sc   # noqa: S307 - the repr is meant to be pasted back

    check()


def test_parameters_must_be_a_mapping():
    with pytest.raises(ScenarioError, match="parameters = None; expected a mapping"):
        Scenario("x", parameters=None)


# -- errors at collection, shown alone ------------------------------------------------------------
CONFTEST = textwrap.dedent('''
    import pytest

    class Hold:
        def on_bar(self, ctx):
            return None

    @pytest.fixture(scope="session")
    def trader_factory():
        return Hold
''')


@pytest.mark.parametrize("override,message", [
    ("bars=-5", "bars = -5; expected an integer >= 2"),
    ("parameters={'drop_pctt': 0.5}", "unknown parameter 'drop_pctt'"),
    ("parameters={'drop_pct': 1.5}", "'drop_pct' = 1.5 is invalid"),
    ("timeframe='7x'", "unknown timeframe '7x'"),
    ("exchange='nasdaq'", "unknown exchange preset 'nasdaq'"),
    ("tolerance={'max_drawdwn': '5%'}", "unknown metric 'max_drawdwn'"),
    ("account='perp'", "unknown account preset 'perp'"),
])
def test_bad_marker_overrides_fail_at_collection_with_the_message_alone(pytester, override, message):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a=textwrap.dedent(f'''
        from pytest_stress import stress

        @stress("BTC Flash Crash 2021", {override})
        def test_x(stress_result):
            pass
    '''))
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    out = res.stdout.str()
    assert message in out
    assert "collected 0 items / 1 error" in out or "1 error" in out
    assert "pytest_stress/" not in out.split("short test summary")[0].split("ERROR collecting")[-1]


def test_a_factory_that_is_an_instance_says_what_to_write(pytester):
    pytester.makeconftest(CONFTEST.replace("return Hold", "return Hold()"))
    pytester.makepyfile(test_a=textwrap.dedent('''
        from pytest_stress import stress

        @stress("BTC Flash Crash 2021", bars=50)
        def test_x(stress_result):
            pass
    '''))
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.stdout.fnmatch_lines(["*trader_factory returned <*Hold object*>, an instance*`return Hold` (the class)*"])


def test_the_rerun_line_carries_the_session_options(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a=textwrap.dedent('''
        from pytest_stress import stress

        @stress("Black Swan Combo")
        def test_x(stress_result):
            assert stress_result.bars_processed < 0
    '''))
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--stress-exchange=stressed", "--stress-seed=42",
                                        "--stress-bars=600")
    res.stdout.fnmatch_lines(["rerun: pytest 'test_a.py::test_x?black-swan-combo?' --stress-exchange=stressed "
                              "--stress-bars=600 --stress-seed=42*"])


def test_a_stress_window_that_does_not_fit_says_how_many_bars_it_needs():
    with pytest.raises(ScenarioError, match="flash_crash window \\(5 bars from 50% of the run\\) does not fit in 3 "
                                            "bars; it needs at least 9 bars"):
        Scenario("x", "flash_crash", bars=3)
    Scenario("x", "flash_crash", bars=9)
    with pytest.raises(ScenarioError, match="does not fit in 40 bars; it needs at least"):
        library.get("Black Swan Combo", bars=40)
    with pytest.raises(ScenarioError, match="does not fit in 8 bars"):      # given data: checked when it is loaded
        library.get("BTC Flash Crash 2021", data={"BTCUSDT": frame(n=8)}).build_market()


def test_stress_base_data_can_name_a_repair_policy(pytester):
    pytester.makeconftest(CONFTEST + textwrap.dedent('''
        import numpy as np
        import pandas as pd

        @pytest.fixture
        def stress_base_data():
            idx = pd.date_range("2024-01-01", periods=300, freq="1h", tz="UTC")
            close = np.linspace(100, 120, 300)
            df = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                               "volume": 1000.0}, index=idx)
            df.iloc[40, df.columns.get_loc("close")] = np.inf
            return {"BTCUSDT": df}, "drop"
    '''))
    pytester.makepyfile(test_a=textwrap.dedent('''
        from pytest_stress import stress

        @stress("BTC Flash Crash 2021")
        def test_x(stress_result):
            assert stress_result.bars_processed == 299
    '''))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


# -- issue 28 item 13: values accepted that should not be, refused where they are given ----------
def _account(**kw):
    from pytest_stress import Account
    return Account.perpetual(**kw)


def _exchange(**kw):
    from pytest_stress.exchange.config import ExchangeConfig
    return ExchangeConfig(**kw)


def _account_spec(spec):
    from pytest_stress.account.rules import account_from
    return account_from(spec)


@pytest.mark.parametrize("call,message", [
    (lambda: _account(funding="modle"), "funding = 'modle'; expected None, 'model', a rate per interval"),
    (lambda: _account(funding=True), "funding = True; expected None, 'model'"),
    (lambda: _account(funding=pd.Series([0.001, 0.5], index=pd.date_range("2024", periods=2, freq="8h"))),
     r"funding\[2024-01-01 08:00:00\] = 0.5; expected a rate per interval in \(-0.1, 0.1\)"),
    (lambda: _account(tiers={"BTCUSDT": "tier1"}), r"tiers\['BTCUSDT'\] = 'tier1'; expected a TierTable"),
    (lambda: _account(tiers="binance"), "tiers = 'binance'; expected None .* or a non-empty mapping"),
    (lambda: Scenario("x", "flash_crash", {"duration_bars": float("nan")}),
     r"'duration_bars' = nan is invalid \(not finite\); expected an integer in \[1, 10000\]"),
    (lambda: Scenario("x", "flash_crash", {"duration_bars": float("inf")}),
     r"'duration_bars' = inf is invalid \(not finite\); expected an integer in \[1, 10000\]"),
    (lambda: Scenario("x", "flash_crash", {"drop_pct": True}), r"'drop_pct' = True is invalid \(not a number\)"),
    (lambda: Scenario("x", "flash_crash", {"drop_pct": "0.3"}), r"'drop_pct' = '0.3' is invalid \(not a number\)"),
    (lambda: _exchange(charge_spread="no"), "charge_spread = 'no'; expected True or False"),
    (lambda: _exchange(carry_remainder="False"), "carry_remainder = 'False'; expected True or False"),
    (lambda: _exchange(failure_rate=True), r"failure_rate = True; expected a number in \[0, 1\]"),
    (lambda: Scenario("x", initial_equity=True), "initial_equity = True; expected a number > 0"),
    (lambda: _account_spec("cash:max_leverage=3"),
     "'max_leverage=3' is not key=value with a key among check .*applies to margin and perpetual accounts"),
    (lambda: _account_spec("cash:leverage=3"), "'leverage' applies to margin and perpetual accounts, not to 'cash'"),
    (lambda: _account_spec("margin:mode=cross"), "'mode' applies to perpetual accounts, not to 'margin'"),
    (lambda: _account_spec("perpetual:leverage=5,leverage=7"), "leverage is given twice; give each key once"),
    (lambda: _account_spec("perpetual:leverage=5,max_leverage=7"), "leverage is given twice"),
    (lambda: _account_spec("perpetual:funding=modle"), "funding = 'modle'; expected None, 'model'"),
    (lambda: __import__("pytest_stress").Account(kind="cash", max_leverage=3.0),
     "Account.cash: max_leverage = 3.0 does not apply to a cash account"),
])
def test_values_accepted_before_are_refused_naming_value_and_range(call, message):
    with pytest.raises(ScenarioError, match=message):
        call()


@pytest.mark.parametrize("value", [np.int64(5), np.int32(5), np.float64(5.0), np.float32(5.0), 5])
def test_numpy_numbers_are_numbers(value):
    from pytest_stress import Account
    from pytest_stress.exchange.config import ExchangeConfig
    sc = Scenario("x", "flash_crash", {"duration_bars": value, "drop_pct": value / 10}, initial_equity=value * 1000)
    assert sc.parameters["duration_bars"] == 5 and type(sc.parameters["duration_bars"]) is int
    assert sc.initial_equity == 5000.0
    acct = Account.perpetual(leverage=value, funding=value / 10_000)
    assert acct.max_leverage == 5.0 and type(acct.funding) is float and "0.0500%" in acct.describe()
    assert ExchangeConfig(latency_ms=value).latency_ms == 5.0


@pytest.mark.parametrize("value", [np.bool_(True), True])
def test_bools_are_not_numbers(value):
    with pytest.raises(ScenarioError, match="not a number"):
        Scenario("x", "flash_crash", {"duration_bars": value})


@pytest.mark.parametrize("flags,message", [
    (["--stress-save-fresh"], "--stress-save-fresh was given without --stress-save=PATH"),
    (["--stress-save-detail"], "--stress-save-detail was given without --stress-save=PATH"),
    (["--stress-compare-strict"], "--stress-compare-strict was given without --stress-compare=PATH"),
    (["--stress-compare-fail=max_drawdown:2"], "--stress-compare-fail was given without --stress-compare=PATH"),
])
def test_a_flag_without_the_option_it_modifies_is_a_usage_error(pytester, flags, message):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a="def test_x():\n    pass\n")
    res = pytester.runpytest_inprocess("-p", "no:cacheprovider", *flags)     # in process: cheap
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines([f"ERROR: {message}*alone it would do nothing"])


@pytest.mark.parametrize("override,message", [
    ("record_errors='no'", "record_errors = 'no'; expected True"),
    ("account='cash:max_leverage=3'", "'max_leverage' applies to margin and perpetual accounts, not to 'cash'"),
    ("initial_equity=True", "initial_equity = True; expected a number > 0"),
    ("paths=np.int64(3), bars=50", None),
])
def test_marker_values_are_checked_at_collection(pytester, override, message):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a=textwrap.dedent(f'''
        import numpy as np
        from pytest_stress import stress

        @stress("BTC Flash Crash 2021", {override})
        def test_x(stress_result):
            pass
    '''))
    res = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--collect-only", "-q")   # in process: cheap
    if message is None:
        res.assert_outcomes()
        assert res.ret == pytest.ExitCode.OK
    else:
        assert message in res.stdout.str() and res.ret == pytest.ExitCode.INTERRUPTED


HEADER = b"time,open,high,low,close,volume\n"


@pytest.mark.parametrize("name,content,message", [
    ("empty.csv", b"", "data file '.*empty.csv' is empty; expected a CSV with a header row"),
    ("binary.csv", bytes(range(256)) * 4, "data file '.*binary.csv' is not a readable CSV .*expected text"),
    ("garbage.csv", HEADER + b"2024-01-01 00:00,1,2,0.5,1,10\nsoon,1,2,0.5,1,10\n",
     r"file '.*garbage.csv'\), column 'time': row 1 has time 'soon'; expected epoch seconds or milliseconds, or "
     "ISO 8601"),
    ("dup.csv", b"time,open,open,high,low,close,volume\n2024-01-01,1,1,2,0.5,1,10\n2024-01-02,1,1,2,0.5,1,10\n",
     "data file '.*dup.csv' has the column 'open' twice; expected one column per field"),
    ("alias.csv", b"time,o,open,high,low,close,volume\n2024-01-01,1,1,2,0.5,1,10\n2024-01-02,1,1,2,0.5,1,10\n",
     "columns 'o' and 'open' both give 'open'; expected one column per field"),
    ("offsets.csv", HEADER + b"2024-01-01 00:00+02:00,1,2,0.5,1,10\n2024-01-01 01:00,1,2,0.5,1,10\n",
     "times mix UTC offsets and none .*row 1: '2024-01-01 01:00'"),
])
def test_bad_files_are_errors_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ScenarioError, match=message):
        Scenario("d", data={"BTCUSDT": str(path)}).build_market()


def test_symbols_mixing_naive_and_aware_times_are_an_error():
    data = {"BTCUSDT": frame(), "ETHUSDT": frame().tz_localize(None)}
    with pytest.raises(ScenarioError, match="'ETHUSDT' has times without a time zone and 'BTCUSDT' with one"):
        Scenario("d", symbols=("BTCUSDT", "ETHUSDT"), data=data).build_market()
    data = {"BTCUSDT": frame().tz_localize(None), "ETHUSDT": frame().tz_localize(None)}   # all naive: UTC
    assert Scenario("d", symbols=("BTCUSDT", "ETHUSDT"), data=data).build_market().true.n_bars == 200


def test_a_gap_in_the_data_is_a_warning_naming_its_length():
    df = frame(n=300)
    df = df.drop(df.index[100:124])
    with pytest.warns(DataGapWarning, match=r"\(BTCUSDT, 1h bars\): 1 gap\(s\).*24 missing bar\(s\), after "
                                            "2024-01-05 03:00:00"):
        Scenario("d", data={"BTCUSDT": df}).build_market()


# -- issue 28 item 9: any regular bar length, named as inferred ------------------------------------
@pytest.mark.parametrize("freq,timeframe,seconds", [("10min", "10m", 600), ("90s", "90s", 90), ("45min", "45m", 2700),
                                                     ("2D", "2d", 172_800), ("15min", "15m", 900)])
def test_any_regular_bar_length_is_run_as_itself(freq, timeframe, seconds):
    market = Scenario("d", data={"BTCUSDT": frame(freq=freq)}).build_market().true
    assert market.timeframe == timeframe and market.bar_seconds == seconds
    assert Scenario("d", data={"BTCUSDT": frame(freq=freq)}, timeframe=timeframe).build_market().true.timeframe \
        == timeframe


class BuyOnce:
    def on_bar(self, ctx):
        if ctx.t == 0:
            return strategies_buy(ctx.equity / ctx.price / 2)
        return None


def strategies_buy(qty):
    from pytest_stress import buy
    return buy(qty)


def test_ten_minute_data_is_annualised_as_ten_minutes():
    df = frame(n=400, freq="10min")
    res = run_scenario(Scenario("d", data={"BTCUSDT": df}), BuyOnce(), "frictionless")
    hourly = df.set_axis(pd.date_range("2024-01-01", periods=400, freq="1h", tz="UTC"))
    res_h = run_scenario(Scenario("d", data={"BTCUSDT": hourly}), BuyOnce(), "frictionless")
    assert res.total_return_pct == res_h.total_return_pct != 0       # the same bars, each 10 min (was: 15 min)
    assert res.volatility_pct / res_h.volatility_pct == pytest.approx(6 ** 0.5, rel=1e-9)
    with pytest.raises(ScenarioError, match="timeframe = '15m' contradicts the data: its bars are '10m' apart .*"
                                            r"Leave timeframe unset to use the data's \('10m'\)"):
        Scenario("d", data={"BTCUSDT": df}, timeframe="15m").build_market()
    assert res.bars_processed == 400


def test_an_impossible_timeframe_lists_what_is_valid():
    with pytest.raises(ScenarioError, match="unknown timeframe '10x'.*'1h'.*or any whole number of s, m, h, d or w"):
        Scenario("x", timeframe="10x")
    assert Scenario("x", timeframe="10m", bars=50).build_market().true.bar_seconds == 600    # synthetic too


@pytest.mark.parametrize("call,message", [
    (lambda: __import__("pytest_stress").Order("buy", 1.0, None, "limit", 100.0, 90.0),
     "stop_price = 90.0 on a limit order, which does not use it; expected stop_price only on a stop order"),
    (lambda: __import__("pytest_stress").Order("buy", 1.0, None, "market", 100.0),
     "limit_price = 100.0 on a market order"),
    (lambda: __import__("pytest_stress").Order("sell", 1.0, None, "stop", 100.0, 90.0),
     "limit_price = 100.0 on a stop order"),
])
def test_a_price_the_order_type_does_not_use_is_refused(call, message):
    with pytest.raises(ScenarioError, match=message):
        call()


class CancelsNothing:
    def __init__(self, what):
        self.what = what

    def on_bar(self, ctx):
        if ctx.t == 3:
            ctx.cancel(self.what)
        return None


def test_cancelling_an_id_that_never_existed_is_an_error():
    from pytest_stress import buy
    with pytest.raises(ScenarioError, match=r"cancel\(123456\): no order with id 123456 was ever sent in this run "
                                            r"\(ids so far: 1 to 0\)") as info:
        run_scenario(Scenario("d", bars=20), CancelsNothing(123456))
    assert "at bar 3" in "\n".join(info.value.__notes__)

    class CancelsFilled:                       # an id that was sent (and has filled since): no error
        def on_bar(self, ctx):
            if ctx.t == 1:
                return buy(0.01)
            if ctx.t == 5:
                ctx.cancel(np.int64(1))
            return None
    assert run_scenario(Scenario("d", bars=20), CancelsFilled()).component_errors == 0


@pytest.mark.parametrize("shape", [(2, 50), (50, 1), (1, 1, 50), (50, 50)])
def test_an_indicator_of_the_wrong_shape_is_named(shape):
    class Wrong:
        def indicators(self, feed):
            return {"x": np.zeros(shape)}

        def on_bar(self, ctx):
            return None
    with pytest.raises(ScenarioError, match=rf"indicator 'x' has shape \({', '.join(map(str, shape))},?\); expected "
                                            r"50 values \(one per bar\) or shape \(1, 50\)"):
        run_scenario(Scenario("d", bars=50), Wrong())
