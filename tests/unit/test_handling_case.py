"""Check the handling case state machine (steps 3 to 7): every transition, refusal, role, scope and order."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from paht.runtime.errors import Forbidden, InvalidInput, OutOfScope, StateConflict
from tests.support.services import principal
from services.handling.domain.case import CandidateUnit, Case, Status

DUE = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)
KCHT = CandidateUnit("so-gtvt-kcht", "Phòng Quản lý kết cấu hạ tầng giao thông", ("so-gtvt", "province-quangbinh"))
GTVT = CandidateUnit("so-gtvt", "Sở Giao thông vận tải", ("province-quangbinh",))
XD_QHKT = CandidateUnit("so-xd-qhkt", "Phòng Quy hoạch kiến trúc", ("so-xd", "province-quangbinh"))

coordinator = principal("sogtvt", ["agency_coordinator"], "so-gtvt")
other_coordinator = principal("soxd", ["agency_coordinator"], "so-xd")
leader = principal("truongphong", ["unit_leader"], "so-gtvt-kcht")
other_leader = principal("thanhtra", ["unit_leader"], "so-gtvt-thanhtra")
staff = principal("canbo", ["staff"], "so-gtvt-kcht")
other_staff = principal("canbo2", ["staff"], "so-gtvt-kcht")
ioc = principal("ioc", ["ioc_operator"], "ioc-tinh")

ANSWER = "Đã vá ổ gà trên đường Quang Trung ngày 12/3."


def new_case() -> Case:
    return Case.open("r-1", "so-gtvt", "Sở Giao thông vận tải", 1, DUE)


def at(status: Status) -> Case:
    """Return a case driven through the procedure up to a status."""
    case = new_case()
    if status is Status.AWAITING_AGENCY:
        return case
    if status is Status.REFUSED_BY_AGENCY:
        case.refuse_by_agency(coordinator, "Không thuộc thẩm quyền")
        return case
    case.assign_unit(coordinator, KCHT)
    if status is Status.AWAITING_UNIT_LEADER:
        return case
    case.assign_staff(leader, "canbo")
    if status is Status.IN_PROGRESS:
        return case
    case.draft_result(staff, ANSWER, "d-1")
    if status is Status.DRAFTED:
        return case
    case.approve_result(leader)
    return case


def assert_conflict(exc_info, current: Status, action: str) -> None:
    exc = exc_info.value
    assert exc.status == 409 and exc.params == {"current": current.value, "action": action}
    assert exc.detail_vi != exc.detail_en


def assert_wrong_role(exc_info, role: str) -> None:
    exc = exc_info.value
    assert type(exc) is Forbidden and exc.key == "error.wrong_role" and exc.params == {"role": role}


def test_a_dispatched_case_waits_for_its_agency_with_no_events_yet():
    case = new_case()
    assert (case.status, case.version, case.round, case.handling_due) == ("awaiting_agency", 0, 1, DUE)
    assert case.next_version() == 1 and case.next_version() == 2


@pytest.mark.parametrize("unit", [KCHT, GTVT], ids=["sub-unit", "agency-handles-directly"])
def test_agency_assigns_a_unit_of_its_own(unit):
    case = new_case()
    case.assign_unit(coordinator, unit)
    assert (case.status, case.lead_unit_id, case.lead_unit_name) == ("awaiting_unit_leader", unit.id, unit.name)


def test_agency_cannot_assign_another_agencys_unit():
    with pytest.raises(InvalidInput):
        new_case().assign_unit(coordinator, XD_QHKT)


def test_only_the_lead_agencys_coordinator_assigns_or_refuses():
    case = new_case()
    with pytest.raises(OutOfScope) as exc:
        case.assign_unit(other_coordinator, KCHT)
    assert exc.value.status == 403 and exc.value.detail_vi != exc.value.detail_en
    with pytest.raises(OutOfScope):
        case.refuse_by_agency(other_coordinator, "Không thuộc thẩm quyền")
    for user in (leader, staff, ioc):
        with pytest.raises(Forbidden) as exc:
            case.assign_unit(user, KCHT)
        assert_wrong_role(exc, "agency_coordinator")
    assert case.status == "awaiting_agency"


def test_agency_refuses_with_a_reason_and_the_case_goes_back_to_the_ioc():
    case = new_case()
    with pytest.raises(InvalidInput):
        case.refuse_by_agency(coordinator, " no ")
    case.refuse_by_agency(coordinator, "  Không thuộc thẩm quyền  ")
    assert (case.status, case.agency_refusal_reason) == ("refused_by_agency", "Không thuộc thẩm quyền")


@pytest.mark.parametrize("status", [Status.AWAITING_UNIT_LEADER, Status.IN_PROGRESS, Status.APPROVED, Status.REFUSED_BY_AGENCY])
def test_step_3_is_only_possible_while_the_agency_decides(status):
    case = at(status)
    with pytest.raises(StateConflict) as exc:
        case.assign_unit(coordinator, KCHT)
    assert_conflict(exc, status, "assign_unit")
    with pytest.raises(StateConflict) as exc:
        case.refuse_by_agency(coordinator, "Không thuộc thẩm quyền")
    assert_conflict(exc, status, "refuse_by_agency")


def test_unit_leader_assigns_staff():
    case = at(Status.AWAITING_UNIT_LEADER)
    with pytest.raises(InvalidInput):
        case.assign_staff(leader, "   ")
    case.assign_staff(leader, "canbo")
    assert (case.status, case.staff_subject) == ("in_progress", "canbo")


def test_only_the_lead_units_leader_acts_at_step_4():
    case = at(Status.AWAITING_UNIT_LEADER)
    with pytest.raises(OutOfScope):
        case.assign_staff(other_leader, "canbo")
    with pytest.raises(OutOfScope):
        case.refuse_by_unit(other_leader, "Không thuộc chức năng")
    for user in (coordinator, staff):
        with pytest.raises(Forbidden) as exc:
            case.assign_staff(user, "canbo")
        assert_wrong_role(exc, "unit_leader")
    with pytest.raises(OutOfScope):  # before step 3 no unit is in charge yet
        new_case().assign_staff(leader, "canbo")


def test_unit_refuses_and_the_agency_chooses_again():
    case = at(Status.AWAITING_UNIT_LEADER)
    with pytest.raises(InvalidInput):
        case.refuse_by_unit(leader, "no")
    case.refuse_by_unit(leader, "Không thuộc chức năng của phòng")
    assert (case.status, case.lead_unit_id, case.lead_unit_name) == ("awaiting_agency", "", "")
    assert case.unit_refusal_reason == "Không thuộc chức năng của phòng"
    with pytest.raises(OutOfScope):  # the unit that refused is no longer in charge
        case.assign_staff(leader, "canbo")
    case.assign_unit(coordinator, CandidateUnit("so-gtvt-thanhtra", "Thanh tra Sở", ("so-gtvt",)))
    assert (case.status, case.lead_unit_id) == ("awaiting_unit_leader", "so-gtvt-thanhtra")


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.DRAFTED, Status.APPROVED])
def test_step_4_is_only_possible_while_the_leader_decides(status):
    case = at(status)
    with pytest.raises(StateConflict) as exc:
        case.assign_staff(leader, "canbo")
    assert_conflict(exc, status, "assign_staff")
    with pytest.raises(StateConflict) as exc:
        case.refuse_by_unit(leader, "Không thuộc chức năng")
    assert_conflict(exc, status, "refuse_by_unit")


def test_assigned_staff_drafts_the_answer():
    case = at(Status.IN_PROGRESS)
    with pytest.raises(InvalidInput):
        case.draft_result(staff, "Đã xong.", "d-1")
    case.draft_result(staff, ANSWER, "d-1")
    assert (case.status, case.answer_text, case.draft_id) == ("drafted", ANSWER, "d-1")


def test_only_the_assigned_staff_member_drafts():
    case = at(Status.IN_PROGRESS)
    with pytest.raises(OutOfScope):
        case.draft_result(other_staff, ANSWER, "d-1")
    with pytest.raises(Forbidden) as exc:
        case.draft_result(leader, ANSWER, "d-1")
    assert_wrong_role(exc, "staff")


@pytest.mark.parametrize("status", [Status.DRAFTED, Status.APPROVED])
def test_drafting_is_only_possible_while_in_progress(status):
    with pytest.raises(StateConflict) as exc:
        at(status).draft_result(staff, ANSWER, "d-2")
    assert_conflict(exc, status, "draft_result")


def test_leader_approves_the_draft_as_is():
    case = at(Status.DRAFTED)
    case.approve_result(leader)
    assert (case.status, case.answer_text, case.edited_by_leader) == ("approved", ANSWER, False)


def test_leader_may_edit_the_answer_when_approving():
    case = at(Status.DRAFTED)
    with pytest.raises(InvalidInput):
        case.approve_result(leader, "ngắn")
    assert case.status == "drafted"
    case.approve_result(leader, ANSWER + " Trân trọng./.")
    assert (case.answer_text, case.edited_by_leader) == (ANSWER + " Trân trọng./.", True)
    same = at(Status.DRAFTED)
    same.approve_result(leader, f"  {ANSWER} ")
    assert same.edited_by_leader is False


def test_leader_returns_the_draft_and_staff_drafts_again():
    case = at(Status.DRAFTED)
    with pytest.raises(InvalidInput):
        case.return_result(leader, "x")
    case.return_result(leader, "Bổ sung hình ảnh sau khi vá")
    assert (case.status, case.return_reason) == ("in_progress", "Bổ sung hình ảnh sau khi vá")
    case.draft_result(staff, ANSWER + " Có ảnh.", "d-2")
    assert (case.status, case.draft_id) == ("drafted", "d-2")


def test_only_the_lead_units_leader_acts_at_step_7():
    case = at(Status.DRAFTED)
    with pytest.raises(OutOfScope):
        case.approve_result(other_leader)
    with pytest.raises(OutOfScope):
        case.return_result(other_leader, "Bổ sung hình ảnh")
    for user in (staff, coordinator):
        with pytest.raises(Forbidden) as exc:
            case.approve_result(user)
        assert_wrong_role(exc, "unit_leader")


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.APPROVED])
def test_step_7_is_only_possible_on_a_draft(status):
    case = at(status)
    with pytest.raises(StateConflict) as exc:
        case.approve_result(leader)
    assert_conflict(exc, status, "approve_result")
    with pytest.raises(StateConflict) as exc:
        case.return_result(leader, "Bổ sung hình ảnh")
    assert_conflict(exc, status, "return_result")


def test_ioc_returning_the_approved_result_reopens_the_case():
    case = at(Status.APPROVED)
    case.reopen_after_publication_return("Cần nêu rõ thời gian hoàn thành")
    assert (case.status, case.return_reason, case.staff_subject) == ("in_progress", "Cần nêu rõ thời gian hoàn thành", "canbo")
    case.draft_result(staff, ANSWER + " Hoàn thành 15/3.", "d-3")
    assert case.status == "drafted"


@pytest.mark.parametrize("status", [Status.AWAITING_AGENCY, Status.IN_PROGRESS, Status.DRAFTED])
def test_only_an_approved_result_can_come_back_from_the_ioc(status):
    with pytest.raises(StateConflict) as exc:
        at(status).reopen_after_publication_return("Cần bổ sung")
    assert_conflict(exc, status, "reopen_after_publication_return")


@pytest.mark.parametrize("status", list(Status))
def test_a_new_dispatch_round_starts_over_at_the_new_agency(status):
    case = at(status)
    later = datetime(2025, 3, 20, 10, 0, tzinfo=timezone.utc)
    case.open_round("so-xd", "Sở Xây dựng", 2, later, epoch=3)
    assert (case.status, case.lead_agency_id, case.round, case.handling_due, case.epoch) == ("awaiting_agency", "so-xd", 2, later, 3)
    assert (case.lead_unit_id, case.staff_subject, case.draft_id, case.answer_text, case.edited_by_leader) == ("", "", "", "", False)
    with pytest.raises(OutOfScope):
        case.assign_unit(coordinator, KCHT)
    case.assign_unit(other_coordinator, XD_QHKT)


def test_an_older_dispatch_round_is_refused():
    case = at(Status.REFUSED_BY_AGENCY)
    case.open_round("so-xd", "Sở Xây dựng", 2, None)
    with pytest.raises(StateConflict):
        case.open_round("so-gtvt", "Sở Giao thông vận tải", 1, DUE)
    assert (case.lead_agency_id, case.round) == ("so-xd", 2)


def test_who_sees_a_case():
    case = at(Status.IN_PROGRESS)
    assert [u.subject for u in (ioc, coordinator, leader, staff) if case.visible_to(u)] == ["ioc", "sogtvt", "truongphong", "canbo"]
    assert not any(case.visible_to(u) for u in (other_coordinator, other_leader, other_staff))
    assert not new_case().visible_to(leader) and not new_case().visible_to(principal("x", ["staff"], "so-gtvt-kcht"))
