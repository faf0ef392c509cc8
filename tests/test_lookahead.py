"""The trader cannot see the future by any documented route (each test reproduces a route that worked)."""
import numpy as np
import pandas as pd
import pytest

from pytest_stress import Scenario, compose, run_scenario
from pytest_stress.errors import LookAheadError, ScenarioError
from pytest_stress.indicators import ema, rolling_std, sma


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


# -- the proof against a table of kinds (issue 28, item 10) -----------------------------------------
CLEAN = Scenario("x", bars=600, seed=5)
CORRUPT = Scenario("c", "data_corruption", {"corruption_pct": 0.15, "kinds": ["nan"]}, bars=600, seed=5)


def _s(feed):
    return pd.Series(feed.close[0])


def _idx(feed):
    return pd.DatetimeIndex(feed.timestamps.astype("datetime64[ns]"), tz="UTC")


def _fft_lowpass(feed):
    c = np.nan_to_num(feed.close[0], nan=float(np.nanmean(feed.close[0])))
    f = np.fft.rfft(c)
    f[len(f) // 10:] = 0
    return np.fft.irfft(f, len(c))


def _fft_trailing_mean(feed, w=24):
    """A causal trailing mean computed by FFT convolution: rounding differs from a direct sum."""
    c = np.nan_to_num(feed.close[0])
    n = len(c)
    size = 1 << (2 * n - 1).bit_length()
    out = np.fft.irfft(np.fft.rfft(c, size) * np.fft.rfft(np.ones(w) / w, size), size)[:n]
    out[:w - 1] = np.nan
    return out


def _polyfit_line(feed):
    c = _s(feed).ffill().bfill().to_numpy()
    x = np.arange(len(c))
    return np.polyval(np.polyfit(x, c, 1), x)


def _daily_close(feed):
    s = pd.Series(feed.close[0], _idx(feed))
    return s.groupby(s.index.normalize()).transform("last").to_numpy()


def _early_peek(feed):
    c = feed.close[0].copy()
    k = min(60, len(c) - 1)
    c[:k] = feed.close[0][1:k + 1]           # peeks only at bars 1-60, the first tenth of the run
    return c


def _last_bar(feed):
    c = feed.close[0].copy()
    c[-2] = c[-1]                            # only the last bar is seen one bar early
    return c


def _savgol(feed):
    from scipy.signal import savgol_filter
    return savgol_filter(_s(feed).ffill().bfill().to_numpy(), 11, 2)


def _detrend(feed):
    from scipy.signal import detrend
    return detrend(_s(feed).ffill().bfill().to_numpy())


#: Indicators that use later bars, on the feeds where they do (bfill and interp look ahead only over NaN).
PEEKING = {
    "groupby-day": _daily_mean, "late-peek": _peek_late, "rolling-center": _centered,
    "shift-back-1": lambda f: _s(f).shift(-1).to_numpy(),
    "shift-back-24": lambda f: _s(f).shift(-24).to_numpy(),
    "next-3-mean": lambda f: _s(f).rolling(3).mean().shift(-2).to_numpy(),
    "sma-warmup-bfill": lambda f: _s(f).ffill().rolling(48).mean().bfill().to_numpy(),
    "ewm-warmup-bfill": lambda f: _s(f).ewm(span=20, min_periods=20).mean().bfill().to_numpy(),
    "full-max": lambda f: f.close[0] / np.nanmax(f.close[0]),
    "full-minmax": lambda f: (f.close[0] - np.nanmin(f.close[0])) / np.ptp(f.close[0][np.isfinite(f.close[0])]),
    "full-zscore": lambda f: (f.close[0] - np.nanmean(f.close[0])) / np.nanstd(f.close[0]),
    "full-rank": lambda f: _s(f).rank(pct=True).to_numpy(),
    "full-percentile": lambda f: (f.close[0] > np.nanpercentile(f.close[0], 90)).astype(float),
    "volume-share-of-max": lambda f: f.volume[0] / np.nanmax(f.volume[0]),
    "gradient": lambda f: np.gradient(f.close[0]),
    "convolve-same": lambda f: np.convolve(f.close[0], np.ones(5) / 5, mode="same"),
    "savgol": _savgol, "detrend": _detrend, "fft-lowpass": _fft_lowpass, "polyfit-line": _polyfit_line,
    "future-max": lambda f: np.maximum.accumulate(np.nan_to_num(f.close[0])[::-1])[::-1],
    "last-price": lambda f: np.full(f.n_bars, f.close[0][-1]),
    "daily-close": _daily_close, "early-peek": _early_peek, "last-bar": _last_bar,
    "qcut": lambda f: pd.qcut(_s(f), 4, labels=False).to_numpy(dtype=float),
}
NAN_ONLY = {"bfill": _bfill, "interp": _interp}
PAIRS = ([(name, fn, CLEAN) for name, fn in PEEKING.items()] + [(name, fn, CORRUPT) for name, fn in PEEKING.items()]
         + [(name, fn, CORRUPT) for name, fn in NAN_ONLY.items()])

CAUSAL = {
    "sma": lambda f: _s(f).rolling(20).mean().to_numpy(),
    "sma-nan-warmup": lambda f: _s(f).rolling(48).mean().to_numpy(),
    "ewm": lambda f: _s(f).ewm(span=20).mean().to_numpy(),
    "rolling-std": lambda f: _s(f).rolling(24).std().to_numpy(),
    "expanding-mean": lambda f: _s(f).expanding().mean().to_numpy(),
    "expanding-zscore": lambda f: ((_s(f) - _s(f).expanding().mean()) / _s(f).expanding().std()).to_numpy(),
    "cummax": lambda f: np.fmax.accumulate(f.close[0]),
    "shift-forward": lambda f: _s(f).shift(1).to_numpy(),
    "ffill-sma": lambda f: _s(f).ffill().rolling(9).mean().to_numpy(),
    "log-returns": lambda f: np.log(_s(f)).diff().to_numpy(),
    "donchian-high": lambda f: pd.Series(f.high[0]).rolling(20).max().to_numpy(),
    "fft-trailing-mean": _fft_trailing_mean,
    "convolve-full": lambda f: np.convolve(np.nan_to_num(f.close[0]), np.ones(5) / 5)[:f.n_bars],
    "lfilter": lambda f: __import__("scipy.signal", fromlist=["lfilter"]).lfilter([0.1], [1, -0.9],
                                                                                 np.nan_to_num(f.close[0])),
    "hour-of-day-expanding": lambda f: _s(f).groupby(_idx(f).hour).transform(
        lambda x: x.expanding().mean()).to_numpy(),
    "package-sma": lambda f: sma(f.close[0], 24),
    "package-ema": lambda f: ema(f.close[0], 24),
    "package-rolling-std": lambda f: rolling_std(f.close[0], 24),
}


@pytest.mark.parametrize("name,indicator,scenario", PAIRS,
                         ids=[f"{n}-{'corrupt' if s is CORRUPT else 'clean'}" for n, _, s in PAIRS])
def test_every_kind_of_peeking_is_caught(name, indicator, scenario):
    with pytest.raises(LookAheadError, match="looks ahead"):
        run_scenario(scenario, _peeks(indicator), "frictionless")


@pytest.mark.parametrize("scenario", [CLEAN, CORRUPT], ids=["clean", "corrupt"])
def test_no_causal_indicator_is_rejected(scenario):
    class Causal:
        def indicators(self, feed):
            with np.errstate(all="ignore"):
                return {name: fn(feed) for name, fn in CAUSAL.items()}

        def on_bar(self, ctx):
            return None

    run_scenario(scenario, Causal(), "frictionless")


def test_a_hook_that_cannot_take_a_tiny_prefix_is_not_rejected_for_it():
    """The proof's early cuts (1, 2, 3, 5 bars...) are its own probes: a causal hook that needs more
    bars than that (np.polyfit of a trailing window) is not rejected because it raises there."""
    def needs_ten_bars(feed):
        c = feed.close[0]
        if len(c) < 10:
            raise ValueError("needs at least 10 bars")
        return _s(feed).rolling(10).apply(lambda w: np.polyfit(np.arange(10), w, 1)[0], raw=True).to_numpy()

    run_scenario(Scenario("x", bars=200, seed=5), _peeks(needs_ten_bars), "frictionless")
