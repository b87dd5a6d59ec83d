"""Step 2 on a real database with the demo directory: routing suggestions (topic's fields, the place from the map
location or the area code, the hub node), who may dispatch, and the competence rule with its written reason."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.events.consumer import Outcome
from paht.runtime.ids import new_id
from paht.runtime.sla import Step, default_engine
from services.dispatch.bootstrap import SPEC, build_http
from services.dispatch.service_layer import directory_admin
from tests.support.handling import envelope
from tests.support.services import deliver, migrated_context, outbox_envelopes, principal, token_for

pytestmark = pytest.mark.integration
ADMIN = principal("admin", ["ioc_admin"], "ioc-tinh")
DONG_HOI = (17.468, 106.622)  # the city centre, inside Phường Đồng Hới (18880) since 1 July 2025


@pytest.fixture
def ctx(settings):
    context = migrated_context(SPEC, settings)
    SPEC.seed(context)  # the organisation tree and the taxonomy (no accounts without a demo password)
    yield context
    context.engine.dispose()


@pytest.fixture
def client(ctx):
    return TestClient(build_http(ctx))


def auth(settings, subject: str, role: str, org_unit: str) -> dict:
    return {"Authorization": "Bearer " + token_for(settings, subject, [role], org_unit)}


@pytest.fixture
def ioc(settings):
    return auth(settings, "ioc", "ioc_operator", "ioc-tinh")


def accepted(ctx, topic: str, *, area_code: str = "", location: tuple[float, float] | None = None,
             received: datetime | None = None, title: str = "") -> str:
    """Deliver intake's ReportAccepted for a new report, as its consumer would; return the report id."""
    rid = new_id()
    msg = intake_ev.ReportAccepted(topic_code=topic, group_code="g", area_code=area_code, title=title)
    msg.received_at.FromDatetime(received or datetime.now(timezone.utc) - timedelta(minutes=10))
    if location:
        msg.location.lat, msg.location.lon = location
    assert deliver(ctx, envelope(ctx, "intake", msg, rid, 1)) is Outcome.APPLIED
    return rid


def events(ctx, kind: str) -> list:
    return [e.decode() for e in outbox_envelopes(ctx) if e.type == f"paht.dispatch.v1.{kind}"]


