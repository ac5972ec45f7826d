"""The markdown renderer: the plan as a pull-request comment, as its reader sees it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from gfm import BREAKS, read, table_rows
from golden import TARGET, check_golden, example_plan
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import guards
from reconciler.model import ACTIONS, Action, Change, FieldChange, Plan, PlanNote, PlanWarning
from reconciler.render import render_plan
from reconciler.render.markdown import (
    FULL_PLAN,
    MAX_CHARS,
    OPEN,
    MarkdownRenderer,
    code,
    escape,
    html_code,
)
from reconciler.settings import Threshold
from reconciler.textsafe import printable
from reconciler.wording import summary_line

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


def _head(text: str) -> str:
    """The comment before its lists of changes."""
    return text[: text.index("**2 updates**")]


def test_deactivations_and_reactivations_are_called_out_each_login_once() -> None:
    text = MarkdownRenderer().render(example_plan())
    head = _head(text)
    assert "> [!WARNING]\n> **2 users will lose access (deactivated):** " in head
    assert "> [!IMPORTANT]\n> **1 user will regain access (reactivated):** `noa@acme`" in head
    assert "`ex.employee@acme`, `temp.intern@acme`" in head
    # Named once: an is_active-only change has nothing more to show.
    codes = read(text).all("code")
    for login in ("ex.employee@acme", "temp.intern@acme"):
        assert codes.count(login) == 2  # the callout, and whom the external_user_id note concerns
    assert "is_active" not in text


def test_no_deactivation_no_callout() -> None:
    plan = example_plan()
    plan.changes = [c for c in plan.changes if c.action not in ("deactivate", "reactivate")]
    text = MarkdownRenderer().render(plan)
    assert "lose access" not in text and "regain access" not in text


def _open_items(text: str) -> list[str]:
    """The list items a reader sees without opening anything."""
    page = read(text)
    return [e.text for e in page.elements if e.tag == "li" and "details" not in e.parents]


def test_a_small_plan_shows_every_value_without_a_click() -> None:
    text = MarkdownRenderer().render(example_plan())
    items = _open_items(text)
    assert "daniel@acme position: Sales → CCS" in items
    assert "sara@acme fax: 09-4545456 → (empty)" in items
    assert (
        "lucas@acme email: lucas@acme.com · name: Lucas Martin · position: Sales · "
        "company: Acme · country: France · user_manager_login: maya@acme"
    ) in items
    # The only fold is the external_user_id note's explanation.
    assert read(text).all("summary") == ["Note: 4 writes carry no external_user_id"]


def test_an_update_that_also_deactivates_shows_its_values() -> None:
    plan = example_plan()
    gone = next(c for c in plan.changes if c.key == "ex.employee@acme")
    gone.fields["position"] = FieldChange("Sales", "Former")
    items = _open_items(MarkdownRenderer().render(plan))
    assert "ex.employee@acme (deactivated) position: Sales → Former" in items


def test_no_changes() -> None:
    text = MarkdownRenderer().render(
        Plan(target=TARGET, changes=[], unchanged=3, system="dealhub", token_env="DEALHUB_TOKEN")
    )
    assert "No changes. The tenant matches the desired state." in text
    assert "<details>" not in text


def test_environment_in_the_title() -> None:
    plan = Plan(
        target=TARGET,
        changes=[],
        unchanged=0,
        environment="sand_box",
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )
    first = MarkdownRenderer().render(plan).splitlines()[0]
    assert first == f"### DealHub plan for {TARGET} · environment **sand&#95;box**"


def test_values_are_json_and_every_system_s_fields_are_styled_alike() -> None:
    access = [{"app": "campaigns", "admin": False}]
    login = "ann@acme.com"
    plan = Plan(
        target="sim:company.json",
        system="pipedrive",
        changes=[
            Change(
                "create",
                login,
                {
                    "email": FieldChange(None, login),
                    "access": FieldChange(None, access),
                    "is_active": FieldChange(None, True),
                },
                None,
                {"email": login},
            )
        ],
        unchanged=0,
        token_env="DEALHUB_TOKEN",
    )
    text = MarkdownRenderer().render(plan)
    assert "'app'" not in text and "False" not in text
    assert '- `ann@acme.com` access: `[{"app": "campaigns", "admin": false}]`' in text
    dealhub = MarkdownRenderer().render(example_plan())
    # A field name of either system is plain text (a name no system declares is code).
    assert "access:" in text and "`access`" not in text
    assert " position: " in dealhub and "`position`" not in dealhub


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
        key=login,
        fields={
            "name": FieldChange("Old", HOSTILE),
            "position": FieldChange(HOSTILE, "Sales | Ops"),
        },
        before={"login": login},
        send={"login": login},
    )
    deactivate = Change(
        action="deactivate",
        key=f"x{HOSTILE}",
        fields={"is_active": FieldChange(True, False)},
        before={"login": f"x{HOSTILE}"},
        send={"login": f"x{HOSTILE}"},
    )
    return Plan(
        target=TARGET,
        changes=[change, deactivate],
        unchanged=0,
        warnings=[PlanWarning(login, f"logins differ only in letter case: {login}")],
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )


def test_hostile_user_text_is_inert_for_the_reader() -> None:
    page = read(MarkdownRenderer().render(hostile_plan()))
    tags = {e.tag for e in page.elements}
    assert not tags & {"script", "img", "pre", "h1", "h2", "del", "em", "table"}
    assert [e.parents for e in page.elements if e.tag == "a"] == [("h3",)]  # the target
    assert page.mentions() == []
    login = f"{HOSTILE}@acme"
    update = [e for e in page.elements if e.tag == "li" and e.text.startswith(login)]
    assert [e.text for e in update] == [
        f"{login} name: Old → {HOSTILE} · position: {HOSTILE} → Sales | Ops"
    ]
    codes = page.all("code")
    assert {login, f"x{HOSTILE}", "Old", HOSTILE, "Sales | Ops"} <= set(codes)


def test_warnings_are_listed() -> None:
    page = read(MarkdownRenderer().render(hostile_plan()))
    assert "Warnings (1)" in page.all("strong")
    assert f"logins differ only in letter case: {HOSTILE}@acme" in page.all("li")


def test_a_repeated_warning_is_one_line_with_its_count_and_whom_it_concerns_folded() -> None:
    plan = example_plan()
    plan.warnings = [
        PlanWarning(f"u{i}@acme", f"u{i}@acme stays active but their manager m{i % 3}@acme is gone")
        for i in range(40)
    ] + [PlanWarning("x@acme", "something else entirely")]
    text = MarkdownRenderer().render(plan)
    page = read(text)
    loose = _open_items(text)
    assert "40 warnings: … stays active but their manager … is gone" in loose
    assert "something else entirely" in loose
    assert text.count("stays active but their manager") == 41  # the line, and each in the fold
    assert "Whom the repeated warnings concern (40)" in page.all("summary")
    folded = [e.text for e in page.elements if e.tag == "li" and "details" in e.parents]
    assert "u7@acme stays active but their manager m1@acme is gone" in folded


def pipedrive_plan(notes: int) -> Plan:
    reason = (
        "Pipedrive's API cannot set a name; a new user's name is their email until they "
        "accept the invitation"
    )
    return Plan(
        target="sim:company.json",
        system="pipedrive",
        changes=[],
        unchanged=notes,
        notes=[
            PlanNote(f"user{i:03}@acme.com", "name", f"user{i:03}@acme.com", f"User {i}", reason)
            for i in range(notes)
        ]
        + [PlanNote("john@acme.com", "access", [{"app": "sales", "admin": False}], [], "No.")],
        token_env="DEALHUB_TOKEN",
    )


def test_a_repeated_note_says_its_reason_once() -> None:
    text = MarkdownRenderer().render(pipedrive_plan(391))
    assert len(text) <= MAX_CHARS
    assert text.count("cannot set a name") == 1
    loose = _open_items(text)
    assert any(item.startswith("name of 391 users: Pipedrive's API cannot") for item in loose)
    assert 'john@acme.com access: [{"app": "sales", "admin": false}] → [] (No.)' in loose
    page = read(text)
    assert "Whom the notes concern (391)" in page.all("summary")
    folded = [e.text for e in page.elements if e.tag == "li" and "details" in e.parents]
    assert "user007@acme.com name: user007@acme.com → User 7" in folded
    assert len(folded) == 391


def test_the_external_user_id_note_is_one_fold_naming_whom_it_concerns() -> None:
    text = MarkdownRenderer().render(example_plan())
    page = read(text)
    (fold,) = [e for e in page.elements if e.tag == "details"]
    assert fold.text.startswith("Note: 4 writes carry no external_user_id")
    assert "4 of 6 writes carry no external_user_id" in fold.text
    assert "Without it: sara@acme, noa@acme, ex.employee@acme, temp.intern@acme" in fold.text
    assert text.count("external&#95;user&#95;id: reads never return it") == 1


def _a_change(action: Action, i: int, **fields: FieldChange) -> Change:
    login = f"user.{i:04d}@acme"
    return Change(
        action=action,
        key=login,
        fields=fields or {"is_active": FieldChange(action != "reactivate", action == "reactivate")},
        before=None if action == "create" else {"login": login},
        send={"login": login},
    )


# -- logins stay whole and are never mentions ---------------------------------------


def test_logins_are_whole_code_and_never_mentions() -> None:
    plan = example_plan()
    noa = next(c for c in plan.changes if c.key == "noa@acme")
    noa.key = "@noa"  # a login that would be a mention as plain text
    text = MarkdownRenderer().render(plan)
    for sign in BREAKS:
        assert sign not in text
    page = read(text)
    assert page.mentions() == []
    assert "@" not in page.loud_text()
    codes = page.all("code")
    for change in plan.changes:
        assert change.key in codes, change.key
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
                c.key, f"{c.key} stays active but their manager boss{i}@acme is deactivated"
            )
            for i, c in enumerate(changes[:40])
        ],
        notes=[PlanNote(c.key, "fax", "1", "2", "a fax is kept") for c in changes[:30]],
        active_users=users,
        desired_users=users,
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )


@dataclass
class Kept:
    """What a comment shows of a plan, by tier (see markdown.TIERS)."""

    risky: int  # deactivated and reactivated users named
    names: int  # created and updated users named
    values: int  # updates with their values
    context: int  # lines of whom a note or warning concerns
    records: int  # creations with their record


def kept(text: str, plan: Plan) -> Kept:
    page = read(text)
    codes = set(page.all("code"))
    items = [e for e in page.elements if e.tag == "li"]
    noted = [i for i in items if i.text.endswith("fax: 1 → 2")]
    warned = [i for i in items if "stays active but their manager boss" in i.text]
    changes = {i.text.split(" ", 1)[0]: i.text for i in items if i not in noted + warned}
    by = {a: plan.by_action(a) for a in ACTIONS}
    return Kept(
        risky=sum(c.key in codes for a in ("deactivate", "reactivate") for c in by[a]),
        names=sum(c.key in codes for a in ("create", "update") for c in by[a]),
        values=sum("→" in changes.get(c.key, "") for c in by["update"]),
        context=sum("details" in i.parents for i in noted + warned),
        records=sum(": " in changes.get(c.key, "") for c in by["create"]),
    )


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
    assert paragraphs[0] == f"{summary_line(plan.summary())} {plan.unchanged:,} unchanged."
    assert paragraphs[1].startswith("Cut to fit the 65,000-character limit of a comment.")
    assert ARTIFACT_NOTE in paragraphs[1]
    assert "Every deactivated and reactivated user is named above." in paragraphs[1]
    # every deactivated and reactivated login is named, whatever was cut
    quotes = [e.text for e in page.elements if e.tag == "p" and "blockquote" in e.parents]
    lose = next(q for q in quotes if "will lose access" in q)
    regain = next(q for q in quotes if "will regain access" in q)
    for change in plan.changes:
        if change.action == "deactivate":
            assert change.key in lose
        if change.action == "reactivate":
            assert change.key in regain
    # every update keeps its values ahead of the creations' records
    shown = kept(text, plan)
    assert shown.values == 150 and shown.records < 70
    assert "is_active" not in text
    assert page.mentions() == []


@pytest.mark.parametrize("limit", [65_000, 40_000, 20_000, 8_000, 4_000, 2_000])
def test_detail_is_given_up_in_tiers(limit: int) -> None:
    plan = large_plan()
    text = MarkdownRenderer(max_chars=limit).render(plan)
    assert len(text) <= limit
    shown = kept(text, plan)
    whole = Kept(80, 220, 150, 40 + 30, 70)
    # A tier shows anything only once every more needed tier is whole.
    if shown.records:
        assert shown.context == whole.context, (limit, shown)
    if shown.context:
        assert shown.values == whole.values, (limit, shown)
    if shown.values:
        assert shown.names == whole.names, (limit, shown)
    if shown.names:
        assert shown.risky == whole.risky, (limit, shown)
    # an is_active-only detail is never shown: the name says it all
    assert "is_active" not in text


def test_the_cut_note_names_what_is_missing() -> None:
    text = MarkdownRenderer(max_chars=20_000).render(large_plan())
    (note,) = [line for line in text.splitlines() if line.startswith("_Cut to fit")]
    assert note.startswith("_Cut to fit the 20,000-character limit of a comment. Not shown here: ")
    assert "the records of 70 creations" in note and "the values of" in note
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
                key=login,
                fields={"name": FieldChange(None if action == "create" else "Old", name)},
                before=None if action == "create" else {"login": login},
                send={"login": login, "name": name},
            )
        )
    changes.sort(key=lambda c: (actions.index(c.action), c.key))
    return Plan(
        target=TARGET,
        changes=changes,
        unchanged=12,
        warnings=[PlanWarning(c.key, f"{c.key}: {'w' * 200}") for c in changes[:3000]],
        active_users=count,
        desired_users=count,
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )


def test_a_huge_plan_fits_in_a_comment() -> None:
    plan = huge_plan()
    guards.evaluate(plan, Threshold(20, percent=True), allow_mass_deactivation=False)
    text = MarkdownRenderer().render(plan)
    assert len(text) <= MAX_CHARS == 65_000
    # the summary is kept whole, and the cut is said
    assert summary_line(plan.summary()) in text
    assert "**1,250 users will lose access (deactivated):**" in text
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
    head = _head(text)
    assert "> [!CAUTION]" in head
    assert "**Safety guard tripped:** 2 deactivations exceed max&#95;deactivations" in head
    assert "`--allow-mass-deactivation`" in head
    guards.evaluate(plan, Threshold(1, percent=False), allow_mass_deactivation=True)
    text = MarkdownRenderer().render(plan)
    assert "Safety guard overridden" in text and "[!CAUTION]" not in text


def test_an_edited_field_name_is_escaped() -> None:
    plan = example_plan()
    daniel = next(c for c in plan.changes if c.key == "daniel@acme")
    daniel.fields["<b>x</b>|@all"] = FieldChange("a", "b")
    page = read(MarkdownRenderer().render(plan))
    assert "b" not in {e.tag for e in page.elements}
    assert page.mentions() == []
    assert "daniel@acme position: Sales → CCS · <b>x</b>|@all: a → b" in page.all("li")
    assert "<b>x</b>|@all" in page.all("code")


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=300, max_value=70_000))
def test_any_limit_keeps_the_tiers_in_order(limit: int) -> None:
    plan = large_plan()
    text = MarkdownRenderer(max_chars=limit).render(plan)
    assert len(text) <= limit
    shown, whole = kept(text, plan), Kept(80, 220, 150, 40 + 30, 70)
    assert not shown.records or shown.context == whole.context
    assert not shown.context or shown.values == whole.values
    assert not shown.values or shown.names == whole.names
    assert not shown.names or shown.risky == whole.risky


def test_a_long_list_shows_its_first_changes_and_folds_the_rest_with_their_values() -> None:
    plan = large_plan(counts={"create": 12, "update": 30, "reactivate": 0, "deactivate": 0})
    text = MarkdownRenderer().render(plan)
    assert "Cut to fit" not in text
    page = read(text)
    assert {"10 more updates", "2 more creations"} <= set(page.all("summary"))
    values = [e for e in page.elements if e.tag == "li" and "position: old" in e.text]
    assert len(values) == 30
    assert sum("details" not in e.parents for e in values) == OPEN
