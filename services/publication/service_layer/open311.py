"""Open311 GeoReport v2 use cases: the public records as service requests, the taxonomy as services, and
a report POSTed through intake recorded at once (so that `requests/{id}` finds it before its event arrives).

Visibility is the public record's: a report is shown whole when PublicReport.is_public_record says so;
before step 1 decides, only the one who knows its id (or its token) learns that it is open, nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from paht.runtime.errors import InvalidInput, NotFound
from paht.runtime.uow import GroupCommit, UnitOfWork
from services.publication.adapters import open311 as queries
from services.publication.adapters import taxonomy
from services.publication.domain import open311
from services.publication.domain.public_report import PublicReport, Step, Submission, clean_tracking_code, is_report_id


def _unknown_request(request_id: str) -> NotFound:
    shown = request_id if is_report_id(request_id) else "?"  # never echo what could not be an id
    return NotFound(f"No service request {shown}.", f"Không tìm thấy phản ánh {shown}.")


def list_services(uow: UnitOfWork) -> list[taxonomy.Service]:
    with uow:
        return taxonomy.services_in_force(uow.session)


def find_service(uow: UnitOfWork, code: str) -> taxonomy.Service:
    """A service in force, or NotFound (a service definition exists only for services with metadata: none here)."""
    for service in list_services(uow):
        if service.code == code:
            return service
    raise NotFound("No service with this service_code.", "Không có lĩnh vực (service_code) này.")


def catalogue_changed_at(uow: UnitOfWork) -> datetime | None:
    with uow:
        return taxonomy.changed_at(uow.session)


def _view(r: PublicReport, names: dict[str, str], changes: dict, site: str) -> dict | None:
    if r.is_public_record:
        return open311.request_view(r, names.get(r.topic_code, ""), changes.get(r.report_id), site)
    if r.is_trackable and r.step == Step.SUBMITTED:
        return open311.pending_view(r, changes.get(r.report_id))
    return None


def requests_by_ids(uow: UnitOfWork, ids: list[str], site: str = "") -> list[dict]:
    """The requests of these ids, in their order (unknown or hidden ids are left out: the list says nothing of them);
    `site`: the address people reach PAHT at, for media_url."""
    ids = [i for i in dict.fromkeys(ids) if is_report_id(i)]
    with uow:
        found = queries.by_ids(uow.session, ids)
        names, changes = taxonomy.names(uow.session), queries.last_changes(uow.session, list(found))
        views = [_view(found[i], names, changes, site) for i in ids if i in found]
    return [v for v in views if v is not None]


def search_requests(uow: UnitOfWork, *, statuses: set[str], codes: list[str], window: open311.Window, limit: int, offset: int,
                    site: str = "") -> list[dict]:
    """One page of the public records matching GET requests' filters, newest first."""
    with uow:
        found = queries.requests(uow.session, steps=open311.steps_of(statuses), codes=codes, start=window.start, end=window.end,
                                 limit=limit, offset=offset)
        names = taxonomy.names(uow.session)
        return [open311.request_view(r, names.get(r.topic_code, ""), changed, site) for r, changed in found]


def get_request(uow: UnitOfWork, request_id: str, site: str = "") -> dict:
    views = requests_by_ids(uow, [request_id], site)
    if not views:
        raise _unknown_request(request_id)
    return views[0]


def request_of_token(uow: UnitOfWork, token: str) -> dict:
    """Our token is the report's tracking code (given with the POST): it leads to the service_request_id."""
    unknown = NotFound("No service request with this token.", "Không có phản ánh với mã (token) này.")
    try:
        code = clean_tracking_code(token)
    except InvalidInput:  # cannot be one of our tokens
        raise unknown from None
    with uow:
        report = uow.reports.by_tracking_code(code)
        if report is None or not report.is_trackable:
            raise unknown
        return {"service_request_id": report.report_id, "token": report.tracking_code}


def list_updates(uow: UnitOfWork, window: open311.Window, limit: int, offset: int) -> list[dict]:
    with uow:
        return [open311.update_view(e, r) for e, r in queries.updates(uow.session, start=window.start, end=window.end, limit=limit, offset=offset)]


@dataclass(frozen=True)
class NewRequest:
    """What intake answers for an Open311 POST (no personal data)."""

    report_id: str
    submission: Submission


def record_new_request(uow: UnitOfWork, new: NewRequest) -> None:
    """Record a report intake has just stored, as its ReportSubmitted event will (which then changes nothing but the
    timeline): `requests/{id}` finds it at once, open, its content withheld until step 1 accepts it."""
    try:
        with uow:
            _record(uow, new)
            uow.commit()
    except IntegrityError:
        pass  # the event arrived at the same moment and recorded it first


def _record(uow: UnitOfWork, new: NewRequest) -> None:
    report = uow.reports.get_or_start(new.report_id)
    if not report.has_content:
        report.record_submission(new.submission)
        report.advance(Step.SUBMITTED)


def desk(uow_factory) -> GroupCommit:
    """Where a process records the requests partners have just posted: those that arrive together in one transaction
    (their rows read with one query), instead of one write transaction each queueing behind the others."""
    return GroupCommit(uow_factory, before=lambda uow, ids: uow.reports.load_many(ids))


async def record_together(desk_: GroupCommit, uow_factory, new: NewRequest) -> None:
    """`record_new_request` with whatever else is waiting at the desk (alone, as above, if their batch fails)."""
    await desk_.run(lambda uow: _record(uow, new), lambda: record_new_request(uow_factory(), new), note=new.report_id)
