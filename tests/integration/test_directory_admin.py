"""The versioned directory on a real database: revisions and their events, refusals that change nothing, round trips,
the reform seen through as_of, boundaries and locate(), people and passwords, the admin-only API and pages,
and concurrent imports."""
from __future__ import annotations

import copy
import json
import re
import threading
from datetime import date, datetime, timezone

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paht.dispatch.v1 import directory_pb2, directory_pb2_grpc
from paht.runtime.http import TOKEN_COOKIE
from paht.runtime.ids import DIRECTORY_ID, TAXONOMY_ID, new_id
from paht.runtime.sla import default_engine
from services.dispatch.adapters.orm import directory_revisions, org_units
from services.dispatch.bootstrap import SPEC, build_http, seed
from services.dispatch.domain.dispatching import DispatchItem
from services.dispatch.service_layer import directory, directory_admin
from tests.support.live_server import live_server
from tests.support.services import ServedGrpc, migrated_context, outbox_envelopes, principal, token_for

pytestmark = pytest.mark.integration
PASSWORD = "mật-khẩu-thử-dài"
ADMIN = principal("admin", ["ioc_admin"], "ioc-tinh")
API = "/api/dispatch/v1/admin"


@pytest.fixture
def ctx(settings):
    context = migrated_context(SPEC, settings.model_copy(update={"demo_password": PASSWORD}))
    seed(context)
    yield context
    context.engine.dispose()


def bearer(settings, subject="admin", role="ioc_admin", unit="ioc-tinh") -> dict:
    return {"Authorization": "Bearer " + token_for(settings, subject, [role], unit)}


def published(ctx, report_id: str) -> list:
    return [e for e in outbox_envelopes(ctx) if e.report_id == report_id]


def exported(ctx) -> dict:
    return yaml.safe_load(directory_admin.export_directory(ctx.uow()))


