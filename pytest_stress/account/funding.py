"""Perpetual funding: when it is paid and at what rate, computed once per run.

Binance's formula (USDⓈ-M; docs/accounts.md has the sources): per 8 h interval,
``F = P + clamp(I - P, -c, +c)`` with ``I`` the interest component (0.01%), ``c`` the clamp
(0.05%) and ``P`` the interval's average premium index; since 18 Sep 2025 the rate of an
N-hour interval is that value times N / 8. So ``F`` is exactly ``I`` whenever ``P`` lies in
``[I - c, I + c]`` (-0.04%..+0.06%): the "interest-rate floor showing through the clamp" that
makes 20-25% of the 2025 prints exactly 0.0100%.

``FundingModel`` models ``P`` from the market up to the bar before each payment, plus a
seeded noise (the part of the real premium that prices do not explain)::

    P[n] = premium_base + trend_beta * (ln close - EMA(ln close)) + slow[n] + jitter_sd * z[n]

with the EMA's half-life ``trend_half_life_hours``, ``slow`` an AR(1) of standard deviation
``noise_sd`` and half-life ``noise_half_life_days`` (calendar time), ``z`` standard normal
draws from the run's ``funding`` stream. ``FUNDING_MODELS`` holds the parameters fitted to the
Binance prints of 1 January to 14 September 2025 (docs/accounts.md, "Funding": how, and which
figure comes from which data).
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ScenarioError, is_number

if TYPE_CHECKING:          # numpy and the market only when a schedule is computed (the plugin reads
    import numpy as np     # the account rules at start-up)

    from ..market.data import MarketData
    from .rules import Account

_log = logging.getLogger("pytest_stress")

__all__ = ["FundingModel", "FUNDING_MODELS", "funding_model_for", "funding_schedule", "data_prints", "model_rates",
           "premium_trend", "binance_funding_prints"]

#: Valid ranges of ``FundingModel``'s parameters (per 8 h where a rate).
_RANGES: dict[str, tuple[float, float]] = {
    "interest": (-0.01, 0.01), "clamp": (0.0, 0.01), "cap": (1e-6, 0.1), "premium_base": (-0.01, 0.01),
    "trend_beta": (0.0, 0.1), "trend_half_life_hours": (0.25, 24.0 * 365), "noise_sd": (0.0, 0.01),
    "noise_half_life_days": (0.01, 365.0), "jitter_sd": (0.0, 0.01)}


@dataclass(frozen=True)
class FundingModel:
    """Binance's funding formula with a modelled premium. Rates are per 8 h (scaled by
    ``interval / 8`` for another interval, Binance's rule since 18 Sep 2025).

    The defaults are BTCUSDT's fit (``FUNDING_MODELS``); ``FundingModel(trend_beta=0.05,
    trend_half_life_hours=4, noise_sd=0, jitter_sd=0, premium_base=0)`` is a premium that
    follows the last hours' move strongly, with no noise (a stress, not a calibration).
    """

    #: ``I``: the interest component, 0.01% per 8 h on Binance (0 on BNBUSDT)
    interest: float = 0.0001
    #: ``c``: ``F = P + clamp(I - P, -c, +c)``, 0.05% on Binance
    clamp: float = 0.0005
    #: the rate is kept within +-cap (design choice: the common caps are 0.3%..0.75%; some small
    #: contracts have +-3%)
    cap: float = 0.0075
    #: the premium's level when the price sits on its trend and there is no noise
    premium_base: float = -0.00045
    #: premium per unit of ``ln close - EMA(ln close)`` (0.0002: a price 10% above its EMA adds 0.002%)
    trend_beta: float = 0.0002
    #: half-life of the EMA of the log close, hours of calendar time
    trend_half_life_hours: float = 504.0
    #: standard deviation of the premium's slow noise (AR(1))
    noise_sd: float = 0.00005
    #: half-life of the slow noise, days of calendar time
    noise_half_life_days: float = 5.0
    #: standard deviation of the premium's noise independent from one payment to the next
    jitter_sd: float = 0.000025

    def __post_init__(self) -> None:
        for name, (lo, hi) in _RANGES.items():
            v = getattr(self, name)
            if not is_number(v) or math.isnan(v) or not (lo <= v <= hi):
                raise ScenarioError(f"FundingModel: {name} = {v!r}; expected a number in [{lo:g}, {hi:g}]")
            object.__setattr__(self, name, float(v))

    @property
    def noisy(self) -> bool:
        return self.noise_sd > 0 or self.jitter_sd > 0

    def replace(self, **changes: Any) -> "FundingModel":
        return dataclasses.replace(self, **changes)


#: Fitted to the Binance USDⓈ-M prints of 2024-12-31 .. 2025-09-14 (``../shared/data``'s
#: ``binance_usdm_funding_2025-01_to_2025-09-14.csv``) on that period's perpetual hourly closes
#: (Harthor/marketlab @ 6135a753, ``*_USDT_USDT-1h-futures.feather``): the trend part (half-life,
#: beta) by least squares of the model without noise against the prints; then the noise and the
#: base level so that the mean, sd, share of prints at exactly 0.0100% and autocorrelations at
#: lags 1 and 21 payments of the simulated rates are those of the prints (benchmarks/fit_funding.py
#: re-runs the fit). docs/accounts.md and benchmarks/bench_accounts.py print model against prints.
FUNDING_MODELS: dict[str, FundingModel] = {
    "BTCUSDT": FundingModel(),
    "ETHUSDT": FundingModel(premium_base=-0.00044, trend_beta=0.0004, trend_half_life_hours=72.0,
                            noise_sd=0.00005, noise_half_life_days=3.0, jitter_sd=0.000025),
    "SOLUSDT": FundingModel(premium_base=-0.00047, trend_beta=0.0008, trend_half_life_hours=24.0,
                            noise_sd=0.000075, noise_half_life_days=3.0, jitter_sd=0.00005),
}
#: Symbols without a fit of their own take SOLUSDT's (the widest of the three, as the tier
#: tables fall back on SOLUSDT's, the strictest).
_FALLBACK = "SOLUSDT"


def funding_model_for(symbol: str) -> FundingModel:
    """The fitted model of ``symbol``: its own (``BTCUSDT``, or a name starting ``BTC``), else SOLUSDT's."""
    if symbol in FUNDING_MODELS:
        return FUNDING_MODELS[symbol]
    for name, model in FUNDING_MODELS.items():
        if symbol.upper().startswith(name[:3]):
            return model
    return FUNDING_MODELS[_FALLBACK]


