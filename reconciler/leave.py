"""`reconciler leave PERSON`: one person out of every system now, verified (SPEC section 8).

    resolve(state, PERSON)          the person of the files, or PERSON as typed (pure)
    find_everywhere(...)            each system's user for them (look), by the cheapest
                                    reads; refusals (protected, the token's own user)
    deactivate_everywhere(...)      one deactivation per system (act), then a read back
    LeaveReport, render             who, what, when, each system's verified state

One system failing does not stop the others; a refusal, an ambiguous or an
unknown PERSON stops everything before the first write. The workflow runs
here, over the systems' SingleUser hooks (reconciler.providers.single); the
CLI parses options, asks for confirmation, renders and exits.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from reconciler import __version__, providers
from reconciler.desired import DesiredState, DesiredUser
from reconciler.errors import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_UNSAFE,
    ReconcilerError,
    UsageError,
)
from reconciler.people_edit import Edit
from reconciler.providers.base import Provider, Remote
from reconciler.providers.single import Lookup, SingleUser, View, hooks_for
from reconciler.settings import SystemSettings
from reconciler.textsafe import printable

#: What became of the person in one system (SPEC section 8).
State = Literal["deactivated", "already inactive", "not there", "refused", "failed"]
#: How many close names an unknown PERSON is shown.
CLOSEST = 3


class LeaveError(ReconcilerError):
    """PERSON names no one, or more than one person: nothing was written (exit 1)."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


# -- who PERSON is -------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """PERSON resolved against the files: the person listed, and each system's lookup."""

    person: str
    #: The person of the files, or None when the files do not list them.
    user: DesiredUser | None
    #: Per system name: whom to look for there.
    lookups: dict[str, Lookup]
    #: Per system name: the files' fields for the person in that system (write-only ones
    #: go with the write: an external id the system never returns).
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Per system name: whether the files list the person for that system.
    listed: dict[str, bool] = field(default_factory=dict)

    @property
    def listed_active(self) -> bool:
        """Whether the files list the person as active (their file then gets the edit)."""
        return self.user is not None and self.user.fields.get("is_active") is not False


def _names_of(user: DesiredUser, suffix: str) -> set[str]:
    """The names PERSON may give for a person: login (with or without the suffix), email."""
    names = {user.login.casefold()}
    if suffix and user.login.endswith(suffix):
        names.add(user.login[: -len(suffix)].casefold())
    email = user.fields.get("email")
    if isinstance(email, str):
        names.add(email.casefold())
    return names


def _default_login() -> str:
    """How messages name what PERSON gives first: the default system's key ("X login")."""
    return f"{providers.title(providers.DEFAULT)} login"


def resolve(state: DesiredState, person: str, chosen: list[Provider]) -> Resolution:
    """PERSON (a login of the default system or an email, any letter case) against the files.

    Raises LeaveError when PERSON matches more than one person of the files.
    """
    wanted = person.strip().casefold()
    if not wanted:
        raise UsageError(f"PERSON is empty: give a {_default_login()} or an email")
    suffix = state.login_suffix
    matches = [u for u in state.users.values() if wanted in _names_of(u, suffix)]
    if len(matches) > 1:
        raise LeaveError(
            f"{printable(person)} matches {len(matches)} people of the files; nothing was "
            f"written. Give the {_default_login()} of the one who leaves:",
            [f"{u.login} <{u.fields.get('email', '')}> at {u.where()}" for u in matches],
        )
    if not matches:
        lookup = Lookup(person.strip(), suffix=suffix)
        return Resolution(person, None, {p.capabilities.name: lookup for p in chosen})
    user = matches[0]
    lookups: dict[str, Lookup] = {}
    records: dict[str, dict[str, Any]] = {}
    listed: dict[str, bool] = {}
    for provider in chosen:
        name = provider.capabilities.name
        listed[name] = user.listed_for(name, state.settings.systems)
        # The person as this system keys them, listed there or not: they leave it too.
        alone = dataclasses.replace(
            state,
            users={user.login: dataclasses.replace(user, systems=(name,))},
            settings=dataclasses.replace(state.settings, systems=(name,)),
        )
        projected = provider.project(alone)
        key, record = next(iter(projected.items()))
        lookups[name] = Lookup(person.strip(), key, suffix)
        records[name] = dict(record.fields)
    return Resolution(person, user, lookups, records, listed)


