"""The diff: a pure function from (desired state, tenant users, settings) to a plan.

Values are compared as the API stores them: absent, null and "" are the same
(the API leaves empty fields out of its answers) and an email is compared
without regard to letter case. Without that, an applied plan would keep
showing differences the API cannot represent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.desired import DesiredState, DesiredUser
from reconciler.errors import InputError, Problem
from reconciler.plan import ACTIONS, Action, Change, FieldChange, Plan, PlanWarning
from reconciler.providers.dealhub.fields import STRING_FIELDS, WRITE_ONLY_FIELDS
from reconciler.settings import DEFAULT_TOKEN_ENV

#: Always in a write: the v2 endpoint lists them as required.
IDENTITY_FIELDS = ("login", "email", "name", "is_active")


def _empty(value: Any) -> bool:
    return value is None or value == ""


def normalise(name: str, value: Any) -> Any:
    """A field's value as the API would hold it: "" and None are both None."""
    if value is None or value == "":
        return None
    if name == "email" and isinstance(value, str):
        return value.lower()
    return value


def _field_changes(wanted: dict[str, Any], current: dict[str, Any]) -> dict[str, FieldChange]:
    changes: dict[str, FieldChange] = {}
    for name, value in wanted.items():
        if name in WRITE_ONLY_FIELDS:
            continue
        before = current.get(name)
        if value == before:
            continue  # the common case: equal as written, no normalising needed
        if normalise(name, value) != normalise(name, before):
            changes[name] = FieldChange(before=before, after=value)
    return changes


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
            if not _empty(value):
                send[name] = value
        return send
    for name in IDENTITY_FIELDS[1:]:
        value = current.get(name)
        if not _empty(value):
            send[name] = value
    for name in WRITE_ONLY_FIELDS:
        if name in wanted:
            # Never compared (the API does not return it): sent with every write,
            # and `null` in the file clears it.
            send[name] = "" if _empty(wanted[name]) else wanted[name]
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
    missing = [name for name in ("email", "name") if _empty(send.get(name))]
    if missing:
        return (
            f"the tenant has no {' or '.join(missing)} for it, which PUT /api/v2/users "
            "requires: list it in the files with its email and name"
        )
    return None


def _action(current: dict[str, Any] | None, wanted_active: bool, changed: bool) -> Action | None:
    if current is None:
        return "create"
    was_active = current.get("is_active") is not False
    if wanted_active and not was_active:
        return "reactivate"
    if was_active and not wanted_active:
        return "deactivate"
    return "update" if changed else None


def tenant_view(user: dict[str, Any]) -> dict[str, Any]:
    """A tenant user as compared: a user the API shows without is_active is active."""
    if user.get("is_active") is not None:
        return user
    return {**user, "is_active": True}


def check_protected(desired: DesiredState) -> None:
    """A protected login set `is_active: false` is an error: it is never deactivated."""
    problems = [
        Problem(
            user.file,
            user.key_lines.get("is_active", user.line),
            f"{user.login} is protected (settings.protect) and cannot be set is_active: false",
            "is_active",
        )
        for user in desired.users.values()
        if user.fields.get("is_active") is False
        and desired.settings.is_protected(user.login, desired.login_suffix)
    ]
    if problems:
        raise InputError(problems)


def check_managers(desired: DesiredState, tenant_logins: set[str]) -> None:
    """A manager must exist in the files or the tenant: the API rejects the user otherwise."""
    problems = []
    for user in desired.users.values():
        manager = user.fields.get("user_manager_login")
        if manager and manager not in desired.users and manager not in tenant_logins:
            problems.append(
                Problem(
                    user.file,
                    user.key_lines.get("user_manager_login", user.line),
                    f"{user.login}: manager {manager!r} is neither in the files nor in the "
                    "tenant (the API would reject this user)",
                    "user_manager_login",
                )
            )
    if problems:
        raise InputError(problems)


