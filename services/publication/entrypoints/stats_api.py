"""The statistics API (IOC roles and the Steering Committee): the figures as JSON, CSV or XLSX.

GET /api/publication/v1/stats?from=YYYY-MM-DD&to=YYYY-MM-DD[&every=day|week|month][&group=&topic=&area=&agency=&channel=]
GET /api/publication/v1/stats.csv and /stats.xlsx: the same, and `lang=vi|en` for the exports' wording.
A parameter that is not one of these, a day that is not one, a reversed or over-long period, or a code nobody knows
is a 400 with the reason in both languages.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.web.language import pick_language
from services.publication.adapters.names import NamesCopy
from services.publication.domain.stats import OVERDUE_EXPORTED, PARAMETERS, StatsQuery
from services.publication.entrypoints.stats_export import tables, to_csv, to_xlsx
from services.publication.entrypoints.stats_views import stats_view
from services.publication.service_layer import stats

STATS_READERS = (*roles.IOC, *roles.STEERING)  # who may see the statistics (pages and API alike)
# On a hub the statistics are its area's (its read-only copy): its coordinators and unit leaders, who act as the
# district IOC, read them too.
HUB_STATS_READERS = (*STATS_READERS, roles.Role.AGENCY_COORDINATOR.value, roles.Role.UNIT_LEADER.value)


def stats_readers(settings) -> tuple[str, ...]:
    from paht.runtime import federation

    return HUB_STATS_READERS if federation.is_hub(settings) else STATS_READERS
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOC = {"from": "First day (YYYY-MM-DD, Vietnam time), inclusive; default: the first day of the month 11 months ago",
       "to": "Last day, inclusive (default today); at most 3 years after `from`",
       "every": "The series' bar: day (periods up to a year), week or month; default by the period's length"}


def build_router(ctx, names: NamesCopy | None = None) -> APIRouter:
    _optional, _current, require = ctx.auth
    names = names or NamesCopy(ctx.engine)
    reader = require(*stats_readers(ctx.settings))
    router = APIRouter(prefix="/api/publication/v1", tags=["statistics"])

    async def compute(request: Request, allowed: frozenset[str], limit: int) -> dict:
        now = datetime.now(timezone.utc)
        query = StatsQuery.parse(request.query_params, stats.today(now), allowed)
        known = await asyncio.to_thread(names.current)
        figures = await asyncio.to_thread(stats.figures, ctx.engine, known, query, now, limit)
        return stats_view(figures, known, now)

    # The parameters are read from the query string itself (any other is refused); these declarations document them.
    @router.get("/stats", summary="Statistics of a period: volumes, each step's time and on-time rate, agencies, satisfaction, overdue")
    async def statistics(request: Request, user: Principal = Depends(reader),
                         day_from: str | None = Query(None, alias="from", description=DOC["from"]),
                         day_to: str | None = Query(None, alias="to", description=DOC["to"]),
                         every: str | None = Query(None, description=DOC["every"]), group: str | None = None, topic: str | None = None,
                         area: str | None = None, agency: str | None = Query(None, description="A lead agency's id"),
                         channel: str | None = Query(None, description="web, app, call_center, partner_app or open311")):
        return await compute(request, PARAMETERS, stats.OVERDUE_SHOWN)

    async def export(request: Request, kind: str) -> Response:
        view = await compute(request, PARAMETERS | {"lang"}, OVERDUE_EXPORTED)
        lang = pick_language(request)
        parts = await asyncio.to_thread(tables, view, lang)
        name = f"paht-{'thong-ke' if lang == 'vi' else 'statistics'}_{view['period']['from']}_{view['period']['to']}"
        if view["filters"] and any(view["filters"].values()):
            name += "_" + "_".join(f"{k}-{v}" for k, v in view["filters"].items() if v)
        if kind == "csv":
            body, media = await asyncio.to_thread(to_csv, parts), "text/csv; charset=utf-8"
        else:
            body, media = await asyncio.to_thread(to_xlsx, parts), XLSX
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{kind}"',
                                                         "Cache-Control": "no-store"})

    @router.get("/stats.csv", summary="The same statistics as CSV (UTF-8 with BOM; each table a section)")
    async def statistics_csv(request: Request, user: Principal = Depends(reader)):
        return await export(request, "csv")

    @router.get("/stats.xlsx", summary="The same statistics as an Excel workbook (a sheet per table)")
    async def statistics_xlsx(request: Request, user: Principal = Depends(reader)):
        return await export(request, "xlsx")

    return router
