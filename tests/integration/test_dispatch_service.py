"""Dispatch on a real database: demo seed, sign-in and discovery, step 2 over HTTP, the work list, the directory over gRPC."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grpc
import pytest
from fastapi.testclient import TestClient

from paht.dispatch.v1 import directory_pb2, directory_pb2_grpc
from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.events.consumer import Outcome
from paht.runtime.ids import new_id
from paht.runtime.sla import Step, default_engine
from services.dispatch.bootstrap import SPEC, build_http, seed
from services.dispatch.domain.dispatching import DispatchItem
from tests.support.services import ServedGrpc, deliver, migrated_context, outbox_envelopes, token_for

pytestmark = pytest.mark.integration
PASSWORD = "mật-khẩu-thử"


@pytest.fixture
def dispatch(settings):
    settings = settings.model_copy(update={"demo_password": PASSWORD})
    ctx = migrated_context(SPEC, settings)
    counts = seed(ctx)
    assert counts["topics"] == 21 and counts["accounts"] >= 8 and counts["org_units"] > 100
    again = seed(ctx)
    assert (again["org_units"], again["topics"], again["accounts"]) == (0, 0, 0)  # idempotent
    yield ctx
    ctx.engine.dispose()


def dispatched_events(ctx) -> list:
    return [e for e in outbox_envelopes(ctx) if e.type == "paht.dispatch.v1.ReportDispatched"]


def ioc_headers(settings) -> dict:
    return {"Authorization": "Bearer " + token_for(settings, "ioc", ["ioc_operator"], "ioc-tinh")}


def test_sign_in_issues_a_token_that_every_service_can_check(dispatch):
    client = TestClient(build_http(dispatch))
    bad = client.post("/auth/token", data={"username": "ioc", "password": "sai"})
    assert bad.status_code == 401 and bad.json()["error"]["message"]["vi"]
    good = client.post("/auth/token", data={"username": "IOC ", "password": PASSWORD})
    assert good.status_code == 200 and set(good.json()) >= {"access_token", "token_type", "expires_in"}
    user = dispatch.verifier.verify(good.json()["access_token"])
    assert user.roles == frozenset({"ioc_operator"}) and user.org_unit == "ioc-tinh" and user.claims["jti"]
    assert client.get("/.well-known/jwks.json").json()["keys"][0]["alg"] == "ES256"
    client.get("/auth/login")  # the form's CSRF cookie
    form = {"username": "ioc", "password": PASSWORD, "next": "//evil.example/", "csrf_token": client.cookies.get("paht_csrf")}
    page = client.post("/auth/login", data=form, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/" and "paht_token" in page.headers["set-cookie"]


def test_a_name_with_control_characters_is_a_clear_422_not_a_500(dispatch):
    r = TestClient(build_http(dispatch)).post("/auth/token", data={"username": "ioc\x00", "password": "x"})
    assert r.status_code == 422 and r.json()["error"]["detail"]["vi"]


def test_discovery_takes_forwarded_hosts_only_from_trusted_proxies(dispatch):
    """Item 6: a client's X-Forwarded-Host never reaches the published URLs."""
    forged = {"x-forwarded-host": "evil.example", "x-forwarded-proto": "https"}
    stranger = TestClient(build_http(dispatch), client=("203.0.113.9", 40000))
    disco = stranger.get("/.well-known/openid-configuration", headers=forged).json()
    assert "evil.example" not in str(disco) and disco["jwks_uri"] == "http://testserver/.well-known/jwks.json"
    edge = TestClient(build_http(dispatch), client=("127.0.0.1", 40000))  # the edge, a trusted proxy
    trusted = {"x-forwarded-host": "paht.quangbinh.gov.vn", "x-forwarded-proto": "https"}
    disco = edge.get("/.well-known/openid-configuration", headers=trusted).json()
    assert disco["jwks_uri"] == "https://paht.quangbinh.gov.vn/.well-known/jwks.json"
    configured = dispatch.settings.model_copy(update={"public_url": "https://paht.quangbinh.gov.vn"})
    dispatch.settings = configured
    disco = TestClient(build_http(dispatch), client=("203.0.113.9", 40000)).get("/.well-known/openid-configuration", headers=forged).json()
    assert disco["jwks_uri"] == "https://paht.quangbinh.gov.vn/.well-known/jwks.json"
    assert disco["revocation_endpoint"].endswith("/auth/revoke")


def arriving(ctx, producer: str, msg, report_id: str, version: int):
    """The envelope another service's outbox would hold."""
    from tests.support.handling import envelope  # here, not above: it brings handling's code along

    return envelope(ctx, producer, msg, report_id, version)


