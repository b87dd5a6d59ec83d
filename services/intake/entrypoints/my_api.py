"""The reporter's own API: their reports (status, tracking code, deadlines), one report with what the IOC told them,
the answer once published (for a private result the only place it appears), the notices they were sent, the edit the
IOC asked for, a reply to the IOC, and the browsers they subscribe to Web Push.

Every route needs a reporter session: a phone proved by an SMS code (`Authorization: Bearer rpt_…` from an app,
or the site's cookie). The reports are those of every reporter row with that phone; another person's report
answers 404, as one that does not exist.
"""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, Field

from paht.runtime.errors import InvalidInput, NotFound, Unauthorized, Unavailable
from paht.runtime.webpush import PushSubscription, unb64url
from paht.runtime.paging import MAX_LIMIT
from paht.runtime.media import MediaLimits
from services.intake.domain.report import ReportEdit
from services.intake.domain.taxonomy import Taxonomy
from services.intake.domain.vocabulary import Status
from services.intake.entrypoints import callers
from services.intake.entrypoints.api import LocationIn, Strict
from services.intake.entrypoints.triage_api import line_view
from services.intake.service_layer import identity, reporters

MAX_FILES = 8


class EditIn(Strict):
    """Only the fields sent change; `location: null` removes the pin (an address must then say where)."""

    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    topic_code: str | None = Field(default=None, max_length=60, description="A topic of GET /api/intake/v1/topics.")
    location: LocationIn | None = Field(default=None, description="A new pin inside the province; null removes the pin.")
    address_text: str | None = Field(default=None, max_length=300)
    occurred_at: AwareDatetime | None = Field(default=None, description="When the reporter saw it, with its offset; not in the future.")
    add_media: list[str] = Field(default_factory=list, max_length=MAX_FILES, description="Ids of files uploaded with POST /api/intake/v1/uploads.")


class PushKeysIn(Strict):
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)


class PushSubscriptionIn(Strict):
    """A browser's PushSubscription.toJSON(), as the page's script sends it."""

    endpoint: str = Field(max_length=1000, description="The push service's https address for this browser.")
    expirationTime: float | None = None
    keys: PushKeysIn


class PushEndpointIn(Strict):
    endpoint: str = Field(max_length=1000)


def push_subscription(body: PushSubscriptionIn) -> PushSubscription:
    """The browser's subscription, checked: an https endpoint, a P-256 public key and a 16-byte secret."""
    if not body.endpoint.startswith("https://") or any(c.isspace() for c in body.endpoint):
        raise InvalidInput("The push endpoint must be an https address.", "Địa chỉ nhận thông báo đẩy phải là địa chỉ https.",
                           field="endpoint")
    try:
        key, secret = unb64url(body.keys.p256dh), unb64url(body.keys.auth)
    except ValueError:
        key = secret = b""
    if len(key) != 65 or key[:1] != b"\x04" or len(secret) != 16:
        raise InvalidInput("The browser's keys are not those of a push subscription.",
                           "Khóa của trình duyệt không phải khóa đăng ký nhận thông báo đẩy.", field="keys")
    return PushSubscription(body.endpoint, body.keys.p256dh, body.keys.auth)


class ReplyIn(Strict):
    text: str = Field(max_length=2000, examples=["Tôi đã bổ sung ảnh chụp, ổ gà ở trước số nhà 120."])


def _label(status: str) -> dict:
    try:
        en, vi = Status(status).label
    except ValueError:
        en = vi = status
    return {"en": en, "vi": vi}


def summary_view(r) -> dict:
    """A line of the reporter's list: where it stands and by when (no internal notes)."""
    decided = r.status in (Status.REFUSED.value, Status.CANCELLED.value)
    return {
        "id": r.id,
        "tracking_code": r.tracking_code,
        "title": r.title,
        "status": r.status,
        "status_label": _label(r.status),
        "received_at": r.received_at.isoformat(),
        "deadline": reporters.step_deadline(r).isoformat(),  # steps 1 and 2 together, the IOC's clock
        "edit_request": r.edit_request or None,
        "edit_due": r.edit_due.isoformat() if r.edit_due else None,
        "refusal_reason": (r.refusal_reason or None) if decided else None,
        "reason": r.decision_note if decided else None,  # published anyway in the "not eligible" list
    }


def media_view(m) -> dict:
    return {"id": m.id, "kind": getattr(m, "kind", ""), "media_type": m.media_type, "url": f"/intake/media/{m.id}/public"}


def answer_view(r) -> dict | None:
    """The answer step 8 published, as the reporter's own page shows it: its text, except for a state secret (only
    that it was concluded)."""
    if r.answered_at is None:
        return None
    secret = r.is_secret
    return {"visibility": r.answer_visibility, "text": None if secret else r.answer_text, "published_at": r.answered_at.isoformat(),
            "concluded": True}


def notice_view(n) -> dict:
    return {"kind": n.kind, "channel": n.channel, "text": n.text, "status": n.status, "created_at": n.created_at.isoformat(),
            "sent_at": n.sent_at.isoformat() if n.sent_at else None}


