"""The provider boundary: what a system declares about itself, and what it must do.

The core (diff, guards, plan, apply loop, renderers, saved plans) is generic and
pure; a provider only projects people into its own records, reads, builds
payloads and writes. What it can and cannot do is declared as data
(`Capabilities`, with a reason for every field it cannot change), so a plan can
show "apply cannot fix this" without calling anything.

    Provider                      one system (DealHub, Pipedrive): pure rules
    ├── capabilities              key, case rule, fields, batch size, costs, hosts
    ├── project(state)            people -> this system's desired records, by key
    ├── tenant_view(raw)          a read entry -> the record compared and saved (None: absent)
    ├── same(field, a, b)         equality as the system stores values
    ├── check(...)                input errors only this system knows (FILE:LINE)
    ├── payload(...)              the object a write sends
    ├── unwritable(send)          why the API cannot take a payload (the plan names it)
    ├── undeactivatable(current)  why a user is never deactivated (the token's own user)
    ├── warnings(...)             notes for the reviewer, never fatal
    ├── depends_on(change)        a key that must be created first (a DealHub manager)
    └── open(target, token)  ->   Remote: read() once, write(batch) -> per-user outcomes

Unlike DNSControl and octoDNS, a Remote's `write` reports each user's outcome
itself: how a vendor says "done" (DealHub's async request ids and per-user
errors in a 200, Pipedrive's one call per user) stays in its package, and the
generic apply loop only orders, paces, and verifies by reading again.

A third system is one new package under providers/ and one line in the registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from reconciler.desired import DesiredState, DesiredUser
    from reconciler.errors import Problem
    from reconciler.http import TokenSource
    from reconciler.plan import Change, PlanWarning
    from reconciler.progress import Progress

#: What a write did to one user, as far as the answer tells ("skipped": not sent).
WriteStatus = Literal["done", "failed", "pending", "skipped"]


@dataclass(frozen=True)
class Capabilities:
    """What a system is and can do, declared as data, known before any call."""

    name: str
    title: str
    #: The field that identifies a user; it is never changed.
    key: str
    key_ignores_case: bool
    #: Fields compared, besides the key; a difference in one is a change or a note.
    compared: tuple[str, ...]
    #: Fields a create can set.
    settable_on_create: frozenset[str]
    #: Fields a later write can change (is_active is always one).
    changeable: frozenset[str]
    #: Why each compared field the API cannot write is left alone: shown as a note.
    cannot_change: Mapping[str, str] = field(default_factory=dict)
    #: Sent on writes, never returned on reads: never a difference.
    write_only: frozenset[str] = frozenset()
    #: Users per write request (1 where each user is a call of its own).
    batch_size: int = 1
    #: What the vendor charges per call, and in which unit (None: nothing published).
    cost_unit: str | None = None
    read_cost: int = 0
    write_cost: int = 0
    #: PREFIX_API_URL names the target; `token_env` holds the token.
    env_prefix: str = ""
    token_env: str = ""
    #: A file may name these hosts by itself (https only): the domain or a subdomain.
    trusted_domain: str = ""


@dataclass
class WriteResult:
    """Per-user outcomes of one write, by key; a key left out is unknown (verify decides)."""

    status: dict[str, WriteStatus] = field(default_factory=dict)
    message: dict[str, str] = field(default_factory=dict)
    #: Set when the whole run must stop (the token was rejected, the vendor blocked us).
    abort: str | None = None
    #: After an abort, whether the verification read can still be made (a budget stop
    #: keeps the tokens for it; a rejected token or a blocked client cannot read).
    verify_anyway: bool = False

    def mark(self, keys: Iterable[str], status: WriteStatus, message: str = "") -> None:
        for key in keys:
            self.status[key] = status
            if message:
                self.message[key] = message


@dataclass(frozen=True)
class OpenOptions:
    """How a command wants a connection: the size of its desired state, its patience."""

    #: Users in the desired state: raises the size cap of an answer.
    expected_users: int = 0
    #: Seconds to wait for an asynchronous write to finish.
    wait_timeout: float = 300.0


class Remote(Protocol):
    """An open connection to one system's tenant."""

    target: str

    def read(self) -> list[dict[str, Any]]:
        """Every user, in the one listing call the system has."""
        ...

    def write(self, batch: list[Change], progress: Progress) -> WriteResult:
        """Send one batch of planned changes; a per-user failure is an outcome, not a raise.

        A long wait (an asynchronous request, a rate limit) is told to `progress`.
        """
        ...

    def request_counts(self) -> dict[str, int]:
        """How many requests of each kind were sent."""
        ...

    def budget_left(self) -> int | None:
        """What the vendor's last answer said is left of today's budget (None: unknown)."""
        ...

    def close(self) -> None: ...


class Provider(Protocol):
    """The rules of one system: pure, except `open`."""

    capabilities: Capabilities

    def project(self, state: DesiredState) -> dict[str, DesiredUser]:
        """The people listed for this system, as records keyed by this system's key.

        A record's `fields` use this system's names and always hold `is_active`.
        """
        ...

    def tenant_view(self, raw: dict[str, Any]) -> dict[str, Any] | None:
        """A read entry as compared and saved in plans (`before`); None when absent."""
        ...

    def same(self, name: str, wanted: Any, current: Any) -> bool:
        """Whether two values of a field are equal as the system stores them."""
        ...

    def check(
        self,
        records: dict[str, DesiredUser],
        tenant: dict[str, dict[str, Any]],
        state: DesiredState,
    ) -> list[Problem]:
        """Input errors found against the tenant (DealHub: a manager that names no one)."""
        ...

    def payload(
        self,
        key: str,
        wanted: dict[str, Any],
        current: dict[str, Any] | None,
        changed: Iterable[str],
    ) -> dict[str, Any]:
        """The object a write sends for one user (`current` is None for a create)."""
        ...

    def unwritable(self, send: dict[str, Any]) -> str | None:
        """Why the write API cannot take this payload, or None."""
        ...

    def undeactivatable(self, current: dict[str, Any]) -> str | None:
        """Why this user must never be deactivated, or None."""
        ...

    def warnings(
        self,
        records: dict[str, DesiredUser],
        tenant: dict[str, dict[str, Any]],
        changes: list[Change],
    ) -> list[PlanWarning]:
        """Warnings for the reviewer, never fatal."""
        ...

    def depends_on(self, change: Change) -> str | None:
        """The key of a user this change needs created first, or None."""
        ...

    def open(
        self, target: str, token: TokenSource | None, *, writable: bool, options: OpenOptions
    ) -> Remote:
        """Connect to `target` (an https URL, loopback http, or sim:PATH)."""
        ...
