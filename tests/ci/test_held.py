"""examples/ci/held.py: what an apply in CI held, for the log, a comment and an issue.

Every string it shows comes from a report of the live systems or the files, so it is
untrusted: no login can close the code fence, start a workflow command in the log,
mention anyone, or carry markup into a comment.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HELD = Path(__file__).resolve().parents[2] / "examples" / "ci" / "held.py"


def module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_held", HELD)
    assert spec and spec.loader
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)
    assert module().main(["render", *args]) == 0
    result: dict[str, Any] = json.loads((tmp_path / "held.json").read_text(encoding="utf-8"))
    result["md"] = (tmp_path / "held.md").read_text(encoding="utf-8")
    return result


def report(**lists: Any) -> dict[str, Any]:
    one = {"system": "dealhub", "target": "https://api.dealhub.io", "ok": True, "outcomes": []}
    return {"format_version": 1, "reports": [{**one, "held": [], **lists}]}


def write(tmp_path: Path, data: Any, name: str = "apply.json") -> str:
    (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    return name


def test_nothing_held_is_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = {"login": "a@x", "action": "create", "status": "done", "message": ""}
    args = ["--report", write(tmp_path, report(outcomes=[done])), "--code", "0"]
    out = render(tmp_path, monkeypatch, *args)
    assert out["state"] == "clean" and out["held"] == []
    assert out["md"].startswith("### reconciler: applied; nothing held")
    assert re.search(r"^  written\s+create\s+a@x$", out["md"], flags=re.M)


def test_held_changes_are_listed_with_their_fields_and_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    item = {
        "login": "zoe@acme",
        "action": "reactivate",
        "fields": ["is_active"],
        "reason": "not in the reviewed plan",
    }
    gone = {"login": "b@x", "action": "create", "reason": "already made"}
    data = report(held=[item], no_longer_needed=[gone])
    out = render(tmp_path, monkeypatch, "--report", write(tmp_path, data), "--code", "1")
    assert out["state"] == "held"
    assert out["held"] == [{**item, "system": "dealhub"}]
    assert out["title"] == "1 change held, not applied"
    line = "  HELD              reactivate zoe@acme [is_active]: not in the reviewed plan"
    assert line in out["md"].splitlines() and line in capsys.readouterr().out.splitlines()
    assert re.search(r"no longer needed\s+create\s+b@x: already made", out["md"])
    assert "manual apply" in out["md"]  # what a team does with it
    assert out["issue_marker"] == "<!-- reconciler-held -->"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (None, 1),  # refused before any report: no JSON at all
        (report(), 3),  # a guard
        (report(outcomes=[{"login": "a@x", "action": "create", "status": "failed"}]), 1),
    ],
    ids=["refused", "guard", "a user failed"],
)
def test_a_failure_without_held_changes_is_failed_not_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: Any, code: int
) -> None:
    (tmp_path / "err.txt").write_text(
        '{"plan": "on stderr"}\nerror: the saved plan was altered: a@x\n', encoding="utf-8"
    )
    args = ["--report", write(tmp_path, data), "--code", str(code), "--stderr", "err.txt"]
    out = render(tmp_path, monkeypatch, *args)
    assert out["state"] == "failed"
    assert out["title"] == f"apply failed (exit {code})"
    assert "error: the saved plan was altered: a@x" in out["md"]
    assert "on stderr" not in out["md"]  # only the error lines, never the plan


def test_without_a_reviewed_plan_every_pending_change_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = {
        "plans": [
            {
                "system": "pipedrive",
                "target": "https://acme.pipedrive.com",
                "changes": [
                    {"action": "create", "login": "b@x.com", "fields": {"email": {}, "access": {}}}
                ],
            }
        ]
    }
    out = render(tmp_path, monkeypatch, "--pending", write(tmp_path, plan), "--reason", "no plan")
    assert out["state"] == "held"
    assert out["held"] == [
        {
            "system": "pipedrive",
            "login": "b@x.com",
            "action": "create",
            "fields": ["access", "email"],
            "reason": "no plan",
        }
    ]
    assert "Nothing was written: no plan." in out["md"]


def test_a_hostile_login_cannot_escape_the_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    login = "x````\n::error::pwned\x1b[31m @admins <img src=x>\u202e"
    item = {"login": login, "action": "create", "fields": [], "reason": "r\r\n::warning::w"}
    out = render(tmp_path, monkeypatch, "--report", write(tmp_path, report(held=[item])))
    md = out["md"]
    fence = re.search(r"^(`{3,})text$", md, flags=re.M)
    assert fence and len(fence[1]) == 5  # longer than the login's four backticks
    body = md.split(fence[0], 1)[1].split("\n" + fence[1] + "\n", 1)[0]
    assert "@admins" in body and "<img" in body  # inside the fence: shown, not rendered
    assert md.count(fence[1]) == 2
    printed = capsys.readouterr().out
    for text in (md, printed):
        assert not re.search(r"^::", text, flags=re.M)  # no workflow command of its own
        assert "\x1b" not in text and "\u202e" not in text and "\r" not in text


def test_a_long_list_is_cut_to_fit_a_comment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [
        {"login": f"user{i:05}@acme", "action": "create", "fields": [], "reason": "r" * 40}
        for i in range(3000)
    ]
    out = render(tmp_path, monkeypatch, "--report", write(tmp_path, report(held=items)))
    assert len(out["held"]) == 3000  # the JSON keeps them all
    assert len(out["md"]) < 65_000
    assert re.search(r"\*\(cut: \d+ more lines are in the job log\)\*", out["md"])
    assert out["title"] == "3000 changes held, not applied"
