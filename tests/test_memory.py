"""Memory structure of a run (issue #16): what is shared, what is not kept, and in-place arithmetic
that must equal the plain formulas bit for bit. No timing or memory thresholds here: the figures
are printed by benchmarks/bench_memory.py."""
import gc

import math

import numpy as np
import pytest

from pytest_stress import Scenario, library
from pytest_stress.market.data import CLOSE, HIGH, LOW, OPEN, MarketData, spare, take_values
from pytest_stress.market.synthetic import _BLOCK, ar1_scan, generate_market
from pytest_stress.result.metrics import drawdown_curve, equity_metrics
from pytest_stress.runner import run_scenario
from pytest_stress.transforms.reprice import PRICE_BOUNDS, reprice

N = 1237    # an odd length that no other test's market has: live markets are found by it


def _live_markets(n_bars: int) -> list[MarketData]:
    """MarketData objects of ``n_bars`` bars this process still holds, unreachable cycles included."""
    return [o for o in gc.get_objects() if isinstance(o, MarketData) and o.n_bars == n_bars]


@pytest.mark.parametrize("scenario", library.all(), ids=lambda s: library.slug(s.name))
def test_the_feed_is_the_true_market_unless_the_scenario_corrupts_it(scenario):
    views = scenario.replace(bars=2000).build_market()
    if views.corrupted.any():
        assert not np.shares_memory(views.feed.values, views.true.values)
        assert np.isnan(views.feed.values).any() and not np.isnan(views.true.values).any()
    else:
        assert views.feed is views.true          # one array for both views: no copy
    for m in (views.true, views.feed, views.base):
        assert not m.values.flags.writeable and m.values.flags.c_contiguous


class _CountMarkets:
    """On its first bar, records how many markets of the run's length are alive."""

    def __init__(self):
        self.alive = None

    def on_bar(self, ctx):
        if self.alive is None:
            gc.collect()
            self.alive = len(_live_markets(N))


@pytest.mark.parametrize("name,expected", [("BTC Flash Crash 2021", 1), ("Data Corruption Shock", 2)])
def test_no_copy_of_the_base_market_is_alive_during_the_loop(name, expected):
    # the true market (which is the feed) or the true market and its corrupted feed; not the base
    probe = _CountMarkets()
    run_scenario(library.get(name).replace(bars=N), probe)
    assert probe.alive == expected


def test_a_finished_run_leaves_no_market_for_the_garbage_collector():
    # the run's parts refer to each other (the context and its account view); if that cycle
    # were left, the market would stay alive until a full collection
    gc.collect()
    gc.disable()
    try:
        result = run_scenario(Scenario("plain", bars=N), _CountMarkets())
        assert _live_markets(N) == []
    finally:
        gc.enable()
    assert len(result.equity_curve) == N
    assert result.mark_prices.base is None or not isinstance(result.mark_prices.base, MarketData)


def _ar1_whole_array(e, phi, x0):
    """The doubling scan on whole arrays (the form ``ar1_scan`` had before it worked in blocks)."""
    x = np.array(e, dtype=np.float64)
    x[0] += phi * x0
    d, p = 1, phi
    while d < len(x) and p > 1e-18:
        x[d:] += p * x[:-d]
        d *= 2
        p *= p
    return x


@pytest.mark.parametrize("phi", [0.3, 0.999, 0.99999])
@pytest.mark.parametrize("n", [_BLOCK - 1, _BLOCK + 1, 3 * _BLOCK + 17])
def test_ar1_scan_in_blocks_equals_the_whole_array_scan_bit_for_bit(phi, n):
    e = np.random.default_rng(n).standard_normal(n)
    np.testing.assert_array_equal(ar1_scan(e, phi, 0.7), _ar1_whole_array(e, phi, 0.7))