def test_step_two_sends_an_accepted_report_to_exactly_one_lead_agency(dispatch, settings):
    rid = new_id()
    accepted = intake_ev.ReportAccepted(topic_code="traffic-safety", group_code="security")
    accepted.received_at.FromDatetime(datetime.now(timezone.utc))
    assert deliver(dispatch, arriving(dispatch, "intake", accepted, rid, 1)) is Outcome.APPLIED
    client = TestClient(build_http(dispatch))
    ioc = ioc_headers(settings)
    queue = client.get("/api/dispatch/v1/queue", headers=ioc).json()
    assert [i["report_id"] for i in queue["items"]] == [rid] and queue["total"] == 1 and queue["items"][0]["status"] == "awaiting_dispatch"
    assert client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-gtvt-kcht"}, headers=ioc).status_code == 422
    assert client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "nowhere"}, headers=ioc).status_code == 404
    nul = client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-gtvt\u0000"}, headers=ioc)
    assert nul.status_code == 422 and nul.json()["error"]["code"] == "error.bad_character"  # PostgreSQL would answer 500
    r = client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-gtvt"}, headers=ioc)
    assert r.status_code == 200 and r.json()["round"] == 1
    again = client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-xd"}, headers=ioc)
    assert again.status_code == 409 and "already sent to a lead agency" in again.json()["error"]["detail"]["en"]
    (event,) = dispatched_events(dispatch)
    body = event.decode()
    assert body.lead_agency.id == "so-gtvt" and body.round == 1 and body.handling_due.seconds > body.dispatch_due.seconds


def test_an_agency_refusal_brings_the_report_back_to_step_two_for_a_second_round(dispatch, settings):
    """Item 17: the refusal → re-dispatch loop, through dispatch's own handler (emptying it must break this)."""
    rid = new_id()
    arrival = datetime.now(timezone.utc) - timedelta(minutes=30)
    with dispatch.uow() as uow:
        uow.items.add(DispatchItem.accepted(rid, arrival, False, "traffic-safety", "security", default_engine()))
        uow.commit()
    client, ioc = TestClient(build_http(dispatch)), ioc_headers(settings)
    assert client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-gtvt"}, headers=ioc).status_code == 200
    assert client.get("/api/dispatch/v1/queue", headers=ioc).json()["total"] == 0
    refusal = handling_ev.CaseRefusedByAgency(reason="Không thuộc thẩm quyền của Sở")
    refusal.agency.id = "so-gtvt"
    refused_at = datetime.now(timezone.utc).replace(microsecond=0)
    refusal.meta.occurred_at.FromDatetime(refused_at)
    assert deliver(dispatch, arriving(dispatch, "handling", refusal, rid, 1)) is Outcome.APPLIED
    item = client.get(f"/api/dispatch/v1/reports/{rid}", headers=ioc).json()
    assert item["status"] == "refused_by_agency" and item["lead_agency_id"] is None
    assert item["refusal"] == {"round": 1, "agency_id": "so-gtvt", "agency_name": "Sở Giao thông vận tải",
                               "refused_at": refused_at.isoformat(), "reason": "Không thuộc thẩm quyền của Sở"}
    assert item["clock_started_at"] == refused_at.isoformat()  # a new clock, from the refusal
    assert datetime.fromisoformat(item["dispatch_due"]) == default_engine().due(Step.DISPATCH, refused_at)
    queued = client.get("/api/dispatch/v1/queue", headers=ioc).json()["items"]
    assert [i["report_id"] for i in queued] == [rid] and queued[0]["refusal"]["reason"] == "Không thuộc thẩm quyền của Sở"
    second = client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "cong-an-tinh"}, headers=ioc)
    assert second.status_code == 200 and second.json()["round"] == 2 and second.json()["lead_agency_id"] == "cong-an-tinh"
    assert second.json()["refusal"] is None
    assert [e.decode().round for e in dispatched_events(dispatch)] == [1, 2]
    history = client.get(f"/api/dispatch/v1/reports/{rid}/history", headers=ioc).json()
    assert [(r["round"], r["agency_id"], r["refusal_reason"]) for r in history["rounds"]] == [
        (1, "so-gtvt", "Không thuộc thẩm quyền của Sở"), (2, "cong-an-tinh", None)]
    assert history["rounds"][0]["dispatched_by"] == "ioc" and history["rounds"][1]["refused_at"] is None


