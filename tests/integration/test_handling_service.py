"""Run the handling service on a real database: dispatch events in, steps 3 to 7, events out, HTTP, gRPC."""
from __future__ import annotations

import asyncio
from datetime import timedelta, timezone

import grpc
import pytest
from fastapi.testclient import TestClient

from paht.publication.v1 import events_pb2 as publication_ev
from paht.handling.v1 import events_pb2 as ev
from paht.handling.v1 import handling_pb2
from paht.runtime.errors import InvalidInput, NotFound, OutOfScope, StateConflict
from paht.runtime.events.consumer import Outcome
from paht.runtime.grpcx import GrpcServer, open_channel
from paht.runtime.ids import new_id
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.runtime.events.envelope import Envelope
from tests.support.handling import DUE, UNITS, FakeOrgDirectory, clarification_requested, dispatched, envelope, returned_by_ioc
from tests.support.services import ServedGrpc, deliver, migrated_context, outbox_envelopes, principal, token_for
from services.handling import bootstrap
from services.handling.adapters.directory import DirectoryUnavailable, GrpcOrgDirectory, candidate_unit
from services.handling.adapters.repositories import visible_to
from services.handling.domain.case import Case
from services.handling.service_layer import handlers

ANSWER = "Đã vá ổ gà trên đường Quang Trung ngày 12/3."

coordinator = principal("sogtvt", ["agency_coordinator"], "so-gtvt")
leader = principal("truongphong", ["unit_leader"], "so-gtvt-kcht")
staff = principal("canbo", ["staff"], "so-gtvt-kcht")
ioc = principal("ioc", ["ioc_operator"], "ioc-tinh")
directory = FakeOrgDirectory()


@pytest.fixture
def ctx(settings):
    context = migrated_context(bootstrap.SPEC, settings)
    yield context
    context.engine.dispose()


def assign_unit(ctx, user, rid: str, unit_id: str) -> Case:
    return asyncio.run(handlers.assign_unit(ctx.uow(), directory, user, rid, unit_id))


def assign_staff(ctx, user, rid: str, subject: str, co_staff: tuple = ()) -> Case:
    return asyncio.run(handlers.assign_staff(ctx.uow(), directory, user, rid, subject, co_staff=co_staff))


def case_of(ctx, report_id: str) -> Case:
    return handlers.find_case(ctx.uow(), report_id)


def ids(ctx, user, **kw) -> set[str]:
    return {c.report_id for c in handlers.work_list(ctx.uow(), user, **kw).items}


def events_of(ctx) -> list[tuple[str, int]]:
    return [(e.type.rsplit(".", 1)[-1], e.report_version) for e in outbox_envelopes(ctx)]


def out_of_scope_history(ctx, rid: str) -> bool:
    """Another unit's person does not learn that the case exists."""
    try:
        handlers.history(ctx.uow(), principal("thanhtra", ["unit_leader"], "so-gtvt-thanhtra"), rid)
    except NotFound:
        return True
    return False


def test_a_case_goes_from_dispatch_to_approval_with_events_in_order(ctx):
    rid = new_id()
    first = dispatched(ctx, rid)
    assert deliver(ctx, first) is Outcome.APPLIED
    case = case_of(ctx, rid)
    assert (case.status, case.lead_agency_id, case.version, case.handling_due) == ("awaiting_agency", "so-gtvt", 0, DUE)
    assert deliver(ctx, first) is Outcome.DUPLICATE

    assign_unit(ctx, coordinator, rid, "so-gtvt-kcht")
    assign_staff(ctx, leader, rid, "canbo")
    handlers.draft_result(ctx.uow(), staff, rid, ANSWER)
    handlers.return_to_staff(ctx.uow(), leader, rid, "Bổ sung hình ảnh sau khi vá")
    assert (case_of(ctx, rid).status, case_of(ctx, rid).leader_return_reason) == ("returned_to_staff", "Bổ sung hình ảnh sau khi vá")
    handlers.draft_result(ctx.uow(), staff, rid, ANSWER + " Có ảnh kèm theo.")
    handlers.approve_result(ctx.uow(), leader, rid, ANSWER + " Trân trọng./.")
    assert deliver(ctx, returned_by_ioc(ctx, rid, 1)) is Outcome.APPLIED
    back = case_of(ctx, rid)
    assert (back.status, back.ioc_return_reason, back.leader_return_reason) == (
        "returned_by_ioc", "Cần nêu rõ thời gian hoàn thành", "Bổ sung hình ảnh sau khi vá")
    # the IOC's return reopens at the leader, who completes the answer directly this time
    final = handlers.approve_result(ctx.uow(), leader, rid, ANSWER + " Hoàn thành ngày 15/3.", message="Đã nêu rõ thời gian")

    assert events_of(ctx) == [
        ("CaseAssigned", 1), ("CaseAssigned", 2), ("ResultDrafted", 3), ("ResultReturned", 4),
        ("ResultDrafted", 5), ("ResultApproved", 6), ("ResultApproved", 7),
    ]
    assert (final.status, final.version, final.answer_text, final.edited_by_leader) == ("approved", 7, ANSWER + " Hoàn thành ngày 15/3.", True)
    lines = handlers.history(ctx.uow(), leader, rid)
    assert [(line.action, line.actor_subject, line.status) for line in lines] == [
        ("dispatched", "ioc", "awaiting_agency"), ("unit_assigned", "sogtvt", "awaiting_unit_leader"),
        ("staff_assigned", "truongphong", "in_progress"), ("drafted", "canbo", "drafted"),
        ("returned_to_staff", "truongphong", "returned_to_staff"), ("drafted", "canbo", "drafted"),
        ("approved", "truongphong", "approved"), ("returned_by_ioc", "ioc", "returned_by_ioc"), ("approved", "truongphong", "approved"),
    ]
    assert lines[4].message == "Bổ sung hình ảnh sau khi vá" and lines[7].message == "Cần nêu rõ thời gian hoàn thành"
    assert lines[-1].message == "Đã nêu rõ thời gian" and lines[-1].actor_org == "so-gtvt-kcht" and "unit_leader" in lines[-1].actor_roles
    assert out_of_scope_history(ctx, rid)
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
    assert ids(ctx, ioc) == set()
    assert deliver(ctx, v1) is Outcome.APPLIED
    assign_unit(ctx, coordinator, rid, "so-gtvt-kcht")
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
    assign_unit(ctx, coordinator, rid, "so-gtvt-kcht")
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
        assign_unit(ctx, coordinator, rid, "so-gtvt-kcht")
    xd = principal("soxd", ["agency_coordinator"], "so-xd")
    case = assign_unit(ctx, xd, rid, "so-xd")  # the agency handles it directly
    assert (case.status, case.lead_unit_id, case.version) == ("awaiting_unit_leader", "so-xd", 4)


