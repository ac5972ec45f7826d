"""People for the loader's checks, as plain data: a person with lines, the files of them,
and what a system's person check finds."""

from __future__ import annotations

from reconciler.desired import DesiredState, DesiredUser
from reconciler.errors import Problem
from reconciler.providers.base import PersonCheck
from reconciler.settings import Settings


def person(login: str, email: str, line: int, **fields: object) -> DesiredUser:
    """A person of people.yaml at `line` (their email on the same line)."""
    return DesiredUser(
        login, {"email": email, "name": "N", **fields}, "people.yaml", line, {"email": line}
    )


def files_of(*people: DesiredUser, settings: Settings) -> DesiredState:
    return DesiredState({p.login: p for p in people}, settings, ["people.yaml"])


def found_by(check: PersonCheck | None, *people: DesiredUser) -> list[str]:
    """The messages `check` finds in `people`, asked in that order."""
    assert check is not None
    problems: list[Problem] = []
    for one in people:
        check(one, problems)
    return [problem.message for problem in problems]
