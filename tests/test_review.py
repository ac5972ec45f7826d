"""`reconciler review` (SPEC section 8): flags on hand-built accounts, counts, digest, the CLI.

The core is tested on plain data (a tenant as read, the files as loaded, a plan
made by engine.make_plan); the command against the simulators, whose request
logs show that a review only reads. `--details` runs against the Pipedrive
simulator in-process, with its two per-user reads (which the simulator does
not serve yet) answered beside it in the vendor's shapes and charged to the
simulator's own budget and burst limits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler import providers, redact, review
from reconciler.desired import DesiredState, DesiredUser
from reconciler.diff import tenant_index
from reconciler.engine import Planned, make_plan
from reconciler.providers.pipedrive.client import PipedriveClient
from reconciler.providers.pipedrive.review import REVIEW as PIPEDRIVE_REVIEW
from reconciler.providers.pipedrive.review import read_details
from reconciler.providers.pipedrive.sim import PipedriveOptions, PipedriveSimulator
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import PipedriveStore, timestamp
from reconciler.settings import Settings
from reconciler.sim import transport

READ_AT = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
DAYS = 30
TOKEN = "pd-review-token-6b1d2e"


@dataclass
class Stub:
    """A Remote as far as the review core looks at one: its target."""

    target: str


def person(login: str, email: str, *, active: bool = True, line: int = 1) -> DesiredUser:
    fields: dict[str, Any] = {"email": email, "name": login.title(), "is_active": active}
    return DesiredUser(login, fields, "people.yaml", line, {})


def files(*people: DesiredUser, systems: tuple[str, ...] = ("pipedrive",)) -> DesiredState:
    settings = Settings(systems=systems, blocks={"pipedrive": {"unlisted": "deactivate"}})
    return DesiredState({p.login: p for p in people}, settings, ["people.yaml"])


def pd_user(user_id: int, email: str, **fields: Any) -> dict[str, Any]:
    return {"id": user_id, "email": email, "name": email, "active_flag": True, **fields}


def login_at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def build(
    state: DesiredState, tenant: list[dict[str, Any]], system: str = "pipedrive", **kw: Any
) -> review.Review:
    provider = providers.get(system)
    plan = make_plan(state, provider, tenant, "sim:t", allow_mass_deactivation=True)
    run = Planned(provider, Stub("sim:t"), tenant, plan, tenant_index(provider, tenant))  # type: ignore[arg-type]
    kw.setdefault("read_at", READ_AT)
    kw.setdefault("dormant_days", DAYS)
    return review.build(state, [run], **kw)


def flags(found: review.Review) -> dict[str, tuple[str, ...]]:
    return {row.key: row.flags for row in found.rows}


# -- flags ------------------------------------------------------------------------


def test_dormant_is_never_logged_in_or_more_than_n_days_and_not_exactly_n() -> None:
    tenant = [
        pd_user(1, "never@x.com", last_login=None),
        pd_user(2, "yesterday@x.com", last_login=login_at(READ_AT - timedelta(days=1))),
        pd_user(3, "exactly@x.com", last_login=login_at(READ_AT - timedelta(days=DAYS))),
        pd_user(4, "past@x.com", last_login=login_at(READ_AT - timedelta(days=DAYS, seconds=1))),
        pd_user(5, "gone@x.com", last_login=None, active_flag=False),
    ]
    people = [person(u["email"].split("@")[0], u["email"], line=n) for n, u in enumerate(tenant)]
    found = build(files(*people), tenant)
    assert flags(found) == {
        "never@x.com": ("dormant",),
        "yesterday@x.com": (),
        "exactly@x.com": (),
        "past@x.com": ("dormant",),
        "gone@x.com": (),  # inactive: no access, never dormant
    }
    rows = {row.key: row for row in found.rows}
    assert rows["yesterday@x.com"].days_since_login == 1
    assert rows["exactly@x.com"].days_since_login == DAYS
    assert rows["never@x.com"].last_login is None and rows["never@x.com"].days_since_login is None
    assert found.systems[0].dormant == 2


def test_dealhub_reports_no_login_time_and_is_never_called_dormant() -> None:
    tenant = [{"login": "ann@x", "email": "ann@x.com", "name": "Ann", "is_active": True}]
    state = files(person("ann@x", "ann@x.com"), systems=("dealhub",))
    found = build(state, tenant, "dealhub")
    assert flags(found) == {"ann@x": ()}
    dealhub = found.systems[0]
    assert not dealhub.reports.last_login
    assert "no DealHub account is judged dormant" in dealhub.silent["last_login"]
    assert found.rows[0].admin is None and found.rows[0].access is None


def test_not_listed_absent_and_listed_inactive() -> None:
    tenant = [
        pd_user(1, "stray@x.com", last_login=login_at(READ_AT)),
        pd_user(2, "Leaver@X.com", last_login=login_at(READ_AT)),
        pd_user(3, "stray-inactive@x.com", active_flag=False),
    ]
    state = files(
        person("leaver@x", "leaver@x.com", active=False, line=1),
        person("newbie@x", "newbie@x.com", line=2),
        person("gone@x", "gone@x.com", active=False, line=3),
    )
    found = build(state, tenant)
    rows = {row.key: row for row in found.rows}
    assert rows["stray@x.com"].flags == ("not listed",) and rows["stray@x.com"].login is None
    assert rows["Leaver@X.com"].files == "listed inactive" and rows["Leaver@X.com"].flags == ()
    assert rows["Leaver@X.com"].login == "leaver@x"
    assert rows["stray-inactive@x.com"].flags == ()
    assert rows["newbie@x.com"].active is None and rows["newbie@x.com"].flags == ("absent",)
    # Listed inactive and absent: shown, not flagged (nobody has access).
    assert rows["gone@x.com"].active is None and rows["gone@x.com"].flags == ()
    counts = found.systems[0]
    assert (counts.not_listed, counts.absent) == (1, 1)
    # 2 active now; the plan creates newbie, deactivates the leaver and the stray.
    assert (counts.active, counts.active_after_plan) == (2, 1)
    assert found.flagged


@pytest.mark.parametrize(
    ("raw", "admin"),
    [
        ({"access": [{"app": "sales"}]}, False),
        ({"access": [{"app": "global", "admin": True}]}, True),
        ({"access": [{"app": "sales", "admin": True}]}, True),
        ({"access": [{"app": "account_settings"}]}, True),
        ({"access": [{"app": "sales"}], "is_admin": 1}, True),
        ({"access": [{"app": "sales"}], "is_admin": 0}, False),
    ],
)
def test_a_pipedrive_admin_is_one_with_admin_rights_anywhere(
    raw: dict[str, Any], admin: bool
) -> None:
    tenant = [pd_user(1, "a@x.com", last_login=login_at(READ_AT), role_id=3, **raw)]
    found = build(files(person("a@x", "a@x.com")), tenant)
    row = found.rows[0]
    assert row.admin is admin and ("admin" in row.flags) is admin and row.role == "role 3"
    assert not found.flagged  # admin alone is information, not something to act on


def test_an_unreadable_last_login_is_an_error_naming_the_user_and_field() -> None:
    from reconciler.errors import ResponseError

    tenant = [pd_user(1, "a@x.com", last_login="last tuesday")]
    with pytest.raises(ResponseError, match=r"'a@x.com' has last_login 'last tuesday'"):
        build(files(person("a@x", "a@x.com")), tenant)


def test_a_deleted_pipedrive_user_is_no_account() -> None:
    tenant = [pd_user(1, "a@x.com", is_deleted=True, active_flag=False)]
    found = build(files(person("a@x", "a@x.com")), tenant)
    assert [(row.key, row.active) for row in found.rows] == [("a@x.com", None)]


# -- digest -----------------------------------------------------------------------


def base_tenant() -> list[dict[str, Any]]:
    return [
        pd_user(1, "a@x.com", last_login="2026-11-01 10:00:00", access=[{"app": "sales"}]),
        pd_user(2, "b@x.com", last_login=None, role_id=2),
    ]


def test_the_digest_is_the_same_for_the_same_state_whenever_read() -> None:
    state = files(person("a@x", "a@x.com"))
    first = build(state, base_tenant())
    later = build(state, base_tenant(), read_at=READ_AT + timedelta(days=40), dormant_days=5)
    assert first.digest == later.digest and first.digest.startswith("sha256:")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", first.digest)


@pytest.mark.parametrize(
    ("index", "field", "value"),
    [
        (0, "name", "A. Person"),
        (0, "email", "a2@x.com"),
        (0, "active_flag", False),
        (0, "last_login", "2026-11-02 10:00:00"),
        (0, "access", [{"app": "sales", "admin": True}]),
        (1, "role_id", 3),
        (1, "is_deleted", True),
    ],
)
def test_any_change_to_any_row_changes_the_digest(index: int, field: str, value: Any) -> None:
    state = files(person("a@x", "a@x.com"))
    changed = base_tenant()
    changed[index][field] = value
    assert build(state, changed).digest != build(state, base_tenant()).digest


def test_the_files_and_the_commits_are_part_of_the_digest() -> None:
    from reconciler.provenance import Commit, Provenance

    state = files(person("a@x", "a@x.com"))
    plain = build(state, base_tenant())
    inactive = build(files(person("a@x", "a@x.com", active=False)), base_tenant())
    commit = Commit("abc", "2026-11-01T00:00:00+00:00", "Add a")
    dated = build(state, base_tenant(), provenance=Provenance({("people.yaml", 1): commit}))
    assert len({plain.digest, inactive.digest, dated.digest}) == 3


# -- the command ------------------------------------------------------------------


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every simulator a command opens, so a test can read its request log."""
    opened: list[Any] = []
    real = transport.open_simulator

    def spy(*args: Any, **kwargs: Any) -> Any:
        sim = real(*args, **kwargs)
        opened.append(sim)
        return sim

    monkeypatch.setattr(transport, "open_simulator", spy)
    return opened


