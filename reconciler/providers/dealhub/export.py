"""DealHub's export: the tenant's users as a people file (`reconciler export`).

The file manages DealHub alone (the default system) and plans to no change
against the tenant it was read from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from reconciler.errors import ResponseError
from reconciler.export import DEFAULT_SCHEMA_REF, header, scalar, unholdable
from reconciler.providers.dealhub.fields import USER_FIELDS, WRITE_ONLY_FIELDS
from reconciler.textsafe import printable

#: Fields worth factoring into `defaults` when most users share a value.
FACTORED_FIELDS = ("company", "country", "state", "city")

#: The command options it takes (reconciler.export.check_options).
OPTIONS: tuple[str, ...] = ("login_suffix",)


def export(
    tenant: list[dict[str, Any]], *, source: str, schema_ref: str, options: Mapping[str, str]
) -> str:
    """The export hook (reconciler.export.Exporter): takes `login_suffix`."""
    return export_yaml(
        tenant, login_suffix=options.get("login_suffix", ""), source=source, schema_ref=schema_ref
    )


def _strip_suffix(value: str, suffix: str) -> str:
    return value[: -len(suffix)] if suffix and value.endswith(suffix) else value


def choose_defaults(users: list[dict[str, Any]]) -> dict[str, Any]:
    """The shared values that make the file shorter when moved into `defaults`.

    A user without the field then needs `field: null`, and one with another
    value keeps its own, so a value is factored only when that saves lines.
    """
    chosen: dict[str, Any] = {}
    for name in FACTORED_FIELDS:
        counts = Counter(u[name] for u in users if u.get(name) not in (None, ""))
        if not counts:
            continue
        value, common = counts.most_common(1)[0]
        missing = sum(1 for u in users if u.get(name) in (None, ""))
        if common - 1 - missing > 0:
            chosen[name] = value
    return chosen


def export_yaml(
    tenant: list[dict[str, Any]],
    *,
    login_suffix: str = "",
    source: str = "",
    schema_ref: str = DEFAULT_SCHEMA_REF,
) -> str:
    """The desired-state YAML for a tenant's users (see the module docstring)."""
    users = sorted((u for u in tenant if isinstance(u.get("login"), str)), key=lambda u: u["login"])
    defaults = choose_defaults(users)
    fields = [f for f in USER_FIELDS if f not in WRITE_ONLY_FIELDS and f != "is_active"]
    lines = [
        *header(schema_ref, "reconciler export", source),
        "# The API does not return external_user_id: add it where your CRM has one.",
        "version: 1",
    ]
    if defaults:
        lines.append("defaults:")
        lines += [f"  {name}: {scalar(value)}" for name, value in defaults.items()]
    if not users:
        lines.append("users: []")
        return "\n".join(lines) + "\n"
    lines.append("users:")
    for user in users:
        entry = {
            name: _strip_suffix(user[name], login_suffix)
            if name in ("login", "user_manager_login") and isinstance(user[name], str)
            else user[name]
            for name in fields
            if user.get(name) not in (None, "")
        }
        problem = unholdable(entry)
        if problem is not None:
            raise ResponseError(
                f"DealHub user '{printable(user['login'])}' cannot be written in a people "
                f"file: {problem}; nothing was written"
            )
        first = True
        for name in fields:
            value = user.get(name)
            if value in (None, ""):
                if name not in defaults:
                    continue
                value = None
            elif name in defaults and value == defaults[name]:
                continue
            if name in ("login", "user_manager_login") and isinstance(value, str):
                value = _strip_suffix(value, login_suffix)
            lines.append(f"{'  - ' if first else '    '}{name}: {scalar(value)}")
            first = False
        if user.get("is_active") is False:
            lines.append("    is_active: false")
    return "\n".join(lines) + "\n"
