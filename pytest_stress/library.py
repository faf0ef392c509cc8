"""The scenario library: ten named stress scenarios, three replays of real crashes, and your own.

``get(name)`` (did-you-mean on a miss), ``names()``, ``all()``, ``register(scenario)``.
``get(name, data=...)`` runs a library scenario on your own historical data instead of
the synthetic base. The source of each calibration is in the scenario's description.
Each scenario's seed is ``name_seed(name)`` (from its id ``slug(name)``): its own base market.
The three replays (``historical_replay`` of the Binance hourly bars shipped in
``market/event_data``, ``market.events``) have one market path: their seed draws only the
venue's and the faults' randomness. The 10 October 2025 replay's perpetual bars carry the mark
price (a perpetual account liquidates on it) and the funding prints (it pays them).
"""
from __future__ import annotations

from typing import Any

from .errors import ScenarioError, UnknownScenarioError, close_matches
from .market.events import EventSource
from .scenario.definition import Scenario, slug

__all__ = ["get", "names", "all", "register", "unregister", "slug"]

_BUILTIN: tuple[Scenario, ...] = (
    Scenario(
        "BTC Flash Crash 2021", "flash_crash",
        {"drop_pct": 0.21, "duration_bars": 24, "recovery_pct": 0.65, "recovery_bars": 24, "front": 0.5,
         "lumpiness": 2.5, "wick_share": 0.4, "noise_mult": 2.0, "spread_mult": 20.0, "pre_vol_mult": 2.3,
         "pre_bars": 168, "relax_bars": 12, "start": 0.5},
        symbols=("BTCUSDT",),
        description="19 May 2021 (Binance BTCUSDT hourly, docs/events.md): BTC fell 34% high to low (45,799 to "
                    "30,000.00 in the 13:00 bar; 22% close to close), 70% of the fall within 12 bars, a third of it "
                    "in wicks, after a week at 121% annualised volatility, and won back 64% of it within a day. "
                    "Here: the week before is already volatile (the base's returns x2.3), then the close falls "
                    "exactly 21% in 24 hourly bars, unevenly and gathering pace (the steepest bar about a third of the "
                    "fall, p5-p95 a fifth to three quarters), with no lower close; the trough bar's low lies "
                    "below its close by 40% of "
                    "the log fall (the capitulation wick); 65% of the fall is won back over the next 24 bars "
                    "(ending 7.35% below the pre-crash close). Spreads reach x20 the week before's at the steepest "
                    "bar; over the 48 bars volume is about x1.6 and depth x0.65 the week before's, realised "
                    "volatility about x2.1 (p5-p95 x1.4-3.4); all relax after (half-life 12 bars). Measured as "
                    "docs/fidelity.md measures the event (40 seeds), its medians match every figure of it within "
                    "the stated tolerances. Run on more symbols, each falls to its own depth: ETH about 1.36x and "
                    "SOL 1.65x BTC's high-to-low drop, 19 May 2021's ratios (transforms/crash_shape.py)."),
    Scenario(
        "ETH Liquidity Collapse", "mixed_custom",
        {"liquidity_drop_pct": 0.95, "liquidity_volume_mult": 2.5, "liquidity_duration_bars": 96,
         "liquidity_start": 0.4, "liquidity_relax_bars": 24,
         "spread_mult": 13.0, "spread_duration_bars": 96, "spread_start": 0.4, "spread_relax_bars": 24,
         "flash_crash_drop_pct": 0.49, "flash_crash_duration_bars": 36, "flash_crash_recovery_pct": 0.37,
         "flash_crash_recovery_bars": 24, "flash_crash_front": 0.35, "flash_crash_lumpiness": 2.0,
         "flash_crash_wick_share": 0.12, "flash_crash_noise_mult": 3.0, "flash_crash_spread_mult": 13.0,
         "flash_crash_pre_vol_mult": 1.3, "flash_crash_pre_bars": 168, "flash_crash_relax_bars": 24,
         "flash_crash_start": 0.4},
        symbols=("ETHUSDT",),
        description="Black Thursday (12-13 March 2020) on ETH: order books emptied and cross-venue spreads passed "
                    "$500 while volume set records, and ETHUSDT on Binance fell 56% high to low (50% close to "
                    "close; 70% of the fall within 17 bars; the worst hour -23%) and won back 37% of it within a "
                    "day. Here, from 40% of the run: the close falls exactly 49% in 36 bars, unevenly and "
                    "gathering pace (the steepest bar about 28% of the fall), with no lower close; the trough "
                    "bar's low lies below its close by "
                    "12% of the log fall; 37% of the fall is won back over the next 24 bars (ending 30.9% below "
                    "the pre-crash close). The week before and the crash run at x1.3 the base's volatility, the "
                    "crash's noise x3 that. For 4 days book depth -95% (about -97.2% with the crash's own "
                    "response), traded volume x2.5 (about x4.5 the week before's with the crash), spreads at least "
                    "x13 calm; all relax after (half-life 24 bars). Measured as docs/fidelity.md measures the event "
                    "(40 seeds), its medians match every figure of it within the stated tolerances."),
    Scenario(
        "SOL Volatility Explosion", "volatility_spike",
        {"multiplier": 10.0, "duration_bars": 72, "relax_bars": 24, "start": 0.5},
        symbols=("SOLUSDT",),
        description="Volatility x10 for three days, both directions: returns x10 of the base's (realised "
                    "about x11 of the calm week before, p5-p95 x7-x15 over seeds), spreads at least x10 calm, "
                    "volume x3.2 and depth /3.2 (volume over volatility); it relaxes after, half-life 24 "
                    "bars (realised still about x6 over the next day). About 720% annualised in the window (p5-p95 "
                    "460-1550% over seeds). Design choice: the level SOL reached for about a day in the shipped "
                    "data (705% annualised from the peak to a day after the trough on 19 May 2021, Binance SOLUSDT "
                    "1h, docs/fidelity.md), held for three days and without the crash."),
    Scenario(
        "Mixed Regime Chaos", "mixed_custom",
        {"trend_pct": -0.25, "trend_start": 0.15, "trend_duration_bars": 200,
         "volatility_multiplier": 5.0, "volatility_start": 0.35, "volatility_duration_bars": 60,
         "volatility_relax_bars": 12,
         "liquidity_drop_pct": 0.8, "liquidity_volume_mult": 0.3, "liquidity_start": 0.6,
         "liquidity_duration_bars": 80, "liquidity_relax_bars": 12,
         "spread_mult": 4.0, "spread_start": 0.8, "spread_duration_bars": 60, "spread_relax_bars": 6},
        symbols=("BTCUSDT",),
        description="Alternating regimes in one run: a bear trend from 15% of the run ending exactly 25% "
                    "lower 200 bars later, a x5 volatility spike at 35% (60 bars), a drought at 60% (80 bars: depth "
                    "-80%, volume x0.3), spreads at least x4 calm at 80% (60 bars); each relaxes after its "
                    "window. Design choice (no single event)."),
    Scenario(
        "Model Failure Simulation", "model_failure", {"failure_rate": 0.3, "mode": "mixed"},
        symbols=("BTCUSDT",),
        description="A normal market; the signal model fails on 30% of bars, half outages (no output), half "
                    "garbage (wrong output). Design choice."),
    Scenario(
        "Data Corruption Shock", "data_corruption", {"corruption_pct": 0.15},
        symbols=("BTCUSDT",),
        description="A normal market; 15% of the feed's bars corrupted (NaN fields, price spikes, stale "
                    "prices, zero volume, duplicated or out-of-order timestamps). Fills stay on the true "
                    "market. Design choice."),
    Scenario(
        "Execution Crisis", "execution_crisis", {"failure_rate": 0.4, "latency_mult": 10.0, "base_vol": 0.9,
                                                 "orders_per_10s": 300, "orders_per_minute": 1200,
                                                 "stale_book_share": 0.05, "cancel_ack_mult": 1.0},
        symbols=("BTCUSDT",),
        description="A normal-to-volatile market (90% annualised) on a failing venue: 40% of orders fail "
                    "(what a steady trader, an order every bar, measures with the calm or the stressed preset), "
                    "latency x10. Informed by the matching-engine lags and venue outages of March 2020 and "
                    "May 2021. Binance's order rate limits apply (300 per 10 s, 1,200 per minute: more get a 429 "
                    "with a retry-after), the lagging engine's book is a bar stale 5% of the time (fills at the "
                    "previous bar's prices while the feed moves on), and cancels take effect as late as orders "
                    "arrive (docs/venue.md, Fault kinds)."),
    Scenario(
        "Correlation Breakdown", "correlation_breakdown",
        {"target_correlation": -0.5, "duration_bars": 168, "relax_bars": 24, "start": 0.5,
         "base_correlation": 0.8},
        symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
        description="Three assets that move together (correlation 0.8) decouple and invert (-0.5, "
                    "p5-p95 -0.59 to -0.41 over seeds) for a week, then fade back (half-life 24 bars), "
                    "breaking hedges and pair trades. Design choice; the opposite failure, correlations "
                    "going to 1, happened on 10 October 2025."),
    Scenario(
        "Pump & Dump Mania", "pump_and_dump",
        {"pump_pct": 1.2, "pump_bars": 72, "dump_pct": 0.65, "dump_bars": 12, "front": 2.0, "noise_mult": 3.0,
         "relax_bars": 12, "start": 0.4},
        symbols=("SOLUSDT",),
        description="A +120% parabolic pump over three days (the peak close exact), then a front-loaded, "
                    "noisy 65% collapse in 12 hours (the first bar about -16%, realised volatility near "
                    "960% annualised, spreads x15 calm at the steepest bar, volume about x2.3), ending "
                    "exactly 23% below the "
                    "start with no lower close in the dump. Design choice; Terra/LUNA (May 2022) shows how "
                    "far a collapse can go."),
    Scenario(
        "Black Swan Combo", "mixed_custom",
        {"flash_crash_drop_pct": 0.47, "flash_crash_duration_bars": 32, "flash_crash_recovery_pct": 0.35,
         "flash_crash_recovery_bars": 24, "flash_crash_front": 0.5, "flash_crash_lumpiness": 2.0,
         "flash_crash_wick_share": 0.1, "flash_crash_noise_mult": 1.0, "flash_crash_spread_mult": 20.0,
         "flash_crash_relax_bars": 24, "flash_crash_start": 0.5,
         "volatility_multiplier": 5.0, "volatility_duration_bars": 48, "volatility_relax_bars": 12,
         "volatility_start": 0.5,
         "spread_mult": 20.0, "spread_duration_bars": 48, "spread_relax_bars": 12, "spread_start": 0.5,
         "liquidity_drop_pct": 0.99, "liquidity_volume_mult": 1.5, "liquidity_duration_bars": 48,
         "liquidity_relax_bars": 24, "liquidity_start": 0.5,
         "execution_failure_rate": 0.3, "execution_latency_mult": 10.0,
         "execution_orders_per_10s": 300, "execution_orders_per_minute": 1200,
         "execution_stale_book_share": 0.05, "execution_cancel_ack_mult": 1.0},
        symbols=("BTCUSDT",),
        description="Black Thursday (12-13 March 2020: BTC fell 53% high to low and 48% close to close, 70% of "
                    "the fall within 14 bars, the worst hour -20%, after a calm week; order books empty, engines "
                    "lagging by minutes) and 10 October 2025 ($19bn liquidated) together, every stress starting in "
                    "one bar: the close falls exactly 47% in 32 bars, unevenly and gathering pace (the steepest bar "
                    "about a third of the fall), with no lower close until the recovery's end; the trough bar's low "
                    "lies below its close by 10% of the log fall; 24 bars after the trough the close is exactly "
                    "30.6% below the pre-crash close (35% of the fall won back). For the first 48 bars the base's "
                    "returns x5, spreads x20 calm, book depth -99%, volume x1.5; over the crash and its recovery "
                    "(56 bars) realised volatility about x8 the week before's (p5-p95 x5.7-15), book depth "
                    "-99.6%, volume about x5; a failing venue: latency x10 and 30% of orders failing on top of "
                    "the venue's own failures; Binance's order rate limits, a book a bar stale 5% of the time, "
                    "cancels as late as orders (docs/venue.md, Fault kinds). A steady trader (an order every bar) "
                    "sees 33% of its orders fail over the run and 63% in the window, where the venue's own crisis "
                    "failures add theirs and latency x10 puts the median at the 10 s timeout (stressed preset: 42% "
                    "and 99%). After the "
                    "window every stress relaxes as a power law (volatility still about x2.3 over the next day). "
                    "Measured as docs/fidelity.md measures the event (40 seeds), its medians match every figure of "
                    "BTC's within the stated tolerances."),
)


