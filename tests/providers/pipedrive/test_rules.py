"""Pipedrive's pure rules on plain data: projection, tenant views, equality, payloads."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.desired import DesiredState, DesiredUser
from reconciler.model import Change, FieldChange
from reconciler.providers.pipedrive import PROVIDER, rules
from reconciler.providers.pipedrive.sim_state import permission_set_id as pset
from reconciler.settings import Settings


def person(
    login: str,
    email: str,
    *,
    name: str = "Some One",
    line: int = 10,
    systems: tuple[str, ...] | None = None,
    access: Any = None,
    **fields: Any,
) -> DesiredUser:
    blocks = {"pipedrive": {"access": access}} if access is not None else {}
    return DesiredUser(
        login=login,
        fields={"email": email, "name": name, "is_active": True, **fields},
        file="people.yaml",
        line=line,
        key_lines={"login": line, "email": line + 1, "name": line + 2, "pipedrive": line + 3},
        systems=systems,
        blocks=blocks,
    )


def state(
    *people: DesiredUser, systems: tuple[str, ...] = ("dealhub", "pipedrive")
) -> DesiredState:
    return DesiredState(
        {p.login: p for p in people}, Settings(systems=systems), files=["people.yaml"]
    )


def entry(**overrides: Any) -> dict[str, Any]:
    """A /v1/users entry as the vendor shows it, with fields that move on their own."""
    raw: dict[str, Any] = {
        "id": 102,
        "name": "Daniel Smith",
        "email": "Daniel@acme.com",
        "active_flag": True,
        "activated": True,
        "access": [{"app": "sales", "admin": False, "permission_set_id": "ps-1"}],
        "is_you": False,
        "is_deleted": False,
        "last_login": "2024-06-01 12:00:00",
        "modified": "2024-06-01 12:00:00",
        "role_id": 1,
    }
    raw.update(overrides)
    return raw


# Projection


def test_projection_keys_people_listed_for_pipedrive_by_email_as_written() -> None:
    records = PROVIDER.project(
        state(
            person("daniel@acme", "Daniel@Acme.com", name="Daniel Smith"),
            person("finance@acme", "finance@acme.com", systems=("dealhub",)),
            person("pd@acme", "pd@acme.com", systems=("pipedrive",), is_active=False, line=30),
        )
    )
    assert list(records) == ["Daniel@Acme.com", "pd@acme.com"]
    daniel = records["Daniel@Acme.com"]
    assert daniel.login == "Daniel@Acme.com"
    assert daniel.fields == {
        "email": "Daniel@Acme.com",
        "name": "Daniel Smith",
        "is_active": True,
        "access": [{"app": "sales"}],
    }
    assert records["pd@acme.com"].fields["is_active"] is False
    assert records["pd@acme.com"].where("access") == "people.yaml:33"
    assert records["pd@acme.com"].where("email") == "people.yaml:31"


def test_projection_follows_the_files_systems() -> None:
    people = (
        person("a@acme", "a@acme.com"),
        person("b@acme", "b@acme.com", systems=("pipedrive",)),
    )
    assert list(PROVIDER.project(state(*people, systems=("dealhub",)))) == ["b@acme.com"]


def test_projection_keeps_the_files_access_sorted_and_adds_nothing() -> None:
    access = [
        {"app": "sales", "permission_set_id": "ps-9"},
        {"app": "global", "admin": True},
        {"app": "account_settings"},
    ]
    record = PROVIDER.project(state(person("a@acme", "a@acme.com", access=access)))["a@acme.com"]
    assert record.fields["access"] == [
        {"app": "account_settings"},
        {"app": "global", "admin": True},
        {"app": "sales", "permission_set_id": "ps-9"},
    ]


# Checks


def test_check_names_access_the_vendor_refuses_and_emails_equal_but_for_case() -> None:
    people = state(
        person("a@acme", "a@acme.com", access=[{"app": "sales"}, {"app": "sales"}], line=10),
        person("b@acme", "A@ACME.com", line=20),
        person("c@acme", "c@acme.com", access=[{"app": "c r m"}], line=30),
        person(
            "d@acme",
            "d@acme.com",
            access=[{"app": "sales", "admin": True, "permission_set_id": "x"}],
            line=40,
        ),
    )
    problems = PROVIDER.check(PROVIDER.project(people), {}, people)
    shown = [str(p) for p in problems]
    assert shown[0] == "people.yaml:13: pipedrive access: app 'sales' is given twice"
    assert shown[1].startswith(
        "people.yaml:21: Pipedrive email 'A@ACME.com' is also listed as "
        "'a@acme.com' at people.yaml:11"
    )
    assert "app 'c r m' is not an app name" in shown[2] and shown[2].startswith("people.yaml:33:")
    assert "either admin or permission_set_id" in shown[3]
    assert len(shown) == 4


def test_check_passes_a_good_file() -> None:
    people = state(person("a@acme", "a@acme.com", access=[{"app": "global", "admin": True}]))
    assert PROVIDER.check(PROVIDER.project(people), {}, people) == []


# Tenant views


def test_tenant_view_keeps_what_provisioning_reads_and_nothing_that_moves() -> None:
    assert PROVIDER.tenant_view(entry()) == {
        "id": 102,
        "email": "Daniel@acme.com",
        "name": "Daniel Smith",
        "is_active": True,
        "access": [{"app": "sales", "admin": False, "permission_set_id": "ps-1"}],
        "is_you": False,
    }


def test_tenant_view_is_stable_when_last_login_and_modified_move() -> None:
    later = entry(last_login="2024-06-02 08:00:00", modified="2024-06-02 08:00:00")
    assert PROVIDER.tenant_view(later) == PROVIDER.tenant_view(entry())


def test_a_deleted_user_is_absent() -> None:
    assert PROVIDER.tenant_view(entry(is_deleted=True)) is None


def test_is_deleted_and_is_you_may_be_left_out() -> None:
    raw = entry()
    del raw["is_deleted"], raw["is_you"]
    view = PROVIDER.tenant_view(raw)
    assert view is not None and view["is_you"] is False


def test_tenant_view_sorts_and_completes_access() -> None:
    raw = entry(access=[{"app": "sales"}, {"app": "global", "admin": True, "extra": 1}])
    view = PROVIDER.tenant_view(raw)
    assert view is not None
    assert view["access"] == [{"app": "global", "admin": True}, {"app": "sales", "admin": False}]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"id": "102"}, "id that is the string '102'"),
        ({"id": True}, "id that is true"),
        ({"id": 0}, "id that is the number 0"),
        ({"email": ""}, "has no email"),
        ({"email": None}, "has no email"),
        ({"active_flag": 1}, "active_flag the number 1"),
        ({"active_flag": "true"}, "active_flag the string 'true'"),
        ({"active_flag": None}, "active_flag missing or null"),
        ({"is_deleted": "false"}, "is_deleted the string 'false'"),
        ({"is_you": 0}, "is_you the number 0"),
        ({"name": 5}, "name that is the number 5"),
        ({"access": {"app": "sales"}}, "access that is an object"),
        ({"access": [{"admin": True}]}, "access item that is not an object with an app"),
        ({"access": [{"app": "sales", "admin": "yes"}]}, "access admin the string 'yes'"),
        ({"access": [{"app": "sales", "permission_set_id": 5}]}, "permission_set_id that is"),
    ],
)
def test_a_bad_entry_is_refused(overrides: dict[str, Any], problem: str) -> None:
    assert problem in (rules.entry_problem(entry(**overrides)) or "")
    with pytest.raises(ValueError, match="Pipedrive user entry"):
        PROVIDER.tenant_view(entry(**overrides))


def test_a_non_object_entry_is_refused() -> None:
    assert rules.entry_problem(["id", 1]) == "is not a user object"


# Equality


def test_emails_are_compared_without_regard_to_case() -> None:
    assert PROVIDER.same("email", "daniel@acme.com", "Daniel@ACME.com")
    assert not PROVIDER.same("email", "daniel@acme.com", "dan@acme.com")


def test_other_fields_are_compared_exactly() -> None:
    assert PROVIDER.same("name", "Daniel", "Daniel")
    assert not PROVIDER.same("name", "Daniel", "daniel")
    assert PROVIDER.same("is_active", False, False)
    assert not PROVIDER.same("is_active", True, 1)


def test_access_ignores_the_permission_set_the_server_fills_in() -> None:
    filled = [
        {"app": "global", "admin": True, "permission_set_id": pset("global", True)},
        {"app": "sales", "admin": False, "permission_set_id": pset("sales", False)},
    ]
    assert PROVIDER.same("access", [{"app": "sales"}, {"app": "global", "admin": True}], filled)
    assert PROVIDER.same(
        "access",
        [{"app": "global", "admin": True}, {"app": "sales", "admin": False}],
        filled,
    )


@pytest.mark.parametrize(
    "wanted",
    [
        [{"app": "sales"}],  # an app too few
        [{"app": "sales"}, {"app": "global"}],  # admin differs
        [{"app": "sales"}, {"app": "global", "admin": True}, {"app": "projects"}],
        [{"app": "sales", "admin": True}, {"app": "global", "admin": True}],
        [{"app": "sales", "permission_set_id": "other"}, {"app": "global", "admin": True}],
        [{"app": "sales"}, {"app": "sales"}, {"app": "global", "admin": True}],
    ],
)
def test_access_differs(wanted: list[dict[str, Any]]) -> None:
    current = [
        {"app": "global", "admin": True, "permission_set_id": "ps-ga"},
        {"app": "sales", "admin": False, "permission_set_id": "ps-s"},
    ]
    assert not PROVIDER.same("access", wanted, current)


def test_a_permission_set_the_file_gives_is_compared() -> None:
    current = [{"app": "sales", "admin": False, "permission_set_id": "ps-s"}]
    assert PROVIDER.same("access", [{"app": "sales", "permission_set_id": "ps-s"}], current)
    assert not PROVIDER.same("access", [{"app": "sales", "permission_set_id": "ps-x"}], current)
    # The file's permission set decides admin unless the file says admin too.
    admin_set = [{"app": "sales", "admin": True, "permission_set_id": "ps-a"}]
    assert PROVIDER.same("access", [{"app": "sales", "permission_set_id": "ps-a"}], admin_set)
    assert not PROVIDER.same("access", [{"app": "sales"}], admin_set)


def test_a_projected_record_matches_its_own_created_user() -> None:
    """What the simulator stores for a create is, compared, what the file asked."""
    access = [{"app": "global", "admin": True}, {"app": "sales"}]
    record = PROVIDER.project(state(person("a@acme", "a@acme.com", access=access)))["a@acme.com"]
    stored = entry(
        email="a@acme.com",
        access=[
            {
                "app": "global",
                "admin": True,
                "permission_set_id": pset("global", True),
            },
            {
                "app": "sales",
                "admin": False,
                "permission_set_id": pset("sales", False),
            },
        ],
    )
    view = PROVIDER.tenant_view(stored)
    assert view is not None
    assert PROVIDER.same("access", record.fields["access"], view["access"])


# Payloads


def test_a_create_sends_email_access_and_active_flag_only() -> None:
    wanted = {
        "email": "New@acme.com",
        "name": "New Person",
        "is_active": True,
        "access": [{"app": "sales", "permission_set_id": "ps-9"}],
    }
    send = PROVIDER.payload("New@acme.com", wanted, None, ["email", "name", "access"])
    assert send == {
        "email": "New@acme.com",
        "access": [{"app": "sales", "permission_set_id": "ps-9"}],
        "active_flag": True,
    }
    assert PROVIDER.unwritable(send) is None


def test_a_create_of_an_inactive_person_sends_active_flag_false() -> None:
    send = PROVIDER.payload("x@acme.com", {"email": "x@acme.com", "is_active": False}, None, [])
    assert send == {"email": "x@acme.com", "access": [{"app": "sales"}], "active_flag": False}


@pytest.mark.parametrize("active", [True, False])
def test_reactivate_and_deactivate_send_active_flag_and_the_id_for_the_url(active: bool) -> None:
    current = PROVIDER.tenant_view(entry(active_flag=not active))
    assert current is not None
    wanted = {
        "email": "daniel@acme.com",
        "name": "Other Name",
        "is_active": active,
        "access": [{"app": "global", "admin": True}],
    }
    send = PROVIDER.payload("daniel@acme.com", wanted, current, ["is_active"])
    assert send == {"id": 102, "active_flag": active}
    assert PROVIDER.unwritable(send) is None


@pytest.mark.parametrize(
    ("send", "reason"),
    [
        ({"id": None, "active_flag": False}, "id is unknown"),
        ({"active_flag": False}, "id is unknown"),
        ({"id": "102", "active_flag": False}, "id is unknown"),
        ({"id": 102, "active_flag": "false"}, "active_flag must be true or false"),
        ({"id": 102, "active_flag": False, "name": "x"}, "active_flag only, not name"),
        ({"email": "a@b.com", "access": [], "active_flag": True, "name": "x"}, "cannot carry name"),
        ({"email": " ", "access": [], "active_flag": True}, "needs an email"),
        ({"email": "a@b.com", "access": None, "active_flag": True}, "needs an access list"),
    ],
)
def test_unwritable_payloads(send: dict[str, Any], reason: str) -> None:
    assert reason in (PROVIDER.unwritable(send) or "")


def test_the_tokens_own_user_is_never_deactivated() -> None:
    you = PROVIDER.tenant_view(entry(is_you=True))
    other = PROVIDER.tenant_view(entry())
    assert you is not None and other is not None
    assert PROVIDER.undeactivatable(you) == "the token's own user (is_you) is never deactivated"
    assert PROVIDER.undeactivatable(other) is None


# Capabilities and the small hooks


def test_capabilities() -> None:
    caps = PROVIDER.capabilities
    assert (caps.name, caps.key, caps.key_ignores_case) == ("pipedrive", "email", True)
    assert caps.changeable == {"is_active"}
    assert set(caps.cannot_change) == {"name", "access", "email"}
    assert set(caps.compared) - caps.changeable == set(caps.cannot_change)
    assert (caps.read_cost, caps.write_cost, caps.batch_size) == (22, 10, 1)
    assert caps.token_env == "PIPEDRIVE_API_TOKEN"


def change(action: str, email: str, send: dict[str, Any]) -> Change:
    return Change(action, email, {"is_active": FieldChange(None, True)}, None, send)  # type: ignore[arg-type]


def test_the_seats_warning_counts_users_active_after_apply() -> None:
    tenant = {
        "a@acme.com": {"is_active": True},
        "b@acme.com": {"is_active": True},
        "c@acme.com": {"is_active": False},
    }
    changes = [
        change("create", "n@acme.com", {"email": "n@acme.com", "active_flag": True}),
        change("create", "m@acme.com", {"email": "m@acme.com", "active_flag": False}),
        change("reactivate", "c@acme.com", {"id": 3, "active_flag": True}),
        change("deactivate", "b@acme.com", {"id": 2, "active_flag": False}),
    ]
    [warning] = PROVIDER.warnings({}, tenant, changes)
    assert (
        "2 active users now, 3 after apply (1 created, 1 reactivated, 1 deactivated)"
        in warning.message
    )
    [fewer] = PROVIDER.warnings({}, tenant, changes[1:2] + changes[3:])
    assert "2 active users now, 1 after apply (0 created, 0 reactivated, 1 deactivated)" in (
        fewer.message
    )
    assert PROVIDER.warnings({}, tenant, changes[1:2]) == []
    assert PROVIDER.depends_on(changes[0]) is None
