"""A hub's read-only copy of the province's reports in its area (and of those it handles): the district IOC's own
read model, kept by the hub's publication from what the province's sync sends it (decision 0025).

The copy is the same public record the province keeps (the same tables, the same read-model handlers, so the same
statistics and lists), made from fewer events: the placement (dispatch's ReportPlaced, carrying what step 1 accepted)
instead of intake's events, and step 8's own events — published, returned, rated — applied here as the province's
use cases applied them there (services/publication/domain/public_report.py `record_published`, `record_returned`).
No use case writes to a copy: a hub publishes nothing and takes no rating.
"""
from __future__ import annotations

from datetime import timezone

from google.protobuf.message import Message

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.publication.v1 import events_pb2 as ev
from paht.runtime.events.envelope import Envelope
from paht.runtime.uow import UnitOfWork
from services.publication.domain.feedback import ReportRating, Score
from services.publication.domain.public_report import Step, Submission
from services.publication.service_layer import read_model
from services.publication.service_layer.read_model import add_step, event_time, timestamp


def _content(uow: UnitOfWork, report_id: str, *, title: str, description: str, address_text: str, tracking_code: str,
             private_result: bool, urgent: bool, received_at, location, area_code: str = "", topic_code: str = ""):
    """Fill a copy's content once (the placement's, else the dispatch's: whichever arrives first)."""
    report = uow.reports.get_or_start(report_id)
    if not report.has_content:
        report.record_submission(Submission(
            tracking_code=tracking_code, title=title, description=description, topic_code=topic_code, address_text=address_text,
            area_code=area_code, private_result=private_result, urgent=urgent, received_at=received_at,
            lat=location.lat if location is not None else None, lon=location.lon if location is not None else None))
    return report


def on_report_placed(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The province placed an accepted report in this hub's area: the copy starts with what step 1 accepted."""
    accepted = event.accepted
    received = timestamp(accepted, "received_at") or event_time(event, envelope)
    _content(uow, envelope.report_id, title=accepted.title, description=accepted.description, address_text=accepted.address_text,
             tracking_code=accepted.tracking_code, private_result=accepted.private_result, urgent=accepted.urgent,
             received_at=received, location=accepted.location if accepted.HasField("location") else None,
             area_code=event.area_codes[0] if event.area_codes else accepted.area_code, topic_code=accepted.topic_code)
    add_step(uow, envelope.report_id, Step.SUBMITTED, received)
    read_model.on_report_accepted(uow, accepted, envelope)


def on_report_dispatched(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 2 (a report this hub handles carries its content: the copy may start here)."""
    report = uow.reports.get_or_start(envelope.report_id)
    if not report.has_content:
        at = event_time(event, envelope)
        _content(uow, envelope.report_id, title=event.title, description=event.description, address_text=event.address_text,
                 tracking_code=event.tracking_code, private_result=event.private_result, urgent=event.urgent, received_at=at,
                 location=event.location if event.HasField("location") else None)
        read_model.classify(report, event.state_secret)
        report.advance(Step.ACCEPTED)
    read_model.on_report_dispatched(uow, event, envelope)


def on_result_published(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 8 at the province: the answer as the IOC published it."""
    report = uow.reports.get_or_start(envelope.report_id)
    at = timestamp(event, "published_at") or event_time(event, envelope)
    if report.step == Step.PUBLISHED and report.published_at == at:
        return
    report.record_published(event.answer_text, at)
    add_step(uow, envelope.report_id, Step.PUBLISHED, at)


def on_publication_returned(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Step 8 at the province sent the answer back to the lead unit."""
    report = uow.reports.get_or_start(envelope.report_id)
    at = event_time(event, envelope)
    if report.step == Step.APPROVED:
        report.record_returned()
    add_step(uow, envelope.report_id, Step.RETURNED_BY_IOC, at)


def on_report_rated(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """The reporter rated (or changed the rating of) the answer at the province: the copy keeps the score, not the
    reporter's words (a hub receives only what concerns it)."""
    score = Score[ev.Rating.Name(event.rating).removeprefix("RATING_")]
    at = event_time(event, envelope)
    rated_at = timestamp(event, "rated_at") or at
    uow.reports.get_or_start(envelope.report_id)  # the report's row first, as the province's use case holds it
    rating = uow.feedback.rating_of(envelope.report_id)
    if rating is None:
        uow.feedback.add_rating(ReportRating(report_id=envelope.report_id, score=score.value, comment="", rated_at=rated_at))
    elif event.changed:
        rating.score, rating.changed_at = score.value, at.astimezone(timezone.utc)
        rating.changes += 1


# What the copy applies, by the type the province sends (services/sync/service_layer/border.py COPIED names the same).
HANDLERS = {
    dispatch_ev.ReportPlaced: on_report_placed,
    dispatch_ev.ReportDispatched: on_report_dispatched,
    intake_ev.ReportClassified: read_model.on_report_classified,
    intake_ev.PublicMediaChanged: read_model.on_public_media_changed,
    **read_model.HANDLING,
    ev.ResultPublished: on_result_published,
    ev.PublicationReturned: on_publication_returned,
    ev.ReportRated: on_report_rated,
}
