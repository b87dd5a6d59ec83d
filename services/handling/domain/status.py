"""Where a case stands (steps 3 to 7), each status with its words for people. No I/O here.

Four different things send a case "back", and each has its own name everywhere in handling:
the lead agency refuses it at step 3 (REFUSED_BY_AGENCY: back to the IOC for step 2), the staff
member proposes sending it back up for re-dispatch (RETURN_PROPOSED: the unit leader decides), the
unit leader returns the draft to the staff member at step 7 (RETURNED_TO_STAFF), and the IOC returns
the approved answer at step 8 (RETURNED_BY_IOC: it reopens at the unit leader, who completes it or
hands it back to staff).
"""
from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    AWAITING_AGENCY = "awaiting_agency"            # step 3: the agency accepts and names a lead unit
    AWAITING_UNIT_LEADER = "awaiting_unit_leader"  # step 4: the unit leader accepts and names staff
    IN_PROGRESS = "in_progress"                    # steps 5-6: the assigned staff member handles it
    DRAFTED = "drafted"                            # step 7: the leader approves or returns the draft
    RETURNED_TO_STAFF = "returned_to_staff"        # step 7: the leader returned the draft to complete
    APPROVED = "approved"                          # with the IOC for step 8
    RETURNED_BY_IOC = "returned_by_ioc"            # step 8: the IOC returned the approved answer (at the leader)
    RETURN_PROPOSED = "return_proposed"            # step 6: staff propose sending it back up; the leader decides
    CLARIFYING = "clarifying"                      # after publication: the reporter asked; the lead unit clarifies
    CLARIFICATION_DRAFTED = "clarification_drafted"  # the clarification waits for the leader's approval
    REFUSED_BY_AGENCY = "refused_by_agency"        # step 3 refused: back to the IOC for step 2
    RECALLED = "recalled"                          # the province took the case back (dispatched again, to another node)

    @property
    def label(self) -> tuple[str, str]:
        """(English, Vietnamese) short name, as a badge shows it."""
        return STATUS_TEXT[self][0]

    @property
    def phrase(self) -> tuple[str, str]:
        """(English, Vietnamese) where the report stands, to follow "the report is …" / "phản ánh …"."""
        return STATUS_TEXT[self][1]