def premium_trend(close: "np.ndarray", bar_seconds: float, half_life_hours: float) -> "np.ndarray":
    """``ln close - EMA(ln close)`` at every bar (the EMA starts at the first close; its
    half-life in calendar hours whatever the bar), computed once per run by ``ar1_scan``."""
    import numpy as np   # lazy: the plugin reads the account rules at start-up without numpy

    from ..market.synthetic import ar1_scan   # lazy: the market package only when a schedule is computed

    # math.log, not np.log: the platform's libm, the same to the last bit in every process (numpy's
    # log may take a SIMD path that depends on the CPU)
    lc = np.fromiter(map(math.log, np.asarray(close, dtype=np.float64).tolist()), np.float64, len(close))
    phi = 0.5 ** (bar_seconds / (half_life_hours * 3600.0))
    base = lc[0] if len(lc) else 0.0
    ema = ar1_scan((1.0 - phi) * (lc - base), phi, 0.0) + base
    return lc - ema


def model_rates(model: FundingModel, close: "np.ndarray", bar_seconds: float, prev: "np.ndarray",
                interval_hours: float, z: "np.ndarray | None" = None) -> "np.ndarray":
    """The model's rate at each payment: ``prev[n]`` is the last bar before payment ``n`` (the
    premium uses no later close); ``z`` is ``(2, len(prev))`` standard normals (the slow noise's
    shocks, then the jitter), or None for the model without noise."""
    import numpy as np   # lazy: as in premium_trend

    from ..market.synthetic import ar1_scan   # lazy: as in premium_trend

    prev = np.asarray(prev, dtype=np.int64)
    premium = np.full(len(prev), model.premium_base)
    if model.trend_beta and len(prev):
        premium += model.trend_beta * premium_trend(close, bar_seconds, model.trend_half_life_hours)[prev]
    if z is not None and model.noisy and len(prev):
        phi = 0.5 ** (interval_hours / (24.0 * model.noise_half_life_days))
        shocks = z[0] * (model.noise_sd * math.sqrt(1.0 - phi * phi))
        shocks[0] = z[0, 0] * model.noise_sd          # the first in the stationary distribution
        premium += ar1_scan(shocks, phi, 0.0) + model.jitter_sd * z[1]
    # P + clamp(I - P, -c, c), written by its three branches so that the band gives I exactly (as the
    # real prints do: 0.0001, not 0.0001 up to rounding)
    rate = np.where(premium < model.interest - model.clamp, premium + model.clamp,
                    np.where(premium > model.interest + model.clamp, premium - model.clamp, model.interest))
    rate *= interval_hours / 8.0
    return np.clip(rate, -model.cap, model.cap)


