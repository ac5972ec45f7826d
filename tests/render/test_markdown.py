"""The markdown renderer: the plan as a pull-request comment."""

from __future__ import annotations

import re

import pytest
from golden import TARGET, check_golden, example_plan

from reconciler import guards
from reconciler.plan import Change, FieldChange, Plan, PlanWarning, summary_line
from reconciler.render import render_plan
from reconciler.render.markdown import MAX_CHARS, MarkdownRenderer, escape
from reconciler.settings import Threshold

HOSTILE = "| @everyone <script>alert(1)</script> ``` "


def test_golden() -> None:
    plan = example_plan()
    text = MarkdownRenderer().render(plan)
    assert render_plan(plan, "markdown") == text
    check_golden("plan.md", text)


def test_summary_comes_first() -> None:
    plan = example_plan()
    text = MarkdownRenderer().render(plan)
    assert text.startswith(f"### DealHub plan for {TARGET}\n")
    summary = text.index(summary_line(plan.summary()))
    assert summary < text.index("<details>")
    assert "7 unchanged" in text[: text.index("<details>")]


def test_deactivations_are_called_out() -> None:
    text = MarkdownRenderer().render(example_plan())
    head = text[: text.index("<details>")]
    assert "> [!WARNING]" in head
    assert "**2 users will lose access (deactivated):**" in head
    assert escape("ex.employee@acme") in head and escape("temp.intern@acme") in head


def test_no_deactivation_no_callout() -> None:
    plan = example_plan()
    plan.changes = [c for c in plan.changes if c.action != "deactivate"]
    assert "lose access" not in MarkdownRenderer().render(plan)


def test_one_details_block_per_change() -> None:
    plan = example_plan()
    text = MarkdownRenderer().render(plan)
    assert text.count("<details>") == len(plan.changes) == text.count("</details>")
    assert "| position | Sales | CCS |" in text
    assert "| fax | 09-4545456 | *(empty)* |" in text


def test_no_changes() -> None:
    text = MarkdownRenderer().render(Plan(target=TARGET, changes=[], unchanged=3))
    assert "No changes. The tenant matches the desired state." in text
    assert "<details>" not in text


def test_environment_in_the_title() -> None:
    plan = Plan(target=TARGET, changes=[], unchanged=0, environment="sand_box")
    first = MarkdownRenderer().render(plan).splitlines()[0]
    assert first == f"### DealHub plan for {TARGET} · environment **sand&#95;box**"


@pytest.mark.parametrize(
    "text", [HOSTILE, "a|b", "`x`", "<img src=x onerror=alert(1)>", "@channel", "x\ny\r\nz"]
)
def test_escape_makes_text_inert(text: str) -> None:
    out = escape(text)
    for raw in ("|", "`", "<", ">", "\n", "\r"):
        assert raw not in out
    assert not re.search(r"@\w", out)


def test_escape_keeps_plain_text_readable() -> None:
    assert escape("Daniel Smith (Sales), Tel Aviv") == "Daniel Smith (Sales), Tel Aviv"
    assert escape("a&b") == "a&amp;b"


def test_escape_control_characters() -> None:
    out = escape("a\x1b[31m\u202eb\x00")
    assert "\x1b" not in out and "\u202e" not in out and "\x00" not in out


def hostile_plan() -> Plan:
    login = f"{HOSTILE}@acme"
    change = Change(
        action="update",
        login=login,
        fields={
            "name": FieldChange("Old", HOSTILE),
            "position": FieldChange(HOSTILE, "Sales | Ops"),
        },
        before={"login": login},
        send={"login": login},
    )
    deactivate = Change(
        action="deactivate",
        login=f"x{HOSTILE}",
        fields={"is_active": FieldChange(True, False)},
        before={"login": f"x{HOSTILE}"},
        send={"login": f"x{HOSTILE}"},
    )
    return Plan(
        target=TARGET,
        changes=[change, deactivate],
        unchanged=0,
        warnings=[PlanWarning(login, f"logins differ only in letter case: {login}")],
    )


