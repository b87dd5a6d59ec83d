"""Render server-side pages with the shared layout, language and static files."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable
from urllib.parse import quote, urlencode

from functools import lru_cache

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from paht.runtime.roles import ALL as ALL_ROLES
from paht.runtime.roles import Role
from paht.runtime.web.language import (
    COOKIE_NAME,
    error_body,
    other_language,
    pick_language,
    query_language,
    translate,
)
from paht.runtime.web.security import CSRF_COOKIE, CSRF_FIELD, csrf_cookie_kwargs, is_csrf_token, new_csrf_token

WEB_DIR = Path(__file__).resolve().parent
SHARED_TEMPLATES = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PREFIX = "/static/"
COOKIE_MAX_AGE = 365 * 24 * 3600
VN_TIME = timezone(timedelta(hours=7), "ICT")  # Asia/Ho_Chi_Minh has no daylight saving


def static_url(path: str) -> str:
    """Return the public URL of a file under the shared static folder."""
    return STATIC_PREFIX + path.lstrip("/")


def local_time(value: object, fmt: str = "%H:%M %d/%m/%Y") -> str:
    """Format a datetime in Vietnam time.

    Naive values are taken as UTC: every PAHT store keeps UTC, and SQLite hands times back without
    their zone (intake's queue showed 7 hours early before this).
    """
    if isinstance(value, str):  # an ISO 8601 instant from an API view
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(VN_TIME).strftime(fmt)


def iso_time(value: object) -> str:
    """Return a machine-readable timestamp for a <time datetime> attribute."""
    return value.isoformat() if isinstance(value, datetime) else ("" if value is None else str(value))


def lang_switch_href(request: Request, lang: str) -> str:
    """Return a relative link to the same page in another language, keeping other query parameters."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    params.append(("lang", lang))
    return "?" + urlencode(params)


def build_environment(search_paths: list[Path]) -> jinja2.Environment:
    """Build a Jinja environment that looks in the services' folders first, then the shared one."""
    folders = [str(p) for p in search_paths] + [str(SHARED_TEMPLATES)]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code: no stat() of every template on every render
    )
    env.filters["local_time"] = local_time
    env.filters["iso_time"] = iso_time
    env.globals["static_url"] = static_url
    return env


def _on_hub(request: Request) -> bool:
    """Whether the page is served by a hub node (federation): it runs no portal or intake, so the citizens' links go."""
    ctx = getattr(getattr(request.app, "state", None), "ctx", None)
    settings = getattr(ctx, "settings", None)
    return bool(getattr(settings, "parent_node", ""))


class Pages:
    """Render a service's templates on top of the shared layout."""

    def __init__(self, search_paths: list[Path]):
        self.env = build_environment(list(search_paths))

    def render(self, request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
        """Render a template in the request's language and remember an explicit ?lang= choice."""
        lang = pick_language(request)
        token = request.cookies.get(CSRF_COOKIE)
        fresh_token = None if is_csrf_token(token) else new_csrf_token()
        field = Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(fresh_token or token))
        asked: list[bool] = []  # whether the page has a form: only then does a new visitor get the CSRF cookie

        def csrf_field() -> Markup:
            asked.append(True)
            return field

        values = {
            "csrf_field": csrf_field,
            "t": lambda key, **fmt: translate(lang, key, **fmt),
            "lang": lang,
            "other_lang": other_language(lang),
            "lang_switch_href": lang_switch_href(request, other_language(lang)),
            "request": request,
            "static_url": static_url,
            "on_hub": _on_hub(request),
            **context,
        }
        values["user"] = context.get("user")
        html = self.env.get_template(template).render(values)
        response = HTMLResponse(html, status_code=status_code)
        response.headers["Content-Language"] = lang
        response.headers["Vary"] = "Accept-Language, Cookie"
        if query_language(request):
            response.set_cookie(COOKIE_NAME, lang, max_age=COOKIE_MAX_AGE, path="/", samesite="lax")
        if fresh_token and asked:  # a page without a form sets no cookie (and can then be shared: publication's cache)
            response.set_cookie(**csrf_cookie_kwargs(fresh_token))
        return response

    def staff_only(self, request: Request, user, allowed: Iterable[str]) -> Response | None:
        """The one guard of staff pages: None when the signed-in person holds one of the roles; otherwise the
        sign-in page (signed out: back here afterwards) or a polite 403 naming the roles, in their language."""
        if user is None:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/auth/login?next=" + quote(here, safe="/?=&"), status_code=303)
        allowed = tuple(allowed)
        if not user.has(*allowed):
            needed = [Role(r).label for r in allowed if r in ALL_ROLES]
            return self.render(request, "forbidden.html", status_code=403, user=user, needed=needed)
        return None

    def error(self, request: Request, status: int, key: str, **fmt) -> HTMLResponse:
        """Render the shared error page for an HTTP status and a catalog key."""
        body = error_body(pick_language(request), status, key, **fmt)
        return self.render(request, "error.html", status_code=status, error=body["error"])


def mount_static(app) -> None:
    """Serve the shared static folder at /static on a FastAPI or Starlette app."""
    app.mount(STATIC_PREFIX.rstrip("/"), StaticFiles(directory=STATIC_DIR), name="static")


@lru_cache(maxsize=1)
def shared_pages() -> Pages:
    """Return a page renderer with only the shared templates (error pages outside any service)."""
    return Pages([])
