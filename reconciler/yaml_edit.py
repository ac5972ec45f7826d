"""A comment-keeping text editor of a YAML file: insert keys and lines, never rewrite.

A team's people file carries comments, an order and a layout that a regenerated
file would lose, so an edit inserts text into the original lines: whole lines
after a line, or text at a column (in a flow-style `{...}` entry). The file is
composed into nodes with their positions (Tree); an edit that would change a
node repeated through an alias is refused. Adoption (a provider's `--merge`) and
`reconciler leave` (people_edit) edit people files through it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.errors import UsageError
from reconciler.yaml_source import paused_gc

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml is present on every supported install
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

#: What YAML counts as a line break (marks count lines by these, so the edits must too).
_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_STR = "tag:yaml.org,2002:str"


class MergeError(UsageError):
    """The merge cannot be done as a safe text edit; `details` names each reason."""

    def __init__(self, message: str, details: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.details = list(details)


# --- the text and its edits -----------------------------------------------------


def split_lines(text: str) -> list[str]:
    """The lines of `text` as YAML counts them, each with its line break."""
    lines: list[str] = []
    start = 0
    for match in _BREAK.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


@dataclass
class Edits:
    """Insertions into the original lines: whole lines after a line, or text at a column."""

    after: dict[int, list[str]] = field(default_factory=dict)
    inline: dict[int, list[tuple[int, str]]] = field(default_factory=dict)

    def add_lines(self, after: int, lines: Iterable[str]) -> None:
        self.after.setdefault(after, []).extend(lines)

    def add_text(self, line: int, column: int, text: str) -> None:
        self.inline.setdefault(line, []).append((column, text))

    def apply(self, lines: list[str], newline: str) -> str:
        out: list[str] = list(self.after.get(-1, ()))
        out = [line + newline for line in out]
        for number, line in enumerate(lines):
            # Right to left, so that each column still points into the original line;
            # texts at one column keep the order they were added in.
            for column, text in sorted(
                reversed(self.inline.get(number, [])), key=lambda item: -item[0]
            ):
                line = line[:column] + text + line[column:]
            added = self.after.get(number)
            if added and not _BREAK.search(line[-1:]):
                line += newline  # the last line had no line break
            out.append(line)
            out.extend(text + newline for text in added or ())
        return "".join(out)


# --- the composed file ------------------------------------------------------------


def _at(mark: Any) -> tuple[int, int]:
    return mark.line, mark.column


class Tree:
    """The file composed into nodes with their positions, and how often each node is used.

    A node used twice is an anchor that an alias repeats: editing its text
    would change every place that repeats it.
    """

    def __init__(self, text: str, lines: list[str], file: str) -> None:
        self.lines = lines
        self.file = file
        self.uses: Counter[int] = Counter()
        # Every node built survives the call: the collector's passes would be wasted.
        with paused_gc():
            self._compose(text)

    def _compose(self, text: str) -> None:
        try:
            root = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError as exc:  # the loader read it: the file changed since
            raise MergeError(
                f"{self.file} cannot be read again ({exc}); nothing was written"
            ) from None
        if not isinstance(root, yaml.MappingNode) or root.flow_style:
            raise MergeError(
                f"{self.file}: write the file in block style (key: value lines) to merge it"
            )
        self.root: yaml.MappingNode = root
        # Only collections are ever edited: scalars are not counted.
        mapping, sequence = yaml.MappingNode, yaml.SequenceNode
        stack: list[yaml.Node] = [self.root]
        uses = self.uses
        while stack:
            node = stack.pop()
            uses[id(node)] += 1
            if uses[id(node)] > 1:
                continue
            if type(node) is mapping:
                stack.extend(v for _, v in node.value if type(v) is not yaml.ScalarNode)
            elif type(node) is sequence:
                stack.extend(v for v in node.value if type(v) is not yaml.ScalarNode)

    def refuse(self, node: yaml.Node, why: str) -> MergeError:
        return MergeError(
            f"{self.file}:{node.start_mark.line + 1}: {why}; nothing was written",
        )

    def own(self, node: yaml.Node, what: str) -> None:
        """Refuse to edit a node that other places repeat through an alias."""
        if self.uses[id(node)] > 1:
            raise self.refuse(
                node, f"{what} is repeated elsewhere through an alias: write it out to merge"
            )


def key_of(mapping: yaml.MappingNode, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    for key, value in mapping.value:
        if isinstance(key, yaml.ScalarNode) and key.tag == _STR and key.value == name:
            return key, value
    return None


def is_alias(before: yaml.Node, node: yaml.Node) -> bool:
    """Whether `node`, read after `before`, is an alias (its anchor is written earlier)."""
    return _at(node.start_mark) < _at(before.end_mark)


def end_line(tree: Tree, node: yaml.Node) -> int:
    """The last line of a node's own text (a block collection ends with its last item)."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style:
        if not node.value:
            break
        if isinstance(node, yaml.MappingNode):
            key, value = node.value[-1]
            if is_alias(key, value):
                return int(key.end_mark.line)  # `key: *anchor`: the alias is on the key's line
            node = value
        else:
            item = node.value[-1]
            if _at(item.start_mark) < _at(node.start_mark):  # an alias
                raise tree.refuse(item, "a list ending with an alias cannot be extended")
            node = item
    mark = node.end_mark
    line = int(mark.line)
    if mark.column == 0 and line > node.start_mark.line:
        # A block scalar (`|`) ends at the start of the line after it, past its trailing
        # blank lines: those are its text only when it keeps them (`|+`).
        line -= 1
        header = tree.lines[node.start_mark.line][node.start_mark.column :].split("#", 1)[0]
        if "+" not in header:
            while line > node.start_mark.line and not tree.lines[line].strip():
                line -= 1
    return line


def add_keys(tree: Tree, edits: Edits, entry: yaml.MappingNode, keys: list[str]) -> None:
    """Insert `key: value` texts into a mapping: as lines in block style, inline in flow."""
    tree.own(entry, "this entry")
    if not entry.flow_style:
        indent = " " * entry.start_mark.column
        edits.add_lines(end_line(tree, entry), (indent + key for key in keys))
        return
    text = "".join(f", {key}" for key in keys)
    if not entry.value:
        edits.add_text(entry.start_mark.line, entry.start_mark.column + 1, text[2:])
        return
    last_key, last_value = entry.value[-1]
    if is_alias(last_key, last_value):
        raise tree.refuse(entry, "a {...} entry ending with an alias: write it in block style")
    edits.add_text(last_value.end_mark.line, last_value.end_mark.column, text)


def extend_list(tree: Tree, edits: Edits, key: yaml.Node, seq: yaml.Node, item: str) -> None:
    """Add `item` at the end of a list of systems, in the list's own style."""
    if not isinstance(seq, yaml.SequenceNode) or is_alias(key, seq):
        raise tree.refuse(key, f"{key.value} is an alias or not a list: write the list out")
    tree.own(seq, f"this {key.value} list")
    if not seq.value:
        edits.add_text(seq.start_mark.line, seq.start_mark.column + 1, item)
        return
    last = seq.value[-1]
    if seq.flow_style:
        if _at(last.start_mark) < _at(seq.start_mark):
            raise tree.refuse(seq, "a list ending with an alias cannot be extended")
        edits.add_text(last.end_mark.line, last.end_mark.column, f", {item}")
    else:
        edits.add_lines(end_line(tree, seq), [" " * seq.start_mark.column + f"- {item}"])
