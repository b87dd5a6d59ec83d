"""`paht up` as real processes: one report through all five services, traces, crashes, restarts."""
from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from paht.runtime.walkthrough import REPORT, reporter_sign_in, walk
from tests.e2e.harness import BACKENDS, Client, alive, backend_env, cleanup_backend, start_paht, stop_paht

pytestmark = pytest.mark.e2e

EXPECTED_TIMELINE = ["submitted", "accepted", "dispatched", "assigned", "in_progress", "drafted", "approved", "published"]


def timeline_kinds(public: dict) -> list[str]:
    return [entry["kind"] for entry in public["timeline"]]


def test_one_report_travels_through_every_service(paht):
    w = walk(paht.url)
    public = w.public
    assert public["status"] == "published"
    assert public["tracking_code"] == w.tracking_code
    assert "vá ổ gà" in public["answer"]
    kinds = timeline_kinds(public)
    for kind in EXPECTED_TIMELINE:
        assert kinds.count(kind) >= 1, f"timeline lacks {kind}: {kinds}"
    # personal data never reaches the public side
    text = json.dumps(public, ensure_ascii=False)
    for secret in (REPORT["reporter"]["phone"], REPORT["reporter"]["email"], REPORT["reporter"]["name"]):
        assert secret not in text
    # the citizen's portal shows it too
    page = httpx.get(f"{paht.url}/reports/{w.report_id}", timeout=10)
    assert page.status_code == 200 and REPORT["title"] in page.text
    # and no log line of any process carries the reporter's personal data
    logs = "\n".join(f.read_text(errors="ignore") for f in (paht.data / "logs").glob("*.log"))
    assert logs and all(secret not in logs for secret in (REPORT["reporter"]["phone"], REPORT["reporter"]["email"]))


def _spans(folder: Path) -> list[dict]:
    return [json.loads(line) for f in folder.glob("*.jsonl") for line in f.read_text().splitlines() if line.strip()]


def _trace_of(spans: list[dict], service: str, path_part: str) -> dict[str, set]:
    """Return {service: span kinds} of the newest trace rooted at an HTTP request to `path_part`."""
    roots = [s for s in spans if s["service"] == service and s["kind"] == "SERVER" and path_part in s["name"]]
    services: dict[str, set] = defaultdict(set)
    if roots:
        for s in spans:
            if s["trace_id"] == roots[-1]["trace_id"]:
                services[s["service"]].add(s["kind"])
    return services


def test_one_trace_follows_a_request_across_services(paht, tmp_path):
    """HTTP → gRPC → outbox → NATS → consumers, in one trace: a submission, and a step-4 assignment (which asks dispatch
    for the person; step 3's unit is checked in handling's own copy of the directory)."""
    w = walk(paht.url)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        spans = _spans(tmp_path / "traces")
        submitted = _trace_of(spans, "paht-intake", "/api/intake/v1/reports")
        assigned = _trace_of(spans, "paht-handling", "/assign-staff")
        if "CONSUMER" in submitted.get("paht-publication", set()) and {"CLIENT", "PRODUCER"} <= assigned.get("paht-handling", set()) \
                and "SERVER" in assigned.get("paht-dispatch", set()) and "CONSUMER" in assigned.get("paht-publication", set()):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no single trace crossed HTTP → gRPC → NATS → consumer: submission {dict(submitted)}, step 4 {dict(assigned)}")
    assert "PRODUCER" in submitted["paht-intake"]  # the relay's publish span
    dump = json.dumps(spans, ensure_ascii=False)
    assert REPORT["reporter"]["phone"] not in dump and REPORT["reporter"]["email"] not in dump
    assert w.report_id


def test_a_killed_service_restarts_and_no_event_is_lost_or_applied_twice(paht):
    killed = {}

    def kill_publication(step, walk_state):
        if step == "dispatched" and not killed:
            pid = paht.run_info()["services"]["publication"]["pid"]
            os.kill(pid, signal.SIGKILL)
            killed["pid"] = pid

    w = walk(paht.url, on_step=kill_publication)
    assert killed and not alive(killed["pid"])
    info = paht.run_info()["services"]["publication"]
    assert info["restarts"] >= 1 and info["pid"] != killed["pid"]
    # a message the killed process had fetched but not acknowledged comes back after the ack wait
    c = Client(paht.url)
    public = c.wait_for(f"/api/publication/v1/reports/{w.report_id}",
                        check=lambda r: all(k in timeline_kinds(r.json()) for k in EXPECTED_TIMELINE), timeout=30).json()
    time.sleep(1.0)  # any duplicate application would land now
    public = c.get(f"/api/publication/v1/reports/{w.report_id}").json()
    kinds = timeline_kinds(public)
    assert sorted(kinds) == sorted(EXPECTED_TIMELINE), f"lost or applied twice: {kinds}"


