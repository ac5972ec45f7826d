"""What every simulator's store shares: its error, and its JSON state file read and written.

A state file is a JSON array of the system's user objects, one a line, so it
stays readable and its diffs small. Saving replaces the file atomically, so a
process killed mid-write leaves either the old or the new state, never half.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

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


K = TypeVar("K", bound=Hashable)
S = TypeVar("S", bound="Store[Any]")


class Store(Generic[K]):
    """What every simulator's store does alike: its users by key under one lock, read
    from a state file, shown as copies or as themselves.

    A system's store fills `_users` in its own `__init__` (its checks, its key) and
    says how a user is copied when it holds more than flat values (`_copy`).
    """

    #: How messages name the state file ("tenant file") and its items ("users").
    FILE_NOUN: ClassVar[str] = "state file"
    ITEMS_NOUN: ClassVar[str] = "users"

    def __init__(self, users: Iterable[Mapping[str, Any]] = (), *, path: Path | None = None):
        self.path = path
        self.lock = threading.RLock()
        self._users: dict[K, User] = {}

    @classmethod
    def load(cls: type[S], path: Path, *, persist: bool) -> S:
        """Read a state file; with `persist` every later write is saved back to it."""
        data = read_json_array(path, cls.FILE_NOUN, cls.ITEMS_NOUN)
        try:
            return cls(data, path=path if persist else None)
        except StateError as exc:
            raise StateError(f"{path}: {exc}") from None

    @staticmethod
    def _copy(user: User) -> User:
        return dict(user)

    def __len__(self) -> int:
        return len(self._users)

    def users(self) -> list[User]:
        """Copies of every user, in the file's order."""
        with self.lock:
            return [self._copy(u) for u in self._users.values()]

    def view(self) -> list[User]:
        """The stored users themselves, in order: no copies, so never change them."""
        with self.lock:
            return list(self._users.values())

    def get(self, key: K) -> User | None:
        """A copy of the user stored under `key`, or None."""
        with self.lock:
            user = self._users.get(key)
            return self._copy(user) if user is not None else None