def test_hostile_user_text_is_escaped_everywhere() -> None:
    text = MarkdownRenderer().render(hostile_plan())
    assert "<script" not in text
    assert "@everyone" not in text
    assert "```" not in text
    for line in text.splitlines():
        if "everyone" in line:
            assert "`" not in line.replace("<code>", "").replace("</code>", ""), line
        if line.startswith("| ") and not line.startswith("| ---"):
            # field | before | after: exactly four pipes, none from the user
            assert line.count("|") == 4, line
    assert "| name | Old | " in text
    assert "| position | " in text


def test_hostile_text_keeps_the_table_rows_whole() -> None:
    text = MarkdownRenderer().render(hostile_plan())
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 * 2 + 2 + 1  # two headers, two separators, 2 + 1 field rows


def big_plan(count: int = 5000) -> Plan:
    changes = []
    actions = ("create", "update", "reactivate", "deactivate")
    for i in range(count):
        action = actions[i % 4]
        login = f"{'very.long.login.' * 4}{i:05d}@acme"[:90]
        name = f"{HOSTILE}{'N' * 300}"[:300]
        changes.append(
            Change(
                action=action,  # type: ignore[arg-type]
                login=login,
                fields={"name": FieldChange(None if action == "create" else "Old", name)},
                before=None if action == "create" else {"login": login},
                send={"login": login, "name": name},
            )
        )
    changes.sort(key=lambda c: (actions.index(c.action), c.login))
    return Plan(
        target=TARGET,
        changes=changes,
        unchanged=12,
        warnings=[PlanWarning(c.login, f"{c.login}: {'w' * 200}") for c in changes[:3000]],
        active_users=count,
        desired_users=count,
    )


def test_a_huge_plan_fits_in_a_comment() -> None:
    plan = big_plan()
    guards.evaluate(plan, Threshold(20, percent=True), allow_mass_deactivation=False)
    text = MarkdownRenderer().render(plan)
    assert len(text) <= MAX_CHARS == 65_000
    # the summary is kept whole, and the cut is said
    assert summary_line(plan.summary()) in text
    assert "1250 to deactivate" in text
    assert "**1250 users will lose access (deactivated):**" in text
    assert "Safety guard tripped" in text
    kept = text.count("<details>")
    assert 0 < kept < len(plan.changes)
    assert text.count("</details>") == kept
    assert f"Details of {len(plan.changes) - kept} more changes were cut" in text
    assert "… and " in text  # the lists of the summary were shortened, and say so


@pytest.mark.parametrize("limit", [1_000, 3_000, 10_000])
def test_any_limit_is_respected(limit: int) -> None:
    text = MarkdownRenderer(max_chars=limit).render(big_plan(400))
    assert len(text) <= limit


def test_a_plan_that_fits_is_not_cut() -> None:
    text = MarkdownRenderer().render(example_plan())
    assert "were cut" not in text and "… and" not in text


def test_a_tripped_guard_is_shown() -> None:
    plan = example_plan()
    guards.evaluate(plan, Threshold(1, percent=False), allow_mass_deactivation=False)
    text = MarkdownRenderer().render(plan)
    head = text[: text.index("<details>")]
    assert "> [!CAUTION]" in head
    assert "**Safety guard tripped:** 2 deactivations exceed max&#95;deactivations" in head
    assert "`--allow-mass-deactivation`" in head
    guards.evaluate(plan, Threshold(1, percent=False), allow_mass_deactivation=True)
    text = MarkdownRenderer().render(plan)
    assert "Safety guard overridden" in text and "[!CAUTION]" not in text


def test_warnings_are_listed() -> None:
    text = MarkdownRenderer().render(hostile_plan())
    assert "**Warnings (1)**" in text
    assert "- logins differ only in letter case: &#124; @&#8203;everyone" in text
