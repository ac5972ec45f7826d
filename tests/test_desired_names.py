"""Logins, emails and managers hold what a reviewer sees: no hidden characters, no look-alikes."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.desired import load_desired
from reconciler.errors import InputError

WriteFile = Callable[[str, str | bytes], str]


def problems(paths: list[str]) -> list[tuple[str, int, str]]:
    with pytest.raises(InputError) as info:
        load_desired(paths)
    return [(os.path.basename(p.file), p.line, str(p)) for p in info.value.problems]


def one_user(field: str, quoted: str) -> str:
    """A file of one user whose `field` (on line 6, or 3-5 for the required ones) is `quoted`."""
    values = {"login": '"a@acme"', "email": '"a@acme.com"', "name": "A"}
    values[field] = quoted
    lines = ["version: 1", "users:", f"  - login: {values.pop('login')}"]
    lines += [f"    {key}: {value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("field", "quoted", "line", "shown"),
    [
        ("login", r'"a\u200b@acme"', 3, "login 'a\\u200b@acme' contains an invisible"),
        ("login", r'"a\a@acme"', 3, "login 'a\\u0007@acme' contains an invisible"),
        ("login", r'"\u202eemca@a"', 3, "(\\u202e)"),
        ("email", r'"a@acme.com\u00ad"', 4, "email 'a@acme.com\\u00ad' contains an invisible"),
        ("email", r'"a\e[31m@acme.com"', 4, "email 'a\\u001b[31m@acme.com'"),
        (
            "user_manager_login",
            r'"r\u200coy\u200c@acme\u2060"',
            6,
            "user_manager_login 'r\\u200coy\\u200c@acme\\u2060' contains invisible characters "
            "(\\u200c, \\u2060); remove them",
        ),
        ("user_manager_login", '"\\troy@acme"', 6, "user_manager_login '\\u0009roy@acme' contains"),
        # leading and trailing whitespace, already refused by the schema
        ("login", '" a@acme"', 3, "login ' a@acme' must not contain spaces"),
        ("login", '"a@acme "', 3, "login 'a@acme ' must not contain spaces"),
        ("login", '"a@acme\\u00a0"', 3, "must not contain spaces"),
        ("email", '" a@acme.com"', 4, "email ' a@acme.com' is not an email address"),
        ("email", '"a@acme.com\\t"', 4, "email 'a@acme.com\\t' is not an email address"),
    ],
)
def test_hidden_characters_and_whitespace_are_refused(
    write: WriteFile, field: str, quoted: str, line: int, shown: str
) -> None:
    path = write("u.yaml", one_user(field, quoted))
    [(file, got_line, text)] = problems([path])
    assert (file, got_line) == ("u.yaml", line)
    assert text.startswith(f"{path}:{line}: {field} '")
    assert shown in text


def test_a_hidden_character_in_the_defaults_manager_is_refused(write: WriteFile) -> None:
    path = write(
        "u.yaml",
        """\
        version: 1
        defaults:
          user_manager_login: "roy@acme\\u200b"
        users: []
        """,
    )
    assert problems([path]) == [
        (
            "u.yaml",
            3,
            f"{path}:3: user_manager_login 'roy@acme\\u200b' contains an invisible or control "
            "character (\\u200b); remove it",
        )
    ]


def test_visible_non_ascii_is_fine(write: WriteFile) -> None:
    path = write(
        "u.yaml",
        """\
        version: 1
        users:
          - {login: zoë@acme, email: zoë@acme.com, name: Zoë, user_manager_login: 李@acme}
          - {login: 李@acme, email: li@acme.com, name: 李小龍}
          - {login: "e\\u0301@acme", email: e@acme.com, name: E}
        """,
    )
    assert sorted(load_desired([path]).users) == ["e\u0301@acme", "zoë@acme", "李@acme"]


@pytest.mark.parametrize("first_composed", [True, False])
def test_logins_equal_after_nfc_are_an_error_naming_both(
    write: WriteFile, first_composed: bool
) -> None:
    composed, decomposed = r"caf\u00e9@acme", r"cafe\u0301@acme"
    first, second = (composed, decomposed) if first_composed else (decomposed, composed)
    a = write("a.yaml", f'version: 1\nusers:\n  - {{login: "{first}", email: a@x.io, name: A}}\n')
    b = write(
        "b.yaml",
        f"version: 1\nusers:\n  - {{login: x@acme, email: x@x.io, name: X}}\n"
        f'  - {{login: "{second}", email: b@x.io, name: B}}\n',
    )
    [(file, line, text)] = problems([a, b])
    assert (file, line) == ("b.yaml", 4)
    shown = {composed: r"'caf\xe9@acme'", decomposed: r"'cafe\u0301@acme'"}
    assert text == (
        f"{b}:4: logins {shown[second]} here and {shown[first]} at {a}:3 look identical but "
        "are different text (Unicode NFC); write both the same way"
    )


@pytest.mark.parametrize("ascii_first", [True, False])
def test_a_login_whose_nfc_form_is_ascii(write: WriteFile, ascii_first: bool) -> None:
    # The Kelvin sign (U+212A) normalizes to the letter K.
    logins = ["K@acme", "\\u212a@acme"]
    if not ascii_first:
        logins.reverse()
    path = write(
        "u.yaml",
        "version: 1\nusers:\n"
        + "".join(
            f'  - {{login: "{login}", email: k{i}@x.io, name: K}}\n'
            for i, login in enumerate(logins)
        ),
    )
    [(_, line, text)] = problems([path])
    assert line == 4
    assert "look identical" in text and f"{path}:3" in text


def test_letter_case_alone_is_not_an_error_here(write: WriteFile) -> None:
    # Logins differing only in case are a plan warning, not a loading error.
    path = write(
        "u.yaml",
        """\
        version: 1
        users:
          - {login: Ana@acme, email: a1@x.io, name: A}
          - {login: ana@acme, email: a2@x.io, name: A}
        """,
    )
    assert sorted(load_desired([path]).users) == ["Ana@acme", "ana@acme"]


def test_validate_prints_the_hidden_character_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    path = tmp_path / "u.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            users:
              - {login: "admin\\u202e@acme", email: a@acme.com, name: A}
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(SystemExit) as info:
        main(["validate", os.fspath(path)])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "\u202e" not in err
    assert f"{path}:3: login 'admin\\u202e@acme' contains an invisible" in err
