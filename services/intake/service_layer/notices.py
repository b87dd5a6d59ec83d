"""Telling the reporter of every change of their report: the notices are written in the change's own transaction, and
a background sender delivers them (decision 0021).

Where a notice is written:
- intake's own changes (accepted, refused or marked a duplicate, cancelled, edit requested, a message from the IOC):
  by the step-1 use case itself, in the same unit of work as the change and its event (`tell`). Intake does not read
  its own stream: the runtime would allow a durable `intake-from-intake`, but the use case already holds the report
  and the reporter, and a notice that commits with the change can neither be lost nor come without it.
- the other services' events that concern the reporter, by intake's consumers (one transaction with the inbox row):
  dispatch's ReportDispatched (the lead agency), handling's CaseAssigned at unit level (the unit handling it),
  publication's ResultPublished (the answer: kept for the reporter's page, and told according to its visibility),
  and publication's ClarificationPublished (the lead unit's clarification, once the IOC checked and published it).

Each notice is one row per channel: SMS when the reporter gave a phone (always, for a reporter who proved one), e-mail
when they gave an address, Web Push when a browser of theirs subscribed. The row's key is "<event id>:<channel>"
(unique), so an event delivered again makes no second notice even outside the inbox's protection.

The sender (`send_due`, run by entrypoints/notice_sender.py in every replica) claims rows due — FOR UPDATE SKIP
LOCKED on PostgreSQL, so two replicas take different rows; SQLite's one writer at a time does the same — marks them
as its own for a lease, sends each through its port outside any transaction, and records the outcome only if the row
is still its claim. A failure is tried again with a doubling back-off (30 s up to 1 h), and given up after
MAX_ATTEMPTS (about two days), logged at ERROR and shown as not delivered on the reporter's page.

At least once, not exactly once: a sender that dies after the gateway took a message and before recording it leaves
the row claimed; when its lease runs out another sender sends it again, with the same idempotency key (the SMS
provider's Idempotency-Key and request id, the e-mail's Message-ID, the push message's Topic), so a provider that
honours the key sends it once. One that does not may deliver that message twice: the one edge, and a notice is never lost.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from google.protobuf.message import Message as ProtoMessage
from sqlalchemy.orm.exc import StaleDataError

from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.runtime.mail import EmailSender
from paht.runtime.sms import SmsGateway
from paht.runtime.uow import UnitOfWork
from paht.runtime.webpush import PushGone, WebPush
from services.intake.adapters import history
from services.intake.adapters.notices import FAILED, PENDING, SENT
from services.intake.domain import notices as words
from services.intake.domain.report import Report
from services.intake.domain.vocabulary import Action, NoticeChannel, NoticeKind

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)        # longer than any port's timeout: a live sender always records before it runs out
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)
MAX_ATTEMPTS = 60                   # 30 s doubling to 1 h: about two days of trying
BATCH = 20
# A change older than this when its event arrives is applied (the answer kept) but not told: a consumer that reads a
# stream from its start (intake's durables on a node upgraded to this version) would otherwise text every reporter
# about every old report. Longer than any outage the events would wait through.
HORIZON = timedelta(days=7)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# ---- writing notices ---------------------------------------------------------------------------------------

def tell(uow: UnitOfWork, report: Report, key: str, message: words.Message, now: datetime | None = None) -> int:
    """Write the notice of one change to the report's reporter, one row per channel they can be reached on, in the
    caller's transaction. `key` names the change (the event id): the same key never makes a second notice."""
    reporter = uow.reporters.get(report.reporter_id)
    if reporter is None:
        return 0
    channels = []
    if reporter.phone:
        channels.append(NoticeChannel.SMS)
    if reporter.email:
        channels.append(NoticeChannel.EMAIL)
    if reporter.phone and uow.notices.has_push(reporter.phone):
        channels.append(NoticeChannel.PUSH)
    at = now or now_utc()
    rows = [{"id": new_id(), "report_id": report.id, "reporter_id": report.reporter_id, "kind": message.kind.value,
             "channel": channel.value, "text": message.text_for(channel),
             "subject": message.subject() if channel is NoticeChannel.EMAIL else "", "key": f"{key}:{channel.value}"[:120],
             "status": PENDING, "attempts": 0, "next_attempt_at": at, "created_at": at} for channel in channels]
    return uow.notices.add(rows)


def fresh(event: ProtoMessage, now: datetime | None = None) -> bool:
    """Whether the change an event announces is recent enough to tell the reporter of (HORIZON)."""
    if not event.meta.HasField("occurred_at"):
        return True
    return event.meta.occurred_at.ToDatetime(tzinfo=timezone.utc) >= (now or now_utc()) - HORIZON


