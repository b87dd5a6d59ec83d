"""Dispatch's REST API: step 2 (suggestions, dispatch, history, the Steering Committee), the work lists,
the organisation directory and topics."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import InvalidInput
from paht.runtime.paging import MAX_LIMIT
from services.dispatch.domain.dispatching import OPEN, WAITING, DispatchItem, DispatchRound, Status, describe
from services.dispatch.domain.steering import Escalation, EscalationState
from services.dispatch.service_layer import directory, handlers, routing


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency_id: str = Field(min_length=1, max_length=80, examples=["so-gtvt"])
    note: str = Field(default="", max_length=2000)
    competence_reason: str = Field(default="", max_length=2000,
                                   description="Required (at least 10 characters) when the agency holds none of the topic's fields")


class EscalateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000, examples=["Sở Xây dựng và UBND thành phố Đồng Hới đều cho rằng không thuộc thẩm quyền"])
    candidate_agency_ids: list[str] = Field(max_length=50, examples=[["so-xd", "donghoi-city"]])


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=2000)


class RecallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency_id: str = Field(min_length=1, max_length=80, examples=["so-xd"])
    decision: str = Field(max_length=2000, examples=["Giao Sở Xây dựng chủ trì, UBND thành phố Đồng Hới phối hợp"])


def _iso(at: datetime | None) -> str | None:
    """Every instant in UTC, however it was computed (the SLA engine answers in Vietnam time, the database in UTC)."""
    return at.astimezone(timezone.utc).isoformat() if at else None


def _phrase(pair: tuple[str, str]) -> dict:
    return {"en": pair[0], "vi": pair[1]}


def escalation_view(e: Escalation) -> dict:
    return {
        "seq": e.seq, "round": e.round, "state": e.state, "state_phrase": _phrase(EscalationState(e.state).phrase),
        "escalated_at": _iso(e.escalated_at), "escalated_by": e.escalated_by, "reason": e.reason,
        "candidate_agency_ids": list(e.candidates or []), "closed_at": _iso(e.closed_at), "closed_by": e.closed_by or None,
        "decision": e.decision or None, "agency_id": e.agency_id or None,
    }


def round_view(r: DispatchRound) -> dict:
    return {
        "round": r.round, "agency_id": r.agency_id, "agency_name": r.agency_name, "hub_node": r.hub_node,
        "dispatched_at": _iso(r.dispatched_at), "dispatched_by": r.dispatched_by, "note": r.note or None,
        "competence_reason": r.competence_reason or None, "designated_by_committee": r.designated_by_committee,
        "decision": r.decision or None, "on_time": r.on_time, "refused_at": _iso(r.refused_at), "refusal_reason": r.refusal_reason or None,
    }


def item_view(item: DispatchItem) -> dict:
    refusal = item.last_refusal
    pending = item.pending_escalation
    return {
        "report_id": item.report_id,
        "status": item.status,
        "status_phrase": _phrase(describe(item.status)),
        "urgent": item.urgent,
        "topic_code": item.topic_code,
        "group_code": item.group_code,
        "received_at": _iso(item.received_at),
        "clock_started_at": _iso(item.clock_start),
        "dispatch_due": _iso(item.dispatch_due),
        "location": {"lat": item.location[0], "lon": item.location[1]} if item.location else None,
        "area_code": item.area_code or None,
        "title": item.title or None,
        "tracking_code": item.tracking_code or None,
        "description": item.description or None,
        "address_text": item.address_text or None,
        "lead_agency_id": item.lead_agency_id or None,
        "round": item.round,
        "refusal": {"round": refusal.round, "agency_id": refusal.agency_id, "agency_name": refusal.agency_name,
                    "refused_at": _iso(refusal.refused_at), "reason": refusal.refusal_reason or None} if refusal else None,
        "escalation": escalation_view(pending) if pending else None,
        "version": item.version,
    }


def history_view(item: DispatchItem) -> dict:
    return {**item_view(item), "rounds": [round_view(r) for r in item.rounds],
            "escalations": [escalation_view(e) for e in item.escalations]}


def unit_ref(u) -> dict:
    return {"id": u.id, "code": u.code, "name": u.name, "name_en": u.name_en, "kind": getattr(u.kind, "value", u.kind),
            "hub_node": u.hub_node}


def suggestions_view(s: routing.Suggestions) -> dict:
    topic = s.topic
    return {
        "report_id": s.item.report_id,
        "topic": {"code": topic.code, "name": topic.name, "name_en": topic.name_en, "fields": list(topic.fields or [])} if topic else None,
        "place": {"known": s.place.known, "source": s.place.source.value, "source_phrase": _phrase(s.place.source.phrase),
                  "area_codes": list(s.place.area_codes)},
        "items": [{**unit_ref(x.agency), "agency_id": x.agency.id, "score": x.score, "competent": x.competent,
                   "reasons": [r.as_json() for r in x.reasons]} for x in s.items],
    }


def unit_view(u) -> dict:
    return {
        "id": u.id, "code": u.code, "name": u.name, "name_en": u.name_en, "kind": getattr(u.kind, "value", u.kind),
        "parent_id": u.parent_id, "hub_node": u.hub_node, "can_lead": u.can_lead, "fields": list(u.fields or []),
        "areas": list(u.areas or []),
        "valid_from": u.valid_from.isoformat(), "valid_to": u.valid_to.isoformat() if u.valid_to else None,
    }


def topic_view(t) -> dict:
    return {"code": t.code, "name": t.name, "name_en": t.name_en, "group_code": t.group_code, "group_name": t.group_name,
            "group_name_en": t.group_name_en, "fields": list(t.fields or []), "urgent_hint": t.urgent_hint,
            "valid_from": t.valid_from.isoformat() if t.valid_from else None, "valid_to": t.valid_to.isoformat() if t.valid_to else None}


def queue_statuses(status: str | None) -> tuple[Status, ...]:
    """The statuses a work list shows: the IOC's by default, or one open step-2 status asked for by name."""
    if not status:
        return WAITING
    if status not in {s.value for s in OPEN}:
        names = ", ".join(s.value for s in OPEN)
        raise InvalidInput(f"Unknown status '{status}' for the step-2 work list (one of: {names}).",
                           f"Trạng thái '{status}' không có trong danh sách chờ chuyển (một trong: {names}).", field="status")
    return (Status(status),)


