"""The CI recipes (examples/ci) and the pre-commit hooks stay in step with the CLI.

Every `reconciler ...` command a recipe runs must name a real subcommand and real
options (checked against `reconciler SUB --help`), the token must never reach a
command line, the plan comment must be one comment updated in place, and every
apply must be of a reviewed saved plan (the scenarios of the whole loop are in
test_ci_scenarios.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.render.markdown import ARTIFACT, FULL_PLAN
from tests.ci.harness import (
    SECRETS,
    _words,
    check_call,
    fenced,
    node_harness,
    options_of,
    reconciler_calls,
    shims,
    step_secrets,
)

REPO = Path(__file__).resolve().parents[2]
CI_DIR = REPO / "examples" / "ci"
GITHUB = CI_DIR / "github" / "reconciler.yml"
GITLAB = CI_DIR / "gitlab" / ".gitlab-ci.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
README = REPO / "README.md"
MARKER = "<!-- reconciler-plan -->"
SHELL_KEYS = {"run", "script", "before_script", "after_script"}


def recipe_files() -> list[Path]:
    return sorted(p for p in CI_DIR.rglob("*") if p.suffix in (".yml", ".yaml"))


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[Any, Any]) -> Any:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


# -- finding the commands -----------------------------------------------------------


def shell_blocks(node: Any, parent: Any = None) -> Iterator[str]:
    """Every `run:` / `script:` shell text of a workflow, skipping `with: {script: JS}`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SHELL_KEYS and parent != "with":
                yield from _strings(value)
            else:
                yield from shell_blocks(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from shell_blocks(item, parent)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# -- what the CLI really accepts ---------------------------------------------------


def token_leaks(script: str) -> list[str]:
    """Ways a shell script could put a token on a command line or in a log."""
    problems = []
    for pattern, why in [
        (r"--token(?!-file)\b", "a --token option"),
        (r"secrets\.", "a secret expanded into the script (use env:)"),
        (r"\$\{?[A-Z_]*TOKEN\b", "a token variable expanded by the shell"),
        (r"\b[A-Z_]*TOKEN=", "a token assigned in the script"),
    ]:
        if re.search(pattern, script):
            problems.append(why)
    return problems


def hook_calls() -> list[list[str]]:
    calls = []
    for hook in load(HOOKS):
        entry = shlex.split(hook["entry"])
        assert entry[0] == "reconciler", hook
        calls.append(entry[1:] + list(hook.get("args", [])))
    return calls


def adopting_section() -> str:
    text = README.read_text(encoding="utf-8")
    assert "\n## Adopting reconciler\n" in text
    section = text.split("\n## Adopting reconciler\n", 1)[1]
    return section.split("\n## ", 1)[0]


def all_calls() -> list[tuple[str, list[str]]]:
    found = []
    for path in recipe_files():
        for script in shell_blocks(load(path)):
            found += [(path.name, words) for words in reconciler_calls(script)]
    found += [(HOOKS.name, words) for words in hook_calls()]
    for block in fenced(adopting_section(), "sh"):
        found += [("README.md", words) for words in reconciler_calls(block)]
    return found


# -- the tests -----------------------------------------------------------------------


def test_the_recipes_are_there() -> None:
    assert GITHUB in recipe_files()
    assert GITLAB in recipe_files()
    assert HOOKS.is_file()


@pytest.mark.parametrize(
    "path", [*recipe_files(), HOOKS], ids=lambda p: str(Path(p).relative_to(REPO))
)
def test_parses_as_yaml(path: Path) -> None:
    doc = load(path)
    assert isinstance(doc, dict | list) and doc


def test_github_triggers() -> None:
    on = triggers(load(GITHUB))
    assert {"pull_request", "push", "schedule"} <= set(on)
    assert on["push"]["branches"] == ["main"]
    assert any("users/" in p for p in on["pull_request"]["paths"])


def test_every_reconciler_command_is_real() -> None:
    calls = all_calls()
    used = {words[0] for _, words in calls if words}
    assert {"validate", "plan", "apply", "export"} <= used, used
    problems = [
        f"{where}: reconciler {' '.join(w)}: {p}" for where, w in calls for p in check_call(w)
    ]
    assert problems == []


def test_the_checker_catches_mistakes() -> None:
    sample = textwrap.dedent(
        """\
        pip install "reconciler @ git+https://github.com/OWNER/reconciler@vX.Y.Z"
        echo "reconciler plan --not-a-command"
        # reconciler plan --commented-out
        set +e; reconciler plan users/ --made-up-flag > plan.md
        out=$(reconciler plan users/ \\
              --fromat json)
        if ! reconciler plann users/; then exit 1; fi
        reconciler apply --plan=plan.json --auto-approve 2> err.txt
        python3 - <<'EOF'
        reconciler plan --inside-a-heredoc
        EOF
        reconciler validate users/
        """
    )
    calls = reconciler_calls(sample)
    assert calls == [
        ["plan", "users/", "--made-up-flag"],
        ["plan", "users/", "--fromat", "json"],
        ["plann", "users/"],
        ["apply", "--plan=plan.json", "--auto-approve", "2"],
        ["validate", "users/"],
    ]
    assert check_call(calls[0]) == ["reconciler plan: unknown option --made-up-flag"]
    assert check_call(calls[1]) == ["reconciler plan: unknown option --fromat"]
    assert check_call(calls[2])[0].startswith("unknown subcommand 'plann'")
    assert check_call(calls[3]) == []
    assert check_call(calls[4]) == []
    # an option named only in another option's description is not an option
    assert "--out" not in options_of("apply")
    assert check_call(["apply", "--out", "x"]) == ["reconciler apply: unknown option --out"]
    assert check_call(["plan", "users/", "--token", "abc"]) != []


def test_no_token_on_a_command_line() -> None:
    for path in recipe_files():
        for script in shell_blocks(load(path)):
            assert token_leaks(script) == [], (path.name, script)
    # the checker itself sees each kind of leak
    assert token_leaks("reconciler plan users/ --token abc") == ["a --token option"]
    assert token_leaks("reconciler plan users/ --token-file t") == []
    assert token_leaks("echo ${{ secrets.DEALHUB_TOKEN }}") == [
        "a secret expanded into the script (use env:)"
    ]
    assert token_leaks('curl -H "PRIVATE-TOKEN: $DEALHUB_TOKEN" x') == [
        "a token variable expanded by the shell"
    ]
    assert token_leaks("DEALHUB_TOKEN=abc reconciler plan users/") == [
        "a token assigned in the script"
    ]


def _env_mappings(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "env" and isinstance(value, dict):
                yield where, value
            else:
                yield from _env_mappings(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _env_mappings(item, f"{where}/{i}")


#: The systems' API tokens: CI secrets, each reaching reconciler through the environment.
TOKENS = ("DEALHUB_TOKEN", "PIPEDRIVE_API_TOKEN")
#: The one step of each GitHub job that runs reconciler against the systems.
TOKEN_STEPS = {
    "plan": "reconciler plan",
    "manual-plan": "reconciler plan",
    "apply": "reconciler apply",
    "drift": "reconciler plan --detailed-exitcode",
    "review": "reconciler review",
    "leaver": "reconciler leave",
}


def test_github_tokens_only_from_secrets_and_only_where_needed() -> None:
    workflow = load(GITHUB)
    for where, env in _env_mappings(workflow):
        for name, value in env.items():
            if "TOKEN" in name.upper() and re.search("DEALHUB|PIPEDRIVE", name.upper()):
                assert name in TOKENS, (where, name)
                assert value == f"${{{{ secrets.{name} }}}}", (where, name, value)
    assert not set(TOKENS) & set(workflow.get("env", {})), "not at workflow level"
    held = set()
    for job_name, job in workflow["jobs"].items():
        assert not set(TOKENS) & set(job.get("env") or {}), f"{job_name}: step level only"
        for step in job["steps"]:
            names = set(TOKENS) & set(step.get("env") or {})
            if names:
                assert names == set(TOKENS), (job_name, step.get("name"))  # both systems
                assert "run" in step and "uses" not in step, "no action sees the tokens"
                held.add((job_name, step["name"]))
    # validate is offline; the plan, manual-plan, apply, drift, review and leaver
    # jobs each give both tokens to the one step that runs reconciler against the
    # systems (never to the action that installs it).
    assert held == set(TOKEN_STEPS.items())


def test_secrets_never_reach_a_script() -> None:
    """Both tokens travel in `env:` only: no script, shell or JavaScript, names them."""
    text = GITHUB.read_text(encoding="utf-8")
    workflow = load(GITHUB)
    in_env = [
        value
        for _, env in _env_mappings(workflow)
        for value in env.values()
        if "secrets." in str(value)
    ]
    assert text.count("secrets.") == len(in_env) == 2 * len(TOKEN_STEPS)

    def scripts(node: Any) -> Iterator[str]:
        """Every shell block and every github-script script."""
        yield from shell_blocks(node)
        for job in node.get("jobs", {}).values():
            for step in job.get("steps", []):
                yield from _strings((step.get("with") or {}).get("script"))

    for path, doc in ((GITHUB, workflow), (GITLAB, load(GITLAB))):
        for script in scripts(doc):
            assert "secrets." not in script, (path.name, script)
            for name in TOKENS:
                assert name not in script, (path.name, name, script)


def test_both_systems_targets_beside_each_other() -> None:
    """PIPEDRIVE_API_URL is set where DEALHUB_API_URL is, with the placeholder to change."""
    for path, key in ((GITHUB, "env"), (GITLAB, "variables")):
        doc = load(path)
        top = doc[key]
        assert top["DEALHUB_API_URL"] == "https://api.dealhub.io", path.name
        assert top["PIPEDRIVE_API_URL"] == "https://COMPANY.pipedrive.com", path.name
        # no job points a system elsewhere, and no command names a target or a system
        for where, env in _env_mappings(doc):
            if where:
                assert not {"DEALHUB_API_URL", "PIPEDRIVE_API_URL"} & set(env), (path, where)
        for script in shell_blocks(doc):
            for words in reconciler_calls(script):
                flags = {w.split("=", 1)[0] for w in words}
                assert not flags & {"--api-url", "--system", "--env"}, (path.name, words)


def _header(path: Path) -> str:
    """The leading comment of a recipe, as one line of words."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(" ".join(lines).split())


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=lambda p: p.parent.name)
def test_headers_set_up_both_tokens_and_the_exit_rule(path: Path) -> None:
    header = _header(path)
    for needed in (
        "DEALHUB_TOKEN",
        "PIPEDRIVE_API_TOKEN",
        "personal API token",
        "never deactivates the token's own user",
        "each plan",
        "costs 20 tokens",
        "10 per change",
        "needs only that system's",
        "error: no API token: set PIPEDRIVE_API_TOKEN",
        "https://COMPANY.pipedrive.com",
        # SPEC 7: the exit code of a run over several systems
        "1 if any system failed; else 3 if any system's guard tripped; "
        "else 2 (--detailed-exitcode) if any system has changes; else 0.",
    ):
        assert needed in header, needed


def test_one_comment_for_every_system() -> None:
    """One step posts the plan of every system; no job runs once per system."""
    workflow = load(GITHUB)
    posting = [
        (name, step["name"])
        for name, job in workflow["jobs"].items()
        for step in job["steps"]
        if re.search(r"\b(createComment|updateComment)\b", str(step.get("with", {}).get("script")))
    ]
    # the plan comment, what a merge's apply held (on the merged pull request), and
    # the note that closes the review issue
    assert posting == [
        ("plan", "Post the plan on the pull request"),
        ("apply", "Post what was held"),
        ("review", "Open, update or close the review issue"),
    ]
    assert all("strategy" not in job for job in workflow["jobs"].values()), "no matrix"
    pipeline = load(GITLAB)
    jobs = {k: v for k, v in pipeline.items() if isinstance(v, dict) and "script" in v}
    noting = [
        name
        for name, job in jobs.items()
        for script in _strings(job["script"])
        if "/notes" in script
    ]
    assert noting == ["plan"]
    assert all("parallel" not in job for job in jobs.values()), "no matrix"


def test_gitlab_token_never_in_the_file() -> None:
    text = GITLAB.read_text(encoding="utf-8")
    pipeline = load(GITLAB)

    def variables(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "variables" and isinstance(value, dict):
                    yield from value
                else:
                    yield from variables(value)

    assert not [v for v in variables(pipeline) if "TOKEN" in v.upper()]
    assert "masked" in text.lower() and "protected" in text.lower()


def test_github_permissions_and_concurrency() -> None:
    workflow = load(GITHUB)
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    writes = {
        (name, scope)
        for name, job in jobs.items()
        for scope, level in (job.get("permissions") or {}).items()
        if level == "write"
    }
    assert writes == {
        ("plan", "pull-requests"),
        ("drift", "issues"),
        ("apply", "pull-requests"),  # what was held, on the merged pull request
        ("apply", "issues"),  # the one open issue of held changes
        ("review", "issues"),  # the one open issue of flagged accounts
        ("leaver", "contents"),  # the branch of the file edit
        ("leaver", "pull-requests"),  # its pull request
    }
    # the leaver writes to the systems: behind the same approval as an apply
    assert jobs["leaver"]["environment"] == "production"
    assert "refs/heads/main" in jobs["leaver"]["if"]
    assert all(job.get("permissions") != "write-all" for job in jobs.values())
    apply = jobs["apply"]
    assert apply["environment"] == "production"
    # Applies queue, in order, and none cancels another: `queue: max` keeps up to
    # 100 pending (the default keeps one and cancels the older pending job).
    assert apply["concurrency"] == {
        "group": "reconciler-apply",
        "cancel-in-progress": False,
        "queue": "max",
    }
    # The drift check has a group of its own: it never cancels nor delays an apply.
    assert jobs["drift"]["concurrency"]["group"] != apply["concurrency"]["group"]
    assert jobs["drift"]["concurrency"]["cancel-in-progress"] is False
    groups = [job["concurrency"]["group"] for job in jobs.values() if "concurrency" in job]
    assert groups.count("reconciler-apply") == 1
    # The review never writes and the leaver is an emergency: neither waits in (or
    # delays) the queue of applies, and each has a group of its own.
    own = {name: jobs[name]["concurrency"] for name in ("apply", "drift", "review", "leaver")}
    assert len({c["group"] for c in own.values()}) == 4
    assert all(c["cancel-in-progress"] is False for c in own.values())


def test_github_plans_the_merge_ref_of_the_pull_request() -> None:
    """pull_request checks out refs/pull/N/merge: the branch merged into main as it is now."""
    workflow = load(GITHUB)
    assert "pull_request_target" not in triggers(workflow)  # that one checks out main
    plan = workflow["jobs"]["plan"]
    assert "github.event_name == 'pull_request'" in plan["if"]
    (checkout,) = [s for s in plan["steps"] if str(s.get("uses")).startswith("actions/checkout@")]
    assert "ref" not in (checkout.get("with") or {})  # the event's own ref: the merge
    assert "refs/pull/N/merge" in GITHUB.read_text(encoding="utf-8")


def test_no_apply_skips_itself_and_none_is_cancelled() -> None:
    github, gitlab = load(GITHUB), load(GITLAB)
    for path, doc in ((GITHUB, github), (GITLAB, gitlab)):
        for script in shell_blocks(doc):
            assert "ls-remote" not in script, (path.name, script)  # no "main moved on" skip
    apply = gitlab["apply"]
    assert apply.get("interruptible", False) is False  # no newer pipeline cancels it
    assert apply["resource_group"] == "reconciler-production"
    assert gitlab["drift"]["resource_group"] not in (None, apply["resource_group"])
    assert "resource_group" not in gitlab["manual-plan"]
    assert "process_mode=oldest_first" in _header(GITLAB)
    # every job that writes is an apply job, in the production environment
    for name, job in github["jobs"].items():
        writes = [w for s in shell_blocks(job) for w in reconciler_calls(s) if w[0] == "apply"]
        assert bool(writes) == (name == "apply"), name
    assert github["jobs"]["apply"]["environment"] == "production"
    assert apply["environment"]["name"] == "production"


def test_the_manual_path_applies_the_plan_it_showed_after_an_approval() -> None:
    jobs = load(GITHUB)["jobs"]
    manual = jobs["manual-plan"]
    assert "inputs.action == 'apply'" in manual["if"] and "refs/heads/main" in manual["if"]
    assert "GITHUB_STEP_SUMMARY" in _steps("manual-plan")["reconciler plan"]["run"]
    (upload,) = _uploads("manual-plan")
    assert upload["with"]["name"] == "reconciler-manual-plan"
    apply = jobs["apply"]
    assert apply["needs"] == "manual-plan"
    assert "needs.manual-plan.result == 'success'" in apply["if"]
    download = _steps("apply")["Download the plan approved in this run"]
    assert download["with"] == {"name": "reconciler-manual-plan", "path": "saved-plan"}
    assert "run-id" not in download["with"]  # this run's own artifact
    gitlab = load(GITLAB)
    rules = gitlab["apply"]["rules"]
    (web,) = [r for r in rules if '"web"' in r["if"]]
    assert web["when"] == "manual"
    assert {"job": "manual-plan", "optional": True} in gitlab["apply"]["needs"]
    assert "saved-plan/plan.json" in gitlab["manual-plan"]["artifacts"]["paths"]


def test_gitlab_plans_the_merged_result() -> None:
    plan = load(GITLAB)["plan"]
    assert plan["variables"]["GIT_DEPTH"] == "0"
    script = "\n".join(_strings(plan["script"]))
    merge = script.index('merge --quiet --no-edit "origin/$target"')
    assert merge < script.index("reconciler plan ")
    assert "merged_result" in script and "merge --abort" in script


ACTION = "OWNER/reconciler@vX.Y.Z"


def test_github_installs_through_the_pinned_composite_action() -> None:
    """Every job installs with `uses: OWNER/reconciler@vX.Y.Z`; no pip, no token to it."""
    workflow = load(GITHUB)
    assert "RECONCILER_PIP_SPEC" not in workflow["env"]
    assert "pip install" not in GITHUB.read_text(encoding="utf-8")
    action = load(REPO / "action.yml")
    # what lets a later `run:` step call `reconciler`: the action puts it on PATH
    install = action["runs"]["steps"][0]["run"]
    assert '>> "$GITHUB_PATH"' in install and '"$GITHUB_ACTION_PATH"' in install
    for name, job in workflow["jobs"].items():
        steps = job["steps"]
        uses = [i for i, s in enumerate(steps) if s.get("uses") == ACTION]
        runs = [i for i, s in enumerate(steps) if reconciler_calls(s.get("run") or "")]
        if not uses and not runs:
            continue
        assert len(uses) == 1, name
        assert all(uses[0] < i for i in runs), name  # installed before it is called
        step = steps[uses[0]]
        assert set(step["with"]) <= set(action["inputs"]), name
        assert step["with"]["command"] == "validate", name  # offline: no token
        assert "env" not in step, name
        if runs:  # the job's own step reports bad files, with what it reads
            assert step["with"]["ok-exit-codes"] == "0 1", name
    validate = workflow["jobs"]["validate"]["steps"]
    assert [s.get("uses") for s in validate][-1] == ACTION
    assert "ok-exit-codes" not in validate[-1]["with"]  # the whole job: bad files fail it


def test_gitlab_installs_the_pinned_wheel_only_when_its_sha256_matches(tmp_path: Path) -> None:
    pipeline = load(GITLAB)
    top = pipeline["variables"]
    assert top["RECONCILER_PIP_SPEC"] == "ci/reconciler/reconciler-X.Y.Z-py3-none-any.whl"
    assert top["RECONCILER_WHEEL_SHA256"] == "SHA256-OF-THE-WHEEL"
    header = _header(GITLAB)
    assert "pinned wheel" in header and "sha256" in header
    before = "\n".join(pipeline["default"]["before_script"])
    jobs = [job for name, job in pipeline.items() if name != "default" and isinstance(job, dict)]
    assert all("before_script" not in job for job in jobs)  # every job installs it so
    # run it: pip is a shim that records what it was asked to install
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pip").write_text('#!/bin/sh\necho "pip $*" > pip.log\n', encoding="utf-8")
    (bin_dir / "pip").chmod(0o755)
    wheel = tmp_path / "ci" / "reconciler" / "reconciler-1.2.3-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"PK a wheel")
    good = hashlib.sha256(b"PK a wheel").hexdigest()
    spec = "ci/reconciler/reconciler-1.2.3-py3-none-any.whl"

    def install(sha256: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "pip.log").unlink(missing_ok=True)
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "RECONCILER_PIP_SPEC": spec,
            "RECONCILER_WHEEL_SHA256": sha256,
        }
        return subprocess.run(
            ["bash", "-eo", "pipefail", "-c", before],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert install(good).returncode == 0
    assert (tmp_path / "pip.log").read_text(encoding="utf-8") == f"pip install --quiet {spec}\n"
    for bad in ("0" * 64, top["RECONCILER_WHEEL_SHA256"]):
        done = install(bad)
        assert done.returncode != 0 and not (tmp_path / "pip.log").exists(), bad
    assert install("").returncode == 0  # another pip requirement, by choice: no file to check


def _steps(job: str) -> dict[str, dict[str, Any]]:
    steps = load(GITHUB)["jobs"][job]["steps"]
    return {s.get("name") or s.get("id") or s.get("uses") or s["run"]: s for s in steps}


def test_pr_plan_saves_markdown_and_plan_and_keeps_the_exit_code() -> None:
    run = _steps("plan")["reconciler plan"]["run"]
    assert "set +e" in run and "code=$?" in run and 'exitcode=$code" >> "$GITHUB_OUTPUT' in run
    (words,) = [w for w in reconciler_calls(run) if w[0] != "show"]
    assert {"--format", "markdown", "--out", "--detailed-exitcode"} <= set(words)
    fail = _steps("plan")["Fail on an error or a safety guard"]["run"]
    assert "0|2)" in fail


def _uploads(job: str) -> list[dict[str, Any]]:
    steps = load(GITHUB)["jobs"][job]["steps"]
    return [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]


def test_the_whole_plan_is_kept_where_the_cut_comment_says() -> None:
    # The comment, cut to fit, sends the reader to this artifact and these files.
    assert ARTIFACT == "reconciler-plan"
    assert f"the `{ARTIFACT}` artifact of this run (plan.txt, plan.json)" in FULL_PLAN
    for job, script in (
        ("plan", _steps("plan")["reconciler plan"]["run"]),
        ("drift", _steps("drift")["reconciler plan --detailed-exitcode"]["run"]),
    ):
        (words,) = [w for w in reconciler_calls(script) if w[0] != "show"]
        assert words[words.index("--out") + 1] == "plan.json"
        assert render_calls(script) == [["plan.json", "--format", "text"]]
        assert "> plan.txt" in script
        (upload,) = _uploads(job)
        assert upload["with"]["name"] == ARTIFACT
        assert {"plan.json", "plan.txt"} <= set(upload["with"]["path"].split())
        # kept whenever there is a plan: a guard-stopped plan is read most of all
        assert "hashFiles('plan.json')" in upload["if"] and "exitcode" not in upload["if"]
    gitlab = load(GITLAB)["plan"]
    script = "\n".join(_strings(gitlab["script"]))
    assert render_calls(script) == [["plan.json", "--format", "text"]]
    assert gitlab["artifacts"]["name"] == ARTIFACT
    assert {"plan.json", "plan.txt"} <= set(gitlab["artifacts"]["paths"])
    assert gitlab["artifacts"]["when"] == "always"


_RENDER = re.compile(r"\breconciler show\b")


def render_calls(script: str) -> list[list[str]]:
    """The words after `reconciler show` in a shell script."""
    return [_words(line[m.end() :]) for line in script.splitlines() for m in _RENDER.finditer(line)]


def test_every_render_command_is_real() -> None:
    calls = [
        c for path in recipe_files() for s in shell_blocks(load(path)) for c in render_calls(s)
    ]
    assert len(calls) == 5  # GitHub: plan, manual-plan, drift; GitLab: plan, manual-plan
    help_text = subprocess.run(
        [sys.executable, "-m", "reconciler", "show", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    for words in calls:
        for word in words:
            if word.startswith("-"):
                assert re.search(rf"^\s+{re.escape(word)}\b", help_text, flags=re.M), word


def test_pr_comment_is_found_by_its_marker_and_updated() -> None:
    step = _steps("plan")["Post the plan on the pull request"]
    assert step["uses"].startswith("actions/github-script@")
    script = step["with"]["script"]
    for needed in (MARKER, "listComments", "updateComment", "createComment"):
        assert needed in script


NODE_HARNESS = node_harness(
    r"""
const github = {
  paginate: async (fn, params) => (await fn(params)).data,
  rest: { issues: {
    listComments: async () => ({ data: state.comments }),
    createComment: async (p) => {
      state.comments.push({ id: 100 + state.comments.length, body: p.body, user: { type: 'Bot' } });
      state.calls.push('create');
    },
    updateComment: async (p) => {
      state.comments.find((c) => c.id === p.comment_id).body = p.body;
      state.calls.push('update');
    },
  } },
};
const context = {
  serverUrl: 'https://github.com', repo: { owner: 'o', repo: 'r' }, runId: 1,
  issue: { number: 7 }, payload: { pull_request: { head: { sha: 'abcdef1234567' } } },
};
const core = { info() {}, setOutput() {} };
"""
)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_pr_comment_script_updates_one_comment(tmp_path: Path) -> None:
    script = _steps("plan")["Post the plan on the pull request"]["with"]["script"]
    (tmp_path / "script.js").write_text(script, encoding="utf-8")
    (tmp_path / "harness.js").write_text(NODE_HARNESS, encoding="utf-8")
    state = tmp_path / "state.json"
    quoting = {"id": 1, "body": f"{MARKER} quoted by a person", "user": {"type": "User"}}
    state.write_text(json.dumps({"comments": [quoting], "calls": []}), encoding="utf-8")
    for plan, code in (("first plan", "2"), ("second plan", "0")):
        (tmp_path / "plan.md").write_text(plan, encoding="utf-8")
        subprocess.run(
            ["node", "harness.js", "script.js", str(state)],
            cwd=tmp_path,
            env={**os.environ, "PLAN_EXITCODE": code},
            check=True,
            timeout=30,
        )
    result = json.loads(state.read_text(encoding="utf-8"))
    assert result["calls"] == ["create", "update"]
    bot = [c for c in result["comments"] if c["user"]["type"] == "Bot"]
    assert len(bot) == 1 and bot[0]["body"].startswith(MARKER)
    assert "second plan" in bot[0]["body"] and "first plan" not in bot[0]["body"]
    assert result["comments"][0] == quoting


FIND_HARNESS = node_harness(
    r"""
const github = { rest: {
  repos: { listPullRequestsAssociatedWithCommit: async () => ({ data: state.prs }) },
  actions: {
    listWorkflowRunsForRepo: async (p) => {
      state.calls.push(['runs', p.event, p.head_sha]);
      return { data: { workflow_runs: state.runs.filter((r) => r.head_sha === p.head_sha) } };
    },
    listWorkflowRunArtifacts: async (p) => {
      state.calls.push(['artifacts', p.run_id, p.name]);
      const all = state.artifacts[p.run_id] || [];
      return { data: { artifacts: all.filter((a) => a.name === p.name) } };
    },
  },
} };
const context = { repo: { owner: 'o', repo: 'r' }, sha: 'merge123' };
state.outputs = {};
const core = { info() {}, setOutput: (k, v) => { state.outputs[k] = v; } };
"""
)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_apply_finds_the_plan_of_the_merged_pull_request(tmp_path: Path) -> None:
    script = _steps("apply")["Find the plan reviewed on the merged pull request"]["with"]["script"]
    (tmp_path / "find.js").write_text(script, encoding="utf-8")
    (tmp_path / "harness.js").write_text(FIND_HARNESS, encoding="utf-8")
    plan = {"name": "reconciler-plan", "expired": False}
    state = {
        "prs": [{"number": 7, "merged_at": "2024-05-01T10:00:00Z", "head": {"sha": "head7"}}],
        "runs": [
            {"id": 1, "head_sha": "head7", "created_at": "2024-05-01T08:00:00Z"},
            {"id": 3, "head_sha": "head7", "created_at": "2024-05-01T09:00:00Z"},  # the last
            {"id": 2, "head_sha": "other", "created_at": "2024-05-01T09:30:00Z"},
        ],
        "artifacts": {"1": [plan], "2": [plan], "3": [{"name": "other", "expired": False}, plan]},
        "calls": [],
    }
    path = tmp_path / "state.json"

    def find(**changes: Any) -> dict[str, Any]:
        path.write_text(json.dumps({**state, **changes}), encoding="utf-8")
        subprocess.run(["node", "harness.js", "find.js", str(path)], cwd=tmp_path, check=True)
        result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return result

    found = find()
    assert found["outputs"] == {"pr": "7", "run-id": "3", "name": "reconciler-plan"}
    assert found["calls"][0] == ["runs", "pull_request", "head7"]
    assert ["artifacts", 3, "reconciler-plan"] in found["calls"]
    # the last run kept no plan (it failed): the one before it holds the plan of these files
    assert find(artifacts={"1": [plan], "3": []})["outputs"]["run-id"] == "1"
    assert find(artifacts={"3": [{**plan, "expired": True}]})["outputs"] == {"pr": "7"}
    assert find(prs=[])["outputs"] == {}


def _gitlab_note_script() -> str:
    script = "\n".join(_strings(load(GITLAB)["plan"]["script"]))
    assert MARKER in script
    return script.split("<<'EOF'\n", 1)[1].split("\nEOF", 1)[0]


@contextlib.contextmanager
def notes_server(notes: list[dict[str, Any]], calls: list[str]) -> Iterator[dict[str, str]]:
    """A GitLab notes API on loopback over `notes`; yields the CI variables that reach it."""

    class Notes(http.server.BaseHTTPRequestHandler):
        def _reply(self, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> Any:
            assert self.headers["PRIVATE-TOKEN"] == "notes-token"
            return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

        def do_GET(self) -> None:
            page = int(re.search(r"[?&]page=(\d+)", self.path).group(1))  # type: ignore[union-attr]
            self._reply(notes[(page - 1) * 100 : page * 100])

        def do_POST(self) -> None:
            notes.append({"id": len(notes) + 1, "body": self._body()["body"], "system": False})
            calls.append("POST")
            self._reply(notes[-1])

        def do_PUT(self) -> None:
            note_id = int(self.path.rsplit("/", 1)[1])
            note = next(n for n in notes if n["id"] == note_id)
            note["body"] = self._body()["body"]
            calls.append("PUT")
            self._reply(note)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Notes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield {
            "RECONCILER_NOTES_TOKEN": "notes-token",
            "CI_API_V4_URL": f"http://127.0.0.1:{server.server_port}/api/v4",
            "CI_PROJECT_ID": "5",
            "CI_MERGE_REQUEST_IID": "9",
            "CI_JOB_URL": "https://gitlab.com/o/r/-/jobs/1",
            "CI_COMMIT_SHORT_SHA": "abc1234",
        }
    finally:
        server.shutdown()
        server.server_close()


def test_gitlab_note_script_updates_one_note(tmp_path: Path) -> None:
    notes: list[dict[str, Any]] = [{"id": 1, "body": "LGTM", "system": False}]
    calls: list[str] = []
    with notes_server(notes, calls) as ci:
        env = {**os.environ, **ci}
        (tmp_path / "note.py").write_text(_gitlab_note_script(), encoding="utf-8")
        for plan, code in (("first plan", "2"), ("second plan", "0")):
            (tmp_path / "plan.md").write_text(plan, encoding="utf-8")
            subprocess.run(
                [sys.executable, "note.py", code], cwd=tmp_path, env=env, check=True, timeout=30
            )
    assert calls == ["POST", "PUT"]
    assert len(notes) == 2 and notes[0]["body"] == "LGTM"
    assert notes[1]["body"].startswith(MARKER) and "second plan" in notes[1]["body"]


def test_precommit_hooks() -> None:
    hooks = {h["id"]: h for h in load(HOOKS)}
    assert set(hooks) == {"reconciler-validate", "reconciler-validate-files"}
    for hook in hooks.values():
        assert hook["entry"] == "reconciler validate"
        assert hook["language"] == "python"
        files = re.compile(hook["files"])
        assert files.search("users/team.yaml") and files.search("users/eu/sales.yml")
        assert not files.search(".github/workflows/reconciler.yml")
    whole = hooks["reconciler-validate"]
    assert whole["pass_filenames"] is False and whole["args"] == ["users/"]
    assert hooks["reconciler-validate-files"]["pass_filenames"] is True


def test_directory_hook_sees_a_duplicate_across_files(tmp_path: Path) -> None:
    user = "version: 1\nusers:\n  - {login: a@x, email: a@x.com, name: A}\n"
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "one.yaml").write_text(user, encoding="utf-8")
    (tmp_path / "users" / "two.yaml").write_text(user, encoding="utf-8")
    (words,) = [w for w in hook_calls() if "users/" in w]
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *words],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "one.yaml" in done.stderr and "two.yaml" in done.stderr


def test_hook_descriptions_cover_every_system() -> None:
    for hook in load(HOOKS):
        description = hook["description"]
        assert "people files" in description and "every system" in description, hook["id"]
        assert "offline" in description and "DealHub" not in description, hook["id"]


def test_hooks_check_two_systems_offline(tmp_path: Path) -> None:
    """No target, no token: the hooks check the files of every system, never a system."""
    users = tmp_path / "users"
    users.mkdir()
    (users / "settings.yaml").write_text(
        "version: 1\nsettings: {systems: [dealhub, pipedrive]}\nusers: []\n", encoding="utf-8"
    )
    (users / "one.yaml").write_text(
        "version: 1\nusers:\n"
        "  - {login: a@x, email: a@x.com, name: A, pipedrive: {access: [{app: sales}]}}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEALHUB_", "PIPEDRIVE_"))}
    hooks = {h["id"]: h for h in load(HOOKS)}

    def hook(hook_id: str, *files: str) -> subprocess.CompletedProcess[str]:
        entry = shlex.split(hooks[hook_id]["entry"])[1:] + hooks[hook_id].get("args", [])
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *entry, *files],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = hook("reconciler-validate")
    assert done.returncode == 0, done.stderr
    # the changed-files hook does not see settings.yaml (as its comment says)
    done = hook("reconciler-validate-files", "users/one.yaml")
    assert done.returncode == 1 and "not managed" in done.stderr
    # a Pipedrive email listed twice across files, letter case aside
    (users / "two.yaml").write_text(
        "version: 1\nusers:\n  - {login: b@x, email: A@X.com, name: B}\n", encoding="utf-8"
    )
    done = hook("reconciler-validate")
    assert done.returncode == 1
    assert "one.yaml" in done.stderr and "two.yaml" in done.stderr and "Pipedrive" in done.stderr


def test_readme_snippets() -> None:
    section = adopting_section()
    for block in fenced(section, "yaml"):
        assert yaml.safe_load(block)
    (config,) = [yaml.safe_load(b) for b in fenced(section, "yaml") if "repos" in b]
    hook_ids = {h["id"] for h in load(HOOKS)}
    for repo in config["repos"]:
        assert repo["repo"] == "https://github.com/OWNER/reconciler"
        assert {h["id"] for h in repo["hooks"]} <= hook_ids


# -- the apply recipe, run for real against the simulator -------------------------


TENANT = [
    {"login": "a@x", "email": "a@x.com", "name": "Alice", "is_active": True},
    {"login": "c@x", "email": "c@x.com", "name": "Carol", "is_active": True},
]
USERS = """\
version: 1
settings: {unlisted: ignore}
users:
  - {login: a@x, email: a@x.com, name: Alice Changed}
  - {login: b@x, email: b@x.com, name: Bob}
"""


def unreviewed_applies(script: str) -> list[list[str]]:
    """The `reconciler apply` commands of a script that apply no saved plan."""
    return [
        words
        for words in reconciler_calls(script)
        if words[0] == "apply" and not any(w == "--plan" or w.startswith("--plan=") for w in words)
    ]


def test_every_apply_is_of_a_reviewed_saved_plan() -> None:
    """No recipe applies a plan nobody reviewed: every apply is `apply --plan`, no fallback."""
    applies = []
    for path in recipe_files():
        for script in shell_blocks(load(path)):
            assert unreviewed_applies(script) == [], (path.name, script)
            applies += [(path.name, w) for w in reconciler_calls(script) if w[0] == "apply"]
    assert sorted(name for name, _ in applies) == [".gitlab-ci.yml", "reconciler.yml"]
    for where, words in applies:
        # SPEC 5: `apply --plan PLAN.json FILE_OR_DIR...` plans the merged files afresh
        assert words[words.index("--plan") + 1] == "saved-plan/plan.json", (where, words)
        positional = [w for w in words[1:] if not w.startswith("-")]
        assert "$USERS_DIR/" in positional, (where, words)
        assert "--auto-approve" not in words and "--allow-mass-deactivation" not in words
    # the checker sees the fallback that issue 19 removed
    old = 'reconciler apply --plan p.json users/ || reconciler apply "$USERS_DIR/" --auto-approve'
    assert unreviewed_applies(old) == [["apply", "$USERS_DIR/", "--auto-approve"]]


# -- one people file, two systems: the recipes run for real against both simulators --


TWO_SYSTEMS = """\
version: 1
settings:
  systems: [dealhub, pipedrive]
  unlisted: ignore
defaults:
  pipedrive: {access: [{app: sales}]}
users:
  - {login: a@x, email: a@x.com, name: Alice Changed}
  - {login: b@x, email: b@x.com, name: Bob}
  - {login: admin@x, email: admin@x.com, name: Admin, systems: [pipedrive]}
"""
COMPANY = [  # Pipedrive: the token's own user (an admin), and Alice, deactivated
    {
        "id": 1,
        "name": "Admin",
        "email": "admin@x.com",
        "active_flag": True,
        "is_you": True,
        "is_deleted": False,
        "activated": True,
        "access": [{"app": "global", "admin": True}],
    },
    {
        "id": 2,
        "name": "Alice",
        "email": "a@x.com",
        "active_flag": False,
        "is_you": False,
        "is_deleted": False,
        "activated": True,
        "access": [{"app": "sales", "admin": False}],
    },
]
SUMMARIES = (
    "- **DealHub**: 1 to create, 1 to update, 0 to reactivate, 0 to deactivate",
    "- **Pipedrive**: 1 to create, 0 to update, 1 to reactivate, 0 to deactivate",
)
needs_shell = pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("git")), reason="needs bash, git"
)


def two_system_repo(tmp_path: Path, people: str = TWO_SYSTEMS) -> tuple[Path, dict[str, str]]:
    """A repository of one two-system people file, and the environment of a CI job.

    Both systems are the simulators, named through DEALHUB_API_URL and
    PIPEDRIVE_API_URL as the recipes name the real ones; the tokens are not in
    it: each step gets them from its own `env:`, as in the recipe.
    """
    work = tmp_path / "repo"
    (work / "users").mkdir(parents=True)
    (work / "users" / "team.yaml").write_text(people, encoding="utf-8")
    (work / "tenant.json").write_text(json.dumps(TENANT), encoding="utf-8")
    (work / "company.json").write_text(json.dumps(COMPANY), encoding="utf-8")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "users"], ["commit", "-qm", "users"]):
        subprocess.run([*git, *args], cwd=work, check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEALHUB_", "PIPEDRIVE_"))}
    env.update(
        PATH=f"{shims(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}",
        USERS_DIR="users",
        DEALHUB_API_URL="sim:tenant.json",
        PIPEDRIVE_API_URL="sim:company.json",
        GITHUB_OUTPUT=str(tmp_path / "output.txt"),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        GITHUB_SHA="0" * 40,
        HELD_SCRIPT="held.py",
        NO_COLOR="1",
    )
    shutil.copy(CI_DIR / "held.py", work / "held.py")
    return work, env


def run_github_step(
    job: str, step: str, work: Path, env: dict[str, str], secrets: dict[str, str] = SECRETS
) -> subprocess.CompletedProcess[str]:
    spec = _steps(job)[step]
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", spec["run"]],
        cwd=work,
        env={**env, **step_secrets(spec, secrets)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    for secret in secrets.values():
        assert secret not in done.stdout + done.stderr
    return done


def assert_no_secret_in(work: Path) -> None:
    for path in work.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not [s for s in SECRETS.values() if s in text], path


def github_plan_two_systems(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work, env = two_system_repo(tmp_path)
    planned = run_github_step("plan", "reconciler plan", work, env)
    assert planned.returncode == 0, planned.stderr
    assert "exitcode=2" in (tmp_path / "output.txt").read_text(encoding="utf-8")
    # one comment: every system's summary first, then each system's plan
    markdown = (work / "plan.md").read_text(encoding="utf-8")
    dealhub = markdown.index("### DealHub plan for sim:tenant.json")
    assert all(0 <= markdown.find(summary) < dealhub for summary in SUMMARIES), markdown
    assert dealhub < markdown.index("### Pipedrive plan for sim:company.json")
    # the artifact: one saved plan and one text of both systems
    saved = json.loads((work / "plan.json").read_text(encoding="utf-8"))
    assert [p["system"] for p in saved["plans"]] == ["dealhub", "pipedrive"]
    text = (work / "plan.txt").read_text(encoding="utf-8")
    assert [line for line in text.splitlines() if line.startswith("Plan: ")] == [
        "Plan: 1 to create, 1 to update, 0 to reactivate, 0 to deactivate.",
        "Plan: 1 to create, 0 to update, 1 to reactivate, 0 to deactivate.",
    ]
    return work, env


@needs_shell
@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_github_two_systems_one_comment(tmp_path: Path) -> None:
    work, _ = github_plan_two_systems(tmp_path)
    script = _steps("plan")["Post the plan on the pull request"]["with"]["script"]
    (work / "script.js").write_text(script, encoding="utf-8")
    (work / "harness.js").write_text(NODE_HARNESS, encoding="utf-8")
    state = work / "state.json"
    state.write_text(json.dumps({"comments": [], "calls": []}), encoding="utf-8")
    for _push in range(2):
        subprocess.run(
            ["node", "harness.js", "script.js", str(state)],
            cwd=work,
            env={**os.environ, "PLAN_EXITCODE": "2"},
            check=True,
            timeout=30,
        )
    result = json.loads(state.read_text(encoding="utf-8"))
    assert result["calls"] == ["create", "update"]  # one comment, updated: not one per system
    (comment,) = result["comments"]
    assert comment["body"].startswith(MARKER)
    assert all(summary in comment["body"] for summary in SUMMARIES)
    assert "applied when this pull request is merged" in comment["body"]
    assert_no_secret_in(work)


def apply_reports(work: Path) -> list[dict[str, Any]]:
    """Each system's report of the apply step (`--format json`)."""
    reports: list[dict[str, Any]] = json.loads((work / "apply.json").read_text())["reports"]
    return reports


def save_the_plan(work: Path) -> None:
    """What the apply job's download step leaves: the reviewed plan in saved-plan/."""
    (work / "saved-plan").mkdir()
    shutil.copy(work / "plan.json", work / "saved-plan" / "plan.json")


@needs_shell
def test_github_two_systems_apply_the_reviewed_plan(tmp_path: Path) -> None:
    work, env = github_plan_two_systems(tmp_path)
    save_the_plan(work)
    applied = run_github_step("apply", "reconciler apply", work, env)
    assert applied.returncode == 0, applied.stderr
    outputs = (tmp_path / "output.txt").read_text(encoding="utf-8").splitlines()
    assert outputs[-1] == "exitcode=0"
    # the reviewed plan, written in both systems, nothing held
    assert [r["summary"] for r in apply_reports(work)] == [
        {"create": 1, "update": 1, "reactivate": 0, "deactivate": 0, "failed": 0, "skipped": 0},
        {"create": 1, "update": 0, "reactivate": 1, "deactivate": 0, "failed": 0, "skipped": 0},
    ]
    assert all(r.get("held") == [] for r in apply_reports(work))
    assert "reconciler: applied; nothing held" in applied.stdout
    assert re.search(r"written\s+reactivate\s+a@x\.com$", applied.stdout, flags=re.M)
    assert json.loads((work / "held.json").read_text(encoding="utf-8"))["state"] == "clean"
    assert "applied; nothing held" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    # the drift check then finds both systems as the files say
    drift = run_github_step("drift", "reconciler plan --detailed-exitcode", work, env)
    assert drift.returncode == 0, drift.stderr
    assert "exitcode=0" in (tmp_path / "output.txt").read_text(encoding="utf-8").splitlines()[-1]
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "**DealHub**: 0 to create" in summary and "**Pipedrive**: 0 to create" in summary
    assert_no_secret_in(work)


@needs_shell
def test_github_two_systems_one_system_moved_the_rest_is_written(tmp_path: Path) -> None:
    work, env = github_plan_two_systems(tmp_path)
    save_the_plan(work)
    # Someone reactivates Alice in Pipedrive by hand after the review: that saved
    # change is no longer needed (not written); every other reviewed change is
    # written, in both systems, and nothing was held.
    company = json.loads((work / "company.json").read_text(encoding="utf-8"))
    company[1]["active_flag"] = True
    (work / "company.json").write_text(json.dumps(company), encoding="utf-8")
    applied = run_github_step("apply", "reconciler apply", work, env)
    assert applied.returncode == 0, applied.stderr
    assert (tmp_path / "output.txt").read_text(encoding="utf-8").splitlines()[-1] == "exitcode=0"
    dealhub, pipedrive = apply_reports(work)
    assert dealhub["summary"]["create"] == 1 and dealhub["summary"]["update"] == 1
    assert pipedrive["summary"]["create"] == 1 and pipedrive["summary"]["reactivate"] == 0
    assert [(n["action"], n["login"]) for n in pipedrive["no_longer_needed"]] == [
        ("reactivate", "a@x.com")
    ]
    assert re.search(r"no longer needed\s+reactivate\s+a@x\.com", applied.stdout)
    assert "the saved plan does not match" not in applied.stderr


@needs_shell
def test_github_apply_of_the_same_plan_twice_writes_nothing_more(tmp_path: Path) -> None:
    work, env = github_plan_two_systems(tmp_path)
    save_the_plan(work)
    first = run_github_step("apply", "reconciler apply", work, env)
    assert first.returncode == 0, first.stderr
    tenant = (work / "tenant.json").read_text(encoding="utf-8")
    company = (work / "company.json").read_text(encoding="utf-8")
    again = run_github_step("apply", "reconciler apply", work, env)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "output.txt").read_text(encoding="utf-8").splitlines()[-1] == "exitcode=0"
    assert all(r["outcomes"] == [] and r["held"] == [] for r in apply_reports(work))
    assert (work / "tenant.json").read_text(encoding="utf-8") == tenant
    assert (work / "company.json").read_text(encoding="utf-8") == company


@needs_shell
def test_a_file_for_one_system_needs_only_its_token(tmp_path: Path) -> None:
    """An unset secret is empty: fatal for a system the files manage, else unused."""
    work, env = two_system_repo(tmp_path)
    env["PIPEDRIVE_API_URL"] = load(GITHUB)["env"]["PIPEDRIVE_API_URL"]  # never reached
    only_dealhub = {"DEALHUB_TOKEN": SECRETS["DEALHUB_TOKEN"]}
    planned = run_github_step("plan", "reconciler plan", work, env, secrets=only_dealhub)
    assert planned.returncode == 0
    assert "exitcode=1" in (tmp_path / "output.txt").read_text(encoding="utf-8")
    assert "error: no API token: set PIPEDRIVE_API_TOKEN" in planned.stderr
    # the whole run stops before any system is read: no plan of DealHub either
    assert (work / "plan.md").read_text(encoding="utf-8") == ""
    assert not (work / "plan.json").exists()

    # the same workflow, for a people file that manages DealHub alone
    (work / "users" / "team.yaml").write_text(USERS, encoding="utf-8")
    planned = run_github_step("plan", "reconciler plan", work, env, secrets=only_dealhub)
    assert planned.returncode == 0, planned.stderr
    assert "exitcode=2" in (tmp_path / "output.txt").read_text(encoding="utf-8").splitlines()[-1]
    assert "Pipedrive" not in (work / "plan.md").read_text(encoding="utf-8")


@needs_shell
def test_gitlab_two_systems_one_note(tmp_path: Path) -> None:
    work, env = two_system_repo(tmp_path)
    job = load(GITLAB)["plan"]
    script = "\n".join(_strings(job["script"]))
    notes: list[dict[str, Any]] = [{"id": 1, "body": "LGTM", "system": False}]
    calls: list[str] = []
    with notes_server(notes, calls) as ci:
        for _push in range(2):
            # GitLab gives every job the project's CI/CD variables as environment
            done = subprocess.run(
                ["bash", "-eo", "pipefail", "-c", script],
                cwd=work,
                # a merged-results pipeline: checked out at the merge already
                env={**env, **ci, **SECRETS, "CI_MERGE_REQUEST_EVENT_TYPE": "merged_result"},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr  # exit 2 (changes) passes the job
            assert "reconciler plan exited 2" in done.stdout
            assert "runs on the merged result already" in done.stdout
            assert not [s for s in SECRETS.values() if s in done.stdout + done.stderr]
    assert calls == ["POST", "PUT"]  # one note, updated: not one per system
    assert len(notes) == 2 and notes[0]["body"] == "LGTM"
    body = notes[1]["body"]
    assert body.startswith(MARKER) and all(summary in body for summary in SUMMARIES)
    saved = json.loads((work / "plan.json").read_text(encoding="utf-8"))
    assert [p["system"] for p in saved["plans"]] == ["dealhub", "pipedrive"]
    text = (work / "plan.txt").read_text(encoding="utf-8")
    assert text.count("\nPlan: ") == 2
    assert set(job["artifacts"]["paths"]) >= {"plan.json", "plan.txt"}
    assert_no_secret_in(work)


def test_the_readme_says_what_each_ci_job_does_and_what_to_do_with_a_held_change() -> None:
    text = README.read_text(encoding="utf-8")
    saved = text.split("\n### Saved plans\n", 1)[1].split("\n## ", 1)[0]
    for case in (
        "**A merge**",
        "**No reviewed plan**",
        "**A hand change before the merge**",
        "**Two merges in a row**",
        "**A stale branch**",
        "**An edited plan**",
        "**The drift check**",
        "**A held change**",
        "**manual path**",
    ):
        assert case in saved, case
    adopting = adopting_section()
    assert "apply --plan saved-plan/plan.json users/" in adopting
    assert "examples/ci/held.py" in adopting
    # the old fallback is gone from the story as from the recipes
    assert "a\n   fresh plan of the merged files" not in adopting
    assert "fresh plan of the merged files" not in " ".join(adopting.split())
