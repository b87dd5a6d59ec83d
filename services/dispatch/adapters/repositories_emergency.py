"""Emergency forwarding's repositories."""
from __future__ import annotations

REPOSITORIES: dict = {}