def square(code: str, lat: float, lon: float, half: float) -> dict:
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    ring = [[lon + dx * half, lat + dy * half] for dx, dy in corners]
    return {"type": "Feature", "properties": {"code": code, "name": f"synthetic {code}"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_suggestions_rank_competent_agencies_with_their_reasons_and_dispatch_nothing(ctx, client, ioc):
    rid = accepted(ctx, "littering", area_code="18880")  # littering: k (waste), e (environment), n; in Phường Đồng Hới
    before = len(outbox_envelopes(ctx))
    r = client.get(f"/api/dispatch/v1/reports/{rid}/suggestions", headers=ioc)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["topic"]["fields"] == ["k", "e", "n"] and body["place"] == {
        "known": True, "source": "area_code", "area_codes": ["18880"],
        "source_phrase": {"en": "from the area given with the report", "vi": "theo địa bàn ghi trong phản ánh"}}
    ranked = [s["agency_id"] for s in body["items"]]
    assert ranked[0] == "cty-moitruong" and {"so-tnmt", "ward-donghoi-2025"} <= set(ranked[:3])
    assert not {"emergency-113", "emergency-114", "emergency-115", "ban-chi-dao", "ioc-tinh"} & set(ranked)
    ward = next(s for s in body["items"] if s["agency_id"] == "ward-donghoi-2025")
    assert ward["hub_node"] == "donghoi" and ward["competent"]
    assert [x["code"] for x in ward["reasons"]] == ["by_level", "field", "place", "hub"]
    assert ward["score"] == sum(x["points"] for x in ward["reasons"])
    assert "18880" in ward["reasons"][2]["en"] and "18880" in ward["reasons"][2]["vi"]
    assert all(s["score"] >= t["score"] for s, t in zip(body["items"], body["items"][1:]))
    # suggestions never dispatch: nothing emitted, still waiting
    assert len(outbox_envelopes(ctx)) == before
    assert client.get(f"/api/dispatch/v1/reports/{rid}", headers=ioc).json()["status"] == "awaiting_dispatch"
    assert len(client.get(f"/api/dispatch/v1/reports/{rid}/suggestions?limit=2", headers=ioc).json()["items"]) == 2


def test_the_map_location_places_the_report_when_a_boundary_contains_it(ctx, client, ioc):
    shapes = {"type": "FeatureCollection", "features": [square("18880", *DONG_HOI, 0.01), square("18871", 17.49, 106.60, 0.005)]}
    directory_admin.import_boundaries(ctx.uow(), ADMIN, json.dumps(shapes), "synthetic.geojson")
    # the reporter picked Đồng Sơn (18871), but the pin is in Phường Đồng Hới (18880): the map wins
    rid = accepted(ctx, "pollution", area_code="18871", location=DONG_HOI)
    item = client.get(f"/api/dispatch/v1/reports/{rid}", headers=ioc).json()
    assert item["location"] == {"lat": DONG_HOI[0], "lon": DONG_HOI[1]} and item["area_code"] == "18871"
    body = client.get(f"/api/dispatch/v1/reports/{rid}/suggestions", headers=ioc).json()
    assert body["place"]["source"] == "location" and body["place"]["area_codes"][0] == "18880"
    ids = [s["agency_id"] for s in body["items"]]
    assert ids[0] == "so-tnmt" and "ward-donghoi-2025" in ids and "ward-dongson-2025" not in ids
    # a pin outside every boundary: the area code decides
    far = accepted(ctx, "pollution", area_code="18871", location=(17.0, 106.0))
    elsewhere = client.get(f"/api/dispatch/v1/reports/{far}/suggestions", headers=ioc).json()
    assert elsewhere["place"]["source"] == "area_code" and "ward-dongson-2025" in [s["agency_id"] for s in elsewhere["items"]]


def test_every_ioc_role_sees_suggestions_and_history_but_only_an_operator_dispatches(ctx, client, settings, ioc):
    rid = accepted(ctx, "traffic-safety")
    for role in ("ioc_editor", "ioc_admin"):
        who = auth(settings, "someone", role, "ioc-tinh")
        assert client.get(f"/api/dispatch/v1/reports/{rid}/suggestions", headers=who).status_code == 200
        r = client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "cong-an-tinh"}, headers=who)
        assert r.status_code == 403 and r.json()["error"]["code"] == "error.wrong_role", role
        assert r.json()["error"]["detail"]["en"] != r.json()["error"]["detail"]["vi"]
    coordinator = auth(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    assert client.get(f"/api/dispatch/v1/reports/{rid}/suggestions", headers=coordinator).status_code == 403
    assert client.get(f"/api/dispatch/v1/reports/{rid}/suggestions").status_code == 401
    assert client.get(f"/api/dispatch/v1/reports/{new_id()}/suggestions", headers=ioc).status_code == 404
    assert client.get(f"/api/dispatch/v1/reports/{rid}", headers=ioc).json()["status"] == "awaiting_dispatch"
    assert client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "cong-an-tinh"}, headers=ioc).status_code == 200


@pytest.mark.parametrize("agency_id", ["emergency-114", "ban-chi-dao", "ioc-tinh", "so-gtvt-kcht"])
def test_a_unit_that_cannot_lead_is_a_422_in_both_languages(ctx, client, ioc, agency_id):
    rid = accepted(ctx, "traffic-safety")
    r = client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": agency_id}, headers=ioc)
    assert r.status_code == 422 and "cannot be a lead agency" in r.json()["error"]["detail"]["en"]
    assert "không phải cơ quan đầu mối" in r.json()["error"]["detail"]["vi"] and events(ctx, "ReportDispatched") == []


