"""Handling's use cases without a database: a fake unit of work, an in-memory repository and a fake directory."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime.errors import InvalidInput, NotFound, StateConflict
from paht.runtime.events.envelope import Envelope
from tests.support.fakes import FakeUnitOfWork
from tests.support.handling import FakeOrgDirectory, InMemoryCaseHistory, InMemoryCaseRepository
from tests.support.services import principal
from services.handling.domain.case import Case
from services.handling.service_layer import handlers

DUE = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)
ANSWER = "Đã vá ổ gà trên đường Quang Trung ngày 12/3."
coordinator = principal("sogtvt", ["agency_coordinator"], "so-gtvt")
leader = principal("truongphong", ["unit_leader"], "so-gtvt-kcht")
staff = principal("canbo", ["staff"], "so-gtvt-kcht")
staff2 = principal("canbo2", ["staff"], "so-gtvt-kcht")


@pytest.fixture
def uow():
    return FakeUnitOfWork(cases=InMemoryCaseRepository([Case.open("r-1", "so-gtvt", "Sở Giao thông vận tải", 1, DUE)]),
                          history=InMemoryCaseHistory())


@pytest.fixture
def directory():
    return FakeOrgDirectory()


def kinds(uow) -> list[str]:
    return [type(e).__name__ for e, _, _ in uow.events]


def at_unit(uow, directory) -> None:
    asyncio.run(handlers.assign_unit(uow, directory, coordinator, "r-1", "so-gtvt-kcht"))


def test_assigning_a_unit_checks_it_in_the_directory_and_announces_it(uow, directory):
    with pytest.raises(InvalidInput):
        asyncio.run(handlers.assign_unit(uow, directory, coordinator, "r-1", "no-such-unit"))
    with pytest.raises(InvalidInput):
        asyncio.run(handlers.assign_unit(uow, directory, coordinator, "r-1", "so-xd-qhkt"))
    calls = directory.calls
    with pytest.raises(InvalidInput):  # a control character never reaches the directory
        asyncio.run(handlers.assign_unit(uow, directory, coordinator, "r-1", "so-gtvt\x00"))
    assert directory.calls == calls and uow.events == []
    case = asyncio.run(handlers.assign_unit(uow, directory, coordinator, "r-1", "so-gtvt-kcht"))
    assert (case.status, case.lead_unit_name, case.version) == ("awaiting_unit_leader", "Phòng Quản lý kết cấu hạ tầng giao thông", 1)
    event, rid, version = uow.events[0]
    assert (type(event), rid, version, event.level, event.unit.id) == (ev.CaseAssigned, "r-1", 1, ev.ASSIGNMENT_LEVEL_UNIT, "so-gtvt-kcht")


@pytest.mark.parametrize("subject", ["ghost-nobody", "canbo-tt", "nghihuu", "vanthu"])
def test_a_person_not_in_force_in_the_lead_unit_is_refused_and_nothing_changes(uow, directory, subject):
    at_unit(uow, directory)
    with pytest.raises(InvalidInput) as exc:
        asyncio.run(handlers.assign_staff(uow, directory, leader, "r-1", subject))
    assert subject in exc.value.detail_en and subject in exc.value.detail_vi
    case = uow.cases.get("r-1")
    assert (case.status, case.staff_subject, case.version, kinds(uow)) == ("awaiting_unit_leader", "", 1, ["CaseAssigned"])


def test_re_assignment_is_announced_and_only_the_new_person_drafts(uow, directory):
    at_unit(uow, directory)
    asyncio.run(handlers.assign_staff(uow, directory, leader, "r-1", "canbo"))
    handlers.draft_result(uow, staff, "r-1", ANSWER)
    case = asyncio.run(handlers.assign_staff(uow, directory, leader, "r-1", "CANBO2"))
    assert (case.status, case.staff_subject, case.draft_id) == ("in_progress", "canbo2", "")
    with pytest.raises(StateConflict):
        handlers.draft_result(uow, staff, "r-1", ANSWER)
    handlers.draft_result(uow, staff2, "r-1", ANSWER)
    assert kinds(uow) == ["CaseAssigned", "CaseAssigned", "ResultDrafted", "CaseAssigned", "ResultDrafted"]
    assert [e.staff_subject for e, _, _ in uow.events if isinstance(e, ev.CaseAssigned)] == ["", "canbo", "canbo2"]
    assert [v for _, _, v in uow.events] == [1, 2, 3, 4, 5]


def test_a_refused_step_stages_no_event(uow, directory):
    with pytest.raises(InvalidInput):
        handlers.refuse_by_agency(uow, coordinator, "r-1", "Khô")
    with pytest.raises(NotFound):
        handlers.refuse_by_agency(uow, coordinator, "r-404", "Không thuộc thẩm quyền")
    assert uow.events == [] and uow.cases.get("r-1").version == 0


def _envelope(msg, report_id: str = "r-1") -> Envelope:
    return Envelope.for_event(msg, node_id="n", service="dispatch", report_id=report_id, version=1, id="e-1")


def test_dispatch_opens_a_case_and_a_new_round_replaces_the_agency(uow):
    msg = dispatch_ev.ReportDispatched(round=1)
    msg.lead_agency.id, msg.lead_agency.name = "so-xd", "Sở Xây dựng"
    msg.handling_due.FromDatetime(DUE + timedelta(days=1))
    handlers.open_case_on_dispatch(uow, msg, _envelope(msg, "r-2"))
    assert (uow.cases.get("r-2").lead_agency_id, uow.cases.get("r-2").status) == ("so-xd", "awaiting_agency")
    msg.round = 2
    msg.lead_agency.id = "so-gtvt"
    handlers.open_case_on_dispatch(uow, msg, _envelope(msg, "r-1"))
    assert (uow.cases.get("r-1").round, uow.cases.get("r-1").lead_agency_id) == (2, "so-gtvt")
    msg.round, msg.lead_agency.id = 1, "so-xd"  # an older round: ignored, the case stays in round 2
    handlers.open_case_on_dispatch(uow, msg, _envelope(msg, "r-1"))
    assert (uow.cases.get("r-1").round, uow.cases.get("r-1").lead_agency_id) == (2, "so-gtvt")
    with pytest.raises(InvalidInput):
        handlers.open_case_on_dispatch(uow, dispatch_ev.ReportDispatched(round=3), _envelope(msg, "r-3"))
    assert uow.cases.get("r-3") is None


def test_a_return_by_the_ioc_that_cannot_apply_raises(uow):
    msg = publication_ev.PublicationReturned(reason="Cần bổ sung thời gian")
    with pytest.raises(StateConflict):
        handlers.reopen_on_return_by_ioc(uow, msg, _envelope(msg))
    with pytest.raises(NotFound):
        handlers.reopen_on_return_by_ioc(uow, msg, _envelope(msg, "r-404"))
    assert uow.cases.get("r-1").status == "awaiting_agency"


def test_the_work_list_pages_in_memory_as_in_sql(directory):
    cases = [Case.open(f"r-{n}", "so-gtvt", "Sở GTVT", 1, DUE + timedelta(hours=n % 3)) for n in range(7)]
    cases[6].urgent = True
    uow = FakeUnitOfWork(cases=InMemoryCaseRepository(cases), history=InMemoryCaseHistory())
    seen, cursor = [], None
    while True:
        page = handlers.work_list(uow, coordinator, cursor=cursor, limit=2)
        seen += [c.report_id for c in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == ["r-6", "r-0", "r-3", "r-1", "r-4", "r-2", "r-5"] and page.total == 7
    assert handlers.work_list(uow, staff).items == []
