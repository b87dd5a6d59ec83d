"""Publication on a real database: the read model from three producers, step 8, the public API and pages."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from fastapi.testclient import TestClient

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.publication.v1 import events_pb2 as pub_ev
from paht.publication.v1 import publication_pb2
from paht.runtime.events.consumer import Outcome
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.runtime.host import build_context
from paht.runtime.sla import Step as SlaStep, default_engine
from tests.support.services import ServedGrpc, deliver, migrated_context, outbox_envelopes, principal, token_for
from services.publication import bootstrap
from services.publication.service_layer import handlers

pytestmark = pytest.mark.integration
IOC = principal("op1", ["ioc_operator"], "ioc-tinh")
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)
ANSWER = "Kính gửi Quý công dân: Công ty đã thay bóng đèn hỏng ngày 03/5. Trân trọng./."
STAFF = "staff-nguyen-van-a"
LEADER_NOTE = "Kính chuyển Trung tâm IOC: đã kiểm tra hiện trường."


class Producer:
    """Build one producer's events about one report, numbered 1, 2, 3... as its outbox would."""

    def __init__(self, node: str, name: str, report_id: str):
        self.node, self.name, self.report_id, self.version = node, name, report_id, 0

    def __call__(self, event, minutes: int) -> Envelope:
        self.version += 1
        at = T0 + timedelta(minutes=minutes)
        event.meta.report_id, event.meta.report_version = self.report_id, self.version
        event.meta.occurred_at.FromDatetime(at)
        return Envelope.for_event(event, node_id=self.node, service=self.name, report_id=self.report_id, version=self.version,
                                  time=at.isoformat().replace("+00:00", "Z"))


def org(name: str) -> common_pb2.OrgRef:
    return common_pb2.OrgRef(id=new_id(), code=name[:10], name=name)


def story(node: str, report_id: str, title: str = "Đèn đường hỏng ở phường Đồng Phú", private: bool = False, urgent: bool = False,
          approved_at: int = 60) -> dict:
    """Return every producer's events, step 1 to step 7, each list in its producer's order (approval at T0 + approved_at min)."""
    intake, dispatch, handling = (Producer(node, n, report_id) for n in ("intake", "dispatch", "handling"))
    submitted = intake_ev.ReportSubmitted(tracking_code="QB-" + report_id[-8:-4].upper() + "-" + report_id[-4:].upper(),
                                          reporter_ref="rep-1", title=title, description="Ba cột đèn liền nhau không sáng.",
                                          address_text="Đường Lý Thường Kiệt", area_code="18856", private_result=private)
    submitted.location.lat, submitted.location.lon = 17.47, 106.62
    submitted.received_at.FromDatetime(T0)
    agency, unit = org("Công ty Môi trường và Phát triển đô thị"), org("Đội chiếu sáng công cộng")
    return {
        "intake": [intake(submitted, 0), intake(intake_ev.ReportAccepted(topic_code="dien-nuoc-chieu-sang", urgent=urgent), 10)],
        "dispatch": [dispatch(dispatch_ev.ReportDispatched(lead_agency=agency, round=1), 20)],
        "handling": [
            handling(handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_UNIT, agency=agency, unit=unit), 30),
            handling(handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_STAFF, agency=agency, unit=unit, staff_subject=STAFF), 40),
            handling(handling_ev.ResultDrafted(draft_id="d1", answer_text="Bản nháp nội bộ", unit=unit), 50),
            handling(handling_ev.ResultApproved(draft_id="d1", answer_text=ANSWER, unit=unit, agency=agency, message=LEADER_NOTE), approved_at),
        ],
    }


@pytest.fixture
def ctx(settings):
    c = migrated_context(bootstrap.SPEC, settings)
    yield c
    c.engine.dispose()


@pytest.fixture
def client(ctx):
    return TestClient(bootstrap.build_http(ctx))


def approved_report(ctx, settings, **kw) -> str:
    report_id = new_id()
    events = story(settings.node_id, report_id, **kw)
    for envelope in events["intake"] + events["dispatch"] + events["handling"]:
        assert deliver(ctx, envelope) is Outcome.APPLIED
    return report_id


