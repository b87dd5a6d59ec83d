"""Intake's use cases: submit a report, accept or refuse it (step 1), release a reporter's contact."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from paht.intake.v1 import events_pb2 as ev
from paht.runtime.auth import Principal
from paht.runtime.errors import Forbidden, NotFound
from paht.runtime.ids import new_id, new_tracking_code
from paht.runtime.uow import UnitOfWork, actor_of
from services.intake.adapters.orm import contact_audit
from services.intake.domain.report import CHANNELS, Report, Reporter, Status

_CHANNEL = {
    "app": ev.CHANNEL_APP,
    "web": ev.CHANNEL_WEB,
    "call_center": ev.CHANNEL_CALL_CENTER,
    "partner_app": ev.CHANNEL_PARTNER_APP,
    "open311": ev.CHANNEL_OPEN311,
}
_REFUSAL = {
    "duplicate": ev.REFUSAL_REASON_DUPLICATE,
    "unclear_or_test": ev.REFUSAL_REASON_UNCLEAR_OR_TEST,
    "verification_failed": ev.REFUSAL_REASON_VERIFICATION_FAILED,
    "edit_not_done": ev.REFUSAL_REASON_EDIT_NOT_DONE,
    "out_of_scope": ev.REFUSAL_REASON_OUT_OF_SCOPE,
}
CONTACT_ROLES = ("ioc_operator", "ioc_admin")


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
    channel: str = "web"


def submit_report(uow: UnitOfWork, cmd: SubmitReport) -> Report:
    """Record a citizen's report and announce it (without personal data)."""
    from paht.runtime.errors import InvalidInput

    if cmd.channel not in CHANNELS:
        raise InvalidInput(f"Unknown channel '{cmd.channel}'.", f"Kênh tiếp nhận '{cmd.channel}' không hợp lệ.")
    name = Report.clean_text(cmd.name, "Name", "Họ tên", 2, 200)
    phone = Reporter.normalise_phone(cmd.phone)
    email = Reporter.check_email(cmd.email)
    title = Report.clean_text(cmd.title, "Title", "Tiêu đề", 5, 200)
    description = Report.clean_text(cmd.description, "Description", "Nội dung", 10, 5000)
    Report.check_location(cmd.lat, cmd.lon)
    now = datetime.now(timezone.utc)
    with uow:
        reporter = uow.session.execute(
            select(Reporter).where(Reporter.phone == phone, Reporter.email == email)
        ).scalar_one_or_none()
        if reporter is None:
            reporter = Reporter(id=new_id(), name=name, phone=phone, email=email, created_at=now)
            uow.session.add(reporter)
            uow.session.flush()  # the report row refers to it
        report = Report(
            id=new_id(),
            tracking_code=new_tracking_code(),
            reporter_id=reporter.id,
            channel=cmd.channel,
            title=title,
            description=description,
            topic_code=cmd.topic_code or "",
            lat=cmd.lat,
            lon=cmd.lon,
            address_text=(cmd.address_text or "").strip()[:300],
            area_code=(cmd.area_code or "").strip()[:20],
            private_result=cmd.private_result,
            urgent=cmd.urgent,
            status=Status.SUBMITTED.value,
            received_at=now,
        )
        version = report.next_version()
        uow.session.add(report)
        event = ev.ReportSubmitted(
            tracking_code=report.tracking_code,
            reporter_ref=reporter.id,
            channel=_CHANNEL[cmd.channel],
            title=title,
            description=description,
            topic_code=report.topic_code,
            address_text=report.address_text,
            area_code=report.area_code,
            private_result=report.private_result,
            urgent=report.urgent,
        )
        if cmd.lat is not None:
            event.location.lat, event.location.lon = cmd.lat, cmd.lon
        event.received_at.FromDatetime(now)
        uow.emit(event, report_id=report.id, version=version, actor=actor_of(None))
        uow.commit()
        return report


def _load(uow: UnitOfWork, report_id: str) -> Report:
    report = uow.session.get(Report, report_id)
    if report is None:
        raise NotFound(f"No report {report_id}.", f"Không tìm thấy phản ánh {report_id}.")
    return report


def accept_report(uow: UnitOfWork, user: Principal, report_id: str, topic_code: str, group_code: str, urgent: bool | None, note: str) -> Report:
    """Step 1: accept a complete report, with its topic normalised by the IOC."""
    with uow:
        report = _load(uow, report_id)
        report.accept(topic_code, group_code, urgent, note)
        event = ev.ReportAccepted(topic_code=report.topic_code, group_code=report.group_code, urgent=report.urgent, note=note)
        event.received_at.FromDatetime(report.received_at)
        uow.emit(event, report_id=report.id, version=report.next_version(), actor=actor_of(user))
        uow.commit()
        return report


def refuse_report(uow: UnitOfWork, user: Principal, report_id: str, reason: str, text: str) -> Report:
    """Step 1: refuse; the reason becomes public in the 'not eligible' list."""
    with uow:
        report = _load(uow, report_id)
        report.refuse(reason, text)
        uow.emit(
            ev.ReportRefused(reason=_REFUSAL[reason], reason_text=report.decision_note),
            report_id=report.id,
            version=report.next_version(),
            actor=actor_of(user),
        )
        uow.commit()
        return report


def release_contact(uow: UnitOfWork, user: Principal, report_id: str, purpose: str) -> tuple[Reporter, str]:
    """Give an authorised operator the reporter's contact, and record that it was given."""
    if not user.has(*CONTACT_ROLES):
        raise Forbidden("Only IOC operators may see a reporter's contact.", "Chỉ cán bộ IOC được xem thông tin liên hệ của người phản ánh.")
    if len((purpose or "").strip()) < 3:
        from paht.runtime.errors import InvalidInput

        raise InvalidInput("Say why you need the contact (it is audited).", "Cần nêu mục đích xem thông tin liên hệ (được ghi nhật ký).")
    with uow:
        report = _load(uow, report_id)
        reporter = uow.session.get(Reporter, report.reporter_id)
        audit_id = new_id()
        uow.session.execute(
            contact_audit.insert().values(
                id=audit_id,
                report_id=report.id,
                reporter_id=reporter.id,
                staff_subject=user.subject,
                staff_org_unit=user.org_unit,
                purpose=purpose.strip()[:300],
                released_at=datetime.now(timezone.utc),
            )
        )
        uow.commit()
        return reporter, audit_id


def list_reports(uow: UnitOfWork, status: str | None, limit: int = 100) -> list[Report]:
    with uow:
        q = select(Report).order_by(Report.received_at.desc()).limit(limit)
        if status:
            q = q.where(Report.status == status)
        return list(uow.session.execute(q).scalars())


def get_report(uow: UnitOfWork, report_id: str) -> Report:
    with uow:
        return _load(uow, report_id)

