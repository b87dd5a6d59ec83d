"""Handling's REST API (JSON, OpenAPI at /api/handling/docs): thin, it only builds commands."""
# No `from __future__ import annotations` here: FastAPI must see the role aliases built inside
# build_router (e.g. `coordinator`) as objects; as strings it cannot resolve them and asks for a query field.
import asyncio
import functools
import logging
import shutil
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect

from paht.runtime import uploads
from paht.runtime.auth import Principal
from paht.runtime.http import bearer_token
from paht.runtime.errors import NotFound
from paht.runtime.media import MediaLimits
from paht.runtime.storage import BlobMissing, BlobStorage
from paht.runtime.paging import MAX_LIMIT
from paht.runtime.roles import Role
from services.handling.adapters.contacts import ReporterContacts
from services.handling.adapters.directory import OrgDirectory
from services.handling.domain.answer import MAX_ANSWER
from services.handling.domain.case import ASSIGNABLE, MAX_CO_STAFF, MAX_MESSAGE, MAX_REASON, CandidatePerson, Case, Status
from services.handling.domain.history import Action, HistoryLine
from services.handling.domain.status import Scope
from services.handling.domain.support import RECEIVERS, SupportRequest, SupportStatus
from services.handling.service_layer import report_files
from services.handling.service_layer import files as case_files
from services.handling.service_layer import handlers

log = logging.getLogger(__name__)
FILES_DOC = ("Ids of files uploaded for this case with POST /api/handling/v1/cases/{report_id}/files (your own, not yet attached); "
             f"at most {case_files.MAX_FILES}.")
