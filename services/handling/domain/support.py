"""Support between agencies (step 5): the lead unit asks another agency or unit for help. No I/O here.

The lead unit's leader or the staff member in charge asks; several requests may run at once, each
with its own question, state and deadline. The receiving side (its leader or its agency's
coordinator) accepts and assigns one of its people (5.1), who answers with text and documents (5.2);
or it refuses with a reason. The lead unit sees every answer in the case. Each step also moves the
case's version: support events are the report's events, in the report's order.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from paht.runtime.aggregate import require_state
from paht.runtime.errors import Forbidden, InvalidInput, OutOfScope
from paht.runtime.roles import Role
from paht.runtime.text import Label, clean_optional, clean_text
from services.handling.domain.case import ASSIGNABLE, CandidatePerson, CandidateUnit, Case, Person
from services.handling.domain.status import HANDLED, Status

QUESTION = Label("Question", "Nội dung đề nghị phối hợp")
SUPPORT_ANSWER = Label("Answer", "Nội dung phối hợp, hỗ trợ")
REASON = Label("Reason", "Lý do")
MESSAGE = Label("Message", "Lời nhắn")
MAX_AHEAD = timedelta(days=30)  # a support deadline further away than the whole handling time makes no sense
# While the lead unit holds the case it may ask for help (not once it went to the IOC or back up).
ASKING = tuple(s for s in HANDLED if s is not Status.RETURNED_BY_IOC)
# Who answers for the receiving side at 5.1: its leader, or the coordinator when the request went to an agency.
RECEIVERS = (Role.UNIT_LEADER.value, Role.AGENCY_COORDINATOR.value)


class SupportStatus(str, Enum):
    REQUESTED = "requested"   # waiting for the receiving side to accept (5.1) or refuse
    ACCEPTED = "accepted"     # 5.1 done: one of its people works on it
    ANSWERED = "answered"     # 5.2 done: the lead unit has the answer
    REFUSED = "refused"       # the receiving side refused, with its reason

    @property
    def label(self) -> tuple[str, str]:
        return SUPPORT_TEXT[self]


SUPPORT_TEXT = {
    SupportStatus.REQUESTED: ("Support requested", "Đã gửi đề nghị phối hợp"),
    SupportStatus.ACCEPTED: ("Support accepted, being prepared", "Đã tiếp nhận, đang phối hợp"),
    SupportStatus.ANSWERED: ("Support given", "Đã phối hợp, hỗ trợ"),
    SupportStatus.REFUSED: ("Support refused", "Từ chối phối hợp"),
}


def describe(status: str) -> tuple[str, str]:
    """Where a support request stands, to follow "the support request is …"."""
    return {
        SupportStatus.REQUESTED.value: ("waiting for the receiving side to accept it", "đang chờ cơ quan, đơn vị được đề nghị tiếp nhận"),
        SupportStatus.ACCEPTED.value: ("accepted and being prepared", "đã được tiếp nhận và đang thực hiện"),
        SupportStatus.ANSWERED.value: ("already answered", "đã được trả lời"),
        SupportStatus.REFUSED.value: ("refused", "đã bị từ chối"),
    }[status]


def _conflict(current: str, action: str) -> tuple[str, str]:
    en, vi = describe(current)
    return (f"This is not possible now: the support request is {en}.", f"Không thể thực hiện: đề nghị phối hợp {vi}.")


@dataclass
class SupportRequest:
    id: str
    report_id: str
    requesting_unit_id: str
    requesting_unit_name: str
    requested_by: str
    supporter_org_id: str
    supporter_org_name: str
    question: str
    due_at: datetime
    status: str
    created_at: datetime
    supporter_staff: str = ""
    message: str = ""          # the receiving side's note when it assigned its person
    answer_text: str = ""
    refusal_reason: str = ""
    updated_at: datetime | None = None

    @classmethod
    def ask(cls, id: str, case: Case, user: Person, org: CandidateUnit | None, asked: str, question: str, due_at: datetime,
            now: datetime) -> "SupportRequest":
        """Step 5: the lead unit (its leader, or the staff member in charge) asks another agency or unit for support."""
        in_charge = (user.has(Role.UNIT_LEADER.value) and bool(case.lead_unit_id) and user.org_unit == case.lead_unit_id) or (
            user.has(*ASSIGNABLE) and bool(case.staff_subject) and user.subject == case.staff_subject)
        if not user.has(*ASSIGNABLE):
            raise Forbidden("Only the lead unit's leader or the staff member in charge may ask for support.",
                            "Chỉ lãnh đạo đơn vị chủ trì hoặc cán bộ được giao xử lý được đề nghị phối hợp.",
                            key="error.wrong_role", role=Role.STAFF.value)
        if not in_charge:
            raise OutOfScope("This case is not handled by you or your unit.", "Hồ sơ này không do bạn hoặc đơn vị của bạn xử lý.")
        require_state(case.status, ASKING, "request_support", lambda s: Status(s).phrase)
        if org is None:
            raise InvalidInput(f"Unknown agency or unit '{asked}'.", f"Cơ quan, đơn vị '{asked}' không tồn tại.", field="org_id")
        if org.id == case.lead_unit_id:
            raise InvalidInput("Ask another agency or unit: this one is the lead unit itself.",
                               "Hãy đề nghị cơ quan, đơn vị khác: đây chính là đơn vị chủ trì.", field="org_id")
        if due_at <= now:
            raise InvalidInput("The support deadline must be in the future.", "Thời hạn phối hợp phải sau thời điểm hiện tại.", field="due_at")
        if due_at > now + MAX_AHEAD:
            raise InvalidInput("The support deadline must be within 30 days.", "Thời hạn phối hợp không quá 30 ngày.", field="due_at")
        return cls(id=id, report_id=case.report_id, requesting_unit_id=case.lead_unit_id, requesting_unit_name=case.lead_unit_name,
                   requested_by=user.subject, supporter_org_id=org.id, supporter_org_name=org.name,
                   question=clean_text(question, QUESTION, 10, 4000), due_at=due_at, status=SupportStatus.REQUESTED.value,
                   created_at=now, updated_at=now)

    # --- the receiving side ---------------------------------------------------------------------------

    def _as_receiver(self, user: Person, action: str, *allowed: SupportStatus) -> None:
        if not user.has(*RECEIVERS):
            raise Forbidden("Only the leader (or the coordinator) of the agency or unit asked may do this.",
                            "Chỉ lãnh đạo (hoặc bộ phận điều phối) của cơ quan, đơn vị được đề nghị được thực hiện.",
                            key="error.wrong_role", role=Role.UNIT_LEADER.value)
        if user.org_unit != self.supporter_org_id:
            raise OutOfScope("This support request is addressed to another agency or unit.",
                             "Đề nghị phối hợp này gửi cơ quan, đơn vị khác.")
        require_state(self.status, allowed, action, describe, _conflict)

    def accept(self, user: Person, person: CandidatePerson | None, asked: str, message: str, now: datetime,
               person_unit_ancestors: tuple[str, ...] = ()) -> None:
        """5.1: the receiving side accepts and names who prepares the answer: one of its active people, or of its units
        when the request went to an agency (`person_unit_ancestors`: the ids above that person's unit)."""
        self._as_receiver(user, "accept_support", SupportStatus.REQUESTED)
        if person is None:
            raise InvalidInput(f"No staff account '{asked}' is known in the directory.", f"Không có tài khoản cán bộ '{asked}' trong danh bạ.",
                               field="staff_subject")
        ours = person.org_unit_id == self.supporter_org_id or self.supporter_org_id in person_unit_ancestors
        if not person.active or not ours or not set(person.roles) & set(ASSIGNABLE):
            raise InvalidInput(f"{person.subject} is not an active staff member of {self.supporter_org_id}.",
                               f"{person.subject} không phải cán bộ đang làm việc tại {self.supporter_org_id}.", field="staff_subject")
        self.message = clean_optional(message, MESSAGE, 2000)
        self.supporter_staff, self.status, self.updated_at = person.subject, SupportStatus.ACCEPTED.value, now

    def refuse(self, user: Person, reason: str, now: datetime) -> None:
        """The receiving side finds the request not fitting: it refuses, saying why."""
        self._as_receiver(user, "refuse_support", SupportStatus.REQUESTED)
        self.refusal_reason = clean_text(reason, REASON, 5, 2000)
        self.status, self.updated_at = SupportStatus.REFUSED.value, now

    def answer(self, user: Person, text: str, now: datetime) -> None:
        """5.2: the person assigned gives the lead unit the information, documents and pictures asked for."""
        if not user.has(*ASSIGNABLE):
            raise Forbidden("Only the person assigned to this support request may answer it.",
                            "Chỉ cán bộ được giao thực hiện phối hợp được trả lời.", key="error.wrong_role", role=Role.STAFF.value)
        if not self.supporter_staff or user.subject != self.supporter_staff:
            raise OutOfScope("This support request is not assigned to you.", "Đề nghị phối hợp này không được giao cho bạn.")
        require_state(self.status, (SupportStatus.ACCEPTED,), "answer_support", describe, _conflict)
        self.answer_text = clean_text(text, SUPPORT_ANSWER, 10, 10000)
        self.status, self.updated_at = SupportStatus.ANSWERED.value, now

    # --- who sees it ------------------------------------------------------------------------------------

    def addressed_to(self, user: Person) -> bool:
        """Whether a person is on the receiving side: its leader or coordinator, or the person assigned."""
        return (user.has(*RECEIVERS) and user.org_unit == self.supporter_org_id) or (
            bool(self.supporter_staff) and user.subject == self.supporter_staff)
