"""Publication's REST API (JSON, OpenAPI at /api/publication/docs): public reads, and step 8 for the IOC."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.paging import DEFAULT_LIMIT, MAX_LIMIT
from paht.runtime.text import Label
from services.publication.adapters.names import NamesCopy, PortalNames
from services.publication.domain.portal import COUNT_CAP, MAP_MAX_FEATURES, BBox, ReportFilter, Total
from services.publication.entrypoints.cached import PublicAnswers
from services.publication.domain.public_report import (PUBLIC_FIELDS, REPORT_ID, Step, TRACKING_FIELDS, Deadline, PublicMedia, PublicReport,
                                                       place_deadlines)
from services.publication.service_layer import feedback, handlers

MAX_OFFSET = 100_000  # deeper than anyone reads a public list; beyond it a 422, never a database overflow
ReportId = Annotated[str, Path(max_length=36, pattern=REPORT_ID, description="The report's id (a UUID)")]
ClarificationId = Annotated[str, Path(max_length=36, pattern=REPORT_ID, description="The clarification's id (a UUID)")]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PublishIn(Strict):
    answer_text: str | None = Field(default=None, max_length=10000, description="The IOC's edited answer; the approved draft when absent")


class ClarificationPublishIn(Strict):
    text: str | None = Field(default=None, max_length=10000, description="The IOC's edited clarification; as approved when absent")


class ReturnIn(Strict):
    reason: str = Field(max_length=2000, examples=["Cần bổ sung hình ảnh sau khi khắc phục."])


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def plain(value):
    return iso(value) if isinstance(value, datetime) else value


def both(label: Label) -> dict:
    return {"vi": label.vi, "en": label.en}


def deadline_view(d: Deadline, now: datetime) -> dict:
    """A step's deadline: which step, when due, when done (None while open) and whether on time (None while open and not late)."""
    return {"step": d.clock.value, "label": both(d.label), "due_at": iso(d.due_at), "done_at": iso(d.done_at), "on_time": d.on_time(now)}


def step_view(entry, deadline: Deadline | None = None) -> dict:
    """One timeline entry; an entry that ends a step carries that step's deadline (`due_at`) and whether it was met (`on_time`)."""
    label = entry.step.event_label
    return {"kind": entry.kind, "at": iso(entry.at), "label_vi": label.vi, "label_en": label.en, "note": entry.note or None,
            "deadline_step": deadline.clock.value if deadline else None, "due_at": iso(deadline.due_at) if deadline else None,
            "on_time": deadline.on_time() if deadline else None}


def tracking_view(r: PublicReport) -> dict:
    """What a reporter sees by tracking code before step 1 decided: the code, when it arrived, its status."""
    return {**{name: plain(getattr(r, name)) for name in TRACKING_FIELDS}, "status": r.status, "status_label": both(r.step.status_label)}


def media_view(m: PublicMedia) -> dict:
    """A public photo (blurred where the IOC marked it) or video: its address on this site and its size in pixels."""
    return {"url": m.url, "width": m.width, "height": m.height, "media_type": m.media_type, "kind": "photo" if m.is_photo else "video"}


def public_view(r: PublicReport, timeline=None) -> dict:
    """Public view of a report: never a private answer, never personal data."""
    view = {
        "id": r.report_id,
        "status": r.status,
        "status_label": both(r.step.status_label),
        **{name: plain(getattr(r, name)) for name in PUBLIC_FIELDS},
        "location": {"lat": r.lat, "lon": r.lon} if r.lat is not None else None,
        "lead_agency": r.lead_agency_name or None,
        "answer": r.public_answer,
        "published_at": iso(r.published_at),
        "media": [media_view(m) for m in r.shown_media],
    }
    if timeline is not None:
        placed, open_ = place_deadlines(r.deadlines(), timeline)
        view["timeline"] = [step_view(e, placed.get(e.id)) for e in timeline]
        now = datetime.now(timezone.utc)
        view["open_deadlines"] = [deadline_view(d, now) for d in open_]  # steps under way: late already, or None
    return view


def named(n) -> dict | None:
    return {"code": n.code, "name": {"vi": n.vi, "en": n.en}} if n is not None else None


def portal_view(r: PublicReport, names: PortalNames) -> dict:
    """A public report as the portal lists it: the public view with its topic, group and area named."""
    return {**public_view(r), "topic": named(names.topic(r.topic_code)), "group": named(names.group_of(r.topic_code)),
            "area": named(names.area(r.area_code)) if r.area_code else None}


