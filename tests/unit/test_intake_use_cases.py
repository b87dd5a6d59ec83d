"""Intake's use cases on a fake unit of work with in-memory repositories: no database, no dispatch."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from paht.intake.v1 import events_pb2 as ev
from paht.runtime.errors import Forbidden, InvalidInput, NotFound, StateConflict, Unavailable
from paht.runtime.paging import Page
from services.intake.domain.report import ContactRelease, Report, Reporter
from services.intake.domain.vocabulary import WAITING, RefusalReason, Status
from services.intake.service_layer import handlers
from tests.support.fakes import FakeUnitOfWork
from tests.support.notices import InMemoryNotices
from tests.support.services import principal
from tests.support.taxonomy import FakeTaxonomy

IOC = principal("ioc", ["ioc_operator"], "ioc-tinh")
STAFF = principal("canbo", ["staff"], "so-gtvt-kcht")


class InMemoryReports:
    def __init__(self):
        self.rows: dict[str, Report] = {}
        self.asked: list[tuple] = []

    def add(self, report: Report) -> None:
        self.rows[report.id] = report

    insert_new = add

    def get(self, report_id: str) -> Report | None:
        return self.rows.get(report_id)

    def work_list(self, statuses, cursor, limit) -> Page[Report]:
        self.asked.append((statuses, cursor, limit))
        wanted = {s.value for s in statuses}
        items = sorted((r for r in self.rows.values() if r.status in wanted), key=lambda r: (not r.urgent, r.received_at, r.id))
        return Page(items=items, total=len(items))


class InMemoryReporters:
    def __init__(self):
        self.rows: dict[tuple[str, str], Reporter] = {}
        self.releases: list[ContactRelease] = []

    def find_or_add(self, reporter: Reporter) -> Reporter:
        return self.rows.setdefault((reporter.phone, reporter.email), reporter)

    def get(self, reporter_id: str) -> Reporter | None:
        return next((r for r in self.rows.values() if r.id == reporter_id), None)

    def record_release(self, release: ContactRelease) -> None:
        self.releases.append(release)


class RecordingSession:
    """Takes what a use case writes through the session (the history lines of adapters/history.py)."""

    def __init__(self):
        self.written: list = []

    def execute(self, statement, params=None):
        if getattr(statement, "is_select", False):  # a read (the report's files at acceptance): none in these tests
            return NoRows()
        self.written.append(params if params is not None else statement.compile().params)


class NoRows:
    def all(self) -> list:
        return []


@pytest.fixture
def uow():
    fake = FakeUnitOfWork(reports=InMemoryReports(), reporters=InMemoryReporters(), notices=InMemoryNotices())
    fake.session = RecordingSession()
    return fake


def submitted(uow, **change) -> Report:
    """A report as submission stores it (submitting itself is tested on real databases: test_intake_submission.py)."""
    values = dict(id=f"r{len(uow.reports.rows) + 1}", tracking_code=f"QB-TEST-{len(uow.reports.rows) + 1:04d}", reporter_id="p1", channel="web",
                  title="Rác thải đổ trộm ven sông Nhật Lệ", description="Nhiều bao rác sinh hoạt bị đổ trộm dưới chân cầu Nhật Lệ 2.",
                  lat=17.46, lon=106.63, now=datetime.now(timezone.utc))
    values.update(change)
    report = Report.submit(**values)
    report.next_version()  # ReportSubmitted was version 1
    uow.reporters.find_or_add(Reporter.new("p1", "Phan Thị Thu", "+84 912 345 678", "Thu@Example.vn", values["now"]))
    uow.reports.add(report)
    return report


def test_accept_takes_the_group_from_the_taxonomy(uow):
    report = submitted(uow)
    taxonomy = FakeTaxonomy()
    handlers.accept_report(uow, taxonomy, IOC, report.id, "road-damage", True, "Đã xác minh")
    event, _, version = uow.events[-1]
    assert isinstance(event, ev.ReportAccepted) and version == 2
    assert (event.topic_code, event.group_code, event.urgent, event.note) == ("road-damage", "infrastructure", True, "Đã xác minh")
    assert event.meta.actor.subject == "ioc" and taxonomy.lookups == ["road-damage"]


def test_accept_tells_who_reports_and_whether_the_result_is_private_without_personal_data(uow):
    """Handling (steps 3-7) addresses the answer and keeps it private from these facts, never from the reporter's record."""
    report = submitted(uow, reporter_kind="organisation", private_result=True)
    handlers.accept_report(uow, FakeTaxonomy(), IOC, report.id, "road-damage", False, "")
    event, _, _ = uow.events[-1]
    assert (event.reporter_kind, event.private_result, event.title) == ("organisation", True, "Rác thải đổ trộm ven sông Nhật Lệ")
    person = submitted(uow)
    handlers.accept_report(uow, FakeTaxonomy(), IOC, person.id, "road-damage", False, "")
    event, _, _ = uow.events[-1]
    assert (event.reporter_kind, event.private_result) == ("person", False)
    assert "Phan" not in str(event) and "912" not in str(event)


