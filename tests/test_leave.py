"""`reconciler leave PERSON` (SPEC section 8) against both simulators over loopback sockets.

Each test serves a DealHub tenant and a Pipedrive company on 127.0.0.1 and
checks the simulators' request logs: what was read, and that the one
deactivation (and nothing else) was written.
"""

from __future__ import annotations

import copy
import io
import json
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import __version__, providers
from reconciler import leave as core
from reconciler.desired import load_desired
from reconciler.diff import compute_plan
from reconciler.people_edit import deactivate_in_file
from reconciler.providers.dealhub.client import DealHubClient
from reconciler.providers.dealhub.provider import DealHubRemote
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.providers.pipedrive.client import PipedriveClient
from reconciler.providers.pipedrive.sim import PipedriveOptions, PipedriveSimulator
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import PipedriveStore, new_user
from reconciler.sim.faults import Faults
from reconciler.sim.server import running
from reconciler.sim.transport import SimTransport

DH_TOKEN = "dh-secret-token-leave-0001"
PD_TOKEN = "pd-secret-token-leave-0002"
ADMIN = [{"app": "global", "admin": True}, {"app": "sales", "admin": True}]


@pytest.fixture(autouse=True)
def _tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", DH_TOKEN)
    monkeypatch.setenv("PIPEDRIVE_API_TOKEN", PD_TOKEN)
    monkeypatch.delenv("PIPEDRIVE_API_URL", raising=False)


def dh(login: str, email: str, name: str, active: bool = True, **more: Any) -> dict[str, Any]:
    return {"login": login, "email": email, "name": name, "is_active": active, **more}


TENANT = [
    dh("admin@acme", "it@acme.com", "Admin", id="1"),
    dh("ann@acme", "ann@acme.com", "Ann", id="2", position="Sales"),
    dh("bob@acme", "bob@acme.com", "Bob", id="3"),
    dh("cat@acme", "cat@acme.com", "Cat", False, id="4"),
    dh("dan@acme", "dan@acme.com", "Dan", id="5"),
    dh("eve@acme", "eve@acme.com", "Eve", id="6"),
    dh("me@acme", "me@acme.com", "Me", id="7"),
    dh("boss@acme", "boss@acme.com", "Boss", id="8"),
]


def company() -> list[dict[str, Any]]:
    people = [
        ("me@acme.com", True, {"is_you": True, "access": ADMIN}),
        ("Ann@acme.com", True, {}),
        ("bob@acme.com", True, {}),
        ("cat@acme.com", False, {}),
        ("dan@acme.com", True, {}),
        ("frank@acme.com", True, {}),
        ("boss@acme.com", True, {}),
    ]
    return [
        new_user(100 + n, email, active_flag=active, **more)
        for n, (email, active, more) in enumerate(people)
    ]


PEOPLE = """\
# yaml-language-server: $schema=../schemas/users.schema.json
version: 1
settings:
  systems: [dealhub, pipedrive]
  protect: ["admin@acme*"]        # DealHub logins
  pipedrive:
    unlisted: ignore
    protect: ["BOSS@acme.com"]
users:
  - login: admin@acme
    email: it@acme.com
    name: Admin
    systems: [dealhub]
  - login: ann@acme               # Ann, sales
    email: 'ann@acme.com'
    name: "Ann"
    position: Sales
  - {login: bob@acme, email: bob@acme.com, name: Bob, is_active: true}  # flow style
  - login: cat@acme
    email: cat@acme.com
    name: Cat
    is_active: false
  - login: eve@acme
    email: eve@acme.com
    name: Eve
    systems: [dealhub]
  - login: frank@acme
    email: frank@acme.com
    name: Frank
    systems: [pipedrive]
  - login: me@acme
    email: me@acme.com
    name: Me
  - login: boss@acme
    email: boss@acme.com
    name: Boss
"""


