"""Saved plans are untrusted: an edited plan writes nothing (SPEC 1.5, issue 10).

Every attack is run end to end: `plan --out`, an edit of the file, then
`apply --plan PLAN.json FILES` against a simulator over a real socket, whose
request log must show nothing but GETs.
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import guards
from reconciler.diff import tenant_index
from reconciler.errors import ReconcilerError, StalePlanError, UsageError
from reconciler.plan import dumps, from_json_data
from reconciler.providers.dealhub.provider import DEALHUB
from reconciler.providers.dealhub.rules import expected_payload, tenant_view
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.render import FORMATS, render_plans
from reconciler.saved_plan import (
    ALTERED,
    MISMATCH,
    Review,
    bind,
    check_consistent,
    check_target,
    desired_digest,
    seal_key,
    sealed,
)
from reconciler.settings import Threshold
from reconciler.sim.server import running
from tests.helpers.cli import EXAMPLE, SECRET, sandbox_on_simulator, tenant_of
from tests.helpers.strategies import desired_states, plan_or_input_error, tenants

Edit = Callable[[dict[str, Any], dict[str, dict[str, Any]]], None]


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", SECRET)


@pytest.fixture
def server(tenant: Path) -> Iterator[tuple[str, Simulator]]:
    sim = Simulator(TenantStore.load(tenant, persist=True), token=SECRET)
    with running(sim) as url:
        yield url, sim


def saved_plan(run: Any, url: str, path: Path, *extra: str) -> dict[str, Any]:
    result = run("plan", str(EXAMPLE), "--api-url", url, "--out", str(path), *extra)
    assert result.code == 0, result.all
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def deactivation(login: str, users: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A deactivation as the tool itself would write it: correct before and payload."""
    before = users[login]
    current = tenant_view(before)
    return {
        "action": "deactivate",
        "login": login,
        "fields": {"is_active": {"before": True, "after": False}},
        "before": before,
        "send": expected_payload(login, {"is_active": False}, current, ["is_active"]),
    }


def change_of(data: dict[str, Any], login: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in data["changes"] if c["login"] == login)
    return found


