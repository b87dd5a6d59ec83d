"""Intake's vocabulary, defined once: channels, refusal reasons, statuses, reporters, media, step-1 actions.

Each term is its stored value with its (English, Vietnamese) wording. API models, pages and the proto
enum mappings derive from these enums (tests/unit/test_contracts.py checks that the proto enums
agree); nothing else spells a channel or a reason.
"""
from __future__ import annotations


from paht.runtime.terms import Channel, Term  # noqa: F401  (shared: publication's statistics count by channel)


class RefusalReason(Term):
    """Why the IOC refuses a report at step 1 (the reason and its text are published)."""

    DUPLICATE = "duplicate", "a duplicate of an earlier report by the same person", "trùng với phản ánh đã gửi trước đó"
    UNCLEAR_OR_TEST = "unclear_or_test", "unclear, sent by mistake or a test", "nội dung không rõ ràng, gửi nhầm hoặc thử nghiệm"
    VERIFICATION_FAILED = "verification_failed", "the reporter could not be verified", "không xác minh được người phản ánh"
    EDIT_NOT_DONE = "edit_not_done", "not completed within 2 days of being asked", "không bổ sung, chỉnh sửa trong 2 ngày theo yêu cầu"
    OUT_OF_SCOPE = "out_of_scope", "not a matter this system handles", "không thuộc phạm vi tiếp nhận của hệ thống"

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "refusal reason", "lý do từ chối"


class Status(Term):
    """Where a report stands in intake; the label completes "the report is …" / "phản ánh …"."""

    SUBMITTED = "submitted", "waiting for the IOC's check (step 1)", "đang chờ Trung tâm IOC kiểm tra, tiếp nhận (bước 1)"
    EDIT_REQUESTED = "edit_requested", "waiting for the reporter to complete it", "đang chờ người phản ánh bổ sung, chỉnh sửa"
    ACCEPTED = "accepted", "already accepted by the IOC", "đã được Trung tâm IOC tiếp nhận"
    REFUSED = "refused", "already refused as not eligible", "đã bị từ chối vì không đủ điều kiện tiếp nhận"
    CANCELLED = "cancelled", "cancelled", "đã bị hủy"

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "status", "trạng thái"


# The reasons the IOC may pick when refusing; the others come only with their own path: a duplicate is
# marked with its earlier report (mark-duplicate), and the two 2-day reasons only when 2 days pass
# without an edit or without reaching the reporter (or when the call shows the caller is not the reporter).
AT_WILL: tuple[RefusalReason, ...] = (RefusalReason.UNCLEAR_OR_TEST, RefusalReason.OUT_OF_SCOPE)


class ReporterKind(Term):
    """Who reports: the answer template addresses them as "Quý cá nhân" or "Quý tổ chức"."""

    PERSON = "person", "person", "cá nhân"
    ORGANISATION = "organisation", "organisation", "tổ chức"

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "reporter kind", "loại người phản ánh"


class Verification(Term):
    """How the reporter's phone number was proved."""

    OTP = "otp", "one-time code by SMS", "mã xác thực OTP qua tin nhắn"
    CALL = "call", "the IOC's call with the reporter", "cuộc gọi của Trung tâm IOC với người phản ánh"
    PARTNER = "partner", "the partner app's own sign-in", "đăng nhập của ứng dụng đối tác"
    NONE = "none", "not verified yet", "chưa xác thực"

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "verification", "cách xác thực"


class MediaKind(Term):
    """What a file attached to a report is."""

    PHOTO = "photo", "photo", "hình ảnh"
    VIDEO = "video", "video", "video"

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "media kind", "loại tệp"


class CallOutcome(Term):
    """What the IOC's verification call to the reporter gave (step 1)."""

    REACHED = "reached", "reached the reporter, who confirmed the report", "liên hệ được, người phản ánh xác nhận"
    NOT_REACHED = "not_reached", "could not reach the reporter", "không liên hệ được"
    NOT_THE_REPORTER = "not_the_reporter", "the person reached is not the reporter", "người nghe máy không phải người phản ánh"

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "call outcome", "kết quả cuộc gọi"


