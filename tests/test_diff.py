"""The diff on plain data: every action, every warning, the payloads apply sends."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler.desired import DesiredState, DesiredUser
from reconciler.diff import compute_plan
from reconciler.errors import InputError
from reconciler.model import ACTIONS, Change, FieldChange, Plan
from reconciler.providers.dealhub.rules import manager_problems, normalise
from reconciler.settings import DEFAULT_TOKEN_ENV, Environment, Settings

TARGET = "https://api.dealhub.io"
IDENTITY = {"login", "email", "name", "is_active"}


def user(
    login: str, *, line: int = 1, key_lines: dict[str, int] | None = None, **fields: Any
) -> DesiredUser:
    fields.setdefault("email", f"{login.split('@')[0]}@acme.com")
    fields.setdefault("name", login.split("@")[0].title())
    fields.setdefault("is_active", True)
    return DesiredUser(login, fields, "users.yaml", line, key_lines or {})


def state(
    *users: DesiredUser,
    settings: Settings | None = None,
    environment: Environment | None = None,
) -> DesiredState:
    return DesiredState(
        users={u.login: u for u in users},
        settings=settings or Settings(),
        files=["users.yaml"],
        environment=environment,
    )


def tenant_user(login: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "login": login,
        "id": str(10**11 + sum(map(ord, login))),
        "email": f"{login.split('@')[0]}@acme.com",
        "name": login.split("@")[0].title(),
        "is_active": True,
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def plan_of(desired: DesiredState, tenant: list[dict[str, Any]]) -> Plan:
    return compute_plan(desired, tenant, target=TARGET)


def only(plan: Plan) -> Change:
    assert len(plan.changes) == 1, plan.changes
    return plan.changes[0]


# -- normalise ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("fax", None, None),
        ("fax", "", None),
        ("fax", "123", "123"),
        ("email", "Daniel@Acme.COM", "daniel@acme.com"),
        ("name", "Daniel", "Daniel"),
        ("is_active", False, False),
        ("is_active", True, True),
    ],
)
def test_normalise(name: str, value: Any, expected: Any) -> None:
    assert normalise(name, value) == expected


def test_normalise_keeps_the_case_of_other_fields() -> None:
    assert normalise("name", "DANIEL") != normalise("name", "daniel")


# -- create ---------------------------------------------------------------------------


def test_create_carries_every_managed_field_with_a_value() -> None:
    desired = state(
        user(
            "lucas@acme",
            position="Sales",
            external_user_id="005XX42",
            fax=None,
            city="",
        )
    )
    change = only(plan_of(desired, []))
    assert change.action == "create"
    assert change.before is None
    assert change.fields == {
        "email": FieldChange(None, "lucas@acme.com"),
        "name": FieldChange(None, "Lucas"),
        "is_active": FieldChange(None, True),
        "position": FieldChange(None, "Sales"),
    }
    assert change.send == {
        "login": "lucas@acme",
        "email": "lucas@acme.com",
        "name": "Lucas",
        "is_active": True,
        "position": "Sales",
        "external_user_id": "005XX42",
    }


def test_create_of_an_inactive_user() -> None:
    change = only(plan_of(state(user("ghost@acme", is_active=False)), []))
    assert change.action == "create"
    assert change.send["is_active"] is False
    assert change.fields["is_active"] == FieldChange(None, False)


# -- update ---------------------------------------------------------------------------


def test_update_compares_only_managed_fields() -> None:
    desired = state(user("daniel@acme", position="CCS"))
    tenant = [tenant_user("daniel@acme", position="Sales", city="Haifa", phone="555")]
    change = only(plan_of(desired, tenant))
    assert change.action == "update"
    assert change.fields == {"position": FieldChange("Sales", "CCS")}
    assert "city" not in change.send and "phone" not in change.send
    assert change.before == tenant[0]


def test_unmanaged_tenant_fields_never_make_a_change() -> None:
    desired = state(user("daniel@acme"))
    tenant = [tenant_user("daniel@acme", position="Sales", city="Haifa", fax="1")]
    plan = plan_of(desired, tenant)
    assert plan.changes == []
    assert plan.unchanged == 1


def test_update_send_has_the_identity_fields_from_the_tenant() -> None:
    desired = state(user("daniel@acme", email="DANIEL@acme.com", name="Dan", position="CCS"))
    tenant = [tenant_user("daniel@acme", email="daniel@acme.com", name="Daniel", position="S")]
    change = only(plan_of(desired, tenant))
    assert change.fields == {
        "name": FieldChange("Daniel", "Dan"),
        "position": FieldChange("S", "CCS"),
    }
    # email differs only in case: not a change, so the tenant's value is sent.
    assert change.send == {
        "login": "daniel@acme",
        "email": "daniel@acme.com",
        "name": "Dan",
        "is_active": True,
        "position": "CCS",
    }


def test_null_in_the_file_clears_the_tenant_value() -> None:
    desired = state(user("sara@acme", fax=None))
    change = only(plan_of(desired, [tenant_user("sara@acme", fax="09-454")]))
    assert change.action == "update"
    assert change.fields == {"fax": FieldChange("09-454", None)}
    assert change.send["fax"] == ""


@pytest.mark.parametrize(
    ("wanted", "tenant_value"),
    [(None, None), (None, ""), ("", None), ("", ""), (None, "absent"), ("", "absent")],
)
def test_absent_null_and_empty_are_the_same(wanted: Any, tenant_value: Any) -> None:
    desired = state(user("sara@acme", fax=wanted))
    current = tenant_user("sara@acme")
    if tenant_value != "absent":
        current["fax"] = tenant_value
    plan = plan_of(desired, [current])
    assert plan.changes == []
    assert plan.unchanged == 1


def test_email_differing_only_in_case_is_no_change() -> None:
    desired = state(user("daniel@acme", email="daniel@acme.com"))
    plan = plan_of(desired, [tenant_user("daniel@acme", email="Daniel@ACME.com")])
    assert plan.changes == []


def test_other_fields_are_case_sensitive() -> None:
    desired = state(user("daniel@acme", position="ccs"))
    change = only(plan_of(desired, [tenant_user("daniel@acme", position="CCS")]))
    assert change.fields == {"position": FieldChange("CCS", "ccs")}


def test_a_tenant_user_without_is_active_is_active() -> None:
    current = tenant_user("daniel@acme", position="S")
    del current["is_active"]
    assert plan_of(state(user("daniel@acme")), [current]).changes == []
    change = only(plan_of(state(user("daniel@acme", position="X")), [current]))
    assert change.action == "update"
    assert change.send["is_active"] is True
    assert change.before == current


# -- reactivate -----------------------------------------------------------------------


def test_listed_inactive_user_is_reactivated_not_created() -> None:
    desired = state(user("noa@acme", position="AE"))
    tenant = [tenant_user("noa@acme", position="AE", is_active=False)]
    change = only(plan_of(desired, tenant))
    assert change.action == "reactivate"
    assert change.fields == {"is_active": FieldChange(False, True)}
    assert change.send == {
        "login": "noa@acme",
        "email": "noa@acme.com",
        "name": "Noa",
        "is_active": True,
    }


def test_reactivate_with_field_changes() -> None:
    desired = state(user("noa@acme", position="AE", city=None))
    tenant = [tenant_user("noa@acme", position="SDR", city="Eilat", is_active=False)]
    change = only(plan_of(desired, tenant))
    assert change.action == "reactivate"
    assert change.fields == {
        "is_active": FieldChange(False, True),
        "position": FieldChange("SDR", "AE"),
        "city": FieldChange("Eilat", None),
    }
    assert change.send["position"] == "AE"
    assert change.send["city"] == ""
    assert change.send["is_active"] is True


def test_inactive_in_file_and_tenant_with_a_field_change_is_an_update() -> None:
    desired = state(user("ex@acme", is_active=False, position="Gone"))
    tenant = [tenant_user("ex@acme", position="Sales", is_active=False)]
    change = only(plan_of(desired, tenant))
    assert change.action == "update"
    assert change.fields == {"position": FieldChange("Sales", "Gone")}
    assert change.send["is_active"] is False


# -- deactivate -----------------------------------------------------------------------


def test_is_active_false_in_the_file_deactivates() -> None:
    desired = state(user("ex@acme", is_active=False))
    change = only(plan_of(desired, [tenant_user("ex@acme")]))
    assert change.action == "deactivate"
    assert change.fields == {"is_active": FieldChange(True, False)}
    assert change.send == {
        "login": "ex@acme",
        "email": "ex@acme.com",
        "name": "Ex",
        "is_active": False,
    }


def test_unlisted_active_user_is_deactivated_by_default() -> None:
    current = tenant_user("temp@acme", position="Intern", city="Haifa")
    plan = plan_of(state(user("roy@acme")), [tenant_user("roy@acme"), current])
    change = only(plan)
    assert change.action == "deactivate"
    assert change.key == "temp@acme"
    assert change.fields == {"is_active": FieldChange(True, False)}
    # Only the identity: nothing of the user's profile is managed.
    assert change.send == {
        "login": "temp@acme",
        "email": "temp@acme.com",
        "name": "Temp",
        "is_active": False,
    }
    assert change.before == current
    assert plan.unchanged == 1


def test_unlisted_with_ignore_is_unchanged() -> None:
    desired = state(user("roy@acme"), settings=Settings(unlisted="ignore"))
    plan = plan_of(desired, [tenant_user("roy@acme"), tenant_user("temp@acme")])
    assert plan.changes == []
    assert plan.unchanged == 2


def test_unlisted_inactive_user_is_unchanged() -> None:
    plan = plan_of(state(user("roy@acme")), [tenant_user("old@acme", is_active=False)])
    assert [c.key for c in plan.changes] == ["roy@acme"]
    assert plan.unchanged == 1


@pytest.mark.parametrize("login", ["admin@acme", "admin@acme.eu", "ADMIN@Acme"])
def test_protected_unlisted_user_is_not_deactivated(login: str) -> None:
    desired = state(user("roy@acme"), settings=Settings(protect=("admin@acme*",)))
    plan = plan_of(desired, [tenant_user("roy@acme"), tenant_user(login)])
    assert plan.changes == []
    assert plan.unchanged == 2


def test_protection_is_by_pattern_only() -> None:
    desired = state(user("roy@acme"), settings=Settings(protect=("admin@acme*",)))
    plan = plan_of(desired, [tenant_user("roy@acme"), tenant_user("sysadmin@acme")])
    assert [(c.action, c.key) for c in plan.changes] == [("deactivate", "sysadmin@acme")]


def test_a_protected_login_set_inactive_is_an_error() -> None:
    desired = state(
        user("admin@acme", is_active=False, line=4, key_lines={"is_active": 7}),
        settings=Settings(protect=("admin@*",)),
    )
    with pytest.raises(InputError) as info:
        plan_of(desired, [tenant_user("admin@acme")])
    assert "users.yaml:7" in str(info.value)
    assert "admin@acme" in str(info.value)


# -- unchanged ------------------------------------------------------------------------


def test_unchanged_counts_listed_and_unlisted_users() -> None:
    desired = state(user("a@acme"), user("b@acme"), user("c@acme", position="New"))
    tenant = [
        tenant_user("a@acme"),
        tenant_user("b@acme"),
        tenant_user("c@acme"),
        tenant_user("old@acme", is_active=False),
    ]
    plan = plan_of(desired, tenant)
    assert plan.summary() == {
        "create": 0,
        "update": 1,
        "reactivate": 0,
        "deactivate": 0,
        "unchanged": 3,
    }
    assert plan.active_users == 3
    assert plan.desired_users == 3


# -- external_user_id -----------------------------------------------------------------


def test_external_user_id_is_never_a_difference() -> None:
    desired = state(user("daniel@acme", external_user_id="005XX1"))
    plan = plan_of(desired, [tenant_user("daniel@acme")])
    assert plan.changes == []


@pytest.mark.parametrize(
    ("wanted", "current", "action"),
    [
        ({"position": "CCS"}, {"position": "Sales"}, "update"),
        ({}, {"is_active": False}, "reactivate"),
        ({"is_active": False}, {}, "deactivate"),
        ({}, None, "create"),
    ],
)
def test_external_user_id_is_sent_with_every_write(
    wanted: dict[str, Any], current: dict[str, Any] | None, action: str
) -> None:
    desired = state(user("daniel@acme", external_user_id="005XX1", **wanted))
    tenant = [] if current is None else [tenant_user("daniel@acme", **current)]
    change = only(plan_of(desired, tenant))
    assert change.action == action
    assert change.send["external_user_id"] == "005XX1"
    assert "external_user_id" not in change.fields


def test_external_user_id_null_is_cleared_on_a_write_and_never_shown() -> None:
    desired = state(user("daniel@acme", external_user_id=None, position="CCS"))
    change = only(plan_of(desired, [tenant_user("daniel@acme")]))
    assert change.send["external_user_id"] == ""
    assert "external_user_id" not in change.fields
    created = only(plan_of(desired, []))
    assert "external_user_id" not in created.send


def test_external_user_id_not_managed_is_not_sent() -> None:
    change = only(plan_of(state(user("daniel@acme", position="CCS")), [tenant_user("daniel@acme")]))
    assert "external_user_id" not in change.send


# -- order ----------------------------------------------------------------------------


def test_changes_are_sorted_by_action_then_login() -> None:
    desired = state(
        user("zed@acme"),  # create
        user("amy@acme"),  # create
        user("max@acme", position="X"),  # update
        user("bob@acme", position="Y"),  # update
        user("kim@acme"),  # reactivate
        user("ann@acme", is_active=False),  # deactivate
    )
    tenant = [
        tenant_user("max@acme"),
        tenant_user("bob@acme"),
        tenant_user("kim@acme", is_active=False),
        tenant_user("ann@acme"),
        tenant_user("pat@acme"),  # unlisted: deactivate
        tenant_user("abe@acme"),  # unlisted: deactivate
    ]
    plan = plan_of(desired, list(reversed(tenant)))
    assert [(c.action, c.key) for c in plan.changes] == [
        ("create", "amy@acme"),
        ("create", "zed@acme"),
        ("update", "bob@acme"),
        ("update", "max@acme"),
        ("reactivate", "kim@acme"),
        ("deactivate", "abe@acme"),
        ("deactivate", "ann@acme"),
        ("deactivate", "pat@acme"),
    ]
    assert [c.action for c in plan.changes] == sorted(
        (c.action for c in plan.changes), key=ACTIONS.index
    )


# -- warnings -------------------------------------------------------------------------


def test_warning_created_login_with_the_email_of_a_deactivated_user() -> None:
    desired = state(
        user("roy@acme"),
        user("daniel.smith@acme", email="Daniel@acme.com"),
    )
    tenant = [tenant_user("roy@acme"), tenant_user("daniel@acme", email="daniel@acme.com")]
    plan = plan_of(desired, tenant)
    mine = [w for w in plan.warnings if w.key == "daniel.smith@acme"]
    assert len(mine) == 1
    assert "login cannot change" in mine[0].message
    assert "daniel@acme is deactivated and daniel.smith@acme created" in mine[0].message


def test_no_email_warning_when_the_old_user_stays() -> None:
    desired = state(
        user("roy@acme"),
        user("daniel.smith@acme", email="daniel@acme.com"),
        settings=Settings(unlisted="ignore"),
    )
    tenant = [tenant_user("roy@acme"), tenant_user("daniel@acme", email="daniel@acme.com")]
    assert plan_of(desired, tenant).warnings == []


def test_warning_logins_differing_only_in_case() -> None:
    desired = state(user("bob@acme"), settings=Settings(unlisted="ignore"))
    plan = plan_of(desired, [tenant_user("Bob@acme")])
    assert [c.action for c in plan.changes] == ["create"]
    assert len(plan.warnings) == 1
    assert "letter case" in plan.warnings[0].message
    assert "Bob@acme" in plan.warnings[0].message and "bob@acme" in plan.warnings[0].message


def test_no_case_warning_for_distinct_logins() -> None:
    plan = plan_of(state(user("bob@acme"), user("rob@acme")), [tenant_user("bob@acme")])
    assert plan.warnings == []


def test_warning_active_user_whose_manager_is_deactivated() -> None:
    desired = state(
        user("john@acme", user_manager_login="roy@acme"),
        user("roy@acme", is_active=False),
        user("gone@acme", is_active=False, user_manager_login="roy@acme"),
    )
    tenant = [
        tenant_user("john@acme", user_manager_login="roy@acme"),
        tenant_user("roy@acme"),
        tenant_user("gone@acme", user_manager_login="roy@acme"),
        # unlisted and protected: stays active, its manager is deactivated
        tenant_user("admin@acme", user_manager_login="roy@acme"),
    ]
    desired.settings = Settings(protect=("admin@*",))
    plan = plan_of(desired, tenant)
    warned = sorted(w.key for w in plan.warnings)
    assert warned == ["admin@acme", "john@acme"]
    john = next(w for w in plan.warnings if w.key == "john@acme")
    assert "roy@acme" in john.message


def test_manager_warning_follows_the_manager_the_file_sets() -> None:
    # The tenant says roy, the file moves john to maya: roy's deactivation is harmless.
    desired = state(
        user("john@acme", user_manager_login="maya@acme"),
        user("maya@acme"),
        user("roy@acme", is_active=False),
    )
    tenant = [
        tenant_user("john@acme", user_manager_login="roy@acme"),
        tenant_user("maya@acme"),
        tenant_user("roy@acme"),
    ]
    assert plan_of(desired, tenant).warnings == []


# -- managers -------------------------------------------------------------------------


def test_unknown_manager_is_an_error_naming_user_and_place() -> None:
    desired = state(
        user(
            "john@acme",
            user_manager_login="nobody@acme",
            line=3,
            key_lines={"user_manager_login": 9},
        )
    )
    with pytest.raises(InputError) as info:
        plan_of(desired, [tenant_user("roy@acme")])
    message = str(info.value)
    assert "users.yaml:9" in message
    assert "john@acme" in message and "nobody@acme" in message
    assert info.value.exit_code == 1


def test_manager_in_the_files_or_in_the_tenant_is_fine() -> None:
    desired = state(
        user("john@acme", user_manager_login="maya@acme"),
        user("maya@acme", user_manager_login="roy@acme"),
    )
    assert manager_problems(desired.users, {"roy@acme"}) == []
    (problem,) = manager_problems(desired.users, set())
    assert "roy@acme" in problem.message


def test_manager_null_needs_no_manager() -> None:
    assert manager_problems(state(user("john@acme", user_manager_login=None)).users, set()) == []


# -- environments ---------------------------------------------------------------------


def test_environment_is_recorded_on_the_plan() -> None:
    env = Environment("sandbox", TARGET, token_env="DEALHUB_SANDBOX_TOKEN", login_suffix="_sb")
    plan = plan_of(state(user("roy@acme_sb"), environment=env), [])
    assert plan.environment == "sandbox"
    assert plan.token_env == "DEALHUB_SANDBOX_TOKEN"
    plain = plan_of(state(user("roy@acme")), [])
    assert plain.environment is None
    assert plain.token_env == DEFAULT_TOKEN_ENV


def test_protect_patterns_match_without_the_environment_suffix() -> None:
    env = Environment("sandbox", TARGET, login_suffix="_sb")
    desired = state(user("roy@acme_sb"), settings=Settings(protect=("root@acme",)), environment=env)
    plan = plan_of(desired, [tenant_user("roy@acme_sb"), tenant_user("root@acme_sb")])
    assert plan.changes == []


# -- purity ---------------------------------------------------------------------------


def test_compute_plan_changes_neither_input() -> None:
    desired = state(user("a@acme", position="X"), user("b@acme", is_active=False))
    tenant = [tenant_user("a@acme"), tenant_user("b@acme"), tenant_user("c@acme")]
    desired_copy, tenant_copy = copy.deepcopy(desired), copy.deepcopy(tenant)
    plan = plan_of(desired, tenant)
    assert desired == desired_copy
    assert tenant == tenant_copy
    # `before` is a snapshot: later changes to the tenant list do not leak into it.
    tenant[0]["position"] = "changed"
    assert plan.changes[0].before == tenant_copy[0]


def test_a_tenant_login_that_looks_identical_is_a_warning() -> None:
    composed, decomposed = "jos\u00e9@acme", "jose\u0301@acme"
    plan = plan_of(state(user(composed)), [tenant_user(decomposed)])
    assert {c.action for c in plan.changes} == {"create", "deactivate"}
    (warning,) = [w for w in plan.warnings if "look identical" in w.message]
    assert "jos\\xe9@acme" in warning.message and "jose\\u0301@acme" in warning.message
