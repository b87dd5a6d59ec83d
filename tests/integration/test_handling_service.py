"""Run the handling service on a real database: dispatch events in, steps 3 to 7, events out, HTTP, gRPC."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import grpc
import pytest
from fastapi.testclient import TestClient

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as ev
from paht.handling.v1 import handling_pb2
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime.errors import OutOfScope
from paht.runtime.events.consumer import Outcome
from paht.runtime.events.envelope import Envelope, now_rfc3339
from paht.runtime.grpcx import GrpcServer, open_channel
from paht.runtime.ids import new_id
from tests.support.services import deliver, migrated_context, outbox_envelopes, principal, token_for
from services.handling import bootstrap
from services.handling.adapters.directory import DirectoryUnavailable, FakeOrgDirectory, GrpcOrgDirectory, candidate_unit
from services.handling.domain.case import Case
from services.handling.entrypoints.grpc_api import HandlingServicer
from services.handling.service_layer import handlers

DUE = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)
GTVT = ("so-gtvt", "Sở Giao thông vận tải")
ANSWER = "Đã vá ổ gà trên đường Quang Trung ngày 12/3."

coordinator = principal("sogtvt", ["agency_coordinator"], "so-gtvt")
leader = principal("truongphong", ["unit_leader"], "so-gtvt-kcht")
staff = principal("canbo", ["staff"], "so-gtvt-kcht")
directory = FakeOrgDirectory.from_seed()


@pytest.fixture
def ctx(settings):
    context = migrated_context(bootstrap.SPEC, settings)
    yield context
    context.engine.dispose()


def envelope(ctx, producer: str, msg, report_id: str, version: int) -> Envelope:
    """Build the envelope another service's unit of work would have put in its outbox."""
    msg.meta.report_id, msg.meta.report_version = report_id, version
    return Envelope(
        id=new_id(),
        source=f"/paht/{ctx.settings.node_id}/{producer}",
        type=msg.DESCRIPTOR.full_name,
        subject=f"reports/{report_id}",
        time=now_rfc3339(),
        report_id=report_id,
        report_version=version,
        data=msg.SerializeToString(),
    )


def dispatched(ctx, report_id: str, version: int = 1, agency=GTVT, round: int = 1) -> Envelope:
    msg = dispatch_ev.ReportDispatched(lead_agency=common_pb2.OrgRef(id=agency[0], name=agency[1]), round=round)
    msg.handling_due.FromDatetime(DUE)
    return envelope(ctx, "dispatch", msg, report_id, version)


def returned_by_ioc(ctx, report_id: str, version: int) -> Envelope:
    return envelope(ctx, "publication", publication_ev.PublicationReturned(reason="Cần nêu rõ thời gian hoàn thành"), report_id, version)


def unit(unit_id: str):
    return asyncio.run(candidate_unit(directory, unit_id))


def case_of(ctx, report_id: str) -> Case:
    return handlers.find_case(ctx.uow(), report_id)


def events_of(ctx) -> list[tuple[str, int]]:
    return [(e.type.rsplit(".", 1)[-1], e.report_version) for e in outbox_envelopes(ctx)]