class Action(Term):
    """A line of a report's history at intake: what happened (who, when and why are on the line)."""

    SUBMITTED = "submitted", "report received", "tiếp nhận phản ánh"
    ACCEPTED = "accepted", "accepted by the IOC", "Trung tâm IOC tiếp nhận"
    EDIT_REQUESTED = "edit_requested", "the IOC asked the reporter to complete the report", "Trung tâm IOC đề nghị bổ sung, chỉnh sửa"
    EDITED = "edited", "the reporter completed the report", "người phản ánh bổ sung, chỉnh sửa"
    CALL_RECORDED = "call_recorded", "verification call", "gọi điện xác minh"
    REFUSED = "refused", "refused as not eligible", "từ chối tiếp nhận"
    DUPLICATE = "duplicate", "marked as a duplicate", "đánh dấu trùng lặp"
    CANCELLED = "cancelled", "cancelled", "hủy phản ánh"
    CLASSIFIED = "classified", "state-secret flag changed", "thay đổi đánh dấu bí mật nhà nước"
    REPLY = "reply", "message from the reporter", "tin nhắn của người phản ánh"
    MESSAGE = "message", "message to the reporter", "tin nhắn gửi người phản ánh"
    CONTACT_SEEN = "contact_seen", "the reporter's contact was viewed", "xem thông tin liên hệ của người phản ánh"
    CLARIFIED = "clarified", "the lead unit's clarification of the answer", "nội dung giải thích, làm rõ kết quả trả lời"
    MEDIA_REDACTED = "media_redacted", "what the public may see of a photo or video changed", "thay đổi phần công khai của hình ảnh, video"

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "action", "thao tác"


# Step 1's work list: the reports the IOC still has to check.
WAITING: tuple[Status, ...] = (Status.SUBMITTED, Status.EDIT_REQUESTED)
# Reports still standing (not refused, not cancelled): the ones a new report may repeat.
OPEN: tuple[Status, ...] = (Status.SUBMITTED, Status.EDIT_REQUESTED, Status.ACCEPTED)


class Cancellation(Term):
    """Why the procedure itself cancels a report at step 1 (appendix IV.1.1, step 1: "Các trường hợp hủy phản ánh").

    The Vietnamese wording is the decision's own and is published as the reason in the "not eligible"
    list; `reason` is the refusal reason the events and the public list carry.
    """

    EDIT_NOT_DONE = ("edit_not_done", "Asked to complete the report, the reporter did not within 2 days.",
                     "Phản ánh đến sau khi xác minh có yêu cầu chỉnh sửa nhưng sau 02 ngày vẫn không chỉnh sửa.")
    NOT_REACHED = ("not_reached", "The reporter could not be reached by phone for 2 days to verify the report.",
                   "Phản ánh đến nhưng thực hiện liên hệ xác minh (bằng điện thoại) sau 02 ngày không thành công.")
    NOT_THE_REPORTER = ("not_the_reporter", "The verification call showed that the person is not the reporter.",
                        "Phản ánh đến nhưng xác minh không phải là người phản ánh.")

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "cancellation", "trường hợp hủy"

    @property
    def reason(self) -> RefusalReason:
        return RefusalReason.EDIT_NOT_DONE if self is Cancellation.EDIT_NOT_DONE else RefusalReason.VERIFICATION_FAILED


# The decision's wording of a duplicate, published as its reason (the operator's note stays in the history).
DUPLICATE_WORDING = ("A repeat of an earlier report sent by the same person or organisation.",
                     "Phản ánh trùng, lặp lại của cùng 01 cá nhân, tổ chức gửi.")


def describe_status(value: str) -> tuple[str, str]:
    """Return the (English, Vietnamese) description of a stored status (for the transition guard)."""
    try:
        return Status(value).label
    except ValueError:
        return value, value


class NoticeKind(Term):
    """What a notice to the reporter is about: every change of their report that concerns them."""

    ACCEPTED = "accepted", "your report was accepted", "phản ánh đã được tiếp nhận"
    REFUSED = "refused", "your report was not accepted", "phản ánh không được tiếp nhận"
    CANCELLED = "cancelled", "your report was cancelled", "phản ánh đã bị hủy"
    EDIT_REQUESTED = "edit_requested", "the IOC asks you to complete your report", "đề nghị bổ sung, chỉnh sửa phản ánh"
    MESSAGE = "message", "a message from the IOC", "tin nhắn của Trung tâm IOC"
    DISPATCHED = "dispatched", "sent to the agency that handles it", "đã chuyển cơ quan xử lý"
    IN_HANDLING = "in_handling", "a unit is handling it", "đơn vị đang xử lý"
    ANSWERED = "answered", "the answer is published", "đã có kết quả trả lời"
    ANSWERED_PRIVATELY = "answered_privately", "the answer, for you alone", "kết quả trả lời gửi riêng cho bạn"
    CONCLUDED = "concluded", "handled and concluded", "đã được xử lý xong"
    CLARIFIED = "clarified", "the answer was clarified", "đã có nội dung giải thích, làm rõ"

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "notice", "thông báo"


class NoticeChannel(Term):
    """How a notice reaches the reporter: SMS to their phone always, e-mail when they gave one, Web Push when they
    subscribed a browser."""

    SMS = "sms", "SMS", "tin nhắn SMS"
    EMAIL = "email", "e-mail", "thư điện tử"
    PUSH = "push", "browser notification", "thông báo trên trình duyệt"

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "channel", "kênh thông báo"
