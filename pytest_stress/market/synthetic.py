"""Synthetic markets: fat-tailed returns with two-speed volatility memory in calendar time.

The model (docs/market.md has it written out with its sources): per bar and symbol,
r = sigma * sqrt(f * g) * z - h / 2 + mu * dt with z Student-t of unit variance (one
chi-square draw per bar shared by all symbols) plus common jumps (tail dependence; spread over
an hour of bars on shorter timeframes), f a fast GARCH(1,1) factor with hourly figures
converted to the bar length plus the variance echo of past jumps, g a slow log-variance AR(1)
shared by all symbols with a half-life in days. Volume follows a daily profile, the
conditional volatility and the bar's shock, scaled to the bar length; spreads scale with
the conditional volatility; depth near the touch is volume over volatility.

Everything is vectorised, the GARCH recursion and the AR(1) included (``garch_variance``,
``ar1_scan``), and every random number comes from the ``numpy.random.Generator`` passed in.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import functools
import logging
import math

import numpy as np

from ..errors import ScenarioError
from .data import FIELDS, MarketData, owned, timeframe_seconds
from .profiles import MARKET_MODEL, MarketModel, profile_for

__all__ = ["garch_variance", "garch_variance_loop", "ar1_scan", "bar_garch", "correlation_matrix", "generate_market",
           "SECONDS_PER_YEAR", "effective_tick"]

_log = logging.getLogger("pytest_stress")
SECONDS_PER_YEAR = 365 * 86_400
_CHUNK = 64          # products of 64 coefficients stay far from float64 underflow
_TINY = 1e-250       # a chunk whose running product leaves [_TINY, 1/_TINY] is done by the loop
#: bars per block of the passes that work block by block: a few hundred KB of temporaries, reused
#: (a fresh bar-length array costs more in page faults than the arithmetic done in it)
_BLOCK = 1 << 16


def _check_garch(omega: float, alpha: float, beta: float) -> None:
    if not (omega > 0 and alpha >= 0 and beta >= 0 and alpha + beta < 1):
        raise ScenarioError(
            f"GARCH(1,1): omega={omega!r}, alpha={alpha!r}, beta={beta!r} is invalid; "
            "expected omega > 0, alpha >= 0, beta >= 0 and alpha + beta < 1 (a stationary variance)")


def garch_variance_loop(z: np.ndarray, omega: float, alpha: float, beta: float, h0: float | None = None) -> np.ndarray:
    """Reference GARCH(1,1) variance as a plain loop: h[t] = omega + (alpha z[t-1]^2 + beta) h[t-1]."""
    _check_garch(omega, alpha, beta)
    h = np.empty(len(z))
    if len(z) == 0:
        return h
    prev = omega / (1 - alpha - beta) if h0 is None else h0
    h[0] = prev
    for t in range(1, len(z)):
        prev = omega + (alpha * z[t - 1] * z[t - 1] + beta) * prev
        h[t] = prev
    return h


def garch_variance(z: np.ndarray, omega: float, alpha: float, beta: float, h0: float | None = None) -> np.ndarray:
    """GARCH(1,1) conditional variance of standardised shocks ``z``, computed exactly in numpy.

    The recursion h[t] = omega + a[t] h[t-1] with a[t] = alpha z[t-1]^2 + beta is linear
    with random coefficients. Inside a chunk of 64 bars its solution is
    h = P (h_start + omega * cumsum(1 / P)) with P the running product of a, which numpy
    computes for 1024 chunks at a time (into the result's own memory); only the chunk-start
    values are carried in Python (one step per 64 bars). A chunk whose product could underflow is done by the plain
    loop instead, so the result equals ``garch_variance_loop`` to about 1e-14 relative.
    ``h0`` defaults to the unconditional variance omega / (1 - alpha - beta).
    """
    _check_garch(omega, alpha, beta)
    z = np.asarray(z, dtype=np.float64)
    n = len(z)
    m = n - 1
    n_chunks = -(-max(m, 0) // _CHUNK)
    # h[1:] is laid out as the (chunk, 64) table the solution is computed in, so the
    # result needs no copy: the buffer is padded to whole chunks and h is its first n values
    buf = np.empty(1 + n_chunks * _CHUNK)
    h = buf[:n]
    if n == 0:
        return h
    h[0] = omega / (1 - alpha - beta) if h0 is None else h0
    if m == 0:
        return h
    carry = float(h[0])
    group = max(_BLOCK // _CHUNK, 1)                  # chunks per pass: temporaries stay small and in cache
    coef = np.empty((min(group, n_chunks), _CHUNK))
    for g0 in range(0, n_chunks, group):
        g1 = min(g0 + group, n_chunks)
        lo, hi = g0 * _CHUNK, min(g1 * _CHUNK, m)
        prod = coef[:g1 - g0]
        flat = prod.reshape(-1)
        np.multiply(z[lo:hi], z[lo:hi], out=flat[:hi - lo])
        flat[:hi - lo] *= alpha
        flat[:hi - lo] += beta
        flat[hi - lo:] = 1.0                          # padding of the last chunk
        np.cumprod(prod, axis=1, out=prod)            # in place
        risky = set(np.flatnonzero((prod.min(axis=1) < _TINY) | (prod.max(axis=1) > 1 / _TINY)).tolist())
        acc = buf[1 + lo:1 + g1 * _CHUNK].reshape(g1 - g0, _CHUNK)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            np.divide(1.0, prod, out=acc)
            np.cumsum(acc, axis=1, out=acc)
        end_p = prod[:, -1].tolist()
        end_s = acc[:, -1].tolist()
        starts = np.empty(g1 - g0)
        loop_rows: dict[int, list[float]] = {}
        for k in range(g1 - g0):
            starts[k] = carry
            if k in risky:
                vals = []
                for c in _chunk_coefficients(z, alpha, beta, g0 + k, m):
                    carry = omega + c * carry
                    vals.append(carry)
                loop_rows[k] = vals
            else:
                carry = end_p[k] * (carry + omega * end_s[k])
        with np.errstate(over="ignore", invalid="ignore"):   # risky rows are overwritten below
            acc *= omega
            acc += starts[:, None]
            acc *= prod
        for k, vals in loop_rows.items():
            acc[k] = vals
    return h


def _chunk_coefficients(z: np.ndarray, alpha: float, beta: float, k: int, m: int) -> list[float]:
    """Chunk k's coefficients alpha z^2 + beta, recomputed from the shocks (padding is 1)."""
    seg = z[k * _CHUNK:min((k + 1) * _CHUNK, m)]
    row = ((seg * seg) * alpha + beta).tolist()     # the same operations, in the same order, as above
    return row + [1.0] * (_CHUNK - len(row))



def correlation_matrix(correlation: float | Sequence[Sequence[float]] | np.ndarray | None, n: int) -> np.ndarray:
    """Validate (or build from one pairwise figure) an n x n correlation matrix."""
    if correlation is None:
        return np.eye(n)
    if np.isscalar(correlation):
        c = float(correlation)  # type: ignore[arg-type]
        mat = np.full((n, n), c)
        np.fill_diagonal(mat, 1.0)
    else:
        mat = np.asarray(correlation, dtype=np.float64)
    if mat.shape != (n, n):
        raise ScenarioError(f"correlation: expected a {n}x{n} matrix for {n} symbols, got shape {mat.shape}")
    if not np.all(np.isfinite(mat)) or not np.allclose(mat, mat.T, atol=1e-12):
        raise ScenarioError("correlation: the matrix must be finite and symmetric")
    if not np.allclose(np.diag(mat), 1.0) or np.any(np.abs(mat) > 1 + 1e-12):
        raise ScenarioError("correlation: the diagonal must be 1 and every entry in [-1, 1]")
    low = float(np.linalg.eigvalsh(mat).min())
    if low < -1e-10:
        raise ScenarioError(
            f"correlation: the matrix is not positive semi-definite (smallest eigenvalue {low:.3g}); "
            f"for one pairwise figure c over {n} symbols, c must be >= {-1 / max(n - 1, 1):.3g}")
    return mat


def _utc_ns(start: object) -> int:
    """Nanoseconds since the epoch (UTC) of a date string, datetime64 or pandas Timestamp."""
    value = getattr(start, "value", None)      # a pandas Timestamp, without importing pandas
    if isinstance(value, int):
        return value
    text = str(start)
    if text.endswith("Z") or "+" in text[10:]:
        import pandas as pd                       # offsets need a real parser

        return int(pd.Timestamp(text).tz_convert("UTC").value)
    return int(np.datetime64(text, "ns").astype(np.int64))


def _cholesky_psd(mat: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(mat)
    return vecs * np.sqrt(np.clip(vals, 0.0, None))


def ar1_scan(e: np.ndarray, phi: float, x0: float = 0.0) -> np.ndarray:
    """x[t] = phi * x[t-1] + e[t] with x[-1] = x0, computed exactly in numpy.

    A doubling scan: after the pass with step d, x[t] holds the sum over the last 2d
    shocks; passes stop once phi ** d is below 1e-18 (the rest cannot change a float64),
    so a short memory costs a few passes and a long one at most log2(n). Equals the
    plain loop (``ar1_scan_loop`` in the tests) to rounding.
    """
    x = np.array(e, dtype=np.float64, copy=True)
    return _ar1_in_place(x, phi, x0)



def _ar1_in_place(x: np.ndarray, phi: float, x0: float = 0.0) -> np.ndarray:
    """``ar1_scan`` on ``x`` itself (its shocks are overwritten); returns ``x``.

    Each pass x[t] += p x[t - d] runs from the end backwards in blocks, so a block's sources
    (earlier bars) are still the previous pass's values when it reads them, and the only
    temporary is one block: the same additions in the same order as the whole-array pass.
    """
    if not 0.0 <= phi < 1.0:
        raise ScenarioError(f"ar1_scan: phi = {phi!r} is invalid; expected 0 <= phi < 1")
    n = len(x)
    if n == 0:
        return x
    x[0] += phi * x0
    d, p = 1, phi
    tmp = np.empty(min(_BLOCK, n))
    while d < n and p > 1e-18:
        stop = n
        while stop > d:
            start = max(d, stop - _BLOCK)
            part = tmp[:stop - start]
            np.multiply(x[start - d:stop - d], p, out=part)     # read before this block is written
            x[start:stop] += part
            stop = start
        d *= 2
        p *= p
    return x


def bar_garch(alpha_hour: float, beta_hour: float, bar_seconds: int) -> tuple[float, float]:
    """The per-bar (alpha, beta) of a GARCH(1,1) given by its hourly figures.

    Persistence lives in calendar time: p = (alpha_h + beta_h) ** (bar / 1 h), so the
    half-life in hours is the same on every timeframe. alpha is scaled so that
    alpha^2 / (1 - p^2), the share of the fourth-moment bound it uses, stays the hourly
    one; beta = p - alpha (alpha is capped at p).
    """
    _check_garch(1.0, alpha_hour, beta_hour)
    p_h = alpha_hour + beta_hour
    if p_h == 0.0:
        return 0.0, 0.0
    p = p_h ** (bar_seconds / 3600.0)
    alpha = alpha_hour * math.sqrt((1.0 - p * p) / (1.0 - p_h * p_h))
    alpha = min(alpha, p)
    return alpha, p - alpha


def effective_tick(price: np.ndarray, tick: float) -> np.ndarray | float:
    """The price increment: ``tick``, or a power of ten small enough that a price spans at
    least 10,000 increments (venues re-tick low-priced instruments), so no path ever
    collapses onto a tick floor."""
    low = float(np.min(price)) if len(price) else tick * 1e4
    if low >= tick * 1e4:
        return tick
    return _fine_tick(price, tick)


def _fine_tick(price: np.ndarray, tick: float) -> np.ndarray:
    """``effective_tick`` bar by bar, for a series some of whose prices are below 10,000 ticks."""
    fine = np.maximum(price, 1e-300)
    fine *= 1e-4
    with np.errstate(divide="ignore"):
        np.log10(fine, out=fine)
    np.floor(fine, out=fine)
    np.power(10.0, fine, out=fine)
    return np.minimum(tick, fine, out=fine)


def _round_to(arr: np.ndarray, tick: np.ndarray | float, how) -> None:
    arr /= tick
    how(arr, out=arr)
    arr *= tick


def _mean_abs_t(nu: float) -> float:
    """E|z| of a unit-variance Student-t with nu degrees of freedom (Gaussian for inf)."""
    if math.isinf(nu):
        return math.sqrt(2.0 / math.pi)
    log_e = (math.log(2.0) + 0.5 * math.log(nu) + math.lgamma((nu + 1) / 2) - 0.5 * math.log(math.pi)
             - math.log(nu - 1) - math.lgamma(nu / 2))
    return math.exp(log_e) * math.sqrt((nu - 2.0) / nu)


@functools.lru_cache(maxsize=64)
def _mean_abs_shock(nu: float, rate: float, size: float, k: int, kappa: float) -> float:
    """E|z| of a bar's unit-variance shock with common jumps: (t_nu + J) / sqrt(1 + kappa).

    Both parts are Gaussian given their variances, so E|z| = sqrt(2 / pi) E[sqrt(V + V_J)] /
    sqrt(1 + kappa), with V = (nu - 2) / chi2_nu (Gauss-Laguerre nodes) and V_J = size^2 C w:
    C ~ Poisson(rate k) jumps covering the bar, w their share of it (1 on a bar that holds a whole
    jump; else Beta(1, k - 1), the marginal of a Dirichlet(1) share, on a grid of quantiles).
    Treating two jumps on one bar as one with a common share is the only approximation (they
    cover the same bar with probability about (rate k)^2 / 2); against the realised mean over
    10^6 bars it agrees to 0.1% from 1m to 4h bars (1d: 0.7%). The volume's shock term is
    scaled by it so its mean is 1 on every timeframe.
    """
    if math.isinf(nu):
        v, pv = np.ones(1), np.ones(1)
    else:
        t, wt = np.polynomial.laguerre.laggauss(60)
        pv = wt * t ** (nu / 2.0 - 1.0) / math.gamma(nu / 2.0)     # t = chi2 / 2 ~ Gamma(nu / 2)
        v = (nu - 2.0) / (2.0 * t)
    if k <= 1:
        w, pw = np.ones(1), np.ones(1)
    else:
        u = (np.arange(200) + 0.5) / 200.0
        w, pw = 1.0 - (1.0 - u) ** (1.0 / (k - 1)), np.full(200, 1.0 / 200.0)
    mu = rate * k
    total, p = 0.0, math.exp(-mu)
    for c in range(int(mu + 10.0 * math.sqrt(mu) + 10.0) + 1):
        if c:
            p *= mu / c
        total += p * float(pv @ np.sqrt(v[:, None] + (size * size * c) * w[None, :]) @ pw)
    return math.sqrt(2.0 / math.pi) * total / math.sqrt(1.0 + kappa)


def volume_season(timestamps: np.ndarray, bar_seconds: int, model: MarketModel) -> np.ndarray:
    """Per-bar factor of the daily volume profile, averaged over the bar's span.

    log factor = a * c * cos(2 pi (hour_mid - peak) / 24) with c = sin(pi L / 24) / (pi L / 24)
    the average of the cosine over a bar of L hours (so daily bars carry no cycle), divided
    by its daily mean so that the profile averages 1 over a day.
    """
    a = model.volume_season
    if a == 0.0:
        return np.ones(len(timestamps))
    hours = bar_seconds / 3600.0
    damp = 1.0 if hours == 0 else math.sin(math.pi * hours / 24.0) / (math.pi * hours / 24.0)
    if hours >= 24.0:
        damp = 0.0
    out = np.empty(len(timestamps))
    i0 = _bessel_i0(a * damp)          # the daily mean of exp(k cos x) is I0(k)
    secs = np.empty(min(_BLOCK, len(timestamps)), dtype=np.int64)
    for start in range(0, len(timestamps), _BLOCK):   # in blocks: element-wise, temporaries stay small
        ts = timestamps[start:start + _BLOCK]
        sec = secs[:len(ts)]
        phase = out[start:start + _BLOCK]
        np.floor_divide(ts, 1_000_000_000, out=sec)
        sec += bar_seconds // 2
        sec %= 86_400
        np.divide(sec, 3600.0, out=phase)            # the bar's mid-point, hour of the day
        phase -= model.volume_peak_hour
        phase *= 2.0 * math.pi / 24.0
        np.cos(phase, out=phase)
        phase *= a * damp
        np.exp(phase, out=phase)
        phase /= i0
    return out


#: the most bars whose daily volume profile ``generate_market`` keeps between runs (a few short
#: markets' worth: 128 KB each at most)
_SEASON_KEPT_BARS = 1 << 14


@functools.lru_cache(maxsize=4)
def _kept_season(t0: int, n: int, bar_seconds: int, model: MarketModel) -> np.ndarray:
    """``volume_season`` of ``n`` bars from ``t0`` (read-only): the same for every seed of a
    scenario, so Monte Carlo paths compute it once (its cos and exp were a tenth of a 1000-bar build)."""
    timestamps = np.arange(n, dtype=np.int64)
    timestamps *= bar_seconds * 1_000_000_000
    timestamps += t0
    season = volume_season(timestamps, bar_seconds, model)
    season.setflags(write=False)
    return season


def _bessel_i0(x: float) -> float:
    """Modified Bessel function I0 by its power series (|x| <= 2 here: 20 terms are exact)."""
    term, total = 1.0, 1.0
    for k in range(1, 20):
        term *= (x / (2.0 * k)) ** 2
        total += term
    return total


def generate_market(
    symbols: Sequence[str] = ("BTCUSDT",),
    bars: int = 1000,
    timeframe: str = "1h",
    rng: np.random.Generator | int | None = None,
    *,
    start: str | np.datetime64 = "2024-01-01",
    annual_vol: float | Mapping[str, float] | None = None,
    annual_drift: float = 0.0,
    garch_alpha: float | None = None,
    garch_beta: float | None = None,
    garch: bool = True,
    correlation: float | Sequence[Sequence[float]] | np.ndarray | None = None,
    tick_rounding: bool = True,
    model: MarketModel | None = None,
    **model_changes: float,
) -> MarketData:
    """Generate OHLCV + spread + depth bars for ``symbols`` (docs/market.md).

    - close: log return sigma_t z - h_t / 2 + mu dt, with z Student-t of unit variance
      (``model.tail_nu``; one chi-square per bar shared by all symbols) plus common jumps
      (``model.jump_rate_per_day``, ``model.jump_size``; on bars shorter than ``model.jump_hours``
      a burst over that many hours of bars), scaled to unit variance, and conditional
      variance h_t = sigma^2 dt f_t g_t: f a fast GARCH(1,1) on z with hourly figures
      ``garch_alpha``, ``garch_beta`` (default: the asset's profile; converted to the bar
      by ``bar_garch``; it sees the continuous shocks, not the jumps) plus each jump's echo
      (``model.jump_echo`` x its size^2, half-life ``model.jump_echo_hours``), so a jump's
      aftermath does not depend on the bar length; g a slow factor exp(AR(1)) shared by all
      symbols with half-life ``model.slow_half_life_days``. Both have mean 1, so ``annual_vol``
      is the long-run volatility. ``garch=False`` gives constant volatility (no f, no echo, no g).
    - drift: ``annual_drift`` is the arithmetic drift mu: the log drift is mu dt - h_t / 2
      (Ito), so E[P_t] = P_0 exp(mu t) to second order and mu = 0 is a martingale.
    - open: the previous close times a small gap; high and low: wicks beyond the body.
    - volume: hourly profile volume x bar length x daily profile x (sigma_t/sigma)^e x
      the bar's shock size (over its mean, jumps included) x log-normal noise.
      Spread: calm spread x sigma_t/sigma x noise.
      Depth: calm depth x daily profile x (sigma_t/sigma)^(e - 1) (volume over volatility).
    - several symbols: Gaussian parts correlated by ``correlation``.
    - ticks: prices round to the asset's tick, or a finer power of ten on very low prices
      (``effective_tick``), so long paths never sit on a tick floor.
    ``model`` (default ``MARKET_MODEL``) and keyword changes to it (``tail_nu=inf``...) set
    the market-wide parameters.
    """
    if isinstance(bars, bool) or not isinstance(bars, (int, np.integer)) or bars < 2:
        raise ScenarioError(f"generate_market: bars = {bars!r} is invalid; expected an integer >= 2")
    symbols = tuple(symbols)
    if not symbols or len(set(symbols)) != len(symbols):
        raise ScenarioError(f"generate_market: symbols = {symbols!r}; expected distinct names, at least one")
    model = MARKET_MODEL if model is None else model
    if model_changes:
        model = model.replace(**model_changes)
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    bar_s = timeframe_seconds(timeframe)
    dt = bar_s / SECONDS_PER_YEAR
    n, k = int(bars), len(symbols)
    corr = correlation_matrix(correlation, k)
    t0 = _utc_ns(start)
    timestamps = np.arange(n, dtype=np.int64)
    timestamps *= bar_s * 1_000_000_000
    timestamps += t0

    # Draw order is fixed (shocks, tail mixing, slow factor, then per symbol its uniforms
    # and wicks), so a seed is one market everywhere.
    bar_h = bar_s / 3600.0
    kappa = model.jump_rate_per_day / 24.0 * model.jump_size ** 2   # the jumps' variance share
    jump_size = model.jump_size
    gauss_corr = corr
    if kappa > 0 and k > 1:
        full = kappa
        kappa = _absorbable_share(corr, kappa)
        if kappa < full:
            _log.debug("generate_market: correlation %s absorbs a jump share of %.3g of %.3g; jumps scaled down",
                       corr.tolist(), kappa, full)
            jump_size *= math.sqrt(kappa / full)
        gauss_corr = (1.0 + kappa) * corr - kappa
        np.fill_diagonal(gauss_corr, 1.0)
    shocks = rng.standard_normal((k, n))
    if k > 1:
        shocks = _cholesky_psd(gauss_corr) @ shocks
    nu = model.tail_nu
    # (draws of one kind are taken in blocks of bars: consecutive calls continue the same
    # stream, so the numbers are those of one call, without a bar-length temporary)
    if not math.isinf(nu):
        for start in range(0, n, _BLOCK):           # chi-square(nu) / 2, shared by all symbols
            mix = rng.standard_gamma(nu / 2.0, min(_BLOCK, n - start))
            np.divide((nu - 2.0) / 2.0, mix, out=mix)
            np.sqrt(mix, out=mix)
            shocks[:, start:start + _BLOCK] *= mix
        del mix
    hit = jumps = echo = None
    echo_mean = 0.0
    if kappa > 0:
        # common jumps: a Poisson count per bar (rate per day), each N(0, size^2) hourly sigmas;
        # added per symbol below, after the fast variance has seen the continuous shocks only
        rate = min(model.jump_rate_per_day / 24.0 * bar_h, 1e3)
        hits, sizes = [], []
        for start in range(0, n, _BLOCK):
            counts = rng.poisson(rate, min(_BLOCK, n - start))
            at = np.flatnonzero(counts)
            hits.append(at + start)
            sizes.append(counts[at])
        hit, size = np.concatenate(hits), np.concatenate(sizes)
        del counts, hits, sizes
        hit, jumps, last, energy = _jump_pieces(hit, size, jump_size, n, bar_s, model.jump_hours, rng)
        if model.jump_echo > 0 and garch:
            echo = _jump_echo(last, energy, n, bar_h, model)
            # the echo's mean: f + echo is divided by 1 + it (below, or in the shared slow factor),
            # so the variance keeps its long-run mean
            echo_mean = model.jump_echo * jump_size ** 2 * rate / (1.0 - 0.5 ** (bar_h / model.jump_echo_hours))
        jumps *= 1.0 / math.sqrt(bar_h)             # hourly sigmas to bar sigmas
        del last, energy
    slow = None
    if garch and model.slow_vol > 0:
        eta = model.slow_vol
        phi = 0.5 ** (bar_s / (model.slow_half_life_days * 86_400.0))
        slow = rng.standard_normal(n)
        slow *= eta * math.sqrt(1.0 - phi * phi)
        _ar1_in_place(slow, phi, eta * float(rng.standard_normal()))
        slow -= 0.5 * eta * eta                     # E[exp(x)] = exp(eta^2 / 2): g has mean 1
        np.exp(slow, out=slow)
        if echo_mean:
            slow *= 1.0 / (1.0 + echo_mean)         # g / (1 + the echo's mean), once for all symbols
    mean_abs_z = _mean_abs_t(nu) if hit is None else _mean_abs_shock(
        nu, min(model.jump_rate_per_day / 24.0 * bar_h, 1e3), jump_size / math.sqrt(bar_h),
        max(int(round(model.jump_hours * 3600.0 / bar_s)), 1), kappa)
    values = np.empty((len(FIELDS), k, n))

    # Per symbol, its draws go straight into the rows of the fields they become (the gap's
    # uniforms into open, the wicks into high and low, ...), and every step writes in place:
    # a symbol needs one bar-length array beyond its own rows (rel, then sigma_t / sigma).
    for s, sym in enumerate(symbols):
        prof = profile_for(sym)
        vol = annual_vol.get(sym, prof.annual_vol) if isinstance(annual_vol, Mapping) else (
            prof.annual_vol if annual_vol is None else float(annual_vol))
        if not vol > 0:
            raise ScenarioError(f"generate_market: annual_vol for {sym!r} = {vol!r}; expected > 0")
        var_bar = vol * vol * dt
        sigma = math.sqrt(var_bar)
        z = shocks[s]
        if garch:
            a_h = prof.garch_alpha if garch_alpha is None else garch_alpha
            b_h = prof.garch_beta if garch_beta is None else garch_beta
            alpha, beta = bar_garch(a_h, b_h, bar_s)
            rel = garch_variance(z, 1.0 - alpha - beta, alpha, beta)   # f: mean 1
            if echo is not None:
                rel += echo                         # f + echo: mean 1 + echo_mean
            if slow is not None:
                rel *= slow                         # (f + echo) g / (1 + echo_mean): mean 1
            elif echo_mean:
                rel *= 1.0 / (1.0 + echo_mean)
        else:
            rel = np.ones(n)
        if hit is not None:
            z[hit] += jumps                         # in place: shocks[s] is not used again
            z *= 1.0 / math.sqrt(1.0 + kappa)
        rows = values[:, s]
        open_, high, low, close, volume, spread, depth = rows
        # drawn per symbol, after its shocks, in this order: three rows of uniforms (gap,
        # volume noise, spread noise), two of exponentials (upper and lower wick)
        for row in (open_, volume, spread):
            rng.random(out=row)
        for row in (high, low):
            rng.standard_exponential(out=row)
        vmem = None
        if model.volume_memory_vol > 0:
            eta_v = model.volume_memory_vol
            phi_v = 0.5 ** (bar_s / (model.volume_memory_hours * 3600.0))
            vmem = rng.standard_normal(out=depth)   # depth's row holds it until the volume is made
            vmem *= eta_v * math.sqrt(1.0 - phi_v * phi_v)
            _ar1_in_place(vmem, phi_v, eta_v * float(rng.standard_normal()))
            vmem -= 0.5 * eta_v * eta_v
        # Then two passes over blocks of bars (element-wise steps on small, reused temporaries:
        # no fresh bar-length arrays): closes and opens, then, once the tick is known from
        # all closes, rounding, wicks, volume, spread and depth. rel becomes sigma_t / sigma.
        carry = 0.0
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            carry = _closes_and_opens(rows[:, start:stop], z[start:stop], rel[start:stop],
                                      float(close[start - 1]) if start else None, carry,
                                      sigma, var_bar, annual_drift * dt, prof.price)
        # the tick (``effective_tick``): the asset's, or finer bar by bar if any close is below 10,000 ticks
        fine = tick_rounding and n > 0 and float(np.min(close)) < prof.tick * 1e4
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            block_tick = None if not tick_rounding else (
                _fine_tick(close[start:stop], prof.tick) if fine else prof.tick)
            season = (_kept_season(t0, n, bar_s, model) if n <= min(_SEASON_KEPT_BARS, _BLOCK)
                      else volume_season(timestamps[start:stop], bar_s, model))
            _bars_and_book(rows[:, start:stop], z[start:stop], rel[start:stop], season,
                           vmem is not None, block_tick, sigma, prof, model, mean_abs_z, bar_s)
        del rel, vmem
    return MarketData(symbols, owned(timestamps), owned(values), timeframe)


def _absorbable_share(corr: np.ndarray, kappa: float) -> float:
    """The largest jump variance share, at most ``kappa``, that the correlation matrix can absorb.

    Common jumps add kappa to every pairwise covariance, so the Gaussian part must have the
    correlation (1 + kappa) C - kappa (diagonal 1), which must be positive semi-definite. Its
    smallest eigenvalue is concave in kappa and >= 0 at 0 (C is valid), so the shares that work
    are an interval [0, kappa_max]: the full share if it works, else kappa_max by bisection
    (negative correlations near their limit absorb little or nothing).
    """
    def ok(x: float) -> bool:
        return float(np.linalg.eigvalsh((1.0 + x) * corr - x).min()) >= -1e-10

    if ok(kappa):
        return kappa
    lo, hi = 0.0, kappa
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def _jump_echo(last: np.ndarray, energy: np.ndarray, n: int, bar_h: float, model: MarketModel) -> np.ndarray:
    """The variance common jumps leave behind, relative to the long-run variance, per bar.

    A jump whose squared moves sum to ``energy`` (hourly sigmas squared) and whose last bar is
    ``last`` adds ``jump_echo`` x energy to the relative variance from the bar after it, decaying
    with half-life ``jump_echo_hours`` in calendar time: the aftermath is the same on every
    timeframe, and a jump's own bars are not amplified by it. The caller scales f + echo by
    1 / (1 + its mean).
    """
    phi = 0.5 ** (bar_h / model.jump_echo_hours)
    echo = np.zeros(n)
    at = last + 1
    keep = at < n
    np.add.at(echo, at[keep], model.jump_echo * energy[keep])
    _ar1_in_place(echo, phi)
    return echo


def _jump_pieces(hit: np.ndarray, count: np.ndarray, size: float, n: int, bar_s: int, hours: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bars common jumps move and by how much (hourly sigmas), each jump over ``hours``.

    A jump (``count`` of them in the bar ``hit``) is N(0, count x size^2) in hourly sigmas. On a bar
    of at least ``hours`` it lands in its bar. On a shorter bar it is a burst over the
    K = round(hours / bar) bars from its own: its variance is shared out by uniform random
    shares w (K exponential draws, normalised: Dirichlet(1)) and bar i moves by
    sqrt(count w_i) x size x eps_i, eps_i standard normal. The burst's sum over its K bars is again
    N(0, count x size^2), so the hour holds the same jump on every timeframe while no bar holds it
    all. Pieces past the series' end are dropped; overlapping bursts add up.
    Returns the bars moved and their moves, and per jump its last bar and the sum of its squared
    moves (for ``_jump_echo``).
    """
    k = int(round(hours * 3600.0 / bar_s))
    if k <= 1 or len(hit) == 0:
        jumps = rng.standard_normal(len(hit))
        jumps *= np.sqrt(count) * size
        return hit, jumps, hit, jumps * jumps
    w = rng.standard_exponential((len(hit), k))
    w *= (count / w.sum(axis=1))[:, None]
    np.sqrt(w, out=w)
    w *= rng.standard_normal((len(hit), k))
    w *= size
    at = hit[:, None] + np.arange(k)
    keep = at < n
    bars, where = np.unique(at[keep], return_inverse=True)
    return (bars, np.bincount(where, weights=w[keep], minlength=len(bars)), hit + (k - 1),
            np.einsum("ij,ij->i", w, w))


def _closes_and_opens(rows: np.ndarray, z: np.ndarray, rel: np.ndarray, prev_close: float | None, carry: float,
                      sigma: float, var_bar: float, drift: float, price: float) -> float:
    """Closes and opens of a block of one symbol's bars (``generate_market``'s first pass).

    Closes: the log returns cumulated on from ``carry`` (the sum up to the block, in the
    same order as one pass over all bars); opens: the previous close (``prev_close``, the
    series' start ``price`` for the first block) times the gap drawn into the open row.
    ``rel`` (the relative variance) is left holding sigma_t / sigma. Returns the sum at the
    block's end.
    """
    open_, close = rows[0], rows[3]
    sd_rel = np.sqrt(rel)                       # sigma_t / sigma
    np.multiply(sd_rel, z, out=close)           # the log return
    close *= sigma
    rel *= -0.5 * var_bar                        # the Ito term -h_t / 2, in place
    close += rel
    close += drift
    rel[:] = sd_rel
    if prev_close is not None:
        close[0] += carry
    np.cumsum(close, out=close)
    carry = float(close[-1])
    close += math.log(price)
    np.exp(close, out=close)
    # open: the previous close moved by a small gap (uniform, sd 0.05 of the bar's)
    gap = open_
    gap -= 0.5
    gap *= sd_rel
    gap *= sigma * 0.05 * math.sqrt(12.0)
    gap += 1.0
    open_[1:] *= close[:-1]
    open_[0] *= price if prev_close is None else prev_close
    return carry


def _bars_and_book(rows: np.ndarray, z: np.ndarray, sd_rel: np.ndarray, season: np.ndarray, has_vmem: bool,
                   tick: np.ndarray | float | None, sigma: float, prof, model: MarketModel, mean_abs_z: float,
                   bar_s: int) -> None:
    """Rounding, wicks, volume, spread and depth of a block of one symbol's bars (the second pass);
    the rows hold the draws (gap, wicks, volume and spread noise) and the volume memory in depth's."""
    open_, high, low, close, volume, spread, depth = rows
    if tick is not None:
        for arr in (open_, close):
            _round_to(arr, tick, np.rint)
            np.maximum(arr, tick, out=arr)
    # wicks beyond the body: exponential, half the bar's conditional sd on average
    top = np.maximum(open_, close)
    up = high
    up *= sd_rel
    up *= 0.5 * sigma
    up += 1.0
    high *= top
    if tick is not None:
        _round_to(high, tick, np.ceil)
        np.maximum(high, top, out=high)
    bottom = np.minimum(open_, close, out=top)
    down = low
    down *= sd_rel
    down *= 0.5 * sigma
    down += 1.0
    np.divide(bottom, down, out=low)
    if tick is not None:
        _round_to(low, tick, np.floor)
        np.maximum(low, tick, out=low)
        np.minimum(low, bottom, out=low)
    # volume: hourly level x bar length x daily profile x (sigma_t/sigma)^e x shock size x noise
    noise = volume
    noise -= 0.5
    noise *= model.volume_noise * math.sqrt(12.0)
    noise -= 0.5 * model.volume_noise ** 2        # mean about 1
    if has_vmem:
        noise += depth
    np.exp(noise, out=noise)
    size = np.abs(z, out=depth)                   # depth's row again, free until the end
    size *= 0.5 / mean_abs_z
    size += 0.5                                   # mean 1 over the shock
    volume *= size
    elasticity = model.volume_elasticity
    lvl = sd_rel ** elasticity if elasticity else 1.0
    volume *= lvl
    volume *= season
    volume *= prof.volume * (bar_s / 3600.0)
    # spread: calm level x sigma_t / sigma x noise (quotes scale with volatility)
    noise = spread
    noise -= 0.5
    noise *= model.spread_noise * math.sqrt(12.0)
    np.exp(noise, out=noise)
    spread *= sd_rel
    spread *= prof.spread
    # depth near the touch: volume over volatility, (sigma_t/sigma)^(e - 1); a book, not a bar total
    np.divide(lvl, sd_rel, out=depth)
    depth *= season
    depth *= prof.calm_depth
