"""The trader's own market impact: a square-root book inside the bar, a propagator across bars.

Inside bar t the book behind the touch is a latent order book whose cumulative quantity
within a relative distance x of the touch is ``L (x / (Y sigma))^2`` (L the bar's
liquidity: its volume, or its depth with the depth's refills within the bar where that is less,
``conditions.py``; sigma its volatility). Taking q from it moves the marginal price by a factor
``1 + Y sigma sqrt(q / L)`` (up for buys, down for sells: a sell walks to ``start / (1 + m)``,
never to zero): the square-root law (Toth et al. 2011; Donier & Bonart 2015 on Bitcoin: it
"holds on four decades"), Y of order 1 (``impact_coef``). Impact is on the trader's
cumulative quantity on that side in the bar, so an order's average cost is the integral
over its own segment, ``segment_cost``; splitting an order changes nothing. The price band
(``max_quantity``) bounds the bar's walk on each side from the undisplaced price, so
splitting cannot walk further either.

Across bars the displacement is carried **in log space** (a later fill starts at
``price * exp(d)``, always positive: adding a relative displacement, ``price * (1 + d)``,
took a crash's start below zero once d < -1, issue #27). Each bar's end-of-bar impact is
the log of the marginal price its walk left, I = ln(1 + Y sigma sqrt(Qbuy / L)) -
ln(1 + Y sigma sqrt(Qsell / L)) (I = Y sigma (sqrt(Qbuy / L) - sqrt(Qsell / L)) to first
order), and splits into
- a transient part (1 - theta) I that decays with the propagator kernel
  G(k) = (1 + k / l0)^(-1/2) after k bars (Bouchaud et al. 2004: a power-law kernel with
  exponent near 1/2; Obizhaeva & Wang 2013 for resilience), with l0 = 1/4 bar: then a
  metaorder spread evenly over N bars moves the price by sqrt(N) times one bar's impact,
  which is the square-root law of its total (sum of G over N bars = 2 sqrt(l0 N)).
  G is a sum of 11 exponentials (a geometric grid of the Laplace transform of the power law)
  so that the state is a few numbers per symbol;
- a permanent part theta (``permanent_impact``): the square-root law applied to the
  trader's net quantity X so far, in log space: theta (phi(X1) - phi(X0)) per bar with
  phi(X) = sgn X ln(1 + Y sigma sqrt(|X| / L)), concave in |X| (a metaorder's permanent
  impact is theta times its square-root impact) and undone by trading back. theta = 0.5:
  after a metaorder the displacement first relaxes to about 0.7 of its peak (Moro et al.
  2009 and Bershova & Rakhlin 2013 report about 2/3), then slowly towards theta (Donier &
  Bonart 2015 see almost complete decay for uninformed flow; 0.5 is a design choice between
  the two). A one-bar metaorder's two parts add up to exactly the log of the marginal price
  its walk reached.

Later fills see both (``displacement``, in log); ``path`` gives them per bar as relative
displacements ``exp(d) - 1`` (> -1) for marks.
"""
from __future__ import annotations

import math

import numpy as np

from ..market.synthetic import ar1_scan

__all__ = ["ImpactState", "segment_cost", "max_quantity", "kernel", "KERNEL_L0"]

#: l0 of the propagator kernel, in bars (see the module docstring).
KERNEL_L0 = 0.25


