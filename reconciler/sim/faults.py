"""Fault injection for the simulator: latency, 503s, 429s, lost answers, async mode."""

from __future__ import annotations

import random
import threading
from collections.abc import Set
from dataclasses import dataclass, field


@dataclass
class Faults:
    """What can go wrong, and how often. The defaults make a well-behaved API.

    Every random decision is drawn from one generator seeded with `seed`, so a
    run that sends the same requests in the same order sees the same faults.
    """

    #: Seconds added to every authenticated request.
    latency: float = 0.0
    #: Chance that a request answers 503 without doing anything.
    failure_rate: float = 0.0
    #: Chance that a request answers 429 (with Retry-After) without doing anything.
    throttle_rate: float = 0.0
    #: Seconds announced in the Retry-After header of a 429.
    retry_after: int = 1
    #: Chance that a PUT is applied and then answered by a closed connection.
    lost_rate: float = 0.0
    #: PUT /api/v2/users answers a request_id and applies the users later.
    async_mode: bool = False
    #: More users than this in one PUT answers 400.
    max_batch: int | None = None
    #: Enforce the schema's required external_user_id on v2 (the vendor's example omits it).
    require_external_id: bool = False
    #: Logins held by another tenant: creating one fails for that user.
    taken_logins: Set[str] = field(default_factory=frozenset)
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("failure_rate", "throttle_rate", "lost_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        if self.latency < 0:
            raise ValueError(f"latency must not be negative, not {self.latency}")
        if self.retry_after < 0:
            raise ValueError(f"retry_after must not be negative, not {self.retry_after}")
        if self.max_batch is not None and self.max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {self.max_batch}")
        self.taken_logins = frozenset(self.taken_logins)
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def chance(self, rate: float) -> bool:
        """True with probability `rate`; a rate of 0 or 1 draws nothing."""
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        with self._lock:
            return self._rng.random() < rate

    def request_id(self) -> str:
        """A new asynchronous request id: ten uppercase hex digits, like the vendor's."""
        with self._lock:
            return f"{self._rng.getrandbits(40):010X}"
