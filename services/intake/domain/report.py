"""A submitted report and step 1 of the procedure (receive, check, accept or refuse). No I/O here."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from paht.runtime.errors import InvalidInput, StateConflict


class Status(str, Enum):
    SUBMITTED = "submitted"
    EDIT_REQUESTED = "edit_requested"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    CANCELLED = "cancelled"


REFUSAL_REASONS = ("duplicate", "unclear_or_test", "verification_failed", "edit_not_done", "out_of_scope")
CHANNELS = ("app", "web", "call_center", "partner_app", "open311")
# Roughly the province before and after the July 2025 merger (Quảng Bình + Quảng Trị).
BOUNDS = {"lat": (16.0, 18.2), "lon": (105.5, 107.5)}
_PHONE = re.compile(r"^(?:\+84|84|0)(?:3|5|7|8|9|2\d)\d{8}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Reporter:
    """The person who reported; personal data that never leaves intake except by an audited call."""

    id: str
    name: str
    phone: str
    email: str
    created_at: datetime

    @staticmethod
    def normalise_phone(phone: str) -> str:
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
        email = (email or "").strip()
        if not _EMAIL.match(email) or len(email) > 254:
            raise InvalidInput("E-mail address is not valid.", "Địa chỉ e-mail không hợp lệ.")
        return email.lower()


@dataclass
class Report:
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

    @staticmethod
    def clean_text(value: str, field: str, field_vi: str, min_len: int, max_len: int) -> str:
        text = unicodedata.normalize("NFC", (value or "").strip())
        if len(text) < min_len:
            raise InvalidInput(f"{field} is too short (at least {min_len} characters).", f"{field_vi} quá ngắn (tối thiểu {min_len} ký tự).")
        if len(text) > max_len:
            raise InvalidInput(f"{field} is too long (at most {max_len} characters).", f"{field_vi} quá dài (tối đa {max_len} ký tự).")
        return text

    @staticmethod
    def check_location(lat: float | None, lon: float | None) -> None:
        if (lat is None) != (lon is None):
            raise InvalidInput("Give both latitude and longitude, or neither.", "Cần nhập cả vĩ độ và kinh độ, hoặc bỏ trống cả hai.")
        if lat is None:
            return
        if not (BOUNDS["lat"][0] <= lat <= BOUNDS["lat"][1] and BOUNDS["lon"][0] <= lon <= BOUNDS["lon"][1]):
            raise InvalidInput("The place is outside the province.", "Vị trí nằm ngoài địa bàn tỉnh.")

    def next_version(self) -> int:
        self.version += 1
        return self.version

    def _require(self, action: str, *allowed: Status) -> None:
        if self.status not in {s.value for s in allowed}:
            raise StateConflict(
                f"Cannot {action} a report that is {self.status}.",
                f"Không thể thực hiện '{action}' với phản ánh đang ở trạng thái '{self.status}'.",
                current=self.status,
                action=action,
            )

    def accept(self, topic_code: str, group_code: str, urgent: bool | None, note: str) -> None:
        """Step 1: the IOC finds the report complete and normalises its topic."""
        self._require("accept", Status.SUBMITTED, Status.EDIT_REQUESTED)
        if not topic_code:
            raise InvalidInput("Choose the report's topic before accepting it.", "Cần chọn lĩnh vực trước khi tiếp nhận.")
        self.topic_code = topic_code
        self.group_code = group_code
        if urgent is not None:
            self.urgent = urgent
        self.decision_note = note
        self.status = Status.ACCEPTED.value

    def refuse(self, reason: str, text: str) -> None:
        """Step 1: not acceptable; it goes to the public 'not eligible' list with its reason."""
        self._require("refuse", Status.SUBMITTED, Status.EDIT_REQUESTED)
        if reason not in REFUSAL_REASONS:
            raise InvalidInput(f"Unknown refusal reason '{reason}'.", f"Lý do từ chối '{reason}' không hợp lệ.")
        if len((text or "").strip()) < 5:
            raise InvalidInput("Explain the refusal (it is published).", "Cần ghi rõ lý do từ chối (lý do sẽ được công khai).")
        self.refusal_reason = reason
        self.decision_note = text.strip()
        self.status = Status.REFUSED.value
