"""The statistics pages (IOC roles and the Steering Committee; signed out: the sign-in page; anyone else: 403):

/publication/stats             the figures of a period with their charts (server-drawn SVG, no script), the
                               tables, the links to the exports and the overdue list;
/publication/stats/monthly     the monthly report to print (A4): the month against the month before, the
                               agencies' satisfaction, the overdue list at month end.
A request that cannot be answered shows the form again with the reason in both languages (400).
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from urllib.parse import urlencode

from babel.numbers import format_decimal
from fastapi import APIRouter, Request

from paht.runtime.errors import DomainError
from paht.runtime.http import http_status
from paht.runtime.web import pick_language
from paht.runtime.terms import Channel
from services.publication.adapters.names import NamesCopy
from services.publication.domain.feedback import Score
from services.publication.domain.stats import PARAMETERS, BadStatsQuery, Every, StatsQuery, channel_label, parse_month, previous_month
from services.publication.entrypoints.pages import pages
from services.publication.entrypoints.stats_api import stats_readers
from services.publication.entrypoints.stats_views import month_label, monthly_view, stats_view
from services.publication.service_layer import stats

LOCALES = {"vi": "vi_VN", "en": "en_GB"}
EVERY_KEYS = {Every.DAY.value: "stats.every_day", Every.WEEK.value: "stats.every_week", Every.MONTH.value: "stats.every_month"}
UNITS = {"vi": ("giây", "phút", "giờ", "ngày"), "en": ("s", "min", "h", "d")}


def number(value, lang: str = "vi", digits: int = 0) -> str:
    """A number as people of the language write it (1.234,5 in Vietnamese, 1,234.5 in English); — for none."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=LOCALES.get(lang, "vi_VN"))


def percent(rate, lang: str = "vi") -> str:
    return "—" if rate is None else number(rate * 100, lang, 1) + " %"


def duration(seconds, lang: str = "vi") -> str:
    """A time in its two largest units: 45 phút, 3 giờ 20 phút, 2 ngày 4 giờ."""
    if seconds is None:
        return "—"
    s, m, h, d = UNITS.get(lang, UNITS["vi"])
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} {s}"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} {m}"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} {h} {minutes} {m}" if minutes else f"{hours} {h}"
    days, hours = divmod(hours, 24)
    return f"{number(days, lang)} {d} {hours} {h}" if hours else f"{number(days, lang)} {d}"


def charts(view: dict, lang: str) -> dict:
    """The bars of the page's charts, in the page's language."""
    def bars(rows, cls=""):
        return [{"label": r["name"][lang], "part": r["reports"], "text": number(r["reports"], lang), "cls": cls} for r in rows]

    def rate_class(rate) -> str:
        return "good" if rate is not None and rate >= 0.9 else "fair" if rate is not None and rate >= 0.7 else "poor"

    timed = [s for s in view["steps"] if s["timed"] is not None]
    return {
        "groups": bars(view["by_group"]), "groups_top": max((r["reports"] for r in view["by_group"]), default=0),
        "channels": bars(view["by_channel"], "alt"), "channels_top": max((r["reports"] for r in view["by_channel"]), default=0),
        "on_time": [{"label": s["name"][lang], "part": s["on_time_rate"] or 0, "text": percent(s["on_time_rate"], lang),
                     "cls": rate_class(s["on_time_rate"])} for s in timed],
    }


def width(part, whole, span: float = 100.0) -> str:
    """A bar's length as an SVG percentage of the chart (`span` for the longest; no inline style: the CSP allows none)."""
    if not part or not whole:
        return "0"
    return f"{min(span, span * part / whole):.3f}"


def change(this, before, lang: str = "vi", kind: str = "count") -> str:
    """This month against the month before: +12 (+5,0 %) for counts, +2,3 points for rates; — when either is unknown."""
    if this is None or before is None:
        return "—"
    if kind == "rate":
        points = (this - before) * 100
        return ("+" if points > 0 else "") + number(points, lang, 1) + (" điểm %" if lang == "vi" else " pts")
    diff = this - before
    text = ("+" if diff > 0 else "") + number(diff, lang)
    if before:
        text += " (" + ("+" if diff > 0 else "") + number(100 * diff / before, lang, 1) + " %)"
    return text


