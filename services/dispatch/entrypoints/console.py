"""The IOC dispatch console and the Steering Committee page: server-rendered, for desk and phone (to be built)."""
from __future__ import annotations

from fastapi import APIRouter


def build_router(ctx) -> APIRouter:
    return APIRouter()
