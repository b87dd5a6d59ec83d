"""The Steering Committee (Ban Chỉ đạo tỉnh): when agencies cannot agree who leads, the IOC reports the
report to the Committee, which designates exactly one lead agency. No I/O here.

Appendix IV.1, step 2: "... thì Trung tâm IOC tỉnh trao đổi với các cơ quan, đơn vị liên quan để thống nhất
hoặc báo cáo Ban Chỉ đạo ... xem xét, quyết định giao 01 cơ quan đầu mối xử lý", with the longer window
(1.5 h by day, 07:30 after a night arrival). Each escalation is kept: who reported it, why, the agencies in
dispute, and how it ended (decided, or withdrawn by the IOC when the agencies agreed after all).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Iterable

from paht.runtime.errors import InvalidInput
from paht.runtime.text import Label, clean_optional, clean_text
from services.dispatch.domain.directory import OrgUnit
from services.dispatch.domain.routing import may_lead

ESCALATION_REASON = Label("Reason for reporting to the Steering Committee", "Lý do báo cáo Ban Chỉ đạo")
DECISION = Label("The Steering Committee's decision", "Quyết định của Ban Chỉ đạo")
WITHDRAWAL_NOTE = Label("Reason for withdrawing", "Lý do rút lại")
CANDIDATES = Label("Agencies in dispute", "Các cơ quan liên quan")
MIN_TEXT, MAX_TEXT = 10, 2000
MIN_CANDIDATES, MAX_CANDIDATES = 2, 10


class EscalationState(str, Enum):
    PENDING = "pending"      # with the Committee, waiting for its decision
    DECIDED = "decided"      # the Committee designated the lead agency
    WITHDRAWN = "withdrawn"  # the IOC took it back (the agencies agreed, or it was reported by mistake)

    @property
    def phrase(self) -> tuple[str, str]:
        return STATE_PHRASES[self]


STATE_PHRASES: dict[EscalationState, tuple[str, str]] = {
    EscalationState.PENDING: ("waiting for the Steering Committee's decision", "đang chờ Ban Chỉ đạo quyết định"),
    EscalationState.DECIDED: ("decided by the Steering Committee", "Ban Chỉ đạo đã quyết định"),
    EscalationState.WITHDRAWN: ("withdrawn by the IOC", "Trung tâm IOC đã rút lại"),
}


@dataclass
class Escalation:
    """One time a report was reported to the Steering Committee, and how that ended."""

    report_id: str
    seq: int                 # 1, 2... per report
    round: int               # the dispatch round it is about (the report's round + 1)
    escalated_at: datetime
    escalated_by: str
    reason: str
    candidates: list = field(default_factory=list)  # ids of the agencies in dispute
    state: str = EscalationState.PENDING.value
    closed_at: datetime | None = None
    closed_by: str = ""
    decision: str = ""       # the Committee's words, or the IOC's reason for withdrawing
    agency_id: str = ""      # the agency the Committee designated

    @property
    def pending(self) -> bool:
        return self.state == EscalationState.PENDING.value

    def decide(self, agency_id: str, decision: str, by: str, now: datetime) -> None:
        self.state, self.agency_id = EscalationState.DECIDED.value, agency_id
        self.decision, self.closed_by, self.closed_at = decision, by, now

    def withdraw(self, note: str, by: str, now: datetime) -> None:
        self.state, self.decision, self.closed_by, self.closed_at = EscalationState.WITHDRAWN.value, note, by, now


def clean_reason(value: str | None) -> str:
    return clean_text(value, ESCALATION_REASON, MIN_TEXT, MAX_TEXT)


def clean_decision(value: str | None) -> str:
    return clean_text(value, DECISION, MIN_TEXT, MAX_TEXT)


def clean_withdrawal(value: str | None) -> str:
    return clean_optional(value, WITHDRAWAL_NOTE, MAX_TEXT)


def distinct_candidates(ids: Iterable[str]) -> list[str]:
    """Return the candidate ids once each, in the order given; refuse fewer than 2 or more than 10 agencies."""
    seen: list[str] = []
    for i in ids:
        if i not in seen:
            seen.append(i)
    if len(seen) < MIN_CANDIDATES:
        raise InvalidInput(f"Name at least {MIN_CANDIDATES} different agencies in dispute; one agency needs no Steering Committee.",
                           f"Cần nêu ít nhất {MIN_CANDIDATES} cơ quan khác nhau; một cơ quan thì không cần báo cáo Ban Chỉ đạo.",
                           field=CANDIDATES.en)
    if len(seen) > MAX_CANDIDATES:
        raise InvalidInput(f"Name at most {MAX_CANDIDATES} agencies in dispute.", f"Chỉ nêu tối đa {MAX_CANDIDATES} cơ quan liên quan.",
                           field=CANDIDATES.en)
    return seen


def check_candidate(unit: OrgUnit, in_force: bool) -> None:
    """Refuse a candidate that could never be designated: one that cannot lead, or is not in force."""
    name_en, name = unit.name_en or unit.name, unit.name
    if not may_lead(unit):
        raise InvalidInput(f"{name_en} cannot be a lead agency, so the Steering Committee cannot designate it.",
                           f"{name} không phải cơ quan đầu mối xử lý nên Ban Chỉ đạo không thể giao cho đơn vị này.")
    if not in_force:
        raise InvalidInput(f"{name_en} is not in force any more.", f"{name} không còn hiệu lực.")
