"""Correlation breakdown: symbols that moved together stop doing so, or move against each other."""
from __future__ import annotations

import numpy as np

from ..errors import ScenarioError
from ..market.data import MarketData
from ..parameters import with_params
from .reprice import frozen, log_returns, reprice, stress_window

__all__ = ["correlation_breakdown"]


@with_params(
    target_correlation=dict(doc="correlation of every other symbol with the first in the window "
                                "(0 decorrelates, -1 inverts)", low=-1.0, high=1.0),
    duration_bars=dict(doc="bars the breakdown lasts", kind="int", low=2, high=1_000_000),
    start=dict(doc="where the stress starts, as a fraction of the series", low=0.0, high=0.99),
)
def correlation_breakdown(market: MarketData, rng: np.random.Generator | None = None, *,
                          target_correlation: float = -0.5, duration_bars: int = 168,
                          start: float = 0.5) -> MarketData:
    """Inside the window, rebuild the returns of symbols 2..n from the first symbol's.

    Each other symbol keeps its own mean and volatility there, but its standardised
    return becomes rho * z_first + sqrt(1 - rho^2) * fresh noise, so its correlation with
    the first symbol is ``target_correlation``. Needs at least two symbols.
    """
    if market.n_symbols < 2:
        raise ScenarioError(
            f"correlation_breakdown: needs at least 2 symbols, got {list(market.symbols)}; "
            "set symbols=('BTCUSDT', 'ETHUSDT', ...)")
    rng = np.random.default_rng() if rng is None else rng
    i0, i1 = stress_window(market.n_bars, start, duration_bars)
    r = log_returns(market.close)
    seg = r[:, i0:i1]
    mu = seg.mean(axis=1, keepdims=True)
    sd = seg.std(axis=1, keepdims=True)
    sd = np.where(sd > 0, sd, 1e-12)
    lead = (seg[0] - mu[0]) / sd[0]
    noise = rng.standard_normal((market.n_symbols - 1, i1 - i0))
    rho = target_correlation
    new = mu[1:] + sd[1:] * (rho * lead + np.sqrt(1.0 - rho * rho) * noise)
    extra = np.zeros_like(r)
    extra[1:, i0:i1] = new - seg[1:]
    delta = np.cumsum(extra, axis=1)
    return market.replace(values=frozen(reprice(market, delta, i0)))
