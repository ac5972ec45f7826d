"""Read YAML into plain data that remembers its line numbers, safely and fast.

libyaml (through PyYAML's C parser) produces the events; this module builds
plain dicts, lists and scalars from them, resolving scalars exactly as PyYAML's
SafeLoader does. Building from events rather than from a composed node tree
lets us keep a line number for every key and list item, count what aliases
expand to (an anchor bomb is refused after a few events, not after gigabytes),
and nest without recursion.
"""

from __future__ import annotations

import gc
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import yaml

from reconciler.errors import Problem
from reconciler.interning import Interner

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml is present on every supported install
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

#: A desired-state file (or standard input) larger than this is refused; reading
#: stops one byte past it.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: How deep mappings and lists may nest (the format needs four levels).
MAX_DEPTH = 64
#: Aliases may add this many nodes beyond ten times the nodes actually written.
ALIAS_ALLOWANCE = 10_000

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_CONSTRUCTED_SCALARS = frozenset(
    {
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:timestamp",
    }
)


class Mapping(dict[Any, Any]):
    """A YAML mapping: a dict that knows the line of itself and of each key."""

    __slots__ = ("key_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}


class Sequence(list[Any]):
    """A YAML sequence: a list that knows the line of itself and of each item."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class YamlError(Exception):
    """The file cannot be read as YAML; carries the located problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic data.

    Every container we build survives, so each collection pass is wasted work;
    on a 10,000-user file it costs more than the parsing itself.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def line_of(value: Any, default: int = 1) -> int:
    """The 1-based line of a Mapping or Sequence, else `default`."""
    return getattr(value, "line", default)


_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()


#: Tags of plain scalars already resolved: keys and shared values repeat a lot.
_plain_tags: dict[str, str] = {}


def _plain_tag(value: str) -> str:
    tag = _plain_tags.get(value)
    if tag is None:
        tag = _resolver.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        if len(value) <= 64 and len(_plain_tags) < 50_000:
            _plain_tags[value] = tag
    return tag


def _scalar(event: Any, file: str) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        if event.implicit[0]:
            tag = _plain_tag(event.value)
        else:
            return event.value
    if tag == _STR:
        return event.value
    if tag == _NULL:
        return None
    if tag == _MERGE:
        return MERGE_KEY
    if tag == _BOOL or tag in _CONSTRUCTED_SCALARS:
        # Reached with an explicit tag only (`!!int abc`): implicit ones resolve
        # from values these constructors accept.
        try:
            if tag == _BOOL:
                return _constructor.bool_values[event.value.lower()]
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
            return _constructor.yaml_constructors[tag](_constructor, node)
        except (KeyError, ValueError, TypeError, AttributeError, OverflowError):
            short = tag.rsplit(":", 1)[-1]
            raise YamlError(
                Problem(
                    file,
                    event.start_mark.line + 1,
                    f"{event.value!r} cannot be read as !!{short}",
                )
            ) from None
    raise YamlError(Problem(file, event.start_mark.line + 1, f"unsupported YAML tag {tag!r}"))


def read_yaml(path: str, text: str | None = None) -> Any:
    """Read one YAML document into Mapping/Sequence/scalars.

    Raises YamlError for a file that is missing, not a regular file, too large,
    malformed, holds more than one document, repeats a key, nests too deep, or
    whose aliases expand far beyond what was written.
    """
    if text is None:
        text = _decode(path, _file_bytes(path))
    with paused_gc():
        return _build(path, text)


def read_yaml_stream(name: str, stream: BinaryIO) -> Any:
    """Read one YAML document from an open byte stream (standard input), shown as `name`.

    The same rules as read_yaml, the size limit included.
    """
    try:
        data = _read_at_most(stream, MAX_FILE_BYTES)
    except OSError as exc:
        raise YamlError(Problem(name, 0, f"cannot read: {exc.strerror or exc}")) from None
    if data is None:
        raise YamlError(_too_large(name))
    return read_yaml(name, _decode(name, data))


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)