def _payment_bars(timestamps: "np.ndarray", interval_hours: float) -> "np.ndarray":
    """The first bar at or after each multiple of the interval in UTC after the first bar."""
    import numpy as np   # lazy: as in premium_trend

    ts = timestamps
    step = int(interval_hours * 3600 * 1_000_000_000)
    first = -(-int(ts[0]) // step) * step
    if first == int(ts[0]):
        first += step                       # a run starts after the payment at its first instant
    instants = np.arange(first, int(ts[-1]) + 1, step, dtype=np.int64)
    bars = np.searchsorted(ts, instants, side="left")
    bars = bars[bars < len(ts)]
    if len(bars):                           # sorted: keep the first of each run of equal bars
        bars = bars[np.concatenate(([True], bars[1:] != bars[:-1]))]
    return bars


def funding_schedule(account: "Account", market: "MarketData",
                     rng: "np.random.Generator | None" = None) -> tuple[list[int], list[list[float]]]:
    """The bars at which funding is paid and each payment's rate per symbol, computed once per run.

    Funding instants are the multiples of the interval in UTC (00:00, 08:00, 16:00 for 8 h).
    A payment is applied at the first bar whose timestamp is at or after its instant,
    to the positions held then, at that bar's open. ``account.funding``:

    - a number: that rate at every payment, for every symbol;
    - a pandas Series of rates indexed by time: the latest rate at or before each payment's
      bar (0 before the first), for every symbol (a replay of real prints pays those prints);
    - ``"model"``: each symbol's ``funding_model_for(symbol)``; a ``FundingModel``: that model
      for every symbol. The premium uses closes up to the bar before the payment's bar (no
      later bar); the noise is drawn from ``rng`` (the run's ``funding`` stream; None: a
      generator seeded 0), ``(symbols, 2, payments)`` standard normals in one draw.
    - ``"model"`` on a market that carries funding prints (``MarketData.funding``, a replay of
      perpetual data such as ``EventSource("2025-10-10")``): each print at its bar, for its symbol
      (``data_prints``); a symbol without prints in the data keeps its model.
    """
    import numpy as np   # lazy: as in premium_trend

    from ..market.data import CLOSE   # lazy: the market package only when a schedule is computed

    f = account.funding
    if account.kind != "perpetual" or f is None or market.n_bars == 0:
        return [], []
    if market.funding is not None and isinstance(f, str) and f == "model":
        return data_prints(account, market, rng)
    bars = _payment_bars(market.timestamps, account.funding_interval_hours)
    k = len(market.symbols)
    if is_number(f):
        return bars.tolist(), [[float(f)] * k for _ in range(len(bars))]
    if isinstance(f, FundingModel) or (isinstance(f, str) and f == "model"):
        models = [f if isinstance(f, FundingModel) else funding_model_for(s) for s in market.symbols]
        prev = np.maximum(bars - 1, 0)
        z = None
        if any(m.noisy for m in models) and len(bars):
            gen = rng if rng is not None else np.random.default_rng(0)
            z = gen.standard_normal((k, 2, len(bars)))
        rates = np.empty((len(bars), k))
        for s, m in enumerate(models):
            rates[:, s] = model_rates(m, market.values[CLOSE, s], market.bar_seconds, prev,
                                      account.funding_interval_hours, None if z is None else z[s])
        return bars.tolist(), rates.tolist()
    import pandas as pd   # lazy: only a user-given funding Series needs it

    series = pd.Series(f).sort_index()
    index = pd.DatetimeIndex(series.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    at = pd.Series(series.to_numpy(dtype=float), index=index.as_unit("ns"))
    when = pd.DatetimeIndex(market.timestamps[bars].astype("datetime64[ns]"), tz="UTC")
    _check_coverage(at.index, when, account.funding_interval_hours)
    picked = at.reindex(when, method="ffill")
    rates1 = np.nan_to_num(picked.to_numpy(dtype=float), nan=0.0)
    return bars.tolist(), [[float(r)] * k for r in rates1]


def data_prints(account: "Account", market: "MarketData",
                rng: "np.random.Generator | None" = None) -> tuple[list[int], list[list[float]]]:
    """The funding a market's own prints pay (``MarketData.funding``): at each bar with a print, each
    symbol pays its print there (0 for a symbol whose print is missing at that bar); a symbol
    with no print anywhere pays its model's rates (``funding_schedule``'s ``"model"``) at the model's
    payment bars. The prints are paid as given, whatever ``account.funding_interval_hours``."""
    import numpy as np   # lazy: as in premium_trend

    prints = market.funding
    assert prints is not None
    given = ~np.isnan(prints)
    has = given.any(axis=1)
    bars = set(np.flatnonzero(given.any(axis=0)).tolist())
    model: dict[int, list[float]] = {}
    if not has.all():
        mb, mr = funding_schedule(account, market.replace(funding=None), rng)
        model = dict(zip(mb, mr))
        bars.update(model)
    out_bars = sorted(bars)
    rates = []
    for b in out_bars:
        row = []
        for s in range(len(market.symbols)):
            if has[s]:
                row.append(float(prints[s, b]) if given[s, b] else 0.0)
            else:
                row.append(model[b][s] if b in model else 0.0)
        rates.append(row)
    return out_bars, rates


def _check_coverage(index: Any, when: Any, interval_hours: float) -> None:
    """A Series of rates is paid as given: payments before its first rate pay 0, payments after its
    last rate pay that rate. None covered is an error (prints of another period); some: a warning."""
    import pandas as pd   # lazy: only a funding Series needs it

    if not len(when) or not len(index):
        return
    first, last = index[0], index[-1] + pd.Timedelta(hours=interval_hours)
    outside = int(((when < first) | (when > last)).sum())
    span = f"the Series covers {first:%Y-%m-%d %H:%M} .. {index[-1]:%Y-%m-%d %H:%M} UTC, the market's " \
           f"{len(when)} payments fall in {when[0]:%Y-%m-%d %H:%M} .. {when[-1]:%Y-%m-%d %H:%M} UTC"
    if outside == len(when):
        raise ScenarioError(f"Account: funding Series: {span}: none is covered; give rates for the market's "
                            "dates (a Series is paid as given), a constant, or 'model'")
    if outside:
        _log.warning("funding Series: %s: %d payment(s) outside it pay 0 before its first rate and its last "
                     "rate after it", span, outside)


def binance_funding_prints(symbol: str = "BTCUSDT") -> Any:
    """Binance USDⓈ-M funding prints of ``symbol`` (BTCUSDT, ETHUSDT, SOLUSDT), 8-hourly from
    2024-12-31 to 2025-09-14, as a pandas Series of rates per 8 h indexed by UTC time, for
    ``Account.perpetual(funding=...)``. Source: Harthor/marketlab @ 6135a753,
    ``user_data/data/binance/futures/*_USDT_USDT-1h-funding_rate.feather`` (freqtrade's
    download of Binance's funding history), shipped in ``market/event_data``."""
    from importlib import resources   # lazy: only the shipped prints need it

    import pandas as pd   # lazy: real prints are read with pandas

    path = resources.files("pytest_stress.market").joinpath("event_data", _PRINTS_FILE)
    with resources.as_file(path) as p:
        data = pd.read_csv(p, compression="gzip")
    rows = data[data["symbol"] == symbol]
    if rows.empty:
        raise ScenarioError(f"binance_funding_prints: symbol = {symbol!r}; expected one of "
                            f"{', '.join(sorted(data['symbol'].unique()))}")
    index = pd.DatetimeIndex(pd.to_datetime(rows["timestamp"], utc=True))
    return pd.Series(rows["funding_rate"].to_numpy(dtype=float), index=index, name=symbol)


_PRINTS_FILE = "binance_usdm_funding_2025-01_to_2025-09-14.csv.gz"