def test_an_agency_without_competence_needs_a_reason_that_is_recorded_and_carried(ctx, client, ioc):
    rid = accepted(ctx, "food-safety")  # field b: the Department of Health
    url = f"/api/dispatch/v1/reports/{rid}/dispatch"
    refused = client.post(url, json={"agency_id": "so-gtvt"}, headers=ioc)
    assert refused.status_code == 422 and "competence_reason" in refused.json()["error"]["detail"]["en"]
    assert "thẩm quyền" in refused.json()["error"]["detail"]["vi"]
    short = client.post(url, json={"agency_id": "so-gtvt", "competence_reason": "vì  vậy "}, headers=ioc)
    assert short.status_code == 422 and short.json()["error"]["code"] == "error.too_short"
    nul = client.post(url, json={"agency_id": "so-gtvt", "competence_reason": "Bếp ăn ở bến xe\x00 khách"}, headers=ioc)
    assert nul.status_code == 422 and nul.json()["error"]["code"] == "error.bad_character"
    assert events(ctx, "ReportDispatched") == []
    reason = "Bếp ăn nằm trong bến xe khách do Sở quản lý trực tiếp"
    ok = client.post(url, json={"agency_id": "so-gtvt", "competence_reason": reason, "note": "Kiểm tra gấp"}, headers=ioc)
    assert ok.status_code == 200, ok.text
    (event,) = events(ctx, "ReportDispatched")
    assert (event.competence_reason, event.note, event.lead_agency.id, event.escalated) == (reason, "Kiểm tra gấp", "so-gtvt", False)
    sent = event.meta.occurred_at.ToDatetime(tzinfo=timezone.utc)
    agency_due, handling_due = event.agency_due.ToDatetime(tzinfo=timezone.utc), event.handling_due.ToDatetime(tzinfo=timezone.utc)
    engine = default_engine()
    # the engine's rules on the agency's calendar: 1 working hour, 5 working days, counted from the dispatch
    assert abs(agency_due - engine.due(Step.AGENCY, sent, org=("so-gtvt",))) < timedelta(seconds=2)
    assert abs(handling_due - engine.due(Step.HANDLING, sent, org=("so-gtvt",))) < timedelta(seconds=2)
    assert event.on_time and event.dispatch_due.ToDatetime(tzinfo=timezone.utc) > sent
    (first,) = client.get(f"/api/dispatch/v1/reports/{rid}/history", headers=ioc).json()["rounds"]
    assert (first["competence_reason"], first["note"], first["agency_id"], first["dispatched_by"]) == \
        (reason, "Kiểm tra gấp", "so-gtvt", "ioc")
    # the competent agency needs no reason
    other = accepted(ctx, "food-safety")
    assert client.post(f"/api/dispatch/v1/reports/{other}/dispatch", json={"agency_id": "so-yt"}, headers=ioc).status_code == 200


def test_a_late_dispatch_is_announced_as_late(ctx, client, ioc):
    rid = accepted(ctx, "traffic-safety", received=datetime.now(timezone.utc) - timedelta(hours=30))
    assert client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "cong-an-tinh"}, headers=ioc).status_code == 200
    (event,) = events(ctx, "ReportDispatched")
    assert not event.on_time
    assert client.get(f"/api/dispatch/v1/reports/{rid}/history", headers=ioc).json()["rounds"][0]["on_time"] is False


def test_the_work_list_can_show_one_open_status_and_refuses_others(ctx, client, ioc):
    rid = accepted(ctx, "traffic-safety")
    assert [i["report_id"] for i in client.get("/api/dispatch/v1/queue?status=awaiting_dispatch", headers=ioc).json()["items"]] == [rid]
    assert client.get("/api/dispatch/v1/queue?status=escalated", headers=ioc).json()["total"] == 0
    bad = client.get("/api/dispatch/v1/queue?status=dispatched", headers=ioc)
    assert bad.status_code == 422 and bad.json()["error"]["detail"]["vi"]


def test_the_public_directory_shows_what_routing_reads(ctx, client):
    """The topics' fields and the units' areas (the two inputs of a suggestion) are public, as of a day."""
    topics = client.get("/api/dispatch/v1/topics").json()["items"]
    littering = next(t for t in topics if t["code"] == "littering")
    assert len(topics) == 21 and littering["fields"] == ["k", "e", "n"] and littering["group_name_en"]
    assert client.get("/api/dispatch/v1/topics", params={"as_of": "2024-01-01"}).status_code == 200
    assert client.get("/api/dispatch/v1/topics", params={"as_of": "not-a-day"}).status_code == 422
    ward = client.get("/api/dispatch/v1/org-units/ward-donghoi-2025").json()
    assert "18880" in ward["areas"] and ward["kind"] == "ward" and ward["hub_node"] == "donghoi"


def test_the_console_names_each_report_by_its_title_from_step_1(ctx, client, settings, ioc):
    rid = accepted(ctx, "traffic-safety", area_code="18880", title="Đèn tín hiệu giao lộ Trần Hưng Đạo không hoạt động")
    assert client.get(f"/api/dispatch/v1/reports/{rid}", headers=ioc).json()["title"].startswith("Đèn tín hiệu")
    page = client.get("/dispatch/console", headers=ioc)
    assert page.status_code == 200 and "Đèn tín hiệu giao lộ Trần Hưng Đạo không hoạt động" in page.text
