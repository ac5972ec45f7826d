"""The apply report renderers: the same escaping as the plan's."""

from __future__ import annotations

import json

from gfm import BREAKS, read, table_rows
from golden import TARGET

from reconciler.model import ApplyReport, Outcome
from reconciler.render.report import render_json, render_markdown, render_report, render_text

SNEAKY = "dan\u200biel@acme"  # a zero-width space: looks like daniel@acme


def report() -> ApplyReport:
    return ApplyReport(
        TARGET,
        [
            Outcome("lucas@acme", "create", "done"),
            Outcome(SNEAKY, "update", "failed", "rejected: \x1b[2Jname\u202etoo long"),
            Outcome("maya@acme", "create", "skipped", "its manager failed"),
        ],
        system="dealhub",
    )


def test_text_shows_invisible_characters_escaped() -> None:
    text = render_text(report())
    assert "update     dan\\u200biel@acme: rejected: \\u001b[2Jname\\u202etoo long" in text
    assert "\u200b" not in text and "\x1b" not in text and "\u202e" not in text
    assert text.splitlines()[-1] == (
        "Apply complete: 1 created, 0 updated, 0 reactivated, 0 deactivated, 2 failed."
    )
    assert render_report(report(), "text") == text


def test_json_keeps_the_logins_exact() -> None:
    data = json.loads(render_json(report()))
    assert [o["login"] for o in data["outcomes"]] == ["lucas@acme", SNEAKY, "maya@acme"]
    assert data["ok"] is False


def test_markdown_is_inert_for_the_reader() -> None:
    hostile = ApplyReport(
        TARGET,
        [
            Outcome("@everyone", "create", "done"),
            Outcome(SNEAKY, "update", "failed", "rejected | <b>bold</b> by @admins `x`"),
        ],
        environment="prod_eu",
        system="dealhub",
    )
    text = render_markdown(hostile)
    assert render_report(hostile, "markdown") == text
    assert text.splitlines()[0] == f"### DealHub apply to {TARGET} · environment **prod&#95;eu**"
    for sign in BREAKS:
        assert sign not in text
    page = read(text)
    assert page.mentions() == []
    assert "b" not in {e.tag for e in page.elements}
    # failures first, each row whole: the message's pipe stays in its cell
    assert table_rows(page) == [
        ["failed", "update", "dan\\u200biel@acme", "rejected | <b>bold</b> by @admins `x`"],
        ["done", "create", "@everyone", ""],
    ]
    assert {"@everyone", "dan\\u200biel@acme", "@admins"} <= set(page.all("code"))