STATUS_TEXT: dict[Status, tuple[tuple[str, str], tuple[str, str]]] = {
    Status.AWAITING_AGENCY: (
        ("Waiting for the lead agency", "Chờ cơ quan chủ trì tiếp nhận"),
        ("waiting for the lead agency to accept it and name a lead unit", "đang chờ cơ quan chủ trì tiếp nhận và giao đơn vị chủ trì"),
    ),
    Status.AWAITING_UNIT_LEADER: (
        ("Waiting for the lead unit", "Chờ đơn vị chủ trì tiếp nhận"),
        ("waiting for the lead unit's leader to accept it and assign a staff member",
         "đang chờ lãnh đạo đơn vị chủ trì tiếp nhận và giao cán bộ xử lý"),
    ),
    Status.IN_PROGRESS: (
        ("In progress", "Đang xử lý"),
        ("being handled by its assigned staff member", "đang được cán bộ được giao xử lý"),
    ),
    Status.DRAFTED: (
        ("Draft awaiting approval", "Dự thảo chờ duyệt"),
        ("waiting for the unit leader to approve the draft answer", "đang chờ lãnh đạo đơn vị duyệt dự thảo trả lời"),
    ),
    Status.RETURNED_TO_STAFF: (
        ("Returned to staff by the unit leader", "Lãnh đạo đơn vị trả lại cán bộ"),
        ("back with its staff member: the unit leader returned the draft for completion",
         "đã được lãnh đạo đơn vị trả lại cán bộ xử lý để hoàn thiện dự thảo"),
    ),
    Status.APPROVED: (
        ("Approved, with the IOC", "Đã duyệt, chờ Trung tâm IOC"),
        ("approved by the unit leader and waiting for the IOC to publish the answer",
         "đã được lãnh đạo đơn vị duyệt và đang chờ Trung tâm IOC công khai kết quả"),
    ),
    Status.RETURNED_BY_IOC: (
        ("Returned by the IOC", "Trung tâm IOC trả lại"),
        ("back with the unit leader: the IOC returned the approved answer for completion",
         "đã được Trung tâm IOC trả lại lãnh đạo đơn vị chủ trì để điều chỉnh, bổ sung kết quả"),
    ),
    Status.CLARIFYING: (
        ("Clarification asked", "Người phản ánh đề nghị làm rõ"),
        ("with the lead unit: the reporter asked it to clarify the answer (1 working day)",
         "đang chờ đơn vị chủ trì làm rõ kết quả xử lý theo đề nghị của người phản ánh (01 ngày làm việc)"),
    ),
    Status.CLARIFICATION_DRAFTED: (
        ("Clarification awaiting approval", "Nội dung làm rõ chờ duyệt"),
        ("waiting for the unit leader to approve the clarification", "đang chờ lãnh đạo đơn vị duyệt nội dung làm rõ"),
    ),
    Status.RETURN_PROPOSED: (
        ("Staff propose sending it back", "Cán bộ đề xuất chuyển trả"),
        ("waiting for the unit leader: its staff member proposes sending it back to the lead agency for re-dispatch",
         "đang chờ lãnh đạo đơn vị xem xét đề xuất của cán bộ chuyển trả lại cơ quan đầu mối để phân phối lại"),
    ),
    Status.REFUSED_BY_AGENCY: (
        ("Refused by the lead agency", "Cơ quan chủ trì từ chối"),
        ("back with the IOC to be dispatched again: the lead agency refused it",
         "đã bị cơ quan chủ trì từ chối và được chuyển lại Trung tâm IOC để phân công lại"),
    ),
    Status.RECALLED: (
        ("Taken back by the province", "Tỉnh đã thu hồi"),
        ("no longer handled here: the provincial IOC dispatched it again, to an agency of another node",
         "không còn xử lý tại đây: Trung tâm IOC tỉnh đã phân công lại cho cơ quan thuộc nút khác"),
    ),
}


def describe(status: str) -> tuple[str, str]:
    """Return where a report with this status stands, in the procedure's words (en, vi)."""
    return Status(status).phrase


# The case is with its staff member: they may (re)draft or propose sending it back, and the leader may re-assign.
WITH_STAFF = (Status.IN_PROGRESS, Status.RETURNED_TO_STAFF)
# An answer waits for the unit leader: staff's draft (step 7), or the approved answer the IOC returned (step 8).
ANSWER_AT_LEADER = (Status.DRAFTED, Status.RETURNED_BY_IOC)
# Accepted by the unit at step 4 and not yet (again) with the IOC.
HANDLED = (*WITH_STAFF, *ANSWER_AT_LEADER, Status.RETURN_PROPOSED)
# Out of the agency's and its units' hands: approved (with the IOC for step 8, and so after publication), refused back
# to the IOC, taken back by the province. A work list shows the other cases — those someone here still acts on — and
# these only when asked for (Scope.FINISHED): years of finished cases would otherwise fill every person's list.
FINISHED: tuple[Status, ...] = (Status.APPROVED, Status.REFUSED_BY_AGENCY, Status.RECALLED)
IN_HAND: tuple[Status, ...] = tuple(s for s in Status if s not in FINISHED)


class Scope(str, Enum):
    """Which of the cases a person may see a work list shows."""

    IN_HAND = "in_hand"    # still to be acted on here (the default)
    FINISHED = "finished"  # approved, refused back to the IOC, or taken back
    ALL = "all"

    @property
    def statuses(self) -> tuple[Status, ...] | None:
        """The statuses this scope lists (None: any)."""
        return {Scope.IN_HAND: IN_HAND, Scope.FINISHED: FINISHED, Scope.ALL: None}[self]
