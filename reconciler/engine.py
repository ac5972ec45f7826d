"""The plan and apply workflows over the selected systems, kept out of the CLI.

For each system: choose its target, read its users once, plan, judge the
guards. Apply checks every system's guards (and saved plan) before it writes
to any, then applies each system on its own, so one failing does not stop
the others. The CLI parses options, calls these, renders, maps to exit codes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler import guards, providers, saved_plan
from reconciler.apply import Applier
from reconciler.desired import DesiredState
from reconciler.diff import compute_plan, tenant_index
from reconciler.errors import ApplyFailed, ReconcilerError, StalePlanError, UsageError
from reconciler.journeys import Journey, accounts, journeys
from reconciler.model import ApplyReport, Outcome, Plan, PlanCost
from reconciler.progress import Progress
from reconciler.providers.base import OpenOptions, Provider, Remote
from reconciler.wording import plural

if TYPE_CHECKING:
    from reconciler.http import TokenSource

# reconciler.targets (and the HTTP client under it) is imported where a target is
# chosen: `validate` uses `select` and never connects.


def select(state: DesiredState, names: tuple[str, ...]) -> list[Provider]:
    """The providers of `--system NAME...`, by default every system of settings.systems."""
    managed = state.settings.systems
    known = tuple(providers.REGISTRY)
    for name in names:
        if name not in known:
            raise UsageError(f"--system {name}: reconciler knows {', '.join(known)}")
        if name not in managed:
            raise UsageError(
                f"--system {name}: the files do not manage it (settings.systems is "
                f"{', '.join(managed)})"
            )
    chosen = [name for name in known if name in (names or managed)]
    return [providers.get(name) for name in chosen]


@dataclass
class Targets:
    """Where each system is, from the command line, the environment and --env."""

    api_urls: dict[str, str]
    token_files: dict[str, str]

    @classmethod
    def parse(cls, api_urls: tuple[str, ...], token_files: tuple[str, ...]) -> Targets:
        from reconciler.targets import by_system

        return cls(by_system(api_urls, "--api-url"), by_system(token_files, "--token-file"))

    def url(self, provider: Provider, state: DesiredState) -> tuple[str, str]:
        """(URL, token variable) of one system; see targets.system_target."""
        from reconciler.targets import system_target

        name = provider.capabilities.name
        return system_target(provider, state.environment, self.api_urls.get(name))

    def token(self, provider: Provider, state: DesiredState) -> tuple[str, TokenSource | None]:
        """(URL, token) of one system: see targets.system_token."""
        from reconciler.targets import system_token

        url, token_env = self.url(provider, state)
        name = provider.capabilities.name
        return url, system_token(provider, url, token_env, self.token_files.get(name))

    def seal_key(self, provider: Provider, state: DesiredState) -> bytes:
        """The key that seals (and checks) this system's saved plan: see saved_plan.seal_key."""
        _, token = self.token(provider, state)
        return saved_plan.seal_key(token.token if token else None)

    @contextmanager
    def connect(
        self,
        provider: Provider,
        state: DesiredState,
        *,
        writable: bool,
        wait_timeout: float = OpenOptions.wait_timeout,
    ) -> Iterator[Remote]:
        url, token = self.token(provider, state)
        options = OpenOptions(expected_users=len(state.users), wait_timeout=wait_timeout)
        remote = provider.open(url, token, writable=writable, options=options)
        try:
            yield remote
        finally:
            remote.close()


def make_plan(
    state: DesiredState,
    provider: Provider,
    tenant: list[dict[str, Any]],
    target: str,
    *,
    allow_mass_deactivation: bool,
    budget_left: int | None = None,
    index: dict[str, dict[str, Any]] | None = None,
) -> Plan:
    """One system's plan, with its cost and the guards it trips recorded on it.

    `index` is the tenant's index when the caller built it already (tenant_index).
    """
    plan = compute_plan(state, tenant, target=target, provider=provider, index=index)
    return judge(
        plan, state, provider, budget_left, allow_mass_deactivation=allow_mass_deactivation
    )


def judge(
    plan: Plan,
    state: DesiredState,
    provider: Provider,
    budget_left: int | None,
    *,
    allow_mass_deactivation: bool,
) -> Plan:
    """Record on the plan what it costs and the guards it trips."""
    plan.cost = cost_of(plan, provider, budget_left)
    system_settings = state.settings.for_system(provider.capabilities.name)
    return guards.evaluate(
        plan,
        system_settings.max_deactivations,
        allow_mass_deactivation=allow_mass_deactivation,
        max_creates=system_settings.max_creates,
    )


