"""One user at a time: what `reconciler leave` needs of a system (SPEC section 8).

A plan reads every user of a system; a leaver must be out in seconds, so
`leave` reads as little as it can. Each system gives three hooks over the
connection its provider opened:

    SingleUser
    ├── find(lookup)        the users that hold this person (views, as tenant_view)
    ├── deactivate(user)    write that one user's deactivation and nothing else
    └── read_back(user)     the user as the system now holds it (None: gone)

A system declares its hooks with a `single_user(remote)` method on its
provider; without one, the module `single` of the provider's own package is
used (its `open_single(provider, remote)`), so a system's hooks stay in its
package and nothing here names a system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.errors import ApiError, ResponseError, UsageError
from reconciler.model import Change, FieldChange
from reconciler.progress import Progress
from reconciler.providers.base import Provider, Remote, WriteStatus
from reconciler.providers.hooks import beside

if TYPE_CHECKING:
    # A system's single-user hooks bring the HTTP client; `leave --help` does not.
    from reconciler.http import Answer

#: A user as the provider's tenant_view shows it (the key, `is_active`, what a write needs).
View = dict[str, Any]


@dataclass(frozen=True)
class Lookup:
    """Whom to look for in one system.

    `key` is the system's key for the person as the files give it (a login,
    an email), matched exactly as the system keys users; when
    the files do not list the person it is None, and `person` (PERSON as typed,
    in any letter case) is matched against the system's key and email.
    """

    person: str
    key: str | None = None
    #: The environment's login suffix (`--env`), which the files' logins carry
    #: and PERSON may leave out.
    suffix: str = ""


@dataclass(frozen=True)
class Written:
    """What the one deactivation write answered (`verify` decides in the end)."""

    status: WriteStatus
    message: str = ""


class SingleUser(Protocol):
    """The hooks of one system for one user (see the module docstring)."""

    def find(self, lookup: Lookup) -> list[View]:
        """The live users that hold this person: none, one, or several (ambiguous).

        Raises ReconcilerError when the system cannot be read.
        """
        ...

    def deactivate(self, user: View, wanted: dict[str, Any]) -> Written:
        """Write `user`'s deactivation alone; `wanted` adds the files' write-only fields."""
        ...

    def read_back(self, user: View) -> View | None:
        """The user as the system holds it now (None: no longer there)."""
        ...


class SingleUserProvider(Protocol):
    """A provider that declares its hooks itself (a third system, say)."""

    def single_user(self, remote: Remote) -> SingleUser: ...


def hooks_for(provider: Provider, remote: Remote) -> SingleUser:
    """The hooks of `provider` over its open `remote` (see the module docstring)."""
    declared = getattr(provider, "single_user", None)
    if callable(declared):
        hooks: SingleUser = declared(remote)
        return hooks
    module = beside(provider, "single")
    if module is None:
        raise UsageError(
            f"{provider.capabilities.title} has no single-user hooks: leave cannot use it "
            "(run plan and apply instead)"
        )
    opened: SingleUser = module.open_single(provider, remote)
    return opened


def deactivation(provider: Provider, user: View, wanted: dict[str, Any]) -> Change:
    """The planned change that deactivates `user` and nothing else, as apply would send it.

    The payload is the provider's own (the fields its write API requires, as read,
    and the files' write-only fields; or an id and the inactive flag alone).
    """
    caps = provider.capabilities
    key = user[caps.key]
    send = provider.payload(key, {**wanted, "is_active": False}, user, ["is_active"])
    return Change(
        action="deactivate",
        key=key,
        fields={"is_active": FieldChange(user.get("is_active", True), False)},
        before=user,
        send=send,
        blocked=provider.unwritable(send),
    )


def write_deactivation(
    provider: Provider, remote: Remote, user: View, wanted: dict[str, Any]
) -> Written:
    """Deactivate one user through the system's own write path (`Remote.write`)."""
    change = deactivation(provider, user, wanted)
    if change.blocked:
        return Written("failed", f"not sent: {change.blocked}")
    result = remote.write([change], Progress())
    status = result.status.get(change.key, "pending")
    message = result.message.get(change.key, "") or (result.abort or "")
    return Written(status, message)


def answer_data(answer: Answer, target: str) -> Any:
    """The JSON body of a single-user read (masked), or ResponseError naming the call."""
    try:
        return answer.json()
    except ValueError:
        raise ResponseError(
            f"{target} answered {answer.method} {answer.path} with something that is not "
            f"JSON (HTTP {answer.status}, {answer.content_type[:80]})"
        ) from None


def unexpected(answer: Answer, target: str) -> ApiError:
    """A single-user read answered with a status it does not document."""
    from reconciler.http import server_text  # loaded by now: the answer came through it

    return ApiError(
        f"{target} answered {answer.method} {answer.path} with HTTP {answer.status}: "
        f"{server_text(answer)[:300]}"
    )