def test_bad_input_gets_a_clear_bilingual_4xx_through_the_edge(paht):
    c = Client(paht.url)
    cases = [
        (c.http.post("/api/intake/v1/reports", content=b"{not json", headers={"content-type": "application/json"}), 400),
        (c.http.post("/api/intake/v1/reports", json={**REPORT, "unknown": 1}), 422),
        (c.http.post("/api/intake/v1/reports", json={**REPORT, "title": 42}), 422),
        (c.http.post("/api/intake/v1/reports", content=b"x" * 2_000_000, headers={"content-type": "application/json"}), 413),
        (c.http.post("/api/intake/v1/reports/nope/accept", json={"topic_code": "x"}), 401),
        (c.post("/api/dispatch/v1/reports/nope/dispatch", who="canbo", json={"agency_id": "so-gtvt"}), 403),
        (c.post("/api/dispatch/v1/reports/nope/dispatch", who="ioc", json={"agency_id": "so-gtvt"}), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        message = response.json()["error"]["message"]
        assert message["vi"] and message["en"]


def test_out_of_order_step_is_refused_with_409(paht):
    c = Client(paht.url)
    rid = c.post("/api/intake/v1/reports", "citizen", json=REPORT).json()["id"]
    topic = c.get("/api/dispatch/v1/topics").json()["items"][0]["code"]
    assert c.post(f"/api/intake/v1/reports/{rid}/accept", who="ioc", json={"topic_code": topic}).status_code == 200
    again = c.post(f"/api/intake/v1/reports/{rid}/accept", who="ioc", json={"topic_code": topic})
    assert again.status_code == 409 and again.json()["error"]["code"] == "error.conflict_state"


@pytest.mark.parametrize("backend", BACKENDS)
def test_second_run_keeps_the_data_and_ctrl_c_or_sigterm_leave_nothing_behind(tmp_path, backend):
    data = tmp_path / "data"
    tag = "e" + uuid.uuid4().hex[:8]
    env = backend_env(backend, tag)
    first = start_paht(data, env)
    try:
        c = Client(first.url)
        created = c.post("/api/intake/v1/reports", "citizen", json=REPORT).json()
        rid, code = created["id"], created["tracking_code"]
        c.wait_for(f"/api/publication/v1/track/{code}")
    finally:
        stop_paht(first, ctrl_c=True)
    second = start_paht(data, env)
    try:
        c = Client(second.url)
        assert c.get(f"/api/publication/v1/track/{code}").json()["status"] == "submitted"
        assert c.get(f"/api/intake/v1/reports/{rid}", who="ioc").json()["status"] == "submitted"
    finally:
        stop_paht(second)
        cleanup_backend(backend, tag)


def test_healthz_is_503_while_a_service_is_down(paht):
    assert httpx.get(f"{paht.url}/healthz").status_code == 200
    pid = paht.run_info()["services"]["sync"]["pid"]
    os.kill(pid, signal.SIGSTOP)  # frozen: its health check cannot answer
    try:
        r = httpx.get(f"{paht.url}/healthz", timeout=10)
        assert r.status_code == 503 and r.json()["checks"]["sync"] is False
    finally:
        os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while httpx.get(f"{paht.url}/healthz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_reports_accepted_while_nats_or_dispatch_is_down_flow_when_they_are_back(paht):
    """Nothing acknowledged is lost: a 201 while the broker is frozen still reaches the public read model."""
    info = paht.run_info()
    c = Client(paht.url)
    topic = c.get("/api/dispatch/v1/topics").json()["items"][0]["code"]
    # intake copies the taxonomy at start; from then on it checks topics without dispatch
    assert c.post("/api/intake/v1/reports", "citizen", json=dict(REPORT, topic_code=topic)).status_code == 201
    frozen = [info["services"]["dispatch"]["pid"]] + ([info["nats_pid"]] if info.get("nats_pid") else [])
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        r = c.post("/api/intake/v1/reports", "citizen", json=dict(REPORT, topic_code=topic), timeout=30)
        assert r.status_code == 201, r.text  # the topic is checked against intake's own copy of the taxonomy
        time.sleep(1.0)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    public = c.wait_for(f"/api/publication/v1/track/{r.json()['tracking_code']}", timeout=60).json()
    assert public["status"] == "submitted" and "title" not in public  # awaiting review: public only once accepted


@pytest.fixture(params=BACKENDS)
def two_intakes(request, tmp_path):
    """`paht up` with PAHT_REPLICAS=intake=2 (one process per service is the default)."""
    tag = "e" + uuid.uuid4().hex[:8]
    running = start_paht(tmp_path / "data", {**backend_env(request.param, tag), "PAHT_REPLICAS": "intake=2"})
    yield running
    stop_paht(running)
    cleanup_backend(request.param, tag)


def test_intake_runs_as_two_processes_and_a_killed_one_costs_no_request(two_intakes):
    """PAHT_REPLICAS=intake=2: the edge shares submissions between the two processes, and while one is down (killed,
    then restarted by `paht up`) the other takes every request."""
    paht = two_intakes
    info = paht.run_info()["services"]
    assert {"intake", "intake-2"} <= set(info) and info["intake"]["pid"] != info["intake-2"]["pid"]
    assert alive(info["intake"]["pid"]) and alive(info["intake-2"]["pid"])
    with httpx.Client(base_url=paht.url, timeout=30) as http:
        assert http.get("/healthz").json()["checks"]["intake-2"] is True
        headers = reporter_sign_in(http, REPORT["reporter"]["phone"])
        os.kill(info["intake-2"]["pid"], signal.SIGKILL)
        codes = [http.post("/api/intake/v1/reports", json=REPORT, headers=headers).status_code for _ in range(10)]
        assert codes == [201] * 10
