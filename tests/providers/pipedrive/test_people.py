"""Pipedrive's checks of the people listed for it and of their blocks
(providers/pipedrive/people.py), on plain data."""

from __future__ import annotations

from reconciler.providers.pipedrive.people import block_problems, person_check
from reconciler.settings import Settings
from reconciler.yaml_source import Mapping, Sequence
from tests.helpers.checks import files_of, found_by, person


def test_pipedrive_finds_one_email_twice_by_its_key_rule_and_remembers_the_first() -> None:
    first = person("a@acme", "Stra\u00dfe@acme.com", 3)
    second = person("b@acme", "STRASSE@ACME.com", 7)
    other = person("c@acme", "other@acme.com", 9)
    check = person_check(files_of(first, second, other, settings=Settings(systems=("pipedrive",))))
    [message] = found_by(check, first, second, other)
    assert message.startswith(
        "email 'STRASSE@ACME.com' of b@acme is listed twice for Pipedrive: here and at "
        "people.yaml:3 (a@acme); Pipedrive keys users by email"
    )


def test_pipedrive_refuses_a_protected_email_set_inactive() -> None:
    settings = Settings(systems=("pipedrive",), blocks={"pipedrive": {"protect": ["owner@*"]}})
    owner = person("o@acme", "Owner@acme.com", 5, is_active=False)
    assert found_by(person_check(files_of(owner, settings=settings)), owner) == [
        "Owner@acme.com is protected in Pipedrive (settings.pipedrive.protect) and cannot "
        "be set is_active: false"
    ]


def access(*apps: str, line: int = 3) -> Mapping:
    """A block `{access: [{app: A}, ...]}` as read, an item a line from `line` on."""
    items = Sequence(line)
    for offset, app in enumerate(apps):
        item = Mapping(line + offset)
        item["app"] = app
        item.key_lines["app"] = line + offset
        items.append(item)
        items.item_lines.append(line + offset)
    block = Mapping(line - 1)
    block["access"] = items
    return block


def test_a_block_gives_each_app_once() -> None:
    [twice] = block_problems("people.yaml", access("sales", "global", "sales"))
    assert (twice.file, twice.line, twice.field) == ("people.yaml", 5, "pipedrive")
    assert twice.message == (
        "pipedrive.access[2]: app 'sales' is listed twice (also access[0], line 3); "
        "give each app once"
    )
    assert block_problems("people.yaml", access("sales", "global")) == []
