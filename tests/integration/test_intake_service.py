"""Intake over HTTP on a real database: submission rules, step 1, audited contact release, concurrency."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from tests.support.reporters import reporter_session
from tests.support.services import ServedGrpc, deliver, migrated_context, outbox_envelopes, principal, token_for
from tests.support.taxonomy import FakeTaxonomy
from services.intake.adapters.orm import contact_audit
from services.intake.bootstrap import SPEC, build_http
from services.intake.domain.report import Report

pytestmark = pytest.mark.integration

GOOD = {
    "reporter": {"name": "Phan Thị Thu", "phone": "+84 912 345 678", "email": "Thu@Example.vn"},
    "title": "Rác thải đổ trộm ven sông Nhật Lệ",
    "description": "Nhiều bao rác sinh hoạt bị đổ trộm dưới chân cầu Nhật Lệ 2 từ hai ngày nay.",
    "location": {"lat": 17.46, "lon": 106.63},
    "address_text": "Chân cầu Nhật Lệ 2",
    "acknowledged": True,
}


@pytest.fixture
def app(settings):
    ctx = migrated_context(SPEC, settings)
    client = TestClient(build_http(ctx, FakeTaxonomy()))
    client.headers.update(reporter_session(ctx))  # a reporter who proved 0912345678 by SMS; staff calls send their own header
    yield ctx, client
    ctx.engine.dispose()


def auth(settings, user="ioc", roles=("ioc_operator",), unit="ioc-tinh"):
    return {"Authorization": "Bearer " + token_for(settings, user, list(roles), unit)}


def test_submission_is_stored_normalised_and_announced_without_personal_data(app):
    ctx, client = app
    r = client.post("/api/intake/v1/reports", json=GOOD)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "submitted" and body["tracking_code"].startswith("QB-")
    with ctx.uow() as uow:
        report = uow.session.get(Report, body["id"])
        assert report.received_at.tzinfo is not None
    (env,) = outbox_envelopes(ctx)
    raw = env.data.decode("utf-8", "ignore")
    assert "912345678" not in raw and "thu@example.vn" not in raw and "Phan Thị Thu" not in raw


@pytest.mark.parametrize(
    "change, status, fragment",
    [
        ({"reporter": {**GOOD["reporter"], "phone": "12345"}}, 422, "Số điện thoại"),
        ({"reporter": {**GOOD["reporter"], "email": "không-phải-email"}}, 422, "e-mail"),
        ({"title": "ab"}, 422, "Tiêu đề"),
        ({"location": {"lat": 21.0, "lon": 105.8}}, 422, "ngoài địa bàn"),
        ({"channel": "call_center"}, 422, "channel"),  # the channel comes from the credential, never from the body
        ({"acknowledged": False}, 422, "chịu trách nhiệm"),
        ({"location": None, "address_text": ""}, 422, "địa điểm"),
        ({"reporter": {**GOOD["reporter"], "phone": "0987654321"}}, 422, "đã xác thực"),
        ({"surprise": True}, 422, "surprise"),
    ],
)
def test_bad_submissions_are_refused_in_both_languages_and_nothing_is_written(app, change, status, fragment):
    ctx, client = app
    r = client.post("/api/intake/v1/reports", json={**GOOD, **change})
    assert r.status_code == status
    error = r.json()["error"]
    text = " ".join([*error["message"].values(), *error.get("detail", {}).values()])
    assert fragment in text and error["message"]["en"]
    assert outbox_envelopes(ctx) == []


def test_step_one_needs_an_ioc_operator_and_follows_the_procedure(app, settings):
    ctx, client = app
    rid = client.post("/api/intake/v1/reports", json=GOOD).json()["id"]
    assert client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "x"}).status_code == 401
    staff = auth(settings, "canbo", ("staff",), "so-gtvt-kcht")
    r = client.post(f"/api/intake/v1/reports/{rid}/refuse", json={"reason": "duplicate", "reason_text": "Trùng phản ánh"}, headers=staff)
    assert r.status_code == 403 and r.json()["error"]["code"] == "error.wrong_role"
    ioc = auth(settings)
    r = client.post(f"/api/intake/v1/reports/{rid}/refuse", json={"reason": "unclear_or_test", "reason_text": "Nội dung không rõ ràng, không xác định được vị trí."}, headers=ioc)
    assert r.status_code == 200 and r.json()["status"] == "refused"
    again = client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "traffic-safety"}, headers=ioc)
    assert again.status_code == 409 and again.json()["error"]["code"] == "error.conflict_state"
    assert [e.type.rsplit(".", 1)[1] for e in outbox_envelopes(ctx)] == ["ReportSubmitted", "ReportRefused"]
    assert [e.report_version for e in outbox_envelopes(ctx)] == [1, 2]


@pytest.fixture
def handling(settings, monkeypatch):
    """The real handling service (its database and gRPC servicer), where intake asks who handles a case."""
    from services.handling import bootstrap as handling_bootstrap

    hctx = migrated_context(handling_bootstrap.SPEC, settings)
    served = ServedGrpc(hctx, handling_bootstrap.register_grpc)
    monkeypatch.setenv("PAHT_GRPC_HANDLING", served.address)
    yield hctx, served
    served.stop()
    hctx.engine.dispose()


def test_reporter_contact_is_released_only_to_the_ioc_and_the_cases_handlers_and_every_release_is_audited(app, settings, handling):
    import asyncio

    from services.handling.service_layer import handlers as case_handlers
    from tests.support.handling import FakeOrgDirectory, dispatched

    ctx, client = app
    hctx, served = handling
    rid = client.post("/api/intake/v1/reports", json=GOOD).json()["id"]
    staff = auth(settings, "canbo", ("staff",), "so-gtvt-kcht")
    purpose = {"purpose": "Gọi điện hẹn kiểm tra hiện trường"}
    refused = client.post(f"/api/intake/v1/reports/{rid}/contact", json=purpose, headers=staff)
    assert refused.status_code == 403 and "người đang xử lý" in refused.json()["error"]["detail"]["vi"]  # no case yet
    r = client.post(f"/api/intake/v1/reports/{rid}/contact", json={"purpose": "Gọi điện xác minh vị trí"}, headers=auth(settings))
    assert r.status_code == 200 and r.json()["phone"] == "0912345678" and r.json()["email"] == "thu@example.vn"

    # The case reaches the transport department's unit and its staff member: now handling says yes, for them only.
    deliver(hctx, dispatched(hctx, rid))
    directory = FakeOrgDirectory()
    asyncio.run(case_handlers.assign_unit(hctx.uow(), directory, principal("sogtvt", ["agency_coordinator"], "so-gtvt"), rid, "so-gtvt-kcht"))
    asyncio.run(case_handlers.assign_staff(hctx.uow(), directory, principal("truongphong", ["unit_leader"], "so-gtvt-kcht"), rid, "canbo"))
    r = client.post(f"/api/intake/v1/reports/{rid}/contact", json=purpose, headers=staff)
    assert r.status_code == 200 and r.json()["phone"] == "0912345678"
    other_unit = auth(settings, "canbo-tt", ("staff",), "so-gtvt-thanhtra")
    assert client.post(f"/api/intake/v1/reports/{rid}/contact", json=purpose, headers=other_unit).status_code == 403
    assert client.post(f"/api/intake/v1/reports/{rid}/contact", json={"purpose": ""}, headers=staff).status_code == 422
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(contact_audit).order_by(contact_audit.c.released_at)).all()
    assert [(row.staff_subject, row.purpose) for row in rows] == [("ioc", "Gọi điện xác minh vị trí"), ("canbo", purpose["purpose"])]

    # Handling away: intake cannot check, so it releases nothing and says so (503, not a 500 and not a yes).
    served.stop()
    away = client.post(f"/api/intake/v1/reports/{rid}/contact", json=purpose, headers=staff)
    assert away.status_code == 503 and away.json()["error"]["detail"]["vi"]
    # the staff listing never carries personal data
    listing = client.get("/api/intake/v1/reports", headers=auth(settings)).text
    assert "0912345678" not in listing and "thu@example.vn" not in listing


def test_two_people_changing_one_report_at_once_gives_a_409_not_a_500(app, settings):
    ctx, client = app
    rid = client.post("/api/intake/v1/reports", json=GOOD).json()["id"]
    with ctx.uow() as first, ctx.uow() as second:
        b = second.session.get(Report, rid)
        second.session.commit()  # b stays loaded, as on a screen someone left open
        a = first.session.get(Report, rid)
        a.accept(FakeTaxonomy().find("trat-tu-giao-thong"), None, "")
        a.next_version()
        first.commit()
        b.refuse("out_of_scope", "Không thuộc phạm vi tiếp nhận")
        b.next_version()
        with pytest.raises(StaleDataError):
            second.commit()
    # the HTTP layer turns the same error into a readable 409
    from fastapi import FastAPI

    from paht.runtime.http import install_error_handlers

    probe = FastAPI()
    install_error_handlers(probe)

    @probe.get("/race")
    def race():
        raise StaleDataError("simulated")

    r = TestClient(probe).get("/race")
    assert r.status_code == 409 and r.json()["error"]["message"]["vi"]


def test_reporter_contact_over_grpc_needs_the_token_of_the_ioc_or_of_a_handler_and_is_audited(app, settings, handling):
    import asyncio

    import grpc

    from paht.intake.v1 import intake_pb2, intake_pb2_grpc
    from paht.runtime.errors import Forbidden
    from paht.runtime.grpcx import GrpcServer, domain_error, open_channel
    from paht.runtime.supervisor import free_port
    from services.intake.entrypoints.grpc_api import register

    ctx, client = app
    rid = client.post("/api/intake/v1/reports", json=GOOD).json()["id"]

    async def scenario():
        server = GrpcServer(settings)
        register(ctx, server)
        port = await server.start("127.0.0.1", free_port())
        channel = open_channel(settings, f"127.0.0.1:{port}")
        stub = intake_pb2_grpc.IntakeServiceStub(channel)
        request = intake_pb2.GetReporterContactRequest(report_id=rid, purpose="Gọi lại cho người phản ánh")
        try:
            with pytest.raises(grpc.aio.AioRpcError) as no_token:
                await stub.GetReporterContact(request)
            assert no_token.value.code() == grpc.StatusCode.UNAUTHENTICATED
            staff = [("authorization", "Bearer " + token_for(settings, "canbo", ["staff"], "so-gtvt-kcht"))]
            with pytest.raises(grpc.aio.AioRpcError) as wrong_role:
                await stub.GetReporterContact(request, metadata=staff)  # not a staff member of this report's case
            assert wrong_role.value.code() == grpc.StatusCode.PERMISSION_DENIED
            refusal = domain_error(wrong_role.value)  # both languages cross the call
            assert isinstance(refusal, Forbidden) and "người đang xử lý" in refusal.detail_vi and "handling" in refusal.detail_en
            ioc = [("authorization", "Bearer " + token_for(settings, "ioc", ["ioc_operator"], "ioc-tinh"))]
            contact = await stub.GetReporterContact(request, metadata=ioc)
            assert contact.phone == "0912345678" and contact.audit_id
            summary = await stub.GetReport(intake_pb2.GetReportRequest(report_id=rid))
            assert summary.status == "submitted" and summary.received_at.seconds > 0
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.GetReport(intake_pb2.GetReportRequest(report_id="không-có"))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        finally:
            await channel.close()
            await server.stop(0)

    asyncio.run(scenario())
    with ctx.engine.connect() as conn:
        assert len(conn.execute(select(contact_audit)).all()) == 1


def stored_counts(ctx) -> tuple[int, int, int, int]:
    """(reporters, reports, contact releases, events) in intake's database."""
    from sqlalchemy import func

    from services.intake.adapters.orm import reporters, reports

    with ctx.engine.connect() as conn:
        count = lambda t: conn.execute(select(func.count()).select_from(t)).scalar_one()  # noqa: E731
        return count(reporters), count(reports), count(contact_audit), count(ctx.spec.event_tables["outbox"])


