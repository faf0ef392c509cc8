"""How much a crash looks like a real one: one set of figures, measured the same way on real
hourly bars and on a scenario's market (``docs/fidelity.md``; ``benchmarks/bench_fidelity.py``
prints the table, ``tests/test_fidelity.py`` holds it).

``event_figures`` takes one symbol's hourly high, low, close and volume and the bars
``[start, end)`` in which to look for the trough. The trough ``t`` is the lowest low there; the
peak is the highest high in the 36 bars before it (``t - 36`` to ``t``); every figure is taken
around those two bars:

- ``drop_hl``: peak high to trough low, as a fraction of the peak high;
- ``drop_cc``: the highest close in the same 36 bars to the lowest close from ``t - 36`` to the
  search's end (the close trough), as a fraction of the highest close;
- ``bars_70``: the fewest consecutive bars, between the peak and the trough, from one bar's
  high to a later (or the same) bar's low covering 70% of the high-to-low drop;
- ``steepest_1h``, ``steepest_5h``: the most negative log close change over one and over five
  bars, ending from ``t - 35`` to the later of the trough and the close trough;
- ``wick_share``: the share of the high-to-low drop below the close trough (a drop made in the
  closes has 0; one made in a single wick, 1);
- ``recovery_24h``: the close 24 bars after the close trough, as a share of the close-to-close
  drop won back;
- ``stop_5``: what a stop on closes 5% below the highest close of the 36 bars realises: the
  first later close at least 5% below it, as a change from it (the issue's false FAIL: a fall
  made in the closes in a few bars goes through such a stop);
- ``vol_before``, ``vol_event``: annualised volatility (standard deviation of the hourly log close
  changes x sqrt(8760)) over the 168 bars (7 days) before the peak, and from the peak to 24 bars
  after the trough (the event window);
- ``volume_ratio``, ``range_ratio``: mean volume, and mean (high - low) / close, over the event
  window divided by the same over the 7 days before.

On Binance's hourly bars (``events``) these give the figures of the shared calibration data's
README (19 May 2021 and 12-13 March 2020).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ScenarioError
from .data import MarketData

__all__ = ["FIGURES", "Figure", "event_figures", "market_figures", "real_figures", "trough_search",
           "scenario_figures", "quantiles", "Tolerance", "TOLERANCES", "Citation", "CITATIONS", "citation_of", "SEEDS",
           "CrossSymbol", "CROSS_SYMBOL", "RATIO_TOLERANCES", "drop_ratios",
           "HOURS_PER_YEAR", "PEAK_LOOKBACK", "CALM_BARS", "AFTER_BARS"]

#: Bars (hours) before the trough in which the peak is sought.
PEAK_LOOKBACK = 36
#: Bars (7 days) before the peak over which the calm level is taken.
CALM_BARS = 168
#: Bars after the trough that end the event window and that the recovery is measured at.
AFTER_BARS = 24
HOURS_PER_YEAR = 24 * 365


@dataclass(frozen=True)
class Figure:
    """One figure of the table: its key, its label, and how a value is printed."""

    key: str
    label: str
    fmt: str

    def show(self, value: float) -> str:
        return "n/a" if value is None or not math.isfinite(value) else format(value, self.fmt)


FIGURES: tuple[Figure, ...] = (
    Figure("drop_hl", "drop, high to low", ".0%"),
    Figure("drop_cc", "drop, close to close", ".0%"),
    Figure("bars_70", "bars for 70% of the drop", ".0f"),
    Figure("steepest_1h", "steepest 1h close move (log)", ".1%"),
    Figure("steepest_5h", "steepest 5h close move (log)", ".1%"),
    Figure("wick_share", "share of the drop in wicks", ".2f"),
    Figure("recovery_24h", "recovered 24 h after the trough (close)", ".2f"),
    Figure("stop_5", "a 5% stop on closes from the peak close realises", ".1%"),
    Figure("vol_before", "annualised volatility, 7 days before", ".0%"),
    Figure("vol_event", "annualised volatility, event window", ".0%"),
    Figure("volume_ratio", "volume ratio (event window / 7 days before)", ".2f"),
    Figure("range_ratio", "high-low range ratio (event window / 7 days before)", ".2f"),
)


def event_figures(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                  search: tuple[int, int]) -> dict[str, float]:
    """The figures (module docstring) of one symbol's hourly bars, the trough sought in bars
    ``search = (start, end)``. The bars must reach 168 + 36 bars before the trough's search and
    24 bars after the trough; an error says which end is short."""
    high, low, close, volume = (np.asarray(x, dtype=np.float64) for x in (high, low, close, volume))
    n = len(close)
    a, b = int(search[0]), int(search[1])
    if not 0 <= a < b <= n:
        raise ScenarioError(f"event_figures: search = {search!r}; expected 0 <= start < end <= {n} (the bars given)")
    t = a + int(np.argmin(low[a:b]))
    p0 = t - PEAK_LOOKBACK
    if p0 - CALM_BARS < 1:
        need = CALM_BARS + PEAK_LOOKBACK + 1
        raise ScenarioError(f"event_figures: the trough is at bar {t}; the figures need {need} bars before it "
                            "(the peak's lookback and the calm week before the peak)")
    p = p0 + int(np.argmax(high[p0:t + 1]))
    tc = p0 + int(np.argmin(close[p0:max(b, t + 1)]))
    if max(t, tc) + AFTER_BARS >= n:
        raise ScenarioError(f"event_figures: the trough is at bar {max(t, tc)} of {n}; the figures need {AFTER_BARS} "
                            "bars after it")
    peak_high, trough_low = high[p], low[t]
    peak_close, trough_close = float(close[p0:t + 1].max()), float(close[tc])
    log_c = np.log(close)
    last = max(t, tc)
    move_1 = np.diff(log_c[p0:last + 1])
    move_5 = log_c[p0 + 5:last + 1] - log_c[p0:last - 4]
    # the fewest bars from a high at or after the peak to a low at or before the trough covering 70%
    need = 0.7 * (peak_high - trough_low)
    hs, ls = high[p:t + 1], low[p:t + 1]
    bars_70 = min(int(j - i + 1) for i in range(len(hs)) for j in range(i, len(ls)) if hs[i] - ls[j] >= need)
    pc = p0 + int(np.argmax(close[p0:t + 1]))      # the peak close's bar
    hit = np.flatnonzero(close[pc + 1:] <= 0.95 * peak_close)
    stop_5 = float(close[pc + 1 + hit[0]] / peak_close - 1) if len(hit) else math.nan
    end = t + AFTER_BARS + 1                       # the event window: bars [p, end)
    calm = slice(p - CALM_BARS, p)
    r = np.diff(log_c)                             # r[k - 1]: the change into bar k
    ann = math.sqrt(HOURS_PER_YEAR)
    rng = (high - low) / close
    return {
        "drop_hl": float(1 - trough_low / peak_high),
        "drop_cc": float(1 - trough_close / peak_close),
        "bars_70": float(bars_70),
        "steepest_1h": float(move_1.min()),
        "steepest_5h": float(move_5.min()) if len(move_5) else math.nan,
        "wick_share": float((trough_close - trough_low) / (peak_high - trough_low)),
        "recovery_24h": float((close[tc + AFTER_BARS] - trough_close) / (peak_close - trough_close)),
        "stop_5": stop_5,
        "vol_before": float(np.std(r[p - CALM_BARS - 1:p - 1]) * ann),
        "vol_event": float(np.std(r[p - 1:end - 1]) * ann),
        "volume_ratio": float(volume[p:end].mean() / volume[calm].mean()),
        "range_ratio": float(rng[p:end].mean() / rng[calm].mean()),
    }


def market_figures(market: MarketData, symbol: str, search: tuple[int, int]) -> dict[str, float]:
    """``event_figures`` of one symbol of an hourly market."""
    if market.timeframe != "1h":
        raise ScenarioError(f"fidelity figures: timeframe = {market.timeframe!r}; the figures are of hourly bars "
                            "('1h')")
    s = market.symbol_index(symbol)
    return event_figures(market.high[s], market.low[s], market.close[s], market.volume[s], search)


def real_figures(event: str, symbol: str) -> dict[str, float]:
    """The figures of a shipped event (``events.EVENTS``) for one of its symbols."""
    import pandas as pd   # lazy: the shipped events are read with pandas

    from .events import event_of, load_event   # lazy: as above

    ev = event_of(event)
    market = load_event(event, (symbol,))
    ts = market.timestamps
    a, b = (int(np.searchsorted(ts, pd.Timestamp(x, tz="UTC").value)) for x in ev.trough_search)
    return market_figures(market, symbol, (a, b))


def trough_search(scenario) -> tuple[int, int]:
    """Where a scenario's trough is sought: from the first of its stress windows' start to the
    last one's end (``Kind.windows``; the bar a window starts at is the one ``check_fits`` places)."""
    from ..scenario.kinds import kind_of   # lazy: the scenario table imports the transforms

    windows = kind_of(scenario.type).windows(scenario.own_parameters())
    if not windows:
        raise ScenarioError(f"Scenario {scenario.name!r} ({scenario.type.value}) places no stress window; "
                            "its figures have no trough to look for")
    n = scenario.bars
    starts = [max(int(round(start * n)), 1) for _, start, _ in windows]
    ends = [i0 + length for i0, (_, _, length) in zip(starts, windows)]
    return min(starts), max(ends)


