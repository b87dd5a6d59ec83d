"""Intake's REST API for submitting (JSON, OpenAPI at /api/intake/docs): thin, it only builds commands.

Who submits decides the channel (entrypoints/callers.py): a reporter who proved their phone by an SMS
code (the citizens' web app and the mobile app), a partner app with its API key, or an IOC operator
entering a caller's report at the call centre. Files are uploaded first (POST /api/intake/v1/uploads)
and named here by id; the report and its files are then stored together or not at all.
"""
from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from paht.runtime.errors import InvalidInput
from paht.runtime.media import MediaLimits
from services.intake.domain.taxonomy import Taxonomy, suggest
from services.intake.domain.vocabulary import RefusalReason, ReporterKind, Verification
from services.intake.entrypoints.callers import Caller, need_caller, resolve_caller
from services.intake.service_layer import submission

MAX_FILES = 8  # ids in one submission; the per-kind limits are settings (media_max_photos, media_max_videos)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReporterIn(Strict):
    name: str = Field(max_length=200, examples=["Nguyễn Thị Hoa"])
    email: str = Field(max_length=254, examples=["hoa@example.vn"])
    phone: str = Field(default="", max_length=20, examples=["0912345678"],
                       description="A reporter signed in by SMS code may leave it out (the verified number is used; another number is refused). "
                                   "Partner apps and the call centre must give it.")
    kind: ReporterKind = Field(default=ReporterKind.PERSON, description="person or organisation: how the answer addresses the reporter")


class LocationIn(Strict):
    lat: float = Field(ge=-90, le=90, examples=[17.4683])
    lon: float = Field(ge=-180, le=180, examples=[106.6222])


class ReportIn(Strict):
    reporter: ReporterIn
    title: str = Field(max_length=200, examples=["Ổ gà lớn trên đường Quang Trung"])
    description: str = Field(max_length=5000, description="In Vietnamese with diacritics; stored in Unicode NFC.")
    topic_code: str = Field(default="", max_length=60, description="A topic of GET /api/intake/v1/topics (the IOC confirms or changes it).")
    location: LocationIn | None = Field(default=None, description="A pin inside the province. A report needs a pin, an address or both.")
    address_text: str = Field(default="", max_length=300)
    area_code: str = Field(default="", max_length=20)
    occurred_at: AwareDatetime | None = Field(default=None, description="When the reporter saw it, with its offset; not in the future.")
    private_result: bool = Field(default=False, description="Keep the result private: the answer goes to the reporter only.")
    urgent: bool = Field(default=False, description="Danger to life or property: the IOC forwards it to 113/114/115 within 10 minutes.")
    urgent_service: Literal["113", "114", "115"] | None = Field(default=None, description="113 police, 114 fire and rescue, 115 ambulance (implies urgent).")
    media: list[str] = Field(default_factory=list, max_length=MAX_FILES, description="Ids of files uploaded with POST /api/intake/v1/uploads.")
    acknowledged: bool = Field(description="The reporter answers before the law for the truth of the report (must be true).")
    phone_verified: bool = Field(default=False, description="Call centre only: the operator confirmed the caller's number during the call.")


class ReportCreated(BaseModel):
    id: str
    tracking_code: str
    status: str
    received_at: str
    channel: str
    verification: str
    media: list[str]


class AcceptIn(Strict):
    """The group is the taxonomy's group of the topic: it is not sent."""

    topic_code: str = Field(min_length=1, max_length=60)
    urgent: bool | None = None
    note: str = Field(default="", max_length=2000)


class RefuseIn(Strict):
    reason: RefusalReason
    reason_text: str = Field(max_length=2000)


class ContactIn(Strict):
    purpose: str = Field(max_length=300)


def report_view(r) -> dict:
    """Staff view of a report: no personal data (that takes an audited call)."""
    return {
        "id": r.id,
        "tracking_code": r.tracking_code,
        "status": r.status,
        "channel": r.channel,
        "channel_name": r.channel_name,
        "title": r.title,
        "description": r.description,
        "topic_code": r.topic_code,
        "group_code": r.group_code,
        "location": {"lat": r.lat, "lon": r.lon} if r.lat is not None else None,
        "address_text": r.address_text,
        "area_code": r.area_code,
        "private_result": r.private_result,
        "urgent": r.urgent,
        "urgent_service": r.urgent_service or None,
        "state_secret": r.state_secret,
        "reporter_kind": r.reporter_kind,
        "verification": r.verification,
        "occurred_at": r.occurred_at.isoformat() if r.occurred_at else None,
        "received_at": r.received_at.isoformat(),
        "edit_request": r.edit_request or None,
        "edit_due": r.edit_due.isoformat() if r.edit_due else None,
        "verify_due": r.verify_due.isoformat() if r.verify_due else None,
        "duplicate_of": r.duplicate_of or None,
        "version": r.version,
    }