def build_router(ctx) -> APIRouter:
    _optional, _current, require = ctx.auth
    ioc = Depends(require(*roles.IOC))
    dispatcher = Depends(require(*roles.DISPATCHERS))
    steering = Depends(require(*roles.STEERING))
    ioc_or_steering = Depends(require(*roles.IOC, *roles.STEERING))
    router = APIRouter(prefix="/api/dispatch/v1", tags=["dispatch"])

    @router.get("/queue", summary="Reports waiting for step 2: urgent first, then the nearest deadline; one page at a time")
    async def queue(cursor: str | None = Query(default=None, max_length=500), limit: int | None = Query(default=None, ge=1, le=MAX_LIMIT),
                    status: str | None = Query(default=None, max_length=40,
                                               description="awaiting_dispatch, refused_by_agency or escalated"),
                    user: Principal = ioc):
        page = await asyncio.to_thread(handlers.dispatch_queue, ctx.reads(), cursor, limit, queue_statuses(status))
        return page.as_json(item_view)

    @router.get("/reports/{report_id}", summary="Where a report stands in step 2")
    async def get_item(report_id: str, user: Principal = ioc):
        return item_view(await asyncio.to_thread(handlers.get_item, ctx.reads(), report_id))

    @router.get("/reports/{report_id}/history", summary="Every round of step 2 (agency, refusal and its reason) and every escalation")
    async def history(report_id: str, user: Principal = ioc_or_steering):
        return history_view(await asyncio.to_thread(handlers.get_item, ctx.reads(), report_id))

    @router.get("/reports/{report_id}/suggestions",
                summary="Lead agencies ranked by competence and place, with their reasons (the IOC confirms)")
    async def suggestions(report_id: str, limit: int = Query(default=routing.MAX_SUGGESTIONS, ge=1, le=50), user: Principal = ioc):
        found = await asyncio.to_thread(routing.suggest, ctx.uow(), report_id, datetime.now(timezone.utc), limit)
        return suggestions_view(found)

    @router.post("/reports/{report_id}/dispatch", summary="Step 2: send to exactly one lead agency")
    async def dispatch(report_id: str, body: DispatchIn, user: Principal = dispatcher):
        item = await asyncio.to_thread(handlers.dispatch_to_lead_agency, ctx.uow(), user, report_id, body.agency_id, body.note,
                                       body.competence_reason)
        return item_view(item)

    @router.post("/reports/{report_id}/recall", summary="Take a dispatched report back from its lead agency (on whatever node) to "
                 "dispatch it again; a hub's later writes about it are refused as stale")
    async def recall(report_id: str, body: RecallIn, user: Principal = dispatcher):
        return item_view(await asyncio.to_thread(handlers.recall, ctx.uow(), user, report_id, body.reason))

    @router.post("/reports/{report_id}/escalate", summary="Report a dispute between agencies to the Steering Committee")
    async def escalate(report_id: str, body: EscalateIn, user: Principal = dispatcher):
        item = await asyncio.to_thread(handlers.escalate, ctx.uow(), user, report_id, body.reason, body.candidate_agency_ids)
        return item_view(item)

    @router.post("/reports/{report_id}/escalation/withdraw", summary="Take a report back from the Steering Committee before it decides")
    async def withdraw(report_id: str, body: WithdrawIn, user: Principal = dispatcher):
        return item_view(await asyncio.to_thread(handlers.withdraw_escalation, ctx.uow(), user, report_id, body.reason))

    @router.get("/steering/reports", summary="Reports waiting for the Steering Committee's decision, nearest deadline first")
    async def steering_reports(cursor: str | None = Query(default=None, max_length=500),
                               limit: int | None = Query(default=None, ge=1, le=MAX_LIMIT), user: Principal = steering):
        page = await asyncio.to_thread(handlers.steering_queue, ctx.reads(), cursor, limit)
        wanted = {i for item in page.items for e in item.escalations if e.pending for i in e.candidates}
        units = await asyncio.to_thread(handlers.agency_names, ctx.reads(), wanted)

        def view(item: DispatchItem) -> dict:
            out = item_view(item)
            if out["escalation"]:
                out["escalation"]["candidates"] = [unit_ref(units[i]) for i in out["escalation"]["candidate_agency_ids"] if i in units]
            return out

        return page.as_json(view)

    @router.post("/steering/reports/{report_id}/decision", summary="The Steering Committee designates the lead agency")
    async def decision(report_id: str, body: DecisionIn, user: Principal = steering):
        return item_view(await asyncio.to_thread(handlers.decide, ctx.uow(), user, report_id, body.agency_id, body.decision))

    @router.get("/org-units", summary="Organisation units in force (optionally children of one, or lead agencies only)")
    async def org_units(parent_id: str | None = Query(default=None, max_length=80), as_of: date | None = None, lead_only: bool = False):
        units = await asyncio.to_thread(directory.list_units, ctx.reads(), parent_id, as_of, lead_only)
        return {"items": [unit_view(u) for u in units]}

    @router.get("/org-units/{unit_id}", summary="One organisation unit")
    async def org_unit(unit_id: str):
        return unit_view(await asyncio.to_thread(directory.get_unit, ctx.reads(), unit_id))

    @router.get("/topics", summary="The groups and topics of reports (in force today, or on as_of)")
    async def topics(as_of: date | None = None):
        items = await asyncio.to_thread(directory.list_topics, ctx.reads(), as_of)
        return {"items": [topic_view(t) for t in items]}

    return router
