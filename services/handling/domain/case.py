"""A case at the lead agency, lead unit and staff: steps 3 to 7 of the procedure. No I/O here."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from paht.runtime.errors import Forbidden, InvalidInput, OutOfScope, StateConflict


class Status(str, Enum):
    AWAITING_AGENCY = "awaiting_agency"            # step 3: the agency picks a lead unit
    AWAITING_UNIT_LEADER = "awaiting_unit_leader"  # step 4: the unit leader picks staff
    IN_PROGRESS = "in_progress"                    # step 6: staff handle it
    DRAFTED = "drafted"                            # step 7: the leader approves or returns
    APPROVED = "approved"                          # sent to the IOC for step 8
    REFUSED_BY_AGENCY = "refused_by_agency"        # back to the IOC: step 2 again


class Person(Protocol):
    """The signed-in person as the domain needs them (a runtime Principal fits)."""

    subject: str
    org_unit: str

    def has(self, *roles: str) -> bool: ...


@dataclass(frozen=True)
class CandidateUnit:
    """A unit proposed as lead unit, with the ids of its ancestors (parent first), as the directory says."""

    id: str
    name: str
    ancestor_ids: tuple[str, ...] = ()


IOC_ROLES = ("ioc_operator", "ioc_admin")
MIN_REASON, MAX_REASON = 5, 2000
MIN_ANSWER, MAX_ANSWER = 10, 10000


def clean_text(value: str | None, field: str, field_vi: str, min_len: int, max_len: int) -> str:
    """Return the text trimmed and NFC-normalised, or raise if it is too short or too long."""
    text = unicodedata.normalize("NFC", (value or "").strip())
    if len(text) < min_len:
        raise InvalidInput(f"{field} is too short (at least {min_len} characters).", f"{field_vi} quá ngắn (tối thiểu {min_len} ký tự).")
    if len(text) > max_len:
        raise InvalidInput(f"{field} is too long (at most {max_len} characters).", f"{field_vi} quá dài (tối đa {max_len} ký tự).")
    return text


@dataclass
class Case:
    report_id: str
    status: str
    lead_agency_id: str
    lead_agency_name: str
    round: int
    handling_due: datetime | None = None
    epoch: int = 0
    lead_unit_id: str = ""
    lead_unit_name: str = ""
    staff_subject: str = ""
    draft_id: str = ""
    answer_text: str = ""
    edited_by_leader: bool = False
    agency_refusal_reason: str = ""
    unit_refusal_reason: str = ""
    return_reason: str = ""
    updated_at: datetime | None = None
    version: int = 0

    @classmethod
    def open(cls, report_id: str, lead_agency_id: str, lead_agency_name: str, round: int, handling_due: datetime | None, epoch: int = 0) -> "Case":
        """Open a case when the IOC dispatches a report to its lead agency (step 2 done)."""
        return cls(report_id, Status.AWAITING_AGENCY.value, lead_agency_id, lead_agency_name, round, handling_due, epoch)

    def next_version(self) -> int:
        self.version += 1
        return self.version

    def visible_to(self, user: Person) -> bool:
        """Say whether a person may see this case: the IOC all, others only their own."""
        return (
            user.has(*IOC_ROLES)
            or (user.has("agency_coordinator") and user.org_unit == self.lead_agency_id)
            or (user.has("unit_leader") and bool(self.lead_unit_id) and user.org_unit == self.lead_unit_id)
            or (user.has("staff") and bool(self.staff_subject) and user.subject == self.staff_subject)
        )

    # --- guards -------------------------------------------------------------------------------

    def _require(self, action: str, *allowed: Status) -> None:
        if self.status not in {s.value for s in allowed}:
            raise StateConflict(
                f"Cannot {action.replace('_', ' ')} a case that is {self.status}.",
                f"Không thể thực hiện '{action}' với hồ sơ đang ở trạng thái '{self.status}'.",
                current=self.status,
                action=action,
            )

    def _as_coordinator(self, user: Person) -> None:
        if not user.has("agency_coordinator"):
            raise Forbidden("Only the lead agency's coordinator may do this.", "Chỉ bộ phận điều phối của cơ quan chủ trì được thực hiện.", key="error.wrong_role", role="agency_coordinator")
        if user.org_unit != self.lead_agency_id:
            raise OutOfScope("This case belongs to another agency.", "Hồ sơ này thuộc cơ quan khác.")

    def _as_unit_leader(self, user: Person) -> None:
        if not user.has("unit_leader"):
            raise Forbidden("Only the lead unit's leader may do this.", "Chỉ lãnh đạo đơn vị chủ trì được thực hiện.", key="error.wrong_role", role="unit_leader")
        if not self.lead_unit_id or user.org_unit != self.lead_unit_id:
            raise OutOfScope("This case is not assigned to your unit.", "Hồ sơ này không được giao cho đơn vị của bạn.")

    def _as_assigned_staff(self, user: Person) -> None:
        if not user.has("staff"):
            raise Forbidden("Only the assigned staff member may do this.", "Chỉ cán bộ được giao xử lý được thực hiện.", key="error.wrong_role", role="staff")
        if not self.staff_subject or user.subject != self.staff_subject:
            raise OutOfScope("This case is not assigned to you.", "Hồ sơ này không được giao cho bạn.")

    # --- transitions --------------------------------------------------------------------------

    def open_round(self, lead_agency_id: str, lead_agency_name: str, round: int, handling_due: datetime | None, epoch: int = 0) -> None:
        """Start a dispatch round again (re-dispatch): forget the unit, staff and draft of the last one."""
        if round < self.round:
            raise StateConflict(
                f"Dispatch round {round} is older than the case's round {self.round}.",
                f"Lượt chuyển {round} cũ hơn lượt hiện tại {self.round} của hồ sơ.",
                current=self.status,
                action="open_round",
            )
        self.lead_agency_id, self.lead_agency_name = lead_agency_id, lead_agency_name
        self.round, self.handling_due, self.epoch = round, handling_due, epoch
        self.lead_unit_id = self.lead_unit_name = self.staff_subject = ""
        self.draft_id = self.answer_text = ""
        self.edited_by_leader = False
        self.agency_refusal_reason = self.unit_refusal_reason = self.return_reason = ""
        self.status = Status.AWAITING_AGENCY.value

    def assign_unit(self, user: Person, unit: CandidateUnit) -> None:
        """Step 3: the lead agency accepts and names its lead unit (itself when it handles directly)."""
        self._as_coordinator(user)
        self._require("assign_unit", Status.AWAITING_AGENCY)
        if unit.id != self.lead_agency_id and self.lead_agency_id not in unit.ancestor_ids:
            raise InvalidInput(
                f"Unit {unit.id} is not part of the lead agency {self.lead_agency_id}.",
                f"Đơn vị {unit.id} không thuộc cơ quan chủ trì {self.lead_agency_id}.",
            )
        self.lead_unit_id, self.lead_unit_name = unit.id, unit.name
        self.status = Status.AWAITING_UNIT_LEADER.value

    def refuse_by_agency(self, user: Person, reason: str) -> None:
        """Step 3: the lead agency refuses with a reason; the IOC dispatches again (step 2)."""
        self._as_coordinator(user)
        self._require("refuse_by_agency", Status.AWAITING_AGENCY)
        self.agency_refusal_reason = clean_text(reason, "Reason", "Lý do", MIN_REASON, MAX_REASON)
        self.status = Status.REFUSED_BY_AGENCY.value

    def assign_staff(self, user: Person, staff_subject: str) -> None:
        """Step 4: the unit leader accepts and names the staff member who handles the case."""
        self._as_unit_leader(user)
        self._require("assign_staff", Status.AWAITING_UNIT_LEADER)
        self.staff_subject = clean_text(staff_subject, "Staff account", "Tài khoản cán bộ", 1, 100)
        self.status = Status.IN_PROGRESS.value

    def refuse_by_unit(self, user: Person, reason: str) -> None:
        """Step 4: the lead unit refuses with a reason; the lead agency chooses again (step 3)."""
        self._as_unit_leader(user)
        self._require("refuse_by_unit", Status.AWAITING_UNIT_LEADER)
        self.unit_refusal_reason = clean_text(reason, "Reason", "Lý do", MIN_REASON, MAX_REASON)
        self.lead_unit_id = self.lead_unit_name = ""
        self.status = Status.AWAITING_AGENCY.value

    def draft_result(self, user: Person, answer_text: str, draft_id: str) -> None:
        """Step 6: the assigned staff member reports the result with a draft answer."""
        self._as_assigned_staff(user)
        self._require("draft_result", Status.IN_PROGRESS)
        self.answer_text = clean_text(answer_text, "Answer", "Nội dung trả lời", MIN_ANSWER, MAX_ANSWER)
        self.draft_id = draft_id
        self.edited_by_leader = False
        self.status = Status.DRAFTED.value

    def approve_result(self, user: Person, edited_text: str | None = None) -> None:
        """Step 7: the unit leader approves the draft (editing it if they wish); it goes to the IOC."""
        self._as_unit_leader(user)
        self._require("approve_result", Status.DRAFTED)
        if edited_text is not None:
            text = clean_text(edited_text, "Answer", "Nội dung trả lời", MIN_ANSWER, MAX_ANSWER)
            if text != self.answer_text:
                self.answer_text, self.edited_by_leader = text, True
        self.status = Status.APPROVED.value

    def return_result(self, user: Person, reason: str) -> None:
        """Step 7: the unit leader returns the draft to the staff member to complete."""
        self._as_unit_leader(user)
        self._require("return_result", Status.DRAFTED)
        self.return_reason = clean_text(reason, "Reason", "Lý do", MIN_REASON, MAX_REASON)
        self.status = Status.IN_PROGRESS.value

    def reopen_after_publication_return(self, reason: str) -> None:
        """Step 8: the IOC returned the approved result; the staff member completes it again."""
        self._require("reopen_after_publication_return", Status.APPROVED)
        self.return_reason = unicodedata.normalize("NFC", (reason or "").strip())[:MAX_REASON]
        self.status = Status.IN_PROGRESS.value
