"""Step 1 checks every topic against intake's own copy of the taxonomy, fed by dispatch's TaxonomyPublished
events: no submission or acceptance ever calls dispatch; 503 only before any copy has arrived."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paht.dispatch.v1 import directory_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import TAXONOMY_ID
from services.intake.adapters.orm import reports, taxonomy_topics
from services.intake.adapters.taxonomy import TaxonomyCopy
from services.intake.bootstrap import SPEC, build_http
from tests.support.reporters import reporter_session
from tests.support.services import deliver, migrated_context, token_for

pytestmark = pytest.mark.integration

REPORT = {
    "reporter": {"name": "Lê Thị Mai", "phone": "0987 654 321", "email": "mai@example.vn"},
    "title": "Cống thoát nước bị tắc gây ngập",
    "description": "Cống thoát nước đầu hẻm 12 bị tắc, mưa xuống là ngập nửa mét.",
    "address_text": "Hẻm 12 Trần Hưng Đạo, Đồng Hới",
    "acknowledged": True,
}
ROAD = directory_pb2.Topic(code="ha-tang-giao-thong", name="Hạ tầng giao thông, viễn thông", group_code="kinh-te-xa-hoi",
                           group_name="Vấn đề kinh tế, xã hội khác", field_letters=["h"])
WASTE = directory_pb2.Topic(code="xa-rac", name="Xả rác bừa bãi", group_code="do-thi", group_name="Xây dựng, trật tự đô thị",
                            field_letters=["k"])
COVID = directory_pb2.Topic(code="covid-vi-pham", name="Dấu hiệu vi phạm phòng, chống dịch Covid-19", group_code="covid",
                            group_name="Phòng chống dịch Covid-19", valid_to="2023-01-01")  # retired


@pytest.fixture
def intake(settings):
    ctx = migrated_context(SPEC, settings)
    yield ctx
    ctx.engine.dispose()


def published(settings, revision: int, *topics) -> Envelope:
    event = dispatch_ev.TaxonomyPublished(revision=revision, topics=list(topics))
    return Envelope.for_event(event, node_id=settings.node_id, service="dispatch", report_id=TAXONOMY_ID, version=revision)


def client_of(ctx) -> TestClient:
    client = TestClient(build_http(ctx, TaxonomyCopy(ctx.engine, max_age_s=0)))
    client.headers.update(reporter_session(ctx, "0987654321"))
    return client


def ioc(settings) -> dict:
    return {"Authorization": "Bearer " + token_for(settings, "ioc", ["ioc_operator"], "ioc-tinh")}


def submit(client) -> str:
    r = client.post("/api/intake/v1/reports", json=REPORT)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def accept(client, settings, report_id: str, topic: str):
    return client.post(f"/api/intake/v1/reports/{report_id}/accept", json={"topic_code": topic}, headers=ioc(settings))


def test_topics_come_from_the_published_taxonomy_and_a_new_revision_replaces_the_copy(intake, settings):
    assert deliver(intake, published(settings, 1, ROAD, COVID)).name == "APPLIED"
    client = client_of(intake)
    first, second = submit(client), submit(client)
    r = accept(client, settings, first, "ha-tang-giao-thong")
    assert r.status_code == 200, r.text
    assert r.json()["group_code"] == "kinh-te-xa-hoi"
    refused = accept(client, settings, second, "covid-vi-pham")  # retired in 2023: no longer a topic
    assert refused.status_code == 422 and "covid-vi-pham" in refused.json()["error"]["detail"]["en"]
    assert accept(client, settings, second, "xa-rac").status_code == 422  # not published yet
    deliver(intake, published(settings, 2, WASTE))
    assert accept(client, settings, second, "xa-rac").status_code == 200
    with intake.engine.connect() as conn:
        rows = conn.execute(select(taxonomy_topics.c.code, taxonomy_topics.c.revision)).all()
    assert [(r.code, r.revision) for r in rows] == [("xa-rac", 2)]  # exactly the newest revision


def test_a_revision_delivered_twice_or_out_of_order_changes_nothing(intake, settings):
    deliver(intake, published(settings, 1, ROAD))
    deliver(intake, published(settings, 2, WASTE))
    assert deliver(intake, published(settings, 1, ROAD)).name == "DUPLICATE"
    assert set(TaxonomyCopy(intake.engine).topics()) == {"xa-rac"}


def test_before_any_copy_step_one_is_refused_with_503_and_nothing_is_stored(intake, settings):
    client = client_of(intake)
    report_id = submit(client)  # submitting without a topic needs no taxonomy
    r = accept(client, settings, report_id, "ha-tang-giao-thong")
    assert r.status_code == 503, r.text
    assert "taxonomy" in r.json()["error"]["detail"]["en"] and "danh mục" in r.json()["error"]["detail"]["vi"]
    with intake.engine.connect() as conn:
        status = conn.execute(select(reports.c.status).where(reports.c.id == report_id)).scalar_one()
        assert conn.execute(select(func.count()).select_from(taxonomy_topics)).scalar_one() == 0
    assert status == "submitted"


def test_the_copy_serves_with_no_address_for_dispatch_at_all(intake, settings, monkeypatch):
    monkeypatch.delenv("PAHT_GRPC_DISPATCH", raising=False)
    deliver(intake, published(settings, 1, ROAD))
    client = client_of(intake)
    assert accept(client, settings, submit(client), "ha-tang-giao-thong").status_code == 200


def test_the_published_keywords_drive_the_forms_suggestions(intake, settings):
    road = directory_pb2.Topic()
    road.CopyFrom(ROAD)
    road.keywords.extend(["ổ gà", "sụt lún"])
    deliver(intake, published(settings, 1, road, WASTE))
    client = client_of(intake)
    body = client.get("/api/intake/v1/topics", params={"text": "Ổ gà to giữa đường"}).json()
    assert body["suggested"][0] == "ha-tang-giao-thong"
    assert client.get("/api/intake/v1/topics", params={"text": "Xả rác ra bờ sông"}).json()["suggested"][0] == "xa-rac"
