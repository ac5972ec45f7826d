"""The diff: a pure function from (desired state, one system's users, its rules) to a plan.

Generic over systems: the provider says how people become records, how a read
entry is compared, what a write carries and what its API cannot change. A
difference the API cannot write is a note, never a change; a user the API
cannot take is named with the reason (`blocked`) and never sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from reconciler.desired import DesiredState, DesiredUser, protected_problem
from reconciler.errors import InputError, ResponseError
from reconciler.keys import (
    look_alike_message,
    look_alikes,
    protect_look_alike_message,
    protect_look_alikes,
)
from reconciler.model import ACTIONS, Action, Change, FieldChange, Plan, PlanNote, PlanWarning
from reconciler.providers.base import new_open_values
from reconciler.settings import SystemSettings

if TYPE_CHECKING:
    from reconciler.providers.base import Provider


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _default_provider() -> Provider:
    from reconciler import providers

    return providers.get(providers.DEFAULT)


def as_compared(view: dict[str, Any]) -> dict[str, Any]:
    """A saved user as compared: one shown without an active flag is active."""
    return view if view.get("is_active") is not None else {**view, "is_active": True}


def tenant_index(provider: Provider, tenant: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A system's live users as saved in plans, by the fold of their key (key_fold).

    Two users whose keys fold alike are one key to the system's rule: no plan
    can tell which one a person means, so the read is refused rather than one
    of them silently dropped.
    """
    caps = provider.capabilities
    index: dict[str, dict[str, Any]] = {}
    for raw in tenant:
        view = provider.tenant_view(raw)
        if view is None or not isinstance(view.get(caps.key), str):
            continue
        folded = caps.key_fold(view[caps.key])
        other = index.setdefault(folded, view)
        if other is not view:
            raise ResponseError(
                f"{caps.title} has two users that are one {caps.key} to reconciler, "
                f"{other[caps.key]!a} and {view[caps.key]!a}"
                + (" (letter case and Unicode encoding aside)" if caps.key_ignores_case else "")
                + ": change one of them in the system first"
            )
    return index


def open_set_warnings(provider: Provider, records: dict[str, DesiredUser]) -> list[PlanWarning]:
    """One warning per value of the system's open sets that this release does not know."""
    caps = provider.capabilities
    if not caps.open_sets:
        return []
    people = ((key, user.blocks.get(caps.name)) for key, user in records.items())
    return [
        PlanWarning(who[0], values.new_value_warning(value, len(who)))
        for values, value, who in new_open_values(caps, people)
    ]


def look_alike_warnings(
    provider: Provider,
    records: dict[str, DesiredUser],
    saved: dict[str, dict[str, Any]],
    settings: SystemSettings,
    suffix: str,
) -> list[PlanWarning]:
    """Listed keys a reviewer may take for another listed or tenant key, or for a
    protected one (UTS #39 skeletons, keys.look_alikes)."""
    caps = provider.capabilities
    tenant_keys = [view[caps.key] for view in saved.values()]
    warnings = [
        PlanWarning(key, look_alike_message(caps.title, key, other))
        for key, other in look_alikes(records, among=tenant_keys)
    ]
    warnings += [
        PlanWarning(key, protect_look_alike_message(caps.title, key, glob))
        for key, glob in protect_look_alikes(
            records, settings.protect, partial(settings.is_protected, suffix=suffix)
        )
    ]
    return warnings


def _active(record: dict[str, Any]) -> bool:
    # A user the API shows without an active flag is active.
    return record.get("is_active") is not False


def check_protected(
    records: dict[str, DesiredUser], settings: SystemSettings, suffix: str, system: str
) -> None:
    """A protected key set `is_active: false` is an error: it is never deactivated
    (desired.protected_problem, the loader's own rule)."""
    problems = [
        problem
        for key, user in records.items()
        if (problem := protected_problem(user, key, settings, system, suffix)) is not None
    ]
    if problems:
        raise InputError(problems)


def _action(current: dict[str, Any] | None, wanted_active: bool, changed: bool) -> Action | None:
    if current is None:
        return "create"
    was_active = _active(current)
    if wanted_active and not was_active:
        return "reactivate"
    if was_active and not wanted_active:
        return "deactivate"
    return "update" if changed else None


