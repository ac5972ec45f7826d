"""`reconciler sim`: serve a simulator (DealHub or Pipedrive) over HTTP, or generate its state."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
from click.core import ParameterSource

from reconciler.http import is_loopback
from reconciler.sim.app import Simulator
from reconciler.sim.faults import Faults
from reconciler.sim.generate import (
    generate_company,
    generate_desired,
    generate_pipedrive_desired,
    generate_tenant,
)
from reconciler.sim.server import serve_forever
from reconciler.sim.state import StateError, TenantStore, write_json_atomic
from reconciler.sim.transport import SYSTEMS

if TYPE_CHECKING:
    from reconciler.sim.pipedrive import PipedriveOptions, PipedriveSimulator

TOKEN_ENV = "DEALHUB_TOKEN"
PIPEDRIVE_TOKEN_ENV = "PIPEDRIVE_API_TOKEN"


def _fraction(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """A fraction between 0 and 1, written "5%" or "0.05"."""
    text = value.strip()
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a fraction such as 5% or 0.05") from None
    if not 0.0 <= number <= 1.0:
        raise click.BadParameter(f"{value!r} is not between 0% and 100%")
    return number


_RATE = click.FloatRange(0.0, 1.0)


@click.group("sim")
def sim() -> None:
    """Local simulators of the DealHub User API and the Pipedrive Users API."""


_SYSTEM = click.option(
    "--system",
    type=click.Choice(SYSTEMS),
    default="dealhub",
    show_default=True,
    help="The API to simulate.",
)
#: Options only one system takes: naming one with the other system is a usage error.
_DEALHUB_ONLY = ("async_mode", "max_batch", "require_external_id", "taken_login")


def _pipedrive_options(command: Callable[..., None]) -> Callable[..., None]:
    options = [
        click.option("--seats", type=click.IntRange(0), help="[pipedrive] Paid seats "
                     "(default: the users who take one)."),
        click.option("--no-seat-purchase", is_flag=True,
                     help="[pipedrive] With no free seat, answer 402 instead of buying one."),
        click.option("--plan-multiplier", type=click.Choice(["1", "2", "5", "7"]), default="1",
                     show_default=True, help="[pipedrive] The plan's daily budget multiplier."),
        click.option("--daily-budget", type=click.IntRange(0),
                     help="[pipedrive] Daily tokens (default: 30000 × multiplier × seats)."),
        click.option("--burst", type=click.IntRange(1), default=20, show_default=True,
                     help="[pipedrive] Requests per token per 2 seconds."),
        click.option("--search-burst", type=click.IntRange(1), default=10, show_default=True,
                     help="[pipedrive] The same, for /v1/users/find."),
        click.option("--no-daily-headers", is_flag=True, help="[pipedrive] Leave out the "
                     "undocumented x-daily-ratelimit-token-limit/-remaining headers."),
        click.option("--daily-requests-left", type=click.Choice(["tokens", "writes", "none"]),
                     default="tokens", show_default=True, help="[pipedrive] What "
                     "x-daily-requests-left counts: tokens left, POST/PUT left, or not sent."),
        click.option("--rate-limit-retry-after", is_flag=True,
                     help="[pipedrive] Send Retry-After on rate-limit 429s."),
        click.option("--empty-429-body", is_flag=True,
                     help="[pipedrive] Rate-limit 429s have no body."),
        click.option("--budget-overdraft", is_flag=True, help="[pipedrive] Serve the request "
                     "that crosses the daily budget (refuse all after it)."),
        click.option("--edge-after", type=click.IntRange(0), default=5, show_default=True,
                     help="[pipedrive] Requests within 2 s of a 429 before the edge's HTML 403."),
        click.option("--edge-block", type=click.FloatRange(0.0, min_open=True), default=60.0,
                     show_default=True, help="[pipedrive] Seconds the edge then blocks."),
        click.option("--no-edge", is_flag=True, help="[pipedrive] No edge 403s at all."),
        click.option("--strict-update", is_flag=True,
                     help="[pipedrive] PUT refuses keys other than active_flag (else ignored)."),
        click.option("--strict-create", is_flag=True, help="[pipedrive] POST refuses keys "
                     "other than email, access, active_flag (else ignored)."),
        click.option("--duplicate-email", type=click.Choice(["error", "existing"]),
                     default="error", show_default=True, help="[pipedrive] POST of an email "
                     "already in the company: 400, or 200 with the existing user."),
        click.option("--readd-deleted", type=click.Choice(["same-id", "new-id"]),
                     default="same-id", show_default=True,
                     help="[pipedrive] POST of a deleted user's email brings back which id."),
        click.option("--hide-deleted", is_flag=True,
                     help="[pipedrive] Deleted users are not listed, found or readable."),
        click.option("--page-limit", type=click.IntRange(1), help="[pipedrive] Page GET "
                     "/v1/users by start/limit, at most N a page (default: no pages)."),
        click.option("--find-exact", is_flag=True,
                     help="[pipedrive] /v1/users/find matches whole names or emails only."),
        click.option("--find-empty-list", is_flag=True,
                     help="[pipedrive] /v1/users/find with no match answers [] (else null)."),
        click.option("--literal-access", is_flag=True, help="[pipedrive] Store created users' "
                     "access as sent (else admin and permission_set_id are filled in)."),
        click.option("--refuse-self-deactivation", is_flag=True,
                     help="[pipedrive] The token's user may not deactivate itself (403)."),
        click.option("--account-closed", is_flag=True,
                     help='[pipedrive] Every request answers 402 "Company account is not open".'),
        click.option("--linked-email", multiple=True, metavar="EMAIL=NAME",
                     help="[pipedrive] An email with a Pipedrive login elsewhere (repeatable)."),
        click.option("--login-drift-rate", type=_RATE, default=0.0,
                     help="[pipedrive] Share of list reads that move a user's last_login."),
        click.option("--company-id", type=click.IntRange(1), default=7_654_321,
                     show_default=True, help="[pipedrive] Shown by /v1/users/me."),
        click.option("--company-name", default="Acme", show_default=True,
                     help="[pipedrive] Shown by /v1/users/me."),
        click.option("--company-domain", default="acme", show_default=True,
                     help="[pipedrive] Shown by /v1/users/me."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


@sim.command("serve")
@_SYSTEM
@click.option("--port", type=click.IntRange(0, 65535), required=True, help="0 picks a free port.")
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="State file (JSON array of users); every write is saved to it.",
)
@click.option(
    "--token",
    help=f"Token clients must send (else --token-file, ${TOKEN_ENV} or ${PIPEDRIVE_TOKEN_ENV}).",
)
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--allow-remote", is_flag=True, help="Allow a --host that is not loopback.")
@click.option("--latency", type=click.FloatRange(0.0), default=0.0, help="Seconds per request.")
@click.option("--failure-rate", type=_RATE, default=0.0, help="Share of requests answered 503.")
@click.option("--throttle-rate", type=_RATE, default=0.0, help="Share of requests answered 429.")
@click.option("--retry-after", type=click.IntRange(0), default=1, show_default=True)
@click.option("--lost-rate", type=_RATE, default=0.0, help="Share of writes applied, unanswered.")
@click.option(
    "--async", "async_mode", is_flag=True, help="[dealhub] v2 writes answer a request_id."
)
@click.option("--max-batch", type=click.IntRange(1), help="[dealhub] Most users one PUT may carry.")
@click.option("--require-external-id", is_flag=True, help="[dealhub] v2 rejects users without one.")
@click.option(
    "--taken-login", multiple=True, help="[dealhub] A login another tenant holds (repeatable)."
)
@_pipedrive_options
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the faults.")
@click.option(
    "--request-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append each request to this file as a JSON line (never headers or the token).",
)
@click.option("--verbose", is_flag=True, help="Print each request line on stderr.")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@click.pass_context
def serve(ctx: click.Context, /, **options: Any) -> None:
    """Serve a simulator over HTTP on loopback until Ctrl-C."""
    system: str = options["system"]
    _refuse_other_systems_options(ctx, system)
    host: str = options["host"]
    if not is_loopback(host) and not options["allow_remote"]:
        raise click.ClickException(
            f"--host {host} is not loopback: clients would send the token in clear text "
            "over the network (use --allow-remote to do it anyway)"
        )
    # Imported here: every command of the tool imports this module, few serve Pipedrive.
    from reconciler.sim.pipedrive import PipedriveSimulator
    from reconciler.sim.pipedrive_state import PipedriveStore

    env = PIPEDRIVE_TOKEN_ENV if system == "pipedrive" else TOKEN_ENV
    secret = _token(options["token"], options["token_file"], env)
    faults = Faults(
        latency=options["latency"],
        failure_rate=options["failure_rate"],
        throttle_rate=options["throttle_rate"],
        retry_after=options["retry_after"],
        lost_rate=options["lost_rate"],
        async_mode=options["async_mode"],
        max_batch=options["max_batch"],
        require_external_id=options["require_external_id"],
        taken_logins=frozenset(options["taken_login"]),
        seed=options["seed"],
    )
    state_path: Path = options["state_path"]
    request_log: Path | None = options["request_log"]
    log_file: TextIO | None = None
    try:
        if request_log is not None:
            try:
                log_file = request_log.open("a", encoding="utf-8")
            except OSError as exc:
                raise click.ClickException(f"cannot open request log: {exc}") from None
        on_request = _line_writer(log_file) if log_file else None
        simulator: Simulator | PipedriveSimulator
        try:
            if system == "pipedrive":
                simulator = PipedriveSimulator(
                    PipedriveStore.load(state_path, persist=True),
                    token=secret,
                    options=_pipedrive_settings(options),
                    faults=faults,
                    keep_request_log=False,
                    on_request=on_request,
                )
            else:
                simulator = Simulator(
                    TenantStore.load(state_path, persist=True),
                    token=secret,
                    faults=faults,
                    keep_request_log=False,
                    on_request=on_request,
                )
        except (StateError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        name = "Pipedrive" if system == "pipedrive" else "DealHub"

        def announce(url: str) -> None:
            click.echo(f"{name} simulator serving {state_path} on {url} (Ctrl-C to stop)", err=True)

        port: int = options["port"]
        try:
            serve_forever(simulator, host, port, verbose=options["verbose"], on_ready=announce)
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
        if isinstance(simulator, PipedriveSimulator):
            click.echo(
                f"Pipedrive simulator stopped: {simulator.tokens_spent_total} tokens spent "
                f"({simulator.tokens_left} of {simulator.daily_budget} left today), "
                f"{simulator.seats_bought} seats bought, {simulator.billed_seats} billed.",
                err=True,
            )
    finally:
        if log_file is not None:
            log_file.close()


def _refuse_other_systems_options(ctx: click.Context, system: str) -> None:
    """A usage error for an option the chosen system would silently ignore."""
    given = [
        param
        for param in ctx.command.params
        if param.name is not None
        and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE
    ]
    for param in given:
        name = param.name or ""
        help_text = getattr(param, "help", "") or ""
        other = (system == "pipedrive" and name in _DEALHUB_ONLY) or (
            system == "dealhub" and help_text.startswith("[pipedrive]")
        )
        if other:
            flag = param.opts[0] if param.opts else name
            raise click.UsageError(f"{flag} is not an option of the {system} simulator")


def _pipedrive_settings(options: dict[str, Any]) -> PipedriveOptions:
    from reconciler.sim.pipedrive import PipedriveOptions

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


def _token(token: str | None, token_file: Path | None, env: str) -> str:
    if token and token_file:
        raise click.UsageError("give --token or --token-file, not both")
    if token_file is not None:
        try:
            secret = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise click.ClickException(f"cannot read token file {token_file}: {exc}") from None
    else:
        secret = (token or os.environ.get(env, "")).strip()
    if not secret:
        raise click.UsageError(f"no token: give --token, --token-file or set {env}")
    return secret


def _line_writer(handle: TextIO) -> Callable[[dict[str, Any]], None]:
    lock = threading.Lock()

    def write(entry: dict[str, Any]) -> None:
        with lock:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()

    return write


@sim.command("generate")
@_SYSTEM
@click.option("--users", "count", type=click.IntRange(0), required=True, help="How many users.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="State file to write (JSON array of users).",
)
@click.option(
    "--desired",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a desired-state YAML file that changes part of the users.",
)
@click.option(
    "--changes",
    default="5%",
    callback=_fraction,
    show_default=True,
    help="Share of users the desired file changes: 5% or 0.05.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
def generate(
    system: str,
    count: int,
    seed: int,
    output: Path,
    desired: Path | None,
    changes: float,
    debug: bool,
) -> None:
    """Write a realistic generated tenant or company, and optionally a desired state for it."""
    if system == "pipedrive":
        if count < 1:
            raise click.BadParameter(
                "a Pipedrive company has at least 1 user (the token's own)", param_hint="--users"
            )
        users = generate_company(count, seed)
        make_desired: Callable[..., str] = generate_pipedrive_desired
        noun = "Pipedrive users"
    else:
        users = generate_tenant(count, seed)
        make_desired = generate_desired
        noun = "users"
    try:
        write_json_atomic(output, users)
        if desired is not None:
            desired.write_text(make_desired(users, changes=changes, seed=seed + 1), "utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write: {exc}") from None
    click.echo(f"Wrote {count} {noun} to {output}", err=True)
    if desired is not None:
        click.echo(
            f"Wrote a desired state changing about {changes:.0%} of them to {desired}", err=True
        )
