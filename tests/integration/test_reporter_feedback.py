"""The reporter's feedback over real events and intake's real gRPC server: only the reporter (intake says who),
only after publication, once (a double tap at the same moment too), changeable for 7 days; a request to clarify
goes to handling as ClarificationRequested; handling's ClarificationGiven waits for the IOC, who publishes it to the
reporter or sends it back to the lead unit."""
from __future__ import annotations

import asyncio
import os
import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from fastapi.testclient import TestClient

from paht.handling.v1 import events_pb2 as handling_ev
from paht.publication.v1 import events_pb2 as pub_ev
from paht.runtime.events.consumer import Outcome
from paht.runtime.ids import new_id
from paht.runtime.sla import Step as SlaStep, default_engine
from services.intake import bootstrap as intake_bootstrap
from services.intake.adapters.orm import reporters
from services.publication import bootstrap
from services.publication.service_layer import feedback, handlers
from tests.integration.test_publication_service import IOC, Producer, story
from tests.support.services import ServedGrpc, deliver, migrated_context, outbox_envelopes, token_for
from tests.support.reporters import reporter_session

pytestmark = pytest.mark.integration
PHONE, OTHER_PHONE = "0912345678", "0987654321"


def add_reporter(ictx, phone: str, email: str) -> str:
    rid = new_id()
    with ictx.engine.begin() as conn:
        conn.execute(reporters.insert().values(id=rid, name="Phan Thị Thu", phone=phone, email=email, created_at=datetime.now(timezone.utc)))
    return rid


@pytest.fixture
def intake(settings, monkeypatch):
    """Intake's database and its real gRPC servicer, where publication asks whose session a token is."""
    ictx = migrated_context(intake_bootstrap.SPEC, settings)
    served = ServedGrpc(ictx, intake_bootstrap.register_grpc)
    monkeypatch.setenv("PAHT_GRPC_INTAKE", served.address)
    yield ictx
    served.stop()
    ictx.engine.dispose()


@pytest.fixture
def pub(settings, intake):
    ctx = migrated_context(bootstrap.SPEC, settings)
    yield ctx
    ctx.engine.dispose()


def published_report(ctx, settings, reporter_ref: str, private: bool = False, publish: bool = True) -> tuple[str, Producer]:
    report_id = new_id()
    events = story(settings.node_id, report_id, private=private)

    submitted = events["intake"][0].decode()
    submitted.reporter_ref = reporter_ref
    from paht.runtime.events.envelope import Envelope

    first = events["intake"][0]
    events["intake"][0] = Envelope.for_event(submitted, node_id=settings.node_id, service="intake", report_id=report_id, version=1, time=first.time)
    for envelope in events["intake"] + events["dispatch"] + events["handling"]:
        assert deliver(ctx, envelope) is Outcome.APPLIED
    if publish:
        handlers.publish_result(ctx.uow(), IOC, report_id, None)
    handling = Producer(settings.node_id, "handling", report_id)
    handling.version = len(events["handling"])
    return report_id, handling


def events_of(ctx, kind: str) -> list:
    return [e.decode() for e in outbox_envelopes(ctx) if e.type == f"paht.publication.v1.{kind}"]


