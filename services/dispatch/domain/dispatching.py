"""Step 2: send an accepted report to exactly one lead agency, within the deadline. No I/O here."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from paht.runtime.errors import InvalidInput, StateConflict
from services.dispatch.domain import deadlines
from services.dispatch.domain.directory import OrgUnit


class Status(str, Enum):
    AWAITING_DISPATCH = "awaiting_dispatch"
    DISPATCHED = "dispatched"
    RETURNED = "returned"  # the lead agency refused: step 2 again


@dataclass
class DispatchItem:
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

    def next_version(self) -> int:
        self.version += 1
        return self.version

    def dispatch_to_lead_agency(self, agency: OrgUnit, now: datetime, note: str) -> bool:
        """Send to one lead agency; return whether the deadline was met."""
        if self.status not in (Status.AWAITING_DISPATCH.value, Status.RETURNED.value):
            raise StateConflict(
                f"Cannot dispatch a report that is {self.status}.",
                f"Không thể chuyển xử lý phản ánh đang ở trạng thái '{self.status}'.",
                current=self.status,
                action="dispatch",
            )
        if not agency.can_lead:
            raise InvalidInput(f"{agency.name_en or agency.name} cannot be a lead agency.", f"{agency.name} không phải cơ quan đầu mối xử lý.")
        if not agency.in_force(now.astimezone(deadlines.VN).date()):  # validity dates are Vietnamese calendar days
            raise InvalidInput(f"{agency.name_en or agency.name} is not in force any more.", f"{agency.name} không còn hiệu lực.")
        self.lead_agency_id = agency.id
        self.round += 1
        self.note = note
        self.status = Status.DISPATCHED.value
        return now <= self.dispatch_due

    def return_from_agency(self, now: datetime) -> None:
        """The lead agency refused: the IOC dispatches again, on a fresh clock."""
        self.status = Status.RETURNED.value
        self.lead_agency_id = ""
        self.dispatch_due = deadlines.dispatch_due(now, urgent=self.urgent)

