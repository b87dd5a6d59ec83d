"""The SLA clocks' repositories."""
from __future__ import annotations

REPOSITORIES: dict = {}
