"""Logins in another script that look like a listed, tenant or protected one are warned
about, in validate and in plan (UTS #39 skeletons), and never refused."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.desired import DesiredState, DesiredUser, load_desired
from reconciler.diff import compute_plan
from reconciler.keys import look_alikes, protect_look_alikes, skeleton
from reconciler.providers import get
from reconciler.settings import Settings

CYRILLIC_A = "\u0430"  # а
SPOOF = f"{CYRILLIC_A}dmin@acme"


def load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "people.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_desired([os.fspath(path)])


def test_validate_warns_of_a_login_that_looks_like_another_listed(tmp_path: Path) -> None:
    state = load(
        tmp_path,
        f"""\
        version: 1
        users:
          - {{login: admin@acme, email: admin@acme.com, name: Admin}}
          - {{login: "{SPOOF}", email: spoof@evil.com, name: Admin}}
        """,
    )
    [warning] = state.warnings
    assert warning.line == 4
    assert warning.message.startswith("DealHub: '\\u0430dmin@acme' looks like 'admin@acme' (at ")
    assert "another script" in warning.message


def test_validate_warns_of_a_login_that_looks_like_a_protected_one(tmp_path: Path) -> None:
    state = load(
        tmp_path,
        f"""\
        version: 1
        settings:
          protect: ["admin@acme*"]
        users:
          - {{login: "{SPOOF}.com", email: spoof@evil.com, name: Admin}}
        """,
    )
    [warning] = state.warnings
    assert warning.line == 5
    assert "looks like the protected 'admin@acme*' but is not protected" in warning.message


def test_validate_warns_of_a_pipedrive_email_in_capitals_of_another_script(
    tmp_path: Path,
) -> None:
    state = load(
        tmp_path,
        """\
        version: 1
        settings:
          systems: [pipedrive]
          pipedrive: {protect: ["owner@acme.com"]}
        users:
          - {login: a, email: "\u041ewner@ACME.com", name: A}
        """,
    )
    [warning] = state.warnings
    assert warning.line == 6 and warning.message.startswith("Pipedrive: '\\u041ewner@ACME.com'")


def test_plan_warns_of_a_create_that_looks_like_a_tenant_login() -> None:
    person = DesiredUser(SPOOF, {"email": "s@evil.com", "name": "A"}, "people.yaml", 3, {})
    admin = {"login": "admin@acme", "email": "a@acme.com", "name": "A", "is_active": True}
    desired = DesiredState({SPOOF: person}, Settings(), ["people.yaml"])
    plan = compute_plan(desired, [admin], target="sim:x", provider=get("dealhub"))
    assert {c.action for c in plan.changes} == {"create", "deactivate"}
    [warning] = [w for w in plan.warnings if "another script" in w.message]
    assert warning.key == SPOOF
    assert "'\\u0430dmin@acme' looks like 'admin@acme'" in warning.message


def test_plan_warns_of_a_pipedrive_person_that_looks_like_a_protected_one(
    tmp_path: Path,
) -> None:
    state = load(
        tmp_path,
        f"""\
        version: 1
        settings:
          systems: [pipedrive]
          pipedrive: {{protect: ["admin@acme*"]}}
        users:
          - {{login: a, email: "{SPOOF}.com", name: A}}
        """,
    )
    plan = compute_plan(state, [], target="sim:x", provider=get("pipedrive"))
    assert any("looks like the protected 'admin@acme*'" in w.message for w in plan.warnings)


def test_validate_prints_the_warning_and_passes(tmp_path: Path, run: Any) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(
        "version: 1\nusers:\n  - {login: admin@acme, email: a@acme.com, name: A}\n"
        f'  - {{login: "{SPOOF}", email: b@acme.com, name: B}}\n',
        encoding="utf-8",
    )
    result = run("validate", os.fspath(path))
    assert result.code == 0
    assert f"{path}:4: DealHub: '\\u0430dmin@acme' looks like 'admin@acme'" in result.err
    assert SPOOF not in result.err  # shown escaped: the difference is visible


@pytest.mark.parametrize(
    "keys",
    [
        ["admin@acme", "adrnin@acme"],  # ASCII alone: every reviewer reads it apart
        ["Ana@acme", "ana@acme"],  # letter case: a warning of its own
        ["jos\u00e9@acme", "jose\u0301@acme"],  # Unicode encoding: the key rule's business
        ["\u674e@acme", "zo\u00eb@acme"],  # other scripts, nothing alike
    ],
)
def test_what_is_not_a_look_alike(keys: list[str]) -> None:
    assert look_alikes(keys) == []


def test_a_protected_look_alike_is_no_warning() -> None:
    assert protect_look_alikes([SPOOF], ["*admin@acme"], lambda key: True) == []


#: Latin letters and a look-alike of each in another script (Cyrillic, Greek).
TWINS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441",
         "x": "\u0445", "i": "\u0456", "v": "\u03bd"}  # fmt: skip


@settings(deadline=None)
@given(
    local=st.text(st.sampled_from("aeopcxivbdn"), min_size=1, max_size=10),
    position=st.integers(0, 9),
)
def test_any_latin_login_with_one_letter_swapped_for_its_twin_is_found(
    local: str, position: int
) -> None:
    letters = [i for i, ch in enumerate(local) if ch in TWINS]
    if not letters:
        return
    i = letters[position % len(letters)]
    spoof = local[:i] + TWINS[local[i]] + local[i + 1 :]
    assert skeleton(spoof) == skeleton(local)
    assert look_alikes([spoof + "@acme"], among=[local + "@acme"]) == [
        (spoof + "@acme", local + "@acme")
    ]
