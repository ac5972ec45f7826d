"""The plan's JSON form (SPEC section 5), which is also the saved plan apply reads."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from reconciler import guards
from reconciler.desired import DesiredState, DesiredUser
from reconciler.diff import compute_plan
from reconciler.errors import UsageError
from reconciler.model import Plan
from reconciler.plan import FORMAT_VERSION, dumps, from_json_data, to_json_data
from reconciler.render import render_plan
from reconciler.settings import Environment, Settings, Threshold
from reconciler.wording import summary_line

TARGET = "https://api.dealhub.io"


def desired_user(login: str, **fields: Any) -> DesiredUser:
    fields = {
        "email": f"{login.split('@')[0]}@acme.com",
        "name": login,
        "is_active": True,
        **fields,
    }
    return DesiredUser(login, fields, "users.yaml", 1, {})


def tenant_user(login: str, **fields: Any) -> dict[str, Any]:
    return {
        "login": login,
        "id": str(100 + len(login)),
        "email": f"{login.split('@')[0]}@acme.com",
        "name": login,
        "is_active": True,
        **fields,
    }


def sample(tenant_order: int = 1, environment: Environment | None = None) -> Plan:
    """A plan with every action, warnings and a tripped guard."""
    desired = DesiredState(
        users={
            u.login: u
            for u in [
                desired_user("new@acme", external_user_id="005", user_manager_login="roy@acme"),
                desired_user("dan@acme", position="CCS", fax=None),
                desired_user("noa@acme"),
                desired_user("ex@acme", is_active=False),
                desired_user("roy@acme", is_active=False),
                desired_user("bob@acme"),
            ]
        },
        settings=Settings(),
        files=["users.yaml"],
        environment=environment,
    )
    tenant = [
        tenant_user("dan@acme", position="Sales", fax="123", city="Haifa"),
        tenant_user("noa@acme", is_active=False),
        tenant_user("ex@acme"),
        tenant_user("roy@acme"),
        tenant_user("bob@acme", user_manager_login="roy@acme"),
        tenant_user("Bob@acme"),
        tenant_user("temp@acme"),
    ][::tenant_order]
    plan = compute_plan(desired, tenant, target=TARGET)
    return guards.evaluate(plan, Threshold(25, percent=True), allow_mass_deactivation=False)


def test_sample_has_every_part() -> None:
    plan = sample()
    assert plan.summary() == {
        "create": 1,
        "update": 1,
        "reactivate": 1,
        "deactivate": 4,
        "unchanged": 1,
    }
    assert plan.warnings and plan.guards and not plan.safe


def test_shape_matches_the_spec() -> None:
    plan = sample()
    data = to_json_data(plan)
    spec_keys = {"format_version", "target", "summary", "safe", "changes", "warnings"}
    extra_keys = {
        "send",
        "guards",
        "environment",
        "token_env",
        "login_suffix",
        "system",
        "notes",
        "active_users",
        "desired_users",
        "writes_without_external_user_id",
    }
    assert set(data) == spec_keys | (extra_keys - {"send"})
    plan.desired_digest = "sha256:" + "ab" * 32
    assert to_json_data(plan)["desired_digest"] == plan.desired_digest
    assert data["format_version"] == 1
    assert data["target"] == TARGET
    assert data["summary"] == {
        "create": 1,
        "update": 1,
        "reactivate": 1,
        "deactivate": 4,
        "unchanged": 1,
    }
    assert list(data["summary"]) == ["create", "update", "reactivate", "deactivate", "unchanged"]
    assert data["safe"] is False
    assert data["environment"] is None
    assert data["token_env"] == "DEALHUB_TOKEN"
    assert data["active_users"] == 6
    assert data["desired_users"] == 6
    assert data["guards"] == [
        {"guard": g.guard, "message": g.message, "overridden": False} for g in plan.guards
    ]
    assert [(c["action"], c["login"]) for c in data["changes"]] == [
        ("create", "new@acme"),
        ("update", "dan@acme"),
        ("reactivate", "noa@acme"),
        ("deactivate", "Bob@acme"),
        ("deactivate", "ex@acme"),
        ("deactivate", "roy@acme"),
        ("deactivate", "temp@acme"),
    ]
    for change in data["changes"]:
        expected = {"action", "login", "fields", "send"}
        if change["action"] != "create":
            expected.add("before")
        assert set(change) == expected
        for fc in change["fields"].values():
            assert set(fc) == {"before", "after"}
    create, update = data["changes"][0], data["changes"][1]
    assert "before" not in create
    assert update["fields"] == {
        "fax": {"before": "123", "after": None},
        "position": {"before": "Sales", "after": "CCS"},
    }
    assert update["before"] == tenant_user("dan@acme", position="Sales", fax="123", city="Haifa")
    assert update["send"] == {
        "login": "dan@acme",
        "email": "dan@acme.com",
        "name": "dan@acme",
        "is_active": True,
        "position": "CCS",
        "fax": "",
    }
    assert create["send"]["external_user_id"] == "005"
    assert data["warnings"] == [{"login": w.key, "message": w.message} for w in plan.warnings]
    assert all(set(w) == {"login", "message"} for w in data["warnings"])
    json.dumps(data)  # JSON-native throughout


def test_environment_fields() -> None:
    env = Environment("sandbox", TARGET, token_env="DEALHUB_SANDBOX_TOKEN", login_suffix="_sb")
    data = to_json_data(sample(environment=env))
    assert data["environment"] == "sandbox"
    assert data["token_env"] == "DEALHUB_SANDBOX_TOKEN"


def test_round_trip() -> None:
    plan = sample()
    assert from_json_data(to_json_data(plan)) == plan
    assert from_json_data(json.loads(dumps(plan))) == plan
    env = Environment("sandbox", TARGET, token_env="DEALHUB_SANDBOX_TOKEN")
    with_env = sample(environment=env)
    assert from_json_data(json.loads(dumps(with_env))) == with_env


def test_round_trip_keeps_overridden_guards_and_safety() -> None:
    plan = sample()
    guards.evaluate(plan, Threshold(25, percent=True), allow_mass_deactivation=True)
    back = from_json_data(json.loads(dumps(plan)))
    assert back.safe and back.guards == plan.guards and back.guards


def test_round_trip_of_an_empty_plan() -> None:
    plan = Plan(
        target=TARGET,
        changes=[],
        unchanged=3,
        active_users=3,
        desired_users=3,
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )
    assert from_json_data(json.loads(dumps(plan))) == plan


def _mutations() -> list[tuple[str, Any]]:
    def edit(fn: Any) -> Any:
        data = to_json_data(sample())
        result = fn(data)
        return data if result is None else result

    return [
        ("a list", []),
        ("a string", "plan"),
        ("null", None),
        ("version 2", edit(lambda d: d.update(format_version=2))),
        ("version '1'", edit(lambda d: d.update(format_version="1"))),
        ("version true", edit(lambda d: d.update(format_version=True))),
        ("no version", edit(lambda d: d.pop("format_version") and None)),
        ("no target", edit(lambda d: d.pop("target") and None)),
        ("changes not a list", edit(lambda d: d.update(changes={}))),
        ("a change not an object", edit(lambda d: d["changes"].append("x"))),
        ("bad action", edit(lambda d: d["changes"][1].update(action="delete"))),
        ("unhashable action", edit(lambda d: d["changes"][1].update(action=["update"]))),
        ("change without send", edit(lambda d: d["changes"][1].pop("send") and None)),
        ("send not an object", edit(lambda d: d["changes"][1].update(send=["x"]))),
        ("unknown system", edit(lambda d: d.update(system="salesforce"))),
        ("bad note", edit(lambda d: d["notes"].append({"login": "a"}))),
        ("update without before", edit(lambda d: d["changes"][1].pop("before") and None)),
        ("create with before", edit(lambda d: d["changes"][0].update(before={"login": "x"}))),
        ("no login", edit(lambda d: d["changes"][1].update(login=""))),
        ("planned twice", edit(lambda d: d["changes"].append(copy.deepcopy(d["changes"][1])))),
        ("bad fields", edit(lambda d: d["changes"][1].update(fields=[]))),
        ("bad field change", edit(lambda d: d["changes"][1]["fields"].update(fax="x"))),
        ("bad guard", edit(lambda d: d["guards"].append({"guard": "x"}))),
        ("safe that the guards deny", edit(lambda d: d.update(safe=True))),
        ("bad warning", edit(lambda d: d["warnings"].append({"login": 1}))),
        ("summary not an object", edit(lambda d: d.update(summary=[]))),
        ("bad unchanged", edit(lambda d: d["summary"].update(unchanged="many"))),
        ("token_env not a name", edit(lambda d: d.update(token_env="$(cat ~/.ssh/id_rsa)"))),
        ("bad active_users", edit(lambda d: d.update(active_users=None))),
    ]


@pytest.mark.parametrize(("what", "data"), _mutations(), ids=[m[0] for m in _mutations()])
def test_from_json_data_refuses_garbage(what: str, data: Any) -> None:
    with pytest.raises(UsageError, match="not a reconciler plan"):
        from_json_data(data)


def test_the_unmodified_sample_is_accepted() -> None:
    # The mutations above start from this: each of them is what makes it fail.
    from_json_data(to_json_data(sample()))


def test_output_is_deterministic() -> None:
    first = dumps(sample())
    assert dumps(sample()) == first
    # The order the tenant lists its users in makes no difference either.
    assert dumps(sample(tenant_order=-1)) == first
    for fmt in ("text", "markdown", "json"):
        assert render_plan(sample(), fmt) == render_plan(sample(tenant_order=-1), fmt)


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for key, v in value.items() for k in (key, *_keys(v))]
    if isinstance(value, list):
        return [k for item in value for k in _keys(item)]
    return []


def test_no_token_in_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "dh_live_0123456789abcdef"
    monkeypatch.setenv("DEALHUB_TOKEN", secret)
    monkeypatch.setenv("DEALHUB_SANDBOX_TOKEN", secret)
    env = Environment("sandbox", TARGET, token_env="DEALHUB_SANDBOX_TOKEN")
    plan = sample(environment=env)
    for fmt in ("text", "markdown", "json"):
        assert secret not in render_plan(plan, fmt)
    data = to_json_data(plan)
    assert [k for k in _keys(data) if "token" in k.lower()] == ["token_env"]
    assert not any("authorization" in k.lower() or "secret" in k.lower() for k in _keys(data))
    assert data["token_env"] == "DEALHUB_SANDBOX_TOKEN"


def test_summary_line() -> None:
    line = summary_line({"create": 1, "update": 2, "reactivate": 3, "deactivate": 4})
    assert line == "Plan: 1 to create, 2 to update, 3 to reactivate, 4 to deactivate."


def test_format_version() -> None:
    assert FORMAT_VERSION == 1


def test_cost_line_with_writes_and_with_none() -> None:
    from reconciler.model import Change, FieldChange, Plan, PlanCost
    from reconciler.wording import cost_line

    change = Change("deactivate", "a@x.com", {"is_active": FieldChange(True, False)}, {}, {})
    busy = Plan("sim:c.json", [change, change], 0, system="pipedrive", token_env="DEALHUB_TOKEN")
    busy.cost = PlanCost("tokens", 20, 20, budget_left=30)
    assert cost_line(busy) == (
        "Cost: 40 tokens (2 writes x 10, 20 for the verification read); 30 tokens left of "
        "today's budget (apply would stop before the budget runs out; the next day's run goes on)."
    )
    idle = Plan(
        "sim:c.json",
        [],
        5,
        system="pipedrive",
        cost=PlanCost("tokens", 0, 0, 900),
        token_env="DEALHUB_TOKEN",
    )
    assert (
        cost_line(idle) == "Cost: 0 tokens (nothing to write); 900 tokens left of today's budget."
    )
    assert cost_line(Plan("sim:t.json", [], 5, system="dealhub", token_env="DEALHUB_TOKEN")) is None
