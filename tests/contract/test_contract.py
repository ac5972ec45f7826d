"""The contract every system passes: SPEC section 1's invariants as properties.

Each test runs against DealHub and Pipedrive (their simulators, in-process) and
a fake third system that is only a module and a registry line (fake_provider).
Tenants and desired people come from small alphabets, so they overlap, differ
in letter case, protect and leave users unlisted. Files the tool refuses
(InputError) send nothing, which every property checks too.

A property that a system breaks is marked xfail(strict=True) on that system
alone, with the bug named; it turns red when the bug is fixed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import strategies as st

from reconciler import plan as plan_module
from reconciler import providers, saved_plan
from reconciler.apply import Applier
from reconciler.desired import DesiredState
from reconciler.diff import tenant_index
from reconciler.render import FORMATS, render_plan
from tests.contract.cases import Run, cases, given_cases, plan_of, systems

from .conftest import Adapter, Raw


def apply_once(adapter: Adapter, raw: list[Raw], state: DesiredState) -> Run:
    opened = adapter.open(raw)
    before = opened.stored()
    plan = plan_of(adapter, state, opened.remote.read())
    if plan is not None:
        Applier(opened.remote, provider=adapter.provider).run(plan)
    log = list(opened.log)
    return Run(
        before=before,
        plan=plan,
        after=opened.stored(),
        writes=adapter.writes(log, before),
        log=log,
        records=adapter.provider.project(state),
    )


def draw_run(adapter: Adapter, data: st.DataObject) -> tuple[Run, DesiredState]:
    raw, state = data.draw(cases(adapter))
    return apply_once(adapter, raw, state), state


def live(adapter: Adapter, users: list[Raw]) -> dict[Any, dict[str, Any]]:
    """The users the system holds (tenant_view not None), by vendor id."""
    found = {}
    for raw in users:
        view = adapter.provider.tenant_view(dict(raw))
        if view is not None:
            found[raw[adapter.ident]] = view
    return found


def keys(adapter: Adapter, views: Any) -> set[str]:
    key = adapter.provider.capabilities.key
    return {adapter.fold(view[key]) for view in views}


# -- 1. a key is never changed ------------------------------------------------------------


@systems()
@given_cases
def test_no_key_is_ever_changed(adapter: Adapter, data: st.DataObject) -> None:
    run, _ = draw_run(adapter, data)
    key = adapter.provider.capabilities.key
    before, after = live(adapter, run.before), live(adapter, run.after)
    known = keys(adapter, before.values()) | {adapter.fold(k) for k in run.records}
    for change in run.plan.changes if run.plan else []:
        assert adapter.fold(change.key) in known, change
    for write in run.writes:
        assert write.key is not None and adapter.fold(write.key) in known, write
    assert keys(adapter, after.values()) >= keys(adapter, before.values())
    for ident, view in before.items():
        assert after.get(ident, {}).get(key) == view[key], f"user {ident} changed its {key}"


# -- 2. nothing is deleted ------------------------------------------------------------------


@systems()
@given_cases
def test_nothing_is_deleted(adapter: Adapter, data: st.DataObject) -> None:
    run, _ = draw_run(adapter, data)
    for entry in run.log:
        assert entry["method"] != "DELETE", entry
        assert adapter.documented(entry["method"], entry["path"]), entry
    assert set(live(adapter, run.after)) >= set(live(adapter, run.before))


# -- 3. nothing unmanaged is sent -----------------------------------------------------------


def _vendor(adapter: Adapter, names: Any) -> set[str]:
    return {adapter.vendor.get(name, name) for name in names}


@systems()
@given_cases
def test_nothing_unmanaged_is_sent(adapter: Adapter, data: st.DataObject) -> None:
    run, _ = draw_run(adapter, data)
    caps = adapter.provider.capabilities
    base = {caps.key} | caps.write_only
    allowed = {
        "create": _vendor(adapter, base | caps.settable_on_create),
        "update": _vendor(adapter, base | caps.changeable | {"is_active"}),
    }
    records = {adapter.fold(k): record for k, record in run.records.items()}
    for write in run.writes:
        assert set(write.body) <= allowed[write.kind], write
        record = records.get(adapter.fold(write.key or ""))
        fields = record.fields if record is not None else {}
        if record is not None:
            # A field the files do not set is never sent.
            assert set(write.body) <= _vendor(adapter, {caps.key, *fields}), write
        for name, value in write.body.items():
            if value is None or value == "":
                # Never overwritten with an empty string: only a field the files clear.
                field = next((f for f in fields if adapter.vendor.get(f, f) == name), name)
                assert field in fields and fields[field] in (None, ""), write


# -- 4. apply, then plan shows no changes -----------------------------------------------------


def assert_converges(adapter: Adapter, raw: list[Raw], state: DesiredState) -> None:
    """Apply once; then a plan shows no changes, unless the files are refused or a user blocked."""
    opened = adapter.open(raw)
    plan = plan_of(adapter, state, opened.remote.read())
    if plan is None or plan.blocked:
        return  # refused files send nothing; a blocked user stays as it is
    report = Applier(opened.remote, provider=adapter.provider).run(plan)
    again = plan_of(adapter, state, opened.remote.read())
    assert again is not None
    assert again.changes == [], (report.outcomes, again.changes)
    assert report.ok, report.outcomes


@systems()
@given_cases
def test_after_apply_the_plan_is_empty(adapter: Adapter, data: st.DataObject) -> None:
    assert_converges(adapter, *data.draw(cases(adapter)))


# -- 5. protected users are never deactivated -------------------------------------------------


@systems()
@given_cases
def test_protected_users_are_never_deactivated(adapter: Adapter, data: st.DataObject) -> None:
    result, state = draw_run(adapter, data)
    caps = adapter.provider.capabilities
    system = state.settings.for_system(caps.name)
    after = live(adapter, result.after)
    for ident, view in live(adapter, result.before).items():
        kept = system.is_protected(view[caps.key], state.login_suffix) or (
            adapter.provider.undeactivatable(view) is not None  # Pipedrive: the token's user
        )
        if kept and view.get("is_active") is not False:
            now = after.get(ident, {}).get("is_active")
            assert now is not False, f"{view[caps.key]} was deactivated"


# -- 6. plan never writes ------------------------------------------------------------------


@systems()
@given_cases
def test_plan_never_writes(adapter: Adapter, data: st.DataObject) -> None:
    raw, state = data.draw(cases(adapter))
    opened = adapter.open(raw)
    before = opened.stored()
    plan = plan_of(adapter, state, opened.remote.read())
    if plan is not None:
        for fmt in FORMATS:
            assert render_plan(plan, fmt)
    # One read of all the users (Pipedrive's asks /users/me first), and nothing else.
    assert {entry["method"] for entry in opened.log} == {"GET"}
    assert len(opened.log) <= 2
    assert opened.stored() == before


# -- saved plans: a plan read back is the plan, and a fresh plan confirms it ---------------


@systems()
@given_cases
def test_a_saved_plan_reads_back_and_verifies(adapter: Adapter, data: st.DataObject) -> None:
    raw, state = data.draw(cases(adapter))
    opened = adapter.open(raw)
    tenant = opened.remote.read()
    plan = plan_of(adapter, state, tenant)
    if plan is None:
        return
    digest = saved_plan.desired_digest(state)
    plan.desired_digest = digest
    key = saved_plan.seal_key("contract-token")
    saved = saved_plan.sealed(json.loads(plan_module.dumps(plan)), key)
    read_back = plan_module.from_json_data(saved)
    assert plan_module.to_json_data(read_back) == {k: v for k, v in saved.items() if k != "seal"}
    saved_plan.check_consistent(read_back)
    fresh_tenant = opened.remote.read()
    fresh = plan_of(adapter, state, fresh_tenant)
    assert fresh is not None
    review = saved_plan.bind(
        saved,
        fresh,
        tenant_index(providers.get(adapter.name), fresh_tenant),
        providers.get(adapter.name),
        files_digest=digest,
        key=key,
    )
    assert review.approved == {c.key for c in fresh.changes}
    assert review.held == [] and review.no_longer_needed == []


# -- each system's own examples: the smallest cases of the bugs above ---------------------


@pytest.mark.parametrize(
    "adapter",
    [
        pytest.param("dealhub"),
        pytest.param("pipedrive"),
    ],
    indirect=True,
)
def test_its_examples_converge(adapter: Adapter) -> None:
    for raw, state in adapter.examples:
        assert_converges(adapter, raw, state)
