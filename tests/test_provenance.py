"""Each person's last commit, from one `git log -p` pass (reconciler.provenance).

A temporary repository with three commits: the first adds three people, the
second changes one of them, the third deletes a line inside another's entry
(which `git blame` would not see). Then uncommitted edits, a file outside any
repository, and the parser against content that looks like a diff header.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler import provenance
from reconciler.desired import load_desired

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

FIRST = """\
version: 1
settings: {systems: [dealhub]}
users:
  - login: ann@x
    email: ann@x.com
    name: Ann
  - login: bob@x
    email: bob@x.com
    name: Bob
    position: Sales
  - login: cat@x
    email: cat@x.com
    name: Cat
    is_active: false
"""


def git(repo: Path, *args: str, date: str | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@x",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo),
    }
    if date is not None:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = date
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def commit(repo: Path, text: str, subject: str, date: str) -> str:
    (repo / "people.yaml").write_text(text)
    git(repo, "add", "people.yaml")
    git(repo, "commit", "-q", "-m", subject, date=f"{date}T12:00:00+00:00")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    git(tmp_path, "init", "-q", "-b", "main")
    ids = [
        commit(tmp_path, FIRST, "Add Ann, Bob and Cat", "2026-01-01"),
        commit(
            tmp_path,
            FIRST.replace("position: Sales", "position: CCS"),
            "Bob moves to CCS",
            "2026-02-01",
        ),
        commit(
            tmp_path,
            FIRST.replace("position: Sales", "position: CCS").replace("    is_active: false\n", ""),
            "Cat returns",
            "2026-03-01",
        ),
    ]
    return tmp_path, ids


def commits_by_login(path: Path) -> tuple[dict[str, provenance.Commit | None], str | None]:
    state = load_desired([str(path)])
    found = provenance.find(state)
    return {u.login: found.of((u.file, u.line)) for u in state.users.values()}, found.note


def test_each_entry_gets_the_newest_commit_that_touched_it(repo: tuple[Path, list[str]]) -> None:
    path, ids = repo
    commits, note = commits_by_login(path / "people.yaml")
    assert note is None
    assert {login: c.id if c else None for login, c in commits.items()} == {
        "ann@x": ids[0],
        "bob@x": ids[1],
        "cat@x": ids[2],  # a deleted line inside the entry: blame would miss it
    }
    bob = commits["bob@x"]
    assert bob is not None and bob.subject == "Bob moves to CCS"
    assert bob.date.startswith("2026-02-01T12:00:00")


def test_an_uncommitted_change_leaves_that_entry_without_a_commit(
    repo: tuple[Path, list[str]],
) -> None:
    path, ids = repo
    people = path / "people.yaml"
    people.write_text(people.read_text().replace("name: Ann", "name: Ann Smith"))
    commits, note = commits_by_login(people)
    assert commits["ann@x"] is None
    bob = commits["bob@x"]
    assert bob is not None and bob.id == ids[1]
    assert note is not None and "1 entry has no commit" in note


def test_a_shallow_clone_dates_no_entry_by_its_cut(
    repo: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path, ids = repo
    clone = tmp_path_factory.mktemp("clone") / "c"
    git(path, "clone", "-q", "--depth", "2", f"file://{path}", str(clone))
    commits, note = commits_by_login(clone / "people.yaml")
    # The clone's oldest commit (Bob's move) looks as if it added every line.
    assert {login: c.id if c else None for login, c in commits.items()} == {
        "ann@x": None,
        "bob@x": None,
        "cat@x": ids[2],
    }
    assert note is not None and "shallow" in note


def test_a_person_added_later_moves_the_lines_of_the_others(
    repo: tuple[Path, list[str]],
) -> None:
    path, ids = repo
    text = (path / "people.yaml").read_text()
    dan = "  - login: dan@x\n    email: dan@x.com\n    name: Dan\n"
    added = text.replace("users:\n", "users:\n" + dan)
    fourth = commit(path, added, "Add Dan", "2026-04-01")
    commits, _ = commits_by_login(path / "people.yaml")
    assert {login: c.id if c else None for login, c in commits.items()} == {
        "dan@x": fourth,
        "ann@x": ids[0],
        "bob@x": ids[1],
        "cat@x": ids[2],
    }


def test_files_outside_a_repository_have_no_commit_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = tmp_path / "people.yaml"
    people.write_text(FIRST)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    commits, note = commits_by_login(people)
    assert set(commits.values()) == {None}
    assert note == "the files are not in a git repository (or git is not installed)"


def test_spans_end_at_the_last_line_indented_under_the_entry() -> None:
    lines = [*FIRST.splitlines(), "", "  # a comment between", "defaults: {}"]
    found = provenance.spans(lines, [4, 7, 11], "f")
    assert [(s.start, s.end) for s in found] == [(4, 6), (7, 10), (11, 14)]


def test_content_that_looks_like_a_header_is_read_as_content() -> None:
    log = [
        "\x1eabc\x1f2026-01-01T00:00:00+00:00\x1fA subject with \x1f in it",
        "diff --git a/p.yaml b/p.yaml",
        "--- a/p.yaml",
        "+++ b/p.yaml",
        "@@ -2,0 +3,2 @@",
        "++++ b/other.yaml",
        "+@@ -1 +1 @@",
    ]
    (diff,) = provenance.parse(log)
    assert diff.path == "p.yaml" and diff.commit is not None
    assert diff.commit.subject == "A subject with \x1f in it"
    assert [(h.new_start, h.new_len) for h in diff.hunks] == [(3, 2)]


def test_a_quoted_path_is_unquoted() -> None:
    log = ['diff --git "a/t\\303\\251am.yaml" "b/t\\303\\251am.yaml"', '+++ "b/t\\303\\251am.yaml"']
    (diff,) = provenance.parse(log)
    assert diff.path == "téam.yaml"
