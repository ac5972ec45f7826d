"""Saved plans: untrusted input, bound to the files and checked against a fresh plan.

A saved plan travels as a CI artifact from the pull-request run to the merge
run, so anyone who can touch the artifact can edit it. `apply --plan` therefore
never sends anything taken from the file: it plans the files afresh against
the live tenant and goes ahead only when the fresh plan is the saved one, the
same users, actions, fields, `before` values and payloads. The saved plan only
decides *whether* to write; what is written is always the fresh plan.

Three kinds of refusal, so a reader knows what happened:

- the plan was altered: it contradicts itself (a payload that does not follow
  from `before` and `fields`, an `is_active` change hidden in an update);
- the plan was made for another target, environment or login suffix (checked
  before the token is sent anywhere);
- the plan does not match a fresh plan, because the tenant moved, the files
  are not the ones planned, or the plan was edited consistently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

from reconciler import providers
from reconciler.desired import DesiredState
from reconciler.diff import as_compared
from reconciler.errors import StalePlanError
from reconciler.plan import Change, Plan, to_json_data
from reconciler.providers.base import Provider

#: How many differing users a refusal names before it says "and N more".
MAX_SHOWN = 20

ALTERED = "the saved plan was altered"
MISMATCH = "the saved plan does not match a fresh plan of the files"


def desired_digest(desired: DesiredState) -> str:
    """A digest of what the files ask for: users, settings, environment and suffix.

    Taken over the parsed state, not the bytes, so a comment or a reordering of
    keys does not make a reviewed plan stale, while any change of meaning does.
    """
    canonical = {
        "users": {login: user.fields for login, user in desired.users.items()},
        "settings": dataclasses.asdict(desired.settings),
        "environment": desired.environment.name if desired.environment else None,
        "login_suffix": desired.login_suffix,
    }
    text = json.dumps(
        canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- the plan against itself -------------------------------------------------------


def _inconsistency(change: Change, provider: Provider) -> str | None:
    """Why a saved change contradicts itself, or None when it does not."""
    caps = provider.capabilities
    unknown = sorted(set(change.fields) - set(caps.compared))
    if unknown:
        return f"fields names {', '.join(unknown)}, which a plan never changes"
    if change.action == "create":
        for name, fc in change.fields.items():
            if fc.before is not None:
                return f"a create with a before value for {name}"
        wanted: dict[str, Any] = {name: fc.after for name, fc in change.fields.items()}
        current = None
    else:
        assert change.before is not None
        current = as_compared(change.before)
        for name, fc in change.fields.items():
            if fc.before != current.get(name):
                return (
                    f"fields.{name}.before is {fc.before!r}, "
                    f"but before.{name} is {current.get(name)!r}"
                )
        wanted = {name: fc.after for name, fc in change.fields.items()}
        was_active = current.get("is_active") is not False
        will_be_active = wanted.get("is_active", was_active) is not False
        expected_action = (
            "reactivate"
            if will_be_active and not was_active
            else "deactivate"
            if was_active and not will_be_active
            else "update"
        )
        if change.action != expected_action:
            return (
                f"its action is {change.action}, but its fields make it {expected_action}"
                " (an is_active change must be a reactivate or deactivate)"
            )
    for name in caps.write_only:
        if name in change.send:
            wanted[name] = change.send[name]
    expected = provider.payload(change.login, wanted, current, list(change.fields))
    if change.send != expected:
        names = sorted(
            name
            for name in set(change.send) | set(expected)
            if change.send.get(name, ...) != expected.get(name, ...)
        )
        return f"its payload does not follow from before and fields ({', '.join(names)})"
    return None


def check_consistent(saved: Plan) -> None:
    """Refuse a saved plan that contradicts itself: someone edited it by hand."""
    provider = providers.get(saved.system)
    problems = []
    for change in saved.changes:
        reason = _inconsistency(change, provider)
        if reason:
            problems.append(f"{change.login} ({change.action}): {reason}")
    if problems:
        raise StalePlanError(
            f"{ALTERED}; nothing was written. Make a new plan from the reviewed files.",
            details=_capped(problems),
        )


# -- the plan against where it is applied ------------------------------------------


def check_target(saved: Plan, target: str, desired: DesiredState) -> None:
    """Refuse, before the token is sent anywhere, a plan made for another target."""
    environment = desired.environment.name if desired.environment else None
    wrong = []
    if saved.target != target:
        wrong.append(f"it targets {saved.target}, not {target}")
    if saved.environment != environment:
        wrong.append(
            f"it was made for environment {saved.environment or '(none)'}, "
            f"not {environment or '(none)'}"
        )
    if saved.login_suffix != desired.login_suffix:
        wrong.append(
            f"it was made with login suffix {saved.login_suffix!r}, not {desired.login_suffix!r}"
        )
    if wrong:
        raise StalePlanError(
            f"{MISMATCH}: {'; '.join(wrong)}. Nothing was sent; choose the same target "
            "(--api-url or --env) as the plan, or make a new plan."
        )


# -- the plan against a fresh plan -------------------------------------------------


def _changes_by_login(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {change["login"]: change for change in data["changes"]}


def _differing(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k, ...) != b.get(k, ...))


def _why(login: str, saved_change: dict[str, Any] | None, tenant: dict[str, Any] | None) -> str:
    """Whether the tenant moved under this user since the plan was made."""
    if saved_change is None:
        return ""
    before = saved_change.get("before")
    if before is None:
        return "it exists in the tenant now" if tenant is not None else ""
    if tenant is None:
        return "it is no longer in the tenant"
    moved = _differing(before, tenant)
    return f"the tenant changed since the plan ({', '.join(moved)})" if moved else ""


def _user_difference(
    login: str,
    saved: dict[str, Any] | None,
    fresh: dict[str, Any] | None,
    tenant: dict[str, Any] | None,
) -> str | None:
    if saved == fresh:
        return None
    if saved is None:
        assert fresh is not None
        what = f"a fresh plan would {fresh['action']} it"
        if fresh["fields"]:
            what += f" ({', '.join(sorted(fresh['fields']))})"
        return f"{login}: {what}; the saved plan does not"
    if fresh is None:
        what = f"the saved plan would {saved['action']} it; a fresh plan leaves it unchanged"
    else:
        parts = []
        if saved["action"] != fresh["action"]:
            parts.append(f"action {saved['action']} -> {fresh['action']}")
        for key in ("fields", "before", "send"):
            names = _differing(saved.get(key) or {}, fresh.get(key) or {})
            if names:
                parts.append(f"{key}: {', '.join(names)}")
        what = "; ".join(parts) or "differs"
    why = _why(login, saved, tenant)
    return f"{login}: {what}" + (f" ({why})" if why else "")


#: Compared on their own, with messages of their own; `cost` holds the budget left at
#: planning, which the vendor's other clients spend in the meantime.
_CHECKED_APART = frozenset({"changes", "desired_digest", "cost"})


def differences(
    saved: dict[str, Any], fresh: dict[str, Any], tenant: list[dict[str, Any]]
) -> list[str]:
    """Every way a saved plan (JSON data) differs from a fresh one, for a person to read.

    Empty when they are the same plan. `tenant` is the fresh read, to tell a
    tenant that moved from a plan that was edited.
    """
    provider = providers.get(fresh.get("system", "dealhub"))
    caps = provider.capabilities
    fold: Callable[[str], str] = str.lower if caps.key_ignores_case else str
    by_key: dict[str, dict[str, Any]] = {}
    for raw in tenant:
        view = provider.tenant_view(raw)
        if view is not None and isinstance(view.get(caps.key), str):
            by_key[fold(view[caps.key])] = view
    saved_changes, fresh_changes = _changes_by_login(saved), _changes_by_login(fresh)
    found: list[str] = []
    for login in sorted(set(saved_changes) | set(fresh_changes)):
        difference = _user_difference(
            login, saved_changes.get(login), fresh_changes.get(login), by_key.get(fold(login))
        )
        if difference:
            found.append(difference)
    if [c["login"] for c in saved["changes"]] != [c["login"] for c in fresh["changes"]] and (
        set(saved_changes) == set(fresh_changes)
    ):
        found.append("the changes are in another order than a fresh plan puts them")
    # Everything else too, keys a fresh plan does not have included: a reviewer saw
    # the summary, the warnings and the guards, and apply must not differ from them.
    for key in sorted((set(saved) | set(fresh)) - _CHECKED_APART):
        if saved.get(key, ...) != fresh.get(key, ...):
            found.append(f"{key}: saved {_short(saved.get(key))}, fresh {_short(fresh.get(key))}")
    return found


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def verify(
    saved: dict[str, Any], fresh: Plan, tenant: list[dict[str, Any]], *, files_digest: str
) -> None:
    """Raise StalePlanError unless the fresh plan is exactly the saved one."""
    fresh.desired_digest = files_digest
    found = differences(saved, to_json_data(fresh), tenant)
    if saved.get("desired_digest") != files_digest:
        found.insert(
            0,
            "the files are not the ones planned (their digest differs: a later change "
            "merged, or other files were given)",
        )
    if found:
        raise StalePlanError(
            f"{MISMATCH} against {fresh.target}; nothing was written. "
            "Review a new plan (reconciler plan ... --out PLAN.json).",
            details=_capped(found),
        )


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_SHOWN:
        return lines
    return [*lines[:MAX_SHOWN], f"... and {len(lines) - MAX_SHOWN} more"]
