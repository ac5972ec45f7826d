"""A small world for the CI recipes: a bare git origin, both simulators on loopback,
and the recipes' own shell steps run as a runner would run them.

Each CI job is a fresh clone of the origin at the commit the platform would check
out, with `reconciler`, `python` and `python3` on PATH as this interpreter, the
recipe's top-level variables, and the tokens given only to the steps whose `env:`
names them (GitHub) or to the whole job (GitLab, which hands every CI/CD variable
to every job). The simulators are `reconciler sim serve` child processes that log
every request, so a test can tell exactly what was written.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent.parent
CI_DIR = REPO / "examples" / "ci"
GITHUB = CI_DIR / "github" / "reconciler.yml"
GITLAB = CI_DIR / "gitlab" / ".gitlab-ci.yml"
HELD = CI_DIR / "held.py"
LIFECYCLE = CI_DIR / "lifecycle.py"
#: What the CI secret store holds; never to be seen in any output.
SECRETS = {"DEALHUB_TOKEN": "dh-secret-5b1e", "PIPEDRIVE_API_TOKEN": "pd-secret-9c0d"}
#: The project access token the GitLab recipe calls RECONCILER_NOTES_TOKEN.
NOTES_TOKEN = "gl-notes-3f2a"
#: The protected project access token the GitLab leaver calls RECONCILER_LEAVER_TOKEN.
LEAVER_TOKEN = "gl-leaver-7e41"
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def variables(doc: dict[str, Any], key: str) -> dict[str, str]:
    """A recipe's top-level variables as a job sees them (GitLab's expanded form: its value)."""
    found = {}
    for name, value in (doc.get(key) or {}).items():
        found[name] = str(value["value"] if isinstance(value, dict) else value)
    return found


def github_step(job: str, name: str) -> dict[str, Any]:
    """The step of a GitHub job with this name (or id)."""
    for step in load(GITHUB)["jobs"][job]["steps"]:
        if name in (step.get("name"), step.get("id")):
            return dict(step)
    raise KeyError(f"{job}: no step {name!r}")


def gitlab_script(job: str) -> str:
    """A GitLab job's `script:` as the one shell script the runner makes of it."""
    lines = load(GITLAB)[job]["script"]
    return "\n".join(lines if isinstance(lines, list) else [lines])


def step_secrets(step: dict[str, Any], secrets: dict[str, str]) -> dict[str, str]:
    """The step's `env:` entries that name a secret, as Actions fills them (unset: empty)."""
    found = {}
    for name, value in (step.get("env") or {}).items():
        if match := re.fullmatch(r"\$\{\{ secrets\.(\w+) \}\}", str(value)):
            found[name] = secrets.get(match.group(1), "")
    return found


def shims(bin_dir: Path) -> Path:
    """A bin directory whose `reconciler`, `python` and `python3` are this interpreter's."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, run in (("reconciler", "-m reconciler"), ("python", ""), ("python3", "")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {run} "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    return bin_dir


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout.strip()


# -- the simulators ----------------------------------------------------------------


@dataclass
class Sim:
    """One `reconciler sim serve` child: its state file, request log and URL."""

    system: str
    state: Path
    log: Path
    url: str = ""
    proc: subprocess.Popen[str] | None = None

    def entries(self) -> list[dict[str, Any]]:
        """Every request served so far, as the simulator logged it (never the token)."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def writes(self) -> list[tuple[str, str]]:
        """(method, path) of every request that could write."""
        return [(e["method"], e["path"]) for e in self.entries() if e["method"] != "GET"]

    def written(self, since: int = 0) -> set[str]:
        """The users the writes carried (from request number `since`): DealHub logins,
        Pipedrive emails."""
        keys: set[str] = set()
        by_id = {str(u["id"]): key for key, u in self.users().items()}
        for entry in self.entries()[since:]:
            body = entry.get("body") or {}
            if entry["method"] == "PUT" and self.system == "dealhub":
                keys |= {str(u["login"]).lower() for u in body.get("users", [])}
            elif entry["method"] == "POST":
                keys.add(str(body.get("email", "")).lower())
            elif entry["method"] == "PUT":
                keys.add(by_id.get(entry["path"].rsplit("/", 1)[1], entry["path"]))
        return keys

    def users(self) -> dict[str, dict[str, Any]]:
        """The users as the simulator saved them: DealHub by login, Pipedrive by email."""
        data = json.loads(self.state.read_text(encoding="utf-8"))
        key = "email" if self.system == "pipedrive" else "login"
        return {str(u[key]).lower(): u for u in data}

    def active(self, key: str) -> bool:
        user = self.users()[key]
        return bool(user["active_flag"] if self.system == "pipedrive" else user["is_active"])


