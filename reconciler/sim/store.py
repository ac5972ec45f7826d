"""What every simulator's store shares: its error, and its JSON state file read and written.

A state file is a JSON array of the system's user objects, one a line, so it
stays readable and its diffs small. Saving replaces the file atomically, so a
process killed mid-write leaves either the old or the new state, never half.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reconciler.files import write_text_atomic
from reconciler.textsafe import json_safe

#: One stored user, as the system's API shows it.
User = dict[str, Any]


class StateError(ValueError):
    """A state file is missing, unreadable or not a valid array of users."""


_raw_encode = json.JSONEncoder(ensure_ascii=False).encode


def encode_json(value: Any) -> str:
    """JSON text of `value` as the simulators send and save it: UTF-8 text, kept readable.

    Invisible characters (a lone surrogate from a state file among them) are
    escaped by the rule every output of the tool follows (textsafe.json_safe):
    the text is the same JSON value, and always encodable as UTF-8.
    """
    return json_safe(_raw_encode(value))


def json_array_document(lines: Iterable[str]) -> str:
    """A JSON array of already encoded items, one a line."""
    # One user a line: the file stays readable and its diffs small.
    return "[\n" + ",\n".join(lines) + "\n]\n"


def write_json_atomic(path: Path, users: Iterable[User]) -> None:
    """Replace `path` with a JSON array of `users`, one user a line, atomically."""
    write_text_atomic(path, json_array_document(map(encode_json, users)))


def read_json_array(path: Path, noun: str, items: str) -> list[Any]:
    """A simulator's state file: a JSON array, or a StateError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateError(f"{noun} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read {noun} {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise StateError(f"{path}: expected a JSON array of {items}")
    return data