pages.env.globals["change"] = change
pages.env.filters["number"] = number
pages.env.filters["percent"] = percent
pages.env.filters["duration"] = duration
pages.env.globals["bar_width"] = width


def build_router(ctx, names: NamesCopy | None = None) -> APIRouter:
    optional_user, _current, _require = ctx.auth
    names = names or NamesCopy(ctx.engine)
    router = APIRouter(include_in_schema=False)
    readers = stats_readers(ctx.settings)

    def reader_of(request: Request):
        user = optional_user(request)
        return user, pages.staff_only(request, user, readers)

    def choices(known) -> dict:
        agencies = sorted((known.agencies or {}).values(), key=lambda a: a.vi)
        return {"groups": list(known.groups.values()), "names": known, "agencies": agencies,
                "channels": [(c.value, channel_label(c.value)) for c in Channel], "everies": list(EVERY_KEYS.items()), "every_keys": EVERY_KEYS}

    @router.get("/publication/stats")
    async def statistics(request: Request):
        user, away = reader_of(request)
        if away:
            return away
        lang, now = pick_language(request), datetime.now(timezone.utc)
        raw = {k: v[:40] for k, v in request.query_params.items() if k in PARAMETERS}
        known = await asyncio.to_thread(names.current)
        try:
            query = StatsQuery.parse(request.query_params, stats.today(now), PARAMETERS | {"lang"})
            figures = await asyncio.to_thread(stats.figures, ctx.engine, known, query, now)
        except DomainError as exc:
            return pages.render(request, "stats.html", http_status(exc), user=user, view=None, raw=raw, error=exc.detail,
                                monthly=_monthly_links(now), **choices(known))
        view = stats_view(figures, known, now)
        params = query.params()
        exports = {kind: f"/api/publication/v1/stats.{kind}?" + urlencode({**params, "lang": lang}) for kind in ("csv", "xlsx")}
        return pages.render(request, "stats.html", user=user, view=view, raw=params, error=None, exports=exports, charts=charts(view, lang),
                            monthly=_monthly_links(now), scores=list(Score), **choices(known))

    @router.get("/publication/stats/monthly")
    async def monthly(request: Request):
        user, away = reader_of(request)
        if away:
            return away
        lang, now = pick_language(request), datetime.now(timezone.utc)
        known = await asyncio.to_thread(names.current)
        unknown = sorted(k for k in request.query_params if k not in ("month", "lang"))
        try:
            if unknown:
                raise BadStatsQuery(f"Unknown parameter {', '.join(k[:30] for k in unknown[:5])}; use: month, lang.",
                                    f"Tham số không hợp lệ: {', '.join(k[:30] for k in unknown[:5])}; hãy dùng: month, lang.")
            month = parse_month(request.query_params.get("month"), stats.today(now))
            report = await asyncio.to_thread(stats.monthly, ctx.engine, known, month, now)
        except DomainError as exc:
            return pages.render(request, "stats_monthly.html", http_status(exc), user=user, report=None, error=exc.detail,
                                month_value=request.query_params.get("month", "")[:7], monthly=_monthly_links(now))
        view = monthly_view(report, known)
        return pages.render(request, "stats_monthly.html", user=user, report=view, error=None, month_value=view["month"],
                            title_month=month_label(report.month, lang), previous_title=month_label(previous_month(report.month), lang),
                            scores=list(Score), monthly=_monthly_links(now), generated_at=now)

    return router


def _monthly_links(now: datetime) -> dict:
    this = stats.today(now).replace(day=1)
    return {"this": this.strftime("%Y-%m"), "previous": previous_month(this).strftime("%Y-%m")}
