"""The Steering Committee on a real database: the IOC reports a dispute (longer deadline, ReportEscalated), members
see it and designate the lead agency (ReportDispatched, escalated), the IOC may withdraw it; every refusal is a
bilingual 4xx."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from paht.runtime.ids import new_id
from paht.runtime.sla import Step, default_engine
from services.dispatch.bootstrap import SPEC, build_http
from tests.integration.test_step2_routing import accepted, auth, events
from tests.support.services import migrated_context

pytestmark = pytest.mark.integration
REASON = "Sở Xây dựng và Sở Giao thông vận tải đều cho rằng không thuộc thẩm quyền"
DECISION = "Giao Sở Xây dựng chủ trì, Sở Giao thông vận tải phối hợp"


@pytest.fixture
def ctx(settings):
    context = migrated_context(SPEC, settings)
    SPEC.seed(context)
    yield context
    context.engine.dispose()


@pytest.fixture
def client(ctx):
    return TestClient(build_http(ctx))


@pytest.fixture
def people(settings) -> dict[str, dict]:
    return {
        "ioc": auth(settings, "ioc", "ioc_operator", "ioc-tinh"),
        "editor": auth(settings, "bientap", "ioc_editor", "ioc-tinh"),
        "bcd": auth(settings, "bcd", "steering_member", "ban-chi-dao"),
        "bcd2": auth(settings, "bcd2", "steering_member", "ban-chi-dao"),
        "agency": auth(settings, "soxd", "agency_coordinator", "so-xd"),
    }


def escalate(client, who: dict, rid: str, candidates=("so-xd", "so-gtvt"), reason: str = REASON):
    body = {"reason": reason, "candidate_agency_ids": list(candidates)}
    return client.post(f"/api/dispatch/v1/reports/{rid}/escalate", json=body, headers=who)


def decide(client, who: dict, rid: str, agency_id: str, decision: str = DECISION):
    body = {"agency_id": agency_id, "decision": decision}
    return client.post(f"/api/dispatch/v1/steering/reports/{rid}/decision", json=body, headers=who)


def test_the_committee_designates_the_lead_agency_of_an_escalated_report(ctx, client, people):
    arrival = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=20)
    rid = accepted(ctx, "street-encroachment", received=arrival)
    r = escalate(client, people["ioc"], rid)
    assert r.status_code == 200, r.text
    item = r.json()
    due = default_engine().due(Step.DISPATCH, arrival, escalated=True)
    assert item["status"] == "escalated" and datetime.fromisoformat(item["dispatch_due"]) == due
    assert item["escalation"]["candidate_agency_ids"] == ["so-xd", "so-gtvt"] and item["escalation"]["reason"] == REASON
    assert item["status_phrase"]["vi"] == "đã báo cáo Ban Chỉ đạo và đang chờ Ban Chỉ đạo quyết định"
    (escalated,) = events(ctx, "ReportEscalated")
    assert [a.id for a in escalated.candidate_agencies] == ["so-xd", "so-gtvt"] and escalated.reason == REASON
    assert escalated.dispatch_due.ToDatetime(tzinfo=timezone.utc) == due and escalated.meta.actor.subject == "ioc"
    # out of the IOC's dispatch list, into the Committee's
    assert client.get("/api/dispatch/v1/queue", headers=people["ioc"]).json()["total"] == 0
    assert [i["report_id"] for i in client.get("/api/dispatch/v1/queue?status=escalated", headers=people["ioc"]).json()["items"]] == [rid]
    listed = client.get("/api/dispatch/v1/steering/reports", headers=people["bcd"]).json()
    assert listed["total"] == 1 and [c["id"] for c in listed["items"][0]["escalation"]["candidates"]] == ["so-xd", "so-gtvt"]
    assert listed["items"][0]["escalation"]["candidates"][0]["name"] == "Sở Xây dựng"
    # the IOC cannot dispatch it meanwhile
    busy = client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-xd"}, headers=people["ioc"])
    assert busy.status_code == 409 and "withdraw" in busy.json()["error"]["detail"]["en"]
    decided = decide(client, people["bcd"], rid, "so-xd")
    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["lead_agency_id"], decided.json()["round"]) == ("dispatched", "so-xd", 1)
    (dispatched,) = events(ctx, "ReportDispatched")
    assert dispatched.escalated and dispatched.decision == DECISION and dispatched.meta.actor.subject == "bcd"
    assert dispatched.lead_agency.id == "so-xd" and dispatched.on_time and dispatched.dispatch_due.ToDatetime(tzinfo=timezone.utc) == due
    assert [e.meta.report_version for e in events(ctx, "ReportEscalated") + events(ctx, "ReportDispatched")] == [1, 2]
    again = decide(client, people["bcd2"], rid, "so-gtvt")
    assert again.status_code == 409 and again.json()["error"]["code"] == "error.conflict_state"
    assert "nothing left to decide" in again.json()["error"]["detail"]["en"] and again.json()["error"]["detail"]["vi"]
    history = client.get(f"/api/dispatch/v1/reports/{rid}/history", headers=people["bcd"]).json()
    (esc,) = history["escalations"]
    assert (esc["state"], esc["agency_id"], esc["decision"], esc["closed_by"], esc["escalated_by"]) == \
        ("decided", "so-xd", DECISION, "bcd", "ioc")
    (first,) = history["rounds"]
    assert first["designated_by_committee"] and first["decision"] == DECISION and first["dispatched_by"] == "bcd"
    assert client.get("/api/dispatch/v1/steering/reports", headers=people["bcd"]).json()["total"] == 0


def test_a_night_escalation_is_due_at_0730_and_withdrawing_restores_0700(ctx, client, people):
    arrival = datetime(2026, 3, 2, 16, 30, tzinfo=timezone.utc)  # 23:30 in Vietnam
    rid = accepted(ctx, "street-encroachment", received=arrival)
    assert escalate(client, people["ioc"], rid).json()["dispatch_due"] == "2026-03-03T00:30:00+00:00"  # 07:30
    withdraw = f"/api/dispatch/v1/reports/{rid}/escalation/withdraw"
    back = client.post(withdraw, json={"reason": "Hai Sở đã thống nhất"}, headers=people["ioc"])
    assert back.status_code == 200 and back.json()["status"] == "awaiting_dispatch" and back.json()["escalation"] is None
    assert back.json()["dispatch_due"] == "2026-03-03T00:00:00+00:00"  # 07:00
    (withdrawn,) = events(ctx, "EscalationWithdrawn")
    assert withdrawn.reason == "Hai Sở đã thống nhất"
    assert withdrawn.dispatch_due.ToDatetime(tzinfo=timezone.utc) == arrival + timedelta(hours=7, minutes=30)
    assert [i["report_id"] for i in client.get("/api/dispatch/v1/queue", headers=people["ioc"]).json()["items"]] == [rid]
    assert client.post(withdraw, json={}, headers=people["ioc"]).status_code == 409
    nothing = decide(client, people["bcd"], rid, "so-xd")
    assert nothing.status_code == 409 and "not with the Steering Committee" in nothing.json()["error"]["detail"]["en"]
    # reported again later: a second escalation, kept apart from the first
    assert escalate(client, people["ioc"], rid).status_code == 200
    history = client.get(f"/api/dispatch/v1/reports/{rid}/history", headers=people["ioc"]).json()
    assert [(e["seq"], e["state"]) for e in history["escalations"]] == [(1, "withdrawn"), (2, "pending")]


def test_escalated_twice_is_a_409_and_every_bad_escalation_a_bilingual_4xx(ctx, client, people):
    rid = accepted(ctx, "street-encroachment")
    cases = [
        ((["so-xd"],), 422),                       # one agency needs no committee
        ((["so-xd", "so-xd"],), 422),              # the same agency twice is one
        ((["so-xd", "nowhere"],), 404),
        ((["so-xd", "emergency-113"],), 422),      # cannot lead
        ((["so-xd", "ban-chi-dao"],), 422),
        ((["so-xd", "donghoi-city"],), 422),       # not in force since the 2025 reform
    ]
    for (candidates,), status in cases:
        r = escalate(client, people["ioc"], rid, candidates)
        assert r.status_code == status, (candidates, r.text)
        assert r.json()["error"]["detail"]["en"] != r.json()["error"]["detail"]["vi"]
    short = escalate(client, people["ioc"], rid, reason="không rõ")
    assert short.status_code == 422 and short.json()["error"]["code"] == "error.too_short"
    assert events(ctx, "ReportEscalated") == []
    assert escalate(client, people["ioc"], rid).status_code == 200
    twice = escalate(client, people["ioc"], rid)
    assert twice.status_code == 409 and "already with the Steering Committee" in twice.json()["error"]["detail"]["en"]
    assert len(events(ctx, "ReportEscalated")) == 1
    assert escalate(client, people["ioc"], new_id()).status_code == 404


def test_only_operators_escalate_and_withdraw_and_only_members_decide(ctx, client, people):
    rid = accepted(ctx, "street-encroachment")
    for who in ("editor", "bcd", "agency"):
        r = escalate(client, people[who], rid)
        assert r.status_code == 403 and r.json()["error"]["code"] == "error.wrong_role", who
    assert escalate(client, people["ioc"], rid).status_code == 200
    for who in ("editor", "bcd", "agency"):
        assert client.post(f"/api/dispatch/v1/reports/{rid}/escalation/withdraw", json={}, headers=people[who]).status_code == 403
    for who in ("ioc", "editor", "agency"):
        assert client.get("/api/dispatch/v1/steering/reports", headers=people[who]).status_code == 403
        r = decide(client, people[who], rid, "so-xd")
        assert r.status_code == 403 and r.json()["error"]["detail"]["vi"], who
    # a decision needs its words, and an agency that may lead
    short = decide(client, people["bcd"], rid, "so-xd", "Sở XD")
    assert short.status_code == 422
    unfit = decide(client, people["bcd"], rid, "emergency-115")
    assert unfit.status_code == 422 and "cannot be a lead agency" in unfit.json()["error"]["detail"]["en"]
    assert client.get(f"/api/dispatch/v1/reports/{rid}", headers=people["ioc"]).json()["status"] == "escalated"
    assert events(ctx, "ReportDispatched") == []


def test_a_refused_report_can_be_escalated_and_the_longer_window_counts_from_the_refusal(ctx, client, people):
    from paht.handling.v1 import events_pb2 as handling_ev
    from paht.runtime.events.consumer import Outcome
    from tests.support.handling import envelope
    from tests.support.services import deliver

    rid = accepted(ctx, "street-encroachment")
    assert client.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-gtvt"}, headers=people["ioc"]).status_code == 200
    refusal = handling_ev.CaseRefusedByAgency(reason="Việc lấn chiếm vỉa hè thuộc thẩm quyền địa phương")
    refused_at = datetime.now(timezone.utc).replace(microsecond=0)
    refusal.meta.occurred_at.FromDatetime(refused_at)
    assert deliver(ctx, envelope(ctx, "handling", refusal, rid, 1)) is Outcome.APPLIED
    r = escalate(client, people["ioc"], rid, ("so-gtvt", "ward-donghoi-2025"))
    assert r.status_code == 200
    assert datetime.fromisoformat(r.json()["dispatch_due"]) == default_engine().due(Step.DISPATCH, refused_at, escalated=True)
    assert r.json()["refusal"]["reason"] == "Việc lấn chiếm vỉa hè thuộc thẩm quyền địa phương" and r.json()["escalation"]["round"] == 2
    decided = decide(client, people["bcd"], rid, "ward-donghoi-2025")
    assert decided.status_code == 200 and decided.json()["round"] == 2
    assert [(e.round, e.escalated) for e in events(ctx, "ReportDispatched")] == [(1, False), (2, True)]
