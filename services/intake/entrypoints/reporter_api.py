"""Reporters who prove their phone over HTTP (SMS code, session, sign-out), partner apps' administration, and
the embedded run's page of demo codes.

A reporter asks for a code (POST /otp), types it (POST /otp/verify) and gets a session: the site keeps
it in the HttpOnly cookie `paht_reporter` (a JSON POST carrying it then needs the X-CSRF-Token header,
like the staff's cookie), an app gets a bearer token `rpt_…` to send as `Authorization: Bearer`.
"""
from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, Path as PathParam, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import Unauthorized
from paht.runtime.proxies import client_address
from paht.runtime.sms import SmsGateway, is_dev_outbox, mask_phone, sms_from
from paht.runtime.web import Pages
from paht.runtime.web.security import REPORTER_COOKIE
from services.intake.adapters.identity import otp_key
from services.intake.domain.identity import SESSION_TTL, SendLimits
from services.intake.domain.report import Reporter
from services.intake.entrypoints.callers import reporter_token
from services.intake.service_layer import identity, partners

pages = Pages([Path(__file__).parent / "templates"])
PREFIX = "/api/intake/v1"
NO_STORE = {"Cache-Control": "no-store"}  # answers holding a secret (a session token, an API key) are never cached
_CODE_IN_TEXT = re.compile(r"\b([0-9]{6})\b")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeRequestIn(Strict):
    phone: str = Field(max_length=20, examples=["0912345678"], description="A Vietnamese mobile number: 0912345678, +84912345678 or 84912345678.")


class CodeRequested(BaseModel):
    challenge_id: str = Field(description="Send it back with the code.")
    expires_at: str = Field(description="The code is valid until then (5 minutes).")
    resend_after_s: int = Field(description="Seconds before another code may be asked for this number.")


class VerifyIn(Strict):
    challenge_id: str = Field(max_length=36)
    phone: str = Field(max_length=20, examples=["0912345678"], description="The number the code was sent to.")
    code: str = Field(max_length=12, examples=["123456"], description="The 6 digits of the SMS.")
    session: Literal["token", "cookie"] = Field(
        default="token", description='"token": the session token is in the answer (apps); "cookie": it is set as the HttpOnly cookie paht_reporter (the site).')


class SessionOut(BaseModel):
    token: str | None = Field(default=None, description="Only for session=token: send it as `Authorization: Bearer rpt_…`. Shown once.")
    expires_at: str
    phone: str = Field(description="The verified number, masked (09xxxxx678).")
    origin: str = Field(description='"web" (cookie) or "app" (token).')


class MeOut(BaseModel):
    phone: str = Field(description="The verified number, masked (09xxxxx678).")
    origin: str
    expires_at: str


class PartnerIn(Strict):
    id: str = Field(max_length=40, examples=["smartcity-donghoi"], description="Lower-case letters, digits, hyphens.")
    name: str = Field(max_length=200, examples=["Ứng dụng Đồng Hới SmartCity"])
    channel_name: str = Field(max_length=60, examples=["smartcity-donghoi"], description="The channel its reports are recorded under.")
    rate_per_minute: int = Field(default=60, ge=1, le=partners.MAX_RATE, description="Requests per minute, shared by every replica; beyond: 429.")
    verifies_phone: bool = Field(default=False, description="The partner proves its users' phones itself (its reports count as verified).")


class PartnerOut(BaseModel):
    id: str
    name: str
    channel_name: str
    rate_per_minute: int
    verifies_phone: bool
    active: bool
    key_prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: str | None


class PartnerWithKey(BaseModel):
    partner: PartnerOut
    api_key: str = Field(description="Send it as the X-API-Key header. Shown this once: only its hash is kept.")


def _session_out(token: str | None, session: identity.ReporterSession) -> SessionOut:
    return SessionOut(token=token, expires_at=session.expires_at.isoformat(), phone=mask_phone(session.phone), origin=session.origin)


