"""The IOC administrator's API and pages for the directory, the taxonomy and their history (to be built)."""
from __future__ import annotations

from fastapi import APIRouter


def build_router(ctx) -> APIRouter:
    return APIRouter()
