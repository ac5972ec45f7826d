"""The JSON renderer: SPEC section 5, the same document `--out` saves."""

from __future__ import annotations

import json

from golden import TARGET, check_golden, example_plan

from reconciler import guards
from reconciler.model import Plan
from reconciler.plan import from_json_data, to_json_data
from reconciler.render import FORMATS, render_plan
from reconciler.render.json_format import JsonRenderer
from reconciler.settings import Threshold


def test_golden() -> None:
    check_golden("plan.json", JsonRenderer().render(example_plan()))


def test_output_parses_and_equals_to_json_data() -> None:
    plan = example_plan()
    text = JsonRenderer().render(plan)
    assert text.endswith("}\n")
    assert json.loads(text) == to_json_data(plan)
    assert render_plan(plan, "json") == text


def test_a_guarded_plan() -> None:
    plan = example_plan()
    guards.evaluate(plan, Threshold(1, percent=False), allow_mass_deactivation=False)
    data = json.loads(JsonRenderer().render(plan))
    assert data["safe"] is False
    assert [g["guard"] for g in data["guards"]] == ["max_deactivations"]
    assert from_json_data(data) == plan


def test_example_plan_content() -> None:
    data = json.loads(JsonRenderer().render(example_plan()))
    assert data["summary"] == {
        "create": 1,
        "update": 2,
        "reactivate": 1,
        "deactivate": 2,
        "unchanged": 7,
    }
    daniel = next(c for c in data["changes"] if c["login"] == "daniel@acme")
    # email differs only in case in the tenant: not a change; the write-only id is sent
    assert daniel["fields"] == {"position": {"before": "Sales", "after": "CCS"}}
    assert daniel["send"]["external_user_id"] == "005XX000001"
    assert daniel["send"]["email"] == "Daniel@acme.com"


def test_unicode_is_kept_readable() -> None:
    plan = Plan(
        target=TARGET,
        changes=[],
        unchanged=0,
        environment="בדיקה",
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )
    assert "בדיקה" in JsonRenderer().render(plan)


def test_formats() -> None:
    assert set(FORMATS) == {"text", "json", "markdown"}
    plan = example_plan()
    assert render_plan(plan, "markdown").startswith("### DealHub plan")
    assert render_plan(plan, "text").startswith("DealHub plan for")
