"""Setting `is_active: false` on one person of a people file, as a text edit.

A team's file carries comments, an order, quoting, flow-style entries and
maybe CRLF line breaks: `leave` must record a departure without touching any
of it. The edit is the smallest text change that says so: the value of the
person's own `is_active` replaced by `false`, or, when their entry does not set
it, an `is_active: false` key added to the entry in its own style (a line in
block style, `, is_active: false` in a `{...}` entry), with the editor that
`export --merge` uses (reconciler.adopt). The edited text is read back and
must hold exactly the same data but that one value, or nothing is written.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import yaml

from reconciler.adopt import MergeError, _add_keys, _Edits, _key, _Tree, split_lines
from reconciler.desired import DesiredUser
from reconciler.files import read_regular_file, write_text_atomic
from reconciler.yaml_source import MAX_FILE_BYTES, YamlError, read_yaml

_BOM = "\ufeff"
_BOOL = "tag:yaml.org,2002:bool"


class EditError(MergeError):
    """The file cannot be edited safely; the departure is reported, the file left alone."""


@dataclass(frozen=True)
class Edit:
    """One file's text before and after, and the unified diff between them."""

    file: str
    before: str
    after: str

    @property
    def diff(self) -> str:
        """The unified diff (`a/FILE`, `b/FILE`), line breaks shown as `\\n`."""
        old = [line.rstrip("\r\n") + "\n" for line in split_lines(self.before)]
        new = [line.rstrip("\r\n") + "\n" for line in split_lines(self.after)]
        return "".join(difflib.unified_diff(old, new, f"a/{self.file}", f"b/{self.file}"))

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


def set_inactive(text: str, user: DesiredUser) -> str:
    """`text` with `is_active: false` on `user`'s entry, and nothing else changed.

    Raises EditError when the entry cannot be found where the loader found it,
    or when the edit would change anything else (an anchor shared with others).
    """
    try:
        return _set_inactive(text, user)
    except EditError:
        raise
    except MergeError as exc:  # adopt's editor refused (an alias, a flow-style file)
        raise EditError(str(exc), exc.details) from None


def _set_inactive(text: str, user: DesiredUser) -> str:
    file = user.file
    bom = _BOM if text.startswith(_BOM) else ""
    body = text[len(bom) :]
    lines = split_lines(body)
    tree = _Tree(body, lines, file)
    entry = _entry(tree, user)
    found = _key(entry, "is_active")
    if found is not None and found[1].tag == _BOOL and not _is_true(found[1].value):
        return text  # already false in its own entry
    edits = _Edits()
    if found is not None and isinstance(found[1], yaml.ScalarNode) and found[1].tag == _BOOL:
        value = found[1]
        if value.start_mark.line != value.end_mark.line or value.style:
            raise tree.refuse(value, "this is_active is not a plain true")
        if _at(value.start_mark) < _at(found[0].end_mark):
            raise tree.refuse(value, "this is_active is an alias: write it out")
        row, start, end = value.start_mark.line, value.start_mark.column, value.end_mark.column
        lines[row] = lines[row][:start] + "false" + lines[row][end:]
    elif found is not None:
        raise tree.refuse(found[1], "this is_active is not true or false")
    else:
        _add_keys(tree, edits, entry, ["is_active: false"])
    edited = bom + edits.apply(lines, _newline(body))
    _check_same_but_inactive(text, edited, user)
    return edited


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


def _entry(tree: _Tree, user: DesiredUser) -> yaml.MappingNode:
    """The node of `user`'s entry: the item of `users` that starts on their line."""
    found = _key(tree.root, "users")
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


def deactivate_in_file(user: DesiredUser) -> Edit:
    """The edit of `user`'s file that records their departure (not written yet)."""
    before = read_text(user.file)
    return Edit(user.file, before, set_inactive(before, user))
