"""Correlation breakdown: symbols that moved together stop doing so, or move against each other."""
from __future__ import annotations

import numpy as np

from ..errors import ScenarioError
from ..market.data import MarketData
from ..parameters import with_params
from .reprice import RELAX_DOC, frozen, log_returns, relaxation, reprice, stress_window

__all__ = ["correlation_breakdown"]


@with_params(
    target_correlation=dict(doc="correlation of every other symbol with the first in the window "
                                "(0 decorrelates, -1 inverts)", low=-1.0, high=1.0, scale="correlation"),
    duration_bars=dict(doc="bars the breakdown lasts", kind="int", low=2, high=1_000_000),
    relax_bars=RELAX_DOC,
    start=dict(doc="where the stress starts, as a fraction of the series", low=0.0, high=0.99),
)
def correlation_breakdown(market: MarketData, rng: np.random.Generator | None = None, *,
                          target_correlation: float = -0.5, duration_bars: int = 168,
                          relax_bars: int = 24, start: float = 0.5) -> MarketData:
    """Inside the window, rebuild the returns of symbols 2..n from the first symbol's.

    Each other symbol keeps its own mean and volatility there, but its standardised
    return becomes rho * z_first + sqrt(1 - rho^2) * fresh noise, so its correlation with
    the first symbol is ``target_correlation``. After the window the rebuilt returns fade
    back into the base's over ``relax_bars`` (weight 1 / (1 + k / relax_bars)). Needs at
    least two symbols.
    """
    if market.n_symbols < 2:
        raise ScenarioError(
            f"correlation_breakdown: needs at least 2 symbols, got {list(market.symbols)}; "
            "set symbols=('BTCUSDT', 'ETHUSDT', ...)")
    rng = np.random.default_rng() if rng is None else rng
    n = market.n_bars
    i0, i1 = stress_window(n, start, duration_bars)
    w = relaxation(n, i0, i1, relax_bars)
    i2 = int(np.flatnonzero(w)[-1]) + 1          # the last bar the stress still touches
    r = log_returns(market.close)
    seg = r[:, i0:i1]
    mu = seg.mean(axis=1, keepdims=True)
    sd = seg.std(axis=1, keepdims=True)
    sd = np.where(sd > 0, sd, 1e-12)
    all_r = r[:, i0:i2]
    lead = (all_r[0] - mu[0]) / sd[0]
    noise = rng.standard_normal((market.n_symbols - 1, i2 - i0))
    rho = target_correlation
    new = mu[1:] + sd[1:] * (rho * lead + np.sqrt(1.0 - rho * rho) * noise)
    extra = np.zeros_like(r)
    extra[1:, i0:i2] = (new - all_r[1:]) * w[None, i0:i2]
    delta = np.cumsum(extra, axis=1)
    return market.replace(values=frozen(reprice(market, delta, i0)))
