"""The public record of a report and step 8 of the procedure (edit and publish, or return). No I/O here."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum

from paht.runtime import roles, sla
from paht.runtime.ids import ID_PATTERN, looks_like_id
from paht.runtime.aggregate import Versioned, require_state
from paht.runtime.errors import Forbidden, InvalidInput, StateConflict
from paht.runtime.text import Label, clean_text, fold
from services.publication.domain.feedback import clean_reason


class Step(str, Enum):
    """The one public vocabulary: what happened to a report (its timeline) and where it is now (its status).

    The three "returns" of the procedure are named apart: the lead agency refusing at step 3
    (AGENCY_REFUSED), the unit leader sending a draft back to staff at step 7 (RETURNED_TO_STAFF),
    and the IOC sending an approved answer back to the lead unit at step 8 (RETURNED_BY_IOC).
    """

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    DISPATCHED = "dispatched"
    AGENCY_REFUSED = "agency_refused"
    ASSIGNED = "assigned"
    UNIT_REFUSED = "unit_refused"
    IN_PROGRESS = "in_progress"
    DRAFTED = "drafted"
    RETURNED_TO_STAFF = "returned_to_staff"
    APPROVED = "approved"
    RETURNED_BY_IOC = "returned_by_ioc"
    PUBLISHED = "published"

    @property
    def event_label(self) -> Label:
        """What happened, as the public timeline says it."""
        return WORDING[self].event

    @property
    def status_label(self) -> Label:
        """Where the report is now, as its status badge says it (only for steps that are a status)."""
        wording = WORDING[self].status
        if wording is None:
            raise ValueError(f"{self.value} is a timeline step, never a report's status")
        return wording


@dataclass(frozen=True)
class Wording:
    event: Label              # in the timeline: what happened
    status: Label | None = None  # as a status: where the report is; None when the step is never a status


WORDING: dict[Step, Wording] = {
    Step.SUBMITTED: Wording(Label("Report submitted", "Gửi phản ánh"), Label("Awaiting review", "Chờ tiếp nhận")),
    Step.ACCEPTED: Wording(Label("Accepted by the provincial IOC", "Trung tâm IOC tỉnh tiếp nhận"), Label("Accepted", "Đã tiếp nhận")),
    Step.REFUSED: Wording(Label("Refused by the provincial IOC", "Trung tâm IOC tỉnh từ chối tiếp nhận"),
                          Label("Not eligible", "Không đủ điều kiện tiếp nhận")),
    Step.CANCELLED: Wording(Label("Report cancelled", "Hủy phản ánh"), Label("Cancelled", "Đã hủy")),
    Step.DISPATCHED: Wording(Label("Sent to the lead agency", "Phân phối cho cơ quan đầu mối xử lý"),
                             Label("Sent to the responsible agency", "Đã chuyển cơ quan xử lý")),
    Step.AGENCY_REFUSED: Wording(Label("Refused by the lead agency, returned to the provincial IOC",
                                       "Cơ quan đầu mối từ chối, trả lại Trung tâm IOC tỉnh")),
    Step.ASSIGNED: Wording(Label("Assigned to a unit and staff", "Phân công đơn vị, cán bộ xử lý"), Label("Assigned", "Đã giao xử lý")),
    Step.UNIT_REFUSED: Wording(Label("Refused by the lead unit, returned to the lead agency", "Đơn vị chủ trì từ chối, trả lại cơ quan đầu mối")),
    Step.IN_PROGRESS: Wording(Label("In progress", "Đang xử lý"), Label("In progress", "Đang xử lý")),
    Step.DRAFTED: Wording(Label("Result reported with a draft answer", "Báo cáo kết quả và dự thảo nội dung trả lời"),
                          Label("Answer drafted", "Đã có dự thảo kết quả")),
    Step.RETURNED_TO_STAFF: Wording(Label("Returned by the unit leader to staff for completion",
                                          "Lãnh đạo đơn vị trả lại cán bộ xử lý để bổ sung, hoàn thiện")),
    Step.APPROVED: Wording(Label("Result approved by the unit leader", "Lãnh đạo đơn vị phê duyệt kết quả"),
                           Label("Answer approved", "Đã phê duyệt kết quả")),
    Step.RETURNED_BY_IOC: Wording(Label("Returned by the provincial IOC to the lead unit for completion",
                                        "Trung tâm IOC tỉnh trả lại đơn vị chủ trì để bổ sung, hoàn thiện"),
                                  Label("Returned by the IOC for completion", "Trung tâm IOC trả lại để bổ sung")),
    Step.PUBLISHED: Wording(Label("Answer published", "Công khai kết quả xử lý"), Label("Answer published", "Đã công khai kết quả")),
}
STATUSES = frozenset(s for s in Step if WORDING[s].status is not None)

# Events of intake, dispatch and handling arrive in any relative order: the status only ever climbs.
RANK = {s: i for i, s in enumerate((
    Step.SUBMITTED, Step.ACCEPTED, Step.DISPATCHED, Step.ASSIGNED,
    Step.IN_PROGRESS, Step.DRAFTED, Step.APPROVED, Step.PUBLISHED,
))}
FINAL = {Step.PUBLISHED, Step.REFUSED, Step.CANCELLED}
# After the IOC returns a result (step 8), only the lead unit's rework moves the report on.
REWORK = {Step.ASSIGNED, Step.IN_PROGRESS, Step.DRAFTED, Step.APPROVED}
# Listed publicly (home page, API lists) only once step 1 accepted the report; every later status
# implies that acceptance (dispatch and handling only ever act on accepted reports).
LISTED = frozenset({*(s for s in RANK if RANK[s] >= RANK[Step.ACCEPTED]), Step.RETURNED_BY_IOC})
# Refused reports are public too, but only in the "not eligible" list, with the public reason.
NOT_ELIGIBLE = frozenset({Step.REFUSED, Step.CANCELLED})  # the decision publishes both under "Không đủ điều kiện tiếp nhận", with the reason


class Visibility(str, Enum):
    """Who may read a report. Only PUBLIC reports are published, answer and process alike (the decision's
    IV.1.6.b makes the process public "except the cases of IV.1.4.a": a reporter who asked for privacy)."""

    PUBLIC = "public"
    REPORTER_ONLY = "reporter_only"  # the reporter asked that the result go only to them: nothing public, not even the process
    STATE_SECRET = "state_secret"    # never published; step 8 records the answer only


# The one privacy rule, in the words both the domain (PublicReport.is_public) and the SQL lists
# (adapters/repositories.py `_shown`) use: content known and this visibility.
PUBLIC_VISIBILITY = Visibility.PUBLIC


class Clock(str, Enum):
    """A step's deadline as the public timeline shows it, named by the clock that sets it (docs/procedure.md, Time)."""

    DISPATCH = "dispatch"    # steps 1-2: dispatch's ReportDispatched.dispatch_due, met when dispatched
    AGENCY = "agency"        # step 3: ReportDispatched.agency_due, met when the lead unit is assigned
    HANDLING = "handling"    # steps 3-6: ReportDispatched.handling_due, met when staff report the draft
    APPROVAL = "approval"    # step 7: handling's ResultDrafted.approval_due, met at the leader's approval
    PUBLISH = "publish"      # step 8: publish_due from the SLA engine, met at publishing


