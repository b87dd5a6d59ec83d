"""The built-in staff sign-in: OAuth2 password grant, OIDC discovery and JWKS, and the login page."""
from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from paht.runtime.auth import TokenIssuer
from paht.runtime.http import http_status
from paht.runtime.errors import DomainError, NotFound
from paht.runtime.http import TOKEN_COOKIE
from paht.runtime.web import Pages
from services.dispatch.service_layer import directory

pages = Pages([Path(__file__).parent / "templates"])


def _safe_next(target: str) -> str:
    """Only ever redirect within this site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _public_base(request: Request) -> str:
    """The address people use (the edge or the ingress), not this process's own."""
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    return f"{scheme}://{host}"


def build_router(ctx) -> APIRouter:
    optional_user, _current, _require = ctx.auth
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

    @router.post("/auth/token", summary="Sign in (OAuth2 password grant); returns a bearer token")
    async def token(username: str = Form(max_length=100), password: str = Form(max_length=200)):
        token, account = await asyncio.to_thread(directory.sign_in, ctx.uow(), issuer, username, password)
        return {"access_token": token, "token_type": "Bearer", "expires_in": issuer.ttl_s, "account": account}

    @router.get("/.well-known/openid-configuration", include_in_schema=False)
    async def discovery(request: Request):
        base = _public_base(request)
        return {
            "issuer": issuer.issuer,
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "token_endpoint": f"{base}/auth/token",
            "grant_types_supported": ["password"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "claims_supported": ["sub", "name", "roles", "org_unit"],
        }

    @router.get("/.well-known/jwks.json", include_in_schema=False)
    async def jwks():
        return issuer.jwks()

    @router.get("/auth/login", include_in_schema=False)
    async def login_page(request: Request, next: str = "/"):
        return pages.render(request, "login.html", next=_safe_next(next), error=None, user=optional_user(request))

    @router.post("/auth/login", include_in_schema=False)
    async def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")):
        try:
            token, _account = await asyncio.to_thread(directory.sign_in, ctx.uow(), issuer, username, password)
        except DomainError as exc:
            return pages.render(request, "login.html", http_status(exc), next=_safe_next(next), error={"vi": exc.detail_vi, "en": exc.detail_en}, user=None)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(TOKEN_COOKIE, token, max_age=issuer.ttl_s, httponly=True, samesite="lax", path="/")
        return response

    @router.post("/auth/logout", include_in_schema=False)
    async def logout():
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    return router
