"""A Pipedrive user read is checked once: the client's read, not again by tenant_view."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.providers.pipedrive import PROVIDER, rules
from reconciler.providers.pipedrive.client import connect
from reconciler.providers.pipedrive.rules import CheckedEntry, checked_entry

COMPANY = [
    {
        "id": 1,
        "name": "Olga Owner",
        "email": "owner@acme.com",
        "active_flag": True,
        "is_you": True,
        "access": [{"app": "sales", "admin": True}, {"app": "global", "admin": True}],
        "last_login": "2026-01-02 03:04:05",
    },
    {"id": 2, "name": "Dan", "email": "dan@acme.com", "active_flag": False},
    {"id": 3, "name": "Gone", "email": "gone@acme.com", "active_flag": False, "is_deleted": True},
]


def _read(tmp_path: Path) -> list[dict[str, Any]]:
    state = tmp_path / "company.json"
    state.write_text(json.dumps(COMPANY), encoding="utf-8")
    with connect(f"sim:{state}", None, writable=False) as client:
        return client.read()


def test_the_read_returns_checked_entries_as_the_api_shows_them(tmp_path: Path) -> None:
    users = _read(tmp_path)
    assert all(type(user) is CheckedEntry for user in users)
    # Nothing dropped or added: export, review and adoption read every field.
    assert users[0]["last_login"] == "2026-01-02 03:04:05"
    assert [user["id"] for user in users] == [1, 2, 3]


def test_tenant_view_does_not_check_what_the_read_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = _read(tmp_path)

    def checked_again(raw: Any) -> str | None:
        raise AssertionError(f"checked twice: {raw!r}")

    monkeypatch.setattr(rules, "entry_problem", checked_again)
    views = [PROVIDER.tenant_view(user) for user in users]
    assert [view and view["email"] for view in views] == ["owner@acme.com", "dan@acme.com", None]
    owner = views[0]
    assert owner is not None
    assert [(item["app"], item["admin"]) for item in owner["access"]] == [
        ("global", True),
        ("sales", True),
    ]
    assert {key: owner[key] for key in ("id", "name", "is_active", "is_you")} == {
        "id": 1,
        "name": "Olga Owner",
        "is_active": True,
        "is_you": True,
    }


@pytest.mark.parametrize(
    "raw",
    [
        {"id": "1", "email": "a@b.c", "active_flag": True},
        {"id": 1, "email": "a@b.c", "active_flag": "yes"},
        {"id": 1, "email": "a@b.c", "active_flag": True, "access": [{"app": 5}]},
        [],
    ],
)
def test_an_entry_not_from_the_read_is_still_checked(raw: Any) -> None:
    with pytest.raises(ValueError, match="a Pipedrive user entry"):
        PROVIDER.tenant_view(raw)
    with pytest.raises(ValueError):
        checked_entry(raw)
