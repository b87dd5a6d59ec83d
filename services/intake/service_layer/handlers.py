"""Intake's use cases: submit a report, accept or refuse it (step 1), release a reporter's contact.

The unit of work carries the repositories `reports` and `reporters`; topics are checked through the
Taxonomy port, always before the unit of work opens (it may have to wait for dispatch).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import Forbidden, NotFound
from paht.runtime.ids import new_id, new_tracking_code
from paht.runtime.paging import Page
from paht.runtime.text import Label, clean_identifier
from paht.runtime.uow import UnitOfWork, actor_of
from services.intake.domain.report import ContactRelease, Report, Reporter, clean_topic_code
from services.intake.domain.taxonomy import Taxonomy, known_topic
from services.intake.domain.vocabulary import WAITING, Channel, Status
from services.intake.service_layer import events

REPORT_ID = Label("Report id", "Mã phản ánh")


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
    channel: str = Channel.WEB.value


def submit_report(uow: UnitOfWork, taxonomy: Taxonomy, cmd: SubmitReport) -> Report:
    """Record a citizen's report and announce it (without personal data)."""
    now = datetime.now(timezone.utc)
    reporter = Reporter.new(new_id(), cmd.name, cmd.phone, cmd.email, now)
    report = Report.submit(
        id=new_id(), tracking_code=new_tracking_code(), reporter_id=reporter.id, channel=cmd.channel, title=cmd.title,
        description=cmd.description, topic_code=cmd.topic_code, lat=cmd.lat, lon=cmd.lon, address_text=cmd.address_text,
        area_code=cmd.area_code, private_result=cmd.private_result, urgent=cmd.urgent, now=now,
    )
    if report.topic_code:  # the reporter's choice is only a suggestion, but never an unknown one
        known_topic(taxonomy, report.topic_code)
    with uow:
        # the same phone and e-mail are the same person: the report belongs to the stored reporter
        report.reporter_id = uow.reporters.find_or_add(reporter).id
        uow.reports.add(report)
        uow.emit(events.submitted(report), report_id=report.id, version=report.next_version(), actor=actor_of(None))
        uow.commit()
        return report


def _load(uow: UnitOfWork, report_id: str) -> Report:
    report = uow.reports.get(clean_identifier(report_id, REPORT_ID, 36))
    if report is None:
        raise NotFound(f"No report {report_id}.", f"Không tìm thấy phản ánh {report_id}.")
    return report


def accept_report(uow: UnitOfWork, taxonomy: Taxonomy, user: Principal, report_id: str, topic_code: str,
                  urgent: bool | None = None, note: str = "") -> Report:
    """Step 1: accept a complete report, filed under a topic of the taxonomy (its group comes with it)."""
    topic = known_topic(taxonomy, clean_topic_code(topic_code, required=True))
    with uow:
        report = _load(uow, report_id)
        report.accept(topic, urgent, note)
        uow.emit(events.accepted(report), report_id=report.id, version=report.next_version(), actor=actor_of(user))
        uow.commit()
        return report


def refuse_report(uow: UnitOfWork, user: Principal, report_id: str, reason: str, text: str) -> Report:
    """Step 1: refuse; the reason becomes public in the 'not eligible' list."""
    with uow:
        report = _load(uow, report_id)
        report.refuse(reason, text)
        uow.emit(events.refused(report), report_id=report.id, version=report.next_version(), actor=actor_of(user))
        uow.commit()
        return report


def release_contact(uow: UnitOfWork, user: Principal, report_id: str, purpose: str) -> tuple[Reporter, str]:
    """Give an authorised operator the reporter's contact, and record that it was given."""
    if not user.has(*roles.CONTACT):
        raise Forbidden("Only IOC operators may see a reporter's contact.", "Chỉ cán bộ IOC được xem thông tin liên hệ của người phản ánh.")
    with uow:
        report = _load(uow, report_id)
        release = ContactRelease.new(new_id(), report, user.subject, user.org_unit, purpose, datetime.now(timezone.utc))
        reporter = uow.reporters.get(report.reporter_id)
        uow.reporters.record_release(release)
        uow.commit()
        return reporter, release.id


def work_list(uow: UnitOfWork, status: Status | None = None, cursor: str | None = None, limit: int | None = None) -> Page[Report]:
    """Step 1's work list (or the reports in one status): urgent first, then oldest, one page at a time."""
    with uow:
        return uow.reports.work_list((status,) if status else WAITING, cursor, limit)


def get_report(uow: UnitOfWork, report_id: str) -> Report:
    with uow:
        return _load(uow, report_id)
