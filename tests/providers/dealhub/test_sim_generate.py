"""Generated tenants and desired-state files: realistic, valid, deterministic."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import reconciler
from reconciler.providers.dealhub.fields import STRING_FIELDS, USER_FIELDS
from reconciler.providers.dealhub.sim_generate import generate_desired, generate_tenant
from reconciler.providers.dealhub.sim_state import TenantStore

SCHEMA = json.loads(
    (
        Path(reconciler.__file__).resolve().parent.parent / "schemas" / "users.schema.json"
    ).read_text()
)


@pytest.fixture(scope="module")
def tenant() -> list[dict[str, Any]]:
    return generate_tenant(2000, seed=7)


@pytest.fixture(scope="module")
def desired(tenant: list[dict[str, Any]]) -> dict[str, Any]:
    """The 5% desired state, parsed once: PyYAML is slow on thousands of users."""
    parsed: dict[str, Any] = yaml.safe_load(generate_desired(tenant, changes=0.05, seed=1))
    return parsed


def actions(tenant: list[dict[str, Any]], desired: dict[str, Any]) -> Counter[str]:
    """What SPEC section 4 plans for `desired` against `tenant` (unlisted: deactivate)."""
    live = {u["login"]: u for u in tenant}
    listed = {u["login"]: u for u in desired["users"]}
    found: Counter[str] = Counter()
    for login, wanted in listed.items():
        have = live.get(login)
        wants_active = wanted.get("is_active", True)
        if have is None:
            found["create"] += 1
        elif wants_active and not have["is_active"]:
            found["reactivate"] += 1
        elif not wants_active and have["is_active"]:
            found["deactivate"] += 1
        elif any(differs(have.get(f), wanted[f], f) for f in wanted if f != "is_active"):
            found["update"] += 1
        else:
            found["unchanged"] += 1
    for login, have in live.items():
        if login not in listed:
            found["deactivate" if have["is_active"] else "unchanged"] += 1
    return found


def differs(have: Any, want: Any, field: str) -> bool:
    if field == "external_user_id":
        return False  # write-only: never a difference
    if field == "email":
        return str(have).lower() != str(want).lower()
    return bool((have or None) != want)


def test_tenant_is_deterministic_for_a_seed() -> None:
    assert generate_tenant(300, seed=1) == generate_tenant(300, seed=1)
    assert generate_tenant(300, seed=1) != generate_tenant(300, seed=2)


def test_tenant_users_are_valid_and_realistic(tenant: list[dict[str, Any]]) -> None:
    logins = [u["login"] for u in tenant]
    assert len(set(logins)) == len(tenant)
    assert len({u["id"] for u in tenant}) == len(tenant)
    for user in tenant:
        assert set(user) <= set(USER_FIELDS) | {"id"}
        assert {"login", "email", "name", "is_active", "external_user_id"} <= set(user)
        assert user["external_user_id"].startswith("005")
        for field, value in user.items():
            limit = STRING_FIELDS.get(field)
            if limit is not None:
                assert len(value) <= limit, (field, value)
    inactive = sum(not u["is_active"] for u in tenant)
    assert 0.05 < inactive / len(tenant) < 0.15
    missing_phone = sum("phone" not in u for u in tenant)
    assert 0 < missing_phone < len(tenant)
    # The simulator's store accepts what the generator makes.
    assert len(TenantStore(tenant)) == len(tenant)


def test_tenant_managers_exist_and_never_cycle(tenant: list[dict[str, Any]]) -> None:
    manager_of = {u["login"]: u.get("user_manager_login") for u in tenant}
    assert sum(m is not None for m in manager_of.values()) > len(tenant) // 2
    for login in manager_of:
        seen = {login}
        current = manager_of[login]
        while current is not None:
            assert current in manager_of, f"{login}: manager {current} is not in the tenant"
            assert current not in seen, f"{login}: manager cycle through {current}"
            seen.add(current)
            current = manager_of[current]


def test_twenty_thousand_users_generate(tmp_path: Path) -> None:
    tenant = generate_tenant(20_000, seed=5)
    text = generate_desired(tenant, changes=0.05, seed=6)
    assert len({u["login"] for u in tenant}) == 20_000
    assert text.count("\n  - login: ") >= 20_000 - 20_000 * 0.05


def test_desired_is_deterministic_for_a_seed(tenant: list[dict[str, Any]]) -> None:
    first = generate_desired(tenant, changes=0.05, seed=1)
    assert first == generate_desired(tenant, changes=0.05, seed=1)
    assert first != generate_desired(tenant, changes=0.05, seed=2)


def test_desired_has_the_documented_shape(
    tenant: list[dict[str, Any]], desired: dict[str, Any]
) -> None:
    jsonschema.validate(desired, SCHEMA)
    assert desired["version"] == 1
    logins = [u["login"] for u in desired["users"]]
    assert len(logins) == len(set(logins))
    known = set(logins) | {u["login"] for u in tenant}
    for user in desired["users"]:
        manager = user.get("user_manager_login")
        assert manager is None or manager in known


def test_desired_changes_about_the_share_asked_over_every_kind(
    tenant: list[dict[str, Any]], desired: dict[str, Any]
) -> None:
    found = actions(tenant, desired)
    changed = sum(n for kind, n in found.items() if kind != "unchanged")
    assert changed == round(0.05 * len(tenant))
    for kind in ("create", "update", "reactivate", "deactivate"):
        assert found[kind] > 0, kind
    listed = {u["login"] for u in desired["users"]}
    assert any(u["is_active"] and u["login"] not in listed for u in tenant)
    assert any(u.get("is_active") is False for u in desired["users"])
    # Inactive users that stay inactive are listed as such, not left out.
    was_inactive = {u["login"] for u in tenant if not u["is_active"]}
    assert was_inactive <= listed
    kept_inactive = [
        u for u in desired["users"] if u["login"] in was_inactive and u.get("is_active") is False
    ]
    assert len(kept_inactive) == len(was_inactive) - found["reactivate"]


def test_desired_keeps_deactivations_under_a_quarter() -> None:
    tenant = generate_tenant(400, seed=8)
    desired = yaml.safe_load(generate_desired(tenant, changes=1.0, seed=1))
    active = sum(u["is_active"] for u in tenant)
    assert 0 < actions(tenant, desired)["deactivate"] * 4 < active


def test_desired_with_no_changes_changes_nothing() -> None:
    tenant = generate_tenant(400, seed=9)
    desired = yaml.safe_load(generate_desired(tenant, changes=0.0, seed=1))
    assert actions(tenant, desired) == Counter(unchanged=len(tenant))


def test_desired_escapes_what_yaml_cannot_hold_raw() -> None:
    tenant = generate_tenant(3, seed=1)
    tenant[1]["name"] = 'Odd \x85\x7f\u2028 "name" \\ \ufeff #: - é'
    desired = yaml.safe_load(generate_desired(tenant, changes=0.0, seed=1))
    assert desired["users"][1]["name"] == tenant[1]["name"]


def test_desired_refuses_an_impossible_share(tenant: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError):
        generate_desired(tenant, changes=1.5, seed=1)
