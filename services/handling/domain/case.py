"""A case at the lead agency, lead unit and staff: steps 3 to 7 of the procedure. No I/O here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable, Sequence

from paht.runtime.aggregate import Versioned, require_state
from paht.runtime.errors import Forbidden, InvalidInput, OutOfScope, StateConflict
from paht.runtime.roles import Role
from paht.runtime.ratings import Score
from paht.runtime.sla import Standing, Step
from paht.runtime.text import Label, clean_identifier, clean_optional, clean_text
from services.handling.domain import visibility
from services.handling.domain.answer import Answer, letter
from services.handling.domain.status import ANSWER_AT_LEADER, HANDLED, WITH_STAFF, Status, describe
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
MAX_CO_STAFF = 10  # other staff assigned with the one in charge
MIN_REASON, MAX_REASON = 5, 2000
MAX_MESSAGE = 2000
MAX_CLARIFICATION = 10000
CLARIFICATION = Label("Clarification", "Nội dung làm rõ")
WORK_NOTE = Label("Work note", "Nhật ký xử lý")
CLARIFICATION_QUESTION = Label("The reporter's request", "Đề nghị làm rõ của người phản ánh")
REASON = Label("Reason", "Lý do")
MESSAGE = Label("Message", "Lời nhắn")
STAFF_ACCOUNT = Label("Staff account", "Tài khoản cán bộ")
UNIT = Label("Unit", "Đơn vị")


def clean_subject(value: str | None) -> str:
    """Return the account name of a proposed assignee, or raise InvalidInput."""
    return clean_identifier(value, STAFF_ACCOUNT, 100)


def clean_unit_id(value: str | None) -> str:
    """Return the id of a proposed lead unit, or raise InvalidInput."""
    return clean_identifier(value, UNIT, 100)


def check_team_size(count: int) -> None:
    """At most MAX_CO_STAFF other staff with the one in charge (said before anyone is looked up)."""
    if count > MAX_CO_STAFF:
        raise InvalidInput(f"At most {MAX_CO_STAFF} other staff may be assigned with the person in charge.",
                           f"Chỉ được giao thêm tối đa {MAX_CO_STAFF} cán bộ cùng xử lý với người chủ trì.", field="co_staff")


def _reason(text: str | None) -> str:
    return clean_text(text, REASON, MIN_REASON, MAX_REASON)


def _message(text: str | None) -> str:
    """The note that goes with a hand-over (optional where the step itself says what is asked)."""
    return clean_optional(text, MESSAGE, MAX_MESSAGE)


# Which step's clock runs while a case is in each state (dispatch's monitor watches the same clocks).
CLOCK_OF = {
    Status.AWAITING_AGENCY: Step.AGENCY,
    Status.AWAITING_UNIT_LEADER: Step.HANDLING,
    Status.IN_PROGRESS: Step.HANDLING,
    Status.RETURNED_TO_STAFF: Step.HANDLING,
    Status.DRAFTED: Step.APPROVAL,
    Status.RETURNED_BY_IOC: Step.APPROVAL,
    Status.RETURN_PROPOSED: Step.HANDLING,
    Status.CLARIFYING: Step.CLARIFY,
    Status.CLARIFICATION_DRAFTED: Step.CLARIFY,
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
    staff_subject: str = ""          # the staff member in charge
    former_staff_subject: str = ""   # the staff member the case was taken from: their late actions get 409
    co_staff: tuple[str, ...] = ()   # other staff of the unit the leader assigned with them: they see it and keep the work log
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
    # what dispatch said of the report (no personal data): the queue's title, how the answer addresses the reporter,
    # and the confidentiality that decides who sees the case's content
    title: str = ""
    reporter_kind: str = "person"
    private_result: bool = False
    state_secret: bool = False
    handover_message: str = ""            # the note of the last hand-over, for whoever has the case now
    return_proposal_reason: str = ""      # step 6: why staff propose sending the case back up
    answer_finished: bool = True          # the answer reports work done (else: the date the unit commits to)
    completion_date: date | None = None
    answer_letter: str = ""               # the answer on the decision's template, as the reporter will read it
    # after publication, the reporter's request for clarification and the lead unit's answer (1 working day)
    clarification_id: str = ""
    clarification_question: str = ""
    clarification_text: str = ""
    clarification_due: datetime | None = None
    # what the report says, as accepted at step 1 (from dispatch; no reporter's contact): what the people handling it read
    tracking_code: str = ""
    description: str = ""
    address_text: str = ""
    lat: float | None = None
    lon: float | None = None
    media: list = field(default_factory=list)  # [{id, media_type, url, ...}]: its files at intake, by their staff addresses
    # after publication, the reporter's rating of the answer (paht.runtime.ratings.Score value) and their comment
    reporter_rating: str = ""
    reporter_rating_comment: str = ""
    rated_at: datetime | None = None

    def deadline(self) -> tuple[Step | None, datetime | None]:
        """Return the step whose clock runs now and its deadline (None once the case is with the IOC or back at step 2)."""
        step = CLOCK_OF.get(Status(self.status)) if self.status in STATUS_VALUES else None
        due = {Step.AGENCY: self.agency_due, Step.HANDLING: self.handling_due, Step.APPROVAL: self.approval_due,
               Step.CLARIFY: self.clarification_due}.get(step)
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

    def _as_team_member(self, user: Person, action: str, *allowed: Status) -> None:
        self._guard(user, action, ASSIGNABLE, allowed,
                    in_charge=self.on_team,
                    lost=self._reassigned,
                    refusal=("Only the staff assigned to this case may do this.", "Chỉ cán bộ được giao xử lý hồ sơ được thực hiện."),
                    out_of_scope=("This case is not assigned to you.", "Hồ sơ này không được giao cho bạn."))

    def on_team(self, user: Person) -> bool:
        """Whether the person is one of the staff assigned to the case: the one in charge or another."""
        return bool(user.subject) and (user.subject == self.staff_subject or user.subject in self.co_staff)

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
        if self.status == Status.AWAITING_AGENCY.value and self.refused_unit_id:
            return ("The unit leader has sent this case back to the lead agency.",
                    "Lãnh đạo đơn vị đã chuyển trả hồ sơ này lại cơ quan đầu mối.")
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
        self.co_staff = ()
        self.draft_id = self.answer_text = self.answer_letter = ""
        self.answer_finished, self.completion_date = True, None
        self.edited_by_leader = False
        self.agency_refusal_reason = self.unit_refusal_reason = ""
        self.leader_return_reason = self.ioc_return_reason = self.return_proposal_reason = ""
        self.handover_message = ""
        self.status = Status.AWAITING_AGENCY.value

    def note_report(self, title: str, reporter_kind: str, private_result: bool, state_secret: bool) -> None:
        """Keep what dispatch said of the report: its title, how to address the reporter, its confidentiality."""
        self.title = (title or "").strip()[:300]
        self.reporter_kind = reporter_kind if reporter_kind in ("person", "organisation") else "person"
        self.private_result, self.state_secret = bool(private_result), bool(state_secret)

    def note_content(self, tracking_code: str, description: str, address_text: str, place: tuple[float, float] | None,
                     media: list[dict]) -> None:
        """Keep what the report says (as dispatch carried it from step 1): the people handling it read it on the case. An
        event from before dispatch carried it says nothing: what the case knows stays."""
        if not (tracking_code or description or media):
            return
        self.tracking_code, self.description = (tracking_code or "")[:20], description or ""
        self.address_text = (address_text or "")[:300]
        self.lat, self.lon = place if place else (None, None)
        self.media = [m for m in media if m.get("id")]

    @property
    def photos(self) -> list[dict]:
        return [m for m in self.media if str(m.get("media_type", "")).startswith("image/")]

    @property
    def videos(self) -> list[dict]:
        return [m for m in self.media if str(m.get("media_type", "")).startswith("video/")]

    def assign_unit(self, user: Person, unit: CandidateUnit | None, asked: str = "", message: str = "") -> None:
        """Step 3: the lead agency accepts and names its lead unit (itself when it handles directly), with a note."""
        self._as_coordinator(user, "assign_unit", Status.AWAITING_AGENCY)
        note = _message(message)
        if unit is None:
            raise InvalidInput(f"Unknown unit '{asked}'.", f"Đơn vị '{asked}' không tồn tại.")
        if unit.id != self.lead_agency_id and self.lead_agency_id not in unit.ancestor_ids:
            raise InvalidInput(
                f"Unit {unit.id} is not part of the lead agency {self.lead_agency_id}.",
                f"Đơn vị {unit.id} không thuộc cơ quan chủ trì {self.lead_agency_id}.",
            )
        self.lead_unit_id, self.lead_unit_name = unit.id, unit.name
        self.former_staff_subject = ""
        self.handover_message = note
        self.status = Status.AWAITING_UNIT_LEADER.value

    def recall(self, to_node: str) -> bool:
        """Federation: the province dispatched the report again, to an agency of another node (or recalled it from this
        one); nothing more is done here. Return False when it was already taken back."""
        if self.status == Status.RECALLED.value:
            return False
        self.status = Status.RECALLED.value
        self.handover_message = to_node
        return True

    def refuse_by_agency(self, user: Person, reason: str) -> None:
        """Step 3: the lead agency refuses with a reason; the IOC dispatches again (step 2)."""
        self._as_coordinator(user, "refuse_by_agency", Status.AWAITING_AGENCY)
        self.agency_refusal_reason = self.handover_message = _reason(reason)
        self.status = Status.REFUSED_BY_AGENCY.value

    def assign_staff(self, user: Person, person: CandidatePerson | None, asked: str = "", message: str = "",
                     team: Sequence[tuple[str, CandidatePerson | None]] = ()) -> None:
        """Step 4: the unit leader accepts and names who handles the case — one in charge, and any other staff of the
        unit with them (`team`: (asked, person) pairs) — with a note; later, until approval, re-assigns it.

        Re-assigning the person in charge withdraws a draft waiting for approval: the leader approves only what the
        person now in charge reported, so the case goes back to in progress and the new person reports the result
        again (the withdrawn text stays in answer_text as a starting point). Changing only the others keeps the draft
        where it is. Return reasons stay.
        """
        self._as_unit_leader(user, "assign_staff", Status.AWAITING_UNIT_LEADER, *HANDLED)
        self._check_assignee(person, asked)
        others = self._check_team(person, team)
        note = _message(message)
        if person.subject == self.staff_subject:
            if others == self.co_staff:
                require_state(self.status, (), "assign_staff", describe, lambda current, action: (
                    f"This case is already assigned to {person.subject}.", f"Hồ sơ này đã được giao cho {person.subject}."))
            self.co_staff = others  # the same person in charge, other helpers: the case stays where it is
            self.handover_message = note
            return
        if self.staff_subject:
            self.former_staff_subject = self.staff_subject
        self.staff_subject = person.subject
        self.co_staff = others
        self.draft_id = ""
        self.edited_by_leader = False
        self.return_proposal_reason = ""
        self.handover_message = note
        self.status = Status.IN_PROGRESS.value

    def _check_team(self, in_charge: CandidatePerson, team: Sequence[tuple[str, CandidatePerson | None]]) -> tuple[str, ...]:
        """The other staff assigned with the person in charge: each assignable, named once, at most MAX_CO_STAFF."""
        check_team_size(len(team))
        others: list[str] = []
        for asked, person in team:
            self._check_assignee(person, asked)
            if person.subject == in_charge.subject:
                continue  # named twice: they are in charge
            if person.subject not in others:
                others.append(person.subject)
        return tuple(others)

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
        self.unit_refusal_reason = self.handover_message = _reason(reason)
        self.refused_unit_id = self.lead_unit_id
        self.lead_unit_id = self.lead_unit_name = ""
        self.status = Status.AWAITING_AGENCY.value

    def draft_result(self, user: Person, answer: Answer, draft_id: str, message: str = "") -> None:
        """Step 6: the assigned staff member reports the result to the leader, with the draft answer on the template."""
        self._as_assignee(user, "draft_result", *WITH_STAFF)
        note = _message(message)
        self._set_answer(answer)
        self.draft_id = draft_id
        self.edited_by_leader = False
        self.handover_message = note
        self.status = Status.DRAFTED.value

    def _set_answer(self, answer: Answer) -> None:
        self.answer_text, self.answer_finished, self.completion_date = answer.body, answer.finished, answer.completion_date
        self.answer_letter = letter(answer, self.reporter_kind, self.lead_unit_name)

    @property
    def answer(self) -> Answer:
        return Answer(self.answer_text, self.answer_finished, self.completion_date)

    def approve_result(self, user: Person, edited: Answer | None = None, message: str = "") -> None:
        """Step 7: the unit leader approves the answer, completing or editing it if they wish; it goes to the IOC.
        The same when the IOC returned the approved answer (step 8): the leader completes it directly."""
        self._as_unit_leader(user, "approve_result", *ANSWER_AT_LEADER)
        note = _message(message)
        if edited is not None and edited != self.answer:
            self._set_answer(edited)
            self.edited_by_leader = True
        self.handover_message = note
        self.status = Status.APPROVED.value

    def return_to_staff(self, user: Person, reason: str) -> None:
        """Step 7 (or after the IOC's return): the unit leader hands the answer back to the staff member to complete."""
        self._as_unit_leader(user, "return_to_staff", *ANSWER_AT_LEADER)
        if not self.staff_subject:
            require_state(self.status, (), "return_to_staff", describe, lambda current, action: (
                "No staff member holds this case: assign one instead.", "Chưa có cán bộ xử lý hồ sơ này: hãy giao cán bộ."))
        self.leader_return_reason = self.handover_message = _reason(reason)
        self.status = Status.RETURNED_TO_STAFF.value

    def log_work(self, user: Person, text: str) -> str:
        """Step 6: a staff member of the case (in charge or with them) notes what was done (a visit, a measurement, a call); the case's state
        does not change. Return the note as stored."""
        self._as_team_member(user, "log_work", *WITH_STAFF)
        return clean_text(text, WORK_NOTE, 5, 4000)

    def propose_return(self, user: Person, reason: str) -> None:
        """Step 6: staff find the case is not their unit's (or needs others): they propose sending it back up."""
        self._as_assignee(user, "propose_return", *WITH_STAFF)
        self.return_proposal_reason = self.handover_message = _reason(reason)
        self.status = Status.RETURN_PROPOSED.value

    def send_back(self, user: Person, reason: str) -> None:
        """The unit leader agrees with staff's proposal: the case goes back to the lead agency to be re-distributed."""
        self._as_unit_leader(user, "send_back", Status.RETURN_PROPOSED)
        self.unit_refusal_reason = self.handover_message = _reason(reason)
        self.refused_unit_id = self.lead_unit_id
        self.former_staff_subject, self.staff_subject = self.staff_subject, ""
        self.co_staff = ()
        self.lead_unit_id = self.lead_unit_name = ""
        self.draft_id = ""
        self.status = Status.AWAITING_AGENCY.value

    def keep_case(self, user: Person, reason: str) -> None:
        """The unit leader declines staff's proposal: the staff member goes on handling the case (with the leader's why)."""
        self._as_unit_leader(user, "keep_case", Status.RETURN_PROPOSED)
        self.handover_message = _reason(reason)
        self.status = Status.IN_PROGRESS.value

    # --- clarification after publication ---------------------------------------------------------------

    def ask_clarification(self, clarification_id: str, question: str, due: datetime | None) -> None:
        """The reporter asked the lead unit to clarify its published answer: the case reopens at the unit (1 working day),
        with its staff member when it has one, else with its leader."""
        require_state(self.status, (Status.APPROVED,), "ask_clarification", describe)
        self.clarification_id, self.clarification_due = clarification_id, due
        self.clarification_question = self.handover_message = clean_text(question, CLARIFICATION_QUESTION, 1, 4000)
        self.clarification_text = ""
        self.status = Status.CLARIFYING.value

    def draft_clarification(self, user: Person, text: str, message: str = "") -> None:
        """The staff member in charge writes the clarification for the leader to approve."""
        self._as_assignee(user, "draft_clarification", Status.CLARIFYING)
        note = _message(message)
        self.clarification_text = clean_text(text, CLARIFICATION, 10, MAX_CLARIFICATION)
        self.handover_message = note
        self.status = Status.CLARIFICATION_DRAFTED.value

    def approve_clarification(self, user: Person, text: str | None = None, message: str = "") -> None:
        """The unit leader approves the clarification (edited, or written by them when nobody drafted it); it goes to
        the IOC, as an answer does."""
        self._as_unit_leader(user, "approve_clarification", Status.CLARIFYING, Status.CLARIFICATION_DRAFTED)
        note = _message(message)
        if text is not None:
            self.clarification_text = clean_text(text, CLARIFICATION, 10, MAX_CLARIFICATION)
        elif not self.clarification_text:
            raise InvalidInput("Write the clarification: nobody has drafted it yet.", "Hãy nhập nội dung làm rõ: chưa có dự thảo.",
                               field="text")
        self.handover_message = note
        self.status = Status.APPROVED.value

    def return_clarification(self, user: Person, reason: str) -> None:
        """The unit leader sends the drafted clarification back to the staff member, saying why."""
        self._as_unit_leader(user, "return_clarification", Status.CLARIFICATION_DRAFTED)
        self.handover_message = _reason(reason)
        self.status = Status.CLARIFYING.value

    def clarification_back_from_ioc(self, clarification_id: str, reason: str) -> None:
        """The IOC sent the approved clarification back: it is with the leader again, drafted, who approves it once
        completed or hands it back to staff (the IOC's reason is the hand-over's message)."""
        require_state(self.status, (Status.APPROVED,), "clarification_back_from_ioc", describe)
        if clarification_id != self.clarification_id:
            raise StateConflict("The IOC sent back a clarification this case is not giving.",
                                "Trung tâm IOC trả lại một nội dung làm rõ không thuộc hồ sơ này.",
                                current=self.status, action="clarification_back_from_ioc")
        self.handover_message = _reason(reason)
        self.status = Status.CLARIFICATION_DRAFTED.value

    def take_rating(self, score: Score, comment: str, at: datetime) -> None:
        """The reporter rated the published answer (or changed their rating): the lead unit sees it on the case."""
        self.reporter_rating, self.reporter_rating_comment, self.rated_at = score.value, comment, at

    @property
    def rating_label(self) -> Label | None:
        return Score(self.reporter_rating).label if self.reporter_rating else None

    def return_by_ioc(self, reason: str) -> None:
        """Step 8: the IOC returned the approved answer; it reopens at the unit leader, who completes it or hands it back."""
        require_state(self.status, (Status.APPROVED,), "return_by_ioc", describe)
        self.ioc_return_reason = self.handover_message = _reason(reason)
        self.status = Status.RETURNED_BY_IOC.value


# A work list's order: urgent first, then the nearest handling deadline, then the report id (total order).
WORK_ORDER: tuple[tuple[str, bool], ...] = (("urgent", True), ("handling_due", False), ("report_id", False))
