"""Step 5, support between agencies: who may ask, who answers for the receiving side, in which order."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from paht.runtime.errors import Forbidden, InvalidInput, OutOfScope, StateConflict
from services.handling.domain.answer import Answer
from services.handling.domain.case import CandidatePerson, CandidateUnit
from services.handling.domain.status import Status
from services.handling.domain.support import SupportRequest
from tests.support.services import principal
from tests.unit.test_handling_case import CANBO, KCHT, at, coordinator, leader, other_staff, staff

NOW = datetime(2025, 3, 12, 2, 0, tzinfo=timezone.utc)
XD = CandidateUnit("so-xd", "Sở Xây dựng", ("province-quangbinh",))
QHKT = CandidateUnit("so-xd-qhkt", "Phòng Quy hoạch kiến trúc", ("so-xd", "province-quangbinh"))
QUESTION = "Đề nghị cung cấp hồ sơ thiết kế tuyến cống."
xd_coordinator = principal("soxd", ["agency_coordinator"], "so-xd")
qhkt_leader = principal("truongphong-qhkt", ["unit_leader"], "so-xd-qhkt")
qhkt_staff = principal("canbo-qhkt", ["staff"], "so-xd-qhkt")
CANBO_QHKT = CandidatePerson("canbo-qhkt", "Cán bộ QHKT", "so-xd-qhkt", ("staff",), True)


def ask(user=staff, org=QHKT, status=Status.IN_PROGRESS, due=NOW + timedelta(days=2)) -> SupportRequest:
    return SupportRequest.ask("s-1", at(status), user, org, org.id if org else "x", QUESTION, due, NOW)


def test_the_staff_member_in_charge_or_the_lead_units_leader_asks():
    assert ask().status == "requested" and ask(leader).requested_by == "truongphong"
    with pytest.raises(OutOfScope):
        ask(other_staff)
    with pytest.raises(Forbidden):
        ask(coordinator)


@pytest.mark.parametrize("status", [Status.AWAITING_AGENCY, Status.AWAITING_UNIT_LEADER, Status.APPROVED, Status.RETURNED_BY_IOC])
def test_support_is_asked_only_while_the_unit_handles_the_case(status):
    with pytest.raises((StateConflict, OutOfScope)):
        ask(leader, status=status)


@pytest.mark.parametrize("org, due, why", [
    (KCHT, NOW + timedelta(days=1), "lead unit itself"),
    (None, NOW + timedelta(days=1), "Unknown"),
    (QHKT, NOW - timedelta(minutes=1), "future"),
    (QHKT, NOW + timedelta(days=31), "30 days"),
])
def test_a_request_names_another_known_unit_and_a_deadline_within_30_days(org, due, why):
    with pytest.raises(InvalidInput) as exc:
        ask(org=org, due=due)
    assert why in exc.value.detail_en and exc.value.detail_vi


def test_the_receiving_side_accepts_and_its_person_answers():
    req = ask()
    with pytest.raises(OutOfScope):  # another agency's coordinator
        req.accept(coordinator, CANBO_QHKT, "canbo-qhkt", "", NOW)
    with pytest.raises(InvalidInput):  # not one of its people
        req.accept(qhkt_leader, CANBO, "canbo", "", NOW)
    req.accept(qhkt_leader, CANBO_QHKT, "canbo-qhkt", "Gửi trong ngày", NOW)
    assert (req.status, req.supporter_staff, req.message) == ("accepted", "canbo-qhkt", "Gửi trong ngày")
    with pytest.raises(StateConflict):  # accepted: refusing is no longer the answer, and it is not accepted twice
        req.refuse(qhkt_leader, "Không thuộc chức năng", NOW)
    with pytest.raises(OutOfScope):
        req.answer(staff, "Hồ sơ thiết kế gửi kèm theo.", NOW)
    req.answer(qhkt_staff, "Hồ sơ thiết kế gửi kèm theo.", NOW)
    assert (req.status, req.answer_text) == ("answered", "Hồ sơ thiết kế gửi kèm theo.")


def test_an_agencys_coordinator_assigns_someone_of_its_units():
    req = ask(org=XD)
    req.accept(xd_coordinator, CANBO_QHKT, "canbo-qhkt", "", NOW, person_unit_ancestors=("so-xd", "province-quangbinh"))
    assert req.supporter_staff == "canbo-qhkt"
    assert req.addressed_to(xd_coordinator) and req.addressed_to(qhkt_staff) and not req.addressed_to(qhkt_leader)


def test_a_refusal_says_why():
    req = ask()
    with pytest.raises(InvalidInput):
        req.refuse(qhkt_leader, "", NOW)
    req.refuse(qhkt_leader, "Không thuộc chức năng của phòng", NOW)
    assert (req.status, req.refusal_reason) == ("refused", "Không thuộc chức năng của phòng")
    with pytest.raises(OutOfScope):  # nobody was assigned: there is nobody to answer
        req.answer(qhkt_staff, "Hồ sơ thiết kế gửi kèm theo.", NOW)
    with pytest.raises(StateConflict) as exc:
        req.accept(qhkt_leader, CANBO_QHKT, "canbo-qhkt", "", NOW)
    assert "refused" in exc.value.detail_en


def test_support_does_not_change_the_case_itself():
    case = at(Status.IN_PROGRESS)
    SupportRequest.ask("s-2", case, staff, QHKT, "so-xd-qhkt", QUESTION, NOW + timedelta(days=1), NOW)
    case.draft_result(staff, Answer("Đã vá ổ gà trên đường Quang Trung."), "d-1")
    assert case.status == "drafted"


def test_the_case_page_offers_the_agencies_to_ask_by_name_each_with_its_units_never_the_lead_unit():
    from services.handling.adapters.directory import OrgUnitInfo
    from services.handling.entrypoints.pages import supporters_by_agency
    from tests.support.handling import UNITS

    units = [*UNITS, OrgUnitInfo("ioc-tinh", "Trung tâm IOC tỉnh", "province", "ioc"),
             OrgUnitInfo("ward-donghoi-2025", "Phường Đồng Hới", "province-2025", "ward"),  # its province no longer in force
             OrgUnitInfo("so-xd-qhkt-to1", "Tổ quy hoạch 1", "so-xd-qhkt", "unit")]
    groups = [(agency.id, [u.id for u in members]) for agency, members in supporters_by_agency(units, "so-gtvt-kcht")]
    assert groups == [("ward-donghoi-2025", []), ("so-gtvt", ["so-gtvt-thanhtra"]),  # by name; not the lead unit itself
                      ("so-xd", ["so-xd-qhkt", "so-xd-qhkt-to1"])]  # every level under the agency; no province, no IOC
