"""The recipes' access review and leaver jobs (issues 22, 23), run through their own steps.

Each scenario is a git origin, both simulators served on loopback (DealHub and
Pipedrive, one people file), and the review or leaver job of each recipe run step by
step as a runner would (tests/ci/harness.py). What each system was sent is read back
from the simulators' request logs; GitHub's issues and pull requests are node mocks
under the recipe's own github-script, GitLab's a REST API on loopback.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from reconciler.render.review_formats import ARTIFACT
from tests.ci.harness import (
    COMPANY,
    GITHUB,
    GITLAB,
    LIFECYCLE,
    Job,
    World,
    git,
    github_step,
    gitlab_project,
    load,
    variables,
    world,
)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "git", "node")), reason="needs bash, git, node"
)

REVIEW_MARKER = "<!-- reconciler-review -->"
PACK = ("review.md", "review.html", "review.csv", "review.json")
#: Dan is listed, but has no account in either system: the review flags him absent.
ADMIN = "  - {login: admin@acme, email: admin@acme.com, name: Admin, systems: [pipedrive]}\n"
DAN = (ADMIN, ADMIN + "  - {login: dan@acme, email: dan@acme.com, name: Dan}\n")


def seen_yesterday() -> list[dict[str, Any]]:
    """Pipedrive's users, each logged in yesterday: nobody is dormant."""
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    return [{**u, "last_login": yesterday.strftime("%Y-%m-%d %H:%M:%S")} for u in COMPANY]


def pack_digest(job: Job) -> str:
    """The one digest every file of the review pack carries (asserting that they agree)."""
    found = {
        name: set(re.findall(r"sha256:[0-9a-f]{64}", (job.dir / name).read_text("utf-8")))
        for name in PACK
    }
    assert all(len(d) == 1 for d in found.values()), found
    (digest,) = set().union(*found.values())
    assert json.loads((job.dir / "review.json").read_text("utf-8"))["digest"] == digest
    return digest


def no_writes(w: World) -> None:
    assert w.dealhub.writes() == [] and w.pipedrive.writes() == []


# -- the access review --------------------------------------------------------------


def test_github_review_opens_one_issue_while_flagged_and_closes_it_when_clean(
    tmp_path: Path,
) -> None:
    with world(tmp_path, company=seen_yesterday()) as w:
        clean = w.github_review()
        assert clean.code == 0 and clean.outputs["exitcode"] == "0", clean.log
        assert w.github["issues"] == [] and w.github["calls"] == []  # nothing to open
        first = pack_digest(clean)

        w.edit("dan", *DAN, "Dan joins")
        w.merge("dan")
        flagged = w.github_review()
        assert flagged.code == 0, flagged.log  # flagged is what a review is for
        assert flagged.outputs["exitcode"] == "2"
        assert pack_digest(flagged) != first  # a row changed: Dan, absent
        (issue,) = w.open_issues()
        assert issue["body"].startswith(REVIEW_MARKER)
        assert "dan@acme" in issue["body"] and pack_digest(flagged) in issue["body"]
        summary = (flagged.dir / ".github-summary").read_text("utf-8")
        assert summary.startswith("## Access review") and "dan@acme" in summary
        # the markdown names the artifact the upload step keeps, with every file
        upload = _step("review", "Keep the review pack")
        assert upload["with"]["name"] == ARTIFACT
        assert set(upload["with"]["path"].split()) == set(PACK)
        assert f"`{ARTIFACT}` artifact" in (flagged.dir / "review.md").read_text("utf-8")

        again = w.github_review()
        assert again.outputs["exitcode"] == "2"
        assert [i["number"] for i in w.open_issues()] == [issue["number"]]  # updated, not new

        w.edit("dan", DAN[1], DAN[0], "Dan is not coming", base="main")
        w.merge("dan")
        closed = w.github_review()
        assert closed.code == 0 and closed.outputs["exitcode"] == "0"
        assert w.open_issues() == []
        assert w.github["calls"] == [
            "create",
            "update",
            f"comment {issue['number']}",
            "update closed",
        ]
        no_writes(w)


