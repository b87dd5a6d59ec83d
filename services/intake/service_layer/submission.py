"""Submitting a report, from every channel: one command, one transaction.

The channel, the way the phone was proved and the partner's channel name come from the caller's
credential (entrypoints/callers.py), never from the request body. The report, its history line, its
files (uploaded beforehand, attached here) and its ReportSubmitted event commit together or not at
all. A client may send an Idempotency-Key: the same key from the same sender is the same report (an
offline draft sent twice when the connection comes back, a double tap), answered again, not stored twice.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from paht.runtime.errors import InvalidInput
from paht.runtime.ids import new_id, new_tracking_code
from paht.runtime.text import Label, clean_optional
from paht.runtime.uow import GroupCommit, UnitOfWork, actor_of
from services.intake.adapters import history
from services.intake.adapters.orm import reports as reports_table
from paht.runtime.media import MediaLimits
from services.intake.domain.report import Report, Reporter
from services.intake.domain.taxonomy import Taxonomy, known_topic
from services.intake.domain.vocabulary import Action, Channel, Verification
from services.intake.service_layer import events, media

IDEMPOTENCY_KEY = Label("Idempotency-Key", "Khóa chống gửi trùng (Idempotency-Key)")


@dataclass
class SubmitReport:
    name: str
    phone: str
    email: str
    title: str
    description: str
    topic_code: str = ""
    lat: float | None = None
    lon: float | None = None
    address_text: str = ""
    area_code: str = ""
    private_result: bool = False
    urgent: bool = False
    urgent_service: str = ""
    reporter_kind: str = "person"
    occurred_at: datetime | None = None
    acknowledged: bool = True
    media_ids: list[str] = field(default_factory=list)
    # from the caller, never from the body
    channel: str = Channel.WEB.value
    channel_name: str = ""
    verification: str = Verification.NONE.value
    owner: str = ""                 # who uploaded the files: only theirs can be attached
    limits: MediaLimits | None = None  # how many photos and videos a report may carry (the settings'; None: the defaults)
    idempotency_key: str = ""       # the client's key for this submission ("" when none)
    actor_kind: str = "reporter"    # reporter | partner | staff: the history line's "who"
    actor: str = ""                 # staff subject or partner id


@dataclass
class Submitted:
    report: Report
    media: list
    replayed: bool = False          # the same Idempotency-Key was seen before: this is the stored report


def submission_key(owner: str, key: str) -> str | None:
    """The stored form of a client's key: a hash of who sent it and the key itself (None without a key)."""
    key = clean_optional(key, IDEMPOTENCY_KEY, 200, multiline=False)
    if not key:
        return None
    if not owner:
        raise InvalidInput("An Idempotency-Key needs a signed-in sender.", "Khóa Idempotency-Key cần người gửi đã xác thực.")
    return hashlib.sha256(f"{owner}\n{key}".encode()).hexdigest()


def _stored(uow: UnitOfWork, key: str | None) -> Submitted | None:
    if key is None:
        return None
    report = uow.session.execute(select(Report).where(reports_table.c.submission_key == key)).scalar_one_or_none()
    return Submitted(report, media.media_of(uow.session, report.id), replayed=True) if report is not None else None


@dataclass
class Prepared:
    """A submission checked and built, ready to be written (in a transaction of its own or with others)."""

    cmd: SubmitReport
    report: Report
    reporter: Reporter
    now: datetime


def prepare(taxonomy: Taxonomy, cmd: SubmitReport) -> Prepared:
    """Check a submission and build its report, before any transaction (a refusal writes nothing)."""
    now = datetime.now(timezone.utc)
    key = submission_key(cmd.owner, cmd.idempotency_key)
    reporter = Reporter.new(new_id(), cmd.name, cmd.phone, cmd.email, now)
    report = Report.submit(
        id=new_id(), tracking_code=new_tracking_code(), reporter_id=reporter.id, channel=cmd.channel, title=cmd.title,
        description=cmd.description, topic_code=cmd.topic_code, lat=cmd.lat, lon=cmd.lon, address_text=cmd.address_text,
        area_code=cmd.area_code, private_result=cmd.private_result, urgent=cmd.urgent, urgent_service=cmd.urgent_service,
        reporter_kind=cmd.reporter_kind, occurred_at=cmd.occurred_at, verification=cmd.verification, channel_name=cmd.channel_name,
        acknowledged=cmd.acknowledged, now=now,
    )
    report.submission_key = key
    if report.topic_code:  # the reporter's choice is only a suggestion, but never an unknown one
        known_topic(taxonomy, report.topic_code)
    if len(set(cmd.media_ids)) != len(cmd.media_ids):
        raise InvalidInput("The same file is attached twice.", "Một tệp được đính kèm hai lần.", field="media")
    return Prepared(cmd, report, reporter, now)


def record(uow: UnitOfWork, prepared: Prepared) -> Submitted:
    """Write a prepared submission in the open transaction (the caller commits): the report, its files, its history
    line and its event; or, when its Idempotency-Key was seen before, the report stored then."""
    cmd, report, now = prepared.cmd, prepared.report, prepared.now
    replay = _stored(uow, report.submission_key)
    if replay is not None:
        return replay
    # the same phone and e-mail are the same person: the report belongs to the stored reporter
    report.reporter_id = uow.reporters.id_of(prepared.reporter)
    report.version = 0  # a new report's first event is version 1, however often a retry writes it
    version = report.next_version()
    # The report and its first history line are written at the commit, each in one INSERT with the other reports
    # submitted together (a resent key fails there); files point at the report, so it is written first when it has some.
    uow.reports.stage_new(uow, report)
    history.stage(uow, report.id, Action.SUBMITTED, actor_kind=cmd.actor_kind, actor=cmd.actor, at=now, to_reporter=True,
                  text=Channel(report.channel).label[1] + (f" ({report.channel_name})" if report.channel_name else ""))
    files: list = []
    if cmd.media_ids:
        uow.write_staged()
        files = media.attach(uow.session, cmd.owner, list(cmd.media_ids), report.id, limits=cmd.limits)
    uow.emit(events.submitted(report, files), report_id=report.id, version=version, actor=actor_of(None))
    return Submitted(report, files)


def desk(uow_factory) -> GroupCommit:
    """Where the submissions of a process are written: those that arrive together in one transaction, with the
    stored ids of all their reporters read in one query."""
    return GroupCommit(uow_factory, before=lambda uow, reporters: uow.reporters.preload(reporters))


async def write_together(desk_: GroupCommit, uow_factory, prepared: Prepared) -> Submitted:
    """Write a prepared submission with whatever else is waiting at the desk (alone if their batch fails)."""
    return await desk_.run(lambda uow: record(uow, prepared), lambda: write_alone(uow_factory(), prepared), note=prepared.reporter)


def submit_report(uow: UnitOfWork, taxonomy: Taxonomy, cmd: SubmitReport) -> Submitted:
    """Record a report and announce it (without personal data); the same Idempotency-Key gives the same report."""
    return write_alone(uow, prepare(taxonomy, cmd))


def write_alone(uow: UnitOfWork, prepared: Prepared) -> Submitted:
    """Write one prepared submission in its own transaction."""
    with uow:
        try:
            done = record(uow, prepared)
            if not done.replayed:
                uow.commit()
            return done
        except IntegrityError:
            # the same key sent twice at once: the other request stored it first; answer with that report
            uow.rollback()
            replay = _stored(uow, prepared.report.submission_key)
            if replay is None:
                raise
            return replay
