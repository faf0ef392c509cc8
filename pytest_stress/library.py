"""The scenario library: ten named stress scenarios, two replays of real crashes, and your own.

``get(name)`` (did-you-mean on a miss), ``names()``, ``all()``, ``register(scenario)``.
``get(name, data=...)`` runs a library scenario on your own historical data instead of
the synthetic base. The source of each calibration is in the scenario's description.
Each scenario's seed is ``name_seed(name)`` (from its id ``slug(name)``): its own base market.
The two replays (``historical_replay`` of the Binance hourly bars shipped in
``market/event_data``, ``market.events``) have one market path: their seed draws only the
venue's and the faults' randomness.
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
        {"drop_pct": 0.30, "duration_bars": 5, "recovery_pct": 0.6, "recovery_bars": 12, "front": 2.0,
         "noise_mult": 3.0, "relax_bars": 12, "start": 0.5},
        symbols=("BTCUSDT",),
        description="19 May 2021 (Binance BTCUSDT hourly, docs/events.md): BTC fell 32% from its 24h high "
                    "(44,098 to 30,000.00 in the 13:00 bar), the steepest leg in about 2 hours, and closed the day "
                    "at 36,690 (47% of the fall won back). Here: "
                    "the close falls exactly 30% in 5 hourly bars, front-loaded (the first bar about -12%), "
                    "noisy (noise x3) with wicks below the closes; no close is lower than the trough. 60% "
                    "of the drop is won back over the next 12 bars (ending 12% below the pre-crash close). "
                    "Spreads reach x15 calm at the steepest bar; over the 17 bars volume is about x1.8 and "
                    "depth x0.45 of calm, realised volatility about x10 (p5-p95 x5-x21); all relax after "
                    "(half-life 12 bars), spreads still about x3 calm the bar after. "
                    "Differs from the event (Binance BTCUSDT 1h, 19 May 2021; medians over 40 seeds, "
                    "docs/fidelity.md): falls 31% close to close, not 22%; 70% of the fall in 2 bars, not 12; the "
                    "worst hour -12.8% (log close), not -9.4%; the worst 5 hours -35.7%, not -13.6%; 0.04 of the fall "
                    "in wicks, not 0.33; volatility 51% in the week before, not 121%; bar ranges x3.6 the week "
                    "before's, not x2.1."),
    Scenario(
        "ETH Liquidity Collapse", "mixed_custom",
        {"liquidity_drop_pct": 0.95, "liquidity_volume_mult": 2.0, "liquidity_duration_bars": 96,
         "liquidity_start": 0.4, "liquidity_relax_bars": 24,
         "spread_mult": 13.0, "spread_duration_bars": 96, "spread_start": 0.4, "spread_relax_bars": 24,
         "trend_pct": -0.15, "trend_duration_bars": 96, "trend_start": 0.4},
        symbols=("ETHUSDT",),
        description="Black Thursday (12-13 March 2020): order books emptied and cross-venue spreads passed "
                    "$500 while traded volume set records. Here, for 4 days: book depth -95%, traded volume "
                    "x2, spreads at least x13 calm, and the close 15% lower at the window end than before it. "
                    "Depth, volume and spreads relax after (half-life 24 bars). Figures are a design choice "
                    "informed by that event. "
                    "Differs from the event (Binance ETHUSDT 1h, Black Thursday 12-13 March 2020; medians over 40 "
                    "seeds, docs/fidelity.md): falls 11% high to low, not 56%; falls 9% close to close, not 50%; the "
                    "worst hour -1.7% (log close), not -23.4%; the worst 5 hours -3.5%, not -31.3%; 0.12 of the fall "
                    "won back a day after the trough, not 0.37; volatility 61% from the peak to a day after the "
                    "trough, not 508%; volume x1.4 the week before's, not x4.1; bar ranges x1.0 the week before's, "
                    "not x4.7."),
    Scenario(
        "SOL Volatility Explosion", "volatility_spike",
        {"multiplier": 8.0, "duration_bars": 72, "relax_bars": 24, "start": 0.5},
        symbols=("SOLUSDT",),
        description="Volatility x8 for three days, both directions: returns x8 of the base's (realised "
                    "about x8 of the calm week before, p5-p95 x4-x12 over seeds), spreads at least x8 calm, "
                    "volume x2.8 and depth /2.8 (volume over volatility); it relaxes after, half-life 24 "
                    "bars (realised still about x5 over the next day). Design choice; for scale, the VIX more than "
                    "doubled in one day on 5 February 2018 and SOL moved 25-31% within the hour on "
                    "10 October 2025."),
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
        {"flash_crash_drop_pct": 0.5, "flash_crash_duration_bars": 14, "flash_crash_recovery_pct": 0.2,
         "flash_crash_recovery_bars": 24, "flash_crash_front": 4.0, "flash_crash_noise_mult": 1.0,
         "flash_crash_spread_mult": 20.0,
         "flash_crash_relax_bars": 24, "flash_crash_start": 0.5,
         "volatility_multiplier": 15.0, "volatility_duration_bars": 38, "volatility_relax_bars": 12,
         "volatility_start": 0.5,
         "spread_mult": 20.0, "spread_duration_bars": 38, "spread_relax_bars": 12, "spread_start": 0.5,
         "liquidity_drop_pct": 0.99, "liquidity_volume_mult": 1.0, "liquidity_duration_bars": 38,
         "liquidity_relax_bars": 24, "liquidity_start": 0.5,
         "execution_failure_rate": 0.3, "execution_latency_mult": 10.0,
         "execution_orders_per_10s": 300, "execution_orders_per_minute": 1200,
         "execution_stale_book_share": 0.05, "execution_cancel_ack_mult": 1.0},
        symbols=("BTCUSDT",),
        description="Black Thursday (BTC -50% in 24h, order books empty, engines lagging by minutes) and "
                    "10 October 2025 ($19bn liquidated) together, all stresses anchored to one 38-bar window: "
                    "the close falls exactly 50% in 14 bars, front-loaded (the first bar about -17%), with no "
                    "lower close in the window, and ends the window exactly 40% below the pre-crash close (20% "
                    "of the drop won back); realised volatility about x16 calm in the window (p5-p95 x8-x30 "
                    "over seeds), spreads x20 calm, book depth -99.8%, volume about x6; a failing venue: latency "
                    "x10 and 30% of orders failing on top of the venue's own failures; Binance's order rate limits, "
                    "a book a bar stale 5% of the time, cancels as late as orders (docs/venue.md, Fault kinds). "
                    "A steady trader (an order every bar) sees 34% of its orders fail over the run and 63% in the "
                    "window, where the venue's own crisis failures add theirs and latency x10 puts the median at "
                    "the 10 s timeout (stressed preset: 39% and 99%). After the window every stress relaxes as a "
                    "power law "
                    "(volatility still about x4 over the next week). "
                    "Differs from the event (Binance BTCUSDT 1h, Black Thursday 12-13 March 2020; medians over 40 "
                    "seeds, docs/fidelity.md): 70% of the fall in 3 bars, not 14; the worst 5 hours -59.4%, not "
                    "-33.0%; 0.20 of the fall won back a day after the trough, not 0.35; bar ranges x16.7 the week "
                    "before's, not x7.3."),
)

#: What every replay's description says about its paths and its bars (``docs/events.md``).
_REPLAY_NOTE = ("One market path: Monte Carlo paths and verdicts vary only the venue's and the faults' draws, never "
                "the prices. Klines carry no spread or book depth: the venue estimates the spread from each bar's "
                "OHLC, and depth is the bar's traded volume. Data: Binance spot klines, ")

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