def test_full_path_then_publish_gives_the_public_view_and_timeline(ctx, settings, client):
    report_id = approved_report(ctx, settings)
    assert [r.report_id for r in handlers.editorial_queue(ctx.uow()).items] == [report_id]
    handlers.publish_result(ctx.uow(), IOC, report_id, None)

    view = client.get(f"/api/publication/v1/reports/{report_id}").json()
    assert view["status"] == "published" and view["answer"] == ANSWER and view["published_at"]
    assert view["lead_agency"] == "Công ty Môi trường và Phát triển đô thị"
    assert view["location"] == {"lat": 17.47, "lon": 106.62}
    kinds = [s["kind"] for s in view["timeline"]]
    assert kinds == ["submitted", "accepted", "dispatched", "assigned", "in_progress", "drafted", "approved", "published"]
    assert view["timeline"][-1]["label_vi"] == "Công khai kết quả xử lý" and view["timeline"][-1]["label_en"]
    assert STAFF not in str(view) and "Bản nháp nội bộ" not in str(view)

    [published] = [e for e in outbox_envelopes(ctx) if e.type == "paht.publication.v1.ResultPublished"]
    body = published.decode()
    assert published.report_version == 1 and body.meta.report_version == 1
    assert body.answer_text == ANSWER and body.visibility == pub_ev.VISIBILITY_PUBLIC
    approved = T0 + timedelta(minutes=60)
    assert body.publish_due.ToDatetime(tzinfo=timezone.utc) == default_engine().due(SlaStep.PUBLISH, approved)  # the SLA engine's step 8 rule
    assert not body.on_time  # approved two days ago: step 8 is late
    assert body.meta.actor.subject == "op1" and handlers.editorial_queue(ctx.uow()).items == []