@dataclass(frozen=True)
class ClockRule:
    ended_by: Step  # the timeline entry that ends the step
    label: Label


CLOCKS: dict[Clock, ClockRule] = {
    Clock.DISPATCH: ClockRule(Step.DISPATCHED, Label("Steps 1–2: check and send to the lead agency",
                                                     "Bước 1–2: tiếp nhận, phân phối cho cơ quan đầu mối")),
    Clock.AGENCY: ClockRule(Step.ASSIGNED, Label("Step 3: the lead agency assigns the lead unit", "Bước 3: cơ quan đầu mối giao đơn vị chủ trì")),
    Clock.HANDLING: ClockRule(Step.DRAFTED, Label("Steps 3–6: handle and report the result", "Bước 3–6: xử lý, báo cáo kết quả")),
    Clock.APPROVAL: ClockRule(Step.APPROVED, Label("Step 7: the unit leader approves the result", "Bước 7: lãnh đạo đơn vị phê duyệt kết quả")),
    Clock.PUBLISH: ClockRule(Step.PUBLISHED, Label("Step 8: the IOC publishes the answer", "Bước 8: Trung tâm IOC công khai kết quả")),
}


# The steps whose end is kept on the record (the other two end with a time the record already has: dispatched_at, published_at).
STEP_ENDS: dict[Clock, str] = {Clock.AGENCY: "unit_assigned_at", Clock.HANDLING: "handled_at", Clock.APPROVAL: "leader_approved_at"}


