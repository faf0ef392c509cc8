import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_stress import transforms as T
from pytest_stress.scenario.kinds import kind_of
from pytest_stress.errors import ScenarioError
from pytest_stress.market.synthetic import generate_market
from pytest_stress.transforms.reprice import relaxation as window_relax
from pytest_stress.transforms.reprice import stress_window as window
from invariants import assert_ohlc_valid

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BASE = generate_market(("BTCUSDT",), 600, "1h", np.random.default_rng(11))
PAIR = generate_market(("BTCUSDT", "ETHUSDT"), 600, "1h", np.random.default_rng(12), correlation=0.8)


def rng(seed=0):
    return np.random.default_rng(seed)


def kwargs_for(fn):
    """A hypothesis strategy of keyword arguments over each parameter's whole declared range."""
    parts = {}
    for name, p in fn.params.items():
        if p.kind == "bool":
            parts[name] = st.booleans()
        elif p.kind == "choices":
            parts[name] = st.lists(st.sampled_from(p.choices), min_size=1, unique=True)
        elif p.kind == "int":
            parts[name] = st.integers(int(p.low), min(int(p.high), 400))
        else:
            parts[name] = st.floats(p.low, p.high, exclude_min=not p.low_inclusive, allow_nan=False)
    return st.fixed_dictionaries(parts)


MARKET_FNS = [T.flash_crash, T.volatility_spike, T.trend_shift, T.liquidity_drop, T.spread_explosion,
              T.pump_and_dump]


@pytest.mark.parametrize("fn", MARKET_FNS + [T.correlation_breakdown], ids=lambda f: f.__name__)
def test_invariants_determinism_and_purity_over_whole_range(fn):
    base = PAIR if fn is T.correlation_breakdown else BASE
    before = base.values.copy()

    @FAST
    @given(kw=kwargs_for(fn), seed=st.integers(0, 2**32))
    def check(kw, seed):
        out = fn(base, rng(seed), **kw)
        assert_ohlc_valid(out, base)
        again = fn(base, rng(seed), **kw)
        np.testing.assert_array_equal(out.values, again.values)
        np.testing.assert_array_equal(base.values, before)  # input never mutated

    check()


def test_seeded_transform_differs_by_seed():
    a = T.correlation_breakdown(PAIR, rng(1))
    b = T.correlation_breakdown(PAIR, rng(2))
    assert not np.array_equal(a.values, b.values)
    fa, ma = T.corrupt_feed(BASE, rng(1))
    fb, mb = T.corrupt_feed(BASE, rng(2))
    assert not np.array_equal(ma, mb)


@FAST
@given(drop=st.floats(0.01, 0.99), start=st.floats(0.05, 0.8), dur=st.integers(1, 50))
def test_flash_crash_trough_hits_target(drop, start, dur):
    out = T.flash_crash(BASE, drop_pct=drop, duration_bars=dur, start=start, recovery_bars=10)
    i0, _ = window(BASE.n_bars, start, None)
    pre = BASE.close[0, i0 - 1]
    trough = out.close[0, i0 + dur - 1]
    assert trough == pytest.approx((1 - drop) * pre, rel=0.01)
    np.testing.assert_array_equal(out.values[:, :, :i0], BASE.values[:, :, :i0])


@FAST
@given(d1=st.floats(0.01, 0.98), d2=st.floats(0.01, 0.98))
def test_deeper_drop_never_gives_higher_trough(d1, d2):
    lo, hi = sorted((d1, d2))
    shallow = T.flash_crash(BASE, drop_pct=lo).close.min()
    deep = T.flash_crash(BASE, drop_pct=hi).close.min()
    assert deep <= shallow * (1 + 1e-12)


def test_flash_crash_recovers_the_share_asked():
    out = T.flash_crash(BASE, drop_pct=0.3, duration_bars=5, recovery_pct=0.6, recovery_bars=20, start=0.5)
    i0 = 300
    pre = BASE.close[0, i0 - 1]
    assert out.close[0, i0 + 24] == pytest.approx(pre * (1 - 0.3 * 0.4), rel=1e-9)
    assert out.volume[0, i0:i0 + 5].mean() > 2 * BASE.volume[0, i0:i0 + 5].mean()