@pytest.fixture
def both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """Both example systems, copied, with the example people file."""
    root = Path(__file__).resolve().parent.parent / "examples"
    monkeypatch.setenv("PIPEDRIVE_API_TOKEN", TOKEN)
    monkeypatch.delenv("PIPEDRIVE_API_URL", raising=False)
    dealhub = tmp_path / "tenant.json"
    pipedrive = tmp_path / "acme.json"
    dealhub.write_bytes((root / "tenant.json").read_bytes())
    pipedrive.write_bytes((root / "pipedrive" / "acme.json").read_bytes())
    people = tmp_path / "people.yaml"
    people.write_bytes((root / "people.yaml").read_bytes())
    return people, ["--api-url", f"sim:{dealhub}", "--api-url", f"pipedrive=sim:{pipedrive}"]


def test_a_review_of_both_systems_only_reads(
    run: Any, both: tuple[Path, list[str]], logged: list[Any]
) -> None:
    people, targets = both
    result = run("review", str(people), *targets, "--format", "json")
    assert result.code == 0, result.all
    assert len(logged) == 2
    requests = [entry for sim in logged for entry in sim.request_log]
    assert requests and {(e["method"], e["path"]) for e in requests} == {
        ("GET", "/api/v1/users"),
        ("GET", "/v1/users/me"),
        ("GET", "/v1/users"),
    }
    data = json.loads(result.out)
    assert list(data) == [
        "format_version",
        "reconciler_version",
        "read_at",
        "digest",
        "systems",
        "accounts",
    ]
    assert [s["system"] for s in data["systems"]] == ["dealhub", "pipedrive"]
    assert TOKEN not in result.all