def met(done_at: datetime, due_at: datetime) -> bool:
    """The one on-time rule: a step is on time when done at or before its deadline."""
    return done_at <= due_at


@dataclass(frozen=True)
class Deadline:
    """One step's current deadline. `since` is when its clock was (re)started by the event that carried it: the step
    ends at the first timeline entry of its kind at or after then. `done_at` is that entry's time, once it exists."""

    clock: Clock
    due_at: datetime
    since: datetime
    done_at: datetime | None = None

    @property
    def label(self) -> Label:
        return CLOCKS[self.clock].label

    def on_time(self, now: datetime | None = None) -> bool | None:
        """True/False once the step is done; before that False when already past the deadline, else None (open)."""
        if self.done_at is not None:
            return met(self.done_at, self.due_at)
        if now is not None and now > self.due_at:
            return False
        return None


def ending_entry(timeline: list["TimelineEntry"], clock: Clock, since: datetime | None, taken=()) -> "TimelineEntry | None":
    """The one rule of when a step ended: the first timeline entry of the kind that ends it at or after its clock
    (re)started (`since`; None when the start has not arrived yet: the first entry of that kind), not `taken`."""
    ended_by = CLOCKS[clock].ended_by.value
    return next((e for e in sorted(timeline, key=lambda e: (e.at, e.id))
                 if e.kind == ended_by and (since is None or e.at >= since) and e.id not in taken), None)


def place_deadlines(deadlines: list["Deadline"], timeline: list["TimelineEntry"]) -> tuple[dict[str, "Deadline"], list["Deadline"]]:
    """Put each deadline on the timeline entry that ends its step: {entry id: deadline (with done_at)}, and the
    deadlines whose step is not done yet (in deadline order)."""
    placed: dict[str, Deadline] = {}
    pending: list[Deadline] = []
    for deadline in deadlines:
        entry = ending_entry(timeline, deadline.clock, deadline.since, placed)
        if entry is None:
            pending.append(deadline)
        else:
            placed[entry.id] = Deadline(deadline.clock, deadline.due_at, deadline.since, done_at=entry.at)
    return placed, sorted(pending, key=lambda d: d.due_at)


@dataclass(frozen=True)
class Submission:
    """A report's content as intake received it (intake's events carry no personal data).

    One definition for the read model (it fills a record from ReportSubmitted field by field, by
    name) and for the record itself; add a field here, to PUBLIC_FIELDS if anyone may read it, and a
    column in adapters/orm.py.
    """

    tracking_code: str
    title: str
    description: str
    topic_code: str
    address_text: str
    area_code: str
    private_result: bool
    urgent: bool
    received_at: datetime
    lat: float | None = None
    lon: float | None = None


SUBMISSION_FIELDS = tuple(f.name for f in fields(Submission))
# What anyone may read of a listed report's content (area_code only as the portal's named area; the privacy flag,
# urgency and place are shown through the answer rule, the badge and the location).
PUBLIC_FIELDS = ("tracking_code", "title", "description", "topic_code", "address_text", "received_at")
# What a reporter sees by tracking code before step 1: nothing that helps someone who guessed a code.
TRACKING_FIELDS = ("tracking_code", "received_at")

