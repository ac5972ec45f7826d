"""The fake system's single-user hooks: what a third system adds for `reconciler leave`.

The fake has no read of one user, so `find` and `read_back` read its one list;
the deactivation goes through its own write path, as DealHub's and Pipedrive's
do. It declares them the way any provider may: a `single_user(remote)` method
(see reconciler.providers.single.hooks_for); a test attaches it to the fake's
provider with `attach`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from reconciler.providers.single import Lookup, View, Written, write_deactivation

from . import fake_provider

if TYPE_CHECKING:
    from reconciler.providers.base import Remote
    from reconciler.providers.single import SingleUser


class FakeSingle:
    """SingleUser hooks over a FakeRemote (handles are case-sensitive; PERSON may not be)."""

    def __init__(self, remote: Remote) -> None:
        self.provider = fake_provider.PROVIDER
        self.remote = remote

    def find(self, lookup: Lookup) -> list[View]:
        users = self.remote.read()
        if lookup.key is not None:
            return [dict(u) for u in users if u["handle"] == lookup.key]
        wanted = lookup.person.casefold()
        return [dict(u) for u in users if u["handle"].casefold() == wanted]

    def deactivate(self, user: View, wanted: dict[str, Any]) -> Written:
        return write_deactivation(self.provider, self.remote, user, wanted)

    def read_back(self, user: View) -> View | None:
        found = [u for u in self.remote.read() if u["handle"] == user["handle"]]
        return dict(found[0]) if found else None


def attach(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give the fake provider its hooks, as a third system's provider would declare them."""
    monkeypatch.setattr(fake_provider.PROVIDER, "single_user", FakeSingle, raising=False)


if TYPE_CHECKING:
    _hooks: SingleUser = FakeSingle(fake_provider.FakeRemote("fake:", fake_provider.FakeTenant()))
