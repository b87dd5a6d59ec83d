"""Staff roles and the groups the procedure names: the one vocabulary every service checks against.

A role is what a token's role claim holds; a group is who may take a step. Services import these,
never spell a role as a string.
"""
from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    IOC_OPERATOR = "ioc_operator"              # provincial (or district) IOC: steps 1 and 2
    IOC_EDITOR = "ioc_editor"                  # IOC editor: checks, edits and publishes answers (step 8)
    IOC_ADMIN = "ioc_admin"                    # IOC administrator: directory, accounts, operations
    AGENCY_COORDINATOR = "agency_coordinator"  # the lead agency's coordination office: step 3
    UNIT_LEADER = "unit_leader"                # leader of the lead unit: steps 4 and 7
    STAFF = "staff"                            # staff member of the lead unit: steps 5 and 6
    STEERING_MEMBER = "steering_member"        # member of the provincial Steering Committee: designates a lead agency in disputes
    EMERGENCY_DESK = "emergency_desk"          # duty desk of 113/114/115: receives and acknowledges forwarded urgent reports

    @property
    def label(self) -> tuple[str, str]:
        """(English, Vietnamese) name of the role for people."""
        return LABELS[self]


LABELS: dict[Role, tuple[str, str]] = {
    Role.IOC_OPERATOR: ("IOC operator", "Cán bộ Trung tâm IOC"),
    Role.IOC_EDITOR: ("IOC editor", "Biên tập viên Trung tâm IOC"),
    Role.IOC_ADMIN: ("IOC administrator", "Quản trị Trung tâm IOC"),
    Role.AGENCY_COORDINATOR: ("agency coordinator", "Bộ phận điều phối của cơ quan"),
    Role.UNIT_LEADER: ("unit leader", "Lãnh đạo đơn vị"),
    Role.STAFF: ("staff member", "Cán bộ xử lý"),
    Role.STEERING_MEMBER: ("Steering Committee member", "Thành viên Ban Chỉ đạo"),
    Role.EMERGENCY_DESK: ("emergency duty desk (113/114/115)", "Trực ban 113/114/115"),
}

ALL: frozenset[str] = frozenset(r.value for r in Role)
# The IOC: checks and dispatches reports, publishes answers, and may see every case.
IOC: tuple[str, ...] = (Role.IOC_OPERATOR.value, Role.IOC_EDITOR.value, Role.IOC_ADMIN.value)
# Step 2: who may send a report to its lead agency, escalate it or forward it to 113/114/115.
DISPATCHERS: tuple[str, ...] = (Role.IOC_OPERATOR.value,)
# Who edits the organisation directory, the taxonomy and the business calendar.
ADMINS: tuple[str, ...] = (Role.IOC_ADMIN.value,)
# Who sees the Steering Committee's disputed reports and designates their lead agency.
STEERING: tuple[str, ...] = (Role.STEERING_MEMBER.value,)
# Who may release a reporter's contact (audited) and look at operations (dead letters, sync).
CONTACT: tuple[str, ...] = IOC
# Who handles cases (steps 3–7): they may see a reporter's contact too (audited), but only for a case
# the handling service says they handle.
CASE_HANDLERS: tuple[str, ...] = (Role.AGENCY_COORDINATOR.value, Role.UNIT_LEADER.value, Role.STAFF.value)
# Who sees every report's files (the originals too): the IOC, the Steering Committee and the 113/114/115 desks; the
# people of agencies and units see a report's files only while handling its case (handling says so).
ALL_FILES: tuple[str, ...] = IOC + STEERING + (Role.EMERGENCY_DESK.value,)
OPERATIONS: tuple[str, ...] = (Role.IOC_ADMIN.value, Role.IOC_OPERATOR.value)