#: What every replay's description says about its paths and its bars (``docs/events.md``).
_PATHS_NOTE = ("One market path: Monte Carlo paths and verdicts vary only the venue's and the faults' draws, never "
               "the prices. Klines carry no spread or book depth: the venue estimates the spread from each bar's "
               "OHLC, and depth is the bar's traded volume. ")
_REPLAY_NOTE = _PATHS_NOTE + "Data: Binance spot klines, "

_REPLAYS: tuple[Scenario, ...] = (
    Scenario(
        "Black Thursday 2020 Replay", "historical_replay", {}, symbols=("BTCUSDT", "ETHUSDT"), bars=696,
        timeframe="1h", data=EventSource("2020-03-12"),
        description="The real hourly bars of BTCUSDT and ETHUSDT on Binance spot, 27 February to 26 March 2020 "
                    "(696 bars), replayed unchanged. On 12-13 March BTC fell 53% high to low (7,980 on 11 March "
                    "22:00 to 3,782.13 in the 13 March 02:00 bar; 48% close to close; 70% of the fall within 14 "
                    "bars, the worst hour -20% in log close) and ETH 56% (197.23 to 86.00); annualised volatility "
                    "went from 62% (BTC) and 90% (ETH) in the week before to about 500% from the peak to a day "
                    "after the trough, volume about x4. " + _REPLAY_NOTE + "BTC and ETH from "
                    "andrewsiah/crypto-historical-data @ bcf8fc9e (a CryptoDataDownload export); docs/events.md."),
    Scenario(
        "19 May 2021 Replay", "historical_replay", {}, symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"), bars=696,
        timeframe="1h", data=EventSource("2021-05-19"),
        description="The real hourly bars of BTCUSDT, ETHUSDT and SOLUSDT on Binance spot, 5 May to 2 June 2021 "
                    "(696 bars), replayed unchanged. On 19 May BTC fell 34% high to low (45,799 on 18 May 06:00 "
                    "to 30,000.00 in the 19 May 13:00 bar; 22% close to close, 70% of the fall within 12 bars, a "
                    "third of it in wicks), ETH 47% and SOL 57% (1.36x and 1.65x BTC's drop); annualised "
                    "volatility went from 121% (BTC), 171% (ETH) and 250% (SOL) in the week before to 229%, 357% "
                    "and 705% from the peak to a day after the trough, volume x1.6-2.3. " + _REPLAY_NOTE
                    + "BTC and ETH from andrewsiah/crypto-historical-data @ bcf8fc9e (a CryptoDataDownload "
                    "export), SOL from zuvelatamara/Data-Crypto2 @ 54515716; docs/events.md."),
    Scenario(
        "10 October 2025 Replay", "historical_replay", {}, symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"), bars=696,
        timeframe="1h", data=EventSource("2025-10-10"),
        description="The real hourly bars of the BTCUSDT, ETHUSDT and SOLUSDT perpetuals on Binance USDⓈ-M, 26 "
                    "September to 24 October 2025 (696 bars), replayed unchanged, with each bar's mark price and "
                    "the 87 funding prints per symbol given as data: a perpetual account liquidates on the mark "
                    "and pays the real prints (an account's funding='model', the default, gives way to them). On "
                    "10 October BTC fell 18% high to low, ETH 23% and SOL 38% (to 101,516.5, 3,400.00 and 141.28 "
                    "in the 21:00 bar); within that one bar SOL's trade price fell 28.2% open to low and its mark "
                    "26.8% (196.60 to 143.83), BTC's 11.1% and 10.8%, ETH's 12.0% and 11.3%: there the mark fell "
                    "less than the perpetual's own trades. SOL's funding print of 11 October 00:00 was -0.3028% "
                    "(shorts paid longs). " + _PATHS_NOTE + "Data: Binance USDⓈ-M perpetual klines, mark-price "
                    "klines and funding prints from Harthor/marketlab @ 6135a753 (freqtrade's download); "
                    "docs/events.md."),
)