def test_a_case_goes_from_dispatch_to_approval_with_events_in_order(ctx):
    rid = new_id()
    first = dispatched(ctx, rid)
    assert deliver(ctx, first) is Outcome.APPLIED
    case = case_of(ctx, rid)
    assert (case.status, case.lead_agency_id, case.version, case.handling_due) == ("awaiting_agency", "so-gtvt", 0, DUE)
    assert deliver(ctx, first) is Outcome.DUPLICATE

    handlers.assign_unit(ctx.uow(), coordinator, rid, unit("so-gtvt-kcht"))
    handlers.assign_staff(ctx.uow(), leader, rid, "canbo")
    handlers.draft_result(ctx.uow(), staff, rid, ANSWER)
    handlers.return_result(ctx.uow(), leader, rid, "Bổ sung hình ảnh sau khi vá")
    handlers.draft_result(ctx.uow(), staff, rid, ANSWER + " Có ảnh kèm theo.")
    handlers.approve_result(ctx.uow(), leader, rid, ANSWER + " Trân trọng./.")
    assert deliver(ctx, returned_by_ioc(ctx, rid, 1)) is Outcome.APPLIED
    assert case_of(ctx, rid).status == "in_progress"
    handlers.draft_result(ctx.uow(), staff, rid, ANSWER + " Hoàn thành ngày 15/3.")
    final = handlers.approve_result(ctx.uow(), leader, rid)

    assert events_of(ctx) == [
        ("CaseAssigned", 1), ("CaseAssigned", 2), ("ResultDrafted", 3), ("ResultReturned", 4),
        ("ResultDrafted", 5), ("ResultApproved", 6), ("ResultDrafted", 7), ("ResultApproved", 8),
    ]
    assert (final.status, final.version, final.answer_text, final.edited_by_leader) == ("approved", 8, ANSWER + " Hoàn thành ngày 15/3.", False)
    out = outbox_envelopes(ctx)
    assert {e.source for e in out} == {f"/paht/{ctx.settings.node_id}/handling"} and {e.subject for e in out} == {f"reports/{rid}"}
    to_unit, to_staff, first_draft, back, _, edited = (e.decode() for e in out[:6])
    assert (to_unit.level, to_unit.agency.id, to_unit.unit.id, to_unit.staff_subject) == (ev.ASSIGNMENT_LEVEL_UNIT, "so-gtvt", "so-gtvt-kcht", "")
    assert to_unit.unit.name == "Phòng Quản lý kết cấu hạ tầng giao thông"
    assert to_unit.due_at.ToDatetime(tzinfo=timezone.utc) == DUE
    assert (to_staff.level, to_staff.staff_subject) == (ev.ASSIGNMENT_LEVEL_STAFF, "canbo")
    assert (to_staff.meta.actor.subject, to_staff.meta.actor.org_unit_id, to_staff.meta.report_version) == ("truongphong", "so-gtvt-kcht", 2)
    assert first_draft.answer_text == ANSWER and back.draft_id == first_draft.draft_id and back.reason == "Bổ sung hình ảnh sau khi vá"
    assert (edited.answer_text, edited.edited_by_leader, edited.agency.id, edited.unit.id) == (ANSWER + " Trân trọng./.", True, "so-gtvt", "so-gtvt-kcht")


def test_redelivery_changes_nothing_and_a_later_version_waits_for_the_earlier(ctx):
    rid = new_id()
    v1, v2, v3 = dispatched(ctx, rid, 1), dispatched(ctx, rid, 2, round=2), dispatched(ctx, rid, 3, ("so-xd", "Sở Xây dựng"), round=3)
    assert deliver(ctx, v2) is Outcome.EARLY
    assert handlers.list_cases(ctx.uow(), principal("ioc", ["ioc_operator"], "ioc-tinh")) == []
    assert deliver(ctx, v1) is Outcome.APPLIED
    handlers.assign_unit(ctx.uow(), coordinator, rid, unit("so-gtvt-kcht"))
    before = case_of(ctx, rid)
    assert deliver(ctx, v1) is Outcome.DUPLICATE
    assert deliver(ctx, v3) is Outcome.EARLY
    after = case_of(ctx, rid)
    assert (after.status, after.lead_unit_id, after.round, after.version) == (before.status, before.lead_unit_id, 1, 1)
    assert deliver(ctx, v2) is Outcome.APPLIED
    assert deliver(ctx, v3) is Outcome.APPLIED
    case = case_of(ctx, rid)
    assert (case.status, case.lead_agency_id, case.lead_unit_id, case.round) == ("awaiting_agency", "so-xd", "", 3)
    assert events_of(ctx) == [("CaseAssigned", 1)]


def test_refusals_send_the_case_back_and_a_new_round_reaches_another_agency(ctx):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    handlers.assign_unit(ctx.uow(), coordinator, rid, unit("so-gtvt-kcht"))
    handlers.refuse_by_unit(ctx.uow(), leader, rid, "Không thuộc chức năng của phòng")
    assert (case_of(ctx, rid).status, case_of(ctx, rid).lead_unit_id) == ("awaiting_agency", "")
    handlers.refuse_by_agency(ctx.uow(), coordinator, rid, "Không thuộc thẩm quyền của Sở")
    assert case_of(ctx, rid).status == "refused_by_agency"
    assert events_of(ctx) == [("CaseAssigned", 1), ("CaseRefusedByUnit", 2), ("CaseRefusedByAgency", 3)]
    by_unit, by_agency = (e.decode() for e in outbox_envelopes(ctx)[1:])
    assert (by_unit.unit.id, by_unit.reason) == ("so-gtvt-kcht", "Không thuộc chức năng của phòng")
    assert (by_agency.agency.id, by_agency.reason) == ("so-gtvt", "Không thuộc thẩm quyền của Sở")

    assert deliver(ctx, dispatched(ctx, rid, 2, ("so-xd", "Sở Xây dựng"), round=2)) is Outcome.APPLIED
    with pytest.raises(OutOfScope):
        handlers.assign_unit(ctx.uow(), coordinator, rid, unit("so-gtvt-kcht"))
    xd = principal("soxd", ["agency_coordinator"], "so-xd")
    case = handlers.assign_unit(ctx.uow(), xd, rid, unit("so-xd"))  # the agency handles it directly
    assert (case.status, case.lead_unit_id, case.version) == ("awaiting_unit_leader", "so-xd", 4)


