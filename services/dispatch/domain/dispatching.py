"""Step 2: send an accepted report to exactly one lead agency, within the deadline, with every round kept. No I/O here.

A report is dispatched in rounds: round 1 goes to the first lead agency; when that agency refuses (step 3)
the report comes back to the IOC with the refusal's reason and a new clock, and round 2 goes to the next
agency, and so on. When the agencies cannot agree, the IOC reports it to the Steering Committee
(domain/steering.py), whose decision dispatches the round. Deadlines come from the SLA engine
(paht.runtime.sla), handed in by the service layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum

from paht.runtime.aggregate import Versioned, require_state
from paht.runtime.errors import InvalidInput
from paht.runtime.sla import VN, SlaEngine, Step
from paht.runtime.text import Label, clean_optional, clean_text
from services.dispatch.domain.directory import OrgUnit
from services.dispatch.domain.routing import may_lead
from services.dispatch.domain.steering import Escalation, check_candidate

NOTE = Label("Note", "Ghi chú")
COMPETENCE_REASON = Label("Reason for choosing an agency outside its competence", "Lý do chọn cơ quan ngoài thẩm quyền")
REFUSAL_REASON = Label("Reason for the refusal", "Lý do từ chối")
RECALL_REASON = Label("Reason for taking it back", "Lý do thu hồi")
MAX_NOTE = 2000
MIN_COMPETENCE_REASON = 10


class Status(str, Enum):
    """Where a report stands in step 2 (dispatch's own words; handling and publication have theirs)."""

    AWAITING_DISPATCH = "awaiting_dispatch"  # accepted at step 1: the IOC picks one lead agency
    DISPATCHED = "dispatched"                # sent to one lead agency (step 3 is theirs)
    REFUSED_BY_AGENCY = "refused_by_agency"  # the lead agency refused at step 3: step 2 again, fresh clock
    ESCALATED = "escalated"                  # reported to the Steering Committee, which will designate the lead agency
    RECALLED = "recalled"                    # the IOC took it back from its lead agency: step 2 again, fresh clock

    @property
    def phrase(self) -> tuple[str, str]:
        """(English, Vietnamese) words for "the report is …"."""
        return PHRASES[self]


PHRASES: dict[Status, tuple[str, str]] = {
    Status.AWAITING_DISPATCH: ("waiting for the IOC to send it to a lead agency", "đang chờ Trung tâm IOC chuyển cơ quan chủ trì"),
    Status.DISPATCHED: ("already sent to a lead agency", "đã được chuyển cho cơ quan chủ trì"),
    Status.REFUSED_BY_AGENCY: ("refused by its lead agency and waiting to be sent again",
                               "bị cơ quan chủ trì từ chối và đang chờ chuyển lại"),
    Status.ESCALATED: ("reported to the Steering Committee and waiting for its decision",
                       "đã báo cáo Ban Chỉ đạo và đang chờ Ban Chỉ đạo quyết định"),
    Status.RECALLED: ("taken back by the IOC from its lead agency and waiting to be sent again",
                      "đã được Trung tâm IOC thu hồi từ cơ quan chủ trì và đang chờ chuyển lại"),
}
WAITING = (Status.AWAITING_DISPATCH, Status.REFUSED_BY_AGENCY, Status.RECALLED)  # the IOC's step-2 work list: it is theirs to dispatch
OPEN = (*WAITING, Status.ESCALATED)                              # step 2 not done: its clock runs


def describe(status: str) -> tuple[str, str]:
    """Return the (English, Vietnamese) phrase of a status, for refusals in the procedure's words."""
    try:
        return Status(status).phrase
    except ValueError:
        return status, status


def clean_location(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """Return a point that can be on Earth, or (None, None): a broken location must not break routing."""
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None, None
    return float(lat), float(lon)


@dataclass
class DispatchRound:
    """One time the report was sent to a lead agency, and, if it came back, when and why."""

    report_id: str
    round: int
    agency_id: str
    agency_name: str
    hub_node: str
    dispatched_at: datetime
    dispatched_by: str
    note: str = ""
    competence_reason: str = ""           # the IOC's reason for an agency without competence for the topic's fields
    designated_by_committee: bool = False
    decision: str = ""                    # the Steering Committee's words, when it designated the agency
    on_time: bool = True
    refused_at: datetime | None = None
    refusal_reason: str = ""


@dataclass
class DispatchItem(Versioned):
    report_id: str
    status: str
    received_at: datetime
    urgent: bool
    topic_code: str
    group_code: str
    dispatch_due: datetime
    lead_agency_id: str = ""
    round: int = 0
    note: str = ""
    version: int = 0
    location_lat: float | None = None
    location_lon: float | None = None
    area_code: str = ""
    clock_started_at: datetime | None = None  # the step-2 clock's start: arrival, or the last refusal
    title: str = ""                           # the report's title as accepted at step 1 (public from then on)
    reporter_kind: str = "person"             # "person" or "organisation": handling's answer addresses one or the other
    private_result: bool = False              # the reporter asked that the result go only to them
    state_secret: bool = False                # the IOC found it touches state secrets (as accepted at step 1)
    tracking_code: str = ""                   # what the report says, as accepted, for the lead agency's people
    description: str = ""
    address_text: str = ""
    media: list = field(default_factory=list)  # its files by their staff addresses at intake: [{id, media_type, url, ...}]
    rounds: list = field(default_factory=list)
    escalations: list = field(default_factory=list)

    @classmethod
    def accepted(cls, report_id: str, received_at: datetime, urgent: bool, topic_code: str, group_code: str, engine: SlaEngine, *,
                 location: tuple[float | None, float | None] = (None, None), area_code: str = "", title: str = "",
                 reporter_kind: str = "", private_result: bool = False, state_secret: bool = False, tracking_code: str = "",
                 description: str = "", address_text: str = "", media: list | None = None) -> "DispatchItem":
        """Start the step 1+2 clock of an accepted report, keeping what routing needs (its place) and what the lead
        agency must know without personal data (title, who reports, private result, state secret).

        An empty reporter_kind (an event from before intake sent it) means a person, as intake's own default.
        """
        lat, lon = clean_location(*location)
        return cls(
            report_id=report_id,
            status=Status.AWAITING_DISPATCH.value,
            received_at=received_at,
            urgent=urgent,
            topic_code=topic_code,
            group_code=group_code,
            dispatch_due=engine.due(Step.DISPATCH, received_at, urgent=urgent).astimezone(timezone.utc),
            location_lat=lat,
            location_lon=lon,
            area_code=(area_code or "").strip(),
            clock_started_at=received_at,
            title=(title or "").strip()[:300],
            reporter_kind=(reporter_kind or "").strip()[:20] or "person",
            private_result=bool(private_result),
            state_secret=bool(state_secret),
            tracking_code=(tracking_code or "").strip()[:20],
            description=description or "",
            address_text=(address_text or "").strip()[:300],
            media=list(media or []),
        )

    # --- what the item says about itself -------------------------------------------------------------

    @property
    def clock_start(self) -> datetime:
        return self.clock_started_at or self.received_at

    @property
    def location(self) -> tuple[float, float] | None:
        return (self.location_lat, self.location_lon) if self.location_lat is not None and self.location_lon is not None else None

    @property
    def current_round(self) -> DispatchRound | None:
        return max(self.rounds, key=lambda r: r.round) if self.rounds else None

    @property
    def last_refusal(self) -> DispatchRound | None:
        """The round whose refusal put the report back in the IOC's hands, while it is there."""
        last = self.current_round
        return last if last is not None and last.refused_at is not None and self.status != Status.DISPATCHED.value else None

    @property
    def pending_escalation(self) -> Escalation | None:
        return next((e for e in self.escalations if e.pending), None)

    def _due(self, engine: SlaEngine, escalated: bool) -> datetime:
        return engine.due(Step.DISPATCH, self.clock_start, escalated=escalated, urgent=self.urgent).astimezone(timezone.utc)

    # --- step 2 ---------------------------------------------------------------------------------------

    def dispatch_to_lead_agency(self, agency: OrgUnit, now: datetime, by: str, note: str, *, competence_reason: str = "",
                                needs_reason: bool = False) -> DispatchRound:
        """Send to one lead agency; `needs_reason`: the agency holds none of the topic's fields, so the IOC must say why."""
        require_state(self.status, WAITING, "dispatch", describe, _explain)
        note = clean_optional(note, NOTE, MAX_NOTE)
        _check_lead(agency, now)
        if needs_reason and not (competence_reason or "").strip():
            name_en, name = agency.name_en or agency.name, agency.name
            raise InvalidInput(
                f"{name_en} is not competent for any field of this report's topic; give the reason for choosing it "
                f"(competence_reason, at least {MIN_COMPETENCE_REASON} characters) or choose a competent agency.",
                f"{name} không có thẩm quyền về lĩnh vực nào của chủ đề phản ánh; hãy nêu lý do chọn đơn vị này "
                f"(tối thiểu {MIN_COMPETENCE_REASON} ký tự) hoặc chọn cơ quan có thẩm quyền.",
                field="competence_reason",
            )
        given = (competence_reason or "").strip()
        reason = clean_text(competence_reason, COMPETENCE_REASON, MIN_COMPETENCE_REASON, MAX_NOTE) if given else ""
        return self._send(agency, now, by, note=note, competence_reason=reason)

    def escalate(self, candidates: list[OrgUnit], reason: str, now: datetime, by: str, engine: SlaEngine) -> Escalation:
        """Report to the Steering Committee: the deadline becomes the longer one, counted from the same start."""
        require_state(self.status, WAITING, "escalate", describe, _explain)
        on = now.astimezone(VN).date()
        for unit in candidates:
            check_candidate(unit, unit.in_force(on))
        escalation = Escalation(report_id=self.report_id, seq=len(self.escalations) + 1, round=self.round + 1, escalated_at=now,
                                escalated_by=by, reason=reason, candidates=[u.id for u in candidates])
        self.escalations.append(escalation)
        self.status = Status.ESCALATED.value
        self.dispatch_due = self._due(engine, escalated=True)
        return escalation

    def withdraw_escalation(self, note: str, now: datetime, by: str, engine: SlaEngine) -> Escalation:
        """The IOC takes the report back from the Committee: back in its work list, with the ordinary deadline again."""
        require_state(self.status, (Status.ESCALATED,), "withdraw the escalation", describe, _explain)
        escalation = self.pending_escalation
        assert escalation is not None  # an escalated report always has its pending escalation
        escalation.withdraw(note, by, now)
        self.status = (Status.REFUSED_BY_AGENCY if self.round else Status.AWAITING_DISPATCH).value
        self.dispatch_due = self._due(engine, escalated=False)
        return escalation

    def designate(self, agency: OrgUnit, decision: str, now: datetime, by: str) -> DispatchRound:
        """The Steering Committee designates the lead agency: that dispatches the round, on the longer deadline."""
        require_state(self.status, (Status.ESCALATED,), "decide", describe, _explain)
        _check_lead(agency, now)
        escalation = self.pending_escalation
        assert escalation is not None
        escalation.decide(agency.id, decision, by, now)
        return self._send(agency, now, by, designated=True, decision=decision)

    def _send(self, agency: OrgUnit, now: datetime, by: str, *, note: str = "", competence_reason: str = "", designated: bool = False,
              decision: str = "") -> DispatchRound:
        self.round += 1
        sent = DispatchRound(report_id=self.report_id, round=self.round, agency_id=agency.id, agency_name=agency.name,
                             hub_node=agency.hub_node or "", dispatched_at=now, dispatched_by=by, note=note,
                             competence_reason=competence_reason, designated_by_committee=designated, decision=decision,
                             on_time=now <= self.dispatch_due)
        self.rounds.append(sent)
        self.lead_agency_id = agency.id
        self.note = note
        self.status = Status.DISPATCHED.value
        return sent

    def refused_by_agency(self, now: datetime, reason: str, engine: SlaEngine) -> None:
        """The lead agency refused at step 3: the IOC dispatches again, on a new clock from the refusal."""
        require_state(self.status, (Status.DISPATCHED,), "take back after the lead agency's refusal", describe)
        current = self.current_round
        if current is not None:  # items dispatched before rounds were kept have none to mark
            current.refused_at = now
            current.refusal_reason = clean_optional(reason, REFUSAL_REASON, MAX_NOTE)
        self.status = Status.REFUSED_BY_AGENCY.value
        self.lead_agency_id = ""
        self.clock_started_at = now
        self.dispatch_due = self._due(engine, escalated=False)


    def recall(self, now: datetime, reason: str, engine: SlaEngine) -> DispatchRound | None:
        """The IOC takes the report back from its lead agency, with a reason (e.g. a hub out of reach too long): the
        round ends, step 2 starts again on a new clock. Return the round that ended."""
        require_state(self.status, (Status.DISPATCHED,), "take back from its lead agency", describe)
        reason = clean_text(reason, RECALL_REASON, 5, MAX_NOTE)
        current = self.current_round
        self.status = Status.RECALLED.value
        self.lead_agency_id = ""
        self.note = reason
        self.clock_started_at = now
        self.dispatch_due = self._due(engine, escalated=False)
        return current


def _check_lead(agency: OrgUnit, now: datetime) -> None:
    name_en, name = agency.name_en or agency.name, agency.name
    if not may_lead(agency):
        raise InvalidInput(f"{name_en} cannot be a lead agency.", f"{name} không phải cơ quan đầu mối xử lý.")
    if not agency.in_force(now.astimezone(VN).date()):  # validity dates are Vietnamese calendar days
        raise InvalidInput(f"{name_en} is not in force any more.", f"{name} không còn hiệu lực.")


def _explain(current: str, action: str) -> tuple[str, str] | None:
    """Say more than the status where a person would otherwise wonder what happened."""
    if current == Status.DISPATCHED.value and action == "decide":
        return ("The report has already been sent to a lead agency; the Steering Committee has nothing left to decide.",
                "Phản ánh đã được chuyển cho cơ quan chủ trì; Ban Chỉ đạo không còn nội dung cần quyết định.")
    if current == Status.ESCALATED.value and action == "escalate":
        return ("The report is already with the Steering Committee, waiting for its decision.",
                "Phản ánh đã được báo cáo Ban Chỉ đạo và đang chờ quyết định.")
    if current == Status.ESCALATED.value and action == "dispatch":
        return ("The report is with the Steering Committee, waiting for its decision; "
                "withdraw the escalation first to dispatch it yourself.",
                "Phản ánh đang chờ Ban Chỉ đạo quyết định; muốn tự chuyển, hãy rút lại báo cáo Ban Chỉ đạo trước.")
    if current in {s.value for s in WAITING} and action == "decide":
        return ("The report is not with the Steering Committee: the IOC has not reported it, or has withdrawn it.",
                "Phản ánh không ở Ban Chỉ đạo: Trung tâm IOC chưa báo cáo hoặc đã rút lại.")
    return None