# A FIFO opened without O_NONBLOCK waits for a writer: the check after open
# would never be reached.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _not_regular(path: str, mode: int) -> YamlError:
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a file")
    return YamlError(Problem(path, 0, f"not a regular file ({kind})"))


def _too_large(name: str) -> Problem:
    return Problem(
        name,
        0,
        f"more than {MAX_FILE_BYTES:,} bytes, the limit (split the users over several files)",
    )


def _file_bytes(path: str) -> bytes:
    # Only regular files: a device (/dev/zero, /dev/urandom) never ends, a FIFO
    # blocks, a socket cannot be read. Checked before opening (opening a socket
    # fails with a misleading error) and again on the open file, which is what is read.
    try:
        if not stat.S_ISREG(mode := os.stat(path).st_mode):
            raise _not_regular(path, mode)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise YamlError(Problem(path, 0, f"cannot read: {exc.strerror}")) from None
    try:
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise _not_regular(path, info.st_mode)
            data = _read_at_most(fh, MAX_FILE_BYTES, info.st_size)
    except OSError as exc:
        raise YamlError(Problem(path, 0, f"cannot read: {exc.strerror}")) from None
    if data is None:
        raise YamlError(_too_large(path))
    return data


def _read_at_most(stream: BinaryIO, limit: int, size_hint: int = 0) -> bytes | None:
    """All of stream if it holds at most `limit` bytes, else None; never reads past limit+1.

    `size_hint` (what stat says) only sizes the first read: a file may be longer
    than its stat (files under /proc say 0) or grow while it is read.
    """
    first = min(max(size_hint, 0), limit) + 1
    data = stream.read(first)
    if len(data) == first and first <= limit:
        data += stream.read(limit + 1 - first)
    return None if len(data) > limit else data


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlError(Problem(name, line, "the file is not valid UTF-8")) from None


def _build(file: str, text: str) -> Any:
    loader = _Loader(text)
    try:
        return _build_events(loader, file)
    except yaml.reader.ReaderError as exc:
        # libyaml counts the position in bytes of the UTF-8 text.
        line = text.encode("utf-8", "surrogatepass")[: exc.position].count(b"\n") + 1
        message = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise YamlError(Problem(file, line, f"malformed YAML: {message}")) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        message = " ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlError(Problem(file, line, f"malformed YAML: {message}")) from None
    except yaml.YAMLError as exc:
        raise YamlError(Problem(file, 0, f"malformed YAML: {exc}")) from None
    finally:
        loader.dispose()


class _Frame:
    __slots__ = ("anchor", "container", "key", "key_line", "line", "merged", "size")

    def __init__(self, container: Mapping | Sequence, anchor: str | None, line: int) -> None:
        self.container = container
        self.anchor = anchor
        self.line = line
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.size = 1
        self.merged: set[Any] | None = None


