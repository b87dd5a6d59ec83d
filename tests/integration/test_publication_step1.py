"""Publication's public record and step 1's new events: a report the IOC flags as touching state secrets is on no
public list and has no public page; a cancellation carries the decision's reason; a reporter's edit before
acceptance is what the public then reads."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.errors import NotFound
from paht.runtime.events.consumer import Outcome
from paht.runtime.ids import new_id
from services.publication import bootstrap
from services.publication.service_layer import handlers
from tests.integration.test_publication_service import T0, Producer
from tests.support.services import deliver, migrated_context

pytestmark = pytest.mark.integration
CANCELLED_TEXT = "Phản ánh đến sau khi xác minh có yêu cầu chỉnh sửa nhưng sau 02 ngày vẫn không chỉnh sửa."


@pytest.fixture
def ctx(settings):
    c = migrated_context(bootstrap.SPEC, settings)
    yield c
    c.engine.dispose()


def intake(ctx, settings, report_id: str, private: bool = False):
    """The report's intake producer, with its ReportSubmitted delivered."""
    produce = Producer(settings.node_id, "intake", report_id)
    submitted = intake_ev.ReportSubmitted(tracking_code="QB-" + report_id[-8:-4].upper() + "-" + report_id[-4:].upper(), reporter_ref="rep-1",
                                          title="Ổ gà lớn trên đường Quang Trung", description="Ổ gà rộng nửa mét giữa làn xe máy.",
                                          topic_code="road-damage", address_text="120 Quang Trung", private_result=private)
    submitted.location.lat, submitted.location.lon = 17.4683, 106.6222
    submitted.received_at.FromDatetime(T0)
    assert deliver(ctx, produce(submitted, 0)) is Outcome.APPLIED
    return lambda event, minutes: deliver(ctx, produce(event, minutes))


def listed(ctx) -> set[str]:
    return {r.report_id for r in handlers.list_public_reports(ctx.uow(), 100)[0]}


def test_a_report_flagged_as_a_state_secret_before_acceptance_is_never_listed(ctx, settings):
    rid = new_id()
    send = intake(ctx, settings, rid)
    assert send(intake_ev.ReportClassified(state_secret=True), 5) is Outcome.APPLIED
    assert send(intake_ev.ReportAccepted(topic_code="road-damage", state_secret=True), 10) is Outcome.APPLIED
    assert rid not in listed(ctx)
    with pytest.raises(NotFound):
        handlers.get_public_report(ctx.uow(), rid)
    client = TestClient(bootstrap.build_http(ctx))
    assert client.get(f"/api/publication/v1/reports/{rid}").status_code == 404
    listing = client.get("/api/publication/v1/reports?limit=100")
    assert listing.status_code == 200 and rid not in listing.text
    assert send(intake_ev.ReportClassified(state_secret=False), 20) is Outcome.APPLIED  # the IOC clears the flag
    assert rid in listed(ctx)


def test_an_accepted_report_flagged_later_disappears_from_the_lists(ctx, settings):
    rid = new_id()
    send = intake(ctx, settings, rid)
    send(intake_ev.ReportAccepted(topic_code="road-damage"), 10)
    assert rid in listed(ctx)
    send(intake_ev.ReportClassified(state_secret=True), 20)
    assert rid not in listed(ctx)
    with pytest.raises(NotFound):
        handlers.find_by_tracking_code(ctx.uow(), "QB-" + rid[-8:-4].upper() + "-" + rid[-4:].upper())


def test_acceptance_carrying_the_flag_keeps_the_report_off_the_lists(ctx, settings):
    rid = new_id()
    send = intake(ctx, settings, rid)
    send(intake_ev.ReportAccepted(topic_code="road-damage", state_secret=True), 10)
    assert rid not in listed(ctx)


def test_clearing_the_flag_of_a_private_report_gives_it_back_to_its_reporter_only(ctx, settings):
    rid = new_id()
    send = intake(ctx, settings, rid, private=True)
    send(intake_ev.ReportClassified(state_secret=True), 5)
    send(intake_ev.ReportClassified(state_secret=False), 6)
    with ctx.uow() as uow:
        assert uow.reports.get(rid).visibility == "reporter_only"


def test_a_cancellation_carries_the_decision_s_reason(ctx, settings):
    rid = new_id()
    send = intake(ctx, settings, rid)
    cancelled = intake_ev.ReportCancelled(reason=intake_ev.REFUSAL_REASON_EDIT_NOT_DONE, reason_text=CANCELLED_TEXT)
    assert send(cancelled, 60 * 49) is Outcome.APPLIED
    with ctx.uow() as uow:
        report = uow.reports.get(rid)
        assert (report.status, report.refusal_text) == ("cancelled", CANCELLED_TEXT)
        assert [(e.kind, e.note) for e in uow.timeline.of_report(rid)][-1] == ("cancelled", CANCELLED_TEXT)
    assert rid not in listed(ctx)
    # the decision: a cancelled report is posted under "not eligible", with its reason
    assert rid in {r.report_id for r in handlers.list_not_eligible(ctx.uow(), 100)[0]}


def test_the_reporter_s_edit_before_acceptance_is_what_the_public_then_reads(ctx, settings):
    rid = new_id()
    send = intake(ctx, settings, rid)
    edited = intake_ev.ReportEdited(title="Ổ gà lớn trước số nhà 120 Quang Trung", description="Ổ gà rộng nửa mét, sâu 20 cm.",
                                    topic_code="road-damage", address_text="Trước số 120 Quang Trung")
    assert send(edited, 30) is Outcome.APPLIED  # the pin was removed: only the address says where
    send(intake_ev.ReportAccepted(topic_code="road-damage"), 40)
    report, _ = handlers.get_public_report(ctx.uow(), rid)
    assert (report.title, report.description, report.address_text, report.lat, report.lon) == (
        "Ổ gà lớn trước số nhà 120 Quang Trung", "Ổ gà rộng nửa mét, sâu 20 cm.", "Trước số 120 Quang Trung", None, None)