def test_volatility_spike_scales_returns_in_window_and_relaxes_after():
    out = T.volatility_spike(BASE, multiplier=8, duration_bars=100, relax_bars=10, start=0.5)
    r0 = np.diff(np.log(BASE.close[0]))
    r1 = np.diff(np.log(out.close[0]))
    np.testing.assert_allclose(r1[299:399], 8 * r0[299:399], rtol=1e-9, atol=1e-12)
    k = np.arange(1, 200)
    np.testing.assert_allclose(r1[399:598], (1 + 7 / (1 + k / 10)) * r0[399:598], rtol=1e-9, atol=1e-12)
    assert (out.high - out.low)[0, 300:400].mean() > 5 * (BASE.high - BASE.low)[0, 300:400].mean()
    calm = np.median(BASE.spread[0, 300 - 168:300])
    assert np.all(out.spread[0, 300:400] >= 8 * calm * (1 - 1e-12))
    np.testing.assert_allclose(out.volume[0, 300:400], BASE.volume[0, 300:400] * np.sqrt(8))
    np.testing.assert_allclose(out.depth[0, 300:400], BASE.depth[0, 300:400] / np.sqrt(8))
    # relax_bars=0: the spike stops at the window end, as before this change
    off = T.volatility_spike(BASE, multiplier=8, duration_bars=100, relax_bars=0, start=0.5)
    np.testing.assert_allclose(np.diff(np.log(off.close[0]))[400:], r0[400:], rtol=1e-9, atol=1e-12)


def test_relaxation_is_a_power_law_with_the_stated_half_life():
    w = window_relax(100, 10, 20, 6)
    assert np.all(w[:10] == 0) and np.all(w[10:20] == 1)
    assert w[20] == pytest.approx(1 / (1 + 1 / 6))
    assert w[25] == pytest.approx(0.5)                 # k = 6 bars after the window: half
    assert w[20 + 59] == pytest.approx(1 / 11)         # a power law, not exponential
    assert np.all(np.diff(w[20:]) < 0)
    np.testing.assert_array_equal(window_relax(100, 10, 20, 0)[20:], 0.0)


@pytest.mark.parametrize("anchored", [True, False])
def test_trend_shift_reaches_its_target(anchored):
    out = T.trend_shift(BASE, trend_pct=-0.4, duration_bars=200, anchored=anchored, start=0.5)
    if anchored:    # the window's close is (1 + trend) x the pre-window close, whatever the base did
        assert out.close[0, 499] / out.close[0, 299] == pytest.approx(0.6, rel=1e-9)
    else:           # (1 + trend) x the base's own close there: nothing extrapolated from noise
        assert out.close[0, 499] / BASE.close[0, 499] == pytest.approx(0.6, rel=1e-9)
    # after the window the level is held and the base's own returns go on
    np.testing.assert_allclose(np.diff(np.log(out.close[0, 499:])), np.diff(np.log(BASE.close[0, 499:])),
                               rtol=1e-9, atol=1e-12)


def test_flash_crash_is_front_loaded_noisy_with_wicks_and_wide_spreads():
    out = T.flash_crash(BASE, rng(4), drop_pct=0.3, duration_bars=5, recovery_pct=0.6, recovery_bars=12,
                        start=0.5)
    c = out.close[0]
    pre = c[299]
    assert c[300:317].min() == pytest.approx(0.7 * pre, rel=1e-9)       # the trough is the lowest close
    steps = np.diff(np.log(c[299:305]))
    assert steps[0] < steps[-1] - 0.02                                  # steepest first
    calm = np.median(BASE.spread[0, 300 - 168:300])
    assert out.spread[0, 300:305].max() == pytest.approx(15 * calm, rel=1e-9)
    body_low = np.minimum(out.open[0, 300:305], c[300:305])
    assert np.max(1 - out.low[0, 300:305] / body_low) > 0.01           # wicks below the bodies
    assert np.median(out.volume[0, 300:305] / BASE.volume[0, 300:305]) > 2
    assert np.median(out.depth[0, 300:305] / BASE.depth[0, 300:305]) < 0.5
    assert out.spread[0, 317] > 2 * calm                                # relaxing, not off in one bar


