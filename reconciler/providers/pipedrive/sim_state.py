"""The simulated Pipedrive company: its users in memory, optionally saved to a JSON file.

The file is a JSON array of the vendor's user objects (`USER_FIELDS`). Keys the
vendor may add are kept as they are. Exactly one user is the token's own
(`is_you`). Saving replaces the file atomically, one user a line.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reconciler.files import write_text_atomic
from reconciler.sim.store import StateError, Store, encode_json

User = dict[str, Any]

#: The apps the vendor's description names (August 2026). The set grows (SPEC
#: section 7, "Open vendor sets"): the simulator accepts any other app name too.
APPS = ("global", "sales", "campaigns", "projects", "account_settings", "partnership", "nova")
#: The fields of a user object, in the order the vendor shows them.
USER_FIELDS = (
    "id", "name", "default_currency", "locale", "lang", "email", "phone", "activated",
    "last_login", "created", "modified", "has_created_company", "access", "active_flag",
    "timezone_name", "timezone_offset", "role_id", "icon_url", "is_you", "is_deleted",
)  # fmt: skip
BOOLEAN_FIELDS = ("active_flag", "activated", "has_created_company", "is_you", "is_deleted")
#: What a user object read from a file lacks is filled in with these (name: the email).
DEFAULTS: dict[str, Any] = {
    "default_currency": "USD",
    "locale": "en_US",
    "lang": 1,
    "phone": None,
    "activated": True,
    "last_login": None,
    # The vendor types `created` (and `last_login`) as a string, never null.
    "created": "2024-01-01 00:00:00",
    "modified": None,
    "has_created_company": False,
    "access": [{"app": "sales"}],
    "timezone_name": "UTC",
    "timezone_offset": "+00:00",
    "role_id": 1,
    "icon_url": None,
    "is_you": False,
    "is_deleted": False,
}
_NULLABLE_TEXT = ("phone", "last_login", "created", "modified", "icon_url")
_PERMISSION_SETS = uuid.UUID("6f1c2a1e-5d0b-4c7e-9a43-2b8f0e7d1c55")


def permission_set_id(app: str, admin: bool) -> str:
    """The company's default permission set of an app, regular or admin (stable UUIDs)."""
    return str(uuid.uuid5(_PERMISSION_SETS, f"{app}:{'admin' if admin else 'regular'}"))


