"""The refusal loop across services: the lead agency refuses (step 3), the IOC dispatches again (step 2),
the new agency gets a new round; and the checks on every refusal's reason."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.events.consumer import Outcome
from paht.runtime.ids import new_id
from services.dispatch import bootstrap as dispatch
from services.handling import bootstrap as handling
from tests.support.handling import FakeOrgDirectory, dispatched, envelope
from tests.support.services import deliver, migrated_context, outbox_envelopes, token_for

ANSWER = "Đã vá ổ gà trên đường Quang Trung ngày 12/3."


@pytest.fixture
def handling_ctx(settings):
    ctx = migrated_context(handling.SPEC, settings)
    yield ctx
    ctx.engine.dispose()


@pytest.fixture
def dispatch_ctx(settings):
    ctx = migrated_context(dispatch.SPEC, settings)
    dispatch.SPEC.seed(ctx)  # the organisation tree (no accounts without a demo password)
    yield ctx
    ctx.engine.dispose()


def auth(settings, subject: str, role: str, org_unit: str) -> dict:
    return {"Authorization": f"Bearer {token_for(settings, subject, [role], org_unit)}"}


def last_of(ctx, kind: str):
    return [e for e in outbox_envelopes(ctx) if e.type.endswith("." + kind)][-1]


def queued(client, headers) -> set[str]:
    return {i["report_id"] for i in client.get("/api/dispatch/v1/queue?limit=200", headers=headers).json()["items"]}


def test_a_refused_case_goes_back_to_step_2_and_reaches_another_agency_in_a_new_round(settings, handling_ctx, dispatch_ctx):
    rid = new_id()
    ioc = auth(settings, "ioc", "ioc_operator", "ioc-tinh")
    dispatch_api = TestClient(dispatch.SPEC.build_http(dispatch_ctx))
    handling_api = TestClient(handling.build_http(handling_ctx, directory=FakeOrgDirectory()))

    accepted = intake_ev.ReportAccepted(topic_code="street-encroachment", group_code="urban-order", urgent=False)  # fields h, c, n
    accepted.received_at.FromDatetime(datetime.now(timezone.utc))
    assert deliver(dispatch_ctx, envelope(dispatch_ctx, "intake", accepted, rid, 1)) is Outcome.APPLIED
    assert rid in queued(dispatch_api, ioc)
    r = dispatch_api.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-gtvt"}, headers=ioc)
    assert r.status_code == 200, r.text
    assert rid not in queued(dispatch_api, ioc)
    assert deliver(handling_ctx, last_of(dispatch_ctx, "ReportDispatched")) is Outcome.APPLIED

    coordinator = auth(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    r = handling_api.post(f"/api/handling/v1/cases/{rid}/refuse", json={"reason": "Không thuộc thẩm quyền của Sở"}, headers=coordinator)
    assert (r.status_code, r.json()["status"]) == (200, "refused_by_agency")
    assert deliver(dispatch_ctx, last_of(handling_ctx, "CaseRefusedByAgency")) is Outcome.APPLIED

    item = dispatch_api.get(f"/api/dispatch/v1/reports/{rid}", headers=ioc).json()
    assert rid in queued(dispatch_api, ioc) and item["lead_agency_id"] is None
    refusal = ("refused_by_agency", "so-gtvt", "Không thuộc thẩm quyền của Sở")
    assert (item["status"], item["refusal"]["agency_id"], item["refusal"]["reason"]) == refusal
    r = dispatch_api.post(f"/api/dispatch/v1/reports/{rid}/dispatch", json={"agency_id": "so-xd"}, headers=ioc)
    assert r.status_code == 200, r.text
    again = last_of(dispatch_ctx, "ReportDispatched")
    assert (again.decode().round, again.decode().lead_agency.id) == (2, "so-xd")
    assert deliver(handling_ctx, again) is Outcome.APPLIED

    xd = auth(settings, "soxd", "agency_coordinator", "so-xd")
    history = dispatch_api.get(f"/api/dispatch/v1/reports/{rid}/history", headers=ioc).json()["rounds"]
    assert [(r["round"], r["agency_id"], r["refusal_reason"]) for r in history] == [(1, *refusal[1:]), (2, "so-xd", None)]
    case = handling_api.get(f"/api/handling/v1/cases/{rid}", headers=xd).json()
    assert (case["status"], case["lead_agency"]["id"], case["round"], case["agency_refusal_reason"]) == \
        ("awaiting_agency", "so-xd", 2, None)
    assert handling_api.get(f"/api/handling/v1/cases/{rid}", headers=coordinator).status_code == 404  # no longer the old agency's
    r = handling_api.post(f"/api/handling/v1/cases/{rid}/assign-unit", json={"unit_id": "so-xd-qhkt"}, headers=xd)
    assert (r.status_code, r.json()["status"]) == (200, "awaiting_unit_leader")


# --- the reason of every refusal and return: required, at least 5 characters, meaningful ----------


@pytest.fixture
def client(handling_ctx):
    return TestClient(handling.build_http(handling_ctx, directory=FakeOrgDirectory()))


def at(handling_ctx, client, settings, stage: str) -> tuple[str, dict]:
    """Return a case at the stage where a refusal or return is allowed, and the person who may make it."""
    rid = new_id()
    deliver(handling_ctx, dispatched(handling_ctx, rid))
    coordinator = auth(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    if stage == "refuse":
        return rid, coordinator
    leader = auth(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    client.post(f"/api/handling/v1/cases/{rid}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=coordinator)
    if stage == "refuse-unit":
        return rid, leader
    client.post(f"/api/handling/v1/cases/{rid}/assign-staff", json={"staff_subject": "canbo"}, headers=leader)
    staff = auth(settings, "canbo", "staff", "so-gtvt-kcht")
    client.post(f"/api/handling/v1/cases/{rid}/draft", json={"answer_text": ANSWER}, headers=staff)
    return rid, leader


@pytest.mark.parametrize("action", ["refuse", "refuse-unit", "return-to-staff"])
@pytest.mark.parametrize("body, status", [
    ({}, 422),                          # no reason
    ({"reason": ""}, 422),
    ({"reason": "abcd"}, 422),          # 4 characters
    ({"reason": "  abcd \n"}, 422),     # 4 once trimmed
    ({"reason": "....."}, 422),         # 5 characters that say nothing
    ({"reason": "ab\x00cd"}, 422),      # a control character
    ({"reason": "abcde"}, 200),         # 5 characters: the minimum
    ({"reason": "x" * 2000}, 200),
    ({"reason": "x" * 2001}, 422),
], ids=["missing", "empty", "4", "4-trimmed", "no-letter", "nul", "5", "2000", "2001"])
def test_every_refusal_and_return_needs_a_reason_of_at_least_5_characters(handling_ctx, client, settings, action, body, status):
    rid, who = at(handling_ctx, client, settings, action)
    before = client.get(f"/api/handling/v1/cases/{rid}", headers=who).json()
    r = client.post(f"/api/handling/v1/cases/{rid}/{action}", json=body, headers=who)
    assert r.status_code == status, r.text
    after = client.get(f"/api/handling/v1/cases/{rid}", headers=who) if status != 200 else None
    if status == 422:
        error = r.json()["error"]
        assert error["detail"]["en"] and error["detail"]["vi"] and error["detail"]["en"] != error["detail"]["vi"]
        assert (after.json()["status"], after.json()["version"]) == (before["status"], before["version"])
    else:
        field = {"refuse": "agency_refusal_reason", "refuse-unit": "unit_refusal_reason", "return-to-staff": "leader_return_reason"}[action]
        assert r.json()[field] == body["reason"]
