"""Federation as real processes: the province and the Đồng Hới hub, each its own `paht up` with its own nats-server
(JetStream domains) and databases, the hub's leaf link through a TCP proxy the test cuts and heals.

One province and one hub per backend (SQLite, and PostgreSQL when DATABASE_URL is set), shared by the tests in order:
the normal flow; a partition with work on both sides, then healed; a recall during a partition (the hub's late
approval refused as stale and kept); a hub restart, and a hub offline for a while with work waiting; a province
restart. Each asserts convergence without a manual step, the province's record winning, and nothing lost.
"""
from __future__ import annotations

import json
import os
import time
import uuid

import httpx
import pytest

from paht.runtime.walkthrough import REPORT, first_topic
from tests.e2e.harness import CITIZEN, Client, backend_env, cleanup_backend, start_paht, stop_paht
from tests.e2e.test_browser import DESK, PHONE, browser, shots  # noqa: F401  (fixtures)
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e
HUB, WARD = "donghoi", "ward-donghoi-2025"
ANSWER = "UBND phường Đồng Hới đã cho lấp ổ gà trước số nhà 120 Quang Trung; mặt đường đã thông thoáng."
BACKENDS = ["embedded"] + (["postgresql"] if os.environ.get("DATABASE_URL") else [])


class Nodes:
    """The two running nodes, the proxy on the hub's leaf link, and a person at each."""

    def __init__(self, tmp, env: dict):
        self.tmp, self.env = tmp, env
        self.province = start_paht(tmp / "province", self.province_env(), timeout=150)
        leaf = json.loads((tmp / "province" / "federation" / "leaf.json").read_text())
        self.proxy = TcpProxy(int(leaf["port"])).start()
        self.hub = None
        self.start_hub()
        self.p = Client(self.province.url)
        self.topic = first_topic(self.p.http)

    def province_env(self) -> dict:
        return dict(self.env, PAHT_HUBS=HUB, PAHT_OTEL_EXPORTER=f"jsonl:{self.tmp}/traces/province/{{service}}.jsonl")

    def spans(self, node: str, service: str) -> list[dict]:
        path = self.tmp / "traces" / node / f"{service}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def start_hub(self) -> None:
        secret = self.tmp / "province" / "federation" / f"{HUB}.secret"
        env = dict(self.env, PAHT_HUBS=None, PAHT_OTEL_EXPORTER=f"jsonl:{self.tmp}/traces/hub/{{service}}.jsonl")
        self.hub = start_paht(self.tmp / "hub", env, timeout=150, args=[
            "--node", HUB, "--join", self.province.url, "--join-secret-file", str(secret),
            "--leaf-url", f"nats-leaf://127.0.0.1:{self.proxy.port}"])
        self.h = Client(self.hub.url)

    def restart_province(self) -> float:
        port = int(self.province.url.rsplit(":", 1)[1])
        stop_paht(self.province)
        t0 = time.monotonic()
        # the same address: the hub joined it, and copies its cases' files from there
        self.province = start_paht(self.tmp / "province", self.province_env(), timeout=150, port=port)
        self.p = Client(self.province.url)
        return time.monotonic() - t0

    def stop(self) -> None:
        for running in (self.hub, self.province):
            if running is not None:
                stop_paht(running)
        self.proxy.stop()

    # --- the province's side -------------------------------------------------------------------------------------
    def dispatched_to_hub(self, photo: bytes | None = None) -> str:
        """A citizen reports in Đồng Hới (with a photo when given); the IOC accepts it and dispatches it to Phường Đồng Hới
        (hosted on the hub)."""
        body = dict(REPORT, topic_code=self.topic, reporter=dict(REPORT["reporter"]))
        if photo is not None:
            upload = self.p.http.post("/api/intake/v1/uploads", content=photo, headers={**self.p.as_(CITIZEN), "X-Filename": "o-ga.jpg"})
            assert upload.status_code == 201, upload.text
            body["media"] = [upload.json()["id"]]
        created = self.p.post("/api/intake/v1/reports", CITIZEN, json=body)
        assert created.status_code == 201, created.text
        rid = created.json()["id"]
        assert self.p.post(f"/api/intake/v1/reports/{rid}/accept", "ioc", json={"topic_code": self.topic}).status_code == 200
        self.p.wait_for(f"/api/dispatch/v1/reports/{rid}", "ioc")
        sent = self.p.post(f"/api/dispatch/v1/reports/{rid}/dispatch", "ioc", json={
            "agency_id": WARD, "note": "Đề nghị phường xử lý", "competence_reason": "Địa bàn phường Đồng Hới quản lý"})
        assert sent.status_code == 200, sent.text
        return rid

    def status(self, client: Client, who: str) -> dict:
        return client.get("/api/sync/v1/status", who).json()

    # --- the hub's side --------------------------------------------------------------------------------------------
    def case(self, rid: str, check=lambda c: True, timeout: float = 30.0) -> dict:
        return self.h.wait_for(f"/api/handling/v1/cases/{rid}", "donghoi",
                               check=lambda r: r.status_code == 200 and check(r.json()), timeout=timeout).json()

    def handle_at_hub(self, rid: str) -> None:
        """Steps 3, 4, 6 and 7 on the hub, by its own people."""
        for who, path, body in (("donghoi", "assign-unit", {"unit_id": WARD, "message": "Giao phường trực tiếp xử lý"}),
                                ("phuong", "assign-staff", {"staff_subject": "canbophuong"}),
                                ("canbophuong", "draft", {"answer_text": ANSWER}),
                                ("phuong", "approve", {})):
            r = self.h.post(f"/api/handling/v1/cases/{rid}/{path}", who, json=body)
            assert r.status_code == 200, (path, r.status_code, r.text)


