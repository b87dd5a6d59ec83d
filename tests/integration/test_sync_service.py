"""Sync on a real database: ownership follows dispatch; who may read it; the node's status for the IOC."""
from __future__ import annotations


import grpc
import pytest
from fastapi.testclient import TestClient

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.runtime.events.consumer import Outcome
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.sync.v1 import sync_pb2
from services.sync import bootstrap
from tests.support.services import ServedGrpc, deliver, migrated_context, outbox_envelopes, token_for

pytestmark = pytest.mark.integration


@pytest.fixture
def ctx(settings):
    c = migrated_context(bootstrap.SPEC, settings)
    yield c
    c.engine.dispose()


@pytest.fixture
def client(ctx):
    return TestClient(bootstrap.build_http(ctx))


def dispatched(settings, report_id: str, agency: str, hub: str = "", version: int = 1) -> Envelope:
    event = dispatch_ev.ReportDispatched(lead_agency=common_pb2.OrgRef(id=agency, code=agency, name=agency), hub_node=hub, round=version)
    event.meta.report_id, event.meta.report_version = report_id, version
    return Envelope.for_event(event, node_id=settings.node_id, service="dispatch", report_id=report_id, version=version,
                              time="2026-05-04T02:00:00Z")


def as_(settings, subject: str, role: str, org_unit: str) -> dict:
    return {"Authorization": f"Bearer {token_for(settings, subject, [role], org_unit)}"}


def test_ownership_is_404_when_unknown_or_hidden_and_shown_to_the_ioc_and_the_lead_agency(ctx, settings, client):
    report_id = new_id()
    assert deliver(ctx, dispatched(settings, report_id, "so-gtvt")) is Outcome.APPLIED
    url = f"/api/sync/v1/ownership/{report_id}"
    ioc, sogtvt = as_(settings, "ioc", "ioc_operator", "ioc-tinh"), as_(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    capnuoc = as_(settings, "capnuoc", "agency_coordinator", "cty-capnuoc")

    assert client.get(url, headers=ioc).json() == {"report_id": report_id, "node_id": "province", "epoch": 0, "lead_agency_id": "so-gtvt"}
    assert client.get(url, headers=sogtvt).status_code == 200
    hidden, unknown = client.get(url, headers=capnuoc), client.get(f"/api/sync/v1/ownership/{new_id()}", headers=ioc)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["error"]["detail"] == unknown.json()["error"]["detail"]  # existence is not revealed
    assert client.get(url, headers=as_(settings, "canbo", "staff", "so-gtvt-kcht")).status_code == 404
    assert client.get(url).status_code == 401
    for weird in ("%00", "x" * 37, "a%20b"):
        assert client.get(f"/api/sync/v1/ownership/{weird}", headers=ioc).status_code in (400, 404, 422), weird
    with ctx.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM ownerships").scalar_one() == 1  # nothing invented


def test_status_is_for_the_ioc_only(ctx, settings, client):
    for agency, hub in (("so-gtvt", ""), ("donghoi-city", "donghoi"), ("so-xd", "")):
        assert deliver(ctx, dispatched(settings, new_id(), agency, hub)) is Outcome.APPLIED
    ok = client.get("/api/sync/v1/status", headers=as_(settings, "ioc", "ioc_admin", "ioc-tinh"))
    assert ok.status_code == 200 and ok.json() == {"node_id": settings.node_id, "role": "alone", "parent_node": None, "hubs": [],
                                                   "peers": [], "refused_events": 0, "reports_by_node": {"province": 2, "donghoi": 1}}
    assert client.get("/api/sync/v1/refused", headers=as_(settings, "ioc", "ioc_admin", "ioc-tinh")).json() == {"items": []}
    assert client.get("/api/sync/v1/refused", headers=as_(settings, "canbo", "staff", "so-gtvt-kcht")).status_code == 403
    refused = client.get("/api/sync/v1/status", headers=as_(settings, "capnuoc", "agency_coordinator", "cty-capnuoc"))
    assert refused.status_code == 403 and set(refused.json()["error"]["message"]) == {"vi", "en"}
    assert client.get("/api/sync/v1/status").status_code == 401


def test_a_redispatch_away_from_a_hub_recalls_it_and_grpc_knows_only_dispatched_reports(ctx, settings):
    report_id = new_id()
    assert deliver(ctx, dispatched(settings, report_id, "donghoi-city", "donghoi", 1)) is Outcome.APPLIED
    assert deliver(ctx, dispatched(settings, report_id, "so-xd", "", 2)) is Outcome.APPLIED
    assert [e.type.rsplit(".", 1)[1] for e in outbox_envelopes(ctx)] == ["OwnershipGranted", "OwnershipRecalled"]

    from paht.sync.v1 import sync_pb2_grpc

    with ServedGrpc(ctx, bootstrap.SPEC.register_grpc) as served:
        reply = served.call(sync_pb2_grpc.SyncServiceStub, "GetOwnership", sync_pb2.GetOwnershipRequest(report_id=report_id))
        assert (reply.node_id, reply.epoch) == ("province", 2)
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            served.call(sync_pb2_grpc.SyncServiceStub, "GetOwnership", sync_pb2.GetOwnershipRequest(report_id=new_id()))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
