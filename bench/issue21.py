"""Section 7: what issue 21 (item 7) asks measured, side by side in one run.

(a) start-up: the bare import of the CLI's libraries against `reconciler --help` and
`reconciler validate EXAMPLE`, as whole processes; (b) the diff's cost per user,
Pipedrive against DealHub, on the same people; (c) peak memory per user of a plan
over HTTP and over `sim:`, against the input's bytes per user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.datasets import Dataset
from bench.measure import PY, ROOT, Sample, med, progress, run_measured
from bench.processes import measure_processes, stages_of
from bench.systems import SystemsDataset
from bench.tables import ratio, table

#: The bare import of what the CLI is built on: the floor a command's start-up is held to.
IMPORT_FLOOR = "import yaml, httpx, click, jsonschema"
#: The people file `validate` checks in (a): the README's example.
EXAMPLE = ROOT / "examples" / "users.yaml"
#: The systems of (b), in the order of the table.
DIFF_SYSTEMS = ("dealhub", "pipedrive")
#: The processes of (c), per size.
MEMORY_VARIANTS = ("import reconciler.cli", "plan sim:", "plan http")


def reconciler_argv() -> list[str]:
    """The installed `reconciler` command beside the interpreter (else `python -m reconciler`)."""
    script = Path(PY).parent / "reconciler"
    return [str(script)] if script.is_file() else [PY, "-m", "reconciler"]


def startup_variants() -> dict[str, list[str]]:
    """(a)'s processes: name in the table -> argv."""
    cli = reconciler_argv()
    return {
        "python -c pass": [PY, "-c", "pass"],
        f'python -c "{IMPORT_FLOOR}"': [PY, "-c", IMPORT_FLOOR],
        "reconciler --help": [*cli, "--help"],
        "reconciler validate examples/users.yaml": [*cli, "validate", str(EXAMPLE)],
    }


@dataclass
class Issue21:
    """Section 7's samples."""

    #: (a): process -> samples.
    startup: dict[str, list[Sample]] = field(default_factory=dict)
    #: (b): size -> system -> one dict of stages.py's timings per run.
    per_user: dict[int, dict[str, list[dict[str, float]]]] = field(default_factory=dict)
    #: (c): size -> (input bytes, process -> samples).
    memory: dict[int, tuple[int, dict[str, list[Sample]]]] = field(default_factory=dict)


def measure_startup(runs: int) -> dict[str, list[Sample]]:
    """(a): each process once per run, each first in turn."""
    variants = startup_variants()
    names = list(variants)
    got: dict[str, list[Sample]] = {name: [] for name in names}
    for run in range(runs):
        shift = run % len(names)
        for name in names[shift:] + names[:shift]:
            got[name].append(run_measured(variants[name])[0])
    return got


def measure_per_user(sd: SystemsDataset, runs: int) -> dict[str, list[dict[str, float]]]:
    """(b): each system's read and diff of the same people, in a fresh process per run."""
    urls = {"dealhub": f"sim:{sd.tenant}", "pipedrive": f"sim:{sd.company}"}
    got: dict[str, list[dict[str, float]]] = {s: [] for s in DIFF_SYSTEMS}
    for run in range(runs):
        progress(f"  {sd.size:,} people: diff per user, run {run + 1}/{runs}")
        order = DIFF_SYSTEMS if run % 2 == 0 else DIFF_SYSTEMS[::-1]
        for system in order:
            got[system].append(stages_of("system", str(sd.people), system, urls[system]))
    return got


def measure_memory(ds: Dataset, runs: int, workdir: Path) -> dict[str, list[Sample]]:
    """(c) at a size section 1 does not run: the import and both plans, interleaved."""
    samples, _ = measure_processes(
        ds, runs, "text", workdir, variants=MEMORY_VARIANTS, with_stages=False
    )
    return samples


def issue21_section(data: Issue21 | None) -> str:
    """Section 7's Markdown."""
    if data is None:
        return "Skipped (--skip-issue21, --only-pipedrive or --only-systems)."
    return "\n\n".join([startup_part(data), per_user_part(data), memory_part(data)])


def startup_part(data: Issue21) -> str:
    floor_name = f'python -c "{IMPORT_FLOOR}"'
    floor = data.startup.get(floor_name, [])
    fw, fc = med([s.wall for s in floor]), med([s.cpu for s in floor])
    rows = []
    for name, samples in data.startup.items():
        walls = [s.wall for s in samples]
        w, c = med(walls), med([s.cpu for s in samples])
        rows.append(
            (
                f"`{name}`",
                f"{w:.3f}",
                f"{min(walls):.3f}–{max(walls):.3f}" if walls else "",
                f"{c:.3f}",
                f"{med([s.rss_mb for s in samples]):.0f}",
                ratio(w, fw),
                ratio(c, fc),
            )
        )
    runs = len(floor)
    return "\n".join(
        [
            "### 7a. Start-up against the import floor",
            "",
            f"Whole processes, medians of {runs} runs (each first in turn): the bare import "
            "of the libraries the CLI is built on against `reconciler --help` and "
            "`reconciler validate examples/users.yaml` (the installed console script beside "
            "the interpreter). Below 1.00× the import floor, a command imports less than "
            "all of them.",
            "",
            table(
                [
                    "process",
                    "wall s",
                    "wall min–max",
                    "CPU s",
                    "peak RSS MB",
                    "wall / import floor",
                    "CPU / import floor",
                ],
                rows,
                "l" + "r" * 6,
            ),
        ]
    )


