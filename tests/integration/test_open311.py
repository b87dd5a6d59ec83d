"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2) and its Service Discovery, on a real database: every
resource in .json and .xml, its fields and types, its defaults, its error format and codes, the page/page_size
extension and mySociety's servicerequestupdates; a POST goes through intake's real gRPC service."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from paht.dispatch.v1 import directory_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import TAXONOMY_ID, new_id
from services.publication import bootstrap
from tests.integration.test_publication_service import Producer, story
from tests.support.services import ServedGrpc, deliver, migrated_context

pytestmark = pytest.mark.integration
V2 = "/open311/v2"
LIGHTS = directory_pb2.Topic(code="dien-nuoc-chieu-sang", name="Điện, nước, chiếu sáng", group_code="ha-tang", group_name="Hạ tầng đô thị",
                             keywords=["đèn đường", "mất nước"])
WASTE = directory_pb2.Topic(code="xa-rac", name="Xả rác bừa bãi", group_code="do-thi", group_name="Xây dựng, trật tự đô thị")
COVID = directory_pb2.Topic(code="covid-vi-pham", name="Vi phạm phòng dịch", group_code="covid", group_name="Covid-19", valid_to="2023-01-01")
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description", "agency_responsible",
                  "service_notice", "requested_datetime", "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "lat", "long", "media_url"}


def taxonomy(settings, *topics, revision: int = 1) -> Envelope:
    event = dispatch_ev.TaxonomyPublished(revision=revision, topics=list(topics or (LIGHTS, WASTE, COVID)))
    return Envelope.for_event(event, node_id=settings.node_id, service="dispatch", report_id=TAXONOMY_ID, version=revision)


def tell(ctx, events: dict, *producers: str) -> None:
    for producer in producers or ("intake", "dispatch", "handling"):
        for envelope in events[producer]:
            deliver(ctx, envelope)


@pytest.fixture
def pub(settings):
    ctx = migrated_context(bootstrap.SPEC, settings)
    deliver(ctx, taxonomy(settings))
    yield ctx, TestClient(bootstrap.build_http(ctx))
    ctx.engine.dispose()


def xml_of(r) -> ET.Element:
    assert r.headers["content-type"].startswith("text/xml"), r.headers["content-type"]
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(r.content)


def spec_error(r, code: int, fmt: str = "json") -> str:
    """The specification's error format: a list of {code, description} (JSON) or <errors><error> (XML), with that status."""
    assert r.status_code == code, r.text
    if fmt == "json":
        body = r.json()
        assert isinstance(body, list) and len(body) == 1 and body[0]["code"] == code and body[0]["description"]
        return body[0]["description"]
    root = xml_of(r)
    assert root.tag == "errors" and root[0].tag == "error" and root[0].findtext("code") == str(code)
    return root[0].findtext("description")


# --- discovery and services --------------------------------------------------------------------------

def test_the_discovery_file_names_the_georeport_v2_endpoint_in_both_formats(pub):
    _, client = pub
    for path in ("/open311/discovery.json", V2 + "/discovery.json"):
        d = client.get(path).json()
        assert {"changeset", "contact", "key_service", "endpoints"} <= set(d)
        (endpoint,) = d["endpoints"]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2" and endpoint["url"].endswith("/open311/v2")
        assert endpoint["type"] == "production" and set(endpoint["formats"]) == {"text/xml", "application/json"}
        assert d["changeset"].endswith("+07:00")
    root = xml_of(client.get("/open311/discovery.xml"))
    assert root.tag == "discovery" and root.find("endpoints/endpoint/specification").text == "http://wiki.open311.org/GeoReport_v2"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


