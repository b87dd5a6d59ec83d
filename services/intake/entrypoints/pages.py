"""Intake's pages: the citizen app (phone check, the report with its map, photos and offline drafts), "my reports",
the call centre's entry form and the IOC's step 1 console.

Every page is a plain HTML form posting to a route here, which calls the use cases directly: a phone without
JavaScript can still verify its number and send a text report. The scripts under static/intake/ enhance the
same pages (the JSON API, uploads with progress, the map, drafts kept on the phone, the outbox); the service
worker that keeps the app on the phone is served from /intake/sw.js so that its scope is /intake/.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse, RedirectResponse, Response

from paht.runtime import roles, sla
from paht.runtime.errors import DomainError, InvalidInput, NotFound, Unauthorized
from paht.runtime.http import http_status, problem
from paht.runtime.ids import new_id
from paht.runtime.media import MAX_REGIONS
from paht.runtime.proxies import client_address
from paht.runtime.sms import mask_phone, sms_from
from paht.runtime.storage import BlobStorage
from paht.runtime.text import is_clean
from paht.runtime.web import Pages
from paht.runtime.web.pages import STATIC_DIR, VN_TIME, local_time
from paht.runtime.web.security import (CSRF_COOKIE, REPORTER_COOKIE, csrf_cookie_kwargs, is_csrf_token, tile_origin, with_images_from,
                                       new_csrf_token)
from services.intake.adapters.identity import otp_key
from services.intake.domain.identity import SESSION_TTL, SendLimits
from services.intake.domain.place import check_place
from services.intake.domain.redaction import REDACTABLE
from services.intake.domain.report import ReportEdit
from services.intake.domain.taxonomy import Taxonomy
from services.intake.domain.vocabulary import AT_WILL, CallOutcome, Channel, NoticeChannel, Status, Verification
from services.intake.entrypoints import api
from services.intake.entrypoints.callers import reporter_owner, reporter_token, resolve_caller
from services.intake.service_layer import duplicates, handlers, identity, media, redaction, reporters, submission, triage

pages = Pages([Path(__file__).parent / "templates"])
DEFAULT_CENTER = "17.4683,106.6222,12"  # Đồng Hới, where most reports come from
SW_FILE = STATIC_DIR / "intake" / "sw.js"
# The files the service worker keeps: its version is their digest, so a changed file installs a new worker.
SHELL_FILES = ("paht.css", "intake/intake.css", "favicon.svg", "intake/intake.js", "intake/report.js", "intake/app.webmanifest", "intake/icon-192.png",
               "vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css")
# What the scripts say, in the page's language (sent as a JSON data block, never as a script).
JS_TEXT = (
    "form.success", "form.submit", "form.use_my_location", "intake.verified_as", "intake.code_sent", "intake.resend_code",
    "intake.outbox_note", "js.error_status", "js.pin_title", "js.locating", "js.location_denied", "js.location_failed",
    "js.remove", "js.remove_file", "js.uploading", "js.uploaded", "js.upload_waiting", "js.upload_failed", "js.file_lost",
    "js.file_type", "js.too_many_photos", "js.too_many_videos", "js.file_too_big", "js.sending", "js.verify_first",
    "js.remove_failed", "js.delete", "js.delete_confirm", "js.untitled", "js.waiting_network", "js.edit", "js.replace_draft",
    "js.outbox_sent", "js.outbox_verify", "js.offline_verify", "js.resend_in",
    "js.blur_count", "js.blur_none", "js.blur_max", "js.blur_remove", "js.blur_unsaved",
)
WAITING = (Status.SUBMITTED.value, Status.EDIT_REQUESTED.value)
ACTIONS = ("accept", "request-edit", "call", "refuse", "duplicate", "classify", "message")  # the console's forms
DECIDED = (Status.REFUSED.value, Status.CANCELLED.value)
DONE = ACTIONS + ("redaction",)  # what the console says was done after a form's redirect
REDACTABLE_STATUSES = tuple(s.value for s in REDACTABLE)


def _number(text: str) -> float | None:
    """A coordinate as typed on a phone: blank means none; a decimal comma (17,4683) is fine too."""
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput("Latitude and longitude must be numbers, such as 17.4683 and 106.6222.",
                           "Vĩ độ và kinh độ phải là số, ví dụ 17.4683 và 106.6222.", field="location") from None


def _location(lat: str, lon: str) -> dict | None:
    a, b = _number(lat), _number(lon)
    if a is None and b is None:
        return None
    if a is None or b is None:
        check_place(a, b, "")  # says: both or neither
    return {"lat": a, "lon": b}


def _when(text: str) -> datetime | None:
    """The time of the event from a datetime-local field (Vietnam time, as the page shows it), or None when blank."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("The time of the event is not a date and time.", "Thời điểm xảy ra không đúng định dạng ngày giờ.",
                           field="occurred_at") from None
    return value if value.tzinfo else value.replace(tzinfo=VN_TIME)


