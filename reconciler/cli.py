"""The command line: each command parses options, calls the core, renders, exits.

Every expected error is a ReconcilerError; `main` turns it into one line on
stderr and the exit code of SPEC section 3 (see reconciler.errors).
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import os
import shlex
import sys
import traceback
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import click
from click.core import ParameterSource
from click.shell_completion import CompletionItem

from reconciler import (
    __version__,
    engine,
    github,
    guards,
    progress,
    providers,
    redact,
    saved_plan,
)
from reconciler.desired import DesiredState, load_desired
from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    InputError,
    Problem,
    ReconcilerError,
    UsageError,
    exit_code_for,
)
from reconciler.export import DEFAULT_SCHEMA_REF, check_options, exporter_for, merger_for
from reconciler.files import read_regular_file, write_text_atomic
from reconciler.model import Plan
from reconciler.plan import json_text
from reconciler.providers import title
from reconciler.providers.base import OpenOptions, Provider
from reconciler.render import FORMATS, render_plans, render_reports
from reconciler.render.text import use_color
from reconciler.schema import load_schema
from reconciler.textsafe import printable
from reconciler.wording import plural
from reconciler.yaml_source import MAX_FILE_BYTES, paused_gc

F = TypeVar("F", bound=Callable[..., Any])


_output = {"mode": "auto"}


def _set_output_format(ctx: click.Context, param: click.Parameter, value: str) -> str:
    # Two names (--annotations, --output-format) share the setting: a default must not
    # undo the value the other one was given.
    if param.name and ctx.get_parameter_source(param.name) != ParameterSource.DEFAULT:
        _output["mode"] = value
    return value


def debug_option(func: F) -> F:
    annotations = {
        "type": click.Choice(github.MODES),
        "default": "auto",
        "expose_value": False,
        "is_eager": True,
        "callback": _set_output_format,
    }
    # The old name of --annotations, kept for the recipes teams already run.
    func = click.option("--output-format", hidden=True, **annotations)(func)  # type: ignore[arg-type]
    func = click.option(
        "--annotations",
        show_default=True,
        help="Also emit GitHub Actions annotations for errors and warnings "
        "(github), never (text), or when GITHUB_ACTIONS=true (auto).",
        **annotations,  # type: ignore[arg-type]
    )(func)
    return click.option("--debug", is_flag=True, help="Show the traceback of an error.")(func)


def annotate(level: str, message: str, file: str | None = None, line: int | None = None) -> None:
    if github.enabled(_output["mode"]):
        # Escapes and bidi overrides in a name or a file name must not reach the log raw.
        shown_file = printable(file) if file else None
        click.echo(
            github.annotation(level, printable(message), file=shown_file, line=line), err=True
        )


def inputs_argument(func: F) -> F:
    return click.argument(
        "inputs", nargs=-1, required=True, metavar="FILE_OR_DIR...", type=click.Path()
    )(func)


def _complete_systems(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return [CompletionItem(name) for name in providers.REGISTRY if name.startswith(incomplete)]


def _complete_environments(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The environments of the files already on the command line."""
    # While completing, click may leave the files typed so far unparsed, in ctx.args.
    typed = ctx.params.get("inputs") or ctx.args
    inputs = [arg for arg in typed if not arg.startswith("-") and os.path.exists(arg)]
    try:
        names = sorted(load_desired(inputs).settings.environments) if inputs else []
    except (ReconcilerError, OSError):
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def system_option(func: F, *, repeatable: bool = True) -> F:
    known = ", ".join(providers.REGISTRY)
    return click.option(
        "--system",
        "system_names",
        multiple=True,
        metavar="NAME",
        shell_complete=_complete_systems,
        help=f"Only this system ({known}); repeatable. Default: settings.systems."
        if repeatable
        else f"The system to read ({known}). Default: {providers.DEFAULT}.",
    )(func)


def target_options(func: F, *, one_system: bool = False) -> F:
    func = click.option(
        "--token-file",
        "token_files",
        multiple=True,
        metavar="[SYSTEM=]PATH",
        help="Read a system's API token from this file (bare: DealHub's; default: its "
        "variable, DEALHUB_TOKEN or PIPEDRIVE_API_TOKEN). Repeatable.",
    )(func)
    func = click.option(
        "--api-url",
        "api_urls",
        multiple=True,
        metavar="[SYSTEM=]URL",
        help="A system's API (bare: DealHub's): https://api.dealhub.io, "
        "pipedrive=https://COMPANY.pipedrive.com, or sim:PATH for the built-in simulator. "
        "Default: $DEALHUB_API_URL, $PIPEDRIVE_API_URL. Repeatable.",
    )(func)
    func = system_option(func, repeatable=not one_system)
    return click.option(
        "--env",
        "env_name",
        metavar="NAME",
        shell_complete=_complete_environments,
        help="Use settings.environments.NAME: its URLs, token variables and login suffix.",
    )(func)


