"""Setting `is_active: false` on one person of a people file, as a text edit.

A team's file carries comments, an order, quoting, flow-style entries and
maybe CRLF line breaks: `leave` must record a departure without touching any
of it. The edit is the smallest text change that says so: the value of the
person's own `is_active` replaced by `false`, or, when their entry does not set
it, an `is_active: false` key added to the entry in its own style (a line in
block style, `, is_active: false` in a `{...}` entry), with the editor that
`export --merge` uses (reconciler.yaml_edit). The edited text is read back and
must hold exactly the same data but that one value, or nothing is written.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from dataclasses import dataclass

import yaml

from reconciler.desired import DesiredState, DesiredUser
from reconciler.files import read_regular_file, write_text_atomic
from reconciler.yaml_edit import Edits, MergeError, Tree, add_keys, key_of, split_lines
from reconciler.yaml_source import MAX_FILE_BYTES, YamlError, read_yaml

_BOM = "\ufeff"
#: Lines of context around the edit in its diff (difflib's and diff -u's default).
_CONTEXT = 3
_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def _renumbered(match: re.Match[str], offset: int) -> str:
    """A hunk header of a window that starts `offset` lines into the file, numbered as the file."""
    old, old_count, new, new_count = match.groups()
    return f"@@ -{int(old) + offset}{old_count or ''} +{int(new) + offset}{new_count or ''} @@"


_BOOL = "tag:yaml.org,2002:bool"


class EditError(MergeError):
    """The file cannot be edited safely; the departure is reported, the file left alone."""


@dataclass(frozen=True)
class Edit:
    """One file's text before and after, and the unified diff between them."""

    file: str
    before: str
    after: str

    @functools.cached_property
    def diff(self) -> str:
        """The unified diff (`a/FILE`, `b/FILE`), line breaks shown as `\\n`.

        The edit is one place of the file: only the lines around it are compared
        (difflib over a 200,000-line file takes seconds), then numbered as the file's.
        """
        old = [line + "\n" for line in self.before.splitlines()]
        new = [line + "\n" for line in self.after.splitlines()]
        shortest = min(len(old), len(new))
        head = 0
        while head < shortest and old[head] == new[head]:
            head += 1
        tail = 0
        while tail < shortest - head and old[-1 - tail] == new[-1 - tail]:
            tail += 1
        start = max(0, head - _CONTEXT)
        hunks = difflib.unified_diff(
            old[start : min(len(old), len(old) - tail + _CONTEXT)],
            new[start : min(len(new), len(new) - tail + _CONTEXT)],
            f"a/{self.file}",
            f"b/{self.file}",
            n=_CONTEXT,
        )
        return "".join(_HUNK.sub(lambda m: _renumbered(m, start), line) for line in hunks)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def write(self) -> None:
        """Replace the file with the edited text (atomically)."""
        from pathlib import Path

        write_text_atomic(Path(self.file), self.after)


