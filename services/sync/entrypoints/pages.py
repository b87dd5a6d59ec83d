"""Sync's page `/sync/` (server-rendered, Vietnamese first with the English switch, for a desk and a phone): how this
node stands in the federation, for the IOC's operators and administrators (roles.OPERATIONS).

It shows what `handlers.status` and `handlers.refused` give the status API — this node and its role, each link to a
peer node (up or down, last contact, round trip, events waiting each way, how late the last event let in came, how
many were let in and refused), the latest refused events with what they mean, and the reports by owning node — and
reloads itself every few seconds with a meta refresh (no script: the site's policy allows none inline, and an
operator's wall screen needs none). It has no form. Nothing personal is shown: a refused event's payload (which may
carry an answer's text) stays in the database; only its type, report id, epochs and reason appear.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paht.runtime import roles
from paht.runtime.web import Pages, pick_language
from services.sync.domain.ownership import PROVINCE
from services.sync.service_layer import handlers

pages = Pages([Path(__file__).parent / "templates"])
REFRESH_S = 5
REFUSED_SHOWN = 50
# (English, Vietnamese) of the node's role as handlers.status names it.
ROLE_LABEL = {
    "alone": ("Runs alone (no federation)", "Hoạt động độc lập (không liên thông)"),
    "province": ("Province node (source of record)", "Nút cấp tỉnh (nơi lưu hồ sơ gốc)"),
    "hub": ("District hub node", "Nút cấp huyện"),
}
# The reasons the border writes (services/sync/service_layer/border.py), for people; an unknown one is shown as written.
REASONS = {
    "stale epoch": ("stale epoch: the node holds the report, but under another epoch than the event's",
                    "lượt giao quyền không còn hiệu lực: nút này vẫn giữ phản ánh nhưng theo một lượt giao khác"),
    "not the owner": ("not the owner: the report is handled by another node now",
                      "không phải nút đang giữ quyền xử lý: phản ánh hiện do nút khác xử lý"),
}
NOT_A_PEER = re.compile(r"^node '([^']*)' is not a peer of this node$")


def node_label(node: str | None, index: int) -> str:
    """A node for people: the province by name, a hub by its id (its id is what operators configure and see in logs)."""
    if not node:
        return "—"
    return ("the province", "Tỉnh")[index] if node == PROVINCE else node


def reason_text(reason: str, index: int) -> str:
    if reason in REASONS:
        return REASONS[reason][index]
    foreign = NOT_A_PEER.match(reason)
    if foreign:
        return (f"node {foreign[1]} is not a peer of this node", f"nút {foreign[1]} không liên thông với nút này")[index]
    return reason


def seconds_since(value: str | None, now: datetime) -> float | None:
    """Seconds from an ISO instant (as links.py records it) to now; None when unknown."""
    if not value:
        return None
    try:
        then = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    return max(0.0, (now - then).total_seconds())


def ago_text(seconds: float | None, index: int) -> str:
    """How long ago, in the unit people read at a glance: seconds up to two minutes, then minutes, hours, days."""
    if seconds is None:
        return ""
    s = int(seconds)
    for limit, size, en, vi in ((120, 1, "s", "giây"), (7200, 60, "min", "phút"), (172800, 3600, "h", "giờ"), (None, 86400, "d", "ngày")):
        if limit is None or s < limit:
            n = s // size
            return (f"{n} {en} ago", f"{n} {vi} trước")[index]
    return ""  # not reached


def number_text(value: float | int | None, index: int, digits: int = 1) -> str:
    """A figure for people ("—" when unknown); Vietnamese writes the decimal comma."""
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        text = f"{int(value):,}"
        return text if index == 0 else text.replace(",", ".")
    text = f"{value:,.{digits}f}"
    return text if index == 0 else text.replace(",", " ").replace(".", ",").replace(" ", ".")


@dataclass(frozen=True)
class PeerView:
    """One link as the page shows it."""

    peer: str
    up: bool
    last_contact: str | None
    contact_ago: float | None
    rtt_ms: float | None
    inbound_pending: int | None
    outbound_pending: int | None
    lag_s: float | None
    let_in: int
    refused: int


def peer_view(link: dict, now: datetime) -> PeerView:
    inbound, outbound = link.get("inbound") or {}, link.get("outbound") or {}
    return PeerView(peer=link["peer"], up=bool(link.get("up")), last_contact=link.get("last_contact"),
                    contact_ago=seconds_since(link.get("last_contact"), now), rtt_ms=link.get("rtt_ms"),
                    inbound_pending=inbound.get("pending_events"), outbound_pending=outbound.get("pending_events"),
                    lag_s=inbound.get("lag_s"), let_in=int(inbound.get("events") or 0), refused=int(link.get("refused_events") or 0))


def build_router(ctx) -> APIRouter:
    optional_user, _current, _require = ctx.auth
    router = APIRouter(include_in_schema=False)

    @router.get("/sync")
    async def without_slash():
        return RedirectResponse("/sync/", status_code=307)

    @router.get("/sync/")
    async def sync_page(request: Request) -> Response:
        user = optional_user(request)
        away = pages.staff_only(request, user, roles.OPERATIONS)
        if away:
            return away
        status = await asyncio.to_thread(handlers.status, ctx.uow(), ctx.settings)
        refused = await asyncio.to_thread(handlers.refused, ctx.uow(), REFUSED_SHOWN)
        now = datetime.now(timezone.utc)
        index = 0 if pick_language(request) == "en" else 1
        by_node = sorted(status["reports_by_node"].items(), key=lambda kv: (kv[0] != PROVINCE, kv[0]))
        response = pages.render(
            request, "sync.html", user=user, L=index, now=now, refresh_s=REFRESH_S, node_id=ctx.settings.node_id,
            role=status["role"], role_label=ROLE_LABEL.get(status["role"], (status["role"],) * 2)[index],
            parent_node=status["parent_node"], hubs=status["hubs"], peers=[peer_view(p, now) for p in status["peers"]],
            refused=refused, refused_total=status["refused_events"], by_node=by_node,
            node_label=lambda n: node_label(n, index), reason_text=lambda r: reason_text(r, index),
            ago=lambda s: ago_text(s, index), num=lambda v, digits=1: number_text(v, index, digits))
        response.headers["Cache-Control"] = "no-store"  # a status page: never an old copy from a cache
        return response

    return router
