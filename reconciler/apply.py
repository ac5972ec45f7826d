"""Applying a plan to one system: ordered batches, per-user outcomes, then a read to verify.

Generic over systems: the provider's Remote sends each batch and says what
became of each user. The order is creates (what a user depends on, such as
their manager, always in an earlier request), then updates and reactivations,
deactivations last. A batch that fails does not stop independent batches; a
user whose dependency could not be created is skipped, and so is a user the
plan names as unwritable. Whatever a batch answered, the final word is the
verification read: a user is done only if the tenant now matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler import providers
from reconciler.diff import tenant_index
from reconciler.errors import ReconcilerError
from reconciler.model import ACTIONS, ApplyReport, Change, Outcome, Plan
from reconciler.progress import Progress
from reconciler.providers.base import Remote

if TYPE_CHECKING:
    from reconciler.providers.base import Provider

# -- ordering -------------------------------------------------------------------


def order_batches(
    changes: list[Change],
    batch_size: int,
    depends_on: Callable[[Change], str | None] = lambda change: None,
) -> list[list[Change]]:
    """Cut the changes into requests of at most batch_size, in apply order.

    Creates come first, level by level of what they depend on among them (a
    manager: Provider.depends_on); a change whose dependency is created in the current
    request starts a new one, so it exists before anyone who needs it is written.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    creates = {c.key: c for c in changes if c.action == "create"}
    level: dict[str, int] = {}

    def level_of(login: str) -> int:
        chain: list[str] = []
        current: str | None = login
        while current is not None and current in creates and current not in level:
            if current in chain:  # a cycle cannot come from a validated file
                break
            chain.append(current)
            current = depends_on(creates[current])
        base = level.get(current, -1) if current is not None and current in creates else -1
        for depth, member in enumerate(reversed(chain), start=base + 1):
            level[member] = depth
        return level.get(login, 0)

    rank = {action: i for i, action in enumerate(ACTIONS)}
    ordered = sorted(
        changes,
        key=lambda c: (
            0 if c.action == "create" else 1 + (rank[c.action] == rank["deactivate"]),
            level_of(c.key) if c.action == "create" else 0,
            rank[c.action],
            c.key,
        ),
    )
    batches: list[list[Change]] = []
    current: list[Change] = []
    in_current: set[str] = set()
    for change in ordered:
        manager = depends_on(change)
        if len(current) >= batch_size or (manager in creates and manager in in_current):
            batches.append(current)
            current, in_current = [], set()
        current.append(change)
        in_current.add(change.key)
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
    #: Whether the verification read still runs after the abort.
    verify_anyway: bool = False

    def mark(self, logins: Iterable[str], status: str, message: str = "") -> None:
        for login in logins:
            self.failed += (status in _NOT_DONE) - (self.status.get(login) in _NOT_DONE)
            self.status[login] = status
            if message:
                self.message[login] = message


class Applier:
    """Runs a plan's writes against one system and verifies the result."""

    def __init__(
        self,
        remote: Remote,
        *,
        provider: Provider | None = None,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        if provider is None:
            provider = providers.get(providers.DEFAULT)
        self.remote = remote
        self.provider = provider
        self.batch_size = batch_size or provider.capabilities.batch_size
        self.progress = progress or Progress()

    def run(self, plan: Plan) -> ApplyReport:
        state = _State()
        for change in plan.blocked:
            # Named by the plan; sending it would only earn a rejection.
            state.mark([change.key], "skipped", f"not sent: {change.blocked}")
        writable = [c for c in plan.changes if not c.blocked]
        batches = order_batches(writable, self.batch_size, self.provider.depends_on)
        creates = {c.key for c in plan.changes if c.action == "create"}
        self.progress.start(len(batches), len(plan.changes))
        try:
            for number, batch in enumerate(batches, start=1):
                self._run_batch(batch, creates, state)
                self.progress.update(number, len(state.status), state.failed)
        finally:
            self.progress.finish()
        return ApplyReport(
            target=plan.target,
            outcomes=self._verify(plan, state, verify=state.aborted is None or state.verify_anyway),
            requests=self.remote.request_counts(),
            environment=plan.environment,
            system=plan.system,
        )

    def _run_batch(self, batch: list[Change], creates: set[str], state: _State) -> None:
        if state.aborted:
            state.mark((c.key for c in batch), "skipped", state.aborted)
            return
        ready = []
        for change in batch:
            needed = self.provider.depends_on(change)
            if needed in creates and state.status.get(needed) in _NOT_DONE:
                state.mark([change.key], "skipped", f"its manager {needed} was not created")
            else:
                ready.append(change)
        if not ready:
            return
        result = self.remote.write(ready, self.progress)
        for change in ready:
            if change.key in result.status:
                state.mark(
                    [change.key],
                    result.status[change.key],
                    result.message.get(change.key, ""),
                )
            elif result.abort:
                state.mark([change.key], "skipped", f"not attempted: {result.abort}")
            else:
                state.mark([change.key], "pending")
        if result.abort:
            state.aborted = result.abort
            state.verify_anyway = result.verify_anyway

    def _verify(self, plan: Plan, state: _State, *, verify: bool) -> list[Outcome]:
        fold = self.provider.capabilities.key_fold
        tenant: dict[str, dict[str, Any]] = {}
        verified = False
        if verify and any(not c.blocked for c in plan.changes):
            try:
                tenant = tenant_index(self.provider, self.remote.read())
                verified = True
            except ReconcilerError as exc:
                for change in plan.changes:
                    if state.status.get(change.key) in ("done", "pending"):
                        state.mark([change.key], "failed", f"could not verify: {exc}")
        outcomes = []
        for change in plan.changes:
            status = state.status.get(change.key, "skipped")
            message = state.message.get(change.key, "")
            if verified and status in ("done", "pending", "failed"):
                mismatch = self._mismatch(change, tenant.get(fold(change.key)))
                if mismatch is None:
                    status, message = "done", ""
                elif status == "done":
                    status, message = "failed", f"did not converge: {mismatch}"
                else:
                    status = "failed"
                    message = message or f"did not converge: {mismatch}"
            if status == "pending":
                status = "failed"
            outcomes.append(Outcome(change.key, change.action, status, message))  # type: ignore[arg-type]
        return outcomes

    def _mismatch(self, change: Change, current: dict[str, Any] | None) -> str | None:
        """Why the tenant's user is not what the plan intended, or None when it is.

        Checked against the plan's field values, not the payload: a server that
        stores something else than it was sent is caught too.
        """
        if current is None:
            return "the user is not in the tenant"
        if current.get("is_active") is None:
            current = {**current, "is_active": True}
        for name, fc in change.fields.items():
            if name in self.provider.capabilities.write_only:
                continue
            if not self.provider.same(name, fc.after, current.get(name)):
                return f"{name} is {current.get(name)!r}, wanted {fc.after!r}"
        return None
