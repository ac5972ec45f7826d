"""Export: the tenant's users as a desired-state file a team can commit on day one.

Planning the exported file against the same tenant shows no changes. The YAML
is written by hand (not yaml.dump) so 100,000 users export in about a second,
and every string that YAML could read as something else is quoted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import yaml

from reconciler.providers.dealhub.fields import USER_FIELDS, WRITE_ONLY_FIELDS

#: Fields worth factoring into `defaults` when most users share a value.
FACTORED_FIELDS = ("company", "country", "state", "city")
DEFAULT_SCHEMA_REF = "../schemas/users.schema.json"

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@/+()'-]*$")
_resolver = yaml.resolver.Resolver()
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as exactly `value`."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    text = str(value)
    if (
        _PLAIN.match(text)
        and not text.endswith(" ")
        and " #" not in text
        and ": " not in text
        and _resolver.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
        == "tag:yaml.org,2002:str"
    ):
        return text
    # JSON leaves these raw, but YAML refuses them in a file (DEL, C1 controls,
    # U+FFFE/FFFF) or folds them inside a double-quoted scalar (NEL, U+2028/2029).
    return _NOT_YAML_PRINTABLE.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False)
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
        f"# yaml-language-server: $schema={schema_ref}",
        f"# Exported by `reconciler export`{f' from {source}' if source else ''}.",
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


def export_pipedrive_yaml(
    company: list[dict[str, Any]], *, source: str = "", schema_ref: str = DEFAULT_SCHEMA_REF
) -> str:
    """A people file (`settings.systems: [pipedrive]`) for a Pipedrive company's users.

    Each person's login is their email (a Pipedrive company has no logins; change
    them when the file gains DealHub). Deleted users are left out, and access keeps
    the app and the admin flag only: a permission set is kept when the file names
    one, and an exported default set would pin every user to it.
    """
    users = sorted(
        (u for u in company if not u.get("is_deleted") and isinstance(u.get("email"), str)),
        key=lambda u: u["email"].lower(),
    )
    lines = [
        f"# yaml-language-server: $schema={schema_ref}",
        "# Exported by `reconciler export --system pipedrive`"
        + (f" from {source}." if source else "."),
        "# A person's login is their email here: a Pipedrive company has no logins.",
        "version: 1",
        "settings:",
        "  systems: [pipedrive]",
    ]
    if not users:
        lines.append("users: []")
        return "\n".join(lines) + "\n"
    lines.append("users:")
    for user in users:
        email = user["email"]
        lines.append(f"  - login: {scalar(email)}")
        lines.append(f"    email: {scalar(email)}")
        lines.append(f"    name: {scalar(user.get('name') or email)}")
        if user.get("active_flag") is False:
            lines.append("    is_active: false")
        access = []
        for item in user.get("access") or []:
            if isinstance(item, dict) and isinstance(item.get("app"), str):
                shown = f'{{"app": {json.dumps(item["app"])}'
                if item.get("admin") is True:
                    shown += ', "admin": true'
                access.append(shown + "}")
        if access:
            lines.append(f"    pipedrive: {{access: [{', '.join(access)}]}}")
    return "\n".join(lines) + "\n"