def edit_problem(state: DesiredState, resolution: Resolution, chosen: list[Provider]) -> str:
    """Why the files must not be edited by this run, or "" (they may).

    `is_active: false` holds for every system the person is listed for: a run
    limited with --system to some of them would record a departure from the
    others that it did not make.
    """
    user = resolution.user
    if user is None:
        return ""
    systems = user.systems if user.systems is not None else state.settings.systems
    names = {provider.capabilities.name for provider in chosen}
    left_out = [name for name in systems if name not in names]
    if not left_out:
        return ""
    return (
        f"is_active: false would also deactivate {user.login} in {', '.join(left_out)}, "
        "which this run did not cover (--system): run leave for every system, or edit "
        f"{user.where()} by hand"
    )


def closest_names(state: DesiredState, person: str) -> list[str]:
    """The logins and emails of the files closest to PERSON (for an unknown PERSON)."""
    names: dict[str, str] = {}
    for user in state.users.values():
        names.setdefault(user.login.casefold(), user.login)
        email = user.fields.get("email")
        if isinstance(email, str):
            names.setdefault(email.casefold(), email)
    close = difflib.get_close_matches(person.casefold(), list(names), n=CLOSEST, cutoff=0.5)
    return [names[name] for name in close]


# -- each system ---------------------------------------------------------------------


@dataclass
class SystemOutcome:
    """One system's part: what was found, what was done, what the read back says."""

    system: str
    title: str
    target: str
    #: The user's key there (a login, an email: the system's key), when found.
    key: str | None = None
    state: State = "not there"
    why: str = ""
    #: The active state as last read (after the write: the verified one); None: not there
    #: or unknown.
    active: bool | None = None
    #: The user as found (the provider's view), kept for the write.
    user: View | None = None
    #: Whether the files do not record the departure here (unlisted, `unlisted: ignore`).
    unrecorded: bool = False
    #: Whether the person is active here and is to be deactivated (until it is tried).
    pending: bool = False
    #: Whether several users of this system match PERSON.
    ambiguous: bool = False
    #: Requests sent to the system, by kind.
    requests: dict[str, int] = field(default_factory=dict)
    #: What the vendor said is left of today's budget (None: nothing published).
    budget_left: int | None = None

    @property
    def settled(self) -> bool:
        """Whether the person is inactive here, or was never here."""
        return self.state in ("deactivated", "already inactive", "not there")


@dataclass
class System:
    """One chosen system: its rules, its open connection and its hooks."""

    provider: Provider
    remote: Remote
    hooks: SingleUser

    @classmethod
    def open(cls, provider: Provider, remote: Remote) -> System:
        return cls(provider, remote, hooks_for(provider, remote))


def _counts(system: System, outcome: SystemOutcome) -> SystemOutcome:
    outcome.requests = system.remote.request_counts()
    outcome.budget_left = system.remote.budget_left()
    return outcome


def look(system: System, resolution: Resolution, state: DesiredState) -> SystemOutcome:
    """Find the person in one system and decide what to do there (no write)."""
    caps = system.provider.capabilities
    name = caps.name
    outcome = SystemOutcome(name, caps.title, system.remote.target)
    settings = state.settings.for_system(name)
    outcome.unrecorded = not resolution.listed.get(name, False) and settings.unlisted == "ignore"
    lookup = resolution.lookups[name]
    suffix = state.login_suffix
    if lookup.key is not None and settings.is_protected(lookup.key, suffix):
        # Refused before any read: the files could not even record the departure.
        outcome.state, outcome.key = "refused", lookup.key
        outcome.why = f"{lookup.key} is protected ({_protect_setting(state, name, lookup.key)})"
        return _counts(system, outcome)
    try:
        found = system.hooks.find(lookup)
    except ReconcilerError as exc:
        outcome.state, outcome.why = "failed", str(exc)
        return _counts(system, outcome)
    if not found:
        return _counts(system, outcome)
    if len(found) > 1:
        keys = ", ".join(str(user.get(caps.key)) for user in found)
        outcome.state, outcome.ambiguous = "failed", True
        outcome.why = f"{len(found)} users match ({keys})"
        return _counts(system, outcome)
    user = found[0]
    outcome.user, outcome.key = user, str(user[caps.key])
    outcome.active = user.get("is_active") is not False
    refusal = system.provider.undeactivatable(user) if outcome.active else None
    if settings.is_protected(outcome.key, suffix):
        outcome.state = "refused"
        outcome.why = f"{outcome.key} is protected ({_protect_setting(state, name, outcome.key)})"
    elif refusal is not None:
        outcome.state, outcome.why = "refused", refusal
    elif not outcome.active:
        outcome.state = "already inactive"
    else:
        outcome.state, outcome.why, outcome.pending = "failed", "not written", True
    return _counts(system, outcome)


