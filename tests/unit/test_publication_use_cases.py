"""Publication's use cases and read model on a fake unit of work with in-memory repositories (no database)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.publication.v1 import events_pb2 as pub_ev
from paht.runtime.errors import InvalidInput, NotFound
from paht.runtime.events.envelope import Envelope
from paht.runtime.paging import Page
from services.publication.domain.public_report import PUBLIC_FIELDS, PublicReport, Step, TimelineEntry
from services.publication.service_layer import handlers, read_model
from tests.support.fakes import FakeUnitOfWork
from tests.support.services import principal

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=timezone.utc)
IOC = principal("op1", ["ioc_operator"], "ioc-tinh")
ANSWER = "Kính gửi Quý công dân: đèn đường đã được thay mới ngày 03/5."


class InMemoryReports:
    """The public records in a dict, with the same questions as SqlPublicReports."""

    def __init__(self):
        self.rows: dict[str, PublicReport] = {}

    def get(self, report_id: str, *, for_update: bool = False) -> PublicReport | None:
        return self.rows.get(report_id)

    def get_or_start(self, report_id: str) -> PublicReport:
        return self.rows.setdefault(report_id, PublicReport.placeholder(report_id))

    def by_tracking_code(self, code: str) -> PublicReport | None:
        return next((r for r in self.rows.values() if r.tracking_code == code and r.has_content), None)

    def _newest_first(self, keep, limit: int, offset: int):
        rows = sorted((r for r in self.rows.values() if keep(r)), key=lambda r: (r.received_at, r.report_id), reverse=True)
        return rows[offset:offset + limit], len(rows)

    def listed(self, limit: int, offset: int):
        return self._newest_first(lambda r: r.is_listed, limit, offset)

    def not_eligible(self, limit: int, offset: int):
        return self._newest_first(lambda r: r.is_public_record and r.step is Step.REFUSED, limit, offset)

    def editorial_queue(self, cursor, limit):
        rows = sorted((r for r in self.rows.values() if r.step is Step.APPROVED and r.has_content),
                      key=lambda r: (not r.urgent, r.approved_at, r.report_id))
        return Page(items=rows[: limit or 50], total=len(rows))


class InMemoryTimeline:
    def __init__(self):
        self.entries: list[TimelineEntry] = []

    def add(self, entry: TimelineEntry) -> None:
        self.entries.append(entry)

    def of_report(self, report_id: str) -> list[TimelineEntry]:
        return sorted((e for e in self.entries if e.report_id == report_id), key=lambda e: (e.at, e.id))


def envelope(event, report_id: str, producer: str, version: int, minutes: int) -> Envelope:
    at = T0 + timedelta(minutes=minutes)
    event.meta.report_id, event.meta.report_version = report_id, version
    event.meta.occurred_at.FromDatetime(at)
    return Envelope.for_event(event, node_id="test", service=producer, report_id=report_id, version=version,
                              id=f"e-{report_id}-{producer}-{version}", time=at.isoformat())


def apply(uow, handler, event, report_id: str, producer: str, version: int, minutes: int) -> None:
    with uow:
        handler(uow, event, envelope(event, report_id, producer, version, minutes))
        uow.commit()


def submitted_event(code: str = "QB-AAAA-BBBB", urgent: bool = False) -> intake_ev.ReportSubmitted:
    event = intake_ev.ReportSubmitted(tracking_code=code, reporter_ref="rep-1", title="Đèn đường hỏng", description="Ba cột đèn không sáng.",
                                      address_text="Lý Thường Kiệt", area_code="18856", urgent=urgent)
    event.location.lat, event.location.lon = 17.47, 106.62
    event.received_at.FromDatetime(T0)
    return event


@pytest.fixture
def uow():
    return FakeUnitOfWork(reports=InMemoryReports(), timeline=InMemoryTimeline())


def approved(uow, report_id: str = "r1", minutes: int = 60, urgent: bool = False) -> None:
    apply(uow, read_model.on_report_submitted, submitted_event(f"QB-{report_id.upper():0>4}-AAAA", urgent), report_id, "intake", 1, 0)
    apply(uow, read_model.on_report_accepted, intake_ev.ReportAccepted(topic_code="chieu-sang", urgent=urgent), report_id, "intake", 2, 5)
    apply(uow, read_model.on_result_approved, handling_ev.ResultApproved(answer_text=ANSWER), report_id, "handling", 1, minutes)


def test_the_submission_is_read_field_by_field_and_kept_out_of_public_lists(uow):
    apply(uow, read_model.on_report_submitted, submitted_event(), "r1", "intake", 1, 0)
    report = uow.reports.rows["r1"]
    assert (report.tracking_code, report.title, report.area_code, report.lat, report.received_at) == (
        "QB-AAAA-BBBB", "Đèn đường hỏng", "18856", 17.47, T0)
    assert all(getattr(report, name) not in ("", None) for name in PUBLIC_FIELDS if name != "topic_code")
    assert handlers.list_public_reports(uow) == ([], 0)
    with pytest.raises(NotFound):
        handlers.get_public_report(uow, "r1")
    assert handlers.find_by_tracking_code(uow, "qb-aaaa-bbbb").status == "submitted"  # its reporter still finds it

    apply(uow, read_model.on_report_accepted, intake_ev.ReportAccepted(topic_code="chieu-sang"), "r1", "intake", 2, 5)
    assert [r.report_id for r in handlers.list_public_reports(uow)[0]] == ["r1"]
    assert handlers.get_public_report(uow, "r1")[0].topic_code == "chieu-sang"


def test_the_leaders_return_and_the_iocs_return_are_named_apart(uow):
    approved(uow)
    apply(uow, read_model.on_result_returned, handling_ev.ResultReturned(reason="Bổ sung ảnh"), "r1", "handling", 2, 30)
    handlers.return_result(uow, IOC, "r1", "  Cần bổ sung ảnh sau khi thay đèn. ")
    kinds = [e.kind for e in uow.timeline.of_report("r1")]
    assert "returned_to_staff" in kinds and kinds[-1] == "returned_by_ioc"
    [(event, report_id, version)] = uow.events
    assert isinstance(event, pub_ev.PublicationReturned) and event.reason == "Cần bổ sung ảnh sau khi thay đèn."
    assert (report_id, version) == ("r1", 1) and uow.reports.rows["r1"].status == "returned_by_ioc"


def test_a_return_reason_with_a_nul_is_refused_before_anything_is_emitted(uow):
    approved(uow)
    with pytest.raises(InvalidInput):
        handlers.return_result(uow, IOC, "r1", "Cần bổ sung\x00 ảnh.")
    assert uow.events == [] and uow.reports.rows["r1"].status == "approved"
    assert [e.kind for e in uow.timeline.of_report("r1")][-1] == "approved"


def test_publish_emits_one_event_and_a_public_step(uow):
    approved(uow)
    report = handlers.publish_result(uow, IOC, "r1", None)
    assert report.status == "published" and report.public_answer == ANSWER
    [(event, _, version)] = uow.events
    assert isinstance(event, pub_ev.ResultPublished) and event.answer_text == ANSWER and version == 1
    assert uow.timeline.of_report("r1")[-1].step is Step.PUBLISHED


def test_the_approval_time_orders_the_step_8_queue(uow):
    approved(uow, "r1", minutes=90)
    approved(uow, "r2", minutes=60)
    approved(uow, "r3", minutes=120, urgent=True)
    page = handlers.editorial_queue(uow)
    assert [r.report_id for r in page.items] == ["r3", "r2", "r1"] and page.total == 3
    assert uow.reports.rows["r2"].approved_at == T0 + timedelta(minutes=60)


@pytest.mark.parametrize("report_id", ["\x00", "x" * 37, "../etc", "r1'--"])
def test_an_id_that_cannot_be_a_report_is_not_found(uow, report_id):
    with pytest.raises(NotFound) as err:
        handlers.publish_result(uow, IOC, report_id, None)
    assert report_id not in err.value.detail_en
    with pytest.raises(NotFound):
        handlers.get_public_report(uow, report_id)


def test_a_tracking_code_is_checked_before_it_is_looked_up(uow):
    with pytest.raises(InvalidInput):
        handlers.find_by_tracking_code(uow, "Q" * 100_000)
    with pytest.raises(NotFound):
        handlers.find_by_tracking_code(uow, "QB-NONE-NONE")


def test_every_field_of_the_submission_is_read_from_intakes_event_by_its_name():
    from services.publication.domain.public_report import SUBMISSION_FIELDS

    shaped = {"lat", "lon"}  # read from the event's location
    assert set(SUBMISSION_FIELDS) - shaped <= set(intake_ev.ReportSubmitted.DESCRIPTOR.fields_by_name)
