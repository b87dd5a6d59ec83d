"""A submitted report and step 1 of the procedure (receive, check, accept or refuse). No I/O here."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from datetime import timedelta

from paht.runtime.aggregate import Versioned, require_state
from paht.runtime.emergency import EmergencyService
from paht.runtime.errors import InvalidInput
from paht.runtime.text import Label, clean_identifier, clean_optional, clean_text
from services.intake.domain.taxonomy import Topic
from services.intake.domain.place import check_place
from services.intake.domain.redaction import REDACTABLE, may_be_public
from services.intake.domain.vocabulary import (AT_WILL, DUPLICATE_WORDING, WAITING, CallOutcome, Cancellation, Channel, RefusalReason,
                                                ReporterKind, Status, Verification, describe_status)

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
EDIT_REQUEST = Label("What to complete", "Nội dung cần bổ sung, chỉnh sửa")
MIN_EDIT_REQUEST = 5  # the reporter must understand what to complete
# Why a refusal reason cannot be picked at will: the path that gives it (the procedure's own).
OTHER_PATH: dict[RefusalReason, tuple[str, str]] = {
    RefusalReason.DUPLICATE: (
        "A duplicate is marked together with the same reporter's earlier report it repeats: use 'mark as duplicate'.",
        "Phản ánh trùng lặp được đánh dấu kèm phản ánh trước đó của cùng người phản ánh: dùng chức năng 'đánh dấu trùng lặp'."),
    RefusalReason.VERIFICATION_FAILED: (
        "'verification_failed' is never chosen: record the verification calls; the report is cancelled by itself 2 days after "
        "the first call that did not reach the reporter, or at once when a call shows the person is not the reporter.",
        "Không chọn trực tiếp lý do 'không xác minh được': hãy ghi nhận các cuộc gọi xác minh; phản ánh tự động bị hủy sau 02 ngày "
        "kể từ cuộc gọi đầu tiên không liên hệ được, hoặc ngay khi xác minh không phải là người phản ánh."),
    RefusalReason.EDIT_NOT_DONE: (
        "'edit_not_done' is never chosen: request an edit; the report is cancelled by itself when 2 days pass without it.",
        "Không chọn trực tiếp lý do 'không bổ sung, chỉnh sửa': hãy gửi yêu cầu chỉnh sửa; phản ánh tự động bị hủy nếu sau 02 ngày "
        "người phản ánh vẫn không chỉnh sửa."),
}
CHANNEL_NAME = Label("Channel name", "Tên kênh")
MIN_REFUSAL_TEXT = 5  # the refusal is published: it must say something
CLOCK_SKEW = timedelta(minutes=10)  # a phone's clock may run a little ahead of ours
OLDEST_EVENT = timedelta(days=366)  # a field report is about something seen recently


def check_occurred_at(occurred_at: datetime | None, now: datetime) -> None:
    """The time the reporter saw it: not in the future, not more than a year back."""
    if occurred_at is None:
        return
    if occurred_at.tzinfo is None:
        raise InvalidInput("Give the time of the event with its time zone (e.g. 2026-11-28T08:30:00+07:00).",
                           "Thời điểm xảy ra cần có múi giờ (ví dụ 2026-11-28T08:30:00+07:00).", field="occurred_at")
    if occurred_at > now + CLOCK_SKEW:
        raise InvalidInput("The time of the event is in the future.", "Thời điểm xảy ra nằm trong tương lai.", field="occurred_at")
    if occurred_at < now - OLDEST_EVENT:
        raise InvalidInput("The event is more than a year old: report what you see now.",
                           "Sự việc đã xảy ra hơn một năm: vui lòng phản ánh sự việc hiện tại.", field="occurred_at")


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
    submission_key: str | None = None          # hash of (sender, the client's Idempotency-Key): a resend is the same report
    answer_text: str = ""                      # the answer step 8 published (never a state secret's)
    answer_visibility: str = ""                # public | reporter_only | state_secret ("" before step 8)
    answered_at: datetime | None = None

    @classmethod
    def submit(cls, *, id: str, tracking_code: str, reporter_id: str, channel: Channel | str, title: str, description: str,
               topic_code: str = "", lat: float | None = None, lon: float | None = None, address_text: str = "",
               area_code: str = "", private_result: bool = False, urgent: bool = False, urgent_service: str = "",
               reporter_kind: ReporterKind | str = ReporterKind.PERSON, occurred_at: datetime | None = None,
               verification: Verification | str = Verification.NONE, channel_name: str = "", acknowledged: bool = True,
               now: datetime) -> "Report":
        """Return a new report with every text cleaned and the place checked (the topic is checked by the caller).

        The reporter must acknowledge that they answer for what they report (III.2.d); a report needs a
        pin in the province or an address; "urgent" names the emergency service it needs, when known.
        """
        if not acknowledged:
            raise InvalidInput("Confirm that you answer before the law for the truth of your report.",
                               "Cần xác nhận chịu trách nhiệm trước pháp luật về tính trung thực, chính xác của thông tin phản ánh.",
                               field="acknowledged")
        address_text = clean_optional(address_text, ADDRESS, 300, multiline=False)
        check_place(lat, lon, address_text)
        check_occurred_at(occurred_at, now)
        service = EmergencyService.parse(urgent_service).value if (urgent_service or "").strip() else ""
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
            address_text=address_text,
            area_code=clean_optional(area_code, AREA, 20, multiline=False),
            private_result=bool(private_result),
            urgent=bool(urgent) or bool(service),
            urgent_service=service,
            status=Status.SUBMITTED.value,
            received_at=now,
            reporter_kind=ReporterKind.parse(reporter_kind).value,
            occurred_at=occurred_at,
            verification=Verification.parse(verification).value,
            channel_name=clean_optional(channel_name, CHANNEL_NAME, 60, multiline=False),
            acknowledged_at=now,
        )

    def _require(self, action: str, *allowed: Status) -> None:
        require_state(self.status, allowed, action, describe_status)

    def require_open(self, action: str) -> None:
        """Refuse a step-1 decision on a report that step 1 has already decided."""
        self._require(action, Status.SUBMITTED, Status.EDIT_REQUESTED)

    def accept(self, topic: Topic, urgent: bool | None, note: str) -> None:
        """Step 1: the IOC finds the report complete; topic and group are the taxonomy's. No 2-day timer runs any more."""
        self.require_open("accept")
        note = clean_optional(note, NOTE, 2000)
        self.topic_code = topic.code
        self.group_code = topic.group_code
        if urgent is not None:
            self.urgent = urgent
        self.decision_note = note
        self.status = Status.ACCEPTED.value
        self._stop_timers()

    def refuse(self, reason: RefusalReason | str, text: str) -> None:
        """Step 1: not acceptable; it goes to the public 'not eligible' list with its reason.

        Only the reasons the IOC may pick at will (AT_WILL): a duplicate comes with its earlier report
        (mark_duplicate), the two 2-day reasons only with their own paths (expire, record_call).
        """
        self.require_open("refuse")
        reason = RefusalReason.parse(reason)
        if reason not in AT_WILL:
            en, vi = OTHER_PATH[reason]
            raise InvalidInput(en, vi, field="reason")
        if len((text or "").strip()) < MIN_REFUSAL_TEXT:
            raise InvalidInput("Explain the refusal (it is published).", "Cần ghi rõ lý do từ chối (lý do sẽ được công khai).")
        self._close(Status.REFUSED, reason, clean_text(text, REFUSAL_TEXT, MIN_REFUSAL_TEXT, 2000))

    def request_edit(self, what: str, now: datetime, due: datetime) -> None:
        """Step 1: the report is incomplete; the reporter has until `due` (2 days, the SLA engine's) to complete it."""
        self._require("request an edit", Status.SUBMITTED)
        what = clean_text(what, EDIT_REQUEST, MIN_EDIT_REQUEST, 2000)
        if due <= now:
            raise InvalidInput("The time given to complete the report is already over.", "Thời hạn bổ sung, chỉnh sửa đã qua.")
        self.edit_request = what
        self.edit_due = due
        self.status = Status.EDIT_REQUESTED.value

    def edit(self, change: "ReportEdit", now: datetime) -> list[str]:
        """The reporter completes the report the IOC asked about; it waits for step 1 again. Return the fields changed.

        Every value is checked as at submission (the place rules too) before anything changes, so a
        refused edit leaves the report as it was. New files are attached by the caller (files_added).
        """
        self._require("edit", Status.EDIT_REQUESTED)
        values: dict[str, object] = {}
        if change.title is not None:
            values["title"] = clean_text(change.title, TITLE, 5, 200, multiline=False)
        if change.description is not None:
            values["description"] = clean_text(change.description, DESCRIPTION, 10, 5000)
        if change.topic_code is not None:
            values["topic_code"] = clean_topic_code(change.topic_code, required=False)
        if change.address_text is not None:
            values["address_text"] = clean_optional(change.address_text, ADDRESS, 300, multiline=False)
        if change.location is not None and change.remove_location:
            raise InvalidInput("Give a new pin or remove it, not both.", "Chỉ chọn một: đặt lại vị trí hoặc bỏ vị trí.", field="location")
        if change.location is not None:
            values["lat"], values["lon"] = change.location
        elif change.remove_location:
            values["lat"] = values["lon"] = None
        if change.occurred_at is not None:
            check_occurred_at(change.occurred_at, now)
            values["occurred_at"] = change.occurred_at
        check_place(values.get("lat", self.lat), values.get("lon", self.lon), values.get("address_text", self.address_text))
        changed = [name for name, value in values.items() if getattr(self, name) != value]
        if not changed and not change.files_added:
            raise InvalidInput("Nothing was changed: complete the report as the IOC asked.",
                               "Chưa có nội dung nào được bổ sung, chỉnh sửa theo yêu cầu của Trung tâm IOC.")
        for name in changed:
            setattr(self, name, values[name])
        self.status = Status.SUBMITTED.value
        self.edit_request = ""
        self.edit_due = None
        return changed + (["files"] if change.files_added else [])

    def record_call(self, outcome: CallOutcome | str, now: datetime, due: datetime) -> CallOutcome:
        """Step 1: the IOC's call to verify the reporter.

        Not reached: the 2 days run from the FIRST unanswered call (`due`, kept by later ones). Reached:
        no timer any more, and the phone counts as proved by the call when nothing proved it before. The
        person is not the reporter: the report is cancelled at once (VERIFICATION_FAILED).
        """
        self.require_open("record a verification call")
        outcome = CallOutcome.parse(outcome)
        if outcome is CallOutcome.NOT_REACHED:
            if self.verify_due is None:
                if due <= now:
                    raise InvalidInput("The time to reach the reporter is already over.", "Thời hạn liên hệ xác minh đã qua.")
                self.verify_due = due
        elif outcome is CallOutcome.REACHED:
            self.verify_due = None
            if self.verification == Verification.NONE.value:
                self.verification = Verification.CALL.value
        else:
            self.cancel(Cancellation.NOT_THE_REPORTER)
        return outcome

    def expire(self, now: datetime) -> Cancellation | None:
        """Cancel the report when a 2-day timer has run out (the earlier one first); None when none has.

        Edit asked and not done by edit_due → EDIT_NOT_DONE; reporter not reached by verify_due → VERIFICATION_FAILED.
        """
        if self.status not in {s.value for s in WAITING}:
            return None
        due = []
        if self.status == Status.EDIT_REQUESTED.value and self.edit_due is not None and self.edit_due <= now:
            due.append((self.edit_due, Cancellation.EDIT_NOT_DONE))
        if self.verify_due is not None and self.verify_due <= now:
            due.append((self.verify_due, Cancellation.NOT_REACHED))
        if not due:
            return None
        cause = min(due, key=lambda d: d[0])[1]
        self.cancel(cause)
        return cause

    def cancel(self, cause: Cancellation) -> None:
        """Cancelled by the procedure itself; the decision's wording is the published reason."""
        self.require_open("cancel")
        self._close(Status.CANCELLED, cause.reason, cause.label[1])

    def mark_duplicate(self, earlier: "Report", *, same_person: bool | None = None) -> None:
        """Step 1: a repeat of the same reporter's earlier report: refused as DUPLICATE, linked to the earlier one.

        `same_person` is the caller's finding (the same verified phone); by default the same reporter row.
        """
        self.require_open("mark as a duplicate")
        if earlier.id == self.id:
            raise InvalidInput("A report cannot be a duplicate of itself.", "Phản ánh không thể trùng với chính nó.", field="of")
        if not (earlier.reporter_id == self.reporter_id if same_person is None else same_person):
            raise InvalidInput("Only a repeat of the same reporter's own earlier report is a duplicate.",
                               "Chỉ đánh dấu trùng lặp với phản ánh trước đó của cùng một cá nhân, tổ chức.", field="of")
        if not earlier.received_at < self.received_at:
            raise InvalidInput("The report it repeats must have been received before this one.",
                               "Phản ánh bị trùng phải được tiếp nhận trước phản ánh này.", field="of")
        self._close(Status.REFUSED, RefusalReason.DUPLICATE, DUPLICATE_WORDING[1])
        self.duplicate_of = earlier.id

    @property
    def media_may_be_public(self) -> bool:
        """Whether any of the report's files may be public now (services/intake/domain/redaction.py, the one rule)."""
        return may_be_public(self.status, self.private_result, self.state_secret)

    def require_redactable(self) -> None:
        """The IOC may change what of the files is public until step 1 refused or cancelled the report (then none is)."""
        self._require("change what of its photos and videos is public", *REDACTABLE)

    def classify(self, state_secret: bool) -> bool:
        """Set or clear the state-secret flag (the IOC only; at any status): such a report is never published.

        Return whether it changed.
        """
        state_secret = bool(state_secret)
        if self.state_secret == state_secret:
            return False
        self.state_secret = state_secret
        if state_secret:
            self.answer_text = ""  # an answer already kept for the reporter's page goes: a state secret's is never kept here
        return True

    def record_answer(self, text: str, visibility: str, at: datetime) -> None:
        """Keep the answer step 8 published, for the reporter's own page (for a private result the only place it
        appears). A state secret is never published (IV.1.4.a): "the answer recorded only", by the agency, not here;
        the reporter learns that it was concluded and nothing of its content, so intake keeps no text of it either,
        whatever the event carried. A report the IOC classified here counts as a state secret too."""
        secret = visibility == "state_secret" or self.state_secret
        self.answer_visibility = "state_secret" if secret else visibility
        self.answer_text = "" if secret else text
        self.answered_at = at

    @property
    def is_secret(self) -> bool:
        return self.state_secret or self.answer_visibility == "state_secret"

    def _close(self, status: Status, reason: RefusalReason, text: str) -> None:
        self.decision_note = text
        self.refusal_reason = reason.value
        self.status = status.value
        self._stop_timers()

    def _stop_timers(self) -> None:
        """Step 1 is decided: no edit or call is awaited any more (the history keeps what was asked)."""
        self.edit_request = ""
        self.edit_due = None
        self.verify_due = None


@dataclass(frozen=True)
class ReportEdit:
    """What the reporter changes when asked to complete a report: None leaves a field as it is.

    `remove_location` takes the pin away (an address must then say where); `files_added` counts the
    files attached with the edit (they alone may be the completion asked for).
    """

    title: str | None = None
    description: str | None = None
    topic_code: str | None = None
    address_text: str | None = None
    location: tuple[float, float] | None = None
    remove_location: bool = False
    occurred_at: datetime | None = None
    files_added: int = 0


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
