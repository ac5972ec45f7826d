#!/usr/bin/env python3
"""The access review and the leaver jobs of the GitHub and GitLab recipes.

Copy it beside held.py (it imports held.py's GitLab client and its text cleaning);
the recipes name it in LIFECYCLE_SCRIPT. Python 3.10+, standard library only.

  lifecycle.py person
      refuse a PERSON (from the environment, never argv) that cannot be a login or
      an email: exit 1 with one line, before anything reads a system
  lifecycle.py review-pack --code N
      after `reconciler review` wrote review.md, review.html, review.csv and
      review.json (exit N of the --detailed-exitcode run): check that the four
      carry one digest (one state of the systems), and write review-issue.json
      ({"state": "flagged" | "clean" | "failed", ...}) for the step that keeps the
      one review issue; exit 1 when the pack does not agree with itself
  lifecycle.py gitlab-review-issue
      GitLab: open or update the one review issue (flagged), or close it (clean)
  lifecycle.py leaver --report leave.json --code N [--run-url URL]
      the body of the leaver's pull request (leaver.md) from leave's JSON report
  lifecycle.py gitlab-leaver-mr --branch NAME --target BRANCH --dir USERS_DIR
      GitLab: commit the files leave edited under USERS_DIR on a new branch through the
      Commits API (no git credentials in the job), and open a merge request with
      leaver.md as its description

Every string taken from a report is untrusted: control characters are dropped, and
lists sit in code fences no backtick in them can close (held.fenced).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

from held import GitLab, clean, fenced

#: Hidden first line of the one issue of the access review.
REVIEW_MARKER = "<!-- reconciler-review -->"
REVIEW_TITLE = "Access review: accounts to look at (reconciler)"
#: GitLab label of that issue (found by it, then checked for the marker).
REVIEW_LABEL = "reconciler-review"
#: The pack: what `reconciler review` writes, one file per format.
PACK = ("review.md", "review.html", "review.csv", "review.json")
#: Room for an issue's or a pull request's text (GitHub and GitLab take 65,536).
MAX_BODY_CHARS = 60_000
#: What a login or an email can hold (DealHub logins are emails or email-like):
#: nothing a shell, a YAML file, a branch name or an option parser gives meaning to.
PERSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+@-]{0,253}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def person(_: argparse.Namespace) -> int:
    """Check $PERSON; print why it is refused (without echoing it raw)."""
    value = os.environ.get("PERSON", "")
    if PERSON.fullmatch(value) and ".." not in value:
        print(f"Leaver: {value}")
        return 0
    shown = json.dumps(clean(value)[:80])
    print(
        f"error: PERSON {shown} is not a login or an email: use letters, digits and . _ % + - @ "
        "only, starting with a letter or a digit",
        file=sys.stderr,
    )
    return 1


# -- the access review --------------------------------------------------------------


def review_pack(args: argparse.Namespace) -> int:
    """Check the pack's digests and say what the review issue should become."""
    digests: dict[str, set[str]] = {}
    for name in PACK:
        path = Path(name)
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        digests[name] = set(_DIGEST.findall(text))
    found = set().union(*digests.values())
    problem = ""
    if args.code not in (0, 2):
        problem = f"reconciler review exited {args.code}"
    elif any(len(d) != 1 for d in digests.values()) or len(found) != 1:
        problem = (
            "the formats of the pack carry different digests: a system changed while it "
            "was read; run the review again"
        )
    state = "failed" if problem else "flagged" if args.code == 2 else "clean"
    run = f" · [run]({args.run_url})" if args.run_url else ""
    if problem:
        body = f"### The access review failed{run}\n\n{clean(problem)}.\n"
        print(f"error: {problem}", file=sys.stderr)
    else:
        (digest,) = found
        print(f"Review pack: {', '.join(PACK)}; digest {digest}")
        summary = Path("review.md").read_text(encoding="utf-8")
        if len(summary) > MAX_BODY_CHARS:
            summary = summary[:MAX_BODY_CHARS] + "\n\n*(cut: the whole review is in the pack)*\n"
        body = f"{summary}\n\nDigest of every file of the pack: `{digest}`{run}\n"
    Path("review-issue.json").write_text(
        json.dumps(
            {
                "state": state,
                "marker": REVIEW_MARKER,
                "title": REVIEW_TITLE,
                "body": f"{REVIEW_MARKER}\n{body}",
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return 1 if problem else 0


def gitlab_review_issue(_: argparse.Namespace) -> int:
    """Open or update the one review issue while anything is flagged; close it when not."""
    api = GitLab()
    if not api.token:
        print("RECONCILER_NOTES_TOKEN is not set: the review is only in this job")
        return 0
    try:
        issue = json.loads(Path("review-issue.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print("No review-issue.json (the review pack was not checked): the issue is left alone")
        return 0
    label = urllib.parse.quote(REVIEW_LABEL)
    issues = api.pages(f"/issues?state=opened&labels={label}")
    mine = next((i for i in issues if (i.get("description") or "").startswith(REVIEW_MARKER)), None)
    if issue["state"] == "flagged":
        if mine:
            api.call("PUT", f"/issues/{int(mine['iid'])}", {"description": issue["body"]})
        else:
            new = {"title": REVIEW_TITLE, "description": issue["body"], "labels": REVIEW_LABEL}
            api.call("POST", "/issues", new)
    elif issue["state"] == "clean" and mine:
        note = {"body": "Nothing is flagged any more.\n\n" + issue["body"]}
        api.call("POST", f"/issues/{int(mine['iid'])}/notes", note)
        api.call("PUT", f"/issues/{int(mine['iid'])}", {"state_event": "close"})
    return 0


# -- the leaver ---------------------------------------------------------------------


def leaver(args: argparse.Namespace) -> int:
    """leaver.md: what leave did in each system and the edit of the files, for the PR."""
    try:
        data = json.loads(Path(args.report).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        data = {}
    who = clean(data.get("person") or os.environ.get("PERSON", ""))
    lines = [f"{clean(data.get('finished_at') or data.get('started_at') or '')} leave {who}"]
    for system in data.get("systems") or []:
        if isinstance(system, dict):
            why = f": {clean(system['why'])}" if system.get("why") else ""
            lines.append(
                f"  {clean(system.get('system', '')):<10} {clean(system.get('state', ''))}"
                f" {clean(system.get('key', ''))}{why}"
            )
    for note in data.get("notes") or []:
        lines.append(clean(note))
    files = data.get("files") if isinstance(data.get("files"), dict) else {}
    diff = [clean(line) for line in str(files.get("diff") or "").splitlines()]
    ok = args.code == 0
    status = (
        "done: inactive in every system that has them"
        if ok
        else f"not done everywhere (exit {args.code})"
    )
    run = f" · [run]({args.run_url})" if args.run_url else ""
    body = [
        f"### reconciler leave: {status}{run}",
        "",
        "This pull request records a departure made now with `reconciler leave`: the "
        "systems were changed before it was opened. A plan of it shows no change for "
        "this person; merge it so the files say what the systems already do. The job's "
        "`reconciler-leave` artifact (leave.json) is the audit record.",
        "",
        fenced(lines),
        "",
    ]
    if diff:
        body += ["The edit of the files:", "", fenced(diff), ""]
    if files.get("problem"):
        body += [f"The files were not edited: {clean(files['problem'])}", ""]
    if not ok:
        body += [
            "Not every system is done: run the leaver again once the cause is fixed (it "
            "writes only what is left), or merge this and let the apply finish it.",
            "",
        ]
    text = "\n".join(body)
    print("\n".join(lines))
    Path("leaver.md").write_text(text[:MAX_BODY_CHARS], encoding="utf-8")
    return 0


def gitlab_leaver_mr(args: argparse.Namespace) -> int:
    """Commit the edited files on a new branch and open the merge request."""
    token = os.environ.get("RECONCILER_LEAVER_TOKEN", "")
    if not token:
        print("error: RECONCILER_LEAVER_TOKEN is not set: no merge request", file=sys.stderr)
        return 1
    api = GitLab()
    api.token = token
    title = f"Leaver: {clean(os.environ.get('PERSON', ''))} (reconciler leave)"
    changed = subprocess.run(
        ["git", "diff", "--name-only", "-z", "--", args.dir],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    actions = [
        {
            "action": "update",
            "file_path": name,
            # bytes decoded as they are: read_text would turn CRLF into LF
            "content": Path(name).read_bytes().decode("utf-8"),
        }
        for name in changed.split("\0")
        if name
    ]
    if not actions:
        print("The files are unchanged: no merge request.")
        return 0
    api.call(
        "POST",
        "/repository/commits",
        {
            "branch": args.branch,
            "start_branch": args.target,
            "commit_message": title,
            "actions": actions,
        },
    )
    request = {
        "source_branch": args.branch,
        "target_branch": args.target,
        "title": title,
        "description": Path("leaver.md").read_text(encoding="utf-8"),
        "remove_source_branch": True,
    }
    made = api.call("POST", "/merge_requests", request)
    print(f"Opened merge request !{int(made['iid'])} from {args.branch}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("person").set_defaults(run=person)
    pack = sub.add_parser("review-pack")
    pack.add_argument("--code", type=int, required=True)
    pack.add_argument("--run-url")
    pack.set_defaults(run=review_pack)
    sub.add_parser("gitlab-review-issue").set_defaults(run=gitlab_review_issue)
    body = sub.add_parser("leaver")
    body.add_argument("--report", required=True)
    body.add_argument("--code", type=int, required=True)
    body.add_argument("--run-url")
    body.set_defaults(run=leaver)
    mr = sub.add_parser("gitlab-leaver-mr")
    mr.add_argument("--branch", required=True)
    mr.add_argument("--target", required=True)
    mr.add_argument("--dir", required=True)
    mr.set_defaults(run=gitlab_leaver_mr)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
