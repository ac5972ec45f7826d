"""The GitOps loop fails closed (issue 19): scenarios run through the recipes' own steps.

Each scenario is a git origin with pull requests and merges, both simulators served on
loopback (DealHub and Pipedrive, one people file), and the CI jobs of the recipes
under examples/ci run step by step as a runner would. What each system was sent is
read back from the simulators' request logs.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.ci.harness import GitLabProject, Job, World, gitlab_project, world

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "git", "node")), reason="needs bash, git, node"
)

ADMIN = "  - {login: admin@acme, email: admin@acme.com, name: Admin, systems: [pipedrive]}\n"
#: Bob joins (a line of his own, after the admin's).
BOB = (ADMIN, ADMIN + "  - {login: bob@acme, email: bob@acme.com, name: Bob}\n")
DAVE = (ADMIN, ADMIN + "  - {login: dave@acme, email: dave@acme.com, name: Dave}\n")
ZOE = "  - {login: zoe@acme, email: zoe@acme.com, name: Zoe}"
ZOE_LEAVES = (ZOE, "  - {login: zoe@acme, email: zoe@acme.com, name: Zoe, is_active: false}")
CARL = "  - {login: carl@acme, email: carl@acme.com, name: Carl}"
CARL_LEAVES = (CARL, "  - {login: carl@acme, email: carl@acme.com, name: Carl, is_active: false}")


def held(job: Job) -> set[tuple[str, str, str]]:
    """(system, action, login) of every change the apply job held."""
    data = json.loads((job.dir / "held.json").read_text(encoding="utf-8"))
    return {(h["system"], h["action"], h["login"]) for h in data["held"]}


def held_reasons(job: Job) -> dict[str, str]:
    data = json.loads((job.dir / "held.json").read_text(encoding="utf-8"))
    return {h["login"]: h["reason"] for h in data["held"]}


def the_issue(w: World) -> dict[str, Any]:
    (issue,) = w.open_issues()
    assert issue["body"].startswith("<!-- reconciler-held -->")
    return issue


def test_a_hand_deactivation_stays_when_an_unrelated_merge_applies(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.edit("bob", *BOB, "Bob joins")
        reviewed = w.github_pr_plan("bob")
        # The emergency: Zoe is let go and deactivated by hand in both systems,
        # before anyone records it in the files.
        w.deactivate_by_hand("zoe@acme")
        assert not w.dealhub.active("zoe@acme") and not w.pipedrive.active("zoe@acme.com")

        seen = len(w.dealhub.entries()), len(w.pipedrive.entries())
        job = w.github_apply(w.merge("bob"), reviewed)

        # Zoe stays out of both systems; the reviewed change (Bob), and only it, is written.
        assert not w.dealhub.active("zoe@acme") and not w.pipedrive.active("zoe@acme.com")
        assert w.dealhub.written(since=seen[0]) == {"bob@acme"}
        assert w.pipedrive.written(since=seen[1]) == {"bob@acme.com"}
        # The job fails and names the held reactivation, in the log, on the merged
        # pull request and in the one open issue.
        assert job.code == 1
        assert held(job) == {
            ("dealhub", "reactivate", "zoe@acme"),
            ("pipedrive", "reactivate", "zoe@acme.com"),
        }
        assert re.search(r"HELD\s+reactivate\s+zoe@acme\b", job.out), job.out
        assert re.search(r"HELD\s+reactivate\s+zoe@acme\.com\b", job.out), job.out
        (comment,) = w.github["comments"]
        assert comment["on"] == 7 and "reactivate" in comment["body"]
        assert "zoe@acme" in comment["body"]
        assert "zoe@acme.com" in the_issue(w)["body"]

        # The team records the departure in a pull request: its plan changes
        # nothing for Zoe, its apply holds nothing, and the issue is closed.
        w.edit("zoe-leaves", *ZOE_LEAVES, "Zoe left")
        recorded = w.github_apply(w.merge("zoe-leaves"), w.github_pr_plan("zoe-leaves"))
        assert recorded.code == 0, recorded.log
        assert held(recorded) == set()
        assert w.open_issues() == []
        assert w.github["calls"][-1] == "update closed"
        assert not w.dealhub.active("zoe@acme") and not w.pipedrive.active("zoe@acme.com")


def test_a_cancelled_apply_leaves_its_change_held_by_the_next_one(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.edit("carl-leaves", *CARL_LEAVES, "Carl leaves")
        w.edit("bob", *BOB, "Bob joins")
        w.github_pr_plan("carl-leaves")
        bob_plan = w.github_pr_plan("bob")  # planned before Carl's merge
        w.merge("carl-leaves")  # its apply is cancelled: it never runs
        job = w.github_apply(w.merge("bob"), bob_plan, pr=8)

        # Bob's reviewed change is written; Carl's is not lost: it is held, the job
        # fails, and the issue names it.
        assert w.dealhub.active("bob@acme") and w.pipedrive.active("bob@acme.com")
        assert w.dealhub.active("carl@acme") and w.pipedrive.active("carl@acme.com")
        assert job.code == 1
        assert held(job) == {
            ("dealhub", "deactivate", "carl@acme"),
            ("pipedrive", "deactivate", "carl@acme.com"),
        }
        issue = the_issue(w)
        assert "deactivate" in issue["body"] and "carl@acme.com" in issue["body"]

        # The manual path: a fresh plan of main, shown in the job summary, applied
        # as shown after the approval; nothing is left held and the issue closes.
        planned, applied = w.github_manual()
        summary = (planned.dir / ".github-summary").read_text(encoding="utf-8")
        assert "carl@acme" in summary
        assert applied.code == 0, applied.log
        assert not w.dealhub.active("carl@acme") and not w.pipedrive.active("carl@acme.com")
        assert w.open_issues() == []


def test_queued_applies_each_write_their_own_merge(tmp_path: Path) -> None:
    """Nothing skips itself: an apply that runs after main moved on still writes its merge."""
    with world(tmp_path) as w:
        w.edit("carl-leaves", *CARL_LEAVES, "Carl leaves")
        w.edit("bob", *BOB, "Bob joins")
        carl_plan = w.github_pr_plan("carl-leaves")
        bob_plan = w.github_pr_plan("bob")
        first = w.merge("carl-leaves")
        second = w.merge("bob")  # main moves on before the first apply starts
        done = w.github_apply(first, carl_plan)
        assert done.code == 0, done.log
        assert not w.dealhub.active("carl@acme") and not w.pipedrive.active("carl@acme.com")
        assert w.dealhub.written() == {"carl@acme"}
        done = w.github_apply(second, bob_plan, pr=8)
        assert done.code == 0, done.log
        assert w.dealhub.active("bob@acme") and w.pipedrive.active("bob@acme.com")
        assert w.open_issues() == []


def test_a_plan_made_before_another_merge_is_held_not_refused_whole(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.edit("title", "    position: Sales\n", "    position: Lead\n", "Alice leads")
        w.edit("bob", *BOB, "Bob joins")
        w.edit("bob", "    name: Alice\n", "    name: Alice Martin\n", "Alice's new name")
        bob_plan = w.github_pr_plan("bob")  # Alice still in Sales when planned
        title = w.github_apply(w.merge("title"), w.github_pr_plan("title"))
        assert title.code == 0, title.log
        assert w.dealhub.users()["alice@acme"]["position"] == "Lead"

        job = w.github_apply(w.merge("bob"), bob_plan, pr=8)

        # Bob, reviewed and unchanged, is written in both systems; Alice changed
        # since the plan, so her reviewed update is held, naming the field.
        assert job.code == 1
        assert w.dealhub.active("bob@acme") and w.pipedrive.active("bob@acme.com")
        assert w.dealhub.users()["alice@acme"]["name"] == "Alice"
        assert held(job) == {("dealhub", "update", "alice@acme")}
        assert "position" in held_reasons(job)["alice@acme"]
        assert "the saved plan does not match" not in job.err


def test_an_edited_plan_writes_nothing(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.edit("bob", *BOB, "Bob joins")
        reviewed = w.github_pr_plan("bob")
        # Someone with access to the artifact edits the reviewed plan: Bob's
        # DealHub payload now says another name than the change shown.
        path = reviewed / "plan.json"
        plan = json.loads(path.read_text(encoding="utf-8"))
        (bob,) = [c for c in plan["plans"][0]["changes"] if c["login"] == "bob@acme"]
        bob["send"]["name"] = "Mallory"
        path.write_text(json.dumps(plan), encoding="utf-8")
        before = (w.dealhub.users(), w.pipedrive.users())

        job = w.github_apply(w.merge("bob"), reviewed)

        assert job.code == 1
        assert w.dealhub.writes() == [] and w.pipedrive.writes() == []
        assert (w.dealhub.users(), w.pipedrive.users()) == before
        assert "apply failed (exit 1)" in the_issue(w)["body"]
        assert re.search(r"^error: the saved plan was altered", job.err, flags=re.M)


def test_a_merge_without_a_reviewed_plan_writes_nothing_and_holds_it_all(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.edit("bob", *BOB, "Bob joins")
        job = w.github_apply(w.merge("bob"), None)  # the plan expired, or was never made
        assert job.code == 1
        assert w.dealhub.writes() == [] and w.pipedrive.writes() == []
        assert held(job) == {
            ("dealhub", "create", "bob@acme"),
            ("pipedrive", "create", "bob@acme.com"),
        }
        assert "no plan reviewed on a merged pull request" in job.out
        assert "bob@acme.com" in the_issue(w)["body"]


def changes(plan_json: Path) -> set[tuple[str, str, str]]:
    plans = json.loads(plan_json.read_text(encoding="utf-8"))["plans"]
    return {(p["system"], c["action"], c["login"]) for p in plans for c in p["changes"]}


def test_a_gitlab_merge_request_branched_before_another_merge_plans_no_false_leaver(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w, gitlab_project() as gl:
        head = w.edit("zoe-leaves", *ZOE_LEAVES, "Zoe left")  # branched from main now
        w.edit("dave", *DAVE, "Dave joins")
        assert w.github_apply(w.merge("dave"), w.github_pr_plan("dave")).code == 0
        assert w.dealhub.active("dave@acme") and w.pipedrive.active("dave@acme.com")

        job = w.gitlab_mr_plan(gl, "zoe-leaves", 9)

        assert job.code == 0, job.log  # exit 2 (changes) passes the job
        assert "reconciler plan exited 2" in job.out
        assert "merged with main at" in job.out
        assert changes(job.dir / "plan.json") == {
            ("dealhub", "deactivate", "zoe@acme"),
            ("pipedrive", "deactivate", "zoe@acme.com"),
        }
        (note,) = gl.notes
        assert note["on"] == 9 and "zoe@acme" in note["body"]
        for system in ("DealHub", "Pipedrive"):  # one deactivation each: Zoe's
            summary = f"- **{system}**: 0 to create, 0 to update, 0 to reactivate, 1 to deactivate"
            assert summary in note["body"]
        # The branch's head alone would have planned Dave as a leaver.
        alone = w.by_hand("plan", "users/", "--format", "json", cwd=w.checkout(head))
        assert ("dealhub", "deactivate", "dave@acme") in {
            (p["system"], c["action"], c["login"])
            for p in json.loads(alone.stdout)["plans"]
            for c in p["changes"]
        }


def test_a_gitlab_merge_request_that_conflicts_is_not_planned(tmp_path: Path) -> None:
    with world(tmp_path) as w, gitlab_project() as gl:
        w.edit("manager", "    position: Sales\n", "    position: Manager\n", "Manager")
        w.edit("lead", "    position: Sales\n", "    position: Lead\n", "Lead")
        w.merge("lead")
        job = w.gitlab_mr_plan(gl, "manager", 9)
        assert job.code == 1
        assert "does not merge cleanly into `main`" in job.out
        assert not (job.dir / "plan.json").exists()
        assert gl.mrs[9]["plans"] == []  # no plan for a merge to apply
        assert w.dealhub.entries() == [] and w.pipedrive.entries() == []  # nothing read
        (note,) = gl.notes
        assert "**Not planned**" in note["body"] and "plan failed (exit 1)" in note["body"]


# -- the same loop on GitLab: the plan reviewed on the merged merge request ----------------


def gitlab_issue(gl: GitLabProject) -> dict[str, Any]:
    (issue,) = gl.open_issues()
    assert issue["description"].startswith("<!-- reconciler-held -->")
    assert issue["labels"] == "reconciler-held"
    return issue


def test_gitlab_a_hand_deactivation_stays_when_an_unrelated_merge_applies(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w, gitlab_project() as gl:
        w.edit("bob", *BOB, "Bob joins")
        assert w.gitlab_mr_plan(gl, "bob", 9).code == 0
        w.deactivate_by_hand("zoe@acme")
        seen = len(w.dealhub.entries()), len(w.pipedrive.entries())

        job = w.gitlab_apply(gl, w.gitlab_merge(gl, "bob", 9))

        assert not w.dealhub.active("zoe@acme") and not w.pipedrive.active("zoe@acme.com")
        assert w.dealhub.written(since=seen[0]) == {"bob@acme"}
        assert w.pipedrive.written(since=seen[1]) == {"bob@acme.com"}
        assert job.code == 1
        assert "The plan reviewed on !9" in job.out
        assert held(job) == {
            ("dealhub", "reactivate", "zoe@acme"),
            ("pipedrive", "reactivate", "zoe@acme.com"),
        }
        (note,) = [n for n in gl.notes if n["body"].startswith("<!-- reconciler-apply -->")]
        assert note["on"] == 9 and "reactivate" in note["body"] and "zoe@acme" in note["body"]
        assert "zoe@acme.com" in gitlab_issue(gl)["description"]

        w.edit("zoe-leaves", *ZOE_LEAVES, "Zoe left")
        assert w.gitlab_mr_plan(gl, "zoe-leaves", 10).code == 0
        recorded = w.gitlab_apply(gl, w.gitlab_merge(gl, "zoe-leaves", 10))
        assert recorded.code == 0, recorded.log
        assert gl.open_issues() == []
        assert gl.calls[-1] == "PUT /issues/1"  # closed


def test_gitlab_a_skipped_apply_is_held_then_applied_by_the_manual_path(tmp_path: Path) -> None:
    with world(tmp_path) as w, gitlab_project() as gl:
        w.edit("carl-leaves", *CARL_LEAVES, "Carl leaves")
        w.edit("bob", *BOB, "Bob joins")
        assert w.gitlab_mr_plan(gl, "carl-leaves", 11).code == 0
        assert w.gitlab_mr_plan(gl, "bob", 12).code == 0  # before Carl's merge
        w.gitlab_merge(gl, "carl-leaves", 11)  # its apply never runs
        job = w.gitlab_apply(gl, w.gitlab_merge(gl, "bob", 12))
        assert job.code == 1
        assert w.dealhub.active("bob@acme") and w.pipedrive.active("bob@acme.com")
        assert held(job) == {
            ("dealhub", "deactivate", "carl@acme"),
            ("pipedrive", "deactivate", "carl@acme.com"),
        }
        assert "carl@acme.com" in gitlab_issue(gl)["description"]

        planned, applied = w.gitlab_manual(gl)
        # the plan to approve, in the log and the artifact
        assert "carl@acme" in planned.out and "carl@acme" in (planned.dir / "plan.txt").read_text()
        assert applied.code == 0, applied.log
        assert not w.dealhub.active("carl@acme") and not w.pipedrive.active("carl@acme.com")
        assert gl.open_issues() == []


def test_gitlab_a_merge_without_a_reviewed_plan_writes_nothing(tmp_path: Path) -> None:
    with world(tmp_path) as w, gitlab_project() as gl:
        w.edit("bob", *BOB, "Bob joins")
        job = w.gitlab_apply(gl, w.merge("bob"))  # pushed with no merge request
        assert job.code == 1
        assert "No merged merge request" in job.out
        assert w.dealhub.writes() == [] and w.pipedrive.writes() == []
        assert held(job) == {
            ("dealhub", "create", "bob@acme"),
            ("pipedrive", "create", "bob@acme.com"),
        }
        assert "bob@acme" in gitlab_issue(gl)["description"]


def test_gitlab_an_edited_plan_writes_nothing(tmp_path: Path) -> None:
    with world(tmp_path) as w, gitlab_project() as gl:
        w.edit("bob", *BOB, "Bob joins")
        assert w.gitlab_mr_plan(gl, "bob", 9).code == 0
        plan = json.loads(gl.mrs[9]["plans"][-1])
        (bob,) = [c for c in plan["plans"][1]["changes"] if c["login"] == "bob@acme.com"]
        bob["send"]["access"] = [{"app": "global", "admin": True}]  # made an admin
        gl.mrs[9]["plans"][-1] = json.dumps(plan).encode()
        job = w.gitlab_apply(gl, w.gitlab_merge(gl, "bob", 9))
        assert job.code == 1
        assert w.dealhub.writes() == [] and w.pipedrive.writes() == []
        assert "apply failed (exit 1)" in gitlab_issue(gl)["description"]


def test_gitlab_a_rejected_api_token_finds_no_plan_and_writes_nothing(tmp_path: Path) -> None:
    with world(tmp_path) as w, gitlab_project(token="another-token") as gl:
        w.edit("bob", *BOB, "Bob joins")
        gl.mrs[9] = {"sha": "0" * 40, "plans": []}
        job = w.gitlab_apply(gl, w.gitlab_merge(gl, "bob", 9))
        assert job.code != 0
        assert "Cannot find the reviewed plan: HTTP Error 401" in job.out
        assert "Nothing was written: no plan reviewed on a merged merge request" in job.out
        assert w.dealhub.writes() == [] and w.pipedrive.writes() == []
