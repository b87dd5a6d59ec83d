"""A hub's read-only copy of the province's reports in its area, on a real database, service by service: dispatch says
where an accepted report is (ReportPlaced), the province's sync sends the copy and what follows to the hubs that keep
it, the hub's border sorts the copy into its own stream, and the hub's publication builds the district's record from
it — lists and statistics, nothing written, step 8 not there."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime import federation
from paht.runtime.events.consumer import ANY, Outcome
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from services.dispatch import bootstrap as dispatch_boot
from services.publication import bootstrap as publication_boot
from services.publication.adapters import names
from services.publication.service_layer import copies
from services.sync import bootstrap as sync_boot
from services.sync.service_layer import border
from tests.support.services import deliver, migrated_context, outbox_envelopes, token_for
from tests.support.services import test_settings as make_settings

pytestmark = pytest.mark.integration
HUB = "donghoi"
DONG_HOI_WARD = "18880"  # Phường Đồng Hới (from 1 July 2025), hosted on the hub


def event_of(node: str, producer: str, msg, report_id: str, version: int, **extra) -> Envelope:
    msg.meta.report_id, msg.meta.report_version = report_id, version
    env = Envelope.for_event(msg, node_id=node, service=producer, report_id=report_id, version=version)
    env.extra.update(extra)
    return env


def accepted(area_code: str, title: str = "Ổ gà trước số 12 Lý Thường Kiệt") -> intake_ev.ReportAccepted:
    msg = intake_ev.ReportAccepted(topic_code="traffic-safety", group_code="security", area_code=area_code, title=title,
                                   description="Ổ gà sâu, xe máy dễ ngã.", address_text="12 Lý Thường Kiệt", tracking_code="QB-AB12-CD34",
                                   media=[common_pb2.Attachment(id="m1", url="/api/intake/v1/media/m1")])
    msg.location.lat, msg.location.lon = 17.4689, 106.6223
    msg.received_at.FromDatetime(datetime.now(timezone.utc) - timedelta(hours=1))
    return msg


# --- dispatch: where is it? ----------------------------------------------------------------------------------------


@pytest.fixture
def dispatch(settings):
    s = settings.model_copy(update={"hubs": HUB})
    ctx = migrated_context(dispatch_boot.SPEC, s)
    dispatch_boot.seed(ctx)
    yield ctx
    ctx.engine.dispose()


def test_dispatch_places_a_report_accepted_in_a_declared_hubs_area_and_only_there(dispatch):
    node = dispatch.settings.node_id
    inside, outside = new_id(), new_id()
    assert deliver(dispatch, event_of(node, "intake", accepted(DONG_HOI_WARD), inside, 1)) is Outcome.APPLIED
    assert deliver(dispatch, event_of(node, "intake", accepted("19000"), outside, 1)) is Outcome.APPLIED  # not the hub's area
    placed = [e for e in outbox_envelopes(dispatch) if e.type == "paht.dispatch.v1.ReportPlaced"]
    assert [e.report_id for e in placed] == [inside]
    body = placed[0].decode()
    assert list(body.hub_nodes) == [HUB] and list(body.area_codes) == [DONG_HOI_WARD]
    assert body.accepted.title.startswith("Ổ gà") and body.accepted.tracking_code == "QB-AB12-CD34"
    assert not body.accepted.media, "the staff addresses of the files are not for a copy"
    assert placed[0].report_version == 1  # dispatch's own sequence of the report: ReportDispatched comes after


def test_a_province_without_hubs_places_nothing(settings):
    ctx = migrated_context(dispatch_boot.SPEC, settings)
    try:
        dispatch_boot.seed(ctx)
        deliver(ctx, event_of(settings.node_id, "intake", accepted(DONG_HOI_WARD), new_id(), 1))
        assert not [e for e in outbox_envelopes(ctx) if e.type == "paht.dispatch.v1.ReportPlaced"]
    finally:
        ctx.engine.dispose()


# --- the province's sync: who keeps a copy, and what goes to it ------------------------------------------------------


@pytest.fixture
def province(settings):
    s = make_settings(settings.data, db_schema_prefix=settings.db_schema_prefix, node_id=settings.node_id, hubs=f"{HUB},quangtrach")
    ctx = migrated_context(sync_boot.SPEC, s)
    yield ctx
    ctx.engine.dispose()


def sent_to(ctx, hub: str) -> list[Envelope]:
    return [e for e in outbox_envelopes(ctx) if e.extra.get(federation.COPY_HEADER) and
            e.extra.get(federation.ORIGIN_ID) and federation.copy_id(hub, e.extra[federation.ORIGIN_ID], "area") == e.id]


def test_the_province_sends_the_copy_to_the_hubs_of_the_area_and_then_every_step_of_the_report(province):
    node = province.settings.node_id
    report, elsewhere = new_id(), new_id()
    placed = dispatch_ev.ReportPlaced(area_codes=[DONG_HOI_WARD], hub_nodes=[HUB], accepted=accepted(DONG_HOI_WARD))
    assert deliver(province, event_of(node, "dispatch", placed, report, 1)) is Outcome.APPLIED
    # a report handled by a provincial agency: its steps follow it to the hub's copy
    to_agency = dispatch_ev.ReportDispatched(lead_agency=common_pb2.OrgRef(id="so-gtvt", name="Sở Giao thông vận tải"), round=1)
    deliver(province, event_of(node, "dispatch", to_agency, report, 2))
    deliver(province, event_of(node, "intake", intake_ev.ReportClassified(state_secret=False), report, 1))
    for v, msg in enumerate([handling_ev.CaseAssigned(), handling_ev.ResultDrafted(), handling_ev.ResultApproved(answer_text="Đã vá.")], 1):
        deliver(province, event_of(node, "handling", msg, report, v))
    deliver(province, event_of(node, "publication", publication_ev.ResultPublished(answer_text="Đã vá ổ gà."), report, 1))
    deliver(province, event_of(node, "publication", publication_ev.ReportRated(comment="Cảm ơn"), report, 2))
    # another report, elsewhere: nothing of it goes to any hub
    deliver(province, event_of(node, "handling", handling_ev.CaseAssigned(), elsewhere, 1))

    got = sent_to(province, HUB)
    assert [(e.type.rsplit(".", 1)[1], e.producer) for e in got] == [
        ("ReportPlaced", "dispatch"), ("ReportDispatched", "dispatch"), ("ReportClassified", "intake"), ("CaseAssigned", "handling"),
        ("ResultDrafted", "handling"), ("ResultApproved", "handling"), ("ResultPublished", "publication"), ("ReportRated", "publication")]
    assert all(e.report_id == report for e in got)
    for producer in ("dispatch", "handling", "publication"):  # numbered without gaps in what goes to the hub
        assert [e.report_version for e in got if e.producer == producer] == list(range(1, 1 + sum(e.producer == producer for e in got)))
    assert not sent_to(province, "quangtrach"), "a hub whose area it is not gets nothing"
    assert not [e for e in outbox_envelopes(province) if e.report_id == elsewhere]
    # a delivery twice changes nothing
    assert deliver(province, event_of(node, "dispatch", placed, report, 1)) is Outcome.DUPLICATE
    assert len(sent_to(province, HUB)) == len(got)


def test_the_hub_a_report_is_dispatched_to_keeps_a_copy_of_it_even_outside_its_area(province):
    node = province.settings.node_id
    report = new_id()
    to_hub = dispatch_ev.ReportDispatched(lead_agency=common_pb2.OrgRef(id="ward-donghoi-2025", name="UBND phường Đồng Hới"),
                                          hub_node=HUB, round=1, title="Cây đổ chắn đường")
    deliver(province, event_of(node, "dispatch", to_hub, report, 1))
    deliver(province, event_of(node, "publication", publication_ev.ResultPublished(answer_text="Đã dọn."), report, 1))
    assert [e.type.rsplit(".", 1)[1] for e in sent_to(province, HUB)] == ["ReportDispatched", "ResultPublished"]
    # the owner's own events are there too, apart from the copy (no copy header, the epoch on the dispatch)
    owned = [e for e in outbox_envelopes(province) if e.type.endswith("ReportDispatched") and e.extra.get(federation.ORIGIN_ID)
             and not e.extra.get(federation.COPY_HEADER)]
    assert len(owned) == 1 and owned[0].decode().meta.epoch == 1


def test_the_copy_list_is_what_the_hubs_publication_applies():
    applied = {k.DESCRIPTOR.full_name for k in copies.HANDLERS}
    assert applied == {border.PLACED, *(t for types in border.COPIED.values() for t in types)}


# --- the hub: its border sorts the copy out, its publication keeps the district's record ------------------------------


@pytest.fixture
def hub(settings):
    """A hub node's settings: its own node id, the test's node as its province."""
    return make_settings(settings.data, db_schema_prefix=settings.db_schema_prefix + "h", node_id=HUB + settings.node_id[:5],
                         parent_node=settings.node_id)


def test_the_hubs_border_writes_the_copy_into_its_copies_stream_never_where_handling_reads(hub, settings):
    ctx = migrated_context(sync_boot.SPEC, hub)
    try:
        report = new_id()
        province = settings.node_id
        placed = dispatch_ev.ReportPlaced(area_codes=[DONG_HOI_WARD], hub_nodes=[hub.node_id], accepted=accepted(DONG_HOI_WARD))
        as_copy = event_of(province, "dispatch", placed, report, 1, **{federation.COPY_HEADER: "area"})
        owned = event_of(province, "dispatch", dispatch_ev.ReportDispatched(hub_node=hub.node_id, round=1), report, 1)
        assert ctx.applier().apply(as_copy, {ANY: border.let_in}) is Outcome.APPLIED
        assert ctx.applier().apply(owned, {ANY: border.let_in}) is Outcome.APPLIED
        out = [(e.subject, e.report_version) for e in outbox_envelopes(ctx)]
        rows = ctx.spec.event_tables["outbox"]
        with ctx.engine.connect() as conn:
            subjects = [r.subject for r in conn.execute(rows.select().order_by(rows.c.seq))]
        assert subjects == [f"pahtcopy.{hub.node_id}.{province}.dispatch.ReportPlaced",
                            f"pahtfed.{hub.node_id}.{province}.dispatch.ReportDispatched"]
        assert [v for _, v in out] == [1, 1], "each stream numbers the report's events on its own, without gaps"
    finally:
        ctx.engine.dispose()


@pytest.fixture
def district(hub):
    ctx = migrated_context(publication_boot.SPEC, hub)
    yield ctx
    ctx.engine.dispose()


def apply_copy(ctx, envelope: Envelope) -> Outcome:
    """Apply one event of the copies stream as the hub's publication reads it (the border keeps the copy's header)."""
    envelope.extra[federation.COPY_HEADER] = "area"
    (sub,) = [s for s in ctx.spec.subscriptions(ctx) if s.producer == "copies"]
    return ctx.applier().apply(envelope, sub.handlers)


def test_the_hubs_publication_builds_the_districts_record_from_the_copy(district, settings):
    province = settings.node_id
    report = new_id()
    placed = dispatch_ev.ReportPlaced(area_codes=[DONG_HOI_WARD], hub_nodes=[district.settings.node_id], accepted=accepted(DONG_HOI_WARD))
    to_agency = dispatch_ev.ReportDispatched(lead_agency=common_pb2.OrgRef(id="so-gtvt", name="Sở Giao thông vận tải"), round=1)
    published = publication_ev.ResultPublished(answer_text="Sở Giao thông vận tải đã vá ổ gà ngày 05/12.")
    published.published_at.FromDatetime(datetime.now(timezone.utc))
    rated = publication_ev.ReportRated(rating=publication_ev.RATING_SATISFIED, comment="Lời của người dân, không sang nút huyện")
    # out of order: the publication arrives before the approval (the copy, like the province's record, takes any order)
    steps = [event_of(province, "dispatch", placed, report, 1), event_of(province, "dispatch", to_agency, report, 2),
             event_of(province, "handling", handling_ev.CaseAssigned(unit=common_pb2.OrgRef(id="so-gtvt-kcht", name="Phòng Kết cấu hạ tầng")),
                      report, 1),
             event_of(province, "publication", published, report, 1), event_of(province, "publication", rated, report, 2),
             event_of(province, "handling", handling_ev.ResultDrafted(), report, 2),
             event_of(province, "handling", handling_ev.ResultApproved(answer_text="Đã vá."), report, 3)]
    for env in steps:
        assert apply_copy(district, env) is Outcome.APPLIED
    assert apply_copy(district, steps[0]) is Outcome.DUPLICATE

    client = TestClient(publication_boot.build_http(district))
    listed = client.get("/api/publication/v1/reports").json()
    assert [i["id"] for i in listed["items"]] == [report]
    page = client.get(f"/api/publication/v1/reports/{report}").json()
    assert page["status"] == "published" and page["answer"].startswith("Sở Giao thông vận tải đã vá")
    assert page["title"].startswith("Ổ gà") and page["lead_agency"] == "Sở Giao thông vận tải"
    assert {step["kind"] for step in page["timeline"]} >= {"submitted", "accepted", "dispatched", "assigned", "drafted", "approved", "published"}

    # the district's figures: its coordinators read them; staff do not
    coordinator = {"Authorization": "Bearer " + token_for(district.settings, "donghoi", ["agency_coordinator"], "ward-donghoi-2025")}
    staff = {"Authorization": "Bearer " + token_for(district.settings, "canbophuong", ["staff"], "ward-donghoi-2025")}
    figures = client.get("/api/publication/v1/stats", headers=coordinator)
    assert figures.status_code == 200, figures.text
    assert figures.json()["totals"]["received"] == 1
    assert client.get("/api/publication/v1/stats", headers=staff).status_code == 403
    page = client.get("/publication/stats", headers=coordinator)
    assert page.status_code == 200 and "Số liệu địa bàn" in page.text

    # nothing written on a copy: no step 8, no rating, no Open311, no portal
    ioc = {"Authorization": "Bearer " + token_for(district.settings, "ioc", ["ioc_editor"], "ioc-tinh")}
    assert client.post(f"/api/publication/v1/reports/{report}/publish", json={}, headers=ioc).status_code in (404, 405)
    assert client.get("/api/publication/v1/queue", headers=ioc).status_code == 404
    assert client.post(f"/api/publication/v1/reports/{report}/rating", json={"score": "satisfied"}).status_code in (404, 405)
    assert client.get("/open311/v2/requests.json").status_code == 404
    # the rating's words stayed at the province
    from services.publication.domain.feedback import ReportRating

    with district.sessions() as session:
        rating = session.get(ReportRating, report)
        assert rating is not None and rating.score == "satisfied" and rating.comment == ""


def test_a_report_the_hub_handles_outside_its_area_gets_its_content_from_the_dispatch(district, settings):
    province = settings.node_id
    report = new_id()
    to_hub = dispatch_ev.ReportDispatched(lead_agency=common_pb2.OrgRef(id="ward-donghoi-2025", name="UBND phường Đồng Hới"),
                                          hub_node=district.settings.node_id, round=1, title="Cây đổ chắn đường",
                                          description="Cây phượng đổ sau bão.", tracking_code="QB-ZZ99-ZZ99")
    assert apply_copy(district, event_of(province, "dispatch", to_hub, report, 1)) is Outcome.APPLIED
    client = TestClient(publication_boot.build_http(district))
    page = client.get(f"/api/publication/v1/reports/{report}").json()
    assert page["title"] == "Cây đổ chắn đường" and page["status"] == "dispatched"


def test_the_hubs_publication_reads_its_own_streams(district):
    subs = {s.producer: s for s in district.spec.subscriptions(district)}
    node = district.settings.node_id
    assert set(subs) == {"handling", "copies", "inbound"}
    assert (subs["copies"].stream, subs["copies"].subjects) == federation.copies_stream(node)
    assert subs["inbound"].stream == federation.inbound_stream(node)[0]
    assert sorted(subs["inbound"].subjects) == [f"pahtfed.{node}.{district.settings.parent_node}.dispatch.{name}"
                                                for name in ("DirectoryPublished", "TaxonomyPublished")]
    # of the inbound stream only the names of the province's directory and taxonomy: the rest is handling's
    assert set(subs["inbound"].handlers) == {k.DESCRIPTOR.full_name for k in names.COPIES}