def format_option(func: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        help="text for a terminal or log, markdown for a PR comment, json for machines.",
    )(func)


def allow_mass_deactivation_option(func: F) -> F:
    return click.option(
        "--allow-mass-deactivation",
        is_flag=True,
        help="Override the safety guards (max_deactivations, all users, empty file).",
    )(func)


def write_atomically(path: str, text: str) -> None:
    try:
        write_text_atomic(Path(path), redact.redact(text))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


class _Commands(click.Group):
    """The command group; commands kept in modules of their own are imported when used.

    `leave` and `review` (reconciler.commands) use the option decorators of this
    module and bring modules no other command needs, as `sim` brings the
    simulators' server: importing them for every `plan` (or `validate`) would add
    their import time to each run's start-up.
    """

    #: Command name -> the module that defines it (as its attribute of that name).
    lazy: ClassVar[Mapping[str, str]] = {
        "leave": "reconciler.commands.leave",
        "review": "reconciler.commands.review",
        "sim": "reconciler.sim.cli",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module = importlib.import_module(self.lazy[cmd_name])
            self.add_command(getattr(module, cmd_name))
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def cli() -> None:
    """Manage who may use a company's sales systems (DealHub CPQ, Pipedrive) as code.

    Exit codes: 0 success (plan --detailed-exitcode: no changes), 1 error,
    2 plan --detailed-exitcode found changes, 3 a safety guard stopped the run.
    """


@cli.command()
@inputs_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="json: files, users, errors and warnings with file and line, for editors and bots.",
)
@system_option
@debug_option
def validate(inputs: tuple[str, ...], fmt: str, system_names: tuple[str, ...], debug: bool) -> int:
    """Check desired-state files offline; errors print as FILE:LINE: message.

    The whole file is checked, for every system it manages; the OK line counts
    the people listed for each system (--system: those systems only).
    """
    if fmt == "json":
        return validate_json(inputs, system_names)
    state = load_desired(inputs)
    listed = listed_counts(state, system_names)
    for warning in state.warnings:
        click.echo(f"{warning} (warning)", err=True)
        annotate("warning", warning.message, warning.file, warning.line)
    n_files = len(state.files)
    per_system = ""
    if len(state.settings.systems) > 1 or system_names:
        per_system = " (" + ", ".join(f"{n} listed for {title(s)}" for s, n in listed.items()) + ")"
    click.echo(f"{plural(len(state.users), 'user')} in {plural(n_files, 'file')}: OK{per_system}")
    return EXIT_OK


def listed_counts(state: DesiredState, system_names: tuple[str, ...]) -> dict[str, int]:
    """How many people each chosen system lists (a usage error for a system not managed)."""
    chosen = engine.select(state, system_names)
    return {p.capabilities.name: len(state.listed(p.capabilities.name)) for p in chosen}


def validate_json(inputs: tuple[str, ...], system_names: tuple[str, ...]) -> int:
    """`validate --format json`: one JSON document on stdout, whatever the outcome."""
    listed: dict[str, int] | None = None
    try:
        state = load_desired(inputs)
    except InputError as exc:
        errors, files, users, warnings = exc.problems, None, None, []
    else:
        errors, files, users, warnings = [], state.files, len(state.users), state.warnings
        listed = listed_counts(state, system_names)
    document = {
        "format_version": 1,
        "ok": not errors,
        "files": files,
        "users": users,
        "systems": listed,
        "errors": [_problem_data(p) for p in errors],
        "warnings": [_problem_data(p) for p in warnings],
    }
    click.echo(json_text(document), nl=False)
    return EXIT_ERROR if errors else EXIT_OK


def _problem_data(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line if problem.line > 0 else None,
        "field": problem.field,
        "message": problem.message,
    }


