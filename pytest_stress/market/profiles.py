"""Per-asset defaults for synthetic markets, and the market-wide model parameters.

``AssetProfile``: start price, volatility, calm spread, hourly volume, book depth, tick and
the fast (hourly) GARCH figures of one asset. Figures are typical of calm markets in
2021-2025 for major USDT pairs (rounded). A symbol is matched by its base asset prefix
(``BTCUSDT`` -> BTC); anything else gets ``DEFAULT``.

``MarketModel``: what every symbol of one synthetic market shares (fat tails, the slow
variance factor, the daily volume profile). Sources of each default are in docs/market.md
and beside each field below. Both are validated on construction: a bad figure raises
``ScenarioError`` naming the field, the value and the valid range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ..errors import ScenarioError

__all__ = ["AssetProfile", "MarketModel", "PROFILES", "DEFAULT", "MARKET_MODEL", "profile_for"]


def _check(owner: str, name: str, value: float, low: float, high: float, *, low_open: bool = False,
           high_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ScenarioError(
            f"{owner}: {name} = {value!r} is invalid; expected a number in {left}{low:g}, {high:g}{right}")


@dataclass(frozen=True)
class AssetProfile:
    """One asset's calm market. ``garch_alpha``/``garch_beta`` are hourly figures of the fast
    variance component (converted to the bar length by ``generate_market``)."""

    price: float          #: start price in quote currency
    annual_vol: float     #: annualised volatility of log returns (0.6 = 60%)
    spread: float         #: calm quoted spread, fraction of price
    volume: float         #: typical traded base units per hour (scaled to the bar length)
    tick: float           #: price increment (shrinks by powers of ten on very low prices)
    depth: float | None = None   #: calm book depth near the touch, base units (None: one hour's volume)
    garch_alpha: float = 0.05    #: hourly reaction of the fast variance to the last shock
    garch_beta: float = 0.90     #: hourly persistence of the fast variance beyond alpha (half-life 13.5 h)

    def __post_init__(self) -> None:
        owner = "AssetProfile"
        for name in ("price", "annual_vol", "spread", "volume", "tick"):
            _check(owner, name, getattr(self, name), 0.0, math.inf, low_open=True, high_open=True)
        if self.depth is not None:
            _check(owner, "depth", self.depth, 0.0, math.inf, low_open=True, high_open=True)
        _check(owner, "garch_alpha", self.garch_alpha, 0.0, 1.0)
        _check(owner, "garch_beta", self.garch_beta, 0.0, 1.0)
        if self.garch_alpha + self.garch_beta >= 1:
            raise ScenarioError(f"{owner}: garch_alpha + garch_beta = {self.garch_alpha + self.garch_beta:g}; "
                                "expected < 1 (a stationary variance)")

    @property
    def calm_depth(self) -> float:
        """Book depth near the touch in a calm market (base units)."""
        return self.volume if self.depth is None else self.depth


@dataclass(frozen=True)
class MarketModel:
    """Market-wide parameters of the synthetic model (docs/market.md has the equations).

    - ``tail_nu``: degrees of freedom of the Student-t innovations (unit variance); ``inf``
      is Gaussian. Default 5: GARCH-t fits on crypto returns give nu of about 3-6
      (shared/reference §5; 1-minute BTC eGARCH-std: 2.51), and 5 keeps the fourth moment finite.
      One chi-square draw per bar is shared by all symbols (a multivariate t), so large
      moves come together (tail dependence).
    - ``jump_rate_per_day``, ``jump_size``: common jumps, a Poisson number of Gaussian jumps
      per bar hitting every symbol at once, at this rate per day, each with standard deviation
      ``jump_size`` hourly sigmas. They are what makes the worst bars of different symbols
      coincide (10 October 2025: correlations went to about 1; the crashes themselves are the
      scenarios' job).
      Their variance share kappa = rate/24 x size^2 (0.78) is the same on every timeframe;
      shocks are divided by sqrt(1 + kappa) and the Gaussian correlation is lowered to
      ((1 + kappa) C - kappa) so the overall correlation stays C. Calibrated (design choice, no
      quotable jump fit) to the real hourly BTC/ETH series (shared/data
      binance_btc_eth_spot_1h_2017-2021.csv.gz, andrewsiah/crypto-historical-data @ bcf8fc9e):
      P(ETH in its worst 1% of hours | BTC in its worst 1%) 0.61 at correlation 0.78 (per year
      0.53-0.64); three a day of 2.5 hourly sigmas (about 0.8% for BTC) give 0.65 at 0.78 and
      0.56 at the scenarios' 0.6 (benchmarks/bench_stylised.py). A correlation matrix that cannot
      absorb the whole share takes the largest it can (the jumps scaled down; none at the limit).
    - ``jump_hours``: on bars shorter than this a jump is a burst over round(jump_hours / bar)
      bars: its variance shared out by Dirichlet(1) shares, each bar's piece Gaussian, so the
      burst's sum is the hourly jump while no 1m or 5m bar holds it whole (a jump landing in
      one 1m bar made 1m excess kurtosis 1,400-2,700 and one-minute candles of 14-19%).
    - ``jump_echo``, ``jump_echo_hours``: the variance a jump leaves behind: jump_echo x s^2
      (s its size in hourly sigmas) added to the relative variance after its last bar, decaying
      with this half-life in calendar time. Real hourly BTC: the hour after a 5-12 sigma hour
      averages 2.05 sigmas (per year 1.5-2.0); 0.2 and 4 h give 2.0 (without: 1.4).
    - ``slow_half_life_days``, ``slow_vol``: the slow variance factor, a log-variance AR(1)
      shared by all symbols with this half-life in calendar days and this stationary standard
      deviation. Default 17 days: daily BTC GARCH persistence 0.144 + 0.817 = 0.961
      (Empirical Economics 61(5) 2021, PMC7783506, table 3), half-life ln 0.5 / ln 0.961.
      0.9: the 95th over the 5th percentile of BTC's 30-day realised volatility in the hourly
      series above is 4.25 (1.7-3.4 within one calendar year); 0.9 gives 3.5 over series of its
      length (0.7 gave 2.8), and with the jump echo an hourly |r| ACF at lag 1 of 0.26 (real
      0.31, per year 0.16-0.32).
    - ``volume_memory_hours``, ``volume_memory_vol``: a per-symbol log-volume AR(1) with this
      half-life in hours and stationary standard deviation (volume is persistent beyond what
      volatility explains). 6 h and 0.65 with ``volume_noise`` 0.1: hourly log-volume ACF at
      lag 1 of 0.70-0.73 (real per year 0.68-0.92), while a 4-day window's median volume over the
      week before's scatters as the real one does (sd of its log 0.37; real 0.32-0.38): a
      longer memory raises the first and overshoots the second.
    - ``volume_season``, ``volume_peak_hour``: amplitude of the daily log-volume cycle and
      its peak hour (UTC). Intraday BTC volume and volatility peak in the Europe-US overlap,
      about 13-16 UTC (Eross, McGroarty, Urquhart & Wolfe 2019, "The intraday dynamics of
      bitcoin", Research in International Business and Finance 49); 0.3 gives a peak/trough of 1.8.
    - ``volume_noise``, ``spread_noise``: standard deviations of per-bar log noise.
    - ``volume_elasticity``: volume grows as (sigma_t / sigma) ** elasticity; depth as
      volume / sigma_t (Wyart, Bouchaud, Kockelkoren, Potters & Vettorazzo 2008), so depth
      thins as (sigma_t / sigma) ** (elasticity - 1).
    """

    tail_nu: float = 5.0
    jump_rate_per_day: float = 3.0
    jump_size: float = 2.5
    jump_hours: float = 1.0
    jump_echo: float = 0.2
    jump_echo_hours: float = 4.0
    slow_half_life_days: float = 17.0
    slow_vol: float = 0.9
    volume_memory_hours: float = 6.0
    volume_memory_vol: float = 0.65
    volume_season: float = 0.3
    volume_peak_hour: float = 15.0
    volume_noise: float = 0.1
    spread_noise: float = 0.1
    volume_elasticity: float = 0.5

    def __post_init__(self) -> None:
        owner = "MarketModel"
        _check(owner, "tail_nu", self.tail_nu, 2.0, math.inf, low_open=True)
        _check(owner, "jump_rate_per_day", self.jump_rate_per_day, 0.0, 24.0)
        _check(owner, "jump_size", self.jump_size, 0.0, 50.0)
        _check(owner, "jump_hours", self.jump_hours, 0.0, 24.0)
        _check(owner, "jump_echo", self.jump_echo, 0.0, 10.0)
        _check(owner, "jump_echo_hours", self.jump_echo_hours, 0.0, 8760.0, low_open=True)
        _check(owner, "slow_half_life_days", self.slow_half_life_days, 0.0, 3650.0, low_open=True)
        _check(owner, "slow_vol", self.slow_vol, 0.0, 2.0)
        _check(owner, "volume_memory_hours", self.volume_memory_hours, 0.0, 8760.0, low_open=True)
        _check(owner, "volume_memory_vol", self.volume_memory_vol, 0.0, 2.0)
        _check(owner, "volume_season", self.volume_season, 0.0, 2.0)
        _check(owner, "volume_peak_hour", self.volume_peak_hour, 0.0, 24.0, high_open=True)
        _check(owner, "volume_noise", self.volume_noise, 0.0, 2.0)
        _check(owner, "spread_noise", self.spread_noise, 0.0, 1.0)
        _check(owner, "volume_elasticity", self.volume_elasticity, 0.0, 1.0)

    def replace(self, **changes: float) -> "MarketModel":
        """A validated copy with some fields changed; an unknown field is named."""
        known = {f.name for f in fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            raise ScenarioError(f"MarketModel: unknown field(s) {bad}; valid: {sorted(known)}")
        return MarketModel(**{**{f: getattr(self, f) for f in known}, **changes})


PROFILES: dict[str, AssetProfile] = {
    "BTC": AssetProfile(price=30_000.0, annual_vol=0.60, spread=0.0002, volume=1_500.0, tick=0.01),
    "ETH": AssetProfile(price=2_000.0, annual_vol=0.75, spread=0.0003, volume=20_000.0, tick=0.01),
    "SOL": AssetProfile(price=50.0, annual_vol=1.00, spread=0.0005, volume=400_000.0, tick=0.001),
}
DEFAULT = AssetProfile(price=100.0, annual_vol=0.50, spread=0.0010, volume=50_000.0, tick=0.01)
MARKET_MODEL = MarketModel()


def profile_for(symbol: str) -> AssetProfile:
    """The profile whose asset name starts ``symbol`` (case-insensitive), else ``DEFAULT``."""
    upper = symbol.upper()
    for asset, profile in PROFILES.items():
        if upper.startswith(asset):
            return profile
    return DEFAULT
