"""`reconciler sim`: serve the simulator over HTTP, or generate a tenant to serve."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click

from reconciler.client import is_loopback
from reconciler.sim.app import Simulator
from reconciler.sim.faults import Faults
from reconciler.sim.generate import generate_desired, generate_tenant
from reconciler.sim.server import serve_forever
from reconciler.sim.state import StateError, TenantStore, write_json_atomic

TOKEN_ENV = "DEALHUB_TOKEN"


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
    """A local DealHub User API simulator, for trying reconciler without a tenant."""


@sim.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), required=True, help="0 picks a free port.")
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Tenant file (JSON array of users); every write is saved to it.",
)
@click.option("--token", help=f"Token clients must send (else --token-file or ${TOKEN_ENV}).")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--allow-remote", is_flag=True, help="Allow a --host that is not loopback.")
@click.option("--latency", type=click.FloatRange(0.0), default=0.0, help="Seconds per request.")
@click.option("--failure-rate", type=_RATE, default=0.0, help="Share of requests answered 503.")
@click.option("--throttle-rate", type=_RATE, default=0.0, help="Share of requests answered 429.")
@click.option("--retry-after", type=click.IntRange(0), default=1, show_default=True)
@click.option("--lost-rate", type=_RATE, default=0.0, help="Share of writes applied, unanswered.")
@click.option("--async", "async_mode", is_flag=True, help="v2 writes answer a request_id.")
@click.option("--max-batch", type=click.IntRange(1), help="Most users one PUT may carry.")
@click.option("--require-external-id", is_flag=True, help="v2 rejects users without one.")
@click.option("--taken-login", multiple=True, help="A login another tenant holds (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the faults.")
@click.option(
    "--request-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append each request to this file as a JSON line (never headers or the token).",
)
@click.option("--verbose", is_flag=True, help="Print each request line on stderr.")
def serve(
    port: int,
    state_path: Path,
    token: str | None,
    token_file: Path | None,
    host: str,
    allow_remote: bool,
    latency: float,
    failure_rate: float,
    throttle_rate: float,
    retry_after: int,
    lost_rate: float,
    async_mode: bool,
    max_batch: int | None,
    require_external_id: bool,
    taken_login: tuple[str, ...],
    seed: int,
    request_log: Path | None,
    verbose: bool,
) -> None:
    """Serve the simulator over HTTP on loopback until Ctrl-C."""
    if not is_loopback(host) and not allow_remote:
        raise click.ClickException(
            f"--host {host} is not loopback: clients would send the token in clear text "
            "over the network (use --allow-remote to do it anyway)"
        )
    secret = _token(token, token_file)
    try:
        store = TenantStore.load(state_path, persist=True)
    except StateError as exc:
        raise click.ClickException(str(exc)) from None
    faults = Faults(
        latency=latency,
        failure_rate=failure_rate,
        throttle_rate=throttle_rate,
        retry_after=retry_after,
        lost_rate=lost_rate,
        async_mode=async_mode,
        max_batch=max_batch,
        require_external_id=require_external_id,
        taken_logins=frozenset(taken_login),
        seed=seed,
    )
    log_file: TextIO | None = None
    try:
        if request_log is not None:
            try:
                log_file = request_log.open("a", encoding="utf-8")
            except OSError as exc:
                raise click.ClickException(f"cannot open request log: {exc}") from None
        simulator = Simulator(
            store,
            token=secret,
            faults=faults,
            keep_request_log=False,
            on_request=_line_writer(log_file) if log_file else None,
        )

        def announce(url: str) -> None:
            click.echo(
                f"DealHub simulator serving {state_path} on {url} (Ctrl-C to stop)", err=True
            )

        try:
            serve_forever(simulator, host, port, verbose=verbose, on_ready=announce)
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    finally:
        if log_file is not None:
            log_file.close()


def _token(token: str | None, token_file: Path | None) -> str:
    if token and token_file:
        raise click.UsageError("give --token or --token-file, not both")
    if token_file is not None:
        try:
            secret = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise click.ClickException(f"cannot read token file {token_file}: {exc}") from None
    else:
        secret = (token or os.environ.get(TOKEN_ENV, "")).strip()
    if not secret:
        raise click.UsageError(f"no token: give --token, --token-file or set {TOKEN_ENV}")
    return secret


def _line_writer(handle: TextIO) -> Callable[[dict[str, Any]], None]:
    lock = threading.Lock()

    def write(entry: dict[str, Any]) -> None:
        with lock:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()

    return write


@sim.command("generate")
@click.option("--users", "count", type=click.IntRange(0), required=True, help="Tenant size.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Tenant file to write (JSON array of users).",
)
@click.option(
    "--desired",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a desired-state YAML file that changes part of the tenant.",
)
@click.option(
    "--changes",
    default="5%",
    callback=_fraction,
    show_default=True,
    help="Share of users the desired file changes: 5% or 0.05.",
)
def generate(count: int, seed: int, output: Path, desired: Path | None, changes: float) -> None:
    """Write a realistic generated tenant, and optionally a desired state for it."""
    tenant = generate_tenant(count, seed)
    try:
        write_json_atomic(output, tenant)
        if desired is not None:
            desired.write_text(generate_desired(tenant, changes=changes, seed=seed + 1), "utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write: {exc}") from None
    click.echo(f"Wrote {count} users to {output}", err=True)
    if desired is not None:
        click.echo(
            f"Wrote a desired state changing about {changes:.0%} of them to {desired}", err=True
        )
