"""The text renderer: what a person reads in a terminal or a CI log."""

from __future__ import annotations

import click
import pytest
from golden import TARGET, check_golden, example_plan

from reconciler import guards
from reconciler.model import Change, FieldChange, Plan, PlanNote, PlanWarning
from reconciler.render import render_plan
from reconciler.render.text import LEGEND, TextRenderer, use_color
from reconciler.settings import Threshold
from reconciler.wording import summary_line


def test_golden() -> None:
    check_golden("plan.txt", TextRenderer(color=False).render(example_plan()))


def test_render_plan_defaults_to_plain_text() -> None:
    plan = example_plan()
    assert render_plan(plan, "text") == TextRenderer().render(plan)
    assert "\x1b[" not in render_plan(plan, "text")


def test_legend_and_final_line() -> None:
    plan = example_plan()
    lines = TextRenderer().render(plan).splitlines()
    assert LEGEND in lines
    assert lines[-1] == summary_line(plan.summary())
    assert lines[-1] == "Plan: 1 to create, 2 to update, 1 to reactivate, 2 to deactivate."
    assert sum(line.startswith("Plan:") for line in lines) == 1


def test_one_block_per_changed_user() -> None:
    plan = example_plan()
    text = TextRenderer().render(plan)
    for change in plan.changes:
        assert f" {change.action:<10} {change.key}\n" in text
    assert '      position: "Sales" -> "CCS"' in text
    assert '      fax: "09-4545456" -> (empty)' in text


def test_no_ansi_without_color_and_ansi_with_it() -> None:
    plan = example_plan()
    plain = TextRenderer(color=False).render(plan)
    coloured = TextRenderer(color=True).render(plan)
    assert "\x1b" not in plain
    assert "\x1b[" in coloured
    assert click.unstyle(coloured) == plain
    assert render_plan(plan, "text", color=True) == coloured


def test_no_changes() -> None:
    plan = Plan(target=TARGET, changes=[], unchanged=4, system="dealhub", token_env="DEALHUB_TOKEN")
    text = TextRenderer().render(plan)
    assert "No changes. The tenant matches the desired state." in text
    assert (
        text.splitlines()[-1] == "Plan: 0 to create, 0 to update, 0 to reactivate, 0 to deactivate."
    )


def test_warnings_and_guards_are_shown() -> None:
    plan = example_plan()
    plan.warnings.append(
        PlanWarning("x@acme", "x@acme stays active but their manager y is deactivated")
    )
    guards.evaluate(plan, Threshold(1, percent=False), allow_mass_deactivation=False)
    text = TextRenderer().render(plan)
    assert "  ! x@acme stays active but their manager y is deactivated" in text
    assert "Safety guard tripped: 2 deactivations exceed max_deactivations" in text
    assert "rerun with --allow-mass-deactivation" in text
    assert "overridden" not in text
    guards.evaluate(plan, Threshold(1, percent=False), allow_mass_deactivation=True)
    text = TextRenderer().render(plan)
    assert "Safety guard overridden (--allow-mass-deactivation): 2 deactivations" in text
    assert "Safety guard tripped" not in text


def test_environment_in_the_header() -> None:
    plan = Plan(
        target=TARGET,
        changes=[],
        unchanged=0,
        environment="sandbox",
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )
    assert (
        TextRenderer().render(plan).splitlines()[0]
        == f"DealHub plan for {TARGET} (environment: sandbox)"
    )


def test_control_characters_in_user_text_are_inert() -> None:
    login = (
        "evil@acme\x1b[2J\nPlan: 0 to create, 0 to update, 0 to reactivate, 0 to deactivate.\u202e"
    )
    change = Change(
        action="create",
        key=login,
        fields={"name": FieldChange(None, "Eve\x1b]0;pwned\x07\r\nx")},
        before=None,
        send={"login": login},
    )
    plan = Plan(
        target=TARGET,
        changes=[change],
        unchanged=0,
        warnings=[PlanWarning(login, f"logins differ only in letter case: {login}")],
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )
    text = TextRenderer(color=False).render(plan)
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text and "\u202e" not in text
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("Plan:")] == [lines[-1]]
    assert lines[-1] == "Plan: 1 to create, 0 to update, 0 to reactivate, 0 to deactivate."
    assert "\\u001b[2J" in text  # shown, not acted on


class FakeStream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_use_color_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(FakeStream(True)) is True  # type: ignore[arg-type]
    assert use_color(FakeStream(False)) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["1", "true", "0"])
def test_no_color_wins(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NO_COLOR", value)
    assert use_color(FakeStream(True)) is False  # type: ignore[arg-type]


def test_an_empty_no_color_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # no-color.org: "when present and not an empty string".
    monkeypatch.setenv("NO_COLOR", "")
    assert use_color(FakeStream(True)) is True  # type: ignore[arg-type]


def test_use_color_defaults_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr("sys.stdout", FakeStream(True))
    assert use_color() is True
    monkeypatch.setattr("sys.stdout", FakeStream(False))
    assert use_color() is False


def test_a_stream_without_isatty_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(object()) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("dan\u200biel@acme", "dan\\u200biel@acme"),  # zero-width space: two look-alike logins
        ("admin\u2066@acme\u2069", "admin\\u2066@acme\\u2069"),  # bidi isolates
        ("x\u2028Plan: 0 to create", "x\\u2028Plan: 0 to create"),  # line separator
    ],
)
def test_invisible_characters_are_shown_escaped(raw: str, shown: str) -> None:
    change = Change(
        action="deactivate",
        key=raw,
        fields={"is_active": FieldChange(True, False)},
        before={"login": raw},
        send={"login": raw},
    )
    plan = Plan(
        target=TARGET,
        changes=[change],
        unchanged=0,
        environment=raw,
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )
    text = TextRenderer().render(plan)
    assert f"deactivate {shown}\n" in text
    assert f"(environment: {shown})" in text
    assert raw not in text


def test_a_repeated_note_gives_its_reason_once_and_every_user_a_line() -> None:
    reason = "Pipedrive's API cannot set a name; a new user's name is their email until they accept"
    notes = [PlanNote(f"u{i}@acme.com", "name", None, f"User {i}", reason) for i in range(391)]
    notes.append(PlanNote("john@acme.com", "access", [{"app": "sales", "admin": False}], [], "No"))
    plan = Plan(
        target="sim:c.json",
        changes=[],
        unchanged=392,
        system="pipedrive",
        notes=notes,
        token_env="DEALHUB_TOKEN",
    )
    lines = TextRenderer().render(plan).splitlines()
    start = lines.index("Notes (differences apply cannot change; not counted as changes):")
    assert lines[start + 1] == f"  name, 391 users: {reason}"
    assert lines[start + 2] == '  = u0@acme.com name: (empty) -> "User 0"'
    assert (
        lines[start + 393]
        == '  = john@acme.com access: [{"app": "sales", "admin": false}] -> [] (No)'
    )
    assert sum(reason in line for line in lines) == 1
