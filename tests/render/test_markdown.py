"""The markdown renderer: the plan as a pull-request comment, as its reader sees it."""

from __future__ import annotations

import pytest
from gfm import BREAKS, read, table_rows
from golden import TARGET, check_golden, example_plan
from hypothesis import given
from hypothesis import strategies as st

from reconciler import guards
from reconciler.plan import ACTIONS, Action, Change, FieldChange, Plan, PlanWarning, summary_line
from reconciler.render import render_plan
from reconciler.render.markdown import (
    CUT_ORDER,
    FULL_PLAN,
    MAX_CHARS,
    WARNINGS_SHOWN,
    MarkdownRenderer,
    code,
    escape,
    html_code,
)
from reconciler.settings import Threshold
from reconciler.textsafe import printable

HOSTILE = "| @everyone <script>alert(1)</script> ``` "
# What the reader sees (the code span's backticks are gone).
ARTIFACT_NOTE = "The full plan is in the reconciler-plan artifact of this run (plan.txt, plan.json)"


def test_golden() -> None:
    plan = example_plan()
    text = MarkdownRenderer().render(plan)
    assert render_plan(plan, "markdown") == text
    check_golden("plan.md", text)


def test_summary_comes_first() -> None:
    plan = example_plan()
    text = MarkdownRenderer().render(plan)
    assert text.startswith(f"### DealHub plan for {TARGET}\n")
    page = read(text)
    assert page.elements[0].tag == "h3"
    assert page.all("p")[0] == f"{summary_line(plan.summary())} 7 unchanged."


def test_deactivations_and_reactivations_are_called_out() -> None:
    text = MarkdownRenderer().render(example_plan())
    head = text[: text.index("<details>")]
    assert "> [!WARNING]\n> **2 users will lose access (deactivated):** " in head
    assert "> [!IMPORTANT]\n> **1 user will regain access (reactivated):** `noa@acme`" in head
    assert "`ex.employee@acme`, `temp.intern@acme`" in head


def test_no_deactivation_no_callout() -> None:
    plan = example_plan()
    plan.changes = [c for c in plan.changes if c.action not in ("deactivate", "reactivate")]
    text = MarkdownRenderer().render(plan)
    assert "lose access" not in text and "regain access" not in text


def test_one_details_block_per_change() -> None:
    plan = example_plan()
    text = MarkdownRenderer().render(plan)
    assert text.count("<details>") == len(plan.changes) == text.count("</details>")
    rows = table_rows(read(text))
    assert ["position", "Sales", "CCS"] in rows
    assert ["fax", "09-4545456", "(empty)"] in rows
    assert ["email", "", "lucas@acme.com"] in rows


def test_an_update_names_its_fields_without_opening_it() -> None:
    plan = example_plan()
    daniel = next(c for c in plan.changes if c.login == "daniel@acme")
    daniel.fields["fax"] = FieldChange("1", "2")
    summaries = read(MarkdownRenderer().render(plan)).all("summary")
    assert "~ update daniel@acme: fax, position" in summaries
    assert "+ create lucas@acme" in summaries  # a create's fields are all of them


def test_no_changes() -> None:
    text = MarkdownRenderer().render(Plan(target=TARGET, changes=[], unchanged=3))
    assert "No changes. The tenant matches the desired state." in text
    assert "<details>" not in text


def test_environment_in_the_title() -> None:
    plan = Plan(target=TARGET, changes=[], unchanged=0, environment="sand_box")
    first = MarkdownRenderer().render(plan).splitlines()[0]
    assert first == f"### DealHub plan for {TARGET} · environment **sand&#95;box**"


# -- escaping, as the reader sees it ---------------------------------------------

TRICKY = [
    HOSTILE,
    "a|b",
    "`x`",
    "``",
    " lead and trail ",
    "a\\|b",
    "back\\",
    "<img src=x onerror=alert(1)>",
    "@channel",
    "x\ny\r\nz",
    "&amp; &#64; $x$ *b* _i_ ~~s~~ [l](u) # h",
    "dan\u200biel@acme",
    "evil\u202e@acme",
]


