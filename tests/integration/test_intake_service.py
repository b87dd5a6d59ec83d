"""Intake over HTTP on a real database: submission rules, step 1, audited contact release, concurrency."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from tests.support.services import migrated_context, outbox_envelopes, token_for
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
}


@pytest.fixture
def app(settings):
    ctx = migrated_context(SPEC, settings)
    client = TestClient(build_http(ctx))
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
        ({"channel": "fax"}, 422, "channel"),
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
    again = client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "x"}, headers=ioc)
    assert again.status_code == 409 and again.json()["error"]["code"] == "error.conflict_state"
    assert [e.type.rsplit(".", 1)[1] for e in outbox_envelopes(ctx)] == ["ReportSubmitted", "ReportRefused"]
    assert [e.report_version for e in outbox_envelopes(ctx)] == [1, 2]


def test_reporter_contact_is_released_only_to_the_ioc_and_every_release_is_audited(app, settings):
    ctx, client = app
    rid = client.post("/api/intake/v1/reports", json=GOOD).json()["id"]
    staff = auth(settings, "canbo", ("staff",), "so-gtvt-kcht")
    assert client.post(f"/api/intake/v1/reports/{rid}/contact", json={"purpose": "gọi xác minh"}, headers=staff).status_code == 403
    r = client.post(f"/api/intake/v1/reports/{rid}/contact", json={"purpose": "Gọi điện xác minh vị trí"}, headers=auth(settings))
    assert r.status_code == 200 and r.json()["phone"] == "0912345678" and r.json()["email"] == "thu@example.vn"
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(contact_audit)).all()
    assert [(row.staff_subject, row.purpose) for row in rows] == [("ioc", "Gọi điện xác minh vị trí")]
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
        a.accept("trat-tu-giao-thong", "an-ninh", None, "")
        a.next_version()
        first.commit()
        b.refuse("duplicate", "Trùng với phản ánh khác")
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


def test_reporter_contact_over_grpc_needs_an_ioc_token_and_is_audited(app, settings):
    import asyncio

    import grpc

    from paht.intake.v1 import intake_pb2, intake_pb2_grpc
    from paht.runtime.grpcx import GrpcServer, open_channel
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
                await stub.GetReporterContact(request, metadata=staff)
            assert wrong_role.value.code() == grpc.StatusCode.PERMISSION_DENIED
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
