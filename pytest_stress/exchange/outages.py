"""Venue outages: an on/off process in continuous time whose onset rate rises with stress.

Faults arrive as a Poisson process whose rate is constant within a bar; each keeps the
venue down for an exponential time of mean ``D = outage_mean_s`` (about 25 minutes:
BitMEX stopped trading for about 25 minutes on 13 March 2020; matching engines at other
venues lagged by minutes that day). Overlapping faults merge into one outage, so the
venue is down at a given time with probability 1 - exp(-rate * D); the rate
``-log(1 - pi_t) / D`` makes that the bar's target down share ``pi_t`` (which rises with
stress: ``SimulatedExchange``).

The schedule is drawn once per run from its own generator, vectorised, in chunks of
(gap, duration) pairs in time order, so the outages before bar k do not depend on bars >= k.
"""
from __future__ import annotations

import bisect

import numpy as np

__all__ = ["OutageSchedule", "draw_outages"]


class OutageSchedule:
    """Sorted, disjoint outage windows [start, end) in ms from the start of bar 0, and the faults
    they merge: ``onsets`` (sorted) and ``known`` (``known[i]``: the latest end of faults 0..i, what
    is known of the outage at fault i's onset; later onsets may extend it)."""

    __slots__ = ("starts", "ends", "onsets", "known")

    def __init__(self, starts: list[float], ends: list[float], onsets: list[float] | None = None,
                 known: list[float] | None = None) -> None:
        self.starts = starts
        self.ends = ends
        self.onsets = starts if onsets is None else onsets
        self.known = ends if known is None else known

    def end_of(self, time_ms: float) -> float | None:
        """The end of the outage covering ``time_ms``, or None if the venue is up then (the whole
        outage, faults that start later and extend it included: when the venue is up again)."""
        i = bisect.bisect_right(self.starts, time_ms) - 1
        if i >= 0 and time_ms < self.ends[i]:
            return self.ends[i]
        return None

    def known_end(self, time_ms: float) -> float | None:
        """The end of the outage covering ``time_ms`` as known then: the latest end of the faults that
        began at or before ``time_ms`` (a fault whose onset is later, in this bar or the next, is not
        known yet), or None if the venue is up then."""
        i = bisect.bisect_right(self.onsets, time_ms) - 1
        if i >= 0 and time_ms < self.known[i]:
            return self.known[i]
        return None

    def __len__(self) -> int:
        return len(self.starts)

    def down_share(self, n_bars: int, bar_ms: float) -> float:
        """Share of the run's time [0, n_bars * bar_ms) the venue was down."""
        total = n_bars * bar_ms
        down = sum(max(0.0, min(e, total) - s) for s, e in zip(self.starts, self.ends) if s < total)
        return down / total if total > 0 else 0.0


def draw_outages(down_share: np.ndarray, bar_ms: float, mean_ms: float, rng: np.random.Generator,
                 chunk: int = 256) -> OutageSchedule:
    """Outage windows over bars with the target down share ``down_share[t]`` in [0, 1) each.

    The (gap, duration) pairs come in chunks of at least ``chunk``, sized to the expected
    need; the values are the same prefix of the generator's stream whatever the chunks.

    Fault onsets: where the cumulative hazard (piecewise linear in time, the rate constant
    within a bar) reaches the running sum of Exp(1) gaps."""
    n = len(down_share)
    if n == 0 or mean_ms <= 0 or not np.any(down_share > 0):
        return OutageSchedule([], [])
    # at each bar boundary: the cumulative sum of rate * bar_ms, rate = -log1p(-pi) / mean_ms faults
    # per ms in a bar (pi the down share, at most 0.999); in one array (issue #16)
    hazard = np.empty(n + 1)
    hazard[0] = 0.0
    h = hazard[1:]
    np.clip(down_share, 0.0, 0.999, out=h)
    np.negative(h, out=h)
    np.log1p(h, out=h)
    np.negative(h, out=h)
    h /= mean_ms
    h *= bar_ms
    np.cumsum(h, out=h)
    total = float(hazard[-1])
    gaps, durations = [], []
    level = 0.0
    while level < total:         # draws are a prefix of one stream whatever the chunk sizes
        pairs = rng.standard_exponential((max(chunk, int(1.1 * (total - level)) + 16), 2))
        gaps.append(pairs[:, 0])
        durations.append(pairs[:, 1])
        level += float(pairs[:, 0].sum())
    target = np.cumsum(np.concatenate(gaps))
    keep = target < total
    target = target[keep]
    dur = np.concatenate(durations)[keep] * mean_ms
    if len(target) == 0:
        return OutageSchedule([], [])
    b = np.searchsorted(hazard, target, side="right") - 1        # the bar of each onset
    starts = (b + (target - hazard[b]) / (hazard[b + 1] - hazard[b])) * bar_ms
    ends = np.maximum.accumulate(starts + dur)                    # merge overlapping faults
    first = np.ones(len(starts), dtype=bool)
    first[1:] = starts[1:] > ends[:-1]
    last = np.ones(len(starts), dtype=bool)
    last[:-1] = first[1:]
    return OutageSchedule(starts[first].tolist(), ends[last].tolist(), starts.tolist(), ends.tolist())
