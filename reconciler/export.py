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

from reconciler.diff import tenant_index
from reconciler.errors import ResponseError
from reconciler.providers import get
from reconciler.providers.dealhub.fields import STRING_FIELDS, USER_FIELDS, WRITE_ONLY_FIELDS
from reconciler.providers.pipedrive.rules import stated_access
from reconciler.schema import user_checker
from reconciler.textsafe import escape_char, invisible_chars, is_invisible, printable

#: Fields worth factoring into `defaults` when most users share a value.
FACTORED_FIELDS = ("company", "country", "state", "city")
DEFAULT_SCHEMA_REF = "../schemas/users.schema.json"
NAME_LIMIT = STRING_FIELDS["name"] or 300

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@/+()'-]*$")
_resolver = yaml.resolver.Resolver()
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Past ASCII (json.dumps escapes the controls below it): what a reader must see escaped.
_NOT_ASCII = re.compile("[^\x00-\x7e]")


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
    # A lone surrogate (a server's JSON can hold one) cannot be written in a UTF-8
    # file at all: it is kept as the text of its escape, as every output shows it.
    text = _SURROGATE.sub(lambda m: escape_char(m.group()), text)
    # JSON leaves these raw, but YAML refuses them in a file (DEL, C1 controls,
    # U+FFFE/FFFF) or folds them inside a double-quoted scalar (NEL, U+2028/2029);
    # an invisible character (a bidi override) is written as its YAML escape, so the
    # file reads as it is and loads back the same value.
    return _NOT_ASCII.sub(
        lambda m: (
            escape_char(m.group())
            if _NOT_YAML_PRINTABLE.match(m.group()) or is_invisible(m.group())
            else m.group()
        ),
        json.dumps(text, ensure_ascii=False),
    )


#: Fields that name an account: the loader refuses invisible characters in them.
_NAMING_FIELDS = ("login", "email", "user_manager_login")


def unholdable(entry: dict[str, Any]) -> str | None:
    """Why a people file cannot hold a person with these fields, or None.

    The loader's own checks (the schema's, and invisible characters where a
    value names an account): an export that writes such a person would not
    validate, so the export names them instead.
    """
    for error in user_checker().errors(entry):
        return printable(error.message)
    for name in _NAMING_FIELDS:
        value = entry.get(name)
        if isinstance(value, str) and invisible_chars(value):
            return f"{name} '{printable(value)}' holds invisible characters"
    return None


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
        f"# yaml-language-server: $schema={schema_ref}",
        "# Exported by `reconciler export --system pipedrive`"
        + (f" from {printable(source)}." if source else "."),
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