def detail_view(r, lines, files, notices=()) -> dict:
    return {
        **summary_view(r),
        "description": r.description,
        "topic_code": r.topic_code or None,
        "location": {"lat": r.lat, "lon": r.lon} if r.lat is not None else None,
        "address_text": r.address_text,
        "occurred_at": r.occurred_at.isoformat() if r.occurred_at else None,
        "private_result": r.private_result,
        "urgent": r.urgent,
        "urgent_service": r.urgent_service or None,
        "media": [media_view(m) for m in files],
        "history": [line_view(line, for_reporter=True) for line in lines],
        "answer": answer_view(r),
        "notices": [notice_view(n) for n in notices],
    }


def build_router(ctx, taxonomy: Taxonomy, push_key: str | None = None) -> APIRouter:
    """The reporter's routes; `push_key` is the VAPID public key browsers subscribe with (None: Web Push not offered,
    except that outside production the development outbox takes subscriptions from the API)."""
    router = APIRouter(prefix="/api/intake/v1/me", tags=["reporters: my reports"])
    limits = MediaLimits.from_settings(ctx.settings)  # how many photos and videos a report may carry

    async def session_of(request: Request) -> identity.ReporterSession:
        token = callers.reporter_token(request)
        session = await asyncio.to_thread(identity.session_for_token, ctx.engine, token) if token else None
        if session is None:
            raise Unauthorized("Verify your phone number first (an SMS code) to see your reports.",
                               "Vui lòng xác thực số điện thoại (mã OTP qua tin nhắn) để xem phản ánh của bạn.")
        return session

    reporter = Depends(session_of)

    @router.get("/reports", summary="My reports: status, tracking code, the step 1+2 deadline, and the edit asked for (newest first)")
    async def my_reports(session: identity.ReporterSession = reporter, cursor: str | None = Query(default=None, max_length=500),
                         limit: int | None = Query(default=None, ge=1, le=MAX_LIMIT)):
        page = await asyncio.to_thread(reporters.my_reports, ctx.uow(), session.phone, cursor, limit)
        return page.as_json(summary_view)

    @router.get("/reports/{report_id}", summary="One of my reports, with what the IOC told me (its history for the reporter) and its files")
    async def my_report(report_id: str, session: identity.ReporterSession = reporter):
        report, lines, files, notices = await asyncio.to_thread(reporters.my_report, ctx.uow(), session.phone, report_id)
        return detail_view(report, lines, files, notices)

    push_offered = bool(push_key) or ctx.settings.env != "production"

    @router.get("/push-key", summary="The VAPID public key a browser subscribes to Web Push with (404: not offered here)")
    async def push_public_key(session: identity.ReporterSession = reporter):
        if not push_key:
            raise NotFound("Web Push is not offered on this server.", "Máy chủ này không cung cấp thông báo đẩy.")
        return {"public_key": push_key}

    @router.post("/push-subscriptions", status_code=201, summary="Subscribe this browser to the notices of all my reports (Web Push)",
                 description="The body is the browser's PushSubscription.toJSON(). The same browser again replaces its keys.")
    async def subscribe(body: PushSubscriptionIn, session: identity.ReporterSession = reporter):
        if not push_offered:
            raise Unavailable("Web Push is not configured on this server.", "Máy chủ chưa được cấu hình thông báo đẩy.")
        await asyncio.to_thread(reporters.subscribe_browser, ctx.uow(), session.phone, push_subscription(body))
        return {"subscribed": True}

    @router.post("/push-subscriptions/remove", summary="Stop Web Push notices to this browser")
    async def unsubscribe(body: PushEndpointIn, session: identity.ReporterSession = reporter):
        gone = await asyncio.to_thread(reporters.unsubscribe_browser, ctx.uow(), session.phone, body.endpoint)
        return {"subscribed": False, "removed": gone}

    @router.post("/reports/{report_id}/edit", summary="Complete my report as the IOC asked (only while an edit is asked for)",
                 description="Only the fields sent change (location: null removes the pin); files are uploaded first and added by id. "
                             "The report then waits for the IOC's check again. After the 2 days the report is cancelled (409).")
    async def edit(report_id: str, body: EditIn, session: identity.ReporterSession = reporter):
        sent = body.model_fields_set
        change = ReportEdit(title=body.title, description=body.description, topic_code=body.topic_code, address_text=body.address_text,
                            location=(body.location.lat, body.location.lon) if body.location is not None else None,
                            remove_location="location" in sent and body.location is None, occurred_at=body.occurred_at)
        owner = callers.reporter_owner(session.phone)
        report = await asyncio.to_thread(reporters.edit_report, ctx.uow(), taxonomy, session.phone, owner, report_id, change, body.add_media,
                                         limits)
        return summary_view(report)

    @router.post("/reports/{report_id}/reply", summary="Write to the IOC about my report")
    async def reply(report_id: str, body: ReplyIn, session: identity.ReporterSession = reporter):
        report = await asyncio.to_thread(reporters.reply, ctx.uow(), session.phone, report_id, body.text)
        return summary_view(report)

    return router
