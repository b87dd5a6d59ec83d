"""Test doubles for handling: a small organisation directory of its own and an in-memory case repository."""
from __future__ import annotations

from datetime import datetime, timezone

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime.events.envelope import Envelope
from paht.runtime.paging import Page, check_limit, decode_cursor, encode_cursor
from services.handling.adapters.directory import OrgUnitInfo
from services.handling.adapters.repositories import WORK_LIST
from services.handling.domain.case import WORK_ORDER, CandidatePerson, Case
from services.handling.domain import visibility
from services.handling.domain.status import Scope

# A slice of a province: two agencies with their units, and the people of the transport department.
UNITS = [
    OrgUnitInfo("province", "Tỉnh Quảng Bình", "", "province"),
    OrgUnitInfo("so-gtvt", "Sở Giao thông vận tải", "province", "department"),
    OrgUnitInfo("so-gtvt-kcht", "Phòng Quản lý kết cấu hạ tầng giao thông", "so-gtvt", "unit"),
    OrgUnitInfo("so-gtvt-thanhtra", "Thanh tra Sở Giao thông vận tải", "so-gtvt", "unit"),
    OrgUnitInfo("so-xd", "Sở Xây dựng", "province", "department"),
    OrgUnitInfo("so-xd-qhkt", "Phòng Quy hoạch kiến trúc", "so-xd", "unit"),
]
PEOPLE = [
    CandidatePerson("sogtvt", "Điều phối Sở GTVT", "so-gtvt", ("agency_coordinator",), True),
    CandidatePerson("truongphong", "Trưởng phòng KCHT", "so-gtvt-kcht", ("unit_leader",), True),
    CandidatePerson("canbo", "Cán bộ KCHT 1", "so-gtvt-kcht", ("staff",), True),
    CandidatePerson("canbo2", "Cán bộ KCHT 2", "so-gtvt-kcht", ("staff",), True),
    CandidatePerson("nghihuu", "Cán bộ đã nghỉ", "so-gtvt-kcht", ("staff",), False),
    CandidatePerson("vanthu", "Văn thư KCHT", "so-gtvt-kcht", ("clerk",), True),
    CandidatePerson("thanhtra", "Chánh thanh tra", "so-gtvt-thanhtra", ("unit_leader",), True),
    CandidatePerson("canbo-tt", "Cán bộ thanh tra", "so-gtvt-thanhtra", ("staff",), True),
    CandidatePerson("soxd", "Điều phối Sở XD", "so-xd", ("agency_coordinator",), True),
    CandidatePerson("truongphong-qhkt", "Trưởng phòng QHKT", "so-xd-qhkt", ("unit_leader",), True),
    CandidatePerson("canbo-qhkt", "Cán bộ QHKT", "so-xd-qhkt", ("staff",), True),
]


class FakeOrgDirectory:
    """An in-memory directory (by default the small data set above); counts the look-ups it answers."""

    def __init__(self, units: list[OrgUnitInfo] | None = None, people: list[CandidatePerson] | None = None):
        self.units = {u.id: u for u in (UNITS if units is None else units)}
        self.people = {p.subject: p for p in (PEOPLE if people is None else people)}
        self.calls = 0

    async def get_unit(self, unit_id: str) -> OrgUnitInfo | None:
        self.calls += 1
        return self.units.get(unit_id)

    async def get_person(self, subject: str) -> CandidatePerson | None:
        self.calls += 1
        return self.people.get(subject.strip().lower())

    async def list_people(self, org_unit_id: str, role: str = "") -> list[CandidatePerson]:
        self.calls += 1
        return sorted((p for p in self.people.values() if p.org_unit_id == org_unit_id and p.active and (not role or role in p.roles)),
                      key=lambda p: p.subject)


class InMemoryCaseRepository:
    """The same contract as SqlCaseRepository, on a dict: for use-case tests without a database."""

    def __init__(self, cases: list[Case] | None = None):
        self.cases = {c.report_id: c for c in cases or []}

    def get(self, report_id: str, *, for_change: bool = False) -> Case | None:
        return self.cases.get(report_id)

    def add(self, case: Case) -> None:
        self.cases[case.report_id] = case

    def work_list(self, person, status: str | None, cursor: str | None, limit: int | None, scope: Scope = Scope.IN_HAND) -> Page[Case]:
        limit = check_limit(limit)
        listed = {status} if status else (None if scope.statuses is None else {s.value for s in scope.statuses})
        rows = [c for c in self.cases.values() if visibility.sees(person, c) and (listed is None or c.status in listed)]
        for name, descending in reversed(WORK_ORDER):  # stable sorts, least significant key first
            rows.sort(key=lambda c: getattr(c, name), reverse=descending)
        total = len(rows)
        if cursor:
            after = decode_cursor(cursor, WORK_LIST)
            position = next((i for i, c in enumerate(rows) if [getattr(c, n) for n, _ in WORK_ORDER] == after), None)
            rows = rows[position + 1:] if position is not None else []
        page, more = rows[:limit], len(rows) > limit
        next_cursor = encode_cursor([getattr(page[-1], n) for n, _ in WORK_ORDER]) if more and page else None
        return Page(items=page, total=total, next_cursor=next_cursor, limit=limit)


class InMemoryCaseHistory:
    """The same contract as SqlCaseHistory, on a list (lines are kept as they are added)."""

    def __init__(self):
        self.lines = []

    def add(self, uow, line) -> None:
        self.lines.append(line)

    def of_case(self, report_id: str) -> list:
        return sorted((line for line in self.lines if line.report_id == report_id), key=lambda line: (line.at, line.id))


# --- events other services send to handling, as their outboxes would hold them -----------------

DUE = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)
GTVT = ("so-gtvt", "Sở Giao thông vận tải")


def envelope(ctx, producer: str, msg, report_id: str, version: int) -> Envelope:
    """Build the envelope another service's unit of work would have put in its outbox."""
    msg.meta.report_id, msg.meta.report_version = report_id, version
    return Envelope.for_event(msg, node_id=ctx.settings.node_id, service=producer, report_id=report_id, version=version)


def dispatched(ctx, report_id: str, version: int = 1, agency=GTVT, round: int = 1, due: datetime = DUE, urgent: bool = False,
               **facts) -> Envelope:
    """facts: title, reporter_kind, private_result, state_secret, note — as dispatch sends them."""
    msg = dispatch_ev.ReportDispatched(lead_agency=common_pb2.OrgRef(id=agency[0], name=agency[1]), round=round, urgent=urgent, **facts)
    msg.handling_due.FromDatetime(due)
    return envelope(ctx, "dispatch", msg, report_id, version)


def returned_by_ioc(ctx, report_id: str, version: int, reason: str = "Cần nêu rõ thời gian hoàn thành") -> Envelope:
    return envelope(ctx, "publication", publication_ev.PublicationReturned(reason=reason), report_id, version)


def clarification_requested(ctx, report_id: str, version: int, question: str = "Đề nghị cho biết thời gian thảm lại mặt đường",
                            due: datetime | None = None) -> Envelope:
    msg = publication_ev.ClarificationRequested(clarification_id="c-" + report_id[:8], question=question)
    if due is not None:
        msg.due_at.FromDatetime(due)
    return envelope(ctx, "publication", msg, report_id, version)