@pytest.fixture(scope="module", params=BACKENDS)
def nodes(request, tmp_path_factory):
    tag = "f" + uuid.uuid4().hex[:8]
    if request.param == "embedded":
        env = backend_env("embedded", tag)
    else:  # PostgreSQL for both nodes' databases (the hub's schemas get its own prefix); each node its own nats-server
        env = {"NATS_URL": None, "PAHT_DB_SCHEMA_PREFIX": f"{tag}_"}
    env["PAHT_OTP_RESEND_AFTER_S"] = "1"  # the citizen signs in again at the restarted province with the same phone
    running = Nodes(tmp_path_factory.mktemp(f"fed-{request.param}"), env)
    yield running
    running.stop()
    if request.param == "postgresql":
        from tests.conftest import _drop_schemas

        _drop_schemas(f"{tag}_")
        _drop_schemas(f"{tag}_{HUB}_")
    else:
        cleanup_backend("embedded", tag)


def wait(predicate, timeout: float = 30.0, what: str = "") -> float:
    """Wait until predicate() is true; return how long it took."""
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout, f"never happened: {what}"
        time.sleep(0.1)
    return time.monotonic() - t0


def test_a_report_dispatched_to_a_hub_agency_is_handled_on_the_hub_and_published_by_the_province(nodes):
    rid = nodes.dispatched_to_hub()
    case = nodes.case(rid, lambda c: c["status"] == "awaiting_agency")
    assert case["epoch"] == 1 and case["lead_agency"]["id"] == WARD and case["title"] == REPORT["title"]
    # the province handles nothing of it itself, and knows who owns it
    assert nodes.p.get(f"/api/handling/v1/cases/{rid}", "donghoi").status_code == 404
    own = nodes.p.get(f"/api/sync/v1/ownership/{rid}", "ioc").json()
    assert (own["node_id"], own["epoch"]) == (HUB, 1)
    nodes.handle_at_hub(rid)
    # the hub's approval reaches the province's IOC for step 8; its clocks followed every step
    nodes.p.wait_for(f"/api/publication/v1/reports/{rid}", "ioc", check=lambda r: r.status_code == 200 and r.json()["status"] == "approved")
    assert nodes.p.post(f"/api/publication/v1/reports/{rid}/publish", "ioc", json={}).status_code == 200
    public = nodes.p.wait_for(f"/api/publication/v1/reports/{rid}", check=lambda r: r.status_code == 200 and r.json()["status"] == "published")
    assert ANSWER in json.dumps(public.json(), ensure_ascii=False)
    # the hub's read-only copy of what it handles follows the province's step 8
    copy = nodes.h.wait_for(f"/api/publication/v1/reports/{rid}", check=lambda r: r.status_code == 200 and r.json()["status"] == "published")
    assert copy.json()["answer"] == public.json()["answer"]
    # one trace from the leader's click on the hub to the province's border and its services that applied it
    applied = [x for x in nodes.spans("province", "publication")
               if x["name"] == "consume paht.handling.v1.ResultApproved" and x["attributes"].get("paht.report_id") == rid]
    assert applied, "the province's publication recorded no span for the hub's approval"
    trace_id = applied[0]["trace_id"]
    assert any(x["trace_id"] == trace_id and x["kind"] == "SERVER" for x in nodes.spans("hub", "handling"))  # the hub's request
    assert any(x["trace_id"] == trace_id for x in nodes.spans("province", "sync"))  # the border that let it in
    status = nodes.status(nodes.p, "ioc")
    (peer,) = status["peers"]
    assert peer["peer"] == HUB and peer["up"] and peer["refused_events"] == 0 and status["refused_events"] == 0
    assert peer["inbound"]["events"] >= 4 and peer["inbound"]["lag_s"] < 5