@cli.command()
@inputs_argument
@target_options
@format_option
@click.option(
    "-o",
    "--output",
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    help="Save the sealed plan (JSON) for apply --plan (for the plan on stdout: --format json).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes, 0 when there are none.",
)
@allow_mass_deactivation_option
@debug_option
def plan(
    inputs: tuple[str, ...],
    env_name: str | None,
    system_names: tuple[str, ...],
    api_urls: tuple[str, ...],
    token_files: tuple[str, ...],
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
    allow_mass_deactivation: bool,
    debug: bool,
) -> int:
    """Show what apply would change in each system. Never writes to them."""
    if out == "-":
        raise UsageError(
            "--output - would mix the saved plan with the shown one: use --format json"
        )
    state = load_desired(inputs, environment=env_name)
    chosen = engine.select(state, system_names)
    where = engine.Targets.parse(api_urls, token_files)
    with ExitStack() as stack:
        remotes = [
            stack.enter_context(where.connect(provider, state, writable=False))
            for provider in chosen
        ]
        runs = engine.plan_all(
            state, chosen, remotes, allow_mass_deactivation=allow_mass_deactivation
        )
    plans = [run.plan for run in runs]
    if out or fmt == "json":
        digest = saved_plan.desired_digest(state)
        for planned in plans:
            planned.desired_digest = digest
    stories = engine.journeys_of(state, runs)
    shown = render_plans(
        plans, fmt, color=use_color(), journeys=stories, accounts=engine.accounts_of(runs)
    )
    click.echo(shown, nl=False)
    for planned in plans:
        annotate_plan(state, planned)
    if out:
        keys = {p.capabilities.name: where.seal_key(p, state) for p in chosen}
        write_atomically(out, saved_plan.dumps_sealed(plans, keys))
        again = apply_command(out, inputs, env_name, system_names, api_urls, token_files)
        click.echo(f"Saved the plan to {out}; apply it with: {again}", err=True)
    for planned in plans:
        guards.raise_if_unsafe(planned)
    if detailed_exitcode and any(p.has_changes for p in plans):
        return EXIT_CHANGES
    return EXIT_OK


def apply_command(
    out: str,
    inputs: tuple[str, ...],
    env_name: str | None,
    system_names: tuple[str, ...],
    api_urls: tuple[str, ...],
    token_files: tuple[str, ...],
) -> str:
    """The `apply --plan` command line for a saved plan, with the options that chose its target.

    Without them the apply would choose another target (or none) and refuse the plan.
    """
    words = ["reconciler", "apply", "--plan", out]
    if env_name:
        words += ["--env", env_name]
    for name in system_names:
        words += ["--system", name]
    for url in api_urls:
        words += ["--api-url", url]
    for path in token_files:
        words += ["--token-file", path]
    return shlex.join([*words, *inputs])


@cli.command()
@inputs_argument
@target_options
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="Write only the changes of a fresh plan of the files that this reviewed plan "
    "(saved with plan --out) holds identically; hold the rest. The target is chosen "
    "as without --plan.",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1000),
    default=None,
    help="Users per DealHub write request (default "
    f"{providers.get(providers.DEFAULT).capabilities.batch_size}; Pipedrive "
    "writes one user per call).",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(0),
    default=OpenOptions.wait_timeout,
    show_default=True,
    help="Seconds to wait for an asynchronous request to finish.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines or bar while applying.")
@format_option
@allow_mass_deactivation_option
@debug_option
def apply(
    inputs: tuple[str, ...],
    env_name: str | None,
    system_names: tuple[str, ...],
    api_urls: tuple[str, ...],
    token_files: tuple[str, ...],
    plan_file: str | None,
    auto_approve: bool,
    batch_size: int | None,
    wait_timeout: float,
    quiet: bool,
    fmt: str,
    allow_mass_deactivation: bool,
    debug: bool,
) -> int:
    """Make each system match the files, then verify it.

    With --plan PLAN.json, the files are planned afresh and only the changes
    that the reviewed plan holds identically (same user, action, fields,
    values and payload) are written; every other change is held, reported
    with why, and the run exits 1. An edited plan, or one made for another
    target, is refused whole. Every system's guards (and saved plan) are
    checked before any system is written.
    """
    color = use_color()
    state = load_desired(inputs, environment=env_name)
    chosen = engine.select(state, system_names)
    where = engine.Targets.parse(api_urls, token_files)
    saved = engine.saved_for(plan_file, chosen, state, where) if plan_file else None
    with engine.applying(
        state,
        chosen,
        where,
        saved,
        wait_timeout=wait_timeout,
        allow_mass_deactivation=allow_mass_deactivation,
    ) as prepared:
        plans = prepared.plans
        shown = render_plans(
            plans,
            fmt,
            color=color,
            journeys=prepared.journeys,
            accounts=engine.accounts_of(prepared.runs),
        )
        click.echo(shown, nl=False, err=fmt != "text")
        if saved is None and not auto_approve and any(p.has_changes for p in plans):
            confirm(plans)
        reports = engine.write_all(
            prepared, batch_size, lambda run, size: progress_for(run, size, quiet=quiet)
        )
    click.echo(render_reports(reports, fmt, color=color), nl=False)
    engine.raise_unless_done(reports)
    return EXIT_OK


