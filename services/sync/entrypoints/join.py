"""The join of a hub (docs/operations.md, "Federation: running a district hub"): on the province, a declared hub that
presents its secret learns how to reach the province's NATS — the leaf URL, its leaf user and password.

The secret is the one `paht up` made in `<data>/federation/<hub>.secret` (it is also the leaf user's password); the
leaf URL is PAHT_LEAF_PUBLIC_URL when set (`tls://…` in production), else the listener `paht up` wrote down in
`<data>/federation/leaf.json`. Nothing here is logged.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path
from fastapi.responses import JSONResponse

from paht.runtime import federation, federation_up
from paht.runtime.errors import NotFound


def build_router(ctx) -> APIRouter:
    router = APIRouter(prefix="/api/sync/v1", tags=["sync"])

    @router.get("/join/{hub}", summary="A declared hub joins the province: its leaf connection (Authorization: Bearer <its join secret>)")
    async def join(hub: Annotated[str, Path(max_length=40, pattern=federation.NODE_NAME.pattern)],
                   authorization: Annotated[str | None, Header()] = None):
        settings = ctx.settings
        if federation.is_hub(settings) or hub not in federation.hubs(settings):
            raise NotFound(f"Node {settings.node_id} has declared no hub {hub!r} (PAHT_HUBS).",
                           f"Nút {settings.node_id} không khai báo nút cấp huyện {hub!r} (PAHT_HUBS).")
        federation_up.check_hub_secret(settings.data, hub, authorization)
        expected = _read_secret(settings.data, hub)
        answer = federation_up.join_answer(settings.node_id, hub, federation_up.read_leaf_url(settings.data, settings.leaf_public_url),
                                           expected, settings.public_url)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    return router


def _read_secret(data, hub: str) -> str:
    try:
        return federation_up.hub_secret_path(data, hub).read_text(encoding="utf-8").strip()
    except OSError:
        return ""