def scenario_figures(scenario, seeds: Sequence[int], symbol: str | None = None) -> dict[str, np.ndarray]:
    """Each figure of ``scenario``'s true market (the first symbol unless ``symbol``) on each seed:
    ``{key: array over seeds}``. Market builds only, no trading."""
    symbol = scenario.symbols[0] if symbol is None else symbol
    search = trough_search(scenario)
    rows = [market_figures(scenario.replace(seed=int(s)).build_market(keep_base=False).true, symbol, search)
            for s in seeds]
    return {f.key: np.array([r[f.key] for r in rows]) for f in FIGURES}


def quantiles(values: Mapping[str, np.ndarray], qs: Sequence[float] = (5, 50, 95)) -> dict[str, tuple[float, ...]]:
    """Each figure's percentiles over seeds (numpy's default, linear, interpolation)."""
    return {k: tuple(float(x) for x in np.percentile(v, qs)) for k, v in values.items()}


# -- the library's citations ---------------------------------------------------------

@dataclass(frozen=True)
class Tolerance:
    """How close a scenario's median must be to a figure: ``abs`` (an absolute difference),
    ``rel`` (a difference relative to the figure) or ``factor`` (a ratio within [1/amount, amount])."""

    kind: str
    amount: float

    def holds(self, value: float, reference: float) -> bool:
        if not (math.isfinite(value) and math.isfinite(reference)):
            return False
        if self.kind == "abs":
            return abs(value - reference) <= self.amount
        if self.kind == "rel":
            return abs(value - reference) <= self.amount * abs(reference)
        if value <= 0 or reference <= 0:
            return False
        return max(value / reference, reference / value) <= self.amount

    def __str__(self) -> str:
        return {"abs": f"+-{self.amount:g}", "rel": f"+-{self.amount:.0%} of the figure",
                "factor": f"within x{self.amount:g}"}[self.kind]


