"""A submitted report and step 1 of the procedure (receive, check, accept or refuse). No I/O here."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from paht.runtime.aggregate import Versioned, require_state
from paht.runtime.errors import InvalidInput
from paht.runtime.text import Label, clean_identifier, clean_optional, clean_text
from services.intake.domain.taxonomy import Topic
from services.intake.domain.vocabulary import Channel, RefusalReason, Status, describe_status

# Roughly the province before and after the July 2025 merger (Quảng Bình + Quảng Trị).
BOUNDS = {"lat": (16.0, 18.2), "lon": (105.5, 107.5)}
_PHONE = re.compile(r"^(?:\+84|84|0)(?:3|5|7|8|9|2\d)\d{8}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

NAME = Label("Name", "Họ tên")
EMAIL = Label("E-mail address", "Địa chỉ e-mail")
TITLE = Label("Title", "Tiêu đề")
DESCRIPTION = Label("Description", "Nội dung")
ADDRESS = Label("Address", "Địa chỉ")
AREA = Label("Area code", "Mã địa bàn")
TOPIC = Label("Topic", "Lĩnh vực")
NOTE = Label("Note", "Ghi chú")
REFUSAL_TEXT = Label("Refusal text", "Lý do từ chối")
PURPOSE = Label("Purpose", "Mục đích")
MIN_REFUSAL_TEXT = 5  # the refusal is published: it must say something


@dataclass
class Reporter:
    """The person who reported; personal data that never leaves intake except by an audited call.

    phone and e-mail (normalised) identify a person: the same pair is always the same reporter.
    """

    id: str
    name: str
    phone: str
    email: str
    created_at: datetime

    @classmethod
    def new(cls, id: str, name: str, phone: str, email: str, now: datetime) -> "Reporter":
        """Return a reporter with every field checked and normalised."""
        return cls(id=id, name=clean_text(name, NAME, 2, 200, multiline=False), phone=cls.normalise_phone(phone),
                   email=cls.check_email(email), created_at=now)

    @staticmethod
    def normalise_phone(phone: str) -> str:
        """Return a Vietnamese phone number as 0XXXXXXXXX, whatever way it was typed."""
        digits = re.sub(r"[\s.\-()]", "", phone or "")
        if not _PHONE.match(digits):
            raise InvalidInput(
                "Phone number must be a Vietnamese number such as 0912345678.",
                "Số điện thoại phải là số Việt Nam, ví dụ 0912345678.",
            )
        if digits.startswith("+84"):
            digits = "0" + digits[3:]
        elif digits.startswith("84"):
            digits = "0" + digits[2:]
        return digits

    @staticmethod
    def check_email(email: str) -> str:
        """Return an e-mail address in lower case, or raise InvalidInput."""
        email = clean_identifier(email, EMAIL, 254)
        if not _EMAIL.match(email):
            raise InvalidInput("E-mail address is not valid.", "Địa chỉ e-mail không hợp lệ.")
        return email.lower()


def check_location(lat: float | None, lon: float | None) -> None:
    """Refuse a half-given place or one outside the province."""
    if (lat is None) != (lon is None):
        raise InvalidInput("Give both latitude and longitude, or neither.", "Cần nhập cả vĩ độ và kinh độ, hoặc bỏ trống cả hai.")
    if lat is None:
        return
    if not (BOUNDS["lat"][0] <= lat <= BOUNDS["lat"][1] and BOUNDS["lon"][0] <= lon <= BOUNDS["lon"][1]):
        raise InvalidInput("The place is outside the province.", "Vị trí nằm ngoài địa bàn tỉnh.")


def clean_topic_code(code: str | None, *, required: bool) -> str:
    """Return a topic code as sent (trimmed), refusing control characters; '' when none and not required."""
    if required and not (code or "").strip():
        raise InvalidInput("Choose the report's topic before accepting it.", "Cần chọn lĩnh vực trước khi tiếp nhận.")
    return clean_optional(code, TOPIC, 60, multiline=False)


@dataclass
class Report(Versioned):
    id: str
    tracking_code: str
    reporter_id: str
    channel: str
    title: str
    description: str
    topic_code: str
    lat: float | None
    lon: float | None
    address_text: str
    area_code: str
    private_result: bool
    urgent: bool
    status: str
    received_at: datetime
    version: int = 0
    group_code: str = ""
    decision_note: str = ""
    refusal_reason: str = ""
    reporter_kind: str = "person"              # ReporterKind: how the answer addresses them
    occurred_at: datetime | None = None        # when the reporter saw it (received_at: when PAHT got it)
    urgent_service: str = ""                   # "113", "114", "115" or "" (EmergencyService)
    state_secret: bool = False                 # set by the IOC only: never published
    verification: str = "none"                 # Verification: how the phone was proved
    channel_name: str = ""                     # a partner app's channel name ("" for PAHT's own channels)
    acknowledged_at: datetime | None = None    # the reporter accepted responsibility for the report (III.2.d)
    edit_request: str = ""                     # what the IOC asked the reporter to complete
    edit_due: datetime | None = None           # 2 days after the edit request: then cancelled (edit_not_done)
    verify_due: datetime | None = None         # 2 days after the first unanswered call: then cancelled
    duplicate_of: str = ""                     # the same reporter's earlier report this one repeats

    @classmethod
    def submit(cls, *, id: str, tracking_code: str, reporter_id: str, channel: Channel | str, title: str, description: str,
               topic_code: str = "", lat: float | None = None, lon: float | None = None, address_text: str = "",
               area_code: str = "", private_result: bool = False, urgent: bool = False, now: datetime) -> "Report":
        """Return a new report with every text cleaned and the place checked (the topic is checked by the caller)."""
        check_location(lat, lon)
        return cls(
            id=id,
            tracking_code=tracking_code,
            reporter_id=reporter_id,
            channel=Channel.parse(channel).value,
            title=clean_text(title, TITLE, 5, 200, multiline=False),
            description=clean_text(description, DESCRIPTION, 10, 5000),
            topic_code=clean_topic_code(topic_code, required=False),
            lat=lat,
            lon=lon,
            address_text=clean_optional(address_text, ADDRESS, 300, multiline=False),
            area_code=clean_optional(area_code, AREA, 20, multiline=False),
            private_result=bool(private_result),
            urgent=bool(urgent),
            status=Status.SUBMITTED.value,
            received_at=now,
        )

    def _require(self, action: str, *allowed: Status) -> None:
        require_state(self.status, allowed, action, describe_status)

    def require_open(self, action: str) -> None:
        """Refuse a step-1 decision on a report that step 1 has already decided."""
        self._require(action, Status.SUBMITTED, Status.EDIT_REQUESTED)

    def accept(self, topic: Topic, urgent: bool | None, note: str) -> None:
        """Step 1: the IOC finds the report complete; topic and group are the taxonomy's."""
        self.require_open("accept")
        note = clean_optional(note, NOTE, 2000)
        self.topic_code = topic.code
        self.group_code = topic.group_code
        if urgent is not None:
            self.urgent = urgent
        self.decision_note = note
        self.status = Status.ACCEPTED.value

    def refuse(self, reason: RefusalReason | str, text: str) -> None:
        """Step 1: not acceptable; it goes to the public 'not eligible' list with its reason."""
        self.require_open("refuse")
        reason = RefusalReason.parse(reason)
        if len((text or "").strip()) < MIN_REFUSAL_TEXT:
            raise InvalidInput("Explain the refusal (it is published).", "Cần ghi rõ lý do từ chối (lý do sẽ được công khai).")
        self.decision_note = clean_text(text, REFUSAL_TEXT, MIN_REFUSAL_TEXT, 2000)
        self.refusal_reason = reason.value
        self.status = Status.REFUSED.value


@dataclass(frozen=True)
class ContactRelease:
    """One release of a reporter's contact to a staff member: who, when, why (kept for audit)."""

    id: str
    report_id: str
    reporter_id: str
    staff_subject: str
    staff_org_unit: str
    purpose: str
    released_at: datetime

    @classmethod
    def new(cls, id: str, report: Report, staff_subject: str, staff_org_unit: str, purpose: str, now: datetime) -> "ContactRelease":
        """Record a release; the purpose is required because every release is audited."""
        if len((purpose or "").strip()) < 3:
            raise InvalidInput("Say why you need the contact (it is audited).", "Cần nêu mục đích xem thông tin liên hệ (được ghi nhật ký).")
        return cls(id=id, report_id=report.id, reporter_id=report.reporter_id, staff_subject=staff_subject,
                   staff_org_unit=staff_org_unit, purpose=clean_text(purpose, PURPOSE, 3, 300), released_at=now)
