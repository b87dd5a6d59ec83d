"""Handling's use cases: steps 3 to 7, and the dispatch and publication events that open and reopen a case."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from google.protobuf.message import Message
from sqlalchemy import false, or_, select, true

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime.auth import Principal
from paht.runtime.errors import NotFound, StateConflict
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.runtime.uow import UnitOfWork, actor_of
from services.handling.domain.case import IOC_ROLES, CandidateUnit, Case

log = logging.getLogger(__name__)


def _load(uow: UnitOfWork, report_id: str) -> Case:
    case = uow.session.get(Case, report_id)
    if case is None:
        raise NotFound(f"No case for report {report_id}.", f"Không tìm thấy hồ sơ xử lý của phản ánh {report_id}.")
    return case


def _agency(case: Case) -> common_pb2.OrgRef:
    return common_pb2.OrgRef(id=case.lead_agency_id, name=case.lead_agency_name)


def _unit(case: Case) -> common_pb2.OrgRef:
    return common_pb2.OrgRef(id=case.lead_unit_id, name=case.lead_unit_name)


def _announce(uow: UnitOfWork, case: Case, user: Principal, event: Message) -> None:
    """Stage the event of a step with the case's next version and the ownership epoch it holds."""
    case.updated_at = datetime.now(timezone.utc)
    uow.emit(event, report_id=case.report_id, version=case.next_version(), actor=actor_of(user), epoch=case.epoch)


def _assigned(case: Case, level: int) -> ev.CaseAssigned:
    event = ev.CaseAssigned(level=level, agency=_agency(case), unit=_unit(case), staff_subject=case.staff_subject)
    if case.handling_due is not None:
        event.due_at.FromDatetime(case.handling_due)
    return event


def assign_unit(uow: UnitOfWork, user: Principal, report_id: str, unit: CandidateUnit) -> Case:
    """Step 3: the lead agency accepts the case and names its lead unit."""
    with uow:
        case = _load(uow, report_id)
        case.assign_unit(user, unit)
        _announce(uow, case, user, _assigned(case, ev.ASSIGNMENT_LEVEL_UNIT))
        uow.commit()
        return case


