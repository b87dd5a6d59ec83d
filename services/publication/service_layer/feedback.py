"""The reporter's feedback on the published answer: rate it (once, changeable for a while), ask the lead unit to
clarify it (one request at a time), and the clarification coming back from handling.

Callers first ask intake who the reporter session stands for (`reporter_refs`); every use case then holds the
report's row lock, so two taps at the same moment take turns and the second one finds the first one's work.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from google.protobuf.message import Message
from sqlalchemy.exc import IntegrityError

from paht.publication.v1 import events_pb2 as ev
from paht.runtime import sla
from paht.runtime.auth import Principal
from paht.runtime.errors import NotFound, StateConflict
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.runtime.uow import UnitOfWork, actor_of
from services.publication.domain import feedback as rules
from services.publication.domain.feedback import Clarification, ReportRating, Score
from services.publication.domain.public_report import PublicReport, is_report_id


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def score_to_proto(score: Score) -> int:
    """A domain score as the proto enum, by name (RATING_<NAME>)."""
    return ev.Rating.Value("RATING_" + score.name)


@dataclass(frozen=True)
class Feedback:
    """What the reporter sees of their feedback on one report."""

    report: PublicReport
    rating: ReportRating | None
    clarifications: list[Clarification]

    @property
    def open_clarification(self) -> Clarification | None:
        return next((c for c in self.clarifications if c.is_open), None)


def _missing(report_id: str) -> NotFound:
    shown = report_id if is_report_id(report_id) else "?"
    return NotFound(f"You have no report {shown}.", f"Không tìm thấy phản ánh {shown} của bạn.")


def _own(uow: UnitOfWork, report_id: str, reporter_refs, *, for_update: bool) -> PublicReport:
    report = uow.reports.get(report_id, for_update=for_update) if is_report_id(report_id) else None
    if report is None or not report.is_trackable:  # unknown, content not arrived, or a state secret: never there
        raise _missing(report_id)
    rules.require_reporter(report, reporter_refs)
    return report


def _commit(uow: UnitOfWork) -> None:
    """Commit; the primary key refusing a second rating (a race the row lock did not cover) is the same 409."""
    try:
        uow.commit()
    except IntegrityError:
        raise StateConflict("You have already rated this answer; you may change your rating instead.",
                            "Bạn đã đánh giá kết quả này; bạn có thể thay đổi đánh giá.", current="rated", action="rate") from None


def _rated(rating: ReportRating, changed: bool) -> ev.ReportRated:
    event = ev.ReportRated(rating=score_to_proto(Score(rating.score)), comment=rating.comment, changed=changed)
    event.rated_at.FromDatetime(rating.rated_at)
    return event


def my_feedback(uow: UnitOfWork, report_id: str, reporter_refs) -> Feedback:
    """The reporter's own rating and requests to clarify (only theirs to read)."""
    with uow:
        report = _own(uow, report_id, reporter_refs, for_update=False)
        return Feedback(report, uow.feedback.rating_of(report.report_id), uow.feedback.clarifications_of(report.report_id))


def rate(uow: UnitOfWork, report_id: str, reporter_refs, score: str, comment: str | None, now: datetime | None = None) -> ReportRating:
    """The reporter rates the published answer, once."""
    now = now or utc_now()
    chosen, comment = rules.clean_score(score), rules.clean_comment(comment)
    with uow:
        report = _own(uow, report_id, reporter_refs, for_update=True)
        rules.require_published(report)
        rules.first_rating(uow.feedback.rating_of(report.report_id))
        rating = ReportRating(report_id=report.report_id, score=chosen.value, comment=comment, rated_at=now)
        uow.feedback.add_rating(rating)
        uow.emit(_rated(rating, changed=False), report_id=report.report_id, version=report.next_version(), actor=actor_of(None))
        _commit(uow)
        return rating


def change_rating(uow: UnitOfWork, report_id: str, reporter_refs, score: str, comment: str | None,
                  now: datetime | None = None) -> ReportRating:
    """The reporter changes their rating, within rules.CHANGE_WINDOW of giving it."""
    now = now or utc_now()
    chosen, comment = rules.clean_score(score), rules.clean_comment(comment)
    with uow:
        report = _own(uow, report_id, reporter_refs, for_update=True)
        rules.require_published(report)
        rating = uow.feedback.rating_of(report.report_id)
        if rating is None:
            raise StateConflict("You have not rated this answer yet: rate it first.", "Bạn chưa đánh giá kết quả này: hãy đánh giá trước.",
                                current="not_rated", action="change_rating")
        rating.change(chosen, comment, now)
        uow.emit(_rated(rating, changed=True), report_id=report.report_id, version=report.next_version(), actor=actor_of(None))
        uow.commit()
        return rating


