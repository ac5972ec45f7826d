"""Property tests of the diff: the invariants of SPEC section 1, over random inputs.

Logins, emails and values come from small alphabets so that desired users and
tenant users overlap, differ in letter case, clear fields and name managers.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from reconciler.desired import DesiredState
from reconciler.diff import compute_plan
from reconciler.model import ACTIONS
from reconciler.providers.dealhub.fields import WRITE_ONLY_FIELDS
from reconciler.providers.dealhub.rules import normalise
from tests.helpers.strategies import TARGET, desired_states, plan_or_input_error, tenants

IDENTITY = ("login", "email", "name", "is_active")


# -- a small pure model of the DealHub API --------------------------------------------


def api_put(tenant: list[dict[str, Any]], payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PUT /api/v2/users: upsert by login; "" clears; absent fields stay as they were."""
    stored = {u["login"]: dict(u) for u in tenant}
    next_id = 9000
    for payload in payloads:
        user = stored.get(payload["login"])
        if user is None:
            user = {"id": str(next_id)}
            next_id += 1
        for name, value in payload.items():
            if value == "" or value is None:
                user.pop(name, None)
            else:
                user[name] = value
        stored[payload["login"]] = user
    return list(stored.values())


def api_get(tenant: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GET /api/v1/users: no write-only fields, empty fields left out."""
    shown = []
    for user in tenant:
        visible = {
            k: v
            for k, v in user.items()
            if k not in WRITE_ONLY_FIELDS and v is not None and v != ""
        }
        visible.setdefault("is_active", True)
        shown.append(visible)
    return shown


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(desired=desired_states(), tenant=tenants())
def test_invariants(desired: DesiredState, tenant: list[dict[str, Any]]) -> None:
    plan = plan_or_input_error(desired, tenant)
    if plan is None:
        return
    by_login = {u["login"]: u for u in tenant}
    seen = set()
    for change in plan.changes:
        # 1. a login is never changed; every change names a known user, once
        assert change.send["login"] == change.key
        assert change.key in desired.users or change.key in by_login
        assert change.key not in seen
        seen.add(change.key)
        # 2. no action outside the four (nothing is ever deleted)
        assert change.action in ACTIONS
        assert (change.action == "create") == (change.key not in by_login)
        assert (change.before is None) == (change.action == "create")
        assert not WRITE_ONLY_FIELDS & set(change.fields)

        wanted = desired.users[change.key].fields if change.key in desired.users else {}
        current = by_login.get(change.key, {})
        # 4. unmanaged fields are never compared nor sent (the identity of an
        # existing user excepted: it is sent as the tenant has it)
        if change.key in desired.users:
            assert set(change.fields) <= set(wanted)
        else:
            assert change.action == "deactivate"
            assert set(change.fields) == {"is_active"}
        for name, value in change.send.items():
            if name in wanted or name == "login":
                continue
            assert name in IDENTITY, (name, change)
            assert change.action != "create"
            if name == "is_active" and change.key not in desired.users:
                assert value is False
            else:
                assert value == current.get(name, True if name == "is_active" else None)
            assert value != ""
        # a field is "" in send only when the file asks for it empty
        for name, value in change.send.items():
            if value == "":
                assert name in wanted and normalise(name, wanted[name]) is None
        # a change to a field shows a real difference
        for name, fc in change.fields.items():
            assert normalise(name, fc.before) != normalise(name, fc.after)

    # protected logins are never deactivated
    for change in plan.by_action("deactivate"):
        assert not desired.settings.is_protected(change.key)
    if desired.settings.unlisted == "ignore":
        assert all(c.key in desired.users for c in plan.changes)

    # every user is either changed or unchanged, never both, never neither
    assert len(plan.changes) + plan.unchanged == len(set(desired.users) | set(by_login))


@PROPERTY_SETTINGS
@given(desired=desired_states(), tenant=tenants())
def test_applying_the_plan_converges(desired: DesiredState, tenant: list[dict[str, Any]]) -> None:
    plan = plan_or_input_error(desired, tenant)
    if plan is None:
        return
    after = api_get(api_put(tenant, [c.send for c in plan.changes]))
    again = compute_plan(desired, after, target=TARGET)
    assert again.changes == [], [(c.action, c.key, c.fields) for c in again.changes]
    assert again.unchanged == len(after)
    # and the users the plan left alone are exactly as they were
    untouched = {c.key for c in plan.changes}
    before = {u["login"]: u for u in api_get(tenant)}
    for user in after:
        if user["login"] not in untouched and user["login"] in before:
            assert user == before[user["login"]]


@PROPERTY_SETTINGS
@given(desired=desired_states(), tenant=tenants())
def test_the_plan_does_not_depend_on_the_tenant_order(
    desired: DesiredState, tenant: list[dict[str, Any]]
) -> None:
    plan = plan_or_input_error(desired, tenant)
    if plan is None:
        return
    assert compute_plan(desired, list(reversed(tenant)), target=TARGET) == plan
