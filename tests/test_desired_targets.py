"""validate refuses the environment targets plan refuses, at their FILE:LINE (one rule)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.desired import load_desired
from reconciler.errors import InputError

PEOPLE = """\
version: 1
settings:
  systems: [dealhub, pipedrive]
  environments:
    production:
      api_url: {dealhub}
      pipedrive:
        api_url: {pipedrive}
users:
  - {{login: a@acme, email: a@acme.com, name: A}}
"""


def problems(tmp_path: Path, dealhub: str, pipedrive: str) -> list[tuple[int, str]]:
    path = tmp_path / "people.yaml"
    path.write_text(PEOPLE.format(dealhub=dealhub, pipedrive=pipedrive), encoding="utf-8")
    try:
        load_desired([os.fspath(path)])
    except InputError as exc:
        return [(p.line, p.message) for p in exc.problems]
    return []


@pytest.mark.parametrize(
    ("dealhub", "pipedrive"),
    [
        ("https://api.dealhub.io", "https://acme.pipedrive.com"),
        ("https://eu.dealhub.io", "https://acme.pipedrive.com/"),
        ("http://127.0.0.1:8080", "http://localhost:9000"),
        ("sim:tenant.json", "sim:company.json"),
    ],
)
def test_targets_plan_takes_pass(tmp_path: Path, dealhub: str, pipedrive: str) -> None:
    assert problems(tmp_path, dealhub, pipedrive) == []


@pytest.mark.parametrize(
    ("dealhub", "pipedrive", "line", "fragment"),
    [
        ("https://evil.example.com", "https://acme.pipedrive.com", 6, "a DealHub host"),
        ("https://api.dealhub.io.evil.com", "https://acme.pipedrive.com", 6, "a DealHub host"),
        ("https://api.dealhub.io", "https://evil.example.com", 8, "a Pipedrive host"),
        ("https://api.dealhub.io", "http://acme.pipedrive.com", 8, "a Pipedrive host"),
        ("http://api.dealhub.io", "https://acme.pipedrive.com", 6, "a DealHub host"),
        ("https://api.dealhub.io", "https://user@acme.pipedrive.com", 8, ""),
        ("ftp://api.dealhub.io", "https://acme.pipedrive.com", 6, "a DealHub host"),
    ],
)
def test_targets_plan_refuses_are_refused_at_their_line(
    tmp_path: Path, dealhub: str, pipedrive: str, line: int, fragment: str
) -> None:
    [(found, message)] = problems(tmp_path, dealhub, pipedrive)
    assert found == line
    assert fragment in message


def test_validate_prints_the_refused_target_at_file_and_line(tmp_path: Path, run: object) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(
        PEOPLE.format(dealhub="https://api.dealhub.io", pipedrive="http://acme.pipedrive.com"),
        encoding="utf-8",
    )
    result = run("validate", os.fspath(path))  # type: ignore[operator]
    assert result.code == 1
    assert result.err.startswith(
        f"{path}:8: settings.environments.production.pipedrive.api_url is "
        "http://acme.pipedrive.com: a file may only name a Pipedrive host"
    )
    # plan refuses the same file for the same reason, and never reaches the network.
    result = run("plan", os.fspath(path), "--env", "production")  # type: ignore[operator]
    assert result.code == 1 and f"{path}:8:" in result.err