@pytest.mark.parametrize("text", TRICKY)
def test_escape_makes_text_inert(text: str) -> None:
    out = escape(text)
    for raw in ("<", ">", "\n", "\r"):
        assert raw not in out
    page = read(f"x {out} y")
    assert page.mentions() == []
    words = [w for w in printable(text).split() if "@" in w]
    assert [e.tag for e in page.elements] == ["p"] + ["code"] * len(words)
    assert page.all("code") == words


@pytest.mark.parametrize("text", TRICKY)
def test_a_code_span_shows_the_text_exactly(text: str) -> None:
    shown = printable(text)
    assert read(f"x {code(text)} y").all("code") == [shown]
    table = f"| a | b |\n| --- | --- |\n| {code(text, cell=True)} | z |\n"
    assert table_rows(read(table)) == [[shown, "z"]]
    summary = f"<details><summary>{html_code(text)}</summary>\n\nbody\n\n</details>\n"
    assert read(summary).all("code") == [shown]


@given(st.text(min_size=1, max_size=40))
def test_code_spans_show_any_text_exactly(text: str) -> None:
    shown = printable(text)
    assert read(f"x {code(text)} y").all("code") == [shown]
    table = f"| a | b |\n| --- | --- |\n| {code(text, cell=True)} | z |\n"
    assert table_rows(read(table)) == [[shown, "z"]]


def _words(text: str) -> str:
    return " ".join(text.split())


@given(st.text(max_size=40))
def test_free_text_reads_as_written_and_never_mentions(text: str) -> None:
    shown = printable(text)
    for source, seen in (("x {} y", "x {} y"), ("- {}", "{}"), ("> **a:** {}", "a: {}")):
        page = read(source.format(escape(text)))
        assert page.mentions() == []
        assert _words(" ".join(t for _, t in page.texts)) == _words(seen.format(shown))


def test_escape_keeps_plain_text_readable() -> None:
    assert escape("Daniel Smith (Sales), Tel Aviv") == "Daniel Smith (Sales), Tel Aviv"
    assert escape("a&b") == "a&amp;b"
    assert escape("write to daniel@acme.com") == "write to `daniel@acme.com`"


def test_escape_control_characters() -> None:
    out = escape("a\x1b[31m\u202eb\x00\u200b")
    assert out == "a&#92;u001b&#91;31m&#92;u202eb&#92;u0000&#92;u200b"
    assert read(out).all("p") == ["a\\u001b[31m\\u202eb\\u0000\\u200b"]


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


def test_hostile_user_text_is_inert_for_the_reader() -> None:
    page = read(MarkdownRenderer().render(hostile_plan()))
    tags = {e.tag for e in page.elements}
    assert not tags & {"script", "img", "pre", "h1", "h2", "del", "em"}
    assert [e.parents for e in page.elements if e.tag == "a"] == [("h3",)]  # the target
    assert page.mentions() == []
    rows = table_rows(page)
    assert rows == [
        ["name", "Old", HOSTILE],
        ["position", HOSTILE, "Sales | Ops"],
        ["is_active", "true", "false"],
    ]
    logins = {f"{HOSTILE}@acme", f"x{HOSTILE}"}
    assert logins <= set(page.all("code"))


def test_warnings_are_listed() -> None:
    page = read(MarkdownRenderer().render(hostile_plan()))
    assert "Warnings (1)" in page.all("strong")
    assert page.all("li") == [f"logins differ only in letter case: {HOSTILE}@acme"]


def _a_change(action: Action, i: int, **fields: FieldChange) -> Change:
    login = f"user.{i:04d}@acme"
    return Change(
        action=action,
        login=login,
        fields=fields or {"is_active": FieldChange(action != "reactivate", action == "reactivate")},
        before=None if action == "create" else {"login": login},
        send={"login": login},
    )