def timestamp(now: float) -> str:
    """The vendor's time format: UTC, `YYYY-MM-DD HH:MM:SS`."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))


def filled_access(item: Mapping[str, Any]) -> dict[str, Any]:
    """An access entry as the vendor shows it: `admin` and `permission_set_id` always there.

    What was given is kept; what was left out is the app's default: not admin,
    and the company's permission set of that app.
    """
    admin = item.get("admin", False)
    admin = admin if isinstance(admin, bool) else False
    filled = dict(item)
    filled["admin"] = admin
    if not isinstance(item.get("permission_set_id"), str) or not item["permission_set_id"]:
        filled["permission_set_id"] = permission_set_id(str(item["app"]), admin)
    return {"app": filled.pop("app"), "admin": filled.pop("admin"), **filled}


def new_user(user_id: int, email: str, *, active_flag: bool, **fields: Any) -> User:
    """A user object with every field: the given ones, else the defaults (name: the email)."""
    user: User = {"id": user_id, "name": email, "email": email, "active_flag": active_flag}
    for name in USER_FIELDS:
        if name in fields:
            user[name] = fields[name]
        elif name not in user:
            user[name] = DEFAULTS[name]
    user["access"] = [dict(item) for item in user["access"]]
    return {name: user[name] for name in USER_FIELDS}


def takes_seat(user: Mapping[str, Any]) -> bool:
    """An active or invited user of the company takes a paid seat."""
    return bool(user["active_flag"]) and not user["is_deleted"]


def key(email: str) -> str:
    """Emails are compared without regard to letter case."""
    return email.casefold()


class PipedriveStore(Store[int]):
    """The users of one simulated company, by id, safe to share across threads.

    Users are plain dicts; the store hands out copies and takes whole users, so a
    caller never changes a stored user in place. With `path` set every write is
    saved to that file before it becomes visible.
    """

    FILE_NOUN = "company file"
    ITEMS_NOUN = "Pipedrive users"

    def __init__(self, users: Iterable[Mapping[str, Any]] = (), *, path: Path | None = None):
        super().__init__(path=path)
        self._live: dict[str, int] = {}
        self._deleted: dict[str, int] = {}
        self._lines: dict[int, str] | None = None
        you: list[int] = []
        for index, raw in enumerate(users):
            user = _checked_user(raw, f"user {index}")
            if user["id"] in self._users:
                raise StateError(f"user {index}: id {user['id']} appears twice")
            email = key(user["email"])
            if not user["is_deleted"] and email in self._live:
                raise StateError(
                    f"user {index}: email {user['email']!r} appears twice among the users "
                    "not deleted"
                )
            self._users[user["id"]] = user
            self._index(user)
            if user["is_you"]:
                you.append(user["id"])
        if len(you) != 1:
            raise StateError(
                f"exactly one user must have is_you: true (the token's own user), not {len(you)}"
            )
        self.you = you[0]
        if self._users[self.you]["is_deleted"]:
            raise StateError(f"user {self.you}: the token's own user (is_you) is deleted")
        self._next_id = max(self._users) + 1

    @staticmethod
    def _copy(user: User) -> User:
        # Deep enough: the access items too.
        return _copy(user)

    def live_with_email(self, email: str) -> User | None:
        """The user of the company (not deleted) with this email, in any letter case."""
        with self.lock:
            user_id = self._live.get(key(email))
            return self.get(user_id) if user_id is not None else None

    def deleted_with_email(self, email: str) -> User | None:
        """The last deleted user that had this email."""
        with self.lock:
            user_id = self._deleted.get(key(email))
            return self.get(user_id) if user_id is not None else None

    def seats_used(self) -> int:
        with self.lock:
            return sum(takes_seat(u) for u in self._users.values())

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id - 1

    def put(self, user: Mapping[str, Any]) -> None:
        """Store a whole user (replacing the one with its id), then save.

        When saving fails nothing changes in memory either.
        """
        stored = _copy(user)
        with self.lock:
            if self.path is not None:
                lines = dict(self._lines) if self._lines is not None else _lines(self._users)
                lines[stored["id"]] = _encode(stored)
                write_text_atomic(self.path, _document(lines.values()))
                self._lines = lines
            old = self._users.get(stored["id"])
            if old is not None:
                self._unindex(old)
            self._users[stored["id"]] = stored
            self._index(stored)
            self._next_id = max(self._next_id, stored["id"] + 1)

    def _index(self, user: User) -> None:
        (self._deleted if user["is_deleted"] else self._live)[key(user["email"])] = user["id"]

    def _unindex(self, user: User) -> None:
        index = self._deleted if user["is_deleted"] else self._live
        if index.get(key(user["email"])) == user["id"]:
            del index[key(user["email"])]


def _copy(user: Mapping[str, Any]) -> User:
    copied = dict(user)
    copied["access"] = [dict(item) for item in user["access"]]
    return copied


def _checked_user(raw: object, where: str) -> User:
    if not isinstance(raw, Mapping):
        raise StateError(f"{where}: expected an object")
    user_id = raw.get("id")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id < 1:
        raise StateError(f"{where}: 'id' must be a positive integer")
    where = f"user {user_id}"
    email = raw.get("email")
    if not isinstance(email, str) or not email:
        raise StateError(f"{where}: 'email' must be a non-empty string")
    if not isinstance(raw.get("active_flag"), bool):
        raise StateError(f"{where}: 'active_flag' must be true or false")
    user: User = {}
    for name in USER_FIELDS:
        # An invited user's name is their email until they accept.
        user[name] = raw[name] if name in raw else DEFAULTS.get(name, email)
    # Keys the vendor may add are kept, after the known ones.
    user.update((k, v) for k, v in raw.items() if k not in user)
    for name in BOOLEAN_FIELDS:
        if not isinstance(user[name], bool):
            raise StateError(f"{where}: {name!r} must be true or false")
    if not isinstance(user["name"], str):
        raise StateError(f"{where}: 'name' must be a string")
    for name in _NULLABLE_TEXT:
        if user[name] is not None and not isinstance(user[name], str):
            raise StateError(f"{where}: {name!r} must be a string or null")
    role = user["role_id"]
    if role is not None and (not isinstance(role, int) or isinstance(role, bool)):
        raise StateError(f"{where}: 'role_id' must be an integer or null")
    user["access"] = _checked_access(user["access"], where)
    return user


def _checked_access(access: object, where: str) -> list[dict[str, Any]]:
    if not isinstance(access, list):
        raise StateError(f"{where}: 'access' must be a list")
    checked: list[dict[str, Any]] = []
    for item in access:
        if not isinstance(item, Mapping) or not isinstance(item.get("app"), str):
            raise StateError(f"{where}: each 'access' item must be an object with an 'app'")
        if "admin" in item and not isinstance(item["admin"], bool):
            raise StateError(f"{where}: access 'admin' must be true or false")
        # The vendor always shows both: a file may leave them out, an answer may not.
        checked.append(filled_access(item))
    return checked


# Escaped as every output of the tool is: a lone surrogate cannot break an answer.
_encode = encode_json


def _lines(users: Mapping[int, User]) -> dict[int, str]:
    return {user_id: _encode(user) for user_id, user in users.items()}


def _document(lines: Iterable[str]) -> str:
    # One user a line: the file stays readable and its diffs small.
    return "[\n" + ",\n".join(lines) + "\n]\n"