def test_an_older_dispatch_round_is_ignored_and_the_case_stays_in_its_round(ctx):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid, 1, round=2))
    assert deliver(ctx, dispatched(ctx, rid, 2, ("so-xd", "Sở Xây dựng"), round=1)) is Outcome.APPLIED
    assert (case_of(ctx, rid).lead_agency_id, case_of(ctx, rid).round) == ("so-gtvt", 2)
    assert outbox_envelopes(ctx) == []


@pytest.mark.parametrize("stage", ["awaiting_agency", "in_progress", "drafted", "returned_by_ioc"])
def test_a_return_by_the_ioc_of_a_case_that_is_not_approved_is_refused_not_swallowed(ctx, stage):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    if stage != "awaiting_agency":
        assign_unit(ctx, coordinator, rid, "so-gtvt-kcht")
        assign_staff(ctx, leader, rid, "canbo")
    if stage in ("drafted", "returned_by_ioc"):
        handlers.draft_result(ctx.uow(), staff, rid, ANSWER)
    if stage == "returned_by_ioc":
        handlers.approve_result(ctx.uow(), leader, rid)
        assert deliver(ctx, returned_by_ioc(ctx, rid, 1)) is Outcome.APPLIED
    before = case_of(ctx, rid)
    with pytest.raises(StateConflict) as exc:  # the consumer parks it for an operator
        deliver(ctx, returned_by_ioc(ctx, rid, 2 if stage == "returned_by_ioc" else 1, "Bổ sung lần hai"))
    assert "approved" not in exc.value.detail_en.split(":")[0]
    after = case_of(ctx, rid)
    assert (after.status, after.version, after.ioc_return_reason) == (before.status, before.version, before.ioc_return_reason)
    assert (after.status, len(outbox_envelopes(ctx))) == (stage, before.version)


def test_events_that_cannot_be_applied_raise_and_change_nothing(ctx):
    with pytest.raises(NotFound):  # publication returned a report handling never had: a disagreement
        deliver(ctx, returned_by_ioc(ctx, new_id(), 1))
    rid = new_id()
    with pytest.raises(InvalidInput):
        deliver(ctx, dispatched(ctx, rid, agency=("", "")))
    no_due = dispatched(ctx, rid)
    msg = no_due.decode()
    msg.ClearField("handling_due")
    with pytest.raises(InvalidInput):
        deliver(ctx, envelope(ctx, "dispatch", msg, rid, 1))
    with pytest.raises(NotFound):
        case_of(ctx, rid)
    approved = new_id()
    deliver(ctx, dispatched(ctx, approved))
    assign_unit(ctx, coordinator, approved, "so-gtvt-kcht")
    assign_staff(ctx, leader, approved, "canbo")
    handlers.draft_result(ctx.uow(), staff, approved, ANSWER)
    handlers.approve_result(ctx.uow(), leader, approved)
    with pytest.raises(InvalidInput):  # a reason that can never be stored is parked, not retried for ever
        deliver(ctx, returned_by_ioc(ctx, approved, 1, "Cần\x00 bổ sung"))
    assert case_of(ctx, approved).status == "approved"
    assert deliver(ctx, returned_by_ioc(ctx, approved, 1)) is Outcome.APPLIED  # after a fix, the replay applies


def test_the_unit_leader_assigns_only_people_of_the_lead_unit(ctx):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    assign_unit(ctx, coordinator, rid, "so-gtvt-kcht")
    before = case_of(ctx, rid)
    for subject in ("ghost-nobody", "canbo-tt", "nghihuu", "vanthu", "sogtvt"):
        with pytest.raises(InvalidInput):
            assign_staff(ctx, leader, rid, subject)
    after = case_of(ctx, rid)
    assert (after.status, after.staff_subject, after.version) == (before.status, "", before.version)
    assert outbox_envelopes(ctx)[-1].report_version == before.version
    people = asyncio.run(handlers.assignable_people(ctx.uow(), directory, leader, rid))
    assert [p.subject for p in people] == ["canbo", "canbo2", "truongphong"]


def test_the_leader_re_assigns_from_in_progress_and_drafted_and_only_the_new_person_drafts(ctx):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    assign_unit(ctx, coordinator, rid, "so-gtvt-kcht")
    assign_staff(ctx, leader, rid, "canbo")
    canbo2 = principal("canbo2", ["staff"], "so-gtvt-kcht")
    case = assign_staff(ctx, leader, rid, "canbo2")  # from in progress
    assert (case.status, case.staff_subject) == ("in_progress", "canbo2")
    with pytest.raises(StateConflict):
        handlers.draft_result(ctx.uow(), staff, rid, ANSWER)
    handlers.draft_result(ctx.uow(), canbo2, rid, ANSWER)
    case = assign_staff(ctx, leader, rid, "canbo")  # from drafted: the draft is withdrawn
    assert (case.status, case.staff_subject, case.draft_id) == ("in_progress", "canbo", "")
    with pytest.raises(StateConflict):
        handlers.approve_result(ctx.uow(), leader, rid)
    with pytest.raises(StateConflict):
        handlers.draft_result(ctx.uow(), canbo2, rid, ANSWER)
    handlers.draft_result(ctx.uow(), staff, rid, ANSWER + " Đã kiểm tra lại.")
    assert handlers.approve_result(ctx.uow(), leader, rid).status == "approved"
    assigned = [e.decode() for e in outbox_envelopes(ctx) if e.type.endswith("CaseAssigned")]
    assert [(a.level, a.staff_subject) for a in assigned] == [
        (ev.ASSIGNMENT_LEVEL_UNIT, ""), (ev.ASSIGNMENT_LEVEL_STAFF, "canbo"), (ev.ASSIGNMENT_LEVEL_STAFF, "canbo2"), (ev.ASSIGNMENT_LEVEL_STAFF, "canbo")]


def test_scoped_queries(ctx):
    mine, theirs = new_id(), new_id()
    deliver(ctx, dispatched(ctx, mine))
    deliver(ctx, dispatched(ctx, theirs, agency=("so-xd", "Sở Xây dựng")))
    assign_unit(ctx, coordinator, mine, "so-gtvt-kcht")
    assign_staff(ctx, leader, mine, "canbo")
    assert ids(ctx, ioc) == {mine, theirs}
    assert ids(ctx, coordinator) == ids(ctx, leader) == ids(ctx, staff) == {mine}
    assert ids(ctx, principal("canbo2", ["staff"], "so-gtvt-kcht")) == set()
    assert ids(ctx, coordinator, status="awaiting_agency") == set()


