"""load_desired: every kind of bad input gives located problems; good input loads."""

from __future__ import annotations

import gc
import os
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler import desired, yaml_source
from reconciler.desired import DesiredState, find_files, load_desired
from reconciler.errors import InputError, Problem, UsageError
from reconciler.settings import Threshold

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "users.yaml"
WriteFile = Callable[[str, str | bytes], str]

BOMB = "\n".join(
    [
        "version: 1",
        "l0: &l0 [x, x, x, x, x, x, x, x, x, x]",
        *(
            f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]"  # ten times the level below
            for i in range(1, 10)
        ),
        "users: []",
    ]
)


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@dataclass
class Case:
    id: str
    files: dict[str, str | bytes]
    #: (file relative to the test directory, line, fragment of the message), in order.
    expected: list[tuple[str, int, str]]
    paths: list[str] | None = None
    environment: str | None = None
    max_bytes: int | None = None


CASES = [
    Case(
        "malformed-yaml",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    name: A: B
                """)
        },
        [("u.yaml", 4, "malformed YAML: mapping values are not allowed")],
    ),
    Case(
        "tab-indentation",
        {"u.yaml": "version: 1\nusers:\n\t- login: a@acme\n"},
        [("u.yaml", 3, "malformed YAML")],
    ),
    Case(
        "root-is-a-list",
        {"u.yaml": "- login: a@acme\n- login: b@acme\n"},
        [("u.yaml", 1, "the file must be a mapping with version and users")],
    ),
    Case(
        "root-is-a-scalar",
        {"u.yaml": "hello\n"},
        [("u.yaml", 1, "the file must be a mapping")],
    ),
    Case("empty-file", {"u.yaml": ""}, [("u.yaml", 1, "the file is empty")]),
    Case("comments-only", {"u.yaml": "# nothing yet\n"}, [("u.yaml", 1, "the file is empty")]),
    Case(
        "phone-is-a-number",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    phone: 12345
                """)
        },
        [("u.yaml", 6, "phone must be a string or null, not a number (YAML read it")],
    ),
    Case(
        "is-active-maybe",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    is_active: maybe
                """)
        },
        [("u.yaml", 6, "is_active must be a boolean, not a string")],
    ),
    Case(
        "postal-code-read-as-a-date",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    postal_code: 2024-01-01
                """)
        },
        [("u.yaml", 6, "postal_code must be a string or null, not a date")],
    ),
    Case(
        "login-is-a-number",
        {"u.yaml": "version: 1\nusers:\n  - {login: 42, email: a@acme.com, name: A}\n"},
        [("u.yaml", 3, "login must be a string, not a number")],
    ),
    Case(
        "users-is-a-mapping",
        {"u.yaml": "version: 1\nusers:\n  login: a@acme\n"},
        [("u.yaml", 2, "users must be a list")],
    ),
    Case(
        "users-is-null",
        {"u.yaml": "version: 1\nusers:\n"},
        [("u.yaml", 2, "users must be a list (write users: [] for none)")],
    ),
    Case(
        "a-user-is-a-string",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                  - b@acme
                  -
                """)
        },
        [
            ("u.yaml", 6, "each user must be a mapping of fields"),
            ("u.yaml", 7, "each user must be a mapping of fields"),
        ],
    ),
    Case(
        "missing-login-email-name",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - position: Sales
                  - login: b@acme
                    name: B
                """)
        },
        [
            ("u.yaml", 3, "missing required login, email, name"),
            ("u.yaml", 4, "user 'b@acme': missing required email"),
        ],
    ),
    Case(
        "too-long-values",
        {
            "u.yaml": d(f"""
                version: 1
                users:
                  - login: {"x" * 91}
                    email: a@acme.com
                    name: A
                    city: {"c" * 33}
                  - login: {"y" * 90}
                    email: b@acme.com
                    name: B
                    city: {"c" * 32}
                """)
        },
        [
            ("u.yaml", 3, "login is 91 characters; the limit is 90"),
            ("u.yaml", 6, "city is 33 characters; the limit is 32"),
        ],
    ),
    Case(
        "empty-and-spaced-login",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - {login: "", email: a@acme.com, name: A}
                  - {login: a b, email: b@acme.com, name: B}
                  - {login: "c@acme\\n", email: c@acme.com, name: C}
                """)
        },
        [
            ("u.yaml", 3, "login must not be empty"),
            ("u.yaml", 4, "login 'a b' must not contain spaces"),
            ("u.yaml", 5, "login 'c@acme\\n' must not contain spaces"),
        ],
    ),
    Case(
        "bad-email",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a.acme.com
                    name: A
                  - login: b@acme
                    email: "b@acme.com\\n"
                    name: B
                """)
        },
        [
            ("u.yaml", 4, "email 'a.acme.com' is not an email address"),
            ("u.yaml", 7, "is not an email address"),
        ],
    ),
    Case(
        "unknown-user-key-with-suggestion",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    postion: Sales
                    42: x
                """)
        },
        [
            ("u.yaml", 6, "unknown key 'postion' (did you mean \"position\"?)"),
            ("u.yaml", 7, "unknown key '42'"),
        ],
    ),
    Case(
        "unknown-top-level-key",
        {"u.yaml": "version: 1\nuser:\n  - login: a@acme\n"},
        [("u.yaml", 2, "unknown key 'user' (did you mean \"users\"?)")],
    ),
    Case(
        "missing-version",
        {"u.yaml": "users: []\n"},
        [("u.yaml", 1, "'version' is required")],
    ),
    Case(
        "version-2",
        {"u.yaml": "# v2\nversion: 2\nusers: []\n"},
        [("u.yaml", 2, "unsupported version 2; this reconciler reads version 1")],
    ),
    Case(
        "unknown-settings-key",
        {"u.yaml": "version: 1\nsettings:\n  unlisted: ignore\n  protected: [a]\nusers: []\n"},
        [("u.yaml", 4, "settings: unknown key 'protected' (did you mean \"protect\"?)")],
    ),
    Case(
        "unknown-environment-key",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  environments:
                    sandbox:
                      url: https://x
                users: []
                """)
        },
        [
            ("u.yaml", 4, "settings.environments.sandbox: 'api_url' is required"),
            (
                "u.yaml",
                5,
                "settings.environments.sandbox: unknown key 'url' (did you mean \"api_url\"?)",
            ),
        ],
    ),
    Case(
        "unlisted-sometimes",
        {"u.yaml": "version: 1\nsettings:\n  unlisted: sometimes\nusers: []\n"},
        [("u.yaml", 3, "settings.unlisted: 'sometimes' is not one of ['deactivate', 'ignore']")],
    ),
    Case(
        "max-deactivations-120-percent",
        {"u.yaml": "version: 1\nsettings:\n  max_deactivations: 120%\nusers: []\n"},
        [("u.yaml", 3, "'120%' is not a whole number or a percentage such as 25%")],
    ),
    Case(
        "max-deactivations-100.5-percent",
        {"u.yaml": "version: 1\nsettings:\n  max_deactivations: 100.5%\nusers: []\n"},
        [("u.yaml", 3, "'100.5%' is not a whole number or a percentage")],
    ),
    Case(
        "max-deactivations-lots",
        {"u.yaml": "version: 1\nsettings:\n  max_deactivations: lots\nusers: []\n"},
        [("u.yaml", 3, "settings.max_deactivations: 'lots' is not a whole number")],
    ),
    Case(
        "max-deactivations-negative",
        {"u.yaml": "version: 1\nsettings:\n  max_deactivations: -1\nusers: []\n"},
        [("u.yaml", 3, "-1 is not a whole number or a percentage")],
    ),
    Case(
        "max-deactivations-trailing-newline",
        {"u.yaml": 'version: 1\nsettings:\n  max_deactivations: "25%\\n"\nusers: []\n'},
        [("u.yaml", 3, "is not a whole number or a percentage")],
    ),
    Case(
        "settings-is-null",
        {"u.yaml": "version: 1\nsettings:\nusers: []\n"},
        [("u.yaml", 2, "settings must be a mapping, not null")],
    ),
    Case(
        "protect-is-a-string",
        {"u.yaml": "version: 1\nsettings:\n  protect: admin@*\nusers: []\n"},
        [("u.yaml", 3, "settings.protect must be a list, not a string")],
    ),
    Case(
        "duplicate-login-in-one-file",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                  - name: A again
                    email: a2@acme.com
                    login: a@acme
                """)
        },
        [("u.yaml", 8, "login 'a@acme' is listed twice: here and at {tmp}/u.yaml:3")],
    ),
    Case(
        "duplicate-login-across-files",
        {
            "a.yaml": "version: 1\nusers:\n  - {login: a@acme, email: a@acme.com, name: A}\n",
            "b.yaml": d("""
                version: 1
                users:
                  - login: b@acme
                    email: b@acme.com
                    name: B
                  - login: a@acme
                    email: a@acme.com
                    name: A
                """),
        },
        [("b.yaml", 6, "login 'a@acme' is listed twice: here and at {tmp}/a.yaml:3")],
    ),
    Case(
        "duplicate-login-one-entry-invalid",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: not-an-email
                    name: A
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    phone: 5550101
                """)
        },
        [
            ("u.yaml", 4, "email 'not-an-email' is not an email address"),
            ("u.yaml", 6, "login 'a@acme' is listed twice: here and at {tmp}/u.yaml:3"),
            ("u.yaml", 9, "phone must be a string or null"),
        ],
    ),
    Case(
        "settings-in-two-files",
        {
            "a.yaml": "version: 1\nsettings:\n  unlisted: ignore\n",
            "b.yaml": "version: 1\nusers: []\nsettings:\n  unlisted: deactivate\n",
        },
        [
            (
                "b.yaml",
                3,
                "settings appear in more than one file (also in {tmp}/a.yaml:2); keep them in one",
            )
        ],
    ),
    Case(
        "manager-cycle",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    user_manager_login: b@acme
                  - login: b@acme
                    email: b@acme.com
                    name: B
                    user_manager_login: a@acme
                """)
        },
        [("u.yaml", 6, "managers form a cycle: a@acme -> b@acme -> a@acme")],
    ),
    Case(
        "self-manager",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                  - login: c@acme
                    email: c@acme.com
                    name: C
                    user_manager_login: c@acme
                """)
        },
        [("u.yaml", 9, "managers form a cycle: c@acme -> c@acme")],
    ),
    Case(
        "protected-login-deactivated",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  protect: ["admin@acme*"]
                users:
                  - login: Admin@Acme.io
                    email: a@acme.com
                    name: A
                    is_active: false
                  - login: other@acme
                    email: o@acme.com
                    name: O
                    is_active: false
                """)
        },
        [("u.yaml", 8, "Admin@Acme.io is protected (settings.protect) and cannot be set")],
    ),
    Case(
        "protected-login-deactivated-by-defaults",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  protect: ["admin@*"]
                defaults:
                  is_active: false
                users:
                  - login: admin@acme
                    email: a@acme.com
                    name: A
                """)
        },
        [("u.yaml", 5, "admin@acme is protected")],
    ),
    Case(
        "protected-error-reported-beside-other-errors",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  protect: ["admin@*"]
                users:
                  - login: admin@acme
                    email: a@acme.com
                    name: A
                    is_active: false
                  - login: b@acme
                    email: b@acme.com
                    name: B
                    city: 7
                """)
        },
        [
            ("u.yaml", 8, "admin@acme is protected"),
            ("u.yaml", 12, "city must be a string or null, not a number"),
        ],
    ),
    Case(
        "duplicate-yaml-key",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    email: b@acme.com
                """)
        },
        [("u.yaml", 6, "duplicate key 'email' (first on line 4)")],
    ),
    Case(
        "anchor-bomb",
        {"u.yaml": BOMB},
        [("u.yaml", 5, "aliases expand to far more nodes than the file contains")],
    ),
    Case(
        "recursive-alias",
        {"u.yaml": "version: 1\nusers: &u\n  - login: a@acme\n    more: *u\n"},
        [("u.yaml", 4, "alias *u refers to itself")],
    ),
    Case(
        "unknown-alias",
        {"u.yaml": "version: 1\nusers: *nothing\n"},
        [("u.yaml", 2, "unknown alias *nothing")],
    ),
    Case(
        "deep-nesting",
        {"u.yaml": "version: 1\nusers:\n  - " + "[" * 200 + "]" * 200 + "\n"},
        [("u.yaml", 3, "nested deeper than 64 levels")],
    ),
    Case(
        "file-over-the-size-limit",
        {"u.yaml": "version: 1\nusers: []\n" + "# padding\n" * 20},
        [("u.yaml", 0, "more than 100 bytes, the limit (split the users")],
        max_bytes=100,
    ),
    Case(
        "invalid-utf-8",
        {"u.yaml": b"version: 1\nusers:\n  - login: caf\xe9@acme\n"},
        [("u.yaml", 3, "the file is not valid UTF-8")],
    ),
    Case(
        "control-character",
        {"u.yaml": "version: 1\nusers:\n  - login: a\x07@acme\n"},
        [("u.yaml", 3, "malformed YAML: unacceptable character #x0007")],
    ),
    Case(
        "bad-explicit-tag-value",
        {"u.yaml": "version: 1\nsettings:\n  max_deactivations: !!int lots\n"},
        [("u.yaml", 3, "'lots' cannot be read as !!int")],
    ),
    Case(
        "python-tag",
        {"u.yaml": "version: 1\nusers: !!python/object/apply:os.system [ls]\n"},
        [("u.yaml", 2, "unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'")],
    ),
    Case(
        "merge-key-as-a-value",
        {"u.yaml": "version: 1\nusers:\n  - login: <<\n"},
        [("u.yaml", 3, "a merge key (<<) can only be a mapping key")],
    ),
    Case(
        "two-documents",
        {"u.yaml": "version: 1\nusers: []\n---\nversion: 1\n"},
        [("u.yaml", 3, "more than one YAML document")],
    ),
    Case(
        "non-existent-path",
        {"u.yaml": "version: 1\nusers: []\n"},
        [("missing.yaml", 0, "no such file or directory")],
        paths=["missing.yaml", "u.yaml"],
    ),
    Case(
        "directory-without-yaml-files",
        {"team/notes.txt": "version: 1\n", "team/.hidden.yaml": "version: 1\n"},
        [("team", 0, "no *.yaml or *.yml files in this directory")],
        paths=["team"],
    ),
    Case(
        "defaults-with-per-user-fields",
        {
            "u.yaml": d("""
                version: 1
                defaults:
                  company: Acme
                  login: x@acme
                  email: x@acme.com
                  external_user_id: "005"
                  compnay: Acme
                users: []
                """)
        },
        [
            ("u.yaml", 4, "login cannot be set in defaults (it is per user)"),
            ("u.yaml", 5, "email cannot be set in defaults (it is per user)"),
            ("u.yaml", 6, "external_user_id cannot be set in defaults"),
            ("u.yaml", 7, "unknown key 'compnay' (did you mean \"company\"?)"),
        ],
    ),
    Case(
        "defaults-values-yaml-reads-as-non-strings",
        {
            "u.yaml": d("""
                version: 1
                defaults:
                  country: NO
                  phone: 0544
                  postal_code: 2024-01-01
                  city: 12.5
                  is_active: "yes"
                users: []
                """)
        },
        [
            (
                "u.yaml",
                3,
                "country must be a string or null, not a boolean (YAML read it as a "
                "non-string; put the value in quotes)",
            ),
            ("u.yaml", 4, "phone must be a string or null, not a number (YAML read it"),
            ("u.yaml", 5, "postal_code must be a string or null, not a date (YAML read it"),
            ("u.yaml", 6, "city must be a string or null, not a number (YAML read it"),
            ("u.yaml", 7, "is_active must be a boolean, not a string"),
        ],
    ),
    Case(
        "require-external-id",
        {
            "a.yaml": d("""
                version: 1
                settings:
                  require_external_id: true
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    external_user_id: "005"
                  - login: b@acme
                    email: b@acme.com
                    name: B
                  - login: c@acme
                    email: c@acme.com
                    name: C
                    external_user_id: null
                  - login: d@acme
                    email: d@acme.com
                    name: D
                    is_active: false
                """),
            "b.yaml": d("""
                version: 1
                defaults: {company: Acme}
                users:
                  - {login: e@acme, email: e@acme.com, name: E, external_user_id: ""}
                """),
        },
        [
            (
                "a.yaml",
                9,
                "b@acme has no external_user_id (settings.require_external_id); "
                "the vendor's v2 schema requires it",
            ),
            ("a.yaml", 12, "c@acme has no external_user_id"),
            ("a.yaml", 16, "d@acme has no external_user_id"),
            ("b.yaml", 4, "e@acme has no external_user_id"),
        ],
    ),
    Case(
        "defaults-is-a-string",
        {"u.yaml": "version: 1\ndefaults: Acme\nusers: []\n"},
        [("u.yaml", 2, "defaults must be a mapping of fields")],
    ),
    Case(
        "defaults-is-null",
        {"u.yaml": "version: 1\ndefaults:\nusers: []\n"},
        [("u.yaml", 2, "defaults must be a mapping of fields")],
    ),
    Case(
        "suffixed-login-too-long",
        {
            "u.yaml": d(f"""
                version: 1
                settings:
                  environments:
                    sandbox: {{api_url: "https://x.dealhub.io", login_suffix: _sb}}
                users:
                  - login: {"x" * 88}
                    email: x@acme.com
                    name: X
                  - login: {"y" * 87}
                    email: y@acme.com
                    name: Y
                """)
        },
        [("u.yaml", 6, "is 91 characters with the suffix '_sb'; the limit is 90")],
        environment="sandbox",
    ),
    Case(
        "every-problem-of-a-file-is-reported",
        {
            "u.yaml": d("""
                version: 1
                bogus: 1
                settings:
                  unlisted: never
                users:
                  - login: a@acme
                    email: nope
                    name: A
                    phone: 1
                    citty: Paris
                  - login: b@acme
                    name: B
                """),
            "v.yaml": "version: 3\n",
        },
        [
            ("u.yaml", 2, "unknown key 'bogus'"),
            ("u.yaml", 4, "settings.unlisted: 'never' is not one of"),
            ("u.yaml", 7, "email 'nope' is not an email address"),
            ("u.yaml", 9, "phone must be a string or null"),
            ("u.yaml", 10, "unknown key 'citty' (did you mean \"city\"?)"),
            ("u.yaml", 11, "user 'b@acme': missing required email"),
            ("v.yaml", 1, "unsupported version 3"),
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_located(
    case: Case, tmp_path: Path, write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, content in case.files.items():
        write(name, content)
    if case.max_bytes is not None:
        monkeypatch.setattr(yaml_source, "MAX_FILE_BYTES", case.max_bytes)
    paths = [os.fspath(tmp_path / p) for p in (case.paths or sorted(case.files))]

    started = time.perf_counter()
    with pytest.raises(InputError) as info:
        load_desired(paths, environment=case.environment)
    elapsed = time.perf_counter() - started

    got = [(os.path.relpath(p.file, tmp_path), p.line, p.message) for p in info.value.problems]
    assert [(f, line) for f, line, _ in got] == [(f, line) for f, line, _ in case.expected], got
    for (_, _, message), (_, _, fragment) in zip(got, case.expected, strict=True):
        assert fragment.format(tmp=tmp_path) in message
    # The error's text is the problems, one `FILE:LINE: message` a line.
    assert str(info.value).splitlines() == [str(p) for p in info.value.problems]
    if case.id == "anchor-bomb":
        # A billion nodes if expanded: refused after a few thousand events.
        assert elapsed < 1.0


def test_problem_renders_file_line_message() -> None:
    assert str(Problem("u.yaml", 7, "boom")) == "u.yaml:7: boom"
    assert str(Problem("u.yaml", 0, "boom")) == "u.yaml: boom"


# --- good input ---------------------------------------------------------------


def test_manager_outside_the_files_is_only_a_warning(write: WriteFile) -> None:
    path = write(
        "u.yaml",
        """\
        version: 1
        users:
          - login: a@acme
            email: a@acme.com
            name: A
            user_manager_login: boss@acme
        """,
    )
    state = load_desired([path])
    assert list(state.users) == ["a@acme"]
    [warning] = state.warnings
    assert (warning.file, warning.line) == (path, 6)
    assert "manager 'boss@acme' is not in the files" in warning.message


def test_defaults_apply_to_their_own_file_only(write: WriteFile) -> None:
    a = write(
        "a.yaml",
        """\
        version: 1
        defaults:
          company: Acme
          country: Israel
          is_active: false
        users:
          - login: a@acme
            email: a@acme.com
            name: A
            country: France
          - login: b@acme
            email: b@acme.com
            name: B
            is_active: true
        """,
    )
    c = write(
        "c.yaml",
        """\
        version: 1
        users:
          - login: c@acme
            email: c@acme.com
            name: C
        """,
    )
    state = load_desired([a, c])
    users = state.users
    assert users["a@acme"].fields == {
        "is_active": False,
        "company": "Acme",
        "country": "France",  # the user's own value wins
        "email": "a@acme.com",
        "name": "A",
    }
    assert users["b@acme"].fields["is_active"] is True
    assert users["b@acme"].fields["country"] == "Israel"
    # other files are untouched by a.yaml's defaults; is_active defaults to true
    assert users["c@acme"].fields == {"is_active": True, "email": "c@acme.com", "name": "C"}
    # a field that comes from the defaults points at the defaults' line
    assert users["b@acme"].where("company") == f"{a}:3"
    assert users["a@acme"].where("country") == f"{a}:10"
    assert users["a@acme"].where() == f"{a}:7"
    assert state.files == [a, c]


def test_null_means_must_be_empty(write: WriteFile) -> None:
    path = write(
        "u.yaml",
        """\
        version: 1
        defaults:
          fax: null
        users:
          - {login: a@acme, email: a@acme.com, name: A, phone: ~}
          - {login: b@acme, email: b@acme.com, name: B, fax: "555"}
        """,
    )
    users = load_desired([path]).users
    assert "phone" in users["a@acme"].fields and users["a@acme"].fields["phone"] is None
    assert "fax" in users["a@acme"].fields and users["a@acme"].fields["fax"] is None
    assert users["b@acme"].fields["fax"] == "555"
    # an unset field is not managed: absent, not None
    assert "mobile" not in users["a@acme"].fields
    assert "login" not in users["a@acme"].fields


def test_directories_are_read_recursively(tmp_path: Path, write: WriteFile) -> None:
    write("team/a.yaml", "version: 1\nusers: [{login: a@acme, email: a@acme.com, name: A}]\n")
    write("team/sub/b.yml", "version: 1\nusers: [{login: b@acme, email: b@acme.com, name: B}]\n")
    write("team/sub/deeper/c.yaml", "version: 1\nusers: [{login: c@x, email: c@x.io, name: C}]\n")
    write("team/notes.txt", "not yaml")
    write("team/.hidden.yaml", "garbage: [")
    write("team/.github/workflows/ci.yml", "on: push\njobs: {}\n")
    state = load_desired([os.fspath(tmp_path / "team")])
    assert sorted(state.users) == ["a@acme", "b@acme", "c@x"]
    assert [os.path.relpath(f, tmp_path) for f in state.files] == [
        "team/a.yaml",
        "team/sub/b.yml",
        "team/sub/deeper/c.yaml",
    ]


def test_a_file_named_twice_is_read_once(tmp_path: Path, write: WriteFile) -> None:
    path = write("d/u.yaml", "version: 1\nusers: [{login: a@acme, email: a@acme.com, name: A}]\n")
    files, problems = find_files([path, os.fspath(tmp_path / "d")])
    assert files == [path]
    assert problems == []
    assert list(load_desired([path, os.fspath(tmp_path / "d")]).users) == ["a@acme"]


def test_settings_only_file_plus_users_file(write: WriteFile) -> None:
    settings = write(
        "settings.yaml",
        """\
        version: 1
        settings:
          unlisted: ignore
          protect: ["admin@*", "ops@acme"]
          max_deactivations: 10
          environments:
            sandbox: {api_url: https://s.dealhub.io, token_env: DEALHUB_SB_TOKEN, login_suffix: _sb}
            production: {api_url: "https://api.dealhub.io"}
        """,
    )
    users = write(
        "users.yaml",
        """\
        version: 1
        users:
          - login: admin@acme
            email: admin@acme.com
            name: Admin
          - login: a@acme
            email: a@acme.com
            name: A
            user_manager_login: admin@acme
          - login: b@acme
            email: b@acme.com
            name: B
            user_manager_login: null
        """,
    )
    state = load_desired([settings, users])
    s = state.settings
    assert s.unlisted == "ignore"
    assert s.protect == ("admin@*", "ops@acme")
    assert s.max_deactivations == Threshold(10, percent=False)
    assert s.environments["sandbox"].token_env == "DEALHUB_SB_TOKEN"
    assert s.environments["production"].token_env == "DEALHUB_TOKEN"
    assert s.environments["production"].login_suffix == ""
    assert state.environment is None and state.login_suffix == ""
    assert sorted(state.users) == ["a@acme", "admin@acme", "b@acme"]

    sandbox = load_desired([settings, users], environment="sandbox")
    assert sandbox.login_suffix == "_sb"
    assert sandbox.environment is not None and sandbox.environment.api_url == "https://s.dealhub.io"
    assert sorted(sandbox.users) == ["a@acme_sb", "admin@acme_sb", "b@acme_sb"]
    assert sandbox.users["a@acme_sb"].login == "a@acme_sb"
    assert sandbox.users["a@acme_sb"].fields["user_manager_login"] == "admin@acme_sb"
    assert sandbox.users["b@acme_sb"].fields["user_manager_login"] is None
    assert sandbox.warnings == []
    # protection still matches the login as written, without the suffix
    assert sandbox.settings.is_protected("ops@acme_sb", "_sb")


def test_unknown_environment_is_a_usage_error(write: WriteFile) -> None:
    path = write("u.yaml", "version: 1\nusers: [{login: a@acme, email: a@acme.com, name: A}]\n")
    with pytest.raises(UsageError, match="--env staging: no such environment"):
        load_desired([path], environment="staging")


def test_settings_default_when_absent(write: WriteFile) -> None:
    path = write("u.yaml", "version: 1\nusers: [{login: a@acme, email: a@acme.com, name: A}]\n")
    s = load_desired([path]).settings
    assert s.unlisted == "deactivate"
    assert s.protect == ()
    assert s.max_deactivations == Threshold(25, percent=True)
    assert s.environments == {}


@pytest.mark.parametrize(
    ("written", "threshold"),
    [
        ("25%", Threshold(25, percent=True)),
        ("33.3%", Threshold(33.3, percent=True)),
        ("100%", Threshold(100, percent=True)),
        ("0%", Threshold(0, percent=True)),
        ("0", Threshold(0, percent=False)),
        ("7", Threshold(7, percent=False)),
    ],
)
def test_max_deactivations_is_parsed(write: WriteFile, written: str, threshold: Threshold) -> None:
    path = write("u.yaml", f"version: 1\nsettings:\n  max_deactivations: {written}\n")
    assert load_desired([path]).settings.max_deactivations == threshold


def test_the_example_loads() -> None:
    state: DesiredState = load_desired([os.fspath(EXAMPLE)])
    assert len(state.users) == 12
    assert state.warnings == []
    assert state.settings.protect == ("admin@acme*",)
    assert state.users["sara@acme"].fields["fax"] is None
    assert state.users["lucas@acme"].fields["country"] == "France"
    assert state.users["roy@acme"].fields["country"] == "Israel"
    assert state.users["ex.employee@acme"].fields["is_active"] is False
    sandbox = load_desired([os.fspath(EXAMPLE)], environment="sandbox")
    assert "daniel@acme_sb" in sandbox.users
    assert sandbox.users["daniel@acme_sb"].fields["user_manager_login"] == "roy@acme_sb"


def test_a_large_file_loads(write: WriteFile) -> None:
    lines = ["version: 1", "defaults: &d {company: Acme, country: Israel}", "users:"]
    for i in range(10_000):
        lines += [
            f"  - login: user{i}@acme",
            f"    email: user{i}@acme.com",
            f"    name: User {i}",
            "    position: Sales",
            f"    user_manager_login: user{i // 10}@acme" if i else "    is_active: true",
        ]
    state = load_desired([write("big.yaml", "\n".join(lines) + "\n")])
    assert len(state.users) == 10_000
    assert state.users["user9999@acme"].fields["user_manager_login"] == "user999@acme"
    assert state.users["user9999@acme"].where().endswith(":49999")
    assert state.warnings == []


def test_the_collector_is_paused_while_loading_and_back_after(
    write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    check = desired.check_semantics

    def spy(state: DesiredState) -> tuple[list[Problem], list[Problem]]:
        seen.append(gc.isenabled())
        return check(state)

    monkeypatch.setattr(desired, "check_semantics", spy)
    good = write("u.yaml", "version: 1\nusers: [{login: a@acme, email: a@acme.com, name: A}]\n")
    bad = write("v.yaml", "version: 1\nusers: [{login: a@acme, email: nope, name: A}]\n")
    assert gc.isenabled()
    load_desired([good])
    assert seen == [False]
    assert gc.isenabled()
    with pytest.raises(InputError):
        load_desired([bad])
    assert gc.isenabled()
