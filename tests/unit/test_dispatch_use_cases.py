"""Dispatch's use cases on in-memory repositories: no database, the same unit-of-work shape."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from paht.handling.v1 import events_pb2 as handling_ev
from paht.runtime.errors import NotFound, StateConflict
from services.dispatch.domain.directory import OrgUnit
from services.dispatch.domain.dispatching import DispatchItem, Status
from services.dispatch.service_layer import handlers
from tests.support.fakes import FakeUnitOfWork
from tests.support.services import principal

IOC = principal("ioc", ["ioc_operator"], "ioc-tinh")


class Items:
    def __init__(self, *items: DispatchItem):
        self.items = {i.report_id: i for i in items}

    def get(self, report_id):
        return self.items.get(report_id)

    def add(self, item):
        self.items[item.report_id] = item


class Directory:
    def __init__(self, *units: OrgUnit):
        self.units = {u.id: u for u in units}

    def unit(self, unit_id):
        return self.units.get(unit_id)


class Refusal:
    report_id = "r1"


GTVT = OrgUnit(id="so-gtvt", code="SGTVT", name="Sở Giao thông vận tải", name_en="Department of Transport", kind="department",
               parent_id=None, hub_node="", can_lead=True, valid_from=date(2022, 5, 5))


def fresh_item() -> DispatchItem:
    return DispatchItem.accepted("r1", datetime.now(timezone.utc) - timedelta(minutes=5), False, "t", "g")


def test_dispatch_emits_one_event_with_the_next_version():
    uow = FakeUnitOfWork(items=Items(fresh_item()), directory=Directory(GTVT))
    item = handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "  Gấp  ")
    ((event, report_id, version),) = uow.events
    assert (report_id, version, event.round, event.lead_agency.id, event.note, event.on_time) == ("r1", 1, 1, "so-gtvt", "Gấp", True)
    assert item.status == Status.DISPATCHED.value and event.meta.actor.subject == "ioc"


def test_an_urgent_report_is_dispatched_as_urgent_so_handling_puts_it_first():
    urgent = DispatchItem.accepted("r1", datetime.now(timezone.utc) - timedelta(minutes=5), True, "t", "g")
    uow = FakeUnitOfWork(items=Items(urgent), directory=Directory(GTVT))
    handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "")
    ((event, _report_id, _version),) = uow.events
    assert event.urgent


def test_unknown_reports_and_agencies_are_not_found_and_nothing_is_emitted():
    uow = FakeUnitOfWork(items=Items(fresh_item()), directory=Directory(GTVT))
    with pytest.raises(NotFound):
        handlers.dispatch_to_lead_agency(uow, IOC, "nope", "so-gtvt", "")
    with pytest.raises(NotFound):
        handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-nowhere", "")
    assert uow.events == []


def test_a_refusal_reopens_step_two_and_one_for_an_unknown_or_undispatched_report_is_raised():
    items = Items(fresh_item())
    uow = FakeUnitOfWork(items=items, directory=Directory(GTVT))
    with pytest.raises(StateConflict):  # never dispatched: the event cannot apply, so it is parked, not dropped
        handlers.on_case_refused_by_agency(uow, handling_ev.CaseRefusedByAgency(), Refusal())
    handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "")
    handlers.on_case_refused_by_agency(uow, handling_ev.CaseRefusedByAgency(), Refusal())
    assert items.get("r1").status == Status.REFUSED_BY_AGENCY.value and items.get("r1").lead_agency_id == ""
    with pytest.raises(NotFound):
        handlers.on_case_refused_by_agency(FakeUnitOfWork(items=Items()), handling_ev.CaseRefusedByAgency(), Refusal())
