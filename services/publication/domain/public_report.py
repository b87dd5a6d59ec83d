"""The public record of a report and step 8 of the procedure (edit and publish, or return). No I/O here."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from paht.runtime.errors import Forbidden, InvalidInput, StateConflict


class Status(str, Enum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    DRAFTED = "drafted"
    APPROVED = "approved"
    PUBLISHED = "published"
    RETURNED = "returned"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class Visibility(str, Enum):
    PUBLIC = "public"
    REPORTER_ONLY = "reporter_only"  # the reporter asked that the result go only to them
    STATE_SECRET = "state_secret"    # never published (state-secret law); set by a later issue


# Events of intake, dispatch and handling arrive in any relative order: the status only ever climbs.
RANK = {s: i for i, s in enumerate((
    Status.SUBMITTED, Status.ACCEPTED, Status.DISPATCHED, Status.ASSIGNED,
    Status.IN_PROGRESS, Status.DRAFTED, Status.APPROVED, Status.PUBLISHED,
))}
FINAL = {Status.PUBLISHED, Status.REFUSED, Status.CANCELLED}
# After the IOC returns a result (step 8), only the lead unit's rework moves the report on.
REWORK = {Status.ASSIGNED, Status.IN_PROGRESS, Status.DRAFTED, Status.APPROVED}
IOC_ROLES = ("ioc_operator", "ioc_admin")


@dataclass
class TimelineEntry:
    """One public step of the process; `note` is public too, so it never holds internal reasons."""

    id: str
    report_id: str
    kind: str
    at: datetime
    note: str = ""


@dataclass
class PublicReport:
    report_id: str
    status: str = Status.SUBMITTED.value
    tracking_code: str = ""
    title: str = ""
    description: str = ""
    topic_code: str = ""
    lat: float | None = None
    lon: float | None = None
    address_text: str = ""
    area_code: str = ""
    private_result: bool = False
    urgent: bool = False
    received_at: datetime | None = None  # None until intake's ReportSubmitted has arrived
    lead_agency_name: str = ""
    lead_unit_name: str = ""
    answer_text: str = ""  # the approved draft until published, then the published answer
    published_at: datetime | None = None
    refusal_text: str = ""
    visibility: str = Visibility.PUBLIC.value
    version: int = 0  # this service's own events about the report: 1, 2, 3...

    @classmethod
    def placeholder(cls, report_id: str) -> "PublicReport":
        """Start a record from whichever producer's event arrives first."""
        return cls(report_id=report_id)

    def next_version(self) -> int:
        self.version += 1
        return self.version

    @property
    def has_content(self) -> bool:
        return self.received_at is not None

    @property
    def is_public_record(self) -> bool:
        return self.has_content and self.visibility != Visibility.STATE_SECRET.value

    @property
    def public_answer(self) -> str | None:
        """Return the answer the public may read, or None (not published yet, or private)."""
        if self.status != Status.PUBLISHED.value or self.private_result or self.visibility != Visibility.PUBLIC.value:
            return None
        return self.answer_text

    def record_submission(self, *, tracking_code: str, title: str, description: str, topic_code: str,
                          lat: float | None, lon: float | None, address_text: str, area_code: str,
                          private_result: bool, urgent: bool, received_at: datetime) -> None:
        """Fill the content from intake (no personal data: there is none in its events)."""
        self.tracking_code, self.title, self.description, self.topic_code = tracking_code, title, description, topic_code
        self.lat, self.lon = lat, lon
        self.address_text, self.area_code = address_text, area_code
        self.private_result, self.urgent, self.received_at = private_result, urgent, received_at
        if private_result and self.visibility == Visibility.PUBLIC.value:
            self.visibility = Visibility.REPORTER_ONLY.value

    def advance(self, status: Status) -> bool:
        """Move the status forward; an older event arriving late never moves it back."""
        current = Status(self.status)
        if current in FINAL:
            return False
        if status in (Status.REFUSED, Status.CANCELLED):
            moved = True
        elif current == Status.RETURNED:
            moved = status in REWORK
        else:
            moved = status in RANK and RANK[status] > RANK[current]
        if moved:
            self.status = status.value
        return moved

    def record_approved_answer(self, answer_text: str) -> None:
        """Keep the unit leader's approved answer as the draft the IOC will edit and publish."""
        self.advance(Status.APPROVED)
        if self.status == Status.APPROVED.value:
            self.answer_text = answer_text

    def _require(self, action: str, *allowed: Status) -> None:
        if self.status not in {s.value for s in allowed}:
            raise StateConflict(
                f"Cannot {action} a report that is {self.status}.",
                f"Không thể thực hiện '{action}' với phản ánh đang ở trạng thái '{self.status}'.",
                current=self.status,
                action=action,
            )

    @staticmethod
    def _require_ioc(user) -> None:
        if not user.has(*IOC_ROLES):
            raise Forbidden("Only IOC operators edit and publish results.", "Chỉ cán bộ Trung tâm IOC được biên tập và công khai kết quả.")

    def publish(self, user, edited_text: str | None, at: datetime) -> None:
        """Step 8: the IOC checks, edits and publishes the approved answer."""
        self._require_ioc(user)
        self._require("publish", Status.APPROVED)
        if not self.has_content:
            raise StateConflict(
                "The report's content has not arrived from intake yet; publish it a little later.",
                "Nội dung phản ánh chưa được đồng bộ từ bộ phận tiếp nhận; vui lòng công khai sau ít phút.",
                current=self.status,
                action="publish",
            )
        text = unicodedata.normalize("NFC", (edited_text if edited_text is not None else self.answer_text) or "").strip()
        if len(text) < 10:
            raise InvalidInput("The answer is too short to publish (at least 10 characters).", "Nội dung trả lời quá ngắn (tối thiểu 10 ký tự).")
        self.answer_text = text
        if self.private_result and self.visibility == Visibility.PUBLIC.value:
            self.visibility = Visibility.REPORTER_ONLY.value
        self.published_at = at
        self.status = Status.PUBLISHED.value

    def return_to_unit(self, user, reason: str) -> str:
        """Step 8: send the answer back to the lead unit to complete."""
        self._require_ioc(user)
        self._require("return", Status.APPROVED)
        reason = unicodedata.normalize("NFC", reason or "").strip()
        if len(reason) < 5:
            raise InvalidInput("Say what the lead unit must complete (at least 5 characters).", "Cần nêu rõ nội dung đơn vị cần bổ sung (tối thiểu 5 ký tự).")
        self.status = Status.RETURNED.value
        return reason
