"""Handling's use cases: steps 3 to 7, and the dispatch and publication events that open and reopen a case.

Use cases reach cases only through `uow.cases` (adapters/repositories.py) and the organisation
directory only through the OrgDirectory port (adapters/directory.py). Those that ask the directory
are coroutines: they ask first, outside any transaction, then change the case in a worker thread.
"""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.sync.v1 import events_pb2 as sync_ev
from paht.runtime.auth import Principal
from paht.runtime.errors import InvalidInput, NotFound
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.runtime import federation, ratings
from paht.runtime.paging import Page
from paht.runtime.uow import UnitOfWork, actor_of
from paht.runtime.sla import Step
from services.handling.adapters import calendar
from services.handling.adapters.contacts import ReporterContact, ReporterContacts
from services.handling.adapters.directory import OrgDirectory, candidate_unit
from services.handling.domain.answer import Answer
from services.handling.domain.case import Case, CandidatePerson, check_team_size, clean_subject, clean_unit_id
from services.handling.domain.history import Action, HistoryLine
from services.handling.domain.support import SupportRequest
from services.handling.domain.status import Scope
from services.handling.service_layer import report_files
from services.handling.service_layer import files as case_files

PROVINCE_TIME = ZoneInfo("Asia/Ho_Chi_Minh")


def preload(uow: UnitOfWork, report_ids: list[str]) -> None:
    """Before a batch of events: their cases, locked and loaded with one query (a batch of recalls of cases this node
    never had — after a long partition — then costs one query, not one per event)."""
    uow.cases.load_many(report_ids)


def _not_found(report_id: str) -> NotFound:
    return NotFound(f"No case for report {report_id}.", f"Không tìm thấy hồ sơ xử lý của phản ánh {report_id}.")


def _load(uow: UnitOfWork, report_id: str, for_change: bool = False) -> Case:
    case = uow.cases.get(report_id, for_change=for_change)
    if case is None:
        raise _not_found(report_id)
    return case


def _agency(case: Case) -> common_pb2.OrgRef:
    return common_pb2.OrgRef(id=case.lead_agency_id, name=case.lead_agency_name)


def _unit(case: Case) -> common_pb2.OrgRef:
    return common_pb2.OrgRef(id=case.lead_unit_id, name=case.lead_unit_name)


def _assigned(case: Case, level: int) -> ev.CaseAssigned:
    event = ev.CaseAssigned(level=level, agency=_agency(case), unit=_unit(case), staff_subject=case.staff_subject,
                            message=case.handover_message, co_staff=list(case.co_staff))
    event.due_at.FromDatetime(case.handling_due)
    return event


def _record(uow: UnitOfWork, case: Case, action: Action, at: datetime, subject: str, roles: str, org: str,
            message: str | None = None, line_id: str | None = None) -> None:
    """Add the line of what just happened to the case's history (with the hand-over's message), in the same transaction."""
    uow.history.add(uow, HistoryLine(id=line_id or new_id(), report_id=case.report_id, at=at, action=action.value, status=case.status,
                                     round=case.round, actor_subject=subject, actor_roles=roles, actor_org=org,
                                     message=(case.handover_message if message is None else message)[:4000]))


def _change(uow: UnitOfWork, user: Principal, report_id: str, step: Callable[[Case], tuple[Message, Action]],
            message: Callable[[], str] | None = None, line_id: str | None = None) -> Case:
    """Apply one step to a case, stage its event with the next version and add its history line, in one unit of work.

    The case's row is locked while the step decides (repository), so of two people acting at once the
    second decides on what the first left, and a refusal tells them what happened.
    """
    with uow:
        case = _load(uow, report_id, for_change=True)
        event, action = step(case)
        case.updated_at = datetime.now(timezone.utc)
        uow.emit(event, report_id=case.report_id, version=case.next_version(), actor=actor_of(user), epoch=case.epoch)
        _record(uow, case, action, case.updated_at, user.subject, ",".join(sorted(user.roles)), user.org_unit,
                message() if message else None, line_id)
        uow.commit()
        return case