def test_github_review_refuses_a_pack_whose_formats_disagree(tmp_path: Path) -> None:
    """A system that changes between the four reads makes a pack of two states: refused."""
    with world(tmp_path) as w:
        work = w.checkout("origin/main")
        reviewed = w.github_run("review", "reconciler review", work)
        assert reviewed.outputs["exitcode"] == "2"  # Pipedrive's users never logged in
        csv = work / "review.csv"
        digest = pack_digest(Job(work, 0, "", ""))
        csv.write_text(csv.read_text("utf-8").replace(digest, "sha256:" + "0" * 64), "utf-8")
        done = subprocess.run(
            [sys.executable, str(LIFECYCLE), "review-pack", "--code", "2"],
            cwd=work,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(LIFECYCLE.parent)},
        )
        assert done.returncode == 1
        assert "different digests" in done.stderr
        assert json.loads((work / "review-issue.json").read_text("utf-8"))["state"] == "failed"
        # so the job's issue step does not run, and its last step fails
        last = w.github_run("review", "Fail on an error", work, code="1")
        assert last.code == 1
        issue_step = _step("review", "Open, update or close the review issue")["if"]
        assert (
            issue_step
            == "steps.review.outputs.exitcode == '0' || steps.review.outputs.exitcode == '2'"
        )


