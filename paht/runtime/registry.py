"""Where each service's wiring lives."""
from __future__ import annotations

import importlib

from paht.runtime.settings import SERVICES


def spec_of(service: str):
    """Return a service's ServiceSpec (imports its bootstrap module)."""
    if service not in SERVICES:
        raise SystemExit(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    return importlib.import_module(f"services.{service}.bootstrap").SPEC
