"""`apply --plan` writes exactly what was reviewed, in every system (SPEC 1.5, 5).

Between the plan and its apply, the system moves out of band (someone
deactivates a leaver by hand, edits a field, another tool adds a user) and the
files may change (another pull request merged). Whatever happened, the run
writes exactly the changes that the saved plan and the fresh plan hold
identically, less those that need a held one, and nothing else.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

from hypothesis import strategies as st

from reconciler import plan as plan_module
from reconciler import providers, saved_plan
from reconciler.apply import Applier
from reconciler.diff import tenant_index
from reconciler.model import Plan
from tests.contract.cases import cases, given_cases, plan_of, systems

from .conftest import Adapter, Raw

KEY = saved_plan.seal_key("reviewed-changes-token")


@st.composite
def moved(draw: st.DrawFn, adapter: Adapter, tenant: list[Raw]) -> list[Raw]:
    """The tenant after hands and other tools touched it: flipped, dropped, or redrawn users."""
    if draw(st.integers(0, 4)) == 0:
        return draw(adapter.tenants)
    active = adapter.vendor.get("is_active", "is_active")
    after = []
    for raw in copy.deepcopy(tenant):
        what = draw(st.sampled_from(["keep", "keep", "flip", "drop"]))
        if what == "drop" and not raw.get("is_you"):
            # (The token's own user cannot leave the company it reads.)
            continue
        if what == "flip" and isinstance(raw.get(active), bool):
            raw[active] = not raw[active]
        after.append(raw)
    return after


def change_data(plan: Plan) -> dict[str, dict[str, Any]]:
    data = plan_module.to_json_data(plan)
    return {change["login"]: change for change in data["changes"]}


@systems()
@given_cases
def test_apply_plan_writes_exactly_the_changes_both_plans_hold(
    adapter: Adapter, data: st.DataObject
) -> None:
    tenant, planned_state = data.draw(cases(adapter))
    reviewed = plan_of(adapter, planned_state, tenant)
    if reviewed is None:
        return
    reviewed.desired_digest = saved_plan.desired_digest(planned_state)
    saved = saved_plan.sealed(plan_module.to_json_data(reviewed), KEY)
    saved = json.loads(json.dumps(saved))  # as it travels: a file
    now = data.draw(moved(adapter, tenant))
    merged_state = planned_state if data.draw(st.booleans()) else data.draw(adapter.states)
    fresh = plan_of(adapter, merged_state, now)
    if fresh is None:
        return
    provider = providers.get(adapter.name)
    digest = saved_plan.desired_digest(merged_state)

    review = saved_plan.bind(
        saved, fresh, tenant_index(provider, now), provider, files_digest=digest, key=KEY
    )

    saved_changes = {adapter.fold(c["login"]): c for c in saved["changes"]}
    both = {
        login
        for login, change in change_data(fresh).items()
        if saved_changes.get(adapter.fold(login)) == change
    }
    held = {h.key for h in review.held}
    assert review.approved <= both
    assert review.approved | held == {c.key for c in fresh.changes}
    assert not review.approved & held
    for login in both - review.approved:
        reason = next(h.reason for h in review.held if h.key == login)
        assert reason.startswith("it needs ")
    fresh_keys = {adapter.fold(c.key) for c in fresh.changes}
    assert {adapter.fold(h.key) for h in review.no_longer_needed} == (
        set(saved_changes) - fresh_keys
    )

    # On the wire: the approved changes, and nothing else.
    written = dataclasses.replace(
        fresh, changes=[c for c in fresh.changes if c.key in review.approved]
    )
    opened = adapter.open(now)
    Applier(opened.remote, provider=provider).run(written)
    writes = adapter.writes(opened.log, now)
    sent = {adapter.fold(c.key) for c in written.changes if not c.blocked}
    assert {adapter.fold(w.key) for w in writes if w.key is not None} <= sent
    assert len(writes) == len(sent)