def test_the_sql_and_the_python_visibility_agree(ctx):
    """Both come from domain/visibility.py: every person sees in SQL exactly what case.visible_to says."""
    from sqlalchemy import select

    rids = [new_id() for _ in range(4)]
    deliver(ctx, dispatched(ctx, rids[0]))
    deliver(ctx, dispatched(ctx, rids[1], agency=("so-xd", "Sở Xây dựng")))
    deliver(ctx, dispatched(ctx, rids[2]))
    deliver(ctx, dispatched(ctx, rids[3]))
    assign_unit(ctx, coordinator, rids[2], "so-gtvt-kcht")
    assign_unit(ctx, coordinator, rids[3], "so-gtvt-kcht")
    assign_staff(ctx, leader, rids[3], "truongphong")
    assign_staff(ctx, leader, rids[2], "canbo", co_staff=("canbo2",))
    people = [ioc, principal("admin", ["ioc_admin"], "ioc-tinh"), coordinator, leader, staff, principal("canbo2", ["staff"], "so-gtvt-kcht"),
              principal("soxd", ["agency_coordinator"], "so-xd"), principal("nobody", [], "so-gtvt"), principal("x", ["staff", "agency_coordinator"], "so-xd")]
    with ctx.uow() as uow:
        cases = [uow.cases.get(r) for r in rids]
        for person in people:
            in_sql = set(uow.session.execute(select(Case.report_id).where(visible_to(person, uow.session), Case.report_id.in_(rids))).scalars())
            assert in_sql == {c.report_id for c in cases if c.visible_to(person)}, person.subject
    assert ids(ctx, leader) == {rids[2], rids[3]}
    assert ids(ctx, principal("canbo2", ["staff"], "so-gtvt-kcht")) == {rids[2]}


def test_others_assigned_with_the_one_in_charge_find_the_case_in_their_list_until_the_team_changes(ctx):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    assign_unit(ctx, coordinator, rid, "so-gtvt-kcht")
    helper = principal("canbo2", ["staff"], "so-gtvt-kcht")
    case = assign_staff(ctx, leader, rid, "canbo", co_staff=("canbo2", "canbo2"))
    assert case.co_staff == ("canbo2",) and ids(ctx, helper) == {rid}
    assigned = [e.decode() for e in outbox_envelopes(ctx) if e.type.endswith("CaseAssigned")][-1]
    assert (assigned.staff_subject, list(assigned.co_staff)) == ("canbo", ["canbo2"])
    handlers.log_work(ctx.uow(), helper, rid, "Đã đo kích thước ổ gà: 1,2 m x 0,8 m")
    with pytest.raises(InvalidInput):  # an inactive account is not assignable, with or without the lead
        assign_staff(ctx, leader, rid, "canbo", co_staff=("nghihuu",))
    assert case_of(ctx, rid).co_staff == ("canbo2",) and ids(ctx, helper) == {rid}  # nothing half-written
    assign_staff(ctx, leader, rid, "canbo")  # the leader takes the helper off the case
    assert case_of(ctx, rid).co_staff == () and ids(ctx, helper) == set()
    with ctx.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM case_team").scalar() == 0


def test_the_work_list_is_urgent_first_then_nearest_deadline_one_page_at_a_time(ctx):
    base = DUE
    due = {new_id(): base + timedelta(days=d) for d in (5, 1, 3, 1, 8, 2, 4)}
    for rid, at in due.items():
        deliver(ctx, dispatched(ctx, rid, due=at))
    urgent = list(due)[4]  # the furthest deadline, but urgent
    with ctx.uow() as uow:
        uow.cases.get(urgent).urgent = True
        uow.commit()
    expected = [urgent] + sorted((r for r in due if r != urgent), key=lambda r: (due[r], r))
    seen, cursor, totals = [], None, set()
    while True:
        page = handlers.work_list(ctx.uow(), coordinator, cursor=cursor, limit=3)
        seen += [c.report_id for c in page.items]
        totals.add(page.total)
        assert len(page.items) <= 3
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected and totals == {7}
    with pytest.raises(InvalidInput):
        handlers.work_list(ctx.uow(), coordinator, cursor="not-a-cursor", limit=3)
    with pytest.raises(InvalidInput):
        handlers.work_list(ctx.uow(), coordinator, limit=201)


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
    assert client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt\x00kcht"}, headers=agency).status_code == 422
    assert client.post(f"{base}/draft", json={"answer_text": "x" * 10001}, headers=worker).status_code == 422

    r = client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=agency)
    assert r.status_code == 200 and r.json()["lead_unit"] == {"id": "so-gtvt-kcht", "name": "Phòng Quản lý kết cấu hạ tầng giao thông"}
    r = client.post(f"{base}/refuse", json={"reason": "Không thuộc thẩm quyền"}, headers=agency)
    assert r.status_code == 409
    error = bilingual(r)
    assert error["code"] == "error.conflict_state"
    assert error["detail"]["en"] == "This step is not possible now: the report is waiting for the lead unit's leader to accept it and assign a staff member."

    for ghost in ("ghost-nobody", "canbo-tt"):  # unknown; a staff member of another unit
        r = client.post(f"{base}/assign-staff", json={"staff_subject": ghost}, headers=unit_leader)
        assert r.status_code == 422 and bilingual(r)["detail"]["vi"] and ghost in r.json()["error"]["detail"]["en"]
    unchanged = client.get(base, headers=unit_leader).json()
    assert (unchanged["status"], unchanged["staff_subject"], unchanged["version"]) == ("awaiting_unit_leader", None, 1)
    r = client.get(f"{base}/assignable-people", headers=unit_leader)
    assert r.status_code == 200 and [p["subject"] for p in r.json()["items"]] == ["canbo", "canbo2", "truongphong"]
    assert client.get(f"{base}/assignable-people", headers=worker).status_code == 403

    assert client.post(f"{base}/assign-staff", json={"staff_subject": "canbo"}, headers=unit_leader).json()["status"] == "in_progress"
    assert client.post(f"{base}/draft", json={"answer_text": ANSWER}, headers=worker).json()["status"] == "drafted"
    r = client.post(f"{base}/return-to-staff", json={"reason": "Bổ sung hình ảnh"}, headers=unit_leader)
    assert (r.status_code, r.json()["status"], r.json()["leader_return_reason"], r.json()["ioc_return_reason"]) == (
        200, "returned_to_staff", "Bổ sung hình ảnh", None)
    assert r.json()["status_label"] == {"en": "Returned to staff by the unit leader", "vi": "Lãnh đạo đơn vị trả lại cán bộ"}
    assert client.post(f"{base}/draft", json={"answer_text": ANSWER + " Có ảnh."}, headers=worker).json()["status"] == "drafted"
    r = client.post(f"{base}/approve", json={"answer_text": ANSWER + " Trân trọng./."}, headers=unit_leader)
    assert r.status_code == 200 and (r.json()["status"], r.json()["edited_by_leader"], r.json()["version"]) == ("approved", True, 6)
    r = client.post(f"{base}/return-to-staff", json={"reason": "Bổ sung hình ảnh"}, headers=unit_leader)
    assert r.status_code == 409 and "waiting for the IOC to publish" in bilingual(r)["detail"]["en"]

    # approved: out of the unit's hands, so off its work list (the cases in hand); listed under scope=finished and all
    page = client.get("/api/handling/v1/cases", headers=worker).json()
    assert (page["items"], page["total"]) == ([], 0)
    for scope in ("finished", "all"):
        page = client.get(f"/api/handling/v1/cases?scope={scope}", headers=worker).json()
        assert ([c["report_id"] for c in page["items"]], page["total"], page["next_cursor"], page["limit"]) == ([rid], 1, None, 50)
    assert [c["report_id"] for c in client.get("/api/handling/v1/cases?status=approved", headers=worker).json()["items"]] == [rid]
    assert client.get("/api/handling/v1/cases?scope=in_hand", headers=worker).json()["total"] == 0
    assert client.get("/api/handling/v1/cases?scope=done", headers=worker).status_code == 422
    other = bearer(settings, "canbo2", "staff", "so-gtvt-kcht")
    assert client.get("/api/handling/v1/cases?scope=all", headers=other).json()["items"] == []
    assert client.get(base, headers=other).status_code == 404
    got = client.get(base, headers=bearer(settings, "ioc", "ioc_operator", "ioc-tinh"))
    assert got.status_code == 200 and got.json()["lead_agency"]["id"] == "so-gtvt" and got.json()["handling_due"] == DUE.isoformat()
    assert client.get("/api/handling/v1/cases?status=bogus", headers=worker).status_code == 422
    assert client.get("/api/handling/v1/cases?limit=201", headers=worker).status_code == 422
    assert client.get("/api/handling/v1/cases?cursor=bogus", headers=worker).status_code == 422
    assert client.get("/api/handling/v1/cases?cursor=" + "x" * 1000, headers=worker).status_code == 422