def _reprice_formula(market, delta, i0, gap_scale=1.0, wick_scale=1.0):
    """``reprice`` as the plain formula, one new array per step."""
    src = market.values
    out = src.copy()
    o, h, lo, c = (np.log(src[f, :, i0:]) for f in (OPEN, HIGH, LOW, CLOSE))
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    up, down = h - top, bottom - lo
    prev_c = np.log(src[CLOSE, :, i0 - 1:-1])
    gap = o - prev_c
    lo_b, hi_b = np.log(PRICE_BOUNDS[0]), np.log(PRICE_BOUNDS[1])
    new_c = np.clip(c + delta[:, i0:], lo_b, hi_b)
    new_o = np.clip(prev_c + delta[:, i0 - 1:-1] + gap * gap_scale, lo_b, hi_b)
    new_top, new_bottom = np.maximum(new_o, new_c), np.minimum(new_o, new_c)
    out[OPEN, :, i0:] = np.exp(new_o)
    out[CLOSE, :, i0:] = np.exp(new_c)
    out[HIGH, :, i0:] = np.exp(np.clip(new_top + up * wick_scale, new_top, hi_b))
    out[LOW, :, i0:] = np.exp(np.clip(new_bottom - down * wick_scale, lo_b, new_bottom))
    return out


def test_reprice_in_blocks_equals_the_plain_formula_bit_for_bit_also_in_the_markets_own_memory():
    from pytest_stress.transforms.reprice import _BLOCK as REPRICE_BLOCK

    n = 2 * REPRICE_BLOCK + 300                                   # three blocks, the stress starting in the first
    market = generate_market(("BTCUSDT", "ETHUSDT"), n, rng=5)
    rng = np.random.default_rng(6)
    i0 = 1200
    delta = np.zeros((2, n))
    delta[:, i0:] = np.cumsum(rng.normal(0, 0.02, (2, n - i0)), axis=1)
    delta[0, REPRICE_BLOCK + 7] = 400.0                           # past the price bounds: clipped
    scale = 1.0 + rng.random((2, n - i0)) * 4
    for kw in ({}, {"gap_scale": scale, "wick_scale": scale}, {"gap_scale": scale[0], "wick_scale": 2.5}):
        expected = _reprice_formula(market, delta, i0, **kw)
        np.testing.assert_array_equal(reprice(market, delta, i0, **kw), expected)
        given = spare(market.replace(values=market.values.copy()))   # a market whose memory may be reused
        out = reprice(given, delta, i0, **kw)
        assert np.shares_memory(out, given.values)                  # written in place, no second array
        np.testing.assert_array_equal(out, expected)
    assert not market._spare and take_values(market) is not market.values   # never given away: copied


def test_equity_metrics_in_place_match_the_plain_formulas_on_a_ruined_run():
    equity = np.array([100.0, 120.0, 90.0, 130.0, 0.0, 0.0, 0.0])
    gross = np.array([50.0, 0.0, 60.0, 10.0, 0.0, 0.0, 0.0])
    m = equity_metrics(equity, gross, 100.0, 3600)
    curve = np.concatenate([[100.0], equity])
    prev, now = curve[:-1], curve[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, np.where(now > 0, now / prev - 1.0, -1.0), 0.0)
        peak = np.maximum.accumulate(curve)
        dd = np.where(peak > 0, (1.0 - curve / peak) * 100.0, 100.0)
    assert m["worst_bar_return_pct"] == r.min() * 100.0 == -100.0
    assert m["sharpe_ratio"] == r.mean() / r.std(ddof=1) * np.sqrt(365 * 24)
    assert m["cvar_95_pct"] == -np.mean(np.partition(r, 0)[:1]) * 100.0
    assert m["max_drawdown"] == min(dd.max(), 100.0) == 100.0
    assert m["max_leverage"] == 60.0 / 90.0 and m["exposure_pct"] == 3 / 7 * 100.0
    assert m["recovery_bars"] is None and m["max_drawdown_duration_bars"] == 3
    np.testing.assert_array_equal(drawdown_curve(curve), dd)


