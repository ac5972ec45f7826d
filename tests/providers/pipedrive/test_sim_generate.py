"""Generated Pipedrive companies and desired states: realistic, valid, deterministic."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
import yaml

from reconciler.providers.pipedrive.sim import PipedriveSimulator
from reconciler.providers.pipedrive.sim_generate import generate_company, generate_pipedrive_desired
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import APPS, PipedriveStore, permission_set_id
from reconciler.sim.transport import SimTransport

TOKEN = "gen-token-1"


@pytest.fixture(scope="module")
def company() -> list[dict[str, Any]]:
    return generate_company(2000, seed=7)


@pytest.fixture(scope="module")
def desired(company: list[dict[str, Any]]) -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load(
        generate_pipedrive_desired(company, changes=0.05, seed=1)
    )
    return parsed


def short(access: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """Access compared as SPEC 7 means it: app, admin, and the permission set (default if none)."""
    return [
        (
            item["app"],
            bool(item.get("admin")),
            item.get("permission_set_id")
            or permission_set_id(item["app"], bool(item.get("admin"))),
        )
        for item in access
    ]


def actions(company: list[dict[str, Any]], desired: dict[str, Any]) -> Counter[str]:
    """What SPEC section 7 plans for Pipedrive (unlisted: deactivate), with access notes."""
    live = {u["email"].casefold(): u for u in company if not u["is_deleted"]}
    default = desired.get("defaults", {}).get("pipedrive", {}).get("access", [{"app": "sales"}])
    found: Counter[str] = Counter()
    listed = set()
    for wanted in desired["users"]:
        email = wanted["email"].casefold()
        listed.add(email)
        have = live.get(email)
        active = wanted.get("is_active", True)
        access = wanted.get("pipedrive", {}).get("access", default)
        if have is None:
            found["create" if active else "unchanged"] += 1
        elif active and not have["active_flag"]:
            found["reactivate"] += 1
        elif not active and have["active_flag"]:
            found["deactivate"] += 1
        else:
            found["unchanged"] += 1
        if have is not None and short(access) != short(have["access"]):
            found["access note"] += 1
    for email, have in live.items():
        if email not in listed:
            found["deactivate" if have["active_flag"] else "unchanged"] += 1
    return found


def test_the_company_is_deterministic_for_a_seed() -> None:
    assert generate_company(300, seed=1) == generate_company(300, seed=1)
    assert generate_company(300, seed=1) != generate_company(300, seed=2)


def test_the_company_is_realistic(company: list[dict[str, Any]]) -> None:
    you = [u for u in company if u["is_you"]]
    assert you == [company[0]]
    assert you[0]["active_flag"] and you[0]["has_created_company"]
    assert any(a["app"] == "account_settings" for a in you[0]["access"])
    assert len({u["id"] for u in company}) == len(company)
    assert len({u["email"].casefold() for u in company}) == len(company)
    assert any(u["email"] != u["email"].lower() for u in company)
    share = Counter(
        "deleted"
        if u["is_deleted"]
        else "inactive"
        if not u["active_flag"]
        else "invited"
        if not u["activated"]
        else "active"
        for u in company
    )
    assert 0.05 < (share["inactive"] + share["deleted"]) / len(company) < 0.15
    assert 0 < share["deleted"] < len(company) * 0.05
    assert share["invited"] > 0
    for user in company:
        if not user["activated"]:
            assert user["name"] == user["email"] and user["last_login"] is None
        if user["is_deleted"]:
            assert not user["active_flag"]
        assert all(a["app"] in APPS and isinstance(a["admin"], bool) for a in user["access"])
    profiles = Counter(tuple(a["app"] for a in u["access"]) for u in company)
    assert len(profiles) >= 6
    admins = [u for u in company if any(a["app"] == "global" and a["admin"] for a in u["access"])]
    assert 1 < len(admins) < len(company) * 0.1
    # The simulator takes it as it is.
    assert len(PipedriveStore(company)) == len(company)


def test_a_company_has_at_least_its_tokens_user() -> None:
    assert len(generate_company(1, seed=0)) == 1
    with pytest.raises(ValueError):
        generate_company(0, seed=0)


def test_the_desired_state_has_section_7s_shape(
    company: list[dict[str, Any]], desired: dict[str, Any]
) -> None:
    assert desired["version"] == 1
    assert desired["settings"]["systems"] == ["pipedrive"]
    assert desired["settings"]["pipedrive"]["unlisted"] == "deactivate"
    assert desired["defaults"] == {"pipedrive": {"access": [{"app": "sales"}]}}
    logins = [u["login"] for u in desired["users"]]
    emails = [u["email"].casefold() for u in desired["users"]]
    assert len(set(logins)) == len(logins) and len(set(emails)) == len(emails)
    for user in desired["users"]:
        assert set(user) <= {"login", "email", "name", "is_active", "pipedrive"}
        assert user["login"] and user["name"] and "@" not in user["name"]
        for item in user.get("pipedrive", {}).get("access", []):
            assert item["app"] in APPS
            assert set(item) <= {"app", "admin", "permission_set_id"}
            assert item.get("admin", True) is True  # written only when true
            assert not {"admin", "permission_set_id"} <= set(item)
    owner = next(u for u in desired["users"] if u["email"] == company[0]["email"])
    assert owner.get("is_active", True) is True


def test_the_desired_state_changes_about_the_share_asked(
    company: list[dict[str, Any]], desired: dict[str, Any]
) -> None:
    found = actions(company, desired)
    live = [u for u in company if not u["is_deleted"]]
    changed = found["create"] + found["reactivate"] + found["deactivate"]
    assert changed == round(0.05 * len(live))
    for kind in ("create", "reactivate", "deactivate", "access note"):
        assert found[kind] > 0, kind
    assert found["deactivate"] * 4 < sum(u["active_flag"] for u in live)
    listed = {u["email"].casefold() for u in desired["users"]}
    assert any(u["active_flag"] and u["email"].casefold() not in listed for u in live)
    assert any(u.get("is_active") is False for u in desired["users"])
    # One create re-adds a deleted user's email; no other deleted user is listed.
    deleted = {u["email"].casefold() for u in company if u["is_deleted"]}
    assert len(deleted & listed) == 1


def test_the_desired_state_is_deterministic(company: list[dict[str, Any]]) -> None:
    first = generate_pipedrive_desired(company, changes=0.05, seed=1)
    assert first == generate_pipedrive_desired(company, changes=0.05, seed=1)
    assert first != generate_pipedrive_desired(company, changes=0.05, seed=2)


def test_no_changes_changes_nothing() -> None:
    company = generate_company(300, seed=9)
    desired = yaml.safe_load(generate_pipedrive_desired(company, changes=0.0, seed=1))
    live = sum(not u["is_deleted"] for u in company)
    assert actions(company, desired) == Counter(unchanged=live)


def test_a_big_share_keeps_deactivations_under_a_quarter() -> None:
    company = generate_company(400, seed=8)
    desired = yaml.safe_load(generate_pipedrive_desired(company, changes=1.0, seed=1))
    active = sum(u["active_flag"] for u in company)
    assert 0 < actions(company, desired)["deactivate"] * 4 < active


def test_the_desired_state_can_be_applied_to_the_simulator() -> None:
    company = generate_company(200, seed=3)
    desired = yaml.safe_load(generate_pipedrive_desired(company, changes=0.2, seed=4))
    clock = ManualClock()
    sim = PipedriveSimulator(PipedriveStore(company), token=TOKEN, clock=clock)
    default = desired["defaults"]["pipedrive"]["access"]

    def pace(request: httpx.Request) -> None:
        clock.advance(0.11)  # under the burst limit of 20 a 2 seconds

    with httpx.Client(
        transport=SimTransport(sim),
        base_url="http://sim",
        headers={"x-api-token": TOKEN},
        event_hooks={"request": [pace]},
    ) as client:
        before = client.get("/v1/users").json()["data"]
        live = {u["email"].casefold(): u for u in before if not u["is_deleted"]}
        listed = set()
        for wanted in desired["users"]:
            listed.add(wanted["email"].casefold())
            have = live.get(wanted["email"].casefold())
            active = wanted.get("is_active", True)
            if have is None:
                access = wanted.get("pipedrive", {}).get("access", default)
                body = {"email": wanted["email"], "access": access, "active_flag": active}
                assert client.post("/v1/users", json=body).status_code == 200, body
            elif have["active_flag"] != active:
                put = client.put(f"/v1/users/{have['id']}", json={"active_flag": active})
                assert put.status_code == 200
        for email, have in live.items():
            if email not in listed and have["active_flag"]:
                put = client.put(f"/v1/users/{have['id']}", json={"active_flag": False})
                assert put.status_code == 200
        after = client.get("/v1/users").json()["data"]
    found = actions(after, desired)
    assert set(found) <= {"unchanged", "access note"}
    assert sim.seats_bought > 0 and sim.tokens_spent > 0
