"""`reconciler review`: the access review and the seat count (SPEC section 8). Never writes.

Options in, one listing read per system (engine.plan_all, read-only
connections: the same reads and plans as `plan`), the files' git history read
meanwhile, the review built (reconciler.review), rendered, exit code out.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timezone

import click

from reconciler import engine, provenance
from reconciler import review as review_core
from reconciler.cli import debug_option, inputs_argument, target_options, write_atomically
from reconciler.desired import load_desired
from reconciler.errors import EXIT_CHANGES, EXIT_OK, ApplyFailed
from reconciler.providers.review_hooks import DetailHooks, Details, hooks_for
from reconciler.render.review_formats import FORMATS, render


@click.command()
@inputs_argument
@target_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for a terminal, csv for a spreadsheet, json for machines, markdown for an "
    "issue, html for a person.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write to FILE instead of stdout (- is stdout).",
)
@click.option(
    "--dormant-days",
    type=click.IntRange(1, 36_500),
    default=review_core.DEFAULT_DORMANT_DAYS,
    show_default=True,
    metavar="N",
    help="An active account with no login for more than N days (or never) is dormant.",
)
@click.option(
    "--details",
    is_flag=True,
    help="Also read each active Pipedrive user's permissions and role assignments "
    "(10 tokens a call; the cost is shown first, and the reads stop before the daily budget).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when an account is not listed, dormant or absent; 0 when none is.",
)
@debug_option
def review(
    inputs: tuple[str, ...],
    env_name: str | None,
    system_names: tuple[str, ...],
    api_urls: tuple[str, ...],
    token_files: tuple[str, ...],
    fmt: str,
    output: str | None,
    dormant_days: int,
    details: bool,
    detailed_exitcode: bool,
    debug: bool,
) -> int:
    """The access review: every account of every system against the files. Never writes.

    One row per account (and per person listed but absent), with its admin
    rights, access, last login, how the files hold it and the last commit that
    changed the person's entry. Flags: not listed, dormant, admin, absent.
    """
    state = load_desired(inputs, environment=env_name)
    chosen = engine.select(state, system_names)
    where = engine.Targets.parse(api_urls, token_files)
    read: dict[str, Details] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="git") as pool:
        # The git pass runs while the systems are read: a review costs about one plan.
        history = pool.submit(provenance.find, state)
        with ExitStack() as stack:
            remotes = [
                stack.enter_context(where.connect(provider, state, writable=False))
                for provider in chosen
            ]
            # The guards judge an apply; a review only counts (so none is overridden or raised).
            runs = engine.plan_all(state, chosen, remotes, allow_mass_deactivation=False)
            read_at = datetime.now(timezone.utc).replace(microsecond=0)
            if details:
                read = read_details(runs)
        commits = history.result()
    found = review_core.build(
        state,
        runs,
        read_at=read_at,
        dormant_days=dormant_days,
        provenance=commits,
        details=read,
    )
    text = render(found, fmt)
    if output and output != "-":
        write_atomically(output, text)
        click.echo(f"Wrote the review of {len(found.rows)} accounts to {output}", err=True)
    else:
        click.echo(text, nl=False)
    if not found.details_complete:
        raise ApplyFailed(
            "--details is partial (the review says how far it read): "
            + "; ".join(d.stopped for d in read.values() if d.stopped)
        )
    if detailed_exitcode and found.flagged:
        return EXIT_CHANGES
    return EXIT_OK


def read_details(runs: list[engine.Planned]) -> dict[str, Details]:
    """`--details` of every system that has any: the cost said first, then the paced reads."""
    read: dict[str, Details] = {}
    for run in runs:
        hooks = hooks_for(run.provider)
        title = run.provider.capabilities.title
        if not hasattr(hooks, "read_details"):
            click.echo(f"--details: {title} has no per-user details to read", err=True)
            continue
        detail_hooks: DetailHooks = hooks  # type: ignore[assignment]
        accounts = review_core.accounts_of(run)
        users, cost, unit = detail_hooks.details_cost(accounts)
        left = run.remote.budget_left()
        budget = f"; {left} {unit} left today" if left is not None else ""
        click.echo(
            f"--details: reading the permissions and role assignments of {users} active "
            f"{title} users costs {cost} {unit}{budget}",
            err=True,
        )
        read[run.provider.capabilities.name] = detail_hooks.read_details(run.remote, accounts)
    return read
