"""The data of one size: a seeded `reconciler sim generate` tenant and a desired state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.measure import PY, ChildFailed, child_json, run_measured

#: The kinds of change a plan's summary counts.
CHANGE_KINDS = ("create", "update", "reactivate", "deactivate")


@dataclass
class Dataset:
    """One generated tenant (JSON) and desired state (YAML), and the plan between them."""

    size: int
    tenant: Path
    desired: Path
    gen_wall: float
    #: The plan's summary: kind -> count (and `unchanged`).
    changes: dict[str, int]

    @property
    def n_changes(self) -> int:
        return sum(self.changes[k] for k in CHANGE_KINDS)

    @property
    def input_bytes(self) -> int:
        """What a plan reads: the desired file and the tenant's JSON."""
        return self.desired.stat().st_size + self.tenant.stat().st_size


def share_of(changes: str) -> float:
    """`--changes` as a fraction: '5%' -> 0.05, '0.05' -> 0.05."""
    return float(changes.rstrip("%")) / (100 if changes.endswith("%") else 1)


def make_dataset(size: int, seed: int, changes: str, workdir: Path) -> Dataset:
    """Generate (in a child) the tenant and desired state of `size` users, and plan them."""
    tenant, desired = workdir / f"tenant-{size}.json", workdir / f"desired-{size}.yaml"
    argv = [PY, "-m", "reconciler", "sim", "generate", "--users", str(size), "--seed", str(seed)]
    argv += ["-o", str(tenant), "--desired", str(desired), "--changes", changes]
    sample, _ = run_measured(argv)
    summary = plan_summary(desired, tenant)
    return Dataset(size, tenant, desired, sample.wall, summary)


def plan_summary(desired: Path, tenant: Path) -> dict[str, int]:
    """The plan's summary, from `plan --format json` (a copy of the tenant: plan never writes)."""
    data = child_json(plan_argv(desired, f"sim:{tenant}", "json"))
    summary = data["summary"]
    if not data.get("safe", False):
        raise ChildFailed(f"the generated plan trips a safety guard: {data.get('guards')}")
    return {k: int(v) for k, v in summary.items()}


def plan_argv(desired: Path, url: str, fmt: str, *more_urls: str) -> list[str]:
    """`python -m reconciler plan DESIRED --api-url URL [--api-url MORE ...] --format FMT`."""
    argv = [PY, "-m", "reconciler", "plan", str(desired), "--api-url", url, "--format", fmt]
    for other in more_urls:
        argv += ["--api-url", other]
    return argv
