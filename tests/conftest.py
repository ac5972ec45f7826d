"""Shared fixtures of the test suite."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from reconciler.cli import main

#: Fixture modules shared by several test folders.
pytest_plugins = ("tests.helpers.dealhub_client",)

# CI (and a shared, noisy machine) gets reproducible examples and no per-example
# deadline, so a red build means a bug, not a slow moment or an unlucky draw.
# Locally the default profile keeps exploring new examples on every run.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a test that takes more than ten seconds")


WriteFile = Callable[[str, "str | bytes"], str]


@pytest.fixture
def write(tmp_path: Path) -> WriteFile:
    """Write a file under tmp_path (text is dedented) and return its path as a string."""

    def _write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
        return os.fspath(path)

    return _write


ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_TENANT = ROOT / "examples" / "tenant.json"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def all(self) -> str:
        return self.out + self.err


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DEALHUB_API_URL", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        captured = capsys.readouterr()
        return Result(int(exit_info.value.code or 0), captured.out, captured.err)

    return invoke


@pytest.fixture
def tenant(tmp_path: Path) -> Path:
    path = tmp_path / "tenant.json"
    shutil.copy(EXAMPLE_TENANT, path)
    return path
