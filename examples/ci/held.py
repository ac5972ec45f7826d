#!/usr/bin/env python3
"""What an apply in CI wrote and what it held, for the GitHub and GitLab recipes.

Copy it beside the recipe (the recipes name it in HELD_SCRIPT). Python 3.10+, standard
library only: the CI image needs nothing but reconciler.

  held.py render --report apply.json --code N [--stderr FILE] [--run-url URL]
      the report of `reconciler apply --plan ... --format json` (exit code N)
  held.py render --pending plan.json --reason TEXT [--run-url URL]
      no reviewed plan: every change of this read-only plan is held, for REASON
  held.py gitlab-plan DIR
      GitLab, on a merge: the plan reviewed on the merged merge request, to DIR/plan.json
      (and its iid to DIR/mr-iid); nothing there when none can be found
  held.py gitlab-post [DIR]
      GitLab: the rendered result as a note on that merge request and in the one
      open "held" issue (updated, or closed when nothing is held)

`render` prints the result for the job log and writes held.md (for a comment, an
issue and a job summary) and held.json ({"state": "clean" | "held" | "failed",
"held": [...]}). Every string taken from a report is untrusted: control characters
are dropped, and in markdown the list sits in a code fence longer than any run of
backticks it holds, so no login can inject markup, a mention or a workflow command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

#: Hidden first line of the one issue that lists every held change.
ISSUE_MARKER = "<!-- reconciler-held -->"
#: Hidden first line of the result posted on a merged pull request / merge request.
APPLY_MARKER = "<!-- reconciler-apply -->"
ISSUE_TITLE = "Merged changes held, not applied (reconciler)"
#: GitLab label of that issue (found by it, then checked for the marker).
ISSUE_LABEL = "reconciler-held"
WHAT_TO_DO = (
    "A held change is one that no reviewed plan holds as it is now: it was not in the "
    "plan reviewed for this merge (another merge whose apply did not run, a change made "
    "by hand in a system, a merge with no saved plan), or its user changed since that "
    "plan. Nothing was written for it. Review it: record it (or undo it) in a pull "
    "request, whose plan is reviewed and applied on merge, or run the manual apply, "
    "which shows a fresh plan and applies that plan after an approval. Every apply "
    "updates this list; the first one that holds nothing closes the issue."
)
#: Room for the list in a comment or an issue (GitHub and GitLab take 65,536 characters).
MAX_LIST_CHARS = 60_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(value: Any) -> str:
    """One line of untrusted text, without control or bidirectional characters."""
    return _CONTROL.sub(" ", str(value)).strip()


def _reports(data: Any, key: str) -> list[dict[str, Any]]:
    """The per-system objects of one JSON answer (one system, or several under `key`)."""
    if isinstance(data, dict) and isinstance(data.get(key), list):
        return [r for r in data[key] if isinstance(r, dict)]
    return [data] if isinstance(data, dict) and "system" in data else []


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _fields(item: dict[str, Any]) -> str:
    fields = item.get("fields") or []
    names = list(fields) if isinstance(fields, dict | list) else []
    return f" [{', '.join(clean(n) for n in names)}]" if names else ""


def _line(kind: str, item: dict[str, Any], why: Any, fields: bool = False) -> str:
    head = f"  {kind:<17} {clean(item.get('action', '')):<10} {clean(item.get('login', ''))}"
    head += _fields(item) if fields else ""
    return f"{head}: {clean(why)}" if why else head


def from_report(data: Any) -> tuple[list[str], list[dict[str, Any]], bool]:
    """Log lines, held changes, and whether any user failed, of an apply report."""
    lines: list[str] = []
    held: list[dict[str, Any]] = []
    failed = False
    for report in _reports(data, "reports"):
        system = clean(report.get("system", ""))
        lines.append(f"{system} ({clean(report.get('target', ''))})")
        for item in _items(report.get("held")):
            held.append({**item, "system": system})
            lines.append(_line("HELD", item, item.get("reason"), fields=True))
        for outcome in _items(report.get("outcomes")):
            status = clean(outcome.get("status", ""))
            failed = failed or status != "done"
            kind = {"done": "written", "failed": "FAILED"}.get(status, status)
            lines.append(_line(kind, outcome, outcome.get("message")))
        for item in _items(report.get("no_longer_needed")):
            lines.append(_line("no longer needed", item, item.get("reason")))
        if report.get("ok") is False:
            failed = True
    return lines, held, failed


def from_pending(data: Any, reason: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Every change of a read-only plan, held for `reason`."""
    lines: list[str] = []
    held: list[dict[str, Any]] = []
    for plan in _reports(data, "plans"):
        system = clean(plan.get("system", ""))
        lines.append(f"{system} ({clean(plan.get('target', ''))})")
        for change in _items(plan.get("changes")):
            item = {
                "system": system,
                "login": change.get("login"),
                "action": change.get("action"),
                "fields": sorted(change.get("fields") or {}),
                "reason": reason,
            }
            held.append(item)
            lines.append(_line("HELD", item, reason, fields=True))
    return lines, held


