"""DealHub's checks of each person listed for it, when the files are loaded.

A person is their login there: `settings.require_external_id` asks every one of
them for the external id the vendor's v2 schema requires, and a protected login
(settings.protect, or the block's own) cannot be set inactive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.desired import protected_problem
from reconciler.errors import Problem
from reconciler.providers.dealhub.provider import CAPABILITIES

if TYPE_CHECKING:
    from reconciler.desired import DesiredState, DesiredUser
    from reconciler.providers.base import PersonCheck


def person_check(state: DesiredState) -> PersonCheck | None:
    """The checks of one load (see base.PersonCheck); None when the settings ask none."""
    require_external_id = state.settings.require_external_id
    name = CAPABILITIES.name
    settings = state.settings.for_system(name)
    suffix = state.login_suffix
    if not require_external_id and not settings.protect:
        return None  # nothing to ask of anyone: 100,000 people need no call each

    def check(user: DesiredUser, problems: list[Problem]) -> None:
        if require_external_id and not user.fields.get("external_user_id"):
            problems.append(
                Problem(
                    user.file,
                    user.line,
                    f"{user.login} has no external_user_id (settings.require_external_id); "
                    "the vendor's v2 schema requires it",
                    "external_user_id",
                )
            )
        protected = protected_problem(user, user.login, settings, name, suffix)
        if protected is not None:
            problems.append(protected)

    return check
