"""The per-user reviewed-changes rule on plain data (saved_plan.review, SPEC 5).

A change of the fresh plan is written only when the saved plan holds it
identically; every other change is held with why, and a reviewed change the
fresh plan no longer holds is reported, not written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler import saved_plan
from reconciler.desired import DesiredState, DesiredUser
from reconciler.diff import tenant_index
from reconciler.engine import make_plan
from reconciler.errors import StalePlanError
from reconciler.model import Held, Plan
from reconciler.plan import to_json_data
from reconciler.providers.dealhub.provider import DEALHUB
from reconciler.settings import Settings, Threshold

KEY = saved_plan.seal_key("a-token")


def person(login: str, **fields: Any) -> DesiredUser:
    fields.setdefault("email", f"{login.split('@')[0]}@acme.com")
    fields.setdefault("name", login.split("@")[0].title())
    fields.setdefault("is_active", True)
    return DesiredUser(login, fields, "people.yaml", 1, {})


def user(login: str, **fields: Any) -> dict[str, Any]:
    return {
        "login": login,
        "id": str(abs(hash(login)) % 10_000),
        "email": f"{login.split('@')[0]}@acme.com",
        "name": login.split("@")[0].title(),
        "is_active": True,
        **fields,
    }


def files(*people: DesiredUser) -> DesiredState:
    return DesiredState(
        users={p.login: p for p in people},
        settings=Settings(max_deactivations=Threshold(100, percent=True)),
        files=["people.yaml"],
    )


def plan(state: DesiredState, tenant: list[dict[str, Any]]) -> Plan:
    made = make_plan(state, DEALHUB, tenant, "sim:t", allow_mass_deactivation=True)
    made.desired_digest = saved_plan.desired_digest(state)
    return made


def saved(state: DesiredState, tenant: list[dict[str, Any]]) -> dict[str, Any]:
    data = saved_plan.sealed(to_json_data(plan(state, tenant)), KEY)
    loaded: dict[str, Any] = json.loads(json.dumps(data))
    return loaded


def review(
    reviewed: dict[str, Any], state: DesiredState, tenant: list[dict[str, Any]]
) -> saved_plan.Review:
    return saved_plan.bind(
        reviewed,
        plan(state, tenant),
        tenant_index(DEALHUB, tenant),
        DEALHUB,
        files_digest=saved_plan.desired_digest(state),
        key=KEY,
    )


ANN, BOB, ZOE = person("ann@acme"), person("bob@acme", position="Sales"), person("zoe@acme")
TENANT = [user("ann@acme"), user("bob@acme", position="Support"), user("zoe@acme")]


def test_a_change_both_plans_hold_identically_is_written() -> None:
    state = files(ANN, BOB, ZOE)
    result = review(saved(state, TENANT), state, TENANT)
    assert result.approved == {"bob@acme"}
    assert result.held == [] and result.no_longer_needed == []


def test_a_leaver_deactivated_by_hand_is_not_reactivated_by_an_unrelated_apply() -> None:
    state = files(ANN, BOB, ZOE)
    reviewed = saved(state, TENANT)
    by_hand = [user("ann@acme"), user("bob@acme", position="Support"), user("zoe@acme")]
    by_hand[2]["is_active"] = False
    result = review(reviewed, state, by_hand)
    assert result.approved == {"bob@acme"}
    assert result.held == [
        Held(
            "zoe@acme",
            "reactivate",
            ("is_active",),
            "not in the reviewed plan: the user changed in DealHub since the plan (is_active)",
        )
    ]


def test_a_change_of_files_merged_after_the_plan_is_held_as_such() -> None:
    reviewed = saved(files(ANN, BOB, ZOE), TENANT)
    merged = files(ANN, BOB, person("zoe@acme", is_active=False))
    result = review(reviewed, merged, TENANT)
    assert result.approved == {"bob@acme"}
    assert [(h.key, h.action) for h in result.held] == [("zoe@acme", "deactivate")]
    assert result.held[0].reason.startswith(
        "not in the reviewed plan: the files are not the ones planned"
    )


def test_a_user_that_moved_since_the_plan_is_held_naming_the_fields() -> None:
    reviewed = saved(files(ANN, BOB, ZOE), TENANT)
    moved = [user("ann@acme"), user("bob@acme", position="Marketing"), user("zoe@acme")]
    result = review(reviewed, files(ANN, BOB, ZOE), moved)
    assert result.approved == set()
    assert result.held[0].reason == "the user changed since the plan (position)"


def test_a_planned_create_of_a_user_who_exists_now_is_held() -> None:
    state = files(ANN, BOB, ZOE, person("new@acme"))
    reviewed = saved(state, TENANT)
    now = [*TENANT, user("new@acme", name="Someone Else")]
    result = review(reviewed, state, now)
    held = {h.key: h.reason for h in result.held}
    assert held["new@acme"] == "the user changed since the plan (it exists now)"
    assert "bob@acme" in result.approved


def test_a_reviewed_change_that_needs_a_held_create_is_held_too() -> None:
    report = person("bob@acme", position="Sales", user_manager_login="boss@acme")
    reviewed = saved(files(ANN, person("boss@acme"), report, ZOE), TENANT)
    # A later merge renamed the new manager: their create is no longer the reviewed one.
    merged = files(ANN, person("boss@acme", name="The Boss"), report, ZOE)
    result = review(reviewed, merged, TENANT)
    held = {h.key: h.reason for h in result.held}
    assert held["boss@acme"].startswith("the files are not the ones planned (fields: name")
    # bob's update is identical in both plans, but its manager would not exist.
    assert held["bob@acme"] == "it needs boss@acme, whose create is held"
    assert result.approved == set()


def test_a_reviewed_change_already_made_is_reported_not_written() -> None:
    state = files(ANN, BOB, ZOE)
    reviewed = saved(state, TENANT)
    done = [user("ann@acme"), user("bob@acme", position="Sales"), user("zoe@acme")]
    result = review(reviewed, state, done)
    assert result.approved == set() and result.held == []
    assert result.no_longer_needed == [
        Held(
            "bob@acme",
            "update",
            ("position",),
            "already made: the user is as the reviewed plan wanted",
        )
    ]


def test_a_reviewed_change_the_merged_files_no_longer_want_is_reported() -> None:
    reviewed = saved(files(ANN, BOB, ZOE), TENANT)
    merged = files(ANN, person("bob@acme", position="Support"), ZOE)
    result = review(reviewed, merged, TENANT)
    assert [h.reason for h in result.no_longer_needed] == [
        "no longer wanted: the files changed since the plan"
    ]


def test_a_plan_with_a_change_added_by_hand_is_refused_whole() -> None:
    # The attack the seal stops: the hand-deactivated leaver's reactivation, added to
    # the artifact consistently, would otherwise count as reviewed.
    state = files(ANN, BOB, ZOE)
    reviewed = saved(state, TENANT)
    by_hand = [user("ann@acme"), user("bob@acme", position="Support"), user("zoe@acme")]
    by_hand[2]["is_active"] = False
    forged = to_json_data(plan(state, by_hand))
    forged["desired_digest"] = reviewed["desired_digest"]
    forged["seal"] = reviewed["seal"]
    with pytest.raises(StalePlanError, match=saved_plan.ALTERED) as refused:
        review(forged, state, by_hand)
    assert "its seal does not match its content" in str(refused.value)


def test_a_plan_without_a_seal_is_refused_with_how_to_make_one() -> None:
    state = files(ANN, BOB, ZOE)
    unsealed = {k: v for k, v in saved(state, TENANT).items() if k != "seal"}
    with pytest.raises(StalePlanError, match="it has no seal"):
        review(unsealed, state, TENANT)


def test_a_plan_sealed_with_another_token_is_refused() -> None:
    state = files(ANN, BOB, ZOE)
    other = saved_plan.sealed(to_json_data(plan(state, TENANT)), saved_plan.seal_key("other"))
    with pytest.raises(StalePlanError, match="sealed with another API token"):
        review(other, state, TENANT)


def test_the_seal_does_not_contain_the_token() -> None:
    token = "very-secret-token-1234567890"
    data = saved_plan.sealed({"changes": []}, saved_plan.seal_key(token))
    assert token not in json.dumps(data)
    assert data["seal"].startswith("hmac-sha256:") and len(data["seal"]) == 12 + 64
