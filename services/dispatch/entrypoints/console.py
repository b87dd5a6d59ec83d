"""The IOC dispatch console, the Steering Committee page and the emergency desk page: server-rendered, for a
desk and a 360 px phone, readable at 3 a.m. (large type; every colour also said in words).

- `/dispatch/console` (IOC roles; IOC operators act, editors and administrators only look): the step-2 work
  list in its order (urgent first, then the nearest deadline) with each report's time left, topic, area,
  the top routing suggestions and their reasons; one form per action, each with its CSRF field: dispatch to
  a suggestion in one click, dispatch to another agency (with the competence reason when it needs one),
  report to the Steering Committee, forward an urgent report to 113/114/115; on top, the forwards waiting
  for the desks' acknowledgement, those past the timeout in red.
- `/dispatch/steering` (Steering Committee members): the reports in dispute; decide by designating the lead agency.
- `/dispatch/emergency` (emergency desks): forwards to their service waiting for acknowledgement.

Every form posts, then redirects back (303) with what was done; a refusal from a use case re-shows the
page with the reason in the person's language (its 4xx status, never a 500). Signed-out people go to the
sign-in page; signed-in people without the role get a polite 403 page saying who the page is for.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm.exc import StaleDataError

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import ConcurrentChange, DomainError, InvalidInput, NotFound
from paht.runtime.http import http_status
from paht.runtime.ids import looks_like_id
from paht.runtime.paging import Page
from paht.runtime.sla import VN, Standing, standing_of
from paht.runtime.web import Pages, pick_language
from services.dispatch.domain.dispatching import DispatchItem
from services.dispatch.domain.emergency import EmergencyForward, EmergencyService, ForwardState
from services.dispatch.domain.routing import LOCAL_KINDS, Suggestion, kind_of
from services.dispatch.service_layer import directory, emergency, handlers, routing

pages = Pages([Path(__file__).parent / "templates"])
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript"}
QUEUE_PAGE_SIZE = 20       # reports on one screen of the console (each carries several forms)
STEERING_PAGE_SIZE = 20
SHOWN_SUGGESTIONS = 3      # one-click suggestions per report; the rest are in "another agency"
ESCALATION_CHOICES = 6     # suggestions offered as candidates when reporting to the Steering Committee
DONE = {"dispatched", "escalated", "withdrawn", "forwarded", "decided", "acknowledged"}


# --- words and times ----------------------------------------------------------------------------------------

def duration_words(delta: timedelta, lang: str) -> str:
    """A duration as people say it: "1 giờ 5 phút" / "1 h 5 min" (whole minutes; under a minute: "dưới 1 phút")."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes == 0:
        return "dưới 1 phút" if lang == "vi" else "under 1 min"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts_vi = [f"{days} ngày"] * bool(days) + [f"{hours} giờ"] * bool(hours) + [f"{mins} phút"] * bool(mins)
    parts_en = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{mins} min"] * bool(mins)
    return " ".join(parts_vi if lang == "vi" else parts_en)


@dataclass(frozen=True)
class TimeLeft:
    """How a report's step-2 deadline stands now, for its colour and its words (never colour alone)."""

    standing: Standing
    words: dict          # {"vi": ..., "en": ...}: "còn 42 phút", "quá hạn 5 phút", "đã chuyển 114 đúng hạn"


def time_left(item: DispatchItem, forwards: list[EmergencyForward], now: datetime) -> TimeLeft:
    """Green while under 80 % of the time is used, amber from 80 %, red once overdue (the SLA engine's standing); a
    forward to 113/114/115 made in time satisfies the urgent deadline (the report stays for a lead agency's follow-up)."""
    met = [f for f in forwards if f.on_time]
    if met:
        f = met[0]
        return TimeLeft(Standing.MET, {"vi": f"Đã chuyển {f.service} đúng hạn khẩn cấp",
                                       "en": f"Forwarded to {f.service} within the urgent deadline"})
    due = item.dispatch_due
    standing = standing_of(due, now, start=item.clock_start)
    if standing is Standing.OVERDUE:
        late = now - due
        return TimeLeft(standing, {"vi": f"Quá hạn {duration_words(late, 'vi')}", "en": f"Overdue by {duration_words(late, 'en')}"})
    left = {lang: duration_words(due - now, lang) for lang in ("vi", "en")}
    if standing is Standing.WARNING:
        return TimeLeft(standing, {"vi": f"Sắp hết hạn: còn {left['vi']}", "en": f"Due soon: {left['en']} left"})
    return TimeLeft(standing, {"vi": f"Còn {left['vi']}", "en": f"{left['en']} left"})


