"""The third system's simulator and the hooks `reconciler sim` finds it by."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.sim.faults import Faults
from reconciler.sim.response import SimResponse
from reconciler.sim.store import User, encode_json, read_json_array


class ThirdSimulator:
    """GET /users lists the state file's users to a caller with the token."""

    def __init__(
        self,
        users: list[User],
        *,
        token: str,
        faults: Faults | None = None,
        shout: bool = False,
        on_request: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.users = users
        self.token = token
        self.faults = faults if faults is not None else Faults()
        self.shout = shout
        self.on_request = on_request
        self.request_log: list[dict[str, Any]] = []

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> SimResponse:
        entry = {"method": method, "path": path}
        self.request_log.append(entry)
        if self.on_request is not None:
            self.on_request(entry)
        if headers.get("Authorization") != f"Bearer {self.token}":
            return SimResponse(401, {"Content-Type": "text/plain"}, b"no")
        if (method, path) != ("GET", "/users"):
            return SimResponse(404, {"Content-Type": "text/plain"}, b"no such call")
        users = (
            [{**u, "name": str(u["name"]).upper()} for u in self.users]
            if self.shout
            else self.users
        )
        return SimResponse(200, {"Content-Type": "application/json"}, encode_json(users).encode())


class ThirdHooks:
    """What the kernel asks of the third system's simulator."""

    noun = "third users"
    serve_options: Sequence[click.Option] = (
        click.Option(["--shout"], is_flag=True, help="[third] Names in capitals."),
    )

    def open(
        self, path: Path, *, token: str, writable: bool, faults: Faults | None, **options: Any
    ) -> ThirdSimulator:
        return ThirdSimulator(
            read_json_array(path, "third file", "users"), token=token, faults=faults
        )

    def serve(
        self,
        path: Path,
        *,
        token: str,
        faults: dict[str, Any],
        options: dict[str, Any],
        on_request: Callable[[dict[str, Any]], None] | None,
    ) -> ThirdSimulator:
        return ThirdSimulator(
            read_json_array(path, "third file", "users"),
            token=token,
            faults=Faults(**faults),
            shout=options["shout"],
            on_request=on_request,
        )

    def stopped(self, simulator: Any) -> str | None:
        return f"Third simulator stopped after {len(simulator.request_log)} requests."

    def generate(self, count: int, seed: int) -> list[User]:
        if count > 100:
            raise ValueError("a third tenant has at most 100 users")
        return [
            {"handle": f"user{seed}-{n}", "name": f"User {n}", "is_active": True}
            for n in range(count)
        ]

    def generate_desired(self, users: Sequence[User], *, changes: float, seed: int) -> str:
        listed = "".join(f"  - handle: {u['handle']}\n" for u in users)
        return f"version: 1\nsettings:\n  systems: [third]\nusers:\n{listed}"


SIMULATOR = ThirdHooks()