def refuse_by_agency(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> Case:
    """Step 3: the lead agency refuses; the case goes back to the IOC for step 2."""
    with uow:
        case = _load(uow, report_id)
        case.refuse_by_agency(user, reason)
        _announce(uow, case, user, ev.CaseRefusedByAgency(agency=_agency(case), reason=case.agency_refusal_reason))
        uow.commit()
        return case


def assign_staff(uow: UnitOfWork, user: Principal, report_id: str, staff_subject: str) -> Case:
    """Step 4: the unit leader accepts the case and names the staff member who handles it."""
    with uow:
        case = _load(uow, report_id)
        case.assign_staff(user, staff_subject)
        _announce(uow, case, user, _assigned(case, ev.ASSIGNMENT_LEVEL_STAFF))
        uow.commit()
        return case


def refuse_by_unit(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> Case:
    """Step 4: the lead unit refuses; the lead agency chooses another unit (step 3 again)."""
    with uow:
        case = _load(uow, report_id)
        unit = _unit(case)
        case.refuse_by_unit(user, reason)
        _announce(uow, case, user, ev.CaseRefusedByUnit(unit=unit, reason=case.unit_refusal_reason))
        uow.commit()
        return case


def draft_result(uow: UnitOfWork, user: Principal, report_id: str, answer_text: str) -> Case:
    """Step 6: the staff member reports the result with a draft answer for the leader."""
    with uow:
        case = _load(uow, report_id)
        case.draft_result(user, answer_text, new_id())
        # approval_due (1 working day) is left to dispatch, which owns every deadline and the calendar.
        _announce(uow, case, user, ev.ResultDrafted(draft_id=case.draft_id, answer_text=case.answer_text, unit=_unit(case)))
        uow.commit()
        return case


def approve_result(uow: UnitOfWork, user: Principal, report_id: str, edited_text: str | None = None) -> Case:
    """Step 7: the unit leader approves the answer (possibly edited) and sends it to the IOC."""
    with uow:
        case = _load(uow, report_id)
        case.approve_result(user, edited_text)
        event = ev.ResultApproved(
            draft_id=case.draft_id,
            answer_text=case.answer_text,
            unit=_unit(case),
            agency=_agency(case),
            edited_by_leader=case.edited_by_leader,
        )
        _announce(uow, case, user, event)
        uow.commit()
        return case


def return_result(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> Case:
    """Step 7: the unit leader returns the draft to the staff member to complete."""
    with uow:
        case = _load(uow, report_id)
        case.return_result(user, reason)
        _announce(uow, case, user, ev.ResultReturned(draft_id=case.draft_id, reason=case.return_reason))
        uow.commit()
        return case


# --- events from other services: run inside the consumer's unit of work, which commits ---------


def open_case_on_dispatch(uow: UnitOfWork, msg: dispatch_ev.ReportDispatched, envelope: Envelope) -> None:
    """Open the case at its lead agency, or start a new round when the IOC dispatches it again."""
    agency = msg.lead_agency
    if not agency.id:
        log.error("ReportDispatched %s for report %s names no lead agency; ignored", envelope.id, envelope.report_id)
        return
    due = msg.handling_due.ToDatetime(tzinfo=timezone.utc) if msg.HasField("handling_due") else None
    case = uow.session.get(Case, envelope.report_id)
    if case is None:
        case = Case.open(envelope.report_id, agency.id, agency.name, msg.round, due, msg.meta.epoch)
        uow.session.add(case)
    else:
        try:
            case.open_round(agency.id, agency.name, msg.round, due, msg.meta.epoch)
        except StateConflict:
            log.warning("stale dispatch round %s for report %s (case at round %s); ignored", msg.round, envelope.report_id, case.round)
            return
    case.updated_at = datetime.now(timezone.utc)


def reopen_on_publication_return(uow: UnitOfWork, msg: publication_ev.PublicationReturned, envelope: Envelope) -> None:
    """Give the case back to its staff member when the IOC returns the approved result (step 8)."""
    case = uow.session.get(Case, envelope.report_id)
    if case is None:
        log.warning("publication returned report %s, which has no case here; ignored", envelope.report_id)
        return
    try:
        case.reopen_after_publication_return(msg.reason)
    except StateConflict:
        log.warning("publication returned report %s while its case is %s; ignored", envelope.report_id, case.status)
        return
    case.updated_at = datetime.now(timezone.utc)


# --- queries -------------------------------------------------------------------------------------


def _visible_to(user: Principal):
    """Return the SQL condition matching Case.visible_to: the IOC sees all, others their own cases."""
    if user.has(*IOC_ROLES):
        return true()
    clauses = []
    if user.has("agency_coordinator") and user.org_unit:
        clauses.append(Case.lead_agency_id == user.org_unit)
    if user.has("unit_leader") and user.org_unit:
        clauses.append(Case.lead_unit_id == user.org_unit)
    if user.has("staff") and user.subject:
        clauses.append(Case.staff_subject == user.subject)
    return or_(*clauses) if clauses else false()


def list_cases(uow: UnitOfWork, user: Principal, status: str | None = None, limit: int = 100) -> list[Case]:
    """List the cases a person may see, most recently changed first."""
    with uow:
        q = select(Case).where(_visible_to(user)).order_by(Case.updated_at.desc(), Case.report_id.desc()).limit(limit)
        if status:
            q = q.where(Case.status == status)
        return list(uow.session.execute(q).scalars())


def get_case(uow: UnitOfWork, user: Principal, report_id: str) -> Case:
    """Return a case the person may see; any other case does not exist for them."""
    with uow:
        case = _load(uow, report_id)
        if not case.visible_to(user):
            raise NotFound(f"No case for report {report_id}.", f"Không tìm thấy hồ sơ xử lý của phản ánh {report_id}.")
        return case


def find_case(uow: UnitOfWork, report_id: str) -> Case:
    """Return a case for another service (trusted gRPC caller, no personal data)."""
    with uow:
        return _load(uow, report_id)
