"""Pipedrive's export: the company's users as a people file, and adoption (`--merge`).

`export --system pipedrive` writes a file that manages Pipedrive alone;
`export --system pipedrive --merge PEOPLE.yaml` merges the company into a
team's file instead (reconciler.providers.pipedrive.adopt).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from reconciler.diff import tenant_index
from reconciler.errors import ResponseError
from reconciler.export import DEFAULT_SCHEMA_REF, header, scalar, unholdable
from reconciler.providers import get
from reconciler.providers.pipedrive.rules import stated_access
from reconciler.schema import user_checker

if TYPE_CHECKING:
    from reconciler.desired import DesiredState

#: The longest name a people file holds (the schema's maxLength): the API cannot set
#: a name, so one cut here is only a note in the plan.
NAME_LIMIT = 300

#: The command options it takes (reconciler.export.check_options).
OPTIONS: tuple[str, ...] = ()


def export(
    tenant: list[dict[str, Any]], *, source: str, schema_ref: str, options: Mapping[str, str]
) -> str:
    """The export hook (reconciler.export.Exporter): takes no option."""
    return export_pipedrive_yaml(tenant, source=source, schema_ref=schema_ref)


def merge(
    text: str, state: DesiredState, read: Callable[[], list[dict[str, Any]]], *, file: str
) -> tuple[str, list[str]]:
    """The merge hook (reconciler.export.Merger): adopt the company into `file`."""
    from reconciler.providers.pipedrive import adopt  # it imports this module

    adopt.check_mergeable(state, file)
    merged = adopt.merge_people(text, state, read(), file=file)
    return merged.text, adopt.report_lines(merged, file)


def access_text(access: list[dict[str, Any]]) -> str:
    """A person's `pipedrive:` key for access as rules.stated_access gives it."""
    shown = ", ".join(
        "{app: " + scalar(item["app"]) + (", admin: true" if item.get("admin") else "") + "}"
        for item in access
    )
    return "pipedrive: {access: [" + shown + "]}"


def export_pipedrive_yaml(
    company: list[dict[str, Any]], *, source: str = "", schema_ref: str = DEFAULT_SCHEMA_REF
) -> str:
    """A people file (`settings.systems: [pipedrive]`) for a Pipedrive company's users.

    Each person's login is their email (a Pipedrive company has no logins; change
    them when the file gains DealHub), or `pipedrive-ID` where an email cannot be a
    login. Deleted users are left out. Access keeps what a file can state
    (rules.stated_access): an app no file can hold, or given twice, is left out and
    the plan shows the difference as a note (access cannot change after creation).

    What it writes validates and plans to no change against the company it was
    read from; a user no people file can hold (an email that is not one) is a
    ResponseError naming them, and nothing is written.
    """
    try:
        views = tenant_index(get("pipedrive"), company)
    except ValueError as exc:
        raise ResponseError(f"the Pipedrive company cannot be exported: {exc}") from None
    checks = user_checker().checks
    users = sorted(views.items())
    lines = [
        *header(schema_ref, "reconciler export --system pipedrive", source),
        "# A person's login is their email here: a Pipedrive company has no logins.",
        "version: 1",
        "settings:",
        "  systems: [pipedrive]",
    ]
    if not users:
        lines.append("users: []")
        return "\n".join(lines) + "\n"
    lines.append("users:")
    for _, user in users:
        email: str = user["email"]
        login = email if checks["login"](email) is None else f"pipedrive-{user['id']}"
        # The API cannot set a name: one cut here is only a note in the plan.
        name = (user["name"] or email)[:NAME_LIMIT]
        problem = unholdable({"login": login, "email": email, "name": name})
        if problem is not None:
            raise ResponseError(
                f"Pipedrive user {user['id']} cannot be written in a people file: "
                f"{problem}; nothing was written"
            )
        lines.append(f"  - login: {scalar(login)}")
        lines.append(f"    email: {scalar(email)}")
        lines.append(f"    name: {scalar(name)}")
        if user["is_active"] is False:
            lines.append("    is_active: false")
        access = stated_access(user["access"])
        if access:
            lines.append(f"    {access_text(access)}")
    return "\n".join(lines) + "\n"
