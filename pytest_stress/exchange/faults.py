"""The venue's fault kinds beyond outages, timeouts and late fills (docs/venue.md, "Fault kinds").

- **Rate limits**: new orders are counted in fixed windows (10 seconds and one minute, as Binance
  counts them: a window starts every 10 s or every minute of the clock and its count then resets);
  an order over a limit is refused with status ``rate_limited`` (HTTP 429) and ``retry_after_s``,
  the seconds until the full window resets (Binance's Retry-After). An order that reaches the
  venue after a 429 and before its retry-after has passed is a failure to back off: the account is
  banned (HTTP 418) for 2 minutes, twice as long at each repeat, at most 3 days (Binance: "IP bans
  are tracked and scale in duration for repeat offenders, from 2 minutes to 3 days"; the doubling
  is a design choice); every order in a ban is refused the same way.
- **Cancel-only windows**: new orders are rejected, cancels accepted, nothing matches (Kraken's
  ``cancel_only`` market status: "Orders can be cancelled but new orders cannot be placed. No order
  matching will occur").
- **Submit-only windows**: cancels are refused (status ``cancel_rejected``; the order keeps
  working), new orders are accepted.
- **Stale book**: in a stale window the venue fills against the prices (open, high, low, close)
  of the bar ``stale_book_bars`` earlier, while the feed shows the current bar.
- **Cancel acknowledgement latency**: a cancel takes effect ``d = cancel_ack_mult x`` the venue's
  latency (log-normal around its median at that bar) after it reaches the venue, at bar
  ``t + floor(d / bar + u)``, ``u`` uniform: the order still works in the bars before, and can fill.

Windows are drawn as the outages are (``outages.draw_outages``: Poisson onsets, exponential lengths
of mean ``fault_window_s``, in time order), each kind from its own stream, so a window before bar k
never depends on later bars. A bar is in a window if its open is. Every draw comes from the
generator the exchange hands over (one stream spawned from the run's exchange generator).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ScenarioError, is_number
from ..market.data import CLOSE, OPEN
from ..result.models import ExecutionResult
from ..scenario.faults import VENUE_FAULT_PARAMS, Faults
from .outages import OutageSchedule, draw_outages

__all__ = ["VenueFaults", "bars_in", "RATE_WINDOWS", "BAN_FIRST_S", "BAN_MAX_S"]

#: (parameter, window length in ms) of the order rate limits (Binance USD-M futures: 300 per 10 s,
#: 1,200 per minute per account; "Rate Limits on Binance Futures", Binance FAQ, updated 27 Dec 2024)
RATE_WINDOWS: tuple[tuple[str, float], ...] = (("orders_per_10s", 10_000.0), ("orders_per_minute", 60_000.0))
#: A ban's first length and its cap, in seconds (Binance spot API, "LIMITS": 2 minutes to 3 days)
BAN_FIRST_S = 120.0
BAN_MAX_S = 3 * 86_400.0


def _check(faults: Faults) -> None:
    """Refuse fault settings out of range, naming the field, the value and the valid range (a
    ``Faults`` built directly skips the scenario's parameter check)."""
    for name, p in VENUE_FAULT_PARAMS.items():
        v = getattr(faults, name)
        lo = -math.inf if p.low is None else p.low
        hi = math.inf if p.high is None else p.high
        ok = is_number(v) and (lo <= v <= hi) and (p.low_inclusive or v > lo)
        if ok and p.kind == "int":
            ok = float(v) == int(v)
        if not ok:
            raise ScenarioError(f"Faults: {name} = {v!r} is invalid; expected {p.describe_range()}")


def _windows(share: float, n: int, bar_ms: float, mean_ms: float, rng: np.random.Generator) -> OutageSchedule:
    """Windows covering ``share`` of the time on average (none if 0), drawn as outages are."""
    if share <= 0:
        return OutageSchedule([], [])
    return draw_outages(np.full(n, share), bar_ms, mean_ms, rng)


def bars_in(windows: OutageSchedule, n: int, bar_ms: float) -> np.ndarray:
    """Per bar: True if the bar's open lies in one of ``windows``."""
    opens = np.arange(n) * bar_ms
    if not windows.starts:
        return np.zeros(n, dtype=bool)
    starts, ends = np.asarray(windows.starts), np.asarray(windows.ends)
    i = np.searchsorted(starts, opens, side="right") - 1
    return (i >= 0) & (opens < ends[np.maximum(i, 0)])


class VenueFaults:
    """One run's fault kinds (module docstring): the windows, drawn at construction, and the state
    of the rate limiter and of the cancels under way.

    ``lat`` (set by the exchange): the venue's median latency in ms per (symbol, bar), and
    ``dispersion``: the sigma of its log-normal draw; used for the cancels' delays."""

    def __init__(self, faults: Faults, n_bars: int, bar_ms: float, symbols: tuple[str, ...],
                 rng: np.random.Generator) -> None:
        _check(faults)
        self.faults = faults
        self._bar_ms = bar_ms
        self._sym = {s: i for i, s in enumerate(symbols)}
        cancel_rng, submit_rng, stale_rng, self._rng = rng.spawn(4)
        mean_ms = faults.fault_window_s * 1000.0
        self.cancel_only = _windows(faults.cancel_only_share, n_bars, bar_ms, mean_ms, cancel_rng)
        self.submit_only = _windows(faults.submit_only_share, n_bars, bar_ms, mean_ms, submit_rng)
        #: per bar: True if the book is stale then (None: never)
        self.stale: np.ndarray | None = None
        if faults.stale_book_share > 0:
            self.stale = bars_in(_windows(faults.stale_book_share, n_bars, bar_ms, mean_ms, stale_rng), n_bars, bar_ms)
        self.lag = int(faults.stale_book_bars)
        self._limits = [(int(getattr(faults, name)), ms) for name, ms in RATE_WINDOWS if getattr(faults, name) > 0]
        self._window = [-1] * len(self._limits)      # the window each limit is counting, by index
        self._count = [0] * len(self._limits)
        self._warned_at = -math.inf                  # when the last 429 was given
        self._retry_until = -math.inf                # and until when it asked to wait
        self._banned_until = -math.inf
        self._ban_s = 0.0
        self._cancel_due: dict[int, int] = {}        # order id -> the bar its cancel takes effect
        self.lat: Any = None
        self.dispersion = 0.0

    # -- the book --------------------------------------------------------------------
    def book(self, values: np.ndarray) -> np.ndarray:
        """The prices the venue fills against: ``values`` itself, or, with stale windows, a copy in
        which a stale bar t's open, high, low and close are those of bar ``max(t - lag, 0)`` (never a
        later bar). Volume, spread and depth stay the bar's own."""
        if self.stale is None or not self.stale.any():
            return values
        out = values.copy()
        bars = np.flatnonzero(self.stale)
        out[OPEN:CLOSE + 1, :, bars] = values[OPEN:CLOSE + 1, :, np.maximum(bars - self.lag, 0)]
        return out

    def stale_note(self, t: int) -> str:
        """The reason a fill at a stale bar carries."""
        return f"stale book: priced off bar {max(t - self.lag, 0)} while the feed shows bar {t}"

    # -- new orders ------------------------------------------------------------------
    def cancel_only_at(self, t: int) -> bool:
        """True if the venue is in cancel-only mode at bar ``t``'s open."""
        return bool(self.cancel_only.starts) and self.cancel_only.end_of(t * self._bar_ms) is not None

    def admit(self, t: int, order: Any) -> ExecutionResult | None:
        """A new order reaching the venue at bar ``t``'s open: refused (a 429 or 418 ``rate_limited``
        with ``retry_after_s``, or ``rejected`` in a cancel-only window), or None (it goes on)."""
        now = t * self._bar_ms
        if self._limits:
            if now < self._banned_until:
                return self._limited(t, order, self._banned_until - now,
                                     f"418: banned for {self._ban_s:.0f} s for not backing off after a 429")
            if self._warned_at < now < self._retry_until:       # sent again before the retry-after
                self._ban_s = BAN_FIRST_S if self._ban_s == 0 else min(2.0 * self._ban_s, BAN_MAX_S)
                self._banned_until = now + self._ban_s * 1000.0
                return self._limited(t, order, self._ban_s * 1000.0,
                                     f"418: banned for {self._ban_s:.0f} s for not backing off after a 429")
            wait = 0.0
            over = ""
            for i, (limit, ms) in enumerate(self._limits):
                w = int(now // ms)
                if w != self._window[i]:
                    self._window[i], self._count[i] = w, 0
                if self._count[i] >= limit:
                    end = (w + 1) * ms - now
                    if end > wait:
                        wait, over = end, f"{limit} orders per {ms / 1000:.0f} s"
            if over:
                self._warned_at = now
                self._retry_until = max(self._retry_until, now + wait)
                return self._limited(t, order, wait, f"429: order rate limit of {over}")
            for i in range(len(self._limits)):
                self._count[i] += 1
        if self.cancel_only.starts and self.cancel_only.end_of(now) is not None:
            return ExecutionResult(order.id, order.symbol, order.side, order.type, t, "rejected", order.quantity, 0.0,
                                   math.nan, math.nan, 0.0, 0.0, 0.0, 0.0,
                                   "cancel-only mode: the venue accepts cancels only, no new orders")
        return None

    def _limited(self, t: int, order: Any, wait_ms: float, reason: str) -> ExecutionResult:
        wait = wait_ms / 1000.0
        return ExecutionResult(order.id, order.symbol, order.side, order.type, t, "rate_limited", order.quantity, 0.0,
                               math.nan, math.nan, 0.0, 0.0, 0.0, 0.0, f"{reason}; retry after {wait:.3g} s",
                               retry_after_s=wait)

    # -- cancels ---------------------------------------------------------------------
    def cancels(self, t: int, ids: list[int], working: dict[int, Any]
                ) -> tuple[list[int], list[int], list[ExecutionResult]]:
        """The trader's cancels at bar ``t`` (``ids``, in the order asked; ``working``: the working
        tickets by id): ``(effective now, still under way, refused)``. A cancel reaching the venue in a
        submit-only window is refused (``cancel_rejected``); an accepted one takes effect at the bar
        its delay ends in (module docstring); a cancel of an order no longer working is dropped."""
        now: list[int] = []
        later: list[int] = []
        refused: list[ExecutionResult] = []
        submit_only = bool(self.submit_only.starts) and self.submit_only.end_of(t * self._bar_ms) is not None
        for i in dict.fromkeys(ids):
            ticket = working.get(i)
            if ticket is None:
                self._cancel_due.pop(i, None)
                continue
            due = self._cancel_due.get(i)
            if due is None:
                if submit_only:
                    refused.append(ExecutionResult(
                        ticket.id, ticket.symbol, ticket.side, ticket.type, t, "cancel_rejected", ticket.quantity,
                        0.0, math.nan, math.nan, 0.0, 0.0, 0.0, 0.0,
                        "submit-only mode: the venue refused the cancel; the order is still working"))
                    continue
                due = t + self._delay_bars(self._sym[ticket.symbol], t)
                if due > t:
                    self._cancel_due[i] = due
            if due <= t:
                self._cancel_due.pop(i, None)
                now.append(i)
            else:
                later.append(i)
        return now, later, refused

    def _delay_bars(self, s: int, t: int) -> int:
        """Bars until a cancel reaching the venue at bar ``t`` takes effect: ``floor(d / bar + u)``."""
        mult = self.faults.cancel_ack_mult
        if mult <= 0 or self.lat is None:
            return 0
        z, u = self._rng.standard_normal(), self._rng.random()
        d = mult * self.lat[s, t] * math.exp(self.dispersion * z)
        return int(d / self._bar_ms + u)
