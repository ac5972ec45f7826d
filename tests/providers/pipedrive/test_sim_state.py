"""The simulated Pipedrive company: loading, checking and saving its users."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.providers.dealhub.sim_state import StateError
from reconciler.providers.pipedrive import sim_state as pipedrive_state
from reconciler.providers.pipedrive.sim_state import (
    DEFAULTS,
    USER_FIELDS,
    PipedriveStore,
    permission_set_id,
)
from tests.providers.pipedrive.helpers import company


def saved(tmp_path: Path, users: Any) -> Path:
    path = tmp_path / "company.json"
    path.write_text(json.dumps(users), encoding="utf-8")
    return path


def test_missing_fields_are_filled_in_and_unknown_ones_kept() -> None:
    store = PipedriveStore(
        [{"id": 7, "email": "me@acme.com", "active_flag": True, "is_you": True, "extra": [1]}]
    )
    user = store.get(7)
    assert user is not None
    assert list(user) == [*USER_FIELDS, "extra"]
    assert user["name"] == "me@acme.com"
    assert user["extra"] == [1]
    left = ("is_you", "access")
    assert {k: user[k] for k in DEFAULTS if k not in left} == {
        k: v for k, v in DEFAULTS.items() if k not in left
    }
    # Access is shown as the vendor shows every entry: admin and permission_set_id filled in.
    assert user["access"] == [
        {"app": "sales", "admin": False, "permission_set_id": permission_set_id("sales", False)}
    ]


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ({"app": "sales"}, {"app": "sales", "admin": False}),
        ({"app": "global", "admin": True}, {"app": "global", "admin": True}),
        ({"app": "nova"}, {"app": "nova", "admin": False}),
        ({"app": "atlas", "admin": False}, {"app": "atlas", "admin": False}),
    ],
)
def test_access_entries_from_a_file_are_filled_in(
    given: dict[str, Any], shown: dict[str, Any]
) -> None:
    store = PipedriveStore(
        [{"id": 7, "email": "me@acme.com", "active_flag": True, "is_you": True, "access": [given]}]
    )
    [entry] = store.get(7)["access"]  # type: ignore[index]
    assert entry == {**shown, "permission_set_id": permission_set_id(shown["app"], shown["admin"])}


def test_a_permission_set_given_in_a_file_is_kept() -> None:
    item = {"app": "sales", "permission_set_id": "62cc4d7f-4038-4352-abf3-a8c1c822b631"}
    store = PipedriveStore(
        [{"id": 7, "email": "m@acme.com", "active_flag": True, "is_you": True, "access": [item]}]
    )
    assert store.get(7)["access"] == [{**item, "admin": False}]  # type: ignore[index]


def test_a_lone_surrogate_in_a_name_is_saved_escaped(tmp_path: Path) -> None:
    path = tmp_path / "company.json"
    owner = '{"id": 7, "email": "m@acme.com", "active_flag": true, "is_you": true'
    path.write_text(f'[{owner}, "name": "A\\ud800"}}]')
    store = PipedriveStore.load(path, persist=True)
    user = store.get(7)
    assert user is not None and user["name"] == "A\ud800"
    store.put({**user, "active_flag": True})
    text = path.read_text(encoding="utf-8")
    assert '"A\\ud800"' in text
    assert PipedriveStore.load(path, persist=False).get(7)["name"] == "A\ud800"  # type: ignore[index]


def test_emails_are_found_in_any_letter_case_and_deleted_ones_apart() -> None:
    store = PipedriveStore(company())
    assert store.live_with_email("DANIEL@acme.COM")["id"] == 102  # type: ignore[index]
    assert store.live_with_email("gone@acme.com") is None
    assert store.deleted_with_email("Gone@Acme.com")["id"] == 104  # type: ignore[index]
    assert store.you == 101 and store.seats_used() == 3 and len(store) == 5


def test_the_store_hands_out_copies() -> None:
    store = PipedriveStore(company())
    user = store.get(105)
    assert user is not None
    user["access"][0]["app"] = "projects"
    user["name"] = "Changed"
    assert store.get(105) == PipedriveStore(company()).get(105)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda us: us.append(dict(us[1])), "id 102 appears twice"),
        (lambda us: us[2].update(email="DANIEL@acme.com"), "appears twice among the users"),
        (lambda us: us[0].update(is_you=False), "exactly one user must have is_you"),
        (lambda us: us[1].update(is_you=True), "exactly one user must have is_you"),
        (lambda us: us[0].update(is_deleted=True), "is deleted"),
        (lambda us: us[1].update(id="102"), "'id' must be a positive integer"),
        (lambda us: us[1].update(id=True), "'id' must be a positive integer"),
        (lambda us: us[1].pop("email"), "'email' must be a non-empty string"),
        (lambda us: us[1].update(active_flag=1), "'active_flag' must be true or false"),
        (lambda us: us[1].update(activated="yes"), "'activated' must be true or false"),
        (lambda us: us[1].update(name=None), "'name' must be a string"),
        (lambda us: us[1].update(last_login=5), "'last_login' must be a string or null"),
        (lambda us: us[1].update(role_id="1"), "'role_id' must be an integer or null"),
        (lambda us: us[1].update(access={"app": "sales"}), "'access' must be a list"),
        (lambda us: us[1].update(access=[{"admin": True}]), "with an 'app'"),
        (lambda us: us[1].update(access=[{"app": "sales", "admin": 1}]), "'admin' must be"),
        (lambda us: us.append("user"), "expected an object"),
    ],
)
def test_a_bad_company_is_refused_naming_the_user(change: Any, message: str) -> None:
    users = company()
    change(users)
    with pytest.raises(StateError, match=message):
        PipedriveStore(users)


def test_a_deleted_users_email_may_come_back_among_the_live() -> None:
    users = company()
    users.append({"id": 106, "email": "GONE@acme.com", "active_flag": True})
    store = PipedriveStore(users)
    assert store.live_with_email("gone@acme.com")["id"] == 106  # type: ignore[index]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "company file not found"), ("{oops", "not valid JSON"), ("{}", "JSON array")],
)
def test_a_bad_file_is_refused_in_one_line(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "company.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(StateError, match=message) as caught:
        PipedriveStore.load(path, persist=False)
    assert "\n" not in str(caught.value)


def test_a_bad_user_in_a_file_names_the_file(tmp_path: Path) -> None:
    users = company()
    users[1]["active_flag"] = "true"
    with pytest.raises(StateError, match=r"company\.json: user 102: 'active_flag'"):
        PipedriveStore.load(saved(tmp_path, users), persist=False)


def test_writes_are_saved_one_user_a_line(tmp_path: Path) -> None:
    path = saved(tmp_path, company())
    store = PipedriveStore.load(path, persist=True)
    user = store.get(102)
    assert user is not None
    store.put({**user, "active_flag": False})
    lines = path.read_text().splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 7
    reloaded = PipedriveStore.load(path, persist=False)
    assert reloaded.users() == store.users()
    assert reloaded.get(102)["active_flag"] is False  # type: ignore[index]
    new = {**user, "id": store.new_id(), "email": "new@acme.com"}
    store.put(new)
    assert PipedriveStore.load(path, persist=False).get(new["id"]) == new


def test_a_store_that_does_not_persist_never_writes(tmp_path: Path) -> None:
    path = saved(tmp_path, company())
    before = path.read_bytes()
    store = PipedriveStore.load(path, persist=False)
    store.put({**store.get(102), "active_flag": False})  # type: ignore[dict-item]
    assert path.read_bytes() == before


def test_a_failed_save_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = saved(tmp_path, company())
    store = PipedriveStore.load(path, persist=True)

    def fail(path: Path, text: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pipedrive_state, "write_text_atomic", fail)
    with pytest.raises(OSError):
        store.put({**store.get(102), "active_flag": False, "is_deleted": True})  # type: ignore[dict-item]
    assert store.get(102)["active_flag"] is True  # type: ignore[index]
    assert store.live_with_email("daniel@acme.com") is not None
    assert PipedriveStore.load(path, persist=False).users() == store.users()