def test_the_queue_is_urgent_first_then_nearest_deadline_one_page_at_a_time(dispatch, settings):
    """Item 13: every waiting report can be reached, in the work list's order, with the total."""
    start = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)
    items = [DispatchItem.accepted(new_id(), start + timedelta(minutes=7 * i), i % 4 == 0, "t", "g", default_engine()) for i in range(12)]
    with dispatch.uow() as uow:
        for item in items:
            uow.items.add(item)
        uow.commit()
    expected = [i.report_id for i in sorted(items, key=lambda i: (not i.urgent, i.dispatch_due, i.report_id))]
    client, ioc = TestClient(build_http(dispatch)), ioc_headers(settings)
    seen, cursor = [], None
    while True:
        page = client.get("/api/dispatch/v1/queue", params={"limit": 5, **({"cursor": cursor} if cursor else {})}, headers=ioc).json()
        assert page["total"] == 12 and page["limit"] == 5 and len(page["items"]) <= 5
        seen += [i["report_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == expected and all(i.urgent for i in items if i.report_id in seen[:3])
    assert client.get("/api/dispatch/v1/queue", params={"limit": 201}, headers=ioc).status_code == 422
    assert client.get("/api/dispatch/v1/queue", params={"cursor": "not-a-cursor"}, headers=ioc).status_code == 422


def test_directory_over_grpc_knows_validity_periods(dispatch):
    stub = directory_pb2_grpc.DirectoryServiceStub
    with ServedGrpc(dispatch, SPEC.register_grpc) as served:
        def call(method, request):
            return served.call(stub, method, request)

        roots = call("ListChildren", directory_pb2.ListChildrenRequest(as_of="2024-01-01"))
        assert [u.id for u in roots.units] == ["province-quangbinh"]
        roots_now = call("ListChildren", directory_pb2.ListChildrenRequest(as_of="2026-01-01"))
        assert [u.id for u in roots_now.units] == ["province-quangtri-2025"]
        old_ward = call("GetOrgUnit", directory_pb2.GetOrgUnitRequest(id="donghoi-ward-18853"))
        assert old_ward.code == "18853" and old_ward.valid_to == "2025-07-01"
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            call("GetOrgUnit", directory_pb2.GetOrgUnitRequest(id="donghoi-ward-18853", as_of="2026-01-01"))
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as nul:  # no unit has such an id; PostgreSQL must not even be asked
            call("GetOrgUnit", directory_pb2.GetOrgUnitRequest(id="so-gtvt\x00"))
        assert nul.value.code() == grpc.StatusCode.NOT_FOUND
        topics = call("ListTopics", directory_pb2.ListTopicsRequest())
        assert len(topics.topics) == 21 and len({t.group_code for t in topics.topics}) == 5
        person = call("GetPerson", directory_pb2.GetPersonRequest(subject="canbo"))
        assert person.org_unit_id and "staff" in person.roles
        people = call("ListPeople", directory_pb2.ListPeopleRequest(org_unit_id=person.org_unit_id, role="staff"))
        assert "canbo" in [p.subject for p in people.people]
        with pytest.raises(grpc.aio.AioRpcError) as nobody:  # a NUL names nobody: NOT_FOUND, not a PostgreSQL error
            call("GetPerson", directory_pb2.GetPersonRequest(subject="canbo\x00"))
        assert nobody.value.code() == grpc.StatusCode.NOT_FOUND
        empty = call("ListPeople", directory_pb2.ListPeopleRequest(org_unit_id="so-gtvt\x00"))
        assert list(empty.people) == []


def test_the_ioc_takes_a_dispatched_report_back_with_a_reason_and_dispatches_it_again(dispatch, settings):
    rid = new_id()
    with dispatch.uow() as uow:
        uow.items.add(DispatchItem.accepted(rid, datetime.now(timezone.utc) - timedelta(minutes=5), False, "traffic-safety",
                                            "security", default_engine()))
        uow.commit()
    client, ioc = TestClient(build_http(dispatch)), ioc_headers(settings)
    url = f"/api/dispatch/v1/reports/{rid}/recall"
    early = client.post(url, json={"reason": "Phường mất kết nối quá lâu"}, headers=ioc)
    assert early.status_code == 409 and set(early.json()["error"]["detail"]) == {"en", "vi"}  # nothing sent yet
    assert client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-gtvt"}, headers=ioc).status_code == 200
    staff = {"Authorization": "Bearer " + token_for(settings, "canbo", ["staff"], "so-gtvt-kcht")}
    assert client.post(url, json={"reason": "Phường mất kết nối quá lâu"}, headers=staff).status_code == 403
    assert client.post(url, json={"reason": " "}, headers=ioc).status_code == 422
    assert client.post(url, json={}, headers=ioc).status_code == 422
    r = client.post(url, json={"reason": "Phường mất kết nối quá lâu"}, headers=ioc)
    assert r.status_code == 200 and r.json()["status"] == "recalled" and r.json()["lead_agency_id"] is None
    assert [i["report_id"] for i in client.get("/api/dispatch/v1/queue", headers=ioc).json()["items"]] == [rid]
    (recalled,) = [e for e in outbox_envelopes(dispatch) if e.type == "paht.dispatch.v1.ReportRecalled"]
    body = recalled.decode()
    assert (body.lead_agency.id, body.round, body.reason) == ("so-gtvt", 1, "Phường mất kết nối quá lâu")
    again = client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-gtvt", "note": "Gửi lại"}, headers=ioc)
    assert again.status_code == 200 and again.json()["round"] == 2
    assert [e.decode().round for e in dispatched_events(dispatch)] == [1, 2]
