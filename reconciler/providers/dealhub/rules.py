"""DealHub's rules: how a user is compared, what a write carries, what v2 refuses.

Values are compared as the API stores them: absent, null and "" are the same
(the API leaves empty fields out of its answers) and an email is compared
without regard to letter case. Without that, an applied plan would keep
showing differences the API cannot represent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.desired import DesiredUser
from reconciler.errors import Problem
from reconciler.keys import caseless
from reconciler.model import Change, PlanWarning
from reconciler.providers.dealhub.fields import STRING_FIELDS, WRITE_ONLY_FIELDS

#: Always in a write: the v2 endpoint lists them as required.
IDENTITY_FIELDS = ("login", "email", "name", "is_active")


def empty(value: Any) -> bool:
    return value is None or value == ""


def normalise(name: str, value: Any) -> Any:
    """A field's value as the API would hold it: "" and None are both None."""
    if value is None or value == "":
        return None
    if name == "email" and isinstance(value, str):
        return caseless(value)  # emails: letter case and Unicode encoding aside
    return value


def tenant_view(user: dict[str, Any]) -> dict[str, Any]:
    """A tenant user as compared: a user the API shows without is_active is active."""
    if user.get("is_active") is not None:
        return user
    return {**user, "is_active": True}


def expected_payload(
    login: str,
    wanted: dict[str, Any],
    current: dict[str, Any] | None,
    changed: Iterable[str],
) -> dict[str, Any]:
    """The object apply sends for a user: identity fields, the write-only id, the changes.

    `current` is the tenant's user as compared (see tenant_view), None for a create.
    """
    send: dict[str, Any] = {"login": login}
    if current is None:
        # A create carries every managed field that has a value: there is nothing
        # to clear yet.
        for name, value in wanted.items():
            if not empty(value):
                send[name] = value
        return send
    for name in IDENTITY_FIELDS[1:]:
        value = current.get(name)
        if not empty(value):
            send[name] = value
    for name in WRITE_ONLY_FIELDS:
        if name in wanted:
            # Never compared (the API does not return it): sent with every write,
            # and `null` in the file clears it.
            send[name] = "" if empty(wanted[name]) else wanted[name]
    for name in changed:
        value = wanted[name]
        send[name] = "" if value is None else value
    return send


def unwritable(send: dict[str, Any]) -> str | None:
    """Why `PUT /api/v2/users` cannot take this payload, or None when it can.

    Only users read from the tenant can be unwritable (the files are checked
    against the v2 limits): a login longer than v2 allows (v1 reads allow 100),
    or a user the tenant returns without an email or a name, both required.
    """
    login_limit = STRING_FIELDS["login"] or 0
    if len(send["login"]) > login_limit:
        return (
            f"its login has {len(send['login'])} characters and PUT /api/v2/users takes at "
            f"most {login_limit}: change it in the DealHub UI"
        )
    missing = [name for name in ("email", "name") if empty(send.get(name))]
    if missing:
        return (
            f"the tenant has no {' or '.join(missing)} for it, which PUT /api/v2/users "
            "requires: list it in the files with its email and name"
        )
    return None


def manager_problems(
    records: dict[str, DesiredUser], tenant_logins: Iterable[str]
) -> list[Problem]:
    """A manager must be listed for DealHub or be in the tenant: the API rejects the user
    otherwise (a person listed only for another system is no DealHub user)."""
    known = set(tenant_logins)
    problems = []
    for user in records.values():
        manager = user.fields.get("user_manager_login")
        if manager and manager not in records and manager not in known:
            problems.append(
                Problem(
                    user.file,
                    user.key_lines.get("user_manager_login", user.line),
                    f"{user.login}: manager {manager!r} is neither listed for DealHub in the "
                    "files nor in the tenant (the API would reject this user)",
                    "user_manager_login",
                )
            )
    return problems


def look_alike_key(login: str) -> str:
    """Logins a reader cannot tell apart share this key: letter case and Unicode encoding
    aside (keys.caseless, the rule Pipedrive keys emails by)."""
    return caseless(login)


def warnings(
    desired: dict[str, DesiredUser],
    tenant: dict[str, dict[str, Any]],
    changes: list[Change],
) -> list[PlanWarning]:
    """Logins that cannot change, look-alike logins, managers being deactivated."""
    found: list[PlanWarning] = []
    deactivated = {c.key: c for c in changes if c.action == "deactivate"}

    by_email = {}
    for login, change in deactivated.items():
        email = normalise("email", (change.before or {}).get("email"))
        if email:
            by_email[email] = login
    for change in changes:
        if change.action != "create":
            continue
        old = by_email.get(normalise("email", change.send.get("email")))
        if old:
            found.append(
                PlanWarning(
                    change.key,
                    f"login cannot change: {old} is deactivated and {change.key} created "
                    "(same email); if this is the same person, keep the old login",
                )
            )

    by_folded: dict[str, set[str]] = {}
    for login in (*desired, *tenant):
        by_folded.setdefault(look_alike_key(login), set()).add(login)
    for twins in by_folded.values():
        if len(twins) > 1:
            names = sorted(twins)
            if len({name.lower() for name in names}) == 1:
                message = "logins differ only in letter case: " + ", ".join(names)
            else:
                # Shown escaped by every renderer: the difference is invisible otherwise.
                message = (
                    "logins look identical but differ in their Unicode encoding: "
                    + ", ".join(ascii(name)[1:-1] for name in names)
                )
            found.append(PlanWarning(names[0], message))

    if deactivated:
        for login, manager, active in _users_after(desired, tenant):
            if active and manager in deactivated and login not in deactivated:
                found.append(
                    PlanWarning(
                        login,
                        f"{login} stays active but their manager {manager} is deactivated",
                    )
                )
    return found


def _users_after(
    desired: dict[str, DesiredUser], tenant: dict[str, dict[str, Any]]
) -> Iterable[tuple[str, str | None, bool]]:
    """(login, manager, active) of every user as the tenant will be after the plan."""
    for login, user in desired.items():
        manager = user.fields.get(
            "user_manager_login", tenant.get(login, {}).get("user_manager_login")
        )
        yield login, manager, user.fields.get("is_active") is not False
    for login, current in tenant.items():
        if login not in desired:
            yield login, current.get("user_manager_login"), current.get("is_active") is not False
