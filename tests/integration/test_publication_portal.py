"""The public portal on a real database: filters, search without diacritics, names from dispatch's copies, the map's GeoJSON."""
from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from paht.dispatch.v1 import directory_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.events.consumer import Outcome
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import DIRECTORY_ID, TAXONOMY_ID, new_id
from paht.runtime.text import fold
from services.publication import bootstrap
from services.publication.adapters import map_cells
from services.publication.adapters.orm import public_reports
from services.publication.domain.portal import MAP_GRID, MAP_MAX_FEATURES
from tests.integration.test_publication_service import T0, Producer
from tests.support.services import deliver, migrated_context

pytestmark = pytest.mark.integration
API = "/api/publication/v1/reports"
CITY = "106.55,17.40,106.70,17.52"  # Đồng Hới


@pytest.fixture
def ctx(settings):
    c = migrated_context(bootstrap.SPEC, settings)
    yield c
    c.engine.dispose()


@pytest.fixture
def client(ctx):
    return TestClient(bootstrap.build_http(ctx))


def snapshot(node: str, event, aggregate: str, revision: int = 1) -> Envelope:
    event.meta.report_id, event.meta.report_version = aggregate, revision
    event.meta.occurred_at.FromDatetime(T0)
    return Envelope.for_event(event, node_id=node, service="dispatch", report_id=aggregate, version=revision,
                              time=T0.isoformat().replace("+00:00", "Z"))


def publish_names(ctx, settings) -> None:
    taxonomy = dispatch_ev.TaxonomyPublished(revision=1, topics=[
        directory_pb2.Topic(code="dien-nuoc-chieu-sang", name="Điện, nước, chiếu sáng", name_en="Power, water, lighting",
                            group_code="ha-tang", group_name="Hạ tầng đô thị", group_name_en="Urban infrastructure"),
        directory_pb2.Topic(code="giao-thong", name="Giao thông", name_en="Traffic", group_code="ha-tang",
                            group_name="Hạ tầng đô thị", group_name_en="Urban infrastructure"),
        directory_pb2.Topic(code="moi-truong", name="Môi trường", name_en="Environment", group_code="moi-truong-nhom",
                            group_name="Môi trường, đô thị", group_name_en="Environment and city"),
        directory_pb2.Topic(code="het-han", name="Lĩnh vực cũ", group_code="cu", group_name="Nhóm cũ", valid_to="2020-01-01"),
    ])
    directory = dispatch_ev.DirectoryPublished(revision=1, units=[
        directory_pb2.OrgUnit(id="ward-old", code="18856", kind="ward", name="Phường Đồng Phú", name_en="Dong Phu Ward", valid_to="2025-07-01"),
        directory_pb2.OrgUnit(id="ward-new", code="18856", kind="ward", name="Phường Đồng Thuận", name_en="Dong Thuan Ward",
                              valid_from="2025-07-01"),
        directory_pb2.OrgUnit(id="dept", code="SXD", kind="department", name="Sở Xây dựng", area_codes=["44"]),
    ])
    assert deliver(ctx, snapshot(settings.node_id, taxonomy, TAXONOMY_ID)) is Outcome.APPLIED
    assert deliver(ctx, snapshot(settings.node_id, directory, DIRECTORY_ID)) is Outcome.APPLIED


def accepted(ctx, settings, title: str, *, topic: str = "dien-nuoc-chieu-sang", area: str = "18856", days_ago: int = 0,
             lat: float = 17.47, lon: float = 106.62, steps: int = 2, state_secret: bool = False) -> str:
    """A report received `days_ago` days before T0 and accepted at step 1 (steps=1: only received, not public)."""
    report_id = new_id()
    intake = Producer(settings.node_id, "intake", report_id)
    submitted = intake_ev.ReportSubmitted(tracking_code="QB-" + report_id[-8:].upper(), reporter_ref="rep-secret-ref", title=title,
                                          description="Mô tả", address_text="Số 5 Lý Thường Kiệt", area_code=area)
    submitted.location.lat, submitted.location.lon = lat, lon
    submitted.received_at.FromDatetime(T0 - timedelta(days=days_ago))
    events = [intake(submitted, 0)]
    if steps > 1:
        events.append(intake(intake_ev.ReportAccepted(topic_code=topic, state_secret=state_secret), 10))
    for envelope in events:
        assert deliver(ctx, envelope) is Outcome.APPLIED
    return report_id


