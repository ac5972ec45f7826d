"""The provider boundary: what a system declares about itself, and what it must do.

The core (diff, guards, plan, apply loop, renderers, saved plans) is generic and
pure; a provider only projects people into its own records, reads, builds
payloads and writes. What it can and cannot do is declared as data
(`Capabilities`, with a reason for every field it cannot change), so a plan can
show "apply cannot fix this" without calling anything.

    Provider                      one system: pure rules
    ├── capabilities              key and its rule (key_fold), fields, batch size, costs,
    │                             hosts, the vendor's open sets
    ├── project(state)            people -> this system's desired records, by key
    ├── tenant_view(raw)          a read entry -> the record compared and saved (None: absent)
    ├── same(field, a, b)         equality as the system stores values
    ├── check(...)                input errors only this system knows (FILE:LINE)
    ├── payload(...)              the object a write sends
    ├── unwritable(send)          why the API cannot take a payload (the plan names it)
    ├── undeactivatable(current)  why a user is never deactivated (the token's own user)
    ├── warnings(...)             notes for the reviewer, never fatal
    ├── depends_on(change)        a key that must be created first (a manager)
    └── open(target, token)  ->   Remote: read() once, write(batch) -> per-user outcomes

Unlike DNSControl and octoDNS, a Remote's `write` reports each user's outcome
itself: how a vendor says "done" (async request ids and per-user errors in a
200, or one call per user) stays in its package, and the
generic apply loop only orders, paces, and verifies by reading again.

A third system is one new package under providers/ and one line in the registry.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeGuard

from reconciler.keys import caseless, exact

if TYPE_CHECKING:
    from reconciler.desired import DesiredState, DesiredUser
    from reconciler.errors import Problem
    from reconciler.http import TokenSource
    from reconciler.model import Change, PlanWarning
    from reconciler.progress import Progress
    from reconciler.yaml_source import Mapping as YamlMapping

#: What a write did to one user, as far as the answer tells ("skipped": not sent).
WriteStatus = Literal["done", "failed", "pending", "skipped"]

#: A system's checks of one person listed for it, made for one load of the files by
#: the `person_check(state)` of the system's `people` module (found with hooks.beside):
#: it appends what it finds, as FILE:LINE problems, to the list it is given. The loader
#: calls it for every person listed for the system, in the files' order, so it may
#: remember earlier people (two people with one key).
PersonCheck = Callable[["DesiredUser", list["Problem"]], None]

#: What a system finds wrong in a person's (or the defaults') block `NAME: {...}` that its
#: schema fragment cannot say, given the file and the block as read (with its lines):
#: `block_problems(file, block)` in the system's `people` module.
BlockCheck = Callable[[str, "YamlMapping"], list["Problem"]]


@dataclass(frozen=True)
class Capabilities:
    """What a system is and can do, declared as data, known before any call."""

    name: str
    title: str
    #: The field that identifies a user; it is never changed.
    key: str
    #: The system's key rule: True, keys are one user whatever their letter case and
    #: Unicode encoding (keys.caseless); False, as written (keys.exact). See key_fold.
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
    #: Sets of values the vendor extends (an access app), by where they sit
    #: in a person's block: a new value is accepted with a warning, never refused.
    open_sets: Mapping[str, OpenSet] = field(default_factory=dict)
    #: This system's part of the people file's JSON Schema (None: it adds no key to it).
    people_schema: PeopleSchema | None = None

    def key_fold(self, key: str) -> str:
        """The one form of a key under this system's key rule: two keys name the same
        user exactly when their folds are equal.

        Every index of users by key (the loader's duplicate checks, the diff, apply's
        verification, saved plans, export and adoption) is keyed by this.
        """
        return caseless(key) if self.key_ignores_case else exact(key)


@dataclass(frozen=True)
class PeopleSchema:
    """A system's fragment of the people file's JSON Schema (schema.assemble joins them).

    Each mapping is JSON Schema, referring to shared definitions (`#/$defs/unlisted`)
    or to its own `defs`. The default system's `fields` are a person's own keys and
    its `target` sits in an environment itself; another system's are blocks under its
    name (`NAME: {access: [...]}`, `environments.prod.NAME: {...}`).
    """

    #: A person's own fields (the default system's), by name, in the file's order.
    fields: Mapping[str, Any] = field(default_factory=dict)
    #: Of `fields`, those only a user may set (not `defaults`).
    per_user: frozenset[str] = frozenset()
    #: Of `fields`, those every user must have.
    required: tuple[str, ...] = ()
    #: The schema of a person's block `NAME: {...}` (None: a person has none).
    person: Mapping[str, Any] | None = None
    #: The schema of `settings.NAME`, the system's settings over the shared ones.
    settings: Mapping[str, Any] | None = None
    #: The schema of an environment's target (an object): see above for where it sits.
    target: Mapping[str, Any] | None = None
    #: Further definitions the fragments refer to (`#/$defs/NAME`).
    defs: Mapping[str, Any] = field(default_factory=dict)


#: What a file may write for a value of an open set: a short identifier that reads the
#: same on every screen (no space, no other script, nothing invisible). The schema uses
#: it too, where Python's `$` would also match before a final newline: hence `(?!\n)`.
OPEN_VALUE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$(?!\n)"
_OPEN_VALUE = re.compile(OPEN_VALUE)


@dataclass(frozen=True)
class OpenSet:
    """A set of values the vendor documents and may extend (SPEC section 7).

    A value the tool does not know yet is accepted with a warning, never
    refused: a company that uses an app added after this release still
    exports, validates and plans. What a file cannot hold (`fits` is false)
    is left out of an export, and the plan shows the difference as a note.
    """

    #: How messages name a value of the set ("Acme access app").
    title: str
    #: The values the vendor's description lists, in its order.
    known: tuple[str, ...]

    def fits(self, value: object) -> TypeGuard[str]:
        """Whether a people file can hold `value` (known, or shaped like one)."""
        return isinstance(value, str) and (
            value in self.known or _OPEN_VALUE.fullmatch(value) is not None
        )

    def is_new(self, value: object) -> bool:
        """Whether `value` is one the vendor's description does not list (yet)."""
        return value not in self.known

    def new_value_warning(self, value: str, users: int) -> str:
        """The warning for a value this release does not know."""
        who = "1 person has it" if users == 1 else f"{users} people have it"
        close = difflib.get_close_matches(value, self.known, n=1, cutoff=0.75)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        return (
            f"{self.title} {value!r}{hint} is not one reconciler knows "
            f"({', '.join(self.known)}); "
            f"it is accepted as one the vendor added since ({who}): check its spelling, "
            "as the vendor refuses a write with a value it does not have"
        )


def open_values(block: Any, path: str) -> Iterable[Any]:
    """The values at `path` (`access.app`) of a person's block; a list on the way is
    walked item by item."""
    found: list[Any] = [block]
    for step in path.split("."):
        found = [
            item[step]
            for value in found
            for item in (value if isinstance(value, list) else [value])
            if isinstance(item, Mapping) and step in item
        ]
    return [item for value in found for item in (value if isinstance(value, list) else [value])]


def new_open_values(
    caps: Capabilities, people: Iterable[tuple[str, Any]]
) -> list[tuple[OpenSet, str, list[str]]]:
    """Each value of the system's open sets that the vendor's description does not list,
    with the people (given as (who, their block of this system)) who have it, in order."""
    found: dict[tuple[str, str], list[str]] = {}
    for who, block in people:
        if not block:
            continue
        for path, values in caps.open_sets.items():
            for value in open_values(block, path):
                if isinstance(value, str) and values.is_new(value):
                    holders = found.setdefault((path, value), [])
                    if not holders or holders[-1] != who:
                        holders.append(who)
    return [(caps.open_sets[path], value, who) for (path, value), who in found.items()]


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
        """Input errors found against the tenant (a manager that names no one)."""
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