def test_only_the_reporter_rates_after_publication_once_and_may_change_it(pub, intake, settings):
    ref = add_reporter(intake, PHONE, "thu@example.vn")
    add_reporter(intake, PHONE, "thu.khac@example.vn")  # the same phone with another e-mail: still the same person
    stranger = add_reporter(intake, OTHER_PHONE, "an@example.vn")
    report_id, _ = published_report(pub, settings, ref)
    unpublished_id, _ = published_report(pub, settings, ref, publish=False)
    strangers_id, _ = published_report(pub, settings, stranger)
    mine = reporter_session(intake, PHONE)
    theirs = reporter_session(intake, OTHER_PHONE)
    client = TestClient(bootstrap.build_http(pub))
    url = f"/api/publication/v1/reports/{report_id}/rating"

    assert client.post(url, json={"rating": "satisfied"}).status_code == 401  # no session
    bad = client.post(url, json={"rating": "satisfied"}, headers={"Authorization": "Bearer rpt_" + "x" * 43})
    assert bad.status_code == 401 and bad.json()["error"]["detail"]["vi"]  # intake knows no such session
    other = client.post(url, json={"rating": "satisfied"}, headers=theirs)
    assert other.status_code == 403 and "Chỉ người gửi" in other.json()["error"]["detail"]["vi"]
    early = client.post(f"/api/publication/v1/reports/{unpublished_id}/rating", json={"rating": "satisfied"}, headers=mine)
    assert early.status_code == 409 and "chưa được công khai" in early.json()["error"]["detail"]["vi"]
    assert client.post(f"/api/publication/v1/reports/{strangers_id}/rating", json={"rating": "acceptable"}, headers=mine).status_code == 403
    assert client.post(url, json={"rating": "excellent"}, headers=mine).status_code == 422
    assert client.put(url, json={"rating": "acceptable"}, headers=mine).status_code == 409  # nothing to change yet
    assert events_of(pub, "ReportRated") == []  # nothing refused wrote anything

    first = client.post(url, json={"rating": "unsatisfied", "comment": "Đèn vẫn chập chờn buổi tối."}, headers=mine)
    assert first.status_code == 201 and first.json()["label"] == {"vi": "Không hài lòng", "en": "Not satisfied"}
    again = client.post(url, json={"rating": "satisfied"}, headers=mine)
    assert again.status_code == 409 and "đã đánh giá" in again.json()["error"]["detail"]["vi"]
    changed = client.put(url, json={"rating": "acceptable"}, headers=mine)
    assert changed.status_code == 200 and changed.json()["rating"] == "acceptable" and changed.json()["changed_at"]
    assert client.get(url, headers=mine).json()["rating"] == "acceptable"
    assert client.get(url, headers=theirs).status_code == 403

    rated = events_of(pub, "ReportRated")
    assert [(e.rating, e.changed) for e in rated] == [(pub_ev.RATING_UNSATISFIED, False), (pub_ev.RATING_ACCEPTABLE, True)]
    assert rated[0].comment == "Đèn vẫn chập chờn buổi tối." and rated[0].meta.actor.subject == "citizen"
    assert [e.meta.report_version for e in rated] == [2, 3]  # after ResultPublished (1)
    public = client.get(f"/api/publication/v1/reports/{report_id}").json()
    assert ref not in str(public) and "reporter_ref" not in str(public)


def test_a_rating_can_be_changed_for_seven_days_and_not_after(pub, intake, settings):
    ref = add_reporter(intake, PHONE, "thu@example.vn")
    report_id, _ = published_report(pub, settings, ref)
    given = datetime.now(timezone.utc) - timedelta(days=8)
    feedback.rate(pub.uow(), report_id, [ref], "satisfied", None, now=given)
    feedback.change_rating(pub.uow(), report_id, [ref], "acceptable", None, now=given + timedelta(days=7))  # the last moment
    client = TestClient(bootstrap.build_http(pub))
    late = client.put(f"/api/publication/v1/reports/{report_id}/rating", json={"rating": "unsatisfied"}, headers=reporter_session(intake, PHONE))
    assert late.status_code == 409 and "7 ngày" in late.json()["error"]["detail"]["vi"]


