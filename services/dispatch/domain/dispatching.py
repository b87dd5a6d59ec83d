"""Step 2: send an accepted report to exactly one lead agency, within the deadline. No I/O here."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from paht.runtime.aggregate import Versioned, require_state
from paht.runtime.errors import InvalidInput
from paht.runtime.text import Label, clean_optional
from services.dispatch.domain import deadlines
from services.dispatch.domain.directory import OrgUnit

NOTE = Label("Note", "Ghi chú")
MAX_NOTE = 2000


class Status(str, Enum):
    """Where a report stands in step 2 (dispatch's own words; handling and publication have theirs)."""

    AWAITING_DISPATCH = "awaiting_dispatch"  # accepted at step 1: the IOC picks one lead agency
    DISPATCHED = "dispatched"                # sent to one lead agency (step 3 is theirs)
    REFUSED_BY_AGENCY = "refused_by_agency"  # the lead agency refused at step 3: step 2 again, fresh clock

    @property
    def phrase(self) -> tuple[str, str]:
        """(English, Vietnamese) words for "the report is …"."""
        return PHRASES[self]


PHRASES: dict[Status, tuple[str, str]] = {
    Status.AWAITING_DISPATCH: ("waiting for the IOC to send it to a lead agency", "đang chờ Trung tâm IOC chuyển cơ quan chủ trì"),
    Status.DISPATCHED: ("already sent to a lead agency", "đã được chuyển cho cơ quan chủ trì"),
    Status.REFUSED_BY_AGENCY: ("refused by its lead agency and waiting to be sent again",
                               "bị cơ quan chủ trì từ chối và đang chờ chuyển lại"),
}
WAITING = (Status.AWAITING_DISPATCH, Status.REFUSED_BY_AGENCY)  # the IOC's step-2 work list


def describe(status: str) -> tuple[str, str]:
    """Return the (English, Vietnamese) phrase of a status, for refusals in the procedure's words."""
    try:
        return Status(status).phrase
    except ValueError:
        return status, status


@dataclass
class DispatchItem(Versioned):
    report_id: str
    status: str
    received_at: datetime
    urgent: bool
    topic_code: str
    group_code: str
    dispatch_due: datetime
    lead_agency_id: str = ""
    round: int = 0
    note: str = ""
    version: int = 0

    @classmethod
    def accepted(cls, report_id: str, received_at: datetime, urgent: bool, topic_code: str, group_code: str) -> "DispatchItem":
        """Start the step 1+2 clock of an accepted report."""
        return cls(
            report_id=report_id,
            status=Status.AWAITING_DISPATCH.value,
            received_at=received_at,
            urgent=urgent,
            topic_code=topic_code,
            group_code=group_code,
            dispatch_due=deadlines.dispatch_due(received_at, urgent=urgent),
        )

    def dispatch_to_lead_agency(self, agency: OrgUnit, now: datetime, note: str) -> bool:
        """Send to one lead agency; return whether the deadline was met."""
        require_state(self.status, WAITING, "dispatch", describe)
        note = clean_optional(note, NOTE, MAX_NOTE)
        if not agency.can_lead:
            raise InvalidInput(f"{agency.name_en or agency.name} cannot be a lead agency.", f"{agency.name} không phải cơ quan đầu mối xử lý.")
        if not agency.in_force(now.astimezone(deadlines.VN).date()):  # validity dates are Vietnamese calendar days
            raise InvalidInput(f"{agency.name_en or agency.name} is not in force any more.", f"{agency.name} không còn hiệu lực.")
        self.lead_agency_id = agency.id
        self.round += 1
        self.note = note
        self.status = Status.DISPATCHED.value
        return now <= self.dispatch_due

    def refused_by_agency(self, now: datetime) -> None:
        """The lead agency refused at step 3: the IOC dispatches again, on a fresh clock."""
        require_state(self.status, (Status.DISPATCHED,), "take back after the lead agency's refusal", describe)
        self.status = Status.REFUSED_BY_AGENCY.value
        self.lead_agency_id = ""
        self.dispatch_due = deadlines.dispatch_due(now, urgent=self.urgent)
