"""The kernel's tests serve DealHub's simulator: its fixtures, from its package's tests."""

from __future__ import annotations

from tests.providers.dealhub.conftest import api, connect

__all__ = ["api", "connect"]
