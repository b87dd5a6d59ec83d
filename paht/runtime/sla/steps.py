"""The steps of the procedure that have a deadline, each named once with its wording (appendix IV.1).

`value` is what is stored and sent (e.g. in paht.common.v1.Clock.step); `label` is (English, Vietnamese)
for people.
"""
from __future__ import annotations

from enum import Enum

from paht.runtime.errors import InvalidInput


class Step(str, Enum):
    DISPATCH = "dispatch"            # steps 1+2, the IOC: receive, check and send to one lead agency
    AGENCY = "agency"                # step 3, the lead agency: accept and assign a lead unit
    HANDLING = "handling"            # steps 3-6 together, the lead agency and unit
    APPROVAL = "approval"            # step 7, the unit leader
    PUBLISH = "publish"              # step 8, the IOC: edit and publish the answer
    CLARIFY = "clarify"              # feedback: the lead unit clarifies its answer
    REPORTER_EDIT = "reporter-edit"  # step 1: the reporter completes the report when asked
    VERIFICATION = "verification"    # step 1: the IOC reaches the reporter by phone

    @property
    def label(self) -> tuple[str, str]:
        """(English, Vietnamese) name of the step for people."""
        return LABELS[self]

    @classmethod
    def parse(cls, value: "str | Step") -> "Step":
        """Return the step with this value, or raise InvalidInput listing the steps there are."""
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise InvalidInput(f"Unknown step {value!r} (one of: {known}).",
                               f"Bước {value!r} không hợp lệ (chọn một trong: {known}).") from None


LABELS: dict[Step, tuple[str, str]] = {
    Step.DISPATCH: ("receive and dispatch (steps 1–2)", "tiếp nhận và chuyển xử lý (bước 1–2)"),
    Step.AGENCY: ("lead agency assigns a lead unit (step 3)", "cơ quan đầu mối phân công đơn vị chủ trì (bước 3)"),
    Step.HANDLING: ("handling by the lead agency and unit (steps 3–6)", "cơ quan, đơn vị chủ trì xử lý (bước 3–6)"),
    Step.APPROVAL: ("unit leader approves the result (step 7)", "lãnh đạo đơn vị phê duyệt kết quả (bước 7)"),
    Step.PUBLISH: ("IOC edits and publishes the result (step 8)", "Trung tâm IOC biên tập và công bố kết quả (bước 8)"),
    Step.CLARIFY: ("lead unit clarifies the result", "đơn vị chủ trì làm rõ kết quả xử lý"),
    Step.REPORTER_EDIT: ("reporter completes the report", "cá nhân, tổ chức bổ sung, chỉnh sửa phản ánh"),
    Step.VERIFICATION: ("IOC verifies the reporter by phone", "Trung tâm IOC xác minh người phản ánh qua điện thoại"),
}