UPLOAD_BODY = {"requestBody": {"required": True, "description": "The file itself (PDF, DOCX, XLSX, JPEG, PNG, WebP, MP4, WebM), not a form. "
                               "Optional header X-Filename: the file's name, percent-encoded UTF-8.",
                               "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
DOWNLOAD_HEADERS = {"Cache-Control": "private, no-store", "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


MESSAGE_DOC = "The note that goes with the hand-over (kept in the case's history and shown to whoever has the case next)."


class AssignUnitIn(Strict):
    unit_id: str = Field(max_length=100, examples=["so-gtvt-kcht"])
    message: str = Field(default="", max_length=MAX_MESSAGE, description=MESSAGE_DOC, examples=["Đề nghị kiểm tra hiện trường trong ngày."])


class ReasonIn(Strict):
    reason: str = Field(max_length=MAX_REASON, examples=["Không thuộc thẩm quyền của đơn vị."])


class AssignStaffIn(Strict):
    staff_subject: str = Field(max_length=100, examples=["canbo"], description="The staff member in charge.")
    co_staff: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=MAX_CO_STAFF, examples=[["canbo2"]],
        description=f"Other staff of the unit who handle the case with the one in charge (at most {MAX_CO_STAFF}): they see the "
                    "case, keep its work log and add files; the draft, proposals and support requests stay with the one in charge. "
                    "Re-assigning with only this list changed keeps the case where it is.")
    message: str = Field(default="", max_length=MAX_MESSAGE, description=MESSAGE_DOC)


class DraftIn(Strict):
    answer_text: str = Field(max_length=MAX_ANSWER, description="The content of the answer: what was done, or what will be done. "
                                                                "The letter around it (the decision's template) is filled in from the case.")
    finished: bool = Field(default=True, description="The work is done. When it is not, give completion_date.")
    completion_date: date | None = Field(default=None, description="When the work is not finished: the date the unit commits to finish it "
                                                                   "(after today, within a year).")
    message: str = Field(default="", max_length=MAX_MESSAGE, description="Staff's note to the unit leader.")
    files: list[Annotated[str, Field(max_length=36)]] = Field(default_factory=list, max_length=case_files.MAX_FILES, description=FILES_DOC)


class ApproveIn(Strict):
    answer_text: str | None = Field(default=None, max_length=MAX_ANSWER, description="The leader's edit; omit to approve the answer as it stands.")
    finished: bool | None = Field(default=None, description="With an edit: whether the work is done (omitted: as in the draft).")
    completion_date: date | None = Field(default=None, description="With an edit of unfinished work: the committed completion date.")
    message: str = Field(default="", max_length=MAX_MESSAGE, description="The leader's note to the IOC.")


class ContactIn(Strict):
    purpose: str = Field(max_length=300, description="Why you need it: kept in intake's audit record and the case's history.",
                         examples=["Gọi điện hẹn kiểm tra hiện trường."])


class WorkNoteIn(Strict):
    text: str = Field(max_length=4000, examples=["Đã kiểm tra hiện trường lúc 8 giờ, ổ gà rộng 1,2 m."])
    files: list[Annotated[str, Field(max_length=36)]] = Field(default_factory=list, max_length=case_files.MAX_FILES, description=FILES_DOC)


class ClarificationIn(Strict):
    text: str = Field(max_length=10000, description="The clarification the reporter asked for")
    message: str = Field(default="", max_length=MAX_MESSAGE, description=MESSAGE_DOC)


class ApproveClarificationIn(Strict):
    text: str | None = Field(default=None, max_length=10000, description="The leader's edit, or their own text when nobody drafted one")
    message: str = Field(default="", max_length=MAX_MESSAGE, description="The leader's note to the IOC")


class SupportIn(Strict):
    org_id: str = Field(max_length=100, description="The agency or unit asked (a directory id)", examples=["so-xd"])
    question: str = Field(max_length=4000, description="What the lead unit needs from it", examples=["Đề nghị cung cấp hồ sơ thiết kế tuyến cống."])
    due_at: AwareDatetime = Field(description="When the answer is due, with its offset (within 30 days)")


class AcceptSupportIn(Strict):
    staff_subject: str = Field(max_length=100, examples=["canbo-xd"])
    message: str = Field(default="", max_length=MAX_MESSAGE, description=MESSAGE_DOC)


class AnswerSupportIn(Strict):
    answer_text: str = Field(max_length=10000, description="The information the lead unit asked for")
    files: list[Annotated[str, Field(max_length=36)]] = Field(
        default_factory=list, max_length=case_files.MAX_FILES,
        description="Ids of files uploaded with POST /api/handling/v1/support/{support_id}/files (your own, not yet attached).")


def support_view(r: SupportRequest, case: Case | None = None) -> dict:
    """A support request as JSON; with its case's summary for the receiving side (no personal data)."""
    label = SupportStatus(r.status).label
    view = {
        "id": r.id, "report_id": r.report_id, "status": r.status, "status_label": {"en": label[0], "vi": label[1]},
        "requesting_unit": {"id": r.requesting_unit_id, "name": r.requesting_unit_name}, "requested_by": r.requested_by,
        "supporter": {"id": r.supporter_org_id, "name": r.supporter_org_name}, "question": r.question,
        "due_at": _iso(r.due_at), "created_at": _iso(r.created_at), "supporter_staff": r.supporter_staff or None,
        "message": r.message or None, "answer_text": r.answer_text or None, "refusal_reason": r.refusal_reason or None,
        "updated_at": _iso(r.updated_at),
    }
    if case is not None:
        # a case touching state secrets shows nothing of its content to the receiving side beyond the question asked
        view["case"] = {"title": None if case.state_secret else (case.title or None), "state_secret": case.state_secret,
                        "lead_agency": {"id": case.lead_agency_id, "name": case.lead_agency_name},
                        "handling_due": _iso(case.handling_due), "urgent": case.urgent}
    return view


def case_view(c: Case, settings=None) -> dict:
    """A case as JSON (handling holds no personal data)."""
    label = Status(c.status).label
    return {
        "report_id": c.report_id,
        "status": c.status,
        "status_label": {"en": label[0], "vi": label[1]},
        "urgent": c.urgent,
        "round": c.round,
        "lead_agency": {"id": c.lead_agency_id, "name": c.lead_agency_name},
        "lead_unit": {"id": c.lead_unit_id, "name": c.lead_unit_name} if c.lead_unit_id else None,
        "staff_subject": c.staff_subject or None,
        "co_staff": list(c.co_staff),
        "handling_due": _iso(c.handling_due),
        "agency_due": _iso(c.agency_due),
        "approval_due": _iso(c.approval_due),
        "draft_id": c.draft_id or None,
        "answer_text": c.answer_text or None,
        "edited_by_leader": c.edited_by_leader,
        "agency_refusal_reason": c.agency_refusal_reason or None,
        "unit_refusal_reason": c.unit_refusal_reason or None,
        "leader_return_reason": c.leader_return_reason or None,
        "ioc_return_reason": c.ioc_return_reason or None,
        "updated_at": _iso(c.updated_at),
        "version": c.version,
        "epoch": c.epoch,
        "title": c.title or None,
        "tracking_code": c.tracking_code or None,
        "description": c.description or None,
        "address_text": c.address_text or None,
        "location": {"lat": c.lat, "lon": c.lon} if c.lat is not None else None,
        "media": [{"id": m["id"], "media_type": m.get("media_type", ""), "url": report_files.file_url(settings, c.report_id, m["id"])}
                  for m in c.media or []],
        "reporter_kind": c.reporter_kind,
        "private_result": c.private_result,
        "state_secret": c.state_secret,
        "handover_message": c.handover_message or None,
        "return_proposal_reason": c.return_proposal_reason or None,
        "answer_finished": c.answer_finished if c.answer_text else None,
        "completion_date": c.completion_date.isoformat() if c.completion_date else None,
        "answer_letter": c.answer_letter or None,
        "clarification": ({"id": c.clarification_id, "question": c.clarification_question, "text": c.clarification_text or None,
                           "due": _iso(c.clarification_due)} if c.clarification_id else None),
        "rating": ({"score": c.reporter_rating, "label": {"vi": c.rating_label.vi, "en": c.rating_label.en},
                    "comment": c.reporter_rating_comment or None, "rated_at": _iso(c.rated_at)} if c.reporter_rating else None),
    }


def file_view(f: case_files.CaseFile) -> dict:
    """A file as JSON: what it is, where it is attached and where to download it."""
    return {"id": f.id, "report_id": f.report_id, "support_id": f.support_id or None, "kind": f.kind, "media_type": f.media_type,
            "size_bytes": f.size_bytes, "sha256": f.sha256, "filename": f.filename or None, "uploaded_by": f.owner,
            "uploaded_at": _iso(f.uploaded_at), "attached_to": f.attached_to or None, "attached_at": _iso(f.attached_at),
            "url": case_files.URL.format(f.id)}


def history_view(line: HistoryLine) -> dict:
    label = Action(line.action).label
    return {"at": line.at.isoformat(), "action": line.action, "action_label": {"en": label[0], "vi": label[1]},
            "status": line.status, "round": line.round, "by": {"subject": line.actor_subject, "roles": line.actor_roles,
                                                                 "org_unit": line.actor_org},
            "message": line.message or None}


def person_view(p: CandidatePerson) -> dict:
    return {"subject": p.subject, "name": p.name, "roles": list(p.roles)}


def answer(data: dict, status_code: int = 200, headers: dict | None = None) -> JSONResponse:
    """The views are built of JSON values already: sent as they are (FastAPI's encoder walked every value of a 50-case
    page again, about a third of the work list's time)."""
    return JSONResponse(data, status_code=status_code, headers=headers)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def build_router(ctx, directory: OrgDirectory, storage: BlobStorage | None = None, spool: FilePath | None = None,
                 contacts: ReporterContacts | None = None) -> APIRouter:
    """`storage`: where attachments live (the media storage of the settings unless given); `spool`: where uploads are
    written while they arrive (the system's temporary folder unless given); `contacts`: intake's release of a
    reporter's contact (over gRPC unless given)."""
    optional_user, current_user, require = ctx.auth
    if storage is None:
        from paht.runtime.storage import storage_from

        storage = storage_from(ctx.settings)
    view = functools.partial(case_view, settings=ctx.settings)  # a hub links the report's files to its own copies

    def role(*names: str):
        return Annotated[Principal, Depends(require(*names))]

    anyone = Annotated[Principal, Depends(current_user)]
    coordinator, leader = role(Role.AGENCY_COORDINATOR.value), role(Role.UNIT_LEADER.value)
    assignee = role(*ASSIGNABLE)
    ReportId = Annotated[str, Path(max_length=36)]
    router = APIRouter(prefix="/api/handling/v1", tags=["handling"])

    async def run(handler, *args) -> JSONResponse:
        return answer(view(await asyncio.to_thread(handler, ctx.uow(), *args)))

    @router.get("/cases", summary="Work list: the cases the signed-in person may see, urgent first, then nearest deadline",
                description="By default the cases still in hand here (`scope=in_hand`); `scope=finished`: approved (with the IOC, "
                            "or published), refused back to the IOC, or taken back by the province; `scope=all`: both. "
                            "`status` lists one status whatever the scope.")
    async def list_cases(user: anyone, status: Status | None = None, cursor: Annotated[str | None, Query(max_length=500)] = None,
                         limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50, scope: Scope = Scope.IN_HAND):
        page = await asyncio.to_thread(handlers.work_list, ctx.reads(), user, status.value if status else None, cursor, limit, scope)
        return answer(page.as_json(view))

    @router.get("/cases/{report_id}", summary="One case (404 when outside your scope)")
    async def get_case(report_id: ReportId, user: anyone):
        return await run(handlers.get_case, user, report_id)

    @router.get("/cases/{report_id}/assignable-people", summary="Step 4: who the case may be assigned to (its lead unit's active staff)")
    async def assignable_people(report_id: ReportId, user: leader):
        people = await handlers.assignable_people(ctx.uow(), directory, user, report_id)
        return answer({"items": [person_view(p) for p in people]})

    @router.get("/cases/{report_id}/history", summary="Every hand-over and decision of a case: who, when, why (404 outside your scope)")
    async def case_history(report_id: ReportId, user: anyone):
        lines = await asyncio.to_thread(handlers.history, ctx.reads(), user, report_id)
        return answer({"items": [history_view(line) for line in lines]})

    @router.post("/cases/{report_id}/contact", summary="The reporter's contact, for a person handling the case (audited)",
                 description="For the lead agency's coordinator, the lead unit's leader and the case's staff (and the IOC). Intake, "
                             "the only holder of personal data, releases it after asking handling whether you handle the case, and "
                             "keeps the audit record (`audit_id`); the case's history gets a line with who looked and why. 404 outside "
                             "your scope; 422 without a purpose; 503 when intake cannot be reached. On a district hub the province's intake "
                             "releases it to the hub that owns the report now (asked over HTTP with the hub's secret, audited there "
                             "with the person's name and node). Never cached.")
    async def reporter_contact(report_id: ReportId, body: ContactIn, request: Request, user: anyone):
        c = await handlers.reporter_contact(ctx.uow(), contacts, user, bearer_token(request), report_id, body.purpose)
        return answer({"name": c.name, "phone": c.phone, "email": c.email, "audit_id": c.audit_id}, headers={"Cache-Control": "no-store"})

    @router.get("/cases/{report_id}/support", summary="Step 5: every support request of a case, with its answers (404 outside your scope)")
    async def case_support(report_id: ReportId, user: anyone):
        items = await asyncio.to_thread(handlers.support_of_case, ctx.reads(), user, report_id)
        return answer({"items": [support_view(r) for r in items]})

    @router.post("/cases/{report_id}/support", status_code=201,
                 summary="Step 5: ask another agency or unit for support (the lead unit's leader or the staff member in charge)")
    async def request_support(report_id: ReportId, body: SupportIn, user: assignee):
        req = await handlers.request_support(ctx.uow(), directory, user, report_id, body.org_id, body.question, body.due_at)
        return answer(support_view(req), 201)

    @router.get("/support", summary="Step 5, the receiving side: the support requests addressed to your unit or assigned to you, "
                                    "nearest deadline first")
    async def support_inbox(user: anyone, all: bool = Query(default=False, description="Also the answered and refused ones")):
        pairs = await asyncio.to_thread(handlers.support_inbox, ctx.reads(), user, not all)
        return answer({"items": [support_view(r, c) for r, c in pairs]})

    @router.get("/support/{support_id}", summary="One support request (404 unless it is addressed to you or you may see its case)")
    async def get_support(support_id: ReportId, user: anyone):
        req, case = await asyncio.to_thread(handlers.get_support, ctx.uow(), user, support_id)
        return answer(support_view(req, case))

    @router.post("/support/{support_id}/accept", summary="5.1: accept the request and name who prepares the answer")
    async def accept_support(support_id: ReportId, body: AcceptSupportIn, user: role(*RECEIVERS)):
        return answer(support_view(await handlers.accept_support(ctx.uow(), directory, user, support_id, body.staff_subject, body.message)))

    @router.post("/support/{support_id}/refuse", summary="Refuse the request, saying why")
    async def refuse_support(support_id: ReportId, body: ReasonIn, user: role(*RECEIVERS)):
        return answer(support_view(await asyncio.to_thread(handlers.refuse_support, ctx.uow(), user, support_id, body.reason)))

    @router.post("/support/{support_id}/answer", summary="5.2: give the lead unit the information asked for (the person assigned)")
    async def answer_support(support_id: ReportId, body: AnswerSupportIn, user: assignee):
        return answer(support_view(await asyncio.to_thread(handlers.answer_support, ctx.uow(), user, support_id, body.answer_text, body.files)))

    @router.post("/cases/{report_id}/clarification/draft", summary="After publication: draft the clarification the reporter asked for")
    async def draft_clarification(report_id: ReportId, body: ClarificationIn, user: assignee):
        return await run(handlers.draft_clarification, user, report_id, body.text, body.message)

    @router.post("/cases/{report_id}/clarification/approve", summary="Approve the clarification (or write it) and send it to the IOC")
    async def approve_clarification(report_id: ReportId, user: leader, body: ApproveClarificationIn | None = None):
        body = body or ApproveClarificationIn()
        return await run(handlers.approve_clarification, user, report_id, body.text, body.message)

    @router.post("/cases/{report_id}/clarification/return", summary="Send the drafted clarification back to the staff member")
    async def return_clarification(report_id: ReportId, body: ReasonIn, user: leader):
        return await run(handlers.return_clarification, user, report_id, body.reason)

    @router.post("/cases/{report_id}/assign-unit", summary="Step 3: accept and assign the lead unit, with a note")
    async def assign_unit(report_id: ReportId, body: AssignUnitIn, user: coordinator):
        return answer(view(await handlers.assign_unit(ctx.uow(), directory, user, report_id, body.unit_id, body.message)))

    @router.post("/cases/{report_id}/refuse", summary="Step 3: refuse the case (back to the IOC)")
    async def refuse(report_id: ReportId, body: ReasonIn, user: coordinator):
        return await run(handlers.refuse_by_agency, user, report_id, body.reason)

    @router.post("/cases/{report_id}/assign-staff", summary="Step 4: accept and assign staff, with a note; until approval, re-assign")
    async def assign_staff(report_id: ReportId, body: AssignStaffIn, user: leader):
        return answer(view(await handlers.assign_staff(ctx.uow(), directory, user, report_id, body.staff_subject, body.message,
                                                            body.co_staff)))

    @router.post("/cases/{report_id}/refuse-unit", summary="Step 4: refuse the case (back to the lead agency)")
    async def refuse_unit(report_id: ReportId, body: ReasonIn, user: leader):
        return await run(handlers.refuse_by_unit, user, report_id, body.reason)

    @router.post("/cases/{report_id}/draft", summary="Step 6: report the result to the leader with the draft answer on the template")
    async def draft(report_id: ReportId, body: DraftIn, user: assignee):
        return answer(view(await asyncio.to_thread(lambda: handlers.draft_result(
            ctx.uow(), user, report_id, body.answer_text, finished=body.finished, completion_date=body.completion_date, message=body.message,
            files=body.files))))

    @router.post("/cases/{report_id}/log", summary="Step 6: note what was done in the case's work log (the staff member in charge)")
    async def log_work(report_id: ReportId, body: WorkNoteIn, user: assignee):
        return await run(handlers.log_work, user, report_id, body.text, body.files)

    @router.post("/cases/{report_id}/propose-return", summary="Step 6: propose sending the case back up for re-dispatch (the leader decides)")
    async def propose_return(report_id: ReportId, body: ReasonIn, user: assignee):
        return await run(handlers.propose_return, user, report_id, body.reason)

    @router.post("/cases/{report_id}/send-back", summary="Agree with staff's proposal: back to the lead agency, which re-distributes it")
    async def send_back(report_id: ReportId, body: ReasonIn, user: leader):
        return await run(handlers.send_back, user, report_id, body.reason)

    @router.post("/cases/{report_id}/keep", summary="Decline staff's proposal, saying why: the staff member goes on")
    async def keep(report_id: ReportId, body: ReasonIn, user: leader):
        return await run(handlers.keep_case, user, report_id, body.reason)

    @router.post("/cases/{report_id}/approve", summary="Step 7: approve the answer (completed or edited if need be) and send it to the IOC; "
                                                      "also after the IOC returned it")
    async def approve(report_id: ReportId, user: leader, body: ApproveIn | None = None):
        body = body or ApproveIn()
        return answer(view(await asyncio.to_thread(lambda: handlers.approve_result(
            ctx.uow(), user, report_id, body.answer_text, finished=body.finished, completion_date=body.completion_date, message=body.message))))

    @router.post("/cases/{report_id}/return-to-staff", summary="Step 7 (or after the IOC's return): hand the answer back to the staff member")
    async def return_to_staff(report_id: ReportId, body: ReasonIn, user: leader):
        return await run(handlers.return_to_staff, user, report_id, body.reason)

    # --- attachments: upload first (checked by content), attach by id with the step, read by whoever may see them ---

    async def receive_file(request: Request, user: Principal, report_id: str, support_id: str) -> JSONResponse:
        filename = uploads.filename_from(request.headers.get("x-filename", ""))
        limits = MediaLimits.from_settings(ctx.settings)
        most = limits.max_upload_for(case_files.ACCEPTS)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > most:
            return uploads.too_large(most)
        if spool is not None:
            spool.mkdir(parents=True, exist_ok=True)
        work = FilePath(tempfile.mkdtemp(prefix="paht-upload-", dir=spool))
        try:
            path = work / "file"
            try:
                refused = await uploads.receive(request, path, limits, int(declared) if declared.isdigit() else None, case_files.ACCEPTS)
            except ClientDisconnect:
                log.info("an upload ended before its body did; nothing kept")
                return uploads.too_large(most)
            if refused is not None:
                return refused
            stored = await asyncio.to_thread(case_files.store_upload, ctx.engine, storage, user.subject, report_id, support_id,
                                             filename, path, limits, datetime.now(timezone.utc))
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
        return answer(file_view(stored), 201)

    @router.post("/cases/{report_id}/files", status_code=201, openapi_extra=UPLOAD_BODY,
                 summary="Upload a document, photo or video for this case (the raw file as the body), then attach it to a draft or a work note")
    async def upload_case_file(report_id: ReportId, request: Request, user: anyone):
        await asyncio.to_thread(case_files.check_case_uploader, ctx.uow(), user, report_id)
        return await receive_file(request, user, report_id, "")

    @router.post("/support/{support_id}/files", status_code=201, openapi_extra=UPLOAD_BODY,
                 summary="5.2: upload a document, photo or video for the answer to this support request (the person assigned)")
    async def upload_support_file(support_id: ReportId, request: Request, user: anyone):
        report_id = await asyncio.to_thread(case_files.check_support_uploader, ctx.uow(), user, support_id)
        return await receive_file(request, user, report_id, support_id)

    @router.get("/cases/{report_id}/files", summary="The files attached to a case's steps (a supporting side: its own answer's files only)")
    async def list_case_files(report_id: ReportId, user: anyone):
        found = await asyncio.to_thread(case_files.files_of_case, ctx.uow(), user, report_id)
        return answer({"items": [file_view(f) for f in found]})

    @router.get("/cases/{report_id}/report-files/{media_id}", summary="On a hub node: one of the report's own photos or videos, as "
                "copied from the province (404 unless you may see the case; 404 with the reason while it is being copied)")
    async def report_file(report_id: ReportId, media_id: ReportId, user: anyone):
        await asyncio.to_thread(handlers.get_case, ctx.uow(), user, report_id)  # someone else's case does not exist for them
        row = await asyncio.to_thread(report_files.copied, ctx.engine, report_id, media_id)
        try:
            size = await asyncio.to_thread(storage.size, report_files.key(media_id))
            chunks = await asyncio.to_thread(storage.stream, report_files.key(media_id))
        except BlobMissing:
            log.warning("report file %s was copied but has no blob", media_id)
            raise NotFound("This file was not found.", "Không tìm thấy tệp.") from None
        return StreamingResponse(chunks, media_type=row.media_type or "application/octet-stream",
                                 headers={**DOWNLOAD_HEADERS, "Content-Length": str(size), "Content-Disposition": "inline"})

    @router.get("/files/{file_id}", summary="Download one file (404 unless you may see it); never public")
    async def download(file_id: ReportId, user: anyone):
        found = await asyncio.to_thread(case_files.file_for, ctx.uow(), user, file_id)
        try:
            size = await asyncio.to_thread(storage.size, found.original_key)
            chunks = await asyncio.to_thread(storage.stream, found.original_key)
        except BlobMissing:
            log.warning("case file %s has a row but no blob", found.id)
            raise NotFound("This file was not found.", "Không tìm thấy tệp.") from None
        name = found.filename or f"{found.id}"
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
        headers = {**DOWNLOAD_HEADERS, "Content-Length": str(size),
                   "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"}
        return StreamingResponse(chunks, media_type=found.media_type, headers=headers)

    return router
