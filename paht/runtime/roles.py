"""Staff roles and the groups the procedure names: the one vocabulary every service checks against.

A role is what a token's role claim holds; a group is who may take a step. Services import these,
never spell a role as a string.
"""
from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    IOC_OPERATOR = "ioc_operator"              # provincial (or district) IOC: steps 1, 2 and 8
    IOC_ADMIN = "ioc_admin"                    # IOC administrator: directory, accounts, operations
    AGENCY_COORDINATOR = "agency_coordinator"  # the lead agency's coordination office: step 3
    UNIT_LEADER = "unit_leader"                # leader of the lead unit: steps 4 and 7
    STAFF = "staff"                            # staff member of the lead unit: steps 5 and 6

    @property
    def label(self) -> tuple[str, str]:
        """(English, Vietnamese) name of the role for people."""
        return LABELS[self]


LABELS: dict[Role, tuple[str, str]] = {
    Role.IOC_OPERATOR: ("IOC operator", "Cán bộ Trung tâm IOC"),
    Role.IOC_ADMIN: ("IOC administrator", "Quản trị Trung tâm IOC"),
    Role.AGENCY_COORDINATOR: ("agency coordinator", "Bộ phận điều phối của cơ quan"),
    Role.UNIT_LEADER: ("unit leader", "Lãnh đạo đơn vị"),
    Role.STAFF: ("staff member", "Cán bộ xử lý"),
}

ALL: frozenset[str] = frozenset(r.value for r in Role)
# The IOC: checks and dispatches reports, publishes answers, and may see every case.
IOC: tuple[str, ...] = (Role.IOC_OPERATOR.value, Role.IOC_ADMIN.value)
# Who may release a reporter's contact (audited) and look at operations (dead letters, sync).
CONTACT: tuple[str, ...] = IOC
OPERATIONS: tuple[str, ...] = (Role.IOC_ADMIN.value, Role.IOC_OPERATOR.value)