def with_text(path: str, text: str) -> dict:
    """GOOD with the text at path (e.g. "reporter.name") replaced."""
    body = {**GOOD, "reporter": dict(GOOD["reporter"])}
    *parents, last = path.split(".")
    target = body
    for p in parents:
        target = target[p]
    target[last] = text
    return body


SUBMITTED_TEXTS = {"reporter.name": "Phan Thị Thu", "reporter.phone": "0912345678", "reporter.email": "thu@example.vn",
                   "title": "Rác thải đổ trộm ven sông", "description": "Nhiều bao rác sinh hoạt bị đổ trộm.",
                   "topic_code": "waste-dumping", "address_text": "Chân cầu Nhật Lệ 2", "area_code": "19000"}


@pytest.mark.parametrize("path", list(SUBMITTED_TEXTS))
@pytest.mark.parametrize("bad", ["\x00", "\u202e", "\u2067"])
def test_nul_or_a_direction_override_in_any_submitted_text_is_a_422_and_nothing_is_stored(app, path, bad):
    ctx, client = app
    good = SUBMITTED_TEXTS[path]
    r = client.post("/api/intake/v1/reports", json=with_text(path, good[:4] + bad + good[4:]))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["detail"]["vi"] and bad not in r.text
    assert stored_counts(ctx) == (0, 0, 0, 0)