def read_text(file: str) -> str:
    """A people file's text, as the loader reads it (a byte-order mark kept, for writing back)."""
    try:
        return read_regular_file(file, MAX_FILE_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EditError(f"cannot read {file} again to edit it: {exc}") from None


def set_inactive(text: str, user: DesiredUser, next_line: int | None = None) -> str:
    """`text` with `is_active: false` on `user`'s entry, and nothing else changed.

    `next_line` is the line of the next person's entry in the same file (None:
    the person is the file's last): the entry's own lines are then edited and
    checked alone, which keeps a departure from a 10,000-person file fast. An
    entry whose text holds an anchor, an alias or a merge key is edited over the
    whole file. Raises EditError when the entry cannot be found where the loader
    found it, or when the edit would change anything else (an anchor shared
    with others).
    """
    bom = _BOM if text.startswith(_BOM) else ""
    body = text[len(bom) :]
    lines = split_lines(body)
    try:
        window = _window(lines, user, next_line)
        if window is not None:
            edited = _edited_window(lines, window, user)
            if edited is not None:
                return bom + edited
        edited = _edit(body, lines, user, _newline(body))
    except EditError:
        raise
    except MergeError as exc:  # adopt's editor refused (an alias, a flow-style file)
        raise EditError(str(exc), exc.details) from None
    _check_same_but_inactive(body, edited, user)
    return bom + edited


#: The first line (and the file's line break) that makes an entry's own lines a
#: document of one person.
_HEAD = "users:"


def _window(lines: list[str], user: DesiredUser, next_line: int | None) -> tuple[int, int] | None:
    """The entry's own lines (first, end), or None when they cannot stand alone."""
    first = user.line - 1
    end = len(lines) if next_line is None else next_line - 1
    if not 0 <= first < end <= len(lines) or not lines[first].lstrip().startswith("- "):
        return None
    own = "".join(lines[first:end])
    # An anchor, an alias or a merge key ties the entry to the rest of the file;
    # a directive changes how the whole file reads.
    if any(sign in own for sign in ("&", "*", "<<")) or lines[0].startswith("%"):
        return None
    return first, end


def _edited_window(lines: list[str], window: tuple[int, int], user: DesiredUser) -> str | None:
    """The whole text with the entry's lines edited as a document of their own, or None."""
    first, end = window
    head = _HEAD + _newline("".join(lines[:1]))
    own = [head, *lines[first:end]]
    alone = dataclasses.replace(user, line=2, file=f"{user.file} (lines {first + 1}-{end})")
    try:
        edited = _edit("".join(own), own, alone, _newline("".join(lines[:1])))
        _check_same_but_inactive("".join(own), edited, alone)
    except MergeError:
        return None  # the lines do not read alone as they do in the file: edit the whole
    return "".join(lines[:first]) + edited[len(head) :] + "".join(lines[end:])


def _edit(body: str, lines: list[str], user: DesiredUser, newline: str) -> str:
    """`body` (whose `lines` these are) with the person's `is_active: false`, unchecked.

    `newline` is the file's own line break, for a line the edit adds.
    """
    lines = list(lines)
    tree = Tree(body, lines, user.file)
    entry = _entry(tree, user)
    found = key_of(entry, "is_active")
    if found is not None and found[1].tag == _BOOL and not _is_true(found[1].value):
        return body  # already false in its own entry
    edits = Edits()
    if found is not None and isinstance(found[1], yaml.ScalarNode) and found[1].tag == _BOOL:
        value = found[1]
        row, start, end = value.start_mark.line, value.start_mark.column, value.end_mark.column
        if row != value.end_mark.line or value.style or lines[row][start:end] != value.value:
            # Quoted, anchored (`&a true`) or an alias: not a plain true of its own.
            raise tree.refuse(value, "this is_active is not a plain true: write it out")
        lines[row] = lines[row][:start] + "false" + lines[row][end:]
    elif found is not None:
        raise tree.refuse(found[1], "this is_active is not true or false")
    else:
        add_keys(tree, edits, entry, ["is_active: false"])
    return edits.apply(lines, newline)


def _at(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line, mark.column


def _is_true(value: str) -> bool:
    return yaml.constructor.SafeConstructor.bool_values.get(value.lower()) is True


def _newline(text: str) -> str:
    """The file's own line break (its first one), `\\n` when it has none."""
    for line in split_lines(text):
        ending = line[len(line.rstrip("\r\n\x85\u2028\u2029")) :]
        if ending:
            return ending
    return "\n"


def _entry(tree: Tree, user: DesiredUser) -> yaml.MappingNode:
    """The node of `user`'s entry: the item of `users` that starts on their line."""
    found = key_of(tree.root, "users")
    items = found[1].value if found and isinstance(found[1], yaml.SequenceNode) else []
    for node in items:
        if isinstance(node, yaml.MappingNode) and node.start_mark.line + 1 == user.line:
            tree.own(node, "this entry")
            return node
    raise EditError(f"{tree.file} changed while it was read; nothing was written")


def _check_same_but_inactive(before: str, after: str, user: DesiredUser) -> None:
    """The edited file holds the same data as before but the person's `is_active: false`."""
    try:
        old, new = read_yaml(user.file, before), read_yaml(user.file, after)
    except YamlError as exc:
        raise EditError(f"{user.file}: the edit would not be valid YAML ({exc})") from None
    people_old, people_new = old.get("users") or [], new.get("users") or []
    index = next(
        (i for i, entry in enumerate(people_old) if getattr(entry, "line", None) == user.line),
        None,
    )
    expected = [dict(entry) for entry in people_old]
    if index is not None:
        expected[index]["is_active"] = False
    rest_old = {k: v for k, v in old.items() if k != "users"}
    rest_new = {k: v for k, v in new.items() if k != "users"}
    if index is None or [dict(e) for e in people_new] != expected or rest_old != rest_new:
        raise EditError(
            f"{user.where()}: setting is_active: false here would change more than "
            f"{user.login} (an anchor or a merge key shared with others?): edit it by hand"
        )


def deactivate_in_file(state: DesiredState, user: DesiredUser) -> Edit:
    """The edit of `user`'s file that records their departure (not written yet)."""
    before = read_text(user.file)
    later = [u.line for u in state.users.values() if u.file == user.file and u.line > user.line]
    return Edit(user.file, before, set_inactive(before, user, min(later, default=None)))
