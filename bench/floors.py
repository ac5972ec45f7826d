"""The floors of a plan, each run as its own process: `python bench/floors.py MODE DESIRED TENANT`.

A floor reads the same files as the plan and does nothing else: `plain` loads the
YAML with libyaml's CSafeLoader and the tenant with json.load (the reference floor);
`gc-off` does the same with the cyclic GC off (reconciler pauses it while it builds
the YAML); `events` only walks libyaml's event stream of the YAML (the least work
that reads it at all: reconciler builds its data from it) before json.load.

Run as a script, it imports nothing of the harness: its process is the floor alone.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Sequence

#: Section 2's floors: the name in the tables -> the MODE this program takes.
FLOORS = {"floor": "plain", "floor, gc off": "gc-off", "floor, libyaml events": "events"}


def main(argv: Sequence[str]) -> int:
    mode, desired, tenant = argv
    if mode == "gc-off":
        gc.disable()
    import yaml

    with open(desired, encoding="utf-8") as fh:
        if mode == "events":
            for _event in yaml.parse(fh, Loader=yaml.CSafeLoader):
                pass
        else:
            yaml.load(fh, Loader=yaml.CSafeLoader)
    with open(tenant, encoding="utf-8") as fh:
        json.load(fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
