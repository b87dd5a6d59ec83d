"""Who is submitting: a reporter with a verified phone, a partner app, or an IOC operator at the call centre.

The channel a report is recorded under comes from here, from the credential, never from the body:
a reporter session made through the site's pages is the web channel, one handed to an app is the
app channel, a partner key is that partner's channel, a staff token of the IOC is the call centre.
"""
from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from fastapi import Request

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import TooManyRequests, Unauthorized
from paht.runtime.http import bearer_token
from paht.runtime.web.security import REPORTER_COOKIE
from services.intake.adapters.rate import limiter_for
from services.intake.domain.vocabulary import Channel, Verification
from services.intake.service_layer import identity, partners

API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class Caller:
    kind: str                        # "reporter" | "partner" | "staff"
    owner: str                       # who uploaded a file: only the same caller may attach it
    channel: Channel
    verification: Verification
    channel_name: str = ""
    phone: str = ""                  # the verified phone of a reporter session
    user: Principal | None = None    # the operator, for the call centre
    partner: partners.PartnerApp | None = None
    session: identity.ReporterSession | None = None


def reporter_token(request: Request) -> str:
    """The reporter token of a request: `Authorization: Bearer rpt_…` (apps) or the site's cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer ") and header[7:].strip().startswith(identity.REPORTER_TOKEN_PREFIX):
        return header[7:].strip()
    return request.cookies.get(REPORTER_COOKIE, "")


def reporter_owner(phone: str) -> str:
    """Who owns a reporter's uploads and Idempotency-Keys: the verified phone (hashed), not one session's token, so
    that a draft sent again after signing in anew is still the same sender's."""
    return "reporter:" + hashlib.sha256(phone.encode()).hexdigest()[:32]


async def _reporter(ctx, token: str) -> Caller | None:
    session = identity.recent_session(ctx.engine, token) or await asyncio.to_thread(identity.session_for_token, ctx.engine, token)
    if session is None:
        return None
    channel = Channel.WEB if session.origin == "web" else Channel.APP
    return Caller("reporter", reporter_owner(session.phone), channel, Verification.OTP, phone=session.phone, session=session)


def _operator(user: Principal | None) -> Caller | None:
    if user is None or not user.has(*roles.IOC):
        return None
    return Caller("staff", f"staff:{user.subject}", Channel.CALL_CENTER, Verification.CALL, user=user)


async def resolve_caller(ctx, request: Request, optional_user, *, prefer_staff: bool = False) -> Caller | None:
    """Return who is calling, or None when the request carries no credential intake accepts for submitting.

    An Authorization header says it alone (an app's `rpt_…` token, or a staff token); then a partner's
    X-API-Key; then the browser's cookies: the reporter's, or the staff member's — the call centre's page
    asks for the staff one first (`prefer_staff`), so an operator who also holds a reporter cookie is still
    the operator there.
    """
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        given = header[7:].strip()
        if given.startswith(identity.REPORTER_TOKEN_PREFIX):
            return await _reporter(ctx, given)
        return _operator(optional_user(request))
    key = request.headers.get(API_KEY_HEADER, "")
    if key:
        partner = await asyncio.to_thread(partners.partner_for_key, ctx.engine, key)
        if partner is None:
            return None
        await asyncio.to_thread(hold_to_rate, ctx.engine, partner)
        return Caller("partner", f"partner:{partner.id}", Channel.PARTNER_APP,
                      Verification.PARTNER if partner.verifies_phone else Verification.NONE,
                      channel_name=partner.channel_name, partner=partner)
    cookie = request.cookies.get(REPORTER_COOKIE, "")
    operator = _operator(optional_user(request)) if bearer_token(request) else None
    if prefer_staff and operator is not None:
        return operator
    if cookie:
        reporter = await _reporter(ctx, cookie)
        if reporter is not None:
            return reporter
    return operator


def hold_to_rate(engine, partner: partners.PartnerApp) -> None:
    """Count a partner's request in its minute (shared by every replica); over its rate_per_minute: 429 with Retry-After."""
    allowed, retry_after = limiter_for(engine).hit(f"partner:{partner.id}", partner.rate_per_minute, 60)
    if not allowed:
        raise TooManyRequests(
            f"This partner app sent more than {partner.rate_per_minute} requests this minute: try again in {retry_after} seconds.",
            f"Ứng dụng đối tác đã gửi quá {partner.rate_per_minute} yêu cầu trong một phút: vui lòng thử lại sau {retry_after} giây.",
            retry_after_s=retry_after,
        )


def need_caller(caller: Caller | None) -> Caller:
    """Refuse a submission without a verified phone, a partner key or an IOC operator's sign-in."""
    if caller is None:
        raise Unauthorized(
            "Verify your phone number first (an SMS code), or use a partner app's API key.",
            "Vui lòng xác thực số điện thoại (mã OTP qua tin nhắn) trước khi gửi phản ánh, hoặc dùng khóa API của ứng dụng đối tác.",
        )
    return caller