def test_clarification_goes_to_handling_and_comes_back_one_open_request_at_a_time(pub, intake, settings):
    ref = add_reporter(intake, PHONE, "thu@example.vn")
    report_id, handling = published_report(pub, settings, ref)
    mine, theirs = reporter_session(intake, PHONE), reporter_session(intake, OTHER_PHONE)
    client = TestClient(bootstrap.build_http(pub))
    url = f"/api/publication/v1/reports/{report_id}/clarification"
    assert client.post(url, json={"question": "Khi nào thay đèn?"}, headers=theirs).status_code == 403  # a phone that sent nothing
    add_reporter(intake, OTHER_PHONE, "an@example.vn")
    assert client.post(url, json={"question": "Khi nào thay đèn?"}, headers=theirs).status_code == 403

    asked = client.post(url, json={"question": "Đề nghị cho biết ngày cụ thể sẽ thay bóng đèn."}, headers=mine)
    assert asked.status_code == 201 and asked.json()["status"] == "open"
    second = client.post(url, json={"question": "Thêm một câu hỏi nữa."}, headers=mine)
    assert second.status_code == 409 and "đang được đơn vị chủ trì" in second.json()["error"]["detail"]["vi"]

    [requested] = events_of(pub, "ClarificationRequested")
    assert requested.clarification_id == asked.json()["id"] and requested.question.startswith("Đề nghị cho biết")
    at = requested.meta.occurred_at.ToDatetime(tzinfo=timezone.utc)
    assert requested.due_at.ToDatetime(tzinfo=timezone.utc) == default_engine().due(SlaStep.CLARIFY, at)  # 1 working day

    given = handling(handling_ev.ClarificationGiven(clarification_id=requested.clarification_id, text="Đơn vị sẽ thay bóng đèn ngày 15/5."), 200)
    assert deliver(pub, given) is Outcome.APPLIED
    # Approved by the lead unit: with the IOC now, not yet the reporter's to read, and still their one open request.
    view = client.get(f"/api/publication/v1/reports/{report_id}/feedback", headers=mine).json()
    assert view["clarifications"][0]["status"] == "open" and view["clarifications"][0]["answer"] is None
    assert not view["can_ask_clarification"]
    ioc = {"Authorization": f"Bearer {token_for(settings, 'op1', ['ioc_operator'], 'ioc-tinh')}"}
    staff = {"Authorization": f"Bearer {token_for(settings, 'cb1', ['staff'], 'so-gtvt-kcht')}"}
    assert client.get("/api/publication/v1/queue/clarifications", headers=staff).status_code == 403
    [waiting] = client.get("/api/publication/v1/queue/clarifications", headers=ioc).json()["items"]
    assert waiting["id"] == requested.clarification_id and waiting["question"].startswith("Đề nghị cho biết")
    assert waiting["text"] == "Đơn vị sẽ thay bóng đèn ngày 15/5." and waiting["publish_due"]
    decide = f"/api/publication/v1/clarifications/{requested.clarification_id}"
    assert client.post(f"{decide}/return", json={"reason": "x"}, headers=ioc).status_code == 422  # a reason says something
    sent_back = client.post(f"{decide}/return", json={"reason": "Ghi rõ tuyến đường sẽ thay đèn."}, headers=ioc)
    assert sent_back.status_code == 200 and sent_back.json()["status"] == "returned"
    [back] = events_of(pub, "ClarificationSentBack")
    assert back.clarification_id == requested.clarification_id and back.reason == "Ghi rõ tuyến đường sẽ thay đèn."
    assert client.post(f"{decide}/publish", json={}, headers=ioc).status_code == 409  # back with the unit now
    assert client.get("/api/publication/v1/queue/clarifications", headers=ioc).json()["total"] == 0
    assert deliver(pub, given) is Outcome.DUPLICATE  # the first approval delivered again changes nothing

    again = handling_ev.ClarificationGiven(clarification_id=requested.clarification_id,
                                           text="Đơn vị sẽ thay bóng đèn đường Lý Thường Kiệt ngày 15/5.")
    assert deliver(pub, handling(again, 201)) is Outcome.APPLIED
    published = client.post(f"{decide}/publish", json={"text": "Ngày 15/5 đơn vị thay bóng đèn đường Lý Thường Kiệt."}, headers=ioc)
    assert published.status_code == 200 and published.json()["status"] == "given"
    [out] = events_of(pub, "ClarificationPublished")
    assert out.text == "Ngày 15/5 đơn vị thay bóng đèn đường Lý Thường Kiệt." and out.HasField("published_at")
    assert client.post(f"{decide}/publish", json={}, headers=ioc).status_code == 409  # once
    view = client.get(f"/api/publication/v1/reports/{report_id}/feedback", headers=mine).json()
    assert view["clarifications"][0]["answer"] == "Ngày 15/5 đơn vị thay bóng đèn đường Lý Thường Kiệt." and view["can_ask_clarification"]
    assert client.get(f"/api/publication/v1/reports/{report_id}/feedback", headers=theirs).status_code == 403
    assert client.post(url, json={"question": "Đề nghị gửi thêm ảnh sau khi thay."}, headers=mine).status_code == 201  # the next one


