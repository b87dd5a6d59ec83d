"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2): the mapping from the public record to the
specification's fields, its query parameters, and its two formats. No I/O here.

Which reports appear is never decided here: the caller passes what PublicReport.is_public_record and
the repositories' `_shown` let through; this module only says how a report looks to Open311.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

from paht.runtime.errors import InvalidInput
from paht.runtime.sla import VN
from services.publication.domain.public_report import PublicReport, Step, TimelineEntry

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
CLOSED = frozenset({Step.PUBLISHED, Step.REFUSED, Step.CANCELLED})  # everything else is still open
STATUSES = ("open", "closed")
DEFAULT_DAYS = 90       # the specification's default window of GET requests
MAX_PAGE_SIZE = 1000    # the specification's "up to 1000 requests"
MAX_IDS = 100           # ids in one service_request_id list
# Inner element names of the XML lists (the specification's examples): <services><service>, ...
ITEM = {"services": "service", "service_requests": "request", "service_request_updates": "request_update", "errors": "error",
        "endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}
WITHHELD = "Đang chờ Trung tâm IOC tỉnh tiếp nhận / Awaiting review by the provincial IOC"


def status_of(step: Step) -> str:
    """Open311's two statuses: published, refused and cancelled reports are closed; every other step is open."""
    return "closed" if step in CLOSED else "open"


def when(value: datetime | None) -> str | None:
    """ISO 8601 with Vietnam's offset (+07:00), to the second, as the specification's w3 format asks."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(VN).isoformat(timespec="seconds")


def media_url(r: PublicReport, site: str) -> str | None:
    """The first photo anyone may see (PublicReport.shown_media: blurred where the IOC marked it), as an absolute URL."""
    photo = next((m for m in r.shown_media if m.is_photo), None)
    return site + photo.url if photo is not None else None


def request_view(r: PublicReport, service_name: str, updated_at: datetime | None, site: str = "") -> dict:
    """A public report as an Open311 service request (no personal data: there is none in the public record); `site` is
    the address people reach PAHT at (media_url is absolute)."""
    return {
        "service_request_id": r.report_id,
        "status": status_of(r.step),
        "status_notes": r.public_answer if r.step == Step.PUBLISHED else (r.refusal_text or None),
        "service_name": service_name,
        "service_code": r.topic_code,
        "description": r.description,
        "agency_responsible": r.lead_agency_name or None,
        "service_notice": None,
        "requested_datetime": when(r.received_at),
        "updated_datetime": when(updated_at or r.received_at),
        "expected_datetime": None,
        "address": r.address_text or None,
        "address_id": None,
        "zipcode": None,
        "lat": r.lat,
        "long": r.lon,
        "media_url": media_url(r, site),
    }


def pending_view(r: PublicReport, updated_at: datetime | None) -> dict:
    """A report step 1 has not accepted yet: open, its content withheld (as the tracking page shows it)."""
    return {
        "service_request_id": r.report_id,
        "status": "open",
        "status_notes": WITHHELD,
        "service_name": None,
        "service_code": None,
        "description": None,
        "agency_responsible": None,
        "service_notice": None,
        "requested_datetime": when(r.received_at),
        "updated_datetime": when(updated_at or r.received_at),
        "expected_datetime": None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def update_view(entry: TimelineEntry, report: PublicReport) -> dict:
    """One public timeline entry as mySociety's service request update."""
    label = entry.step.event_label
    text = f"{label.vi} / {label.en}"
    if entry.step == Step.PUBLISHED and report.public_answer:
        text = report.public_answer
    elif entry.note:
        text = f"{text}: {entry.note}"
    return {
        "update_id": entry.id,
        "service_request_id": entry.report_id,
        "status": status_of(entry.step),
        "updated_datetime": when(entry.at),
        "description": text,
        "media_url": None,
    }


# --- query parameters -------------------------------------------------------------------------------

def _bad(name: str, en: str, vi: str) -> InvalidInput:
    return InvalidInput(f"{name}: {en}", f"{name}: {vi}", field=name)


def parse_datetime(name: str, raw: str) -> datetime:
    """A w3 datetime with its offset (Z or ±HH:MM); a date alone is that day's start in Vietnam."""
    text = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.fromisoformat(text).replace(tzinfo=VN)
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _bad(name, "not a w3 datetime (e.g. 2025-07-01T00:00:00+07:00)", "không đúng định dạng thời gian w3 (ví dụ 2025-07-01T00:00:00+07:00)") from None
    if value.tzinfo is None:
        raise _bad(name, "the timezone is missing (Z or +07:00)", "thiếu múi giờ (Z hoặc +07:00)")
    return value.astimezone(timezone.utc)


def parse_list(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()]


def parse_int(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise _bad(name, f"a whole number from {low} to {high}", f"phải là số nguyên từ {low} đến {high}")
    return int(raw)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def window(start_raw: str | None, end_raw: str | None, now: datetime, days: int = DEFAULT_DAYS) -> Window:
    """The requested_datetime range: the last `days` days by default; one end given, the other `days` from it (or now)."""
    start = parse_datetime("start_date", start_raw) if start_raw else None
    end = parse_datetime("end_date", end_raw) if end_raw else None
    if start is None and end is None:
        end = now
    if end is None:
        end = max(now, start)
    if start is None:
        start = end - timedelta(days=days)
    if start > end:
        raise _bad("start_date", "later than end_date", "sau end_date")
    return Window(start, end)


def statuses(raw: str | None) -> set[str]:
    wanted = set(parse_list((raw or "").lower()))
    if not wanted <= set(STATUSES):
        raise _bad("status", "open or closed (comma-separated)", "open hoặc closed (phân cách bằng dấu phẩy)")
    return wanted or set(STATUSES)


def steps_of(wanted: set[str]) -> list[Step]:
    return [s for s in Step if status_of(s) in wanted]


# --- formats ------------------------------------------------------------------------------------------

def _xml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _xml(name: str, value) -> str:
    if value is None:
        return f"<{name}/>"
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_xml(k, v) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list):
        item = ITEM.get(name, "item")
        return f"<{name}>" + "".join(_xml(item, v) for v in value) + f"</{name}>"
    return f"<{name}>{_xml_value(value)}</{name}>"


def to_xml(root: str, value) -> str:
    """The specification's XML: UTF-8 with its declaration; a list under `root` holds items named as in its examples."""
    return '<?xml version="1.0" encoding="utf-8"?>\n' + _xml(root, value)


def error_list(code: int, description: str) -> list[dict]:
    """The specification's error format: a list of {code, description}."""
    return [{"code": code, "description": description}]