def test_github_review_with_no_token_fails_and_leaves_the_issue_alone(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github["issues"].append(
            {"number": 5, "title": "t", "body": f"{REVIEW_MARKER}\nold", "state": "open"}
        )
        work = w.checkout("origin/main")
        spec = _step("review", "reconciler review")
        recipe = {k: v for k, v in variables(load(GITHUB), "env").items() if "API_URL" not in k}
        unset = {"DEALHUB_TOKEN": "", "PIPEDRIVE_API_TOKEN": ""}  # as Actions fills a missing one
        env = w.env(work, {**recipe, **unset})
        done = w.run(spec["run"], work, env)
        assert done.code == 0 and done.outputs["exitcode"] == "1"
        assert "no API token" in done.err
        assert not (work / "review.json").exists()
        last = w.github_run("review", "Fail on an error", work, code="1")
        assert last.code == 1
        assert w.open_issues()[0]["body"] == f"{REVIEW_MARKER}\nold"


def test_gitlab_review_keeps_one_labelled_issue(tmp_path: Path) -> None:
    with world(tmp_path) as w, gitlab_project() as gl:
        flagged = w.gitlab_review(gl)
        assert flagged.code == 0, flagged.log  # exit 2 passes the job
        assert "reconciler review exited 2" in flagged.out
        digest = pack_digest(flagged)
        (issue,) = gl.open_issues("reconciler-review")
        assert issue["description"].startswith(REVIEW_MARKER) and digest in issue["description"]
        assert "dormant" in issue["description"]  # Pipedrive's users never logged in
        again = w.gitlab_review(gl)
        assert again.code == 0
        (same,) = gl.open_issues("reconciler-review")
        assert same["iid"] == issue["iid"] and len(gl.issues) == 1  # updated, not a new one
        assert gl.open_issues() == []  # the held issue is another one
        assert set(gl.tokens) == {"NOTES"}
        no_writes(w)


def test_gitlab_review_closes_the_issue_when_nothing_is_flagged(tmp_path: Path) -> None:
    with world(tmp_path, company=seen_yesterday()) as w, gitlab_project() as gl:
        w.edit("dan", *DAN, "Dan joins")
        w.merge("dan")
        assert w.gitlab_review(gl).code == 0
        (issue,) = gl.open_issues("reconciler-review")
        w.edit("dan", DAN[1], DAN[0], "Dan is not coming", base="main")
        w.merge("dan")
        clean = w.gitlab_review(gl)
        assert clean.code == 0 and "reconciler review exited 0" in clean.out
        assert gl.open_issues("reconciler-review") == []
        assert [i["state"] for i in gl.issues] == ["closed"]
        assert f"POST /issues/{issue['iid']}/notes" in gl.calls


def test_the_monthly_review_and_the_drift_check_never_run_on_each_others_schedule() -> None:
    github = load(GITHUB)
    crons = [c["cron"] for c in github.get("on", github.get(True))["schedule"]]
    assert len(crons) == 2
    review, drift = github["jobs"]["review"]["if"], github["jobs"]["drift"]["if"]
    (monthly,) = [c for c in crons if f"'{c}'" in review]
    assert f"github.event.schedule == '{monthly}'" in review
    assert f"github.event.schedule != '{monthly}'" in drift
    assert re.fullmatch(r"\d+ \d+ 1 \* \*", monthly)  # once a month
    gitlab = load(GITLAB)
    assert '$RECONCILER_JOB == "review"' in gitlab["review"]["rules"][0]["if"]
    assert '$RECONCILER_JOB != "review"' in gitlab["drift"]["rules"][0]["if"]
    # never in an apply's queue, never cancelled
    jobs = github["jobs"]
    assert jobs["review"]["concurrency"] == {
        "group": "reconciler-review",
        "cancel-in-progress": False,
    }
    assert gitlab["review"]["resource_group"] not in (
        gitlab["apply"]["resource_group"],
        gitlab["drift"]["resource_group"],
    )
    assert jobs["review"]["permissions"] == {"contents": "read", "issues": "write"}
    assert "github.ref == 'refs/heads/main'" in review  # by hand: main's files, as the issue says
    assert "environment" not in jobs["review"]  # it never writes to a system


# -- the leaver ---------------------------------------------------------------------


def _step(job: str, name: str) -> dict[str, Any]:
    return github_step(job, name)


def origin_file(w: World, ref: str) -> str:
    git(w.dev, "fetch", "-q", "origin")
    return git(w.dev, "show", f"origin/{ref}:users/team.yaml")


def test_github_leaver_deactivates_now_keeps_the_record_and_opens_a_pull_request(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w:
        before = origin_file(w, "main")
        job = w.github_leaver("Zoe@Acme.com")  # an email, in any letter case
        assert job.code == 0, job.log
        assert not w.dealhub.active("zoe@acme") and not w.pipedrive.active("zoe@acme.com")
        # that one person's deactivation, and nothing else, in each system
        assert w.dealhub.written() == {"zoe@acme"} and w.pipedrive.written() == {"zoe@acme.com"}
        record = json.loads((job.dir / "leave.json").read_text("utf-8"))
        assert record["ok"] is True
        assert {s["system"]: s["state"] for s in record["systems"]} == {
            "dealhub": "deactivated",
            "pipedrive": "deactivated",
        }
        assert all(s["verified"] for s in record["systems"])
        # the edit, on a new branch of the origin, and its pull request
        branch = job.outputs["branch"]
        assert branch == "reconciler/leave-4242-1"
        edited = origin_file(w, branch)
        assert origin_file(w, "main") == before  # main is changed by the merge, not by the job
        changed = [
            (a, b) for a, b in zip(before.splitlines(), edited.splitlines(), strict=True) if a != b
        ]
        assert len(changed) == 1 and "zoe@acme" in changed[0][1]
        assert "is_active: false" in changed[0][1]
        (pr,) = w.github["pulls"]
        assert pr["head"] == branch and pr["base"] == "main"
        assert pr["title"] == "Leaver: Zoe@Acme.com (reconciler leave)"
        assert "deactivated" in pr["body"] and "is_active: false" in pr["body"]
        assert "Close and reopen" in pr["body"]
        # the repository catches up: the pull request's plan changes nothing, and its
        # merge's apply writes nothing and holds nothing
        reviewed = w.github_pr_plan(branch)
        plans = json.loads((reviewed / "plan.json").read_text("utf-8"))["plans"]
        assert [(p["system"], p["changes"]) for p in plans] == [("dealhub", []), ("pipedrive", [])]
        seen = len(w.dealhub.entries()), len(w.pipedrive.entries())
        applied = w.github_apply(w.merge(branch), reviewed)
        assert applied.code == 0, applied.log
        assert w.dealhub.written(seen[0]) == set() and w.pipedrive.written(seen[1]) == set()
        assert w.open_issues() == []


def test_github_leaver_of_someone_already_gone_opens_no_pull_request(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.deactivate_by_hand("carl@acme")
        seen = len(w.dealhub.entries()), len(w.pipedrive.entries())
        w.edit("carl", "name: Carl}", "name: Carl, is_active: false}", "Carl left")
        w.merge("carl")
        job = w.github_leaver("carl@acme")
        assert job.code == 0, job.log
        assert "no pull request" in job.out and w.github["pulls"] == []
        assert w.dealhub.written(seen[0]) == set() and w.pipedrive.written(seen[1]) == set()


@pytest.mark.parametrize(
    "person",
    [
        "$(touch pwned)",
        "zoe@acme; touch pwned",
        "`touch pwned`",
        "-h",
        "--no-edit",
        "zoe@acme\nx",
        "",
        "a..b@acme",
        "zoe@acme ${{ github.token }}",
    ],
)
def test_github_leaver_refuses_a_person_that_cannot_be_a_login(tmp_path: Path, person: str) -> None:
    with world(tmp_path) as w:
        job = w.github_leaver(person)
        assert job.code == 1
        assert "is not a login or an email" in job.err
        assert not (job.dir / "pwned").exists() and not (job.dir / "leave.json").exists()
        assert w.dealhub.entries() == [] and w.pipedrive.entries() == []


def test_the_leave_step_never_runs_its_input_as_shell(tmp_path: Path) -> None:
    """Even without the check, PERSON reaches reconciler as one argument, never as code."""
    with world(tmp_path) as w:
        work = w.checkout("origin/main")
        left = w.github_run("leaver", "reconciler leave", work, PERSON="$(touch pwned)")
        assert left.outputs["exitcode"] == "1"
        assert "$(touch pwned) is neither in the files nor in" in left.err  # taken as typed
        assert not (work / "pwned").exists()
        assert w.dealhub.writes() == [] and w.pipedrive.writes() == []


def test_github_leaver_refused_for_the_token_owner_writes_nothing(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        job = w.github_leaver("admin@acme.com")  # the Pipedrive token's own user
        assert job.code == 1 and job.outputs["exitcode"] == "3"
        assert w.dealhub.writes() == [] and w.pipedrive.writes() == []
        assert "branch" not in job.outputs and w.github["pulls"] == []
        assert json.loads((job.dir / "leave.json").read_text("utf-8"))["refused"]


def test_gitlab_leaver_commits_the_edit_and_opens_a_merge_request(tmp_path: Path) -> None:
    with world(tmp_path) as w, gitlab_project() as gl:
        job = w.gitlab_leaver(gl, "zoe@acme")
        assert job.code == 0, job.log
        assert not w.dealhub.active("zoe@acme") and not w.pipedrive.active("zoe@acme.com")
        assert w.dealhub.written() == {"zoe@acme"} and w.pipedrive.written() == {"zoe@acme.com"}
        (commit,) = gl.commits
        assert commit["branch"] == "reconciler/leave-777" and commit["start_branch"] == "main"
        (action,) = commit["actions"]
        assert action["action"] == "update" and action["file_path"] == "users/team.yaml"
        assert action["content"] == (job.dir / "users" / "team.yaml").read_text("utf-8")
        assert "is_active: false" in action["content"]
        (mr,) = gl.opened
        assert mr["source_branch"] == "reconciler/leave-777" and mr["target_branch"] == "main"
        assert mr["title"] == "Leaver: zoe@acme (reconciler leave)"
        assert mr["remove_source_branch"] is True
        assert gl.tokens == ["LEAVER", "LEAVER"]  # the notes token never writes a branch
        assert json.loads((job.dir / "leave.json").read_text("utf-8"))["ok"] is True


def test_gitlab_leaver_refuses_a_hostile_person_before_any_read(tmp_path: Path) -> None:
    with world(tmp_path) as w, gitlab_project() as gl:
        job = w.gitlab_leaver(gl, "zoe@acme$(touch pwned)")
        assert job.code == 1 and "is not a login or an email" in job.err
        assert not (job.dir / "pwned").exists()
        assert w.dealhub.entries() == [] and w.pipedrive.entries() == [] and gl.calls == []


def test_gitlab_leaver_with_a_system_down_still_records_the_edit_and_fails(tmp_path: Path) -> None:
    """One system failing does not stop the other; the merge request lets the apply finish."""
    with world(tmp_path) as w, gitlab_project() as gl:
        assert w.pipedrive.proc is not None
        w.pipedrive.proc.terminate()
        w.pipedrive.proc.wait(timeout=10)
        job = w.gitlab_leaver(gl, "zoe@acme")
        assert job.code == 1
        assert not w.dealhub.active("zoe@acme")
        record = json.loads((job.dir / "leave.json").read_text("utf-8"))
        states = {s["system"]: s["state"] for s in record["systems"]}
        assert states == {"dealhub": "deactivated", "pipedrive": "failed"}
        (mr,) = gl.opened
        assert "not done everywhere" in mr["description"]


def test_no_expression_is_interpolated_into_a_script() -> None:
    """Inputs are hostile: `${{ ... }}` only in `env:` and `with:` values, never in the text
    of a shell or JavaScript step, where a value would become code."""
    workflow = load(GITHUB)
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            for text in (step.get("run"), (step.get("with") or {}).get("script")):
                assert "${{" not in (text or ""), (name, step.get("name"))
    person = [
        (name, step.get("name"))
        for name, job in workflow["jobs"].items()
        for step in job["steps"]
        if "inputs.person" in json.dumps(step)
    ]
    assert {where for where, _ in person} == {"leaver"}
    for name, step_name in person:
        assert _step(name, str(step_name))["env"]["PERSON"] == "${{ inputs.person }}"
    # GitLab: PERSON is a pipeline variable, already only in the environment; the
    # leaver checks it before its first read
    script = load(GITLAB)["leaver"]["script"]
    assert script[0] == 'python3 "$LIFECYCLE_SCRIPT" person'
    assert all('"$PERSON"' in line for line in script if "$PERSON" in line)


def readme_section(title: str) -> str:
    text = (GITHUB.parents[3] / "README.md").read_text("utf-8")
    assert f"\n## {title}\n" in text, title
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_explains_the_review_and_the_leaver_and_their_jobs() -> None:
    from tests.ci.harness import check_call, fenced, reconciler_calls

    review = readme_section("Access reviews and seats")
    for needed in ("not listed", "dormant", "admin", "absent", "--dormant-days",
                   "--detailed-exitcode", "--details", ARTIFACT, "one digest"):  # fmt: skip
        assert needed in review, needed
    for fmt in ("text", "markdown", "csv", "json", "html"):
        assert f"`--format {fmt}`" in review, fmt
    leave = readme_section("Emergency: someone leaves now")
    for needed in ("What it does not do", "--no-edit", "--auto-approve", "exit 3",
                   "reconciler-leave", "RECONCILER_LEAVER_TOKEN", "production"):  # fmt: skip
        assert needed in leave, needed
    job = 'reconciler leave "$PERSON" "$USERS_DIR/" --auto-approve --format json'
    assert job in leave and job in GITHUB.read_text("utf-8") and job in GITLAB.read_text("utf-8")
    calls = [c for s in (review, leave) for b in fenced(s, "sh") for c in reconciler_calls(b)]
    assert {c[0] for c in calls} == {"review", "leave"}
    assert [p for c in calls for p in check_call(c)] == []
    adopting = readme_section("Adopting reconciler")
    install = adopting.split("\n2. ", 1)[0]
    for needed in ("uses: OWNER/reconciler@vX.Y.Z", "RECONCILER_PIP_SPEC",
                   "RECONCILER_WHEEL_SHA256", "sha256sum", "rev: vX.Y.Z"):  # fmt: skip
        assert needed in install, needed
    assert "lifecycle.py" in adopting


def test_gitlab_leaver_and_review_jobs_are_where_they_must_be() -> None:
    gitlab = load(GITLAB)
    leaver, review = gitlab["leaver"], gitlab["review"]
    # the leaver writes to the systems: production, the default branch, by hand only
    assert leaver["environment"]["name"] == "production"
    (rule,) = leaver["rules"]
    assert '$CI_PIPELINE_SOURCE == "web"' in rule["if"] and "$CI_DEFAULT_BRANCH" in rule["if"]
    assert '$RECONCILER_JOB == "leaver"' in rule["if"]
    assert leaver["artifacts"]["when"] == "always"
    assert set(leaver["artifacts"]["paths"]) == {"leave.json", "leaver.md"}
    assert "environment" not in review  # it never writes
    assert review["variables"]["GIT_DEPTH"] == "0"  # provenance needs the whole history
    assert set(review["artifacts"]["paths"]) == set(PACK)
    assert review["artifacts"]["name"] == ARTIFACT
    groups = [gitlab[name]["resource_group"] for name in ("apply", "drift", "review", "leaver")]
    assert len(set(groups)) == 4
    # a pipeline run by hand for the review or the leaver plans and applies nothing
    for name in ("manual-plan", "apply"):
        (web,) = [r for r in gitlab[name]["rules"] if '"web"' in r["if"]]
        assert '$RECONCILER_JOB == "apply"' in web["if"], name
    assert gitlab["variables"]["RECONCILER_JOB"]["options"] == ["apply", "review", "leaver"]