ANSWER = Label("The answer", "Nội dung trả lời")
TRACKING_CODE = re.compile(r"[A-Z0-9-]{1,20}")
REPORT_ID = ID_PATTERN  # what a report id may look like (UUIDs); anything else is unknown
is_report_id = looks_like_id


def clean_tracking_code(value: str | None) -> str:
    """Return a tracking code as stored (upper case), or raise InvalidInput for one that cannot be a code."""
    code = (value or "").strip().upper()
    if TRACKING_CODE.fullmatch(code) is None:
        raise InvalidInput("A tracking code looks like QB-XXXX-XXXX (letters, digits and hyphens, at most 20).",
                           "Mã tra cứu có dạng QB-XXXX-XXXX (chữ cái, chữ số và dấu gạch ngang, tối đa 20 ký tự).")
    return code


def describe(status: str) -> tuple[str, str]:
    """Say where a report is, in the procedure's words (for refusals of a step)."""
    try:
        label = Step(status).status_label
    except ValueError:
        return (f"“{status}”", f"ở trạng thái “{status}”")
    return (f"at the stage “{label.en}”", f"đang ở trạng thái “{label.vi}”")


def explain(current: str, action: str) -> tuple[str, str] | None:
    """Say what happened when step 8 lost a race or comes too late."""
    if current == Step.PUBLISHED.value:
        return ("The answer has already been published.", "Kết quả xử lý đã được công khai.")
    if current == Step.RETURNED_BY_IOC.value:
        return ("The answer has already been returned to the lead unit; wait for its new answer.",
                "Kết quả đã được trả lại đơn vị chủ trì; vui lòng chờ kết quả mới.")
    return None


@dataclass(frozen=True)
class PublicMedia:
    """A photo (blurred where the IOC marked it) or a video the IOC left public, as intake announced it: intake's public
    address of that version, which intake serves only while the report may be public (decision 0023)."""

    id: str
    url: str
    media_type: str
    width: int | None = None
    height: int | None = None
    version: int = 0

    @property
    def is_photo(self) -> bool:
        return self.media_type.startswith("image/")

    @classmethod
    def from_json(cls, item: dict) -> "PublicMedia | None":
        """One stored item; None for one that is not a path of this site (never an address elsewhere, never a script)."""
        url = str(item.get("url", ""))
        if not url.startswith("/") or url.startswith("//") or "\\" in url:
            return None
        return cls(id=str(item.get("id", "")), url=url, media_type=str(item.get("media_type", "")),
                   width=item.get("width") or None, height=item.get("height") or None, version=int(item.get("version") or 0))

    def as_json(self) -> dict:
        return {"id": self.id, "url": self.url, "media_type": self.media_type, "width": self.width, "height": self.height,
                "version": self.version}


@dataclass
class TimelineEntry:
    """One public step of the process; `note` is public too, so it never holds internal reasons."""

    id: str
    report_id: str
    kind: str
    at: datetime
    note: str = ""

    @property
    def step(self) -> Step:
        return Step(self.kind)


