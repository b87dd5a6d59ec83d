"""A case's history: every hand-over and decision of steps 3 to 7, with who, when and why. No I/O here.

The decision asks that each hand-over carry an explicit message; the line keeps it (a reason for a
refusal or a return, the note that went with an assignment, a draft or an approval), with the
person who acted, the role they acted in and their unit. Lines are only ever added.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Action(str, Enum):
    DISPATCHED = "dispatched"                # the IOC dispatched the report to the lead agency (a round begins)
    UNIT_ASSIGNED = "unit_assigned"          # step 3
    REFUSED_BY_AGENCY = "refused_by_agency"  # step 3
    STAFF_ASSIGNED = "staff_assigned"        # step 4 (or a re-assignment)
    REFUSED_BY_UNIT = "refused_by_unit"      # step 4
    WORK_LOGGED = "work_logged"              # step 6: a note of the work log
    DRAFTED = "drafted"                      # step 6: staff report to the leader
    RETURN_PROPOSED = "return_proposed"      # step 6: staff propose sending it back up
    SENT_BACK = "sent_back"                  # the leader agreed: back to the lead agency
    KEPT = "kept"                            # the leader declined: staff go on
    APPROVED = "approved"                    # step 7
    RETURNED_TO_STAFF = "returned_to_staff"  # step 7
    RETURNED_BY_IOC = "returned_by_ioc"      # step 8, at the leader
    SUPPORT_REQUESTED = "support_requested"  # step 5: the lead unit asks another agency or unit
    SUPPORT_ACCEPTED = "support_accepted"    # 5.1
    SUPPORT_REFUSED = "support_refused"
    SUPPORT_ANSWERED = "support_answered"    # 5.2
    CLARIFICATION_ASKED = "clarification_asked"        # after publication, by the reporter (through the IOC's portal)
    CLARIFICATION_DRAFTED = "clarification_drafted"
    CLARIFICATION_RETURNED = "clarification_returned"
    CLARIFICATION_APPROVED = "clarification_approved"  # to the IOC
    CLARIFICATION_SENT_BACK = "clarification_sent_back"  # by the IOC, to the leader, with a reason
    RATED = "rated"                          # after publication, by the reporter (their rating and comment)
    CONTACT_SEEN = "contact_seen"            # someone handling the case saw the reporter's contact (intake keeps the audit)
    RECALLED = "recalled"                    # the province took the case back from this node (federation)

    @property
    def label(self) -> tuple[str, str]:
        """(English, Vietnamese) as the case page shows it."""
        return LABELS[self]


LABELS: dict[Action, tuple[str, str]] = {
    Action.DISPATCHED: ("Dispatched to the lead agency", "Trung tâm IOC phân công cơ quan chủ trì"),
    Action.UNIT_ASSIGNED: ("Lead unit assigned", "Cơ quan đầu mối giao đơn vị chủ trì"),
    Action.REFUSED_BY_AGENCY: ("Refused by the lead agency", "Cơ quan đầu mối từ chối"),
    Action.STAFF_ASSIGNED: ("Staff assigned", "Lãnh đạo đơn vị giao cán bộ xử lý"),
    Action.REFUSED_BY_UNIT: ("Refused by the lead unit", "Đơn vị chủ trì từ chối"),
    Action.WORK_LOGGED: ("Work log", "Nhật ký xử lý"),
    Action.DRAFTED: ("Result reported with a draft answer", "Cán bộ báo cáo kết quả kèm dự thảo trả lời"),
    Action.RETURN_PROPOSED: ("Staff propose sending it back", "Cán bộ đề xuất chuyển trả"),
    Action.SENT_BACK: ("Sent back to the lead agency", "Lãnh đạo đơn vị chuyển trả cơ quan đầu mối"),
    Action.KEPT: ("Kept in the unit", "Lãnh đạo đơn vị giữ lại để tiếp tục xử lý"),
    Action.APPROVED: ("Approved and sent to the IOC", "Lãnh đạo đơn vị phê duyệt, chuyển Trung tâm IOC"),
    Action.RETURNED_TO_STAFF: ("Returned to staff", "Lãnh đạo đơn vị trả lại cán bộ"),
    Action.RETURNED_BY_IOC: ("Returned by the IOC", "Trung tâm IOC trả lại"),
    Action.SUPPORT_REQUESTED: ("Support requested", "Đơn vị chủ trì đề nghị phối hợp, hỗ trợ"),
    Action.SUPPORT_ACCEPTED: ("Support accepted", "Cơ quan, đơn vị phối hợp tiếp nhận và giao cán bộ"),
    Action.SUPPORT_REFUSED: ("Support refused", "Cơ quan, đơn vị được đề nghị từ chối phối hợp"),
    Action.SUPPORT_ANSWERED: ("Support given", "Cơ quan, đơn vị phối hợp cung cấp thông tin"),
    Action.CLARIFICATION_ASKED: ("The reporter asked for clarification", "Người phản ánh đề nghị làm rõ kết quả"),
    Action.CLARIFICATION_DRAFTED: ("Clarification drafted", "Cán bộ dự thảo nội dung làm rõ"),
    Action.CLARIFICATION_RETURNED: ("Clarification returned to staff", "Lãnh đạo đơn vị trả lại nội dung làm rõ"),
    Action.CLARIFICATION_APPROVED: ("Clarification approved and sent to the IOC", "Lãnh đạo đơn vị duyệt nội dung làm rõ, chuyển Trung tâm IOC"),
    Action.CLARIFICATION_SENT_BACK: ("The IOC sent the clarification back", "Trung tâm IOC trả lại nội dung làm rõ"),
    Action.RATED: ("The reporter rated the answer", "Người phản ánh đánh giá kết quả giải quyết"),
    Action.CONTACT_SEEN: ("Saw the reporter's contact", "Xem thông tin liên hệ của người phản ánh"),
    Action.RECALLED: ("Taken back by the province", "Trung tâm IOC tỉnh thu hồi để phân công lại"),
}


@dataclass(frozen=True)
class HistoryLine:
    """One thing that happened to a case."""

    id: str
    report_id: str
    at: datetime
    action: str
    status: str          # where the case stood afterwards
    round: int
    actor_subject: str   # the account that acted ("ioc" for what arrived from the IOC's side)
    actor_roles: str     # the roles it held, comma-separated
    actor_org: str       # its unit
    message: str         # the explicit message of the hand-over: a note, a reason

    def as_row(self) -> dict:
        return dict(self.__dict__)