_LIBRARY: dict[str, Scenario] = {s.name: s for s in _BUILTIN + _REPLAYS}


def names() -> list[str]:
    """Scenario names in library order (built-ins first, then registered ones)."""
    return list(_LIBRARY)


def all() -> list[Scenario]:  # noqa: A001 - the library's own vocabulary: library.all()
    return list(_LIBRARY.values())


def get(name: str, **overrides: Any) -> Scenario:
    """The named scenario (exact name, any case, or its slug), with optional field overrides.

    ``get("BTC Flash Crash 2021", data=my_frames)`` runs the crash on your own bars;
    ``get(..., bars=200, seed=3)`` is a smaller, reseeded copy.
    """
    scenario = _LIBRARY.get(name)
    if scenario is None:
        lookup = {k.lower(): v for k, v in _LIBRARY.items()} | {slug(k): v for k, v in _LIBRARY.items()}
        scenario = lookup.get(str(name).lower()) or lookup.get(slug(str(name)))
    if scenario is None:
        hints = close_matches(str(name), _LIBRARY)
        hint = f"; did you mean {' or '.join(map(repr, hints))}?" if hints else ""
        raise UnknownScenarioError(f"unknown scenario {name!r}{hint} The library has: "
                                   + ", ".join(map(repr, _LIBRARY)))
    return scenario.replace(**overrides) if overrides else scenario


def register(scenario: Scenario, *, replace: bool = False) -> Scenario:
    """Add your own scenario to the library (so ``@stress("My Scenario")`` finds it)."""
    if not isinstance(scenario, Scenario):
        raise ScenarioError(f"register: expected a Scenario, got {type(scenario).__name__}")
    if scenario.name in _LIBRARY and not replace:
        raise ScenarioError(f"register: a scenario named {scenario.name!r} exists; pass replace=True to replace it")
    clash = [n for n in _LIBRARY if slug(n) == slug(scenario.name) and n != scenario.name]
    if clash:
        raise ScenarioError(f"register: {scenario.name!r} has the same id {slug(scenario.name)!r} as {clash[0]!r}")
    _LIBRARY[scenario.name] = scenario
    return scenario


def unregister(name: str) -> None:
    """Remove a registered scenario (built-ins included, for this process)."""
    _LIBRARY.pop(get(name).name)