#: A scenario's median matches a figure within these (stated in docs/fidelity.md).
TOLERANCES: dict[str, Tolerance] = {
    "drop_hl": Tolerance("abs", 0.05), "drop_cc": Tolerance("abs", 0.05), "bars_70": Tolerance("rel", 0.3),
    "steepest_1h": Tolerance("rel", 0.3), "steepest_5h": Tolerance("rel", 0.3), "wick_share": Tolerance("abs", 0.1),
    "recovery_24h": Tolerance("abs", 0.15), "stop_5": Tolerance("abs", 0.02), "vol_before": Tolerance("factor", 1.5),
    "vol_event": Tolerance("factor", 1.5), "volume_ratio": Tolerance("factor", 1.5),
    "range_ratio": Tolerance("factor", 1.5),
}

#: How a figure that differs is said in a description: (scenario's, event's) values filled in.
_PHRASES: dict[str, str] = {
    "drop_hl": "falls {s:.0%} high to low, not {e:.0%}",
    "drop_cc": "falls {s:.0%} close to close, not {e:.0%}",
    "bars_70": "70% of the fall in {s:.0f} bars, not {e:.0f}",
    "steepest_1h": "the worst hour {s:.1%} (log close), not {e:.1%}",
    "steepest_5h": "the worst 5 hours {s:.1%}, not {e:.1%}",
    "wick_share": "{s:.2f} of the fall in wicks, not {e:.2f}",
    "recovery_24h": "{s:.2f} of the fall won back a day after the trough, not {e:.2f}",
    "stop_5": "a 5% stop on closes realises {s:.1%}, not {e:.1%}",
    "vol_before": "volatility {s:.0%} in the week before, not {e:.0%}",
    "vol_event": "volatility {s:.0%} from the peak to a day after the trough, not {e:.0%}",
    "volume_ratio": "volume x{s:.1f} the week before's, not x{e:.1f}",
    "range_ratio": "bar ranges x{s:.1f} the week before's, not x{e:.1f}",
}

