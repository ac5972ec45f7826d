"""How a system's raw user becomes an account of the access review (`reconciler review`).

The review is generic (reconciler.review); what a system's read says about
privilege and use is not. Each system answers through a `ReviewHooks`:

    ReviewHooks
    ├── reports          what its read tells at all: admin, access, role, login time
    ├── silent           why, for what it does not tell (shown in every format)
    └── account(raw)  -> Account: key, email, name, active, admin, access, role, last login
                         (None: not an account, a deleted user)

A system's hooks are found in this order: the provider's `review_hooks`
attribute (a system declares them on its provider: the way for a new one),
else a `review` module beside the provider with a `REVIEW` object (how the
built-in packages carry theirs), else `GenericReview`, which reads
only what the provider's `tenant_view` gives (key, email, name, active), so
every registered system can be reviewed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.providers.hooks import beside

if TYPE_CHECKING:
    from reconciler.providers.base import Provider, Remote


@dataclass(frozen=True, slots=True)
class Account:
    """One account of one system, in the review's terms (None: the system does not say)."""

    key: str
    email: str | None
    name: str | None
    active: bool
    admin: bool | None = None
    #: What the account may use, as the vendor names it (`sales`, `global (admin)`).
    access: tuple[str, ...] | None = None
    role: str | None = None
    #: When the person last signed in (UTC); None: never, or not reported (see Reports).
    last_login: datetime | None = None
    #: The vendor's own id of the user, for the reads of `--details`.
    vendor_id: int | str | None = None


@dataclass(frozen=True, slots=True)
class Reports:
    """Which columns a system's listing read fills at all."""

    admin: bool = False
    access: bool = False
    role: bool = False
    last_login: bool = False


class ReviewHooks(Protocol):
    """What the review asks of one system (see the module docstring)."""

    reports: Reports
    #: What the system leaves out, by column, as a phrase ("last_login": "login times,
    #: so no account is judged dormant"), for each column `reports` says it does not
    #: fill. Shown as "TITLE does not report A, B and C.", never guessed around.
    silent: dict[str, str]

    def account(self, raw: dict[str, Any]) -> Account | None:
        """A listed user as a review account; None when it is not one (deleted).

        Raises ValueError, naming the field, for a value it cannot read.
        """
        ...


@dataclass
class Details:
    """What `--details` read, by account key, and whether it read everything it wanted."""

    #: Permissions granted (the names the vendor sets true), by key.
    permissions: dict[str, list[str]] = field(default_factory=dict)
    #: Role assignments as the vendor names them, by key.
    roles: dict[str, list[str]] = field(default_factory=dict)
    #: A user whose reads failed, and why (the others were still read).
    failed: dict[str, str] = field(default_factory=dict)
    #: The users whose details were wanted, and what reading them all costs.
    wanted: int = 0
    cost: int = 0
    #: What the reads spent.
    spent: int = 0
    unit: str = "tokens"
    #: Why the reads stopped before the last user (None: they did not).
    stopped: str | None = None

    @property
    def complete(self) -> bool:
        return self.stopped is None

    @property
    def done(self) -> int:
        return len(self.permissions) + len(self.failed)


class DetailHooks(Protocol):
    """Optional: the per-user reads of `--details` (permissions, role assignments)."""

    def details_cost(self, accounts: Iterable[Account]) -> tuple[int, int, str]:
        """(users, cost, unit) that the reads will take, known before any read."""
        ...

    def read_details(
        self,
        remote: Remote,
        accounts: Iterable[Account],
        *,
        told: Callable[[int, int], None] | None = None,
    ) -> Details:
        """Read each chosen account's details, paced; stop early (said) before a budget."""
        ...


class GenericReview:
    """The hooks of a system that has none: what `tenant_view` gives, nothing guessed."""

    reports = Reports()

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.silent = {
            "admin": "an admin flag",
            "access": "access",
            "role": "a role",
            "last_login": "login times (reconciler has no review hooks for it)",
        }

    def account(self, raw: dict[str, Any]) -> Account | None:
        view = self.provider.tenant_view(raw)
        if view is None:
            return None
        key = view.get(self.provider.capabilities.key)
        if not isinstance(key, str):
            raise ValueError(f"has no {self.provider.capabilities.key}")
        email, name = view.get("email"), view.get("name")
        return Account(
            key=key,
            email=email if isinstance(email, str) else None,
            name=name if isinstance(name, str) else None,
            active=view.get("is_active") is not False,
        )


def hooks_for(provider: Provider) -> ReviewHooks:
    """The review hooks of a system: its own, else those beside it, else the generic ones."""
    declared = getattr(provider, "review_hooks", None)
    if declared is not None:
        hooks: ReviewHooks = declared
        return hooks
    found = getattr(beside(provider, "review"), "REVIEW", None)
    if found is not None:
        hooks = found
        return hooks
    return GenericReview(provider)


def vendor_time(value: Any, field: str) -> datetime | None:
    """A vendor's `YYYY-MM-DD HH:MM:SS` (UTC), or ISO 8601, as an aware datetime.

    None and "" are None (never). Anything else raises ValueError naming `field`.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError(f"has {field} that is not a date and time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"has {field} {value!r}, not a date and time (YYYY-MM-DD HH:MM:SS)"
        ) from None
    if parsed.tzinfo is None:
        # The vendor's times are UTC (its own format carries no zone).
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
