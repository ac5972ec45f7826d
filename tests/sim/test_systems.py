"""A system's package brings its simulator: the kernel serves any registered system's.

The third system (tests/sim/third_system) is a package with a provider and,
beside it, `sim_hooks`; one registry line makes `open_simulator`, `sim:PATH`,
`sim serve` and `sim generate` work for it. The fake system of the contract
suite brings no simulator: asking for one is a clear error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from reconciler import providers
from reconciler.http import open_http
from reconciler.sim import NoSimulator, SimTransport, hooks_for, open_simulator
from reconciler.sim import cli as sim_cli
from reconciler.sim.server import running
from tests.contract import fake_provider

from . import third_system
from .third_system import sim_hooks

TOKEN = "third-secret-7"
USERS = [{"handle": "ada", "name": "Ada", "is_active": True}]


@pytest.fixture(autouse=True)
def third_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(providers.REGISTRY, "third", f"{third_system.__name__}:PROVIDER")
    yield


@pytest.fixture
def fake_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(providers.REGISTRY, "fake", f"{fake_provider.__name__}:PROVIDER")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "third.json"
    path.write_text(json.dumps(USERS), "utf-8")
    return path


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Stands in for the blocking server: records the simulator `serve` built."""
    simulators: list[Any] = []

    def fake_serve(sim: Any, host: str, port: int, **options: Any) -> None:
        simulators.append(sim)
        options["on_ready"](f"http://{host}:{port or 8080}")

    monkeypatch.setattr(sim_cli, "serve_forever", fake_serve)
    return simulators


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(sim_cli.sim, list(args), env=env or {"THIRD_TOKEN": TOKEN})


def listed(http: httpx.Client) -> Any:
    answer = http.get("/users", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    return answer.json()


def test_the_hooks_are_found_beside_the_systems_provider() -> None:
    assert hooks_for("third") is sim_hooks.SIMULATOR


def test_open_simulator_and_the_transport_serve_a_third_system(state: Path) -> None:
    sim = open_simulator(state, token=TOKEN, writable=False, system="third")
    assert isinstance(sim, sim_hooks.ThirdSimulator)
    with httpx.Client(transport=SimTransport(sim), base_url="http://simulator") as http:
        assert listed(http) == USERS
    with running(sim) as url, httpx.Client(base_url=url) as http:
        assert listed(http) == USERS


def test_a_sim_url_opens_the_third_systems_simulator(state: Path) -> None:
    connection = open_http(
        f"sim:{state}",
        None,
        system="third",
        auth=lambda secret: {"Authorization": f"Bearer {secret}"},
        writable=False,
        timeout=5.0,
        total_timeout=5.0,
        flag="--api-url",
        missing_token="set THIRD_TOKEN",
    )
    with connection.http as http:
        # No token given: the simulator and the client share the default one.
        answer = http.get("/users")
    assert answer.status_code == 200 and answer.json() == USERS


def test_sim_generate_writes_a_third_systems_state_and_people_file(tmp_path: Path) -> None:
    out, desired = tmp_path / "out.json", tmp_path / "people.yaml"
    result = invoke(
        "generate", "--system", "third", "--users", "2", "--seed", "4",
        "-o", str(out), "--desired", str(desired),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wrote 2 third users to" in result.output
    assert [u["handle"] for u in json.loads(out.read_text("utf-8"))] == ["user4-0", "user4-1"]
    assert "systems: [third]" in desired.read_text("utf-8")


def test_sim_generate_refuses_a_count_the_system_refuses(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = invoke("generate", "--system", "third", "--users", "101", "-o", str(out))
    assert result.exit_code == 2
    assert "at most 100 users" in result.output
    assert not out.exists()


def test_sim_serve_runs_the_third_systems_simulator_with_its_own_option(
    state: Path, served: list[Any]
) -> None:
    result = invoke("serve", "--system", "third", "--port", "0", "--state", str(state), "--shout")
    assert result.exit_code == 0, result.output
    assert "Third simulator serving" in result.output
    assert "Third simulator stopped after 0 requests." in result.output
    assert TOKEN not in result.output
    [sim] = served
    assert isinstance(sim, sim_hooks.ThirdSimulator) and sim.shout and sim.token == TOKEN
    assert "--shout" in invoke("serve", "--help").output


def test_sim_serve_refuses_an_option_of_another_systems_simulator(state: Path) -> None:
    own = invoke("serve", "--system", "third", "--port", "0", "--state", str(state), "--seats", "3")
    assert own.exit_code == 2
    assert "--seats is not an option of the third simulator" in own.output
    other = invoke(
        "serve", "--system", "dealhub", "--port", "0", "--state", str(state), "--shout",
        env={"DEALHUB_TOKEN": TOKEN},
    )  # fmt: skip
    assert other.exit_code == 2
    assert "--shout is not an option of the dealhub simulator" in other.output


@pytest.mark.usefixtures("fake_registered")
def test_a_system_without_a_simulator_is_a_clear_error(tmp_path: Path, state: Path) -> None:
    out = tmp_path / "out.json"
    result = invoke("generate", "--system", "fake", "--users", "2", "-o", str(out))
    assert result.exit_code == 1
    assert result.output.strip() == "Error: Fake has no simulator"
    assert not out.exists()
    served = invoke("serve", "--system", "fake", "--port", "0", "--state", str(state))
    assert served.output.strip() == "Error: Fake has no simulator"
    with pytest.raises(NoSimulator, match="Fake has no simulator"):
        open_simulator(state, token=TOKEN, writable=False, system="fake")


def test_an_unregistered_system_is_not_a_choice(tmp_path: Path) -> None:
    result = invoke("generate", "--system", "fake", "--users", "1", "-o", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "'fake' is not one of" in result.output
    with pytest.raises(ValueError, match="unknown system 'fake'"):
        open_simulator(tmp_path / "o", token=TOKEN, writable=False, system="fake")


def test_the_kernel_names_no_system() -> None:
    kernel = Path(sim_cli.__file__).parent
    for module in sorted(kernel.glob("*.py")):
        text = module.read_text("utf-8").casefold()
        for name in providers.REGISTRY:
            assert name not in text, f"{module.name} names {name}"
        # The registry is how the kernel reaches a system, never a system's own package.
        assert "reconciler.providers." not in text, module.name