@dataclass
class World:
    """Both simulators served on loopback, and the people file."""

    dealhub: Simulator
    pipedrive: PipedriveSimulator
    urls: list[str]
    people: Path

    def writes(self) -> list[dict[str, Any]]:
        return [
            entry
            for entry in self.dealhub.request_log + self.pipedrive.request_log
            if entry["method"] != "GET"
        ]

    def requests(self, system: str) -> list[tuple[str, str]]:
        sim: Any = self.dealhub if system == "dealhub" else self.pipedrive
        return [(entry["method"], entry["path"]) for entry in sim.request_log]

    def args(self, *more: str) -> list[str]:
        return [str(self.people), *self.urls, *more]

    def dealhub_user(self, login: str) -> dict[str, Any]:
        return dict(self.dealhub.store.get(login) or {})

    def pipedrive_user(self, email: str) -> dict[str, Any]:
        return next(
            u for u in self.pipedrive.store.users() if u["email"].casefold() == email.casefold()
        )


def serve(
    tmp_path: Path,
    *,
    people: str = PEOPLE,
    options: PipedriveOptions | None = None,
    faults: Faults | None = None,
    dealhub_token: str = DH_TOKEN,
    dealhub_down: bool = False,
) -> Iterator[World]:
    dealhub = Simulator(TenantStore([dict(u) for u in TENANT]), token=dealhub_token)
    pipedrive = PipedriveSimulator(
        PipedriveStore(company()), token=PD_TOKEN, options=options, faults=faults
    )
    path = tmp_path / "people.yaml"
    path.write_bytes(people.encode("utf-8"))
    with ExitStack() as stack:
        dh_url = closed_port() if dealhub_down else stack.enter_context(running(dealhub))
        pd_url = stack.enter_context(running(pipedrive))
        yield World(
            dealhub, pipedrive, ["--api-url", dh_url, "--api-url", f"pipedrive={pd_url}"], path
        )


def closed_port() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from serve(tmp_path)


def leave_json(run: Any, world: World, person: str, *more: str) -> tuple[Any, dict[str, Any]]:
    result = run("leave", person, *world.args("--auto-approve", "--format", "json", *more))
    assert DH_TOKEN not in result.all and PD_TOKEN not in result.all
    return result, json.loads(result.out)


def states(record: dict[str, Any]) -> dict[str, str]:
    return {s["system"]: s["state"] for s in record["systems"]}


# -- a listed person -------------------------------------------------------------------


def test_a_listed_person_is_deactivated_in_both_systems_with_single_user_calls(
    run: Any, world: World
) -> None:
    before = world.people.read_text()
    result, record = leave_json(run, world, "ANN@acme")
    assert result.code == 0, result.all
    assert states(record) == {"dealhub": "deactivated", "pipedrive": "deactivated"}
    assert all(s["verified"] and s["active"] is False for s in record["systems"])
    # DealHub: the single-user read, one v2 upsert of that user, the read back; no list.
    assert world.requests("dealhub") == [
        ("GET", "/api/v1/user/login/ann%40acme"),
        ("PUT", "/api/v2/users"),
        ("GET", "/api/v1/user/login/ann%40acme"),
    ]
    (upsert,) = [e for e in world.dealhub.request_log if e["method"] == "PUT"]
    assert upsert["body"] == {
        "users": [{"login": "ann@acme", "email": "ann@acme.com", "name": "Ann", "is_active": False}]
    }
    ann = world.pipedrive_user("ann@acme.com")
    assert world.requests("pipedrive") == [
        ("GET", "/v1/users/me"),
        ("GET", "/v1/users"),
        ("PUT", f"/v1/users/{ann['id']}"),
        ("GET", f"/v1/users/{ann['id']}"),
    ]
    (update,) = [e for e in world.pipedrive.request_log if e["method"] == "PUT"]
    assert update["body"] == {"active_flag": False}
    assert world.dealhub_user("ann@acme")["is_active"] is False and ann["active_flag"] is False
    # Nobody else changed.
    assert world.dealhub_user("bob@acme")["is_active"] is True
    # The file records it: one line added, nothing else.
    after = world.people.read_text()
    assert after == before.replace(
        "    position: Sales\n", "    position: Sales\n    is_active: false\n"
    )
    assert record["files"]["edited"] is True and "+    is_active: false" in record["files"]["diff"]