def waited_words(forward: EmergencyForward, now: datetime) -> dict:
    waited = now - forward.forwarded_at
    return {"vi": f"đã chờ {duration_words(waited, 'vi')}", "en": f"waiting {duration_words(waited, 'en')}"}


def short_id(report_id: str) -> str:
    """The end of a report id, enough for people to tell reports apart on one screen."""
    return report_id.rsplit("-", 1)[-1][-8:].upper()


# --- what the pages show -----------------------------------------------------------------------------------

@dataclass
class Card:
    """One report of the step-2 work list with everything the operator decides on."""

    item: DispatchItem
    topic: dict | None                 # {"vi", "en", "group_vi", "group_en"}
    area: dict | None                  # {"code", "name"}
    suggestions: list[Suggestion]
    more_suggestions: list[Suggestion]
    time: TimeLeft
    forwards: list[EmergencyForward]
    refusal: object | None             # the round whose refusal brought it back, with its reason

    @property
    def forwarded_services(self) -> set[str]:
        return {f.service for f in self.forwards}


@dataclass
class ConsoleView:
    cards: list[Card]
    total: int
    next_cursor: str | None
    agencies: list                     # lead agencies in force, for "another agency"
    awaiting: list[EmergencyForward]   # forwards waiting for acknowledgement, longest first
    late: list[EmergencyForward]       # of those, the ones past the acknowledgement timeout
    escalated: list[DispatchItem]
    names: dict = field(default_factory=dict)


def _vn_day(now: datetime):
    return now.astimezone(VN).date()


def area_of(suggested, names: dict) -> dict | None:
    """The report's area: its code and, when known, the local People's Committee serving exactly it."""
    place = suggested.place
    if not place.known:
        return None
    local = [names[i] for i in place.serving if i in names and kind_of(names[i]) in LOCAL_KINDS]
    local.sort(key=lambda u: (len(u.areas or []) or 999, u.name))  # the unit serving the fewest areas: the ward itself
    return {"code": place.area_code, "name": local[0].name if local else ""}


def console_view(ctx, cursor: str | None, now: datetime) -> ConsoleView:
    """Gather one screen of the console (runs in a worker thread: every call below is a use case)."""
    page: Page = handlers.dispatch_queue(ctx.uow(), cursor, QUEUE_PAGE_SIZE)
    ids = [i.report_id for i in page.items]
    forwards = emergency.forwards_of_reports(ctx.uow(), ids)
    cards, wanted = [], set()
    suggestions = {}
    for item in page.items:
        try:
            suggestions[item.report_id] = routing.suggest(ctx.uow(), item.report_id, now, limit=max(SHOWN_SUGGESTIONS, ESCALATION_CHOICES))
        except NotFound:
            continue  # dispatched by someone else while this page was being gathered
        wanted |= set(suggestions[item.report_id].place.serving)
    awaiting = emergency.awaiting(ctx.uow())
    escalated = handlers.steering_queue(ctx.uow(), None, 50).items
    wanted |= {c for e in escalated if e.pending_escalation for c in e.pending_escalation.candidates}
    names = handlers.agency_names(ctx.uow(), wanted)
    for item in page.items:
        suggested = suggestions.get(item.report_id)
        if suggested is None:
            continue
        topic = suggested.topic
        cards.append(Card(
            item=item,
            topic={"vi": topic.name, "en": topic.name_en or topic.name, "group_vi": topic.group_name,
                   "group_en": topic.group_name_en or topic.group_name} if topic else None,
            area=area_of(suggested, names),
            suggestions=suggested.items[:SHOWN_SUGGESTIONS],
            more_suggestions=suggested.items,
            time=time_left(item, forwards.get(item.report_id, []), now),
            forwards=forwards.get(item.report_id, []),
            refusal=item.last_refusal,
        ))
    agencies = directory.list_units(ctx.uow(), None, _vn_day(now), lead_only=True)
    late = [f for f in awaiting if f.unacknowledged_for(now) is not None]
    return ConsoleView(cards=cards, total=page.total, next_cursor=page.next_cursor, agencies=sorted(agencies, key=lambda u: u.name),
                       awaiting=awaiting, late=late, escalated=escalated, names=names)


def topic_names(ctx) -> dict[str, dict]:
    """Every topic's name in both languages, by code (topics retired since keep their code: shown as the code)."""
    return {t.code: {"vi": t.name, "en": t.name_en or t.name} for t in directory.list_topics(ctx.uow())}


def steering_view(ctx, cursor: str | None, now: datetime) -> tuple[Page, dict, list, dict]:
    page = handlers.steering_queue(ctx.uow(), cursor, STEERING_PAGE_SIZE)
    ids = {c for e in page.items if e.pending_escalation for c in e.pending_escalation.candidates}
    names = handlers.agency_names(ctx.uow(), ids)
    agencies = sorted(directory.list_units(ctx.uow(), None, _vn_day(now), lead_only=True), key=lambda u: u.name)
    return page, names, agencies, topic_names(ctx)


