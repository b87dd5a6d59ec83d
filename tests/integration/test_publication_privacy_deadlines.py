"""Publication on a real database: privacy as one rule in every public output, step deadlines on the public timeline,
step 8 on the answer letter, and state secrets recorded but never published."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.publication.v1 import events_pb2 as pub_ev
from paht.runtime.events.consumer import Outcome
from paht.runtime.ids import new_id
from paht.runtime.sla import Step as SlaStep, default_engine
from services.publication.domain.public_report import LISTED, NOT_ELIGIBLE, PublicReport, Step, Visibility
from services.publication.service_layer import handlers
from fastapi.testclient import TestClient

from services.publication import bootstrap
from tests.integration.test_publication_service import IOC, T0, Producer, auth, csrf, grpc_report, org, story
from tests.support.services import deliver, migrated_context, outbox_envelopes, token_for

pytestmark = pytest.mark.integration
LETTER = ("Kính gửi: Quý cá nhân\n\nVấn đề quý cá nhân phản ánh, Đội chiếu sáng công cộng xin thông báo kết quả xử lý như sau:\n\n"
          "Đã thay ba bóng đèn hỏng.\n\nTrân trọng./.")


@pytest.fixture
def ctx(settings):
    c = migrated_context(bootstrap.SPEC, settings)
    yield c
    c.engine.dispose()


@pytest.fixture
def client(ctx):
    return TestClient(bootstrap.build_http(ctx))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def timed_story(node: str, report_id: str, *, due: dict[str, int], private: bool = False, state_secret: bool = False,
                approved: bool = True) -> list:
    """One report's events, each at T0 + minutes, with the deadlines (minutes after T0) the producers would carry.

    Accepted at 10, dispatched at 20, the unit assigned at 30, staff at 40, the draft at 50, approved at 60."""
    intake, dispatch, handling = (Producer(node, n, report_id) for n in ("intake", "dispatch", "handling"))
    base = story(node, report_id, private=private)
    submitted = base["intake"][0]
    agency, unit = org("Công ty Môi trường và Phát triển đô thị"), org("Đội chiếu sáng công cộng")
    sent = dispatch_ev.ReportDispatched(lead_agency=agency, round=1)
    for name in ("dispatch_due", "agency_due", "handling_due"):
        getattr(sent, name).FromDatetime(at(due[name]))
    drafted = handling_ev.ResultDrafted(draft_id="d1", answer_text="Đã thay ba bóng đèn hỏng.", unit=unit)
    drafted.approval_due.FromDatetime(at(due["approval_due"]))
    intake.version = 1
    events = [
        submitted,
        intake(intake_ev.ReportAccepted(topic_code="dien-nuoc-chieu-sang", state_secret=state_secret), 10),
        dispatch(sent, 20),
        handling(handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_UNIT, agency=agency, unit=unit), 30),
        handling(handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_STAFF, agency=agency, unit=unit, staff_subject="s1"), 40),
        handling(drafted, 50),
    ]
    if approved:
        events.append(handling(handling_ev.ResultApproved(draft_id="d1", answer_text="Đã thay ba bóng đèn hỏng.", answer_letter=LETTER,
                                                          unit=unit, agency=agency), 60))
    return events


def feed(ctx, events) -> None:
    for envelope in events:
        assert deliver(ctx, envelope) is Outcome.APPLIED


def test_each_step_deadline_is_on_the_entry_that_ends_it_met_or_missed_by_event_times(ctx, settings, client):
    report_id = new_id()
    # Steps 1-2 due at 25 (dispatched at 20: met); step 3 due at 25 (unit at 30: missed); 3-6 due at 55 (draft at 50: met);
    # step 7 due at 55 (approved at 60: missed).
    events = timed_story(settings.node_id, report_id, due={"dispatch_due": 25, "agency_due": 25, "handling_due": 55, "approval_due": 55})
    feed(ctx, events[3:] + events[2:3] + events[:2])  # handling's, then dispatch's, then intake's: any relative order
    view = client.get(f"/api/publication/v1/reports/{report_id}").json()
    steps = {e["kind"]: e for e in view["timeline"]}
    assert (steps["dispatched"]["deadline_step"], steps["dispatched"]["due_at"], steps["dispatched"]["on_time"]) == ("dispatch", at(25).isoformat(), True)
    assert (steps["assigned"]["deadline_step"], steps["assigned"]["due_at"], steps["assigned"]["on_time"]) == ("agency", at(25).isoformat(), False)
    assert (steps["drafted"]["deadline_step"], steps["drafted"]["on_time"]) == ("handling", True)
    assert (steps["approved"]["deadline_step"], steps["approved"]["on_time"]) == ("approval", False)
    for kind in ("submitted", "accepted", "in_progress"):
        assert steps[kind]["due_at"] is None and steps[kind]["on_time"] is None
    # Step 8 is open: its deadline (the SLA engine's, from the approval) is already past two days later.
    [open_] = view["open_deadlines"]
    assert open_["step"] == "publish" and datetime.fromisoformat(open_["due_at"]) == default_engine().due(SlaStep.PUBLISH, at(60))
    assert open_["on_time"] is False and open_["done_at"] is None and open_["label"]["vi"].startswith("Bước 8")

    handlers.publish_result(ctx.uow(), IOC, report_id, None)
    published = client.get(f"/api/publication/v1/reports/{report_id}").json()
    assert published["open_deadlines"] == []
    assert (published["timeline"][-1]["kind"], published["timeline"][-1]["deadline_step"], published["timeline"][-1]["on_time"]) == (
        "published", "publish", False)
    [event] = [e.decode() for e in outbox_envelopes(ctx) if e.type.endswith("ResultPublished")]
    assert event.on_time is False

    page = client.get(f"/reports/{report_id}").text
    assert page.count("Đúng hạn") == 2 and page.count("Trễ hạn") == 3 and "Bước 1–2: tiếp nhận" in page
    english = client.get(f"/reports/{report_id}?lang=en").text
    assert english.count(">On time<") == 2 and english.count(">Late<") == 3 and "Step 3: the lead agency assigns" in english


def test_a_new_dispatch_round_replaces_the_rounds_deadlines_and_an_old_round_arriving_late_does_not(ctx, settings, client):
    report_id = new_id()
    events = timed_story(settings.node_id, report_id, due={"dispatch_due": 25, "agency_due": 25, "handling_due": 55, "approval_due": 55},
                         approved=False)
    feed(ctx, events[:3])  # submitted, accepted, dispatched (round 1)
    dispatch = Producer(settings.node_id, "dispatch", report_id)
    dispatch.version = 1
    handling = Producer(settings.node_id, "handling", report_id)
    agency = org("Sở Giao thông vận tải")
    refused = handling(handling_ev.CaseRefusedByAgency(agency=agency, reason="Không thuộc thẩm quyền."), 22)
    again = dispatch_ev.ReportDispatched(lead_agency=agency, round=2)
    for name, minutes in (("dispatch_due", 23), ("agency_due", 35), ("handling_due", 500)):
        getattr(again, name).FromDatetime(at(minutes))
    second = dispatch(again, 24)
    assigned = handling(handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_UNIT, agency=agency, unit=org("Phòng Kết cấu hạ tầng")), 30)
    feed(ctx, [second, refused, assigned])
    view = client.get(f"/api/publication/v1/reports/{report_id}").json()
    dispatched = [e for e in view["timeline"] if e["kind"] == "dispatched"]
    assert [e["due_at"] for e in dispatched] == [None, at(23).isoformat()]  # round 1's deadlines were replaced
    assert dispatched[1]["on_time"] is False  # round 2 dispatched at 24, due at 23
    [unit] = [e for e in view["timeline"] if e["kind"] == "assigned"]
    assert unit["due_at"] == at(35).isoformat() and unit["on_time"] is True
    [open_] = view["open_deadlines"]
    assert open_["step"] == "handling" and open_["due_at"] == at(500).isoformat()

    with ctx.uow() as uow:  # round 1's event delivered again later changes nothing (an older round never replaces a newer one)
        report = uow.reports.get(report_id)
        report.record_dispatch_deadlines(at(20), at(25), at(25), at(55))
        assert report.dispatch_due == at(23) and report.handling_due == at(500)


def test_published_in_time_is_on_time_on_the_timeline_and_in_the_event(ctx, settings, client):
    report_id = new_id()
    now = int((datetime.now(timezone.utc) - T0).total_seconds() // 60)
    events = timed_story(settings.node_id, report_id, due={"dispatch_due": 25, "agency_due": 35, "handling_due": 55, "approval_due": 65})
    approved = events[-1].decode()
    approved.meta.occurred_at.FromDatetime(at(now - 5))  # approved five minutes ago
    handling = Producer(settings.node_id, "handling", report_id)
    handling.version = 3
    feed(ctx, events[:-1] + [handling(approved, now - 5)])
    handlers.publish_result(ctx.uow(), IOC, report_id, None)
    view = client.get(f"/api/publication/v1/reports/{report_id}").json()
    assert [e["on_time"] for e in view["timeline"] if e["due_at"]] == [True, True, True, False, True]
    [event] = [e.decode() for e in outbox_envelopes(ctx) if e.type.endswith("ResultPublished")]
    assert event.on_time is True


def test_the_ioc_edits_the_answer_letter_and_the_edited_letter_is_published(ctx, settings, client):
    report_id = new_id()
    feed(ctx, timed_story(settings.node_id, report_id, due={"dispatch_due": 25, "agency_due": 35, "handling_due": 55, "approval_due": 65}))
    [queued] = client.get("/api/publication/v1/queue", headers=auth(settings, "ioc_operator")).json()["items"]
    assert queued["draft_answer"] == LETTER  # the letter on the template, not the bare answer
    client.cookies.set("paht_token", token_for(settings, "op1", ["ioc_operator"], "ioc-tinh"))
    screen = client.get("/publication/queue").text
    assert "Thư trả lời theo mẫu" in screen and "Kính gửi: Quý cá nhân" in screen
    edited = LETTER.replace("Đã thay ba bóng đèn hỏng.", "Đã thay ba bóng đèn hỏng và kiểm tra lại toàn tuyến.")
    done = client.post(f"/publication/reports/{report_id}/publish", data={"answer_text": edited, "csrf_token": csrf(client)},
                       follow_redirects=False)
    assert done.status_code == 303
    assert client.get(f"/api/publication/v1/reports/{report_id}").json()["answer"] == edited
    [event] = [e.decode() for e in outbox_envelopes(ctx) if e.type.endswith("ResultPublished")]
    assert event.answer_text == edited and event.visibility == pub_ev.VISIBILITY_PUBLIC


def test_a_state_secret_answer_is_recorded_never_published(ctx, settings, client):
    report_id = new_id()
    feed(ctx, timed_story(settings.node_id, report_id, state_secret=True,
                          due={"dispatch_due": 25, "agency_due": 35, "handling_due": 55, "approval_due": 65}))
    [queued] = client.get("/api/publication/v1/queue", headers=auth(settings, "ioc_operator")).json()["items"]
    assert queued["visibility"] == "state_secret"
    client.cookies.set("paht_token", token_for(settings, "op1", ["ioc_operator"], "ioc-tinh"))
    screen = client.get("/publication/queue").text
    assert "Bí mật nhà nước" in screen and f'href="/reports/{report_id}"' not in screen
    handlers.publish_result(ctx.uow(), IOC, report_id, None)
    [event] = [e.decode() for e in outbox_envelopes(ctx) if e.type.endswith("ResultPublished")]
    assert event.visibility == pub_ev.VISIBILITY_STATE_SECRET and event.answer_text == LETTER
    client.cookies.clear()
    assert client.get(f"/api/publication/v1/reports/{report_id}").status_code == 404
    assert client.get(f"/reports/{report_id}").status_code == 404
    assert client.get("/api/publication/v1/reports").json()["total"] == 0
    assert "Đèn đường hỏng" not in client.get("/").text
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        grpc_report(ctx, report_id)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_private_refusal_is_not_in_the_not_eligible_list_but_its_reporter_sees_the_status(ctx, settings, client):
    report_id = new_id()
    [submitted, _] = story(settings.node_id, report_id, private=True)["intake"]
    intake = Producer(settings.node_id, "intake", report_id)
    intake.version = 1
    refused = intake(intake_ev.ReportRefused(reason=intake_ev.REFUSAL_REASON_UNCLEAR_OR_TEST, reason_text="Nội dung không rõ ràng."), 5)
    feed(ctx, [submitted, refused])
    assert client.get("/api/publication/v1/not-eligible").json()["total"] == 0
    assert "Nội dung không rõ ràng." not in client.get("/not-eligible").text
    assert client.get(f"/reports/{report_id}").status_code == 404
    code = submitted.decode().tracking_code
    assert client.get(f"/api/publication/v1/track/{code}").json()["status"] == "refused"
    assert "Không đủ điều kiện tiếp nhận" in client.get(f"/track?code={code}").text


def test_the_sql_lists_and_the_domain_rule_agree_for_every_visibility_and_step(ctx):
    """`_shown` restates PublicReport.is_listed / is_public_record in SQL: both must pick exactly the same rows."""
    rows = []
    with ctx.uow() as uow:
        for visibility in Visibility:
            for step in Step:
                for content in (True, False):
                    r = PublicReport(report_id=new_id(), status=step.value, visibility=visibility.value,
                                     received_at=T0 if content else None, tracking_code="QB-AAAA-AAAA")
                    r.private_result = visibility == Visibility.REPORTER_ONLY
                    uow.session.add(r)
                    rows.append(r)
        uow.commit()
    expected_listed = {r.report_id for r in rows if r.is_listed}
    expected_refused = {r.report_id for r in rows if r.is_public_record and not r.is_listed}
    assert expected_listed and expected_refused
    with ctx.uow() as uow:
        repo = uow.reports  # the SqlPublicReports every public list goes through
        listed, total = repo.listed(100, 0)
        refused, _ = repo.not_eligible(100, 0)
    assert {r.report_id for r in listed} == expected_listed and total == len(expected_listed)
    assert {r.report_id for r in refused} == expected_refused
    assert all(r.visibility == Visibility.PUBLIC.value and r.step in LISTED for r in listed)
    assert all(r.visibility == Visibility.PUBLIC.value and r.step in NOT_ELIGIBLE for r in refused)


def test_the_editorial_form_fills_the_letter_from_the_case_and_keeps_the_return(ctx, settings, client):
    report_id = new_id()
    feed(ctx, timed_story(settings.node_id, report_id, due={"dispatch_due": 25, "agency_due": 35, "handling_due": 55, "approval_due": 65}))
    client.cookies.set("paht_token", token_for(settings, "op1", ["ioc_operator"], "ioc-tinh"))
    screen = client.get("/publication/queue").text
    textarea = re.search(r'<textarea id="answer-' + report_id + r'"[^>]*>(.*?)</textarea>', screen, re.S).group(1)
    assert "Kính gửi: Quý cá nhân" in textarea and "Trân trọng./." in textarea
    back = client.post(f"/publication/reports/{report_id}/return", data={"reason": "Cần bổ sung ảnh sau khi thay.", "csrf_token": csrf(client)},
                       follow_redirects=False)
    assert back.status_code == 303
    [event] = [e.decode() for e in outbox_envelopes(ctx) if e.type.endswith("PublicationReturned")]
    assert event.reason == "Cần bổ sung ảnh sau khi thay."
