"""How a crash falls, as the real ones did (issue #26, ``docs/fidelity.md``).

Three pieces the crash transforms (``price.flash_crash``, ``price.pump_and_dump``) share:

- ``fall_shape``: the way from the pre-crash close to the trough as uneven steps (a few hours
  carry most of the fall, as on 19 May 2021 and 12-13 March 2020, instead of an even slide);
- ``capitulation_wick``: the trough bar's low below its close, a stated share of the fall (on
  19 May 2021 a third of BTC's high-to-low drop was below the lowest close);
- ``depth_exponents``: each symbol's own depth in a multi-symbol crash (alts fall deeper
  than BTC; ``CRASH_DEPTH``).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..market.data import CLOSE, LOW

__all__ = ["CRASH_DEPTH", "depth_exponents", "fall_shape", "capitulation_wick"]

#: Each asset's crash depth as an exponent on the log fall of a symbol of depth 1 (BTC). From
#: the 19 May 2021 crash on Binance spot hourly bars (``docs/fidelity.md``, the figures of
#: ``market.fidelity``): high-to-low drops BTC 34%, ETH 47%, SOL 57%, i.e. ln(1 - 0.47) /
#: ln(1 - 0.34) = 1.53 and ln(1 - 0.57) / ln(1 - 0.34) = 2.03 (ETH fell 1.36x and SOL 1.65x
#: BTC's drop). The exponents act on the closes; the measured high-to-low ratios of a crash built
#: with them are held by ``tests/test_fidelity.py``. On Black Thursday (12-13 March 2020) ETH fell
#: 1.07x BTC's drop (exponent 1.09): the table is the later, wider event's, a design choice
#: (``depth_spread`` in the transforms scales it: 0 gives every symbol the same fall).
#: Assets not in the table have depth 1.
CRASH_DEPTH: dict[str, float] = {"BTC": 1.0, "ETH": 1.53, "SOL": 2.03}


def _depth_of(symbol: str) -> float:
    upper = symbol.upper()
    for asset, depth in CRASH_DEPTH.items():
        if upper.startswith(asset):
            return depth
    return 1.0


def depth_exponents(symbols: Sequence[str], spread: float) -> np.ndarray:
    """Each symbol's log fall as a multiple of the first symbol's (shape (S,)): its ``CRASH_DEPTH``
    over the first symbol's, to the power ``spread`` (0: all the same; 1: the table's)."""
    depth = np.array([_depth_of(s) for s in symbols], dtype=np.float64)
    return (depth / depth[0]) ** spread


def fall_shape(rng: np.random.Generator, bars: int, front: float, lumpiness: float) -> np.ndarray:
    """Cumulative shares (the last one 1) of a fall over ``bars`` bars, for ``reprice.anchored_delta``.

    The even front-loaded way, 1 - (1 - u) ** ``front``, has its bar-by-bar increments
    multiplied by independent exponential draws to the power ``lumpiness`` (0: the even way;
    2: a few bars carry most of the fall). One draw per bar from ``rng``."""
    bars = max(int(bars), 1)
    u = np.arange(bars + 1, dtype=np.float64) / bars
    step = np.diff(1.0 - (1.0 - u) ** front)
    step *= rng.standard_exponential(bars) ** lumpiness
    out = np.cumsum(step)
    out /= out[-1]
    out[-1] = 1.0
    return out


def capitulation_wick(values: np.ndarray, bar: int, pre_close: np.ndarray, share: float) -> None:
    """Pull the low of ``bar`` down, in place, so that a share ``share`` of the log fall from
    ``pre_close`` (shape (S,)) to that bar's low lies below its close: log(close / low) =
    share / (1 - share) x log(pre_close / close). A low already deeper is kept. A bar at or
    above the pre-crash close gets no wick."""
    if share <= 0.0 or not 0 <= bar < values.shape[2]:
        return
    close = values[CLOSE, :, bar]
    fall = np.log(pre_close / close)
    np.maximum(fall, 0.0, out=fall)
    low = close * np.exp(-share / (1.0 - share) * fall)
    np.minimum(values[LOW, :, bar], low, out=values[LOW, :, bar])