def _build_events(loader: Any, file: str) -> Any:
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    in_progress: set[str] = set()
    root: Any = None
    documents = 0
    written = 0
    expanded = 0

    def attach(value: Any, line: int, size: int) -> None:
        nonlocal root
        frame = stack[-1] if stack else None
        if value is MERGE_KEY and (
            frame is None or isinstance(frame.container, Sequence) or frame.key is not _NO_KEY
        ):
            raise YamlError(
                Problem(
                    file,
                    line,
                    "a merge key (<<) can only be a mapping key; quote '<<' for the text",
                )
            )
        if frame is None:
            root = value
            return
        frame.size += size
        container = frame.container
        if isinstance(container, Sequence):
            container.append(value)
            container.item_lines.append(line)
            return
        if frame.key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise YamlError(Problem(file, line, "a mapping key must be a plain value"))
            # Keys repeat in every entry: one shared string each saves ~10% of memory.
            frame.key = sys.intern(value) if type(value) is str else value
            frame.key_line = line
            return
        key, frame.key = frame.key, _NO_KEY
        if key is MERGE_KEY:
            # Explicit keys win over merged ones, wherever the merge stands.
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, dict):
                    raise YamlError(
                        Problem(file, frame.key_line, "a merge key (<<) must name a mapping")
                    )
                for k, v in source.items():
                    if k not in container:
                        container[k] = v
                        container.key_lines[k] = frame.key_line
                        if frame.merged is None:
                            frame.merged = set()
                        frame.merged.add(k)
            return
        if key in container:
            if frame.merged is None or key not in frame.merged:
                raise YamlError(
                    Problem(
                        file,
                        frame.key_line,
                        f"duplicate key {key!r} (first on line {container.key_lines[key]})",
                    )
                )
            frame.merged.discard(key)
        container[key] = value
        container.key_lines[key] = frame.key_line

    # Local names: this loop runs once per YAML event (millions for a big tenant).
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    collection_end = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    document_start = yaml.DocumentStartEvent
    check_event, get_event = loader.check_event, loader.get_event
    no_key = _NO_KEY
    # Values repeat across entries (a company, a city, a title): one copy of each.
    strings = Interner()
    share = strings.sharer()

    while check_event():
        event = get_event()
        kind = type(event)
        if kind is scalar_event:
            written += 1
            line = event.start_mark.line + 1
            if event.implicit[0] or event.tag not in (None, "!"):
                value = _scalar(event, file)
                if type(value) is str:
                    value = share(value, value)
            else:
                value = share(event.value, event.value)  # a quoted string: the common value
            if event.anchor:
                anchors[event.anchor] = (value, 1)
            frame = stack[-1] if stack else None
            if (
                frame is not None
                and frame.key is not no_key
                and frame.key is not MERGE_KEY
                and value is not MERGE_KEY
                and type(frame.container) is Mapping
                and frame.key not in frame.container
            ):
                # A value after its key, in a mapping: the common case, inlined.
                frame.size += 1
                frame.container[frame.key] = value
                frame.container.key_lines[frame.key] = frame.key_line
                frame.key = no_key
            else:
                attach(value, line, 1)
            continue
        line = event.start_mark.line + 1
        if kind is mapping_start or kind is sequence_start:
            written += 1
            if len(stack) >= MAX_DEPTH:
                raise YamlError(Problem(file, line, f"nested deeper than {MAX_DEPTH} levels"))
            if event.tag not in (None, "!", _MAP, _SEQ):
                raise YamlError(Problem(file, line, f"unsupported YAML tag {event.tag!r}"))
            container = Mapping(line) if kind is mapping_start else Sequence(line)
            if event.anchor:
                in_progress.add(event.anchor)
            stack.append(_Frame(container, event.anchor, line))
        elif kind in collection_end:
            share = strings.sharer()  # once per mapping or list: the table's bound holds
            frame = stack.pop()
            if frame.anchor:
                in_progress.discard(frame.anchor)
                anchors[frame.anchor] = (frame.container, frame.size)
            attach(frame.container, frame.line, frame.size)
        elif kind is alias_event:
            if event.anchor in in_progress:
                raise YamlError(Problem(file, line, f"alias *{event.anchor} refers to itself"))
            if event.anchor not in anchors:
                raise YamlError(Problem(file, line, f"unknown alias *{event.anchor}"))
            value, size = anchors[event.anchor]
            expanded += size
            if expanded > 10 * written + ALIAS_ALLOWANCE:
                raise YamlError(
                    Problem(
                        file,
                        line,
                        "aliases expand to far more nodes than the file contains "
                        "(an anchor bomb?); refusing to read it",
                    )
                )
            attach(value, line, size)
        elif kind is document_start:
            documents += 1
            if documents > 1:
                raise YamlError(Problem(file, line, "more than one YAML document in the file"))
    return root


class _NoKey:
    __slots__ = ()


class _MergeKey:
    __slots__ = ()

    def __repr__(self) -> str:
        return "'<<'"


_NO_KEY: Any = _NoKey()
#: The YAML merge key `<<`, told apart from a string key "<<" written in quotes.
MERGE_KEY: Any = _MergeKey()