def test_a_plan_of_the_edited_files_shows_no_change_for_the_person(run: Any, world: World) -> None:
    planned = run("plan", *world.args("--format", "json"))
    assert planned.code == 0, planned.all
    result, _ = leave_json(run, world, "bob@acme")
    assert result.code == 0, result.all
    assert "{login: bob@acme, email: bob@acme.com, name: Bob, is_active: false}  # flow style" in (
        world.people.read_text()
    )
    again = run("plan", *world.args("--format", "json"))
    assert again.code == 0, again.all
    changed = [
        change["login"] for plan in json.loads(again.out)["plans"] for change in plan["changes"]
    ]
    assert "bob@acme" not in changed and "bob@acme.com" not in changed
    before = [c["login"] for p in json.loads(planned.out)["plans"] for c in p["changes"]]
    assert changed == before  # the rest of the plan is what it was


def test_the_text_report_says_who_and_each_systems_verified_state(run: Any, world: World) -> None:
    result = run("leave", "ann@acme.com", *world.args("--auto-approve"))
    assert result.code == 0, result.all
    lines = result.out.splitlines()
    assert lines[0] == f"ann@acme.com is Ann (ann@acme <ann@acme.com>) at {world.people}:14"
    assert "  DealHub ann@acme: deactivated (verified)" in lines
    assert "  Pipedrive Ann@acme.com: deactivated (verified)" in lines
    assert "+    is_active: false" in lines
    assert lines[-1].startswith("Leave done at ") and lines[-1].endswith("Z.")


def test_the_json_record_says_who_what_and_when_in_utc(run: Any, world: World) -> None:
    _, record = leave_json(run, world, "ann@acme")
    assert record["command"] == "leave" and record["person"] == "ann@acme"
    assert record["reconciler_version"] == __version__
    assert record["resolved"] == {
        "login": "ann@acme",
        "email": "ann@acme.com",
        "name": "Ann",
        "where": f"{world.people}:14",
    }
    for moment in (record["started_at"], record["finished_at"]):
        assert moment.endswith("Z")
        assert datetime.fromisoformat(moment.replace("Z", "+00:00")).utcoffset() is not None
    assert record["ok"] is True and record["refused"] is False


def test_no_edit_prints_the_diff_and_leaves_the_file_alone(run: Any, world: World) -> None:
    before = world.people.read_bytes()
    result = run("leave", "ann@acme", *world.args("--auto-approve", "--no-edit"))
    assert result.code == 0, result.all
    assert "+    is_active: false" in result.out and "--no-edit: not written" in result.out
    assert world.people.read_bytes() == before


def test_without_a_terminal_auto_approve_is_required_and_nothing_is_written(
    run: Any, world: World
) -> None:
    before = world.people.read_bytes()
    result = run("leave", "ann@acme", *world.args())
    assert result.code == 1
    assert "--auto-approve" in result.err
    assert "ann@acme" in result.err  # who it resolved to was said first
    assert world.writes() == [] and world.people.read_bytes() == before


def test_a_run_limited_to_one_system_does_not_edit_the_files(run: Any, world: World) -> None:
    before = world.people.read_bytes()
    result, record = leave_json(run, world, "ann@acme", "--system", "pipedrive")
    assert result.code == 0, result.all
    assert states(record) == {"pipedrive": "deactivated"}
    assert world.dealhub.request_log == []
    assert world.people.read_bytes() == before
    assert "would also deactivate ann@acme in dealhub" in record["files"]["problem"]


def test_the_markdown_report_fences_the_diff_and_escapes_names(run: Any, world: World) -> None:
    result = run("leave", "ann@acme", *world.args("--auto-approve", "--format", "markdown"))
    assert result.code == 0, result.all
    assert result.out.startswith("### Leave: `ann@acme`\n")  # a mention, neutralised
    diff = result.out.split("~~~diff\n", 1)[1].split("\n~~~\n", 1)[0]
    assert "\n+    is_active: false\n" in diff
    assert (
        "- `DealHub` `ann@acme`: deactivated (verified)" in result.out
        or "deactivated" in result.out
    )