def test_services_are_the_topics_in_force_with_their_group(pub, settings):
    ctx, client = pub
    services = client.get(V2 + "/services.json").json()
    assert [s["service_code"] for s in services] == ["xa-rac", "dien-nuoc-chieu-sang"]  # by group; the retired topic is not offered
    lights = services[1]
    assert lights == {"service_code": "dien-nuoc-chieu-sang", "service_name": "Điện, nước, chiếu sáng", "description": "Điện, nước, chiếu sáng",
                      "metadata": False, "type": "realtime", "keywords": "đèn đường,mất nước", "group": "Hạ tầng đô thị"}
    root = xml_of(client.get(V2 + "/services.xml"))
    assert root.tag == "services" and [s.findtext("service_code") for s in root.findall("service")] == ["xa-rac", "dien-nuoc-chieu-sang"]
    assert root.find("service/metadata").text == "false" and root.find("service/group").text == "Xây dựng, trật tự đô thị"
    # a new revision replaces the copy whole
    deliver(ctx, taxonomy(settings, WASTE, revision=2))
    assert [s["service_code"] for s in client.get(V2 + "/services.json").json()] == ["xa-rac"]


def test_a_service_definition_is_404_in_the_specifications_format_unknown_or_without_attributes(pub):
    _, client = pub
    assert "attributes" in spec_error(client.get(V2 + "/services/xa-rac.json"), 404)
    spec_error(client.get(V2 + "/services/khong-co.json"), 404)
    spec_error(client.get(V2 + "/services/khong-co.xml"), 404, "xml")
    spec_error(client.get(V2 + "/nothing-here.json"), 404)
    spec_error(client.get(V2 + "/services.csv"), 404, "xml")


# --- GET requests ---------------------------------------------------------------------------------------

def published_story(ctx, settings, **kw) -> str:
    """A report through step 7, then published by the IOC (step 8)."""
    from services.publication.service_layer import handlers
    from tests.support.services import principal

    rid = new_id()
    tell(ctx, story(settings.node_id, rid, **kw))
    handlers.publish_result(ctx.uow(), principal("op1", ["ioc_operator"], "ioc-tinh"), rid, None)
    return rid


def submitted_only(ctx, settings, days_ago: float = 1, accept: bool = True, state_secret: bool = False, topic: str = "xa-rac") -> str:
    rid = new_id()
    intake = Producer(settings.node_id, "intake", rid)
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=days_ago)
    event = intake_ev.ReportSubmitted(tracking_code="QB-" + rid[-9:-5].upper() + "-" + rid[-4:].upper(), title="Rác đổ ven sông",
                                      description="Rác đổ thành đống ven sông Nhật Lệ.", topic_code=topic, address_text="Bờ sông Nhật Lệ",
                                      area_code="19192")
    event.received_at.FromDatetime(at)
    deliver(ctx, intake(event, 0))
    if accept:
        deliver(ctx, intake(intake_ev.ReportAccepted(topic_code=topic, state_secret=state_secret), 1))
    return rid


def test_requests_carry_the_specifications_fields_as_strings_and_the_status_of_publications_steps(pub, settings):
    ctx, client = pub
    done = published_story(ctx, settings)
    accepted = submitted_only(ctx, settings)
    items = {r["service_request_id"]: r for r in client.get(V2 + "/requests.json").json()}
    assert set(items) == {done, accepted}
    r = items[done]
    assert set(r) == REQUEST_FIELDS
    assert r["status"] == "closed" and "Công ty đã thay bóng đèn" in r["status_notes"]  # the published answer
    assert r["service_code"] == "dien-nuoc-chieu-sang" and r["service_name"] == "Điện, nước, chiếu sáng"
    assert r["agency_responsible"] == "Công ty Môi trường và Phát triển đô thị" and r["address"] == "Đường Lý Thường Kiệt"
    assert (r["lat"], r["long"]) == (pytest.approx(17.47), pytest.approx(106.62)) and r["description"] == "Ba cột đèn liền nhau không sáng."
    assert r["requested_datetime"].endswith("+07:00") and r["updated_datetime"].endswith("+07:00")
    assert datetime.fromisoformat(r["updated_datetime"]) > datetime.fromisoformat(r["requested_datetime"])
    assert items[accepted]["status"] == "open" and items[accepted]["status_notes"] is None and items[accepted]["agency_responsible"] is None
    assert all(isinstance(v, str) for v in (r["service_request_id"], r["service_code"]))
    root = xml_of(client.get(V2 + "/requests.xml"))
    assert root.tag == "service_requests" and {e.findtext("service_request_id") for e in root.findall("request")} == {done, accepted}
    one = next(e for e in root.findall("request") if e.findtext("service_request_id") == done)
    assert {c.tag for c in one} == REQUEST_FIELDS and one.findtext("status") == "closed" and one.findtext("long").startswith("106.62")