def _kernel_components(l0: float = KERNEL_L0, beta: float = 0.5, ratio: float = 6.0,
                       s_min: float = 1e-7, s_max: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Rates s_j (per bar) and weights w_j with sum_j w_j exp(-s_j k) ~ (1 + k / l0)^(-beta), w summing to 1.

    (l0 + k)^(-beta) = 1 / Gamma(beta) * integral of s^(beta - 1) exp(-s (l0 + k)) ds,
    discretised on a geometric grid of s (ratio ``ratio``)."""
    s = s_min * ratio ** np.arange(int(math.log(s_max / s_min) / math.log(ratio)) + 1)
    w = s ** beta * np.exp(-s * l0) * math.log(ratio) / math.gamma(beta) * l0 ** beta
    return s, w / w.sum()


_RATES, _WEIGHTS = _kernel_components()
_W: list[float] = _WEIGHTS.tolist()       # per-order work is on a dozen floats: plain Python is faster
_DECAY: dict[int, list[float]] = {}


def _decay(dt: int) -> list[float]:
    """exp(-s_j dt) for each component, cached for the gaps that recur (small ones)."""
    d = _DECAY.get(dt)
    if d is None:
        d = np.exp(-_RATES * dt).tolist()
        if dt < 4096:
            _DECAY[dt] = d
    return d


def kernel(k: np.ndarray | float) -> np.ndarray:
    """The transient kernel G after ``k`` bars, as implemented (G(0) = 1)."""
    k = np.asarray(k, dtype=np.float64)
    return np.exp(-np.multiply.outer(k, _RATES)) @ _WEIGHTS


def segment_cost(y_sigma: float, q0: float, q1: float, liquidity: float) -> float:
    """Average relative impact of taking the book from cumulative ``q0`` to ``q1`` (q1 > q0)."""
    if y_sigma <= 0.0 or q1 <= q0:
        return 0.0
    if liquidity <= 0.0:
        return math.inf
    return y_sigma * (2.0 / 3.0) * (q1 * math.sqrt(q1) - q0 * math.sqrt(q0)) / ((q1 - q0) * math.sqrt(liquidity))


def max_quantity(y_sigma: float, liquidity: float, band: float, adverse: float = 0.0) -> float:
    """The cumulative quantity one side may take from the book in a bar before its marginal
    price is ``band`` beyond the order's undisplaced price: a buy's marginal price
    ``start (1 + m)`` at most ``pre (1 + band)``, a sell's ``start / (1 + m)`` at least
    ``pre / (1 + band)``, where ``start = pre exp(d)`` and ``adverse`` is the carried log
    displacement in the order's adverse direction (d for a buy, -d for a sell). However the
    bar's quantity is split, the side takes no more than this (``SimulatedExchange._taker``
    inlines it)."""
    if y_sigma <= 0.0 or math.isinf(band):
        return math.inf
    if liquidity <= 0.0:
        return 0.0
    m = (1.0 + band) * math.exp(-adverse) - 1.0 if adverse else band
    return liquidity * (m / y_sigma) ** 2 if m > 0.0 else 0.0


class ImpactState:
    """Per symbol: the trader's cumulative quantity in the current bar, and the carried displacement."""

    __slots__ = ("_t", "_buy", "_sell", "_net", "_perm", "_trans", "_last", "_permanent", "_events",
                 "_bar_impact", "_y_sigma", "_liq", "_cache_t", "_cache_v")

    def __init__(self, n_symbols: int, permanent: float) -> None:
        self._t = -1
        self._buy = [0.0] * n_symbols
        self._sell = [0.0] * n_symbols
        self._y_sigma = [0.0] * n_symbols
        self._liq = [0.0] * n_symbols
        self._net = [0.0] * n_symbols
        self._perm = [0.0] * n_symbols
        self._trans: list[list[float] | None] = [None] * n_symbols
        self._last = [0] * n_symbols
        self._cache_t = [-1] * n_symbols          # displacement already computed at this bar
        self._cache_v = [0.0] * n_symbols
        self._permanent = permanent
        self._events: list[tuple[int, int, float, float]] = []    # (bar, symbol, transient impulse, permanent level)
        self._bar_impact = False

    def begin(self, t: int) -> None:
        """Start bar ``t``: close the previous bar's impact into the carried displacement."""
        if t == self._t:
            return
        if self._bar_impact:
            self._close_bar()
        self._t = t

    def _close_bar(self) -> None:
        t = self._t
        theta = self._permanent
        for s in range(len(self._buy)):
            qb, qs = self._buy[s], self._sell[s]
            if qb == 0.0 and qs == 0.0:
                continue
            self._buy[s] = self._sell[s] = 0.0
            liq, ys = self._liq[s], self._y_sigma[s]
            if liq <= 0.0 or ys <= 0.0:
                continue
            root = math.sqrt(liq)
            # the log of the marginal price each side's walk left (math.log1p: the platform's
            # libm, the same to the last bit in every process)
            imp = math.log1p(ys * math.sqrt(qb) / root) - math.log1p(ys * math.sqrt(qs) / root)
            x0 = self._net[s]
            x1 = self._net[s] = x0 + qb - qs
            self._perm[s] += theta * (math.copysign(math.log1p(ys * math.sqrt(abs(x1)) / root), x1)
                                      - math.copysign(math.log1p(ys * math.sqrt(abs(x0)) / root), x0))
            trans = self._trans[s]
            c = (1.0 - theta) * imp
            if trans is None:
                self._trans[s] = [c * w for w in _W]
            else:
                self._trans[s] = [a * k + c * w for a, k, w in zip(trans, _decay(t - self._last[s]), _W)]
            self._last[s] = t
            self._events.append((t, s, (1.0 - theta) * imp, self._perm[s]))
        self._cache_t = [-1] * len(self._buy)
        self._bar_impact = False

    def displacement(self, s: int, t: int) -> float:
        """Log price displacement left at bar ``t`` by the trader's fills before bar t (a fill
        starts at ``price * exp(d)``)."""
        if self._cache_t[s] == t:
            return self._cache_v[s]
        trans = self._trans[s]
        if trans is None:
            d = self._perm[s]
        elif t == self._last[s]:
            d = self._perm[s] + sum(trans)
        else:
            d = self._perm[s] + sum([a * k for a, k in zip(trans, _decay(t - self._last[s]))])
        self._cache_t[s] = t
        self._cache_v[s] = d
        return d

    def cumulative(self, s: int, buy: bool) -> float:
        return self._buy[s] if buy else self._sell[s]

    def take(self, s: int, buy: bool, qty: float, y_sigma: float, liquidity: float) -> None:
        """Record ``qty`` taken from the book of symbol ``s`` in the current bar."""
        if buy:
            self._buy[s] += qty
        else:
            self._sell[s] += qty
        self._y_sigma[s] = y_sigma
        self._liq[s] = liquidity
        self._bar_impact = True

    def path(self, n_symbols: int, n_bars: int) -> np.ndarray:
        """Relative displacement the trader's fills leave on each symbol after each bar, shaped
        (symbol, bar): 0 before the first fill, always above -1 (``exp`` of the log displacement,
        less 1); mark closes with ``close * (1 + path)``."""
        if self._bar_impact:
            self._close_bar()
        impulses = np.zeros((n_symbols, n_bars))
        perm = np.full((n_symbols, n_bars), np.nan)
        perm[:, 0] = 0.0
        for t, s, imp, level in self._events:
            if t < n_bars:
                impulses[s, t] += imp
                perm[s, t] = level
        out = np.empty((n_symbols, n_bars))
        for s in range(n_symbols):
            row = perm[s]
            idx = np.where(np.isnan(row), 0, np.arange(n_bars))
            np.maximum.accumulate(idx, out=idx)
            out[s] = row[idx]                       # the permanent level, carried forward
            for rate, w in zip(_RATES, _WEIGHTS):
                out[s] += w * ar1_scan(impulses[s], math.exp(-rate))
        return np.expm1(out, out=out)