def test_liquidity_drop_drains_depth_while_volume_rises():
    out = T.liquidity_drop(BASE, drop_pct=0.95, volume_mult=2.0, duration_bars=50, relax_bars=0, start=0.5)
    np.testing.assert_allclose(out.depth[0, 300:350], BASE.depth[0, 300:350] * 0.05)
    np.testing.assert_allclose(out.volume[0, 300:350], BASE.volume[0, 300:350] * 2.0)
    calm = np.median(BASE.spread[0, 300 - 168:300])
    np.testing.assert_allclose(out.spread[0, 300:350], np.maximum(BASE.spread[0, 300:350], calm / np.sqrt(0.05)))
    np.testing.assert_array_equal(out.close, BASE.close)
    np.testing.assert_array_equal(out.values[:, :, 350:], BASE.values[:, :, 350:])
    sp = T.spread_explosion(BASE, spread_mult=20, duration_bars=10, relax_bars=0, start=0.5)
    np.testing.assert_allclose(sp.spread[0, 300:310], np.maximum(BASE.spread[0, 300:310], 20 * calm))
    np.testing.assert_array_equal(sp.spread[0, 310:], BASE.spread[0, 310:])


def test_spread_stresses_compose_by_maximum_not_product():
    one = T.spread_explosion(BASE, spread_mult=20, duration_bars=10, start=0.5)
    both = T.liquidity_drop(T.volatility_spike(one, multiplier=15, duration_bars=10, start=0.5),
                            drop_pct=0.99, duration_bars=10, start=0.5)
    calm = np.median(BASE.spread[0, 300 - 168:300])
    assert both.spread[0, 300:310].max() <= 20 * calm * 1.0001 + BASE.spread[0, 300:310].max()
    assert both.spread[0, 300:310].min() >= 20 * calm * (1 - 1e-12)


@pytest.mark.parametrize("rho", [-1.0, -0.5, 0.0, 0.5])
def test_correlation_breakdown_reaches_target(rho):
    out = T.correlation_breakdown(PAIR, rng(3), target_correlation=rho, duration_bars=300, start=0.5)
    r = np.diff(np.log(out.close), axis=1)
    inside = np.corrcoef(r[:, 301:599])[0, 1]
    before = np.corrcoef(r[:, :299])[0, 1]
    assert before > 0.6
    assert inside == pytest.approx(rho, abs=0.15)


def test_correlation_breakdown_needs_two_symbols():
    with pytest.raises(ScenarioError, match="at least 2 symbols"):
        T.correlation_breakdown(BASE, rng())


def test_pump_and_dump_peaks_then_ends_below_start():
    out = T.pump_and_dump(BASE, rng(3), pump_pct=1.2, pump_bars=50, dump_pct=0.65, dump_bars=10, start=0.4)
    pre = BASE.close[0, 239]
    assert out.close[0, 240 + 49] == pytest.approx(2.2 * pre, rel=1e-9)
    assert out.close[0, 299] == pytest.approx(2.2 * 0.35 * pre, rel=1e-9)
    assert out.close[0, 290:300].min() == pytest.approx(2.2 * 0.35 * pre, rel=1e-9)   # no lower close in the dump
    rise = np.diff(out.close[0, 240:290])
    assert rise[-10:].mean() > rise[:10].mean()  # parabolic: it accelerates


@FAST
@given(kw=kwargs_for(T.corrupt_feed), seed=st.integers(0, 2**32))
def test_corruption_touches_only_the_feed_and_marks_it(kw, seed):
    before = BASE.values.copy()
    feed, mask = T.corrupt_feed(BASE, rng(seed), **kw)
    np.testing.assert_array_equal(BASE.values, before)
    changed = (~np.isclose(feed.values, BASE.values, equal_nan=False)).any(axis=(0, 1))
    changed |= feed.timestamps != BASE.timestamps
    assert not np.any(changed & ~mask)   # nothing outside the mask changed
    i0, i1 = window(BASE.n_bars, kw["start"], kw["duration_bars"])
    i0 = 0 if kw["start"] == 0 else i0
    expected = int(round(kw["corruption_pct"] * (i1 - i0)))
    assert mask.sum() == min(expected, i1 - max(i0, 1))


def test_each_corruption_kind_looks_as_documented():
    for kind in T.CORRUPTION_KINDS:
        feed, mask = T.corrupt_feed(BASE, rng(5), corruption_pct=0.2, kinds=[kind])
        bad = np.flatnonzero(mask)
        assert len(bad) == 120
        if kind == "nan":
            assert np.all(np.isnan(feed.close[0, bad]))
        elif kind == "spike":
            ratio = feed.close[0, bad] / BASE.close[0, bad]
            assert np.allclose(np.maximum(ratio, 1 / ratio), 5.0)
        elif kind == "stale":
            np.testing.assert_array_equal(feed.close[0, bad], BASE.close[0, bad - 1])
            np.testing.assert_array_equal(feed.high[0, bad], feed.low[0, bad])
        elif kind == "zero_volume":
            assert np.all(feed.volume[0, bad] == 0)
        elif kind == "timestamp":
            assert np.all(feed.timestamps[bad] <= BASE.timestamps[bad - 1])