def test_requests_filters_defaults_and_pages(pub, settings):
    ctx, client = pub
    recent = [submitted_only(ctx, settings, days_ago=d) for d in (1, 2, 3)]
    old = submitted_only(ctx, settings, days_ago=120)
    lights = published_story(ctx, settings)
    ids = lambda r: [x["service_request_id"] for x in r.json()]  # noqa: E731
    # default: the last 90 days, newest first, every status
    assert set(ids(client.get(V2 + "/requests.json"))) == {*recent, lights}
    assert old in ids(client.get(V2 + "/requests.json", params={"start_date": "2000-01-01T00:00:00Z"}))
    assert ids(client.get(V2 + "/requests.json", params={"end_date": (datetime.now(timezone.utc) - timedelta(days=100)).isoformat()})) == [old]
    assert ids(client.get(V2 + "/requests.json", params={"status": "closed"})) == [lights]
    assert set(ids(client.get(V2 + "/requests.json", params={"status": "open"}))) == set(recent)
    assert set(ids(client.get(V2 + "/requests.json", params={"status": "open,closed"}))) == {*recent, lights}
    assert ids(client.get(V2 + "/requests.json", params={"service_code": "dien-nuoc-chieu-sang"})) == [lights]
    assert set(ids(client.get(V2 + "/requests.json", params={"service_code": "xa-rac,dien-nuoc-chieu-sang"}))) == {*recent, lights}
    # a list of ids overrides every other parameter (the old one too), in the order asked
    assert ids(client.get(V2 + "/requests.json", params={"service_request_id": f"{old},{recent[0]}", "status": "closed"})) == [old, recent[0]]
    # page/page_size: newest first, pages do not overlap
    pages = [ids(client.get(V2 + "/requests.json", params={"status": "open", "page_size": 2, "page": p})) for p in (1, 2, 3)]
    assert pages == [[recent[0], recent[1]], [recent[2]], []]


@pytest.mark.parametrize("params", [{"start_date": "yesterday"}, {"end_date": "2025-07-01T10:00:00"}, {"status": "fixed"},
                                    {"page": "0"}, {"page_size": "1001"}, {"page_size": "abc"},
                                    {"start_date": "2025-07-02T00:00:00Z", "end_date": "2025-07-01T00:00:00Z"}])
def test_invalid_parameters_are_400_in_the_specifications_format(pub, params):
    _, client = pub
    spec_error(client.get(V2 + "/requests.json", params=params), 400)
    spec_error(client.get(V2 + "/requests.xml", params=params), 400, "xml")


def test_one_request_and_unknown_ids(pub, settings):
    ctx, client = pub
    rid = published_story(ctx, settings)
    (r,) = client.get(f"{V2}/requests/{rid}.json").json()
    assert r["service_request_id"] == rid and r["status"] == "closed"
    root = xml_of(client.get(f"{V2}/requests/{rid}.xml"))
    assert root.tag == "service_requests" and root.find("request/service_request_id").text == rid
    spec_error(client.get(f"{V2}/requests/{new_id()}.json"), 404)
    spec_error(client.get(f"{V2}/requests/not-an-id.xml"), 404, "xml")


def test_state_secret_and_unaccepted_reports_never_appear_in_lists_and_secrets_nowhere(pub, settings):
    ctx, client = pub
    secret = submitted_only(ctx, settings, state_secret=True)
    waiting = submitted_only(ctx, settings, accept=False)
    shown = submitted_only(ctx, settings)
    listed = [r["service_request_id"] for r in client.get(V2 + "/requests.json").json()]
    assert listed == [shown]
    assert [r["service_request_id"] for r in client.get(V2 + "/requests.json", params={"service_request_id": f"{secret},{shown}"}).json()] == [shown]
    spec_error(client.get(f"{V2}/requests/{secret}.json"), 404)
    updates = client.get(V2 + "/servicerequestupdates.json").json()
    assert {u["service_request_id"] for u in updates} == {shown}
    assert secret not in client.get(V2 + "/servicerequestupdates.xml").text
    # before step 1, its id finds only that it is open: nothing of its content
    (pending,) = client.get(f"{V2}/requests/{waiting}.json").json()
    assert pending["status"] == "open" and pending["description"] is None and pending["address"] is None and pending["lat"] is None


