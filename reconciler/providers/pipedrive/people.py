"""Pipedrive's checks of each person listed for it, when the files are loaded.

A person's email is their key there (compared by the system's key rule,
Capabilities.key_fold): two people with one email are an error naming both
places, and a protected email (`settings.pipedrive.protect`) cannot be set
inactive. A person's block (`pipedrive: {access: [...]}`) gives each app once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.desired import protected_problem
from reconciler.errors import Problem
from reconciler.keys import encoding_note
from reconciler.providers.pipedrive.rules import CAPABILITIES
from reconciler.yaml_source import Mapping, Sequence

if TYPE_CHECKING:
    from reconciler.desired import DesiredState, DesiredUser
    from reconciler.providers.base import PersonCheck


def person_check(state: DesiredState) -> PersonCheck:
    """The checks of one load (see base.PersonCheck)."""
    name, title = CAPABILITIES.name, CAPABILITIES.title
    settings = state.settings.for_system(name)
    # The key rule the plan, apply and saved plans follow: one rule, one place.
    key_fold = CAPABILITIES.key_fold
    by_email: dict[str, DesiredUser] = {}  # key_fold(email) -> first person listed

    def check(user: DesiredUser, problems: list[Problem]) -> None:
        email: str = user.fields["email"]
        first = by_email.setdefault(key_fold(email), user)
        if first is not user:
            problems.append(
                Problem(
                    user.file,
                    user.key_lines.get("email", user.line),
                    f"email {email!r} of {user.login} is listed twice for {title}: here and "
                    f"at {first.where('email')} ({first.login}); {title} keys users by email, "
                    "without regard to letter case" + encoding_note(email, first.fields["email"]),
                    "email",
                )
            )
        # No suffix: an environment's login suffix is never added to an email.
        protected = protected_problem(user, email, settings, name)
        if protected is not None:
            problems.append(protected)

    return check


def block_problems(file: str, block: Mapping) -> list[Problem]:
    """What the schema cannot say of a valid block: an app given twice (base.BlockCheck)."""
    access = block.get("access")
    if not isinstance(access, Sequence) or len(access) < 2:
        return []
    if len({item.get("app") for item in access}) == len(access):
        return []
    name = CAPABILITIES.name
    problems = []
    first: dict[Any, int] = {}  # app -> index of its first item
    for index, item in enumerate(access):
        app = item.get("app")
        earlier = first.setdefault(app, index)
        if earlier != index:
            problems.append(
                Problem(
                    file,
                    item.key_lines.get("app", access.item_lines[index]),
                    f"{name}.access[{index}]: app {app!r} is listed twice (also "
                    f"access[{earlier}], line {access.item_lines[earlier]}); give each app once",
                    name,
                )
            )
    return problems


if TYPE_CHECKING:
    from reconciler.providers.base import BlockCheck

    # mypy holds the hook to the loader's type.
    _block_check: BlockCheck = block_problems