def test_the_hub_keeps_a_read_only_copy_of_the_reports_in_its_area_that_the_province_handles(nodes):
    """A report made in Phường Đồng Hới and sent to a provincial department: the hub's people do not handle it, but the
    district's record and figures at the hub follow it from step 1 to publication."""
    body = dict(REPORT, topic_code=nodes.topic, area_code="18880", title="Đèn đường hỏng cả dãy phố Hai Bà Trưng",
                reporter=dict(REPORT["reporter"]))
    created = nodes.p.post("/api/intake/v1/reports", CITIZEN, json=body)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    assert nodes.p.post(f"/api/intake/v1/reports/{rid}/accept", "ioc", json={"topic_code": nodes.topic}).status_code == 200
    copy = nodes.h.wait_for(f"/api/publication/v1/reports/{rid}", check=lambda r: r.status_code == 200, timeout=30).json()
    assert copy["title"] == body["title"] and copy["status"] in ("accepted", "dispatched")
    nodes.p.wait_for(f"/api/dispatch/v1/reports/{rid}", "ioc")
    assert nodes.p.post(f"/api/dispatch/v1/reports/{rid}/dispatch", "ioc", json={"agency_id": "so-gtvt"}).status_code == 200
    for who, path, payload in (("sogtvt", "assign-unit", {"unit_id": "so-gtvt-kcht"}), ("truongphong", "assign-staff", {"staff_subject": "canbo"}),
                               ("canbo", "draft", {"answer_text": "Sở đã thay bóng đèn cả dãy phố Hai Bà Trưng ngày 05/12."}),
                               ("truongphong", "approve", {})):
        if path == "assign-unit":
            nodes.p.wait_for(f"/api/handling/v1/cases/{rid}", who, check=lambda r: r.status_code == 200)
        r = nodes.p.post(f"/api/handling/v1/cases/{rid}/{path}", who, json=payload)
        assert r.status_code == 200, (path, r.text)
    nodes.p.wait_for(f"/api/publication/v1/reports/{rid}", "ioc", check=lambda r: r.json().get("status") == "approved")
    assert nodes.p.post(f"/api/publication/v1/reports/{rid}/publish", "ioc", json={}).status_code == 200
    copy = nodes.h.wait_for(f"/api/publication/v1/reports/{rid}", check=lambda r: r.json().get("status") == "published", timeout=30).json()
    assert "thay bóng đèn" in copy["answer"] and copy["lead_agency"]
    assert {"assigned", "drafted", "approved", "published"} <= {step["kind"] for step in copy["timeline"]}
    # not a case of the hub's: its handling never acts on a copy
    assert nodes.h.get(f"/api/handling/v1/cases/{rid}", "donghoi").status_code == 404
    # the district's figures: the hub's coordinator reads them; step 8 is not there
    figures = nodes.h.get("/api/publication/v1/stats", "donghoi")
    assert figures.status_code == 200 and figures.json()["totals"]["received"] >= 2, figures.text
    assert nodes.h.post(f"/api/publication/v1/reports/{rid}/publish", "ioc", json={}).status_code in (404, 405)
    assert nodes.h.get("/open311/v2/requests.json").status_code == 404 and nodes.h.get("/map").status_code == 404