def compute_plan(
    desired: DesiredState,
    tenant: list[dict[str, Any]],
    *,
    target: str,
    provider: Provider | None = None,
    index: dict[str, dict[str, Any]] | None = None,
) -> Plan:
    """Compare the desired state with one system's users and return the plan.

    `index` is `tenant_index(provider, tenant)` when the caller has it already: a
    read is viewed and indexed once. Pure: reads its arguments, touches nothing.
    Raises InputError for what the provider finds wrong against the tenant (a
    manager that names no one, say) and for a protected key the files set inactive.
    """
    provider = provider or _default_provider()
    caps = provider.capabilities
    settings = desired.settings.for_system(caps.name)
    suffix = desired.login_suffix
    fold = caps.key_fold
    records = provider.project(desired)

    # `before` is the user as the provider saves it (apply --plan compares it with a
    # fresh read); compared, a user shown without an active flag is active.
    saved = tenant_index(provider, tenant) if index is None else index
    compared = {key: as_compared(view) for key, view in saved.items()}

    check_protected(records, settings, suffix, caps.name)
    problems = provider.check(records, compared, desired)
    if problems:
        raise InputError(problems)

    changeable = caps.changeable | {"is_active"}
    # Looked up for every field of every user: sets, made once.
    compared_fields = frozenset(caps.compared) - caps.write_only
    creatable = caps.settable_on_create - caps.write_only
    changes: list[Change] = []
    notes: list[PlanNote] = []
    kept: list[PlanWarning] = []
    unchanged = 0
    listed: set[str] = set()
    for key, user in records.items():
        folded = fold(key)
        listed.add(folded)
        current = compared.get(folded)
        wanted = user.fields
        if current is None:
            field_changes = {
                name: FieldChange(None, value)
                for name, value in wanted.items()
                if name in creatable and not _empty(value)
            }
            unwritten = [
                name
                for name, value in wanted.items()
                if name in caps.compared and name not in caps.settable_on_create
            ]
            differing = {name: FieldChange(None, wanted[name]) for name in unwritten}
        else:
            differing = {
                name: FieldChange(current.get(name), value)
                for name, value in wanted.items()
                if name in compared_fields
                # the common case: equal as written, no normalising needed
                and value != current.get(name)
                and not provider.same(name, value, current.get(name))
            }
            field_changes = {n: fc for n, fc in differing.items() if n in changeable}
            differing = {n: fc for n, fc in differing.items() if n not in changeable}
        for name, fc in differing.items():
            notes.append(PlanNote(key, name, fc.before, fc.after, caps.cannot_change.get(name, "")))
        action = _action(current, _active(wanted), bool(field_changes))
        refusal = provider.undeactivatable(current) if action == "deactivate" and current else None
        if refusal is not None:
            # Apply could never do it: the plan says so and leaves the user as is.
            kept.append(PlanWarning(key, f"{key} stays active: {refusal}"))
            field_changes.pop("is_active", None)
            action = "update" if field_changes else None
        if action is None:
            unchanged += 1
            continue
        send = provider.payload(key, wanted, current, list(field_changes))
        changes.append(
            Change(
                action=action,
                key=key,
                fields=field_changes,
                before=saved.get(folded),
                send=send,
                blocked=provider.unwritable(send),
            )
        )

    for folded, current in compared.items():
        if folded in listed:
            continue
        key = current[caps.key]
        if (
            settings.unlisted == "deactivate"
            and _active(current)
            and not settings.is_protected(key, suffix)
            and provider.undeactivatable(current) is None
        ):
            send = provider.payload(key, {"is_active": False}, current, ["is_active"])
            changes.append(
                Change(
                    action="deactivate",
                    key=key,
                    fields={"is_active": FieldChange(current["is_active"], False)},
                    before=saved[folded],
                    send=send,
                    blocked=provider.unwritable(send),
                )
            )
        else:
            unchanged += 1

    order = {action: i for i, action in enumerate(ACTIONS)}
    changes.sort(key=lambda c: (order[c.action], c.key))
    notes.sort(key=lambda n: (n.key, n.field))
    warnings = provider.warnings(records, compared, changes) + kept
    warnings += open_set_warnings(provider, records)
    warnings += look_alike_warnings(provider, records, saved, settings, suffix)
    warnings.sort(key=lambda w: (w.key, w.message))
    environment = desired.environment
    named = environment.token_env_for(caps.name) if environment is not None else None
    token_env = named if named is not None else caps.token_env
    return Plan(
        target=target,
        changes=changes,
        unchanged=unchanged,
        warnings=warnings,
        environment=environment.name if environment else None,
        token_env=token_env,
        active_users=sum(1 for user in compared.values() if _active(user)),
        desired_users=len(records),
        login_suffix=suffix,
        system=caps.name,
        notes=notes,
    )