def geojson(points, clusters, found: int | None, names: PortalNames) -> dict:
    """The map's FeatureCollection: each report as a point, or (above the cap) one point per grid cell with its count."""
    features = [{
        "type": "Feature", "id": p.report_id,
        "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
        "properties": {"id": p.report_id, "title": p.title, "status": p.status, "status_label": both(Step(p.status).status_label),
                       "topic": named(names.topic(p.topic_code)), "received_at": iso(p.received_at), "url": f"/reports/{p.report_id}"},
    } for p in points] + [{
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(cell.lon, 6), round(cell.lat, 6)]},
        "properties": {"cluster": True, "count": cell.count},
    } for cell in clusters]
    return {"type": "FeatureCollection", "features": features, "clustered": bool(clusters), "total": found,
            "max_features": MAP_MAX_FEATURES}


TOTAL_DESCRIPTION = (
    f"Answers `{{items, total, total_exact, limit, offset}}`. `total` is how many reports match, counted exactly up to "
    f"{COUNT_CAP:,} (or up to the end of the page asked, when deeper): then `total_exact` is true. When more match, "
    f"counting stops there: `total` is that bound and `total_exact` is false, meaning \"more than `total`\". Either way, "
    f"the next page exists when `offset + limit < total` or `total_exact` is false.")


def total_view(total: Total) -> dict:
    """A list's count as the API says it: `total`, and whether it is exact or a lower bound ("more than")."""
    return {"total": int(total), "total_exact": total.exact}


def report_filter(q: str | None = Query(default=None, max_length=200, description="Free text; diacritics and case are ignored"),
                  group: str | None = Query(default=None, max_length=100), topic: str | None = Query(default=None, max_length=100),
                  area: str | None = Query(default=None, max_length=100, description="An area's GSO code"),
                  status: str | None = Query(default=None, max_length=40),
                  day_from: str | None = Query(default=None, alias="from", max_length=20, description="YYYY-MM-DD (Vietnam), inclusive"),
                  day_to: str | None = Query(default=None, alias="to", max_length=20, description="YYYY-MM-DD (Vietnam), inclusive; at most 366 days after from"),
                  ) -> ReportFilter:
    """The portal's filters, shared by the list and the map (a bad value is a bilingual 422)."""
    return ReportFilter.parse(group=group, topic=topic, area=area, status=status, day_from=day_from, day_to=day_to, q=q)


def editorial_view(r: PublicReport) -> dict:
    """IOC view of an answer waiting for step 8 (the draft is visible to the IOC only)."""
    return {
        **public_view(r),
        "draft_answer": r.answer_text,
        "lead_unit": r.lead_unit_name or None,
        "private_result": r.private_result,
        "urgent": r.urgent,
        "approved_at": iso(r.approved_at),
        "approval_note": r.approval_note or None,
        "publish_due": iso(r.publish_due),
        "visibility": r.visibility,
        "version": r.version,
    }


def waiting_clarification_view(w: feedback.WaitingClarification) -> dict:
    """IOC view of a clarification waiting for step 8: the reporter's question, the lead unit's approved text."""
    c, r = w.clarification, w.report
    return {"id": c.id, "report_id": r.report_id, "tracking_code": r.tracking_code, "title": r.title, "question": c.question,
            "text": c.answer_text, "asked_at": iso(c.asked_at), "approved_at": iso(c.approved_at), "publish_due": iso(c.publish_due),
            "lead_unit": r.lead_unit_name or None, "private_result": r.private_result, "visibility": r.visibility}


def decided_clarification_view(c) -> dict:
    return {"id": c.id, "report_id": c.report_id, "status": c.status, "text": c.answer_text, "given_at": iso(c.given_at),
            "return_reason": c.return_reason or None}


def json_response(payload, media_type: str = "application/json") -> Response:
    """A JSON answer made once, without FastAPI's walk through the payload (views are plain JSON types already)."""
    return Response(json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(), media_type=media_type)


