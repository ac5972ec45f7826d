"""The simulated tenant: its users in memory, optionally saved to a JSON file.

The file is a JSON array of user objects (the fields of `fields.USER_FIELDS`
plus the vendor's `id`). Saving replaces the file atomically, so a process
killed mid-write leaves either the old or the new tenant, never half of one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reconciler.files import write_text_atomic
from reconciler.interning import Interner
from reconciler.providers.dealhub.fields import BOOLEAN_FIELDS, USER_FIELDS
from reconciler.sim.store import (
    StateError,
    Store,
    User,
    encode_json,
    json_array_document,
    write_json_atomic,
)

__all__ = ["StateError", "TenantStore", "User", "encode_json", "write_json_atomic"]

_KNOWN_KEYS = frozenset(USER_FIELDS) | {"id"}
#: Ids of created users start here when the tenant has none (shaped like the vendor's).
_FIRST_ID = 786865656900


class TenantStore(Store[str]):
    """The users of one simulated tenant, keyed by login, safe to share across threads.

    Users are plain dicts; the store hands out copies and takes whole users, so a
    caller never changes a stored user in place. With `path` set every write is
    saved to that file before it becomes visible.
    """

    FILE_NOUN = "tenant file"

    def __init__(self, users: Iterable[Mapping[str, Any]] = (), *, path: Path | None = None):
        # The lock is reentrant so the simulator can validate and write under one hold.
        super().__init__(path=path)
        self._by_id: dict[str, str] = {}
        self._next_id = _FIRST_ID
        # Each user's line of the saved file, built on the first save and then
        # kept up to date, so a write re-encodes only the users it changed.
        self._lines: dict[str, str] | None = None
        # Users repeat values (a company, a city): the store keeps one copy of each.
        strings = Interner()
        for index, raw in enumerate(users):
            user = _checked_user(raw, f"user {index}", strings)
            if user["login"] in self._users:
                raise StateError(f"user {index}: login {user['login']!r} appears twice")
            self._users[user["login"]] = user
        for user in self._users.values():
            if "id" in user:
                if user["id"] in self._by_id:
                    raise StateError(f"user {user['login']!r}: id {user['id']!r} appears twice")
                self._by_id[user["id"]] = user["login"]
                if user["id"].isdigit():
                    self._next_id = max(self._next_id, int(user["id"]) + 1)
        for user in self._users.values():
            if "id" not in user:
                self._assign_id(user)

    def get_by_id(self, user_id: str) -> User | None:
        with self.lock:
            login = self._by_id.get(user_id)
            return self.get(login) if login is not None else None

    def __contains__(self, login: object) -> bool:
        return login in self._users

    def put(self, users: Iterable[Mapping[str, Any]]) -> None:
        """Store whole users (replacing those with the same login), then save once.

        A new login gets a fresh numeric id; an existing user keeps its id. When
        saving fails nothing changes in memory either.
        """
        with self.lock:
            staged = dict(self._users)
            new_ids: dict[str, str] = {}
            changed: list[str] = []
            next_id = self._next_id
            for raw in users:
                user = dict(raw)
                old = staged.get(user["login"])
                if old is not None:
                    user["id"] = old["id"]
                else:
                    user["id"] = str(next_id)
                    next_id += 1
                    new_ids[user["id"]] = user["login"]
                staged[user["login"]] = user
                changed.append(user["login"])
            if self.path is not None:
                lines = dict(self._lines) if self._lines is not None else _lines(self._users)
                lines.update(_lines({login: staged[login] for login in changed}))
                write_text_atomic(self.path, json_array_document(lines.values()))
                self._lines = lines
            self._users = staged
            self._by_id.update(new_ids)
            self._next_id = next_id

    def _assign_id(self, user: User) -> None:
        user["id"] = str(self._next_id)
        self._next_id += 1
        self._by_id[user["id"]] = user["login"]


def _checked_user(raw: object, where: str, strings: Interner) -> User:
    """The stored form of one user (its strings shared through `strings`); StateError for
    a bad one."""
    if not isinstance(raw, Mapping):
        raise StateError(f"{where}: expected an object")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise StateError(f"{where}: unknown field(s): {', '.join(map(str, unknown))}")
    login = raw.get("login")
    if not isinstance(login, str) or not login:
        raise StateError(f"{where}: 'login' must be a non-empty string")
    user: User = {}
    shared = strings.sharer()
    for key, value in raw.items():
        if value is None or value == "":
            continue  # the API has no difference between null, empty and absent
        if key == "id" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        wanted = bool if key in BOOLEAN_FIELDS else str
        if not isinstance(value, wanted):
            raise StateError(f"{where} ({login}): {key!r} must be a {wanted.__name__}")
        user[key] = shared(value, value) if type(value) is str else value
    user.setdefault("is_active", True)
    return user


def _lines(users: Mapping[str, User]) -> dict[str, str]:
    return {login: encode_json(user) for login, user in users.items()}