def _protect_setting(state: DesiredState, system: str, key: str) -> str:
    """Which setting protects `key`: the system's own block, or the shared `protect`."""
    own = tuple(state.settings.blocks.get(system, {}).get("protect") or ())
    if SystemSettings(protect=own).is_protected(key, state.login_suffix):
        return f"settings.{system}.protect"
    return "settings.protect"


def act(system: System, outcome: SystemOutcome, resolution: Resolution) -> SystemOutcome:
    """Write the one deactivation, then read the user back: the read decides the state."""
    assert outcome.user is not None
    outcome.pending = False
    caps = system.provider.capabilities
    wanted = {
        name: value
        for name, value in resolution.records.get(caps.name, {}).items()
        if name in caps.write_only
    }
    said = ""
    try:
        said = system.hooks.deactivate(outcome.user, wanted).message
    except ReconcilerError as exc:
        said = str(exc)
    # Whatever the write answered (or if it was lost), the read back decides.
    answered = f" (the write: {said})" if said else ""
    try:
        now = system.hooks.read_back(outcome.user)
    except ReconcilerError as exc:
        outcome.state, outcome.active = "failed", None
        outcome.why = f"could not read the user back: {exc}{answered}"
        return _counts(system, outcome)
    if now is None:
        outcome.state, outcome.active = "failed", None
        outcome.why = f"the user is no longer there when read back{answered}"
    elif now.get("is_active") is False:
        outcome.state, outcome.active, outcome.why = "deactivated", False, ""
    else:
        outcome.state, outcome.active = "failed", True
        outcome.why = f"still active when read back{answered}"
    return _counts(system, outcome)


# -- the whole run -------------------------------------------------------------------


@dataclass
class LeaveReport:
    """The record of one emergency: who, what, when, and each system's verified state."""

    person: str
    resolution: Resolution
    started: datetime
    systems: list[SystemOutcome]
    finished: datetime | None = None
    #: The edit of the person's file (None: nothing to edit).
    edit: Edit | None = None
    #: Whether the edit was written to the file (`--no-edit`: only shown).
    edited: bool = False
    #: Why the files were not edited, when they could not be.
    edit_problem: str = ""
    #: Whether a refusal stopped every write.
    refused: bool = False

    @property
    def ok(self) -> bool:
        """Inactive in every system that has them, and nothing refused."""
        return not self.refused and all(outcome.settled for outcome in self.systems)

    @property
    def exit_code(self) -> int:
        """1 if a system failed; else 3 if a refusal stopped the writes; else 0 (SPEC 7, 8)."""
        if any(outcome.state == "failed" for outcome in self.systems):
            return EXIT_ERROR
        return EXIT_UNSAFE if self.refused else EXIT_OK


def _parallel(
    work: Callable[[System], SystemOutcome], systems: list[System]
) -> list[SystemOutcome]:
    """Each system on its own thread: a run waits for the slowest system, not the sum."""
    if len(systems) == 1:
        return [work(systems[0])]
    with ThreadPoolExecutor(max_workers=len(systems), thread_name_prefix="leave") as pool:
        return list(pool.map(work, systems))