#: Seeds a scenario's figures are measured on: ``derive_seed(scenario.seed, i)`` for i below this.
SEEDS = 40


@dataclass(frozen=True)
class Citation:
    """A library scenario that cites a real event, and how it compares with it.

    ``event``: the shipped event (``events.EVENTS``) whose ``symbol`` it is compared with; None
    when no data of the cited event ships. ``differs``: the figures the scenario deliberately
    does not match (a design choice), each with the median its description states; every other
    figure matches the event within ``TOLERANCES``."""

    scenario: str
    cited: str
    event: str | None
    symbol: str
    differs: Mapping[str, float]

    def differs_sentence(self, real: Mapping[str, float]) -> str:
        """The sentence the scenario's description carries (``real``: the event's figures)."""
        if not self.differs:
            return ""
        from .events import event_of   # lazy: the shipped events' table

        ev = event_of(self.event) if self.event else None
        where = f"Binance {self.symbol} 1h, {ev.title}" if ev else self.cited
        parts = [_PHRASES[f.key].format(s=self.differs[f.key], e=real[f.key]) for f in FIGURES if f.key in self.differs]
        return f"Differs from the event ({where}; medians over {SEEDS} seeds, docs/fidelity.md): {'; '.join(parts)}."


CITATIONS: tuple[Citation, ...] = (
    Citation("BTC Flash Crash 2021", "19 May 2021", "2021-05-19", "BTCUSDT", {}),
    Citation("ETH Liquidity Collapse", "Black Thursday (12-13 March 2020)", "2020-03-12", "ETHUSDT", {}),
    Citation("Black Swan Combo", "Black Thursday (12-13 March 2020)", "2020-03-12", "BTCUSDT", {}),
)


@dataclass(frozen=True)
class CrossSymbol:
    """A library crash run on several symbols (``symbols``, the first one the scenario's own), whose
    drops as multiples of the first symbol's are compared with the same ratios on ``event``."""

    scenario: str
    symbols: tuple[str, ...]
    event: str


#: Multi-symbol crashes held to their event's cross-symbol drop ratios (``drop_ratios``).
CROSS_SYMBOL: tuple[CrossSymbol, ...] = (
    CrossSymbol("BTC Flash Crash 2021", ("BTCUSDT", "ETHUSDT", "SOLUSDT"), "2021-05-19"),
)

#: The median ratio must be within these of the event's (high-to-low; close-to-close): the
#: depths (``transforms.crash_shape.CRASH_DEPTH``) act on the closes and every symbol gets the
#: same wick share, so an alt's close-to-close ratio is held more loosely (SOL's real wick share,
#: 0.19, was below BTC's 0.33: its close fell further than its high-to-low ratio says).
RATIO_TOLERANCES: dict[str, Tolerance] = {"drop_hl": Tolerance("abs", 0.1), "drop_cc": Tolerance("abs", 0.3)}


def drop_ratios(figures: Mapping[str, Mapping[str, np.ndarray]], symbols: Sequence[str]
                ) -> dict[str, dict[str, np.ndarray]]:
    """Each later symbol's ``drop_hl`` and ``drop_cc`` as a multiple of the first's (per seed, or
    per event: whatever ``figures[symbol][key]`` holds): ``{symbol: {key: ratio}}``."""
    first = figures[symbols[0]]
    return {sym: {k: np.asarray(figures[sym][k]) / np.asarray(first[k]) for k in RATIO_TOLERANCES}
            for sym in symbols[1:]}


def citation_of(scenario: str) -> Citation:
    """The citation of a library scenario (``CITATIONS``); an error names the ones that cite an event."""
    for c in CITATIONS:
        if c.scenario == scenario:
            return c
    raise ScenarioError(f"no fidelity citation for scenario {scenario!r}; scenarios citing an event: "
                        + ", ".join(repr(c.scenario) for c in CITATIONS))