def test_tokens_lead_to_the_service_request_id(pub, settings):
    ctx, client = pub
    rid = submitted_only(ctx, settings)
    code = "QB-" + rid[-9:-5].upper() + "-" + rid[-4:].upper()
    assert client.get(f"{V2}/tokens/{code}.json").json() == [{"service_request_id": rid, "token": code}]
    root = xml_of(client.get(f"{V2}/tokens/{code}.xml"))
    assert root.find("request/service_request_id").text == rid and root.find("request/token").text == code
    spec_error(client.get(f"{V2}/tokens/QB-0000-0000.json"), 404)
    spec_error(client.get(f"{V2}/tokens/%3Cx%3E.xml"), 404, "xml")


def test_service_request_updates_are_the_public_timeline_since_a_date(pub, settings):
    ctx, client = pub
    rid = published_story(ctx, settings)
    updates = client.get(V2 + "/servicerequestupdates.json", params={"start_date": "2000-01-01T00:00:00Z"}).json()
    mine = [u for u in updates if u["service_request_id"] == rid]
    assert [u["status"] for u in mine] == ["open"] * 7 + ["closed"]
    assert set(mine[0]) == {"update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"}
    assert "Công ty đã thay bóng đèn" in mine[-1]["description"] and "Bản nháp nội bộ" not in str(updates)
    assert [u["updated_datetime"] for u in mine] == sorted(u["updated_datetime"] for u in mine)
    later = client.get(V2 + "/servicerequestupdates.json", params={"start_date": mine[-2]["updated_datetime"]}).json()
    assert [u["update_id"] for u in later] == [u["update_id"] for u in mine[-2:]]
    root = xml_of(client.get(V2 + "/servicerequestupdates.xml", params={"page_size": 1}))
    assert root.tag == "service_request_updates" and len(root.findall("request_update")) == 1


# --- POST requests through intake --------------------------------------------------------------------------

FORM = {"service_code": "xa-rac", "lat": "17.468", "long": "106.622", "first_name": "Hoa", "last_name": "Nguyễn Thị",
        "email": "hoa.nguyen@example.vn", "phone": "0912345678",
        "description": "Bãi rác tự phát ở cuối đường Hà Huy Tập. Mùi hôi ảnh hưởng cả khu dân cư."}


@pytest.fixture
def intake(settings, monkeypatch):
    """The real intake service: its database, its taxonomy copy, a partner app, its gRPC servicer."""
    from services.intake import bootstrap as intake_bootstrap
    from services.intake.service_layer import partners

    ictx = migrated_context(intake_bootstrap.SPEC, settings)
    deliver(ictx, taxonomy(settings))
    _, key = partners.create(ictx.engine, id="smartcity-donghoi", name="Đồng Hới SmartCity", channel_name="smartcity-donghoi", rate_per_minute=3)
    served = ServedGrpc(ictx, intake_bootstrap.register_grpc)
    monkeypatch.setenv("PAHT_GRPC_INTAKE", served.address)
    yield ictx, key
    served.stop()
    ictx.engine.dispose()


