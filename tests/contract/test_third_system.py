"""A third system is one module and one registry line: the core works on it unchanged.

The fake system (fake_provider) is registered by the `fake_registered` fixture
alone. The generic diff, guards, apply loop, renderers and saved-plan checks
then serve it as they serve DealHub and Pipedrive.
"""

from __future__ import annotations

import copy
import json

import pytest

from reconciler import engine, providers, saved_plan
from reconciler.apply import Applier
from reconciler.desired import DesiredState, DesiredUser
from reconciler.engine import make_plan
from reconciler.errors import StalePlanError
from reconciler.plan import dumps, from_json_data, to_json_data
from reconciler.providers.base import OpenOptions
from reconciler.render import render_plan, render_reports
from reconciler.settings import Settings

from . import fake_provider

pytestmark = pytest.mark.usefixtures("fake_registered")

TARGET = "fake:acme"


def people(*handles: str, inactive: tuple[str, ...] = ()) -> DesiredState:
    users = {
        handle: DesiredUser(
            handle,
            {"name": handle.title(), "is_active": handle not in inactive},
            "people.yaml",
            number,
            {},
        )
        for number, handle in enumerate(handles, start=1)
    }
    block = {"protect": ["root"], "max_deactivations": "25%"}
    settings = Settings(systems=("fake",), blocks={"fake": block})
    return DesiredState(users=users, settings=settings, files=["people.yaml"])


def seed(*users: dict[str, object]) -> fake_provider.FakeTenant:
    tenant = fake_provider.FakeTenant({str(user["handle"]): dict(user) for user in users})
    fake_provider.PROVIDER.tenants[TARGET] = tenant
    return tenant


def test_one_registry_line_makes_it_a_system() -> None:
    assert providers.get("fake") is fake_provider.PROVIDER
    assert providers.title("fake") == "Fake"


def test_plan_guard_render_apply_and_replan() -> None:
    tenant = seed(
        {"handle": "root", "name": "Root", "is_active": True},
        {"handle": "old", "name": "Old", "is_active": True},
        {"handle": "Bob", "name": "bob", "is_active": False},
    )
    state = people("ann", "Ann", "bob", "carl", "Bob", "dan")
    provider = providers.get("fake")
    remote = provider.open(TARGET, None, writable=True, options=OpenOptions())

    plan = make_plan(state, provider, remote.read(), TARGET, allow_mass_deactivation=False)
    assert [(c.action, c.key) for c in plan.changes] == [
        ("create", "Ann"),
        ("create", "ann"),
        ("create", "bob"),
        ("create", "carl"),
        ("create", "dan"),
        ("reactivate", "Bob"),
        ("deactivate", "old"),  # root is unlisted too, but protected
    ]
    assert plan.by_action("reactivate")[0].send == {
        "handle": "Bob",
        "name": "Bob",
        "is_active": True,
    }
    # 1 of 2 active users is more than 25%: the guard stops it unless allowed.
    assert not plan.safe and [g.guard for g in plan.guards] == ["max_deactivations"]

    text, markdown = render_plan(plan, "text"), render_plan(plan, "markdown")
    assert text.startswith(f"Fake plan for {TARGET}")
    assert "Plan: 5 to create, 0 to update, 1 to reactivate, 1 to deactivate." in text
    assert markdown.startswith(f"### Fake plan for {TARGET}")
    assert json.loads(render_plan(plan, "json"))["system"] == "fake"

    plan = make_plan(state, provider, remote.read(), TARGET, allow_mass_deactivation=True)
    assert plan.safe
    report = Applier(remote, provider=provider).run(plan)
    assert report.ok, report.outcomes
    writes = [entry["body"] for entry in tenant.log if entry["method"] == "PUT"]
    # batch_size 2, creates first, deactivations last
    assert [[user["handle"] for user in body] for body in writes] == [
        ["Ann", "ann"],
        ["bob", "carl"],
        ["dan", "Bob"],
        ["old"],
    ]
    assert "Apply complete: 5 created, 0 updated, 1 reactivated, 1 deactivated, 0 failed." in (
        render_reports([report], "text")
    )
    assert tenant.users["root"]["is_active"] is True
    assert tenant.users["old"]["is_active"] is False

    again = make_plan(state, provider, remote.read(), TARGET, allow_mass_deactivation=False)
    assert again.changes == [] and again.safe


def test_saved_plan_checks_refuse_an_edited_plan() -> None:
    seed({"handle": "ann", "name": "Ann", "is_active": True})
    state = people("ann", "bob", inactive=("ann",))
    remote = providers.get("fake").open(TARGET, None, writable=False, options=OpenOptions())
    plan = make_plan(
        state, providers.get("fake"), remote.read(), TARGET, allow_mass_deactivation=True
    )
    saved_plan.check_consistent(plan)

    smuggled = copy.deepcopy(plan)
    smuggled.changes[0].send["email"] = "evil@example.com"  # a field the system never takes
    with pytest.raises(StalePlanError, match=saved_plan.ALTERED) as refused:
        saved_plan.check_consistent(smuggled)
    assert refused.value.details == [
        "bob (create): its payload does not follow from before and fields (email)"
    ]

    hidden = copy.deepcopy(plan)
    deactivate = next(c for c in hidden.changes if c.action == "deactivate")
    deactivate.action = "update"  # an is_active change passed off as an update
    with pytest.raises(StalePlanError, match=saved_plan.ALTERED) as refused:
        saved_plan.check_consistent(hidden)
    assert "an is_active change must be a reactivate or deactivate" in refused.value.details[0]


def test_a_saved_plan_reads_back() -> None:
    seed({"handle": "ann", "name": "Ann", "is_active": True})
    remote = providers.get("fake").open(TARGET, None, writable=False, options=OpenOptions())
    plan = make_plan(
        people("bob"), providers.get("fake"), remote.read(), TARGET, allow_mass_deactivation=True
    )
    saved = json.loads(dumps(plan))
    read_back = from_json_data(saved)
    assert to_json_data(read_back) == saved
    saved_plan.check_consistent(read_back)


def test_the_workflow_selects_it() -> None:
    assert engine.select(people("ann"), ("fake",)) == [fake_provider.PROVIDER]