def annotate_plan(state: DesiredState, planned: Plan) -> None:
    """Warnings and guards as annotations on the lines of the users concerned."""
    if not github.enabled(_output["mode"]):
        return
    for warning in planned.warnings:
        user = state.users.get(warning.key)
        annotate(
            "warning", warning.message, user.file if user else None, user.line if user else None
        )
    for guard in planned.guards:
        if not guard.overridden:
            annotate("error", f"safety guard: {guard.message}")


@cli.command()
@functools.partial(target_options, one_system=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write to FILE instead of stdout (- is stdout).",
)
@click.option(
    "--schema-ref",
    default=DEFAULT_SCHEMA_REF,
    show_default=True,
    help="Path or URL of users.schema.json for the $schema comment.",
)
@click.option(
    "--login-suffix",
    default="",
    metavar="SUFFIX",
    help="Strip this suffix from logins and managers (exporting a sandbox such as _sb).",
)
@click.option(
    "--merge",
    metavar="PEOPLE.yaml",
    type=click.Path(),
    help="With --system pipedrive: merge the company into this people file by email, "
    "keeping its comments and layout, so that its plan changes nothing in either system.",
)
@debug_option
def export(
    env_name: str | None,
    system_names: tuple[str, ...],
    api_urls: tuple[str, ...],
    token_files: tuple[str, ...],
    output: str | None,
    schema_ref: str,
    login_suffix: str,
    merge: str | None,
    debug: bool,
) -> int:
    """Write the tenant's users as a desired-state file (to adopt reconciler).

    With --system pipedrive --merge PEOPLE.yaml, write that file with the
    company merged in instead (see README, "Adopting Pipedrive").
    """
    if env_name is not None:
        raise UsageError(
            "export has no desired-state file to read environments from: pass --api-url, "
            f"the token ({providers.DEFAULT_TOKEN_ENV} or --token-file) and --login-suffix "
            "instead"
        )
    names = system_names or (providers.DEFAULT,)
    systems = providers.names()
    if len(names) != 1 or names[0] not in systems:
        raise UsageError(f"export writes one system's users: --system {' or '.join(systems)}")
    provider = providers.get(names[0])
    if merge is not None:
        return export_merge(provider, merge, api_urls, token_files, output)
    exporter = exporter_for(provider)
    options = {"login_suffix": login_suffix} if login_suffix else {}
    check_options(exporter, names[0], options)
    tenant, target = engine.read_system(names[0], api_urls, token_files)
    text = exporter.export(tenant, source=target, schema_ref=schema_ref, options=options)
    write_output(output, text)
    if output and output != "-":
        click.echo(f"Wrote {len(tenant)} users to {output}", err=True)
    return EXIT_OK


def write_output(output: str | None, text: str) -> None:
    if output and output != "-":
        write_atomically(output, text)
    else:
        click.echo(text, nl=False)


def export_merge(
    provider: Provider,
    people: str,
    api_urls: tuple[str, ...],
    token_files: tuple[str, ...],
    output: str | None,
) -> int:
    """`export --system NAME --merge PEOPLE.yaml`: the file first, then the one read."""
    merger = merger_for(provider)
    if people == "-" or os.path.isdir(people):
        raise UsageError(
            f"--merge {people}: give one people file (the merge edits its text); a directory "
            "of people files cannot be merged: combine them into one file first"
        )
    state = load_desired([people])
    try:
        text = read_regular_file(people, MAX_FILE_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {people}: {exc}") from None
    name = provider.capabilities.name
    merged, report = merger.merge(
        text, state, lambda: engine.read_system(name, api_urls, token_files)[0], file=people
    )
    write_output(output, merged)
    for line in report:
        click.echo(line, err=True)
    if output and output != "-":
        click.echo(f"Wrote the merged people file to {output}", err=True)
    return EXIT_OK


@cli.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write to FILE instead of stdout (- is stdout).",
)
@debug_option
def schema(output: str | None, debug: bool) -> int:
    """Print the JSON Schema of the desired-state file (for editors' $schema)."""
    text = json.dumps(load_schema(), indent=2) + "\n"
    if output and output != "-":
        write_atomically(output, text)
    else:
        click.echo(text, nl=False)
    return EXIT_OK


