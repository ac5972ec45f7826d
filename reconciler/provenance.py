"""The last commit that changed each person's entry, when the files are in a git repository.

An auditor asks when an access was approved: the commit that last changed the
person's entry in the people files (its id, date and subject; a merged pull
request's merge commit when the history has them) answers it.

How, and why so: one `git log -p -U0 --first-parent` over the files (per
repository), read newest first, while each entry's lines are followed back
through every commit's hunks, as `git blame` does. Unlike one `git blame` per
file, it also sees a line deleted inside an entry (removing `is_active: false`
re-grants access and leaves no line behind for blame), it is one process per
repository whatever the number of files, and it stops reading as soon as every
entry has its commit (at 10,000 people, usually after the first few commits).
The work is linear in the diff lines read, plus the entries still open per commit.

Before the history, `git diff -U0 HEAD` finds entries changed and not yet
committed: those (and entries of files git does not track) have no commit.
History follows the files' current names (`--no-renames`): an entry last
changed before a file was renamed is dated by the rename.

No git, no repository, or standard input: no commit for anyone, said once
(`Provenance.note`). Commit text is the repository's: shown escaped like any input.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from reconciler.desired import STDIN, DesiredState


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit as the review shows it."""

    id: str
    #: Its committer date, ISO 8601 with the committer's offset.
    date: str
    subject: str


#: Where an entry is: its file (as the files were given) and its first line.
Where = tuple[str, int]


@dataclass
class Provenance:
    """Each entry's last commit (None: uncommitted, untracked, or not in a repository)."""

    commits: dict[Where, Commit | None] = field(default_factory=dict)
    #: Why there are no commits, or some are missing: said once in every format.
    note: str | None = None

    def of(self, where: Where) -> Commit | None:
        return self.commits.get(where)


# -- entries --------------------------------------------------------------------


@dataclass
class Span:
    """The lines of one entry in the current version of its file, as history is walked."""

    where: Where
    start: int
    end: int
    #: The column of the entry's keys: a deleted line indented so far was in the entry.
    column: int


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def spans(lines: Sequence[str], starts: Iterable[int], file: str) -> list[Span]:
    """Each entry's lines: from its first line to the last line indented under its keys.

    `lines` is the file's text split into lines; `starts` the 1-based first lines
    of its entries. Trailing blank and comment lines belong to no entry.
    """
    found = []
    for start in sorted(set(starts)):
        if not 1 <= start <= len(lines):
            continue
        first = lines[start - 1]
        column = _indent(first)
        rest = first[column:]
        if rest.startswith("-"):
            column += 1 + _indent(rest[1:])
        end = start
        for number in range(start + 1, len(lines) + 1):
            line = lines[number - 1]
            if _blank(line):
                continue
            if _indent(line) < column:
                break
            end = number
        found.append(Span((file, start), start, end, column))
    # Entries never overlap; a hand-made file could nest: cut each at the next.
    for before, after in itertools.pairwise(found):
        before.end = min(before.end, after.start - 1)
    return found


# -- following entries through hunks --------------------------------------------