def desk_view(ctx, user: Principal) -> tuple[frozenset[str], list[EmergencyForward], dict[str, DispatchItem], dict]:
    """A desk's forwards waiting for acknowledgement, with their reports' step-2 facts (topic, area, place)."""
    services = emergency.desk_services(ctx.uow(), user)
    forwards = emergency.awaiting(ctx.uow(), services) if services else []
    items = {f.report_id: handlers.get_item(ctx.uow(), f.report_id) for f in forwards}
    return services, forwards, items, topic_names(ctx) if forwards else {}


# --- the router ----------------------------------------------------------------------------------------------

def build_router(ctx) -> APIRouter:
    optional_user, _current, _require = ctx.auth
    router = APIRouter(include_in_schema=False)

    def render(request: Request, template: str, status_code: int = 200, **context) -> Response:
        lang = pick_language(request)
        context.setdefault("now", datetime.now(timezone.utc))
        return pages.render(request, template, status_code, L=0 if lang == "en" else 1, short_id=short_id,
                            services=list(EmergencyService), states=ForwardState, duration_words=duration_words,
                            waited_words=waited_words, **context)

    def gate(request: Request, allowed: tuple[str, ...]) -> tuple[Principal | None, Response | None]:
        """The signed-in person if they hold one of the roles; else the sign-in page or a polite 403."""
        user = optional_user(request)
        away = pages.staff_only(request, user, allowed)
        return (None, away) if away else (user, None)

    async def console_page(request: Request, user: Principal, status_code: int = 200, error: dict | None = None,
                           error_report: str = "", kept: dict | None = None, cursor: str | None = None) -> Response:
        now = datetime.now(timezone.utc)
        try:
            view = await asyncio.to_thread(console_view, ctx, cursor, now)
        except InvalidInput as exc:  # a cursor from nowhere: the first page, and say why
            view = await asyncio.to_thread(console_view, ctx, None, now)
            status_code, error = 422, exc.detail
        done = request.query_params.get("done", "")
        return render(request, "console.html", status_code, user=user, view=view, now=now, error=error, error_report=error_report,
                      kept=kept or {}, can_act=user.has(*roles.DISPATCHERS), done=done if done in DONE else "",
                      done_report=request.query_params.get("report", "")[:36], done_service=request.query_params.get("service", "")[:3],
                      ack_timeout_delta=timedelta(seconds=ctx.settings.emergency_ack_timeout_s))

    def back(path: str, anchor: str = "", **params) -> RedirectResponse:
        query = urlencode({k: v for k, v in params.items() if v})
        return RedirectResponse(f"{path}{'?' + query if query else ''}{'#' + anchor if anchor else ''}", status_code=303)

    def refusal(exc: Exception) -> tuple[int, dict]:
        """The status and the words of a refusal: a use case's own, or someone else acting on the same report at once."""
        if isinstance(exc, StaleDataError):
            exc = ConcurrentChange("Someone else acted on this report at the same moment; here is the list as it is now.",
                                   "Phản ánh vừa được người khác xử lý cùng lúc; danh sách dưới đây là tình trạng mới nhất.")
        assert isinstance(exc, DomainError)
        return http_status(exc), {"vi": exc.detail_vi, "en": exc.detail_en}

    @router.get("/dispatch/static/{name}")
    async def static(name: str):
        if name not in STATIC_FILES:
            raise NotFound("No such file.", "Không có tệp này.")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "public, max-age=300"})

    # --- the IOC console ---------------------------------------------------------------------------------

    @router.get("/dispatch/console")
    async def console(request: Request, cursor: str = ""):
        user, denied = gate(request, roles.IOC)
        if denied:
            return denied
        return await console_page(request, user, cursor=cursor[:500] or None)

    @router.post("/dispatch/console/reports/{report_id}/{action}")
    async def act(request: Request, report_id: str, action: str):
        user, denied = gate(request, roles.DISPATCHERS)
        if denied:
            return denied
        if action not in {"dispatch", "escalate", "emergency", "withdraw"} or not looks_like_id(report_id):
            return pages.error(request, 404, "error.not_found")
        form = await request.form()
        value = lambda name: str(form.get(name) or "")  # noqa: E731  (a form field as text; files are never expected here)
        try:
            if action == "dispatch":
                agency = value("agency_id") or value("other_agency_id")
                if not agency:
                    raise InvalidInput("Choose the lead agency.", "Hãy chọn cơ quan chủ trì xử lý.", field="agency_id")
                await asyncio.to_thread(handlers.dispatch_to_lead_agency, ctx.uow(), user, report_id, agency, value("note"),
                                        value("competence_reason"))
                return back("/dispatch/console", "", done="dispatched", report=report_id)
            if action == "escalate":
                candidates = [str(c) for c in form.getlist("candidate_ids") if str(c)]
                await asyncio.to_thread(handlers.escalate, ctx.uow(), user, report_id, value("reason"), candidates)
                return back("/dispatch/console", "", done="escalated", report=report_id)
            if action == "withdraw":
                await asyncio.to_thread(handlers.withdraw_escalation, ctx.uow(), user, report_id, value("note"))
                return back("/dispatch/console", f"r-{report_id}", done="withdrawn", report=report_id)
            made = await asyncio.to_thread(emergency.forward_to_emergency, ctx.uow(), user, report_id, value("service"), value("note"),
                                           ctx.settings.emergency_ack_timeout_s)
            return back("/dispatch/console", "forwards", done="forwarded", report=report_id, service=made.service)
        except (DomainError, StaleDataError) as exc:
            status_code, message = refusal(exc)
            kept = {report_id: {k: str(v) for k, v in form.multi_items() if k not in ("csrf_token", "candidate_ids")}
                    | {"action": action, "candidate_ids": [str(c) for c in form.getlist("candidate_ids")]}}
            return await console_page(request, user, status_code, message, report_id, kept)

    # --- the Steering Committee ----------------------------------------------------------------------------

    async def steering_page(request: Request, user: Principal, status_code: int = 200, error: dict | None = None,
                            error_report: str = "", cursor: str | None = None) -> Response:
        now = datetime.now(timezone.utc)
        try:
            page, names, agencies, topics = await asyncio.to_thread(steering_view, ctx, cursor, now)
        except InvalidInput as exc:
            page, names, agencies, topics = await asyncio.to_thread(steering_view, ctx, None, now)
            status_code, error = 422, exc.detail
        done = request.query_params.get("done", "")
        return render(request, "steering.html", status_code, user=user, page=page, names=names, agencies=agencies, topics=topics, now=now,
                      error=error, error_report=error_report, done=done if done in DONE else "",
                      done_report=request.query_params.get("report", "")[:36], time_left=time_left)

    @router.get("/dispatch/steering")
    async def steering(request: Request, cursor: str = ""):
        user, denied = gate(request, roles.STEERING)
        if denied:
            return denied
        return await steering_page(request, user, cursor=cursor[:500] or None)

    @router.post("/dispatch/steering/reports/{report_id}/decision")
    async def decide(request: Request, report_id: str):
        user, denied = gate(request, roles.STEERING)
        if denied:
            return denied
        form = await request.form()
        agency = str(form.get("other_agency_id") or "") or str(form.get("agency_id") or "")
        try:
            if not agency:
                raise InvalidInput("Choose the agency the Committee designates.", "Hãy chọn cơ quan được Ban Chỉ đạo giao chủ trì.",
                                   field="agency_id")
            await asyncio.to_thread(handlers.decide, ctx.uow(), user, report_id, agency, str(form.get("decision") or ""))
        except (DomainError, StaleDataError) as exc:
            status_code, message = refusal(exc)
            return await steering_page(request, user, status_code, message, report_id)
        return back("/dispatch/steering", "", done="decided", report=report_id)

    # --- the emergency desks -----------------------------------------------------------------------------------

    async def desk_page(request: Request, user: Principal, status_code: int = 200, error: dict | None = None) -> Response:
        now = datetime.now(timezone.utc)
        services, forwards, items, topics = await asyncio.to_thread(desk_view, ctx, user)
        done = request.query_params.get("done", "")
        return render(request, "console_desk.html", status_code, user=user, forwards=forwards, items=items, topics=topics,
                      desk=sorted(services), now=now,
                      error=error, done=done if done in DONE else "", done_service=request.query_params.get("service", "")[:3])

    @router.get("/dispatch/emergency")
    async def desk(request: Request):
        user, denied = gate(request, (roles.Role.EMERGENCY_DESK.value,))
        if denied:
            return denied
        return await desk_page(request, user)

    @router.post("/dispatch/emergency/{forward_id}/ack")
    async def desk_ack(request: Request, forward_id: str):
        user, denied = gate(request, (roles.Role.EMERGENCY_DESK.value,))
        if denied:
            return denied
        form = await request.form()
        try:
            found, _changed = await asyncio.to_thread(emergency.acknowledge_in_console, ctx.uow, user, forward_id,
                                                      str(form.get("note") or ""), str(form.get("reference") or ""))
        except (DomainError, StaleDataError) as exc:
            status_code, message = refusal(exc)
            return await desk_page(request, user, status_code, message)
        return back("/dispatch/emergency", "", done="acknowledged", service=found.service)

    return router