def test_mixed_custom_runs_each_named_component():
    params = {"flash_crash_drop_pct": 0.5, "volatility_multiplier": 15, "spread_mult": 20,
              "liquidity_drop_pct": 0.99}
    out = T.mixed_custom(BASE, rng(1), **params)
    assert_ohlc_valid(out, BASE)
    calm = np.median(BASE.spread[0, 300 - 168:300])
    assert 19 < out.spread.max() / calm < 30            # x20: stacked spread stresses do not compound
    assert out.depth.min() / BASE.depth.max() < 0.05
    with pytest.raises(ScenarioError, match="unknown parameter 'flash_crash_drop'.*flash_crash_drop_pct"):
        T.mixed_custom(BASE, rng(1), flash_crash_drop=0.5)


def test_mixed_kind_keeps_two_views():
    views = kind_of("mixed_custom").build({"corruption_pct": 0.1, "spread_mult": 5}, BASE, rng(2))
    assert views.corrupted.sum() == 60
    assert not np.array_equal(views.true.values, views.feed.values)
    assert_ohlc_valid(views.true, BASE)
    assert views.base is BASE


def test_a_lumpy_crash_keeps_its_drawn_steps_its_wick_and_its_volatile_week():
    """lumpiness: the fall's steps are the drawn shape's (the base's drift bridged along a line);
    wick_share: the trough bar's low; pre_vol_mult: the week before has the base's returns x that."""
    kw = dict(drop_pct=0.3, duration_bars=20, recovery_bars=10, front=1.0, noise_mult=1.0, start=0.5)
    out = T.flash_crash(BASE, rng(7), lumpiness=2.5, wick_share=0.4, pre_vol_mult=2.0, pre_bars=100, **kw)
    c, b = out.close[0], BASE.close[0]
    pre, trough = c[299], c[319]
    assert trough == pytest.approx(0.7 * pre, rel=1e-9) and c[300:330].min() >= trough * (1 - 1e-12)
    assert np.log(trough / out.low[0, 319]) / np.log(pre / out.low[0, 319]) == pytest.approx(0.4, abs=1e-9)
    r_out, r_base = np.diff(np.log(c)), np.diff(np.log(b))
    np.testing.assert_allclose(r_out[199:299], 2.0 * r_base[199:299], rtol=1e-9, atol=1e-12)   # bars 200-299
    np.testing.assert_array_equal(out.values[:, :, :200], BASE.values[:, :, :200])
    steps = np.sort(-r_out[299:319])[::-1]
    assert steps[:3].sum() > 0.5 * np.log(1 / 0.7)          # a few bars carry most of the fall
    even = T.flash_crash(BASE, rng(7), **kw)
    assert np.sort(-np.diff(np.log(even.close[0, 299:320])))[-1] < steps[0] / 3   # the even fall has no such step


def test_a_crash_on_two_symbols_gives_each_its_own_depth():
    out = T.flash_crash(PAIR, rng(3), drop_pct=0.3, duration_bars=8, start=0.5)
    fall = np.log(out.close[:, 307] / out.close[:, 299])
    np.testing.assert_allclose(fall, np.log(0.7) * np.array([1.0, 1.53]), rtol=1e-9)    # ETH 1.53x BTC's log fall
    alike = T.flash_crash(PAIR, rng(3), drop_pct=0.3, duration_bars=8, start=0.5, depth_spread=0.0)
    np.testing.assert_allclose(alike.close[:, 307] / alike.close[:, 299], 0.7, rtol=1e-9)


def test_a_lumpy_dump_with_a_wick_keeps_its_exact_closes():
    out = T.pump_and_dump(BASE, rng(2), pump_pct=1.0, pump_bars=20, dump_pct=0.5, dump_bars=10, lumpiness=2.0,
                          wick_share=0.3, start=0.5)
    c = out.close[0]
    assert c[319] / c[299] == pytest.approx(2.0, rel=1e-9) and c[329] / c[299] == pytest.approx(1.0, rel=1e-9)
    assert np.log(c[329] / out.low[0, 329]) / np.log(c[319] / out.low[0, 329]) >= 0.3 - 1e-9
