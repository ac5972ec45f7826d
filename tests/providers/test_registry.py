"""The registry is the only list of systems (SPEC section 7, "A system is one package").

Built-in systems are its lines; a system shipped as its own distribution joins through
the entry-point group `reconciler.providers`; a name it does not hold is an error
wherever it is given, never the default system.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler import providers
from reconciler.desired import load_desired
from reconciler.errors import InputError, UsageError
from reconciler.providers.base import PeopleSchema
from reconciler.schema import SCHEMA_FILE, assemble, load_schema, schema_text
from reconciler.targets import by_system
from tests.conftest import Result, WriteFile
from tests.contract import fake_provider

FAKE_SOURCE = Path(fake_provider.__file__)
#: The contract suite's fake predates Remote.budget_left, which `plan` asks for.
FAKE_BUDGET = """
if not hasattr(FakeRemote, "budget_left"):
    FakeRemote.budget_left = lambda self: None
"""
Run = Callable[..., Result]


@pytest.fixture
def fake_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fake system as one registry line."""
    monkeypatch.setitem(providers.REGISTRY, "fake", f"{fake_provider.__name__}:PROVIDER")
    yield
    fake_provider.PROVIDER.tenants.clear()


def plug_in(site: Path, name: str, value: str, source: str | None = None) -> None:
    """An installed distribution as importlib.metadata finds it: a .dist-info beside its
    package, with the entry point in entry_points.txt (what pip writes on install)."""
    dist = site / f"reconciler_{name}_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: reconciler-{name}-plugin\nVersion: 0.1\n",
        encoding="utf-8",
    )
    (dist / "entry_points.txt").write_text(
        f"[reconciler.providers]\n{name} = {value}\n", encoding="utf-8"
    )
    if source is not None:
        package = site / value.partition(":")[0]
        package.mkdir()
        (package / "__init__.py").write_text(source, encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for plug-ins; the registry reads entry points afresh."""
    where = tmp_path / "site"
    where.mkdir()
    monkeypatch.syspath_prepend(os.fspath(where))
    providers.REGISTRY.reload()
    yield where
    monkeypatch.undo()
    providers.REGISTRY.reload()


# --- the schema is assembled from the registered systems -----------------------------


def test_the_committed_schema_is_what_the_built_in_systems_assemble() -> None:
    assembled = schema_text(assemble(tuple(providers.BUILTIN)))
    assert SCHEMA_FILE.read_text(encoding="utf-8") == assembled, (
        "schemas/users.schema.json is stale: write schema_text(assemble(BUILTIN)) to it"
    )


def test_reconciler_schema_prints_the_committed_file(run: Run) -> None:
    result = run("schema")
    assert result.code == 0, result.err
    assert result.out == SCHEMA_FILE.read_text(encoding="utf-8")


def test_each_system_block_comes_from_its_own_fragment() -> None:
    schema = assemble(tuple(providers.BUILTIN))
    pipedrive = providers.get("pipedrive").capabilities.people_schema
    assert pipedrive is not None and pipedrive.person is not None
    assert schema["$defs"]["pipedrive_person"] == pipedrive.person
    assert schema["$defs"]["user"]["properties"]["pipedrive"] == {
        "$ref": "#/$defs/pipedrive_person"
    }
    assert schema["$defs"]["system"]["enum"] == list(providers.BUILTIN)
    assert schema["$defs"]["settings"]["properties"]["systems"]["default"] == [providers.DEFAULT]


def test_a_registered_system_joins_the_schema_and_a_removed_one_leaves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(providers.REGISTRY, "fake", f"{fake_provider.__name__}:PROVIDER")
    assert load_schema()["$defs"]["system"]["enum"] == ["dealhub", "pipedrive", "fake"]
    monkeypatch.undo()
    assert load_schema()["$defs"]["system"]["enum"] == ["dealhub", "pipedrive"]


# --- an unknown system is an error everywhere ----------------------------------------


def test_api_url_for_an_unknown_system_is_an_error_not_the_default_systems_url() -> None:
    with pytest.raises(UsageError, match=r"--api-url fake=\.\.\.: unknown system 'fake'"):
        by_system(("fake=sim:tenant.json",), "--api-url")
    with pytest.raises(UsageError, match=r"--token-file fake=\.\.\.: unknown system 'fake'"):
        by_system(("fake=token.txt",), "--token-file")


def test_api_url_for_a_registered_system_is_that_systems(fake_registered: None) -> None:
    assert by_system(("fake=sim:f.json", "sim:t.json"), "--api-url") == {
        "fake": "sim:f.json",
        "dealhub": "sim:t.json",
    }


def test_plan_with_an_api_url_for_an_unknown_system_stops(
    run: Run, write: WriteFile, tenant: Path
) -> None:
    people = write("people.yaml", "version: 1\nusers: []\n")
    result = run("plan", people, "--api-url", f"sim:{tenant}", "--api-url", "fake=sim:x.json")
    assert result.code == 1
    assert "unknown system 'fake'" in result.err
    assert "Traceback" not in result.all


def test_export_of_an_unknown_system_is_an_error(run: Run, tenant: Path) -> None:
    result = run("export", "--system", "fake", "--api-url", f"sim:{tenant}")
    assert result.code == 1
    assert "--system fake" in result.err or "export writes one system's users" in result.err
    assert result.out == ""


def test_a_persons_block_for_an_unknown_system_is_an_error_at_its_line(
    run: Run, write: WriteFile
) -> None:
    people = write(
        "people.yaml",
        """\
        version: 1
        users:
          - login: ann@acme
            email: ann@acme.com
            name: Ann
            fake: {handle: ann}
        """,
    )
    result = run("validate", people)
    assert result.code == 1
    assert f"{people}:6: unknown key 'fake'" in result.err


def test_settings_systems_naming_an_unknown_system_is_an_error_at_its_line(
    run: Run, write: WriteFile
) -> None:
    people = write(
        "people.yaml",
        """\
        version: 1
        settings:
          systems: [dealhub, fake]
        users: []
        """,
    )
    result = run("validate", people)
    assert result.code == 1
    assert f"{people}:3:" in result.err and "unknown system 'fake'" in result.err


def test_settings_systems_may_name_a_registered_system(
    run: Run, write: WriteFile, fake_registered: None
) -> None:
    people = write(
        "people.yaml",
        """\
        version: 1
        settings:
          systems: [dealhub, fake]
        users:
          - {login: ann@acme, email: ann@acme.com, name: Ann}
        """,
    )
    result = run("validate", people)
    assert result.code == 0, result.err


# --- systems of installed distributions (entry points) -------------------------------


def test_an_installed_distribution_registers_its_system(site: Path) -> None:
    plug_in(site, "acme", "acme_plugin:PROVIDER")
    assert providers.names() == ("dealhub", "pipedrive", "acme")
    assert providers.REGISTRY["acme"] == "acme_plugin:PROVIDER"


def test_a_plug_in_claiming_a_built_in_name_is_refused(site: Path) -> None:
    plug_in(site, "pipedrive", "evil_plugin:PROVIDER")
    with pytest.raises(UsageError) as refused:
        providers.names()
    message = str(refused.value)
    assert "reconciler-pipedrive-plugin" in message
    assert "'pipedrive', which is built into reconciler" in message


def test_a_plug_in_that_cannot_be_imported_is_an_error_naming_it(site: Path) -> None:
    plug_in(site, "broken", "broken_plugin:PROVIDER", "raise RuntimeError('half installed')\n")
    with pytest.raises(UsageError, match=r"'broken' \(broken_plugin:PROVIDER\) cannot be loaded"):
        providers.get("broken")


def test_a_plug_in_whose_object_is_not_a_provider_of_its_name_is_an_error(site: Path) -> None:
    plug_in(site, "other", "other_plugin:PROVIDER", "PROVIDER = object()\n")
    with pytest.raises(UsageError, match="is not a reconciler provider named 'other'"):
        providers.get("other")


def test_a_broken_plug_in_stops_a_command_with_one_message_and_no_traceback(
    site: Path, run: Run, write: WriteFile, tenant: Path
) -> None:
    plug_in(site, "broken", "broken_plugin:PROVIDER", "import no_such_module\n")
    people = write(
        "people.yaml",
        "version: 1\nsettings: {systems: [broken]}\n"
        "users: [{login: a@x, email: a@x.io, name: A}]\n",
    )
    result = run("plan", people, "--api-url", "broken=sim:x.json")
    assert result.code == 1
    assert "the system 'broken' (broken_plugin:PROVIDER) cannot be loaded" in result.err
    assert "Traceback" not in result.all


def test_a_system_installed_as_its_own_distribution_validates_and_plans(
    tmp_path: Path,
) -> None:
    """The fake provider of the contract suite, shipped as an outside package: only its
    entry point tells reconciler about it."""
    site = tmp_path / "site"
    plug_in(
        site, "fake", "fake_pkg:PROVIDER", FAKE_SOURCE.read_text(encoding="utf-8") + FAKE_BUDGET
    )
    people = tmp_path / "people.yaml"
    people.write_text(
        "version: 1\n"
        "settings: {systems: [fake]}\n"
        "users:\n"
        "  - {login: ann, email: ann@acme.com, name: Ann}\n"
        "  - {login: bob, email: bob@acme.com, name: Bob}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([os.fspath(site), *sys.path]),
        "NO_COLOR": "1",
    }

    def reconciler(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd=tmp_path,
        )

    validate = reconciler("validate", os.fspath(people))
    assert validate.returncode == 0, validate.stderr
    plan = reconciler(
        "plan", os.fspath(people), "--api-url", "fake=sim:company", "--format", "json"
    )
    assert plan.returncode == 0, plan.stderr
    planned = json.loads(plan.stdout)
    assert planned["system"] == "fake"
    assert planned["summary"]["create"] == 2
    assert [change["login"] for change in planned["changes"]] == ["ann", "bob"]
    schema = reconciler("schema")
    assert json.loads(schema.stdout)["$defs"]["system"]["enum"] == ["dealhub", "pipedrive", "fake"]


class BlockProvider(fake_provider.FakeProvider):
    """The fake system with a people-file block of its own (`fake: {team: ...}`)."""

    capabilities = replace(
        fake_provider.FakeProvider.capabilities,
        people_schema=PeopleSchema(
            person={
                "type": "object",
                "additionalProperties": False,
                "properties": {"team": {"type": "string", "minLength": 1}},
            }
        ),
    )


BLOCK_PROVIDER = BlockProvider()


def test_a_registered_systems_block_is_its_own_never_a_default_system_field(
    monkeypatch: pytest.MonkeyPatch, write: WriteFile
) -> None:
    monkeypatch.setitem(providers.REGISTRY, "fake", f"{__name__}:BLOCK_PROVIDER")
    people = write(
        "people.yaml",
        """\
        version: 1
        settings: {systems: [dealhub, fake]}
        users:
          - login: ann@acme
            email: ann@acme.com
            name: Ann
            fake: {team: sales}
        """,
    )
    ann = load_desired([people]).users["ann@acme"]
    assert ann.blocks == {"fake": {"team": "sales"}}
    assert "fake" not in ann.fields
    assert ann.key_lines["fake.team"] == 7

    wrong = write("wrong.yaml", Path(people).read_text(encoding="utf-8").replace("team:", "taem:"))
    with pytest.raises(InputError) as refused:
        load_desired([wrong])
    assert any(p.line == 7 and "unknown key 'taem'" in p.message for p in refused.value.problems), (
        refused.value.problems
    )


def test_a_plug_in_name_a_people_file_cannot_hold_is_refused(site: Path) -> None:
    plug_in(site, "Bad-Name", "bad_plugin:PROVIDER")
    with pytest.raises(
        UsageError, match=r"'Bad-Name' = 'bad_plugin:PROVIDER'.* is not a system name"
    ):
        providers.names()
