"""Step 1 checks every topic against the taxonomy: from dispatch over gRPC, or from intake's copy when dispatch is away; 503 without either."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.intake.adapters.orm import reports, taxonomy_topics
from services.intake.bootstrap import SPEC, build_http
from tests.support.services import migrated_context, outbox_envelopes, token_for
from tests.support.taxonomy import TOPICS, FakeDirectory

pytestmark = pytest.mark.integration

REPORT = {
    "reporter": {"name": "Lê Thị Mai", "phone": "0987 654 321", "email": "mai@example.vn"},
    "title": "Cống thoát nước bị tắc gây ngập",
    "description": "Cống thoát nước đầu hẻm 12 bị tắc, mưa xuống là ngập nửa mét.",
}


@pytest.fixture
def intake(settings):
    ctx = migrated_context(SPEC, settings)
    yield ctx
    ctx.engine.dispose()


def started(ctx):
    """A freshly started intake (nothing in memory), without its background refresh."""
    return TestClient(build_http(ctx))


def ioc(settings) -> dict:
    return {"Authorization": "Bearer " + token_for(settings, "ioc", ["ioc_operator"], "ioc-tinh")}


def submit(client) -> str:
    r = client.post("/api/intake/v1/reports", json=REPORT)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_topics_come_from_dispatch_and_after_it_goes_away_the_copy_checks_them(intake, settings, monkeypatch):
    directory = FakeDirectory()
    monkeypatch.setenv("PAHT_GRPC_DISPATCH", directory.address)
    try:
        client = started(intake)
        rid = submit(client)
        r = client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "road-damage"}, headers=ioc(settings))
        assert r.status_code == 200 and r.json()["group_code"] == "infrastructure"
        with intake.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(taxonomy_topics)).scalar_one() == len(TOPICS)
    finally:
        directory.stop()

    restarted = started(intake)  # a new process: nothing in memory, dispatch does not answer
    for _ in range(2):
        rid = submit(restarted)
        r = restarted.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "waste-dumping"}, headers=ioc(settings))
        assert r.status_code == 200, r.text
        assert (r.json()["topic_code"], r.json()["group_code"]) == ("waste-dumping", "environment")
    other = submit(restarted)
    unknown = restarted.post(f"/api/intake/v1/reports/{other}/accept", json={"topic_code": "no-such-topic"}, headers=ioc(settings))
    assert unknown.status_code == 422
    suggested = restarted.post("/api/intake/v1/reports", json={**REPORT, "topic_code": "no-such-topic"})
    assert suggested.status_code == 422


def test_without_dispatch_and_without_a_copy_step_one_is_refused_with_503_and_nothing_is_stored(intake, settings, monkeypatch):
    directory = FakeDirectory()
    directory.stop()  # an address where nothing answers
    monkeypatch.setenv("PAHT_GRPC_DISPATCH", directory.address)
    client = started(intake)
    rid = submit(client)  # no topic suggested: nothing to check, the citizen's report is taken
    r = client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "road-damage"}, headers=ioc(settings))
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.json()["error"]["code"] == "error.unavailable" and r.json()["error"]["detail"]["vi"]
    assert client.get(f"/api/intake/v1/reports/{rid}", headers=ioc(settings)).json()["status"] == "submitted"
    with_topic = client.post("/api/intake/v1/reports", json={**REPORT, "topic_code": "road-damage"})
    assert with_topic.status_code == 503
    with intake.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(reports)).scalar_one() == 1
    assert [e.type.rsplit(".", 1)[1] for e in outbox_envelopes(intake)] == ["ReportSubmitted"]


def test_without_any_address_for_dispatch_the_copy_still_serves(intake, settings, monkeypatch):
    directory = FakeDirectory()
    monkeypatch.setenv("PAHT_GRPC_DISPATCH", directory.address)
    try:
        client = started(intake)
        rid = submit(client)
        assert client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "no-such-topic"}, headers=ioc(settings)).status_code == 422
    finally:
        directory.stop()
    monkeypatch.delenv("PAHT_GRPC_DISPATCH")
    client = started(intake)
    r = client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "traffic-safety"}, headers=ioc(settings))
    assert r.status_code == 200 and r.json()["group_code"] == "security"


def test_with_no_copy_yet_a_lookup_waits_out_the_reconnect_back_off_of_a_dispatch_just_started(intake, settings, monkeypatch):
    """Right after `paht up`, dispatch's gRPC port may open a moment after intake first asked: the next
    report must not be refused because the channel is still backing off from that first failure."""
    from paht.runtime.errors import Unavailable
    from paht.runtime.supervisor import free_port
    from services.intake.adapters.taxonomy import CachedTaxonomy, DispatchTopics, TaxonomyCopy

    port = free_port()
    monkeypatch.setenv("PAHT_GRPC_DISPATCH", f"127.0.0.1:{port}")
    taxonomy = CachedTaxonomy(DispatchTopics(settings.model_copy(update={"grpc_timeout_s": 2.0})), TaxonomyCopy(intake.engine))
    try:
        with pytest.raises(Unavailable):
            taxonomy.find("road-damage")  # nothing listens yet, and there is no copy
        directory = FakeDirectory(port=port)
        try:
            assert taxonomy.find("road-damage").group_code == "infrastructure"
        finally:
            directory.stop()
    finally:
        taxonomy.close()
