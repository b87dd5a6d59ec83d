"""Check the handling case state machine (steps 3 to 7): every transition, refusal, role, scope and order."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from paht.runtime.errors import Forbidden, InvalidInput, OutOfScope, StateConflict
from paht.runtime.sla import Step
from tests.support.services import principal
from services.handling.domain.answer import Answer, letter
from services.handling.domain.case import CandidatePerson, CandidateUnit, Case, Status
from services.handling.domain.status import STATUS_TEXT

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
TODAY = date(2025, 3, 12)

CANBO = CandidatePerson("canbo", "Cán bộ 1", "so-gtvt-kcht", ("staff",), True)
CANBO2 = CandidatePerson("canbo2", "Cán bộ 2", "so-gtvt-kcht", ("staff",), True)


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
    if status is Status.RECALLED:
        case.recall("donghoi")
        return case
    case.assign_unit(coordinator, KCHT)
    if status is Status.AWAITING_UNIT_LEADER:
        return case
    case.assign_staff(leader, CANBO)
    if status is Status.IN_PROGRESS:
        return case
    if status is Status.RETURN_PROPOSED:
        case.propose_return(staff, "Tuyến đường do Ban quản lý dự án quản lý")
        return case
    case.draft_result(staff, Answer(ANSWER), "d-1")
    if status is Status.DRAFTED:
        return case
    if status is Status.RETURNED_TO_STAFF:
        case.return_to_staff(leader, "Bổ sung hình ảnh")
        return case
    case.approve_result(leader)
    if status is Status.RETURNED_BY_IOC:
        case.return_by_ioc("Cần nêu rõ thời gian")
    if status in (Status.CLARIFYING, Status.CLARIFICATION_DRAFTED):
        case.ask_clarification("c-1", "Khi nào thảm lại mặt đường?", DUE)
    if status is Status.CLARIFICATION_DRAFTED:
        case.draft_clarification(staff, "Dự kiến thảm lại trong tháng 4.")
    return case


def assert_conflict(exc_info, current: Status, action: str) -> None:
    exc = exc_info.value
    assert type(exc) is StateConflict and exc.params == {"current": current.value, "action": action}
    assert exc.detail_vi != exc.detail_en
    assert "_" not in exc.detail_en, "the procedure's words, not status or action codes"


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
    assert exc.value.detail_vi != exc.value.detail_en
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


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.AWAITING_AGENCY])
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
    case.assign_staff(leader, CANBO)
    assert (case.status, case.staff_subject) == ("in_progress", "canbo")


CANBO3 = CandidatePerson("canbo3", "Cán bộ 3", "so-gtvt-kcht", ("staff",), True)
third_staff = principal("canbo3", ["staff"], "so-gtvt-kcht")


def test_the_leader_assigns_one_in_charge_and_others_with_them_who_see_it_and_keep_the_work_log():
    case = at(Status.AWAITING_UNIT_LEADER)
    case.assign_staff(leader, CANBO, team=[("canbo2", CANBO2), ("canbo", CANBO), ("canbo2", CANBO2)])
    assert (case.status, case.staff_subject, case.co_staff) == ("in_progress", "canbo", ("canbo2",))  # each named once
    assert case.visible_to(other_staff) and case.on_team(other_staff) and not case.visible_to(third_staff)
    assert case.log_work(other_staff, "Đã đo kích thước ổ gà: 1,2 m x 0,8 m") == "Đã đo kích thước ổ gà: 1,2 m x 0,8 m"
    with pytest.raises(OutOfScope):  # the draft, proposals and support stay with the one in charge
        case.draft_result(other_staff, Answer(ANSWER), "d-1")
    with pytest.raises(OutOfScope):
        case.propose_return(other_staff, "Không thuộc thẩm quyền của phòng")
    with pytest.raises(OutOfScope):
        case.log_work(third_staff, "Ghi chú của người ngoài hồ sơ")


def test_changing_only_who_helps_keeps_the_case_and_its_draft_where_they_are():
    case = at(Status.DRAFTED)
    case.assign_staff(leader, CANBO, team=[("canbo3", CANBO3)], message="Thêm anh Ba hỗ trợ đo đạc")
    assert (case.status, case.staff_subject, case.co_staff, case.draft_id) == ("drafted", "canbo", ("canbo3",), "d-1")
    assert case.handover_message == "Thêm anh Ba hỗ trợ đo đạc"
    with pytest.raises(StateConflict) as exc:  # nothing changes: said as before
        case.assign_staff(leader, CANBO, team=[("canbo3", CANBO3)])
    assert "already assigned to canbo" in exc.value.detail_en
    case.assign_staff(leader, CANBO)  # the helpers removed
    assert case.co_staff == () and not case.visible_to(third_staff)


@pytest.mark.parametrize("team, why", [
    ([("ghost", None)], "No staff account 'ghost' is known"),
    ([("canbo-tt", CandidatePerson("canbo-tt", "Thanh tra", "so-gtvt-thanhtra", ("staff",), True))], "not a member of the lead unit"),
    ([(f"cb{i}", CandidatePerson(f"cb{i}", "Cán bộ", "so-gtvt-kcht", ("staff",), True)) for i in range(11)], "At most 10 other staff"),
], ids=["unknown", "other-unit", "too-many"])
def test_the_others_must_be_active_staff_of_the_lead_unit_too(team, why):
    case = at(Status.AWAITING_UNIT_LEADER)
    with pytest.raises(InvalidInput) as exc:
        case.assign_staff(leader, CANBO, team=team)
    assert why in exc.value.detail_en and exc.value.detail_vi != exc.value.detail_en
    assert (case.status, case.staff_subject, case.co_staff) == ("awaiting_unit_leader", "", ())


def test_sending_the_case_back_or_a_new_round_forgets_the_others():
    case = at(Status.AWAITING_UNIT_LEADER)
    case.assign_staff(leader, CANBO, team=[("canbo2", CANBO2)])
    case.propose_return(staff, "Tuyến đường do Ban quản lý dự án quản lý")
    case.send_back(leader, "Đồng ý chuyển trả")
    assert case.co_staff == () and not case.visible_to(other_staff)
    case.assign_unit(coordinator, KCHT)
    case.assign_staff(leader, CANBO, team=[("canbo2", CANBO2)])
    case.open_round("so-xd", "Sở Xây dựng", 2, DUE)
    assert case.co_staff == ()


@pytest.mark.parametrize("person, why", [
    (None, "No staff account 'ghost-nobody' is known"),
    (CandidatePerson("nghihuu", "Đã nghỉ", "so-gtvt-kcht", ("staff",), False), "no longer active"),
    (CandidatePerson("canbo-tt", "Thanh tra", "so-gtvt-thanhtra", ("staff",), True), "not a member of the lead unit so-gtvt-kcht"),
    (CandidatePerson("vanthu", "Văn thư", "so-gtvt-kcht", ("clerk",), True), "neither a staff member nor the leader"),
], ids=["unknown", "inactive", "other-unit", "no-staff-role"])
def test_only_an_active_staff_member_of_the_lead_unit_can_be_assigned(person, why):
    case = at(Status.AWAITING_UNIT_LEADER)
    with pytest.raises(InvalidInput) as exc:
        case.assign_staff(leader, person, "ghost-nobody")
    assert why in exc.value.detail_en and exc.value.detail_vi != exc.value.detail_en
    assert (case.status, case.staff_subject) == ("awaiting_unit_leader", "")


def test_the_leader_may_take_the_case_in_person():
    case = at(Status.AWAITING_UNIT_LEADER)
    case.assign_staff(leader, CandidatePerson("truongphong", "Trưởng phòng", "so-gtvt-kcht", ("unit_leader",), True))
    case.draft_result(leader, Answer(ANSWER), "d-1")
    assert (case.status, case.staff_subject) == ("drafted", "truongphong")
    assert case.visible_to(principal("truongphong", ["unit_leader"], "so-gtvt-kcht"))


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.DRAFTED, Status.RETURNED_TO_STAFF, Status.RETURNED_BY_IOC])
def test_the_leader_re_assigns_before_approval_and_only_the_new_person_drafts(status):
    case = at(status)
    answer_before = case.answer_text
    case.assign_staff(leader, CANBO2)
    assert (case.status, case.staff_subject, case.draft_id, case.answer_text) == ("in_progress", "canbo2", "", answer_before)
    with pytest.raises(StateConflict) as exc:  # the old assignee lost the case a moment ago: say so
        case.draft_result(staff, Answer(ANSWER), "d-9")
    assert "re-assigned" in exc.value.detail_en
    with pytest.raises(OutOfScope):  # someone who never had the case
        case.draft_result(principal("canbo3", ["staff"], "so-gtvt-kcht"), ANSWER, "d-9")
    case.draft_result(other_staff, Answer(ANSWER), "d-2")
    assert (case.status, case.draft_id) == ("drafted", "d-2")
    assert case.visible_to(other_staff) and not case.visible_to(staff)


def test_a_withdrawn_draft_cannot_be_approved():
    case = at(Status.DRAFTED)
    case.assign_staff(leader, CANBO2)
    with pytest.raises(StateConflict):
        case.approve_result(leader)


def test_re_assigning_to_the_same_person_or_after_approval_is_refused():
    case = at(Status.IN_PROGRESS)
    with pytest.raises(StateConflict) as exc:
        case.assign_staff(leader, CANBO)
    assert "already assigned to canbo" in exc.value.detail_en
    approved = at(Status.APPROVED)
    with pytest.raises(StateConflict) as exc:
        approved.assign_staff(leader, CANBO2)
    assert_conflict(exc, Status.APPROVED, "assign_staff")
    assert approved.staff_subject == "canbo"


def test_only_the_lead_units_leader_acts_at_step_4():
    case = at(Status.AWAITING_UNIT_LEADER)
    with pytest.raises(OutOfScope):
        case.assign_staff(other_leader, CANBO)
    with pytest.raises(OutOfScope):
        case.refuse_by_unit(other_leader, "Không thuộc chức năng")
    for user in (coordinator, staff):
        with pytest.raises(Forbidden) as exc:
            case.assign_staff(user, CANBO)
        assert_wrong_role(exc, "unit_leader")
    with pytest.raises(OutOfScope):  # before step 3 no unit is in charge yet
        new_case().assign_staff(leader, CANBO)


def test_unit_refuses_and_the_agency_chooses_again():
    case = at(Status.AWAITING_UNIT_LEADER)
    with pytest.raises(InvalidInput):
        case.refuse_by_unit(leader, "no")
    case.refuse_by_unit(leader, "Không thuộc chức năng của phòng")
    assert (case.status, case.lead_unit_id, case.lead_unit_name) == ("awaiting_agency", "", "")
    assert case.unit_refusal_reason == "Không thuộc chức năng của phòng"
    with pytest.raises(StateConflict) as exc:  # a late step of the unit that refused: say what happened
        case.assign_staff(leader, CANBO)
    assert exc.value.detail_en == "The lead unit has already refused this case; it is back with the lead agency."
    with pytest.raises(OutOfScope):  # a leader who never had the case still may not touch it
        case.assign_staff(other_leader, CANBO)
    case.assign_unit(coordinator, CandidateUnit("so-gtvt-thanhtra", "Thanh tra Sở", ("so-gtvt",)))
    assert (case.status, case.lead_unit_id) == ("awaiting_unit_leader", "so-gtvt-thanhtra")
    with pytest.raises(StateConflict) as exc:
        case.refuse_by_unit(leader, "Không thuộc chức năng")
    assert exc.value.detail_en.startswith("The lead unit has already refused this case; the report is now waiting for the lead unit's leader")


def test_a_refusal_that_came_too_late_says_the_unit_already_accepted():
    case = at(Status.IN_PROGRESS)
    with pytest.raises(StateConflict) as exc:
        case.refuse_by_unit(leader, "Không thuộc chức năng")
    assert "already accepted this case and assigned a staff member" in exc.value.detail_en


def test_every_status_is_described_in_both_languages():
    assert set(STATUS_TEXT) == set(Status)
    for status in Status:
        (label_en, label_vi), (phrase_en, phrase_vi) = status.label, status.phrase
        assert label_en and label_vi and phrase_en and phrase_vi and label_en != label_vi and phrase_en != phrase_vi


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.DRAFTED, Status.APPROVED, Status.RETURNED_TO_STAFF, Status.RETURNED_BY_IOC])
def test_the_unit_refuses_only_while_the_leader_decides(status):
    case = at(status)
    with pytest.raises(StateConflict) as exc:
        case.refuse_by_unit(leader, "Không thuộc chức năng")
    assert_conflict(exc, status, "refuse_by_unit")


def test_assigned_staff_drafts_the_answer():
    case = at(Status.IN_PROGRESS)
    with pytest.raises(InvalidInput):
        Answer.write("Đã xong.", True, None, TODAY)
    case.draft_result(staff, Answer.write(ANSWER, True, None, TODAY), "d-1")
    assert (case.status, case.answer_text, case.draft_id) == ("drafted", ANSWER, "d-1")


def test_only_the_assigned_staff_member_drafts():
    case = at(Status.IN_PROGRESS)
    with pytest.raises(OutOfScope):
        case.draft_result(other_staff, Answer(ANSWER), "d-1")
    with pytest.raises(OutOfScope):  # a leader may draft only a case assigned to them in person
        case.draft_result(leader, Answer(ANSWER), "d-1")
    with pytest.raises(Forbidden) as exc:
        case.draft_result(coordinator, Answer(ANSWER), "d-1")
    assert_wrong_role(exc, "staff")


def test_staff_drafts_again_after_the_leaders_return():
    case = at(Status.RETURNED_TO_STAFF)
    case.draft_result(staff, Answer(ANSWER + " Bổ sung."), "d-2")
    assert (case.status, case.draft_id) == ("drafted", "d-2")


@pytest.mark.parametrize("status", [Status.DRAFTED, Status.APPROVED, Status.RETURNED_BY_IOC, Status.RETURN_PROPOSED])
def test_drafting_is_only_possible_while_in_progress(status):
    with pytest.raises(StateConflict) as exc:
        at(status).draft_result(staff, Answer(ANSWER), "d-2")
    assert_conflict(exc, status, "draft_result")


def test_leader_approves_the_draft_as_is():
    case = at(Status.DRAFTED)
    case.approve_result(leader)
    assert (case.status, case.answer_text, case.edited_by_leader) == ("approved", ANSWER, False)


def test_leader_may_edit_the_answer_when_approving():
    case = at(Status.DRAFTED)
    with pytest.raises(InvalidInput):
        Answer.write("ngắn", True, None, TODAY)
    case.approve_result(leader, Answer(ANSWER + " Trân trọng./."))
    assert (case.answer_text, case.edited_by_leader) == (ANSWER + " Trân trọng./.", True)
    same = at(Status.DRAFTED)
    same.approve_result(leader, Answer.write(f"  {ANSWER} ", True, None, TODAY))
    assert same.edited_by_leader is False


def test_leader_returns_the_draft_and_staff_drafts_again():
    case = at(Status.DRAFTED)
    with pytest.raises(InvalidInput):
        case.return_to_staff(leader, "x")
    case.return_to_staff(leader, "Bổ sung hình ảnh sau khi vá")
    assert (case.status, case.leader_return_reason, case.ioc_return_reason) == ("returned_to_staff", "Bổ sung hình ảnh sau khi vá", "")
    case.draft_result(staff, Answer(ANSWER + " Có ảnh."), "d-2")
    assert (case.status, case.draft_id) == ("drafted", "d-2")


def test_only_the_lead_units_leader_acts_at_step_7():
    case = at(Status.DRAFTED)
    with pytest.raises(OutOfScope):
        case.approve_result(other_leader)
    with pytest.raises(OutOfScope):
        case.return_to_staff(other_leader, "Bổ sung hình ảnh")
    for user in (staff, coordinator):
        with pytest.raises(Forbidden) as exc:
            case.approve_result(user)
        assert_wrong_role(exc, "unit_leader")


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.APPROVED, Status.RETURNED_TO_STAFF, Status.RETURN_PROPOSED])
def test_step_7_is_only_possible_on_an_answer_waiting_for_the_leader(status):
    case = at(status)
    with pytest.raises(StateConflict) as exc:
        case.approve_result(leader)
    assert_conflict(exc, status, "approve_result")
    with pytest.raises(StateConflict) as exc:
        case.return_to_staff(leader, "Bổ sung hình ảnh")
    assert_conflict(exc, status, "return_to_staff")


def test_ioc_returning_the_approved_result_reopens_the_case():
    case = at(Status.APPROVED)
    with pytest.raises(InvalidInput):  # a reason that cannot be stored is refused, not cut or stored raw
        case.return_by_ioc("Cần\x00 nêu rõ")
    assert case.status == "approved"
    case.return_by_ioc("Cần nêu rõ thời gian hoàn thành")
    assert (case.status, case.ioc_return_reason, case.leader_return_reason, case.staff_subject, case.handover_message) == (
        "returned_by_ioc", "Cần nêu rõ thời gian hoàn thành", "", "canbo", "Cần nêu rõ thời gian hoàn thành")
    with pytest.raises(StateConflict):  # it reopens at the leader, not at staff
        case.draft_result(staff, Answer(ANSWER + " Hoàn thành 15/3."), "d-3")


def test_after_the_iocs_return_the_leader_completes_the_answer_directly():
    case = at(Status.RETURNED_BY_IOC)
    case.approve_result(leader, Answer(ANSWER + " Hoàn thành trước 15/3.", False, date(2025, 3, 15)), "Đã bổ sung thời gian")
    assert (case.status, case.edited_by_leader, case.answer_finished, case.handover_message) == (
        "approved", True, False, "Đã bổ sung thời gian")
    assert "cam kết hoàn thành xử lý trước ngày 15/03/2025" in case.answer_letter


def test_after_the_iocs_return_the_leader_may_hand_it_back_to_staff():
    case = at(Status.RETURNED_BY_IOC)
    case.return_to_staff(leader, "Bổ sung ảnh chụp sau khi vá")
    assert (case.status, case.handover_message) == ("returned_to_staff", "Bổ sung ảnh chụp sau khi vá")
    case.draft_result(staff, Answer(ANSWER + " Có ảnh."), "d-3")
    assert case.status == "drafted"


@pytest.mark.parametrize("status", [Status.AWAITING_AGENCY, Status.IN_PROGRESS, Status.DRAFTED, Status.RETURNED_BY_IOC,
                                    Status.RETURN_PROPOSED])
def test_only_an_approved_result_can_come_back_from_the_ioc(status):
    with pytest.raises(StateConflict) as exc:
        at(status).return_by_ioc("Cần bổ sung")
    assert_conflict(exc, status, "return_by_ioc")


@pytest.mark.parametrize("status", list(Status))
def test_a_new_dispatch_round_starts_over_at_the_new_agency(status):
    case = at(status)
    later = datetime(2025, 3, 20, 10, 0, tzinfo=timezone.utc)
    case.open_round("so-xd", "Sở Xây dựng", 2, later, epoch=3)
    assert (case.status, case.lead_agency_id, case.round, case.handling_due, case.epoch) == ("awaiting_agency", "so-xd", 2, later, 3)
    assert (case.lead_unit_id, case.staff_subject, case.draft_id, case.answer_text, case.edited_by_leader) == ("", "", "", "", False)
    assert (case.refused_unit_id, case.former_staff_subject, case.leader_return_reason, case.ioc_return_reason) == ("", "", "", "")
    with pytest.raises(OutOfScope):
        case.assign_unit(coordinator, KCHT)
    case.assign_unit(other_coordinator, XD_QHKT)


def test_an_older_dispatch_round_is_recognised():
    case = at(Status.REFUSED_BY_AGENCY)
    case.open_round("so-xd", "Sở Xây dựng", 2, DUE)
    assert case.is_older_round(1) and not case.is_older_round(2) and not case.is_older_round(3)


def test_who_sees_a_case():
    case = at(Status.IN_PROGRESS)
    assert [u.subject for u in (ioc, coordinator, leader, staff) if case.visible_to(u)] == ["ioc", "sogtvt", "truongphong", "canbo"]
    assert not any(case.visible_to(u) for u in (other_coordinator, other_leader, other_staff))
    assert not new_case().visible_to(leader) and not new_case().visible_to(principal("x", ["staff"], "so-gtvt-kcht"))


# --- staff propose sending the case back up; the leader decides ------------------------------------


def test_staff_propose_sending_the_case_back_and_the_leader_sends_it_to_the_agency():
    case = at(Status.IN_PROGRESS)
    with pytest.raises(InvalidInput):  # a proposal says why
        case.propose_return(staff, "")
    with pytest.raises(OutOfScope):
        case.propose_return(other_staff, "Không thuộc thẩm quyền của phòng")
    case.propose_return(staff, "Tuyến đường do Ban quản lý dự án quản lý")
    assert (case.status, case.return_proposal_reason) == ("return_proposed", "Tuyến đường do Ban quản lý dự án quản lý")
    with pytest.raises(StateConflict):  # the leader decides first
        case.draft_result(staff, Answer(ANSWER), "d-2")
    with pytest.raises(Forbidden):
        case.send_back(staff, "Đồng ý chuyển trả")
    case.send_back(leader, "Đồng ý: đề nghị giao Ban quản lý dự án")
    assert (case.status, case.lead_unit_id, case.staff_subject, case.refused_unit_id, case.unit_refusal_reason) == (
        "awaiting_agency", "", "", "so-gtvt-kcht", "Đồng ý: đề nghị giao Ban quản lý dự án")
    with pytest.raises(StateConflict) as exc:  # the staff member's late step hears what happened
        case.draft_result(staff, Answer(ANSWER), "d-2")
    assert "sent this case back to the lead agency" in exc.value.detail_en
    case.assign_unit(coordinator, GTVT, message="Sở trực tiếp xử lý")
    assert (case.status, case.lead_unit_id, case.handover_message) == ("awaiting_unit_leader", "so-gtvt", "Sở trực tiếp xử lý")


def test_the_leader_keeps_the_case_and_staff_go_on():
    case = at(Status.RETURN_PROPOSED)
    with pytest.raises(InvalidInput):  # declining says why too
        case.keep_case(leader, "")
    with pytest.raises(OutOfScope):
        case.keep_case(other_leader, "Phòng vẫn xử lý")
    case.keep_case(leader, "Phòng vẫn chịu trách nhiệm, phối hợp Ban quản lý dự án")
    assert (case.status, case.staff_subject, case.handover_message) == (
        "in_progress", "canbo", "Phòng vẫn chịu trách nhiệm, phối hợp Ban quản lý dự án")
    case.draft_result(staff, Answer(ANSWER), "d-2")
    assert case.status == "drafted"


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.DRAFTED, Status.APPROVED, Status.RETURNED_BY_IOC])
def test_only_a_proposal_can_be_sent_back_or_kept(status):
    case = at(status)
    for action in ("send_back", "keep_case"):
        with pytest.raises(StateConflict) as exc:
            getattr(case, action)(leader, "Lý do của lãnh đạo")
        assert_conflict(exc, status, action)


@pytest.mark.parametrize("status", [Status.AWAITING_UNIT_LEADER, Status.DRAFTED, Status.APPROVED, Status.RETURN_PROPOSED])
def test_a_proposal_comes_only_from_a_case_in_the_staff_members_hands(status):
    case = at(status)
    user = staff if case.staff_subject else leader
    with pytest.raises((StateConflict, OutOfScope, Forbidden)):
        case.propose_return(user, "Không thuộc thẩm quyền")


# --- hand-over messages ----------------------------------------------------------------------------


def test_every_hand_over_keeps_its_message_and_a_message_that_cannot_be_stored_is_refused():
    case = new_case()
    with pytest.raises(InvalidInput):
        case.assign_unit(coordinator, KCHT, message="Gấp\x00")
    assert case.status == "awaiting_agency"
    case.assign_unit(coordinator, KCHT, message="Đề nghị xử lý trong ngày")
    assert case.handover_message == "Đề nghị xử lý trong ngày"
    case.assign_staff(leader, CANBO, message="Anh kiểm tra hiện trường sáng mai")
    assert case.handover_message == "Anh kiểm tra hiện trường sáng mai"
    case.draft_result(staff, Answer(ANSWER), "d-1", message="Đã có ảnh trước và sau")
    assert case.handover_message == "Đã có ảnh trước và sau"
    case.approve_result(leader, message="Kính chuyển Trung tâm IOC")
    assert case.handover_message == "Kính chuyển Trung tâm IOC"


# --- the answer on the decision's template ----------------------------------------------------------


def test_the_answer_is_written_on_the_decisions_template_for_a_person_or_an_organisation():
    case = at(Status.IN_PROGRESS)
    case.draft_result(staff, Answer(ANSWER), "d-1")
    assert case.answer_letter.startswith("Kính gửi: Quý cá nhân\n\nVấn đề quý cá nhân phản ánh, "
                                         "Phòng Quản lý kết cấu hạ tầng giao thông xin thông báo kết quả xử lý như sau:")
    assert ANSWER in case.answer_letter and case.answer_letter.endswith("Trân trọng./.")
    assert "cam kết" not in case.answer_letter
    org = letter(Answer(ANSWER, False, date(2025, 4, 1)), "organisation", "Phường Đồng Hới")
    assert org.startswith("Kính gửi: Quý tổ chức") and "Chân thành cảm ơn phản ánh của quý tổ chức" in org
    assert "Phường Đồng Hới cam kết hoàn thành xử lý trước ngày 01/04/2025." in org


def test_the_reporter_kind_comes_from_dispatch_and_anything_else_is_a_person():
    case = new_case()
    case.note_report("Ổ gà đường Quang Trung", "organisation", True, False)
    assert (case.title, case.reporter_kind, case.private_result, case.state_secret) == ("Ổ gà đường Quang Trung", "organisation", True, False)
    case.note_report("", "robot", False, True)
    assert (case.reporter_kind, case.state_secret) == ("person", True)


@pytest.mark.parametrize("finished, when, why", [
    (False, None, "not finished"),
    (False, TODAY, "after today"),
    (False, TODAY - timedelta(days=3), "after today"),
    (False, TODAY + timedelta(days=400), "within a year"),
    (True, TODAY + timedelta(days=3), "only when the work is not finished"),
])
def test_an_unfinished_answer_needs_a_committed_date_in_the_coming_year(finished, when, why):
    with pytest.raises(InvalidInput) as exc:
        Answer.write(ANSWER, finished, when, TODAY)
    assert why in exc.value.detail_en and exc.value.detail_vi != exc.value.detail_en
    assert Answer.write(ANSWER, False, TODAY + timedelta(days=20), TODAY).completion_date == date(2025, 4, 1)


def test_every_status_has_a_badge_on_the_work_list_page():
    from services.handling.entrypoints.pages import BADGE_STYLE

    assert set(BADGE_STYLE) == set(Status)


# --- clarification after publication ------------------------------------------------------------


def test_the_reporters_request_for_clarification_reopens_an_approved_case_at_the_unit():
    for status in (Status.IN_PROGRESS, Status.DRAFTED, Status.RETURNED_BY_IOC):
        with pytest.raises(StateConflict):
            at(status).ask_clarification("c-1", "Khi nào thảm lại?", DUE)
    case = at(Status.APPROVED)
    case.ask_clarification("c-1", "Khi nào thảm lại mặt đường?", DUE)
    assert (case.status, case.clarification_question, case.deadline()) == ("clarifying", "Khi nào thảm lại mặt đường?", (Step.CLARIFY, DUE))
    with pytest.raises(OutOfScope):
        case.draft_clarification(other_staff, "Dự kiến thảm lại trong tháng 4.")
    with pytest.raises(InvalidInput):  # the leader writes it when nobody drafted it, not an empty approval
        case.approve_clarification(leader)
    case.draft_clarification(staff, "Dự kiến thảm lại trong tháng 4.")
    assert case.status == "clarification_drafted"
    case.return_clarification(leader, "Nêu rõ ngày cụ thể")
    assert (case.status, case.handover_message) == ("clarifying", "Nêu rõ ngày cụ thể")
    case.draft_clarification(staff, "Sẽ thảm lại mặt đường trước ngày 15/4/2025.")
    case.approve_clarification(leader, message="Kính chuyển Trung tâm IOC")
    assert (case.status, case.clarification_text) == ("approved", "Sẽ thảm lại mặt đường trước ngày 15/4/2025.")


def test_the_leader_may_write_the_clarification_directly():
    case = at(Status.APPROVED)
    case.ask_clarification("c-2", "Khi nào thảm lại?", DUE)
    case.approve_clarification(leader, "Phòng sẽ thảm lại mặt đường trước ngày 15/4/2025.")
    assert (case.status, case.clarification_text) == ("approved", "Phòng sẽ thảm lại mặt đường trước ngày 15/4/2025.")