def find_everywhere(
    state: DesiredState,
    resolution: Resolution,
    systems: list[System],
    *,
    now: Callable[[], datetime],
) -> LeaveReport:
    """Look for the person in every system and decide; nothing is written.

    Raises LeaveError when PERSON is found nowhere (neither the files nor any
    system that could be read), or matches several users of one system.
    """
    started = now()
    outcomes = _parallel(lambda system: look(system, resolution, state), systems)
    if resolution.user is None:
        resolution, outcomes = _by_email_found(state, resolution, systems, outcomes)
    report = LeaveReport(resolution.person, resolution, started, outcomes)
    ambiguous = [o for o in outcomes if o.ambiguous]
    if ambiguous:
        raise LeaveError(
            f"{printable(resolution.person)} matches more than one user; nothing was written. "
            f"Give the {_default_login()} (or the exact email) of the one who leaves:",
            [f"{o.title}: {o.why}" for o in ambiguous],
        )
    if resolution.user is None and all(o.state == "not there" for o in outcomes):
        close = closest_names(state, resolution.person)
        hint = f" Closest names in the files: {', '.join(close)}." if close else ""
        raise LeaveError(
            f"{printable(resolution.person)} is neither in the files nor in "
            f"{_and_joined([o.title for o in outcomes])}; nothing was written.{hint}"
        )
    refusals = [o for o in outcomes if o.state == "refused"]
    if refusals:
        report.refused = True
        for outcome in outcomes:
            if outcome.pending:
                outcome.pending, outcome.state = False, "refused"
                outcome.why = "not written: " + "; ".join(
                    f"{o.title} refused: {o.why}" for o in refusals
                )
    return report


def _by_email_found(
    state: DesiredState,
    resolution: Resolution,
    systems: list[System],
    outcomes: list[SystemOutcome],
) -> tuple[Resolution, list[SystemOutcome]]:
    """An unlisted PERSON given as a login: look for the email it has where it was found.

    `leave ann@acme` must not leave Ann active in a system keyed by email just
    because no one there has the email "ann@acme": the systems that found no one
    are asked again with the one email the others' user has. Several emails
    are not guessed between.
    """
    emails = {
        o.user["email"].casefold(): o.user["email"]
        for o in outcomes
        if o.user is not None and isinstance(o.user.get("email"), str)
    }
    emails.pop(resolution.person.strip().casefold(), None)
    if len(emails) != 1:
        return resolution, outcomes
    (email,) = emails.values()
    lookups = dict(resolution.lookups)
    again = [i for i, o in enumerate(outcomes) if o.state == "not there"]
    for i in again:
        lookups[outcomes[i].system] = Lookup(
            email, suffix=resolution.lookups[outcomes[i].system].suffix
        )
    resolution = dataclasses.replace(resolution, lookups=lookups)
    by_name = {system.provider.capabilities.name: system for system in systems}
    outcomes = list(outcomes)
    for i in again:
        outcomes[i] = look(by_name[outcomes[i].system], resolution, state)
    return resolution, outcomes


def deactivate_everywhere(
    report: LeaveReport, systems: list[System], *, now: Callable[[], datetime]
) -> LeaveReport:
    """Write each pending deactivation and verify it; one system failing stops no other."""
    assert not report.refused
    outcomes = {o.system: o for o in report.systems}
    pending = [s for s in systems if outcomes[s.provider.capabilities.name].pending]
    if pending:
        _parallel(
            lambda s: act(s, outcomes[s.provider.capabilities.name], report.resolution), pending
        )
    report.finished = now()
    return report


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def pending_writes(report: LeaveReport) -> list[SystemOutcome]:
    """The systems where the person is active and will be deactivated."""
    return [o for o in report.systems if o.pending]


# -- the report -----------------------------------------------------------------------


def _and_joined(items: list[str]) -> str:
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    utc = moment.astimezone(timezone.utc)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def resolved_line(resolution: Resolution) -> str:
    """Whom PERSON resolved to: the person of the files, or PERSON as typed."""
    user = resolution.user
    if user is None:
        return f"{resolution.person}: not listed in the files; looked up as typed in each system"
    email = user.fields.get("email", "")
    name = user.fields.get("name", "")
    return f"{resolution.person} is {name} ({user.login} <{email}>) at {user.where()}"


def _shown_key(resolution: Resolution, outcome: SystemOutcome) -> str:
    lookup = resolution.lookups[outcome.system]
    return outcome.key or lookup.key or lookup.person


def who(resolution: Resolution, report: LeaveReport) -> list[str]:
    """Whom PERSON resolved to, and what each system holds (shown before confirming)."""
    lines = [resolved_line(resolution)]
    for outcome in report.systems:
        key = _shown_key(resolution, outcome)
        if outcome.pending:
            what = "active: will be deactivated"
        elif outcome.state == "not there":
            what = "not there"
        else:
            what = outcome.state + (f": {outcome.why}" if outcome.why else "")
        lines.append(f"  {outcome.title} {key}: {what}")
    return lines