def imported(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def state(ctx) -> tuple:
    """Everything an import may change: units, revisions, outbox."""
    with ctx.engine.connect() as conn:
        units = conn.execute(select(org_units).order_by(org_units.c.id)).all()
        revisions = conn.execute(select(func.count()).select_from(directory_revisions)).scalar_one()
    return units, revisions, len(outbox_envelopes(ctx))


def test_the_seed_is_revision_one_of_both_and_each_is_published_once(ctx):
    (event,) = published(ctx, DIRECTORY_ID)
    body = event.decode()
    assert event.report_version == 1 and body.revision == 1 and len(body.units) == 128
    ward = next(u for u in body.units if u.id == "ward-donghoi-2025")
    assert ward.name_en == "Dong Hoi Ward" and list(ward.field_letters) == ["n"] and list(ward.area_codes) == ["18880"]
    (topics,) = published(ctx, TAXONOMY_ID)
    assert topics.report_version == 1 and len(topics.decode().topics) == 21 and topics.decode().topics[0].valid_from == "2022-05-05"
    (rev,) = directory_admin.list_revisions(ctx.uow(), "directory")
    assert rev["by"] == "seed" and rev["source"] == "quang-binh-2022.yaml + quang-tri-2025.yaml" and len(rev["sha256"]) == 64
    assert seed(ctx)["org_units"] == 0 and len(published(ctx, DIRECTORY_ID)) == 1  # seeding again publishes nothing


def test_an_import_is_the_next_revision_published_in_the_same_transaction(ctx):
    data = exported(ctx)
    data["units"] = [u for u in data["units"] if u["id"] != "so-gtvt-thanhtra"]
    next(u for u in data["units"] if u["id"] == "so-xd")["name_en"] = "Provincial Department of Construction"
    result = directory_admin.import_directory(ctx.uow(), ADMIN, imported(data), "changes.yaml")
    assert result.revision == 2 and result.changed and result.counts["removed"] == 1 and result.counts["changed"] == 1
    event = published(ctx, DIRECTORY_ID)[-1]
    assert event.report_version == 2 and event.decode().revision == 2 and event.decode().meta.actor.subject == "admin"
    assert "so-gtvt-thanhtra" not in {u.id for u in event.decode().units}
    stored = directory_admin.get_revision(ctx.uow(), "directory", 2)
    assert stored["by"] == "admin" and stored["source"] == "changes.yaml" and "Provincial Department of Construction" in stored["snapshot"]
    assert directory.get_unit(ctx.uow(), "so-xd").name_en == "Provincial Department of Construction"
    # any revision can be exported again: revision 1 still holds the removed unit
    assert "so-gtvt-thanhtra" in directory_admin.get_revision(ctx.uow(), "directory", 1)["snapshot"]


def test_export_then_import_is_identical_and_makes_no_revision(ctx):
    first = directory_admin.export_directory(ctx.uow())
    result = directory_admin.import_directory(ctx.uow(), ADMIN, first, "round-trip.yaml")
    assert (result.revision, result.changed) == (1, False)
    assert directory_admin.export_directory(ctx.uow()) == first
    taxonomy = directory_admin.export_taxonomy(ctx.uow())
    assert directory_admin.import_taxonomy(ctx.uow(), ADMIN, taxonomy, "t.yaml").changed is False
    assert directory_admin.export_taxonomy(ctx.uow()) == taxonomy


def test_a_refused_import_names_every_row_and_changes_nothing(ctx, settings):
    before = state(ctx)
    data = exported(ctx)
    data["units"][3]["kind"] = "ministry"
    data["units"][5]["fields"] = ["z"]
    data["units"].append(copy.deepcopy(data["units"][0]))  # a duplicate id
    client = TestClient(build_http(ctx))
    r = client.post(f"{API}/directory/import?source=bad.yaml", content=imported(data),
                    headers={**bearer(settings), "content-type": "application/yaml"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "error.validation"
    wheres = [p["where"] for p in r.json()["error"]["problems"]]
    assert wheres == [f"units[3] ({data['units'][3]['id']})", f"units[5] ({data['units'][5]['id']})",
                      f"units[{len(data['units']) - 1}] (province-quangbinh)"]
    assert "units[3]" in r.json()["error"]["detail"]["en"] and "không có gì thay đổi" in r.json()["error"]["detail"]["vi"]
    assert state(ctx) == before


def test_a_unit_still_in_use_cannot_be_removed_or_ended(ctx):
    rid = new_id()
    item = DispatchItem.accepted(rid, datetime.now(timezone.utc), False, "t", "g", default_engine())
    with ctx.uow() as uow:
        uow.items.add(item)
        uow.commit()
    with ctx.uow() as uow:
        found = uow.items.get(rid)
        found.status, found.lead_agency_id = "dispatched", "so-xd"  # what step 2 leaves behind
        uow.commit()
    before = state(ctx)
    data = exported(ctx)
    data["units"] = [u for u in data["units"] if u["id"] not in ("so-xd", "so-xd-vp", "so-xd-qhkt", "so-xd-thanhtra")]
    for u in data["units"]:
        if u["id"] == "so-gtvt":
            u["valid_to"] = date(2026, 1, 1)  # sogtvt (an active person) belongs to it
    with pytest.raises(directory_admin.ImportRefused) as refused:
        directory_admin.import_directory(ctx.uow(), ADMIN, imported(data), "x.yaml")
    problems = {p.where: p.en for p in refused.value.problems}
    assert "unit so-xd" in problems and rid in problems["unit so-xd"] and "is removed while still in use" in problems["unit so-xd"]
    gtvt = next(w for w in problems if "(so-gtvt)" in w)
    assert "is no longer in force" in problems[gtvt] and "sogtvt" in problems[gtvt]
    assert state(ctx) == before


def test_as_of_follows_the_reform_code_18880_changes_meaning(ctx, settings):
    client = TestClient(build_http(ctx))
    named = {}
    for day in ("2025-06-30", "2025-07-01"):
        units = client.get("/api/dispatch/v1/org-units", params={"as_of": day}).json()["items"]
        named[day] = [u["name"] for u in units if u["code"] == "18880"]
    assert named == {"2025-06-30": ["Phường Đức Ninh Đông"], "2025-07-01": ["Phường Đồng Hới"]}
    before = [u.code for u in directory_admin.units_serving(ctx.uow(), "18880", date(2024, 1, 1))]
    after = [u.id for u in directory_admin.units_serving(ctx.uow(), "18880", date(2025, 8, 1))]
    assert before[:2] == ["18880", "450"] and "44" in before  # the ward, its district, then the province's agencies
    assert after[0] == "ward-donghoi-2025" and "donghoi-city" not in after
    tree = {row.unit.id for row in directory.tree(ctx.uow(), date(2025, 8, 1))}
    assert "ward-donghoi-2025" in tree and "so-gtvt" in tree and "donghoi-city" not in tree

    with ServedGrpc(ctx, SPEC.register_grpc) as served:
        unit = served.call(directory_pb2_grpc.DirectoryServiceStub, "GetOrgUnit", directory_pb2.GetOrgUnitRequest(id="so-gtvt"))
    assert unit.name_en == "Department of Transport" and list(unit.field_letters) == ["h"] and list(unit.area_codes) == ["44"]


SQUARE = [[106.0, 17.0], [107.0, 17.0], [107.0, 18.0], [106.0, 18.0], [106.0, 17.0]]
HOLE = [[106.4, 17.4], [106.6, 17.4], [106.6, 17.6], [106.4, 17.6], [106.4, 17.4]]
SMALL = [[106.61, 17.46], [106.63, 17.46], [106.63, 17.48], [106.61, 17.48], [106.61, 17.46]]


def feature(code, rings, **props):
    return {"type": "Feature", "properties": {"code": code, **props}, "geometry": {"type": "Polygon", "coordinates": rings}}


def test_locate_finds_the_most_specific_area_first_and_respects_holes_and_dates(ctx, settings):
    collection = {"type": "FeatureCollection", "features": [
        feature("450", [SQUARE, HOLE], valid_to="2025-07-01"), feature("18853", [SMALL], valid_to="2025-07-01"),
        feature("18880", [SMALL], valid_from="2025-07-01")]}
    client = TestClient(build_http(ctx))
    r = client.post(f"{API}/boundaries/import", content=json.dumps(collection),
                    headers={**bearer(settings), "content-type": "application/geo+json"})
    assert r.status_code == 200 and r.json() == {"boundaries": 3, "codes": 3}
    assert directory_admin.locate(ctx.uow(), 17.2, 106.2, date(2024, 1, 1)) == ["450"]
    assert directory_admin.locate(ctx.uow(), 17.47, 106.62, date(2024, 1, 1)) == ["18853", "450"]  # the ward before its city
    assert directory_admin.locate(ctx.uow(), 17.5, 106.5, date(2024, 1, 1)) == []  # in the hole
    assert directory_admin.locate(ctx.uow(), 17.47, 106.62, date(2025, 7, 1)) == ["18880"]
    found = client.get(f"{API}/locate", params={"lat": 17.47, "lon": 106.62, "on": "2025-08-01"}, headers=bearer(settings)).json()
    assert found["areas"] == ["18880"] and found["units"][0]["id"] == "ward-donghoi-2025"
    bad = client.post(f"{API}/boundaries/import", content='{"type": "FeatureCollection", "features": [{"type": "Feature"}]}',
                      headers={**bearer(settings), "content-type": "application/json"})
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["where"].startswith("features[0]")
    assert len(client.get(f"{API}/boundaries", headers=bearer(settings)).json()["items"]) == 3  # unchanged


def test_only_administrators_reach_the_admin_api_and_pages(ctx, settings):
    client = TestClient(build_http(ctx))
    operator = bearer(settings, "ioc", "ioc_operator")
    for method, path in [("get", "/directory/export"), ("post", "/directory/import"), ("get", "/taxonomy/export"),
                         ("get", "/revisions/directory"), ("get", "/people"), ("get", "/people/export"),
                         ("post", "/people/canbo/password"), ("post", "/people/canbo/deactivate"),
                         ("patch", "/topics/crime"), ("post", "/boundaries/import"), ("get", "/revisions/directory/1")]:
        r = getattr(client, method)(API + path, headers=operator)
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "error.wrong_role" and r.json()["error"]["detail"]["vi"], path
        assert getattr(client, method)(API + path).status_code == 401, path
    client.cookies.set(TOKEN_COOKIE, token_for(settings, "ioc", ["ioc_operator"], "ioc-tinh"))
    page = client.get("/dispatch/admin")
    assert page.status_code == 403 and "Quản trị Trung tâm IOC" in page.text  # the role by its name, not its code
    client.cookies.clear()
    assert client.get("/dispatch/admin", follow_redirects=False).headers["location"].startswith("/auth/login")


def test_people_import_without_passwords_then_set_one_then_deactivate(ctx, settings):
    client = TestClient(build_http(ctx))
    admin = bearer(settings)
    people = "username,display_name,roles,org_unit_id,active\nnguoimoi,Người Mới,staff,so-gtvt-kcht,true\n"
    r = client.post(f"{API}/people/import", files={"file": ("people.csv", people, "text/csv")}, headers=admin)
    assert r.status_code == 200 and r.json() == {"added": 1, "updated": 0, "unchanged": 0}
    listed = {p["username"]: p for p in client.get(f"{API}/people", headers=admin).json()["items"]}
    assert listed["nguoimoi"]["has_password"] is False and listed["admin"]["has_password"] is True
    assert client.post("/auth/token", data={"username": "nguoimoi", "password": ""}).status_code in (401, 422)
    assert client.post("/auth/token", data={"username": "nguoimoi", "password": "bất-kỳ-mật-khẩu"}).status_code == 401
    assert client.post(f"{API}/people/nguoimoi/password", json={"password": "ngắn"}, headers=admin).status_code == 422
    assert client.post(f"{API}/people/nguoimoi/password", json={"password": "mật-khẩu-mới-đủ-dài"}, headers=admin).status_code == 200
    assert client.post("/auth/token", data={"username": "nguoimoi", "password": "mật-khẩu-mới-đủ-dài"}).status_code == 200
    exported_people = (client.get(f"{API}/people/export", headers=admin).text
                       + client.get(f"{API}/people/export?format=csv", headers=admin).text)
    assert "argon2" not in exported_people and "nguoimoi" in exported_people
    assert client.post(f"{API}/people/nguoimoi/deactivate", headers=admin).json() == {"username": "nguoimoi", "active": False}
    assert client.post("/auth/token", data={"username": "nguoimoi", "password": "mật-khẩu-mới-đủ-dài"}).status_code == 401
    assert directory.get_person(ctx.uow(), "nguoimoi")["active"] is False  # kept, with its history
    assert client.post(f"{API}/people/admin/deactivate", headers=admin).status_code == 409  # not yourself
    bad = "format: paht-people/1\npeople:\n- {username: x, display_name: X, roles: [boss], org_unit_id: nowhere}\n"
    refused = client.post(f"{API}/people/import", content=bad,
                          headers={**admin, "content-type": "application/yaml"})
    assert refused.status_code == 422 and {p["where"] for p in refused.json()["error"]["problems"]} == {"people[0] (x)"}


def test_a_topic_edit_is_a_new_taxonomy_revision_and_a_retired_topic_leaves_the_list(ctx, settings):
    client = TestClient(build_http(ctx))
    admin = bearer(settings)
    r = client.patch(f"{API}/topics/crime", json={"name": "Tội phạm, vi phạm pháp luật", "fields": ["a", "n"]}, headers=admin)
    assert r.status_code == 200 and r.json()["revision"] == 2
    event = published(ctx, TAXONOMY_ID)[-1]
    crime = next(t for t in event.decode().topics if t.code == "crime")
    assert event.report_version == 2 and crime.name == "Tội phạm, vi phạm pháp luật" and list(crime.field_letters) == ["a", "n"]
    assert client.patch(f"{API}/topics/crime", json={"fields": ["z"]}, headers=admin).status_code == 422
    assert client.patch(f"{API}/topics/nothing", json={"name": "x"}, headers=admin).status_code == 404
    retired = client.patch(f"{API}/topics/covid-violation", json={"retire": True}, headers=admin)
    assert retired.status_code == 200 and retired.json()["revision"] == 3
    codes = {t.code for t in directory.list_topics(ctx.uow())}
    assert "covid-violation" not in codes and len(codes) == 20
    assert "covid-violation" in {t.code for t in directory.list_topics(ctx.uow(), date(2024, 1, 1))}
    assert [r["revision"] for r in client.get(f"{API}/revisions/taxonomy", headers=admin).json()["items"]] == [3, 2, 1]


def test_the_pages_show_revisions_the_tree_and_every_refused_row(ctx, settings):
    client = TestClient(build_http(ctx))
    client.cookies.set(TOKEN_COOKIE, token_for(settings, "admin", ["ioc_admin"], "ioc-tinh"))
    home = client.get("/dispatch/admin")
    assert home.status_code == 200 and "/dispatch/admin/revisions/directory/1" in home.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    bad = "format: paht-directory/1\nunits:\n- {id: a, code: A, kind: ministry, name: A, valid_from: 2022-05-05}\n"
    page = client.post("/dispatch/admin/import/directory", data={"csrf_token": token},
                       files={"file": ("bad.yaml", bad, "application/yaml")},
                       headers={"Origin": "http://testserver"})
    assert page.status_code == 422 and "units[0] (a)" in page.text and "ministry" in page.text
    forged = client.post("/dispatch/admin/import/directory", files={"file": ("bad.yaml", bad, "application/yaml")},
                         headers={"Origin": "http://testserver"})
    assert forged.status_code == 403  # no CSRF token
    tree = client.get("/dispatch/admin/tree", params={"as_of": "2024-01-01"})
    assert tree.status_code == 200 and "Phường Đức Ninh Đông" in tree.text and "Phường Đồng Hới" not in tree.text
    assert "Phường Đồng Hới" in client.get("/dispatch/admin/tree", params={"as_of": "2025-07-01"}).text
    revision = client.get("/dispatch/admin/revisions/directory/1")
    assert revision.status_code == 200 and "province-quangbinh" in revision.text


def test_two_imports_at_once_make_two_consecutive_revisions_never_a_duplicate(ctx, settings):
    base = exported(ctx)
    texts = []
    for n in range(2):
        data = yaml.safe_load(imported(base))
        next(u for u in data["units"] if u["id"] == "so-xd")["name_en"] = f"Department of Construction ({n})"
        texts.append(imported(data))
    with live_server(build_http(ctx)) as url:
        barrier, answers = threading.Barrier(2), [None, None]

        def fire(i):
            with httpx.Client(timeout=60) as client:
                barrier.wait()
                answers[i] = client.post(f"{url}{API}/directory/import", content=texts[i],
                                         headers={**bearer(settings), "content-type": "application/yaml"})

        threads = [threading.Thread(target=fire, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    statuses = sorted(a.status_code for a in answers)
    revisions = [r["revision"] for r in directory_admin.list_revisions(ctx.uow(), "directory")]
    assert statuses in ([200, 200], [200, 409])
    if statuses == [200, 200]:
        assert sorted(a.json()["revision"] for a in answers) == [2, 3] and revisions == [3, 2, 1]
    else:
        conflict = next(a for a in answers if a.status_code == 409).json()
        assert revisions == [2, 1] and "at the same moment" in conflict["error"]["detail"]["en"]
    assert [e.report_version for e in published(ctx, DIRECTORY_ID)] == sorted(revisions)


def test_the_demo_accounts_of_the_editor_the_committee_and_the_emergency_desks_sign_in(ctx):
    client = TestClient(build_http(ctx))
    expected = {"bientap": (["ioc_editor"], "ioc-tinh"), "bcd": (["steering_member"], "ban-chi-dao"),
                "bcd2": (["steering_member"], "ban-chi-dao"), "truc113": (["emergency_desk"], "emergency-113"),
                "truc114": (["emergency_desk"], "emergency-114"), "truc115": (["emergency_desk"], "emergency-115")}
    for username, (roles, unit) in expected.items():
        r = client.post("/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, username
        assert (r.json()["account"]["roles"], r.json()["account"]["org_unit"]) == (roles, unit), username