def _report(uow: UnitOfWork, envelope: Envelope) -> Report | None:
    report = uow.reports.get(envelope.report_id) if envelope.report_id else None
    if report is None:  # not a report of this node's intake (nothing to tell anyone here)
        log.info("no report %s at intake: nobody to notify", envelope.report_id)
    return report


def on_report_dispatched(uow: UnitOfWork, event: ProtoMessage, envelope: Envelope) -> None:
    """Step 2: the report went to its lead agency (each round: a re-dispatch names the new one)."""
    report = _report(uow, envelope)
    if report is not None and fresh(event):
        tell(uow, report, envelope.id, words.dispatched(report.tracking_code, event.lead_agency.name))


def on_case_assigned(uow: UnitOfWork, event: ProtoMessage, envelope: Envelope) -> None:
    """Step 3: the lead agency gave the case to one of its units. Step 4 (a staff member) is internal: not told."""
    if event.level != handling_ev.ASSIGNMENT_LEVEL_UNIT:
        return
    report = _report(uow, envelope)
    if report is not None and fresh(event):
        tell(uow, report, envelope.id, words.in_handling(report.tracking_code, event.unit.name))


def visibility_of(number: int) -> str:
    """publication's Visibility as intake keeps it, by the proto name (VISIBILITY_REPORTER_ONLY -> reporter_only)."""
    try:
        return publication_ev.Visibility.Name(number).removeprefix("VISIBILITY_").lower()
    except ValueError:
        return "unspecified"


def on_result_published(uow: UnitOfWork, event: ProtoMessage, envelope: Envelope) -> None:
    """Step 8: keep the answer for the reporter's own page and tell them. Public: it is published, read it there.
    Private (REPORTER_ONLY): their page and their notice are the only places it goes. State secret: the report is never
    published and its answer is recorded only (IV.1.4.a), so neither the page nor any notice carries its content; the
    reporter is told that it was handled and concluded."""
    report = _report(uow, envelope)
    if report is None:
        return
    at = event.published_at.ToDatetime(tzinfo=timezone.utc) if event.HasField("published_at") else now_utc()
    report.record_answer(event.answer_text, visibility_of(event.visibility), at)
    if fresh(event):
        tell(uow, report, envelope.id, words.answered(report.tracking_code, report.answer_visibility, report.answer_text, report.is_secret))


def on_clarification_published(uow: UnitOfWork, event: ProtoMessage, envelope: Envelope) -> None:
    """The lead unit's clarification of a published answer, which the reporter asked for, as the IOC published it (the
    leader's approval alone is not the moment: the IOC checks it first, as it did the answer): a line of the reporter's
    own history (not for a state secret) and a notice."""
    report = _report(uow, envelope)
    if report is None:
        return
    secret = report.is_secret
    if not secret and event.text:
        at = event.published_at.ToDatetime(tzinfo=timezone.utc) if event.HasField("published_at") else now_utc()
        history.record(uow.session, report.id, Action.CLARIFIED, actor_kind=history.SYSTEM, at=at, text=event.text, to_reporter=True)
    if fresh(event):
        tell(uow, report, envelope.id, words.clarified(report.tracking_code, event.text, secret))


SUBSCRIPTIONS = {
    "dispatch": {dispatch_ev.ReportDispatched: on_report_dispatched},
    "handling": {handling_ev.CaseAssigned: on_case_assigned},
    "publication": {publication_ev.ResultPublished: on_result_published, publication_ev.ClarificationPublished: on_clarification_published},
}


# ---- sending notices ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ports:
    """The outside systems a notice goes through (each a real adapter, or the development outbox)."""

    sms: SmsGateway
    email: EmailSender
    push: WebPush


@dataclass
class Claimed:
    """A notice this sender took, with what it needs to send it (the contact is held in memory only)."""

    id: str
    claim: str
    report_id: str
    kind: str
    channel: str
    text: str
    subject: str
    key: str
    attempts: int
    link: str = ""
    phone: str = field(default="", repr=False)
    email: str = field(default="", repr=False)
    browsers: list = field(default_factory=list, repr=False)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the n-th failed attempt: 30 s, 1 min, 2 min, ... at most 1 h."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LAST_RETRY)