def _extra_deactivations(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    for login in ("maya@acme", "priya@acme", "omar@acme", "roy@acme", "john@acme"):
        data["changes"].append(deactivation(login, users))
    data["summary"]["deactivate"] += 5
    data["summary"]["unchanged"] -= 5


def _protected_admin(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    data["changes"].append(deactivation("admin@acme", users))


def _update_hides_deactivation(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change_of(data, "daniel@acme")["send"]["is_active"] = False


def _blank_email(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change_of(data, "daniel@acme")["send"]["email"] = ""


def _extra_field_in_send(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change_of(data, "daniel@acme")["send"]["phone"] = "+1-555-0100"


def _extra_field_consistently(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change = change_of(data, "daniel@acme")
    change["send"]["phone"] = "+1-555-0100"
    change["fields"]["phone"] = {"before": None, "after": "+1-555-0100"}


def _send_login(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change_of(data, "daniel@acme")["send"]["login"] = "roy@acme"


def _send_number(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change_of(data, "daniel@acme")["send"]["position"] = 3


def _send_active_string(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change_of(data, "noa@acme")["send"]["is_active"] = "1"


def _renamed_login(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change = change_of(data, "lucas@acme")
    change["login"] = change["send"]["login"] = "lucas.evil@acme"


def _reordered(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    data["changes"].reverse()


def _changed_target(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    data["target"] = "https://attacker.example"


def _swapped_environment(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    data["environment"] = "production"


def _unknown_action(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change_of(data, "ex.employee@acme")["action"] = "delete"


def _field_outside_schema(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change_of(data, "daniel@acme")["fields"]["password"] = {"before": None, "after": "x"}


def _reactivation_as_update(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change_of(data, "noa@acme")["action"] = "update"


def _manager_swapped(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    change = change_of(data, "lucas@acme")
    change["send"]["user_manager_login"] = "admin@acme"
    change["fields"]["user_manager_login"]["after"] = "admin@acme"


def _digest(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    data["desired_digest"] = "sha256:" + "0" * 64


def _understated_summary(data: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
    data["summary"]["deactivate"] = 0


EDITS: dict[str, tuple[Edit, str]] = {
    "extra deactivations past max_deactivations": (_extra_deactivations, MISMATCH),
    "a protected admin deactivated": (_protected_admin, MISMATCH),
    "an update whose send deactivates": (_update_hides_deactivation, ALTERED),
    "an email blanked in send": (_blank_email, ALTERED),
    "an extra field in send": (_extra_field_in_send, ALTERED),
    "an extra field, consistently": (_extra_field_consistently, MISMATCH),
    "send aimed at another login": (_send_login, ALTERED),
    "a number in send": (_send_number, ALTERED),
    "is_active a string in send": (_send_active_string, ALTERED),
    "a renamed login": (_renamed_login, MISMATCH),
    "a reordered batch": (_reordered, MISMATCH),
    "a changed target": (_changed_target, MISMATCH),
    "a swapped environment": (_swapped_environment, MISMATCH),
    "an unknown action": (_unknown_action, "not a reconciler plan"),
    "a field outside the schema": (_field_outside_schema, ALTERED),
    "a reactivation relabelled an update": (_reactivation_as_update, ALTERED),
    "a manager swapped consistently": (_manager_swapped, MISMATCH),
    "a forged digest": (_digest, "the files are not the ones planned"),
    "a summary that understates": (_understated_summary, "summary: saved"),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edited_plan_writes_nothing(
    name: str, run: Any, server: tuple[str, Simulator], tenant: Path, tmp_path: Path
) -> None:
    url, sim = server
    path = tmp_path / "plan.json"
    data = saved_plan(run, url, path)
    edit, message = EDITS[name]
    edit(data, tenant_of(tenant))
    path.write_text(json.dumps(data))
    before = tenant.read_bytes()
    sim.request_log.clear()

    result = run("apply", "--plan", str(path), str(EXAMPLE), "--api-url", url)

    assert result.code == 1, result.all
    assert message in result.err
    assert [r["method"] for r in sim.request_log if r["method"] != "GET"] == []
    assert tenant.read_bytes() == before
    assert "Traceback" not in result.all and SECRET not in result.all


def test_a_plan_for_another_target_sends_nothing_at_all(
    run: Any, server: tuple[str, Simulator], tmp_path: Path
) -> None:
    url, sim = server
    path = tmp_path / "plan.json"
    data = saved_plan(run, url, path)
    data["target"] = "https://attacker.example"
    path.write_text(json.dumps(data))
    sim.request_log.clear()
    result = run("apply", "--plan", str(path), str(EXAMPLE), "--api-url", url)
    assert result.code == 1
    assert "it targets https://attacker.example" in result.err
    assert sim.request_log == []


def test_the_reviewed_plan_is_applied(
    run: Any, server: tuple[str, Simulator], tenant: Path, tmp_path: Path
) -> None:
    url, _ = server
    path = tmp_path / "plan.json"
    saved_plan(run, url, path)
    result = run("apply", "--plan", str(path), str(EXAMPLE), "--api-url", url)
    assert result.code == 0, result.all
    assert "1 created, 2 updated, 1 reactivated, 2 deactivated, 0 failed." in result.out
    assert tenant_of(tenant)["lucas@acme"]["is_active"] is True
    assert run("plan", str(EXAMPLE), "--api-url", url, "--detailed-exitcode").code == 0


def test_a_plan_made_before_another_change_merged_holds_that_change(
    run: Any, server: tuple[str, Simulator], tenant: Path, tmp_path: Path
) -> None:
    url, sim = server
    path = tmp_path / "plan.json"
    saved_plan(run, url, path)
    merged = tmp_path / "users.yaml"
    merged.write_text(EXAMPLE.read_text().replace("position: VP Sales", "position: CRO"))
    sim.request_log.clear()
    result = run("apply", "--plan", str(path), str(merged), "--api-url", url, "--format", "json")
    assert result.code == 1, result.all
    report = json.loads(result.out)
    assert report["held"] == [
        {
            "login": "roy@acme",
            "action": "update",
            "fields": ["position"],
            "reason": "not in the reviewed plan: the files are not the ones planned (a later "
            "change merged, or other files were given)",
        }
    ]
    # The reviewed changes are written; the unreviewed one is not.
    assert report["summary"] == {
        "create": 1,
        "update": 2,
        "reactivate": 1,
        "deactivate": 2,
        "failed": 0,
        "skipped": 0,
    }
    users = tenant_of(tenant)
    assert users["roy@acme"]["position"] == "VP Sales"
    assert users["lucas@acme"]["is_active"] is True
    assert "1 change held" in result.err
    assert [r["body"] for r in sim.request_log if r["method"] == "PUT"] != []


def test_a_comment_in_the_files_does_not_make_the_plan_stale(
    run: Any, server: tuple[str, Simulator], tmp_path: Path
) -> None:
    url, _ = server
    path = tmp_path / "plan.json"
    saved_plan(run, url, path)
    commented = tmp_path / "users.yaml"
    commented.write_text("# reviewed in PR 42\n" + EXAMPLE.read_text())
    result = run("apply", "--plan", str(path), str(commented), "--api-url", url)
    assert result.code == 0, result.all


def test_the_fresh_plans_guards_decide(
    run: Any, server: tuple[str, Simulator], tenant: Path, tmp_path: Path
) -> None:
    url, _ = server
    strict = tmp_path / "users.yaml"
    strict.write_text(EXAMPLE.read_text().replace("max_deactivations: 25%", "max_deactivations: 1"))
    path = tmp_path / "plan.json"
    result = run(
        "plan", str(strict), "--api-url", url, "--out", str(path), "--allow-mass-deactivation"
    )
    assert result.code == 0, result.all
    before = tenant.read_bytes()
    refused = run("apply", "--plan", str(path), str(strict), "--api-url", url)
    assert refused.code == 3 and "safety guard" in refused.err
    assert tenant.read_bytes() == before
    allowed = run(
        "apply", "--plan", str(path), str(strict), "--api-url", url, "--allow-mass-deactivation"
    )
    assert allowed.code == 0, allowed.all


def test_apply_plan_needs_the_files(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{}")
    result = run("apply", "--plan", str(path))
    assert result.code == 1
    assert "FILE_OR_DIR" in result.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"format_version": 1, "format_version": 1}', "a key appears twice"),
        (b"\xff\xfe", "cannot read the saved plan"),
        (b"[]", "not a JSON object"),
    ],
)
def test_a_garbled_plan_is_a_clear_error(
    run: Any, tenant: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    result = run("apply", "--plan", str(path), str(EXAMPLE), "--api-url", f"sim:{tenant}")
    assert result.code == 1 and message in result.err
    assert "Traceback" not in result.all


def test_a_plan_that_is_a_device_is_refused(run: Any, tenant: Path, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.symlink_to("/dev/zero")
    result = run("apply", "--plan", str(path), str(EXAMPLE), "--api-url", f"sim:{tenant}")
    assert result.code == 1 and "not a regular file" in result.err


# -- the same rules as a property, on random desired states and tenants -----------------


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path


def _other(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    return "x"


KEY = seal_key(SECRET)


def _check(data: dict[str, Any], fresh_data: Any, tenant: list[dict[str, Any]]) -> Review:
    """What apply --plan does with a saved plan, short of the HTTP."""
    saved = from_json_data(data)
    check_consistent(saved)
    check_target(saved, fresh_data["target"], fresh_data["desired"])
    return bind(
        data,
        fresh_data["plan"](),
        tenant_index(DEALHUB, tenant),
        DEALHUB,
        files_digest=fresh_data["digest"],
        key=KEY,
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(desired=desired_states(), tenant=tenants(), choice=st.integers(min_value=0))
def test_saved_plan_round_trips_and_any_single_edit_is_refused(
    desired: Any, tenant: list[dict[str, Any]], choice: int
) -> None:
    if plan_or_input_error(desired, tenant) is None:
        return
    digest = desired_digest(desired)

    def fresh() -> Any:
        plan = plan_or_input_error(desired, tenant)
        assert plan is not None
        guards.evaluate(plan, Threshold(25, percent=True), allow_mass_deactivation=True)
        plan.desired_digest = digest
        return plan

    context = {"target": fresh().target, "desired": desired, "plan": fresh, "digest": digest}
    data = sealed(json.loads(dumps(fresh())), KEY)
    applied = _check(copy.deepcopy(data), context, tenant)  # the plan as saved is applied whole
    assert applied.approved == {c["login"] for c in data["changes"]}
    assert applied.held == [] and applied.no_longer_needed == []

    leaves = list(_leaves(data))
    path = leaves[choice % len(leaves)]
    edited = copy.deepcopy(data)
    node = edited
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = _other(node[path[-1]])
    with pytest.raises((StalePlanError, UsageError)):
        _check(edited, context, tenant)


def test_refusals_are_reconciler_errors() -> None:
    assert issubclass(StalePlanError, ReconcilerError)


# -- the per-user rule end to end (issue 19) --------------------------------------------


def test_a_leaver_deactivated_by_hand_stays_inactive_and_the_reviewed_changes_land(
    run: Any, server: tuple[str, Simulator], tenant: Path, tmp_path: Path
) -> None:
    url, sim = server
    path = tmp_path / "plan.json"
    saved_plan(run, url, path)
    # Friday, five o'clock: maya is let go and deactivated by hand in DealHub.
    sim.store.put([{**(sim.store.get("maya@acme") or {}), "is_active": False}])
    sim.request_log.clear()

    result = run("apply", "--plan", str(path), str(EXAMPLE), "--api-url", url, "--format", "json")

    assert result.code == 1, result.all
    report = json.loads(result.out)
    assert report["held"] == [
        {
            "login": "maya@acme",
            "action": "reactivate",
            "fields": ["is_active"],
            "reason": "not in the reviewed plan: the user changed in DealHub since the plan "
            "(is_active)",
        }
    ]
    assert report["ok"] is False
    written = [
        u["login"] for r in sim.request_log if r["method"] == "PUT" for u in r["body"]["users"]
    ]
    assert "maya@acme" not in written
    assert sorted(written) == sorted(c["login"] for c in report["outcomes"])
    assert tenant_of(tenant)["maya@acme"]["is_active"] is False
    assert tenant_of(tenant)["lucas@acme"]["is_active"] is True


def test_a_held_change_is_listed_first_in_the_text_report(
    run: Any, server: tuple[str, Simulator], tmp_path: Path
) -> None:
    url, sim = server
    path = tmp_path / "plan.json"
    saved_plan(run, url, path)
    sim.store.put([{**(sim.store.get("maya@acme") or {}), "is_active": False}])
    result = run("apply", "--plan", str(path), str(EXAMPLE), "--api-url", url)
    assert result.code == 1
    report = result.out[result.out.index("DealHub apply to") :]
    assert report.index("held     reactivate maya@acme (is_active)") < report.index("ok ")
    assert "Held: 1 change not written." in report
    assert "error: 1 change held" in result.err


def test_a_plan_printed_as_json_is_not_a_saved_plan(
    run: Any, server: tuple[str, Simulator], tenant: Path, tmp_path: Path
) -> None:
    url, _ = server
    shown = run("plan", str(EXAMPLE), "--api-url", url, "--format", "json")
    path = tmp_path / "plan.json"
    path.write_text(shown.out)
    before = tenant.read_bytes()
    result = run("apply", "--plan", str(path), str(EXAMPLE), "--api-url", url)
    assert result.code == 1
    assert "it has no seal (save a plan with plan --out" in result.err
    assert tenant.read_bytes() == before


def test_the_apply_hint_carries_what_chose_the_target(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, desired = sandbox_on_simulator(tmp_path)
    path = tmp_path / "plan.json"
    result = run("plan", str(desired), "--env", "sandbox", "--out", str(path))
    assert result.code == 0, result.all
    hint = result.err.split("apply it with: ", 1)[1].strip()
    assert hint == f"reconciler apply --plan {path} --env sandbox {desired}"
    applied = run(*shlex.split(hint)[1:])
    assert applied.code == 0, applied.all
    assert "admin@acme_sb" in tenant_of(sandbox)


# -- malformed plans are refused in a sentence, whatever the values (issue 20.7) --------

PEOPLE = EXAMPLE.parent / "people.yaml"
COMPANY = EXAMPLE.parent / "pipedrive" / "acme.json"


def _pipedrive_plan_data() -> dict[str, Any]:
    from reconciler import providers
    from reconciler.desired import load_desired
    from reconciler.engine import make_plan

    state = load_desired([str(PEOPLE)])
    company = json.loads(COMPANY.read_text())
    made = make_plan(
        state, providers.get("pipedrive"), company, "sim:acme.json", allow_mass_deactivation=False
    )
    data: dict[str, Any] = json.loads(dumps(made))
    return data


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(choice=st.integers(min_value=0), value=JSON_VALUES)
def test_any_value_anywhere_in_a_saved_plan_is_refused_in_a_sentence(
    tmp_path: Path, choice: int, value: Any
) -> None:
    from reconciler import saved_plan as module

    data = _pipedrive_plan_data()
    leaves = [path for path in _leaves(data) if path and path[0] in ("changes", "notes")]
    path = leaves[choice % len(leaves)]
    node: Any = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    file = tmp_path / "plan.json"
    file.write_text(json.dumps(data))
    try:
        loaded = module.load(str(file))
    except ReconcilerError:
        return
    # What loads is shown (reconciler show) in every format without a traceback.
    for fmt in FORMATS:
        render_plans([plan for plan, _ in loaded], fmt)


def test_a_plan_nested_beyond_any_plan_is_refused(tmp_path: Path) -> None:
    from reconciler import saved_plan as module

    file = tmp_path / "plan.json"
    file.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UsageError, match="nests deeper than a plan does"):
        module.load(str(file))
    data = _pipedrive_plan_data()
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    data["changes"][0]["fields"]["access"] = {"before": None, "after": deep}
    file.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="nests deeper than a plan does"):
        module.load(str(file))


@pytest.mark.parametrize("access", [5, "sales", [1], {"app": "sales"}, [["sales"]]])
def test_a_saved_create_with_access_of_the_wrong_kind_is_altered(
    run: Any, tmp_path: Path, access: Any
) -> None:
    data = _pipedrive_plan_data()
    create = next(c for c in data["changes"] if c["action"] == "create")
    create["fields"]["access"] = {"before": None, "after": access}
    create["send"]["access"] = access
    file = tmp_path / "plan.json"
    file.write_text(json.dumps(data))
    result = run("show", str(file))
    assert result.code == 1
    assert ALTERED in result.err and "internal error" not in result.err