@cli.command()
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(dir_okay=False))
@format_option
@debug_option
def show(plan_file: str, fmt: str, debug: bool) -> int:
    """Show a saved plan (plan --out) as text, markdown or JSON.

    Reads only the file (no tenant, no token), so CI keeps the whole plan as
    text beside plan.json from one plan run. A plan that contradicts itself
    is refused, as apply --plan would.
    """
    saved = [plan for plan, _ in saved_plan.load(plan_file)]
    click.echo(render_plans(saved, fmt, color=use_color()), nl=False)
    return EXIT_OK


@cli.command()
@click.argument("shell", type=click.Choice(("bash", "zsh", "fish")))
@debug_option
def completion(shell: str, debug: bool) -> int:
    """Print the shell completion script for SHELL.

    \b
    bash: eval "$(reconciler completion bash)"   (in ~/.bashrc)
    zsh:  eval "$(reconciler completion zsh)"    (in ~/.zshrc)
    fish: reconciler completion fish > ~/.config/fish/completions/reconciler.fish
    """
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # the choices are click's own shells
    click.echo(completer(cli, {}, "reconciler", "_RECONCILER_COMPLETE").source())
    return EXIT_OK


def confirm(plans: list[Plan]) -> None:
    if not sys.stdin.isatty():
        raise UsageError(
            "refusing to apply without confirmation: no terminal to ask on. "
            "Pass --auto-approve (or apply a reviewed plan with --plan PLAN.json FILE_OR_DIR...)."
        )
    changed = sum(len(p.changes) for p in plans)
    where = ", ".join(p.target for p in plans if p.has_changes)
    what = "this change" if changed == 1 else f"these {changed} changes"
    if not click.confirm(f"Apply {what} to {where}?", default=False, err=True):
        raise UsageError("apply cancelled; nothing was written")


def progress_for(run: engine.Planned, size: int, *, quiet: bool) -> progress.Progress:
    """Progress on stderr for a run of several requests (one request needs none)."""
    several = -(-len(run.plan.changes) // size) > 1
    return progress.for_stream(sys.stderr, quiet=quiet or not several)


def _report(error: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    if isinstance(error, InputError):
        for problem in error.problems:
            click.echo(str(problem), err=True)
            annotate("error", problem.message, problem.file, problem.line)
        count = len(error.problems)
        click.echo(plural(count, "error"), err=True)
    else:
        # Messages may quote the server or the tenant: show control characters escaped.
        click.echo(f"error: {printable(str(error))}", err=True)
        for detail in getattr(error, "details", ()):
            click.echo(f"  - {printable(detail)}", err=True)
        annotate("error", str(error))
    return exit_code_for(error)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `reconciler` console script."""
    args = sys.argv[1:] if argv is None else argv
    # Everything the command prints, whatever its source, leaves with tokens masked.
    with redact.redacted_output():
        code = _run(args)
    sys.exit(code)


def _run(args: list[str]) -> int:
    debug = "--debug" in args
    _output["mode"] = "auto"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(redact.RedactingFilter())
    logger = logging.getLogger("reconciler")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    try:
        # The command's large data (files, tenant, plan) is acyclic and kept to the
        # end: cyclic GC passes would only re-scan it (a third of a 100,000-user plan).
        with paused_gc():
            code = cli.main(args=args, prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = EXIT_ERROR
    except click.ClickException as exc:
        # click exits 2 on a usage error; 2 means "changes found" here.
        exc.show()
        code = EXIT_ERROR
    except ReconcilerError as exc:
        code = _report(exc, debug)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = EXIT_ERROR
    except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
        if debug:
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            err=True,
        )
        code = EXIT_ERROR
    finally:
        logger.removeHandler(handler)
    return code if isinstance(code, int) else 0
