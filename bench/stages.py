"""The stages of a plan, timed in a fresh process: `python bench/stages.py MODE ...`.

Run as a script (not imported by the process it measures), so that the `import`
stage starts from a bare interpreter as the CLI does. It prints one JSON object:
seconds per stage, and `rss:STAGE`, the resident MB right after each.

- `parse DESIRED TENANT FMT`: `yaml_source.read_yaml` alone (parsing twice in one
  process would slow the second);
- `plan DESIRED TENANT FMT`: DealHub's plan against `sim:TENANT`, every stage after
  the parse: import, load_desired, connect, fetch, diff, guards, render;
- `system PEOPLE SYSTEM URL`: one system's read and diff through the registry (any
  system), for the diff's cost per user;
- `provenance PEOPLE`: review's git pass alone (`provenance.find`), for bench/review.py.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

T = TypeVar("T")

#: The stages of `reconciler plan`, in the order the CLI runs them.
PIPELINE = ("import", "parse", "validate", "connect", "fetch", "diff", "guards", "render")
#: What each stage (and each row in parentheses) times.
STAGE_NOTES = {
    "import": "import reconciler.cli (every module plan loads)",
    "parse": "yaml_source.read_yaml of the desired file",
    "validate": "desired.load_desired minus parse (schema, fields, semantics)",
    "load_desired": "desired.load_desired (parse + validate)",
    "connect": "client.connect('sim:...'): read the tenant JSON into the simulator",
    "fetch": "client.list_users(): GET /api/v1/users in-process, decode, check",
    "diff": "diff.compute_plan",
    "guards": "guards.evaluate",
    "render": "render.render_plan in the measured --format",
    "render_text": "render.render_plan(plan, 'text')",
    "render_json": "render.render_plan(plan, 'json')",
    "render_markdown": "render.render_plan(plan, 'markdown')",
}


def rss() -> float:
    """Resident MB now (Linux /proc/self/statm), else -1."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return -1.0


class Timer:
    """Seconds per stage and the memory held after each, collected as one dict."""

    def __init__(self) -> None:
        self.t: dict[str, float] = {}

    def __call__(self, name: str, func: Callable[[], T]) -> T:
        begin = time.perf_counter()
        value = func()
        self.t[name] = time.perf_counter() - begin
        self.t["rss:" + name] = rss()
        return value

    def emit(self) -> NoReturn:
        """Print the timings and leave at once: freeing the objects is not a stage."""
        self.t["rss:peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sys.stdout.write(json.dumps(self.t) + "\n")
        sys.stdout.flush()
        os._exit(0)


def cli_setup(timer: Timer) -> None:
    """Whatever process-wide setup the CLI's entry point makes (it may turn the cyclic GC
    off, for one), made here too by running it on --version, output discarded."""
    import reconciler.cli

    quiet = io.StringIO()
    with (
        contextlib.redirect_stdout(quiet),
        contextlib.redirect_stderr(quiet),
        contextlib.suppress(SystemExit),
    ):
        reconciler.cli.main(["--version"])
    timer.t["gc_enabled"] = float(gc.isenabled())


def dealhub_plan(mode: str, desired: str, tenant: str, fmt: str) -> None:
    timer = Timer()
    start = time.perf_counter()
    import reconciler.cli  # noqa: F401  (every module the CLI's plan loads)
    from reconciler import guards
    from reconciler.desired import load_desired
    from reconciler.diff import compute_plan
    from reconciler.providers.dealhub.client import connect
    from reconciler.render import render_plan
    from reconciler.yaml_source import read_yaml

    timer.t["import"] = time.perf_counter() - start
    timer.t["rss:import"] = rss()
    cli_setup(timer)
    if mode == "parse":
        timer("parse", lambda: read_yaml(desired))
        timer.emit()
    state = timer("load_desired", lambda: load_desired([desired]))
    client = timer("connect", lambda: connect("sim:" + tenant, None, writable=False))
    users = timer("fetch", client.list_users)
    plan = timer("diff", lambda: compute_plan(state, users, target=client.target))
    threshold = state.settings.max_deactivations
    plan = timer("guards", lambda: guards.evaluate(plan, threshold, allow_mass_deactivation=False))
    for name in ("text", "json", "markdown"):
        timer("render_" + name, lambda: render_plan(plan, name, color=False))  # noqa: B023
    timer.t["render"] = timer.t["render_" + fmt]
    timer.t["rss:render"] = timer.t["rss:render_" + fmt]
    client.close()
    timer.emit()


def system_diff(people: str, system: str, url: str) -> None:
    """One system's plan through the registry, as `plan --system SYSTEM` makes it."""
    timer = Timer()
    from reconciler import engine, providers
    from reconciler.desired import load_desired
    from reconciler.diff import compute_plan

    cli_setup(timer)
    state = timer("load_desired", lambda: load_desired([people]))
    provider = providers.get(system)
    where = engine.Targets.parse((f"{system}={url}",), ())
    with where.connect(provider, state, writable=False) as remote:
        users = timer("fetch", remote.read)
        timer("diff", lambda: compute_plan(state, users, target=remote.target, provider=provider))
        timer.t["users"] = float(len(users))
        timer.emit()


def git_pass(people: str) -> None:
    """The commit that last changed each person of the file: review's git pass."""
    timer = Timer()
    from reconciler import provenance
    from reconciler.desired import load_desired

    state = load_desired([people])
    found = timer("provenance", lambda: provenance.find(state))
    timer.t["dated"] = float(sum(1 for c in found.commits.values() if c is not None))
    timer.emit()


def main(argv: Sequence[str]) -> int:
    mode, *rest = argv
    if mode == "system":
        system_diff(*rest)
    elif mode == "provenance":
        git_pass(*rest)
    else:
        dealhub_plan(mode, *rest)
    return 2  # emit leaves with 0; reaching here is a bug of this program


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
