"""Hypothesis strategies of tenants and desired states, and the plan of one (None if refused)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from reconciler.desired import DesiredState, DesiredUser
from reconciler.diff import compute_plan
from reconciler.errors import InputError
from reconciler.model import Plan
from reconciler.settings import Settings


@st.composite
def tenants(draw: st.DrawFn) -> list[dict[str, Any]]:
    logins = draw(st.lists(st.sampled_from(LOGINS), unique=True, max_size=len(LOGINS)))
    users = []
    for number, login in enumerate(logins):
        user: dict[str, Any] = {
            "login": login,
            "id": str(1000 + number),
            "email": draw(st.sampled_from(EMAILS)),
            "name": draw(st.sampled_from(NAMES)),
        }
        if draw(st.integers(0, 4)):  # now and then the API leaves is_active out
            user["is_active"] = draw(st.booleans())
        for name in draw(st.lists(st.sampled_from(OPTIONAL[:4]), unique=True)):
            user[name] = draw(st.sampled_from(VALUES))
        if draw(st.booleans()):
            user["user_manager_login"] = draw(st.sampled_from(LOGINS))
        users.append(user)
    return users


@st.composite
def desired_states(draw: st.DrawFn) -> DesiredState:
    return DesiredState(
        users=draw(desired_users()),
        settings=Settings(
            unlisted=draw(st.sampled_from(["deactivate", "ignore"])),
            protect=draw(st.sampled_from(PROTECT)),
        ),
        files=["users.yaml"],
    )


def plan_or_input_error(desired: DesiredState, tenant: list[dict[str, Any]]) -> Plan | None:
    """The plan, or None when compute_plan rightly refuses the input."""
    known = set(desired.users) | {u["login"] for u in tenant}
    bad_manager = any(
        u.fields.get("user_manager_login") and u.fields["user_manager_login"] not in known
        for u in desired.users.values()
    )
    protected_off = any(
        u.fields["is_active"] is False and desired.settings.is_protected(u.login)
        for u in desired.users.values()
    )
    if bad_manager or protected_off:
        with pytest.raises(InputError):
            compute_plan(desired, tenant, target=TARGET)
        return None
    return compute_plan(desired, tenant, target=TARGET)


TARGET = "https://api.dealhub.io"


LOGINS = ["ann@x", "bob@x", "Bob@x", "cat@x", "dan@x", "admin@x"]


EMAILS = ["ann@x.com", "ANN@x.com", "bob@x.com", "Bob@X.com", "cat@x.com"]


NAMES = ["Ann", "Bob", "bob", "Cat"]


VALUES = ["Sales", "sales", "CCS", "Haifa", "555"]


OPTIONAL = ("position", "city", "fax", "phone", "external_user_id", "user_manager_login")


PROTECT = [(), ("admin@*",), ("BOB@X",), ("*",)]


@st.composite
def desired_users(draw: st.DrawFn) -> dict[str, DesiredUser]:
    logins = draw(st.lists(st.sampled_from(LOGINS), unique=True, max_size=len(LOGINS)))
    users = {}
    for login in logins:
        fields: dict[str, Any] = {
            "email": draw(st.sampled_from(EMAILS)),
            "name": draw(st.sampled_from(NAMES)),
            "is_active": draw(st.booleans()),
        }
        for name in draw(st.lists(st.sampled_from(OPTIONAL), unique=True)):
            if name == "user_manager_login":
                fields[name] = draw(st.one_of(st.none(), st.sampled_from(LOGINS)))
            else:
                fields[name] = draw(value_or_empty)
        users[login] = DesiredUser(login, fields, "users.yaml", 1, {})
    return users


value_or_empty = st.one_of(st.none(), st.just(""), st.sampled_from(VALUES))