@contextlib.contextmanager
def serving(sim: Sim, token: str) -> Iterator[Sim]:
    command = [
        sys.executable, "-m", "reconciler", "sim", "serve", "--system", sim.system,
        "--port", "0", "--state", str(sim.state), "--request-log", str(sim.log),
    ]  # fmt: skip
    env = {**os.environ, "DEALHUB_TOKEN": token, "PIPEDRIVE_API_TOKEN": token}
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(proc.stderr.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=30)
        match = re.search(r" on (http://127\.0\.0\.1:\d+) ", first[0] if first else "")
        assert match, f"the simulator did not start: {first}"
        sim.url, sim.proc = match[1], proc
        yield sim
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the world: origin, simulators, jobs ------------------------------------------------


PEOPLE = """\
version: 1
settings:
  systems: [dealhub, pipedrive]
  unlisted: deactivate
  max_deactivations: 50%
defaults:
  pipedrive: {access: [{app: sales}]}
users:
  - {login: admin@acme, email: admin@acme.com, name: Admin, systems: [pipedrive]}
  - login: alice@acme
    name: Alice
    email: alice@acme.com
    city: Paris
    country: France
    position: Sales
  - {login: zoe@acme, email: zoe@acme.com, name: Zoe}
  - {login: carl@acme, email: carl@acme.com, name: Carl}
"""
TENANT = [
    {
        "login": "alice@acme", "email": "alice@acme.com", "name": "Alice", "city": "Paris",
        "country": "France", "position": "Sales", "is_active": True,
    },
    {"login": "zoe@acme", "email": "zoe@acme.com", "name": "Zoe", "is_active": True},
    {"login": "carl@acme", "email": "carl@acme.com", "name": "Carl", "is_active": True},
]  # fmt: skip


def pipedrive_user(uid: int, email: str, name: str, *, you: bool = False) -> dict[str, Any]:
    access = [{"app": "global", "admin": True}] if you else [{"app": "sales", "admin": False}]
    return {
        "id": uid, "name": name, "email": email, "active_flag": True, "is_you": you,
        "is_deleted": False, "activated": True, "access": access,
    }  # fmt: skip


COMPANY = [
    pipedrive_user(1, "admin@acme.com", "Admin", you=True),
    pipedrive_user(2, "alice@acme.com", "Alice"),
    pipedrive_user(3, "zoe@acme.com", "Zoe"),
    pipedrive_user(4, "carl@acme.com", "Carl"),
]


@dataclass
class Job:
    """What one CI job left: its directory, exit code and output."""

    dir: Path
    code: int
    out: str
    err: str
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def log(self) -> str:
        return self.out + self.err


