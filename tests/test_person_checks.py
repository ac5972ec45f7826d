"""Each system checks the people listed for it with its own `people` module (found beside
its provider, hooks.beside); the loader runs every managed system's checks and names none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import desired, providers
from reconciler.desired import DesiredState, DesiredUser, load_desired, person_checks
from reconciler.diff import compute_plan
from reconciler.errors import InputError, Problem
from reconciler.providers.dealhub import people as dealhub_people
from reconciler.providers.pipedrive import people as pipedrive_people
from reconciler.settings import Settings
from reconciler.yaml_source import Mapping, Sequence
from tests.contract import fake_provider


def person(login: str, email: str, line: int, **fields: object) -> DesiredUser:
    return DesiredUser(
        login, {"email": email, "name": "N", **fields}, "people.yaml", line, {"email": line}
    )


def state(*people: DesiredUser, settings: Settings) -> DesiredState:
    return DesiredState({p.login: p for p in people}, settings, ["people.yaml"])


def problems_of(check: object, *people: DesiredUser) -> list[str]:
    assert callable(check)
    found: list[Problem] = []
    for one in people:
        check(one, found)
    return [problem.message for problem in found]


@pytest.fixture
def fake_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(providers.REGISTRY, "fake", f"{fake_provider.__name__}:PROVIDER")
    yield


def test_every_managed_system_brings_its_checks_and_the_default_system_runs_last() -> None:
    protect = Settings(systems=("pipedrive", "dealhub"), protect=("boss@acme",))
    assert [name for name, _ in person_checks(state(settings=protect))] == [
        "pipedrive",
        "dealhub",
    ]
    alone = Settings(systems=("pipedrive",), protect=("boss@acme",))
    assert [name for name, _ in person_checks(state(settings=alone))] == ["pipedrive"]


def test_a_system_without_a_people_module_checks_nobody(fake_registered: None) -> None:
    assert person_checks(state(settings=Settings(systems=("fake",)))) == []


def test_the_default_system_asks_nothing_when_its_settings_ask_nothing() -> None:
    assert dealhub_people.person_check(state(settings=Settings())) is None
    asked = Settings(require_external_id=True)
    assert dealhub_people.person_check(state(settings=asked)) is not None


def test_dealhub_refuses_a_protected_login_set_inactive_and_a_missing_external_id() -> None:
    settings = Settings(protect=("boss@*",), require_external_id=True)
    boss = person("boss@acme", "boss@acme.com", 3, is_active=False)
    kept = person("ann@acme", "ann@acme.com", 4, external_user_id="e1")
    check = dealhub_people.person_check(state(boss, kept, settings=settings))
    assert problems_of(check, boss, kept) == [
        "boss@acme has no external_user_id (settings.require_external_id); "
        "the vendor's v2 schema requires it",
        "boss@acme is protected (settings.protect) and cannot be set is_active: false",
    ]


def test_pipedrive_finds_one_email_twice_by_its_key_rule_and_remembers_the_first() -> None:
    settings = Settings(systems=("pipedrive",))
    first = person("a@acme", "Stra\u00dfe@acme.com", 3)
    second = person("b@acme", "STRASSE@ACME.com", 7)
    check = pipedrive_people.person_check(state(first, second, settings=settings))
    [message] = problems_of(check, first, second)
    assert message.startswith(
        "email 'STRASSE@ACME.com' of b@acme is listed twice for Pipedrive: here and at "
        "people.yaml:3 (a@acme); Pipedrive keys users by email"
    )


def test_pipedrive_refuses_a_protected_email_set_inactive() -> None:
    settings = Settings(systems=("pipedrive",), blocks={"pipedrive": {"protect": ["owner@*"]}})
    owner = person("o@acme", "Owner@acme.com", 5, is_active=False)
    check = pipedrive_people.person_check(state(owner, settings=settings))
    assert problems_of(check, owner) == [
        "Owner@acme.com is protected in Pipedrive (settings.pipedrive.protect) and cannot "
        "be set is_active: false"
    ]


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


def test_a_block_is_checked_by_its_own_system_and_only_by_it(fake_registered: None) -> None:
    access = Sequence(3)
    for line in (3, 4):
        item = Mapping(line)
        item["app"] = "sales"
        item.key_lines["app"] = line
        access.append(item)
        access.item_lines.append(line)
    block = Mapping(2)
    block["access"] = access
    [twice] = desired._block_problems("people.yaml", "pipedrive", block)
    assert (twice.line, twice.field) == (4, "pipedrive")
    assert twice.message.startswith("pipedrive.access[1]: app 'sales' is listed twice")
    assert desired._block_problems("people.yaml", "fake", block) == []


@pytest.mark.parametrize("system", ["dealhub", "pipedrive"])
def test_the_plan_refuses_a_protected_key_as_the_loader_does(system: str) -> None:
    boss = person("boss@acme.com", "boss@acme.com", 3, is_active=False)
    settings = Settings(
        systems=(system,),
        protect=("boss@*",),
        blocks={"pipedrive": {"protect": ["boss@*"]}},
    )
    files = state(boss, settings=settings)
    loader: list[Problem] = []
    [(_, check)] = person_checks(files)
    check(boss, loader)
    with pytest.raises(InputError) as planned:
        compute_plan(files, [], target="t", provider=providers.get(system))
    assert [p.message for p in planned.value.problems] == [p.message for p in loader]
    assert "is protected" in loader[0].message
