"""The people whose access changes in a run of several systems, each person once.

A reviewer of a multi-system plan asks "who gains or loses access, where?":
this module answers it from the plans, as rows of a table with one cell per
system. A person is found across systems by email, without regard to letter
case (the one field every system holds), as `journeys` does. People whose
only change is an update are left to their system's list of updates: the
table is about access.

People with the same cells are grouped in one row, leavers first, then
returners, then joiners: a plan of 5,000 people is a table of a few rows.

Pure: plans, the journeys and (when known) each system's accounts in, rows out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# The same rules as the journeys' (who is who across systems, what moves access).
from reconciler.journeys import Journey, _email, _moves_access
from reconciler.model import Action, Plan

#: How each action reads in a cell.
DONE: dict[Action, str] = {
    "create": "created",
    "update": "updated",
    "reactivate": "reactivated",
    "deactivate": "deactivated",
}
#: A cell of a system the person has no change in.
UNCHANGED = "unchanged"
UNCHANGED_INACTIVE = "unchanged, inactive"
NOT_THERE = "not there"
#: Neither the accounts nor the journeys say (a saved plan shown again).
UNKNOWN = "no change"

#: The cells of a change of access.
MOVED = frozenset({"created", "reactivated", "deactivated"})
#: Row order: whoever loses access first, then whoever regains it, then joiners.
LEAVER, RETURNER, JOINER = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Person:
    """One person as the table names them."""

    #: How the files or the first system's plan name them (a login, an email).
    name: str
    #: The email that links their accounts, when it is not evident from the name.
    email: str | None = None


@dataclass(slots=True)
class Row:
    """The people whose cells are the same: one row of the table."""

    #: One cell per system, in the plans' order.
    cells: tuple[str, ...]
    kind: int
    people: list[Person] = field(default_factory=list)


def _local(address: str) -> str:
    return address.partition("@")[0].casefold()


def people_rows(
    plans: list[Plan],
    journeys: list[Journey] | None,
    accounts: Mapping[str, Mapping[str, bool]] | None = None,
) -> list[Row]:
    """The rows of the people table of a multi-system run.

    `accounts` is, by system, each folded email's account and whether it is
    active (journeys.accounts): it tells "unchanged" from "not there". Without
    it, the journeys tell it for the people whose access moves (a journey is
    told exactly when the person has an account in a second system); without
    either, a cell with no change says only that.
    """
    acts: dict[str, dict[str, Action]] = {}
    names: dict[str, tuple[str, str]] = {}
    moving: set[str] = set()
    for journey in journeys or []:
        names.setdefault(journey.email.casefold(), (journey.person, journey.email))
    for plan in plans:
        for change in plan.changes:
            email = _email(change)
            person = email.casefold() if email else f"{plan.system}\0{change.key}"
            acts.setdefault(person, {})[plan.system] = change.action
            names.setdefault(person, (change.key, email or change.key))
            if _moves_access(change):
                moving.add(person)
    told = {journey.email.casefold() for journey in journeys or []}
    rows: dict[tuple[str, ...], Row] = {}
    for person in sorted(moving, key=lambda p: (names[p][0].casefold(), names[p][0], p)):
        by_system = acts[person]
        cells = []
        for plan in plans:
            action = by_system.get(plan.system)
            if action is not None:
                cells.append(DONE[action])
            elif accounts is not None and plan.system in accounts:
                active = accounts[plan.system].get(person)
                cells.append(
                    NOT_THERE if active is None else UNCHANGED if active else UNCHANGED_INACTIVE
                )
            elif journeys is not None:
                cells.append(UNCHANGED if person in told else NOT_THERE)
            else:
                cells.append(UNKNOWN)
        kinds = set(by_system.values())
        kind = LEAVER if "deactivate" in kinds else RETURNER if "reactivate" in kinds else JOINER
        name, email = names[person]
        shown_email = email if _local(email) != _local(name) else None
        row = rows.setdefault(tuple(cells), Row(tuple(cells), kind))
        row.kind = min(row.kind, kind)
        row.people.append(Person(name, shown_email))

    # Within a kind, whoever loses (or gains) access in the most systems first, then
    # the largest group: the common story, then the exceptions.
    def order(row: Row) -> tuple[int, int, int, tuple[str, ...]]:
        moved = sum(cell in MOVED for cell in row.cells)
        return (row.kind, -moved, -len(row.people), row.cells)

    return sorted(rows.values(), key=order)
