"""Publication's pages: the public site (recent reports, one report, tracking, not eligible) and the IOC's step 8 queue."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from paht.runtime import roles
from paht.runtime.http import http_status
from paht.runtime.errors import DomainError, InvalidInput
from paht.runtime.sla import standing_of
from paht.runtime.text import is_clean
from paht.runtime.web import Pages, pick_language
from paht.runtime.web.language import COOKIE_NAME as LANGUAGE_COOKIE
from paht.runtime.web.security import CSRF_COOKIE, tile_origin, with_images_from
from services.publication.adapters.names import NamesCopy
from services.publication.domain.portal import FILTER_STATUSES, MAX_SPAN_DAYS, ReportFilter
from services.publication.domain.public_report import Step, place_deadlines
from services.publication.entrypoints import feedback_pages
from services.publication.entrypoints.cached import PublicAnswers
from services.publication.service_layer import feedback, handlers

pages = Pages([Path(__file__).parent / "templates"])
PAGE_SIZE = 20
MAX_PAGE = 5_000  # 100,000 reports back: deeper than anyone reads
QUEUE_PAGE_SIZE = 20  # answers on one screen of the step 8 queue (each carries two forms)
DECIDED = {"publish": "published", "return": "returned"}  # step 8's forms and what the queue then says
CLARIFICATION_DECIDED = {"publish": "clarification_published", "return": "clarification_returned"}  # the same for a clarification
MAP_CENTER = "17.4689,106.6223"  # Đồng Hới, where the map opens


def says(step: str, lang: str, as_status: bool = True) -> str:
    """Return a step's public wording (its status badge, or its timeline entry) in a language."""
    label = Step(step).status_label if as_status else Step(step).event_label
    return label.vi if lang == "vi" else label.en


pages.env.globals["says"] = says


def page_number(raw: str) -> int:
    """Read ?page=: absent is page 1; anything but a whole number from 1 to MAX_PAGE is refused (400)."""
    if not raw:
        return 1
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6 and 1 <= int(raw) <= MAX_PAGE):
        raise InvalidInput(f"There is no page '{raw[:20]}': pages are numbered from 1 to {MAX_PAGE}.",
                           f"Không có trang '{raw[:20]}': số trang từ 1 đến {MAX_PAGE}.", key="error.bad_page")
    return int(raw)


def filter_of(request: Request) -> ReportFilter:
    """The portal's filters from the page's query string (InvalidInput, bilingual, for a value that cannot be one)."""
    q = request.query_params
    return ReportFilter.parse(q=q.get("q", "")[:200], group=q.get("group", "")[:100], topic=q.get("topic", "")[:100],
                              area=q.get("area", "")[:100], status=q.get("status", "")[:40], day_from=q.get("from", "")[:20],
                              day_to=q.get("to", "")[:20])


def href(path: str, f: ReportFilter, **more) -> str:
    """A link to a portal page with the same filters (and, e.g., another page number)."""
    params = {**f.query(), **{k: v for k, v in more.items() if v}}
    return path + ("?" + urlencode(params) if params else "")