def cost_of(plan: Plan, provider: Provider, budget_left: int | None) -> PlanCost | None:
    """What apply will spend: its writes and the verification read, where calls cost."""
    caps = provider.capabilities
    if caps.cost_unit is None:
        return None
    writes = sum(1 for c in plan.changes if not c.blocked)
    requests = -(-writes // caps.batch_size)
    return PlanCost(
        caps.cost_unit,
        requests * caps.write_cost,
        caps.read_cost if writes else 0,
        budget_left,
    )


def read_all(remotes: list[Remote]) -> list[list[dict[str, Any]]]:
    """Every system's users, read at the same time: a run waits for the slowest, not the sum."""
    if len(remotes) == 1:
        return [remotes[0].read()]
    with ThreadPoolExecutor(max_workers=len(remotes), thread_name_prefix="read") as pool:
        return list(pool.map(lambda remote: remote.read(), remotes))


@dataclass
class Planned:
    """One system planned against its live users, its connection still open."""

    provider: Provider
    remote: Remote
    tenant: list[dict[str, Any]]
    plan: Plan
    #: The live users as compared and saved, by folded key (diff.tenant_index): built
    #: once per read and passed on (the plan, the saved plan's rule, the journeys).
    index: dict[str, dict[str, Any]]


def plan_all(
    state: DesiredState,
    chosen: list[Provider],
    remotes: list[Remote],
    *,
    allow_mass_deactivation: bool,
) -> list[Planned]:
    """Every chosen system read (at the same time) and planned."""
    runs = []
    for provider, remote, tenant in zip(chosen, remotes, read_all(remotes), strict=True):
        index = tenant_index(provider, tenant)
        plan = make_plan(
            state,
            provider,
            tenant,
            remote.target,
            allow_mass_deactivation=allow_mass_deactivation,
            budget_left=remote.budget_left(),
            index=index,
        )
        runs.append(Planned(provider, remote, tenant, plan, index))
    return runs


def accounts_of(runs: list[Planned]) -> dict[str, dict[str, bool]]:
    """Per system, each account's folded email and whether it is active (journeys.accounts)."""
    return {run.plan.system: accounts(run.index.values()) for run in runs}


def journeys_of(state: DesiredState, runs: list[Planned]) -> list[Journey]:
    """The people whose changes span several of the systems planned (see journeys)."""
    if len(runs) < 2:
        return []
    return journeys([run.plan for run in runs], state.users.values(), accounts_of(runs))


def check_saved(
    saved: list[tuple[Plan, dict[str, Any]]], chosen: list[Provider], state: DesiredState
) -> dict[str, tuple[Plan, dict[str, Any]]]:
    """The saved plan of each chosen system; refuses a set of systems that differs."""
    by_system = {plan.system: (plan, data) for plan, data in saved}
    names = [p.capabilities.name for p in chosen]
    if sorted(by_system) != sorted(names):
        raise StalePlanError(
            f"{saved_plan.MISMATCH}: it covers {', '.join(sorted(by_system)) or 'no system'}, "
            f"this run {', '.join(names)}. Nothing was sent."
        )
    return by_system


def bind_saved(
    planned: Planned,
    saved: dict[str, Any],
    state: DesiredState,
    key: bytes,
    *,
    allow_mass_deactivation: bool,
) -> tuple[Planned, saved_plan.Review]:
    """This system's run cut down to what the reviewed plan holds (saved_plan.review).

    The guards are judged again on what the run writes: a held deactivation
    does not count towards max_deactivations, a reviewed one always does.
    """
    result = saved_plan.bind(
        saved,
        planned.plan,
        planned.index,
        planned.provider,
        files_digest=saved_plan.desired_digest(state),
        key=key,
    )
    reviewed = dataclasses.replace(
        planned.plan, changes=[c for c in planned.plan.changes if c.key in result.approved]
    )
    budget_left = planned.plan.cost.budget_left if planned.plan.cost else None
    judge(
        reviewed,
        state,
        planned.provider,
        budget_left,
        allow_mass_deactivation=allow_mass_deactivation,
    )
    return dataclasses.replace(planned, plan=reviewed), result


def apply_system(planned: Planned, *, batch_size: int | None, progress: Progress) -> ApplyReport:
    """Write one system's plan and verify it; a run that stops early reports what it did."""
    applier = Applier(
        planned.remote, provider=planned.provider, batch_size=batch_size, progress=progress
    )
    return applier.run(planned.plan)


def failed_report(planned: Planned, error: ReconcilerError) -> ApplyReport:
    """The report of a system whose apply raised: every planned user failed with why."""

    return ApplyReport(
        target=planned.plan.target,
        outcomes=[Outcome(c.key, c.action, "failed", str(error)) for c in planned.plan.changes],
        environment=planned.plan.environment,
        system=planned.plan.system,
    )


def empty_report(planned: Planned) -> ApplyReport:
    """The report of a system with nothing to write."""
    return ApplyReport(
        planned.plan.target, [], environment=planned.plan.environment, system=planned.plan.system
    )


# -- apply: every system checked before any is written ----------------------------------


def saved_for(
    plan_file: str, chosen: list[Provider], state: DesiredState, where: Targets
) -> dict[str, tuple[Plan, dict[str, Any]]]:
    """The saved plan of each chosen system, refused whole when it is for another target.

    Checked before the token goes anywhere: a plan for another tenant stops here.
    """
    from reconciler.targets import normalised

    saved = check_saved(saved_plan.load(plan_file), chosen, state)
    for provider in chosen:
        url, _ = where.url(provider, state)
        saved_plan.check_target(saved[provider.capabilities.name][0], normalised(url), state)
    return saved


@dataclass
class Prepared:
    """Every system planned (and bound to its reviewed plan), judged, its connection open."""

    runs: list[Planned]
    #: Per system, what apply --plan holds back; empty without a saved plan.
    reviews: dict[str, saved_plan.Review]
    journeys: list[Journey]

    @property
    def plans(self) -> list[Plan]:
        return [run.plan for run in self.runs]


@contextmanager
def applying(
    state: DesiredState,
    chosen: list[Provider],
    where: Targets,
    saved: dict[str, tuple[Plan, dict[str, Any]]] | None,
    *,
    wait_timeout: float,
    allow_mass_deactivation: bool,
) -> Iterator[Prepared]:
    """Read and plan every system, bind each to its saved plan, and judge the guards.

    Raises before anything is written when any system's saved plan is refused or
    any guard trips; the connections stay open for write_all.
    """
    with ExitStack() as stack:
        remotes = [
            stack.enter_context(
                where.connect(provider, state, writable=True, wait_timeout=wait_timeout)
            )
            for provider in chosen
        ]
        runs = plan_all(state, chosen, remotes, allow_mass_deactivation=allow_mass_deactivation)
        reviews: dict[str, saved_plan.Review] = {}
        if saved is not None:
            bound = [
                bind_saved(
                    run,
                    saved[run.plan.system][1],
                    state,
                    where.seal_key(run.provider, state),
                    allow_mass_deactivation=allow_mass_deactivation,
                )
                for run in runs
            ]
            runs = [run for run, _ in bound]
            reviews = {run.plan.system: review for run, review in bound}
        for run in runs:
            guards.raise_if_unsafe(run.plan)
        yield Prepared(runs, reviews, journeys_of(state, runs))


def write_all(
    prepared: Prepared,
    batch_size: int | None,
    progress_for: Callable[[Planned, int], Progress],
) -> list[ApplyReport]:
    """Apply every system on its own (one failing does not stop the others).

    `progress_for(run, batch_size)` gives what shows the progress of one system.
    """
    reports = []
    for run in prepared.runs:
        caps = run.provider.capabilities
        size = batch_size if caps.batch_size > 1 and batch_size else caps.batch_size
        if not run.plan.has_changes:
            report = empty_report(run)
        else:
            try:
                report = apply_system(run, batch_size=size, progress=progress_for(run, size))
            except ReconcilerError as exc:
                report = failed_report(run, exc)
        review = prepared.reviews.get(run.plan.system)
        if review is not None:
            report.held, report.no_longer_needed = review.held, review.no_longer_needed
        reports.append(report)
    return reports


def raise_unless_done(reports: list[ApplyReport]) -> None:
    """Exit 1 when anything was held, failed or skipped (the report says what)."""
    held = sum(len(report.held) for report in reports)
    if held:
        raise ApplyFailed(
            f"{plural(held, 'change')} held: no reviewed plan holds "
            f"{'them' if held != 1 else 'it'} (see the report above). Review a plan that "
            "does, then apply that plan."
        )
    if not all(report.ok for report in reports):
        raise ApplyFailed("apply did not converge for every user (see the report above)")


# -- export: one system read without a desired state ----------------------------------


def read_system(
    name: str, api_urls: tuple[str, ...], token_files: tuple[str, ...]
) -> tuple[list[dict[str, Any]], str]:
    """One system's users (one read) and its target, chosen without a desired state."""
    from reconciler import targets

    provider = providers.get(name)
    where = Targets.parse(api_urls, token_files)
    url, token_env = targets.system_target(provider, None, where.api_urls.get(name))
    remote = targets.open_remote(
        provider,
        url,
        token_env,
        where.token_files.get(name),
        writable=False,
        options=OpenOptions(),
    )
    try:
        return remote.read(), remote.target
    finally:
        remote.close()