def test_a_long_warning_list_is_folded_after_the_first_few() -> None:
    plan = Plan(
        target=TARGET,
        changes=[_a_change("deactivate", 1)],
        unchanged=0,
        warnings=[PlanWarning(f"w{i}@acme", f"warning number {i}") for i in range(12)],
    )
    text = MarkdownRenderer().render(plan)
    page = read(text)
    folded = [e for e in page.elements if e.tag == "li" and "details" in e.parents]
    loose = [e for e in page.elements if e.tag == "li" and "details" not in e.parents]
    assert [e.text for e in loose] == [f"warning number {i}" for i in range(WARNINGS_SHOWN)]
    assert [e.text for e in folded] == [f"warning number {i}" for i in range(WARNINGS_SHOWN, 12)]
    assert f"{12 - WARNINGS_SHOWN} more warnings" in page.all("summary")
    assert "Cut to fit" not in text  # folded, not cut


# -- logins stay whole and are never mentions ---------------------------------------


def test_logins_are_whole_code_and_never_mentions() -> None:
    plan = example_plan()
    noa = next(c for c in plan.changes if c.login == "noa@acme")
    noa.login = "@noa"  # a login that would be a mention as plain text
    text = MarkdownRenderer().render(plan)
    for sign in BREAKS:
        assert sign not in text
    page = read(text)
    assert page.mentions() == []
    assert "@" not in page.loud_text()
    codes = page.all("code")
    for change in plan.changes:
        assert change.login in codes, change.login
    assert "@noa" in codes


# -- a plan too large for one comment ---------------------------------------------


def large_plan(users: int = 2_000, counts: dict[str, int] | None = None) -> Plan:
    """A tenant of `users` users and 300 changes with realistic, longish values."""
    counts = counts or {"create": 70, "update": 150, "reactivate": 20, "deactivate": 60}
    changes: list[Change] = []
    i = 0
    for action in ACTIONS:
        for _ in range(counts[action]):
            i += 1
            if action == "create":
                fields = {
                    f: FieldChange(None, f"{f} of a new colleague number {i:04d}")
                    for f in ("name", "email", "position", "company", "city", "country")
                }
                changes.append(_a_change(action, i, **fields))
            elif action == "update":
                fields = {
                    f: FieldChange(f"old {f} {i:04d} in Tel Aviv", f"new {f} {i:04d} in Haifa")
                    for f in ("position", "business_title", "street")
                }
                changes.append(_a_change(action, i, **fields))
            else:
                changes.append(_a_change(action, i))
    return Plan(
        target=TARGET,
        changes=changes,
        unchanged=users - len(changes),
        warnings=[
            PlanWarning(
                c.login, f"{c.login} stays active but their manager boss@acme is deactivated"
            )
            for c in changes[:40]
        ],
        active_users=users,
        desired_users=users,
    )


def kept_in_full(page_text: str) -> dict[str, int]:
    summaries = read(page_text).all("summary")
    return {a: sum(s.split(" ")[1] == a for s in summaries) for a in ACTIONS}


def test_a_large_plan_keeps_what_matters() -> None:
    plan = large_plan()
    full = MarkdownRenderer(max_chars=10**7).render(plan)
    assert len(full) > MAX_CHARS, "the plan must be too large for one comment"
    text = MarkdownRenderer().render(plan)
    assert len(text) <= MAX_CHARS == 65_000
    page = read(text)
    # the summary first, then the note that the comment is cut, and where the rest is
    assert page.elements[0].tag == "h3"
    paragraphs = page.all("p")
    assert paragraphs[0] == f"{summary_line(plan.summary())} {plan.unchanged} unchanged."
    assert paragraphs[1].startswith("Cut to fit the 65,000-character limit of a comment.")
    assert ARTIFACT_NOTE in paragraphs[1]
    assert "Every deactivated and reactivated user is named above." in paragraphs[1]
    # every deactivated and reactivated login is named, whatever was cut
    quotes = [e.text for e in page.elements if e.tag == "p" and "blockquote" in e.parents]
    lose = next(q for q in quotes if "will lose access" in q)
    regain = next(q for q in quotes if "will regain access" in q)
    codes = set(page.all("code"))
    for change in plan.changes:
        if change.action == "deactivate":
            assert change.login in lose and change.login in codes
        if change.action == "reactivate":
            assert change.login in regain and change.login in codes
    # details are cut the least risky first: deactivations and reactivations kept
    kept = kept_in_full(text)
    assert kept["deactivate"] == 60 and kept["reactivate"] == 20
    assert kept["update"] < 150
    # a cut create or update is still listed, an update with its fields
    briefs = [p for p in paragraphs if "without details:" in p]
    assert any("updates without details:" in p for p in briefs)
    assert "user.0100@acme (business_title, position, street)" in " ".join(briefs)
    assert page.mentions() == []
    # the warnings are folded after the first few
    assert f"{40 - WARNINGS_SHOWN} more warnings" in page.all("summary")


