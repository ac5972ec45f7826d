"""Applying a plan: batched `PUT /api/v2/users`, then a read to verify.

The order is creates (a manager always in an earlier request than the users
who report to them), then updates and reactivations, deactivations last. A
batch that fails does not stop independent batches; a user whose manager
could not be created is skipped. Whatever a batch answered, the final word
is the verification read: a user is done only if the tenant now matches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.diff import normalise
from reconciler.errors import AuthError, ReconcilerError
from reconciler.plan import ACTIONS, Action, Change, Plan
from reconciler.progress import Progress
from reconciler.providers.dealhub.client import DealHubClient, UpsertAnswer
from reconciler.providers.dealhub.fields import WRITE_ONLY_FIELDS

DEFAULT_BATCH_SIZE = 100
#: Phases of an asynchronous request that is still under way.
PENDING = ("queued", "in-progress")
DEFAULT_WAIT_TIMEOUT = 300.0

Status = Literal["done", "failed", "skipped"]


@dataclass
class Outcome:
    login: str
    action: Action
    status: Status
    message: str = ""


@dataclass
class ApplyReport:
    target: str
    outcomes: list[Outcome]
    requests: dict[str, int] = field(default_factory=dict)
    environment: str | None = None

    @property
    def ok(self) -> bool:
        return all(o.status == "done" for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {a: 0 for a in ACTIONS}
        counts.update(failed=0, skipped=0)
        for outcome in self.outcomes:
            if outcome.status == "done":
                counts[outcome.action] += 1
            else:
                counts[outcome.status] += 1
        return counts


def complete_line(counts: dict[str, int]) -> str:
    """`Apply complete: N created, N updated, N reactivated, N deactivated, N failed.`"""
    failed = counts["failed"] + counts["skipped"]
    return (
        f"Apply complete: {counts['create']} created, {counts['update']} updated, "
        f"{counts['reactivate']} reactivated, {counts['deactivate']} deactivated, "
        f"{failed} failed."
    )


# -- ordering -------------------------------------------------------------------


def order_batches(changes: list[Change], batch_size: int) -> list[list[Change]]:
    """Cut the changes into requests of at most batch_size, in apply order.

    Creates come first, level by level of the manager hierarchy among them;
    a change whose manager is created in the current request starts a new one,
    so every manager exists before anyone who reports to them is written.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    creates = {c.login: c for c in changes if c.action == "create"}
    level: dict[str, int] = {}

    def level_of(login: str) -> int:
        chain: list[str] = []
        current: str | None = login
        while current is not None and current in creates and current not in level:
            if current in chain:  # a cycle cannot come from a validated file
                break
            chain.append(current)
            current = creates[current].send.get("user_manager_login")
        base = level.get(current, -1) if current is not None and current in creates else -1
        for depth, member in enumerate(reversed(chain), start=base + 1):
            level[member] = depth
        return level.get(login, 0)

    rank = {action: i for i, action in enumerate(ACTIONS)}
    ordered = sorted(
        changes,
        key=lambda c: (
            0 if c.action == "create" else 1 + (rank[c.action] == rank["deactivate"]),
            level_of(c.login) if c.action == "create" else 0,
            rank[c.action],
            c.login,
        ),
    )
    batches: list[list[Change]] = []
    current: list[Change] = []
    in_current: set[str] = set()
    for change in ordered:
        manager = change.send.get("user_manager_login")
        if len(current) >= batch_size or (manager in creates and manager in in_current):
            batches.append(current)
            current, in_current = [], set()
        current.append(change)
        in_current.add(change.login)
    if current:
        batches.append(current)
    return batches


# -- execution --------------------------------------------------------------------


_NOT_DONE = ("failed", "skipped")


@dataclass
class _State:
    """What we know of each planned user while the batches run."""

    status: dict[str, str] = field(default_factory=dict)  # done|failed|pending|skipped
    message: dict[str, str] = field(default_factory=dict)
    #: Why the remaining batches are not attempted (the token was rejected), or None.
    aborted: str | None = None
    #: How many users are failed or skipped so far (kept as they are marked).
    failed: int = 0

    def unsettled(self, logins: Iterable[str]) -> list[str]:
        return [login for login in logins if login not in self.status]

    def mark(self, logins: Iterable[str], status: str, message: str = "") -> None:
        for login in logins:
            self.failed += (status in _NOT_DONE) - (self.status.get(login) in _NOT_DONE)
            self.status[login] = status
            if message:
                self.message[login] = message


