"""The portal at a million reports, what changed in behaviour: the capped total, the public reads' ETag / 304 /
max-age, and the map's clusters read from kept cell counts (exact at the box's edges and cells' borders)."""
from __future__ import annotations

import math
from collections import Counter, defaultdict

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from paht.runtime.ids import new_id
from services.publication import bootstrap
from services.publication.adapters import map_cells
from services.publication.adapters.orm import map_cells as cells_table
from services.publication.adapters.orm import public_reports
from services.publication.adapters.repositories import SqlPublicReports
from services.publication.domain import portal
from services.publication.domain.portal import BBox, ReportFilter, cell_of
from services.publication.domain.public_report import PublicReport
from services.publication.entrypoints import pages
from tests.integration.test_publication_portal import accepted, publish_names
from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.events.consumer import Outcome
from tests.integration.test_publication_service import T0, Producer
from tests.support.services import deliver, migrated_context

API = "/api/publication/v1/reports"


@pytest.fixture
def ctx(settings):
    c = migrated_context(bootstrap.SPEC, settings)
    yield c
    c.engine.dispose()


@pytest.fixture
def client(ctx):
    return TestClient(bootstrap.build_http(ctx))


def test_beyond_the_cap_the_total_says_more_than_and_the_pages_go_on(ctx, settings, client, monkeypatch):
    monkeypatch.setattr(portal, "COUNT_CAP", 5)
    publish_names(ctx, settings)
    for i in range(8):
        accepted(ctx, settings, f"Đèn hỏng số {i}" if i else "Đèn hỏng ở Bảo Ninh", days_ago=i)

    first = client.get(API, params={"limit": 3}).json()
    assert len(first["items"]) == 3 and first["total"] == 5 and first["total_exact"] is False  # more than 5
    middle = client.get(API, params={"limit": 3, "offset": 3}).json()
    assert middle["total"] == 6 and middle["total_exact"] is False  # counted to the end of the page asked, then stopped
    last = client.get(API, params={"limit": 3, "offset": 6}).json()
    assert len(last["items"]) == 2 and last["total"] == 8 and last["total_exact"] is True  # the short page ends the list
    past = client.get(API, params={"limit": 3, "offset": 30}).json()
    assert past["items"] == [] and past["total"] == 8 and past["total_exact"] is True
    few = client.get(API, params={"q": "bao ninh"}).json()
    assert few["total"] == len(few["items"]) == 1 and few["total_exact"] is True  # a search that matches little is exact

    monkeypatch.setattr(pages, "PAGE_SIZE", 3)
    page = client.get("/", headers={"Accept-Language": "vi"})
    assert "Hơn 5 phản ánh" in page.text and 'rel="next"' in page.text
    assert "More than 5 reports" in client.get("/", headers={"Accept-Language": "en"}).text
    monkeypatch.setattr(portal, "COUNT_CAP", 100)
    assert "8 phản ánh" in client.get("/?page=1", headers={"Accept-Language": "vi"}).text  # not the page kept above
    assert "description" in client.get("/api/publication/openapi.json").json()["paths"][API]["get"]