@dataclass
class World:
    root: Path
    dealhub: Sim
    pipedrive: Sim
    origin: Path
    dev: Path
    bin: Path
    jobs: int = 0
    #: GitHub's side of the posting step: issues and comments, kept across runs.
    github: dict[str, Any] = field(
        default_factory=lambda: {"issues": [], "comments": [], "calls": [], "pulls": []}
    )

    # -- git ---------------------------------------------------------------------

    def edit(self, branch: str, old: str, new: str, message: str, base: str = "main") -> str:
        """Commit one text change of users/team.yaml on `branch` (made from `base`); push it."""
        git(self.dev, "fetch", "-q", "origin")
        exists = git(self.dev, "ls-remote", "origin", f"refs/heads/{branch}")
        git(self.dev, "checkout", "-q", "-B", branch, f"origin/{branch if exists else base}")
        path = self.dev / "users" / "team.yaml"
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, (old, text)
        path.write_text(text.replace(old, new), encoding="utf-8")
        git(self.dev, "commit", "-qam", message)
        git(self.dev, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return git(self.dev, "rev-parse", "HEAD")

    def merge(self, branch: str) -> str:
        """Merge a pull request into main (a merge commit, as GitHub and GitLab make)."""
        git(self.dev, "fetch", "-q", "origin")
        git(self.dev, "checkout", "-q", "-B", "main", "origin/main")
        git(self.dev, "merge", "-q", "--no-ff", "--no-edit", f"origin/{branch}")
        git(self.dev, "push", "-q", "origin", "HEAD:refs/heads/main")
        return git(self.dev, "rev-parse", "HEAD")

    def checkout(self, ref: str, merge: str | None = None) -> Path:
        """A fresh clone at `ref` (detached), as a runner checks out; `merge` merged in."""
        self.jobs += 1
        work = self.root / f"job{self.jobs}"
        subprocess.run(
            ["git", "clone", "-q", str(self.origin), str(work)], check=True, capture_output=True
        )
        git(work, "checkout", "-q", "--detach", ref)
        if merge is not None:  # GitHub's refs/pull/N/merge: the branch merged into main
            git(work, "merge", "-q", "--no-edit", merge)
        return work

    # -- running the recipes' steps ------------------------------------------------------

    def env(self, work: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DEALHUB_", "PIPEDRIVE_"))}
        env.update(
            PATH=f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            DEALHUB_API_URL=self.dealhub.url,
            PIPEDRIVE_API_URL=self.pipedrive.url,
            GITHUB_OUTPUT=str(work / ".github-output"),
            GITHUB_STEP_SUMMARY=str(work / ".github-summary"),
            NO_COLOR="1",
        )
        return {**env, **(extra or {})}

    def run(self, script: str, work: Path, env: dict[str, str]) -> Job:
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        for secret in (*SECRETS.values(), NOTES_TOKEN, LEAVER_TOKEN):
            assert secret not in done.stdout + done.stderr
        outputs = {}
        out_file = work / ".github-output"
        if out_file.exists():
            for line in out_file.read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("=")
                outputs[key] = value
        return Job(work, done.returncode, done.stdout, done.stderr, outputs)

    def github_run(self, job: str, step: str, work: Path, **extra: str) -> Job:
        spec = github_step(job, step)
        recipe_env = {k: v for k, v in variables(load(GITHUB), "env").items() if "API_URL" not in k}
        secrets = step_secrets(spec, SECRETS)
        env = self.env(work, {**recipe_env, "GITHUB_ACTIONS": "true", **extra, **secrets})
        return self.run(spec["run"], work, env)

    def gitlab_run(self, job: str, work: Path, **extra: str) -> Job:
        recipe = {
            k: v for k, v in variables(load(GITLAB), "variables").items() if "API_URL" not in k
        }
        env = self.env(work, {**recipe, **SECRETS, **extra})
        return self.run(gitlab_script(job), work, env)

    # -- GitHub: a pull request's plan, and a merge's apply ---------------------------------

    def github_pr_plan(self, branch: str) -> Path:
        """The plan job of a pull request; returns its `reconciler-plan` artifact."""
        work = self.checkout("origin/main", merge=f"origin/{branch}")
        planned = self.github_run("plan", "reconciler plan", work)
        assert planned.code == 0, planned.err
        assert planned.outputs["exitcode"] in ("0", "2"), planned.log
        artifact = self.root / f"artifact-{branch.replace('/', '-')}-{self.jobs}"
        artifact.mkdir()
        for name in ("plan.json", "plan.txt"):
            shutil.copy(work / name, artifact / name)
        return artifact

    def github_apply(self, sha: str, artifact: Path | None, pr: int | None = 7) -> Job:
        """The apply job of a push to main at `sha`, given the merged PR's plan artifact.

        Runs the recipe's apply step, its posting step (actions/github-script, under
        node, against `self.github`), and its last step; the Job's code is the job's.
        """
        work = self.checkout(sha)
        if artifact is not None:  # what "Download the reviewed plan" leaves
            shutil.copytree(artifact, work / "saved-plan")
        return self._github_apply(work, sha, pr)

    def github_manual(self) -> tuple[Job, Job]:
        """The manual path: manual-plan on main, then the approved apply of that plan."""
        work = self.checkout("origin/main")
        planned = self.github_run("manual-plan", "reconciler plan", work)
        assert planned.code == 0, planned.log
        sha = git(work, "rev-parse", "HEAD")
        apply_dir = self.checkout(sha)
        (apply_dir / "saved-plan").mkdir()
        for name in ("plan.json", "plan.txt"):  # the artifact, in the same run
            shutil.copy(work / name, apply_dir / "saved-plan" / name)
        return planned, self._github_apply(apply_dir, sha, None)

    def _github_apply(self, work: Path, sha: str, pr: int | None) -> Job:
        applied = self.github_run("apply", "reconciler apply", work, GITHUB_SHA=sha)
        assert applied.code == 0, applied.log  # the step records the code; later steps act
        code = applied.outputs["exitcode"]
        self.github_post(work, pr)
        last = self.github_run("apply", "Fail when anything was held or failed", work, code=code)
        return Job(work, last.code, applied.out + last.out, applied.err + last.err, applied.outputs)

    def github_post(self, work: Path, pr: int | None) -> None:
        self.github_script("apply", "Post what was held", work, PR=str(pr) if pr else "")

    def github_script(self, job: str, step: str, work: Path, **env: str) -> None:
        """Run a github-script step under node against `self.github` (issues, pulls)."""
        script = github_step(job, step)["with"]["script"]
        (work / "post.js").write_text(script, encoding="utf-8")
        (work / "harness.js").write_text(POST_HARNESS, encoding="utf-8")
        state = work / "github-state.json"
        state.write_text(json.dumps(self.github), encoding="utf-8")
        subprocess.run(
            ["node", "harness.js", "post.js", str(state)],
            cwd=work,
            env={**os.environ, **env},
            check=True,
            timeout=60,
        )
        self.github = json.loads(state.read_text(encoding="utf-8"))

    def by_hand(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """reconciler ARGS run by a person at a terminal of their own, against both systems."""
        env = self.env(self.dev, SECRETS)
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            cwd=cwd or self.dev,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def deactivate_by_hand(self, login: str) -> None:
        """What an admin does in each system's own UI: deactivate one person, now."""
        email = str(self.dealhub.users()[login]["email"])
        dealhub = {k: v for k, v in self.dealhub.users()[login].items() if k != "id"}
        headers = {"Authorization": f"Bearer {SECRETS['DEALHUB_TOKEN']}"}
        with httpx.Client(base_url=self.dealhub.url, headers=headers) as client:
            sent = client.put("/api/v2/users", json={"users": [{**dealhub, "is_active": False}]})
            assert sent.status_code == 200 and "errors" not in sent.text, sent.text
        uid = self.pipedrive.users()[email.lower()]["id"]
        headers = {"x-api-token": SECRETS["PIPEDRIVE_API_TOKEN"]}
        with httpx.Client(base_url=self.pipedrive.url, headers=headers) as client:
            sent = client.put(f"/v1/users/{uid}", json={"active_flag": False})
            assert sent.status_code == 200, sent.text

    def open_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.github["issues"] if i["state"] == "open"]

    # -- GitLab: a merge request's pipeline, a merge's apply, the manual path -------------

    def gitlab_vars(self, gl: GitLabProject, **extra: str) -> dict[str, str]:
        return {
            "CI_API_V4_URL": gl.url,
            "CI_PROJECT_ID": "5",
            "CI_JOB_URL": "https://gitlab.example/o/r/-/jobs/1",
            "RECONCILER_NOTES_TOKEN": NOTES_TOKEN,
            **extra,
        }

    def gitlab_mr_plan(self, gl: GitLabProject, branch: str, iid: int) -> Job:
        """A merge request's pipeline (target main): its plan job, whose plan.json the
        project then keeps as that pipeline's artifact."""
        git(self.dev, "fetch", "-q", "origin")
        head = git(self.dev, "rev-parse", f"origin/{branch}")
        work = self.checkout(head)
        job = self.gitlab_run(
            "plan",
            work,
            **self.gitlab_vars(
                gl,
                CI_PIPELINE_SOURCE="merge_request_event",
                CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
                CI_MERGE_REQUEST_IID=str(iid),
                CI_COMMIT_SHORT_SHA=head[:8],
            ),
        )
        mr = gl.mrs.setdefault(iid, {"sha": head, "plans": []})
        mr["sha"] = head
        if (work / "plan.json").exists():
            mr["plans"].append((work / "plan.json").read_bytes())
        return job

    def gitlab_merge(self, gl: GitLabProject, branch: str, iid: int) -> str:
        sha = self.merge(branch)
        gl.merged[sha] = iid
        return sha

    def gitlab_apply(self, gl: GitLabProject, sha: str) -> Job:
        """The apply job of the default branch's push pipeline at `sha`."""
        work = self.checkout(sha)
        extra = self.gitlab_vars(gl, CI_PIPELINE_SOURCE="push", CI_COMMIT_SHA=sha)
        return self.gitlab_run("apply", work, **extra)

    def gitlab_manual(self, gl: GitLabProject) -> tuple[Job, Job]:
        """A pipeline run by hand on main: manual-plan, then the apply job, played."""
        work = self.checkout("origin/main")
        sha = git(work, "rev-parse", "HEAD")
        extra = self.gitlab_vars(gl, CI_PIPELINE_SOURCE="web", CI_COMMIT_SHA=sha)
        planned = self.gitlab_run("manual-plan", work, **extra)
        assert planned.code == 0, planned.log
        apply_dir = self.checkout(sha)
        (apply_dir / "saved-plan").mkdir()  # manual-plan's artifact, through `needs:`
        shutil.copy(work / "saved-plan" / "plan.json", apply_dir / "saved-plan" / "plan.json")
        return planned, self.gitlab_run("apply", apply_dir, **extra)

    # -- the access review and the leaver -------------------------------------------------

    def github_review(self) -> Job:
        """The review job on main: its review step, then (as its `if:` says) the issue step.

        The Job's code is that of the job's last step; its outputs the review step's.
        """
        work = self.checkout("origin/main")
        reviewed = self.github_run("review", "reconciler review", work, RUN_URL="https://run/1")
        assert reviewed.code == 0, reviewed.log  # the step records the code; later steps act
        code = reviewed.outputs["exitcode"]
        if code in ("0", "2"):
            self.github_script("review", "Open, update or close the review issue", work)
        last = self.github_run("review", "Fail on an error", work, code=code)
        return Job(
            work, last.code, reviewed.out + last.out, reviewed.err + last.err, reviewed.outputs
        )

    def gitlab_review(self, gl: GitLabProject) -> Job:
        """The review job of the monthly schedule (RECONCILER_JOB=review) on main."""
        work = self.checkout("origin/main")
        extra = self.gitlab_vars(gl, CI_PIPELINE_SOURCE="schedule", RECONCILER_JOB="review")
        return self.gitlab_run("review", work, **extra)

    def github_leaver(self, person: str) -> Job:
        """The leaver job on main, run by hand with `person`: every step, in order, as
        their `if:` says; the Job's code is the job's."""
        work = self.checkout("origin/main")
        run = {"PERSON": person, "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1"}
        checked = self.github_run("leaver", "Check the person", work, **run)
        if checked.code != 0:
            return checked
        left = self.github_run("leaver", "reconciler leave", work, RUN_URL="https://run/2", **run)
        assert left.code == 0, left.log
        committed = self.github_run("leaver", "Commit the edit on a new branch", work, **run)
        assert committed.code == 0, committed.log
        branch = committed.outputs.get("branch", "")
        if branch:
            self.github_script(
                "leaver", "Open the pull request", work, PERSON=person, BRANCH=branch
            )
        code = left.outputs["exitcode"]
        last = self.github_run(
            "leaver", "Fail unless the person is out everywhere", work, code=code
        )
        out, err = left.out + committed.out + last.out, left.err + committed.err + last.err
        return Job(work, last.code, out, err, {**left.outputs, **committed.outputs})

    def gitlab_leaver(self, gl: GitLabProject, person: str) -> Job:
        """A pipeline run by hand on main with RECONCILER_JOB=leaver and PERSON: the leaver
        job, which (protected, in production) alone gets RECONCILER_LEAVER_TOKEN."""
        work = self.checkout("origin/main")
        extra = self.gitlab_vars(
            gl,
            CI_PIPELINE_SOURCE="web",
            RECONCILER_JOB="leaver",
            PERSON=person,
            CI_PIPELINE_ID="777",
            CI_DEFAULT_BRANCH="main",
            RECONCILER_LEAVER_TOKEN=LEAVER_TOKEN,
        )
        return self.gitlab_run("leaver", work, **extra)


def node_harness(mocks: str) -> str:
    """A node script that runs a github-script step (argv: script, state.json)."""
    return f"""
const fs = require('fs');
const [scriptPath, statePath] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
const AsyncFunction = Object.getPrototypeOf(async function () {{}}).constructor;
{mocks}
new AsyncFunction('require', 'github', 'context', 'core', fs.readFileSync(scriptPath, 'utf8'))(
  require, github, context, core,
).then(() => fs.writeFileSync(statePath, JSON.stringify(state)),
       (e) => {{ console.error(e); process.exit(1); }});
"""


#: GitHub's issues API as the posting step uses it, over `state` (issues, comments).
POST_HARNESS = node_harness(
    r"""
const find = (n) => state.issues.find((i) => i.number === n);
const github = {
  paginate: async (fn, params) => (await fn(params)).data,
  rest: { issues: {
    listForRepo: async (p) => ({ data: state.issues.filter((i) => i.state === p.state) }),
    create: async (p) => {
      state.issues.push({ number: 100 + state.issues.length, title: p.title, body: p.body,
                          state: 'open' });
      state.calls.push('create');
    },
    update: async (p) => {
      const issue = find(p.issue_number);
      if (p.body !== undefined) issue.body = p.body;
      if (p.state !== undefined) issue.state = p.state;
      state.calls.push(p.state ? `update ${p.state}` : 'update');
    },
    createComment: async (p) => {
      state.comments.push({ on: p.issue_number, body: p.body });
      state.calls.push(`comment ${p.issue_number}`);
    },
  } },
};
github.rest.pulls = {
  create: async (p) => {
    const pr = { number: 200 + state.pulls.length, head: p.head, base: p.base, title: p.title,
                 body: p.body };
    state.pulls.push(pr);
    state.calls.push('pull');
    return { data: pr };
  },
};
const context = { repo: { owner: 'o', repo: 'r' } };
const core = { info() {}, setOutput() {} };
"""
)


@contextlib.contextmanager
def world(
    tmp_path: Path, people: str = PEOPLE, company: list[dict[str, Any]] | None = None
) -> Iterator[World]:
    """An origin whose main holds `people` (and the helpers), and both simulators serving
    (Pipedrive's users: `company`, by default COMPANY)."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    dev = tmp_path / "dev"
    subprocess.run(["git", "clone", "-q", str(origin), str(dev)], check=True, capture_output=True)
    (dev / "users").mkdir()
    (dev / "users" / "team.yaml").write_text(people, encoding="utf-8")
    for name in ("GITHUB", "GITLAB"):  # the helpers where each recipe looks for them
        recipe = load(GITHUB if name == "GITHUB" else GITLAB)
        top = recipe.get("env") or recipe.get("variables")
        for key, helper in (("HELD_SCRIPT", HELD), ("LIFECYCLE_SCRIPT", LIFECYCLE)):
            where = dev / top[key]
            where.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(helper, where)
    git(dev, "checkout", "-q", "-b", "main")
    git(dev, "add", ".")
    git(dev, "commit", "-qm", "people")
    git(dev, "push", "-q", "origin", "HEAD:refs/heads/main")
    state = tmp_path / "systems"
    state.mkdir()
    (state / "tenant.json").write_text(json.dumps(TENANT), encoding="utf-8")
    (state / "company.json").write_text(json.dumps(company or COMPANY), encoding="utf-8")
    dealhub = Sim("dealhub", state / "tenant.json", state / "dealhub.jsonl")
    pipedrive = Sim("pipedrive", state / "company.json", state / "pipedrive.jsonl")
    with (
        serving(dealhub, SECRETS["DEALHUB_TOKEN"]),
        serving(pipedrive, SECRETS["PIPEDRIVE_API_TOKEN"]),
    ):
        yield World(tmp_path, dealhub, pipedrive, origin, dev, shims(tmp_path / "bin"))


# -- GitLab: its REST API as the recipe uses it, on loopback ---------------------------


@dataclass
class GitLabProject:
    """Project 5 of a GitLab on loopback: merge requests, their plan jobs, notes, issues."""

    url: str = ""
    #: merge commit sha -> merge request iid
    merged: dict[str, int] = field(default_factory=dict)
    #: iid -> {"sha": head, "plans": [plan.json bytes of each pipeline's plan job]}
    mrs: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    #: Commits made through the Commits API, and merge requests opened through the API.
    commits: list[dict[str, Any]] = field(default_factory=list)
    opened: list[dict[str, Any]] = field(default_factory=list)
    #: The token of each call, by name (NOTES, LEAVER), in call order.
    tokens: list[str] = field(default_factory=list)

    def open_issues(self, label: str = "reconciler-held") -> list[dict[str, Any]]:
        return [i for i in self.issues if i["state"] == "opened" and i.get("labels") == label]

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        path, _, query = path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if params.get("page", "1") != "1":
            return 200, []  # everything fits on the first page
        parts = path.removeprefix("/api/v4/projects/5/").split("/")
        self.calls.append(f"{method} /{'/'.join(parts)}")
        match method, parts:
            case "GET", ["repository", "commits", sha, "merge_requests"]:
                iid = self.merged.get(sha)
                return 200, [] if iid is None else [
                    {"iid": iid, "state": "merged", "sha": self.mrs[iid]["sha"]}
                ]
            case "GET", ["merge_requests", iid, "pipelines"]:
                plans = self.mrs[int(iid)]["plans"]
                sha = self.mrs[int(iid)]["sha"]
                return 200, [{"id": int(iid) * 100 + n, "sha": sha} for n in range(len(plans))]
            case "GET", ["pipelines", pid, "jobs"]:
                job = {"id": int(pid) * 10, "name": "plan", "artifacts_file": {"filename": "a.zip"}}
                return 200, [{"id": int(pid) * 10 + 1, "name": "validate"}, job]
            case "GET", ["jobs", jid, "artifacts", "plan.json"]:
                pid = int(jid) // 10
                return 200, self.mrs[pid // 100]["plans"][pid % 100]
            case "GET", ["merge_requests", iid, "notes"]:
                return 200, [n for n in self.notes if n["on"] == int(iid)]
            case "POST", ["merge_requests", iid, "notes"]:
                note = {"id": len(self.notes) + 1, "on": int(iid), "body": body["body"]}
                self.notes.append({**note, "system": False})
                return 201, note
            case "PUT", ["merge_requests", iid, "notes", nid]:
                (note,) = [n for n in self.notes if n["id"] == int(nid)]
                note["body"] = body["body"]
                return 200, note
            case "GET", ["issues"]:
                label = params.get("labels", "")
                assert label in ("reconciler-held", "reconciler-review"), params
                assert params == {"state": "opened", "labels": label, "per_page": "100",
                                  "page": "1"}  # fmt: skip
                return 200, self.open_issues(label)
            case "POST", ["repository", "commits"]:
                self.commits.append(body)
                return 201, {"id": f"c{len(self.commits)}"}
            case "POST", ["merge_requests"]:
                request = {"iid": 50 + len(self.opened), **body}
                self.opened.append(request)
                return 201, request
            case "POST", ["issues"]:
                issue = {"iid": len(self.issues) + 1, "state": "opened", **body}
                self.issues.append(issue)
                return 201, issue
            case "PUT", ["issues", iid]:
                issue = next(i for i in self.issues if i["iid"] == int(iid))
                if body.get("state_event") == "close":
                    issue["state"] = "closed"
                issue.update({k: v for k, v in body.items() if k == "description"})
                return 200, issue
            case "POST", ["issues", iid, "notes"]:
                return 201, {"body": body["body"]}
        return 404, {"message": "404 Not found"}


@contextlib.contextmanager
def gitlab_project(token: str = NOTES_TOKEN) -> Iterator[GitLabProject]:
    """GitLab's API for project 5 on loopback, answering only `token` and LEAVER_TOKEN."""
    project = GitLabProject()
    names = {token: "NOTES", LEAVER_TOKEN: "LEAVER"}

    class Api(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            given = self.headers.get("PRIVATE-TOKEN") or ""
            if given not in names:
                status, data = 401, {"message": "401 Unauthorized"}
            else:
                project.tokens.append(names[given])
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                status, data = project.answer(self.command, self.path, body)
            raw = data if isinstance(data, bytes) else json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    project.url = f"http://127.0.0.1:{server.server_port}/api/v4"
    try:
        yield project
    finally:
        server.shutdown()
        server.server_close()


def reconciler_calls(script: str) -> list[list[str]]:
    """The words after `reconciler` of each command in a shell script."""
    calls = []
    heredoc_end: str | None = None
    for line in script.replace("\\\n", " ").splitlines():
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        if match := _HEREDOC.search(line):
            heredoc_end = match.group(2)  # its body starts on the next line
        if line.lstrip().startswith("#"):
            continue
        for match in _CALL.finditer(line):
            calls.append(_words(line[match.end() :]))
    return calls


def check_call(words: list[str]) -> list[str]:
    """What is wrong with `reconciler WORDS...` (empty when the CLI accepts its shape)."""
    if not words:
        return ["`reconciler` without a subcommand"]
    sub: str | None = words[0]
    rest = words[1:]
    if words[0].startswith("-"):
        sub, rest = None, words
    elif sub not in subcommands():
        return [f"unknown subcommand {sub!r} (have {sorted(subcommands())})"]
    known = options_of(sub)
    problems = []
    for word in rest:
        if word == "--":
            break
        if word.startswith("-") and len(word) > 1:
            flag = word.split("=", 1)[0]
            if flag not in known:
                problems.append(f"reconciler {sub or ''}: unknown option {flag}")
    return problems


def fenced(text: str, lang: str) -> list[str]:
    blocks = re.findall(rf"^( *)```{lang}\n(.*?)^\1```", text, flags=re.M | re.S)
    return [textwrap.dedent(body) for _, body in blocks]


_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


# `reconciler` in command position: line start, after ; & | ( ! $( or a keyword.
_CALL = re.compile(
    r"(?:^|[;&|(!]|\$\(|\b(?:then|do|else|exec|time)\s)\s*"
    r"(?:python3?\s+-m\s+)?reconciler(?=\s|$)"
)


def _words(tail: str) -> list[str]:
    lexer = shlex.shlex(tail, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    for token in lexer:
        if token and all(c in "();<>|&" for c in token):
            break  # the end of this command
        words.append(token)
    return words


def subcommands() -> set[str]:
    text = help_text(None) or ""
    section = text.split("Commands:", 1)[1] if "Commands:" in text else ""
    return {line.split()[0] for line in section.splitlines() if line.startswith("  ")}


def options_of(sub: str | None) -> set[str]:
    """The options declared in the Options section (not those named in descriptions)."""
    text = help_text(sub) or ""
    section = text.split("Options:", 1)[1] if "Options:" in text else ""
    flags: set[str] = set()
    for line in section.splitlines():
        declared = re.match(r"^\s{2}(-.*?)(?:\s{2,}|$)", line)
        if declared:
            flags.update(re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", declared.group(1)))
    return flags


@functools.cache
def help_text(sub: str | None) -> str | None:
    args = [sys.executable, "-m", "reconciler", *([sub] if sub else []), "--help"]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    return done.stdout if done.returncode == 0 else None
