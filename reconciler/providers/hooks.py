"""Where a system's optional parts are found: one module beside its provider, by name.

A system may bring more than its rules and client: checks of each person listed
for it (`people`), a simulator (`sim_hooks`), single-user hooks for `leave`
(`single`), review rows (`review`), an exporter (`export`). Each command
that needs one asks `beside(provider, NAME)` for the module of that name in the
package of the provider's class, so a third system, built in or installed as a
distribution, joins by shipping the module: no list of systems to edit.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.providers.base import Provider


def beside(provider: Provider, name: str) -> ModuleType | None:
    """The module `name` in the package of the provider's class, or None when it has none.

    A module that exists but fails to import raises: a broken part is an error to
    see, never a part quietly missing.
    """
    module = type(provider).__module__
    # The package the provider's class lives in (itself when it is a package's __init__).
    package = module if hasattr(sys.modules.get(module), "__path__") else module.rpartition(".")[0]
    if not package:
        return None
    candidate = f"{package}.{name}"
    try:
        found = importlib.util.find_spec(candidate)
    except (ImportError, ValueError):
        return None
    return importlib.import_module(candidate) if found is not None else None
