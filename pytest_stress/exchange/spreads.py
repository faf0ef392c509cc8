"""Bid-ask spreads estimated from OHLC bars, for data that has no spread column.

Both estimators use a pair of consecutive bars (t - 1, t), so the estimate at bar t
uses no later bar (the published versions pair t with t + 1; shifting the pair by one
bar makes them causal). Single-pair estimates are noisy and may be negative; averages
of them are what the papers use, so ``ohlc_spread`` smooths the raw estimates with a
trailing EWMA before flooring at zero.

- Corwin, S. A. & Schultz, P. (2012), "A Simple Way to Estimate Bid-Ask Spreads from
  Daily High and Low Prices", Journal of Finance 67(2): 719-760 (equations 14, 18).
- Abdi, F. & Ranaldo, A. (2017), "A Simple Estimation of Bid-Ask Spreads from Daily
  Close, High, and Low Prices", Review of Financial Studies 30(12): 4437-4480 (eq. 11).
"""
from __future__ import annotations

import numpy as np

from .smoothing import ewma_rows

__all__ = ["corwin_schultz", "abdi_ranaldo", "ohlc_spread"]

_K = 3.0 - 2.0 * np.sqrt(2.0)


def corwin_schultz(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Raw Corwin-Schultz spread of each bar pair (t - 1, t), along the last axis; 0 at t = 0.

    beta = ln(H_{t-1}/L_{t-1})^2 + ln(H_t/L_t)^2, gamma = ln(max H / min L)^2 over the pair,
    alpha = (sqrt(2 beta) - sqrt(beta)) / (3 - 2 sqrt 2) - sqrt(gamma / (3 - 2 sqrt 2)),
    S = 2 (e^alpha - 1) / (1 + e^alpha). Negative values are kept (average, then floor).
    """
    lh = np.log(high)
    ll = np.log(low)
    hl2 = np.square(lh - ll)
    out = np.zeros_like(hl2)
    beta = hl2[..., 1:] + hl2[..., :-1]
    gamma = np.square(np.maximum(lh[..., 1:], lh[..., :-1]) - np.minimum(ll[..., 1:], ll[..., :-1]))
    alpha = (np.sqrt(2.0 * beta) - np.sqrt(beta)) / _K - np.sqrt(gamma / _K)
    e = np.exp(alpha)
    out[..., 1:] = 2.0 * (e - 1.0) / (1.0 + e)
    return out


def abdi_ranaldo(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Raw Abdi-Ranaldo squared spread of each bar pair (t - 1, t), along the last axis; 0 at t = 0.

    s^2 = 4 (c_{t-1} - eta_{t-1}) (c_{t-1} - eta_t), with c the log close and eta the
    mid-range (ln H + ln L) / 2. Returned squared (it may be negative); average, then root.
    """
    c = np.log(close)
    eta = 0.5 * (np.log(high) + np.log(low))
    out = np.zeros_like(c)
    out[..., 1:] = 4.0 * (c[..., :-1] - eta[..., :-1]) * (c[..., :-1] - eta[..., 1:])
    return out


def ohlc_spread(high: np.ndarray, low: np.ndarray, close: np.ndarray, halflife: float = 24.0) -> np.ndarray:
    """The relative spread at each bar from OHLC only: the mean of the two estimators, each
    averaged by a trailing EWMA (``halflife`` bars, bars <= t) and floored at zero."""
    cs = np.zeros(np.shape(high))
    ar = np.zeros(np.shape(high))
    if cs.shape[-1] > 1:              # bar 0 has no pair: 0 there (the caller floors at the quoted spread)
        cs[..., 1:] = ewma_rows(corwin_schultz(high, low)[..., 1:], halflife)
        ar[..., 1:] = ewma_rows(abdi_ranaldo(high, low, close)[..., 1:], halflife)
    np.maximum(cs, 0.0, out=cs)
    np.maximum(ar, 0.0, out=ar)
    np.sqrt(ar, out=ar)
    cs += ar
    cs *= 0.5
    return cs
