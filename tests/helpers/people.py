"""People as plain data: a user's mapping and a desired state of them."""

from __future__ import annotations

from typing import Any

from reconciler.desired import DesiredState, DesiredUser
from reconciler.settings import Settings


def desired(users: list[dict[str, Any]], **settings: Any) -> DesiredState:
    state: dict[str, DesiredUser] = {}
    for raw in users:
        fields = {"is_active": True, **{k: v for k, v in raw.items() if k != "login"}}
        state[raw["login"]] = DesiredUser(raw["login"], fields, "users.yaml", 1, {})
    return DesiredState(state, Settings(**settings), ["users.yaml"])


def user(login: str, **fields: Any) -> dict[str, Any]:
    return {"login": login, "email": f"{login}.com", "name": login.title(), **fields}
