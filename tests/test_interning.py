"""Large inputs keep one copy of each repeated string, and stay the same values."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler import interning
from reconciler.interning import Interner
from reconciler.providers.dealhub.client import connect
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.yaml_source import read_yaml


def test_an_equal_string_comes_back_as_the_first_copy() -> None:
    share = Interner().sharer()
    first = "".join(["Acme ", "Europe"])
    second = "".join(["Acme ", "Eur", "ope"])
    assert first is not second
    assert share(first, first) is first
    assert share(second, second) is first


def test_the_table_stops_growing_at_its_bound() -> None:
    strings = Interner()
    for number in range(interning.MAX_KEPT + 10):
        value = f"value {number}"
        strings.sharer()(value, value)
    late = "".join(["value ", "late"])
    share = strings.sharer()
    assert share(late, late) is late
    again = "".join(["value ", "la", "te"])
    assert share(again, again) is again  # not kept: the table is full
    early = "".join(["value ", "0"])
    assert share(early, early) is not early  # what was kept is still shared


def test_a_people_file_shares_its_repeated_values(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(
        "users:\n"
        '  - {login: a, company: "Acme Europe", city: Paris}\n'
        '  - {login: b, company: "Acme Europe", city: Paris}\n',
        encoding="utf-8",
    )
    first, second = read_yaml(str(path))["users"]
    assert first["company"] is second["company"] and first["city"] is second["city"]
    assert (first["login"], second["login"], second["company"]) == ("a", "b", "Acme Europe")


def _users() -> list[dict[str, object]]:
    return [
        {"login": f"u{n}@acme", "email": f"u{n}@acme.com", "company": "Acme Labs", "id": str(n)}
        for n in range(3)
    ]


def test_a_tenant_read_shares_its_repeated_values(tmp_path: Path) -> None:
    state = tmp_path / "tenant.json"
    state.write_text(json.dumps(_users()), encoding="utf-8")
    with connect(f"sim:{state}", None, writable=False) as client:
        users = client.list_users()
    assert len({id(user["company"]) for user in users}) == 1
    assert [user["email"] for user in users] == [f"u{n}@acme.com" for n in range(3)]


def test_a_simulated_tenant_shares_its_repeated_values() -> None:
    raw = json.loads(json.dumps(_users()))  # each value its own copy, as read from a file
    stored = TenantStore(raw).view()
    assert len({id(user["company"]) for user in stored}) == 1
    assert [user["login"] for user in stored] == ["u0@acme", "u1@acme", "u2@acme"]
