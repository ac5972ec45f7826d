"""Pipedrive accounts in the access review, and the per-user reads of `--details`.

One `GET /v1/users` tells, per user: `active_flag`, `access` (apps, each with
`admin`), `role_id`, `last_login` (`YYYY-MM-DD HH:MM:SS`, UTC; null when the
person never signed in) and, on some accounts, the older `is_admin` (0/1).
A user marked `is_deleted` is no account.

An account counts as admin when Pipedrive says so anywhere: `is_admin`, an
access item with `admin: true` (global or one app), or `account_settings`
access, which is what lets a user add and deactivate users.

`--details` reads, for each active user, `GET /v1/users/{id}/permissions` and
`GET /v1/users/{id}/roleAssignments` (10 tokens each, reference/
pipedrive-users-api.txt), through the client's own pacing and budget checks:
it stops before the daily budget (keeping the client's reserve of one list
read) and says how far it got.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from reconciler.errors import ApiError, ResponseError
from reconciler.http import server_text
from reconciler.providers.review_hooks import Account, Details, Reports, vendor_time

if TYPE_CHECKING:
    from reconciler.http import Answer
    from reconciler.providers.base import Remote
    from reconciler.providers.pipedrive.client import PipedriveClient

#: Tokens of each per-user read of --details (the vendor's Users page).
DETAIL_COST = 10
#: The reads of --details for one user: permissions, role assignments.
DETAIL_READS = ("permissions", "roleAssignments")
#: Pages of one user's role assignments at most.
MAX_PAGES = 100


class PipedriveReview:
    """The review hooks of Pipedrive (reconciler.providers.review_hooks)."""

    reports = Reports(admin=True, access=True, role=True, last_login=True)
    silent: ClassVar[dict[str, str]] = {}

    def account(self, raw: dict[str, Any]) -> Account | None:
        if raw.get("is_deleted") is True:
            return None
        email = raw.get("email")
        if not isinstance(email, str) or not email:
            raise ValueError("has no email")
        items = [item for item in raw.get("access") or () if isinstance(item, dict)]
        role = raw.get("role_id")
        name = raw.get("name")
        user_id = raw.get("id")
        return Account(
            key=email,
            email=email,
            name=name if isinstance(name, str) else None,
            active=raw.get("active_flag") is True,
            admin=is_admin(raw, items),
            access=tuple(sorted(_access_word(item) for item in items)),
            role=f"role {role}" if type(role) is int else None,
            last_login=vendor_time(raw.get("last_login"), "last_login"),
            vendor_id=user_id if type(user_id) is int else None,
        )

    def details_cost(self, accounts: Iterable[Account]) -> tuple[int, int, str]:
        return details_cost(accounts)

    def read_details(
        self,
        remote: Remote,
        accounts: Iterable[Account],
        *,
        told: Callable[[int, int], None] | None = None,
    ) -> Details:
        from reconciler.providers.pipedrive.client import PipedriveClient

        if not isinstance(remote, PipedriveClient):
            raise TypeError("Pipedrive's details are read through its client")
        return read_details(remote, accounts, told=told)


def is_admin(raw: dict[str, Any], items: Iterable[dict[str, Any]]) -> bool:
    """Whether Pipedrive gives this user admin rights anywhere (see the module docstring)."""
    if raw.get("is_admin") is True or (type(raw.get("is_admin")) is int and raw["is_admin"] == 1):
        return True
    return any(item.get("admin") is True or item.get("app") == "account_settings" for item in items)


def _access_word(item: dict[str, Any]) -> str:
    app = str(item.get("app", "?"))
    return f"{app} (admin)" if item.get("admin") is True else app


REVIEW = PipedriveReview()


# -- --details ------------------------------------------------------------------


def details_cost(accounts: Iterable[Account]) -> tuple[int, int, str]:
    """(users, tokens, "tokens") that --details will read and spend, before any read."""
    users = sum(1 for a in accounts if a.active and isinstance(a.vendor_id, int))
    return users, users * DETAIL_COST * len(DETAIL_READS), "tokens"


def read_details(
    client: PipedriveClient,
    accounts: Iterable[Account],
    *,
    told: Callable[[int, int], None] | None = None,
) -> Details:
    """Each active user's permissions and role assignments, paced by the client.

    Stops, without raising, before a user whose two reads the day's budget
    (less the client's reserve) cannot pay for, or when the client stops on the
    budget itself; `told(done, wanted)` hears the progress.
    """
    chosen = [a for a in accounts if a.active and isinstance(a.vendor_id, int)]
    details = Details(wanted=len(chosen), cost=details_cost(chosen)[1], unit="tokens")
    each = DETAIL_COST * len(DETAIL_READS)
    for number, account in enumerate(chosen):
        left = client.budget_left()
        if left is not None and left < each + client.reserve:
            details.stopped = (
                f"stopped before Pipedrive's daily token budget: {left} tokens left, each "
                f"user's details cost {each} and {client.reserve} are kept for the next "
                "list read; the next run reads the rest"
            )
            break
        try:
            details.permissions[account.key] = _permissions(client, account)
            details.roles[account.key] = _roles(client, account)
        except ResponseError as exc:
            details.permissions.pop(account.key, None)
            details.failed[account.key] = str(exc)
        except ApiError as exc:
            # The budget, a rejected token, the vendor's block: nothing more can be read.
            details.permissions.pop(account.key, None)
            details.stopped = str(exc)
            break
        if told is not None:
            told(number + 1, len(chosen))
    details.spent = client_spent(client)
    return details


def client_spent(client: PipedriveClient) -> int:
    """Tokens the detail reads cost, from the client's count of them."""
    return client.request_counts().get("details", 0) * DETAIL_COST


def _get(client: PipedriveClient, account: Account, what: str, query: str = "") -> Any:
    path = f"{client.users_path}/{account.vendor_id}/{what}"
    answer: Answer = client.get(path + query, kind="details", cost=DETAIL_COST)
    where = f"{client.target} answered GET {path} ({account.key})"
    if answer.status != 200:
        if answer.status in (401, 403):
            raise ApiError(f"{where} with HTTP {answer.status}: {server_text(answer)}")
        raise ResponseError(f"{where} with HTTP {answer.status}: {server_text(answer)}")
    try:
        body = answer.json()
    except ValueError:
        raise ResponseError(f"{where} with a body that is not JSON") from None
    if not isinstance(body, dict) or body.get("success") is not True:
        raise ResponseError(f"{where} without success: true")
    return body


def _permissions(client: PipedriveClient, account: Account) -> list[str]:
    data = _get(client, account, "permissions").get("data")
    if not isinstance(data, dict):
        raise ResponseError(f"{client.target}: the permissions of {account.key} are not an object")
    # The vendor answers one boolean per permission; only those granted are listed.
    return sorted(str(name) for name, value in data.items() if value is True)


def _roles(client: PipedriveClient, account: Account) -> list[str]:
    roles: list[str] = []
    query = ""
    for _ in range(MAX_PAGES):
        body = _get(client, account, "roleAssignments", query)
        data = body.get("data")
        if data is None:
            data = []
        if not isinstance(data, list):
            raise ResponseError(
                f"{client.target}: the role assignments of {account.key} are not a list"
            )
        roles.extend(_role_word(item) for item in data if isinstance(item, dict))
        extra = body.get("additional_data")
        pagination = extra.get("pagination") if isinstance(extra, dict) else None
        if (
            not isinstance(pagination, dict)
            or pagination.get("more_items_in_collection") is not True
        ):
            return roles
        following = pagination.get("next_start")
        if type(following) is not int or not data:
            return roles
        query = f"?start={following}"
    return roles


def _role_word(item: dict[str, Any]) -> str:
    name = item.get("name")
    role_id = item.get("role_id")
    shown = name if isinstance(name, str) and name else "unnamed role"
    if type(role_id) is int:
        shown += f" (role {role_id})"
    if item.get("active_flag") is False:
        shown += ", inactive"
    return shown
