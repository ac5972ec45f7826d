"""`reconciler export` asks the system's provider for its exporter and names no system.

A system's export hooks are its provider's `exporter`, else the module `export`
beside it (reconciler.export); one with neither, or without `merge`, is a clear
error before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler import providers
from reconciler.errors import UsageError
from reconciler.export import exporter_for, merger_for

from . import fake_provider

pytestmark = pytest.mark.usefixtures("fake_registered")

TARGET = "fake:acme"


class Exporter:
    """A third system's export hooks, recording what the command gave them."""

    OPTIONS = ("login_suffix",)

    def __init__(self) -> None:
        self.calls: list[tuple[list[dict[str, Any]], str, str, dict[str, str]]] = []

    def export(
        self,
        tenant: list[dict[str, Any]],
        *,
        source: str,
        schema_ref: str,
        options: Mapping[str, str],
    ) -> str:
        self.calls.append((tenant, source, schema_ref, dict(options)))
        handles = ", ".join(sorted(str(user["handle"]) for user in tenant))
        return f"version: 1\n# {handles}\n"


class Merger(Exporter):
    def merge(
        self, text: str, state: Any, read: Callable[[], list[dict[str, Any]]], *, file: str
    ) -> tuple[str, list[str]]:
        handles = ", ".join(sorted(str(user["handle"]) for user in read()))
        return f"{text}# merged: {handles}\n", [f"Merged {len(state.users)} into {file}."]


@pytest.fixture
def seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake company holds ann, and its token is set."""
    monkeypatch.setenv("FAKE_TOKEN", "fake-token")
    fake_provider.PROVIDER.tenants[TARGET] = fake_provider.FakeTenant(
        {"ann": {"handle": "ann", "name": "Ann", "is_active": True}}
    )


def test_a_system_with_neither_an_exporter_nor_an_export_module_is_a_clear_error(
    run: Any,
) -> None:
    result = run("export", "--system", "fake", "--api-url", f"fake={TARGET}")
    assert result.code == 1, result.all
    assert "export --system fake: Fake has no exporter" in result.err
    assert result.out == ""
    assert "Traceback" not in result.all


def test_each_builtin_system_finds_its_exporter_beside_its_provider() -> None:
    for name in ("dealhub", "pipedrive"):
        hooks = exporter_for(providers.get(name))
        assert getattr(hooks, "__name__", "") == f"reconciler.providers.{name}.export"


@pytest.mark.usefixtures("seed")
def test_a_system_that_declares_an_exporter_is_exported_by_it(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = Exporter()
    monkeypatch.setattr(fake_provider.PROVIDER, "exporter", hooks, raising=False)
    result = run("export", "--system", "fake", "--api-url", f"fake={TARGET}")
    assert result.code == 0, result.all
    assert result.out == "version: 1\n# ann\n"
    [(tenant, _, schema_ref, options)] = hooks.calls
    assert [user["handle"] for user in tenant] == ["ann"]
    assert schema_ref == "../schemas/users.schema.json"
    assert options == {}


@pytest.mark.usefixtures("seed")
def test_the_login_suffix_reaches_the_exporter_as_an_option(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = Exporter()
    monkeypatch.setattr(fake_provider.PROVIDER, "exporter", hooks, raising=False)
    result = run(
        "export", "--system", "fake", "--api-url", f"fake={TARGET}", "--login-suffix", "_sb"
    )
    assert result.code == 0, result.all
    assert hooks.calls[0][3] == {"login_suffix": "_sb"}


def test_merge_with_a_system_whose_exporter_cannot_merge_names_those_that_can(
    run: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(fake_provider.PROVIDER, "exporter", Exporter(), raising=False)
    people = tmp_path / "people.yaml"
    people.write_text("version: 1\nusers: []\n")
    merged = tmp_path / "merged.yaml"
    result = run(
        "export", "--system", "fake", "--api-url", f"fake={TARGET}",
        "--merge", str(people), "-o", str(merged),
    )  # fmt: skip
    assert result.code == 1, result.all
    assert "--merge: Fake cannot merge its users into a people file: add --system pipedrive" in (
        result.err
    )
    assert not merged.exists()


def test_an_option_the_exporter_does_not_take_is_refused_before_any_read(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = Exporter()
    monkeypatch.setattr(hooks, "OPTIONS", ())
    monkeypatch.setattr(fake_provider.PROVIDER, "exporter", hooks, raising=False)
    # No FAKE_TOKEN: a read would stop on the missing token first.
    result = run(
        "export", "--system", "fake", "--api-url", f"fake={TARGET}", "--login-suffix", "_sb"
    )
    assert result.code == 1, result.all
    assert "export --system fake does not take --login-suffix" in result.err
    assert hooks.calls == []


@pytest.mark.usefixtures("seed")
def test_a_system_whose_exporter_merges_is_merged_by_it(
    run: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(fake_provider.PROVIDER, "exporter", Merger(), raising=False)
    people = tmp_path / "people.yaml"
    people.write_text("version: 1\nusers: []\n")
    result = run(
        "export", "--system", "fake", "--api-url", f"fake={TARGET}", "--merge", str(people)
    )
    assert result.code == 0, result.all
    assert result.out == "version: 1\nusers: []\n# merged: ann\n"
    assert f"Merged 0 into {people}." in result.err


def test_merger_for_refuses_a_system_without_merge_before_any_read() -> None:
    with pytest.raises(UsageError, match="DealHub cannot merge"):
        merger_for(providers.get("dealhub"))


def test_pipedrive_export_refuses_the_login_suffix_it_does_not_take(
    run: Any, tmp_path: Path
) -> None:
    company = tmp_path / "company.json"
    company.write_text("[]")
    result = run(
        "export", "--system", "pipedrive", "--api-url", f"pipedrive=sim:{company}",
        "--login-suffix", "_sb",
    )  # fmt: skip
    assert result.code == 1, result.all
    assert "export --system pipedrive does not take --login-suffix" in result.err
    assert result.out == ""
