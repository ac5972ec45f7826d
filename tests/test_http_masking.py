"""The token is masked where server text enters the client: every string of every answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from reconciler import redact
from reconciler.apply import Applier
from reconciler.cli import main
from reconciler.desired import DesiredState, DesiredUser
from reconciler.diff import compute_plan
from reconciler.errors import ResponseError
from reconciler.http import TokenSource
from reconciler.providers.dealhub.client import DealHubClient, connect
from reconciler.providers.dealhub.provider import DealHubRemote
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.render import render_plan
from reconciler.render.report import render_json, render_markdown, render_text
from reconciler.settings import Settings
from reconciler.sim.faults import Faults
from reconciler.sim.server import running
from tests.helpers.dealhub_client import TOKEN, MakeClient
from tests.helpers.loopback import answer, serve

MASK = redact.MASK
TENANT = [
    {
        "login": "a@x",
        "email": "a@x.com",
        "name": f"A {TOKEN}",
        "position": f"Bearer {TOKEN}",
        "is_active": True,
    },
    {"login": "b@x", "email": "b@x.com", "name": "B", "is_active": True},
]


@pytest.fixture(autouse=True)
def _forget_tokens() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


class TokenIds(Faults):
    """A server whose async request ids are the token itself."""

    def request_id(self) -> str:
        return TOKEN


def test_connect_registers_the_token_and_its_url_form() -> None:
    with connect("https://api.dealhub.io", TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False):
        pass
    assert redact.redact(f"x {TOKEN} y") == f"x {MASK} y"
    assert redact.redact(quote(TOKEN, safe="")) == MASK
    assert quote(TOKEN, safe="") != TOKEN


def test_every_tenant_string_is_masked(make_client: MakeClient) -> None:
    client, _, _ = make_client(tenant=TENANT)
    users = {u["login"]: u for u in client.list_users()}
    assert users["a@x"]["position"] == f"Bearer {MASK}"
    assert users["a@x"]["name"] == f"A {MASK}"
    assert users["b@x"]["name"] == "B"
    assert TOKEN not in json.dumps(list(users.values()))


def test_a_token_spelt_with_json_escapes_is_masked_too() -> None:
    # \u0074 is "t", \/ is "/": the raw text never holds the token as written.
    hidden = "\\u0074" + TOKEN[1:].replace("/", "\\/")
    body = (
        '[{"login": "a@x", "email": "a@x.com", "name": "Zo\\u00eb", '
        f'"position": "Bearer {hidden}", "custom": {{"k {hidden}": ["{hidden}", 1]}}}}]'
    ).encode()
    with serve(answer(200, body, "application/json")) as url:
        client = connect(url, TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False)
        (user,) = client.list_users()
    assert user["position"] == f"Bearer {MASK}"
    assert user["custom"] == {f"k {MASK}": [MASK, 1]}
    assert user["name"] == "Zoë"  # other escapes decode as before
    assert TOKEN not in json.dumps(user, ensure_ascii=False)


def test_a_request_id_equal_to_the_token_is_refused_and_never_polled(
    make_client: MakeClient,
) -> None:
    client, sim, _ = make_client(TokenIds(async_mode=True), tenant=[])
    sent = client.upsert_users(
        [{"login": "n@x", "email": "n@x.com", "name": "N", "is_active": True}]
    )
    assert sent.kind == "unknown" and sent.request_id is None
    assert sent.message == "a request_id that contains the API token"
    assert [e["method"] for e in sim.request_log] == ["PUT"]  # no poll: no URL holds it


@pytest.mark.parametrize(
    "request_id",
    [
        TOKEN,
        f"{TOKEN}-1",
        f"x{TOKEN}",
        quote(TOKEN, safe=""),
        f"{MASK}-1",
        "../users",
        "a/b",
        "a b",
        "a%2Fb",
        "id?x=1",
        "",
        "x" * 65,
        "\u0663",
        "é1",
        True,
        None,
        -1,
        1.5,
        [],
        {},
    ],
)
def test_a_request_id_not_shaped_like_an_id_is_never_put_in_a_url(request_id: object) -> None:
    polled: list[str] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "PUT":
            body: dict[str, object] = {"request_id": request_id}
        else:
            polled.append(handler.path)
            body = {"status": "done"}
        answer(200, json.dumps(body).encode(), "application/json")(handler)

    with serve(respond) as url:
        client = connect(url, TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False)
        sent = client.upsert_users([{"login": "a@x"}])
        with pytest.raises(ResponseError, match="not polled"):
            client.request_status(request_id)  # type: ignore[arg-type]
    assert sent.kind == "unknown" and sent.request_id is None
    assert "request_id that" in sent.message and TOKEN not in sent.message
    assert polled == []


@pytest.mark.parametrize("request_id", ["4D114DAD97", "a1b2c3d4-e5f6-7890-abcd-ef1234567890", 42])
def test_the_vendors_request_ids_are_polled_as_given(request_id: object) -> None:
    polled: list[str] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "PUT":
            body: dict[str, object] = {"request_id": request_id}
        else:
            polled.append(handler.path)
            body = {"status": "done"}
        answer(200, json.dumps(body).encode(), "application/json")(handler)

    with serve(respond) as url:
        client = connect(url, TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False)
        sent = client.upsert_users([{"login": "a@x"}])
        assert sent.kind == "async" and sent.request_id == str(request_id)
        client.request_status(sent.request_id)
    assert polled == [f"/api/v1/request/{request_id}/status"]


def plan_for(client: DealHubClient, *users: dict[str, Any]) -> Any:
    state = {
        u["login"]: DesiredUser(u["login"], {"is_active": True, **u}, "users.yaml", 1, {})
        for u in users
    }
    desired = DesiredState(state, Settings(unlisted="ignore"), ["users.yaml"])
    return compute_plan(desired, client.list_users(), target=client.target)


@pytest.mark.parametrize(
    ("faults", "wait", "fragment"),
    [
        (TokenIds(async_mode=True, taken_logins=frozenset({"n@x"})), 9, "contains the API token"),
        (TokenIds(async_mode=True), 1.5, "contains the API token"),
    ],
)
def test_apply_report_never_shows_a_token_request_id(
    make_client: MakeClient, faults: Faults, wait: float, fragment: str
) -> None:
    client, _, _ = make_client(faults, tenant=[])
    plan = plan_for(client, {"login": "n@x", "email": "n@x.com", "name": "N"})
    ticks = iter(range(100))
    remote = DealHubRemote(
        client, wait_timeout=wait, poll_interval=0, sleep=lambda _: None, clock=lambda: next(ticks)
    )
    report = Applier(remote).run(plan)
    (outcome,) = report.outcomes
    assert outcome.status == "failed" and fragment in outcome.message
    for shown in (render_text(report), render_json(report), render_markdown(report)):
        assert TOKEN not in shown and quote(TOKEN, safe="") not in shown


def test_status_error_text_is_masked() -> None:
    body = json.dumps(
        {"request_id": "R1", "status": "failed", "error_description": f"bad {TOKEN}"}
    ).encode()
    with serve(answer(200, body, "application/json")) as url:
        client = connect(url, TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False)
        status = client.request_status("R1")
    assert status["error_description"] == f"bad {MASK}"


def test_per_user_errors_of_a_write_are_masked() -> None:
    body = json.dumps({"errors": [{"login": "a@x", "message": f"no {TOKEN}"}]}).encode()
    with serve(answer(200, body, "application/json")) as url:
        client = connect(url, TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False)
        result = client.upsert_users([{"login": "a@x"}])
    assert result.errors == {"a@x": f"no {MASK}"}


# -- the plan a person reads ---------------------------------------------------------


@pytest.fixture
def desired_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(
        "version: 1\nsettings: {unlisted: ignore}\nusers:\n"
        "  - {login: a@x, email: a@x.com, name: A, position: CCS}\n",
        encoding="utf-8",
    )
    return path


def run_plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", *args])
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out + captured.err


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_plan_shows_a_tenant_field_holding_the_token_masked(
    tmp_path: Path,
    desired_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", TOKEN)
    monkeypatch.delenv("DEALHUB_API_URL", raising=False)
    tenant = tmp_path / "tenant.json"
    tenant.write_text(json.dumps(TENANT), encoding="utf-8")
    code, out = run_plan(capsys, str(desired_file), "--api-url", f"sim:{tenant}", "--format", fmt)
    assert code == 0, out
    assert "Bearer [REDACTED]" in out.replace("&#91;", "[").replace("&#93;", "]")
    assert TOKEN not in out


def test_plan_over_loopback_shows_the_token_masked(
    desired_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", TOKEN)
    monkeypatch.delenv("DEALHUB_API_URL", raising=False)
    sim = Simulator(TenantStore(TENANT), token=TOKEN)
    with running(sim) as url:
        code, out = run_plan(capsys, str(desired_file), "--api-url", url)
    assert code == 0, out
    assert "Bearer [REDACTED]" in out and TOKEN not in out


def test_render_of_a_plan_from_the_client_is_masked(make_client: MakeClient) -> None:
    client, _, _ = make_client(tenant=TENANT)
    plan = plan_for(client, {"login": "a@x", "email": "a@x.com", "name": "A", "position": "CCS"})
    for fmt in ("text", "json", "markdown"):
        shown = render_plan(plan, fmt)
        assert TOKEN not in shown and "REDACTED" in shown
