"""The people file of SPEC section 7: systems, per-system settings and a person's Pipedrive access.

Every bad input is one located problem (FILE:LINE: message); every good file loads
into Settings.systems/blocks, Environment.systems, DesiredUser.systems/blocks, with
DesiredUser.fields exactly DealHub's.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.desired import load_desired, person_system_keys
from reconciler.errors import InputError
from reconciler.providers import get
from reconciler.settings import Environment, Settings, SystemSettings, SystemTarget, Threshold

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "users.yaml"
WriteFile = Callable[[str, str | bytes], str]

BOTH = "settings:\n  systems: [dealhub, pipedrive]\n"


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@dataclass
class Case:
    id: str
    files: dict[str, str]
    #: (file, line, fragment of the message), in order.
    expected: list[tuple[str, int, str]]


CASES = [
    # --- settings.systems
    Case(
        "unknown-system-in-settings",
        {"u.yaml": "version: 1\nsettings:\n  systems: [dealhub, pipedriv]\n"},
        [
            (
                "u.yaml",
                3,
                "settings.systems[1]: unknown system 'pipedriv' (did you mean \"pipedrive\"?); "
                "one of: dealhub, pipedrive",
            )
        ],
    ),
    Case(
        "empty-systems-in-settings",
        {"u.yaml": "version: 1\nsettings:\n  systems: []\n"},
        [("u.yaml", 3, "settings.systems must not be an empty list")],
    ),
    Case(
        "system-twice-in-settings",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  systems:
                    - pipedrive
                    - dealhub
                    - pipedrive
                """)
        },
        [("u.yaml", 6, "settings.systems: 'pipedrive' is listed twice")],
    ),
    Case(
        "systems-not-a-list",
        {"u.yaml": "version: 1\nsettings:\n  systems: dealhub\n"},
        [("u.yaml", 3, "settings.systems must be a list, not a string")],
    ),
    # --- settings blocks
    Case(
        "settings-block-of-an-unmanaged-system",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  unlisted: ignore
                  pipedrive:
                    max_creates: 5
                """)
        },
        [
            (
                "u.yaml",
                4,
                "settings.pipedrive: pipedrive is not managed by this file (settings.systems: "
                "dealhub, the default); add it to settings.systems",
            )
        ],
    ),
    Case(
        "negative-max-creates",
        {"u.yaml": "version: 1\n" + BOTH + "  pipedrive:\n    max_creates: -1\n"},
        [("u.yaml", 5, "settings.pipedrive.max_creates must be 0 or more, not -1")],
    ),
    Case(
        "max-creates-a-string",
        {"u.yaml": "version: 1\n" + BOTH + "  dealhub: {max_creates: '5'}\n"},
        [("u.yaml", 4, "settings.dealhub.max_creates must be a whole number, not a string")],
    ),
    Case(
        "pipedrive-protect-not-an-email-glob",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  systems: [dealhub, pipedrive]
                  pipedrive:
                    protect:
                      - "*@acme.com"
                      - owner
                """)
        },
        [
            (
                "u.yaml",
                7,
                "settings.pipedrive.protect[1] 'owner' is not an email or an email glob",
            )
        ],
    ),
    Case(
        "unknown-key-in-a-settings-block",
        {"u.yaml": "version: 1\n" + BOTH + "  pipedrive:\n    unlistd: ignore\n"},
        [("u.yaml", 5, "settings.pipedrive: unknown key 'unlistd' (did you mean \"unlisted\"?)")],
    ),
    # --- environments
    Case(
        "pipedrive-token-env-not-pipedrive",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  systems: [dealhub, pipedrive]
                  environments:
                    production:
                      api_url: https://api.dealhub.io
                      pipedrive:
                        api_url: https://acme.pipedrive.com
                        token_env: DEALHUB_TOKEN
                """)
        },
        [
            (
                "u.yaml",
                9,
                "settings.environments.production.pipedrive.token_env 'DEALHUB_TOKEN' must be "
                "a PIPEDRIVE_* variable name, so that a file cannot send another secret",
            )
        ],
    ),
    Case(
        "dealhub-token-env-not-dealhub",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  environments:
                    production: {api_url: "https://api.dealhub.io", token_env: PIPEDRIVE_API_TOKEN}
                """)
        },
        [("u.yaml", 4, "token_env 'PIPEDRIVE_API_TOKEN' must be a DEALHUB_* variable name")],
    ),
    Case(
        "pipedrive-target-without-api-url",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  systems: [dealhub, pipedrive]
                  environments:
                    production:
                      api_url: https://api.dealhub.io
                      pipedrive: {token_env: PIPEDRIVE_PROD_TOKEN}
                """)
        },
        [("u.yaml", 7, "settings.environments.production.pipedrive: 'api_url' is required")],
    ),
    Case(
        "dealhub-api-url-required-when-dealhub-is-managed",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  systems: [dealhub, pipedrive]
                  environments:
                    production:
                      pipedrive: {api_url: "https://acme.pipedrive.com"}
                """)
        },
        [("u.yaml", 5, "settings.environments.production: 'api_url' is required")],
    ),
    Case(
        "unknown-system-in-an-environment",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  environments:
                    production:
                      api_url: https://api.dealhub.io
                      pipedriv: {api_url: "https://acme.pipedrive.com"}
                """)
        },
        [
            (
                "u.yaml",
                6,
                "settings.environments.production: unknown key 'pipedriv' "
                '(did you mean "pipedrive"?)',
            )
        ],
    ),
    # --- a person's systems
    Case(
        "unknown-system-of-a-person",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    systems:
                      - dealhub
                      - hubspot
                """)
        },
        [("u.yaml", 8, "systems[1]: unknown system 'hubspot'; one of: dealhub, pipedrive")],
    ),
    Case(
        "person-system-not-in-settings-systems",
        {
            "u.yaml": d("""
                version: 1
                settings:
                  systems: [dealhub]
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    systems: [dealhub, pipedrive]
                """)
        },
        [
            (
                "u.yaml",
                8,
                "systems: 'pipedrive' is not managed by this file (settings.systems: dealhub)",
            )
        ],
    ),
    Case(
        "person-system-not-in-the-default-systems",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    systems:
                      - pipedrive
                """)
        },
        [
            (
                "u.yaml",
                7,
                "systems: 'pipedrive' is not managed by this file "
                "(settings.systems: dealhub, the default)",
            )
        ],
    ),
    Case(
        "person-system-not-in-settings-of-another-file",
        {
            "a-settings.yaml": "version: 1\nsettings:\n  systems: [pipedrive]\n",
            "b-users.yaml": d("""
                version: 1
                users:
                  - {login: a@acme, email: a@acme.com, name: A, systems: [dealhub]}
                """),
        },
        [("b-users.yaml", 3, "systems: 'dealhub' is not managed by this file")],
    ),
    Case(
        "defaults-system-not-managed",
        {
            "u.yaml": d("""
                version: 1
                defaults:
                  systems: [pipedrive]
                users:
                  - {login: a@acme, email: a@acme.com, name: A}
                  - {login: b@acme, email: b@acme.com, name: B}
                """)
        },
        # once, at the defaults: not once a person
        [("u.yaml", 3, "systems: 'pipedrive' is not managed by this file")],
    ),
    Case(
        "empty-systems-of-a-person",
        {"u.yaml": "version: 1\nusers:\n  - {login: a@acme, email: a@b.c, name: A, systems: []}\n"},
        [("u.yaml", 3, "systems must not be an empty list")],
    ),
    Case(
        "system-twice-for-a-person",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + "users:\n  - {login: a@acme, email: a@b.c, name: A, systems: [dealhub, dealhub]}\n"
        },
        [("u.yaml", 5, "systems: 'dealhub' is listed twice")],
    ),
    # --- a person's Pipedrive block
    Case(
        "pipedrive-block-of-an-unmanaged-system",
        {
            "u.yaml": d("""
                version: 1
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    pipedrive: {access: [{app: sales}]}
                """)
        },
        [("u.yaml", 6, "pipedrive: pipedrive is not managed by this file (settings.systems:")],
    ),
    Case(
        "unknown-app",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + d("""
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    pipedrive:
                      access:
                        - app: sales
                        - app: acount settings
                """)
        },
        [
            (
                "u.yaml",
                11,
                "pipedrive.access[1].app 'acount settings' is not an app name such as sales "
                "(letters, digits, _ . - only)",
            )
        ],
    ),
    Case(
        "admin-and-permission-set",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + d("""
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    pipedrive:
                      access:
                        - {app: sales}
                        - {app: global, admin: true, permission_set_id: 62cc4d7f}
                """)
        },
        [("u.yaml", 11, "pipedrive.access[1]: give admin or permission_set_id, not both")],
    ),
    Case(
        "admin-not-a-boolean",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + d("""
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    pipedrive:
                      access:
                        - app: global
                          admin: yes please
                """)
        },
        [("u.yaml", 11, "pipedrive.access[0].admin must be true or false, not a string")],
    ),
    Case(
        "permission-set-not-a-string",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + "defaults:\n  pipedrive: {access: [{app: sales, permission_set_id: 12}]}\n"
        },
        [("u.yaml", 5, "pipedrive.access[0].permission_set_id must be a string, not a number")],
    ),
    Case(
        "empty-access",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + "users:\n  - {login: a@acme, email: a@b.c, name: A, pipedrive: {access: []}}\n"
        },
        [("u.yaml", 5, "pipedrive.access must not be an empty list")],
    ),
    Case(
        "access-item-without-app",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + d("""
                defaults:
                  pipedrive:
                    access:
                      - admin: true
                """)
        },
        [("u.yaml", 7, "pipedrive.access[0]: 'app' is required")],
    ),
    Case(
        "unknown-key-in-a-pipedrive-block",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + d("""
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    pipedrive:
                      acess: [{app: sales}]
                """)
        },
        [("u.yaml", 9, "pipedrive: unknown key 'acess' (did you mean \"access\"?)")],
    ),
    Case(
        "pipedrive-block-null",
        {"u.yaml": "version: 1\n" + BOTH + "defaults:\n  pipedrive:\n"},
        [("u.yaml", 5, "pipedrive must be a mapping, not null")],
    ),
    Case(
        "app-twice",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + d("""
                users:
                  - login: a@acme
                    email: a@acme.com
                    name: A
                    pipedrive:
                      access:
                        - app: sales
                        - app: global
                        - app: sales
                          admin: true
                """)
        },
        [
            (
                "u.yaml",
                12,
                "pipedrive.access[2]: app 'sales' is listed twice (also access[0], line 10)",
            )
        ],
    ),
    Case(
        "app-twice-in-defaults",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + "defaults:\n  pipedrive: {access: [{app: sales}, {app: sales, admin: true}]}\n"
            + "users:\n  - {login: a@acme, email: a@b.c, name: A}\n"
            + "  - {login: b@acme, email: b@b.c, name: B}\n"
        },
        [("u.yaml", 5, "pipedrive.access[1]: app 'sales' is listed twice")],
    ),
    # --- Pipedrive's key: the email, any letter case
    Case(
        "one-email-twice-for-pipedrive-across-files",
        {
            "a.yaml": "version: 1\n"
            + BOTH
            + d("""
                users:
                  - login: dana@acme
                    email: Dana@Acme.com
                    name: Dana
                """),
            "b.yaml": d("""
                version: 1
                users:
                  - login: dana.cohen@acme
                    email: dana@acme.COM
                    name: Dana Cohen
                """),
        },
        [
            (
                "b.yaml",
                4,
                "email 'dana@acme.COM' of dana.cohen@acme is listed twice for Pipedrive: here "
                "and at {tmp}/a.yaml:6 (dana@acme); Pipedrive keys users by email, without "
                "regard to letter case",
            )
        ],
    ),
    Case(
        "protected-pipedrive-email-set-inactive",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + d("""
                  pipedrive:
                    protect: ["owner@acme.com"]
                users:
                  - login: owner@acme
                    email: Owner@acme.com
                    name: Owner
                    is_active: false
                """)
        },
        [
            (
                "u.yaml",
                10,
                "Owner@acme.com is protected in Pipedrive (settings.pipedrive.protect) and "
                "cannot be set is_active: false",
            )
        ],
    ),
    Case(
        "dealhub-protect-block-is-dealhub-protection",
        {
            "u.yaml": "version: 1\n"
            + BOTH
            + d("""
                  dealhub:
                    protect: ["admin@*"]
                users:
                  - login: admin@acme
                    email: it@acme.com
                    name: Admin
                    is_active: false
                """)
        },
        [("u.yaml", 10, "admin@acme is protected (settings.protect) and cannot be set")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_located(case: Case, tmp_path: Path, write: WriteFile) -> None:
    for name, content in case.files.items():
        write(name, content)
    with pytest.raises(InputError) as info:
        load_desired([os.fspath(tmp_path / name) for name in sorted(case.files)])
    got = [(os.path.relpath(p.file, tmp_path), p.line, p.message) for p in info.value.problems]
    assert [(f, line) for f, line, _ in got] == [(f, line) for f, line, _ in case.expected], got
    for (_, _, message), (_, _, fragment) in zip(got, case.expected, strict=True):
        assert fragment.format(tmp=tmp_path) in message, message


# --- good files ----------------------------------------------------------------

SECTION_7 = """\
version: 1
settings:
  systems: [dealhub, pipedrive]
  unlisted: deactivate
  protect: ["admin@acme*"]
  max_deactivations: 25%
  pipedrive:
    unlisted: ignore
    protect: ["owner@acme.com"]
    max_deactivations: 10
    max_creates: 20
  environments:
    production:
      api_url: https://api.dealhub.io
      token_env: DEALHUB_TOKEN
      pipedrive: {api_url: "https://acme.pipedrive.com", token_env: PIPEDRIVE_API_TOKEN}
    sandbox:
      api_url: https://api.dealhub.io
      token_env: DEALHUB_SANDBOX_TOKEN
      login_suffix: _sb
      pipedrive:
        api_url: https://acme-sandbox.pipedrive.com
defaults:
  company: Acme
  pipedrive: {access: [{app: sales}]}
users:
  - login: daniel@acme
    email: daniel@acme.com
    name: Daniel Smith
    pipedrive:
      access:
        - {app: sales}
        - {app: global, admin: true}
        - {app: projects, permission_set_id: 62cc4d7f-4038}
  - login: finance@acme
    email: finance@acme.com
    name: Finance Approver
    systems: [dealhub]
  - login: sales.ops@acme
    email: sales.ops@acme.com
    name: Sales Ops
    systems: [pipedrive]
    is_active: false
"""


def test_the_section_7_file_loads(write: WriteFile) -> None:
    path = write("people.yaml", SECTION_7)
    state = load_desired([path])
    s = state.settings
    assert s.systems == ("dealhub", "pipedrive")
    assert s.blocks == {
        "pipedrive": {
            "unlisted": "ignore",
            "protect": ["owner@acme.com"],
            "max_deactivations": 10,
            "max_creates": 20,
        }
    }
    assert s.environments["production"] == Environment(
        "production",
        "https://api.dealhub.io",
        "DEALHUB_TOKEN",
        "",
        {"pipedrive": SystemTarget("https://acme.pipedrive.com", "PIPEDRIVE_API_TOKEN")},
    )
    # token_env defaults to the system's own variable
    assert s.environments["sandbox"].systems == {
        "pipedrive": SystemTarget("https://acme-sandbox.pipedrive.com", "PIPEDRIVE_API_TOKEN")
    }
    assert s.for_system("pipedrive") == SystemSettings(
        unlisted="ignore",
        protect=("owner@acme.com",),
        max_deactivations=Threshold(10, percent=False),
        max_creates=20,
    )
    assert s.for_system("dealhub") == SystemSettings(
        "deactivate", ("admin@acme*",), Threshold(25, percent=True), None
    )

    users = state.users
    daniel, finance, ops = users["daniel@acme"], users["finance@acme"], users["sales.ops@acme"]
    # fields are DealHub's alone, as before
    assert daniel.fields == {
        "is_active": True,
        "company": "Acme",
        "email": "daniel@acme.com",
        "name": "Daniel Smith",
    }
    assert not set(person_system_keys()) & {*daniel.fields, *finance.fields, *ops.fields}
    assert daniel.systems is None
    assert finance.systems == ("dealhub",)
    assert ops.systems == ("pipedrive",)
    # a person's access replaces the defaults' whole
    assert daniel.blocks == {
        "pipedrive": {
            "access": [
                {"app": "sales"},
                {"app": "global", "admin": True},
                {"app": "projects", "permission_set_id": "62cc4d7f-4038"},
            ]
        }
    }
    assert finance.blocks == ops.blocks == {"pipedrive": {"access": [{"app": "sales"}]}}
    # lines to point at: the person's own keys, or the defaults'
    assert daniel.where("pipedrive") == f"{path}:30"
    assert daniel.where("pipedrive.access") == f"{path}:31"
    assert finance.where("pipedrive.access") == f"{path}:25"
    assert finance.where("systems") == f"{path}:38"
    assert ops.where("systems") == f"{path}:42"

    assert [u.login for u in state.listed("pipedrive")] == ["daniel@acme", "sales.ops@acme"]
    assert [u.login for u in state.listed("dealhub")] == ["daniel@acme", "finance@acme"]
    assert daniel.listed_for("pipedrive", s.systems)
    assert not finance.listed_for("pipedrive", s.systems)
    assert state.warnings == []


def test_the_suffix_is_dealhub_s_alone(write: WriteFile) -> None:
    state = load_desired([write("people.yaml", SECTION_7)], environment="sandbox")
    daniel = state.users["daniel@acme_sb"]
    assert daniel.fields["email"] == "daniel@acme.com"
    assert state.environment is not None
    assert state.environment.target("pipedrive") == SystemTarget(
        "https://acme-sandbox.pipedrive.com", "PIPEDRIVE_API_TOKEN"
    )
    assert state.environment.target("dealhub") == SystemTarget(
        "https://api.dealhub.io", "DEALHUB_SANDBOX_TOKEN"
    )


def test_an_empty_block_keeps_the_defaults_access(write: WriteFile) -> None:
    path = write(
        "u.yaml",
        "version: 1\n"
        + BOTH
        + d("""
            defaults:
              pipedrive:
                access: [{app: sales}, {app: campaigns}]
            users:
              - {login: a@acme, email: a@acme.com, name: A, pipedrive: {}}
              - {login: b@acme, email: b@acme.com, name: B}
            """),
    )
    users = load_desired([path]).users
    expected = {"pipedrive": {"access": [{"app": "sales"}, {"app": "campaigns"}]}}
    assert users["a@acme"].blocks == users["b@acme"].blocks == expected
    assert users["a@acme"].where("pipedrive") == f"{path}:8"
    assert users["a@acme"].where("pipedrive.access") == f"{path}:6"


def test_defaults_systems_apply_and_a_person_s_own_win(write: WriteFile) -> None:
    path = write(
        "u.yaml",
        "version: 1\n"
        + BOTH
        + d("""
            defaults:
              systems: [dealhub]
            users:
              - {login: a@acme, email: a@acme.com, name: A}
              - {login: b@acme, email: b@acme.com, name: B, systems: [pipedrive, dealhub]}
            """),
    )
    users = load_desired([path]).users
    assert users["a@acme"].systems == ("dealhub",)
    assert users["a@acme"].where("systems") == f"{path}:5"
    assert users["b@acme"].systems == ("pipedrive", "dealhub")
    assert users["b@acme"].where("systems") == f"{path}:8"


@pytest.mark.parametrize(
    "content",
    [
        # one of the two is not listed for Pipedrive
        "version: 1\n" + BOTH + "users:\n"
        "  - {login: a@acme, email: a@acme.com, name: A}\n"
        "  - {login: b@acme, email: A@acme.com, name: B, systems: [dealhub]}\n",
        # the file does not manage Pipedrive (DealHub allows one email for two logins)
        "version: 1\nusers:\n"
        "  - {login: a@acme, email: a@acme.com, name: A}\n"
        "  - {login: b@acme, email: a@acme.com, name: B}\n",
    ],
    ids=["one-not-listed", "pipedrive-not-managed"],
)
def test_one_email_twice_is_allowed_outside_pipedrive(write: WriteFile, content: str) -> None:
    assert sorted(load_desired([write("u.yaml", content)]).users) == ["a@acme", "b@acme"]


def test_a_block_for_a_system_a_person_is_not_listed_for_is_a_warning(write: WriteFile) -> None:
    path = write(
        "u.yaml",
        "version: 1\n"
        + BOTH
        + d("""
            users:
              - login: a@acme
                email: a@acme.com
                name: A
                systems: [dealhub]
                pipedrive: {access: [{app: sales}]}
            """),
    )
    state = load_desired([path])
    [warning] = state.warnings
    assert (warning.file, warning.line) == (path, 9)
    assert warning.message == (
        "pipedrive: this block has no effect: the person is not listed for pipedrive "
        "(systems: dealhub)"
    )


def test_a_pipedrive_only_file(write: WriteFile) -> None:
    """No DealHub: an environment needs no DealHub api_url, DealHub's checks do not apply."""
    path = write(
        "u.yaml",
        d("""
            version: 1
            settings:
              systems: [pipedrive]
              require_external_id: true
              protect: ["a@acme"]
              environments:
                production:
                  pipedrive: {api_url: "https://acme.pipedrive.com", token_env: PIPEDRIVE_PROD}
            users:
              - {login: a@acme, email: a@acme.com, name: A, is_active: false}
            """),
    )
    state = load_desired([path], environment="production")
    assert state.settings.systems == ("pipedrive",)
    assert state.environment is not None
    assert state.environment.api_url == ""
    assert state.environment.target("dealhub") is None
    assert state.environment.target("pipedrive") == SystemTarget(
        "https://acme.pipedrive.com", "PIPEDRIVE_PROD"
    )
    assert [u.login for u in state.listed("dealhub")] == []


def test_an_old_file_loads_as_before() -> None:
    """A file without the new keys: DealHub alone, its settings the top-level ones."""
    state = load_desired([os.fspath(EXAMPLE)])
    s = state.settings
    assert s.systems == ("dealhub",)
    assert s.blocks == {}
    assert all(env.systems == {} for env in s.environments.values())
    assert s.for_system("dealhub") == SystemSettings(
        unlisted=s.unlisted,
        protect=s.protect,
        max_deactivations=s.max_deactivations,
        max_creates=None,
    )
    for user in state.users.values():
        assert user.systems is None
        assert user.blocks == {}
        assert not any("." in str(name) for name in user.key_lines)
    assert [u.login for u in state.listed("dealhub")] == list(state.users)
    assert state.listed("pipedrive") == []
    assert Settings.from_mapping(None).for_system("dealhub") == SystemSettings()


def test_pipedrive_key_ignores_letter_case_and_unicode_encoding() -> None:
    key_fold = get("pipedrive").capabilities.key_fold
    assert key_fold("Dana@Acme.COM") == key_fold("dana@acme.com") == "dana@acme.com"
    assert key_fold("jos\u00e9@acme.com") == key_fold("JOSE\u0301@acme.com")
    assert key_fold("stra\u00dfe@acme.com") == key_fold("STRASSE@acme.com")


def test_the_readme_example_loads(write: WriteFile) -> None:
    readme = (EXAMPLE.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Several systems") :]
    example = section[section.index("```yaml\n") + 8 : section.index("```\n", 8)]
    state = load_desired([write("readme.yaml", "version: 1\n" + example)])
    assert state.settings.systems == ("dealhub", "pipedrive")
    assert state.users["finance@acme"].systems == ("dealhub",)
    assert state.users["daniel@acme"].blocks["pipedrive"]["access"][1] == {
        "app": "global",
        "admin": True,
    }