def ask_clarification(uow: UnitOfWork, report_id: str, reporter_refs, question: str, now: datetime | None = None) -> Clarification:
    """The reporter asks the lead unit to clarify the published answer (1 working day, the SLA engine's CLARIFY step);
    handling reopens the case on ClarificationRequested. One open request at a time."""
    now = now or utc_now()
    question = rules.clean_question(question)
    with uow:
        report = _own(uow, report_id, reporter_refs, for_update=True)
        rules.require_published(report)
        rules.no_open_request(uow.feedback.open_clarification(report.report_id))
        due = sla.default_engine().due(sla.Step.CLARIFY, now)
        asked = Clarification(id=new_id(), report_id=report.report_id, question=question, asked_at=now, due_at=due)
        uow.feedback.add_clarification(asked)
        event = ev.ClarificationRequested(clarification_id=asked.id, question=question)
        event.due_at.FromDatetime(due)
        uow.emit(event, report_id=report.report_id, version=report.next_version(), actor=actor_of(None), at=now)  # its due counts from here
        uow.commit()
        return asked


def given_clarifications(uow: UnitOfWork, report: PublicReport) -> list[Clarification]:
    """The lead unit's clarifications anyone may read: only those of a report whose answer is public."""
    if report.public_answer is None:
        return []
    with uow:
        return [c for c in uow.feedback.clarifications_of(report.report_id) if not c.is_open]


def on_clarification_given(uow: UnitOfWork, event: Message, envelope: Envelope) -> None:
    """Handling: the lead unit's leader approved the clarification; like an answer, it now waits for the IOC (step 8's
    window from the approval). A clarification never asked for (an id publication does not know) changes nothing, and
    so does one already with the IOC or published (a repeated event)."""
    asked = uow.feedback.clarification(event.clarification_id) if event.clarification_id else None
    if asked is None or asked.report_id != envelope.report_id:
        return
    at = (event.meta.occurred_at.ToDatetime(tzinfo=timezone.utc) if event.meta.HasField("occurred_at") else utc_now())
    asked.approve(event.text, at, sla.default_engine().due(sla.Step.PUBLISH, at))


@dataclass(frozen=True)
class WaitingClarification:
    """A clarification on the IOC's step-8 desk, with the report it answers for."""

    clarification: Clarification
    report: PublicReport


def clarifications_for_ioc(uow: UnitOfWork, limit: int = 20) -> tuple[list[WaitingClarification], int]:
    """The lead units' approved clarifications waiting for the IOC, oldest approval first, and how many there are."""
    with uow:
        rows, total = uow.feedback.awaiting_ioc(limit)
        return [WaitingClarification(c, r) for c, r in rows], total


def _waiting(uow: UnitOfWork, clarification_id: str) -> tuple[Clarification, PublicReport]:
    asked = uow.feedback.clarification(clarification_id) if is_report_id(clarification_id) else None
    report = uow.reports.get(asked.report_id, for_update=True) if asked is not None else None  # the report's lock first
    if asked is None or report is None:
        shown = clarification_id if is_report_id(clarification_id) else "?"
        raise NotFound(f"No clarification {shown}.", f"Không tìm thấy nội dung làm rõ {shown}.")
    return uow.feedback.clarification(clarification_id, fresh=True), report  # under the lock: another editor's decision shows


def report_of_clarification(uow: UnitOfWork, clarification_id: str) -> str:
    """The report a clarification answers for ("" when there is none)."""
    with uow:
        asked = uow.feedback.clarification(clarification_id) if is_report_id(clarification_id) else None
        return asked.report_id if asked is not None else ""


def publish_clarification(uow: UnitOfWork, user: Principal, clarification_id: str, edited_text: str | None,
                          now: datetime | None = None) -> Clarification:
    """Step 8 for a clarification: the IOC publishes it (edited or as approved) to the reporter, and to the public
    when the report's answer is public."""
    now = now or utc_now()
    with uow:
        asked, report = _waiting(uow, clarification_id)
        PublicReport.require_ioc(user)
        asked.publish(edited_text, now)
        event = ev.ClarificationPublished(clarification_id=asked.id, text=asked.answer_text)
        event.published_at.FromDatetime(now)
        uow.emit(event, report_id=report.report_id, version=report.next_version(), actor=actor_of(user))
        uow.commit()
        return asked


def return_clarification(uow: UnitOfWork, user: Principal, clarification_id: str, reason: str) -> Clarification:
    """Step 8 for a clarification: the IOC sends it back to the lead unit's leader with what to complete."""
    with uow:
        asked, report = _waiting(uow, clarification_id)
        PublicReport.require_ioc(user)
        reason = asked.send_back(reason)
        uow.emit(ev.ClarificationSentBack(clarification_id=asked.id, reason=reason), report_id=report.report_id,
                 version=report.next_version(), actor=actor_of(user))
        uow.commit()
        return asked
