"""DealHub CPQ behind the provider boundary: its capabilities, rules and writes.

A write is one `PUT /api/v2/users` of a batch. Its answer may be empty, carry
per-user `errors` in a 200, reject the whole batch with a 400 (halved until the
bad users are isolated), or hand back a `request_id` followed on the status
endpoint until done, failed, or the wait runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from reconciler.errors import AuthError, Problem, ReconcilerError
from reconciler.progress import Progress
from reconciler.providers import DEFAULT_TOKEN_ENV
from reconciler.providers.base import Capabilities, OpenOptions, WriteResult, WriteStatus
from reconciler.providers.dealhub import rules
from reconciler.providers.dealhub.fields import (
    COMPARED_FIELDS,
    PEOPLE_SCHEMA,
    USER_FIELDS,
    WRITE_ONLY_FIELDS,
)

if TYPE_CHECKING:
    # The client (and httpx under it) is imported by `open`: `validate` and `--help`
    # ask this module for the rules and capabilities only.
    from reconciler.desired import DesiredState, DesiredUser
    from reconciler.http import TokenSource
    from reconciler.model import Change, PlanWarning
    from reconciler.providers.dealhub.client import DealHubClient, UpsertAnswer

DEFAULT_BATCH_SIZE = 100
DEFAULT_WAIT_TIMEOUT = OpenOptions.wait_timeout
#: Phases of an asynchronous request that is still under way.
PENDING = ("queued", "in-progress")

EXTERNAL_ID_ADVICE = (
    "reads never return external_user_id, so only the files can supply it: add "
    "external_user_id to this user in the files"
)

CAPABILITIES = Capabilities(
    name="dealhub",
    title="DealHub",
    key="login",
    key_ignores_case=False,
    compared=COMPARED_FIELDS,
    settable_on_create=frozenset(USER_FIELDS) - {"login"},
    changeable=frozenset(COMPARED_FIELDS),
    write_only=WRITE_ONLY_FIELDS,
    batch_size=DEFAULT_BATCH_SIZE,
    env_prefix="DEALHUB",
    token_env=DEFAULT_TOKEN_ENV,
    trusted_domain="dealhub.io",
    people_schema=PEOPLE_SCHEMA,
)


class DealHubProvider:
    """The rules of DealHub (see reconciler.providers.base.Provider)."""

    capabilities = CAPABILITIES

    def project(self, state: DesiredState) -> dict[str, DesiredUser]:
        systems = state.settings.systems
        if all(user.systems is None for user in state.users.values()) and "dealhub" in systems:
            return state.users  # the common case: everyone, as read
        return {
            login: user
            for login, user in state.users.items()
            if user.listed_for("dealhub", systems)
        }

    def tenant_view(self, raw: dict[str, Any]) -> dict[str, Any] | None:
        # A copy: `before` is a snapshot, later changes to the read must not leak in.
        return dict(raw)

    def same(self, name: str, wanted: Any, current: Any) -> bool:
        return bool(rules.normalise(name, wanted) == rules.normalise(name, current))

    def check(
        self,
        records: dict[str, DesiredUser],
        tenant: dict[str, dict[str, Any]],
        state: DesiredState,
    ) -> list[Problem]:
        return rules.manager_problems(records, tenant)

    def payload(
        self,
        key: str,
        wanted: dict[str, Any],
        current: dict[str, Any] | None,
        changed: Iterable[str],
    ) -> dict[str, Any]:
        return rules.expected_payload(key, wanted, current, changed)

    def unwritable(self, send: dict[str, Any]) -> str | None:
        return rules.unwritable(send)

    def undeactivatable(self, current: dict[str, Any]) -> str | None:
        return None

    def warnings(
        self,
        records: dict[str, DesiredUser],
        tenant: dict[str, dict[str, Any]],
        changes: list[Change],
    ) -> list[PlanWarning]:
        return rules.warnings(records, tenant, changes)

    def depends_on(self, change: Change) -> str | None:
        manager = change.send.get("user_manager_login")
        return manager if isinstance(manager, str) and manager else None

    def open(
        self, target: str, token: TokenSource | None, *, writable: bool, options: OpenOptions
    ) -> DealHubRemote:
        from reconciler.providers.dealhub.client import connect

        client = connect(target, token, writable=writable, expected_users=options.expected_users)
        return DealHubRemote(client, wait_timeout=options.wait_timeout)


DEALHUB = DealHubProvider()


class DealHubRemote:
    """A DealHub tenant: one read of every user, batched v2 upserts (see the module)."""

    def __init__(
        self,
        client: DealHubClient,
        *,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.target = client.target
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.clock = clock
        self.progress = Progress()

    def __enter__(self) -> DealHubRemote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self) -> list[dict[str, Any]]:
        return self.client.list_users()

    def request_counts(self) -> dict[str, int]:
        return dict(self.client.requests.counts)

    def budget_left(self) -> int | None:
        return None  # DealHub publishes no budget

    def close(self) -> None:
        self.client.close()

    def write(self, batch: list[Change], progress: Progress) -> WriteResult:
        from reconciler.http import RetryLater  # imported with the client, by then

        self.progress = progress
        result = WriteResult()
        try:
            self._write(batch, result)
        except AuthError as exc:
            # Halves of a split batch may already have an outcome: keep it.
            for change in batch:
                if change.key not in result.status:
                    result.mark([change.key], "skipped", str(exc))
            result.abort = "not attempted: the token was rejected during apply"
        except RetryLater as exc:
            # The server asked for a longer wait than the tool's patience (or kept
            # answering 429): the batches after this one would meet it too. After a
            # 429 nothing was made: the next run takes it up.
            status: WriteStatus = "skipped" if exc.nothing_done else "pending"
            message = f"not made: {exc}" if exc.nothing_done else str(exc)
            for change in batch:
                if change.key not in result.status:
                    result.mark([change.key], status, message)
            result.abort = str(exc)
        except ReconcilerError as exc:
            # This batch's fate is unknown (no answer after retries); the
            # verification read decides.
            for change in batch:
                if change.key not in result.status:
                    result.mark([change.key], "pending", str(exc))
        return result

    def _write(self, batch: list[Change], result: WriteResult) -> None:
        if not batch:
            return
        answer = self.client.upsert_users([c.send for c in batch])
        logins = [c.key for c in batch]
        if answer.kind == "ok":
            result.mark(logins, "done")
        elif answer.kind == "errors":
            for change in batch:
                if change.key in answer.errors:
                    result.mark([change.key], "failed", advised(change, answer.errors))
                else:
                    result.mark([change.key], "done")
        elif answer.kind == "async":
            self._wait(answer, logins, result)
        elif answer.kind == "rejected":
            if len(batch) == 1:
                message = answer.message or "rejected by the API (HTTP 400)"
                result.mark(logins, "failed", advised(batch[0], {batch[0].key: message}))
            else:
                # Halve until the bad users are isolated: one bad entry must
                # not block the others.
                middle = len(batch) // 2
                self._write(batch[:middle], result)
                self._write(batch[middle:], result)
        else:
            result.mark(logins, "pending", f"unclear answer ({answer.message})")

    def _wait(self, answer: UpsertAnswer, logins: list[str], result: WriteResult) -> None:
        assert answer.request_id is not None
        deadline = self.clock() + self.wait_timeout
        try:
            while True:
                status = self.client.request_status(answer.request_id)
                phase = status.get("status")
                self.progress.waiting(
                    f"asynchronous request {answer.request_id} ({phase})"
                    if phase in PENDING
                    else ""
                )
                if phase == "done":
                    result.mark(logins, "done")
                    return
                if phase == "failed":
                    description = status.get("error_description") or status.get("error_code")
                    result.mark(
                        logins,
                        "pending",
                        f"request {answer.request_id} failed: {description or 'no reason given'}",
                    )
                    return
                if self.clock() >= deadline:
                    result.mark(
                        logins,
                        "pending",
                        f"request {answer.request_id} still {phase} after {self.wait_timeout:g} s",
                    )
                    return
                self.sleep(self.poll_interval)
        finally:
            self.progress.waiting("")


def advised(change: Change, errors: dict[str, str]) -> str:
    """The vendor's message, with what to do when it is about the missing external id."""
    message = errors[change.key]
    if "external_user_id" in message and "external_user_id" not in change.send:
        return f"{message} ({EXTERNAL_ID_ADVICE})"
    return message
