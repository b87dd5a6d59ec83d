"""Routing for step 2: where a report was made, what its topic's fields are, and the ranked lead agencies
the IOC may confirm (domain/routing.py holds the rules; this module only gathers their inputs)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from paht.runtime.errors import NotFound
from paht.runtime.sla import VN
from paht.runtime.uow import UnitOfWork
from services.dispatch.domain.directory import OrgUnit, Topic
from services.dispatch.domain.dispatching import DispatchItem
from services.dispatch.domain.routing import Place, PlaceSource, Suggestion, needs_competence_reason, rank

MAX_SUGGESTIONS = 10


@dataclass(frozen=True)
class Suggestions:
    """What the IOC sees next to a report: its topic, its place, and the agencies to choose from, best first."""

    item: DispatchItem
    topic: Topic | None
    place: Place
    items: list[Suggestion]


def vn_day(at: datetime) -> date:
    """The Vietnamese calendar day of an instant: validity periods of the directory are such days."""
    return at.astimezone(VN).date()


def topic_of(uow: UnitOfWork, code: str) -> Topic | None:
    """Return the report's topic as the taxonomy knows it (a retired topic still names its fields)."""
    return uow.directory.topic(code) if code else None


def place_of(uow: UnitOfWork, item: DispatchItem, on: date) -> Place:
    """Return where the report was made: its map location inside a known boundary, else the area it names, else unknown."""
    codes: list[str] = []
    source = PlaceSource.NONE
    if item.location is not None:
        codes = list(uow.directory.locate(item.location[0], item.location[1], on))
        source = PlaceSource.LOCATION if codes else source
    if not codes and item.area_code:
        codes, source = [item.area_code], PlaceSource.AREA_CODE
    if not codes:
        return Place()
    serving = frozenset(u.id for u in uow.directory.units_serving(codes[0], on))
    return Place(source=source, area_codes=tuple(codes), serving=serving)


def hubs_serving(uow: UnitOfWork, item: DispatchItem, on: date, declared) -> tuple[list[str], list[str]]:
    """Where the report is (its area codes) and which of the `declared` hub nodes host an organisation serving that area."""
    place = place_of(uow, item, on)
    if not place.area_codes:
        return [], []
    hubs = {u.hub_node for u in uow.directory.units_serving(place.area_codes[0], on) if u.hub_node}
    return list(place.area_codes), sorted(h for h in hubs if h in declared)


def lead_candidates(uow: UnitOfWork, on: date) -> list[OrgUnit]:
    return [u for u in uow.directory.units(lead_only=True) if u.in_force(on)]


def needs_reason(uow: UnitOfWork, item: DispatchItem, agency: OrgUnit, now: datetime) -> bool:
    """Say whether dispatching the report to this agency needs the IOC's written reason (no competence for its topic here)."""
    on = vn_day(now)
    topic = topic_of(uow, item.topic_code)
    return needs_competence_reason(agency, list(topic.fields or []) if topic else [], place_of(uow, item, on))


def suggest(uow: UnitOfWork, report_id: str, now: datetime, limit: int = MAX_SUGGESTIONS) -> Suggestions:
    """Return the ranked lead agencies for a report; nothing is dispatched (the IOC confirms one)."""
    on = vn_day(now)
    with uow:
        item = uow.items.get(report_id)
        if item is None:
            raise NotFound(f"No dispatch record for report {report_id}.", f"Không có thông tin điều phối cho phản ánh {report_id}.")
        topic = topic_of(uow, item.topic_code)
        place = place_of(uow, item, on)
        ranked = rank(list(topic.fields or []) if topic else [], lead_candidates(uow, on), place, limit)
        return Suggestions(item=item, topic=topic, place=place, items=ranked)