def fenced(lines: list[str]) -> str:
    """`lines` as a code block no backtick in them can close."""
    longest = max((len(run) for run in re.findall(r"`+", "\n".join(lines))), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n" + "\n".join(lines) + f"\n{fence}"


def _errors(path: str | None) -> list[str]:
    """The `error:` lines of reconciler's stderr (never the plan it also prints there)."""
    if not path or not Path(path).is_file():
        return []
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return [clean(line) for line in text.splitlines() if line.startswith("error:")]


def render(args: argparse.Namespace) -> int:
    errors = _errors(args.stderr)
    if args.pending is not None:
        lines, held = from_pending(_load(args.pending), args.reason)
        failed, code = True, 1
    else:
        code = args.code
        lines, held, failed = from_report(_load(args.report))
        failed = failed or code != 0
    state = "held" if held else "failed" if failed else "clean"
    if state == "held":
        title = f"{len(held)} change{'s' if len(held) != 1 else ''} held, not applied"
    elif state == "failed":
        title = f"apply failed (exit {code})"
    else:
        title = "applied; nothing held"
    if args.pending is not None:
        lines.insert(0, f"Nothing was written: {clean(args.reason)}.")
    lines += errors
    run = f" · [run]({args.run_url})" if args.run_url else ""
    body = [f"### reconciler: {title}{run}", ""]
    shown = lines
    while shown and len(fenced(shown)) > MAX_LIST_CHARS:
        shown = shown[: len(shown) * 3 // 4]
    if shown:
        body += [fenced(shown), ""]
    if len(shown) < len(lines):
        body += [f"*(cut: {len(lines) - len(shown)} more lines are in the job log)*", ""]
    if state != "clean":
        body += [WHAT_TO_DO, ""]
    print(f"reconciler: {title}")
    print("\n".join(lines))
    Path("held.md").write_text("\n".join(body), encoding="utf-8")
    summary = {
        "state": state,
        "title": title,
        "held": held,
        # one place for what the posting steps of both recipes need
        "issue_marker": ISSUE_MARKER,
        "issue_title": ISSUE_TITLE,
        "apply_marker": APPLY_MARKER,
    }
    Path("held.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


def _load(path: str) -> Any:
    """The JSON document at `path`; None when the command printed none (it failed early)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- GitLab ----------------------------------------------------------------------------


class GitLab:
    """The few GitLab REST calls the recipe needs, with a project access token."""

    def __init__(self) -> None:
        env = os.environ
        self.token = env.get("RECONCILER_NOTES_TOKEN", "")
        self.project = f"{env['CI_API_V4_URL']}/projects/{env['CI_PROJECT_ID']}"

    def call(self, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.project + path,
            data=data,
            method=method,
            headers={"PRIVATE-TOKEN": self.token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as resp:
            payload = resp.read()
        return payload if raw else json.loads(payload)

    def pages(self, path: str) -> list[Any]:
        found: list[Any] = []
        sep = "&" if "?" in path else "?"
        for page in range(1, 51):
            batch = self.call("GET", f"{path}{sep}per_page=100&page={page}")
            if not batch:
                break
            found += batch
        return found


def gitlab_plan(args: argparse.Namespace) -> int:
    """Save the plan reviewed on the merge request this push merged, if there is one.

    Whatever goes wrong, it saves nothing and says why: the apply then writes nothing
    and lists everything pending as held.
    """
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    api = GitLab()
    if not api.token:
        print("RECONCILER_NOTES_TOKEN is not set: the reviewed plan cannot be found")
        return 0
    try:
        _find_plan(api, out)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        (out / "plan.json").unlink(missing_ok=True)
        print(f"Cannot find the reviewed plan: {clean(exc)}")
    return 0


def _find_plan(api: GitLab, out: Path) -> None:
    sha = os.environ["CI_COMMIT_SHA"]
    mrs = [m for m in api.call("GET", f"/repository/commits/{sha}/merge_requests") or []]
    merged = [m for m in mrs if m.get("state") == "merged"]
    if not merged:
        print(f"No merged merge request for {sha}.")
        return
    mr = merged[0]
    iid = int(mr["iid"])
    (out / "mr-iid").write_text(str(iid), encoding="utf-8")
    # The plan reviewed is that of the last pipeline of the merge request's head.
    pipelines = api.pages(f"/merge_requests/{iid}/pipelines")
    for pipeline in sorted(pipelines, key=lambda p: int(p["id"]), reverse=True):
        if pipeline.get("sha") != mr.get("sha"):
            continue
        jobs = api.pages(f"/pipelines/{int(pipeline['id'])}/jobs")
        for job in sorted(jobs, key=lambda j: int(j["id"]), reverse=True):
            if job.get("name") != "plan" or not job.get("artifacts_file"):
                continue
            try:
                plan = api.call("GET", f"/jobs/{int(job['id'])}/artifacts/plan.json", raw=True)
            except OSError:
                continue  # this job kept no plan (it failed before planning)
            (out / "plan.json").write_bytes(plan)
            print(f"The plan reviewed on !{iid}: job {int(job['id'])}.")
            return
    print(f"No saved plan for !{iid} at its head {clean(mr.get('sha'))}.")


def gitlab_post(args: argparse.Namespace) -> int:
    """Post held.md on the merged merge request and keep the one "held" issue."""
    api = GitLab()
    if not api.token:
        print("RECONCILER_NOTES_TOKEN is not set: the result is only in this log")
        return 0
    summary = json.loads(Path("held.json").read_text(encoding="utf-8"))
    body = Path("held.md").read_text(encoding="utf-8")
    iid_file = Path(args.dir) / "mr-iid"
    if iid_file.is_file() and summary["state"] != "clean":
        iid = int(iid_file.read_text(encoding="utf-8"))
        api.call("POST", f"/merge_requests/{iid}/notes", {"body": f"{APPLY_MARKER}\n{body}"})
    label = urllib.parse.quote(ISSUE_LABEL)
    issues = api.pages(f"/issues?state=opened&labels={label}")
    mine = next((i for i in issues if (i.get("description") or "").startswith(ISSUE_MARKER)), None)
    text = f"{ISSUE_MARKER}\n{body}"
    if summary["state"] != "clean":
        if mine:
            api.call("PUT", f"/issues/{int(mine['iid'])}", {"description": text})
        else:
            new = {"title": ISSUE_TITLE, "description": text, "labels": ISSUE_LABEL}
            api.call("POST", "/issues", new)
    elif mine:
        note = {"body": f"Nothing is held any more.\n\n{body}"}
        api.call("POST", f"/issues/{int(mine['iid'])}/notes", note)
        api.call("PUT", f"/issues/{int(mine['iid'])}", {"state_event": "close"})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("render")
    source = one.add_mutually_exclusive_group(required=True)
    source.add_argument("--report")
    source.add_argument("--pending")
    one.add_argument("--code", type=int, default=1)
    one.add_argument("--reason", default="no reviewed plan was found for this merge")
    one.add_argument("--stderr")
    one.add_argument("--run-url")
    one.set_defaults(run=render)
    find = sub.add_parser("gitlab-plan")
    find.add_argument("dir")
    find.set_defaults(run=gitlab_plan)
    post = sub.add_parser("gitlab-post")
    post.add_argument("dir", nargs="?", default="saved-plan")
    post.set_defaults(run=gitlab_post)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
