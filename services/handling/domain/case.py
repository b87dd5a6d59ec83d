"""A case at the lead agency, lead unit and staff: steps 3 to 7 of the procedure. No I/O here."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from paht.runtime.aggregate import Versioned, require_state
from paht.runtime.errors import Forbidden, InvalidInput, OutOfScope
from paht.runtime.roles import Role
from paht.runtime.sla import Standing, Step
from paht.runtime.text import Label, clean_identifier, clean_text
from services.handling.domain import visibility
from services.handling.domain.status import HANDLED, WITH_STAFF, Status, describe
from services.handling.domain.visibility import Person


@dataclass(frozen=True)
class CandidateUnit:
    """A unit proposed as lead unit, with the ids of its ancestors (parent first), as the directory says."""

    id: str
    name: str
    ancestor_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CandidatePerson:
    """A person proposed to handle a case, as the directory says."""

    subject: str
    name: str
    org_unit_id: str
    roles: tuple[str, ...]
    active: bool


# Who may be assigned a case at step 4: a staff member of the lead unit, or its leader in person.
ASSIGNABLE = (Role.STAFF.value, Role.UNIT_LEADER.value)
MIN_REASON, MAX_REASON = 5, 2000
MIN_ANSWER, MAX_ANSWER = 10, 10000
REASON = Label("Reason", "Lý do")
ANSWER = Label("Answer", "Nội dung trả lời")
STAFF_ACCOUNT = Label("Staff account", "Tài khoản cán bộ")
UNIT = Label("Unit", "Đơn vị")


def clean_subject(value: str | None) -> str:
    """Return the account name of a proposed assignee, or raise InvalidInput."""
    return clean_identifier(value, STAFF_ACCOUNT, 100)


def clean_unit_id(value: str | None) -> str:
    """Return the id of a proposed lead unit, or raise InvalidInput."""
    return clean_identifier(value, UNIT, 100)


def _reason(text: str | None) -> str:
    return clean_text(text, REASON, MIN_REASON, MAX_REASON)


# Which step's clock runs while a case is in each state (dispatch's monitor watches the same clocks).
CLOCK_OF = {
    Status.AWAITING_AGENCY: Step.AGENCY,
    Status.AWAITING_UNIT_LEADER: Step.HANDLING,
    Status.IN_PROGRESS: Step.HANDLING,
    Status.RETURNED_TO_STAFF: Step.HANDLING,
    Status.DRAFTED: Step.APPROVAL,
    Status.RETURNED_BY_IOC: Step.APPROVAL,
}
STATUS_VALUES = {s.value for s in Status}


@dataclass
class Case(Versioned):
    report_id: str
    status: str
    lead_agency_id: str
    lead_agency_name: str
    round: int
    handling_due: datetime
    epoch: int = 0
    urgent: bool = False
    lead_unit_id: str = ""
    lead_unit_name: str = ""
    refused_unit_id: str = ""        # the unit that refused at step 4 in this round: its late actions get 409
    staff_subject: str = ""
    former_staff_subject: str = ""   # the staff member the case was taken from: their late actions get 409
    draft_id: str = ""
    answer_text: str = ""
    edited_by_leader: bool = False
    agency_refusal_reason: str = ""  # step 3
    unit_refusal_reason: str = ""    # step 4
    leader_return_reason: str = ""   # step 7: why the leader returned the draft to staff
    ioc_return_reason: str = ""      # step 8: why the IOC returned the approved answer
    updated_at: datetime | None = None
    version: int = 0
    agency_due: datetime | None = None    # step 3: 1 working hour from receipt (from dispatch)
    approval_due: datetime | None = None  # step 7: 1 working day after staff's report (set when staff report)
    sla_warned: str = ""                  # the last clock dispatch's monitor warned about ("<report>:<step>:<n>")

    def deadline(self) -> tuple[Step | None, datetime | None]:
        """Return the step whose clock runs now and its deadline (None once the case is with the IOC or back at step 2)."""
        step = CLOCK_OF.get(Status(self.status)) if self.status in STATUS_VALUES else None
        due = {Step.AGENCY: self.agency_due, Step.HANDLING: self.handling_due, Step.APPROVAL: self.approval_due}.get(step)
        return (step, due) if due is not None else (None, None)

    def standing(self, now: datetime) -> Standing | None:
        """How the running step's deadline stands: overdue past it; due soon once the monitor warned of that step."""
        step, due = self.deadline()
        if due is None:
            return None
        if now > due:
            return Standing.OVERDUE
        warned = self.sla_warned.split(":")
        return Standing.WARNING if len(warned) == 3 and warned[1] == step.value else Standing.ON_TRACK

    @classmethod
    def open(cls, report_id: str, lead_agency_id: str, lead_agency_name: str, round: int, handling_due: datetime,
             epoch: int = 0, urgent: bool = False) -> "Case":
        """Open a case when the IOC dispatches a report to its lead agency (step 2 done)."""
        return cls(report_id, Status.AWAITING_AGENCY.value, lead_agency_id, lead_agency_name, round, handling_due, epoch, urgent)

    def visible_to(self, user: Person) -> bool:
        """Say whether a person may see this case (the one rule: domain/visibility.py)."""
        return visibility.sees(user, self)

    # --- guards -------------------------------------------------------------------------------
    #
    # Order: the role first (nobody else gets further: 403), then "in charge now" (then the state
    # decides: 409 in the procedure's words), then "was in charge until a moment ago" (a race lost to
    # a refusal or re-assignment: 409 saying what happened), and anyone else is out of scope (403).

    def _guard(self, user: Person, action: str, roles: tuple[str, ...], allowed: tuple[Status, ...],
               in_charge: Callable[[Person], bool], lost: Callable[[Person], tuple[str, str] | None],
               refusal: tuple[str, str], out_of_scope: tuple[str, str]) -> None:
        if not user.has(*roles):
            raise Forbidden(refusal[0], refusal[1], key="error.wrong_role", role=roles[0])
        if in_charge(user):
            require_state(self.status, allowed, action, describe, self._explain)
            return
        what_happened = lost(user)
        if what_happened is not None:
            require_state(self.status, (), action, describe, lambda current, act: what_happened)
        raise OutOfScope(*out_of_scope)

    def _explain(self, current: str, action: str) -> tuple[str, str] | None:
        """Say what happened when a step of the person in charge comes too late."""
        if action == "refuse_by_unit" and current in {s.value for s in HANDLED}:
            return ("The unit leader has already accepted this case and assigned a staff member; the unit can no longer refuse it.",
                    "Lãnh đạo đơn vị đã tiếp nhận hồ sơ và giao cán bộ xử lý; đơn vị không thể từ chối nữa.")
        return None

    def _as_coordinator(self, user: Person, action: str, *allowed: Status) -> None:
        self._guard(user, action, (Role.AGENCY_COORDINATOR.value,), allowed,
                    in_charge=lambda u: u.org_unit == self.lead_agency_id,
                    lost=lambda u: None,
                    refusal=("Only the lead agency's coordinator may do this.", "Chỉ bộ phận điều phối của cơ quan chủ trì được thực hiện."),
                    out_of_scope=("This case belongs to another agency.", "Hồ sơ này thuộc cơ quan khác."))

    def _as_unit_leader(self, user: Person, action: str, *allowed: Status) -> None:
        self._guard(user, action, (Role.UNIT_LEADER.value,), allowed,
                    in_charge=lambda u: bool(self.lead_unit_id) and u.org_unit == self.lead_unit_id,
                    lost=self._unit_refused,
                    refusal=("Only the lead unit's leader may do this.", "Chỉ lãnh đạo đơn vị chủ trì được thực hiện."),
                    out_of_scope=("This case is not assigned to your unit.", "Hồ sơ này không được giao cho đơn vị của bạn."))

    def _as_assignee(self, user: Person, action: str, *allowed: Status) -> None:
        self._guard(user, action, ASSIGNABLE, allowed,
                    in_charge=lambda u: bool(self.staff_subject) and u.subject == self.staff_subject,
                    lost=self._reassigned,
                    refusal=("Only the assigned staff member may do this.", "Chỉ cán bộ được giao xử lý được thực hiện."),
                    out_of_scope=("This case is not assigned to you.", "Hồ sơ này không được giao cho bạn."))

    def _unit_refused(self, user: Person) -> tuple[str, str] | None:
        if not self.refused_unit_id or user.org_unit != self.refused_unit_id:
            return None
        if self.status == Status.AWAITING_AGENCY.value:
            return ("The lead unit has already refused this case; it is back with the lead agency.",
                    "Đơn vị chủ trì đã từ chối hồ sơ này; hồ sơ đã được chuyển lại cơ quan chủ trì.")
        en, vi = describe(self.status)
        return (f"The lead unit has already refused this case; the report is now {en}.",
                f"Đơn vị chủ trì đã từ chối hồ sơ này; hiện phản ánh {vi}.")

    def _reassigned(self, user: Person) -> tuple[str, str] | None:
        if not self.former_staff_subject or user.subject != self.former_staff_subject:
            return None
        return ("The unit leader has re-assigned this case to another staff member.",
                "Lãnh đạo đơn vị đã giao hồ sơ này cho cán bộ khác xử lý.")

    # --- transitions --------------------------------------------------------------------------

    def is_older_round(self, round: int) -> bool:
        """Say whether a dispatch round is older than the one the case is in."""
        return round < self.round

    def open_round(self, lead_agency_id: str, lead_agency_name: str, round: int, handling_due: datetime, epoch: int = 0,
                   urgent: bool | None = None) -> None:
        """Start a dispatch round again (re-dispatch): forget the unit, staff and draft of the last one."""
        self.lead_agency_id, self.lead_agency_name = lead_agency_id, lead_agency_name
        self.round, self.handling_due, self.epoch = round, handling_due, epoch
        if urgent is not None:
            self.urgent = urgent
        self.lead_unit_id = self.lead_unit_name = self.refused_unit_id = ""
        self.staff_subject = self.former_staff_subject = ""
        self.draft_id = self.answer_text = ""
        self.edited_by_leader = False
        self.agency_refusal_reason = self.unit_refusal_reason = ""
        self.leader_return_reason = self.ioc_return_reason = ""
        self.status = Status.AWAITING_AGENCY.value

    def assign_unit(self, user: Person, unit: CandidateUnit | None, asked: str = "") -> None:
        """Step 3: the lead agency accepts and names its lead unit (itself when it handles directly)."""
        self._as_coordinator(user, "assign_unit", Status.AWAITING_AGENCY)
        if unit is None:
            raise InvalidInput(f"Unknown unit '{asked}'.", f"Đơn vị '{asked}' không tồn tại.")
        if unit.id != self.lead_agency_id and self.lead_agency_id not in unit.ancestor_ids:
            raise InvalidInput(
                f"Unit {unit.id} is not part of the lead agency {self.lead_agency_id}.",
                f"Đơn vị {unit.id} không thuộc cơ quan chủ trì {self.lead_agency_id}.",
            )
        self.lead_unit_id, self.lead_unit_name = unit.id, unit.name
        self.former_staff_subject = ""
        self.status = Status.AWAITING_UNIT_LEADER.value

    def refuse_by_agency(self, user: Person, reason: str) -> None:
        """Step 3: the lead agency refuses with a reason; the IOC dispatches again (step 2)."""
        self._as_coordinator(user, "refuse_by_agency", Status.AWAITING_AGENCY)
        self.agency_refusal_reason = _reason(reason)
        self.status = Status.REFUSED_BY_AGENCY.value

    def assign_staff(self, user: Person, person: CandidatePerson | None, asked: str = "") -> None:
        """Step 4: the unit leader accepts and names who handles the case; later, until approval, re-assigns it.

        Re-assigning withdraws a draft waiting for approval: the leader approves only what the person
        now in charge reported, so the case goes back to in progress and the new person reports the
        result again (the withdrawn text stays in answer_text as a starting point). Return reasons stay.
        """
        self._as_unit_leader(user, "assign_staff", Status.AWAITING_UNIT_LEADER, *HANDLED)
        self._check_assignee(person, asked)
        if person.subject == self.staff_subject:
            require_state(self.status, (), "assign_staff", describe, lambda current, action: (
                f"This case is already assigned to {person.subject}.", f"Hồ sơ này đã được giao cho {person.subject}."))
        if self.staff_subject:
            self.former_staff_subject = self.staff_subject
        self.staff_subject = person.subject
        self.draft_id = ""
        self.edited_by_leader = False
        self.status = Status.IN_PROGRESS.value

    def _check_assignee(self, person: CandidatePerson | None, asked: str) -> None:
        problem = self.why_not_assignable(person, asked)
        if problem is not None:
            raise InvalidInput(*problem)

    def why_not_assignable(self, person: CandidatePerson | None, asked: str = "") -> tuple[str, str] | None:
        """Say (en, vi) why a person may not handle this case, or None: only an active staff member
        (or the leader) of the lead unit in force may."""
        if person is None:
            return (f"No staff account '{asked}' is known in the directory.", f"Không có tài khoản cán bộ '{asked}' trong danh bạ.")
        if not person.active:
            return (f"{person.subject} is no longer active and cannot be assigned a case.",
                    f"Tài khoản {person.subject} không còn hoạt động nên không thể được giao hồ sơ.")
        if not self.lead_unit_id or person.org_unit_id != self.lead_unit_id:
            return (f"{person.subject} is not a member of the lead unit {self.lead_unit_id or '—'}.",
                    f"{person.subject} không thuộc đơn vị chủ trì {self.lead_unit_id or '—'}.")
        if not set(person.roles) & set(ASSIGNABLE):
            return (f"{person.subject} is neither a staff member nor the leader of the unit.",
                    f"{person.subject} không phải cán bộ hoặc lãnh đạo của đơn vị.")
        return None

    def refuse_by_unit(self, user: Person, reason: str) -> None:
        """Step 4: the lead unit refuses with a reason; the lead agency chooses again (step 3)."""
        self._as_unit_leader(user, "refuse_by_unit", Status.AWAITING_UNIT_LEADER)
        self.unit_refusal_reason = _reason(reason)
        self.refused_unit_id = self.lead_unit_id
        self.lead_unit_id = self.lead_unit_name = ""
        self.status = Status.AWAITING_AGENCY.value

    def draft_result(self, user: Person, answer_text: str, draft_id: str) -> None:
        """Step 6: the assigned staff member reports the result with a draft answer."""
        self._as_assignee(user, "draft_result", *WITH_STAFF)
        self.answer_text = clean_text(answer_text, ANSWER, MIN_ANSWER, MAX_ANSWER)
        self.draft_id = draft_id
        self.edited_by_leader = False
        self.status = Status.DRAFTED.value

    def approve_result(self, user: Person, edited_text: str | None = None) -> None:
        """Step 7: the unit leader approves the draft (editing it if they wish); it goes to the IOC."""
        self._as_unit_leader(user, "approve_result", Status.DRAFTED)
        if edited_text is not None:
            text = clean_text(edited_text, ANSWER, MIN_ANSWER, MAX_ANSWER)
            if text != self.answer_text:
                self.answer_text, self.edited_by_leader = text, True
        self.status = Status.APPROVED.value

    def return_to_staff(self, user: Person, reason: str) -> None:
        """Step 7: the unit leader returns the draft to the staff member to complete."""
        self._as_unit_leader(user, "return_to_staff", Status.DRAFTED)
        self.leader_return_reason = _reason(reason)
        self.status = Status.RETURNED_TO_STAFF.value

    def return_by_ioc(self, reason: str) -> None:
        """Step 8: the IOC returned the approved answer; the staff member completes it again."""
        require_state(self.status, (Status.APPROVED,), "return_by_ioc", describe)
        self.ioc_return_reason = _reason(reason)
        self.status = Status.RETURNED_BY_IOC.value


# A work list's order: urgent first, then the nearest handling deadline, then the report id (total order).
WORK_ORDER: tuple[tuple[str, bool], ...] = (("urgent", True), ("handling_due", False), ("report_id", False))