def test_both_sides_keep_working_through_a_partition_and_converge_when_it_heals(nodes):
    before = nodes.dispatched_to_hub()
    nodes.case(before)
    nodes.proxy.cut()
    wait(lambda: not nodes.status(nodes.p, "ioc")["peers"][0]["up"], 20, "the province sees the link down")
    # the hub's people sign in and handle their case; the province receives, accepts and dispatches meanwhile
    nodes.h.tokens.clear()
    nodes.handle_at_hub(before)
    during = nodes.dispatched_to_hub()
    time.sleep(1.0)
    assert nodes.h.get(f"/api/handling/v1/cases/{during}", "donghoi").status_code == 404  # not across yet
    assert nodes.p.get(f"/api/publication/v1/reports/{before}", "ioc").json()["status"] != "approved"
    # the province's status shows what waits for the hub (checked every 2 s)
    wait(lambda: (nodes.status(nodes.p, "ioc")["peers"][0]["outbound"]["pending_events"] or 0) >= 1, 15, "outbound pending shown")
    nodes.proxy.heal()
    took = wait(lambda: nodes.h.get(f"/api/handling/v1/cases/{during}", "donghoi").status_code == 200, 30, "the hub gets the new case")
    nodes.p.wait_for(f"/api/publication/v1/reports/{before}", "ioc", check=lambda r: r.json().get("status") == "approved")
    assert took < 15
    wait(lambda: nodes.status(nodes.p, "ioc")["peers"][0]["up"], 10, "the province sees the link up again")
    assert nodes.status(nodes.p, "ioc")["refused_events"] == 0


def test_a_recall_during_a_partition_wins_and_the_hubs_late_work_is_refused_and_kept(nodes):
    rid = nodes.dispatched_to_hub()
    nodes.case(rid)
    nodes.proxy.cut()
    recalled = nodes.p.post(f"/api/dispatch/v1/reports/{rid}/recall", "ioc", json={"reason": "Mất kết nối với phường quá lâu"})
    assert recalled.status_code == 200 and recalled.json()["status"] == "recalled"
    # the fence moves when the province's sync applies the recall (milliseconds; a hub's write that reaches the
    # province before that was made while the hub still owned the report, and is let in)
    nodes.p.wait_for(f"/api/sync/v1/ownership/{rid}", "ioc", check=lambda r: r.json()["node_id"] == "province")
    nodes.handle_at_hub(rid)  # the hub does not know yet: its people approve
    nodes.proxy.heal()
    # the hub learns of the recall and closes its case; its late events are refused, kept, and listed
    nodes.case(rid, lambda c: c["status"] == "recalled")
    refused = nodes.p.wait_for("/api/sync/v1/refused?limit=100", "ioc",
                               check=lambda r: len([i for i in r.json()["items"] if i["report_id"] == rid]) >= 4).json()["items"]
    mine = [i for i in refused if i["report_id"] == rid]
    assert {i["type"] for i in mine} >= {"CaseAssigned", "ResultDrafted", "ResultApproved"}
    assert all(i["origin_node"] == HUB and i["epoch"] == 1 and i["owner_node"] == "province" for i in mine)
    # the province's record stands: nothing approved, the report waits for the IOC to dispatch it again
    assert nodes.p.get(f"/api/publication/v1/reports/{rid}", "ioc").json()["status"] != "approved"
    assert nodes.p.get(f"/api/dispatch/v1/reports/{rid}", "ioc").json()["status"] == "recalled"
    assert nodes.status(nodes.p, "ioc")["peers"][0]["refused_events"] >= 4
    # dispatched to the hub again: a new epoch, and the hub's work at it goes through
    again = nodes.p.post(f"/api/dispatch/v1/reports/{rid}/dispatch", "ioc", json={
        "agency_id": WARD, "competence_reason": "Địa bàn phường Đồng Hới quản lý"})
    assert again.status_code == 200, again.text
    case = nodes.case(rid, lambda c: c["status"] == "awaiting_agency")
    assert case["epoch"] == 3
    nodes.handle_at_hub(rid)
    nodes.p.wait_for(f"/api/publication/v1/reports/{rid}", "ioc", check=lambda r: r.json().get("status") == "approved")


def test_a_hub_offline_for_a_while_gets_everything_after_its_restart(nodes):
    stop_paht(nodes.hub)
    waiting = [nodes.dispatched_to_hub() for _ in range(3)]
    nodes.start_hub()
    t0 = time.monotonic()
    for rid in waiting:
        nodes.case(rid, timeout=30)
    assert time.monotonic() - t0 < 15
    nodes.handle_at_hub(waiting[0])
    nodes.p.wait_for(f"/api/publication/v1/reports/{waiting[0]}", "ioc", check=lambda r: r.json().get("status") == "approved")


def test_after_a_province_restart_both_ways_resume_by_themselves(nodes):
    rid = nodes.dispatched_to_hub()
    nodes.case(rid)
    stop_paht(nodes.province)
    nodes.handle_at_hub(rid)  # the hub works while the province is down
    nodes.restart_province()
    t0 = time.monotonic()
    nodes.p.wait_for(f"/api/publication/v1/reports/{rid}", "ioc", check=lambda r: r.status_code == 200 and r.json().get("status") == "approved",
                     timeout=30)
    later = nodes.dispatched_to_hub()
    nodes.case(later, timeout=30)
    assert time.monotonic() - t0 < 20
    assert httpx.get(f"{nodes.hub.url}/healthz", timeout=5).status_code == 200