def command(body: ReportIn, caller: Caller, idempotency_key: str, limits: MediaLimits | None = None) -> submission.SubmitReport:
    """Build the command: the body says what was seen; the caller says who sends it and by which channel."""
    phone = body.reporter.phone
    verification = caller.verification
    if caller.kind == "reporter":
        if phone and not _same_phone(phone, caller.phone):
            raise InvalidInput("The phone number must be the one you verified with the SMS code.",
                               "Số điện thoại phải là số đã xác thực bằng mã OTP.", field="reporter.phone")
        phone = caller.phone
    elif not phone:
        raise InvalidInput("Give the reporter's phone number.", "Cần nhập số điện thoại của người phản ánh.", field="reporter.phone")
    if caller.kind == "staff":
        verification = Verification.CALL if body.phone_verified else Verification.NONE
    elif body.phone_verified:
        raise InvalidInput("Only the call centre marks a phone as verified by a call.", "Chỉ tổng đài viên được xác nhận số điện thoại qua cuộc gọi.",
                           field="phone_verified")
    return submission.SubmitReport(
        name=body.reporter.name, phone=phone, email=body.reporter.email, reporter_kind=body.reporter.kind.value,
        title=body.title, description=body.description, topic_code=body.topic_code,
        lat=body.location.lat if body.location else None, lon=body.location.lon if body.location else None,
        address_text=body.address_text, area_code=body.area_code, occurred_at=body.occurred_at,
        private_result=body.private_result, urgent=body.urgent, urgent_service=body.urgent_service or "",
        acknowledged=body.acknowledged, media_ids=list(body.media),
        channel=caller.channel.value, channel_name=caller.channel_name, verification=verification.value, owner=caller.owner,
        idempotency_key=idempotency_key, actor_kind=caller.kind, limits=limits,
        actor=caller.user.subject if caller.user else (caller.partner.id if caller.partner else ""),
    )


def _same_phone(a: str, b: str) -> bool:
    from services.intake.domain.report import Reporter

    try:
        return Reporter.normalise_phone(a) == b
    except InvalidInput:
        return False


def build_router(ctx, taxonomy: Taxonomy) -> APIRouter:
    optional_user, current_user, require = ctx.auth
    router = APIRouter(prefix="/api/intake/v1", tags=["submitting"])
    limits = MediaLimits.from_settings(ctx.settings)
    desk = submission.desk(ctx.uow)

    @router.post("/reports", status_code=201, response_model=ReportCreated, summary="Submit a field report",
                 responses={200: {"description": "The same Idempotency-Key was sent before: the report stored then"},
                            401: {"description": "No verified phone, partner key or call-centre sign-in"}},
                 # the header is read from the request (the busiest route: no dependency to solve) and checked by
                 # submission_key(); documented here as a parameter would be
                 openapi_extra={"parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                                "schema": {"type": "string", "maxLength": 200},
                                                "description": "Any unique text per submission (e.g. the draft's id): a resend is not stored twice."}]})
    async def submit(body: ReportIn, request: Request):
        """Send with `Authorization: Bearer rpt_…` (a reporter session from POST /api/intake/v1/otp/verify), with
        `X-API-Key` (a partner app), or with an IOC operator's staff token (the call centre). The channel is
        recorded from that credential."""
        caller = need_caller(await resolve_caller(ctx, request, optional_user))
        idempotency_key = request.headers.get("idempotency-key", "")
        prepared = submission.prepare(taxonomy, command(body, caller, idempotency_key, limits))
        done = await submission.write_together(desk, ctx.uow, prepared)
        r = done.report
        created = ReportCreated(id=r.id, tracking_code=r.tracking_code, status=r.status, received_at=r.received_at.isoformat(),
                                channel=r.channel, verification=r.verification, media=[m.id for m in done.media])
        # answered as built (the model above is the documented shape): FastAPI need not check it a second time
        return Response(created.model_dump_json(), status_code=200 if done.replayed else 201, media_type="application/json")

    @router.get("/topics", summary="The topics a report can be filed under, with suggestions for a text")
    async def topics(text: str = Query(default="", max_length=5000, description="The report's title and description: the best topics come first in `suggested`")):
        current = await asyncio.to_thread(taxonomy.topics)
        items = sorted(current.values(), key=lambda t: (t.group_code, t.code))
        return {
            "items": [{"code": t.code, "name": t.name, "group_code": t.group_code, "group_name": t.group_name} for t in items],
            "suggested": [t.code for t in suggest(items, text)] if text.strip() else [],
        }

    return router