@pytest.mark.parametrize("topic, error", [("no-such-topic", InvalidInput), ("", InvalidInput), ("road\x00damage", InvalidInput)])
def test_accept_refuses_a_topic_that_is_missing_or_unknown(uow, topic, error):
    report = submitted(uow)
    with pytest.raises(error):
        handlers.accept_report(uow, FakeTaxonomy(), IOC, report.id, topic)
    assert report.status == "submitted" and uow.events == []


def test_accept_while_topics_cannot_be_checked_is_refused_and_changes_nothing(uow):
    report = submitted(uow)
    with pytest.raises(Unavailable):
        handlers.accept_report(uow, FakeTaxonomy(unavailable=True), IOC, report.id, "road-damage")
    assert report.status == "submitted" and report.group_code == "" and uow.events == []


def test_refuse_announces_the_reason_in_the_contract_vocabulary(uow):
    report = submitted(uow)
    handlers.refuse_report(uow, IOC, report.id, RefusalReason.UNCLEAR_OR_TEST, "Nội dung không rõ ràng, gửi thử.")
    event, _, version = uow.events[-1]
    assert isinstance(event, ev.ReportRefused) and version == 2
    assert event.reason == ev.REFUSAL_REASON_UNCLEAR_OR_TEST and event.reason_text == "Nội dung không rõ ràng, gửi thử."
    (line,) = uow.session.written
    assert (line["action"], line["actor"], line["to_reporter"]) == ("refused", "ioc", True)
    with pytest.raises(StateConflict):
        handlers.accept_report(uow, FakeTaxonomy(), IOC, report.id, "road-damage")
    assert len(uow.events) == 1


def test_unknown_reports_are_not_found(uow):
    with pytest.raises(NotFound):
        handlers.refuse_report(uow, IOC, "nope", "duplicate", "Trùng phản ánh")
    with pytest.raises(InvalidInput):  # a NUL in an id never reaches a database
        handlers.get_report(uow, "r\x00")


def test_contact_is_released_to_the_ioc_only_and_recorded(uow):
    report = submitted(uow)
    with pytest.raises(Forbidden):
        handlers.release_contact(uow, STAFF, report.id, "Gọi điện xác minh")
    with pytest.raises(InvalidInput):
        handlers.release_contact(uow, IOC, report.id, "ab")
    assert uow.reporters.releases == []
    reporter, audit_id = handlers.release_contact(uow, IOC, report.id, "Gọi điện xác minh")
    assert reporter.phone == "0912345678"
    (release,) = uow.reporters.releases
    assert dataclasses.astuple(release)[1:6] == (report.id, report.reporter_id, "ioc", "ioc-tinh", "Gọi điện xác minh") and release.id == audit_id


def test_the_work_list_defaults_to_the_reports_waiting_for_step_one(uow):
    handlers.work_list(uow)
    handlers.work_list(uow, Status.ACCEPTED, "c", 10)
    assert uow.reports.asked == [(WAITING, None, None), ((Status.ACCEPTED,), "c", 10)]
