"""Emergency forwarding to 113/114/115: the API the IOC and the emergency desks use (to be built)."""
from __future__ import annotations

from fastapi import APIRouter


def build_router(ctx) -> APIRouter:
    return APIRouter()
