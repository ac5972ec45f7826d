"""Pipedrive's rate limits, simulated: a daily token budget, burst windows, the edge's block.

Pure bookkeeping over an injected clock (seconds since the epoch, like
`time.time`): nothing here sleeps or reads the real time, so tests move the
clock instead of waiting. `ManualClock` is such a clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]

DAY = 86400.0
#: The vendor's burst window: a rolling two seconds.
WINDOW = 2.0
#: What the budget of one seat is on the cheapest plan (× plan multiplier × seats).
TOKENS_PER_SEAT = 30_000
PLAN_MULTIPLIERS = (1, 2, 5, 7)
#: The fair-use count of POST/PUT requests a day that `x-daily-requests-left` once counted.
DAILY_WRITES = 10_000


class ManualClock:
    """A clock that moves only when told: `advance`, `set` or `next_day`."""

    def __init__(self, now: float = 1_717_200_000.0) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self.now += seconds

    def set(self, now: float) -> None:
        self.now = float(now)

    def next_day(self, after_midnight: float = 0.0) -> None:
        """Jump to the next midnight (UTC, the vendor's server time), plus `after_midnight`."""
        self.now = (math.floor(self.now / DAY) + 1) * DAY + after_midnight


def day_of(now: float) -> int:
    return math.floor(now / DAY)


def seconds_to_midnight(now: float) -> int:
    return max(1, math.ceil((day_of(now) + 1) * DAY - now))


@dataclass(frozen=True)
class Burst:
    """One burst window as the `x-ratelimit-*` headers show it."""

    limit: int
    remaining: int
    #: Whole seconds until the window has room again (rounded up).
    reset: int


@dataclass
class _Edge:
    last_429: float | None = None
    after_429: deque[float] = field(default_factory=deque)
    blocked_until: float = -math.inf


class RateLimiter:
    """The company's daily budget, each token's burst windows, and the edge's patience.

    Not thread-safe: the simulator calls it under its own lock. `key` is whatever
    tells tokens apart (the simulator uses the token itself, and never shows it).
    """

    def __init__(
        self,
        *,
        daily_budget: int,
        burst: int,
        search_burst: int,
        overdraft: bool = False,
        edge_after: int | None = 5,
        edge_block: float = 60.0,
    ) -> None:
        if daily_budget < 0:
            raise ValueError(f"the daily budget must not be negative, not {daily_budget}")
        if burst < 1 or search_burst < 1:
            raise ValueError("burst limits must be at least 1")
        if edge_after is not None and edge_after < 0:
            raise ValueError(f"edge_after must not be negative, not {edge_after}")
        if edge_block <= 0:
            raise ValueError(f"edge_block must be positive, not {edge_block}")
        self.daily_budget = daily_budget
        self.burst = burst
        self.search_burst = search_burst
        self.overdraft = overdraft
        self.edge_after = edge_after
        self.edge_block = edge_block
        self.spent_total = 0
        self._day: int | None = None
        self._spent = 0
        self._writes: dict[str, int] = {}
        self._windows: dict[tuple[str, bool], deque[float]] = {}
        self._edges: dict[str, _Edge] = {}

    # The daily budget

    def _roll(self, now: float) -> None:
        day = day_of(now)
        if day != self._day:
            self._day = day
            self._spent = 0
            self._writes = {}

    def spent(self, now: float) -> int:
        """Tokens spent since the last midnight."""
        self._roll(now)
        return self._spent

    def left(self, now: float) -> int:
        """Tokens left until midnight (never below 0)."""
        return max(0, self.daily_budget - self.spent(now))

    def exhausted(self, cost: int, now: float) -> bool:
        """True when a request of this cost must be refused for the budget.

        Strictly, a request the budget cannot pay for is refused. With
        `overdraft` the request that crosses the line is served, and every
        request after it is refused.
        """
        self._roll(now)
        if self._spent >= self.daily_budget:
            return True
        return not self.overdraft and self._spent + cost > self.daily_budget

    def charge(self, cost: int, now: float) -> None:
        self._roll(now)
        self._spent += cost
        self.spent_total += cost

    def count_write(self, key: str, now: float) -> None:
        self._roll(now)
        self._writes[key] = self._writes.get(key, 0) + 1

    def writes_left(self, key: str, now: float) -> int:
        self._roll(now)
        return max(0, DAILY_WRITES - self._writes.get(key, 0))

    # Burst windows

    def _window(self, key: str, search: bool, now: float) -> deque[float]:
        window = self._windows.setdefault((key, search), deque())
        while window and window[0] <= now - WINDOW:
            window.popleft()
        return window

    def _shown(self, window: deque[float], limit: int, now: float) -> Burst:
        reset = math.ceil(window[0] + WINDOW - now) if window else math.ceil(WINDOW)
        return Burst(limit, max(0, limit - len(window)), max(0, reset))

    def burst_state(self, key: str, search: bool, now: float) -> Burst:
        """The window a request of this kind is counted in, without counting one."""
        if search:
            return self._shown(self._window(key, True, now), self.search_burst, now)
        return self._shown(self._window(key, False, now), self.burst, now)

    def admit(self, key: str, search: bool, now: float) -> tuple[bool, Burst]:
        """Count a request in its windows if they have room; say whether it was.

        Every request counts in the token's general window; a search also in its
        own, smaller one, whose numbers its headers then show. A refused request
        counts in neither.
        """
        general = self._window(key, False, now)
        windows = [(general, self.burst)]
        if search:
            windows.append((self._window(key, True, now), self.search_burst))
        full = [(w, limit) for w, limit in windows if len(w) >= limit]
        if full:
            window, limit = full[-1]
            return False, self._shown(window, limit, now)
        for window, _ in windows:
            window.append(now)
        window, limit = windows[-1]
        return True, self._shown(window, limit, now)

    # The edge in front of the API

    def edge_blocks(self, key: str, now: float) -> bool:
        """Count a request at the edge; True when it is to be answered by the edge's 403.

        A client that sends more than `edge_after` requests within a window of
        the last 429 it was given is blocked for `edge_block` seconds.
        """
        if self.edge_after is None:
            return False
        edge = self._edges.setdefault(key, _Edge())
        if now < edge.blocked_until:
            return True
        if edge.last_429 is None or now - edge.last_429 >= WINDOW:
            return False
        edge.after_429.append(now)
        while edge.after_429 and edge.after_429[0] <= now - WINDOW:
            edge.after_429.popleft()
        if len(edge.after_429) > self.edge_after:
            edge.blocked_until = now + self.edge_block
            edge.after_429.clear()
            edge.last_429 = None
            return True
        return False

    def note_429(self, key: str, now: float) -> None:
        """Remember that this client was just told to slow down."""
        if self.edge_after is not None:
            self._edges.setdefault(key, _Edge()).last_429 = now
