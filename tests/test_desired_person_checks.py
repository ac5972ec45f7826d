"""The loader runs each managed system's own checks of the people listed for it (the
`people` module beside its provider, hooks.beside), and names no system itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import desired, providers
from reconciler.desired import load_desired, person_checks
from reconciler.diff import compute_plan
from reconciler.errors import InputError, Problem
from reconciler.settings import Settings
from reconciler.yaml_source import Mapping
from tests.contract import fake_provider
from tests.helpers.checks import files_of, person


@pytest.fixture
def fake_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The contract suite's fake system, which brings no `people` module."""
    monkeypatch.setitem(providers.REGISTRY, "fake", f"{fake_provider.__name__}:PROVIDER")
    yield


def test_every_managed_system_brings_its_checks_and_the_default_system_runs_last() -> None:
    both = Settings(systems=("pipedrive", "dealhub"), protect=("boss@acme",))
    assert [name for name, _ in person_checks(files_of(settings=both))] == [
        "pipedrive",
        "dealhub",
    ]
    alone = Settings(systems=("pipedrive",), protect=("boss@acme",))
    assert [name for name, _ in person_checks(files_of(settings=alone))] == ["pipedrive"]


def test_a_system_without_a_people_module_checks_no_one_and_no_block(
    fake_registered: None,
) -> None:
    assert person_checks(files_of(settings=Settings(systems=("fake",)))) == []
    assert desired._block_problems("people.yaml", "fake", Mapping(2)) == []


def test_problems_of_two_systems_on_one_line_keep_their_order(tmp_path: Path) -> None:
    people = tmp_path / "people.yaml"
    people.write_text(
        "version: 1\n"
        "settings:\n"
        "  systems: [dealhub, pipedrive]\n"
        '  protect: ["boss@acme"]\n'
        '  pipedrive: {protect: ["boss@acme.com"]}\n'
        "users:\n"
        "  - {login: boss@acme, email: boss@acme.com, name: Boss, is_active: false}\n"
    )
    with pytest.raises(InputError) as raised:
        load_desired([str(people)])
    assert [p.message for p in raised.value.problems] == [
        "boss@acme.com is protected in Pipedrive (settings.pipedrive.protect) and cannot "
        "be set is_active: false",
        "boss@acme is protected (settings.protect) and cannot be set is_active: false",
    ]


def test_a_person_listed_for_a_system_the_file_does_not_manage_is_still_checked_there(
    tmp_path: Path,
) -> None:
    # One run names every problem: the unmanaged system, and what that system refuses.
    people = tmp_path / "people.yaml"
    people.write_text(
        "version: 1\n"
        "settings:\n"
        "  systems: [pipedrive]\n"
        '  protect: ["boss@acme"]\n'
        "  require_external_id: true\n"
        "users:\n"
        "  - {login: boss@acme, email: boss@acme.com, name: Boss, is_active: false,\n"
        "     systems: [dealhub]}\n"
    )
    with pytest.raises(InputError) as raised:
        load_desired([str(people)])
    messages = [p.message for p in raised.value.problems]
    assert len(messages) == 3, messages
    assert "no external_user_id" in messages[0]
    assert (
        messages[1]
        == "boss@acme is protected (settings.protect) and cannot be set is_active: false"
    )
    assert "'dealhub' is not managed by this file" in messages[2]


@pytest.mark.parametrize("system", ["dealhub", "pipedrive"])
def test_the_plan_refuses_a_protected_key_as_the_loader_does(system: str) -> None:
    boss = person("boss@acme.com", "boss@acme.com", 3, is_active=False)
    settings = Settings(
        systems=(system,), protect=("boss@*",), blocks={"pipedrive": {"protect": ["boss@*"]}}
    )
    files = files_of(boss, settings=settings)
    loader: list[Problem] = []
    [(_, check)] = person_checks(files)
    check(boss, loader)
    with pytest.raises(InputError) as planned:
        compute_plan(files, [], target="t", provider=providers.get(system))
    assert [p.message for p in planned.value.problems] == [p.message for p in loader]
    assert "is protected" in loader[0].message