def test_public_reads_carry_an_etag_a_short_max_age_and_answer_304_until_something_changes(ctx, settings, client):
    publish_names(ctx, settings)
    accepted(ctx, settings, "Cống thoát nước tắc")
    for url in (API, API + ".geojson?bbox=106.5,17.4,106.7,17.6", "/open311/v2/requests.json", "/open311/v2/requests.xml",
                "/api/publication/v1/taxonomy"):
        first = client.get(url)
        assert first.status_code == 200 and first.headers["cache-control"] == "max-age=2", url
        etag = first.headers["etag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, url
        assert client.get(url, headers={"If-None-Match": '"something-else"'}).content == first.content

    etag = client.get(API).headers["etag"]
    accepted(ctx, settings, "Ổ gà giữa đường")  # applied in this process: the kept answers are stale at once
    changed = client.get(API, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "Ổ gà giữa đường" in changed.text and changed.headers["etag"] != etag
    refused = client.get(API, params={"status": "nonsense"})
    assert refused.status_code == 422 and "etag" not in refused.headers  # only answers are kept, never refusals
    assert "etag" not in client.get("/open311/v2/requests.json", params={"start_date": "bad"}).headers


def test_anonymous_visitors_share_the_public_pages_in_their_language_and_anyone_with_a_session_gets_their_own(ctx, settings, client):
    publish_names(ctx, settings)
    report_id = accepted(ctx, settings, "Cống thoát nước tắc")
    for url in (f"/reports/{report_id}", "/", "/not-eligible"):
        first = client.get(url, headers={"Accept-Language": "vi"})
        assert first.status_code == 200 and first.headers["cache-control"] == "max-age=2", url
        assert "set-cookie" not in first.headers, url  # no form on it: no CSRF cookie, so one page serves everyone
        assert first.headers["content-language"] == "vi" and "Cookie" in first.headers["vary"], url
        again = client.get(url, headers={"Accept-Language": "vi", "If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.headers["content-language"] == "vi", url
        english = client.get(url, headers={"Accept-Language": "en"})
        assert english.headers["content-language"] == "en" and english.headers["etag"] != first.headers["etag"], url
        assert '<html lang="en">' in english.text and '<html lang="vi">' in first.text

    page = f"/reports/{report_id}"
    etag = client.get(page).headers["etag"]
    client.cookies.set("paht_reporter", "someone's-session")  # a reporter's page may differ: never the shared one
    assert "etag" not in client.get(page).headers
    client.cookies.clear()
    signed_in = client.get(page, headers={"Authorization": "Bearer x"})
    assert "etag" not in signed_in.headers
    assert client.get(page + "?lang=en").headers.get("set-cookie", "").startswith("paht_lang=")  # a choice remembered: not shared

    intake = Producer(settings.node_id, "intake", report_id)
    intake.version = 2
    edited = intake_ev.ReportEdited(title="Cống thoát nước tắc nghẽn kéo dài", description="Mô tả", address_text="Số 5")
    assert deliver(ctx, intake(edited, 30)) is Outcome.APPLIED  # applied here: the kept pages are stale at once
    fresh = client.get(page, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and "tắc nghẽn kéo dài" in fresh.text


def test_a_kept_answer_is_dropped_after_its_max_age(ctx, settings):
    from services.publication.adapters import changes
    from services.publication.entrypoints.cached import Kept, PublicAnswers

    now = [100.0]
    answers = PublicAnswers(max_age_s=2, clock=lambda: now[0])

    answers.keep("/x?", Kept(b"old", "application/json", '"e"', changes.generation(), now[0]))
    assert answers.fresh("/x?") is not None
    now[0] += 2.0
    assert answers.fresh("/x?") is None


def test_a_large_answer_stands_through_commits_until_it_may_be_made_again(ctx, settings):
    """A commit makes a small kept answer stale at once; a large one (Open311's thousand requests) stands until it is
    remake_s old, so a busy province's commits do not have it made again for every client."""
    from services.publication.adapters import changes
    from services.publication.entrypoints.cached import Kept, PublicAnswers

    now = [100.0]
    answers = PublicAnswers(max_age_s=2, clock=lambda: now[0], large_bytes=1000, remake_s=1.0)
    answers.keep("/small", Kept(b"c" * 999, "application/json", '"c"', changes.generation(), now[0]))
    answers.keep("/large", Kept(b"s" * 1000, "application/json", '"s"', changes.generation(), now[0]))
    changes.moved()  # a commit of this process
    assert answers.fresh("/small") is None
    assert answers.fresh("/large") is not None
    now[0] += 0.99
    assert answers.fresh("/large") is not None
    now[0] += 0.01
    assert answers.fresh("/large") is None  # 1 s old with a commit since: made again at the next request

    answers.keep("/large", Kept(b"t" * 1000, "application/json", '"t"', changes.generation(), now[0]))
    now[0] += 1.5
    assert answers.fresh("/large") is not None  # no commit since: kept up to max_age_s, as any answer
    now[0] += 0.5
    assert answers.fresh("/large") is None


# --- the map's clusters -----------------------------------------------------------------------------------------------

# Places on a lattice of the cells' borders (2**-9 and 2**-12 degrees) half of the time: reports exactly on a border.
coordinate = st.one_of(st.floats(0, 0.25), st.integers(0, 128).map(lambda k: k / 512), st.integers(0, 1024).map(lambda k: k / 4096))
report = st.fixed_dictionaries({
    "dlon": coordinate, "dlat": coordinate,
    "status": st.sampled_from(["accepted", "published", "in_progress", "submitted", "refused"]),
    "visibility": st.sampled_from(["public", "public", "public", "reporter_only", "state_secret"]),
    "located": st.sampled_from([True, True, True, False]),
})
box = st.tuples(st.one_of(st.floats(-0.02, 0.25), st.integers(-4, 128).map(lambda k: k / 512)),
                st.one_of(st.floats(-0.02, 0.25), st.integers(-4, 128).map(lambda k: k / 512)),
                st.sampled_from([0.0007, 0.004, 0.01, 0.03, 0.1, 0.27, 1.0]), st.floats(0.3, 1.0))
WEST, SOUTH = 106.5, 17.375  # the lattice's origin: a multiple of 2**-12


def brute_force(rows: list[dict], b: BBox) -> dict:
    """The band's cells of the listed reports inside the box, by the domain's rule (is_listed) and cell_of."""
    band = b.band()
    cells: dict = defaultdict(lambda: [0, 0.0, 0.0])
    for r in rows:
        shown = PublicReport(report_id="", status=r["status"], visibility=r["visibility"], received_at=T0).is_listed
        if shown and r["lat"] is not None and b.west <= r["lon"] <= b.east and b.south <= r["lat"] <= b.north:
            cell = cells[cell_of(r["lat"], r["lon"], band)]
            cell[0] += 1
            cell[1] += r["lat"]
            cell[2] += r["lon"]
    return cells


def write(ctx, rows: list[dict]) -> None:
    """Add or change reports through the ORM, as the read model does (the cell counts follow)."""
    with ctx.uow() as uow:
        for r in rows:
            found = uow.session.get(PublicReport, r["id"])
            if found is None:
                uow.session.add(PublicReport(report_id=r["id"], status=r["status"], visibility=r["visibility"], received_at=T0,
                                             lat=r["lat"], lon=r["lon"], tracking_code="QB-1", title="t"))
            else:
                found.status, found.visibility, found.lat, found.lon = r["status"], r["visibility"], r["lat"], r["lon"]
        uow.commit()


def kept_counts(ctx) -> Counter:
    with ctx.engine.connect() as conn:
        return Counter({(r.level, r.cx, r.cy): r.count for r in conn.execute(select(cells_table)) if r.count})


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(report, min_size=1, max_size=60), st.lists(report, max_size=20), st.lists(box, min_size=1, max_size=4))
def test_the_clusters_count_exactly_the_listed_reports_in_the_box_at_every_border(ctx, first, changes, boxes):
    with ctx.engine.begin() as conn:
        conn.execute(delete(public_reports))
        conn.execute(delete(cells_table))
    rows = [{"id": new_id(), "status": r["status"], "visibility": r["visibility"],
             "lat": SOUTH + r["dlat"] if r["located"] else None, "lon": WEST + r["dlon"] if r["located"] else None} for r in first]
    write(ctx, rows)
    moved = []
    for row, change in zip(rows, changes):  # moved, hidden, shown, refused: every kind of change of a counted report
        row.update(status=change["status"], visibility=change["visibility"],
                   lat=SOUTH + change["dlat"] if change["located"] else None, lon=WEST + change["dlon"] if change["located"] else None)
        moved.append(row)
    write(ctx, moved)

    for dw, ds, width, ratio in boxes:
        b = BBox(WEST + dw, SOUTH + ds, WEST + dw + width, SOUTH + ds + width * ratio)
        expected = brute_force(rows, b)
        with ctx.uow() as uow:
            points, clusters, found = SqlPublicReports(uow.session).on_map(ReportFilter(), b, cap=0)
        assert points == []
        if not expected:
            assert clusters == [] and found == 0
            continue
        assert sum(c.count for c in clusters) == sum(n for n, _, _ in expected.values())  # every report in the box, once
        want = sorted((n, round(lat / n, 9), round(lon / n, 9)) for n, lat, lon in expected.values())
        got = sorted((c.count, round(c.lat, 9), round(c.lon, 9)) for c in clusters)
        assert [g[0] for g in got] == [w[0] for w in want]
        for (n, lat, lon), (m, lat2, lon2) in zip(got, want):
            assert math.isclose(lat, lat2, abs_tol=1e-7) and math.isclose(lon, lon2, abs_tol=1e-7)

    before = kept_counts(ctx)  # what the writes kept, against a recount from the table
    with ctx.engine.begin() as conn:
        map_cells.rebuild(conn)
    assert kept_counts(ctx) == before


def test_a_filtered_map_groups_the_matching_reports_on_the_same_grid(ctx, settings, client):
    publish_names(ctx, settings)
    for i in range(12):
        accepted(ctx, settings, f"Đèn hỏng {i}", lat=17.40 + i * 0.01, lon=106.55 + i * 0.01, topic="giao-thong" if i % 2 else "moi-truong")
    b = BBox(106.5, 17.35, 106.75, 17.6)
    with ctx.uow() as uow:
        repo = SqlPublicReports(uow.session)
        _, all_cells, _ = repo.on_map(ReportFilter(), b, cap=0)
        _, some, _ = repo.on_map(ReportFilter(topic="giao-thong"), b, cap=0)
    assert sum(c.count for c in all_cells) == 12 and sum(c.count for c in some) == 6
    body = client.get(API + ".geojson", params={"bbox": "106.5,17.35,106.75,17.6"}).json()
    assert body["clustered"] is False and len(body["features"]) == 12