def province_today() -> date:
    """Today's date in the province (a committed completion date must come after it)."""
    return datetime.now(PROVINCE_TIME).date()


def _answer_fields(event: Message, case: Case) -> None:
    """The answer's parts that ResultDrafted and ResultApproved both carry."""
    event.finished = case.answer_finished
    event.completion_date = case.completion_date.isoformat() if case.completion_date else ""
    event.answer_letter = case.answer_letter


# --- steps 3 to 7 -------------------------------------------------------------------------------


async def assign_unit(uow: UnitOfWork, directory: OrgDirectory, user: Principal, report_id: str, unit_id: str,
                      message: str = "") -> Case:
    """Step 3: the lead agency accepts the case and names its lead unit (checked in the directory), with a note."""
    asked = clean_unit_id(unit_id)
    unit = await candidate_unit(directory, asked)

    def step(case: Case) -> tuple[Message, Action]:
        case.assign_unit(user, unit, asked, message)
        return _assigned(case, ev.ASSIGNMENT_LEVEL_UNIT), Action.UNIT_ASSIGNED

    return await asyncio.to_thread(_change, uow, user, report_id, step)


def refuse_by_agency(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> Case:
    """Step 3: the lead agency refuses; the case goes back to the IOC for step 2."""

    def step(case: Case) -> tuple[Message, Action]:
        case.refuse_by_agency(user, reason)
        return ev.CaseRefusedByAgency(agency=_agency(case), reason=case.agency_refusal_reason), Action.REFUSED_BY_AGENCY

    return _change(uow, user, report_id, step)


async def assign_staff(uow: UnitOfWork, directory: OrgDirectory, user: Principal, report_id: str, staff_subject: str,
                       message: str = "", co_staff: list[str] | tuple = ()) -> Case:
    """Step 4: the unit leader accepts the case and names who handles it — one in charge, and any other staff of the
    unit with them — with a note; until approval, re-assigns it."""
    asked = clean_subject(staff_subject)
    check_team_size(len(co_staff))  # before asking the directory about each of them
    others = [clean_subject(name) for name in co_staff if name and name.strip()]
    person = await directory.get_person(asked)
    team = [(name, await directory.get_person(name)) for name in dict.fromkeys(others)]

    def step(case: Case) -> tuple[Message, Action]:
        case.assign_staff(user, person, asked, message, team)
        return _assigned(case, ev.ASSIGNMENT_LEVEL_STAFF), Action.STAFF_ASSIGNED

    return await asyncio.to_thread(_change, uow, user, report_id, step)


def refuse_by_unit(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> Case:
    """Step 4: the lead unit refuses; the lead agency chooses another unit (step 3 again)."""

    def step(case: Case) -> tuple[Message, Action]:
        unit = _unit(case)
        case.refuse_by_unit(user, reason)
        return ev.CaseRefusedByUnit(unit=unit, reason=case.unit_refusal_reason), Action.REFUSED_BY_UNIT

    return _change(uow, user, report_id, step)


def draft_result(uow: UnitOfWork, user: Principal, report_id: str, answer_text: str, *, finished: bool = True,
                 completion_date: date | None = None, message: str = "", files: list[str] | tuple = ()) -> Case:
    """Step 6: the assigned person reports the result to the leader: the answer's content (done, or the date the unit
    commits to), on the decision's template, and a note, with the documents, pictures and videos they uploaded for
    the case (`files`: attached in the same transaction)."""
    answer = Answer.write(answer_text, finished, completion_date, province_today())

    def step(case: Case) -> tuple[Message, Action]:
        case.draft_result(user, answer, new_id(), message)
        # Step 7: 1 working day on the lead unit's hours (its own, else its agency's, else the default).
        now = datetime.now(timezone.utc)
        case.approval_due = calendar.engine(uow).due(Step.APPROVAL, now, org=(case.lead_unit_id, case.lead_agency_id))
        event = ev.ResultDrafted(draft_id=case.draft_id, answer_text=case.answer_text, unit=_unit(case), message=case.handover_message)
        event.approval_due.FromDatetime(case.approval_due)
        attached = case_files.attach(uow.session, user.subject, files, case.report_id, f"draft:{case.draft_id}", now)
        event.attachments.extend(case_files.attachments(attached))
        _answer_fields(event, case)
        return event, Action.DRAFTED

    return _change(uow, user, report_id, step)


def approve_result(uow: UnitOfWork, user: Principal, report_id: str, edited_text: str | None = None, *,
                   finished: bool | None = None, completion_date: date | None = None, message: str = "") -> Case:
    """Step 7: the unit leader approves the answer, completed or edited if they wish, and sends it to the IOC (also
    when the IOC returned it at step 8). Without an edited text the answer is approved as it stands."""

    def step(case: Case) -> tuple[Message, Action]:
        edited = None
        if edited_text is not None:
            done = case.answer_finished if finished is None else finished
            edited = Answer.write(edited_text, done, completion_date if not done else None, province_today())
        case.approve_result(user, edited, message)
        event = ev.ResultApproved(draft_id=case.draft_id, answer_text=case.answer_text, unit=_unit(case), agency=_agency(case),
                                  edited_by_leader=case.edited_by_leader, message=case.handover_message)
        event.attachments.extend(case_files.attachments(case_files.attached_to(uow.session, case.report_id, f"draft:{case.draft_id}")))
        _answer_fields(event, case)
        return event, Action.APPROVED

    return _change(uow, user, report_id, step)


def return_to_staff(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> Case:
    """Step 7: the unit leader returns the draft to the staff member to complete (or hands them the IOC's return)."""

    def step(case: Case) -> tuple[Message, Action]:
        after_ioc = case.status == "returned_by_ioc"
        case.return_to_staff(user, reason)
        return ev.ResultReturned(draft_id=case.draft_id, reason=case.leader_return_reason, after_ioc_return=after_ioc), Action.RETURNED_TO_STAFF

    return _change(uow, user, report_id, step)


def log_work(uow: UnitOfWork, user: Principal, report_id: str, text: str, files: list[str] | tuple = ()) -> Case:
    """Step 6: a note in the case's work log by the staff member in charge (who, when, what was done), with the files
    they uploaded for the case (attached to the note's history line, in the same transaction)."""
    noted: list[str] = []
    line_id = new_id()

    def step(case: Case) -> tuple[Message, Action]:
        noted.append(case.log_work(user, text))
        event = ev.WorkLogged(staff_subject=user.subject, text=noted[0])
        attached = case_files.attach(uow.session, user.subject, files, case.report_id, f"log:{line_id}", datetime.now(timezone.utc))
        event.attachments.extend(case_files.attachments(attached))
        return event, Action.WORK_LOGGED

    return _change(uow, user, report_id, step, message=lambda: noted[0], line_id=line_id)


def propose_return(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> Case:
    """Step 6: the staff member proposes sending the case back up for re-dispatch; the unit leader decides."""

    def step(case: Case) -> tuple[Message, Action]:
        case.propose_return(user, reason)
        return (ev.ReturnProposed(unit=_unit(case), staff_subject=case.staff_subject, reason=case.return_proposal_reason),
                Action.RETURN_PROPOSED)

    return _change(uow, user, report_id, step)


def send_back(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> Case:
    """The unit leader agrees with staff: the case goes back to the lead agency, which names another unit or refuses."""

    def step(case: Case) -> tuple[Message, Action]:
        unit = _unit(case)
        case.send_back(user, reason)
        return (ev.CaseRefusedByUnit(unit=unit, reason=case.unit_refusal_reason, on_staff_proposal=True,
                                     staff_subject=case.former_staff_subject), Action.SENT_BACK)

    return _change(uow, user, report_id, step)


def keep_case(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> Case:
    """The unit leader declines staff's proposal, saying why: the staff member goes on handling the case."""

    def step(case: Case) -> tuple[Message, Action]:
        case.keep_case(user, reason)
        return (ev.ReturnProposalDeclined(unit=_unit(case), staff_subject=case.staff_subject, reason=case.handover_message),
                Action.KEPT)

    return _change(uow, user, report_id, step)


def history(uow: UnitOfWork, user: Principal, report_id: str) -> list[HistoryLine]:
    """Return a case's history for a person who may see the case (any other case does not exist for them)."""
    with uow:
        case = _load(uow, report_id)
        if not case.visible_to(user):
            raise _not_found(report_id)
        return uow.history.of_case(report_id)


# --- clarification after publication ------------------------------------------------------------


def draft_clarification(uow: UnitOfWork, user: Principal, report_id: str, text: str, message: str = "") -> Case:
    """The staff member in charge drafts the clarification the reporter asked for, for the leader."""

    def step(case: Case) -> tuple[Message, Action]:
        case.draft_clarification(user, text, message)
        return (ev.ClarificationDrafted(clarification_id=case.clarification_id, text=case.clarification_text, unit=_unit(case)),
                Action.CLARIFICATION_DRAFTED)

    return _change(uow, user, report_id, step)


def approve_clarification(uow: UnitOfWork, user: Principal, report_id: str, text: str | None = None, message: str = "") -> Case:
    """The unit leader approves the clarification (edited or written by them) and sends it to the IOC."""

    def step(case: Case) -> tuple[Message, Action]:
        case.approve_clarification(user, text, message)
        return (ev.ClarificationGiven(clarification_id=case.clarification_id, text=case.clarification_text, unit=_unit(case),
                                      message=case.handover_message), Action.CLARIFICATION_APPROVED)

    return _change(uow, user, report_id, step)


def return_clarification(uow: UnitOfWork, user: Principal, report_id: str, reason: str) -> Case:
    """The unit leader sends the drafted clarification back to the staff member."""

    def step(case: Case) -> tuple[Message, Action]:
        case.return_clarification(user, reason)
        return (ev.ClarificationReturned(clarification_id=case.clarification_id, reason=case.handover_message),
                Action.CLARIFICATION_RETURNED)

    return _change(uow, user, report_id, step)


def open_clarification(uow: UnitOfWork, msg: publication_ev.ClarificationRequested, envelope: Envelope) -> None:
    """After publication the reporter asked for clarification: the case reopens at the lead unit for 1 working day."""
    case = uow.cases.get(envelope.report_id, for_change=True)
    if case is None:
        raise _not_found(envelope.report_id)
    at = msg.meta.occurred_at.ToDatetime(tzinfo=timezone.utc) if msg.meta.HasField("occurred_at") else datetime.now(timezone.utc)
    due = (msg.due_at.ToDatetime(tzinfo=timezone.utc) if msg.HasField("due_at")
           else calendar.engine(uow).due(Step.CLARIFY, at, org=(case.lead_unit_id, case.lead_agency_id)))
    case.ask_clarification(msg.clarification_id or new_id(), msg.question, due)  # StateConflict unless approved: parked, surfaced
    case.updated_at = datetime.now(timezone.utc)
    _record_from(uow, case, Action.CLARIFICATION_ASKED, msg)


# --- step 5: support between agencies -------------------------------------------------------------


def _support_not_found(support_id: str) -> NotFound:
    return NotFound(f"No support request {support_id}.", f"Không tìm thấy đề nghị phối hợp {support_id}.")


def _supporter(req: SupportRequest) -> common_pb2.OrgRef:
    return common_pb2.OrgRef(id=req.supporter_org_id, name=req.supporter_org_name)


def _support_change(uow: UnitOfWork, user: Principal, support_id: str,
                    step: Callable[[SupportRequest, Case, datetime], tuple[Message, Action, str]]) -> SupportRequest:
    """Apply a step of a support request: the case's row is locked first (the report's events stay in order and two
    people acting on one request at once are decided one after the other), then the event and the history line."""
    with uow:
        found = uow.support.get(support_id)
        if found is None:
            raise _support_not_found(support_id)
        case = _load(uow, found.report_id, for_change=True)
        uow.session.refresh(found)  # read again under the case's lock: what the one before decided
        now = datetime.now(timezone.utc)
        event, action, message = step(found, case, now)
        case.updated_at = now
        uow.emit(event, report_id=case.report_id, version=case.next_version(), actor=actor_of(user), epoch=case.epoch)
        _record(uow, case, action, now, user.subject, ",".join(sorted(user.roles)), user.org_unit, message)
        uow.commit()
        return found


async def request_support(uow: UnitOfWork, directory: OrgDirectory, user: Principal, report_id: str, org_id: str, question: str,
                          due_at: datetime) -> SupportRequest:
    """Step 5: the lead unit asks another agency or unit (checked in the directory) for support, with a deadline."""
    asked = clean_unit_id(org_id)
    org = await candidate_unit(directory, asked)
    info = await directory.get_unit(asked) if org is not None else None
    where = federation.handled_on(uow.node_id, uow.hubs, uow.parent_node, info.hub_node) if info is not None else uow.node_id
    if where != uow.node_id:
        # Federation: the asked organisation's people work on another node, where this request would never reach them.
        raise InvalidInput(
            f"{info.name} works on node '{where}': a support request cannot cross nodes yet; ask the provincial IOC to "
            "coordinate, or ask an organisation of this node.",
            f"{info.name} làm việc trên nút '{where}': đề nghị phối hợp chưa chuyển được giữa các nút; đề nghị Trung tâm IOC "
            "tỉnh điều phối, hoặc đề nghị cơ quan, đơn vị thuộc nút này.", field="org_id")

    def work() -> SupportRequest:
        with uow:
            case = _load(uow, report_id, for_change=True)
            now = datetime.now(timezone.utc)
            req = SupportRequest.ask(new_id(), case, user, org, asked, question, due_at.astimezone(timezone.utc), now)
            uow.support.add(req)
            event = ev.SupportRequested(support_id=req.id, requesting_unit=_unit(case), supporting_agency=_supporter(req),
                                        request_text=req.question, requested_by=user.subject)
            event.due_at.FromDatetime(req.due_at)
            case.updated_at = now
            uow.emit(event, report_id=case.report_id, version=case.next_version(), actor=actor_of(user), epoch=case.epoch)
            _record(uow, case, Action.SUPPORT_REQUESTED, now, user.subject, ",".join(sorted(user.roles)), user.org_unit,
                    f"{req.supporter_org_name}: {req.question}")
            uow.commit()
            return req

    return await asyncio.to_thread(work)


async def accept_support(uow: UnitOfWork, directory: OrgDirectory, user: Principal, support_id: str, staff_subject: str,
                         message: str = "") -> SupportRequest:
    """5.1: the receiving side accepts and names who prepares the answer."""
    asked = clean_subject(staff_subject)
    person = await directory.get_person(asked)
    unit = await candidate_unit(directory, person.org_unit_id) if person is not None else None

    def step(req: SupportRequest, case: Case, now: datetime) -> tuple[Message, Action, str]:
        req.accept(user, person, asked, message, now, unit.ancestor_ids if unit else ())
        return (ev.SupportAccepted(support_id=req.id, supporting_agency=_supporter(req), staff_subject=req.supporter_staff,
                                   message=req.message), Action.SUPPORT_ACCEPTED, req.message)

    return await asyncio.to_thread(_support_change, uow, user, support_id, step)


def refuse_support(uow: UnitOfWork, user: Principal, support_id: str, reason: str) -> SupportRequest:
    """The receiving side refuses the request, saying why."""

    def step(req: SupportRequest, case: Case, now: datetime) -> tuple[Message, Action, str]:
        req.refuse(user, reason, now)
        return ev.SupportRefused(support_id=req.id, supporting_agency=_supporter(req), reason=req.refusal_reason), Action.SUPPORT_REFUSED, req.refusal_reason

    return _support_change(uow, user, support_id, step)


def answer_support(uow: UnitOfWork, user: Principal, support_id: str, text: str, files: list[str] | tuple = ()) -> SupportRequest:
    """5.2: the person assigned answers the lead unit, with the documents and pictures they uploaded for the request."""

    def step(req: SupportRequest, case: Case, now: datetime) -> tuple[Message, Action, str]:
        req.answer(user, text, now)
        event = ev.SupportAnswered(support_id=req.id, supporting_agency=_supporter(req), answer_text=req.answer_text)
        attached = case_files.attach(uow.session, user.subject, files, req.report_id, f"support:{req.id}", now, support_id=req.id)
        event.attachments.extend(case_files.attachments(attached))
        return event, Action.SUPPORT_ANSWERED, req.answer_text

    return _support_change(uow, user, support_id, step)


def support_of_case(uow: UnitOfWork, user: Principal, report_id: str) -> list[SupportRequest]:
    """Every support request of a case, for whoever may see the case (the lead unit sees every answer)."""
    with uow:
        case = _load(uow, report_id)
        if not case.visible_to(user):
            raise _not_found(report_id)
        return uow.support.of_case(report_id)


def support_inbox(uow: UnitOfWork, user: Principal, open_only: bool = True, limit: int = 100) -> list[tuple[SupportRequest, Case]]:
    """The receiving side's inbox: what was asked of the person's unit, or assigned to them, with each case's summary."""
    with uow:
        return [(req, uow.cases.get(req.report_id)) for req in uow.support.addressed_to(user, open_only, limit)]


def get_support(uow: UnitOfWork, user: Principal, support_id: str) -> tuple[SupportRequest, Case]:
    """One support request, for the receiving side or whoever may see its case; anyone else: it does not exist."""
    with uow:
        req = uow.support.get(support_id)
        case = uow.cases.get(req.report_id) if req is not None else None
        if req is None or case is None or not (req.addressed_to(user) or case.visible_to(user)):
            raise _support_not_found(support_id)
        return req, case


# --- events from other services: run inside the consumer's unit of work, which commits ---------
# A handler that cannot apply an event raises: the consumer parks it as a dead letter for an operator.


def open_case_on_dispatch(uow: UnitOfWork, msg: dispatch_ev.ReportDispatched, envelope: Envelope) -> None:
    """Open the case at its lead agency, or start a new round when the IOC dispatches it again."""
    agency = msg.lead_agency
    if not agency.id:
        raise InvalidInput("The dispatch names no lead agency.", "Lượt phân công không nêu cơ quan chủ trì.")
    if not msg.HasField("handling_due"):
        raise InvalidInput("The dispatch gives no handling deadline.", "Lượt phân công không nêu hạn xử lý.")
    due = msg.handling_due.ToDatetime(tzinfo=timezone.utc)
    case = uow.cases.get(envelope.report_id, for_change=True)
    if msg.hub_node and msg.hub_node != uow.node_id:
        # Federation: the agency's cases are handled on its hub, which the province sends the dispatch to; here there
        # is no case, and one this node had from an earlier round is taken back.
        if case is not None and not case.is_older_round(msg.round) and case.recall(msg.hub_node):
            case.updated_at = datetime.now(timezone.utc)
            _record_from(uow, case, Action.RECALLED, msg)
        return
    if case is None:
        case = Case.open(envelope.report_id, agency.id, agency.name, msg.round, due, msg.meta.epoch, msg.urgent)
        uow.cases.add(case)
    elif case.is_older_round(msg.round):
        # Ignoring is right: the case already follows a later dispatch of the same report, and applying
        # the older one would send it back to an agency the IOC has since replaced.
        return
    else:
        case.open_round(agency.id, agency.name, msg.round, due, msg.meta.epoch, msg.urgent)
    case.note_report(msg.title, msg.reporter_kind, msg.private_result, msg.state_secret)
    case.note_content(msg.tracking_code, msg.description, msg.address_text,
                      (msg.location.lat, msg.location.lon) if msg.HasField("location") else None,
                      [MessageToDict(m, preserving_proto_field_name=True) for m in msg.media])
    report_files.note_files_to_copy(uow, case.report_id, case.media)  # on a hub: copied from the province
    case.handover_message = msg.note.strip()[:2000]
    case.agency_due = msg.agency_due.ToDatetime(tzinfo=timezone.utc) if msg.HasField("agency_due") else None
    case.approval_due = None
    case.updated_at = datetime.now(timezone.utc)
    _record_from(uow, case, Action.DISPATCHED, msg)


def _record_from(uow: UnitOfWork, case: Case, action: Action, msg: Message) -> None:
    """The history line of a step another service took (the IOC's), with its actor from the event."""
    actor = msg.meta.actor
    at = msg.meta.occurred_at.ToDatetime(tzinfo=timezone.utc) if msg.meta.HasField("occurred_at") else case.updated_at
    _record(uow, case, action, at, actor.subject or "ioc", actor.role, actor.org_unit_id)


def on_report_recalled(uow: UnitOfWork, msg: dispatch_ev.ReportRecalled, envelope: Envelope) -> None:
    """The IOC took the report back from its lead agency: a case of that round on this node closes (a hub's closes
    when the province's recall of its epoch arrives, on_ownership_recalled)."""
    case = uow.cases.get(envelope.report_id, for_change=True)
    if case is None or case.round != msg.round or not case.recall(msg.reason):
        return
    case.updated_at = datetime.now(timezone.utc)
    _record_from(uow, case, Action.RECALLED, msg)


def on_ownership_recalled(uow: UnitOfWork, msg: sync_ev.OwnershipRecalled, envelope: Envelope) -> None:
    """Federation, on a hub: the province dispatched the report again, elsewhere; the case it granted at this epoch
    closes here (what its people still do is refused by the province as stale)."""
    if msg.node_id != uow.node_id:
        return
    case = uow.cases.get(envelope.report_id, for_change=True)
    if case is None or case.epoch != msg.epoch or not case.recall(msg.reason or "recalled"):
        return
    case.updated_at = datetime.now(timezone.utc)
    _record_from(uow, case, Action.RECALLED, msg)


def reopen_on_return_by_ioc(uow: UnitOfWork, msg: publication_ev.PublicationReturned, envelope: Envelope) -> None:
    """Step 8: the IOC returned the approved answer; the case reopens at the lead unit's leader."""
    case = uow.cases.get(envelope.report_id, for_change=True)
    if case is None:
        raise _not_found(envelope.report_id)
    case.return_by_ioc(msg.reason)  # raises StateConflict unless approved: publication and handling disagree
    case.updated_at = datetime.now(timezone.utc)
    _record_from(uow, case, Action.RETURNED_BY_IOC, msg)
    # The leader completes it again: 1 working day from the IOC's return (dispatch's monitor opens the same clock).
    at = msg.meta.occurred_at.ToDatetime(tzinfo=timezone.utc) if msg.meta.HasField("occurred_at") else case.updated_at
    case.approval_due = calendar.engine(uow).due(Step.APPROVAL, at, org=(case.lead_unit_id, case.lead_agency_id))


def clarification_back_from_ioc(uow: UnitOfWork, msg: publication_ev.ClarificationSentBack, envelope: Envelope) -> None:
    """Step 8 for a clarification: the IOC sent it back; the leader completes it (1 working day from the return)."""
    case = uow.cases.get(envelope.report_id, for_change=True)
    if case is None:
        raise _not_found(envelope.report_id)
    case.clarification_back_from_ioc(msg.clarification_id, msg.reason)  # StateConflict otherwise: parked, surfaced
    case.updated_at = datetime.now(timezone.utc)
    _record_from(uow, case, Action.CLARIFICATION_SENT_BACK, msg)
    at = msg.meta.occurred_at.ToDatetime(tzinfo=timezone.utc) if msg.meta.HasField("occurred_at") else case.updated_at
    case.clarification_due = calendar.engine(uow).due(Step.CLARIFY, at, org=(case.lead_unit_id, case.lead_agency_id))


def take_rating(uow: UnitOfWork, msg: publication_ev.ReportRated, envelope: Envelope) -> None:
    """After publication the reporter rated the answer (or changed the rating): on the case and in its history, so the
    lead unit learns how its answer was judged. A rating of a report handling never had changes nothing."""
    case = uow.cases.get(envelope.report_id, for_change=True)
    if case is None:
        return
    score = ratings.from_proto(msg.rating, publication_ev.Rating)
    at = msg.meta.occurred_at.ToDatetime(tzinfo=timezone.utc) if msg.meta.HasField("occurred_at") else datetime.now(timezone.utc)
    case.take_rating(score, msg.comment, at)
    case.updated_at = datetime.now(timezone.utc)
    label = score.label
    _record(uow, case, Action.RATED, at, "reporter", "reporter", "", message=f"{label.vi} / {label.en}" + (f": {msg.comment}" if msg.comment else ""))


def reclassify(uow: UnitOfWork, msg: dispatch_ev.ReportReclassified, envelope: Envelope) -> None:
    """The IOC changed the state-secret flag after dispatch: the case follows it (who may see its content)."""
    case = uow.cases.get(envelope.report_id, for_change=True)
    if case is not None:
        case.state_secret = msg.state_secret
        case.updated_at = datetime.now(timezone.utc)


def note_sla_announcement(uow: UnitOfWork, msg: Message, envelope: Envelope) -> None:
    """Dispatch's monitor warned of (or announced the breach of) a clock: the case's console shows it as due soon."""
    case = uow.cases.get(msg.clock.report_id, for_change=True) if msg.clock.report_id else None
    if case is not None:
        case.sla_warned = msg.clock.clock_id[:80]


# --- queries -------------------------------------------------------------------------------------


def work_list(uow: UnitOfWork, user: Principal, status: str | None = None, cursor: str | None = None,
              limit: int | None = None, scope: Scope = Scope.IN_HAND) -> Page[Case]:
    """Return one page of the cases a person may see (still in hand here by default; see Scope): urgent first, then
    nearest deadline, then id."""
    with uow:
        return uow.cases.work_list(user, status, cursor, limit, scope)


def get_case(uow: UnitOfWork, user: Principal, report_id: str) -> Case:
    """Return a case the person may see; any other case does not exist for them."""
    with uow:
        case = _load(uow, report_id)
        if not case.visible_to(user):
            raise _not_found(report_id)
        return case


async def assignable_people(uow: UnitOfWork, directory: OrgDirectory, user: Principal, report_id: str) -> list[CandidatePerson]:
    """Return who the case may be assigned to: the active staff and leaders of its lead unit."""
    case = await asyncio.to_thread(get_case, uow, user, report_id)
    if not case.lead_unit_id:
        return []
    people = await directory.list_people(case.lead_unit_id)
    return [p for p in people if case.why_not_assignable(p) is None]


def case_handled_by(uow: UnitOfWork, user: Principal, report_id: str) -> Case | None:
    """Return the case when the person handles it (or is the IOC), else None: what intake asks before it releases a
    reporter's contact. A missing case and someone else's case get the same answer."""
    with uow:
        case = uow.cases.get(report_id)
        return case if case is not None and case.visible_to(user) else None


async def reporter_contact(uow: UnitOfWork, contacts: ReporterContacts, user: Principal, token: str, report_id: str,
                           purpose: str) -> ReporterContact:
    """The reporter's contact for a person handling the case: released by intake (which checks again and keeps the audit
    record); the case's history gets a line saying who looked and why."""
    case = await asyncio.to_thread(get_case, uow, user, report_id)  # someone else's case does not exist for them
    contact = await contacts.release(token, report_id, purpose)

    def record() -> None:
        with uow:
            _record(uow, case, Action.CONTACT_SEEN, datetime.now(timezone.utc), user.subject, ",".join(sorted(user.roles)),
                    user.org_unit, purpose.strip())
            uow.commit()

    await asyncio.to_thread(record)
    return contact


def find_case(uow: UnitOfWork, report_id: str) -> Case:
    """Return a case for another service (trusted gRPC caller, no personal data)."""
    with uow:
        return _load(uow, report_id)