@pytest.mark.parametrize("bar_seconds", [60, 900, 3600, 14_400])
def test_volume_season_in_blocks_equals_the_plain_formula_bit_for_bit(bar_seconds):
    from pytest_stress.market.profiles import MARKET_MODEL
    from pytest_stress.market.synthetic import _bessel_i0, volume_season

    n = 2 * _BLOCK + 5
    ts = np.arange(n, dtype=np.int64) * (bar_seconds * 1_000_000_000) + 1_700_000_123_000_000_000
    hours = bar_seconds / 3600.0
    damp = np.sin(np.pi * hours / 24.0) / (np.pi * hours / 24.0)
    a = MARKET_MODEL.volume_season
    mid_h = (ts // 1_000_000_000 + bar_seconds // 2) % 86_400 / 3600.0
    plain = np.exp(np.cos((mid_h - MARKET_MODEL.volume_peak_hour) * (2.0 * np.pi / 24.0)) * (a * damp))
    plain /= _bessel_i0(a * damp)
    np.testing.assert_array_equal(volume_season(ts, bar_seconds, MARKET_MODEL), plain)


def test_garch_in_groups_of_chunks_equals_the_loop_with_underflow_in_a_later_group():
    from pytest_stress.market.synthetic import garch_variance, garch_variance_loop

    z = np.random.default_rng(3).standard_normal(2 * _BLOCK + 100)
    z[_BLOCK + 10:_BLOCK + 3000] = 1e-30        # chunks the loop takes over, in the second group
    np.testing.assert_allclose(garch_variance(z, 1e-6, 0.01, 0.0), garch_variance_loop(z, 1e-6, 0.01, 0.0),
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(garch_variance(z, 1e-6, 0.05, 0.9), garch_variance_loop(z, 1e-6, 0.05, 0.9),
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["BTC Flash Crash 2021", "Black Swan Combo", "Model Failure Simulation",
                                  "Data Corruption Shock"])
def test_a_runs_build_reuses_the_base_markets_memory_and_gives_the_same_market(name):
    scenario = library.get(name).replace(bars=3000)
    kept, reused = scenario.build_market(), scenario.build_market(keep_base=False)
    assert reused.base is None and kept.base is not None
    np.testing.assert_array_equal(reused.true.values, kept.true.values)
    np.testing.assert_array_equal(reused.feed.values, kept.feed.values)
    assert not reused.true._spare and not reused.true.values.flags.writeable   # nothing left to give away


def test_a_given_base_market_is_never_written_into():
    scenario = library.get("Black Swan Combo").replace(bars=3000)
    base = scenario.base_market()
    before = base.values.copy()
    views = scenario.build_market(base, keep_base=False)
    np.testing.assert_array_equal(base.values, before)
    assert not np.shares_memory(views.true.values, base.values) and not base._spare


class _ReturnsItsFeed:
    """An indicator that is the feed's own close (a view into the private copy), and one written
    into the same buffer of the trader's on every call."""

    def __init__(self):
        self.buffer = None
        self.seen = []

    def indicators(self, feed):
        if self.buffer is None:
            self.buffer = np.empty(feed.n_bars)
        double = self.buffer[:feed.n_bars]
        np.multiply(feed.close[0], 2.0, out=double)
        return {"close": feed.close[0], "double": double}

    def on_bar(self, ctx):
        self.seen.append((ctx.value("close"), ctx.value("double")))


def test_indicators_that_are_views_or_a_reused_buffer_are_proved_and_revealed_intact():
    trader = _ReturnsItsFeed()
    scenario = Scenario("plain", bars=N)
    run_scenario(scenario, trader)
    close = scenario.build_market().feed.close[0]
    seen = np.array(trader.seen)
    np.testing.assert_array_equal(seen[:, 0], close)
    np.testing.assert_array_equal(seen[:, 1], close * 2.0)


def _plain_durations(curve):
    """``_drawdown_durations`` as it was, on the whole curve with the initial equity in front."""
    peak = np.maximum.accumulate(curve)
    under = np.concatenate([[0], (curve < peak).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(under))
    longest = int((edges[1::2] - edges[::2]).max()) if len(edges) else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, 1.0 - curve / peak, 1.0)
    trough = int(np.argmax(dd))
    recovery = 0
    if dd[trough] > 0:
        after = np.flatnonzero(curve[trough:] >= np.maximum.reduce(curve[:trough + 1]))
        recovery = int(after[0]) if len(after) else None
    return {"max_drawdown_duration_bars": longest, "recovery_bars": recovery}


def _curves():
    rng = np.random.default_rng(11)
    walk = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, 5000)))
    yield 100.0, walk
    yield 100.0, np.array([100.0, 120.0, 90.0, 130.0, 0.0, 0.0, 0.0])      # ruined
    yield 100.0, np.array([90.0, 95.0, 101.0, 80.0, 99.0])                  # trough at the first bar's peak
    yield 100.0, np.array([50.0, 60.0])                                     # never recovered
    yield 100.0, np.array([100.0, 100.0, 100.0])                            # flat
    yield 100.0, np.array([110.0])
    yield 100.0, np.array([-5.0, 3.0, 120.0])                               # below zero
    yield 0.0, np.array([1.0, 2.0, 1.0])                                    # no positive start
    yield 100.0, np.array([])