@pytest.mark.parametrize("limit", [65_000, 40_000, 20_000, 8_000, 4_000])
def test_details_are_cut_in_reverse_order_of_risk(limit: int) -> None:
    plan = large_plan()
    text = MarkdownRenderer(max_chars=limit).render(plan)
    assert len(text) <= limit
    kept = kept_in_full(text)
    total = plan.summary()
    # an action loses details only once every less risky one has lost them all
    for i, action in enumerate(CUT_ORDER):
        if kept[action] < total[action]:
            assert all(kept[later] == 0 for later in CUT_ORDER[:i]), (action, kept)
    page = read(text)
    codes = set(page.all("code"))
    for change in plan.changes:
        if change.action in ("deactivate", "reactivate"):
            assert change.login in codes


def test_the_cut_note_names_what_is_missing() -> None:
    text = MarkdownRenderer(max_chars=20_000).render(large_plan())
    (note,) = [line for line in text.splitlines() if line.startswith("_Cut to fit")]
    assert note.startswith("_Cut to fit the 20,000-character limit of a comment. Not shown here: ")
    assert "the details of" in note and "150 updates" in note
    assert FULL_PLAN in note


def huge_plan(count: int = 5000) -> Plan:
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
    plan = huge_plan()
    guards.evaluate(plan, Threshold(20, percent=True), allow_mass_deactivation=False)
    text = MarkdownRenderer().render(plan)
    assert len(text) <= MAX_CHARS == 65_000
    # the summary is kept whole, and the cut is said
    assert summary_line(plan.summary()) in text
    assert "**1250 users will lose access (deactivated):**" in text
    assert "Safety guard tripped" in text
    assert text.count("<details>") == text.count("</details>")
    # more deactivated logins than a comment can hold: as many as fit, and the count
    assert "… and " in text and "more (see the artifact)" in text
    note = next(line for line in text.splitlines() if line.startswith("_Cut to fit"))
    assert "logins of the lists above" in note and "named above" not in note
    assert read(text).mentions() == []


@pytest.mark.parametrize("limit", [1_000, 3_000, 10_000])
def test_any_limit_is_respected(limit: int) -> None:
    text = MarkdownRenderer(max_chars=limit).render(huge_plan(400))
    assert len(text) <= limit


def test_a_plan_that_fits_is_not_cut() -> None:
    text = MarkdownRenderer().render(example_plan())
    assert "Cut to fit" not in text and "… and" not in text and "artifact" not in text


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


def test_an_edited_field_name_is_escaped() -> None:
    plan = example_plan()
    daniel = next(c for c in plan.changes if c.login == "daniel@acme")
    daniel.fields["<b>x</b>|@all"] = FieldChange("a", "b")
    page = read(MarkdownRenderer().render(plan))
    assert "b" not in {e.tag for e in page.elements}
    assert page.mentions() == []
    assert ["<b>x</b>|@all", "a", "b"] in table_rows(page)
    assert "~ update daniel@acme: <b>x</b>|@all, position" in page.all("summary")


def test_folded_warnings_give_way_to_the_details_of_deactivations() -> None:
    plan = large_plan(counts={"create": 0, "update": 0, "reactivate": 0, "deactivate": 250})
    plan.warnings = [
        PlanWarning(c.login, f"{c.login} stays active but their manager {'m' * 60}@acme is gone")
        for c in plan.changes
    ]
    text = MarkdownRenderer(max_chars=60_000).render(plan)
    assert len(text) <= 60_000
    assert kept_in_full(text)["deactivate"] == 250
    note = next(line for line in text.splitlines() if line.startswith("_Cut to fit"))
    assert "Not shown here: " in note and "warnings." in note
