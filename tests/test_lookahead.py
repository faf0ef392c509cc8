"""The trader cannot see the future by any documented route (each test reproduces a route that worked)."""
import numpy as np
import pandas as pd
import pytest

from pytest_stress import Scenario, compose, run_scenario
from pytest_stress.errors import LookAheadError, ScenarioError


class KeepsTheFeed:
    """Keeps the feed its indicators hook was given, and looks at the next bar through it."""

    def __init__(self):
        self.feed = None
        self.peeked = []

    def indicators(self, feed):
        self.feed = self.feed or feed
        return {}

    def on_bar(self, ctx):
        if ctx.t + 1 < self.feed.n_bars:
            self.peeked.append(self.feed.close[0, ctx.t + 1])


def test_a_kept_indicator_feed_reveals_nothing():
    tr = KeepsTheFeed()
    run_scenario(Scenario("x", bars=300), tr)
    assert len(tr.peeked) == 299 and np.isnan(tr.peeked).all()
    assert (tr.feed.timestamps == np.iinfo(np.int64).min).all()


class KeepsACloseView:
    """Keeps a view of one field (not the feed), and a copy of its timestamps' view."""

    def indicators(self, feed):
        self.close = feed.close[0]
        self.stamps = feed.timestamps[:10]
        return {}

    def on_bar(self, ctx):
        return None


def test_a_kept_view_of_one_field_reveals_nothing():
    tr = KeepsACloseView()
    run_scenario(Scenario("x", bars=300), tr)
    assert len(tr.close) > 200 and np.isnan(tr.close).all()      # the last call's bars (a proof cut), now NaN
    assert (tr.stamps == np.iinfo(np.int64).min).all()


class KeepsTheFeedInAModel(KeepsTheFeed):
    def generate(self, ctx):
        self.on_bar(ctx)


def test_a_kept_feed_reveals_nothing_through_compose_either():
    model = KeepsTheFeedInAModel()
    run_scenario(Scenario("x", bars=300), compose(model))
    assert np.isnan(model.peeked).all()


class LooksBehindTheView:
    """Each call of its hook reads the whole memory behind each array of its feed (``.base``,
    down to the array that owns the memory): nothing there may be a bar the call was not given."""

    def __init__(self):
        self.calls = []

    def indicators(self, feed):
        k, n = feed.n_symbols, feed.n_bars
        reach = []
        for a, given in ((feed.close, k * n), (feed.values, 7 * k * n), (feed.timestamps, n), (feed.close[0], k * n)):
            owner = a
            while owner.base is not None:
                owner = owner.base
            reach.append(np.asarray(owner).size == given)     # its memory holds this call's bars and no more
        self.calls.append((n, all(reach)))
        return {"c": np.array(feed.close[0], dtype=float)}

    def on_bar(self, ctx):
        return None


def test_no_call_of_the_proof_can_reach_bars_it_was_not_given():
    tr = LooksBehindTheView()
    run_scenario(Scenario("x", bars=400), tr)
    assert len(tr.calls) >= 4 and tr.calls[0][0] == 400          # the run's call, then the cuts
    assert all(clean for _, clean in tr.calls), tr.calls


class ReadsLater:
    """Keeps its feed without reading it, and reads a field only in on_bar."""

    def indicators(self, feed):
        self.feed = feed
        return {}

    def on_bar(self, ctx):
        if ctx.t == 5:
            self.seen = (self.feed.close[0, 6:].copy(), self.feed.values[3, 0, 6:].copy(), self.feed.timestamps[6:].copy())


def test_a_kept_feed_read_only_after_the_proof_gives_nothing():
    """A field first read after the proof (copied on first read) is NaN, not the market."""
    tr = ReadsLater()
    run_scenario(Scenario("x", bars=300), tr)
    close, values, stamps = tr.seen
    assert np.isnan(close).all() and np.isnan(values).all() and (stamps == np.iinfo(np.int64).min).all()


def _peeks(indicator):
    class Peeker:
        def indicators(self, feed):
            return {"x": indicator(feed)}

        def on_bar(self, ctx):
            return None

    return Peeker()


def _daily_mean(feed):
    idx = pd.DatetimeIndex(feed.timestamps.astype("datetime64[ns]"), tz="UTC")
    return pd.Series(feed.close[0], idx).groupby(idx.normalize()).transform("mean").to_numpy()


def _peek_late(feed):
    c = feed.close[0].copy()
    n = len(c)
    out = c.copy()
    out[n // 2:-1] = c[n // 2 + 1:]           # peeks only at absolute bars >= n/2
    return out


def _bfill(feed):
    return pd.Series(feed.close[0]).bfill().to_numpy()


def _interp(feed):
    c = feed.close[0]
    good = np.isfinite(c)
    x = np.arange(len(c))
    return np.interp(x, x[good], c[good])


def _centered(feed):
    return pd.Series(feed.close[0]).rolling(9, center=True).mean().to_numpy()


@pytest.mark.parametrize("indicator,scenario", [
    (_daily_mean, Scenario("x", bars=480, seed=5)),
    (_peek_late, Scenario("x", bars=600, seed=5)),
    (_bfill, Scenario("c", "data_corruption", {"corruption_pct": 0.15, "kinds": ["nan"]}, bars=600, seed=5)),
    (_interp, Scenario("c", "data_corruption", {"corruption_pct": 0.15, "kinds": ["nan"]}, bars=600, seed=5)),
    (_centered, Scenario("c", "data_corruption", {"corruption_pct": 0.15, "kinds": ["nan"]}, bars=600, seed=5)),
], ids=["groupby-day", "late-peek", "bfill", "interp", "rolling-center"])
def test_the_causality_proof_catches_indicators_that_peek(indicator, scenario):
    with pytest.raises(LookAheadError, match="looks ahead"):
        run_scenario(scenario, _peeks(indicator))


def test_causal_indicators_pass_the_proof_on_corrupted_feeds():
    def causal(feed):
        return pd.Series(feed.close[0]).ffill().rolling(9).mean().to_numpy()

    sc = Scenario("c", "data_corruption", {"corruption_pct": 0.15, "kinds": ["nan"]}, bars=600, seed=5)
    run_scenario(sc, _peeks(causal))


@pytest.mark.parametrize("bad,message", [(None, "returned None"), ([1, 2], "returned \\[1, 2\\]"),
                                         (3.0, "returned 3.0")])
def test_a_bad_indicators_hook_is_named(bad, message):
    class Bad:
        def indicators(self, feed):
            return bad

        def on_bar(self, ctx):
            return None

    with pytest.raises(ScenarioError, match=f"Bad.indicators\\(feed\\) {message}"):
        run_scenario(Scenario("x", bars=50), Bad())