def test_http_proposal_to_send_back_messages_history_and_the_answer_on_its_template(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    base = f"/api/handling/v1/cases/{rid}"
    agency = bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    unit_leader = bearer(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    worker = bearer(settings, "canbo", "staff", "so-gtvt-kcht")
    client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht", "message": "Đề nghị kiểm tra trong ngày"}, headers=agency)
    r = client.post(f"{base}/assign-staff", json={"staff_subject": "canbo", "message": "Anh đi hiện trường sáng mai"}, headers=unit_leader)
    assert r.json()["handover_message"] == "Anh đi hiện trường sáng mai"

    r = client.post(f"{base}/propose-return", json={"reason": ""}, headers=worker)
    assert r.status_code == 422 and bilingual(r)["detail"]["vi"]
    r = client.post(f"{base}/propose-return", json={"reason": "Tuyến đường do Ban quản lý dự án quản lý"}, headers=worker)
    assert (r.status_code, r.json()["status"], r.json()["return_proposal_reason"]) == (200, "return_proposed", "Tuyến đường do Ban quản lý dự án quản lý")
    assert client.post(f"{base}/keep", json={"reason": "Phòng vẫn xử lý"}, headers=worker).status_code == 403
    r = client.post(f"{base}/keep", json={"reason": "Phòng vẫn xử lý, phối hợp Ban quản lý dự án"}, headers=unit_leader)
    assert (r.status_code, r.json()["status"]) == (200, "in_progress")

    tomorrow = (handlers.province_today() + timedelta(days=1)).isoformat()
    r = client.post(f"{base}/draft", json={"answer_text": ANSWER, "finished": False}, headers=worker)
    assert r.status_code == 422 and "commits to finish" in bilingual(r)["detail"]["en"]
    r = client.post(f"{base}/draft", json={"answer_text": ANSWER, "finished": False, "completion_date": "2020-01-01"}, headers=worker)
    assert r.status_code == 422 and "after today" in bilingual(r)["detail"]["en"]
    r = client.post(f"{base}/draft", json={"answer_text": ANSWER, "finished": False, "completion_date": "not-a-date"}, headers=worker)
    assert r.status_code == 422
    r = client.post(f"{base}/draft", json={"answer_text": ANSWER, "finished": False, "completion_date": tomorrow,
                                           "message": "Đã vá tạm, sẽ thảm lại mặt đường"}, headers=worker)
    body = r.json()
    assert (r.status_code, body["status"], body["answer_finished"], body["completion_date"]) == (200, "drafted", False, tomorrow)
    assert body["answer_letter"].startswith("Kính gửi: Quý cá nhân") and ANSWER in body["answer_letter"]
    assert "cam kết hoàn thành xử lý trước ngày" in body["answer_letter"]
    r = client.post(f"{base}/approve", json={"message": "Kính chuyển Trung tâm IOC"}, headers=unit_leader)
    assert (r.json()["status"], r.json()["handover_message"], r.json()["edited_by_leader"]) == ("approved", "Kính chuyển Trung tâm IOC", False)
    approved = outbox_envelopes(ctx)[-1].decode()
    assert (approved.message, approved.finished, approved.completion_date) == ("Kính chuyển Trung tâm IOC", False, tomorrow)
    assert approved.answer_letter == body["answer_letter"]

    history = client.get(f"{base}/history", headers=worker)
    lines = history.json()["items"]
    assert [line["action"] for line in lines] == ["dispatched", "unit_assigned", "staff_assigned", "return_proposed", "kept", "drafted", "approved"]
    assert lines[1]["message"] == "Đề nghị kiểm tra trong ngày" and lines[1]["by"]["subject"] == "sogtvt"
    assert lines[4]["action_label"] == {"en": "Kept in the unit", "vi": "Lãnh đạo đơn vị giữ lại để tiếp tục xử lý"}
    assert client.get(f"{base}/history", headers=bearer(settings, "canbo2", "staff", "so-gtvt-kcht")).status_code == 404


def test_a_case_keeps_what_dispatch_says_of_the_report_and_addresses_an_organisation_so(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid, title="Cống thoát nước bị tắc", reporter_kind="organisation", private_result=True,
                            state_secret=False, note="Khu vực trường học, cần xử lý sớm"))
    base = f"/api/handling/v1/cases/{rid}"
    agency = bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    got = client.get(base, headers=agency).json()
    assert (got["title"], got["reporter_kind"], got["private_result"], got["state_secret"], got["handover_message"]) == (
        "Cống thoát nước bị tắc", "organisation", True, False, "Khu vực trường học, cần xử lý sớm")
    assert client.get(f"{base}/history", headers=agency).json()["items"][0]["message"] == "Khu vực trường học, cần xử lý sớm"
    client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=agency)
    client.post(f"{base}/assign-staff", json={"staff_subject": "canbo"}, headers=bearer(settings, "truongphong", "unit_leader", "so-gtvt-kcht"))
    r = client.post(f"{base}/draft", json={"answer_text": ANSWER}, headers=bearer(settings, "canbo", "staff", "so-gtvt-kcht"))
    assert r.json()["answer_letter"].startswith("Kính gửi: Quý tổ chức\n\nVấn đề quý tổ chức phản ánh, Phòng Quản lý kết cấu hạ tầng giao thông")


