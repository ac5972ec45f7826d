"""Export: a tenant written as a desired-state file plans back to no changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired import load_desired
from reconciler.diff import compute_plan
from reconciler.errors import ResponseError
from reconciler.export import scalar
from reconciler.providers.dealhub.export import choose_defaults, export_yaml
from reconciler.providers.dealhub.fields import COMPARED_FIELDS, STRING_FIELDS
from reconciler.providers.dealhub.sim_generate import generate_tenant

OPTIONAL = [f for f in COMPARED_FIELDS if f not in ("email", "name", "is_active")]

# Text a real tenant may hold: unicode names, YAML look-alikes, quotes, colons, hashes.
tricky = st.sampled_from(
    ["yes", "NO", "null", "~", "0544", "1e3", "2020-01-01", "a: b", "x #y", "'q'", '"dq"',
     "-dash", "* star", "@at", "  padded ", "Zoë Ørsted", "李小龍", "עברית", "tab\there",
     "B\x85C", "line\u2028sep", "para\u2029sep", "del\x7fchar", "c1\x9achar", "nonchar\ufffe"]
)  # fmt: skip
text = st.one_of(
    tricky,
    st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=20),
)


@st.composite
def tenants(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 8))
    users = []
    for i in range(n):
        login = f"user{i}@acme"
        user: dict[str, Any] = {
            "login": login,
            "id": str(1000 + i),
            "email": f"user{i}@acme.com",
            "name": draw(text).strip() or "N",
            "is_active": draw(st.booleans()),
        }
        for field in OPTIONAL:
            if field == "user_manager_login":
                if i and draw(st.booleans()):
                    user[field] = f"user{draw(st.integers(0, i - 1))}@acme"
                continue
            if draw(st.integers(0, 3)) == 0:
                continue
            limit = STRING_FIELDS[field] or 300
            user[field] = draw(st.one_of(text, st.sampled_from(["Acme", "Israel"])))[:limit]
        users.append(user)
    return users


def plan_exported(tmp_path: Path, tenant: list[dict[str, Any]], suffix: str = "") -> Any:
    path = tmp_path / "users.yaml"
    path.write_text(export_yaml(tenant, login_suffix=suffix), encoding="utf-8")
    state = load_desired([str(path)])
    return state, compute_plan(state, tenant, target="test")


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tenants())
def test_export_round_trip_has_no_changes(tmp_path: Path, tenant: list[dict[str, Any]]) -> None:
    state, plan = plan_exported(tmp_path, tenant)
    assert plan.changes == [], [(c.action, c.login, c.fields) for c in plan.changes]
    assert len(state.users) == len(tenant)


def test_round_trip_on_a_generated_tenant(tmp_path: Path) -> None:
    tenant = generate_tenant(2000, seed=5)
    assert any(u["is_active"] is False for u in tenant)
    _, plan = plan_exported(tmp_path, tenant)
    assert plan.changes == []


def test_export_is_sorted_and_keeps_inactive_users(tmp_path: Path) -> None:
    tenant = [
        {"login": "b@x", "id": "2", "email": "b@x.com", "name": "B", "is_active": False},
        {"login": "a@x", "id": "1", "email": "a@x.com", "name": "A", "is_active": True},
    ]
    doc = yaml.safe_load(export_yaml(tenant))
    assert [u["login"] for u in doc["users"]] == ["a@x", "b@x"]
    assert doc["users"][1]["is_active"] is False
    assert "is_active" not in doc["users"][0]


def test_common_values_move_into_defaults_only_when_shorter() -> None:
    many = [{"login": f"u{i}", "company": "Acme", "country": "IL"} for i in range(5)]
    many.append({"login": "x", "company": "Other"})
    assert choose_defaults(many) == {"company": "Acme", "country": "IL"}
    few = [{"login": "a", "city": "Holon"}, {"login": "b"}, {"login": "c"}]
    assert choose_defaults(few) == {}


def test_export_strips_a_sandbox_suffix(tmp_path: Path) -> None:
    tenant = [
        {"login": "boss@acme_sb", "id": "1", "email": "b@x.com", "name": "B", "is_active": True},
        {"login": "ic@acme_sb", "id": "2", "email": "i@x.com", "name": "I", "is_active": True,
         "user_manager_login": "boss@acme_sb"},
    ]  # fmt: skip
    doc = yaml.safe_load(export_yaml(tenant, login_suffix="_sb"))
    assert [u["login"] for u in doc["users"]] == ["boss@acme", "ic@acme"]
    assert doc["users"][1]["user_manager_login"] == "boss@acme"


@given(st.one_of(text, st.booleans(), st.none()))
def test_scalar_reads_back_exactly(value: Any) -> None:
    assert yaml.safe_load(f"v: {scalar(value)}")["v"] == value


def test_a_user_no_people_file_can_hold_is_named_and_nothing_is_written() -> None:
    ok = {"login": "a@acme", "id": "1", "email": "a@acme.com", "name": "A", "is_active": True}
    # v1 reads allow logins of 100 characters; a people file (v2) holds 90.
    long_login = {**ok, "login": "x" * 95}
    hidden = {**ok, "login": "adm\u200bin@acme"}
    for user, fragment in ((long_login, "login is 95 characters"), (hidden, "\\u200b")):
        with pytest.raises(ResponseError, match="cannot be written in a people file") as info:
            export_yaml([ok, user])
        assert fragment in str(info.value)