def _demo_message(m: dict) -> dict:
    found = _CODE_IN_TEXT.search(m.get("text", ""))
    return {"phone": mask_phone(m.get("phone", "")), "text": m.get("text", ""), "purpose": m.get("purpose", ""),
            "code": found.group(1) if found else "", "at": datetime.fromtimestamp(float(m.get("at", 0)), timezone.utc)}


def build_router(ctx, *, sms: SmsGateway | None = None, clock=None, otp: identity.Otp | None = None) -> APIRouter:
    """Return the routes; `otp` is the process's code desk (shared with the pages), `sms` replaces the gateway the
    settings choose and `clock` the time (tests)."""
    optional_user, current_user, require = ctx.auth
    admin = Depends(require(*roles.ADMINS))
    if otp is None:
        sms = sms if sms is not None else sms_from(ctx.settings)
        otp = identity.Otp(ctx.engine, otp_key(ctx.settings), sms, SendLimits.from_settings(ctx.settings), clock=clock or identity.utc_now)
    sms = otp.sms  # the gateway in use decides whether the development pages exist
    router = APIRouter()  # tags per route: "reporters", and "partner apps" for the administration

    @router.post(f"{PREFIX}/otp", status_code=202, tags=["reporters"], response_model=CodeRequested, summary="Send a one-time code by SMS to a phone",
                 description="Sends a 6-digit code valid 5 minutes; a newer code replaces the older ones. Limits: one code per "
                             f"{otp.limits.resend_after_s} s, {otp.limits.per_phone_hour} an hour and {otp.limits.per_phone_day} a day per "
                             f"number, {otp.limits.per_address_hour} an hour per client address; beyond: 429 with Retry-After. "
                             "422: not a Vietnamese mobile number. 503: the SMS provider did not take the message (nothing was counted).",
                 responses={422: {"description": "not a Vietnamese number"}, 429: {"description": "too many codes (Retry-After)"},
                            503: {"description": "SMS not sent"}})
    async def request_code(body: CodeRequestIn, request: Request):
        sent = await asyncio.to_thread(identity.request_code, otp, body.phone, client_address(request, ctx.settings))
        return CodeRequested(challenge_id=sent.challenge_id, expires_at=sent.expires_at.isoformat(), resend_after_s=sent.resend_after_s)

    @router.post(f"{PREFIX}/otp/verify", tags=["reporters"], response_model=SessionOut, summary="Check the code and open a reporter session (30 days)",
                 description="200: the phone is verified; with session=token the answer holds the token (origin app), with "
                             "session=cookie the HttpOnly, SameSite=Strict cookie paht_reporter is set (origin web). "
                             "422: wrong code (the answer says how many tries are left; the 5th wrong one locks the code). "
                             "409: the code is locked, expired, replaced by a newer one or used already: ask for a new code. 404: unknown challenge.",
                 responses={404: {"description": "unknown challenge"}, 409: {"description": "ask for a new code"},
                            422: {"description": "wrong code"}})
    async def verify(body: VerifyIn, response: Response):
        origin = "web" if body.session == "cookie" else "app"
        token, session = await asyncio.to_thread(identity.verify_code, otp, body.challenge_id, body.phone, body.code, origin)
        response.headers.update(NO_STORE)
        if body.session == "cookie":
            # Lax, not Strict: a reporter opening "my reports" from a link in an SMS is still signed in; every
            # state-changing request is guarded by the CSRF token anyway (CsrfGuard knows this cookie)
            response.set_cookie(REPORTER_COOKIE, token, max_age=int(SESSION_TTL.total_seconds()), httponly=True, samesite="lax", path="/")
            return _session_out(None, session)
        return _session_out(token, session)

    @router.post(f"{PREFIX}/session/sign-out", tags=["reporters"], summary="Sign the reporter out: the token or cookie is refused from now on",
                 description="Ends the session of the bearer token or of the cookie (then removed). Without a live session: signed_out false.")
    async def sign_out(request: Request, response: Response):
        token = reporter_token(request)
        ended = await asyncio.to_thread(identity.sign_out, ctx.engine, token) if token else False
        if REPORTER_COOKIE in request.cookies:
            response.delete_cookie(REPORTER_COOKIE, path="/", httponly=True, samesite="lax")
        return {"signed_out": ended}

    @router.get(f"{PREFIX}/me", tags=["reporters"], response_model=MeOut, summary="The signed-in reporter: masked phone and when the session ends",
                responses={401: {"description": "no live reporter session"}})
    async def me(request: Request):
        token = reporter_token(request)
        session = await asyncio.to_thread(identity.session_for_token, ctx.engine, token) if token else None
        if session is None:
            raise Unauthorized("Verify your phone number with an SMS code first.", "Vui lòng xác thực số điện thoại bằng mã OTP trước.")
        return MeOut(phone=mask_phone(session.phone), origin=session.origin, expires_at=session.expires_at.isoformat())

    # ---- partner apps (IOC administrators)

    @router.get(f"{PREFIX}/admin/partners", tags=["partner apps"], summary="List the partner apps (keys are never shown again)")
    async def list_partners(user: Principal = admin):
        return {"items": [p.as_json() for p in await asyncio.to_thread(partners.list_all, ctx.engine)]}

    @router.post(f"{PREFIX}/admin/partners", status_code=201, response_model=PartnerWithKey, tags=["partner apps"],
                 summary="Register a partner app; its API key is in this answer only", responses={409: {"description": "id or channel taken"}})
    async def create_partner(body: PartnerIn, response: Response, user: Principal = admin):
        partner, key = await asyncio.to_thread(partners.create, ctx.engine, id=body.id, name=body.name, channel_name=body.channel_name,
                                               rate_per_minute=body.rate_per_minute, verifies_phone=body.verifies_phone)
        response.headers.update(NO_STORE)
        return {"partner": partner.as_json(), "api_key": key}

    partner_id = PathParam(max_length=40)

    @router.post(f"{PREFIX}/admin/partners/{{partner_id}}/deactivate", response_model=PartnerOut, tags=["partner apps"],
                 summary="Deactivate a partner app: its key is refused from now on (its reports stay)")
    async def deactivate_partner(partner_id: str = partner_id, user: Principal = admin):
        return (await asyncio.to_thread(partners.deactivate, ctx.engine, partner_id)).as_json()

    @router.post(f"{PREFIX}/admin/partners/{{partner_id}}/rotate", response_model=PartnerWithKey, tags=["partner apps"],
                 summary="Give a partner app a new API key (in this answer only); the old one is refused from now on")
    async def rotate_partner(response: Response, partner_id: str = partner_id, user: Principal = admin):
        partner, key = await asyncio.to_thread(partners.rotate, ctx.engine, partner_id)
        response.headers.update(NO_STORE)
        return {"partner": partner.as_json(), "api_key": key}

    # ---- the embedded run's demo codes: these routes do not exist unless the dev outbox is in use outside production

    if is_dev_outbox(sms, ctx.settings):
        outbox = sms

        @router.get(f"{PREFIX}/dev/sms", include_in_schema=False)
        async def dev_sms(phone: str = Query(max_length=20)):
            number = Reporter.normalise_phone(phone)
            found = await asyncio.to_thread(outbox.recent, number, 10)
            shown = [_demo_message(m) for m in found]
            return {"development_only": True, "items": [{**m, "phone": number, "at": m["at"].isoformat()} for m in shown]}

        @router.get("/intake/dev/sms", include_in_schema=False)
        async def dev_sms_page(request: Request):
            found = await asyncio.to_thread(outbox.recent, None, 30)
            return pages.render(request, "dev_sms.html", user=optional_user(request), messages=[_demo_message(m) for m in found])

    return router