def test_a_double_tap_rates_once(pub, intake, settings):
    """Two identical requests at the same moment, over a real server: one rating, one event, the other a clear 409."""
    if not os.environ.get("DATABASE_URL"):
        pytest.skip("the race is meant for PostgreSQL (SQLite's writers take turns anyway)")
    import uvicorn

    from paht.runtime.supervisor import free_port

    ref = add_reporter(intake, PHONE, "thu@example.vn")
    session = reporter_session(intake, PHONE)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(bootstrap.build_http(pub), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            threading.Event().wait(0.05)
        for round_ in range(5):
            report_id, _ = published_report(pub, settings, ref)

            async def tap_tap():
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=session) as http:
                    body = {"rating": "satisfied", "comment": f"Cảm ơn {round_}"}
                    return await asyncio.gather(*(http.post(f"/api/publication/v1/reports/{report_id}/rating", json=body) for _ in range(4)))

            answers = asyncio.run(tap_tap())
            assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
            rated = [e for e in outbox_envelopes(pub) if e.type == "paht.publication.v1.ReportRated" and e.report_id == report_id]
            assert len(rated) == 1
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_report_page_shows_the_reporter_their_feedback_forms_and_takes_them(pub, intake, settings):
    ref = add_reporter(intake, PHONE, "thu@example.vn")
    report_id, _ = published_report(pub, settings, ref, private=True)
    token = reporter_session(intake, PHONE)["Authorization"].removeprefix("Bearer ")
    client = TestClient(bootstrap.build_http(pub), base_url="http://testserver")
    public = client.get(f"/reports/{report_id}")
    assert public.status_code == 404 and "Kính gửi" not in public.text  # private: neither its answer nor its process is public
    client.cookies.set("paht_reporter", token)
    page = client.get(f"/reports/{report_id}")
    assert 'id="feedback"' in page.text and 'id="my-answer"' in page.text and "Kính gửi" in page.text  # the answer sent to them only
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": csrf, "rating": "satisfied", "comment": ""}
    origin = {"Origin": "http://testserver"}
    done = client.post(f"/reports/{report_id}/rating", data=form, headers=origin, follow_redirects=False)
    assert done.status_code == 303 and "done=rated" in done.headers["location"]
    bad = client.post(f"/reports/{report_id}/clarification", data={"csrf_token": csrf, "question": "?"}, headers=origin)
    assert bad.status_code == 422 and 'id="feedback-error"' in bad.text
    assert [e.rating for e in events_of(pub, "ReportRated")] == [pub_ev.RATING_SATISFIED]


def test_the_ioc_publishes_or_sends_back_a_clarification_from_the_step_8_page(pub, intake, settings):
    from tests.integration.test_publication_service import csrf

    ref = add_reporter(intake, PHONE, "thu@example.vn")
    report_id, handling = published_report(pub, settings, ref)
    asked = feedback.ask_clarification(pub.uow(), report_id, [ref], "Đề nghị cho biết ngày thay bóng đèn.")
    deliver(pub, handling(handling_ev.ClarificationGiven(clarification_id=asked.id, text="Đơn vị sẽ thay đèn ngày 15/5."), 200))
    client = TestClient(bootstrap.build_http(pub), base_url="http://testserver")
    assert "Đơn vị sẽ thay đèn ngày 15/5." not in client.get(f"/reports/{report_id}").text  # not public before the IOC
    client.cookies.set("paht_token", token_for(settings, "op1", ["ioc_operator"], "ioc-tinh"))
    queue = client.get("/publication/queue")
    assert queue.status_code == 200 and f'id="c-{asked.id}"' in queue.text
    assert "Đề nghị cho biết ngày thay bóng đèn." in queue.text and "Đơn vị sẽ thay đèn ngày 15/5." in queue.text
    refused = client.post(f"/publication/clarifications/{asked.id}/return", data={"reason": "x", "csrf_token": csrf(client)})
    assert refused.status_code == 422 and "Nội dung đơn vị chủ trì cần bổ sung" in refused.text  # the page again, with why
    assert client.post(f"/publication/clarifications/{asked.id}/publish", data={"text": "ok"}).status_code == 403  # no CSRF token
    done = client.post(f"/publication/clarifications/{asked.id}/publish", follow_redirects=False,
                       data={"text": "Ngày 15/5 đơn vị thay bóng đèn.", "csrf_token": csrf(client)})
    assert done.status_code == 303 and done.headers["location"] == f"/publication/queue?done=clarification_published&report={report_id}#done"
    after = client.get(done.headers["location"])
    assert f'id="c-{asked.id}"' not in after.text and "Đã công khai nội dung làm rõ" in after.text  # which one went out, said
    client.cookies.clear()
    assert "Ngày 15/5 đơn vị thay bóng đèn." in client.get(f"/reports/{report_id}").text  # a public answer's clarification