def test_an_answer_published_within_its_window_is_on_time(ctx, settings):
    report_id = new_id()
    minutes_ago_5 = int((datetime.now(timezone.utc) - T0).total_seconds() // 60) - 5
    events = story(settings.node_id, report_id, approved_at=minutes_ago_5)  # approved five minutes ago
    for envelope in events["intake"] + events["dispatch"] + events["handling"]:
        deliver(ctx, envelope)
    handlers.publish_result(ctx.uow(), IOC, report_id, None)
    [published] = [e for e in outbox_envelopes(ctx) if e.type == "paht.publication.v1.ResultPublished"]
    body = published.decode()
    assert body.on_time and body.publish_due.ToDatetime(tzinfo=timezone.utc) > datetime.now(timezone.utc)


def test_events_from_different_producers_in_any_order_end_the_same(ctx, settings, client):
    report_id = new_id()
    events = story(settings.node_id, report_id)
    for envelope in events["handling"]:  # handling's ResultApproved lands before intake's ReportSubmitted
        assert deliver(ctx, envelope) is Outcome.APPLIED
    assert client.get(f"/api/publication/v1/reports/{report_id}").status_code == 404  # no content yet
    assert handlers.editorial_queue(ctx.uow()).items == []  # nothing to publish before the privacy flag is known
    for envelope in events["intake"] + events["dispatch"]:
        assert deliver(ctx, envelope) is Outcome.APPLIED

    view = client.get(f"/api/publication/v1/reports/{report_id}").json()
    assert view["status"] == "approved" and view["title"] == "Đèn đường hỏng ở phường Đồng Phú" and view["answer"] is None
    assert [s["kind"] for s in view["timeline"]] == ["submitted", "accepted", "dispatched", "assigned", "in_progress", "drafted", "approved"]
    handlers.publish_result(ctx.uow(), IOC, report_id, "  " + ANSWER + "  ")
    assert client.get(f"/api/publication/v1/reports/{report_id}").json()["answer"] == ANSWER


def test_events_applied_in_batches_end_as_one_by_one(ctx, settings, client):
    """A fetch's events are applied in one transaction with the reports' rows loaded once (preload): two reports'
    whole stories, each producer's events in one batch, end exactly as when delivered one by one."""
    ids = [new_id(), new_id()]
    stories = [story(settings.node_id, rid, title=f"Đèn đường hỏng số {n}") for n, rid in enumerate(ids)]
    applier = ctx.applier()
    subs = {s.producer: s for s in ctx.spec.subscriptions(ctx)}
    for producer in ("handling", "intake", "dispatch"):  # handling first: rows started, then filled in
        batch = [e for st in stories for e in st[producer]]
        outcomes = applier.apply_batch(batch, subs[producer].handlers, "publication", subs[producer].preload)
        assert outcomes == [Outcome.APPLIED] * len(batch)
    for n, rid in enumerate(ids):
        view = client.get(f"/api/publication/v1/reports/{rid}").json()
        assert view["status"] == "approved" and view["title"] == f"Đèn đường hỏng số {n}"
        assert [s["kind"] for s in view["timeline"]] == ["submitted", "accepted", "dispatched", "assigned", "in_progress", "drafted",
                                                         "approved"]


def test_a_redelivered_event_changes_nothing(ctx, settings):
    report_id = new_id()
    events = story(settings.node_id, report_id)
    first = events["intake"][0]
    assert deliver(ctx, first) is Outcome.APPLIED
    assert deliver(ctx, first) is Outcome.DUPLICATE
    assert deliver(ctx, events["intake"][1]) is Outcome.APPLIED
    assert deliver(ctx, first) is Outcome.DUPLICATE
    _, timeline = handlers.get_public_report(ctx.uow(), report_id)
    assert [e.kind for e in timeline] == ["submitted", "accepted"]


def test_a_private_report_stays_out_of_every_public_output_answer_and_process_alike(ctx, settings, client):
    """IV.1.6.b publishes the process "except the cases of IV.1.4.a": a reporter who asked for privacy."""
    title = "Phản ánh riêng tư về ô nhiễm"
    report_id = approved_report(ctx, settings, title=title, private=True)
    [queued] = client.get("/api/publication/v1/queue", headers=auth(settings, "ioc_operator")).json()["items"]
    assert queued["private_result"] and queued["draft_answer"] == ANSWER and queued["visibility"] == "reporter_only"
    assert client.post(f"/api/publication/v1/reports/{report_id}/publish", json={}, headers=auth(settings, "ioc_operator")).status_code == 200

    assert client.get(f"/api/publication/v1/reports/{report_id}").status_code == 404
    assert client.get(f"/reports/{report_id}").status_code == 404
    assert client.get("/api/publication/v1/reports").json()["total"] == 0
    assert client.get("/api/publication/v1/not-eligible").json()["total"] == 0
    for text in (client.get("/api/publication/v1/reports").text, client.get("/").text, client.get("/?lang=en").text,
                 client.get("/not-eligible").text):
        assert title not in text and ANSWER not in text and "Lý Thường Kiệt" not in text
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        grpc_report(ctx, report_id)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND

    # Its reporter, by tracking code, sees the status and nothing else.
    code = "QB-" + report_id[-8:-4].upper() + "-" + report_id[-4:].upper()
    tracked = client.get(f"/api/publication/v1/track/{code}")
    assert tracked.status_code == 200 and tracked.json() == {
        "tracking_code": code, "received_at": T0.isoformat(), "status": "published",
        "status_label": {"vi": "Đã công khai kết quả", "en": "Answer published"}}
    page = client.get(f"/track?code={code}&lang=vi", follow_redirects=False)
    assert page.status_code == 200 and code in page.text and "Đã công khai kết quả" in page.text
    for secret in (title, ANSWER, "Ba cột đèn", "Lý Thường Kiệt", report_id):
        assert secret not in page.text
    [published] = [e.decode() for e in outbox_envelopes(ctx) if e.type.endswith("ResultPublished")]
    assert published.visibility == pub_ev.VISIBILITY_REPORTER_ONLY and published.answer_text == ANSWER  # for the reporter


def test_a_refused_report_is_listed_as_not_eligible_with_its_reason(ctx, settings, client):
    report_id = new_id()
    [submitted, _accepted] = story(settings.node_id, report_id)["intake"]
    intake = Producer(settings.node_id, "intake", report_id)
    intake.version = 1  # the refusal takes the accepted event's place as intake's second event
    refused = intake(intake_ev.ReportRefused(reason=intake_ev.REFUSAL_REASON_UNCLEAR_OR_TEST, reason_text="Nội dung không rõ ràng."), 5)
    for envelope in (submitted, refused):
        assert deliver(ctx, envelope) is Outcome.APPLIED
    [item] = client.get("/api/publication/v1/not-eligible").json()["items"]
    assert item["id"] == report_id and item["status"] == "refused" and item["reason"] == "Nội dung không rõ ràng."
    assert "Nội dung không rõ ràng." in client.get("/not-eligible").text
    assert client.get("/api/publication/v1/reports").json()["total"] == 0  # listed only as not eligible
    assert "Nội dung không rõ ràng." in client.get(f"/reports/{report_id}").text  # its page, with the public reason


def csrf(client) -> str:
    """Return the CSRF token of the signed-in IOC's queue screen (its forms carry it)."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/publication/queue").text).group(1)


def auth(settings, *roles: str) -> dict:
    return {"Authorization": f"Bearer {token_for(settings, 'u-' + roles[0], list(roles), 'org-1')}"}


def test_http_roles_errors_and_pagination(ctx, settings, client):
    report_id = approved_report(ctx, settings)
    url = f"/api/publication/v1/reports/{report_id}"
    for path in ("/api/publication/v1/reports", url, "/api/publication/v1/not-eligible"):
        assert client.get(path).status_code == 200
    missing = client.get("/api/publication/v1/reports/nope")
    assert missing.status_code == 404 and set(missing.json()["error"]["message"]) == {"vi", "en"}
    assert client.get("/api/publication/v1/track/QB-NONE-NONE").status_code == 404

    anonymous = client.post(f"{url}/publish", json={})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "error.unauthorized"
    assert client.get("/api/publication/v1/queue").status_code == 401
    wrong = client.post(f"{url}/publish", json={}, headers=auth(settings, "unit_leader"))
    assert wrong.status_code == 403 and set(wrong.json()["error"]["message"]) == {"vi", "en"}
    assert client.post(f"{url}/publish", json={"answer_text": ANSWER, "extra": 1}, headers=auth(settings, "ioc_operator")).status_code == 422
    assert client.post(f"{url}/return", json={"reason": "abc"}, headers=auth(settings, "ioc_operator")).status_code == 422

    returned = client.post(f"{url}/return", json={"reason": "Cần bổ sung ảnh sau khi sửa."}, headers=auth(settings, "ioc_admin"))
    assert returned.status_code == 200 and returned.json()["status"] == "returned_by_ioc"
    assert returned.json()["status_label"]["vi"] == "Trung tâm IOC trả lại để bổ sung"
    conflict = client.post(f"{url}/publish", json={}, headers=auth(settings, "ioc_operator"))
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "error.conflict_state"
    assert "already been returned" in conflict.json()["error"]["detail"]["en"] and conflict.json()["error"]["detail"]["vi"]
    [back] = [e.decode() for e in outbox_envelopes(ctx) if e.type == "paht.publication.v1.PublicationReturned"]
    assert back.reason == "Cần bổ sung ảnh sau khi sửa." and back.meta.report_version == 1

    for _ in range(2):
        approved_report(ctx, settings)
    page = client.get("/api/publication/v1/reports?limit=2&offset=0").json()
    assert page["total"] == 3 and len(page["items"]) == 2
    rest = client.get("/api/publication/v1/reports?limit=2&offset=2").json()["items"]
    assert [i["id"] for i in rest] == [report_id]  # newest first: the first one comes last
    assert client.get("/api/publication/v1/reports?limit=0").status_code == 422


def test_pages_render(ctx, settings, client):
    report_id = approved_report(ctx, settings)
    home = client.get("/")
    assert home.status_code == 200 and "Đèn đường hỏng ở phường Đồng Phú" in home.text and 'href="/intake/report"' in home.text
    detail = client.get(f"/reports/{report_id}?lang=en")
    assert detail.status_code == 200 and "Đèn đường hỏng ở phường Đồng Phú" in detail.text and "Answer approved" in detail.text
    assert client.get("/reports/nope").status_code == 404
    code = client.get(f"/api/publication/v1/reports/{report_id}").json()["tracking_code"]
    assert client.get("/track").status_code == 200
    found = client.get(f"/track?code={code.lower()}", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/reports/{report_id}"
    assert client.get("/track?code=QB-NONE-NONE").status_code == 404

    login = client.get("/publication/queue", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/auth/login?next=/publication/queue"
    client.cookies.set("paht_token", token_for(settings, "op1", ["ioc_operator"], "ioc-tinh"))
    queue = client.get("/publication/queue")
    assert queue.status_code == 200 and "Đèn đường hỏng ở phường Đồng Phú" in queue.text and ANSWER in queue.text
    assert LEADER_NOTE in queue.text  # the leader's note to the IOC, on the step-8 page only
    assert LEADER_NOTE not in detail.text and LEADER_NOTE not in client.get(f"/api/publication/v1/reports/{report_id}").text
    assert client.get("/api/publication/v1/queue").json()["items"][0]["approval_note"] == LEADER_NOTE
    done = client.post(f"/publication/reports/{report_id}/publish", data={"answer_text": ANSWER, "csrf_token": csrf(client)}, follow_redirects=False)
    assert done.status_code == 303
    assert ANSWER in client.get(f"/reports/{report_id}").text


def grpc_report(ctx, report_id: str):
    """Ask publication's real gRPC server for a public report, as another service would."""
    from paht.publication.v1 import publication_pb2_grpc

    with ServedGrpc(ctx, bootstrap.SPEC.register_grpc) as served:
        return served.call(publication_pb2_grpc.PublicationServiceStub, "GetPublicReport",
                           publication_pb2.GetPublicReportRequest(report_id=report_id))


def test_grpc_public_report_and_not_found(ctx, settings):
    report_id = approved_report(ctx, settings)
    handlers.publish_result(ctx.uow(), IOC, report_id, None)
    reply = grpc_report(ctx, report_id)
    assert reply.status == "published" and reply.answer_text == ANSWER and reply.timeline[0].kind == "submitted"
    # the deadlines as the public timeline shows them: on the entries that end a step, met or missed
    view = {e["kind"]: e for e in TestClient(bootstrap.build_http(ctx)).get(f"/api/publication/v1/reports/{report_id}").json()["timeline"]}
    ended = [e for e in reply.timeline if e.deadline_step]
    assert ended and {e.kind for e in ended} == {k for k, e in view.items() if e["deadline_step"]}
    for e in ended:
        assert (e.deadline_step, e.due_at, e.on_time) == (view[e.kind]["deadline_step"], view[e.kind]["due_at"], view[e.kind]["on_time"])
    assert not reply.timeline[0].deadline_step and not reply.timeline[0].due_at  # received ends no step
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        grpc_report(ctx, "nope")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_real_intake_events_fill_the_public_record_without_personal_data(ctx, settings):
    from services.intake.bootstrap import SPEC as INTAKE
    from services.intake.service_layer import handlers as intake
    from services.intake.service_layer import submission
    from tests.support.taxonomy import FakeTaxonomy

    i = migrated_context(INTAKE, settings)
    try:
        cmd = submission.SubmitReport(name="Trần Văn Bình", phone="0905123456", email="binh@example.vn", title="Rác thải ven sông Nhật Lệ",
                                      description="Rác đổ thành đống lớn ven bờ sông.", lat=17.47, lon=106.62, private_result=True)
        report = submission.submit_report(i.uow(), FakeTaxonomy(), cmd).report
        intake.refuse_report(i.uow(), IOC, report.id, "unclear_or_test", "Phản ánh thử nghiệm.")
        for envelope in outbox_envelopes(i):
            assert deliver(ctx, envelope) is Outcome.APPLIED
    finally:
        i.engine.dispose()
    found = handlers.find_by_tracking_code(ctx.uow(), report.tracking_code)
    assert found.status == "refused" and found.refusal_text == "Phản ánh thử nghiệm." and found.private_result
    with ctx.engine.connect() as conn:
        dump = str([tuple(r) for r in conn.exec_driver_sql("SELECT * FROM public_reports").all()])
    assert "Trần Văn Bình" not in dump and "0905123456" not in dump and "binh@example.vn" not in dump


def test_a_report_is_public_only_once_step_1_accepted_it(ctx, settings, client):
    report_id = new_id()
    [submitted, accepted] = story(settings.node_id, report_id, title="Cống thoát nước bị tắc trên đường Hữu Nghị")["intake"]
    assert deliver(ctx, submitted) is Outcome.APPLIED
    code = submitted.decode().tracking_code
    title, description, place = "Cống thoát nước bị tắc", "Ba cột đèn liền nhau", "Lý Thường Kiệt"

    assert client.get("/api/publication/v1/reports").json() == {"items": [], "total": 0, "total_exact": True, "limit": 20, "offset": 0}
    assert client.get(f"/api/publication/v1/reports/{report_id}").status_code == 404
    assert client.get(f"/reports/{report_id}").status_code == 404
    assert client.get("/api/publication/v1/not-eligible").json()["total"] == 0
    for page in ("/?lang=en", "/not-eligible", "/?lang=vi"):
        assert title not in client.get(page).text
    with pytest.raises(grpc.aio.AioRpcError):
        grpc_report(ctx, report_id)
    # Its reporter sees, by tracking code, that it awaits review, and nothing a guesser could use.
    tracked = client.get(f"/api/publication/v1/track/{code.lower()}")
    assert tracked.status_code == 200
    assert tracked.json() == {"tracking_code": code, "received_at": T0.isoformat(), "status": "submitted",
                              "status_label": {"vi": "Chờ tiếp nhận", "en": "Awaiting review"}}
    page = client.get(f"/track?code={code}", follow_redirects=False)
    assert page.status_code == 200 and code in page.text and "Chờ tiếp nhận" in page.text
    assert "Awaiting review" in client.get(f"/track?code={code}&lang=en").text
    for secret in (title, description, place, report_id):
        assert secret not in page.text and secret not in tracked.text

    assert deliver(ctx, accepted) is Outcome.APPLIED
    [item] = client.get("/api/publication/v1/reports").json()["items"]
    assert item["id"] == report_id and item["status"] == "accepted" and item["title"].startswith(title)
    assert title in client.get("/").text and title in client.get(f"/reports/{report_id}").text
    assert client.get(f"/api/publication/v1/track/{code}").json()["title"].startswith(title)
    assert client.get(f"/track?code={code}", follow_redirects=False).headers["location"] == f"/reports/{report_id}"
    assert grpc_report(ctx, report_id).status == "accepted"


def test_overflowing_pages_and_weird_ids_are_a_clear_4xx_never_a_500(ctx, settings, client):
    report_id = approved_report(ctx, settings)
    huge = "99999999999999999999"
    for path in (f"/api/publication/v1/reports?offset={huge}", f"/api/publication/v1/not-eligible?offset={huge}",
                 "/api/publication/v1/reports?offset=100001", f"/api/publication/v1/reports?limit={huge}"):
        r = client.get(path)
        assert r.status_code == 422 and r.json()["error"]["code"] == "error.validation", path
    assert client.get("/api/publication/v1/reports?offset=100000").json()["items"] == []
    # A number that cannot be a page is a clear 400 page in both languages ...
    for path in (f"/?page={huge}", "/?page=-3", "/?page=abc", "/?page=0", f"/not-eligible?page={huge}", "/?page=" + "9" * 5000):
        r = client.get(path)
        assert r.status_code == 400 and "There is no such page" in r.text and "Không có trang này" in r.text, path
    # ... while a page past the end of the list shows the last page (here the only one), with the report on it.
    r = client.get("/?page=4999")
    assert r.status_code == 200 and "Đèn đường hỏng ở phường Đồng Phú" in r.text
    for weird in ("%00", "x" * 37, "a%20b", "%E2%80%AE", "..%2F..%2Fetc"):
        api = client.get(f"/api/publication/v1/reports/{weird}")
        assert api.status_code in (400, 404, 422) and api.json()["error"]["message"]["vi"], weird
        assert client.get(f"/reports/{weird}").status_code in (400, 404), weird
        publish = client.post(f"/api/publication/v1/reports/{weird}/publish", json={}, headers=auth(settings, "ioc_operator"))
        assert publish.status_code in (400, 404, 422), weird
    for code in ("%00", "Q" * 20_000, "QB-%E2%80%AE"):  # 400 (NUL) and 414 (too long) come from the shared guards
        assert client.get(f"/api/publication/v1/track/{code}").status_code in (400, 404, 414, 422), code[:10]
        page = client.get(f"/track?code={code}")
        assert page.status_code in (400, 414, 422) and "\x00" not in page.text, code[:10]
    for code in ("Q" * 1000, "QB-%E2%80%AE", "QB-AAAA-BBBB-CCCC-DDDD"):  # past the edge's own guard: the service says why
        page = client.get(f"/track?code={code}")
        assert page.status_code == 422 and "QB-XXXX-XXXX" in page.text, code[:10]
    assert client.get(f"/reports/{report_id}").status_code == 200


@pytest.mark.parametrize("reason", ["Cần bổ sung\x00 ảnh sau khi sửa.", "Cần bổ sung \u202eảnh sau khi sửa.", "\u200b\u200b\u200b\u200b\u200b"])
def test_a_return_reason_or_answer_with_control_characters_never_reaches_handling(ctx, settings, client, reason):
    report_id = approved_report(ctx, settings)
    url = f"/api/publication/v1/reports/{report_id}"
    returned = client.post(f"{url}/return", json={"reason": reason}, headers=auth(settings, "ioc_operator"))
    assert returned.status_code == 422 and set(returned.json()["error"]["detail"]) == {"vi", "en"}
    client.cookies.set("paht_token", token_for(settings, "op1", ["ioc_operator"], "ioc-tinh"))
    form = client.post(f"/publication/reports/{report_id}/return", data={"reason": reason, "csrf_token": csrf(client)}, follow_redirects=False)
    assert form.status_code == 422
    assert not [e for e in outbox_envelopes(ctx) if e.type == "paht.publication.v1.PublicationReturned"]
    assert client.get(url).json()["status"] == "approved"
    published = client.post(f"{url}/publish", json={"answer_text": ANSWER + reason}, headers=auth(settings, "ioc_operator"))
    assert published.status_code == 422 or "\u200b" in reason  # zero-width spaces inside a real answer are harmless


def test_the_step_8_queue_is_urgent_first_then_oldest_approval_one_page_at_a_time(ctx, settings, client, monkeypatch):
    late = approved_report(ctx, settings, approved_at=300)
    early = approved_report(ctx, settings, approved_at=100)
    urgent = approved_report(ctx, settings, approved_at=400, urgent=True)
    tie = sorted([approved_report(ctx, settings, approved_at=200), approved_report(ctx, settings, approved_at=200)])
    expected = [urgent, early, *tie, late]
    ioc = auth(settings, "ioc_operator")

    first = client.get("/api/publication/v1/queue?limit=2", headers=ioc).json()
    assert first["total"] == 5 and first["limit"] == 2 and [i["id"] for i in first["items"]] == expected[:2]
    assert first["items"][0]["urgent"] and first["items"][1]["approved_at"] == (T0 + timedelta(minutes=100)).isoformat()
    seen, cursor = [i["id"] for i in first["items"]], first["next_cursor"]
    while cursor:
        page = client.get("/api/publication/v1/queue", params={"limit": 2, "cursor": cursor}, headers=ioc).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == expected
    for bad in ("limit=0", "limit=201", "cursor=not-a-cursor", "cursor=%00", "cursor=" + "A" * 501):
        r = client.get(f"/api/publication/v1/queue?{bad}", headers=ioc)
        assert r.status_code in (400, 422) and r.json()["error"]["message"]["en"], bad

    from services.publication.entrypoints import pages

    monkeypatch.setattr(pages, "QUEUE_PAGE_SIZE", 2)
    client.cookies.set("paht_token", token_for(settings, "op1", ["ioc_operator"], "ioc-tinh"))
    screen = client.get("/publication/queue")
    assert screen.status_code == 200 and '<strong id="queue-total">5</strong>' in screen.text
    assert screen.text.index(urgent) < screen.text.index(early) and late not in screen.text
    next_href = screen.text.split('id="queue-next"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert next_href.startswith("/publication/queue?cursor=")
    second = client.get(next_href.replace("&amp;", "&"))
    assert second.status_code == 200 and tie[0] in second.text and urgent not in second.text
    assert client.get("/publication/queue?cursor=nonsense").status_code == 422  # a bad cursor: back to the first page, said
    done = client.post(f"/publication/reports/{urgent}/publish", data={"answer_text": ANSWER, "csrf_token": csrf(client)}, follow_redirects=False)
    assert done.status_code == 303 and client.get("/api/publication/v1/queue", headers=ioc).json()["total"] == 4


def test_migration_names_the_returns_apart_and_dates_stored_approvals(settings):
    from sqlalchemy import text

    from paht.runtime import db, migrations

    spec = bootstrap.SPEC
    migrations.upgrade(spec.migrations, settings, "publication", spec.metadata, revision="505430b7ade0")
    engine = db.make_engine(settings, "publication")
    at = [(T0 + timedelta(minutes=m)).replace(tzinfo=None) for m in range(10)]
    try:
        with engine.begin() as conn:
            for rid, status in (("r-ioc", "returned"), ("r-approved", "approved"), ("r-bare", "approved")):
                conn.execute(text(
                    "INSERT INTO public_reports (report_id, tracking_code, title, description, topic_code, lat, lon, address_text, "
                    "area_code, private_result, urgent, status, received_at, lead_agency_name, lead_unit_name, answer_text, "
                    "published_at, refusal_text, visibility, version) VALUES (:id, 'QB-AAAA-AAAA', 't', 'd', '', NULL, NULL, '', '', "
                    "false, false, :status, :received, '', '', 'a', NULL, '', 'public', 0)"), {"id": rid, "status": status, "received": at[0]})
            steps = [("r-ioc", "drafted", 1), ("r-ioc", "returned", 2), ("r-ioc", "drafted", 3), ("r-ioc", "approved", 4),
                     ("r-ioc", "returned", 5), ("r-approved", "approved", 6)]
            for i, (rid, kind, minute) in enumerate(steps):
                conn.execute(text("INSERT INTO timeline_entries (id, report_id, kind, at, note) VALUES (:id, :rid, :kind, :at, '')"),
                             {"id": f"t{i}", "rid": rid, "kind": kind, "at": at[minute]})
        migrations.upgrade(spec.migrations, settings, "publication", spec.metadata)
        c = build_context(spec, settings)
        try:
            with c.uow() as uow:
                assert [e.kind for e in uow.timeline.of_report("r-ioc")] == [
                    "drafted", "returned_to_staff", "drafted", "approved", "returned_by_ioc"]
                assert uow.reports.get("r-ioc").status == "returned_by_ioc"
                assert uow.reports.get("r-approved").approved_at == T0 + timedelta(minutes=6)
                assert uow.reports.get("r-bare").approved_at == T0  # no approval step stored: its receipt time
        finally:
            c.engine.dispose()
    finally:
        engine.dispose()


def test_concurrent_step_8_decisions_leave_one_winner_and_tell_the_others_what_happened(ctx, settings):
    """Real concurrent requests (PostgreSQL in CI): several IOC operators publish or return the same answer at once."""
    import threading

    import httpx

    from tests.support.live_server import live_server

    report_id = approved_report(ctx, settings)
    threads, start, answers, lock = 8, threading.Barrier(8), [], threading.Lock()
    ioc = auth(settings, "ioc_operator")

    def operator(url: str, n: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            start.wait()
            if n % 2:
                r = http.post(f"/api/publication/v1/reports/{report_id}/publish", json={}, headers=ioc)
            else:
                r = http.post(f"/api/publication/v1/reports/{report_id}/return", json={"reason": f"Cần bổ sung ảnh, lần {n}."}, headers=ioc)
            with lock:
                answers.append(r)

    with live_server(bootstrap.build_http(ctx)) as url:
        workers = [threading.Thread(target=operator, args=(url, n)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [409] * (threads - 1), codes
    events = [e for e in outbox_envelopes(ctx) if e.type.startswith("paht.publication.v1.")]
    assert len(events) == 1 and events[0].report_version == 1
    for lost in (r for r in answers if r.status_code == 409):
        detail = lost.json()["error"]["detail"]["en"]
        assert "already been published" in detail or "already been returned" in detail or "same moment" in detail, detail


def test_a_signed_in_person_of_another_role_gets_a_polite_403_naming_the_roles_not_the_sign_in_page(ctx, settings):
    from paht.runtime.http import TOKEN_COOKIE

    client = TestClient(bootstrap.build_http(ctx))
    client.cookies.set(TOKEN_COOKIE, token_for(settings, "canbo", ["staff"], "so-gtvt-kcht"))
    page = client.get("/publication/queue", follow_redirects=False)
    assert page.status_code == 403 and "Cán bộ Trung tâm IOC" in page.text
    english = client.get("/publication/queue?lang=en", follow_redirects=False)
    assert english.status_code == 403 and "IOC operator" in english.text
