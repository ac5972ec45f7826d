"""Open vendor sets (SPEC section 7): a value the vendor added since this release is
accepted with a warning, in validate and plan, never refused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reconciler.desired import load_desired
from reconciler.diff import compute_plan
from reconciler.providers import get
from reconciler.providers.base import Capabilities, OpenSet, new_open_values, open_values

PEOPLE = """\
version: 1
settings:
  systems: [pipedrive]
defaults:
  pipedrive: {access: [{app: orbit}]}
users:
  - {login: a@acme, email: a@acme.com, name: A}
  - login: b@acme
    email: b@acme.com
    name: B
    pipedrive: {access: [{app: nova}, {app: sales, admin: true}]}
  - login: c@acme
    email: c@acme.com
    name: C
    pipedrive: {access: [{app: globl}]}
"""


def test_validate_accepts_new_apps_with_one_warning_each(tmp_path: Path, run: Any) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(PEOPLE, encoding="utf-8")
    result = run("validate", os.fspath(path))
    assert result.code == 0, result.all
    lines = result.err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        f"{path}:5: pipedrive.access.app: Pipedrive access app 'orbit' is not one reconciler "
        "knows (global, sales, campaigns, projects, account_settings, partnership, nova); "
        "it is accepted as one the vendor added since (1 person has it)"
    )
    assert lines[1].startswith(
        f"{path}:15: pipedrive.access.app: Pipedrive access app 'globl' (did you mean "
        '"global"?) is not one'
    )


def test_plan_accepts_new_apps_with_a_warning_and_sends_them(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(PEOPLE, encoding="utf-8")
    state = load_desired([os.fspath(path)])
    plan = compute_plan(state, [], target="sim:x", provider=get("pipedrive"))
    assert [c.action for c in plan.changes] == ["create"] * 3
    sent = {c.key: [item["app"] for item in c.send["access"]] for c in plan.changes}
    assert sent == {"a@acme.com": ["orbit"], "b@acme.com": ["nova", "sales"],
                    "c@acme.com": ["globl"]}  # fmt: skip
    new = sorted(
        w.message.split(" is not")[0] for w in plan.warnings if "reconciler knows" in w.message
    )
    assert new == [
        "Pipedrive access app 'globl' (did you mean \"global\"?)",
        "Pipedrive access app 'orbit'",
    ]


def test_any_system_declares_its_open_sets_in_one_place() -> None:
    colours = OpenSet("Fake colour", ("red", "blue"))
    caps = Capabilities(
        name="fake", title="Fake", key="handle", key_ignores_case=False, compared=(),
        settable_on_create=frozenset(), changeable=frozenset(),
        open_sets={"look.colour": colours},
    )  # fmt: skip
    people = [
        ("a", {"look": {"colour": "red"}}),
        ("b", {"look": [{"colour": "teal"}, {"colour": "teal"}]}),
        ("c", {"look": {"colour": "teal"}}),
        ("d", None),
    ]
    assert new_open_values(caps, people) == [(colours, "teal", ["b", "c"])]
    assert list(open_values({"look": [{"colour": "x"}, {"shade": 1}]}, "look.colour")) == ["x"]
    assert colours.fits("teal") and not colours.fits("te al") and not colours.fits(5)