def build_router(ctx, names: NamesCopy | None = None, answers: PublicAnswers | None = None, editorial: bool = True) -> APIRouter:
    optional_user, current_user, require = ctx.auth
    names = names or NamesCopy(ctx.engine)
    answers = answers or PublicAnswers()
    operator = require(*roles.IOC)
    router = APIRouter(prefix="/api/publication/v1", tags=["publication"])

    @router.get("/reports", summary="Public reports (accepted at step 1), newest first, filtered and searched",
                description=TOTAL_DESCRIPTION)
    async def list_reports(request: Request, f: ReportFilter = Depends(report_filter), limit: Limit = 20, offset: Offset = 0):
        async def make():
            reports, total = await asyncio.to_thread(handlers.search_public_reports, ctx.reads(), f, limit, offset)
            known = await asyncio.to_thread(names.current)
            return json_response({"items": [portal_view(r, known) for r in reports], **total_view(total), "limit": limit, "offset": offset})
        return await answers.answer(request, make)

    @router.get("/reports.geojson", summary="Public reports inside a box as GeoJSON (grid clusters above 2,000)")
    async def reports_geojson(request: Request, bbox: str = Query(max_length=200, description="west,south,east,north in degrees (WGS 84)"),
                              f: ReportFilter = Depends(report_filter)):
        box = BBox.parse(bbox)

        async def make():
            points, clusters, found = await asyncio.to_thread(handlers.reports_on_map, ctx.reads(), f, box)
            known = await asyncio.to_thread(names.current)
            return json_response(geojson(points, clusters, found, known), media_type="application/geo+json")
        return await answers.answer(request, make)

    @router.get("/taxonomy", summary="Groups and topics in force, and the named areas (for the portal's filters)")
    async def portal_names(request: Request):
        async def make():
            known = await asyncio.to_thread(names.current)
            return json_response({"groups": [{**named(g), "topics": [named(known.topic(t)) for t in known.topics_of(g.code)]}
                                             for g in known.groups.values()],
                                  "areas": [named(a) for a in known.areas.values()]})
        return await answers.answer(request, make)

    @router.get("/reports/{report_id}", summary="One public report with its timeline")
    async def get_report(request: Request, report_id: ReportId):
        async def make():
            report, timeline = await asyncio.to_thread(handlers.get_public_report, ctx.reads(), report_id)
            return json_response(public_view(report, timeline))
        return await answers.answer(request, make)

    @router.get("/not-eligible", summary="Reports refused at step 1, with their public reason", description=TOTAL_DESCRIPTION)
    async def not_eligible(request: Request, limit: Limit = 20, offset: Offset = 0):
        async def make():
            reports, total = await asyncio.to_thread(handlers.list_not_eligible, ctx.reads(), limit, offset)
            items = [{**public_view(r), "reason": r.refusal_text} for r in reports]
            return json_response({"items": items, **total_view(total), "limit": limit, "offset": offset})
        return await answers.answer(request, make)

    @router.get("/track/{tracking_code}", summary="Find a report by its tracking code (before step 1: only that it awaits review)")
    async def track(tracking_code: Annotated[str, Path(max_length=40)]):
        report = await asyncio.to_thread(handlers.find_by_tracking_code, ctx.reads(), tracking_code)
        if not report.is_public_record:
            return tracking_view(report)
        report, timeline = await asyncio.to_thread(handlers.get_public_report, ctx.reads(), report.report_id)
        return public_view(report, timeline)

    if not editorial:  # a hub's read-only copy: step 8 is the province's
        return router

    @router.get("/queue", summary="Step 8: approved answers waiting for the IOC, urgent first, then oldest approval")
    async def queue(cursor: str | None = Query(default=None, max_length=500), limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
                    user: Principal = Depends(operator)):
        page = await asyncio.to_thread(handlers.editorial_queue, ctx.reads(), cursor, limit)
        return page.as_json(editorial_view)

    @router.post("/reports/{report_id}/publish", summary="Step 8: publish the answer (edited or as approved)")
    async def publish(report_id: ReportId, body: PublishIn, user: Principal = Depends(operator)):
        report = await asyncio.to_thread(handlers.publish_result, ctx.uow(), user, report_id, body.answer_text)
        return editorial_view(report)

    @router.post("/reports/{report_id}/return", summary="Step 8: return the answer to the lead unit")
    async def return_(report_id: ReportId, body: ReturnIn, user: Principal = Depends(operator)):
        report = await asyncio.to_thread(handlers.return_result, ctx.uow(), user, report_id, body.reason)
        return editorial_view(report)

    @router.get("/queue/clarifications", summary="Step 8 for clarifications: approved clarifications waiting for the IOC, oldest first")
    async def clarification_queue(limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT), user: Principal = Depends(operator)):
        waiting, total = await asyncio.to_thread(feedback.clarifications_for_ioc, ctx.reads(), limit)
        return {"items": [waiting_clarification_view(w) for w in waiting], "total": total}

    @router.post("/clarifications/{clarification_id}/publish", summary="Step 8: publish a clarification (edited or as approved)")
    async def publish_clarification(clarification_id: ClarificationId, body: ClarificationPublishIn, user: Principal = Depends(operator)):
        done = await asyncio.to_thread(feedback.publish_clarification, ctx.uow(), user, clarification_id, body.text)
        return decided_clarification_view(done)

    @router.post("/clarifications/{clarification_id}/return", summary="Step 8: send a clarification back to the lead unit's leader")
    async def return_clarification(clarification_id: ClarificationId, body: ReturnIn, user: Principal = Depends(operator)):
        done = await asyncio.to_thread(feedback.return_clarification, ctx.uow(), user, clarification_id, body.reason)
        return decided_clarification_view(done)

    return router
