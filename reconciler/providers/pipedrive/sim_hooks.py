"""How `reconciler sim` runs Pipedrive's simulator (the kernel's `SimulatorHooks`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.sim.faults import Faults
from reconciler.sim.store import User
from reconciler.sim.systems import SimulatedApi

if TYPE_CHECKING:
    from reconciler.providers.pipedrive.sim import PipedriveOptions
    from reconciler.providers.pipedrive.sim_limits import Clock

_RATE = click.FloatRange(0.0, 1.0)


class PipedriveSimulatorHooks:
    """Pipedrive's simulator (`sim.PipedriveSimulator`) over a company file, for the kernel."""

    noun = "Pipedrive users"
    serve_options: Sequence[click.Option] = (
        click.Option(["--seats"], type=click.IntRange(0), help="[pipedrive] Paid seats "
                     "(default: the users who take one)."),
        click.Option(["--no-seat-purchase"], is_flag=True,
                     help="[pipedrive] With no free seat, answer 402 instead of buying one."),
        click.Option(["--plan-multiplier"], type=click.Choice(["1", "2", "5", "7"]), default="1",
                     show_default=True, help="[pipedrive] The plan's daily budget multiplier."),
        click.Option(["--daily-budget"], type=click.IntRange(0),
                     help="[pipedrive] Daily tokens (default: 30000 × multiplier × seats)."),
        click.Option(["--burst"], type=click.IntRange(1), default=20, show_default=True,
                     help="[pipedrive] Requests per token per 2 seconds."),
        click.Option(["--search-burst"], type=click.IntRange(1), default=10, show_default=True,
                     help="[pipedrive] The same, for /v1/users/find."),
        click.Option(["--no-daily-headers"], is_flag=True, help="[pipedrive] Leave out the "
                     "undocumented x-daily-ratelimit-token-limit/-remaining headers."),
        click.Option(["--daily-requests-left"], type=click.Choice(["tokens", "writes", "none"]),
                     default="tokens", show_default=True, help="[pipedrive] What "
                     "x-daily-requests-left counts: tokens left, POST/PUT left, or not sent."),
        click.Option(["--rate-limit-retry-after"], is_flag=True,
                     help="[pipedrive] Send Retry-After on rate-limit 429s."),
        click.Option(["--empty-429-body"], is_flag=True,
                     help="[pipedrive] Rate-limit 429s have no body."),
        click.Option(["--budget-overdraft"], is_flag=True, help="[pipedrive] Serve the request "
                     "that crosses the daily budget (refuse all after it)."),
        click.Option(["--edge-after"], type=click.IntRange(0), default=5, show_default=True,
                     help="[pipedrive] Requests within 2 s of a 429 before the edge's HTML 403."),
        click.Option(["--edge-block"], type=click.FloatRange(0.0, min_open=True), default=60.0,
                     show_default=True, help="[pipedrive] Seconds the edge then blocks."),
        click.Option(["--no-edge"], is_flag=True, help="[pipedrive] No edge 403s at all."),
        click.Option(["--strict-update"], is_flag=True,
                     help="[pipedrive] PUT refuses keys other than active_flag (else ignored)."),
        click.Option(["--strict-create"], is_flag=True, help="[pipedrive] POST refuses keys "
                     "other than email, access, active_flag (else ignored)."),
        click.Option(["--duplicate-email"], type=click.Choice(["error", "existing"]),
                     default="error", show_default=True, help="[pipedrive] POST of an email "
                     "already in the company: 400, or 200 with the existing user."),
        click.Option(["--readd-deleted"], type=click.Choice(["same-id", "new-id"]),
                     default="same-id", show_default=True,
                     help="[pipedrive] POST of a deleted user's email brings back which id."),
        click.Option(["--hide-deleted"], is_flag=True,
                     help="[pipedrive] Deleted users are not listed, found or readable."),
        click.Option(["--page-limit"], type=click.IntRange(1), help="[pipedrive] Page GET "
                     "/v1/users by start/limit, at most N a page (default: no pages)."),
        click.Option(["--find-exact"], is_flag=True,
                     help="[pipedrive] /v1/users/find matches whole names or emails only."),
        click.Option(["--find-empty-list"], is_flag=True,
                     help="[pipedrive] /v1/users/find with no match answers [] (else null)."),
        click.Option(["--literal-access"], is_flag=True, help="[pipedrive] Store created users' "
                     "access as sent (else admin and permission_set_id are filled in)."),
        click.Option(["--refuse-self-deactivation"], is_flag=True,
                     help="[pipedrive] The token's user may not deactivate itself (403)."),
        click.Option(["--account-closed"], is_flag=True,
                     help='[pipedrive] Every request answers 402 "Company account is not open".'),
        click.Option(["--linked-email"], multiple=True, metavar="EMAIL=NAME",
                     help="[pipedrive] An email with a Pipedrive login elsewhere (repeatable)."),
        click.Option(["--login-drift-rate"], type=_RATE, default=0.0,
                     help="[pipedrive] Share of list reads that move a user's last_login."),
        click.Option(["--company-id"], type=click.IntRange(1), default=7_654_321,
                     show_default=True, help="[pipedrive] Shown by /v1/users/me."),
        click.Option(["--company-name"], default="Acme", show_default=True,
                     help="[pipedrive] Shown by /v1/users/me."),
        click.Option(["--company-domain"], default="acme", show_default=True,
                     help="[pipedrive] Shown by /v1/users/me."),
    )  # fmt: skip

    def open(
        self,
        path: Path,
        *,
        token: str,
        writable: bool,
        faults: Faults | None,
        options: PipedriveOptions | None = None,
        clock: Clock | None = None,
    ) -> SimulatedApi:
        from reconciler.providers.pipedrive.sim import PipedriveSimulator
        from reconciler.providers.pipedrive.sim_state import PipedriveStore

        company = PipedriveStore.load(path, persist=writable)
        return PipedriveSimulator(
            company,
            token=token,
            options=options,
            faults=faults,
            clock=clock if clock is not None else time.time,
        )

    def serve(
        self,
        path: Path,
        *,
        token: str,
        faults: dict[str, Any],
        options: dict[str, Any],
        on_request: Callable[[dict[str, Any]], None] | None,
    ) -> SimulatedApi:
        from reconciler.providers.pipedrive.sim import PipedriveSimulator
        from reconciler.providers.pipedrive.sim_state import PipedriveStore

        return PipedriveSimulator(
            PipedriveStore.load(path, persist=True),
            token=token,
            options=_settings(options),
            faults=Faults(**faults),
            keep_request_log=False,
            on_request=on_request,
        )

    def stopped(self, simulator: SimulatedApi) -> str | None:
        from reconciler.providers.pipedrive.sim import PipedriveSimulator

        if not isinstance(simulator, PipedriveSimulator):
            return None
        return (
            f"Pipedrive simulator stopped: {simulator.tokens_spent_total} tokens spent "
            f"({simulator.tokens_left} of {simulator.daily_budget} left today), "
            f"{simulator.seats_bought} seats bought, {simulator.billed_seats} billed."
        )

    def generate(self, count: int, seed: int) -> list[User]:
        from reconciler.providers.pipedrive.sim_generate import generate_company

        if count < 1:
            raise ValueError("a Pipedrive company has at least 1 user (the token's own)")
        return generate_company(count, seed)

    def generate_desired(self, users: Sequence[User], *, changes: float, seed: int) -> str:
        from reconciler.providers.pipedrive.sim_generate import generate_pipedrive_desired

        return generate_pipedrive_desired(users, changes=changes, seed=seed)


