"""The systems reconciler manages: one provider package each, found here by name.

Providers are imported on first use, so a command for one system does not pay
for the others. Adding a system is a package under providers/ and one line here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.providers.base import Provider

#: name -> "module:attribute" of the provider object.
REGISTRY: dict[str, str] = {
    "dealhub": "reconciler.providers.dealhub.provider:DEALHUB",
    "pipedrive": "reconciler.providers.pipedrive:PROVIDER",
}


def get(name: str) -> Provider:
    """The provider of the system `name` (KeyError for a system reconciler does not know)."""
    module, attribute = REGISTRY[name].split(":")
    provider: Provider = getattr(importlib.import_module(module), attribute)
    return provider


def title(name: str) -> str:
    """How a system is named to people ("DealHub", "Pipedrive")."""
    return get(name).capabilities.title if name in REGISTRY else name