@dataclass
class PublicReport(Versioned):
    report_id: str
    status: str = Step.SUBMITTED.value
    tracking_code: str = ""
    title: str = ""
    description: str = ""
    topic_code: str = ""
    lat: float | None = None
    lon: float | None = None
    address_text: str = ""
    area_code: str = ""
    private_result: bool = False
    urgent: bool = False
    received_at: datetime | None = None  # None until intake's ReportSubmitted has arrived
    lead_agency_name: str = ""
    lead_unit_name: str = ""
    answer_text: str = ""  # the approved draft until published, then the published answer
    approved_at: datetime | None = None  # when the unit leader approved: the step 8 clock runs from here
    approval_note: str = ""  # the leader's note to the IOC with the approved answer (staff only, never public)
    published_at: datetime | None = None
    refusal_text: str = ""
    visibility: str = Visibility.PUBLIC.value
    version: int = 0  # this service's own events about the report: 1, 2, 3...
    publish_due: datetime | None = None  # step 8: 1 h by day (06:00-22:00), 07:00 after a night arrival
    # The current round's deadlines as the events carried them, each with the time its clock (re)started:
    dispatched_at: datetime | None = None  # dispatch's ReportDispatched of the newest round
    dispatch_due: datetime | None = None   # steps 1-2
    agency_due: datetime | None = None     # step 3
    handling_due: datetime | None = None   # steps 3-6
    drafted_at: datetime | None = None     # handling's newest ResultDrafted
    approval_due: datetime | None = None   # step 7
    reporter_ref: str = ""  # intake's pseudonym of the reporter (ReportSubmitted): checks feedback; never shown, never logged
    search_text: str = ""  # what the portal's free text is matched against (see refresh_search)
    public_media: list = field(default_factory=list)  # intake's last list of public files (PublicMedia.as_json); see shown_media
    # For the statistics (staff only): how the report came in, the lead agency by id, and when each step ended.
    channel: str = ""                        # intake's Channel value (ReportSubmitted.channel): "web", "app", "call_center"...
    lead_agency_id: str = ""                 # the current round's lead agency (ReportDispatched.lead_agency.id)
    accepted_at: datetime | None = None      # step 1 ended: the IOC accepted it (ReportAccepted)
    unit_assigned_at: datetime | None = None    # step 3 ended: the current round's first lead unit (ending_entry)
    handled_at: datetime | None = None          # steps 3-6 ended: the current round's first draft reported
    leader_approved_at: datetime | None = None  # step 7 ended: the first approval of the newest draft

    @classmethod
    def placeholder(cls, report_id: str) -> "PublicReport":
        """Start a record from whichever producer's event arrives first."""
        return cls(report_id=report_id)

    @property
    def step(self) -> Step:
        return Step(self.status)

    @property
    def has_content(self) -> bool:
        return self.received_at is not None

    @property
    def is_public(self) -> bool:
        """The privacy rule: content known and visibility PUBLIC (not private to its reporter, not a state secret).
        The SQL lists restate exactly this in adapters/repositories.py `_shown`."""
        return self.has_content and self.visibility == PUBLIC_VISIBILITY.value

    @property
    def is_listed(self) -> bool:
        """Whether the report is on the public lists: public (see is_public) and accepted at step 1."""
        return self.is_public and self.step in LISTED

    @property
    def is_public_record(self) -> bool:
        """Whether anyone may open the report: listed, or refused (its reason is public by the procedure) — and
        in both cases public: a private or secret refusal is its reporter's alone."""
        return self.is_public and self.step in LISTED | NOT_ELIGIBLE

    @property
    def shown_media(self) -> list[PublicMedia]:
        """The photos and videos anyone may see: those intake last said the IOC left public, and only while the report is
        on the public lists (is_listed, so is_public: the one privacy rule); otherwise none, whoever asks."""
        if not self.is_listed:
            return []
        found = (PublicMedia.from_json(item) for item in self.public_media or [] if isinstance(item, dict))
        return [m for m in found if m is not None]

    def record_public_media(self, items: list[PublicMedia]) -> None:
        """Keep intake's newest list of public files (each of intake's events carries the whole list)."""
        self.public_media = [m.as_json() for m in items]

    @property
    def is_trackable(self) -> bool:
        """Whether its reporter finds it by tracking code (before step 1 only as "awaiting review")."""
        return self.has_content and self.visibility != Visibility.STATE_SECRET.value

    @property
    def public_answer(self) -> str | None:
        """Return the answer the public may read, or None (not published yet, or private)."""
        if self.status != Step.PUBLISHED.value or not self.is_public:
            return None
        return self.answer_text

    def record_submission(self, submission: Submission) -> None:
        """Fill the content from intake (no personal data: there is none in its events)."""
        for name in SUBMISSION_FIELDS:
            setattr(self, name, getattr(submission, name))
        self.refresh_search()
        if self.private_result and self.visibility == Visibility.PUBLIC.value:
            self.visibility = Visibility.REPORTER_ONLY.value

    def refresh_search(self) -> None:
        """Keep the searchable text in step with the content: title, description, address and tracking code,
        folded (lower case, no diacritics, đ as d) so that "duong" finds "Đường". Called whenever content changes."""
        self.search_text = fold(" ".join((self.title, self.description, self.address_text, self.tracking_code)))

    def advance(self, status: Step) -> bool:
        """Move the status forward; an older event arriving late never moves it back."""
        current = self.step
        if current in FINAL:
            return False
        if status in (Step.REFUSED, Step.CANCELLED):
            moved = True
        elif current == Step.RETURNED_BY_IOC:
            moved = status in REWORK
        else:
            moved = status in RANK and RANK[status] > RANK[current]
        if moved:
            self.status = status.value
        return moved

    def record_approved_answer(self, answer_text: str, at: datetime, note: str = "") -> None:
        """Keep the unit leader's approved answer (and their note to the IOC) as the draft the IOC will edit and publish."""
        self.advance(Step.APPROVED)
        if self.status == Step.APPROVED.value:
            self.answer_text = answer_text
            self.approval_note = note
            self.approved_at = at
            self.publish_due = sla.default_engine().due(sla.Step.PUBLISH, at)  # the IOC's 24/7 clock: no working hours

    def published_on_time(self) -> bool:
        """Say whether step 8 was done by its deadline: true only when published at or before publish_due."""
        return self.publish_due is not None and self.published_at is not None and met(self.published_at, self.publish_due)

    def record_dispatch_deadlines(self, at: datetime, dispatch_due: datetime | None, agency_due: datetime | None,
                                  handling_due: datetime | None, agency_id: str = "") -> bool:
        """Keep a dispatch round's deadlines (steps 1-2, 3, 3-6) and its lead agency; a newer round replaces them, an
        older one arriving late does not. Return whether this round is now the current one (its step ends must then
        be placed again: `place_step_ends`)."""
        if self.dispatched_at is not None and at < self.dispatched_at:
            return False
        self.dispatched_at, self.dispatch_due, self.agency_due, self.handling_due = at, dispatch_due, agency_due, handling_due
        self.lead_agency_id = agency_id or self.lead_agency_id
        return True

    def record_approval_deadline(self, at: datetime, approval_due: datetime | None) -> bool:
        """Keep step 7's deadline from staff's newest draft (a re-draft after a return replaces it); return whether it did."""
        if self.drafted_at is not None and at < self.drafted_at:
            return False
        self.drafted_at, self.approval_due = at, approval_due
        return True

    def clock_start(self, clock: Clock) -> datetime | None:
        """When a step's clock (re)started: the current round's dispatch, the newest draft, the newest approval."""
        return {Clock.DISPATCH: self.dispatched_at, Clock.AGENCY: self.dispatched_at, Clock.HANDLING: self.dispatched_at,
                Clock.APPROVAL: self.drafted_at, Clock.PUBLISH: self.approved_at}[clock]

    def step_end(self, clock: Clock) -> datetime | None:
        """When a step ended (None while it runs): dispatching ends steps 1-2 and publishing step 8; the three steps
        between keep the time of the timeline entry that ended them (ending_entry)."""
        if clock in STEP_ENDS:
            return getattr(self, STEP_ENDS[clock])
        return self.dispatched_at if clock is Clock.DISPATCH else self.published_at

    def record_step_end(self, kind: Step, at: datetime) -> None:
        """A timeline entry of `kind` arrived at `at`: it ends step 3, 3-6 or 7 when it is the first of its kind since
        that step's clock started (entries of handling and dispatch arrive in any relative order: the earliest wins)."""
        for clock, name in STEP_ENDS.items():
            if CLOCKS[clock].ended_by is not kind:
                continue
            since, current = self.clock_start(clock), getattr(self, name)
            if since is not None and at < since:
                continue
            if current is None or (since is not None and current < since) or at < current:
                setattr(self, name, at)

    def place_step_ends(self, timeline: list[TimelineEntry]) -> None:
        """Place steps 3, 3-6 and 7's ends again from the whole timeline (after a new round or a new draft moved a start)."""
        for clock, name in STEP_ENDS.items():
            entry = ending_entry(timeline, clock, self.clock_start(clock))
            setattr(self, name, entry.at if entry is not None else None)

    def overdue_at(self, at: datetime) -> Deadline | None:
        """The step whose deadline had passed at `at` without it being done, the earliest in the procedure's order (the
        step the report was stuck at), or None. Closed reports (published by then, refused, cancelled) are never
        overdue; an answer the IOC returned has no step 8 clock until the lead unit approves it again."""
        if self.status in (Step.REFUSED.value, Step.CANCELLED.value) or (self.published_at is not None and self.published_at <= at):
            return None
        for deadline in self.deadlines():
            if deadline.clock is Clock.PUBLISH and self.status == Step.RETURNED_BY_IOC.value:
                continue
            done = self.step_end(deadline.clock)
            if deadline.since <= at and deadline.due_at < at and (done is None or done > at):
                return deadline
        return None

    def deadlines(self) -> list[Deadline]:
        """The report's current step deadlines, each with the time its clock started (one home: this record)."""
        known = (
            (Clock.DISPATCH, self.dispatch_due, self.dispatched_at),
            (Clock.AGENCY, self.agency_due, self.dispatched_at),
            (Clock.HANDLING, self.handling_due, self.dispatched_at),
            (Clock.APPROVAL, self.approval_due, self.drafted_at),
            (Clock.PUBLISH, self.publish_due, self.approved_at),
        )
        return [Deadline(clock, due, since) for clock, due, since in known if due is not None and since is not None]

    @staticmethod
    def require_ioc(user) -> None:
        if not user.has(*roles.IOC):
            raise Forbidden("Only IOC operators edit and publish results.", "Chỉ cán bộ Trung tâm IOC được biên tập và công khai kết quả.")

    def publish(self, user, edited_text: str | None, at: datetime) -> None:
        """Step 8: the IOC checks, edits and publishes the approved answer."""
        self.require_ioc(user)
        require_state(self.status, (Step.APPROVED,), "publish", describe, explain)
        if not self.has_content:
            raise StateConflict(
                "The report's content has not arrived from intake yet; publish it a little later.",
                "Nội dung phản ánh chưa được đồng bộ từ bộ phận tiếp nhận; vui lòng công khai sau ít phút.",
                current=self.status,
                action="publish",
            )
        text = edited_text if edited_text is not None else self.answer_text
        self.record_published(clean_text(text.replace("\r\n", "\n"), ANSWER, 10, 10000), at)  # a form's textarea sends CRLF: one letter, one form

    def record_published(self, answer_text: str, at: datetime) -> None:
        """The answer as published at step 8 (by the IOC here, or — in a hub's read-only copy — at the province)."""
        self.answer_text = answer_text
        if self.private_result and self.visibility == Visibility.PUBLIC.value:
            self.visibility = Visibility.REPORTER_ONLY.value
        if self.publish_due is None and self.approved_at is not None:  # approved before step 8 deadlines were kept
            self.publish_due = sla.default_engine().due(sla.Step.PUBLISH, self.approved_at)
        self.published_at = at
        self.status = Step.PUBLISHED.value

    def return_to_unit(self, user, reason: str) -> str:
        """Step 8: send the answer back to the lead unit to complete; return the cleaned reason."""
        self.require_ioc(user)
        require_state(self.status, (Step.APPROVED,), "return", describe, explain)
        reason = clean_reason(reason)
        self.record_returned()
        return reason

    def record_returned(self) -> None:
        """Step 8 sent the answer back to the lead unit (here, or — in a hub's copy — at the province)."""
        self.status = Step.RETURNED_BY_IOC.value
