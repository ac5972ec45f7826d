"""A third system as its own package: a provider and, beside it, its simulator's hooks.

Only the registry line the tests add (`monkeypatch.setitem(REGISTRY, ...)`)
makes it a system; nothing in reconciler names it.
"""

from __future__ import annotations

from dataclasses import replace

from tests.contract.fake_provider import FakeProvider


class ThirdProvider(FakeProvider):
    """The fake system's rules under another name (the simulator is what is tried here)."""

    capabilities = replace(
        FakeProvider.capabilities,
        name="third",
        title="Third",
        env_prefix="THIRD",
        token_env="THIRD_TOKEN",
    )


PROVIDER = ThirdProvider()
