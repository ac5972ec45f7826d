"""The single-user hooks `leave` needs, asked of every system alike (DealHub, Pipedrive, fake).

For any tenant and any key: `find` by the files' key finds that user and no
other; the deactivation reaches that one user on the wire, changes its active
state alone, and `read_back` sees it inactive.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.providers.single import Lookup, deactivation, hooks_for

from . import fake_single
from .conftest import Adapter

SYSTEMS = ["dealhub", "pipedrive", "fake"]
CANDIDATES = {
    "dealhub": ("admin@x", "ann@x", "Ann@x", "bob@x", "cat@x", "zed@x"),
    "pipedrive": ("me@x.com", "ann@x.com", "ANN@X.COM", "bob@x.com", "zed@x.com"),
    "fake": ("ann", "Ann", "bob", "root", "zed"),
}
#: Each system's own fields that say whether a user is active.
ACTIVE = {"dealhub": "is_active", "pipedrive": "active_flag", "fake": "is_active"}


@pytest.fixture(autouse=True)
def _fake_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_single.attach(monkeypatch)


def live(adapter: Adapter, raw: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The tenant's live users by folded key."""
    provider = adapter.provider
    key = provider.capabilities.key
    views = (provider.tenant_view(user) for user in raw)
    return {adapter.fold(v[key]): v for v in views if v is not None}


@pytest.mark.parametrize("adapter", SYSTEMS, indirect=True)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_hooks_deactivate_one_user_and_nothing_else(adapter: Adapter, data: Any) -> None:
    raw = data.draw(adapter.tenants)
    key = data.draw(st.sampled_from(CANDIDATES[adapter.name]))
    opened = adapter.open(raw)
    provider = adapter.provider
    hooks = hooks_for(provider, opened.remote)
    found = hooks.find(Lookup(key, key=key))
    users = live(adapter, raw)
    wanted = users.get(adapter.fold(key))
    if wanted is None:
        assert found == []
        return
    assert len(found) == 1 and adapter.fold(found[0][provider.capabilities.key]) == adapter.fold(
        key
    )
    (user,) = found
    if provider.undeactivatable(user) is not None:
        return  # leave refuses it before any write (tested in tests/test_leave.py)
    before = [dict(u) for u in opened.stored()]
    del opened.log[:]
    written = hooks.deactivate(user, {})
    change = deactivation(provider, user, {})
    writes = adapter.writes(opened.log, before)
    if change.blocked:
        assert written.status == "failed" and writes == []
        return
    assert [adapter.fold(str(w.key)) for w in writes] == [adapter.fold(key)]
    back = hooks.read_back(user)
    assert back is not None and back["is_active"] is False
    # Only that user's active state changed.
    ident, active = adapter.ident, ACTIVE[adapter.name]
    after = {u[ident]: u for u in opened.stored()}
    for old in before:
        new = after[old[ident]]
        if old[ident] == user.get(ident, user.get(provider.capabilities.key)):
            assert new[active] is False
            old, new = {**old, active: None}, {**new, active: None}
        assert {k: v for k, v in new.items() if k != "modified"} == {
            k: v for k, v in old.items() if k != "modified"
        }