async def newest_page(use_case, uow_factory, raw_page: str):
    """Return (reports, page, more, total) for a public list; a page past the end shows the last page.

    A citizen following an old link expects the reports that are there now, not an error page; a
    number that cannot be a page at all is a clear 400.
    """
    page = page_number(raw_page)
    reports, total = await asyncio.to_thread(use_case, uow_factory(), PAGE_SIZE, (page - 1) * PAGE_SIZE)
    last = max(1, -(-total // PAGE_SIZE))
    if page > last:
        page = last
        reports, total = await asyncio.to_thread(use_case, uow_factory(), PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return reports, page, page * PAGE_SIZE < total or not total.exact, total


def timeline_view(report, timeline, lang: str, now: datetime) -> tuple[list[dict], list[dict]]:
    """The timeline as the page shows it, each step's deadline on the entry that ends it, and the steps still open."""
    placed, open_ = place_deadlines(report.deadlines(), timeline)

    def deadline(d) -> dict:
        return {"deadline": d.due_at, "on_time": d.on_time(now), "deadline_label": d.label.vi if lang == "vi" else d.label.en}

    entries = [{"kind": e.kind, "at": e.at, "note": e.note, "label": says(e.kind, lang, as_status=False),
                **(deadline(placed[e.id]) if e.id in placed else {})} for e in timeline]
    return entries, [deadline(d) for d in open_]


def bad_page(request: Request, exc: InvalidInput):
    """The shared error page for a page number that cannot be one, saying which numbers exist."""
    return pages.error(request, 400, exc.key)


ANONYMOUS_COOKIES = frozenset({LANGUAGE_COOKIE, CSRF_COOKIE})  # cookies that say nothing of who the visitor is


def is_anonymous(request: Request) -> bool:
    """Whether the visitor is no one in particular: no staff or reporter session, no token, no language chosen by
    ?lang= (that answer sets a cookie). Their page is the same for every such visitor in the same language."""
    return (not request.headers.get("authorization") and "lang" not in request.query_params
            and all(name in ANONYMOUS_COOKIES for name in request.cookies))


def render(request: Request, template: str, status_code: int = 200, **context):
    return pages.render(request, template, status_code, **context)


def build_router(ctx, names: NamesCopy | None = None, answers: PublicAnswers | None = None) -> APIRouter:
    optional_user, _current, _require = ctx.auth
    names = names or NamesCopy(ctx.engine)
    answers = answers or PublicAnswers()  # anonymous visitors' pages, as the public API's answers (≤ 2 s old)
    map_policy = with_images_from(tile_origin(ctx.settings.map_tiles_url))  # the tiles' origin for images only
    router = APIRouter(include_in_schema=False)

    async def portal(request: Request, template: str, status_code: int = 200, f: ReportFilter | None = None, **context):
        """Render a portal page with its filter form (names of groups, topics and areas from publication's copies)."""
        known = await asyncio.to_thread(names.current)
        f = f or ReportFilter()
        return render(request, template, status_code, user=optional_user(request), names=known, f=f, statuses=FILTER_STATUSES,
                      max_span=MAX_SPAN_DAYS, href=href, **context)

    async def shared(request: Request, make):
        """A public page: for an anonymous visitor the kept one (made once, then shared ≤ 2 s, cached.py), else made."""
        if is_anonymous(request):
            return await answers.answer(request, make, key=f"{pick_language(request)} {request.url}")
        return await make()

    @router.get("/")
    async def home(request: Request, page: str = ""):
        return await shared(request, lambda: home_page(request, page))

    async def home_page(request: Request, page: str = ""):
        try:
            f = filter_of(request)
        except InvalidInput as exc:  # a filter that cannot be one: the form again, saying why, and no list
            return await portal(request, "home.html", 422, error=exc.detail, reports=[], page=1, more=False, total=0)
        try:
            def use_case(uow, limit, offset):
                return handlers.search_public_reports(uow, f, limit, offset)
            reports, number, more, total = await newest_page(use_case, ctx.reads, page)
        except InvalidInput as exc:
            return bad_page(request, exc)
        return await portal(request, "home.html", f=f, reports=reports, page=number, more=more, total=total)

    @router.get("/map")
    async def report_map(request: Request):
        try:
            f = filter_of(request)
            status_code, error = 200, None
        except InvalidInput as exc:
            f, status_code, error = ReportFilter(), 422, exc.detail
        response = await portal(request, "map.html", status_code, f=f, error=error,
                                map={"tiles": ctx.settings.map_tiles_url, "attribution": ctx.settings.map_tiles_attribution,
                                     "center": MAP_CENTER, "api": href("/api/publication/v1/reports.geojson", f)})
        response.headers["Content-Security-Policy"] = map_policy
        return response

    @router.get("/reports/{report_id}")
    async def report(request: Request, report_id: str):
        return await shared(request, lambda: report_page(request, report_id))

    async def report_page(request: Request, report_id: str):
        refs = await feedback_pages.visitor_refs(request, ctx.reporter_identity)
        try:  # not public: its own reporter still sees it (a result sent to them only)
            found, timeline = await asyncio.to_thread(handlers.report_for_visitor, ctx.reads(), report_id, refs)
        except DomainError as exc:
            return pages.error(request, http_status(exc), exc.key)
        entries, open_deadlines = timeline_view(found, timeline, pick_language(request), datetime.now(timezone.utc))
        return render(request, "report.html", user=optional_user(request), report=found, timeline=entries, open_deadlines=open_deadlines,
                      **await feedback_pages.context(ctx, request, found, refs))

    @router.get("/track")
    async def track(request: Request, code: str = ""):
        if not code.strip():
            return render(request, "track.html", user=optional_user(request), code="", not_found=False)
        shown = code.strip()[:40] if is_clean(code) else ""  # never write control characters back into the page
        try:
            found = await asyncio.to_thread(handlers.find_by_tracking_code, ctx.reads(), code)
        except InvalidInput as exc:  # cannot be a code: say so rather than search for it
            return render(request, "track.html", 422, user=optional_user(request), code=shown, not_found=False, error=exc.detail)
        except DomainError:
            return render(request, "track.html", 404, user=optional_user(request), code=shown, not_found=True)
        if not found.is_public_record:  # before step 1: only that it awaits review, nothing a guesser could use
            return render(request, "track.html", user=optional_user(request), code=found.tracking_code, not_found=False, awaiting=found)
        return RedirectResponse(f"/reports/{quote(found.report_id)}", status_code=303)

    @router.get("/not-eligible")
    async def not_eligible(request: Request, page: str = ""):
        return await shared(request, lambda: not_eligible_page(request, page))

    async def not_eligible_page(request: Request, page: str = ""):
        try:
            reports, number, more, _total = await newest_page(handlers.list_not_eligible, ctx.reads, page)
        except InvalidInput as exc:
            return bad_page(request, exc)
        return render(request, "not_eligible.html", user=optional_user(request), reports=reports, page=number, more=more)

    def ioc_user(request: Request):
        """(user, None) for the IOC; (None, the sign-in page or a polite 403) for anyone else."""
        user = optional_user(request)
        away = pages.staff_only(request, user, roles.IOC)
        return (None, away) if away else (user, None)

    async def queue_page(request: Request, user, status_code: int = 200, error: dict | None = None, cursor: str | None = None,
                         done: str = "", decided=None):
        try:
            page = await asyncio.to_thread(handlers.editorial_queue, ctx.reads(), cursor, QUEUE_PAGE_SIZE)
        except InvalidInput as exc:  # a cursor from nowhere: start again at the first page
            page = await asyncio.to_thread(handlers.editorial_queue, ctx.reads(), None, QUEUE_PAGE_SIZE)
            status_code, error = 422, exc.detail
        waiting, waiting_total = await asyncio.to_thread(feedback.clarifications_for_ioc, ctx.reads(), QUEUE_PAGE_SIZE)
        return render(request, "editorial_queue.html", status_code, user=user, reports=page.items, total=page.total,
                      clarifications=waiting, clarifications_total=waiting_total,
                      next_cursor=page.next_cursor, error=error, now=datetime.now(timezone.utc), standing_of=standing_of,
                      done=done, decided=decided)

    @router.get("/publication/queue")
    async def queue(request: Request, cursor: str = "", done: str = "", report: str = ""):
        user, away = ioc_user(request)
        if away:
            return away
        decided = None
        if (done in DECIDED.values() or done in CLARIFICATION_DECIDED.values()) and report:  # back from publish or return: say which report went where
            decided = await asyncio.to_thread(handlers.decided_report, ctx.reads(), report[:100])
        return await queue_page(request, user, cursor=cursor[:500] or None, done=done if decided else "", decided=decided)

    @router.post("/publication/reports/{report_id}/{action}")
    async def decide(request: Request, report_id: str, action: str, answer_text: str = Form(""), reason: str = Form("")):
        user, away = ioc_user(request)
        if away:
            return away
        try:
            if action == "publish":
                await asyncio.to_thread(handlers.publish_result, ctx.uow(), user, report_id, answer_text)
            elif action == "return":
                await asyncio.to_thread(handlers.return_result, ctx.uow(), user, report_id, reason)
            else:
                return pages.error(request, 404, "error.not_found")
        except DomainError as exc:
            return await queue_page(request, user, http_status(exc), {"vi": exc.detail_vi, "en": exc.detail_en})
        return RedirectResponse(f"/publication/queue?{urlencode({'done': DECIDED[action], 'report': report_id})}", status_code=303)

    @router.post("/publication/clarifications/{clarification_id}/{action}")
    async def decide_clarification(request: Request, clarification_id: str, action: str, text: str = Form(""), reason: str = Form("")):
        user, away = ioc_user(request)
        if away:
            return away
        try:
            if action == "publish":
                await asyncio.to_thread(feedback.publish_clarification, ctx.uow(), user, clarification_id, text)
            elif action == "return":
                await asyncio.to_thread(feedback.return_clarification, ctx.uow(), user, clarification_id, reason)
            else:
                return pages.error(request, 404, "error.not_found")
        except DomainError as exc:
            return await queue_page(request, user, http_status(exc), {"vi": exc.detail_vi, "en": exc.detail_en})
        decided = await asyncio.to_thread(feedback.report_of_clarification, ctx.reads(), clarification_id)
        return RedirectResponse(f"/publication/queue?{urlencode({'done': CLARIFICATION_DECIDED[action], 'report': decided})}#done", status_code=303)

    return router