@dataclass(frozen=True, slots=True)
class Hunk:
    """One `@@ -a,b +c,d @@` of a zero-context diff, and the first line it removed."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    removed: str | None = None

    @property
    def last(self) -> int:
        # A pure deletion sits after line new_start: lines after it move, it does not.
        return self.new_start + max(self.new_len, 1) - 1


def _touches(span: Span, hunk: Hunk) -> bool:
    if hunk.new_len > 0:
        return True  # the caller only asks about hunks that overlap the span
    after = hunk.new_start
    if after < span.end:
        return True
    # Removed right after the entry's last line: the entry's own if indented under it.
    removed = hunk.removed
    return removed is not None and not _blank(removed) and _indent(removed) >= span.column


def step(open_spans: list[Span], hunks: list[Hunk]) -> tuple[list[Span], list[Span]]:
    """(touched, still open) after one commit's hunks of one file, newest first.

    The open spans come back in the parent's line numbers. Both lists are sorted
    by line; one pass over each.
    """
    touched: list[Span] = []
    kept: list[Span] = []
    h = 0
    delta = 0
    for span in open_spans:
        while h < len(hunks) and hunks[h].last < span.start:
            delta += hunks[h].new_len - hunks[h].old_len
            h += 1
        hit = False
        j = h
        while j < len(hunks) and hunks[j].new_start <= span.end:
            if _touches(span, hunks[j]):
                hit = True
                break
            j += 1
        if hit:
            touched.append(span)
        else:
            span.start -= delta
            span.end -= delta
            kept.append(span)
    return touched, kept


# -- reading git's output -------------------------------------------------------

_RECORD = "\x1e"
_FIELD = "\x1f"
_FORMAT = f"--format={_RECORD}%H{_FIELD}%cI{_FIELD}%s"


@dataclass
class FileDiff:
    """The hunks of one file in one commit (commit None: the uncommitted changes)."""

    commit: Commit | None
    path: str
    hunks: list[Hunk] = field(default_factory=list)


def _unquote(name: str) -> str:
    """A path as git writes it in a diff header: C-quoted when it holds odd characters."""
    if not (len(name) >= 2 and name[0] == name[-1] == '"'):
        return name
    out = bytearray()
    body = name[1:-1]
    i = 0
    simple = {"n": 10, "t": 9, '"': 34, "\\": 92, "a": 7, "b": 8, "f": 12, "r": 13, "v": 11}
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if body[i + 1 : i + 4].isdigit():
                out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
        out.extend(char.encode("utf-8"))
        i += 1
    return out.decode("utf-8", errors="replace")


def _hunk_header(line: str) -> Hunk | None:
    # @@ -a[,b] +c[,d] @@ ...
    try:
        _, old, new, *_ = line.split(" ", 3)
        old_start, _, old_len = old[1:].partition(",")
        new_start, _, new_len = new[1:].partition(",")
        return Hunk(
            int(old_start), int(old_len or 1), int(new_start), int(new_len or 1), removed=None
        )
    except ValueError:
        return None


def parse(lines: Iterable[str], commit: Commit | None = None) -> Iterator[FileDiff]:
    """The file diffs of `git log -p -U0` (or `git diff -U0`) output, in order.

    Hunk bodies are counted by the header's line numbers, so no content line
    (whatever it starts with) is ever read as a header.
    """
    current: FileDiff | None = None
    old_left = new_left = 0
    pending: Hunk | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        if old_left or new_left:
            if line.startswith("-"):
                if pending is not None and pending.removed is None:
                    pending = Hunk(
                        pending.old_start,
                        pending.old_len,
                        pending.new_start,
                        pending.new_len,
                        line[1:],
                    )
                old_left -= 1
            elif line.startswith("+"):
                new_left -= 1
            if not (old_left or new_left) and current is not None and pending is not None:
                current.hunks.append(pending)
                pending = None
            continue
        if line.startswith(_RECORD):
            if current is not None:
                yield current
                current = None
            parts = line[1:].split(_FIELD, 2)
            parts += [""] * (3 - len(parts))
            commit = Commit(parts[0], parts[1], parts[2])
        elif line.startswith("diff --git "):
            if current is not None:
                yield current
            current = FileDiff(commit, "")
        elif line.startswith("+++ ") and current is not None and not current.hunks:
            name = _unquote(line[4:])
            current.path = name[2:] if name.startswith("b/") else ""
        elif line.startswith("@@ ") and current is not None:
            hunk = _hunk_header(line)
            if hunk is None:
                continue
            old_left, new_left = hunk.old_len, hunk.new_len
            if old_left or new_left:
                pending = hunk
            else:
                current.hunks.append(hunk)
    if current is not None:
        yield current


# -- running git ----------------------------------------------------------------

_GIT_OPTIONS = (
    "-c",
    "core.quotepath=on",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
)
_DIFF = ("-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames")


class _NoGit(Exception):
    pass


def _git(cwd: str, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *_GIT_OPTIONS, *args],
            cwd=cwd,
            capture_output=True,
            check=False,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as exc:
        raise _NoGit(f"git cannot be run ({exc.strerror})") from None
    if done.returncode != 0:
        raise _NoGit(done.stderr.strip().splitlines()[0] if done.stderr.strip() else "git failed")
    return done.stdout


def _toplevel(directory: str) -> str | None:
    try:
        return _git(directory, "rev-parse", "--show-toplevel").strip() or None
    except _NoGit:
        return None


def trace(
    spans_by_path: dict[str, list[Span]], diffs: Iterable[FileDiff]
) -> dict[Where, Commit | None]:
    """Each span's newest commit from `diffs` (newest first); stops when none is open.

    Spans still open at the end have no commit. Pure: git's output in, commits out.
    """
    found: dict[Where, Commit | None] = {}
    left = sum(len(v) for v in spans_by_path.values())
    for diff in diffs:
        if left == 0:
            break
        open_spans = spans_by_path.get(diff.path)
        if not open_spans:
            continue
        touched, kept = step(open_spans, sorted(diff.hunks, key=lambda h: h.new_start))
        spans_by_path[diff.path] = kept
        for span in touched:
            found[span.where] = diff.commit
        left -= len(touched)
    return found


def _log(top: str, paths: list[str]) -> tuple[subprocess.Popen[str], IO[str]]:
    process = subprocess.Popen(
        [
            "git",
            *_GIT_OPTIONS,
            "log",
            "-p",
            "-m",
            "--first-parent",
            *_DIFF,
            _FORMAT,
            "--",
            *paths,
        ],
        cwd=top,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert process.stdout is not None
    return process, process.stdout


def _repository(
    top: str, files: dict[str, str], starts: dict[str, list[int]]
) -> dict[Where, Commit | None]:
    """The commits of the entries of the files of one repository (`files`: relative -> as given)."""
    by_path: dict[str, list[Span]] = {}
    for relative, given in files.items():
        try:
            with open(given, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        by_path[relative] = spans(lines, starts[given], given)
    paths = sorted(files)
    found: dict[Where, Commit | None] = {}
    # Uncommitted changes first: an entry they touch has no commit yet.
    worktree = _git(top, "diff", *_DIFF, "HEAD", "--", *paths)
    found.update(trace(by_path, parse(worktree.splitlines())))
    process, stdout = _log(top, paths)
    try:
        found.update(trace(by_path, parse(stdout)))
    finally:
        # Stopping early: git is told, not waited on to write what no one reads.
        process.kill()
        process.wait()
    # A shallow clone's oldest commits look as if they added every line: they did not.
    cut = _shallow(top)
    return {where: None if c is not None and c.id in cut else c for where, c in found.items()}


def _shallow(top: str) -> frozenset[str]:
    """The boundary commits of a shallow clone (empty for a whole history)."""
    if _git(top, "rev-parse", "--is-shallow-repository").strip() != "true":
        return frozenset()
    path = _git(top, "rev-parse", "--git-path", "shallow").strip()
    try:
        with open(os.path.join(top, path), encoding="ascii", errors="replace") as handle:
            return frozenset(line.strip() for line in handle if line.strip())
    except OSError:
        return frozenset()


def find(state: DesiredState) -> Provenance:
    """Each person's entry's last commit (see the module docstring)."""
    starts: dict[str, list[int]] = {}
    for user in state.users.values():
        starts.setdefault(user.file, []).append(user.line)
    if not starts:
        return Provenance()
    if STDIN in starts:
        return Provenance(note="people read from standard input have no commit")
    tops: dict[str, str | None] = {}
    grouped: dict[str, dict[str, str]] = {}
    outside: list[str] = []
    for given in starts:
        directory = os.path.dirname(os.path.abspath(given))
        if directory not in tops:
            tops[directory] = _toplevel(directory)
        top = tops[directory]
        if top is None:
            outside.append(given)
            continue
        relative = os.path.relpath(os.path.realpath(given), os.path.realpath(top))
        grouped.setdefault(top, {})[relative.replace(os.sep, "/")] = given
    commits: dict[Where, Commit | None] = {}
    problems: list[str] = []
    for top, files in grouped.items():
        try:
            commits.update(_repository(top, files, starts))
        except _NoGit as exc:
            problems.append(f"git history of {top} unreadable: {exc}")
    total = sum(len(set(lines)) for lines in starts.values())
    missing = total - sum(1 for commit in commits.values() if commit is not None)
    notes = []
    if not grouped:
        notes.append("the files are not in a git repository (or git is not installed)")
    elif outside:
        notes.append(f"{len(outside)} of the files are outside any git repository")
    notes.extend(problems)
    if grouped and missing and not problems:
        notes.append(
            f"{missing} {'entry has' if missing == 1 else 'entries have'} no commit "
            "(changed since the last commit, in a file git does not track, or older than "
            "a shallow clone's history: fetch the whole history, e.g. fetch-depth: 0)"
        )
    return Provenance(commits, "; ".join(notes) or None)
