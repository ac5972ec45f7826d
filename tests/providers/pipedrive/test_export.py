"""Export of a Pipedrive company: what it writes always validates and plans to no change.

The company is hostile: names with lone surrogates and controls, access apps that
are unknown, new, repeated, beyond the BMP or not text a file can hold, emails that
are no login. Export either writes a file that loads and plans empty, or refuses
with a message naming the user, and writes nothing.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired import load_desired
from reconciler.diff import compute_plan
from reconciler.errors import ResponseError
from reconciler.keys import caseless
from reconciler.providers import get
from reconciler.providers.pipedrive.export import export_pipedrive_yaml
from reconciler.schema import user_checker

PIPEDRIVE = get("pipedrive")

hostile_text = st.one_of(
    st.sampled_from(
        ["Bob \ud800", "\udc00", "a\u202eb", "zero\u200bwidth", "tab\there", "\x85nel",
         "null", "yes", "~", "- dash", "# hash", "'q'", '"dq"', "\U0001f600 smile", ""]
    ),
    st.text(max_size=12),
)  # fmt: skip
apps = st.one_of(
    st.sampled_from(
        ["sales", "global", "nova", "orbit", "future_app", "Sales", "sales app", "",
         "\U0001f600", "s\u0430les", "1.0", "true", "null", "a" * 80]
    ),
    st.text(max_size=6),
)  # fmt: skip
access_items = st.fixed_dictionaries(
    {"app": apps},
    optional={"admin": st.booleans(), "permission_set_id": st.sampled_from(["p1", "x y"])},
)


@st.composite
def companies(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 6))
    users = []
    for i in range(n):
        local = draw(st.sampled_from(["ana", "Bob", "jos\u00e9", "stra\u00dfe", "x" * 95]))
        users.append(
            {
                "id": i + 1,
                "email": f"{local}{i}@acme.com",
                "name": draw(st.one_of(st.none(), hostile_text)),
                "active_flag": draw(st.booleans()),
                "is_you": i == 0,
                "is_deleted": draw(st.sampled_from([False, False, True])),
                "access": draw(st.lists(access_items, max_size=4)),
                "last_login": "2026-01-01 00:00:00",
            }
        )
    if users and draw(st.integers(0, 5)) == 0:
        # The same email another way (letter case, Unicode encoding): one key, two users.
        twin = unicodedata.normalize("NFD", users[0]["email"].upper())
        users.append({**users[0], "id": n + 1, "email": twin})
    return users


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(company=companies())
def test_an_export_validates_and_plans_to_no_change(
    tmp_path: Path, company: list[dict[str, Any]]
) -> None:
    live = [user for user in company if not user["is_deleted"]]
    if len({caseless(user["email"]) for user in live}) < len(live):
        with pytest.raises(ResponseError, match="two users that are one email"):
            export_pipedrive_yaml(company)
        return
    unholdable = [
        user["id"]
        for user in company
        if not user["is_deleted"] and user_checker().checks["email"](user["email"]) is not None
    ]
    try:
        text = export_pipedrive_yaml(company, source="sim:company.json")
    except ResponseError as exc:
        # Refused only for a user no people file can hold, named.
        assert unholdable and f"Pipedrive user {unholdable[0]} cannot be written" in str(exc)
        return
    assert not unholdable
    path = tmp_path / "people.yaml"
    path.write_text(text, encoding="utf-8")
    state = load_desired([os.fspath(path)])
    plan = compute_plan(state, company, target="sim:x", provider=PIPEDRIVE)
    assert plan.changes == []
    # What could not be stated is a note (access, names), never a change.
    assert {note.field for note in plan.notes} <= {"access", "name"}


def test_a_lone_surrogate_in_a_name_is_kept_escaped(tmp_path: Path) -> None:
    company = [{"id": 7, "email": "bob@acme.com", "name": "Bob \ud800", "active_flag": True}]
    text = export_pipedrive_yaml(company)
    assert 'name: "Bob \\\\ud800"' in text
    text.encode("utf-8")  # a file can hold it
    path = tmp_path / "people.yaml"
    path.write_text(text, encoding="utf-8")
    [person] = load_desired([os.fspath(path)]).users.values()
    assert person.fields["name"] == "Bob \\ud800"


def test_apps_are_kept_once_each_new_ones_included_and_the_rest_left_out() -> None:
    access = [
        {"app": "sales"}, {"app": "sales", "admin": True}, {"app": "nova", "admin": True},
        {"app": "orbit"}, {"app": "\U0001f600"}, {"app": "sales app"},
    ]  # fmt: skip
    company = [{"id": 7, "email": "bob@acme.com", "active_flag": True, "access": access}]
    text = export_pipedrive_yaml(company)
    assert "pipedrive: {access: [{app: nova, admin: true}, {app: orbit}, {app: sales}]}" in text


def test_an_email_no_file_can_hold_is_refused_naming_the_user() -> None:
    company = [{"id": 9, "email": "not an email", "active_flag": True}]
    with pytest.raises(ResponseError, match="Pipedrive user 9 cannot be written"):
        export_pipedrive_yaml(company)


def test_an_email_too_long_for_a_login_gets_a_login_of_its_id() -> None:
    email = "x" * 90 + "@acme.com"
    text = export_pipedrive_yaml([{"id": 9, "email": email, "active_flag": True}])
    assert "  - login: pipedrive-9\n" in text and f"    email: {email}\n" in text


def test_plain_export_through_the_command_line_of_a_repeated_new_app(
    tmp_path: Path, run: Any
) -> None:
    import json

    state = tmp_path / "company.json"
    state.write_text(
        json.dumps(
            [{"id": 1, "email": "bob@acme.com", "name": "Bob", "active_flag": True,
              "is_you": True, "access": [{"app": "nova"}, {"app": "nova"}]}]
        )
    )  # fmt: skip
    out = tmp_path / "people.yaml"
    result = run("export", "--system", "pipedrive", "--api-url", f"pipedrive=sim:{state}",
                 "-o", str(out))  # fmt: skip
    assert result.code == 0, result.all
    validated = run("validate", str(out))
    assert validated.code == 0 and "Pipedrive access app 'nova'" not in validated.err
    assert "{app: nova}" in out.read_text()