@pytest.mark.parametrize("initial,equity", list(_curves()))
def test_returns_and_durations_without_the_curve_equal_the_plain_formulas_bit_for_bit(initial, equity):
    from pytest_stress.result.metrics import _bar_returns, _drawdown_durations

    curve = np.concatenate([[initial], equity])
    prev, now = curve[:-1], curve[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        plain = np.where(prev > 0, np.where(now > 0, now / prev - 1.0, -1.0), 0.0)
    np.testing.assert_array_equal(_bar_returns(equity, initial), plain)
    buffer = np.full(len(equity), 7.0)
    assert _bar_returns(equity, initial, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, plain)
    assert _drawdown_durations(equity, initial) == _plain_durations(curve)


@pytest.mark.parametrize("n", [2, 3, 7, 8, 9, 127, 128, 129, 1000, 100_003])
def test_sample_std_in_place_equals_numpy_std_bit_for_bit(n):
    from pytest_stress.result.metrics import _sample_std_in_place

    rng = np.random.default_rng(n)
    for x in (rng.normal(0.0001, 0.01, n), rng.standard_t(3, n) * 1e-3, np.full(n, 0.25)):
        expected = float(x.std(ddof=1))
        assert _sample_std_in_place(x.copy()) == expected


def test_var_and_cvar_do_not_depend_on_the_order_the_returns_are_partitioned_in():
    # equity_metrics takes CVaR first, then VaR from the partitioned returns in place
    r = np.random.default_rng(4).standard_t(3, 10_001)
    worst = int((len(r) - 1) * 0.05)
    part = r.copy()
    part.partition(worst)
    assert np.percentile(part, 5, overwrite_input=True) == np.percentile(r, 5)


def test_liquidity_of_one_bar_equals_the_conditions_array_bit_for_bit():
    from pytest_stress.exchange.conditions import liquidity_at, market_conditions
    from pytest_stress.exchange.config import preset

    v = np.array([1.0, 2.0, np.nan, 3.0, -1.0, 0.0, -0.0, np.inf, np.inf, 5.0, np.inf, 1e-320, 7.0, 2.5])
    d = np.array([2.0, 1.0, 1.0, np.nan, 5.0, -0.0, 0.0, np.inf, 3.0, np.inf, np.nan, 1.0, -np.inf, 2.5])
    market = generate_market(("BTCUSDT",), len(v), rng=1)
    values = market.values.copy()
    values[4, 0], values[6, 0] = v, d
    for cfg in (preset("calm"), preset("calm").replace(book_refill_s=0.0), preset("calm").replace(book_refill_s=math.inf)):
        refill = cfg.refill(market.bar_seconds)          # the book's refills within a bar (issue #27)
        liq = market_conditions(market.replace(values=values), cfg).liquidity[0]
        assert [liquidity_at(a, b, refill) for a, b in zip(v.tolist(), d.tolist())] == liq.tolist()
    real = generate_market(("BTCUSDT", "ETHUSDT"), 3000, rng=2)
    c = market_conditions(real, preset("calm"))
    refill = preset("calm").refill(real.bar_seconds)
    for s in range(2):
        assert [liquidity_at(a, b, refill) for a, b in zip(real.volume[s].tolist(), real.depth[s].tolist())] \
            == c.liquidity[s].tolist()
    assert market_conditions(real, preset("calm"), liquidity=False).liquidity is None


def test_conditions_share_the_markets_spread_and_one_symbols_stress():
    from pytest_stress.exchange.conditions import market_conditions
    from pytest_stress.exchange.config import preset

    one = generate_market(("BTCUSDT",), 3000, rng=3)
    c = market_conditions(one, preset("calm"))
    assert np.shares_memory(c.spread, one.values) and not c.spread.flags.writeable   # no copy of the spread
    assert np.shares_memory(c.venue, c.stress)                                       # the row itself
    np.testing.assert_array_equal(c.venue, c.stress.max(axis=0))
    two = generate_market(("BTCUSDT", "ETHUSDT"), 3000, rng=3)
    c2 = market_conditions(two, preset("calm"))
    np.testing.assert_array_equal(c2.venue, c2.stress.max(axis=0))
    # a spread that is constant from bar 0 (data without a spread column) gets the OHLC estimate: a copy
    values = one.values.copy()
    values[5] = 0.0001
    flat = one.replace(values=values)
    c3 = market_conditions(flat, preset("calm"))
    assert not np.shares_memory(c3.spread, flat.values) and (c3.spread >= 0.0001).all()
    assert (c3.spread > 0.0001).any()


def test_the_market_is_gone_before_the_run_is_measured(monkeypatch):
    # the measure needs only the closes and the timestamps (copied): the market's arrays are freed
    # before its own are made, unless the caller holds the market
    import pytest_stress.runner as runner

    seen = []

    def counting(*args, **kwargs):
        gc.collect()
        seen.append(len(_live_markets(N)))
        return equity_metrics(*args, **kwargs)

    monkeypatch.setattr(runner, "equity_metrics", counting)
    sc = library.get("BTC Flash Crash 2021").replace(bars=N)
    result = run_scenario(sc, _CountMarkets())
    views = sc.build_market()
    held = run_scenario(sc, _CountMarkets(), market=views)
    assert seen == [0, 1 + (views.base is not None)]
    np.testing.assert_array_equal(result.mark_prices, views.true.close)
    np.testing.assert_array_equal(result.timestamps, views.true.timestamps)
    assert result.mark_prices.flags.writeable and not np.shares_memory(held.mark_prices, views.true.values)


def _plain_bar_variance(m):
    """Garman-Klass plus the squared gap on whole arrays, the formula as written."""
    lo, lh, ll, lc = (np.log(np.maximum(f, 1e-300)) for f in (m.open, m.high, m.low, m.close))
    gk = np.maximum(0.5 * (lh - ll) * (lh - ll) - (2.0 * np.log(2.0) - 1.0) * (lc - lo) * (lc - lo), 0.0)
    gap = np.zeros_like(lo)
    gap[:, 1:] = lo[:, 1:] - lc[:, :-1]
    return np.nan_to_num(gk + gap * gap, nan=0.0, posinf=0.0)


@pytest.mark.parametrize("symbols", [1, 3])
def test_bar_variance_in_blocks_equals_the_whole_array_formula_bit_for_bit(monkeypatch, symbols):
    import pytest_stress.exchange.conditions as conditions

    assert conditions._TINY == 1e-300
    monkeypatch.setattr(conditions, "BLOCK_BARS", 100)
    m = generate_market(("BTCUSDT", "ETHUSDT", "SOLUSDT")[:symbols], 1037, rng=5)   # 10 whole blocks and a part
    np.testing.assert_array_equal(conditions.bar_variance(m), _plain_bar_variance(m))
    monkeypatch.setattr(conditions, "BLOCK_BARS", 5000)                             # one block
    np.testing.assert_array_equal(conditions.bar_variance(m), _plain_bar_variance(m))


@pytest.mark.parametrize("n", [1, 23, 24, 25, 24 * 14, 24 * 15 + 7, 5000])
def test_the_trailing_distance_in_place_equals_x_minus_the_reference_bit_for_bit(n):
    from pytest_stress.exchange.smoothing import trailing_reference

    x = np.random.default_rng(n).standard_normal((3, n)).cumsum(axis=1)
    x[1, n // 2] = np.inf                      # an infinite level: inf - inf is NaN in both
    with np.errstate(invalid="ignore"):
        expected = x - trailing_reference(x)
        y = x.copy()
        out = trailing_reference(y, subtract=True)
    assert out is y
    np.testing.assert_array_equal(out, expected)


def test_the_anchored_move_reads_the_noisy_path_only_where_it_anchors():
    from pytest_stress.transforms.reprice import anchored_delta, reflect_below

    rng = np.random.default_rng(8)
    log_c, noise = rng.standard_normal((2, 2, 400)).cumsum(axis=2)
    segments = [(5, -0.3, -2.0), (30, -0.1, 1.0)]
    np.testing.assert_array_equal(anchored_delta(log_c, 100, segments, plus=noise),
                                  anchored_delta(log_c + noise, 100, segments))
    floor = log_c[:, 99] - 0.2
    mirror = reflect_below(log_c, floor, 100, 135)             # the window only: zero outside it
    assert mirror.shape == (2, 35)
    np.testing.assert_array_equal(mirror, 2.0 * np.maximum(floor[:, None] - log_c[:, 100:135], 0.0))