def _settings(options: dict[str, Any]) -> PipedriveOptions:
    """The company's readings (`PipedriveOptions`) from the options of `sim serve`."""
    from reconciler.providers.pipedrive.sim import PipedriveOptions

    linked: dict[str, str] = {}
    for item in options["linked_email"]:
        email, sep, person = item.partition("=")
        if not sep or not email.strip() or not person.strip():
            raise click.BadParameter(f"{item!r} is not EMAIL=NAME", param_hint="--linked-email")
        linked[email.strip()] = person.strip()
    return PipedriveOptions(
        seats=options["seats"],
        seat_purchase=not options["no_seat_purchase"],
        plan_multiplier=int(options["plan_multiplier"]),
        daily_budget=options["daily_budget"],
        burst=options["burst"],
        search_burst=options["search_burst"],
        daily_token_headers=not options["no_daily_headers"],
        daily_requests_left=options["daily_requests_left"],
        retry_after_on_429=options["rate_limit_retry_after"],
        body_on_429=not options["empty_429_body"],
        budget_overdraft=options["budget_overdraft"],
        edge_after=None if options["no_edge"] else options["edge_after"],
        edge_block=options["edge_block"],
        strict_update=options["strict_update"],
        strict_create=options["strict_create"],
        duplicate_email=options["duplicate_email"],
        readd_deleted=options["readd_deleted"],
        show_deleted=not options["hide_deleted"],
        page_limit=options["page_limit"],
        find_exact=options["find_exact"],
        find_empty_null=not options["find_empty_list"],
        expand_access=not options["literal_access"],
        self_deactivation=not options["refuse_self_deactivation"],
        account_closed=options["account_closed"],
        linked_people=linked,
        login_drift_rate=options["login_drift_rate"],
        company_id=options["company_id"],
        company_name=options["company_name"],
        company_domain=options["company_domain"],
    )


#: The hooks the kernel finds beside the provider (`reconciler.sim.systems`).
SIMULATOR = PipedriveSimulatorHooks()