@pytest.mark.parametrize("title", ["\u200b" * 10, "\u0300\u0301\u0303\u0309\u0323" * 2, "\u200b\u0301" * 5])
def test_a_title_without_a_letter_or_digit_is_refused(app, title):
    ctx, client = app
    r = client.post("/api/intake/v1/reports", json={**GOOD, "title": title})
    assert r.status_code == 422 and "chữ cái" in r.json()["error"]["detail"]["vi"]
    assert stored_counts(ctx) == (0, 0, 0, 0)


def test_nul_in_any_text_of_step_one_is_a_422_and_changes_nothing(app, settings):
    ctx, client = app
    rid = client.post("/api/intake/v1/reports", json=GOOD).json()["id"]
    before = stored_counts(ctx)
    base = f"/api/intake/v1/reports/{rid}"
    ioc = auth(settings)
    for url, body in [(f"{base}/accept", {"topic_code": "road\x00damage"}), (f"{base}/accept", {"topic_code": "road-damage", "note": "ghi\x00chú"}),
                      (f"{base}/refuse", {"reason": "unclear_or_test", "reason_text": "Trùng\x00 phản ánh"}),
                      (f"{base}/refuse", {"reason": "duplicate\x00", "reason_text": "Trùng phản ánh"}),
                      (f"{base}/contact", {"purpose": "Gọi\x00 xác minh"})]:
        r = client.post(url, json=body, headers=ioc)
        assert r.status_code == 422, (url, body, r.text)
    # in the address: refused at the transport edge (400) or by the use case (422), never a 500
    for url in ["/api/intake/v1/reports/r%00", "/api/intake/v1/reports?status=%00", "/api/intake/v1/reports?cursor=%00",
                "/api/intake/v1/reports?cursor=" + "A" * 40]:
        r = client.get(url, headers=ioc)
        assert r.status_code in (400, 422), (url, r.text)
    assert client.post("/api/intake/v1/reports/r%00/accept", json={"topic_code": "road-damage"}, headers=ioc).status_code in (400, 422)
    assert stored_counts(ctx) == before
    assert client.get(base, headers=ioc).json()["status"] == "submitted"


