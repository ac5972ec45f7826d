"""Safety guards: max_deactivations, every user deactivated, an empty desired state."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import guards
from reconciler.desired import DesiredState, DesiredUser
from reconciler.diff import compute_plan
from reconciler.errors import EXIT_UNSAFE, UnsafePlanError
from reconciler.model import Change, FieldChange, GuardTrip, Plan
from reconciler.settings import Settings, Threshold

TARGET = "https://api.dealhub.io"


def deactivation(login: str) -> Change:
    before = {"login": login, "email": f"{login}.com", "name": login, "is_active": True}
    return Change(
        action="deactivate",
        key=login,
        fields={"is_active": FieldChange(True, False)},
        before=before,
        send={**before, "is_active": False},
    )


def plan_with(deactivations: int, active: int, desired_users: int = 5) -> Plan:
    return Plan(
        target=TARGET,
        changes=[deactivation(f"u{i}@acme") for i in range(deactivations)],
        unchanged=active - deactivations,
        active_users=active,
        desired_users=desired_users,
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )


def evaluate(plan: Plan, threshold: Threshold, allow: bool = False) -> Plan:
    return guards.evaluate(plan, threshold, allow_mass_deactivation=allow)


def names(plan: Plan) -> list[str]:
    return [g.guard for g in plan.guards]


@pytest.mark.parametrize(
    ("threshold", "active", "at_limit"),
    [
        (Threshold(3, percent=False), 10, 3),
        (Threshold(0, percent=False), 10, 0),
        (Threshold(25, percent=True), 8, 2),  # 25% of 8 allows 2, not 3
        (Threshold(25, percent=True), 12, 3),
        (Threshold(10, percent=True), 9, 0),
        (Threshold(33.3, percent=True), 3000, 999),
        (Threshold(50, percent=True), 7, 3),
    ],
)
def test_at_the_limit_passes_just_past_it_trips(
    threshold: Threshold, active: int, at_limit: int
) -> None:
    ok = evaluate(plan_with(at_limit, active), threshold)
    assert ok.guards == []
    assert ok.safe
    guards.raise_if_unsafe(ok)

    over = evaluate(plan_with(at_limit + 1, active), threshold)
    assert "max_deactivations" in names(over)
    assert not over.safe
    trip = next(g for g in over.guards if g.guard == "max_deactivations")
    assert f"{at_limit + 1} deactivations" in trip.message
    assert f"at most {at_limit}" in trip.message
    assert trip.message.endswith("by 1")
    assert not trip.overridden


def test_the_message_says_by_how_much() -> None:
    plan = evaluate(plan_with(7, 20), Threshold(2, percent=False))
    (trip,) = plan.guards
    assert trip.message == "7 deactivations exceed max_deactivations (at most 2) by 5"


def test_a_percentage_names_its_basis() -> None:
    plan = evaluate(plan_with(3, 8), Threshold(25, percent=True))
    (trip,) = plan.guards
    assert "25% of 8 active users" in trip.message
    assert trip.message.endswith("by 1")


def test_all_active_users_deactivated() -> None:
    plan = evaluate(plan_with(4, 4), Threshold(100, percent=True))
    assert names(plan) == ["all_users"]
    assert "every active user (4 of 4)" in plan.guards[0].message
    assert not plan.safe


def test_one_active_user_kept_is_not_all_users() -> None:
    plan = evaluate(plan_with(3, 4), Threshold(100, percent=True))
    assert plan.guards == []


def test_an_empty_tenant_trips_nothing_but_an_empty_file() -> None:
    assert evaluate(plan_with(0, 0), Threshold(0, percent=False)).guards == []
    empty = evaluate(plan_with(0, 0, desired_users=0), Threshold(25, percent=True))
    assert names(empty) == ["empty_desired_state"]


def test_empty_desired_state_through_the_diff() -> None:
    desired = DesiredState(users={}, settings=Settings(), files=["users.yaml"])
    tenant: list[dict[str, Any]] = [
        {"login": f"u{i}@acme", "email": f"u{i}@acme.com", "name": "U", "is_active": True}
        for i in range(3)
    ]
    plan = compute_plan(desired, tenant, target=TARGET)
    evaluate(plan, desired.settings.max_deactivations)
    assert sorted(names(plan)) == ["all_users", "empty_desired_state", "max_deactivations"]
    with pytest.raises(UnsafePlanError):
        guards.raise_if_unsafe(plan)


def test_a_desired_state_that_keeps_users_passes() -> None:
    users = {
        f"u{i}@acme": DesiredUser(
            f"u{i}@acme", {"email": f"u{i}@acme.com", "name": "U", "is_active": True}, "f", 1, {}
        )
        for i in range(8)
    }
    desired = DesiredState(users=users, settings=Settings(), files=["f"])
    tenant: list[dict[str, Any]] = [
        {"login": f"u{i}@acme", "email": f"u{i}@acme.com", "name": "U", "is_active": True}
        for i in range(10)
    ]
    plan = evaluate(compute_plan(desired, tenant, target=TARGET), Threshold(25, percent=True))
    assert plan.summary()["deactivate"] == 2
    assert plan.guards == []
    tenant.append({"login": "u10@acme", "email": "x@acme.com", "name": "X", "is_active": True})
    plan = evaluate(compute_plan(desired, tenant, target=TARGET), Threshold(25, percent=True))
    # 3 of 11 active users is more than 25% (2.75)
    assert names(plan) == ["max_deactivations"]


def test_override_records_the_guards_and_makes_the_plan_safe() -> None:
    plan = evaluate(plan_with(5, 5, desired_users=0), Threshold(1, percent=False), allow=True)
    assert sorted(names(plan)) == ["all_users", "empty_desired_state", "max_deactivations"]
    assert all(g.overridden for g in plan.guards)
    assert plan.safe
    guards.raise_if_unsafe(plan)


def test_raise_if_unsafe_exits_3_with_the_reason() -> None:
    plan = evaluate(plan_with(3, 8), Threshold(25, percent=True))
    with pytest.raises(UnsafePlanError) as info:
        guards.raise_if_unsafe(plan)
    assert info.value.exit_code == EXIT_UNSAFE == 3
    assert plan.guards[0].message in str(info.value)
    assert "--allow-mass-deactivation" in str(info.value)


def test_evaluate_replaces_earlier_results() -> None:
    plan = plan_with(3, 8)
    evaluate(plan, Threshold(25, percent=True))
    evaluate(plan, Threshold(25, percent=True))
    assert names(plan) == ["max_deactivations"]
    evaluate(plan, Threshold(50, percent=True))
    assert plan.guards == []
    assert plan.safe


def test_evaluate_returns_the_plan() -> None:
    plan = plan_with(1, 8)
    assert evaluate(plan, Threshold(25, percent=True)) is plan


def test_a_tripped_guard_points_to_the_setting_before_the_flag() -> None:
    plan = Plan(
        target="t",
        changes=[],
        unchanged=0,
        active_users=4,
        desired_users=1,
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )
    plan.guards = [GuardTrip("max_deactivations", "5 deactivations exceed max_deactivations")]
    with pytest.raises(UnsafePlanError) as stopped:
        guards.raise_if_unsafe(plan)
    message = str(stopped.value)
    assert message.index("raise max_deactivations in the files' settings") < message.index(
        "--allow-mass-deactivation"
    )
