"""The built-in staff sign-in: OAuth2 password grant, revocation, OIDC discovery and JWKS, the login page.

Every attempt is throttled (services/dispatch/domain/sign_in.py) and its password checked in a small
pool of its own (services/dispatch/adapters/hashing.py); see docs/decisions/0011.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from paht.runtime.auth import Principal, TokenError, TokenIssuer
from paht.runtime.errors import DomainError, NotFound, TooManyRequests, Unavailable
from paht.runtime.http import TOKEN_COOKIE, http_status
from paht.runtime.proxies import client_address, public_base
from paht.runtime.web import Pages
from services.dispatch.adapters.hashing import HashingPool
from services.dispatch.domain.sign_in import Attempt
from services.dispatch.entrypoints.revocations import publish_now
from services.dispatch.service_layer import sign_in

pages = Pages([Path(__file__).parent / "templates"])


def _safe_next(target: str) -> str:
    """Only ever redirect within this site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def build_router(ctx) -> APIRouter:
    optional_user, current_user, _require = ctx.auth
    router = APIRouter(tags=["auth"])
    if not ctx.settings.token_private_key_file:
        # An external OIDC provider signs tokens; the built-in sign-in is off.
        @router.get("/auth/login", include_in_schema=False)
        async def external_login():
            raise NotFound(
                "Staff sign in through the province's identity provider, not here.",
                "Cán bộ đăng nhập qua hệ thống xác thực của tỉnh, không đăng nhập tại đây.",
            )

        return router
    issuer = TokenIssuer.from_settings(ctx.settings)
    pool = HashingPool(ctx.settings.sign_in_workers, ctx.settings.sign_in_queue)
    # Dispatch keeps the revocations: its own replicas read the table, whether or not NATS is up.
    ctx.verifier.revoked.consult(lambda jti: sign_in.is_revoked(ctx.uow(), jti))

    async def check(request: Request, username: str, password: str) -> tuple[str, dict]:
        attempt = Attempt.of(username, client_address(request, ctx.settings))
        # All of it in the sign-in pool, none on the threads other requests use; locked: 429 before any hashing.
        return await pool.run(sign_in.sign_in, ctx.uow(), issuer, attempt, password)

    async def revoke(user: Principal) -> bool:
        revoked = await asyncio.to_thread(sign_in.revoke, ctx.uow(), user)
        if revoked is None:
            return False
        ctx.verifier.revoked.add(*revoked)
        await publish_now(ctx, *revoked)
        return True

    @router.post("/auth/token", summary="Sign in (OAuth2 password grant); returns a bearer token")
    async def token(request: Request, username: str = Form(max_length=100), password: str = Form(max_length=200)):
        token, account = await check(request, username, password)
        return {"access_token": token, "token_type": "Bearer", "expires_in": issuer.ttl_s, "account": account}

    @router.post("/auth/revoke", summary="Sign out: this bearer token is refused by every service from now on")
    async def revoke_token(user: Principal = Depends(current_user)):
        return {"revoked": await revoke(user)}

    @router.get("/.well-known/openid-configuration", include_in_schema=False)
    async def discovery(request: Request):
        base = public_base(request, ctx.settings)  # never a client's X-Forwarded-Host unless a trusted proxy sent it
        return {
            "issuer": issuer.issuer,
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "token_endpoint": f"{base}/auth/token",
            "revocation_endpoint": f"{base}/auth/revoke",
            "grant_types_supported": ["password"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "claims_supported": ["sub", "name", "roles", "org_unit", "jti"],
        }

    @router.get("/.well-known/jwks.json", include_in_schema=False)
    async def jwks():
        return issuer.jwks()

    @router.get("/auth/login", include_in_schema=False)
    async def login_page(request: Request, next: str = "/"):
        user = await asyncio.to_thread(optional_user, request)
        return pages.render(request, "login.html", next=_safe_next(next), error=None, user=user)

    @router.post("/auth/login", include_in_schema=False)
    async def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")):
        try:
            token, _account = await check(request, username, password)
        except DomainError as exc:
            response = pages.render(request, "login.html", http_status(exc), next=_safe_next(next), error=exc.detail, user=None)
            if isinstance(exc, (TooManyRequests, Unavailable)):
                response.headers["Retry-After"] = str(getattr(exc, "retry_after_s", 5))
            return response
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(TOKEN_COOKIE, token, max_age=issuer.ttl_s, httponly=True, samesite="lax", path="/")
        return response

    @router.post("/auth/logout", include_in_schema=False)
    async def logout(request: Request):
        token = request.cookies.get(TOKEN_COOKIE, "")
        if token:
            try:
                await revoke(await asyncio.to_thread(ctx.verifier.verify, token))
            except TokenError:
                pass  # expired, foreign or already signed out: nothing left to revoke
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    return router