def test_nul_in_the_form_is_refused_on_the_page_and_never_written_back(app):
    ctx, client = app
    form = {"name": "Phan Thị Thu", "phone": "0912345678", "email": "thu@example.vn", "title": "Rác thải\x00 ven sông",
            "description": "Nhiều bao rác sinh hoạt bị đổ trộm.", "address_text": "Cầu\u202e Nhật Lệ", "acknowledged": "true"}
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/intake/report").text).group(1)
    r = client.post("/intake/report", data={**form, "csrf_token": token})
    assert r.status_code == 422 and ("U+0000" in r.text or "U+202E" in r.text)  # the first refused character it meets
    assert "\x00" not in r.text and "\u202e" not in r.text and "Rác thải ven sông" in r.text  # the rest is kept for the citizen
    assert stored_counts(ctx) == (0, 0, 0, 0)


def test_accept_files_under_a_known_topic_and_the_group_is_the_taxonomy_s(app, settings):
    ctx, client = app
    rid = client.post("/api/intake/v1/reports", json=GOOD).json()["id"]
    ioc = auth(settings)
    unknown = client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "no-such-topic"}, headers=ioc)
    assert unknown.status_code == 422 and "no-such-topic" in unknown.json()["error"]["detail"]["en"]
    made_up = client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "road-damage", "group_code": "my-own"}, headers=ioc)
    assert made_up.status_code == 422
    assert [e.type for e in outbox_envelopes(ctx)] == ["paht.intake.v1.ReportSubmitted"]
    r = client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "road-damage"}, headers=ioc)
    assert r.status_code == 200 and (r.json()["topic_code"], r.json()["group_code"]) == ("road-damage", "infrastructure")
    from paht.intake.v1 import events_pb2 as ev

    accepted = ev.ReportAccepted.FromString(outbox_envelopes(ctx)[-1].data)
    assert (accepted.topic_code, accepted.group_code) == ("road-damage", "infrastructure")


