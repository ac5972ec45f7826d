"""The plan format's JSON Schema (schemas/plan.schema.json): valid, true to what the tool
writes, shipped in the wheel, and loaded only when a plan is read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler import plan as codec
from reconciler.desired import DesiredState, DesiredUser
from reconciler.diff import compute_plan
from reconciler.errors import UsageError
from reconciler.model import Plan
from reconciler.saved_plan import dumps_sealed, seal_key
from reconciler.settings import Settings
from tests.helpers.wheels import build_wheel

REPO = Path(__file__).resolve().parent.parent
GOLDEN_PLAN = REPO / "tests" / "golden" / "plan.json"


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(codec.SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


def whole_document() -> jsonschema.Draft202012Validator:
    """The schema as an editor uses it: the whole file, one plan or several."""
    return jsonschema.Draft202012Validator(schema())


def a_plan() -> Plan:
    """A DealHub plan of a create and an update."""
    users = {
        login: DesiredUser(
            login, {"email": f"{login}.com", "name": login, "is_active": True}, "users.yaml", 1, {}
        )
        for login in ("new@acme", "dan@acme")
    }
    state = DesiredState(users=users, settings=Settings(), files=["users.yaml"])
    tenant = [{"login": "dan@acme", "email": "old@acme.com", "name": "dan@acme"}]
    return compute_plan(state, tenant, target="sim:tenant.json")


def test_the_schema_is_valid_draft_2020_12() -> None:
    loaded = schema()
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(loaded)
    assert set(loaded["$defs"]) >= {"plan", "plans", "change"}


def test_the_golden_plan_is_a_plan_to_the_schema() -> None:
    data = json.loads(GOLDEN_PLAN.read_text(encoding="utf-8"))
    assert list(whole_document().iter_errors(data)) == []
    codec.from_json_data(data)


def test_what_plan_out_saves_is_a_plan_to_the_schema_for_one_system_and_several() -> None:
    one = json.loads(dumps_sealed([a_plan()], {"dealhub": seal_key(None)}))
    assert list(whole_document().iter_errors(one)) == []
    several = json.loads(codec.dumps_plans([a_plan(), a_plan()]))
    assert list(whole_document().iter_errors(several)) == []
    several["plans"][1]["changes"][0]["action"] = "delete"
    assert not whole_document().is_valid(several)


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda d: d.update(format_version=1.0), "format_version 1.0 (this reconciler reads 1)"),
        (lambda d: d.update(active_users=3.0), "active_users must be a whole number"),
        (lambda d: d["summary"].update(unchanged=-1), "summary.unchanged must be 0 or more"),
        (lambda d: d.update(token_env="DEALHUB_TOKEN\n"), "is not the name of an environment"),
        (lambda d: d.update(cost={"unit": "tokens"}), "cost has no writes"),
        (lambda d: d["changes"][0].update(send=[]), "changes[0].send must be a mapping"),
        (
            lambda d: d["changes"][1]["fields"]["email"].update(was="x"),
            "changes[1].fields.email: unknown key 'was'",
        ),
        (lambda d: d["changes"][0].update(action="drop"), "unknown action 'drop'; one of: create"),
    ],
)
def test_a_refusal_names_what_is_wrong_in_one_sentence(edit: Any, says: str) -> None:
    data = codec.to_json_data(a_plan())
    edit(data)
    with pytest.raises(UsageError) as refused:
        codec.from_json_data(data)
    message = str(refused.value)
    assert message.startswith("the saved plan is not a reconciler plan: ")
    assert says in message and "\n" not in message


def test_a_cost_of_null_is_no_cost() -> None:
    data = codec.to_json_data(a_plan())
    data["cost"] = None
    assert codec.from_json_data(data).cost is None


def test_a_plan_without_token_env_reads_as_its_system_s_own_variable() -> None:
    data = codec.to_json_data(a_plan())
    del data["token_env"], data["system"]
    assert codec.from_json_data(data).token_env == "DEALHUB_TOKEN"


def test_the_codec_loads_jsonschema_only_to_read_a_plan() -> None:
    probe = (
        "import sys, reconciler.plan; "
        "assert 'jsonschema' not in sys.modules, 'jsonschema loaded on import'"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_the_schema_reaches_a_non_editable_install(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "wheels")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        assert json.loads(archive.read("reconciler/data/plan.schema.json")) == schema()
        archive.extractall(site)

    # The installed package reads a plan with its own copy of the schema, from outside
    # the checkout.
    saved = tmp_path / "plan.json"
    saved.write_text(codec.dumps(a_plan()), encoding="utf-8")
    probe = (
        "import json, sys; from reconciler import plan; "
        f"assert plan.__file__.startswith({os.fspath(site)!r}), plan.__file__; "
        f"assert not plan.SCHEMA_FILE.exists(), plan.SCHEMA_FILE; "
        f"print(len(plan.from_json_data(json.load(open({os.fspath(saved)!r}))).changes))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.fspath(site)},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "2"