def claim(uow_factory: Callable[[], UnitOfWork], public_url: str | None, now: datetime | None = None, limit: int = BATCH) -> list[Claimed]:
    """Take the notices due now for this sender (one transaction), with their text as it goes out (the link added)."""
    at = now or now_utc()
    token = new_id()
    with uow_factory() as uow:
        rows = uow.notices.claim_due(at, at + LEASE, token, limit)
        claimed = []
        for row in rows:
            link = words.link_for(public_url, row["tracking_code"] or row["report_id"])
            text = words.render(row["channel"], row["text"], link)
            if text != row["text"]:
                uow.notices.set_text(row["id"], token, text)
            browsers = uow.notices.subscriptions(row["phone"]) if row["channel"] == NoticeChannel.PUSH.value and row["phone"] else []
            claimed.append(Claimed(row["id"], token, row["report_id"], row["kind"], row["channel"], text, row["subject"], row["key"],
                                   row["attempts"], link, row["phone"] or "", row["email"] or "", browsers))
        uow.commit()
    return claimed


class NoRecipient(Exception):
    """Nothing to send it to any more (the browser unsubscribed, an address removed): not worth retrying."""


def send_one(ports: Ports, notice: Claimed, forget_browser: Callable[[str], None]) -> str:
    """Send one notice through its channel's port; return the provider's id. Raise on failure."""
    channel = NoticeChannel(notice.channel)
    purpose = f"notice_{notice.kind}"
    if channel is NoticeChannel.SMS:
        if not notice.phone:
            raise NoRecipient("no phone")
        return ports.sms.send(notice.phone, notice.text, purpose=purpose, key=notice.key)
    if channel is NoticeChannel.EMAIL:
        if not notice.email:
            raise NoRecipient("no e-mail address")
        return ports.email.send(notice.email, notice.subject, notice.text, purpose=purpose, key=notice.key)
    ids, failure = [], None
    title = "PAHT: " + NoticeKind(notice.kind).label[1] if notice.kind in NoticeKind._value2member_map_ else "PAHT"
    payload = {"title": title, "body": notice.text, "url": notice.link, "tag": notice.report_id}
    for browser in notice.browsers:
        try:
            ids.append(ports.push.send(browser, payload, key=notice.key))
        except PushGone:
            forget_browser(browser.endpoint)
        except Exception as exc:  # one browser's push service down: the others still get it, and the row is retried
            failure = exc
    if ids:
        return ids[0]
    if failure is not None:
        raise failure
    raise NoRecipient("no browser subscribed")


def _record(uow_factory: Callable[[], UnitOfWork], notice: Claimed, values: dict, forget: list[str]) -> bool:
    for attempt in range(3):
        try:
            with uow_factory() as uow:
                for endpoint in forget:
                    uow.notices.forget_browser(endpoint)
                done = uow.notices.finish(notice.id, notice.claim, **values)
                uow.commit()
                return done
        except StaleDataError:  # pragma: no cover - no versioned object here; kept for symmetry with the other writers
            continue
    return False


def deliver(uow_factory: Callable[[], UnitOfWork], ports: Ports, notice: Claimed, now: Callable[[], datetime] = now_utc) -> bool:
    """Send one claimed notice and record the outcome; return whether it went."""
    forget: list[str] = []
    try:
        provider_id = send_one(ports, notice, forget.append)
    except NoRecipient as exc:
        _record(uow_factory, notice, {"status": FAILED, "error": str(exc)[:200]}, forget)
        return False
    except Exception as exc:  # the gateway is outside: whatever it does, the row waits and is tried again
        reason = f"{type(exc).__name__}"[:200]
        if notice.attempts >= MAX_ATTEMPTS:
            log.error("notice %s (%s, %s) given up after %d attempts: %s", notice.id, notice.kind, notice.channel, notice.attempts, reason,
                      extra={"report_id": notice.report_id})
            _record(uow_factory, notice, {"status": FAILED, "error": reason}, forget)
        else:
            log.warning("notice %s (%s, %s) not sent, attempt %d: %s", notice.id, notice.kind, notice.channel, notice.attempts, reason,
                        extra={"report_id": notice.report_id})
            _record(uow_factory, notice, {"status": PENDING, "error": reason, "next_attempt_at": now() + backoff(notice.attempts)}, forget)
        return False
    if not _record(uow_factory, notice, {"status": SENT, "sent_at": now(), "provider_id": str(provider_id or "")[:200], "error": ""},
                   forget):
        log.warning("notice %s sent, but its claim had run out: another sender may send it again (same key)", notice.id)
    return True


def send_due(uow_factory: Callable[[], UnitOfWork], ports: Ports, public_url: str | None, now: datetime | None = None,
             limit: int = BATCH) -> int:
    """Claim the notices due, send each, record each; repeat while full batches come. Return how many went."""
    sent = 0
    while True:
        batch = claim(uow_factory, public_url, now, limit)
        clock = (lambda: now) if now is not None else now_utc
        sent += sum(deliver(uow_factory, ports, notice, clock) for notice in batch)
        if len(batch) < limit:
            return sent
