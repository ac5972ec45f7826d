"""Apply: ordering on plain data; writes, faults and verification against the simulator."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply import Applier, order_batches
from reconciler.desired import DesiredState
from reconciler.diff import compute_plan
from reconciler.http import RetryPolicy
from reconciler.model import Change, Plan
from reconciler.providers.dealhub.client import DealHubClient
from reconciler.providers.dealhub.provider import DEALHUB, DealHubRemote
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.settings import Threshold
from reconciler.sim.faults import Faults
from reconciler.sim.server import running
from reconciler.sim.transport import SimTransport
from reconciler.wording import complete_line
from tests.helpers.people import desired, user

TOKEN = "apply-test-token"


def change(login: str, action: str = "create", manager: str | None = None) -> Change:
    send: dict[str, Any] = {"login": login, "email": f"{login}.com", "name": login}
    send["is_active"] = action != "deactivate"
    if manager:
        send["user_manager_login"] = manager
    before = None if action == "create" else {"login": login, "is_active": True}
    return Change(action, login, {}, before, send)  # type: ignore[arg-type]


# -- ordering ------------------------------------------------------------------------


def test_batches_respect_size_and_order() -> None:
    changes = [change(f"d{i}", "deactivate") for i in range(3)]
    changes += [change(f"u{i}", "update") for i in range(3)]
    changes += [change(f"c{i}") for i in range(3)]
    changes.append(change("r0", "reactivate"))
    batches = order_batches(changes, 4)
    flat = [c.action for batch in batches for c in batch]
    assert [len(b) for b in batches] == [4, 4, 2]
    assert flat == ["create"] * 3 + ["update"] * 3 + ["reactivate"] + ["deactivate"] * 3


def test_manager_created_in_an_earlier_request_than_reports() -> None:
    changes = [change("boss"), change("mid", manager="boss"), change("ic", manager="mid")]
    changes += [change(f"peer{i}") for i in range(3)]
    batches = order_batches(changes, 100, DEALHUB.depends_on)
    where = {c.key: i for i, batch in enumerate(batches) for c in batch}
    assert where["boss"] < where["mid"] < where["ic"]
    assert len(batches) == 3


def test_update_pointing_at_a_created_manager_comes_after_it() -> None:
    changes = [change("u", "update", manager="new"), change("new")]
    batches = order_batches(changes, 100, DEALHUB.depends_on)
    where = {c.key: i for i, batch in enumerate(batches) for c in batch}
    assert where["new"] < where["u"]


@given(st.integers(1, 300), st.integers(1, 150))
def test_request_count_is_ceil_without_manager_chains(n: int, size: int) -> None:
    changes = [change(f"c{i}", "create" if i % 3 else "update") for i in range(n)]
    assert len(order_batches(changes, size)) == math.ceil(n / size)


# -- against the simulator -------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[Any]:
    """Start a simulator over a real socket; returns (client, sim)."""
    contexts: list[Any] = []

    def start(
        tenant: list[dict[str, Any]], faults: Faults | None = None
    ) -> tuple[DealHubClient, Simulator]:
        sim = Simulator(TenantStore(tenant), token=TOKEN, faults=faults)
        ctx = running(sim)
        url = ctx.__enter__()
        contexts.append(ctx)
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"})
        client = DealHubClient(
            http,
            target=url,
            token_origin="DEALHUB_TOKEN",
            retry=RetryPolicy(attempts=12, base=0.001, cap=0.005),
            sleep=lambda s: None,
            seed=7,
        )
        return client, sim

    yield start
    for ctx in contexts:
        ctx.__exit__(None, None, None)


def plan_for(client: DealHubClient, state: DesiredState) -> Plan:
    return compute_plan(state, client.list_users(), target=client.target)


def big_case(n: int = 60) -> tuple[list[dict[str, Any]], DesiredState]:
    tenant = [user(f"t{i}@x", is_active=i % 5 != 0, position="Old") for i in range(n)]
    wanted = [user("boss@x", position="Boss"), user("lead@x", user_manager_login="boss@x")]
    wanted += [user(f"new{i}@x", user_manager_login="lead@x") for i in range(15)]
    wanted += [user(f"t{i}@x", position="New" if i % 2 else "Old") for i in range(n - 8)]
    state = desired(wanted, max_deactivations=Threshold(100, percent=True))
    return tenant, state


def assert_converged(client: DealHubClient, state: DesiredState) -> None:
    again = plan_for(client, state)
    assert again.changes == [], [(c.action, c.key, c.fields) for c in again.changes]


FAULTS = {
    "none": Faults(),
    "failures": Faults(failure_rate=0.3, seed=1),
    "throttling": Faults(throttle_rate=0.3, retry_after=0, seed=2),
    "lost answers": Faults(lost_rate=0.3, seed=3),
    "async": Faults(async_mode=True, seed=4),
    "max batch": Faults(max_batch=7, seed=5),
    "all together": Faults(
        failure_rate=0.15,
        throttle_rate=0.15,
        retry_after=0,
        lost_rate=0.15,
        async_mode=True,
        seed=6,
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_apply_converges_under_faults(served: Any, fault: str) -> None:
    tenant, state = big_case()
    client, sim = served(tenant, FAULTS[fault])
    plan = plan_for(client, state)
    planned = {c.key for c in plan.changes}
    report = Applier(DealHubRemote(client, poll_interval=0), batch_size=10).run(plan)
    assert report.ok, [o for o in report.outcomes if o.status != "done"]
    assert len(report.outcomes) == len(plan.changes)
    written = {
        u["login"] for e in sim.request_log if e["method"] == "PUT" for u in e["body"]["users"]
    }
    assert written == planned  # nothing touched that the plan did not name
    assert all(e["method"] in ("GET", "PUT") for e in sim.request_log)
    assert {e["path"] for e in sim.request_log if e["method"] == "PUT"} == {"/api/v2/users"}
    assert_converged(client, state)


def test_request_counts_are_one_read_ceil_writes_one_verification(served: Any) -> None:
    tenant = [user(f"u{i}@x", position="A") for i in range(250)]
    state = desired([user(f"u{i}@x", position="B") for i in range(250)])
    client, _ = served(tenant)
    plan = plan_for(client, state)
    report = Applier(DealHubRemote(client), batch_size=100).run(plan)
    assert report.ok
    assert report.requests == {"read": 2, "write": 3}
    assert complete_line(report.counts()) == (
        "Apply complete: 0 created, 250 updated, 0 reactivated, 0 deactivated, 0 failed."
    )


def test_per_user_errors_are_reported_and_the_rest_applied(served: Any) -> None:
    client, _ = served([user("a@x")], Faults(taken_logins=frozenset({"taken@x"})))
    state = desired([user("a@x", position="P"), user("taken@x"), user("fine@x")])
    report = Applier(DealHubRemote(client)).run(plan_for(client, state))
    outcome = {o.key: o for o in report.outcomes}
    assert outcome["taken@x"].status == "failed" and outcome["taken@x"].message
    assert outcome["a@x"].status == "done" and outcome["fine@x"].status == "done"
    assert not report.ok


def test_a_rejected_batch_is_split_to_isolate_the_bad_user(served: Any) -> None:
    client, _ = served([], Faults(max_batch=1))
    state = desired([user(f"u{i}@x") for i in range(5)])
    report = Applier(DealHubRemote(client), batch_size=5).run(plan_for(client, state))
    assert report.ok
    assert_converged(client, state)


def test_reports_of_a_manager_that_failed_are_skipped(served: Any) -> None:
    client, sim = served([], Faults(taken_logins=frozenset({"boss@x"})))
    state = desired([user("boss@x"), user("ic@x", user_manager_login="boss@x"), user("other@x")])
    report = Applier(DealHubRemote(client)).run(plan_for(client, state))
    outcome = {o.key: o for o in report.outcomes}
    assert outcome["boss@x"].status == "failed"
    assert outcome["ic@x"].status == "skipped"
    assert "boss@x was not created" in outcome["ic@x"].message
    assert outcome["other@x"].status == "done"
    written = {
        u["login"] for e in sim.request_log if e["method"] == "PUT" for u in e["body"]["users"]
    }
    assert "ic@x" not in written
    assert report.counts()["skipped"] == 1


def test_async_wait_timeout_is_reported_as_failed(served: Any) -> None:
    client, _ = served([], Faults(async_mode=True))
    ticks = iter(range(1000))
    applier = Applier(
        DealHubRemote(client, wait_timeout=0.5, poll_interval=0, clock=lambda: next(ticks) * 1.0)
    )
    report = applier.run(plan_for(client, desired([user("slow@x")])))
    # The status endpoint needs three polls to reach done; the clock runs out first,
    # so the user is not in the tenant at verification.
    (outcome,) = report.outcomes
    assert outcome.status == "failed" and "still" in outcome.message


def test_verification_catches_a_silent_failure(served: Any) -> None:
    """An API that says 200 but drops a field is caught by the verification read."""
    client, _ = served([user("a@x", position="Old")])
    state = desired([user("a@x", position="New")])
    plan = plan_for(client, state)
    plan.changes[0].send["position"] = "Mangled"  # as if the server stored something else
    report = Applier(DealHubRemote(client)).run(plan)
    (outcome,) = report.outcomes
    assert outcome.status == "failed" and "did not converge" in outcome.message


# -- the invariants, on random input (in-process simulator) ----------------------------------

logins = st.sampled_from([f"user{i}@x" for i in range(8)])
values = st.one_of(st.none(), st.sampled_from(["A", "B", "c"]))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], DesiredState]:
    tenant_logins = draw(st.sets(logins, max_size=6))
    tenant = []
    for login in sorted(tenant_logins):
        u = user(login, is_active=draw(st.booleans()))
        for name in ("position", "city"):
            v = draw(values)
            if v:
                u[name] = v
        tenant.append(u)
    wanted = []
    for login in sorted(draw(st.sets(logins, min_size=1, max_size=6))):
        u = user(login, is_active=draw(st.booleans()))
        for name in ("position", "city", "phone"):
            if draw(st.booleans()):
                u[name] = draw(values)
        if draw(st.booleans()):
            u["email"] = u["email"].upper()
        wanted.append(u)
    unlisted = draw(st.sampled_from(["deactivate", "ignore"]))
    return tenant, desired(wanted, unlisted=unlisted)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_apply_then_plan_is_empty_and_nothing_is_lost(case: Any) -> None:
    tenant, state = case
    sim = Simulator(TenantStore(tenant), token=TOKEN)
    http = httpx.Client(
        transport=SimTransport(sim),
        base_url="http://simulator",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    client = DealHubClient(http, target="sim", token_origin="x", sleep=lambda s: None)
    plan = plan_for(client, state)
    report = Applier(DealHubRemote(client), batch_size=3).run(plan)
    assert report.ok
    after = {u["login"]: u for u in client.list_users()}
    before = {u["login"]: u for u in tenant}
    assert set(before) <= set(after)  # nobody removed
    for login, old in before.items():
        assert after[login]["login"] == login
        assert after[login]["id"] == old.get("id", after[login]["id"])
    assert_converged(client, state)


# -- users the v2 API cannot take (issue 11.9) and the missing external id (11.8) ------------


def test_unwritable_users_are_named_by_the_plan_and_never_sent(served: Any) -> None:
    long_login = "a" * 95 + "@x"
    tenant = [
        user(long_login),  # valid on v1 reads, too long for v2 writes
        {"login": "noemail@x", "name": "No Email", "is_active": True},
        {"login": "noname@x", "email": "nn@x.com", "is_active": True},
        user("keep@x"),
        user("bye@x"),
    ]
    client, sim = served(tenant)
    plan = plan_for(client, desired([user("keep@x")], max_deactivations=Threshold(100, True)))
    blocked = {c.key: c.blocked for c in plan.blocked}
    assert set(blocked) == {long_login, "noemail@x", "noname@x"}
    assert "97 characters" in (blocked[long_login] or "")
    assert "no email" in (blocked["noemail@x"] or "")
    assert "no name" in (blocked["noname@x"] or "")

    sim.request_log.clear()
    report = Applier(DealHubRemote(client)).run(plan)
    outcomes = {o.key: o for o in report.outcomes}
    assert outcomes["bye@x"].status == "done"
    for login in blocked:
        assert outcomes[login].status == "skipped"
        assert outcomes[login].message.startswith("not sent: ")
    sent = [u["login"] for r in sim.request_log if r["method"] == "PUT" for u in r["body"]["users"]]
    assert sent == ["bye@x"]


def test_writes_without_external_id_are_counted() -> None:
    state = desired(
        [user("new@x", external_user_id="005X"), user("moved@x", position="New"), user("b@x")]
    )
    tenant = [user("moved@x", is_active=True), user("gone@x", is_active=True), user("b@x")]
    plan = compute_plan(state, tenant, target="t")
    # new@x carries one; moved@x (an update) and gone@x (unlisted) cannot.
    from reconciler.providers.dealhub.remarks import without_external_id

    assert len(without_external_id(plan)) == 2


def test_a_rejection_for_the_missing_external_id_says_what_to_do(served: Any) -> None:
    client, _ = served([user("a@x", position="Old")], Faults(require_external_id=True))
    plan = plan_for(
        client,
        desired([user("a@x", position="New"), user("b@x", external_user_id="005B")]),
    )
    report = Applier(DealHubRemote(client)).run(plan)
    outcomes = {o.key: o for o in report.outcomes}
    assert outcomes["b@x"].status == "done"
    assert outcomes["a@x"].status == "failed"
    assert "external_user_id" in outcomes["a@x"].message
    assert "add external_user_id to this user in the files" in outcomes["a@x"].message
