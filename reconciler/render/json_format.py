"""The plan as JSON: SPEC section 5, also the file `--out` saves."""

from __future__ import annotations

from reconciler.model import Plan
from reconciler.plan import dumps


class JsonRenderer:
    def render(self, plan: Plan) -> str:
        return dumps(plan)
