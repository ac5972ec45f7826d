"""The command line: each command parses options, calls the core, renders, exits.

Every expected error is a ReconcilerError; `main` turns it into one line on
stderr and the exit code of SPEC section 3 (see reconciler.errors).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler import __version__
from reconciler.desired import load_desired
from reconciler.errors import EXIT_ERROR, InputError, ReconcilerError, exit_code_for

F = TypeVar("F", bound=Callable[..., Any])


def debug_option(func: F) -> F:
    return click.option("--debug", is_flag=True, help="Show the traceback of an error.")(func)


def inputs_argument(func: F) -> F:
    return click.argument(
        "inputs", nargs=-1, required=True, metavar="FILE_OR_DIR...", type=click.Path()
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def cli() -> None:
    """Manage the users of a DealHub CPQ tenant as code.

    Exit codes: 0 success (plan --detailed-exitcode: no changes), 1 error,
    2 plan --detailed-exitcode found changes, 3 a safety guard stopped the run.
    """


@cli.command()
@inputs_argument
@debug_option
def validate(inputs: tuple[str, ...], debug: bool) -> None:
    """Check desired-state files offline; errors print as FILE:LINE: message."""
    state = load_desired(inputs)
    for warning in state.warnings:
        click.echo(f"{warning} (warning)", err=True)
    n_files = len(state.files)
    click.echo(
        f"{len(state.users)} user{'s' if len(state.users) != 1 else ''} in "
        f"{n_files} file{'s' if n_files != 1 else ''}: OK"
    )


def _report(error: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    if isinstance(error, InputError):
        for problem in error.problems:
            click.echo(str(problem), err=True)
        count = len(error.problems)
        click.echo(f"{count} error{'s' if count != 1 else ''}", err=True)
    else:
        click.echo(f"error: {error}", err=True)
    return exit_code_for(error)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `reconciler` console script."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
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
    sys.exit(code if isinstance(code, int) else 0)
