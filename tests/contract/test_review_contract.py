"""The access review over every system of the contract suite (SPEC section 8).

For any tenant and any files: every account the system's listing read holds
appears exactly once, each person listed for the system and absent from it
appears once more (and only they), the review sends nothing but reads, and the
flags follow from the row. The fake system joins with its review hooks
(fake_review) declared on its provider, as a third system would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import review
from reconciler.desired import DesiredState
from reconciler.diff import tenant_index
from reconciler.engine import Planned, make_plan
from reconciler.errors import InputError
from reconciler.providers.review_hooks import GenericReview, hooks_for

from . import fake_provider, fake_review
from .conftest import ADAPTERS, Adapter, Raw

READ_AT = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
contract = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def fake_reviewable(fake_registered: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fake system declares its review hooks: one attribute on its provider."""
    monkeypatch.setattr(fake_provider.PROVIDER, "review_hooks", fake_review.REVIEW, raising=False)
    yield


every_system = pytest.mark.parametrize("adapter", list(ADAPTERS), indirect=True)


def reviewed(adapter: Adapter, tenant: list[Raw], state: DesiredState) -> tuple[Any, Any]:
    opened = adapter.open(tenant)
    provider = adapter.provider
    raw = opened.remote.read()
    try:
        plan = make_plan(state, provider, raw, opened.remote.target, allow_mass_deactivation=False)
    except InputError:
        return None, opened
    run = Planned(provider, opened.remote, raw, plan, tenant_index(provider, raw))
    return review.build(state, [run], read_at=READ_AT, dormant_days=30), opened


@every_system
@contract
@given(data=st.data())
def test_every_account_appears_once_and_every_absent_person_once_more(
    adapter: Adapter, fake_reviewable: None, data: st.DataObject
) -> None:
    tenant = data.draw(adapter.tenants, label="tenant")
    state = data.draw(adapter.states, label="files")
    found, opened = reviewed(adapter, tenant, state)
    assert all(entry["method"] == "GET" for entry in opened.log)
    if found is None:
        return
    key = adapter.provider.capabilities.key
    live = [u for u in tenant if not u.get("is_deleted")]
    accounts = Counter(adapter.fold(u[key]) for u in live)
    shown = Counter(adapter.fold(row.key) for row in found.rows if row.active is not None)
    assert shown == accounts
    listed = {adapter.fold(k) for k in adapter.provider.project(state)}
    absent = [adapter.fold(row.key) for row in found.rows if row.active is None]
    assert sorted(absent) == sorted(listed - set(accounts))
    for row in found.rows:
        assert ("not listed" in row.flags) == (row.active is True and row.files == "not listed")
        assert ("absent" in row.flags) == (row.active is None and row.files == "listed")
        assert ("admin" in row.flags) == (row.active is True and row.admin is True)
    assert found.systems[0].active == sum(1 for u in live if _active(adapter, u))


def _active(adapter: Adapter, user: Raw) -> bool:
    field = adapter.vendor.get("is_active", "is_active")
    return user.get(field) is not False


@every_system
def test_each_system_has_review_hooks_of_its_own(adapter: Adapter, fake_reviewable: None) -> None:
    assert not isinstance(hooks_for(adapter.provider), GenericReview)


def test_a_system_without_hooks_is_reviewed_from_its_tenant_view(fake_registered: None) -> None:
    hooks = hooks_for(fake_provider.PROVIDER)
    assert isinstance(hooks, GenericReview)
    account = hooks.account({"handle": "ann", "name": "Ann", "is_active": False})
    assert account is not None and (account.key, account.active) == ("ann", False)
    assert set(hooks.silent) == {"admin", "access", "role", "last_login"}


def test_the_fake_systems_flags_come_from_its_own_fields(fake_reviewable: None) -> None:
    tenant = [
        {"handle": "root", "name": "Root", "is_active": True, "is_root": True, "seen": None},
        {"handle": "ann", "name": "Ann", "is_active": True, "seen": "2026-11-30 12:00:00"},
    ]
    found, _ = reviewed(ADAPTERS["fake"], tenant, DesiredState({}, _fake_settings(), []))
    flags = {row.key: row.flags for row in found.rows}
    assert flags == {"ann": ("not listed",), "root": ("not listed", "dormant", "admin")}


def _fake_settings() -> Any:
    from reconciler.settings import Settings

    return Settings(systems=("fake",), blocks={"fake": {"unlisted": "ignore"}})
