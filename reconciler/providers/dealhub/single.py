"""DealHub's hooks for `leave` (reconciler.providers.single): one user by login.

Reads go through the vendor's single-user read `GET /api/v1/user/login/{login}`
(an unknown login answers 400 "The user could not be found"; SPEC section 8
also allows 404); the whole list (`GET /api/v1/users`) only when PERSON is not
a login the tenant has, to find a login by email. The deactivation is the
provider's own write: one `PUT /api/v2/users` of that one user with
`is_active: false` and the fields v2 requires, as read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from reconciler import redact
from reconciler.errors import ApiError, ResponseError
from reconciler.providers.base import Provider, Remote
from reconciler.providers.dealhub.client import DealHubClient
from reconciler.providers.dealhub.provider import DealHubRemote
from reconciler.providers.single import (
    Lookup,
    View,
    Written,
    answer_data,
    unexpected,
    write_deactivation,
)

#: Request kind of the single-user read in the client's request counts.
READ_ONE = "read-one"
#: The longest login the v1 read takes in its path.
READ_LOGIN_LIMIT = 100


class DealHubSingle:
    """The SingleUser hooks over an open DealHub connection."""

    def __init__(self, provider: Provider, remote: DealHubRemote) -> None:
        self.provider = provider
        self.remote = remote
        self.client: DealHubClient = remote.client

    def find(self, lookup: Lookup) -> list[View]:
        if lookup.key is not None:
            found = self.get(lookup.key)
            return [found] if found is not None else []
        logins = [lookup.person]
        if lookup.suffix and not lookup.person.endswith(lookup.suffix):
            logins.insert(0, lookup.person + lookup.suffix)
        for login in logins:
            found = self.get(login)
            if found is not None:
                return [found]
        # PERSON is no login of the tenant as typed: an email, or a login in
        # another letter case. Only the list can say (one read).
        wanted = {login.casefold() for login in logins}
        return [
            dict(user)
            for user in self.client.list_users()
            if user["login"].casefold() in wanted
            or (isinstance(user.get("email"), str) and user["email"].casefold() in wanted)
        ]

    def deactivate(self, user: View, wanted: dict[str, Any]) -> Written:
        return write_deactivation(self.provider, self.remote, user, wanted)

    def read_back(self, user: View) -> View | None:
        return self.get(user["login"])

    def get(self, login: str) -> View | None:
        """The user with exactly this login, by `GET /api/v1/user/login/{login}` (None: unknown)."""
        if not login or len(login) > READ_LOGIN_LIMIT:
            return None  # the read takes at most 100 characters: no user has more
        path = f"/api/v1/user/login/{quote(login, safe='')}"
        # The client's own request loop: retries, deadline, size cap, masking.
        answer = self.client.get(path, kind=READ_ONE)
        target = self.client.target
        if answer.status == 404 or (answer.status == 400 and _not_found(answer.text())):
            return None
        if answer.status != 200:
            raise unexpected(answer, target)
        data = answer_data(answer, target)
        where = f"{target} answered GET {path}"
        if not isinstance(data, dict) or not isinstance(data.get("login"), str):
            raise ResponseError(f"{where} with something that is not a user object")
        if answer.held_secret and redact.MASK in data["login"]:
            raise ResponseError(f"{where} with a user whose login contains the API token")
        if data["login"] != login:
            raise ResponseError(f"{where} with another user ({data['login']!r})")
        active = data.get("is_active", True)
        if type(active) is not bool:
            raise ResponseError(f"{where} with is_active {active!r}, not true or false")
        for name in ("email", "name"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ResponseError(f"{where} with a {name} that is not a string")
        view = self.provider.tenant_view(data)
        if view is None:
            return None
        return view


def _not_found(text: str) -> bool:
    """Whether a 400 says the user is unknown (the vendor's "could not be found")."""
    return "found" in text.casefold()


def open_single(provider: Provider, remote: Remote) -> DealHubSingle:
    """DealHub's hooks over the Remote its provider opened."""
    if not isinstance(remote, DealHubRemote):
        raise ApiError(f"{remote.target}: not a DealHub connection")
    return DealHubSingle(provider, remote)
