"""The access review: every account of every system against the files (SPEC section 8).

Pure: the systems as read and planned (engine.plan_all), the files, the commits
of their entries and the time of the read in; rows, flags, counts and a digest
out. Nothing here reads or writes a system.

- One row per account of each system's listing read (a deleted user is none),
  and one per person listed for a system and absent from it (`active` None).
- Flags: `not listed` (active, not listed for the system), `dormant` (active,
  last login more than N days before the read, or never; only where the system
  reports logins), `admin` (active, with admin rights), `absent` (listed as
  active and not in the system; a person listed inactive and absent is shown,
  not flagged: nobody has access).
- Per system: active accounts now, after the files' pending plan (the plan's
  creations and reactivations of active users in, its deactivations out; a
  change the API cannot take stays out), and the counts of each flag.
- The digest is sha256 over the rows' state (not the days since a login nor
  the flags, which move with the clock and --dormant-days): the same state
  gives the same digest, whenever it is read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from reconciler.errors import ResponseError
from reconciler.providers.review_hooks import Account, Details, Reports, hooks_for

if TYPE_CHECKING:
    from reconciler.desired import DesiredState, DesiredUser
    from reconciler.engine import Planned
    from reconciler.model import Plan
    from reconciler.provenance import Commit, Provenance

FORMAT_VERSION = 1
#: Days without a login after which an active account is dormant, by default.
DEFAULT_DORMANT_DAYS = 90

Files = Literal["listed", "listed inactive", "not listed"]
Flag = Literal["not listed", "dormant", "admin", "absent"]
#: The flags, in the order they are shown.
FLAGS: tuple[Flag, ...] = ("not listed", "dormant", "admin", "absent")
#: The flags a scheduled job acts on (`--detailed-exitcode` exits 2); admin is information.
ACTIONABLE: frozenset[str] = frozenset({"not listed", "dormant", "absent"})


@dataclass(frozen=True, slots=True)
class Row:
    """One account of one system (or one person absent from it), as every format shows it."""

    system: str
    key: str
    email: str | None
    name: str | None
    #: None: the person is listed for the system and absent from it.
    active: bool | None
    admin: bool | None
    access: tuple[str, ...] | None
    role: str | None
    last_login: datetime | None
    days_since_login: int | None
    files: Files
    #: The person's login in the files (None: no person of the files has this account).
    login: str | None
    flags: tuple[Flag, ...]
    commit: Commit | None

    def state(self) -> dict[str, Any]:
        """What the digest covers: the row as read, without what moves with the clock."""
        return {
            "system": self.system,
            "key": self.key,
            "email": self.email,
            "name": self.name,
            "active": self.active,
            "admin": self.admin,
            "access": list(self.access) if self.access is not None else None,
            "role": self.role,
            "last_login": iso(self.last_login),
            "files": self.files,
            "login": self.login,
            "commit": commit_data(self.commit),
        }


@dataclass(frozen=True)
class SystemReview:
    """One system's counts, and what its read does not report (`silent`, by column)."""

    system: str
    title: str
    target: str
    active: int
    active_after_plan: int
    not_listed: int
    dormant: int
    admins: int
    absent: int
    reports: Reports
    silent: Mapping[str, str]
    #: `--details` for this system (None: not asked, or the system has none).
    details: Details | None = None


@dataclass
class Review:
    """The whole review: when it was read, each system, every row, the digest."""

    read_at: datetime
    dormant_days: int
    systems: list[SystemReview]
    rows: list[Row]
    digest: str
    #: Why commits are missing (no repository, uncommitted entries), said once.
    provenance_note: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """Whether a scheduled job should act: an account not listed, dormant or absent."""
        return any(ACTIONABLE.intersection(row.flags) for row in self.rows)

    @property
    def details_complete(self) -> bool:
        return all(s.details is None or s.details.complete for s in self.systems)


def iso(moment: datetime | None) -> str | None:
    """A UTC time as `2026-12-05T02:13:00Z` (None stays None)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def commit_data(commit: Commit | None) -> dict[str, str] | None:
    if commit is None:
        return None
    return {"id": commit.id, "date": commit.date, "subject": commit.subject}


def digest(rows: Iterable[Row]) -> str:
    """`sha256:HEX` of the rows' state, in the rows' order (see the module docstring)."""
    text = json.dumps([row.state() for row in rows], sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def active_after(plan: Plan, active_now: int) -> int:
    """Active accounts once the plan is applied (a change the API cannot take is not)."""
    count = active_now
    for change in plan.changes:
        if change.blocked is not None:
            continue
        if change.action == "create":
            made = change.fields.get("is_active")
            count += 0 if made is not None and made.after is False else 1
        elif change.action == "reactivate":
            count += 1
        elif change.action == "deactivate":
            count -= 1
    return count


def is_dormant(last_login: datetime | None, read_at: datetime, days: int) -> bool:
    """Last login more than `days` days before the read, or never (exactly N days: not yet)."""
    return last_login is None or read_at - last_login > timedelta(days=days)


@dataclass
class _People:
    """The people of the files, found once: by where their entry is, and by email."""

    at: dict[tuple[str, int], list[DesiredUser]]
    by_email: dict[str, DesiredUser]

    @classmethod
    def of(cls, state: DesiredState) -> _People:
        at: dict[tuple[str, int], list[DesiredUser]] = {}
        by_email: dict[str, DesiredUser] = {}
        for user in state.users.values():
            at.setdefault((user.file, user.line), []).append(user)
            email = user.fields.get("email")
            if isinstance(email, str) and email:
                by_email.setdefault(email.casefold(), user)
        return cls(at, by_email)

    def of_record(self, record: DesiredUser) -> DesiredUser | None:
        """The person a system's record was projected from (same entry, same login or email)."""
        found = self.at.get((record.file, record.line), [])
        if len(found) == 1:
            return found[0]
        email = record.fields.get("email")
        folded = email.casefold() if isinstance(email, str) else None
        for person in found:
            theirs = person.fields.get("email")
            if person.login == record.login or (
                folded is not None and isinstance(theirs, str) and theirs.casefold() == folded
            ):
                return person
        return None


