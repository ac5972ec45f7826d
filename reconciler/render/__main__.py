"""Show a saved plan (the file of `reconciler plan --out`) in another format.

    python -m reconciler.render PLAN.json [--format text|markdown|json]

The CI recipes keep the whole plan as text (plan.txt) beside plan.json, both
from one run of `reconciler plan`: the PR comment may be cut to fit, and a
second plan could differ from the first if the tenant moved in between. It
reads only the file: no tenant, no token.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from reconciler.errors import ReconcilerError
from reconciler.plan import from_json_data
from reconciler.render import FORMATS, render_plan
from reconciler.textsafe import printable


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def main(plan_file: str, fmt: str) -> None:
    """Print the saved plan PLAN.json as text, markdown or JSON."""
    try:
        with open(plan_file, encoding="utf-8") as f:
            plan = from_json_data(json.load(f))
    except OSError as exc:
        _fail(f"cannot read {plan_file}: {exc.strerror}")
    except (ValueError, ReconcilerError) as exc:
        _fail(f"{plan_file}: {exc}")
    click.echo(render_plan(plan, fmt), nl=False)


def _fail(message: str) -> NoReturn:
    # The CLI's form: one line on stderr, exit 1, no traceback.
    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
