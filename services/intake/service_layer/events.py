"""Intake's events, built from the domain; the proto enums are mapped from the domain's by name.

A domain value X of Channel is the proto value CHANNEL_X (RefusalReason: REFUSAL_REASON_X), so a
new channel or reason needs its proto value and nothing else here.
"""
from __future__ import annotations

from enum import Enum
from typing import Iterable, TypeVar

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from paht.common.v1 import common_pb2 as common
from paht.intake.v1 import events_pb2 as ev
from services.intake.domain.report import Report
from services.intake.domain.vocabulary import CallOutcome, Channel, RefusalReason

E = TypeVar("E", bound=Enum)
PROTO_ENUMS: dict[type[Enum], tuple[EnumTypeWrapper, str]] = {
    Channel: (ev.Channel, "CHANNEL_"),
    RefusalReason: (ev.RefusalReason, "REFUSAL_REASON_"),
}


def to_proto(value: Enum) -> int:
    """Return the proto enum number of a domain value."""
    enum, prefix = PROTO_ENUMS[type(value)]
    return enum.Value(prefix + value.name)


def from_proto(kind: type[E], number: int) -> E:
    """Return the domain value of a proto enum number (KeyError for UNSPECIFIED or an unknown name)."""
    enum, prefix = PROTO_ENUMS[kind]
    return kind[enum.Name(number).removeprefix(prefix)]


# ReportSubmitted fields filled otherwise than by copying the report's attribute of the same name.
SHAPED = {"meta", "reporter_ref", "channel", "location", "media", "received_at", "occurred_at"}


def attachments(media: Iterable) -> list[common.Attachment]:
    """The files of a report as the events carry them: id, type, size, hash, and the staff address of the file."""
    return [common.Attachment(id=m.id, media_type=m.media_type, url=f"/intake/media/{m.id}", size_bytes=m.size_bytes, sha256=m.sha256)
            for m in media]


def submitted(report: Report, media: Iterable = ()) -> ev.ReportSubmitted:
    """The announcement of a new report: no personal data, the reporter only as a reference.

    Every other field of ReportSubmitted is the report's attribute of the same name, so a new report
    field travels by adding it to the proto and to the domain, and nothing here.
    """
    plain = {f.name: getattr(report, f.name) for f in ev.ReportSubmitted.DESCRIPTOR.fields if f.name not in SHAPED}
    event = ev.ReportSubmitted(reporter_ref=report.reporter_id, channel=to_proto(Channel(report.channel)), **plain)
    if report.lat is not None:
        event.location.lat, event.location.lon = report.lat, report.lon
    event.received_at.FromDatetime(report.received_at)
    if report.occurred_at is not None:
        event.occurred_at.FromDatetime(report.occurred_at)
    event.media.extend(attachments(media))
    return event


def public_media(media: Iterable) -> list[common.PublicMedia]:
    """The files of a report the IOC left public (shown), with the public address of their current version."""
    items = []
    for m in media:
        if not m.shown:
            continue
        width, height = m.shown_size
        items.append(common.PublicMedia(id=m.id, url=m.public_url, media_type=m.public_media_type, width=width or 0, height=height or 0,
                                    version=m.redaction_version))
    return items


def public_media_changed(media: Iterable) -> ev.PublicMediaChanged:
    """The IOC changed what the public may see of the report's files: the whole list as it now is."""
    return ev.PublicMediaChanged(public_media=public_media(media))


def accepted(report: Report, media: Iterable = ()) -> ev.ReportAccepted:
    """Step 1 accepted: what step 2 routes by, and what steps 3-7 must know without the reporter's personal data; and the
    files the public may see (the IOC's choice so far: photos shown, videos withheld, unless the IOC said otherwise)."""
    media = list(media)
    event = ev.ReportAccepted(topic_code=report.topic_code, group_code=report.group_code, urgent=report.urgent, note=report.decision_note,
                              area_code=report.area_code, title=report.title,
                              urgent_service=report.urgent_service, state_secret=report.state_secret,
                              reporter_kind=report.reporter_kind, private_result=report.private_result,
                              public_media=public_media(media), tracking_code=report.tracking_code,
                              description=report.description, address_text=report.address_text)
    event.media.extend(attachments(media))  # every file by its staff address: what the people handling it look at
    event.received_at.FromDatetime(report.received_at)
    if report.lat is not None:  # the place, for step 2's routing
        event.location.lat, event.location.lon = report.lat, report.lon
    return event


def refused(report: Report) -> ev.ReportRefused:
    """Refused at step 1 (a duplicate names the earlier report it repeats)."""
    return ev.ReportRefused(reason=to_proto(RefusalReason(report.refusal_reason)), reason_text=report.decision_note,
                            duplicate_of=report.duplicate_of)


# ---- step 1's other actions (the triage work) -------------------------------------------------------------

def cancelled(report: Report) -> ev.ReportCancelled:
    """Cancelled by the procedure itself (2 days without the edit or without reaching the reporter, or not the reporter)."""
    return ev.ReportCancelled(reason=to_proto(RefusalReason(report.refusal_reason)), reason_text=report.decision_note)


def edit_requested(report: Report) -> ev.EditRequested:
    event = ev.EditRequested(what=report.edit_request)
    if report.edit_due is not None:
        event.edit_due.FromDatetime(report.edit_due)
    return event


def edited(report: Report, media: Iterable = ()) -> ev.ReportEdited:
    """The report as it stands after the reporter's edit (every field, so consumers simply take it)."""
    event = ev.ReportEdited(title=report.title, description=report.description, topic_code=report.topic_code,
                            address_text=report.address_text)
    if report.lat is not None:
        event.location.lat, event.location.lon = report.lat, report.lon
    if report.occurred_at is not None:
        event.occurred_at.FromDatetime(report.occurred_at)
    event.media.extend(attachments(media))
    return event


def call_recorded(report: Report, outcome: CallOutcome) -> ev.VerificationCallRecorded:
    event = ev.VerificationCallRecorded(outcome=outcome.value)
    if report.verify_due is not None:
        event.verify_due.FromDatetime(report.verify_due)
    return event


def classified(report: Report) -> ev.ReportClassified:
    return ev.ReportClassified(state_secret=report.state_secret)


def reporter_replied() -> ev.ReporterReplied:
    """The reporter wrote to the IOC: the text stays in intake's history."""
    return ev.ReporterReplied()