def test_a_submission_suggesting_an_unknown_topic_is_refused(app):
    ctx, client = app
    r = client.post("/api/intake/v1/reports", json={**GOOD, "topic_code": "no-such-topic"})
    assert r.status_code == 422 and stored_counts(ctx) == (0, 0, 0, 0)


def submit_many(ctx, count: int, urgent_every: int) -> list[str]:
    """Submit reports through the use case (faster than HTTP); every urgent_every-th one urgent."""
    from services.intake.service_layer import submission

    ids = []
    for i in range(count):
        cmd = submission.SubmitReport(name="Người phản ánh", phone=f"09{i:08d}", email=f"r{i}@example.vn", title=f"Phản ánh số {i}",
                                      description="Nội dung phản ánh để kiểm tra danh sách.", address_text="Đồng Hới", urgent=i % urgent_every == 0)
        ids.append(submission.submit_report(ctx.uow(), FakeTaxonomy(), cmd).report.id)
    return ids


def test_the_step_one_work_list_pages_through_every_waiting_report_urgent_first_then_oldest(app, settings):
    ctx, client = app
    ids = submit_many(ctx, 230, urgent_every=7)
    ioc = auth(settings)
    done = client.post(f"/api/intake/v1/reports/{ids[1]}/refuse", json={"reason": "unclear_or_test", "reason_text": "Gửi thử hệ thống"}, headers=ioc)
    assert done.status_code == 200
    seen, cursor, pages = [], None, 0
    while True:
        r = client.get("/api/intake/v1/reports", params={"limit": 100, **({"cursor": cursor} if cursor else {})}, headers=ioc)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == 229 and body["limit"] == 100
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == 229 and len({i["id"] for i in seen}) == 229
    assert {i["id"] for i in seen} == set(ids) - {ids[1]}
    urgent = [i for i in seen if i["urgent"]]
    assert seen[: len(urgent)] == urgent and len(urgent) == 33  # urgent first
    rest = seen[len(urgent):]
    assert [i["received_at"] for i in rest] == sorted(i["received_at"] for i in rest)  # then the oldest
    assert rest[0]["id"] == ids[2]
    refused = client.get("/api/intake/v1/reports", params={"status": "refused"}, headers=ioc).json()
    assert refused["total"] == 1 and refused["items"][0]["id"] == ids[1]
    for bad in [{"limit": 0}, {"limit": 201}, {"limit": "99999999999999999999"}, {"status": "nope"}]:
        assert client.get("/api/intake/v1/reports", params=bad, headers=ioc).status_code == 422, bad


def test_the_queue_screen_shows_how_many_wait_and_links_to_the_next_page(app, settings):
    import re

    ctx, client = app
    ids = submit_many(ctx, 55, urgent_every=1000)  # the first one is urgent
    client.headers.pop("Authorization")  # the fixture's reporter header would hide the staff cookie
    client.cookies.set("paht_token", token_for(settings, "ioc", ["ioc_operator"], "ioc-tinh"))
    first = client.get("/intake/queue")
    assert first.status_code == 200 and "55" in first.text.split('id="queue-total"')[1].split("</p>")[0]
    titles = re.findall(r"Phản ánh số (\d+)", first.text)
    assert titles[:3] == ["0", "1", "2"] and len(titles) == 50
    link = re.search(r'id="next-page" rel="next" href="\?cursor=([^"]+)"', first.text)
    second = client.get("/intake/queue", params={"cursor": link.group(1).replace("%3D", "=")})
    assert second.status_code == 200
    assert re.findall(r"Phản ánh số (\d+)", second.text) == [str(i) for i in range(50, 55)] and 'id="next-page"' not in second.text
    assert client.get("/intake/queue", params={"cursor": "broken"}).status_code == 422
    assert len(ids) == 55
