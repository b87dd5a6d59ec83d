"""The SLA clocks of every step of every report, and what the monitor has announced about them."""
from __future__ import annotations

from services.dispatch.adapters.schema import metadata  # noqa: F401