class Terminal(io.StringIO):
    """Standard input as a terminal that answers `text`."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 1)])
def test_on_a_terminal_it_says_who_then_asks(
    run: Any, world: World, monkeypatch: pytest.MonkeyPatch, answer: str, code: int
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    result = run("leave", "ann@acme", *world.args())
    assert result.code == code, result.all
    asked = result.err.index("Deactivate them in 2 systems and set is_active: false on them in")
    assert result.err.index("  DealHub ann@acme: active: will be deactivated") < asked
    assert str(world.people) in result.err
    if code:
        assert "nothing was written" in result.err and world.writes() == []
    else:
        assert world.dealhub_user("ann@acme")["is_active"] is False


# -- unlisted, one system only, already inactive -----------------------------------------


def test_an_unlisted_person_is_found_by_email_in_each_system(run: Any, world: World) -> None:
    result, record = leave_json(run, world, "DAN@acme.com")
    assert result.code == 0, result.all
    assert states(record) == {"dealhub": "deactivated", "pipedrive": "deactivated"}
    assert record["resolved"] is None
    # DealHub: not a login, so the list finds the login by email.
    assert world.requests("dealhub")[:2] == [
        ("GET", "/api/v1/user/login/DAN%40acme.com"),
        ("GET", "/api/v1/users"),
    ]
    assert world.dealhub_user("dan@acme")["is_active"] is False
    assert world.pipedrive_user("dan@acme.com")["active_flag"] is False
    # Pipedrive keeps unlisted users: the files do not record the departure there.
    assert [s["files_record_it"] for s in record["systems"]] == [True, False]
    assert any("do not record this departure in Pipedrive" in n for n in record["notes"])
    assert record["files"]["file"] is None


def test_a_person_in_one_system_only_is_not_there_in_the_other(run: Any, world: World) -> None:
    result, record = leave_json(run, world, "eve@acme")
    assert result.code == 0, result.all
    assert states(record) == {"dealhub": "deactivated", "pipedrive": "not there"}
    assert {e["method"] for e in world.pipedrive.request_log} == {"GET"}


def test_an_already_inactive_person_is_written_nowhere(run: Any, world: World) -> None:
    before = world.people.read_bytes()
    result, record = leave_json(run, world, "cat@acme")
    assert result.code == 0, result.all
    assert states(record) == {"dealhub": "already inactive", "pipedrive": "already inactive"}
    assert world.writes() == []
    assert world.people.read_bytes() == before


# -- refusals, ambiguous, unknown ------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "refused", "why"),
    [
        ("admin@acme", "dealhub", "is protected (settings.protect)"),
        ("boss@acme", "pipedrive", "is protected (settings.pipedrive.protect)"),
        ("me@acme", "pipedrive", "the token's own user (is_you) is never deactivated"),
    ],
)
def test_a_refusal_exits_3_and_writes_in_no_system(
    run: Any, world: World, person: str, refused: str, why: str
) -> None:
    before = world.people.read_bytes()
    result, record = leave_json(run, world, person)
    assert result.code == 3, result.all
    assert record["refused"] is True
    by_system = {s["system"]: s for s in record["systems"]}
    assert by_system[refused]["state"] == "refused" and why in by_system[refused]["why"]
    assert world.writes() == []
    assert world.people.read_bytes() == before


def test_a_person_matching_two_people_of_the_files_is_refused_with_both_named(
    run: Any, tmp_path: Path
) -> None:
    twins = PEOPLE + (
        "  - {login: gus@acme, email: team@acme.com, name: Gus, systems: [dealhub]}\n"
        "  - {login: hal@acme, email: TEAM@acme.com, name: Hal, systems: [dealhub]}\n"
    )
    for world in serve(tmp_path, people=twins):
        result = run("leave", "team@acme.com", *world.args("--auto-approve"))
        assert result.code == 1
        assert "matches 2 people" in result.err
        assert "gus@acme" in result.err and "hal@acme" in result.err
        assert world.dealhub.request_log == [] and world.pipedrive.request_log == []


def test_an_unknown_person_is_refused_with_the_closest_names(run: Any, world: World) -> None:
    result = run("leave", "anne@acme", *world.args("--auto-approve"))
    assert result.code == 1
    assert "neither in the files nor in DealHub and Pipedrive" in result.err
    assert "ann@acme" in result.err.split("Closest names")[1]
    assert world.writes() == []


# -- faults: one system down, a rejected token, burst 429s ----------------------------------


def test_one_system_down_does_not_stop_the_other(run: Any, tmp_path: Path) -> None:
    for world in serve(tmp_path, dealhub_down=True):
        result, record = leave_json(run, world, "ann@acme")
        assert result.code == 1
        by_system = {s["system"]: s for s in record["systems"]}
        assert by_system["dealhub"]["state"] == "failed"
        assert "cannot reach" in by_system["dealhub"]["why"]
        assert by_system["pipedrive"]["state"] == "deactivated"
        assert world.pipedrive_user("ann@acme.com")["active_flag"] is False
        # The files record the departure: the next apply finishes DealHub.
        assert "is_active: false" in world.people.read_text()


def test_a_rejected_token_fails_that_system_alone(run: Any, tmp_path: Path) -> None:
    for world in serve(tmp_path, dealhub_token="another-token-entirely"):
        result, record = leave_json(run, world, "ann@acme")
        assert result.code == 1
        assert states(record) == {"dealhub": "failed", "pipedrive": "deactivated"}
        assert "rejected the token" in record["systems"][0]["why"]


def test_429s_on_pipedrive_are_waited_out(run: Any, tmp_path: Path) -> None:
    # Rate-limit answers (429 with Retry-After) on a share of the requests.
    faults = Faults(throttle_rate=0.5, retry_after=1, seed=1)
    for world in serve(tmp_path, faults=faults):
        result, record = leave_json(run, world, "ann@acme")
        assert result.code == 0, result.all
        assert states(record)["pipedrive"] == "deactivated"
        statuses = [e["status"] for e in world.pipedrive.request_log]
        assert 429 in statuses and statuses[-1] == 200
        writes = [e for e in world.pipedrive.request_log if e["method"] == "PUT"]
        assert [w["status"] for w in writes if w["status"] == 200] == [200]
        assert all(w["body"] == {"active_flag": False} for w in writes)


def test_an_unlisted_login_is_looked_up_by_its_email_where_users_are_keyed_by_email(
    run: Any, world: World
) -> None:
    result, record = leave_json(run, world, "dan@acme")
    assert result.code == 0, result.all
    assert states(record) == {"dealhub": "deactivated", "pipedrive": "deactivated"}
    assert world.pipedrive_user("dan@acme.com")["active_flag"] is False
    assert [s["key"] for s in record["systems"]] == ["dan@acme", "dan@acme.com"]


def test_pipedrive_rate_limited_past_patience_fails_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(PEOPLE)
    state = load_desired([str(path)])
    chosen = [providers.get("dealhub"), providers.get("pipedrive")]
    systems, _, pipedrive = open_in_process(
        [dict(u) for u in TENANT], company(), Faults(throttle_rate=1.0, retry_after=1)
    )
    resolution = core.resolve(state, "ann@acme", chosen)
    report = core.find_everywhere(state, resolution, systems, now=core.utc_now)
    core.deactivate_everywhere(report, systems, now=core.utc_now)
    by_system = {o.system: o for o in report.systems}
    assert by_system["dealhub"].state == "deactivated"
    assert by_system["pipedrive"].state == "failed" and "429" in by_system["pipedrive"].why
    assert report.exit_code == 1
    assert [e["method"] for e in pipedrive.request_log] == ["GET"] * len(pipedrive.request_log)


def test_a_write_whose_answer_is_lost_is_judged_by_the_read_back(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(PEOPLE)
    state = load_desired([str(path)])
    chosen = [providers.get("dealhub"), providers.get("pipedrive")]
    systems, dealhub, _ = open_in_process(
        [dict(u) for u in TENANT], company(), dealhub_faults=Faults(lost_rate=1.0)
    )
    resolution = core.resolve(state, "ann@acme", chosen)
    report = core.find_everywhere(state, resolution, systems, now=core.utc_now)
    core.deactivate_everywhere(report, systems, now=core.utc_now)
    assert [o.state for o in report.systems] == ["deactivated", "deactivated"]
    assert any(e["lost"] for e in dealhub.request_log if e["method"] == "PUT")
    assert dealhub.store.get("ann@acme")["is_active"] is False


# -- several files, CRLF ----------------------------------------------------------------


def test_only_the_persons_file_is_edited_among_several(run: Any, tmp_path: Path) -> None:
    head, _, rest = PEOPLE.partition("  - login: ann@acme")
    team = tmp_path / "team"
    team.mkdir()
    for world in serve(tmp_path, people=head):
        other = team / "sales.yaml"
        other.write_bytes(
            ("version: 1\nusers:\n  - login: ann@acme" + rest).replace("\n", "\r\n").encode()
        )
        first = world.people.read_bytes()
        result = run(
            "leave", "ann@acme", str(world.people), str(team), *world.urls, "--auto-approve"
        )
        assert result.code == 0, result.all
        assert world.people.read_bytes() == first
        text = other.read_bytes().decode()
        assert "    position: Sales\r\n    is_active: false\r\n" in text
        assert text.count("\r\n") == text.count("\n")


# -- the property: P out of every system that had them, nothing else touched --------------

ALL = ("ann", "bob", "cat", "dan")
#: Mostly true: most people are there and active, as in a live tenant.
MOSTLY = st.sampled_from([True, True, False])


def open_in_process(
    tenant: list[dict[str, Any]],
    company_users: list[dict[str, Any]],
    faults: Faults | None = None,
    dealhub_faults: Faults | None = None,
) -> tuple[list[core.System], Simulator, PipedriveSimulator]:
    dealhub = Simulator(TenantStore(tenant), token=DH_TOKEN, faults=dealhub_faults)
    clock = ManualClock()
    pipedrive = PipedriveSimulator(
        PipedriveStore(company_users),
        token=PD_TOKEN,
        clock=clock,
        faults=faults,
        options=PipedriveOptions(edge_after=None),
    )
    dh_client = DealHubClient(
        httpx.Client(
            transport=SimTransport(dealhub),
            base_url="http://simulator",
            headers={"Authorization": f"Bearer {DH_TOKEN}"},
        ),
        target="sim:dealhub",
        token_origin="the tests",
        sleep=clock.advance,  # retries wait on the simulated clock, not the wall
    )
    pd_client = PipedriveClient(
        httpx.Client(
            transport=SimTransport(pipedrive),
            base_url="http://simulator",
            headers={"x-api-token": PD_TOKEN},
        ),
        target="sim:pipedrive",
        token_origin="the tests",
        sleep=clock.advance,
        clock=clock,
    )
    systems = [
        core.System.open(providers.get("dealhub"), DealHubRemote(dh_client, poll_interval=0)),
        core.System.open(providers.get("pipedrive"), pd_client),
    ]
    return systems, dealhub, pipedrive


@st.composite
def worlds(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]], str]:
    """(people file text, DealHub tenant, Pipedrive company, PERSON)."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [
        "version: 1",
        "settings:",
        "  systems: [dealhub, pipedrive]   # both",
        f"  unlisted: {draw(st.sampled_from(['deactivate', 'ignore']))}",
        "  pipedrive:",
        f"    unlisted: {draw(st.sampled_from(['deactivate', 'ignore']))}",
        "users:",
    ]
    tenant: list[dict[str, Any]] = []
    company_users = [new_user(1, "me@acme.com", active_flag=True, is_you=True, access=ADMIN)]
    for number, name in enumerate(ALL):
        login, email = f"{name}@acme", f"{name}@acme.com"
        listed = draw(st.booleans())
        systems = draw(st.sampled_from([None, ("dealhub",), ("pipedrive",)]))
        active = draw(MOSTLY)
        in_dealhub = (listed and systems != ("pipedrive",)) or draw(MOSTLY)
        in_pipedrive = (listed and systems != ("dealhub",)) or draw(MOSTLY)
        if listed:
            own = f", systems: [{systems[0]}]" if systems else ""
            flag = "" if active and draw(st.booleans()) else f", is_active: {str(active).lower()}"
            if draw(st.booleans()):
                lines.append(f"  - {{login: {login}, email: {email}, name: {name}{own}{flag}}}")
            else:
                lines += [f"  - login: {login}   # {name}", f"    email: '{email}'"]
                lines.append(f'    name: "{name}"')
                if systems:
                    lines.append(f"    systems: [{systems[0]}]")
                if flag:
                    lines.append(f"    is_active: {str(active).lower()}")
        there = active if listed else draw(MOSTLY)
        if in_dealhub:
            tenant.append(dh(login, email, name, there if listed else draw(MOSTLY), id=str(number)))
        if in_pipedrive:
            company_users.append(
                new_user(10 + number, email.upper() if number % 2 else email, active_flag=there)
            )
    person = draw(st.sampled_from([f"{n}@acme" for n in ALL] + [f"{n}@ACME.com" for n in ALL]))
    if not any(line.startswith("  - ") for line in lines):
        lines[-1] = "users: []"
    return newline.join(lines) + newline, tenant, company_users, person


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(world=worlds())
def test_after_leave_the_person_is_inactive_wherever_they_were_and_nothing_else_changed(
    tmp_path: Path, world: tuple[str, list[dict[str, Any]], list[dict[str, Any]], str]
) -> None:
    text, tenant, company_users, person = world
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "people.yaml"
    path.write_bytes(text.encode())
    state = load_desired([str(path)])
    chosen = [providers.get("dealhub"), providers.get("pipedrive")]
    resolution = core.resolve(state, person, chosen)
    systems, dealhub, pipedrive = open_in_process(
        copy.deepcopy(tenant), copy.deepcopy(company_users)
    )
    name = person.split("@")[0]
    try:
        report = core.find_everywhere(state, resolution, systems, now=core.utc_now)
    except core.LeaveError:
        # Named nowhere: nothing was written.
        assert not any(e["method"] != "GET" for e in dealhub.request_log + pipedrive.request_log)
        assert resolution.user is None
        assert not any(u["login"] == f"{name}@acme" for u in tenant)
        return
    assert not report.refused
    core.deactivate_everywhere(report, systems, now=core.utc_now)
    if resolution.listed_active and resolution.user is not None:
        deactivate_in_file(state, resolution.user).write()
    assert report.ok, core.render(report, "text")

    # DealHub: the person inactive if they were there; every other user as before.
    login = f"{name}@acme"
    after = {u["login"]: u for u in dealhub.store.users()}
    for user in tenant:
        if user["login"] == login:
            assert after[login]["is_active"] is False
        else:
            assert {k: after[user["login"]].get(k) for k in user} == user
    puts = [e["body"]["users"] for e in dealhub.request_log if e["method"] == "PUT"]
    assert all([u["login"] for u in users] == [login] for users in puts)
    # Pipedrive: the same, by email in any letter case.
    email = f"{name}@acme.com"
    stored = {u["id"]: u for u in pipedrive.store.users()}
    for user in company_users:
        now = stored[user["id"]]
        expected = False if user["email"].casefold() == email else user["active_flag"]
        assert now["active_flag"] is expected
    writes = [e for e in pipedrive.request_log if e["method"] != "GET"]
    ids = {u["id"] for u in company_users if u["email"].casefold() == email}
    assert all(int(e["path"].rsplit("/", 1)[1]) in ids for e in writes)
    assert all(e["body"] == {"active_flag": False} for e in writes)

    # A plan of the edited files has no change for the person.
    edited = load_desired([str(path)])
    for provider, now_users in (
        (chosen[0], dealhub.store.users()),
        (chosen[1], pipedrive.store.users()),
    ):
        plan = compute_plan(edited, now_users, target="sim", provider=provider)
        assert not [c for c in plan.changes if c.key.casefold() in (login, email)], plan.changes
