"""Emergency forwarding's tables (113/114/115)."""
from __future__ import annotations

from services.dispatch.adapters.schema import metadata  # noqa: F401
