"""`export --merge` of a people file that other people files are read with (README's
layout: users/settings.yaml beside users/users.yaml): the folder is checked as
`validate users/` reads it, and a merge that would break it is refused, saying why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.providers.pipedrive.adopt import people_beside

SETTINGS = "version: 1\nsettings:\n  unlisted: deactivate\n  protect: ['admin@acme*']\n"
USERS = (
    "version: 1\nusers:\n"
    "  - {login: admin@acme, email: admin@acme.com, name: Admin}\n"
    "  - {login: roy@acme, email: roy@acme.com, name: Roy}\n"
)
COMPANY = [
    {"id": 1, "email": "admin@acme.com", "name": "Admin", "active_flag": True, "is_you": True,
     "access": [{"app": "sales"}]},
    {"id": 2, "email": "new@acme.com", "name": "New", "active_flag": True,
     "access": [{"app": "sales"}]},
]  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIPEDRIVE_API_TOKEN", "t" * 40)
    monkeypatch.delenv("PIPEDRIVE_API_URL", raising=False)
    users = tmp_path / "users"
    users.mkdir()
    (users / "settings.yaml").write_text(SETTINGS)
    (users / "users.yaml").write_text(USERS)
    (tmp_path / "company.json").write_text(json.dumps(COMPANY))
    return users


def merge(run: Any, folder: Path, *extra: str) -> Any:
    company = folder.parent / "company.json"
    return run(
        "export", "--system", "pipedrive", "--merge", str(folder / "users.yaml"),
        "--api-url", f"pipedrive=sim:{company}", *extra,
    )  # fmt: skip


def test_the_readme_layout_is_refused_saying_why_and_nothing_is_written(
    run: Any, folder: Path
) -> None:
    result = merge(run, folder, "-o", str(folder / "users.yaml"))
    assert result.code == 1
    assert f"the settings of the people files in {folder} are in {folder / 'settings.yaml'}" in (
        result.err
    )
    assert "nothing was written" in result.err
    assert (folder / "users.yaml").read_text() == USERS
    assert run("validate", str(folder)).code == 0


def test_the_way_the_refusal_gives_validates_and_plans_the_folder_empty(
    run: Any, folder: Path
) -> None:
    # Move the settings into the merged file, merge, and the folder validates.
    (folder / "settings.yaml").write_text("version: 1\nusers: []\n")
    (folder / "users.yaml").write_text(USERS.replace("version: 1\n", SETTINGS))
    result = merge(run, folder, "-o", str(folder / "users.yaml"))
    assert result.code == 0, result.all
    assert run("validate", str(folder)).code == 0
    company = folder.parent / "company.json"
    planned = run(
        "plan", str(folder), "--system", "pipedrive", "--api-url", f"pipedrive=sim:{company}",
        "--detailed-exitcode",
    )  # fmt: skip
    assert planned.code == 0, planned.all


def test_other_people_files_beside_it_are_refused(run: Any, folder: Path) -> None:
    (folder / "settings.yaml").unlink()
    (folder / "users.yaml").write_text(USERS.replace("version: 1\n", SETTINGS))
    (folder / "team.yaml").write_text(
        "version: 1\nusers:\n  - {login: new@acme, email: new@acme.com, name: New}\n"
    )
    result = merge(run, folder)
    assert result.code == 1
    assert f"{folder} also lists people in {folder / 'team.yaml'}" in result.err


def test_what_is_beside_it_and_is_no_people_file_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text(USERS)
    (tmp_path / "docker-compose.yml").write_text("version: '3'\nservices: {}\n")
    (tmp_path / "empty.yaml").write_text("version: 1\nusers: []\n")
    (tmp_path / "broken.yaml").write_text("key: [\n")
    (tmp_path / ".hidden.yaml").write_text(SETTINGS)
    (tmp_path / "notes.txt").write_text(SETTINGS)
    assert people_beside(str(tmp_path / "people.yaml")) == ([], [])
    (tmp_path / "more.yml").write_text(USERS)
    assert people_beside(str(tmp_path / "people.yaml")) == ([], [str(tmp_path / "more.yml")])
