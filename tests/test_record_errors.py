"""Issue 28 item 12: every piece of the trader's code that raises is named (scenario, bar, component) or,
with record_errors=True, counted in component_errors while the run goes on: bus subscribers, what on_fill
returns, and indicators(feed)."""
import numpy as np
import pytest

from pytest_stress import Scenario, buy, compose, run_scenario
from pytest_stress.errors import LookAheadError, ScenarioError

SC = Scenario("rec", bars=60, seed=3)


class Buys:
    """Buys one unit on bars 5 and 20 (fills on 6 and 21)."""

    def __init__(self, bad_fill_answer=None):
        self.bad = bad_fill_answer

    def on_bar(self, ctx):
        return buy(0.01) if ctx.t in (5, 20) else None

    def on_fill(self, execution, ctx):
        return self.bad


class Model:
    def generate(self, ctx):
        return {"BTCUSDT": 0.5 if ctx.t in range(5, 8) or ctx.t in range(20, 23) else 0.0}


def subscribed(topic, fail_on):
    system = compose(Model())
    heard = []

    def listener(topic_, payload):
        heard.append(topic_)
        if topic_ == fail_on:
            raise RuntimeError(f"listener broke on {topic_}")
    system.bus.subscribe(topic, listener)
    return system, heard


@pytest.mark.parametrize("topic", ["fill", "bar", "order"])
def test_a_bus_subscriber_that_raises_is_named_or_recorded(topic):
    system, _ = subscribed(topic, topic)
    with pytest.raises(RuntimeError, match=f"listener broke on {topic}") as info:
        run_scenario(SC, system, "frictionless")
    note = "\n".join(info.value.__notes__)
    assert "in scenario 'rec' at bar" in note and "event-bus subscriber" in note and f"on {topic!r}" in note
    system, heard = subscribed(topic, topic)
    res = run_scenario(SC, system, "frictionless", record_errors=True)
    assert res.success and res.bars_processed == 60
    assert res.component_errors == heard.count(topic) >= 2       # every one counted, and the run went on
    assert f"on {topic!r}: RuntimeError: listener broke on {topic}" in res.component_error_details[0]


def test_another_subscriber_still_hears_the_event_when_one_raises():
    system, heard = subscribed("fill", "fill")
    also = []
    system.bus.subscribe("fill", lambda topic, payload: also.append(payload.bar))
    res = run_scenario(SC, system, "frictionless", record_errors=True)
    assert len(also) == res.component_errors == heard.count("fill") >= 2


@pytest.mark.parametrize("answer,message", [(True, "returned True"), ("sell", "returned 'sell'"),
                                            ([buy(1), 3], "item 1 is 3")])
def test_an_invalid_on_fill_answer_is_named_or_recorded(answer, message):
    with pytest.raises(ScenarioError, match=message) as info:
        run_scenario(SC, Buys(answer), "frictionless")
    assert "at bar 6" in "\n".join(info.value.__notes__) and "on_fill hook (its return value)" in \
        "\n".join(info.value.__notes__)
    res = run_scenario(SC, Buys(answer), "frictionless", record_errors=True)
    assert res.success and res.component_errors == 2
    assert res.component_error_details[0].startswith("bar 6 (") and "on_fill hook (its return value)" in \
        res.component_error_details[0]


class BadIndicators:
    def indicators(self, feed):
        raise ZeroDivisionError("indicator bug")

    def on_bar(self, ctx):
        return None


class ReadsMissing(BadIndicators):
    def on_bar(self, ctx):
        return buy(0.01) if ctx.value("x") > 0 else None


def test_an_indicators_hook_that_raises_is_named_or_recorded():
    with pytest.raises(ZeroDivisionError) as info:
        run_scenario(SC, BadIndicators())
    note = "\n".join(info.value.__notes__)
    assert "in scenario 'rec' at bar 0" in note and "indicators(feed) hook, computed once before the first bar" in note
    res = run_scenario(SC, BadIndicators(), record_errors=True)
    assert res.success and res.component_errors == 1
    assert "indicators(feed) hook" in res.component_error_details[0] and "indicator bug" in \
        res.component_error_details[0]
    res = run_scenario(SC, ReadsMissing(), record_errors=True)     # each read of the lost indicator, recorded too
    assert res.component_errors == 1 + 60 and res.orders_submitted == 0


class Peeks:
    def indicators(self, feed):
        c = np.asarray(feed.close[0], dtype=float)
        return {"x": np.r_[c[1:], np.nan]}

    def on_bar(self, ctx):
        return None


def test_a_peeking_indicator_is_never_recorded_away():
    with pytest.raises(LookAheadError):
        run_scenario(SC, Peeks(), record_errors=True)