def test_stale_or_unmatched_events_are_applied_without_changing_the_case(ctx):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid, 1, round=2))
    assert deliver(ctx, dispatched(ctx, rid, 2, ("so-xd", "Sở Xây dựng"), round=1)) is Outcome.APPLIED
    assert (case_of(ctx, rid).lead_agency_id, case_of(ctx, rid).round) == ("so-gtvt", 2)
    assert deliver(ctx, returned_by_ioc(ctx, rid, 1)) is Outcome.APPLIED  # nothing approved yet
    assert case_of(ctx, rid).status == "awaiting_agency"
    assert deliver(ctx, returned_by_ioc(ctx, new_id(), 1)) is Outcome.APPLIED  # no case here
    assert outbox_envelopes(ctx) == []


def test_scoped_queries(ctx):
    mine, theirs = new_id(), new_id()
    deliver(ctx, dispatched(ctx, mine))
    deliver(ctx, dispatched(ctx, theirs, agency=("so-xd", "Sở Xây dựng")))
    handlers.assign_unit(ctx.uow(), coordinator, mine, unit("so-gtvt-kcht"))
    handlers.assign_staff(ctx.uow(), leader, mine, "canbo")
    ids = lambda user, **kw: {c.report_id for c in handlers.list_cases(ctx.uow(), user, **kw)}  # noqa: E731
    assert ids(principal("ioc", ["ioc_operator"], "ioc-tinh")) == {mine, theirs}
    assert ids(coordinator) == ids(leader) == ids(staff) == {mine}
    assert ids(principal("canbo2", ["staff"], "so-gtvt-kcht")) == set()
    assert ids(coordinator, status="awaiting_agency") == set()


# --- HTTP ---------------------------------------------------------------------------------------


@pytest.fixture
def client(ctx):
    return TestClient(bootstrap.build_http(ctx, directory=directory))


def bearer(settings, subject: str, role: str, org_unit: str) -> dict:
    return {"Authorization": f"Bearer {token_for(settings, subject, [role], org_unit)}"}


def bilingual(response) -> dict:
    message = response.json()["error"]["message"]
    assert message["vi"] and message["en"] and message["vi"] != message["en"]
    return response.json()["error"]


