"""Keep the public record up to date from intake, dispatch and handling events (any relative order).

Each function runs inside the consumer's open unit of work: it goes through uow.reports and
uow.timeline, never commits. Events carry no personal data, and nothing here adds any: staff
subjects are never stored.
"""
from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.message import Message

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.runtime.uow import UnitOfWork
from services.publication.domain.public_report import SUBMISSION_FIELDS, PublicMedia, Step, Submission, TimelineEntry, Visibility
from services.publication.domain.stats import channel_of


def event_time(event: Message, envelope: Envelope) -> datetime:
    """Return when the event happened: its meta first, then the envelope's time."""
    if event.HasField("meta") and event.meta.HasField("occurred_at"):
        return event.meta.occurred_at.ToDatetime(tzinfo=timezone.utc)
    try:
        return datetime.fromisoformat(envelope.time.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return datetime.now(timezone.utc)


def timestamp(event: Message, name: str) -> datetime | None:
    """Read an optional Timestamp field of an event (None when absent)."""
    return getattr(event, name).ToDatetime(tzinfo=timezone.utc) if event.HasField(name) else None


def add_step(uow: UnitOfWork, report_id: str, step: Step, at: datetime, note: str = "") -> None:
    uow.timeline.add(TimelineEntry(id=new_id(), report_id=report_id, kind=step.value, at=at.astimezone(timezone.utc), note=note))


def submission_of(event: intake_ev.ReportSubmitted, envelope: Envelope) -> Submission:
    """Read the content from intake's event: every Submission field by its name, except those shaped otherwise."""
    located = event.HasField("location")
    shaped = {
        "lat": event.location.lat if located else None,
        "lon": event.location.lon if located else None,
        "received_at": event.received_at.ToDatetime(tzinfo=timezone.utc) if event.HasField("received_at") else event_time(event, envelope),
    }
    return Submission(**{name: shaped[name] if name in shaped else getattr(event, name) for name in SUBMISSION_FIELDS})


def preload(uow: UnitOfWork, report_ids: list[str]) -> None:
    """Before a batch of events: load their reports' rows with one query (each handler then finds its row in the session)."""
    uow.reports.load_many(report_ids)


def on_report_submitted(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Intake received a report: fill in its content (listed publicly only once step 1 accepts it)."""
    report = uow.reports.get_or_start(envelope.report_id)
    submission = submission_of(event, envelope)
    report.record_submission(submission)
    report.reporter_ref = event.reporter_ref  # kept to check who gives feedback; never shown
    report.channel = channel_of(intake_ev.Channel.Name(event.channel))  # for the statistics: how it came in
    report.advance(Step.SUBMITTED)
    add_step(uow, report.report_id, Step.SUBMITTED, submission.received_at)


def classify(report, state_secret: bool) -> None:
    """The IOC's state-secret flag: such a report is on no public list and has no public page; cleared, it is
    public again (or the reporter's alone when they asked for a private result)."""
    if state_secret:
        report.visibility = Visibility.STATE_SECRET.value
    elif report.visibility == Visibility.STATE_SECRET.value:
        report.visibility = Visibility.REPORTER_ONLY.value if report.private_result else Visibility.PUBLIC.value


def public_media_of(items) -> list[PublicMedia]:
    """intake's PublicMedia list as the read model keeps it."""
    return [PublicMedia(id=m.id, url=m.url, media_type=m.media_type, width=m.width or None, height=m.height or None, version=m.version)
            for m in items]


def on_report_accepted(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 1: the IOC accepted the report and normalised its topic; from now on it is public (unless a state secret),
    with the photos and videos the IOC left public."""
    report = uow.reports.get_or_start(envelope.report_id)
    report.topic_code = event.topic_code or report.topic_code
    report.urgent = event.urgent
    classify(report, event.state_secret)
    report.record_public_media(public_media_of(event.public_media))
    at = event_time(event, envelope)
    report.accepted_at = min(report.accepted_at or at, at)  # step 1 ended (accepted once)
    report.advance(Step.ACCEPTED)
    add_step(uow, report.report_id, Step.ACCEPTED, at)


def on_report_refused(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 1: not eligible; the reason is public by the procedure."""
    report = uow.reports.get_or_start(envelope.report_id)
    report.refusal_text = event.reason_text
    report.advance(Step.REFUSED)
    add_step(uow, report.report_id, Step.REFUSED, event_time(event, envelope), event.reason_text)


def on_report_cancelled(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 1: cancelled by the procedure (2 days without the edit or without reaching the reporter, or not the
    reporter); the seed has it posted as not eligible with its reason stated, which is the decision's own wording."""
    report = uow.reports.get_or_start(envelope.report_id)
    report.refusal_text = event.reason_text
    report.advance(Step.CANCELLED)
    add_step(uow, report.report_id, Step.CANCELLED, event_time(event, envelope), event.reason_text)


def on_report_classified(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC set or cleared the state-secret flag (at any stage)."""
    classify(uow.reports.get_or_start(envelope.report_id), event.state_secret)


def on_public_media_changed(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The IOC changed what the public may see of the report's files (before or after acceptance): the whole new list."""
    uow.reports.get_or_start(envelope.report_id).record_public_media(public_media_of(event.public_media))


def on_report_edited(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The reporter completed the report before step 1 accepted it: the public record shows the content as it now is."""
    report = uow.reports.get_or_start(envelope.report_id)
    report.title, report.description, report.address_text = event.title, event.description, event.address_text
    report.topic_code = event.topic_code or report.topic_code
    located = event.HasField("location")
    report.lat, report.lon = (event.location.lat, event.location.lon) if located else (None, None)
    report.refresh_search()


def on_report_dispatched(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 2: the IOC sent the report to its one lead agency (a later round replaces the agency)."""
    report = uow.reports.get_or_start(envelope.report_id)
    at = event_time(event, envelope)
    report.lead_agency_name = event.lead_agency.name
    current = report.record_dispatch_deadlines(at, *(timestamp(event, name) for name in ("dispatch_due", "agency_due", "handling_due")),
                                               agency_id=event.lead_agency.id)
    report.advance(Step.DISPATCHED)
    add_step(uow, report.report_id, Step.DISPATCHED, at, event.lead_agency.name)
    if current:  # a new round: steps 3 and 3-6 end at its own first unit and first draft (handling's may have come first)
        report.place_step_ends(uow.timeline.of_report(report.report_id))


def on_case_assigned(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Steps 3-4: a unit, then a member of its staff, took the case (the staff member stays unnamed)."""
    report = uow.reports.get_or_start(envelope.report_id)
    at = event_time(event, envelope)
    if event.level == handling_ev.ASSIGNMENT_LEVEL_STAFF:
        report.advance(Step.IN_PROGRESS)
        add_step(uow, report.report_id, Step.IN_PROGRESS, at)
        return
    report.lead_unit_name = event.unit.name or report.lead_unit_name
    report.lead_agency_name = report.lead_agency_name or event.agency.name
    report.lead_agency_id = report.lead_agency_id or event.agency.id
    report.advance(Step.ASSIGNED)
    report.record_step_end(Step.ASSIGNED, at)
    add_step(uow, report.report_id, Step.ASSIGNED, at, event.unit.name)


def on_case_refused_by_agency(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 3 refused: shown in the timeline; the internal reason is not published."""
    uow.reports.get_or_start(envelope.report_id)
    add_step(uow, envelope.report_id, Step.AGENCY_REFUSED, event_time(event, envelope), event.agency.name)


def on_case_refused_by_unit(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 4 refused: shown in the timeline; the internal reason is not published."""
    uow.reports.get_or_start(envelope.report_id)
    add_step(uow, envelope.report_id, Step.UNIT_REFUSED, event_time(event, envelope), event.unit.name)


def on_result_drafted(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 6: staff reported the result with a draft answer (the draft itself stays internal)."""
    report = uow.reports.get_or_start(envelope.report_id)
    at = event_time(event, envelope)
    newest = report.record_approval_deadline(at, timestamp(event, "approval_due"))
    report.advance(Step.DRAFTED)
    report.record_step_end(Step.DRAFTED, at)
    add_step(uow, report.report_id, Step.DRAFTED, at)
    if newest:  # step 7 now runs from this draft: its end is the first approval after it
        report.place_step_ends(uow.timeline.of_report(report.report_id))


def on_result_approved(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 7: the unit leader approved; the answer on the decision's template (IV.3) waits for the IOC's edit (step 8),
    its clock running. An approval from before handling wrote letters carries only answer_text: that is the draft then."""
    report = uow.reports.get_or_start(envelope.report_id)
    at = event_time(event, envelope)
    report.lead_unit_name = event.unit.name or report.lead_unit_name
    report.lead_agency_name = report.lead_agency_name or event.agency.name
    report.lead_agency_id = report.lead_agency_id or event.agency.id
    report.record_approved_answer(event.answer_letter or event.answer_text, at, event.message)  # the IOC edits the letter on the template
    report.record_step_end(Step.APPROVED, at)
    add_step(uow, report.report_id, Step.APPROVED, at)


def on_result_returned(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 7: the leader sent the draft back to staff; the status never moves back."""
    uow.reports.get_or_start(envelope.report_id)
    add_step(uow, envelope.report_id, Step.RETURNED_TO_STAFF, event_time(event, envelope))


INTAKE = {
    intake_ev.ReportSubmitted: on_report_submitted,
    intake_ev.ReportAccepted: on_report_accepted,
    intake_ev.ReportRefused: on_report_refused,
    intake_ev.ReportCancelled: on_report_cancelled,
    intake_ev.ReportClassified: on_report_classified,
    intake_ev.ReportEdited: on_report_edited,
    intake_ev.PublicMediaChanged: on_public_media_changed,
}
DISPATCH = {dispatch_ev.ReportDispatched: on_report_dispatched}
HANDLING = {
    handling_ev.CaseAssigned: on_case_assigned,
    handling_ev.CaseRefusedByAgency: on_case_refused_by_agency,
    handling_ev.CaseRefusedByUnit: on_case_refused_by_unit,
    handling_ev.ResultDrafted: on_result_drafted,
    handling_ev.ResultApproved: on_result_approved,
    handling_ev.ResultReturned: on_result_returned,
}