def titles(response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(item["title"] for item in response.json()["items"])


def test_fold_is_the_one_search_folding():
    assert fold("ĐƯỜNG Lý Thường Kiệt đèn") == "duong ly thuong kiet den"


def test_search_ignores_diacritics_and_case_and_needs_every_word(ctx, settings, client):
    accepted(ctx, settings, "Đèn đường hỏng ở phường Đồng Phú")
    accepted(ctx, settings, "Rác thải trên Đường Trần Hưng Đạo")
    accepted(ctx, settings, "Ổ gà lớn")
    accepted(ctx, settings, "Đường ngập nước", steps=1)  # received, not accepted: never listed

    assert titles(client.get(API, params={"q": "duong"})) == ["Rác thải trên Đường Trần Hưng Đạo", "Đèn đường hỏng ở phường Đồng Phú"]
    assert titles(client.get(API, params={"q": "ĐƯỜNG"})) == titles(client.get(API, params={"q": "duong"}))
    assert titles(client.get(API, params={"q": "den duong"})) == ["Đèn đường hỏng ở phường Đồng Phú"]
    assert titles(client.get(API, params={"q": "dong phu"})) == ["Đèn đường hỏng ở phường Đồng Phú"]
    assert titles(client.get(API, params={"q": "o ga"})) == ["Ổ gà lớn"]
    assert titles(client.get(API, params={"q": "duong xyz"})) == []
    assert titles(client.get(API, params={"q": "100%_"})) == []  # LIKE's wildcards are plain characters
    assert titles(client.get(API, params={"q": "ly thuong kiet"})) == sorted(  # the address is searched too
        ["Rác thải trên Đường Trần Hưng Đạo", "Đèn đường hỏng ở phường Đồng Phú", "Ổ gà lớn"])


def test_an_edited_report_is_found_by_its_new_words(ctx, settings, client):
    report_id = accepted(ctx, settings, "Cây đổ")
    intake = Producer(settings.node_id, "intake", report_id)
    intake.version = 2
    edited = intake_ev.ReportEdited(title="Cây xanh gãy cành chắn đường", description="Mô tả", address_text="Quảng Bình Quan")
    assert deliver(ctx, intake(edited, 20)) is Outcome.APPLIED
    assert titles(client.get(API, params={"q": "gay canh"})) == ["Cây xanh gãy cành chắn đường"]
    assert titles(client.get(API, params={"q": "quang binh quan"})) == ["Cây xanh gãy cành chắn đường"]
    assert titles(client.get(API, params={"q": "ly thuong"})) == []


def test_filters_by_topic_group_area_status_and_period_with_names(ctx, settings, client):
    publish_names(ctx, settings)
    accepted(ctx, settings, "Đèn tắt", days_ago=1)
    accepted(ctx, settings, "Kẹt xe", topic="giao-thong", area="18859", days_ago=40)
    accepted(ctx, settings, "Khói bụi", topic="moi-truong", days_ago=400)

    assert titles(client.get(API, params={"topic": "giao-thong"})) == ["Kẹt xe"]
    assert titles(client.get(API, params={"group": "ha-tang"})) == ["Kẹt xe", "Đèn tắt"]
    assert titles(client.get(API, params={"group": "khong-co"})) == []
    assert titles(client.get(API, params={"area": "18856"})) == ["Khói bụi", "Đèn tắt"]
    assert titles(client.get(API, params={"status": "accepted"})) == ["Khói bụi", "Kẹt xe", "Đèn tắt"]
    assert titles(client.get(API, params={"status": "published"})) == []
    day = (T0 - timedelta(days=40)).date()
    assert titles(client.get(API, params={"from": (day - timedelta(days=1)).isoformat(), "to": (day + timedelta(days=1)).isoformat()})) == ["Kẹt xe"]
    assert titles(client.get(API, params={"from": (T0 - timedelta(days=50)).date().isoformat()})) == ["Kẹt xe", "Đèn tắt"]
    assert titles(client.get(API, params={"group": "ha-tang", "area": "18856", "q": "den"})) == ["Đèn tắt"]

    [item] = client.get(API, params={"topic": "dien-nuoc-chieu-sang", "area": "18856"}).json()["items"]
    assert item["topic"] == {"code": "dien-nuoc-chieu-sang", "name": {"vi": "Điện, nước, chiếu sáng", "en": "Power, water, lighting"}}
    assert item["group"]["name"]["vi"] == "Hạ tầng đô thị"
    assert item["area"] == {"code": "18856", "name": {"vi": "Phường Đồng Thuận", "en": "Dong Thuan Ward"}}  # today's version of the code
    [other] = client.get(API, params={"topic": "giao-thong"}).json()["items"]
    assert other["area"]["name"]["vi"] == "18859"  # no unit names the code: the code itself
    assert "rep-secret-ref" not in str(client.get(API).json())

    names = client.get("/api/publication/v1/taxonomy").json()
    assert [g["code"] for g in names["groups"]] == ["ha-tang", "moi-truong-nhom"]  # the expired group is gone
    assert [a["code"] for a in names["areas"]] == ["18856"]  # administrative units only

    page = client.get("/", params={"group": "ha-tang"})
    assert page.status_code == 200 and "Kẹt xe" in page.text and "Khói bụi" not in page.text
    assert "Giao thông" in page.text and "Phường Đồng Thuận" in page.text and "Hạ tầng đô thị" in page.text
    english = client.get("/", params={"group": "ha-tang", "lang": "en"})
    assert "Traffic" in english.text and "Dong Thuan Ward" in english.text and "Search" in english.text


@pytest.mark.parametrize("params, words", [
    ({"status": "secret"}, "Unknown status"),
    ({"status": "refused"}, "Unknown status"),  # refused reports are on their own page
    ({"from": "2025-13-01"}, "YYYY-MM-DD"),
    ({"to": "1/7/2025"}, "YYYY-MM-DD"),
    ({"from": "2025-07-02", "to": "2025-07-01"}, "ends before"),
    ({"from": "2024-01-01", "to": "2025-01-01"}, "at most 366 days"),
    ({"topic": "a b"}, "topic code"),
    ({"area": "x" * 61}, "area code"),
    ({"q": "a\u202eb"}, "plain text"),  # (a control character is refused before routing: 400)
    ({"q": "một hai ba bốn năm sáu bảy"}, "at most 6 words"),
])
def test_bad_filters_are_a_bilingual_422_never_a_500(client, params, words):
    for path in (API, API + ".geojson?bbox=" + CITY):
        r = client.get(path, params=params)
        assert r.status_code == 422, (path, params, r.text)
        detail = r.json()["error"]["detail"]
        assert words in detail["en"] and detail["vi"] and detail["vi"] != detail["en"]
    page = client.get("/", params=params)
    assert page.status_code == 422 and "flash-error" in page.text and 'id="filters"' in page.text


def test_a_page_past_the_end_is_empty_in_the_api_and_the_last_page_on_the_site(ctx, settings, client):
    accepted(ctx, settings, "Đèn tắt")
    body = client.get(API, params={"offset": 5000, "q": "den"}).json()
    assert body["items"] == [] and body["total"] == 1
    assert client.get(API, params={"offset": 10**9}).status_code == 422
    page = client.get("/", params={"page": "4000", "q": "den"})
    assert page.status_code == 200 and "Đèn tắt" in page.text
    assert client.get("/", params={"page": "abc"}).status_code == 400


@pytest.mark.parametrize("bbox", ["", "1,2,3", "a,b,c,d", "106.7,17.4,106.5,17.5", "106.5,17.5,106.7,17.4", "0,-91,1,0",
                                  "-181,0,0,1", "nan,0,1,1", "inf,0,1,1", "1,2,3,4,5"])
def test_a_bad_bbox_is_a_bilingual_422(client, bbox):
    r = client.get(API + ".geojson", params={"bbox": bbox})
    assert r.status_code == 422, bbox
    assert "bbox" in r.json()["error"]["detail"]["en"] and "bbox" in r.json()["error"]["detail"]["vi"]


def test_geojson_gives_the_listed_reports_inside_the_box_as_points(ctx, settings, client):
    publish_names(ctx, settings)
    inside = accepted(ctx, settings, "Đèn đường tắt", lat=17.47, lon=106.62)
    accepted(ctx, settings, "Ở Huế", lat=16.46, lon=107.59)
    accepted(ctx, settings, "Chưa tiếp nhận", steps=1)
    accepted(ctx, settings, "Bí mật nhà nước", state_secret=True)
    accepted(ctx, settings, "Giao thông trong phố", topic="giao-thong", lat=17.48, lon=106.6)

    r = client.get(API + ".geojson", params={"bbox": CITY, "topic": "dien-nuoc-chieu-sang"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    assert body["type"] == "FeatureCollection" and body["clustered"] is False and body["total"] == 1
    [feature] = body["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [106.62, 17.47]}
    props = feature["properties"]
    assert props["id"] == inside and props["title"] == "Đèn đường tắt" and props["url"] == f"/reports/{inside}"
    assert props["status"] == "accepted" and props["status_label"]["vi"] == "Đã tiếp nhận"
    assert props["topic"]["name"]["en"] == "Power, water, lighting" and props["received_at"].startswith(T0.date().isoformat())
    assert set(props) == {"id", "title", "status", "status_label", "topic", "received_at", "url"}  # nothing personal, no address
    assert "rep-secret-ref" not in r.text and "QB-" not in r.text

    everything = client.get(API + ".geojson", params={"bbox": CITY}).json()
    assert sorted(f["properties"]["title"] for f in everything["features"]) == ["Giao thông trong phố", "Đèn đường tắt"]
    assert client.get(API + ".geojson", params={"bbox": CITY, "q": "giao thong"}).json()["total"] == 1


def test_above_the_cap_the_map_gets_grid_clusters_that_add_up(ctx, settings, client):
    rows = []
    for i in range(MAP_MAX_FEATURES + 100):
        rid = new_id()
        rows.append({"report_id": rid, "tracking_code": f"QB-{i:08d}", "title": f"Phản ánh {i}", "description": "", "topic_code": "giao-thong",
                     "lat": 17.41 + (i % 50) * 0.002, "lon": 106.56 + (i // 50) * 0.003, "address_text": "", "area_code": "18856",
                     "private_result": False, "urgent": False, "status": "accepted", "received_at": T0, "lead_agency_name": "",
                     "lead_unit_name": "", "answer_text": "", "refusal_text": "", "visibility": "public", "version": 0,
                     "search_text": f"phan anh {i}"})
    rows[0]["visibility"] = "state_secret"  # never counted, not even in a cluster
    with ctx.engine.begin() as conn:
        conn.execute(insert(public_reports), rows)
        map_cells.rebuild(conn)  # written straight into the table: the map's cell counts are recounted, as a loading tool does

    body = client.get(API + ".geojson", params={"bbox": CITY}).json()
    assert body["clustered"] is True and body["total"] is None
    assert all(f["properties"]["cluster"] for f in body["features"])
    assert sum(f["properties"]["count"] for f in body["features"]) == MAP_MAX_FEATURES + 99
    assert 1 < len(body["features"]) <= MAP_GRID * MAP_GRID
    for f in body["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 106.55 <= lon <= 106.70 and 17.40 <= lat <= 17.52
    assert "Phản ánh" not in str(body)  # a cluster has no titles

    small = client.get(API + ".geojson", params={"bbox": "106.559,17.409,106.5605,17.4135"}).json()  # zoomed in: points again
    assert small["clustered"] is False and small["total"] == 1  # 2 points in the box, one of them secret
    assert client.get(API + ".geojson", params={"bbox": CITY, "q": "phan anh 7"}).json()["clustered"] is False


def test_the_map_page_allows_the_tile_server_for_images_only_and_loads_local_scripts(client):
    page = client.get("/map", params={"topic": "giao-thong"})
    assert page.status_code == 200
    csp = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert "https://tile.openstreetmap.org" in csp["img-src"]
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'" and "openstreetmap" not in csp.get("connect-src", "")
    assert 'data-api="/api/publication/v1/reports.geojson?topic=giao-thong"' in page.text
    for path in ("vendor/leaflet/leaflet.js", "vendor/leaflet.markercluster/leaflet.markercluster.js", "publication/map.js"):
        assert path in page.text
    assert "<script>" not in page.text  # no inline script
    assert "tile.openstreetmap.org" not in client.get("/").headers["content-security-policy"]


def test_the_portal_is_installable(ctx, settings, client):
    report_id = accepted(ctx, settings, "Đèn đường tắt")
    for path in ("/", "/map", "/not-eligible", "/track", f"/reports/{report_id}"):  # wherever a citizen lands
        page = client.get(path)
        assert page.status_code == 200 and 'rel="manifest"' in page.text and "publication/portal.webmanifest" in page.text, path
    manifest = client.get("/static/publication/portal.webmanifest")
    assert manifest.status_code == 200
    data = manifest.json()
    assert data["start_url"] == "/" and data["scope"] == "/" and data["display"] == "standalone" and data["lang"] == "vi"
    for icon in data["icons"]:
        assert icon["src"].startswith("/static/") and client.get(icon["src"]).status_code == 200
    assert any(i["purpose"] == "maskable" for i in data["icons"])
    for path in ("vendor/leaflet.markercluster/LICENSE", "vendor/leaflet/LICENSE"):
        assert client.get("/static/" + path).status_code == 200