class Applier:
    """Runs a plan's writes against one client and verifies the result."""

    def __init__(
        self,
        client: DealHubClient,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.batch_size = batch_size
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.clock = clock
        self.progress = progress or Progress()

    def run(self, plan: Plan) -> ApplyReport:
        state = _State()
        for change in plan.blocked:
            # Named by the plan; sending it would only earn a rejection.
            state.mark([change.login], "skipped", f"not sent: {change.blocked}")
        writable = [c for c in plan.changes if not c.blocked]
        batches = order_batches(writable, self.batch_size)
        creates = {c.login for c in plan.changes if c.action == "create"}
        self.progress.start(len(batches), len(plan.changes))
        try:
            self._run_batches(batches, creates, state)
        finally:
            self.progress.finish()
        outcomes = self._verify(plan, state, verify=state.aborted is None)
        return ApplyReport(
            target=plan.target,
            outcomes=outcomes,
            requests=dict(self.client.requests.counts),
            environment=plan.environment,
        )

    def _run_batches(self, batches: list[list[Change]], creates: set[str], state: _State) -> None:
        for number, batch in enumerate(batches, start=1):
            if state.aborted:
                state.mark((c.login for c in batch), "skipped", state.aborted)
                continue
            ready = []
            for change in batch:
                manager = change.send.get("user_manager_login")
                if manager in creates and state.status.get(manager) in ("failed", "skipped"):
                    state.mark([change.login], "skipped", f"its manager {manager} was not created")
                else:
                    ready.append(change)
            try:
                self._write(ready, state)
            except AuthError as exc:
                # Halves of a split batch may already have an outcome: keep it.
                state.mark(state.unsettled(c.login for c in ready), "skipped", str(exc))
                state.aborted = "not attempted: the token was rejected during apply"
            except ReconcilerError as exc:
                # This batch's fate is unknown (no answer after retries); the
                # verification read decides, and other batches go on.
                state.mark(state.unsettled(c.login for c in ready), "pending", str(exc))
            self.progress.update(number, len(state.status), state.failed)

    def _write(self, batch: list[Change], state: _State) -> None:
        if not batch:
            return
        answer = self.client.upsert_users([c.send for c in batch])
        logins = [c.login for c in batch]
        if answer.kind == "ok":
            state.mark(logins, "done")
        elif answer.kind == "errors":
            for change in batch:
                if change.login in answer.errors:
                    state.mark([change.login], "failed", _advised(change, answer.errors))
                else:
                    state.mark([change.login], "done")
        elif answer.kind == "async":
            assert answer.request_id is not None
            self._wait(answer, logins, state)
        elif answer.kind == "rejected":
            if len(batch) == 1:
                message = answer.message or "rejected by the API (HTTP 400)"
                state.mark(logins, "failed", _advised(batch[0], {batch[0].login: message}))
            else:
                # Halve until the bad users are isolated: one bad entry must
                # not block the others.
                middle = len(batch) // 2
                self._write(batch[:middle], state)
                self._write(batch[middle:], state)
        else:
            state.mark(logins, "pending", f"unclear answer ({answer.message})")

    def _wait(self, answer: UpsertAnswer, logins: list[str], state: _State) -> None:
        assert answer.request_id is not None
        deadline = self.clock() + self.wait_timeout
        while True:
            status = self.client.request_status(answer.request_id)
            phase = status.get("status")
            self.progress.waiting(
                f"asynchronous request {answer.request_id} ({phase})" if phase in PENDING else ""
            )
            if phase == "done":
                state.mark(logins, "done")
                return
            if phase == "failed":
                description = status.get("error_description") or status.get("error_code")
                state.mark(
                    logins,
                    "pending",
                    f"request {answer.request_id} failed: {description or 'no reason given'}",
                )
                return
            if self.clock() >= deadline:
                state.mark(
                    logins,
                    "pending",
                    f"request {answer.request_id} still {phase} after {self.wait_timeout:g} s",
                )
                return
            self.sleep(self.poll_interval)

    def _verify(self, plan: Plan, state: _State, *, verify: bool) -> list[Outcome]:
        tenant: dict[str, dict[str, Any]] = {}
        verified = False
        if verify and plan.changes:
            try:
                tenant = {u["login"]: u for u in self.client.list_users()}
                verified = True
            except ReconcilerError as exc:
                for change in plan.changes:
                    if state.status.get(change.login) in ("done", "pending"):
                        state.mark([change.login], "failed", f"could not verify: {exc}")
        outcomes = []
        for change in plan.changes:
            status = state.status.get(change.login, "skipped")
            message = state.message.get(change.login, "")
            if verified and status in ("done", "pending", "failed"):
                mismatch = _mismatch(change, tenant.get(change.login))
                if mismatch is None:
                    status, message = "done", ""
                elif status == "done":
                    status, message = "failed", f"did not converge: {mismatch}"
                else:
                    status = "failed"
                    message = message or f"did not converge: {mismatch}"
            if status == "pending":
                status = "failed"
            outcomes.append(Outcome(change.login, change.action, status, message))  # type: ignore[arg-type]
        return outcomes


EXTERNAL_ID_ADVICE = (
    "reads never return external_user_id, so only the files can supply it: add "
    "external_user_id to this user in the files"
)


def _advised(change: Change, errors: dict[str, str]) -> str:
    """The vendor's message, with what to do when it is about the missing external id."""
    message = errors[change.login]
    if "external_user_id" in message and "external_user_id" not in change.send:
        return f"{message} ({EXTERNAL_ID_ADVICE})"
    return message


def _mismatch(change: Change, current: dict[str, Any] | None) -> str | None:
    """Why the tenant's user is not what the plan intended, or None when it is.

    Checked against the plan's field values, not the payload: a server that
    stores something else than it was sent is caught too.
    """
    if current is None:
        return "the user is not in the tenant"
    for name, fc in change.fields.items():
        if name in WRITE_ONLY_FIELDS:
            continue
        if normalise(name, fc.after) != normalise(name, current.get(name)):
            return f"{name} is {current.get(name)!r}, wanted {fc.after!r}"
    return None