def test_http_the_leader_sends_a_case_back_to_the_agency_on_staffs_proposal(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    base = f"/api/handling/v1/cases/{rid}"
    agency = bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    unit_leader = bearer(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    worker = bearer(settings, "canbo", "staff", "so-gtvt-kcht")
    client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=agency)
    client.post(f"{base}/assign-staff", json={"staff_subject": "canbo"}, headers=unit_leader)
    assert client.post(f"{base}/send-back", json={"reason": "Đồng ý chuyển trả"}, headers=unit_leader).status_code == 409
    client.post(f"{base}/propose-return", json={"reason": "Không thuộc thẩm quyền của phòng"}, headers=worker)
    r = client.post(f"{base}/send-back", json={"reason": "Đồng ý: đề nghị Sở giao Ban quản lý dự án"}, headers=unit_leader)
    assert (r.status_code, r.json()["status"], r.json()["lead_unit"], r.json()["staff_subject"]) == (200, "awaiting_agency", None, None)
    r = client.post(f"{base}/draft", json={"answer_text": ANSWER}, headers=worker)
    assert r.status_code == 409 and "sent this case back to the lead agency" in bilingual(r)["detail"]["en"]
    sent_back = outbox_envelopes(ctx)[-1].decode()
    assert (type(sent_back).__name__, sent_back.on_staff_proposal, sent_back.staff_subject, sent_back.unit.id) == (
        "CaseRefusedByUnit", True, "canbo", "so-gtvt-kcht")
    assert client.get(base, headers=agency).json()["unit_refusal_reason"] == "Đồng ý: đề nghị Sở giao Ban quản lý dự án"


def test_the_work_list_api_pages_with_a_cursor_and_the_total(ctx, client, settings):
    rids = [new_id() for _ in range(5)]
    for n, rid in enumerate(rids):
        deliver(ctx, dispatched(ctx, rid, due=DUE + timedelta(hours=5 - n)))
    agency = bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    first = client.get("/api/handling/v1/cases?limit=2", headers=agency).json()
    second = client.get(f"/api/handling/v1/cases?limit=2&cursor={first['next_cursor']}", headers=agency).json()
    third = client.get(f"/api/handling/v1/cases?limit=2&cursor={second['next_cursor']}", headers=agency).json()
    assert (first["total"], second["total"], third["total"], third["next_cursor"]) == (5, 5, 5, None)
    assert [c["report_id"] for c in first["items"] + second["items"] + third["items"]] == rids[::-1]


def test_handling_page_lists_my_cases(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    r = client.get("/handling/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/auth/login?next=/handling/"
    r = client.get("/handling/?lang=en", headers=bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt"))
    assert r.status_code == 200 and rid in r.text and "Sở Giao thông vận tải" in r.text and "Lead agency" in r.text
    assert "Waiting for the lead agency" in r.text and "Total: 1" in r.text and 'rel="next"' not in r.text
    r = client.get("/handling/?lang=vi", headers=bearer(settings, "canbo", "staff", "so-gtvt-kcht"))
    assert r.status_code == 200 and rid not in r.text and "Chưa có hồ sơ" in r.text


def test_handling_page_names_the_three_returns_apart_and_pages(ctx, client, settings):
    agency_refused, leader_returned, ioc_returned = new_id(), new_id(), new_id()
    for rid in (agency_refused, leader_returned, ioc_returned):
        deliver(ctx, dispatched(ctx, rid))
    handlers.refuse_by_agency(ctx.uow(), coordinator, agency_refused, "Không thuộc thẩm quyền")
    for rid in (leader_returned, ioc_returned):
        assign_unit(ctx, coordinator, rid, "so-gtvt-kcht")
        assign_staff(ctx, leader, rid, "canbo")
        handlers.draft_result(ctx.uow(), staff, rid, ANSWER)
    handlers.return_to_staff(ctx.uow(), leader, leader_returned, "Bổ sung hình ảnh")
    handlers.approve_result(ctx.uow(), leader, ioc_returned)
    deliver(ctx, returned_by_ioc(ctx, ioc_returned, 1))
    ioc_token = bearer(settings, "ioc", "ioc_operator", "ioc-tinh")
    text = client.get("/handling/?lang=en", headers=ioc_token).text
    assert "case-returned_to_staff" in text and "Returned to staff by the unit leader" in text
    assert "case-returned_by_ioc" in text and "Returned by the IOC" in text
    assert "case-refused_by_agency" not in text  # back with the IOC: no longer in hand here
    finished = client.get("/handling/?lang=en&scope=finished", headers=ioc_token).text
    assert "case-refused_by_agency" in finished and "Refused by the lead agency" in finished and "Total: 1" in finished
    assert "case-returned_to_staff" not in finished and 'href="/handling/" id="in-hand"' in finished
    for n in range(60):  # more than one page (50)
        deliver(ctx, dispatched(ctx, new_id()))
    first = client.get("/handling/?lang=en", headers=ioc_token)
    assert "Total: 62" in first.text and 'rel="next"' in first.text
    import re

    href = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = client.get(href, headers=ioc_token)
    assert second.status_code == 200 and "Total: 62" in second.text and 'rel="next"' not in second.text
    assert second.text.count("<tr>") - 1 == 12


# --- gRPC ---------------------------------------------------------------------------------------


def test_grpc_get_case_and_who_handles_it(ctx, settings):
    from paht.handling.v1 import handling_pb2_grpc

    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    assign_unit(ctx, coordinator, rid, "so-gtvt-kcht")
    stub = handling_pb2_grpc.HandlingServiceStub
    with ServedGrpc(ctx, bootstrap.register_grpc) as served:
        view = served.call(stub, "GetCase", handling_pb2.GetCaseRequest(report_id=rid))
        assert (view.report_id, view.status, view.lead_agency_id, view.lead_unit_id, view.version) == \
            (rid, "awaiting_unit_leader", "so-gtvt", "so-gtvt-kcht", 1)
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            served.call(stub, "GetCase", handling_pb2.GetCaseRequest(report_id="missing"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND and "missing" in missing.value.details()

        def access(subject: str, role: str, unit: str, report_id: str = rid):
            token = token_for(settings, subject, [role], unit)
            return served.call(stub, "GetCaseAccess", handling_pb2.GetCaseAccessRequest(report_id=report_id),
                               metadata=(("authorization", f"Bearer {token}"),))

        assert access("truongphong", "unit_leader", "so-gtvt-kcht").handles  # the lead unit's leader
        assert access("sogtvt", "agency_coordinator", "so-gtvt").lead_unit_id == "so-gtvt-kcht"
        assert not access("canbo", "staff", "so-gtvt-kcht").handles  # not assigned yet
        assert not access("thanhtra", "unit_leader", "so-gtvt-thanhtra").handles  # another unit of the same agency
        assert not access("truongphong", "unit_leader", "so-gtvt-kcht", "no-such-report").handles  # told like a stranger's
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            served.call(stub, "GetCaseAccess", handling_pb2.GetCaseAccessRequest(report_id=rid))
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_grpc_directory_asks_dispatch_for_units_and_people(settings):
    from services.dispatch import bootstrap as dispatch
    from services.dispatch.service_layer.directory import seed_demo

    dispatch_ctx = migrated_context(dispatch.SPEC, settings)
    seed_demo(dispatch_ctx.uow(), "demo-password-for-tests")

    async def scenario():
        server = GrpcServer(settings)
        dispatch.SPEC.register_grpc(dispatch_ctx, server)
        port = await server.start("127.0.0.1", 0)
        channel = open_channel(settings, f"127.0.0.1:{port}")
        try:
            real = GrpcOrgDirectory(lambda: channel, 5.0)
            return (await candidate_unit(real, "so-gtvt-kcht"), await candidate_unit(real, "no-such-unit"),
                    await real.get_person("canbo"), await real.get_person("ghost-nobody"), await real.list_people("so-gtvt-kcht"))
        finally:
            await channel.close()
            await server.stop(0)

    try:
        found, missing, person, ghost, people = asyncio.run(scenario())
    finally:
        dispatch_ctx.engine.dispose()
    assert (found.id, found.name, found.ancestor_ids[0]) == ("so-gtvt-kcht", "Phòng Quản lý kết cấu hạ tầng giao thông", "so-gtvt")
    assert missing is None and ghost is None
    assert (person.subject, person.org_unit_id, person.roles, person.active) == ("canbo", "so-gtvt-kcht", ("staff",), True)
    assert {p.subject for p in people} >= {"canbo", "truongphong"}


def test_an_unreachable_directory_is_a_503_not_a_guess(settings):
    async def scenario():
        channel = open_channel(settings, "127.0.0.1:1")
        try:
            return await candidate_unit(GrpcOrgDirectory(lambda: channel, 1.0), "so-gtvt-kcht")
        finally:
            await channel.close()

    with pytest.raises(DirectoryUnavailable):
        asyncio.run(scenario())


def test_an_urgent_dispatch_opens_an_urgent_case_that_leads_the_work_list(ctx):
    deliver(ctx, dispatched(ctx, "r-calm", due=DUE))
    deliver(ctx, dispatched(ctx, "r-urgent", due=DUE + timedelta(days=1), urgent=True))
    assert case_of(ctx, "r-urgent").urgent and not case_of(ctx, "r-calm").urgent
    page = handlers.work_list(ctx.uow(), principal("ioc", ["ioc_operator"], "ioc-tinh"))
    assert [c.report_id for c in page.items][:2] == ["r-urgent", "r-calm"]


def test_step_3_checks_units_against_handling_s_copy_of_the_published_directory(ctx, settings):
    """The coordinator's unit is checked in handling's own copy (DirectoryPublished), not by asking dispatch;
    people still come from dispatch (here: the fake); without any copy yet, units are asked of dispatch."""
    from paht.dispatch.v1 import directory_pb2
    from paht.runtime.ids import DIRECTORY_ID
    from services.handling.adapters.directory import CopiedOrgDirectory

    people = FakeOrgDirectory(units=[])  # knows no unit at all: only the copy can answer
    client = TestClient(bootstrap.build_http(ctx, directory=CopiedOrgDirectory(ctx.engine, people)))
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    agency = bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    before = client.post(f"/api/handling/v1/cases/{rid}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=agency)
    assert before.status_code == 422 and people.calls >= 1  # no copy yet: dispatch (the fake) was asked, knew nothing
    units = [directory_pb2.OrgUnit(id=u.id, name=u.name, parent_id=u.parent_id, kind=u.kind) for u in UNITS]
    published = dispatch_ev.DirectoryPublished(revision=1, units=units)
    deliver(ctx, Envelope.for_event(published, node_id=settings.node_id, service="dispatch", report_id=DIRECTORY_ID, version=1))
    calls = people.calls
    r = client.post(f"/api/handling/v1/cases/{rid}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=agency)
    assert r.status_code == 200, r.text
    assert r.json()["lead_unit"]["name"] == "Phòng Quản lý kết cấu hạ tầng giao thông" and people.calls == calls


def test_http_support_between_agencies_from_request_to_answer(ctx, client, settings):
    from datetime import datetime

    rid = new_id()
    deliver(ctx, dispatched(ctx, rid, title="Nước ngập sau mưa ở phường Đồng Phú"))
    base = f"/api/handling/v1/cases/{rid}"
    agency = bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt")
    unit_leader = bearer(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    worker = bearer(settings, "canbo", "staff", "so-gtvt-kcht")
    xd_leader = bearer(settings, "truongphong-qhkt", "unit_leader", "so-xd-qhkt")
    xd_staff = bearer(settings, "canbo-qhkt", "staff", "so-xd-qhkt")
    client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=agency)
    soon = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    ask = {"org_id": "so-xd-qhkt", "question": "Đề nghị cung cấp hồ sơ thiết kế tuyến cống.", "due_at": soon}
    r = client.post(f"{base}/support", json=ask, headers=worker)
    assert r.status_code == 403  # not yet the staff member in charge
    client.post(f"{base}/assign-staff", json={"staff_subject": "canbo"}, headers=unit_leader)
    for bad, why in (({**ask, "org_id": "so-gtvt-kcht"}, "lead unit itself"), ({**ask, "org_id": "no-such-unit"}, "Unknown"),
                     ({**ask, "due_at": "2020-01-01T00:00:00+07:00"}, "future"), ({**ask, "question": "gấp"}, "too short"),
                     ({**ask, "due_at": "2030-01-01T00:00"}, "timezone")):
        r = client.post(f"{base}/support", json=bad, headers=worker)
        assert r.status_code == 422, (bad, r.text)
        assert why.lower() in r.text.lower(), (why, r.text)
    first = client.post(f"{base}/support", json=ask, headers=worker)
    assert first.status_code == 201 and first.json()["status"] == "requested"
    second = client.post(f"{base}/support", json={**ask, "org_id": "so-gtvt-thanhtra", "question": "Đề nghị kiểm tra việc thi công của nhà thầu."},
                         headers=unit_leader)
    assert second.status_code == 201  # several at once, each with its own question
    sid = first.json()["id"]

    inbox = client.get("/api/handling/v1/support", headers=xd_leader).json()["items"]
    assert [i["id"] for i in inbox] == [sid] and inbox[0]["case"]["title"] == "Nước ngập sau mưa ở phường Đồng Phú"
    assert client.get("/api/handling/v1/support", headers=bearer(settings, "thanhtra", "unit_leader", "so-gtvt-thanhtra")).json()["items"][0]["id"] == second.json()["id"]
    assert client.get(f"/api/handling/v1/support/{sid}", headers=bearer(settings, "thanhtra", "unit_leader", "so-gtvt-thanhtra")).status_code == 404
    assert client.get(base, headers=xd_leader).status_code == 404  # the case itself stays the lead unit's
    assert client.post(f"/api/handling/v1/support/{sid}/answer", json={"answer_text": "Gửi kèm hồ sơ thiết kế."}, headers=xd_staff).status_code == 403
    r = client.post(f"/api/handling/v1/support/{sid}/accept", json={"staff_subject": "canbo"}, headers=xd_leader)
    assert r.status_code == 422 and "so-xd-qhkt" in bilingual(r)["detail"]["en"]  # not one of its people
    r = client.post(f"/api/handling/v1/support/{sid}/accept", json={"staff_subject": "canbo-qhkt", "message": "Em gửi hồ sơ trong ngày"},
                    headers=xd_leader)
    assert (r.status_code, r.json()["status"], r.json()["supporter_staff"]) == (200, "accepted", "canbo-qhkt")
    assert client.get("/api/handling/v1/support", headers=xd_staff).json()["items"][0]["id"] == sid
    r = client.post(f"/api/handling/v1/support/{sid}/answer", json={"answer_text": "Hồ sơ thiết kế tuyến cống D800 gửi kèm theo."}, headers=xd_staff)
    assert (r.status_code, r.json()["status"]) == (200, "answered")
    r = client.post(f"/api/handling/v1/support/{sid}/refuse", json={"reason": "Không thuộc chức năng"}, headers=xd_leader)
    assert r.status_code == 409 and "already answered" in bilingual(r)["detail"]["en"]
    r = client.post(f"/api/handling/v1/support/{second.json()['id']}/refuse", json={"reason": "Không thuộc chức năng thanh tra"},
                    headers=bearer(settings, "thanhtra", "unit_leader", "so-gtvt-thanhtra"))
    assert (r.status_code, r.json()["refusal_reason"]) == (200, "Không thuộc chức năng thanh tra")

    seen = client.get(f"{base}/support", headers=worker).json()["items"]
    assert [(s["supporter"]["id"], s["status"]) for s in seen] == [("so-xd-qhkt", "answered"), ("so-gtvt-thanhtra", "refused")]
    assert seen[0]["answer_text"] == "Hồ sơ thiết kế tuyến cống D800 gửi kèm theo."
    kinds = [e.type.rsplit(".", 1)[-1] for e in outbox_envelopes(ctx)]
    assert kinds[-5:] == ["SupportRequested", "SupportRequested", "SupportAccepted", "SupportAnswered", "SupportRefused"]
    versions = [e.report_version for e in outbox_envelopes(ctx)]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    actions = [line["action"] for line in client.get(f"{base}/history", headers=worker).json()["items"]]
    assert actions[-5:] == ["support_requested", "support_requested", "support_accepted", "support_answered", "support_refused"]


def test_http_clarification_after_publication_through_the_unit_and_its_leader(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    base = f"/api/handling/v1/cases/{rid}"
    unit_leader = bearer(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    worker = bearer(settings, "canbo", "staff", "so-gtvt-kcht")
    client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt"))
    client.post(f"{base}/assign-staff", json={"staff_subject": "canbo"}, headers=unit_leader)
    client.post(f"{base}/draft", json={"answer_text": ANSWER}, headers=worker)
    client.post(f"{base}/approve", json={}, headers=unit_leader)
    due = DUE + timedelta(days=30)
    assert deliver(ctx, clarification_requested(ctx, rid, 1, due=due)) is Outcome.APPLIED
    case = client.get(base, headers=worker).json()
    assert (case["status"], case["clarification"]["question"], case["clarification"]["due"]) == (
        "clarifying", "Đề nghị cho biết thời gian thảm lại mặt đường", due.isoformat())
    assert client.post(f"{base}/clarification/draft", json={"text": "ngắn"}, headers=worker).status_code == 422
    r = client.post(f"{base}/clarification/draft", json={"text": "Sẽ thảm lại mặt đường trước ngày 15/4."}, headers=worker)
    assert r.json()["status"] == "clarification_drafted"
    r = client.post(f"{base}/clarification/approve", json={"message": "Kính chuyển Trung tâm IOC"}, headers=worker)
    assert r.status_code == 403
    r = client.post(f"{base}/clarification/approve", json={"message": "Kính chuyển Trung tâm IOC"}, headers=unit_leader)
    assert (r.status_code, r.json()["status"]) == (200, "approved")
    given = outbox_envelopes(ctx)[-1].decode()
    assert (type(given).__name__, given.text, given.clarification_id, given.unit.id) == (
        "ClarificationGiven", "Sẽ thảm lại mặt đường trước ngày 15/4.", "c-" + rid[:8], "so-gtvt-kcht")
    actions = [line["action"] for line in client.get(f"{base}/history", headers=worker).json()["items"]]
    assert actions[-3:] == ["clarification_asked", "clarification_drafted", "clarification_approved"]
    # the IOC sends it back (step 8 for a clarification): with the leader again, drafted, the IOC's reason the message
    wrong = publication_ev.ClarificationSentBack(clarification_id="c-other", reason="Ghi rõ tuyến đường.")
    with pytest.raises(StateConflict):
        deliver(ctx, envelope(ctx, "publication", wrong, rid, 2))
    back = publication_ev.ClarificationSentBack(clarification_id=given.clarification_id, reason="Ghi rõ tuyến đường sẽ thảm lại.")
    assert deliver(ctx, envelope(ctx, "publication", back, rid, 2)) is Outcome.APPLIED
    case = client.get(base, headers=unit_leader).json()
    assert case["status"] == "clarification_drafted" and case["clarification"]["due"] != due.isoformat()
    line = client.get(f"{base}/history", headers=worker).json()["items"][-1]
    assert (line["action"], line["message"]) == ("clarification_sent_back", "Ghi rõ tuyến đường sẽ thảm lại.")
    r = client.post(f"{base}/clarification/approve", json={"text": "Sẽ thảm lại mặt đường Lý Thường Kiệt trước ngày 15/4."},
                    headers=unit_leader)
    assert (r.status_code, r.json()["status"]) == (200, "approved")
    assert outbox_envelopes(ctx)[-1].decode().text == "Sẽ thảm lại mặt đường Lý Thường Kiệt trước ngày 15/4."
    # a request for clarification on a case that is not with the IOC is refused (the consumer parks it for an operator)
    other = new_id()
    deliver(ctx, dispatched(ctx, other))
    with pytest.raises(StateConflict):
        deliver(ctx, clarification_requested(ctx, other, 1))
    assert case_of(ctx, other).status == "awaiting_agency"


def test_http_the_staff_member_keeps_a_work_log_in_the_cases_history(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    base = f"/api/handling/v1/cases/{rid}"
    worker = bearer(settings, "canbo", "staff", "so-gtvt-kcht")
    client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt"))
    assert client.post(f"{base}/log", json={"text": "Đã kiểm tra hiện trường"}, headers=worker).status_code == 403  # not theirs yet
    client.post(f"{base}/assign-staff", json={"staff_subject": "canbo"}, headers=bearer(settings, "truongphong", "unit_leader", "so-gtvt-kcht"))
    assert client.post(f"{base}/log", json={"text": "x"}, headers=worker).status_code == 422
    r = client.post(f"{base}/log", json={"text": "Đã kiểm tra hiện trường lúc 8 giờ, ổ gà rộng 1,2 m."}, headers=worker)
    assert (r.status_code, r.json()["status"]) == (200, "in_progress")
    line = client.get(f"{base}/history", headers=worker).json()["items"][-1]
    assert (line["action"], line["message"], line["by"]["subject"]) == ("work_logged", "Đã kiểm tra hiện trường lúc 8 giờ, ổ gà rộng 1,2 m.", "canbo")
    logged = outbox_envelopes(ctx)[-1].decode()
    assert (type(logged).__name__, logged.staff_subject) == ("WorkLogged", "canbo")


def test_a_state_secret_flag_changed_after_dispatch_reaches_the_case(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid, title="Vụ việc liên quan khu vực quân sự"))
    assert deliver(ctx, envelope(ctx, "dispatch", dispatch_ev.ReportReclassified(state_secret=True), rid, 2)) is Outcome.APPLIED
    got = client.get(f"/api/handling/v1/cases/{rid}", headers=bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt")).json()
    assert got["state_secret"] is True
    # the receiving side of a support request sees the question, not the secret case's title
    client.post(f"/api/handling/v1/cases/{rid}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt"))
    client.post(f"/api/handling/v1/cases/{rid}/assign-staff", json={"staff_subject": "canbo"}, headers=bearer(settings, "truongphong", "unit_leader", "so-gtvt-kcht"))
    from datetime import datetime
    r = client.post(f"/api/handling/v1/cases/{rid}/support", headers=bearer(settings, "canbo", "staff", "so-gtvt-kcht"),
                    json={"org_id": "so-xd-qhkt", "question": "Đề nghị cho ý kiến chuyên môn về hồ sơ.",
                          "due_at": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()})
    inbox = client.get("/api/handling/v1/support", headers=bearer(settings, "truongphong-qhkt", "unit_leader", "so-xd-qhkt")).json()["items"]
    assert [(i["id"], i["case"]["title"], i["case"]["state_secret"]) for i in inbox] == [(r.json()["id"], None, True)]
    assert "quân sự" not in str(inbox)


def test_the_reporters_rating_reaches_the_lead_unit_on_the_case(ctx, client, settings):
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    base = f"/api/handling/v1/cases/{rid}"
    unit_leader = bearer(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"}, headers=bearer(settings, "sogtvt", "agency_coordinator", "so-gtvt"))
    client.post(f"{base}/assign-staff", json={"staff_subject": "canbo"}, headers=unit_leader)
    client.post(f"{base}/draft", json={"answer_text": ANSWER}, headers=bearer(settings, "canbo", "staff", "so-gtvt-kcht"))
    client.post(f"{base}/approve", json={}, headers=unit_leader)
    assert client.get(base, headers=unit_leader).json()["rating"] is None
    rated = publication_ev.ReportRated(rating=publication_ev.RATING_UNSATISFIED, comment="Mặt đường lại hỏng sau một tuần.")
    assert deliver(ctx, envelope(ctx, "publication", rated, rid, 1)) is Outcome.APPLIED
    got = client.get(base, headers=unit_leader).json()["rating"]
    assert (got["score"], got["label"]["vi"], got["comment"]) == ("unsatisfied", "Không hài lòng", "Mặt đường lại hỏng sau một tuần.")
    line = client.get(f"{base}/history", headers=unit_leader).json()["items"][-1]
    assert (line["action"], line["message"]) == ("rated", "Không hài lòng / Not satisfied: Mặt đường lại hỏng sau một tuần.")
    changed = publication_ev.ReportRated(rating=publication_ev.RATING_ACCEPTABLE, changed=True)
    assert deliver(ctx, envelope(ctx, "publication", changed, rid, 2)) is Outcome.APPLIED
    got = client.get(base, headers=unit_leader).json()["rating"]
    assert (got["score"], got["comment"]) == ("acceptable", None)
    page = client.get(f"/handling/cases/{rid}", headers=unit_leader)
    assert page.status_code == 200 and 'class="rating rating-acceptable">Chấp nhận<' in page.text
    other = bearer(settings, "truongphong-qhkt", "unit_leader", "so-xd-qhkt")
    assert client.get(base, headers=other).status_code == 404  # another unit sees neither the case nor its rating
    assert deliver(ctx, envelope(ctx, "publication", rated, new_id(), 1)) is Outcome.APPLIED  # a report handling never had
