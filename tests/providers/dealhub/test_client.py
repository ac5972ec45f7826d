"""The tenant list is checked before anyone diffs it: one clear sentence, nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler import redact
from reconciler.cli import main
from reconciler.errors import ResponseError
from reconciler.http import RetryPolicy, TokenSource
from reconciler.providers.dealhub.client import connect
from tests.helpers.loopback import answer, serve

TOKEN = "tenant-test-token"
A = {"login": "a@x", "email": "a@x.com", "name": "A"}


@pytest.fixture(autouse=True)
def _forget_tokens() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def listed(users: Any) -> list[dict[str, Any]]:
    body = json.dumps(users).encode()
    with serve(answer(200, body, "application/json")) as url:
        client = connect(
            url, TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False, retry=RetryPolicy(1)
        )
        with client:
            return client.list_users()


@pytest.mark.parametrize(
    ("users", "fragment"),
    [
        ([1], "an entry #0 that is not a user object with a login"),
        ([A, {"name": "no login"}], "an entry #1 that is not a user object with a login"),
        ([{**A, "login": ""}], "an entry #0 that is not a user object with a login"),
        ([{**A, "login": 7}], "an entry #0 that is not a user object with a login"),
        ([A, {**A, "name": "B"}], "with a user list that lists login 'a@x' twice"),
        ([{**A, "is_active": "true"}], "user 'a@x' whose is_active is the string 'true', not"),
        ([{**A, "is_active": "false"}], "whose is_active is the string 'false', not true or false"),
        ([{**A, "is_active": 0}], "whose is_active is the number 0, not true or false"),
        ([{**A, "is_active": [True]}], "whose is_active is a list, not true or false"),
        ([{**A, "email": 5}], "user 'a@x' whose email is the number 5, not a string"),
        ([{**A, "name": {"first": "A"}}], "whose name is an object, not a string"),
        ([{**A, "position": ["x"]}], "whose position is a list, not a string"),
        ([{**A, "user_manager_login": False}], "whose user_manager_login is false, not a string"),
        ([{**A, "id": True}], "whose id is true, not a string"),
        ([{**A, "id": 1.5}], "whose id is the number 1.5, not a string"),
    ],
)
def test_a_tenant_the_diff_could_misread_is_refused(users: Any, fragment: str) -> None:
    with pytest.raises(ResponseError) as info:
        listed(users)
    message = str(info.value)
    assert fragment in message and "answered GET /api/v1/users with" in message
    assert "\n" not in message


def test_what_the_read_schema_allows_is_accepted_unchanged() -> None:
    users = [
        {**A, "id": 7, "is_active": None, "position": None},
        {"login": "b@x", "id": "8", "is_active": False, "custom": {"any": [1, 2]}},
        {"login": "c@x"},
    ]
    assert listed(users) == users


def test_a_long_login_is_shown_shortened() -> None:
    login = "x" * 5000
    with pytest.raises(ResponseError) as info:
        listed([{"login": login}, {"login": login}])
    assert len(str(info.value)) < 300 and "twice" in str(info.value)


def test_a_login_holding_the_token_is_refused() -> None:
    # Masked, it would be a login nobody has: a deactivation would create it.
    with pytest.raises(ResponseError, match="a user whose login contains the API token"):
        listed([A, {"login": f"x{TOKEN}@x", "is_active": True}])


def test_plan_refuses_a_bad_tenant_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", TOKEN)
    monkeypatch.delenv("DEALHUB_API_URL", raising=False)
    desired = tmp_path / "users.yaml"
    desired.write_text(
        "version: 1\nusers:\n  - {login: a@x, email: a@x.com, name: A}\n", encoding="utf-8"
    )
    out = tmp_path / "plan.json"
    body = json.dumps([A, {**A, "email": "b@x.com"}]).encode()
    with serve(answer(200, body, "application/json")) as url:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(["plan", str(desired), "--api-url", url, "--out", str(out)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert "lists login 'a@x' twice" in err and "Traceback" not in err
    assert not out.exists()