def system_rows(
    run: Planned,
    state: DesiredState,
    people: _People,
    provenance: Provenance | None,
    *,
    read_at: datetime,
    dormant_days: int,
) -> tuple[list[Row], list[Account]]:
    """One system's rows (accounts, then absent people) and its accounts as read."""
    provider = run.provider
    caps = provider.capabilities
    hooks = hooks_for(provider)
    # The diff's own key rule, so that the review and the plan match the same people.
    fold = str.lower if caps.key_ignores_case else str
    records = {fold(key): record for key, record in provider.project(state).items()}

    def person_of(record: DesiredUser | None, email: str | None) -> DesiredUser | None:
        if record is not None:
            return people.of_record(record)
        return people.by_email.get(email.casefold()) if email else None

    def commit_of(person: DesiredUser | None) -> Commit | None:
        if person is None or provenance is None:
            return None
        return provenance.of((person.file, person.line))

    rows: list[Row] = []
    accounts: list[Account] = []
    seen: set[str] = set()
    for index, raw in enumerate(run.tenant):
        try:
            account = hooks.account(raw)
        except ValueError as exc:
            named = raw.get(caps.key) if isinstance(raw, dict) else None
            who = f"user {named!r}" if isinstance(named, str) else f"entry #{index}"
            raise ResponseError(f"{caps.title} ({run.remote.target}): {who} {exc}") from None
        if account is None:
            continue
        accounts.append(account)
        folded = fold(account.key)
        seen.add(folded)
        record = records.get(folded)
        files: Files
        if record is None:
            files = "not listed"
        elif record.fields.get("is_active") is False:
            files = "listed inactive"
        else:
            files = "listed"
        person = person_of(record, account.email)
        flags: list[Flag] = []
        if account.active:
            if record is None:
                flags.append("not listed")
            if hooks.reports.last_login and is_dormant(account.last_login, read_at, dormant_days):
                flags.append("dormant")
            if account.admin:
                flags.append("admin")
        days = None
        if account.last_login is not None:
            days = max(0, (read_at - account.last_login).days)
        rows.append(
            Row(
                system=caps.name,
                key=account.key,
                email=account.email,
                name=account.name,
                active=account.active,
                admin=account.admin,
                access=account.access,
                role=account.role,
                last_login=account.last_login,
                days_since_login=days,
                files=files,
                login=person.login if person is not None else None,
                flags=tuple(flags),
                commit=commit_of(person),
            )
        )
    for folded, record in records.items():
        if folded in seen:
            continue
        wanted = record.fields.get("is_active") is not False
        person = person_of(record, None)
        email = record.fields.get("email")
        name = record.fields.get("name")
        rows.append(
            Row(
                system=caps.name,
                key=record.login,
                email=email if isinstance(email, str) else None,
                name=name if isinstance(name, str) else None,
                active=None,
                admin=None,
                access=None,
                role=None,
                last_login=None,
                days_since_login=None,
                files="listed" if wanted else "listed inactive",
                login=person.login if person is not None else None,
                flags=("absent",) if wanted else (),
                commit=commit_of(person),
            )
        )
    return rows, accounts


def build(
    state: DesiredState,
    runs: list[Planned],
    *,
    read_at: datetime,
    dormant_days: int = DEFAULT_DORMANT_DAYS,
    provenance: Provenance | None = None,
    details: Mapping[str, Details] | None = None,
) -> Review:
    """The review of the systems of `runs` (read and planned) against the files."""
    people = _People.of(state)
    systems: list[SystemReview] = []
    rows: list[Row] = []
    for run in runs:
        found, accounts = system_rows(
            run, state, people, provenance, read_at=read_at, dormant_days=dormant_days
        )
        found.sort(key=lambda row: (row.key.casefold(), row.key))
        rows.extend(found)
        hooks = hooks_for(run.provider)
        active = sum(1 for account in accounts if account.active)

        def count(flag: Flag, among: list[Row] = found) -> int:
            return sum(1 for row in among if flag in row.flags)

        systems.append(
            SystemReview(
                system=run.provider.capabilities.name,
                title=run.provider.capabilities.title,
                target=run.remote.target,
                active=active,
                active_after_plan=active_after(run.plan, active),
                not_listed=count("not listed"),
                dormant=count("dormant"),
                admins=count("admin"),
                absent=count("absent"),
                reports=hooks.reports,
                silent=dict(hooks.silent),
                details=(details or {}).get(run.provider.capabilities.name),
            )
        )
    return Review(
        read_at=read_at,
        dormant_days=dormant_days,
        systems=systems,
        rows=rows,
        digest=digest(rows),
        provenance_note=provenance.note if provenance is not None else None,
    )


def accounts_of(run: Planned) -> list[Account]:
    """A system's accounts as its hooks read them (for --details, before the review)."""
    hooks = hooks_for(run.provider)
    found = []
    for raw in run.tenant:
        try:
            account = hooks.account(raw)
        except ValueError:
            continue  # build() names it
        if account is not None:
            found.append(account)
    return found