def compute_plan(
    desired: DesiredState,
    tenant: list[dict[str, Any]],
    *,
    target: str,
) -> Plan:
    """Compare the desired state with the tenant's users and return the plan.

    Pure: reads its arguments, touches nothing. Raises InputError for a manager
    that names no user in the files or the tenant, and for a protected login
    that the files set inactive.
    """
    settings = desired.settings
    suffix = desired.login_suffix
    by_login = {
        user["login"]: tenant_view(user) for user in tenant if isinstance(user.get("login"), str)
    }
    # `before` is the user exactly as the tenant returned it (apply --plan compares
    # it with a fresh read), copied so that later changes to `tenant` do not leak in.
    raw_by_login = {
        user["login"]: dict(user) for user in tenant if isinstance(user.get("login"), str)
    }
    check_protected(desired)
    check_managers(desired, set(by_login))

    changes: list[Change] = []
    unchanged = 0
    for login, user in desired.users.items():
        current = by_login.get(login)
        wanted = user.fields
        field_changes = _field_changes(wanted, current or {})
        if current is None:
            field_changes = {
                name: FieldChange(None, value)
                for name, value in wanted.items()
                if name not in WRITE_ONLY_FIELDS and not _empty(value)
            }
        action = _action(current, wanted.get("is_active") is not False, bool(field_changes))
        if action is None:
            unchanged += 1
            continue
        send = expected_payload(login, wanted, current, field_changes)
        changes.append(
            Change(
                action=action,
                login=login,
                fields=field_changes,
                before=raw_by_login.get(login),
                send=send,
                blocked=unwritable(send),
            )
        )

    for login, current in by_login.items():
        if login in desired.users:
            continue
        if (
            settings.unlisted == "deactivate"
            and current.get("is_active") is not False
            and not settings.is_protected(login, suffix)
        ):
            send = expected_payload(login, {"is_active": False}, current, ["is_active"])
            changes.append(
                Change(
                    action="deactivate",
                    login=login,
                    fields={"is_active": FieldChange(current["is_active"], False)},
                    before=raw_by_login[login],
                    send=send,
                    blocked=unwritable(send),
                )
            )
        else:
            unchanged += 1

    order = {action: i for i, action in enumerate(ACTIONS)}
    changes.sort(key=lambda c: (order[c.action], c.login))
    active = sum(1 for user in by_login.values() if user.get("is_active") is not False)
    return Plan(
        target=target,
        changes=changes,
        unchanged=unchanged,
        warnings=_warnings(desired.users, by_login, changes),
        environment=desired.environment.name if desired.environment else None,
        token_env=desired.environment.token_env if desired.environment else DEFAULT_TOKEN_ENV,
        active_users=active,
        desired_users=len(desired.users),
        login_suffix=suffix,
    )


def _warnings(
    desired: dict[str, DesiredUser],
    tenant: dict[str, dict[str, Any]],
    changes: list[Change],
) -> list[PlanWarning]:
    warnings: list[PlanWarning] = []
    deactivated = {c.login: c for c in changes if c.action == "deactivate"}

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
            warnings.append(
                PlanWarning(
                    change.login,
                    f"login cannot change: {old} is deactivated and {change.login} created "
                    "(same email); if this is the same person, keep the old login",
                )
            )

    by_folded: dict[str, set[str]] = {}
    for login in (*desired, *tenant):
        by_folded.setdefault(login.lower(), set()).add(login)
    for twins in by_folded.values():
        if len(twins) > 1:
            names = sorted(twins)
            warnings.append(
                PlanWarning(
                    names[0],
                    "logins differ only in letter case: " + ", ".join(names),
                )
            )

    if deactivated:
        for login, manager, active in _users_after(desired, tenant):
            if active and manager in deactivated and login not in deactivated:
                warnings.append(
                    PlanWarning(
                        login,
                        f"{login} stays active but their manager {manager} is deactivated",
                    )
                )
    warnings.sort(key=lambda w: (w.login, w.message))
    return warnings


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
