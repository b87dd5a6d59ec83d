"""Intake's use cases on a fake unit of work with in-memory repositories: no database, no dispatch."""
from __future__ import annotations

import dataclasses

import pytest

from paht.intake.v1 import events_pb2 as ev
from paht.runtime.errors import Forbidden, InvalidInput, NotFound, StateConflict, Unavailable
from paht.runtime.paging import Page
from services.intake.domain.report import ContactRelease, Report, Reporter
from services.intake.domain.vocabulary import WAITING, RefusalReason, Status
from services.intake.service_layer import handlers
from tests.support.fakes import FakeUnitOfWork
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


@pytest.fixture
def uow():
    return FakeUnitOfWork(reports=InMemoryReports(), reporters=InMemoryReporters())


def submission(**change) -> handlers.SubmitReport:
    values = dict(name="Phan Thị Thu", phone="+84 912 345 678", email="Thu@Example.vn", title="Rác thải đổ trộm ven sông Nhật Lệ",
                  description="Nhiều bao rác sinh hoạt bị đổ trộm dưới chân cầu Nhật Lệ 2.", lat=17.46, lon=106.63)
    values.update(change)
    return handlers.SubmitReport(**values)


def test_submitting_stores_the_report_and_announces_it_without_personal_data(uow):
    report = handlers.submit_report(uow, FakeTaxonomy(), submission(topic_code="waste-dumping", channel="call_center"))
    assert uow.reports.get(report.id) is report and report.status == "submitted"
    (event, report_id, version), = uow.events
    assert isinstance(event, ev.ReportSubmitted) and (report_id, version) == (report.id, 1)
    assert event.channel == ev.CHANNEL_CALL_CENTER and event.topic_code == "waste-dumping" and event.location.lat == 17.46
    raw = event.SerializeToString()
    assert b"912345678" not in raw and b"example.vn" not in raw and "Phan Thị Thu".encode() not in raw


def test_the_same_phone_and_email_are_one_reporter_however_typed(uow):
    first = handlers.submit_report(uow, FakeTaxonomy(), submission())
    second = handlers.submit_report(uow, FakeTaxonomy(), submission(phone="0912 345 678", email="thu@example.VN", name="Thu"))
    assert first.reporter_id == second.reporter_id and len(uow.reporters.rows) == 1


def test_a_bad_submission_stores_and_announces_nothing(uow):
    for cmd in [submission(title="\u200b" * 10), submission(description="Nội dung\x00 có ký tự NUL ở giữa."), submission(phone="12345"),
                submission(channel="fax"), submission(topic_code="no-such-topic")]:
        with pytest.raises(InvalidInput):
            handlers.submit_report(uow, FakeTaxonomy(), cmd)
    assert uow.reports.rows == {} and uow.reporters.rows == {} and uow.events == []


def test_a_suggested_topic_that_cannot_be_checked_is_not_stored(uow):
    with pytest.raises(Unavailable):
        handlers.submit_report(uow, FakeTaxonomy(unavailable=True), submission(topic_code="waste-dumping"))
    assert uow.reports.rows == {} and uow.events == []
    handlers.submit_report(uow, FakeTaxonomy(unavailable=True), submission())  # no topic: nothing to check
    assert len(uow.reports.rows) == 1


def test_accept_takes_the_group_from_the_taxonomy(uow):
    report = handlers.submit_report(uow, FakeTaxonomy(), submission())
    taxonomy = FakeTaxonomy()
    handlers.accept_report(uow, taxonomy, IOC, report.id, "road-damage", True, "Đã xác minh")
    event, _, version = uow.events[-1]
    assert isinstance(event, ev.ReportAccepted) and version == 2
    assert (event.topic_code, event.group_code, event.urgent, event.note) == ("road-damage", "infrastructure", True, "Đã xác minh")
    assert event.meta.actor.subject == "ioc" and taxonomy.lookups == ["road-damage"]


@pytest.mark.parametrize("topic, error", [("no-such-topic", InvalidInput), ("", InvalidInput), ("road\x00damage", InvalidInput)])
def test_accept_refuses_a_topic_that_is_missing_or_unknown(uow, topic, error):
    report = handlers.submit_report(uow, FakeTaxonomy(), submission())
    with pytest.raises(error):
        handlers.accept_report(uow, FakeTaxonomy(), IOC, report.id, topic)
    assert report.status == "submitted" and len(uow.events) == 1


def test_accept_while_topics_cannot_be_checked_is_refused_and_changes_nothing(uow):
    report = handlers.submit_report(uow, FakeTaxonomy(), submission())
    with pytest.raises(Unavailable):
        handlers.accept_report(uow, FakeTaxonomy(unavailable=True), IOC, report.id, "road-damage")
    assert report.status == "submitted" and report.group_code == "" and len(uow.events) == 1


def test_refuse_announces_the_reason_in_the_contract_vocabulary(uow):
    report = handlers.submit_report(uow, FakeTaxonomy(), submission())
    handlers.refuse_report(uow, IOC, report.id, RefusalReason.VERIFICATION_FAILED, "Không liên lạc được trong 2 ngày.")
    event, _, version = uow.events[-1]
    assert isinstance(event, ev.ReportRefused) and version == 2
    assert event.reason == ev.REFUSAL_REASON_VERIFICATION_FAILED and event.reason_text == "Không liên lạc được trong 2 ngày."
    with pytest.raises(StateConflict):
        handlers.accept_report(uow, FakeTaxonomy(), IOC, report.id, "road-damage")
    assert len(uow.events) == 2


def test_unknown_reports_are_not_found(uow):
    with pytest.raises(NotFound):
        handlers.refuse_report(uow, IOC, "nope", "duplicate", "Trùng phản ánh")
    with pytest.raises(InvalidInput):  # a NUL in an id never reaches a database
        handlers.get_report(uow, "r\x00")


def test_contact_is_released_to_the_ioc_only_and_recorded(uow):
    report = handlers.submit_report(uow, FakeTaxonomy(), submission())
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
