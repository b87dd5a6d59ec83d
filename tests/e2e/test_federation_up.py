"""`paht up` of federated nodes, as real processes: the province with a hub beside it (--with-hub), the join, and a
hub started on its own against a running province (--node/--join)."""
from __future__ import annotations

import json
import time

import httpx
import pytest

from paht.runtime.supervisor import free_port
from tests.e2e.harness import Client, backend_env, start_paht, stop_paht

pytestmark = pytest.mark.e2e

EMBEDDED = backend_env("embedded", "fed")  # unset DATABASE_URL and NATS_URL: each node runs its own nats-server


def leaf_connections(data) -> int:
    monitor = json.loads((data / "run.json").read_text())["nats_monitor"]
    return httpx.get(f"{monitor}/leafz", timeout=5).json()["leafnodes"]


def wait_leaf(data, timeout: float = 20.0) -> int:
    end = time.monotonic() + timeout
    while (n := leaf_connections(data)) == 0 and time.monotonic() < end:
        time.sleep(0.2)
    return n


def wait_healthy(url: str, timeout: float = 90.0) -> None:
    """start_paht returns when the province answers; the hub, started after it, may take a few seconds more."""
    end = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < end, f"{url} never became healthy"
        time.sleep(0.2)


def test_province_with_a_hub_beside_it(tmp_path):
    data, hub_port = tmp_path / "data", free_port()
    running = start_paht(data, EMBEDDED, timeout=150, args=["--with-hub", "donghoi", "--hub-port", str(hub_port)])
    try:
        wait_healthy(f"http://127.0.0.1:{hub_port}")
        province, hub = Client(running.url), Client(f"http://127.0.0.1:{hub_port}")
        assert province.get("/healthz").status_code == 200 and hub.get("/healthz").status_code == 200
        # a hub's own people sign in at the hub and find their work list
        assert hub.get("/api/handling/v1/cases", "donghoi").status_code == 200
        assert province.get("/api/sync/v1/status", "ioc").json()["node_id"] == "province"
        assert hub.get("/api/sync/v1/status", "donghoi").status_code in (200, 403)
        # the hub's nats-server is a leaf node of the province's, and the hub runs no portal or intake
        hub_data = data / "nodes" / "donghoi"
        assert wait_leaf(hub_data) == 1 and leaf_connections(data) == 1
        assert (hub_data / "run.json").exists() and set(json.loads((hub_data / "run.json").read_text())["services"]) == {
            "dispatch", "handling", "publication", "sync", "edge"}
        home = hub.http.get("/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/handling/"
        for path in ("/intake/", "/map", "/reports/x", "/open311/v2/requests.json"):  # no portal, no intake on a hub
            elsewhere = hub.http.get(path)
            assert elsewhere.status_code == 404 and running.url in elsewhere.json()["error"]["detail"]["en"], path
        # its publication is the district's read-only copy: figures for its people, no step 8
        assert hub.get("/api/publication/v1/stats", "donghoi").status_code == 200
        assert hub.post("/api/publication/v1/reports/x/publish", "ioc", json={}).status_code in (404, 405)
        # no password in run.json or in what `paht up` printed
        secret = (data / "federation" / "donghoi.secret").read_text().strip()
        service_password = (data / "federation" / "paht.password").read_text().strip()
        printed = (tmp_path / "data-up.log").read_text()
        for text in (printed, (data / "run.json").read_text(), (hub_data / "run.json").read_text()):
            assert secret not in text and service_password not in text

        # the join: the hub's secret opens it; a wrong one is refused, an undeclared hub is not found
        joined = province.http.get("/api/sync/v1/join/donghoi", headers={"Authorization": f"Bearer {secret}"})
        assert joined.status_code == 200, joined.text
        answer = joined.json()
        assert answer["province_node"] == "province" and answer["leaf_user"] == "donghoi" and answer["leaf_url"].startswith("nats-leaf://")
        wrong = province.http.get("/api/sync/v1/join/donghoi", headers={"Authorization": "Bearer not-the-secret"})
        assert wrong.status_code == 401 and set(wrong.json()["error"]["detail"]) == {"vi", "en"}
        assert province.http.get("/api/sync/v1/join/donghoi").status_code == 401
        assert province.http.get("/api/sync/v1/join/dongson", headers={"Authorization": f"Bearer {secret}"}).status_code == 404
    finally:
        stop_paht(running)  # asserts that no process of either node is left


def test_a_hub_started_on_its_own_joins_a_running_province(tmp_path):
    province = start_paht(tmp_path / "province", dict(EMBEDDED, PAHT_HUBS="donghoi"), timeout=150)
    try:
        secret_file = tmp_path / "province" / "federation" / "donghoi.secret"
        hub = start_paht(tmp_path / "hub", dict(EMBEDDED, PAHT_HUBS=None), timeout=150,
                         args=["--node", "donghoi", "--join", province.url, "--join-secret-file", str(secret_file)])
        try:
            assert Client(hub.url).get("/api/handling/v1/cases", "donghoi").status_code == 200
            assert wait_leaf(tmp_path / "hub") == 1
        finally:
            stop_paht(hub)
    finally:
        stop_paht(province)
