"""`reconciler sim`: serve a system's simulator over HTTP, or generate its state.

The simulators are the systems' own (`systems.hooks_for`): `--system` names any
registered system that brings one, and its own options join `sim serve`'s.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click
from click.core import ParameterSource

from reconciler.http import is_loopback
from reconciler.settings import DEFAULT_SYSTEMS
from reconciler.sim.server import serve_forever
from reconciler.sim.store import StateError, write_json_atomic
from reconciler.sim.systems import NoSimulator, SimulatorHooks, hooks_for, systems


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
    """Local simulators of the systems' APIs (each system brings its own)."""


class _SystemChoice(click.Choice):  # type: ignore[type-arg]
    """The registered systems, read when a command runs: a system registered later counts."""

    def __init__(self) -> None:
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:
        return systems()

    @choices.setter
    def choices(self, value: object) -> None:
        # click.Choice sets its choices once; these are read from the registry each time.
        pass


_SYSTEM = click.option(
    "--system",
    type=_SystemChoice(),
    default=DEFAULT_SYSTEMS[0],
    show_default=True,
    help="The API to simulate.",
)


class _ServeCommand(click.Command):
    """`sim serve`: the kernel's options, and those of each system that brings a simulator.

    A system's options join on first use (help or a run), so the other commands
    do not import every simulator; `owners` says which systems take each one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Option name -> the systems whose simulator takes it.
        self.owners: dict[str, set[str]] = {}
        self._kernel = list(self.params)
        #: The systems whose options joined (a system registered later joins then).
        self._joined: tuple[str, ...] | None = None

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        current = systems()
        if current != self._joined:
            self._joined = current
            self._join_systems_options()
        return super().get_params(ctx)

    def _join_systems_options(self) -> None:
        self.params = list(self._kernel)
        self.owners = {}
        kernel = {param.name for param in self.params}
        # Before --seed, where they stood when the command named its systems.
        at = next(i for i, param in enumerate(self.params) if param.name == "seed")
        for system in systems():
            try:
                hooks = hooks_for(system)
            except NoSimulator:
                continue
            for option in hooks.serve_options:
                name = option.name or ""
                if name in kernel:
                    continue
                if name not in self.owners:
                    self.params.insert(at, option)
                    at += 1
                self.owners.setdefault(name, set()).add(system)


@sim.command("serve", cls=_ServeCommand)
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
    help="Token clients must send (else --token-file or the system's token variable).",
)
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--allow-remote", is_flag=True, help="Allow a --host that is not loopback.")
@click.option("--latency", type=click.FloatRange(0.0), default=0.0, help="Seconds per request.")
@click.option("--failure-rate", type=_RATE, default=0.0, help="Share of requests answered 503.")
@click.option("--throttle-rate", type=_RATE, default=0.0, help="Share of requests answered 429.")
@click.option("--retry-after", type=click.IntRange(0), default=1, show_default=True)
@click.option("--lost-rate", type=_RATE, default=0.0, help="Share of writes applied, unanswered.")
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
    hooks = _hooks(system)
    _refuse_other_systems_options(ctx, system)
    host: str = options["host"]
    if not is_loopback(host) and not options["allow_remote"]:
        raise click.ClickException(
            f"--host {host} is not loopback: clients would send the token in clear text "
            "over the network (use --allow-remote to do it anyway)"
        )
    from reconciler import providers

    title = providers.title(system)
    env = providers.get(system).capabilities.token_env
    secret = _token(options["token"], options["token_file"], env)
    faults: dict[str, Any] = {
        "latency": options["latency"],
        "failure_rate": options["failure_rate"],
        "throttle_rate": options["throttle_rate"],
        "retry_after": options["retry_after"],
        "lost_rate": options["lost_rate"],
        "seed": options["seed"],
    }
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
        try:
            simulator = hooks.serve(
                state_path, token=secret, faults=faults, options=options, on_request=on_request
            )
        except (StateError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None

        def announce(url: str) -> None:
            click.echo(
                f"{title} simulator serving {state_path} on {url} (Ctrl-C to stop)", err=True
            )

        port: int = options["port"]
        try:
            serve_forever(simulator, host, port, verbose=options["verbose"], on_ready=announce)
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
        said = hooks.stopped(simulator)
        if said:
            click.echo(said, err=True)
    finally:
        if log_file is not None:
            log_file.close()


def _hooks(system: str) -> SimulatorHooks:
    try:
        return hooks_for(system)
    except NoSimulator as exc:
        raise click.ClickException(str(exc)) from None


def _refuse_other_systems_options(ctx: click.Context, system: str) -> None:
    """A usage error for an option the chosen system would silently ignore."""
    owners = ctx.command.owners if isinstance(ctx.command, _ServeCommand) else {}
    for param in ctx.command.get_params(ctx):
        name = param.name or ""
        if ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        if name in owners and system not in owners[name]:
            flag = param.opts[0] if param.opts else name
            raise click.UsageError(f"{flag} is not an option of the {system} simulator")


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
    hooks = _hooks(system)
    try:
        users = hooks.generate(count, seed)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--users") from None
    make_desired = hooks.generate_desired
    noun = hooks.noun
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