def test_the_hubs_people_work_on_phones_at_the_hub_and_the_province_sees_the_link_on_its_sync_page(nodes, browser, shots):  # noqa: F811
    """Real Chromium: the ward's coordinator on a phone at the hub opens the case the province sent and assigns it;
    the reporter's contact comes from the province's audited release; the IOC's sync page at the province
    shows the hub's link (and, after the tests above, the refused events of the recall)."""
    from playwright import sync_api

    from tests.e2e.test_browser import assert_readable, new_page
    from tests.e2e.test_dispatch_console import sign_in

    from tests.e2e.test_public_photos_pages import street_photo

    expect = sync_api.expect
    rid = nodes.dispatched_to_hub(photo=street_photo())
    (photo,) = nodes.case(rid)["media"]
    # the hub copies the report's photo from the province (the province's intake gives it to the owning hub only)
    assert photo["url"] == f"/api/handling/v1/cases/{rid}/report-files/{photo['id']}"
    got = nodes.h.wait_for(photo["url"], "donghoi", timeout=30)
    assert got.headers["content-type"] == "image/jpeg" and got.content[:2] == b"\xff\xd8"
    assert nodes.h.get(photo["url"], "capnuoc").status_code == 404  # someone outside the case
    direct = nodes.p.http.get(f"/api/intake/v1/federation/{HUB}/files/{photo['id']}", headers={"Authorization": "Bearer not-the-secret"})
    assert direct.status_code == 401
    context, page = new_page(browser, nodes.hub.url, PHONE)
    try:
        sign_in(page, "donghoi", "/handling/")
        page.locator("tr").filter(has_text=rid).locator("a.case-link").click()
        expect(page.locator("#case-status")).to_contain_text("Chờ cơ quan chủ trì tiếp nhận")
        expect(page.locator("main")).to_contain_text(REPORT["title"])
        expect(page.locator("#history")).to_contain_text("Trung tâm IOC phân công cơ quan chủ trì")
        expect(page.locator("header nav")).not_to_contain_text("Gửi phản ánh")  # no citizens' links on a hub
        expect(page.locator("#report-photos img")).to_have_count(1)
        assert page.locator("#report-photos img").evaluate("img => img.complete && img.naturalWidth > 0")
        assert_readable(page)
        shots(page, "federation-hub-case-phone")
        form = page.locator("#act-assign-unit")
        form.locator("[name=unit_id]").fill(WARD)  # the ward has no units of its own: it leads itself
        form.get_by_role("button", name="Giao đơn vị chủ trì").click()
        expect(page.locator("#done")).to_contain_text("Cơ quan đầu mối giao đơn vị chủ trì")
        # the reporter's contact, for the hub's person who handles the case: released by the province's intake (audited
        # there), never kept at the hub
        contact = nodes.h.post(f"/api/handling/v1/cases/{rid}/contact", "donghoi", json={"purpose": "Hẹn kiểm tra hiện trường"})
        assert contact.status_code == 200 and contact.json()["name"] == REPORT["reporter"]["name"] and contact.json()["audit_id"]
        assert nodes.h.post(f"/api/handling/v1/cases/{rid}/contact", "capnuoc", json={"purpose": "Xem thử"}).status_code == 404
    finally:
        context.close()
    # the district's figures at the hub, on the coordinator's phone
    context, page = new_page(browser, nodes.hub.url, PHONE)
    try:
        sign_in(page, "donghoi", "/publication/stats")
        expect(page.locator("header nav")).to_contain_text("Số liệu địa bàn")
        expect(page.locator("#hub-copy")).to_contain_text("bản sao chỉ đọc")
        assert_readable(page)
        shots(page, "federation-hub-figures-phone")
    finally:
        context.close()
    nodes.p.wait_for(f"/api/handling/v1/cases/{rid}", "ioc", check=lambda r: r.status_code == 404)  # not a provincial case
    context, page = new_page(browser, nodes.province.url, DESK)
    try:
        sign_in(page, "ioc", "/sync/")
        expect(page.locator("main")).to_contain_text("Đang kết nối")
        expect(page.locator("main")).to_contain_text(HUB)
        assert_readable(page)
        shots(page, "federation-sync-province-desk")
    finally:
        context.close()