def per_user_part(data: Issue21) -> str:
    rows = []
    for size, by_system in data.per_user.items():
        per: dict[str, dict[str, float]] = {}
        for system, runs in by_system.items():
            users = runs[0]["users"] if runs else float("nan")
            per[system] = {
                "users": users,
                "fetch": med([r["fetch"] for r in runs]) / users * 1e6,
                "diff": med([r["diff"] for r in runs]) / users * 1e6,
                "diff s": med([r["diff"] for r in runs]),
            }
        for system in DIFF_SYSTEMS:
            p = per[system]
            rows.append(
                (
                    f"{size:,}",
                    system,
                    f"{p['users']:,.0f}",
                    f"{p['diff s']:.3f}",
                    f"{p['diff']:.1f}",
                    ratio(p["diff"], per["dealhub"]["diff"]),
                    f"{p['fetch']:.1f}",
                    ratio(p["fetch"], per["dealhub"]["fetch"]),
                )
            )
    return "\n".join(
        [
            "### 7b. The diff's cost per user, Pipedrive against DealHub",
            "",
            "Section 6's people file (the same people in both systems), each system planned "
            "alone through the registry in a fresh process per run (`python bench/stages.py "
            "system PEOPLE SYSTEM sim:FILE`; the systems alternate first): `diff` is "
            "`diff.compute_plan` over the users read, `read` the system's listing through its "
            "client from the in-process simulator (decoding and checking the records). "
            "Medians, divided by the users the system listed.",
            "",
            table(
                [
                    "people",
                    "system",
                    "users read",
                    "diff s",
                    "diff µs/user",
                    "diff / DealHub's",
                    "read µs/user",
                    "read / DealHub's",
                ],
                rows,
                "ll" + "r" * 6,
            ),
        ]
    )


def memory_part(data: Issue21) -> str:
    rows = []
    #: variant -> (users, peak MB) of the next smaller size, for the marginal cost.
    before: dict[str, tuple[int, float]] = {}
    for size, (input_bytes, samples) in sorted(data.memory.items()):
        base = med([s.rss_mb for s in samples["import reconciler.cli"]])
        for variant in ("plan sim:", "plan http"):
            peak = med([s.rss_mb for s in samples[variant]])
            smaller, smaller_peak = before.get(variant, (0, 0.0))
            marginal = f"{(peak - smaller_peak) * 2**20 / (size - smaller):,.0f}" if smaller else ""
            before[variant] = (size, peak)
            rows.append(
                (
                    f"{size:,}",
                    variant,
                    f"{input_bytes / size:,.0f}",
                    f"{peak:.0f}",
                    f"{peak * 2**20 / size:,.0f}",
                    f"{(peak - base) * 2**20 / size:,.0f}",
                    marginal,
                    ratio(peak * 2**20, input_bytes),
                )
            )
    return "\n".join(
        [
            "### 7c. Peak memory per user",
            "",
            "`plan DESIRED --format text` as a whole process (section 1's runs at its sizes; "
            "`--memory-sizes` adds sizes measured here alone, e.g. 100,000): peak RSS "
            "(ru_maxrss of that child) per user, the same above the RSS of `import "
            "reconciler.cli` (the code, not the data), the marginal cost (the growth of the "
            "peak from the next smaller size, per added user), and the input (desired YAML + "
            "tenant JSON) per user. Medians; 1 MB = 2^20 bytes.",
            "",
            table(
                [
                    "users",
                    "plan",
                    "input bytes/user",
                    "peak RSS MB",
                    "peak bytes/user",
                    "above import bytes/user",
                    "marginal bytes/user",
                    "peak / input",
                ],
                rows,
                "ll" + "r" * 6,
            ),
        ]
    )


def issue21_json(data: Issue21) -> dict[str, Any]:
    """Section 7's raw samples."""

    def samples(xs: list[Sample]) -> list[dict[str, float]]:
        return [{"wall": s.wall, "cpu": s.cpu, "rss_mb": s.rss_mb} for s in xs]

    return {
        "startup": {name: samples(xs) for name, xs in data.startup.items()},
        "per_user": {str(size): runs for size, runs in data.per_user.items()},
        "memory": {
            str(size): {"input_bytes": n, **{v: samples(xs) for v, xs in by.items()}}
            for size, (n, by) in data.memory.items()
        },
    }
