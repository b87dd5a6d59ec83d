"""Dispatch on a real database: demo seed, sign-in and discovery, step 2 over HTTP, the directory over gRPC."""
from __future__ import annotations

import asyncio

import grpc
import pytest
from fastapi.testclient import TestClient

from paht.dispatch.v1 import directory_pb2
from tests.support.services import deliver, migrated_context, outbox_envelopes, principal, token_for
from services.dispatch.bootstrap import SPEC, build_http, seed
from services.dispatch.entrypoints.grpc_api import DirectoryServicer
from services.intake.bootstrap import SPEC as INTAKE
from services.intake.service_layer import handlers as intake

pytestmark = pytest.mark.integration


@pytest.fixture
def dispatch(settings):
    settings = settings.model_copy(update={"demo_password": "mật-khẩu-thử"})
    ctx = migrated_context(SPEC, settings)
    counts = seed(ctx)
    assert counts["topics"] == 21 and counts["accounts"] == 8 and counts["org_units"] > 100
    assert seed(ctx) == {"org_units": 0, "topics": 0, "accounts": 0}  # idempotent
    yield ctx
    ctx.engine.dispose()


def test_sign_in_issues_a_token_that_every_service_can_check(dispatch):
    client = TestClient(build_http(dispatch))
    bad = client.post("/auth/token", data={"username": "ioc", "password": "sai"})
    assert bad.status_code == 401 and bad.json()["error"]["message"]["vi"]
    good = client.post("/auth/token", data={"username": "IOC ", "password": "mật-khẩu-thử"})
    assert good.status_code == 200
    user = dispatch.verifier.verify(good.json()["access_token"])
    assert user.roles == frozenset({"ioc_operator"}) and user.org_unit == "ioc-tinh"
    disco = client.get("/.well-known/openid-configuration", headers={"x-forwarded-host": "paht.quangbinh.gov.vn", "x-forwarded-proto": "https"}).json()
    assert disco["jwks_uri"] == "https://paht.quangbinh.gov.vn/.well-known/jwks.json"
    assert client.get("/.well-known/jwks.json").json()["keys"][0]["alg"] == "ES256"
    page = client.post("/auth/login", data={"username": "ioc", "password": "mật-khẩu-thử", "next": "//evil.example/"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/" and "paht_token" in page.headers["set-cookie"]


def test_step_two_sends_an_accepted_report_to_exactly_one_lead_agency(dispatch, settings):
    ictx = migrated_context(INTAKE, settings)
    report = intake.submit_report(ictx.uow(), intake.SubmitReport(name="Lê Văn Cường", phone="0987654321", email="c@example.vn",
                                                                   title="Cột điện nghiêng sắp đổ", description="Cột điện trước chợ Đồng Hới nghiêng nặng sau bão."))
    intake.accept_report(ictx.uow(), principal("ioc", ["ioc_operator"], "ioc-tinh"), report.id, "any-topic", "any-group", False, "")
    for env in outbox_envelopes(ictx):
        deliver(dispatch, env)
    client = TestClient(build_http(dispatch))
    ioc = {"Authorization": "Bearer " + token_for(settings, "ioc", ["ioc_operator"], "ioc-tinh")}
    queue = client.get("/api/dispatch/v1/queue", headers=ioc).json()["items"]
    assert [i["report_id"] for i in queue] == [report.id]
    assert client.post(f"/api/dispatch/v1/reports/{report.id}/dispatch", json={"agency_id": "so-gtvt-kcht"}, headers=ioc).status_code == 422
    assert client.post(f"/api/dispatch/v1/reports/{report.id}/dispatch", json={"agency_id": "nowhere"}, headers=ioc).status_code == 404
    r = client.post(f"/api/dispatch/v1/reports/{report.id}/dispatch", json={"agency_id": "so-gtvt"}, headers=ioc)
    assert r.status_code == 200 and r.json()["round"] == 1
    again = client.post(f"/api/dispatch/v1/reports/{report.id}/dispatch", json={"agency_id": "so-xd"}, headers=ioc)
    assert again.status_code == 409
    (event,) = outbox_envelopes(dispatch)
    body = event.decode()
    assert body.lead_agency.id == "so-gtvt" and body.round == 1 and body.handling_due.seconds > body.dispatch_due.seconds
    ictx.engine.dispose()


def test_directory_over_grpc_knows_validity_periods(dispatch):
    servicer = DirectoryServicer(dispatch)

    class Context:
        async def abort(self, code, details):
            raise grpc.RpcError(code, details)

    async def scenario():
        roots = await servicer.ListChildren(directory_pb2.ListChildrenRequest(as_of="2024-01-01"), Context())
        assert [u.id for u in roots.units] == ["province-quangbinh"]
        roots_now = await servicer.ListChildren(directory_pb2.ListChildrenRequest(as_of="2026-01-01"), Context())
        assert [u.id for u in roots_now.units] == ["province-quangtri-2025"]
        old_ward = await servicer.GetOrgUnit(directory_pb2.GetOrgUnitRequest(id="donghoi-ward-18853"), Context())
        assert old_ward.code == "18853" and old_ward.valid_to == "2025-07-01"
        with pytest.raises(grpc.RpcError):
            await servicer.GetOrgUnit(directory_pb2.GetOrgUnitRequest(id="donghoi-ward-18853", as_of="2026-01-01"), Context())
        topics = await servicer.ListTopics(directory_pb2.ListTopicsRequest(), Context())
        assert len(topics.topics) == 21 and len({t.group_code for t in topics.topics}) == 5

    asyncio.run(scenario())
