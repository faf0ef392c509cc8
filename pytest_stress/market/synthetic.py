"""Synthetic markets: geometric Brownian motion with GARCH(1,1) volatility clustering.

Everything is vectorised, the GARCH recursion included (see ``garch_variance``), and every
random number comes from the ``numpy.random.Generator`` passed in.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ScenarioError
from .data import FIELDS, MarketData, owned, timeframe_seconds
from .profiles import profile_for

__all__ = ["garch_variance", "garch_variance_loop", "correlation_matrix", "generate_market", "SECONDS_PER_YEAR"]

SECONDS_PER_YEAR = 365 * 86_400
_CHUNK = 64          # products of 64 coefficients stay far from float64 underflow
_TINY = 1e-250       # a chunk whose running product leaves [_TINY, 1/_TINY] is done by the loop


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
    computes for all chunks at once; only the chunk-start values are carried in Python
    (one step per 64 bars). A chunk whose product could underflow is done by the plain
    loop instead, so the result equals ``garch_variance_loop`` to about 1e-14 relative.
    ``h0`` defaults to the unconditional variance omega / (1 - alpha - beta).
    """
    _check_garch(omega, alpha, beta)
    z = np.asarray(z, dtype=np.float64)
    n = len(z)
    h = np.empty(n)
    if n == 0:
        return h
    h[0] = omega / (1 - alpha - beta) if h0 is None else h0
    m = n - 1
    if m == 0:
        return h
    n_chunks = -(-m // _CHUNK)
    a = np.ones(n_chunks * _CHUNK)
    np.multiply(z[:-1], z[:-1], out=a[:m])
    a[:m] *= alpha
    a[:m] += beta
    prod = np.cumprod(a.reshape(n_chunks, _CHUNK), axis=1, out=a.reshape(n_chunks, _CHUNK))  # in place
    risky = set(np.flatnonzero((prod.min(axis=1) < _TINY) | (prod.max(axis=1) > 1 / _TINY)).tolist())
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        acc = np.divide(1.0, prod)
        np.cumsum(acc, axis=1, out=acc)
    end_p = prod[:, -1].tolist()
    end_s = acc[:, -1].tolist()
    starts = np.empty(n_chunks)
    carry = float(h[0])
    loop_rows: dict[int, list[float]] = {}
    for k in range(n_chunks):
        starts[k] = carry
        if k in risky:
            vals = []
            for c in _chunk_coefficients(z, alpha, beta, k, m):
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
    h[1:] = acc.ravel()[:m]
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


def generate_market(
    symbols: Sequence[str] = ("BTCUSDT",),
    bars: int = 1000,
    timeframe: str = "1h",
    rng: np.random.Generator | int | None = None,
    *,
    start: str | np.datetime64 = "2024-01-01",
    annual_vol: float | Mapping[str, float] | None = None,
    annual_drift: float = 0.0,
    garch_alpha: float = 0.05,
    garch_beta: float = 0.90,
    garch: bool = True,
    correlation: float | Sequence[Sequence[float]] | np.ndarray | None = None,
    tick_rounding: bool = True,
) -> MarketData:
    """Generate OHLCV + spread bars for ``symbols``.

    - close: GBM whose per-bar variance follows GARCH(1,1) with long-run level set by
      ``annual_vol`` (default: each asset's profile) and persistence ``garch_alpha + garch_beta``;
      ``garch=False`` gives constant volatility.
    - open: the previous close times a small gap; high and low: wicks beyond max/min(open, close).
    - volume: the asset's typical volume, log-normal noise, higher on large absolute returns.
    - spread: the asset's calm spread, wider when conditional volatility is high.
    - several symbols: shocks correlated by ``correlation`` (one pairwise figure or a matrix).
    """
    if isinstance(bars, bool) or not isinstance(bars, (int, np.integer)) or bars < 2:
        raise ScenarioError(f"generate_market: bars = {bars!r} is invalid; expected an integer >= 2")
    symbols = tuple(symbols)
    if not symbols or len(set(symbols)) != len(symbols):
        raise ScenarioError(f"generate_market: symbols = {symbols!r}; expected distinct names, at least one")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    bar_s = timeframe_seconds(timeframe)
    dt = bar_s / SECONDS_PER_YEAR
    n, k = int(bars), len(symbols)
    corr = correlation_matrix(correlation, k)

    # One normal shock per bar and symbol; the cheaper uniform and exponential draws shape
    # gaps, wicks and volume noise. Draw order is fixed, so a seed is one market everywhere.
    normals = rng.standard_normal((k, n))
    shocks = _cholesky_psd(corr) @ normals if k > 1 else normals
    values = np.empty((len(FIELDS), k, n))
    t0 = _utc_ns(start)
    timestamps = np.arange(n, dtype=np.int64)
    timestamps *= bar_s * 1_000_000_000
    timestamps += t0

    for s, sym in enumerate(symbols):
        prof = profile_for(sym)
        vol = annual_vol.get(sym, prof.annual_vol) if isinstance(annual_vol, Mapping) else (
            prof.annual_vol if annual_vol is None else float(annual_vol))
        if not vol > 0:
            raise ScenarioError(f"generate_market: annual_vol for {sym!r} = {vol!r}; expected > 0")
        var_bar = vol * vol * dt
        sigma = np.sqrt(var_bar)
        z = shocks[s]
        if garch:
            h = garch_variance(z, var_bar * (1 - garch_alpha - garch_beta), garch_alpha, garch_beta)
        else:
            h = np.full(n, var_bar)
        sd = np.sqrt(h)
        uniforms = rng.random((2, n))               # drawn per symbol, after its shocks: less memory
        wicks = rng.standard_exponential((2, n))
        ret = sd * z
        ret -= 0.5 * h
        ret += annual_drift * dt
        open_, high, low, close, volume, spread, depth = values[:, s]
        np.cumsum(ret, out=close)
        close += np.log(prof.price)
        np.exp(close, out=close)
        # open: the previous close moved by a small gap (uniform, sd 0.05 of the bar's)
        open_[0] = prof.price
        open_[1:] = close[:-1]
        gap = uniforms[0]
        gap -= 0.5
        gap *= sd
        gap *= 0.05 * np.sqrt(12.0)
        gap += 1.0
        open_ *= gap
        if tick_rounding:
            tick = prof.tick
            for arr in (open_, close):
                arr /= tick
                np.rint(arr, out=arr)
                arr *= tick
                np.maximum(arr, tick, out=arr)
        top = np.maximum(open_, close)
        bottom = np.minimum(open_, close)
        # wicks beyond the body: exponential, half the bar's sd on average
        up = wicks[0]
        up *= sd
        up *= 0.5
        up += 1.0
        np.multiply(top, up, out=high)
        down = wicks[1]
        down *= sd
        down *= 0.5
        down += 1.0
        np.divide(bottom, down, out=low)
        if tick_rounding:
            high /= tick
            np.ceil(high, out=high)
            high *= tick
            np.maximum(high, top, out=high)
            low /= tick
            np.floor(low, out=low)
            low *= tick
            np.maximum(low, tick, out=low)
            np.minimum(low, bottom, out=low)
        # volume: typical level, uniform noise, more on large absolute returns
        np.abs(ret, out=volume)
        volume *= 0.6 / sigma
        volume += 0.5
        volume *= uniforms[1] + 0.5
        volume *= prof.volume
        # spread: calm level, wider when conditional volatility is high
        np.sqrt(sd / sigma, out=spread)
        spread *= prof.spread
        # depth near the touch: the calm bar volume, thinner when conditional volatility is high
        np.divide(sigma, sd, out=depth)
        depth *= prof.volume
        del h, sd, ret, top, bottom, uniforms, wicks
    return MarketData(symbols, owned(timestamps), owned(values), timeframe)