def _local_input(value: datetime | None) -> str:
    """A stored time as a datetime-local field shows it (Vietnam time)."""
    return local_time(value, "%Y-%m-%dT%H:%M") if value else ""


def _echo(text: str) -> str:
    """What the form shows back after a refusal: the text as typed, minus the characters refused in it."""
    return "".join(ch for ch in (text or "") if is_clean(ch))


def _invalid(exc: ValidationError) -> InvalidInput:
    """A form value the API's model refuses (too long, not a choice), in both languages."""
    where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()[:3])
    return InvalidInput(f"Some values are not valid: {where}.", f"Một số giá trị không hợp lệ: {where}.")


def _safe_next(value: str, default: str = "/intake/report") -> str:
    """Only our own intake pages may be where a form sends the reporter next."""
    parts = urlsplit(value or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/intake/") or "//" in parts.path or "\\" in value:
        return default
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _grouped(taxonomy: Taxonomy) -> tuple[list[dict], str | None]:
    """The topics in force, grouped for the picker; when they cannot be read, none and the catalog key saying so."""
    try:
        topics = taxonomy.topics()
    except DomainError:
        return [], "intake.topics_unavailable"
    groups: dict[str, dict] = {}
    for t in sorted(topics.values(), key=lambda t: (t.group_code, t.name)):
        groups.setdefault(t.group_code, {"code": t.group_code, "name": t.group_name or t.group_code, "topics": []})["topics"].append(t)
    return list(groups.values()), None


@lru_cache(maxsize=1)
def _service_worker() -> bytes:
    digest = hashlib.sha256()
    for name in SHELL_FILES:
        digest.update((STATIC_DIR / name).read_bytes())
    return SW_FILE.read_bytes().replace(b"__VERSION__", digest.hexdigest()[:16].encode())


def _map_policy(tiles_url: str) -> str:
    """The default policy, with the map's tile server and local previews (blob:) allowed as images and videos."""
    return with_images_from("blob:", tile_origin(tiles_url)) + "; media-src 'self' blob:; worker-src 'self'"


def _blur_from_form(raw) -> list:
    """The rectangles the console's script wrote into the form's `blur` field (JSON); none when it is empty."""
    text = raw if isinstance(raw, str) else ""
    if not text.strip():
        return []
    try:
        return json.loads(text[:20_000])
    except ValueError:
        raise InvalidInput("The blur rectangles could not be read; draw them again.",
                           "Không đọc được các vùng làm mờ; vui lòng vẽ lại.", field="blur") from None


def build_router(ctx, taxonomy: Taxonomy, otp: identity.Otp | None = None, push_key: str | None = None,
                 storage: BlobStorage | None = None) -> APIRouter:
    """The pages' routes. `otp` is the code desk the API uses (built from the settings when not given); `push_key` the
    VAPID public key browsers subscribe with (None: no subscribe button); `storage` holds the media (the process's own
    when not given)."""
    optional_user, _current, _require = ctx.auth
    settings = ctx.settings
    if storage is None:
        from services.intake.bootstrap import media_storage

        storage = media_storage(ctx)
    if otp is None:
        otp = identity.Otp(ctx.engine, otp_key(settings), sms_from(settings), SendLimits.from_settings(settings))
    policy = _map_policy(settings.map_tiles_url)
    map_config = {"tiles": settings.map_tiles_url, "attribution": settings.map_tiles_attribution, "center": DEFAULT_CENTER}
    limits = {"photos": settings.media_max_photos, "videos": settings.media_max_videos,
              "photo_bytes": settings.media_max_photo_bytes, "video_bytes": settings.media_max_video_bytes,
              "photo_mb": settings.media_max_photo_bytes // 1_000_000, "video_mb": settings.media_max_video_bytes // 1_000_000}
    router = APIRouter(include_in_schema=False)

    def render(request: Request, template: str, status_code: int = 200, **context) -> Response:
        from paht.runtime.web import translate
        from paht.runtime.web.language import pick_language

        lang = pick_language(request)
        js_text = {key: translate(lang, key) for key in JS_TEXT}
        response = pages.render(request, template, status_code, user=optional_user(request), js_text=js_text, map=map_config,
                                limits=limits, **context)
        response.headers["Content-Security-Policy"] = policy
        response.headers["Cache-Control"] = "no-store"  # pages with a session's data and a CSRF token are never kept by a proxy
        return response

    async def session_of(request: Request) -> identity.ReporterSession | None:
        token = reporter_token(request)
        return await asyncio.to_thread(identity.session_for_token, ctx.engine, token) if token else None

    def shown(session: identity.ReporterSession | None) -> dict | None:
        return {"masked": mask_phone(session.phone)} if session else None

    async def report_page(request: Request, status_code: int = 200, *, session=None, values=None, error=None, challenge=None,
                          verify_error=None) -> Response:
        topics, topics_error = await asyncio.to_thread(_grouped, taxonomy)
        values = values or {"occurred_at": _local_input(datetime.now(timezone.utc))}
        return render(request, "report_form.html", status_code, session=shown(session), values=values, error=error, challenge=challenge,
                      verify_error=verify_error, topics=topics, topics_error=topics_error,
                      idempotency_key=values.get("idempotency_key") or new_id())

    async def verify_page(request: Request, next_url: str, status_code: int = 200, **context) -> Response:
        """The phone check on the page the reporter came from (the report form, or "my reports")."""
        if next_url.startswith("/intake/report"):
            return await report_page(request, status_code, **context)
        return render(request, "me.html", status_code, session=None, page=None, next=next_url, **context)

    # ---- the citizen app

    @router.get("/intake/report")
    async def report_form(request: Request):
        return await report_page(request, session=await session_of(request))

    @router.post("/intake/report")
    async def submit(request: Request, name: str = Form(""), email: str = Form(""), kind: str = Form("person"), title: str = Form(""),
                     description: str = Form(""), topic_code: str = Form(""), occurred_at: str = Form(""), lat: str = Form(""),
                     lon: str = Form(""), address_text: str = Form(""), private_result: bool = Form(False), urgent: bool = Form(False),
                     urgent_service: str = Form(""), acknowledged: bool = Form(False), idempotency_key: str = Form("")):
        """The report without JavaScript (text only): the same command as the API's, from the reporter's cookie."""
        texts = {"name": name, "email": email, "kind": kind, "title": title, "description": description, "topic_code": topic_code,
                 "occurred_at": occurred_at, "lat": lat, "lon": lon, "address_text": address_text, "urgent_service": urgent_service,
                 "idempotency_key": idempotency_key}
        values = {k: _echo(v) for k, v in texts.items()} | {"private_result": private_result, "urgent": urgent, "acknowledged": acknowledged}
        caller = await resolve_caller(ctx, request, optional_user)
        session = caller.session if caller is not None else None
        try:
            if caller is None or caller.kind != "reporter":
                raise Unauthorized("Verify your phone number first: we send you a code by SMS.",
                                   "Vui lòng xác thực số điện thoại trước: hệ thống gửi mã xác thực qua tin nhắn SMS.")
            body = _report_in(name=name, email=email, phone="", kind=kind, title=title, description=description, topic_code=topic_code,
                              occurred_at=occurred_at, lat=lat, lon=lon, address_text=address_text, private_result=private_result,
                              urgent=urgent, urgent_service=urgent_service, acknowledged=acknowledged)
            cmd = api.command(body, caller, idempotency_key)
            done = await asyncio.to_thread(submission.submit_report, ctx.uow(), taxonomy, cmd)
        except Unauthorized as exc:
            return await report_page(request, 401, session=None, values=values, verify_error=exc.detail[_lang(request)])
        except DomainError as exc:
            return await report_page(request, http_status(exc), session=session, values=values, error=exc.detail)
        return render(request, "report_done.html", 200 if done.replayed else 201, report=done.report)

    @router.post("/intake/otp")
    async def send_code(request: Request, phone: str = Form(""), next: str = Form("/intake/report")):
        next_url = _safe_next(next)
        try:
            sent = await asyncio.to_thread(identity.request_code, otp, phone, client_address(request, settings))
        except DomainError as exc:
            return await verify_page(request, next_url, http_status(exc), values={"phone": _echo(phone)}, verify_error=exc.detail[_lang(request)])
        challenge = {"id": sent.challenge_id, "phone": phone.strip(), "masked": mask_phone(phone.strip()), "resend_after_s": sent.resend_after_s}
        return await verify_page(request, next_url, values={"phone": _echo(phone)}, challenge=challenge)

    @router.post("/intake/otp/verify")
    async def check_code(request: Request, challenge_id: str = Form(""), phone: str = Form(""), code: str = Form(""),
                         next: str = Form("/intake/report")):
        next_url = _safe_next(next)
        try:
            token, session = await asyncio.to_thread(identity.verify_code, otp, challenge_id, phone, code, "web")
        except DomainError as exc:
            # a wrong code may be typed again; a locked, expired or unknown one needs a new code
            again = http_status(exc) == 422
            challenge = {"id": challenge_id[:36], "phone": _echo(phone)[:20], "masked": mask_phone(_echo(phone).strip()), "resend_after_s": 0} if again else None
            return await verify_page(request, next_url, http_status(exc), values={"phone": _echo(phone)}, challenge=challenge,
                                     verify_error=exc.detail[_lang(request)])
        response = RedirectResponse(next_url, status_code=303)
        response.set_cookie(REPORTER_COOKIE, token, max_age=int(SESSION_TTL.total_seconds()), httponly=True, samesite="strict", path="/")
        return response

    @router.post("/intake/sign-out")
    async def sign_out(request: Request, next: str = Form("/intake/report")):
        token = reporter_token(request)
        if token:
            await asyncio.to_thread(identity.sign_out, ctx.engine, token)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.delete_cookie(REPORTER_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @router.get("/intake/session")
    async def session_state(request: Request):
        """For the app started from the phone's cache: is the phone verified now, and a current CSRF token."""
        session = await session_of(request)
        token = request.cookies.get(CSRF_COOKIE)
        fresh = None if is_csrf_token(token) else new_csrf_token()
        response = JSONResponse({"signed_in": session is not None, "phone": mask_phone(session.phone) if session else None,
                                 "csrf_token": fresh or token}, headers={"Cache-Control": "no-store"})
        if fresh:
            response.set_cookie(**csrf_cookie_kwargs(fresh))
        return response

    @router.get("/intake/report/place")
    async def check_pin(lat: str = Query(max_length=30), lon: str = Query(max_length=30)):
        """The server's own word on a pin, as the reporter drops it (the same rule as at submission)."""
        try:
            location = _location(lat, lon)
            check_place(location and location["lat"], location and location["lon"], "", required=False)
        except DomainError as exc:
            return problem(http_status(exc), exc.key, exc.detail_en, exc.detail_vi)
        return {"inside": True}

    @router.get("/intake/sw.js")
    async def service_worker():
        return Response(_service_worker(), media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/intake/"})

    # ---- my reports

    @router.get("/intake/me")
    async def my_reports(request: Request, cursor: str | None = Query(default=None, max_length=500)):
        session = await session_of(request)
        if session is None:
            return render(request, "me.html", session=None, page=None, next="/intake/me", challenge=None, verify_error=None, values={})
        try:
            page = await asyncio.to_thread(reporters.my_reports, ctx.uow(), session.phone, cursor, None)
        except DomainError as exc:
            return pages.error(request, http_status(exc), exc.key)
        return render(request, "me.html", session=shown(session), page=page, next="/intake/me", deadline=reporters.step_deadline,
                      status_words=_status_words)

    async def my_report_page(request: Request, session, report_id: str, status_code: int = 200, **context) -> Response:
        report, lines, files, notices = await asyncio.to_thread(reporters.my_report, ctx.uow(), session.phone, report_id)
        topics, topics_error = await asyncio.to_thread(_grouped, taxonomy)
        names = {t.code: t for group in topics for t in group["topics"]}
        values = context.pop("values", None) or {
            "title": report.title, "description": report.description, "topic_code": report.topic_code,
            "lat": f"{report.lat:.6f}" if report.lat is not None else "", "lon": f"{report.lon:.6f}" if report.lon is not None else "",
            "address_text": report.address_text, "occurred_at": _local_input(report.occurred_at)}
        return render(request, "me_report.html", status_code, session=shown(session), report=report, lines=lines, files=files,
                      notices=notices, push_key=push_key, notice_channels={c.value: c.label for c in NoticeChannel},
                      topic=names.get(report.topic_code), topics=topics, topics_error=topics_error, values=values,
                      deadline=reporters.step_deadline(report), status_words=_status_words, done=request.query_params.get("done"),
                      **context)

    @router.get("/intake/me/{report_id}")
    async def my_report(request: Request, report_id: str):
        session = await session_of(request)
        if session is None:
            return render(request, "me.html", session=None, page=None, next=_safe_next(f"/intake/me/{report_id[:36]}", "/intake/me"),
                          challenge=None, verify_error=None, values={})
        try:
            return await my_report_page(request, session, report_id)
        except DomainError as exc:
            return pages.error(request, http_status(exc), exc.key)

    @router.post("/intake/me/{report_id}/reply")
    async def reply(request: Request, report_id: str, text: str = Form("")):
        session = await session_of(request)
        if session is None:
            return RedirectResponse(f"/intake/me/{report_id[:36]}", status_code=303)
        try:
            await asyncio.to_thread(reporters.reply, ctx.uow(), session.phone, report_id, text)
        except DomainError as exc:
            return await _or_error(request, exc, my_report_page(request, session, report_id, http_status(exc), reply_error=exc.detail,
                                                                reply_text=_echo(text)))
        return RedirectResponse(f"/intake/me/{report_id[:36]}?done=reply#history", status_code=303)

    @router.post("/intake/me/{report_id}/edit")
    async def edit(request: Request, report_id: str):
        session = await session_of(request)
        if session is None:
            return RedirectResponse(f"/intake/me/{report_id[:36]}", status_code=303)
        form = await request.form()
        text = {k: form.get(k, "") if isinstance(form.get(k, ""), str) else "" for k in
                ("title", "description", "topic_code", "lat", "lon", "address_text", "occurred_at", "had_pin")}
        media_ids = [v for v in form.getlist("media") if isinstance(v, str) and v]
        try:
            location = _location(text["lat"], text["lon"])
            change = ReportEdit(title=text["title"], description=text["description"], topic_code=text["topic_code"],
                                address_text=text["address_text"], location=(location["lat"], location["lon"]) if location else None,
                                remove_location=location is None and text["had_pin"] == "1", occurred_at=_when(text["occurred_at"]))
            owner = reporter_owner(session.phone)
            await asyncio.to_thread(reporters.edit_report, ctx.uow(), taxonomy, session.phone, owner, report_id, change, media_ids)
        except DomainError as exc:
            return await _or_error(request, exc, my_report_page(request, session, report_id, http_status(exc), edit_error=exc.detail,
                                                                values={k: _echo(v) for k, v in text.items()}))
        return RedirectResponse(f"/intake/me/{report_id[:36]}?done=edit", status_code=303)

    async def _or_error(request: Request, exc: DomainError, page) -> Response:
        """The report's page with the refusal; a report that is not theirs (or gone) gives the error page."""
        try:
            return await page
        except DomainError as again:
            return pages.error(request, http_status(again), again.key)

    # ---- the call centre

    @router.get("/intake/call-center")
    async def call_center(request: Request):
        away = pages.staff_only(request, optional_user(request), roles.IOC)
        if away:
            return away
        return await call_center_page(request)

    async def call_center_page(request: Request, status_code: int = 200, **context) -> Response:
        topics, topics_error = await asyncio.to_thread(_grouped, taxonomy)
        values = context.pop("values", None) or {"occurred_at": _local_input(datetime.now(timezone.utc))}
        return render(request, "call_center.html", status_code, topics=topics, topics_error=topics_error, values=values,
                      idempotency_key=values.get("idempotency_key") or new_id(), **context)

    @router.post("/intake/call-center")
    async def call_center_submit(request: Request, name: str = Form(""), phone: str = Form(""), email: str = Form(""), kind: str = Form("person"),
                                 title: str = Form(""), description: str = Form(""), topic_code: str = Form(""), occurred_at: str = Form(""),
                                 lat: str = Form(""), lon: str = Form(""), address_text: str = Form(""), private_result: bool = Form(False),
                                 urgent: bool = Form(False), urgent_service: str = Form(""), phone_verified: bool = Form(False),
                                 acknowledged: bool = Form(False), idempotency_key: str = Form("")):
        away = pages.staff_only(request, optional_user(request), roles.IOC)
        if away:
            return away
        texts = {"name": name, "phone": phone, "email": email, "kind": kind, "title": title, "description": description,
                 "topic_code": topic_code, "occurred_at": occurred_at, "lat": lat, "lon": lon, "address_text": address_text,
                 "urgent_service": urgent_service, "idempotency_key": idempotency_key}
        values = {k: _echo(v) for k, v in texts.items()} | {"private_result": private_result, "urgent": urgent,
                                                            "phone_verified": phone_verified, "acknowledged": acknowledged}
        try:
            caller = await resolve_caller(ctx, request, optional_user, prefer_staff=True)
            if caller is None or caller.kind != "staff":
                raise Unauthorized("Sign in as an IOC operator.", "Vui lòng đăng nhập bằng tài khoản cán bộ IOC.")
            body = _report_in(name=name, email=email, phone=phone, kind=kind, title=title, description=description, topic_code=topic_code,
                              occurred_at=occurred_at, lat=lat, lon=lon, address_text=address_text, private_result=private_result,
                              urgent=urgent, urgent_service=urgent_service, acknowledged=acknowledged, phone_verified=phone_verified)
            done = await asyncio.to_thread(submission.submit_report, ctx.uow(), taxonomy, api.command(body, caller, idempotency_key))
        except DomainError as exc:
            return await call_center_page(request, http_status(exc), values=values, error=exc.detail)
        return await call_center_page(request, 200 if done.replayed else 201, saved=done.report)

    # ---- the IOC's step 1: the queue and one report's console

    engine = sla.default_engine()  # steps 1 and 2 share the window, on the IOC's 24/7 clock

    def standing(r, now: datetime):
        due = engine.due(sla.Step.DISPATCH, r.received_at, urgent=bool(r.urgent))
        return due, sla.standing_of(due, now, start=r.received_at)

    def work_page(cursor: str | None):
        """One page of step 1's work list (urgent first, then oldest, so by deadline), with each report's files."""
        page = handlers.work_list(ctx.uow(), None, cursor, None)
        with ctx.uow() as uow:
            files = {r.id: media.media_of(uow.session, r.id) for r in page.items}
        return page, files

    @router.get("/intake/queue")
    async def queue(request: Request, cursor: str | None = Query(default=None, max_length=500)):
        user = optional_user(request)
        away = pages.staff_only(request, user, roles.IOC)
        if away:
            return away
        try:
            page, files = await asyncio.to_thread(work_page, cursor)
        except DomainError as exc:  # a cursor that was not ours
            return pages.error(request, http_status(exc), exc.key)
        now = datetime.now(timezone.utc)
        return render(request, "queue.html", page=page, files=files, deadline=lambda r: standing(r, now))

    def console_data(user, report_id: str):
        report = handlers.get_report(ctx.uow(), report_id)
        lines = triage.history_of(ctx.uow(), user, report.id)
        _same, suggestions = duplicates.suggest(ctx.uow(), user, report.id)
        with ctx.uow() as uow:
            files = media.media_of(uow.session, report.id)
        return report, lines, suggestions, files

    async def console_page(request: Request, user, report_id: str, status_code: int = 200, **context) -> Response:
        report, lines, suggestions, files = await asyncio.to_thread(console_data, user, report_id)
        topics, topics_error = await asyncio.to_thread(_grouped, taxonomy)
        names = {t.code: t for group in topics for t in group["topics"]}
        due, stand = standing(report, datetime.now(timezone.utc))
        lang = _lang(request)
        side = 0 if lang == "en" else 1
        earlier = [(s.report.id, f"{s.report.tracking_code} — {s.report.title}") for s in suggestions
                   if s.same_reporter and s.earlier_than(report)]
        return render(request, "console.html", status_code, report=report, lines=lines, suggestions=suggestions, files=files,
                      topics=topics, topic=names.get(report.topic_code), due=due, standing=stand, open=report.status in WAITING,
                      outcomes=list(CallOutcome), done=request.query_params.get("done") if request.query_params.get("done") in DONE else None,
                      redactable=report.status in REDACTABLE_STATUSES, max_regions=MAX_REGIONS,
                      at_will_options=[(r.value, r.label[side]) for r in AT_WILL], earlier_options=earlier,
                      near_points=[[s.report.lat, s.report.lon] for s in suggestions if s.report.lat is not None],
                      channel_words=lambda r: Channel(r.channel).label[side] + (f" ({r.channel_name})" if r.channel_name else ""),
                      verification_words=lambda v: Verification(v).label[side],
                      actor_words=lambda line: _actor_words(line, lang), **context)

    @router.get("/intake/queue/{report_id}")
    async def console(request: Request, report_id: str):
        user = optional_user(request)
        away = pages.staff_only(request, user, roles.IOC)
        if away:
            return away
        try:
            return await console_page(request, user, report_id)
        except DomainError as exc:
            return pages.error(request, http_status(exc), exc.key)

    async def act(user, report_id: str, action: str, form) -> None:
        """One step-1 action from the console's forms, through the same use cases as the API."""
        def text(name: str) -> str:
            value = form.get(name, "")
            return value if isinstance(value, str) else ""

        if action == "accept":
            await asyncio.to_thread(handlers.accept_report, ctx.uow(), taxonomy, user, report_id, text("topic_code"),
                                    text("urgent") == "true", text("note"))
        elif action == "request-edit":
            await asyncio.to_thread(triage.request_edit, ctx.uow(), user, report_id, text("what"))
        elif action == "call":
            await asyncio.to_thread(triage.record_call, ctx.uow(), user, report_id, text("outcome"), text("note"))
        elif action == "refuse":
            await asyncio.to_thread(handlers.refuse_report, ctx.uow(), user, report_id, text("reason"), text("reason_text"))
        elif action == "duplicate":
            await asyncio.to_thread(triage.mark_duplicate, ctx.uow(), user, report_id, text("of"), text("note"))
        elif action == "classify":
            await asyncio.to_thread(triage.classify, ctx.uow(), user, report_id, text("state_secret") == "true", text("note"))
        elif action == "message":
            await asyncio.to_thread(triage.message_reporter, ctx.uow(), user, report_id, text("text"))
        else:
            raise NotFound(f"No action {action[:40]}.", f"Không có thao tác {action[:40]}.")

    @router.post("/intake/queue/{report_id}/media/{media_id}/redaction")
    async def redact(request: Request, report_id: str, media_id: str):
        """The IOC's choice for one photo or video (shown or withheld, the rectangles drawn on it): the API's use case."""
        user = optional_user(request)
        away = pages.staff_only(request, user, roles.IOC)
        if away:
            return away
        form = await request.form()
        try:
            blur = _blur_from_form(form.get("blur", ""))
            await asyncio.to_thread(redaction.save, ctx.uow(), storage, user, report_id, media_id, form.get("public") == "true", blur)
        except DomainError as exc:
            return await _console_or_error(request, user, report_id, exc, errors={f"media-{media_id[:36]}": exc.detail})
        return RedirectResponse(f"/intake/queue/{report_id[:36]}?done=redaction#media-{quote(media_id[:36])}", status_code=303)

    @router.post("/intake/queue/{report_id}/contact")
    async def contact(request: Request, report_id: str, purpose: str = Form("")):
        """The reporter's contact, released to this operator and audited; shown on this answer only (never in a URL)."""
        user = optional_user(request)
        away = pages.staff_only(request, user, roles.IOC)
        if away:
            return away
        try:
            reporter, _audit = await asyncio.to_thread(handlers.release_contact, ctx.uow(), user, report_id, purpose)
        except DomainError as exc:
            return await _console_or_error(request, user, report_id, exc, errors={"contact": exc.detail}, purpose=_echo(purpose))
        return await console_page(request, user, report_id, contact={"name": reporter.name, "phone": reporter.phone, "email": reporter.email})

    @router.post("/intake/queue/{report_id}/{action}")
    async def console_action(request: Request, report_id: str, action: str):
        user = optional_user(request)
        away = pages.staff_only(request, user, roles.IOC)
        if away:
            return away
        form = await request.form()
        try:
            await act(user, report_id, action, form)
        except DomainError as exc:
            typed = {k: _echo(v) for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
            return await _console_or_error(request, user, report_id, exc, errors={action: exc.detail}, typed={action: typed})
        return RedirectResponse(f"/intake/queue/{report_id[:36]}?done={action}#history", status_code=303)

    async def _console_or_error(request: Request, user, report_id: str, exc: DomainError, **context) -> Response:
        try:
            return await console_page(request, user, report_id, http_status(exc), **context)
        except DomainError as again:
            return pages.error(request, http_status(again), again.key)

    return router


def _lang(request: Request) -> str:
    from paht.runtime.web.language import pick_language

    return pick_language(request)


def _actor_words(line, lang: str) -> str:
    """Who acted on a history line, for the IOC: the operator's account, the reporter, the procedure, a partner app."""
    words = {"staff": ("operator", "cán bộ"), "reporter": ("the reporter", "người phản ánh"), "system": ("automatic", "tự động"),
             "partner": ("partner app", "ứng dụng đối tác")}.get(line.actor_kind, (line.actor_kind, line.actor_kind))
    word = words[0] if lang == "en" else words[1]
    return f"{word} {line.actor}" if line.actor else word


def _status_words(status: str, lang: str) -> str:
    """Where a report stands, in words ("waiting for the IOC's check (step 1)")."""
    try:
        en, vi = Status(status).label
    except ValueError:
        return status
    return en if lang == "en" else vi


def _report_in(*, name: str, email: str, phone: str, kind: str, title: str, description: str, topic_code: str, occurred_at: str,
               lat: str, lon: str, address_text: str, private_result: bool, urgent: bool, urgent_service: str, acknowledged: bool,
               phone_verified: bool = False) -> api.ReportIn:
    """A form's fields as the API's body, so that a form post and a JSON post follow exactly the same rules."""
    try:
        return api.ReportIn.model_validate({
            "reporter": {"name": name, "email": email, "phone": phone, "kind": kind or "person"},
            "title": title, "description": description, "topic_code": topic_code, "location": _location(lat, lon),
            "address_text": address_text, "occurred_at": _when(occurred_at), "private_result": private_result,
            "urgent": urgent or bool(urgent_service.strip()), "urgent_service": (urgent_service.strip() or None) if urgent or urgent_service.strip() else None,
            "acknowledged": acknowledged, "phone_verified": phone_verified,
        })
    except ValidationError as exc:
        raise _invalid(exc) from None