def test_detailed_exitcode_is_2_when_anything_is_flagged_and_0_when_nothing_is(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPEDRIVE_API_TOKEN", TOKEN)
    company = tmp_path / "company.json"
    recent = timestamp(datetime.now(timezone.utc).timestamp() - 86400)
    company.write_text(
        json.dumps(
            [
                pd_user(1, "me@x.com", is_you=True, last_login=recent),
                pd_user(2, "ann@x.com", last_login=recent),
            ]
        )
    )
    people = tmp_path / "people.yaml"
    people.write_text(
        "version: 1\nsettings: {systems: [pipedrive]}\nusers:\n"
        "  - {login: me@x, email: me@x.com, name: Me}\n"
        "  - {login: ann@x, email: ann@x.com, name: Ann}\n"
    )
    target = ["--api-url", f"pipedrive=sim:{company}"]
    clean = run("review", str(people), *target, "--detailed-exitcode")
    assert clean.code == 0, clean.all
    assert run("review", str(people), *target).code == 0
    ann = "  - {login: ann@x, email: ann@x.com, name: Ann}\n"
    people.write_text(people.read_text().replace(ann, ""))
    flagged = run("review", str(people), *target, "--detailed-exitcode")
    assert flagged.code == 2, flagged.all
    assert run("review", str(people), *target).code == 0


@pytest.mark.parametrize("fmt", ["text", "csv", "json", "markdown", "html"])
def test_every_format_carries_when_it_was_read_and_the_digest(
    run: Any, both: tuple[Path, list[str]], tmp_path: Path, fmt: str
) -> None:
    people, targets = both
    out = tmp_path / f"review.{fmt}"
    result = run("review", str(people), *targets, "--format", fmt, "-o", str(out))
    assert result.code == 0, result.all
    assert result.out == ""
    text = out.read_text()
    digest = re.search(r"sha256:[0-9a-f]{64}", text)
    assert digest is not None
    assert re.search(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ", text)
    again = run("review", str(people), *targets, "--format", "json", "-o", "-")
    assert json.loads(again.out)["digest"] == digest.group()


def test_a_file_outside_any_repository_says_so_once(run: Any, both: tuple[Path, list[str]]) -> None:
    people, targets = both
    result = run("review", str(people), *targets)
    assert result.code == 0, result.all
    assert result.out.count("not in a git repository") == 1


# -- --details --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _forget_tokens() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def company(budget: int) -> tuple[PipedriveClient, PipedriveSimulator]:
    clock = ManualClock()
    users = [
        pd_user(1, "me@x.com", is_you=True, access=[{"app": "global", "admin": True}]),
        pd_user(2, "ann@x.com"),
        pd_user(3, "bob@x.com"),
        pd_user(4, "old@x.com", active_flag=False),
    ]
    sim = PipedriveSimulator(
        PipedriveStore(users),
        token=TOKEN,
        options=PipedriveOptions(daily_budget=budget),
        clock=clock,
    )
    http = httpx.Client(
        transport=transport.SimTransport(sim),
        base_url="http://simulator",
        headers={"x-api-token": TOKEN},
    )
    client = PipedriveClient(
        http,
        target="sim",
        token_origin="test",
        sleep=clock.advance,
        clock=clock,
        wall=clock,
        seed=0,
    )
    return client, sim


def accounts(client: PipedriveClient) -> list[Any]:
    return [a for a in (PIPEDRIVE_REVIEW.account(raw) for raw in client.read()) if a is not None]


def test_details_cost_is_known_before_reading_and_read_in_full_with_enough_budget() -> None:
    client, sim = company(budget=22 + 3 * 20 + 22)
    found = accounts(client)
    assert PIPEDRIVE_REVIEW.details_cost(found) == (3, 60, "tokens")
    details = read_details(client, found)
    assert details.complete and details.done == 3 and details.spent == 60
    assert details.roles["me@x.com"] == ["Role 1 (role 1)"]
    # The simulator derives permissions from access: an admin holds the admin flags.
    assert "can_add_custom_fields" in details.permissions["me@x.com"]
    assert "can_add_custom_fields" not in details.permissions["ann@x.com"]
    assert "can_see_other_users" in details.permissions["ann@x.com"]
    assert "old@x.com" not in details.permissions  # inactive: not read
    assert all(e["method"] == "GET" for e in sim.request_log)
    assert 429 not in {e["status"] for e in sim.request_log}


def test_details_stop_before_the_budget_with_a_partial_clearly_marked_result() -> None:
    # The list read (22: /users/me and the list), one user's two reads (20), then 30
    # left: less than the next user's 20 plus the 22 kept for the next list read.
    client, sim = company(budget=22 + 20 + 30)
    details = read_details(client, accounts(client))
    assert not details.complete and details.done == 1
    assert details.stopped is not None and "30 tokens left" in details.stopped
    assert sim.tokens_left == 30
    assert 429 not in {e["status"] for e in sim.request_log}


def test_details_through_the_command_show_the_cost_then_mark_a_partial_read(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPEDRIVE_API_TOKEN", TOKEN)
    budget = {"tokens": 22 + 20 + 30}
    real = transport.open_simulator

    def small(*args: Any, **kwargs: Any) -> Any:
        kwargs["options"] = PipedriveOptions(daily_budget=budget["tokens"])
        return real(*args, **kwargs)

    monkeypatch.setattr(transport, "open_simulator", small)
    path = tmp_path / "company.json"
    path.write_text(
        json.dumps([pd_user(1, "me@x.com", is_you=True), pd_user(2, "ann@x.com", role_id=2)])
    )
    people = tmp_path / "people.yaml"
    people.write_text(
        "version: 1\nsettings: {systems: [pipedrive]}\nusers:\n"
        "  - {login: me@x, email: me@x.com, name: Me}\n"
    )
    target = ["--api-url", f"pipedrive=sim:{path}", "--details", "--format", "json"]
    short = run("review", str(people), *target)
    assert short.code == 1, short.all
    assert "costs 40 tokens" in short.err and "--details is partial" in short.err
    data = json.loads(short.out)
    assert data["details"][0]["complete"] is False and data["details"][0]["read"] == 1
    budget["tokens"] = 1000
    full = run("review", str(people), *target)
    assert full.code == 0, full.all
    data = json.loads(full.out)
    assert data["details"][0]["complete"] is True
    assert {a["key"]: a["role_assignments"] for a in data["accounts"]} == {
        "ann@x.com": ["Role 2 (role 2)"],
        "me@x.com": ["Role 1 (role 1)"],
    }


def test_a_review_over_loopback_reads_each_system_once_and_writes_nothing(
    run: Any, both: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.providers.dealhub.sim import Simulator
    from reconciler.providers.dealhub.sim_state import TenantStore
    from reconciler.sim.server import running

    people, targets = both
    dealhub_file, pipedrive_file = targets[1][len("sim:") :], targets[3][len("pipedrive=sim:") :]
    dealhub = Simulator(TenantStore.load(Path(dealhub_file), persist=True), token="dh-token-1a2b")
    pipedrive = PipedriveSimulator(
        PipedriveStore.load(Path(pipedrive_file), persist=True), token=TOKEN
    )
    monkeypatch.setenv("DEALHUB_TOKEN", "dh-token-1a2b")
    before = Path(dealhub_file).read_bytes(), Path(pipedrive_file).read_bytes()
    with running(dealhub) as dh_url, running(pipedrive) as pd_url:
        result = run("review", str(people), "--api-url", dh_url, "--api-url", f"pipedrive={pd_url}")
    assert result.code == 0, result.all
    assert [(e["method"], e["path"]) for e in dealhub.request_log] == [("GET", "/api/v1/users")]
    assert [(e["method"], e["path"]) for e in pipedrive.request_log] == [
        ("GET", "/v1/users/me"),
        ("GET", "/v1/users"),
    ]
    assert (Path(dealhub_file).read_bytes(), Path(pipedrive_file).read_bytes()) == before
    assert "dh-token-1a2b" not in result.all and TOKEN not in result.all