def test_http_drives_the_case_and_refuses_what_the_procedure_does_not_allow(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    base = f"/api/handling/v1/cases/{rid}"
    agency = bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    unit_leader = bearer(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    worker = bearer(settings, "canbo", "staff", "so-gtvt-kcht")

    assert bilingual(client.get("/api/handling/v1/cases"))["status"] == 401
    assert client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"}).status_code == 401
    r = client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=worker)
    assert r.status_code == 403 and bilingual(r)["code"] == "error.wrong_role"
    r = client.post(f"{base}/assign-unit", json={"unit_id": "so-xd-qhkt"}, headers=bearer(settings, "soxd", "agency_coordinator", "so-xd"))
    assert r.status_code == 403 and bilingual(r)["code"] == "error.out_of_scope"
    r = client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht", "priority": 1}, headers=agency)
    assert r.status_code == 422 and "priority" in bilingual(r)["detail"]["en"]
    assert client.post(f"{base}/assign-unit", json={"unit_id": "so-xd-qhkt"}, headers=agency).status_code == 422
    assert client.post(f"{base}/assign-unit", json={"unit_id": "no-such-unit"}, headers=agency).status_code == 422
    assert client.post(f"{base}/draft", json={"answer_text": "x" * 10001}, headers=worker).status_code == 422

    r = client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=agency)
    assert r.status_code == 200 and r.json()["lead_unit"] == {"id": "so-gtvt-kcht", "name": "Phòng Quản lý kết cấu hạ tầng giao thông"}
    r = client.post(f"{base}/refuse", json={"reason": "Không thuộc thẩm quyền"}, headers=agency)
    assert r.status_code == 409
    error = bilingual(r)
    assert error["code"] == "error.conflict_state" and "awaiting_unit_leader" in error["message"]["en"]
    assert client.post(f"{base}/assign-staff", json={"staff_subject": "canbo"}, headers=unit_leader).json()["status"] == "in_progress"
    assert client.post(f"{base}/draft", json={"answer_text": ANSWER}, headers=worker).json()["status"] == "drafted"
    r = client.post(f"{base}/approve", json={"answer_text": ANSWER + " Trân trọng./."}, headers=unit_leader)
    assert r.status_code == 200 and (r.json()["status"], r.json()["edited_by_leader"], r.json()["version"]) == ("approved", True, 4)
    assert client.post(f"{base}/return", json={"reason": "Bổ sung hình ảnh"}, headers=unit_leader).status_code == 409

    assert [c["report_id"] for c in client.get("/api/handling/v1/cases", headers=worker).json()["items"]] == [rid]
    other = bearer(settings, "canbo2", "staff", "so-gtvt-kcht")
    assert client.get("/api/handling/v1/cases", headers=other).json()["items"] == []
    assert client.get(base, headers=other).status_code == 404
    got = client.get(base, headers=bearer(settings, "ioc", "ioc_operator", "ioc-tinh"))
    assert got.status_code == 200 and got.json()["lead_agency"]["id"] == "so-gtvt" and got.json()["handling_due"] == DUE.isoformat()
    assert client.get("/api/handling/v1/cases?status=bogus", headers=worker).status_code == 422


def test_handling_page_lists_my_cases(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    r = client.get("/handling/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/auth/login?next=/handling/"
    r = client.get("/handling/?lang=en", headers=bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt"))
    assert r.status_code == 200 and rid in r.text and "Sở Giao thông vận tải" in r.text and "Lead agency" in r.text
    r = client.get("/handling/?lang=vi", headers=bearer(settings, "canbo", "staff", "so-gtvt-kcht"))
    assert r.status_code == 200 and rid not in r.text and "Chưa có hồ sơ" in r.text


# --- gRPC ---------------------------------------------------------------------------------------


class _Aborted(Exception):
    pass


class _Context:
    async def abort(self, code, details):
        self.code = code
        raise _Aborted(details)


def test_grpc_get_case(ctx):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    servicer = HandlingServicer(ctx)
    view = asyncio.run(servicer.GetCase(handling_pb2.GetCaseRequest(report_id=rid), _Context()))
    assert (view.report_id, view.status, view.lead_agency_id, view.version) == (rid, "awaiting_agency", "so-gtvt", 0)
    context = _Context()
    with pytest.raises(_Aborted):
        asyncio.run(servicer.GetCase(handling_pb2.GetCaseRequest(report_id="missing"), context))
    assert context.code == grpc.StatusCode.NOT_FOUND


def test_grpc_directory_asks_dispatch_for_a_unit_and_its_ancestors(settings):
    from services.dispatch import bootstrap as dispatch

    dispatch_ctx = migrated_context(dispatch.SPEC, settings)
    dispatch.SPEC.seed(dispatch_ctx)

    async def scenario():
        server = GrpcServer(settings)
        dispatch.SPEC.register_grpc(dispatch_ctx, server)
        port = await server.start("127.0.0.1", 0)
        channel = open_channel(settings, f"127.0.0.1:{port}")
        try:
            real = GrpcOrgDirectory(lambda: channel, 5.0)
            return await candidate_unit(real, "so-gtvt-kcht"), await candidate_unit(real, "no-such-unit")
        finally:
            await channel.close()
            await server.stop(0)

    try:
        found, missing = asyncio.run(scenario())
    finally:
        dispatch_ctx.engine.dispose()
    assert (found.id, found.name, found.ancestor_ids[0]) == ("so-gtvt-kcht", "Phòng Quản lý kết cấu hạ tầng giao thông", "so-gtvt")
    assert missing is None


def test_an_unreachable_directory_is_a_503_not_a_guess(settings):
    async def scenario():
        channel = open_channel(settings, "127.0.0.1:1")
        try:
            return await candidate_unit(GrpcOrgDirectory(lambda: channel, 1.0), "so-gtvt-kcht")
        finally:
            await channel.close()

    with pytest.raises(DirectoryUnavailable) as exc:
        asyncio.run(scenario())
    assert exc.value.status == 503