def summary(resolution: Resolution, outcome: SystemOutcome) -> str:
    """One line for one system: the user's key there, its state, why."""
    state = "deactivated (verified)" if outcome.state == "deactivated" else outcome.state
    why = f": {outcome.why}" if outcome.why else ""
    return f"{outcome.title} {_shown_key(resolution, outcome)}: {state}{why}"


def notes(report: LeaveReport) -> list[str]:
    """What the reader must know beyond the states: departures the files do not record."""
    lines = []
    for outcome in report.systems:
        if outcome.unrecorded and outcome.state in ("deactivated", "already inactive"):
            lines.append(
                f"The files do not record this departure in {outcome.title}: they do not list "
                f"{report.person} for it and it keeps unlisted users (unlisted: ignore); an "
                "apply will not reactivate them, but nothing in the files says they left."
            )
    failed = [o.title for o in report.systems if o.state == "failed"]
    if failed and not report.refused:
        lines.append(
            f"Not done in {_and_joined(failed)}: run the same leave again (it writes only "
            "what is left), or apply the edited files, once the cause is fixed."
        )
    if report.edit_problem:
        lines.append(f"The files were not edited: {report.edit_problem}")
    return lines


def as_json_data(report: LeaveReport) -> dict[str, Any]:
    """The audit record: who, what, when (UTC), and each system's verified state."""
    user = report.resolution.user
    return {
        "format_version": 1,
        "reconciler_version": __version__,
        "command": "leave",
        "person": report.person,
        "action": "deactivate",
        "resolved": None
        if user is None
        else {
            "login": user.login,
            "email": user.fields.get("email"),
            "name": user.fields.get("name"),
            "where": user.where(),
        },
        "started_at": _iso(report.started),
        "finished_at": _iso(report.finished),
        "ok": report.ok,
        "refused": report.refused,
        "systems": [
            {
                "system": o.system,
                "target": o.target,
                "key": o.key,
                "state": o.state,
                "verified": o.state == "deactivated",
                "active": o.active,
                "why": o.why or None,
                "files_record_it": not o.unrecorded,
                "requests": o.requests,
                "budget_left": o.budget_left,
            }
            for o in report.systems
        ],
        "files": {
            "file": report.edit.file if report.edit else None,
            "edited": report.edited,
            "diff": report.edit.diff if report.edit else "",
            "problem": report.edit_problem or None,
        },
        "notes": notes(report),
    }


def render(report: LeaveReport, fmt: str) -> str:
    """The report as text, markdown or JSON (server text and file text made printable)."""
    if fmt == "json":
        return json.dumps(as_json_data(report), indent=2, ensure_ascii=False) + "\n"
    states = [summary(report.resolution, o) for o in report.systems]
    diff = report.edit.diff.splitlines() if report.edit and report.edit.changed else []
    when = _iso(report.finished or report.started)
    if fmt == "markdown":
        out = _markdown(report, diff, when)
    else:
        out = [resolved_line(report.resolution), *(f"  {line}" for line in states), *notes(report)]
        if diff:
            out.append(
                "Edited the files:" if report.edited else "The edit (--no-edit: not written):"
            )
            out += diff
        state = "done" if report.ok else ("refused" if report.refused else "not done everywhere")
        out.append(f"Leave {state} at {when}.")
    return "".join(printable(line) + "\n" for line in out)


def _markdown(report: LeaveReport, diff: list[str], when: str | None) -> list[str]:
    """The report as a pull-request comment: every name a code span, the diff fenced."""
    from reconciler.render.markdown import code, escape

    resolution = report.resolution
    user = resolution.user
    if user is None:
        head = f"{code(report.person)}: not listed in the files; looked up as typed"
    else:
        email, name = str(user.fields.get("email", "")), str(user.fields.get("name", ""))
        head = (
            f"{code(report.person)} is {escape(name)} ({code(user.login)}, {code(email)}) "
            f"at {code(user.where())}"
        )
    out = [f"### Leave: {code(report.person)}", "", head, ""]
    for o in report.systems:
        state = "deactivated (verified)" if o.state == "deactivated" else o.state
        why = f": {escape(o.why)}" if o.why else ""
        out.append(f"- {o.title} {code(_shown_key(resolution, o))}: **{state}**{why}")
    for line in notes(report):
        out += ["", f"> {escape(line)}"]
    if diff:
        fence = "~~~~" if any("~~~" in line for line in diff) else "~~~"
        out += ["", f"{fence}diff", *diff, fence]
    return [*out, "", f"At {when}."]
