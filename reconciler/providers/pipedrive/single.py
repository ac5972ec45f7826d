"""Pipedrive's hooks for `leave` (reconciler.providers.single): one user by email.

Finding an email takes the cheapest documented read that can: `GET /v1/users`
costs 20 tokens, `GET /v1/users/find?term=EMAIL&search_by_email=1` 40 (and
counts against the tighter search burst limit), and Pipedrive has no read of
one user by email. So the client's one read is used (`GET /v1/users/me`, 2
tokens, which marks the token's own user, then the list), and the email
matched exactly, letter case aside, here: find's own rule (a part of the
email, or all of it) is not documented. The deactivation is the client's own write,
`PUT /v1/users/{id}` with `{"active_flag": false}`; the read back is
`GET /v1/users/{id}` (2 tokens).
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import ApiError, ResponseError
from reconciler.providers.base import Provider, Remote
from reconciler.providers.pipedrive.client import PipedriveClient
from reconciler.providers.pipedrive.rules import entry_problem
from reconciler.providers.single import (
    Lookup,
    View,
    Written,
    answer_data,
    unexpected,
    write_deactivation,
)

#: Tokens one `GET /v1/users/{id}` costs (the vendor's Users page).
GET_ONE_COST = 2
#: Request kind of the read back in the client's request counts.
READ_ONE = "read-one"


class PipedriveSingle:
    """The SingleUser hooks over an open Pipedrive connection."""

    def __init__(self, provider: Provider, client: PipedriveClient) -> None:
        self.provider = provider
        self.client = client

    def find(self, lookup: Lookup) -> list[View]:
        wanted = (lookup.key or lookup.person).casefold()
        found = []
        for raw in self.client.read():
            if raw.get("is_deleted") is True or raw["email"].casefold() != wanted:
                continue
            view = self.provider.tenant_view(raw)
            if view is not None:
                found.append(view)
        return found

    def deactivate(self, user: View, wanted: dict[str, Any]) -> Written:
        return write_deactivation(self.provider, self.client, user, wanted)

    def read_back(self, user: View) -> View | None:
        client = self.client
        path = f"{client.users_path}/{user['id']}"
        # The client's paced, budgeted, retried GET (a rejected token raises there).
        answer = client.get(path, kind=READ_ONE, cost=GET_ONE_COST)
        if answer.status in (404, 410):
            return None
        if answer.status != 200:
            raise unexpected(answer, client.target)
        body = answer_data(answer, client.target)
        where = f"{client.target} answered GET {path}"
        data = body.get("data") if isinstance(body, dict) and body.get("success") else None
        problem = entry_problem(data)
        if problem is not None:
            raise ResponseError(f"{where} with a user that {problem}")
        assert isinstance(data, dict)
        if data["id"] != user["id"]:
            raise ResponseError(f"{where} with another user (id {data['id']})")
        return self.provider.tenant_view(data)


def open_single(provider: Provider, remote: Remote) -> PipedriveSingle:
    """Pipedrive's hooks over the connection its provider opened (the client is the Remote)."""
    if not isinstance(remote, PipedriveClient):
        raise ApiError(f"{remote.target}: not a Pipedrive connection")
    return PipedriveSingle(provider, remote)
