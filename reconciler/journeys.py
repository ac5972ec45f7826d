"""A person's journey across systems: one line a reviewer reads instead of two plans.

Each system's plan is keyed by that system's key (a login in one, an email in
another); the same person is found across them by email, letter case and
Unicode encoding aside (keys.caseless), since that is the one field every
system holds. A story is told only when it spans two systems or more: a leaver
deactivated in both, a mover removed from one and kept in the other, a person
in one system and not yet in the other. Updates alone are left to each system's plan.

Pure: plans, people and the accounts each system holds in, stories out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.desired import DesiredUser
from reconciler.keys import caseless
from reconciler.model import Action, Change, Plan
from reconciler.providers import title
from reconciler.wording import and_joined

#: How each action reads in a story.
_DONE: dict[Action, str] = {
    "create": "created",
    "update": "updated",
    "reactivate": "reactivated",
    "deactivate": "deactivated",
}


@dataclass(frozen=True, slots=True)
class Journey:
    """One person's changes across the systems of a run, as one sentence."""

    #: How the files or the first system's plan name the person (a login, an email).
    person: str
    #: The email that links the person's accounts (letter case as first seen).
    email: str
    story: str

    def who(self) -> str:
        """The person, with the email when that is not how they are named."""
        same = caseless(self.person) == caseless(self.email)
        return self.person if same else f"{self.person} ({self.email})"


def accounts(records: Iterable[dict[str, Any] | None]) -> dict[str, bool]:
    """Whether each email has an active account, from a system's records (None: absent)."""
    found: dict[str, bool] = {}
    for record in records:
        if record is None:
            continue
        email = record.get("email")
        if isinstance(email, str) and email:
            found[caseless(email)] = record.get("is_active") is not False
    return found


def _email(change: Change) -> str | None:
    record = change.before if change.before is not None else change.send
    email = record.get("email")
    return email if isinstance(email, str) and email else None


def _moves_access(change: Change) -> bool:
    """Whether the change gives or takes access (an update or an inactive create does not)."""
    if change.action == "update":
        return False
    made = change.fields.get("is_active")
    return not (change.action == "create" and made is not None and made.after is False)


def _grouped(parts: list[tuple[str, str]]) -> str:
    # Same verb, one phrase: "deactivated in A and B".
    # The order of first appearance is kept.
    order: list[str] = []
    where: dict[str, list[str]] = {}
    for verb, system in parts:
        if verb not in where:
            order.append(verb)
            where[verb] = []
        where[verb].append(system)
    return ", ".join(f"{verb} in {and_joined(where[verb])}" for verb in order)


def _story(acts: dict[str, Action], held: dict[str, bool]) -> str:
    """The sentence for one person: `acts` by system, `held` the accounts left alone."""
    done = [(_DONE[action], title(system)) for system, action in acts.items()]
    active = [title(s) for s, is_active in held.items() if is_active]
    inactive = [title(s) for s, is_active in held.items() if not is_active]
    kinds = set(acts.values())
    if kinds == {"deactivate"}:
        tail = [("stays active", s) for s in active] + [("already inactive", s) for s in inactive]
        head = "moves" if active else "leaves"
        return f"{head}: {_grouped(done + tail)}"
    if kinds <= {"create", "reactivate"}:
        if active:
            acted = and_joined([title(s) for s in acts])
            rest = f"; already inactive in {and_joined(inactive)}" if inactive else ""
            return f"in {and_joined(active)}, not in {acted}: {_grouped(done)}{rest}"
        head = "returns" if kinds == {"reactivate"} else "joins"
        return f"{head}: {_grouped(done + [('already inactive', s) for s in inactive])}"
    tail = [("no change", s) for s in active + inactive]
    return f"moves: {_grouped(done + tail)}"


def journeys(
    plans: list[Plan],
    people: Iterable[DesiredUser],
    held: Mapping[str, Mapping[str, bool]],
) -> list[Journey]:
    """The stories of a run that spans several systems (none for one system).

    `held` is, by system, each email's account and whether it is active
    (`accounts`), as read for the plans.
    """
    if len(plans) < 2:
        return []
    acts: dict[str, dict[str, Action]] = {}
    names: dict[str, tuple[str, str]] = {}  # by folded email: (person, email as shown)
    for user in people:
        email = user.fields.get("email")
        if isinstance(email, str) and email:
            names.setdefault(caseless(email), (user.login, email))
    for plan in plans:
        for change in plan.changes:
            email = _email(change)
            if email is not None and _moves_access(change):
                acts.setdefault(caseless(email), {})[plan.system] = change.action
                names.setdefault(caseless(email), (change.key, email))
    order = [plan.system for plan in plans]
    stories = []
    for email, by_system in acts.items():
        others = {
            system: held[system][email]
            for system in order
            if system not in by_system and email in held.get(system, {})
        }
        if len(by_system) + len(others) < 2:
            continue
        ordered = {system: by_system[system] for system in order if system in by_system}
        stories.append(Journey(*names[email], _story(ordered, others)))
    return sorted(stories, key=lambda j: (j.person.casefold(), j.person, j.email))
