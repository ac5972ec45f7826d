"""`reconciler leave PERSON FILE_OR_DIR...`: the emergency path (SPEC section 8).

The command parses options, asks for confirmation, renders and exits; the
workflow is reconciler.leave's. Register it with `cli.add_command(leave)`.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack

import click

from reconciler import engine
from reconciler import leave as core
from reconciler.cli import debug_option, format_option, inputs_argument, target_options
from reconciler.desired import load_desired
from reconciler.errors import UsageError
from reconciler.people_edit import EditError, deactivate_in_file
from reconciler.textsafe import printable


@click.command()
@click.argument("person", metavar="PERSON")
@inputs_argument
@target_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--no-edit",
    is_flag=True,
    help="Print the edit of the files (is_active: false on the person) without writing it.",
)
@format_option
@debug_option
def leave(
    person: str,
    inputs: tuple[str, ...],
    env_name: str | None,
    system_names: tuple[str, ...],
    api_urls: tuple[str, ...],
    token_files: tuple[str, ...],
    auto_approve: bool,
    no_edit: bool,
    fmt: str,
    debug: bool,
) -> int:
    """Deactivate one person in every system now, verify it, and record it in the files.

    PERSON is a DealHub login or an email, in any letter case. Only that
    person's deactivation is written (whatever else differs), each system is
    read back to verify it, and where the files list them as active their
    entry gets is_active: false (--no-edit: the edit is only printed).

    Exit 0 when the person is inactive in every system that has them; 1 when a
    system failed, or PERSON matches no one or several people (nothing written);
    3 when a protected login or email, or the Pipedrive token's own user, was
    refused (nothing written).
    """
    state = load_desired(inputs, environment=env_name)
    chosen = engine.select(state, system_names)
    where = engine.Targets.parse(api_urls, token_files)
    resolution = core.resolve(state, person, chosen)
    with ExitStack() as stack:
        systems = [
            core.System.open(
                provider, stack.enter_context(where.connect(provider, state, writable=True))
            )
            for provider in chosen
        ]
        report = core.find_everywhere(state, resolution, systems, now=core.utc_now)
        if report.refused:
            click.echo(core.render(report, fmt), nl=False)
            return report.exit_code
        user = resolution.user if resolution.listed_active else None
        if user is not None:
            report.edit_problem = core.edit_problem(state, resolution, chosen)
        editing = user is not None and not report.edit_problem and not no_edit
        writes = core.pending_writes(report)
        if (writes or editing) and not auto_approve:
            for line in core.who(resolution, report):
                click.echo(printable(line), err=True)
            confirm(len(writes), user.file if editing and user else None)
        # The deactivations first: the file edit can wait a few seconds, the leaver not.
        core.deactivate_everywhere(report, systems, now=core.utc_now)
    if user is not None and not report.edit_problem:
        try:
            report.edit = deactivate_in_file(state, user)
            if not no_edit:
                report.edit.write()
                report.edited = True
        except EditError as exc:
            report.edit_problem = str(exc)
        except OSError as exc:
            report.edit_problem = f"cannot write {user.file}: {exc.strerror}"
    click.echo(core.render(report, fmt), nl=False)
    return report.exit_code


def confirm(writes: int, edits: str | None) -> None:
    """Ask on a terminal; without one, --auto-approve is required (as for apply)."""
    if not sys.stdin.isatty():
        raise UsageError(
            "refusing to deactivate without confirmation: no terminal to ask on. "
            "Pass --auto-approve."
        )
    what = [f"deactivate them in {writes} system{'s' if writes != 1 else ''}"] if writes else []
    if edits:
        what.append(f"set is_active: false on them in {edits}")
    question = " and ".join(what)
    if not click.confirm(f"{question[:1].upper()}{question[1:]}?", default=False, err=True):
        raise UsageError("leave cancelled; nothing was written")