def test_a_posted_request_is_found_at_once_open_with_its_content_withheld_until_step_1_accepts_it(pub, intake, settings):
    from tests.support.services import outbox_envelopes

    ctx, client = pub
    ictx, key = intake
    r = client.post(V2 + "/requests.json", data={**FORM, "api_key": key})
    assert r.status_code == 200, r.text
    (created,) = r.json()
    rid, token = created["service_request_id"], created["token"]
    assert isinstance(rid, str) and created["account_id"] is None and created["service_notice"] is None
    # at once, before intake's event has reached publication
    (found,) = client.get(f"{V2}/requests/{rid}.json").json()
    assert found["status"] == "open" and found["description"] is None and found["address"] is None and found["service_code"] is None
    assert client.get(f"{V2}/tokens/{token}.json").json() == [{"service_request_id": rid, "token": token}]
    assert rid not in [x["service_request_id"] for x in client.get(V2 + "/requests.json").json()]  # not listed before step 1
    # intake stored it on the partner's channel; its event reaches publication, then the IOC accepts it
    (submitted,) = [e for e in outbox_envelopes(ictx) if e.report_id == rid]
    assert deliver(ctx, submitted) is not None
    from services.intake.adapters.orm import reports
    from sqlalchemy import select

    with ictx.engine.connect() as conn:
        row = conn.execute(select(reports.c.channel, reports.c.channel_name, reports.c.topic_code).where(reports.c.id == rid)).one()
    assert tuple(row) == ("open311", "smartcity-donghoi", "xa-rac")
    accepted = Envelope.for_event(intake_ev.ReportAccepted(topic_code="xa-rac"), node_id=settings.node_id, service="intake", report_id=rid, version=2)
    deliver(ctx, accepted)
    (shown,) = client.get(f"{V2}/requests/{rid}.json").json()
    assert shown["status"] == "open" and shown["description"] == FORM["description"] and shown["service_name"] == "Xả rác bừa bãi"
    assert shown["lat"] == pytest.approx(17.468) and rid in [x["service_request_id"] for x in client.get(V2 + "/requests.json").json()]
    # the reporter's name, e-mail and phone go to intake and never back out
    for path in (f"{V2}/requests/{rid}.xml", V2 + "/requests.json", V2 + "/servicerequestupdates.json"):
        text = client.get(path).text
        assert "0912345678" not in text and "hoa.nguyen" not in text and "Nguyễn Thị" not in text


def test_post_errors_are_the_specifications_403_and_400(pub, intake):
    _, client = pub
    _, key = intake
    spec_error(client.post(V2 + "/requests.json", data=FORM), 403)
    spec_error(client.post(V2 + "/requests.xml", data={**FORM, "api_key": "pk_not-a-key"}), 403, "xml")
    assert "service_code" in spec_error(client.post(V2 + "/requests.json", data={**FORM, "service_code": "", "api_key": key}), 400)
    assert "khong-co" in spec_error(client.post(V2 + "/requests.json", data={**FORM, "service_code": "khong-co", "api_key": key}), 400)
    spec_error(client.post(V2 + "/requests.json", data={**FORM, "lat": "", "long": "", "api_key": key}), 400)  # no place at all
    # the partner's rate (3 a minute, counted by intake for every POST it checked) ends in 429 with Retry-After
    refused = client.post(V2 + "/requests.json", data={**FORM, "api_key": key})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1 and refused.json()[0]["code"] == 429


def test_a_media_url_is_never_fetched_and_the_answer_says_so(pub, intake):
    _, client = pub
    _, key = intake
    r = client.post(V2 + "/requests.xml", data={**FORM, "api_key": key, "media_url": "http://10.0.0.1/x.jpg"})
    root = xml_of(r)
    assert r.status_code == 200 and root.tag == "service_requests"
    assert root.find("request/service_request_id").text and "media_url" in root.find("request/service_notice").text


def test_the_embedded_runs_demo_data_has_the_partner_key_written_in_the_readme(settings):
    from pathlib import Path

    from services.intake import bootstrap as intake_bootstrap
    from services.intake.service_layer import partners

    ictx = migrated_context(intake_bootstrap.SPEC, settings)
    try:
        assert partners.seed_demo(ictx.engine, None) == 0 and partners.partner_for_key(ictx.engine, partners.DEMO_API_KEY) is None  # production
        assert partners.seed_demo(ictx.engine, "paht-demo") == 1 and partners.seed_demo(ictx.engine, "paht-demo") == 0
        demo = partners.partner_for_key(ictx.engine, partners.DEMO_API_KEY)
        assert demo is not None and demo.channel_name == "open311-demo"
    finally:
        ictx.engine.dispose()
    assert partners.DEMO_API_KEY in (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_media_ids_reach_intake_which_attaches_only_files_it_knows(pub, intake):
    _, client = pub
    _, key = intake
    spec_error(client.post(V2 + "/requests.json", data={**FORM, "api_key": key, "media_ids": new_id()}), 400)
