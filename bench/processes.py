"""Sections 1 to 3: `plan` as a whole process, its floors, and its stages."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from bench.datasets import Dataset, plan_argv
from bench.floors import FLOORS
from bench.measure import (
    BENCH,
    PY,
    Sample,
    child_env,
    child_output,
    proc_cpu_seconds,
    progress,
    run_measured,
)
from bench.servers import sim_server

#: Sections 1 and 2's processes, in the order of the tables.
VARIANTS = ("python -c pass", "import reconciler.cli", *FLOORS, "plan sim:", "plan http")


def floor_argv(name: str, ds: Dataset) -> list[str]:
    """One of section 2's floors over the dataset's files."""
    return [PY, str(BENCH / "floors.py"), FLOORS[name], str(ds.desired), str(ds.tenant)]


def measure_processes(
    ds: Dataset,
    runs: int,
    fmt: str,
    workdir: Path,
    *,
    variants: Sequence[str] = VARIANTS,
    with_stages: bool = True,
) -> tuple[dict[str, list[Sample]], dict[str, list[float]]]:
    """Interleaved runs of each of `variants` and of the stages, so drift on a noisy
    machine hits them alike. Returns the samples and the stage timings."""
    results: dict[str, list[Sample]] = {v: [] for v in variants}
    stages: dict[str, list[float]] = {}
    state = workdir / f"served-{ds.size}.json"
    shutil.copyfile(ds.tenant, state)
    with sim_server(state, workdir) as server:
        http_env = child_env(DEALHUB_TOKEN=server.token)

        def plan_http() -> Sample:
            before = proc_cpu_seconds(server.proc.pid)
            sample, _ = run_measured(plan_argv(ds.desired, server.url, fmt), env=http_env)
            after = proc_cpu_seconds(server.proc.pid)
            if before is not None and after is not None:
                sample.extra["server_cpu"] = after - before
            return sample

        argv = {
            "python -c pass": [PY, "-c", "pass"],
            "import reconciler.cli": [PY, "-c", "import reconciler.cli"],
            **{name: floor_argv(name, ds) for name in FLOORS},
            "plan sim:": plan_argv(ds.desired, f"sim:{ds.tenant}", fmt),
        }
        for run in range(runs):
            progress(f"  {ds.size:,} users: process run {run + 1}/{runs}")
            for variant in variants:
                sample = plan_http() if variant == "plan http" else run_measured(argv[variant])[0]
                results[variant].append(sample)
            if with_stages:
                for name, value in run_stages(ds, fmt).items():
                    stages.setdefault(name, []).append(value)
    for sample in results.get("plan http", []):
        sample.extra["server_rss"] = server.rss_mb
    return results, stages


def stages_of(mode: str, *args: str) -> dict[str, float]:
    """One fresh `python bench/stages.py MODE ARGS...`: what it printed."""
    found = json.loads(child_output([PY, str(BENCH / "stages.py"), mode, *args]))
    return {str(k): float(v) for k, v in found.items()}


def run_stages(ds: Dataset, fmt: str) -> dict[str, float]:
    """One run of bench/stages.py: seconds per stage, MB held after each.

    `parse` is timed in a process of its own, the other stages in a second one,
    each fresh; validate = load_desired - parse.
    """
    files = (str(ds.desired), str(ds.tenant), fmt)
    parsed = stages_of("parse", *files)
    timings = stages_of("plan", *files)
    timings["parse"], timings["rss:parse"] = parsed["parse"], parsed["rss:parse"]
    timings["gc_enabled_parse"] = parsed["gc_enabled"]
    timings["validate"] = max(0.0, timings["load_desired"] - timings["parse"])
    timings["rss:validate"] = timings["rss:load_desired"]
    return timings
