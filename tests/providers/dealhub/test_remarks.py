"""DealHub's remark on a plan: the writes that carry no external_user_id (providers.remarks)."""

from __future__ import annotations

from reconciler.model import Change, FieldChange, Plan
from reconciler.plan import to_json_data
from reconciler.providers.dealhub.remarks import WITHOUT_EXTERNAL_ID, remarks
from reconciler.providers.remarks import plan_remarks
from reconciler.render import render_plan


def change(login: str, *, external_id: bool = False, blocked: str | None = None) -> Change:
    send = {"login": login, **({"external_user_id": "005"} if external_id else {})}
    fields = {"is_active": FieldChange(True, False)}
    return Change("deactivate", login, fields, {"login": login}, send, blocked)


def plan_of(*changes: Change, system: str = "dealhub") -> Plan:
    return Plan("sim:t.json", list(changes), 0, system=system, token_env="DEALHUB_TOKEN")


def test_the_remark_concerns_the_writes_without_the_id_and_not_the_blocked_ones() -> None:
    plan = plan_of(
        change("a@x"),
        change("b@x", external_id=True),
        change("c@x", blocked="no name"),
        change("d@x"),
    )
    [remark] = plan_remarks(plan)
    assert remark.name == WITHOUT_EXTERNAL_ID
    assert [c.key for c in remark.concerns] == ["a@x", "d@x"]
    assert remark.text.startswith("2 of 3 writes carry no external_user_id: ")
    assert remark.headline == "2 writes carry no `external_user_id`"
    assert to_json_data(plan)[WITHOUT_EXTERNAL_ID] == 2


def test_one_write_is_said_in_the_singular() -> None:
    [remark] = remarks(plan_of(change("a@x")))
    assert remark.headline == "1 write carries no `external_user_id`"


def test_a_plan_whose_writes_all_carry_the_id_has_no_remark() -> None:
    plan = plan_of(change("a@x", external_id=True), change("b@x", blocked="no name"))
    assert plan_remarks(plan) == []
    assert to_json_data(plan)[WITHOUT_EXTERNAL_ID] == 0


def test_another_system_has_no_remarks_and_its_json_counts_zero() -> None:
    # Pipedrive ships no remarks module: nothing is remarked, the format's count is 0.
    plan = plan_of(change("a@x.com"), system="pipedrive")
    assert plan_remarks(plan) == []
    assert to_json_data(plan)[WITHOUT_EXTERNAL_ID] == 0
    assert "external_user_id" not in render_plan(plan, "text")
    assert "external_user_id" not in render_plan(plan, "markdown")


def test_a_plan_of_a_system_nobody_registered_has_no_remarks() -> None:
    assert plan_remarks(plan_of(change("a@x"), system="nosuch")) == []


def test_the_renderers_show_the_remark_with_whom_it_concerns() -> None:
    plan = plan_of(change("a@x"), change("b@x", external_id=True))
    text = render_plan(plan, "text")
    assert "Note: 1 of 2 writes carry no external_user_id: reads never return it" in text
    markdown = render_plan(plan, "markdown")
    assert "<summary>Note: 1 write carries no <code>external_user_id</code></summary>" in markdown
    assert "Without it: `a@x`" in markdown
