"""Handling's pages (server-rendered, Vietnamese first with an English switch, for a desk and a phone):

- `/handling/`: the signed-in person's cases at the lead agency, lead unit or staff desk; each row opens the case.
- `/handling/cases/{report_id}`: one case — its status, lead agency, unit and staff, each deadline with its
  standing, the last hand-over's message, the answer letter, the support requests with their answers, the
  whole history — and the forms of what the person may do now (coordinator: step 3; unit leader: steps 4
  and 7, the staff's proposal to send it back, the clarification; staff: step 6, support, the proposal, the
  clarification's draft). Only the actions the person's role and the case's state allow are shown.
- `/handling/support` and `/handling/support/{id}`: what other lead units asked of the person's agency or unit
  (step 5, the receiving side): accept and name a person, refuse, answer.

Every form carries the CSRF field and posts to `…/{action}`; done, the browser goes back (303) to the page
with `?done=<action>`; a refusal from a use case re-shows the page with the reason in both languages (the
person's first) and its 4xx status, never a 500. A case outside the person's sight is a 404.

Files: the staff's draft and work-note forms and the support answer form are multipart and may carry files (field
`files`, several). Each is spooled to a temporary file (counted against the upload limit), checked and stored by
files.store_upload, then the step attaches them by id in its own transaction. A refused file (its type, its size)
re-shows the page with the reason and nothing attached; when the step itself is refused, the files this post stored
are removed again. The whole form is an ordinary request body: it is bounded by `max_body_bytes` (1 MB unless
configured), so larger files go through the streamed JSON upload routes. A form over that limit never reaches its
route: the shared rule (paht/runtime/web/forms.py) comes back here, to `case_too_large` / `support_too_large`, which
show the page the form was on with the reason (413), what was typed kept and nothing done. The case page lists the
attached files the person may see, and the support request's page its answer's files, each linked to the JSON
download route (same access rule).
"""
from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm.exc import StaleDataError
from starlette.datastructures import UploadFile

from paht.runtime.auth import Principal
from paht.runtime.errors import ConcurrentChange, DomainError, InvalidInput, NotFound
from paht.runtime.http import bearer_token, http_status
from paht.runtime.ids import looks_like_id
from paht.runtime.media import MediaKind, MediaLimits, refuse_too_large
from paht.runtime.roles import Role
from paht.runtime.sla import Standing, Step
from paht.runtime.sla.standing import standing_of
from paht.runtime.text import fold
from paht.runtime.web import Pages, pick_language
from paht.runtime.web.forms import FormTooLarge, on_too_large
from paht.runtime.web.forms import size_text as sized
from services.handling.domain.answer import ANSWER
from services.handling.domain.case import (ASSIGNABLE, CLARIFICATION, CLARIFICATION_QUESTION, MESSAGE, REASON, WORK_NOTE,
                                           STAFF_ACCOUNT, UNIT, Case, Status)
from services.handling.domain.history import Action, HistoryLine
from services.handling.domain.status import ANSWER_AT_LEADER, HANDLED, WITH_STAFF, Scope
from services.handling.domain.support import ASKING, QUESTION, RECEIVERS, SUPPORT_ANSWER, SupportRequest, SupportStatus
from services.handling.service_layer import files as case_files
from services.handling.service_layer import report_files
from services.handling.service_layer import handlers
from services.handling.service_layer.handlers import PROVINCE_TIME

pages = Pages([Path(__file__).parent / "templates"])
# The colour of each status's badge (the shared style sheet's classes); the words come from the domain.
BADGE_STYLE = {
    Status.AWAITING_AGENCY: "dispatched", Status.AWAITING_UNIT_LEADER: "assigned", Status.IN_PROGRESS: "in_progress",
    Status.DRAFTED: "drafted", Status.RETURNED_TO_STAFF: "returned", Status.APPROVED: "approved",
    Status.RETURNED_BY_IOC: "returned", Status.REFUSED_BY_AGENCY: "refused", Status.RETURN_PROPOSED: "returned",
    Status.CLARIFYING: "in_progress", Status.CLARIFICATION_DRAFTED: "drafted", Status.RECALLED: "refused",
}
SUPPORT_BADGE = {SupportStatus.REQUESTED: "dispatched", SupportStatus.ACCEPTED: "in_progress", SupportStatus.ANSWERED: "approved",
                 SupportStatus.REFUSED: "refused"}
# Each form of the case page, and the history line it adds (whose label confirms it was done).
CASE_ACTIONS: dict[str, Action] = {
    "assign-unit": Action.UNIT_ASSIGNED, "refuse": Action.REFUSED_BY_AGENCY, "assign-staff": Action.STAFF_ASSIGNED,
    "refuse-unit": Action.REFUSED_BY_UNIT, "draft": Action.DRAFTED, "log": Action.WORK_LOGGED, "propose-return": Action.RETURN_PROPOSED,
    "send-back": Action.SENT_BACK, "keep": Action.KEPT, "approve": Action.APPROVED, "return-to-staff": Action.RETURNED_TO_STAFF,
    "support": Action.SUPPORT_REQUESTED, "clarification-draft": Action.CLARIFICATION_DRAFTED,
    "clarification-approve": Action.CLARIFICATION_APPROVED, "clarification-return": Action.CLARIFICATION_RETURNED,
}
SUPPORT_ACTIONS: dict[str, Action] = {"accept": Action.SUPPORT_ACCEPTED, "refuse": Action.SUPPORT_REFUSED, "answer": Action.SUPPORT_ANSWERED}
# The file input of the forms that take files (what files.ACCEPTS takes, by extension for the browser's picker).
FILE_ACCEPT = ".pdf,.docx,.xlsx,.jpg,.jpeg,.png,.webp,.mp4,.webm"
FILE_KIND = {MediaKind.PHOTO.value: ("Photo", "Ảnh"), MediaKind.VIDEO.value: ("Video", "Video"),
             MediaKind.DOCUMENT.value: ("Document", "Văn bản, tài liệu")}
FILE_STEP = {"draft": ("Draft answer", "Dự thảo trả lời"), "log": ("Work log", "Nhật ký xử lý"), "support": ("Support answer", "Trả lời phối hợp")}
SPOOL_CHUNK = 1 << 16
# The step a clock belongs to, and the history line that stops it (the clock of the case's own state runs now).
CLOCK_DONE = {Step.AGENCY: (Action.UNIT_ASSIGNED, Action.REFUSED_BY_AGENCY), Step.HANDLING: (Action.DRAFTED,),
              Step.APPROVAL: (Action.APPROVED,), Step.CLARIFY: (Action.CLARIFICATION_APPROVED,)}
# The labels of the forms' fields that the domain names (its errors name them the same way).
FIELDS = {"work_note": WORK_NOTE, "answer": ANSWER, "clarification": CLARIFICATION, "question": QUESTION, "support_answer": SUPPORT_ANSWER,
          "reason": REASON, "message": MESSAGE, "staff": STAFF_ACCOUNT, "unit": UNIT, "clarification_question": CLARIFICATION_QUESTION}


@dataclass(frozen=True)
class Clock:
    """One deadline of the case with how it stands (running: by the time left; stopped: met or missed)."""

    step: Step
    due: datetime
    standing: Standing | None
    running: bool


@dataclass(frozen=True)
class Allowed:
    """What the signed-in person may do on the case now: the forms the page shows."""

    coordinator: bool = False     # step 3: assign the lead unit, refuse
    assign_staff: bool = False    # step 4 (and re-assign until approval)
    refuse_unit: bool = False
    decide_answer: bool = False   # step 7: approve, return to staff
    return_to_staff: bool = False
    decide_proposal: bool = False  # staff propose sending it back: send back or keep
    decide_clarification: bool = False
    return_clarification: bool = False
    draft: bool = False           # step 6: draft, propose sending it back
    log: bool = False             # step 6: the work log (the staff in charge and those with them)
    draft_clarification: bool = False
    ask_support: bool = False     # step 5
    contact: bool = False         # see the reporter's contact (audited by intake)

    @property
    def anything(self) -> bool:
        """Whether the "Your actions" section has a form (the contact has a section of its own)."""
        return any(getattr(self, name) for name in self.__dataclass_fields__ if name != "contact")


def allowed_for(user: Principal, case: Case) -> Allowed:
    """Mirror the domain's guards, only to choose which forms to show (the use cases decide for real)."""
    status = Status(case.status)
    coordinator = user.has(Role.AGENCY_COORDINATOR.value) and user.org_unit == case.lead_agency_id
    leader = user.has(Role.UNIT_LEADER.value) and bool(case.lead_unit_id) and user.org_unit == case.lead_unit_id
    assignee = user.has(*ASSIGNABLE) and bool(case.staff_subject) and user.subject == case.staff_subject
    return Allowed(
        coordinator=coordinator and status is Status.AWAITING_AGENCY,
        assign_staff=leader and status in (Status.AWAITING_UNIT_LEADER, *HANDLED),
        refuse_unit=leader and status is Status.AWAITING_UNIT_LEADER,
        decide_answer=leader and status in ANSWER_AT_LEADER,
        return_to_staff=leader and status in ANSWER_AT_LEADER and bool(case.staff_subject),
        decide_proposal=leader and status is Status.RETURN_PROPOSED,
        decide_clarification=leader and status in (Status.CLARIFYING, Status.CLARIFICATION_DRAFTED),
        return_clarification=leader and status is Status.CLARIFICATION_DRAFTED,
        draft=assignee and status in WITH_STAFF,
        log=user.has(*ASSIGNABLE) and case.on_team(user) and status in WITH_STAFF,
        draft_clarification=assignee and status is Status.CLARIFYING,
        ask_support=(leader or assignee) and status in ASKING,
        contact=coordinator or leader or (user.has(*ASSIGNABLE) and case.on_team(user)),
    )


def clocks_of(case: Case, lines: list[HistoryLine], now: datetime) -> list[Clock]:
    """Every deadline the case has in its round: the running one as the work list shows it, the others met or missed
    by when the history says their step was done (not done and not running: by the time left)."""
    running, _ = case.deadline()
    dues = ((Step.AGENCY, case.agency_due), (Step.HANDLING, case.handling_due), (Step.APPROVAL, case.approval_due),
            (Step.CLARIFY, case.clarification_due))
    out = []
    for step, due in dues:
        if due is None:
            continue
        if step is running:
            out.append(Clock(step, due, case.standing(now), True))
            continue
        done = [line.at for line in lines if line.round == case.round and line.action in {a.value for a in CLOCK_DONE[step]}]
        if step is Step.CLARIFY and not done and case.status not in (Status.CLARIFYING.value, Status.CLARIFICATION_DRAFTED.value):
            continue
        at = _aware(done[-1]) if done else None
        out.append(Clock(step, due, standing_of(_aware(due), now, done_at=at), False))
    return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _badge(status: str, index: int) -> tuple[str, str]:
    known = Status(status)
    return BADGE_STYLE[known], known.label[index]


def parse_date(text: str) -> date | None:
    """A date from an <input type=date> (YYYY-MM-DD); empty: none."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{text[:20]}' is not a date (day/month/year).", f"'{text[:20]}' không phải là ngày hợp lệ (ngày/tháng/năm).",
                           field="completion_date") from None


def parse_local_time(text: str) -> datetime:
    """A moment from an <input type=datetime-local>, in the province's time."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("Give the support deadline as a date and a time.", "Hãy nhập thời hạn phối hợp gồm ngày và giờ.",
                           field="due_at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=PROVINCE_TIME)


def size_text(size: int, index: int) -> str:
    """A file size for people: 850 B, 12 KB, 1.4 MB (Vietnamese: 1,4 MB)."""
    return sized(size, "en" if index == 0 else "vi")


def default_support_due(now: datetime) -> str:
    """Three days from now at 17:00 in the province, as a datetime-local value (people change it as they need)."""
    local = (now.astimezone(PROVINCE_TIME) + timedelta(days=3)).replace(hour=17, minute=0, second=0, microsecond=0)
    return local.strftime("%Y-%m-%dT%H:%M")


# Units that are never asked for support at step 5: the province itself, its IOC (which dispatches) and the Steering Committee.
NOT_SUPPORTERS = frozenset({"province", "ioc", "steering_committee"})


def supporters_by_agency(units: list, lead_unit_id: str) -> list[tuple]:
    """Whom the lead unit may ask for support, for the case page's choice: each agency (a unit in force whose parent is a
    province, or no unit in force) by name, with every unit under it; never the lead unit itself, the province, the IOC."""
    by_id = {u.id: u for u in units}
    children: dict[str, list] = {}
    for u in units:
        children.setdefault(u.parent_id, []).append(u)

    def below(unit_id: str, seen: set[str]) -> list:
        found: list = []
        for child in children.get(unit_id, []):
            if child.id not in seen:  # a cycle in bad data stops here
                seen.add(child.id)
                found += [child] + below(child.id, seen)
        return found

    def top(u) -> bool:
        parent = by_id.get(u.parent_id)
        return u.kind not in NOT_SUPPORTERS and (parent is None or parent.kind == "province")

    groups = []
    for agency in sorted((u for u in units if top(u)), key=lambda u: (fold(u.name), u.id)):  # Ủy ban among the U's
        members = [u for u in below(agency.id, {agency.id}) if u.kind not in NOT_SUPPORTERS and u.id != lead_unit_id]
        if agency.id != lead_unit_id or members:
            groups.append((agency, members))
    return groups


def build_router(ctx, directory=None, storage=None, spool: Path | None = None, contacts=None) -> APIRouter:
    """`storage`: where attachments live (the media storage of the settings unless given); `spool`: where the files
    of a form are written before they are checked (the system's temporary folder unless given); `contacts`: intake's
    audited release of a reporter's contact."""
    optional_user, _current, _require = ctx.auth
    router = APIRouter(include_in_schema=False)
    if storage is None:
        from paht.runtime.storage import storage_from

        storage = storage_from(ctx.settings)

    def render(request: Request, template: str, status_code: int = 200, **context) -> Response:
        index = 0 if pick_language(request) == "en" else 1
        context.setdefault("now", datetime.now(timezone.utc))
        return pages.render(request, template, status_code, L=index, badge=lambda s: _badge(s, index), fields=FIELDS,
                            support_badge=lambda s: (SUPPORT_BADGE[SupportStatus(s)], SupportStatus(s).label[index]),
                            action_label=lambda a: Action(a).label[index] if a in Action._value2member_map_ else a,
                            status_phrase=lambda s: Status(s).phrase[index], file_accept=FILE_ACCEPT, max_files=case_files.MAX_FILES,
                            form_limit=size_text(ctx.settings.max_body_bytes, index), size_text=lambda n: size_text(n, index),
                            file_kind=lambda k: FILE_KIND.get(k, (k, k))[index], file_url=case_files.URL.format,
                            report_file_url=lambda rid, mid: report_files.file_url(ctx.settings, rid, mid),
                            file_step=lambda target: FILE_STEP.get(target.split(":", 1)[0], (target, target))[index], **context)

    def signed_in(request: Request) -> tuple[Principal | None, Response | None]:
        user = optional_user(request)
        if user is None:
            return None, pages.staff_only(request, None, ())
        return user, None

    def refusal(exc: Exception) -> tuple[int, dict]:
        if isinstance(exc, StaleDataError):
            exc = ConcurrentChange("Someone else acted on this case at the same moment; here it is as it is now.",
                                   "Hồ sơ vừa được người khác xử lý cùng lúc; dưới đây là tình trạng mới nhất.")
        assert isinstance(exc, DomainError)
        return http_status(exc), exc.detail

    def form_target(request: Request, id_param: str, actions) -> tuple[Principal | None, str, str, Response | None]:
        """Who posts, to which record and action, for the case and support forms; or the answer instead (sign in, 404)."""
        user, away = signed_in(request)
        record_id, action = request.path_params[id_param], request.path_params["action"]
        if away is None and (action not in actions or not looks_like_id(record_id)):
            away = pages.error(request, 404, "error.not_found")
        return user, record_id, action, away

    def error_page(request: Request, user: Principal, status_code: int, message: dict) -> Response:
        return render(request, "error.html", status_code, user=user, error={"status": status_code, "message": message})

    def back(path: str, anchor: str = "", **params) -> RedirectResponse:
        query = urlencode({k: v for k, v in params.items() if v})
        return RedirectResponse(f"{path}{'?' + query if query else ''}{'#' + anchor if anchor else ''}", status_code=303)

    def done_label(request: Request, known: dict[str, Action]) -> str:
        done = request.query_params.get("done", "")
        return known[done].value if done in known else ""

    # --- files sent with a form ----------------------------------------------------------------------------

    def chosen_files(form) -> list[UploadFile]:
        """The files of the form's `files` field (an empty file input sends a part without a name: none)."""
        return [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]

    def spool_and_store(upload: UploadFile, user: Principal, report_id: str, support_id: str, limits: MediaLimits) -> case_files.CaseFile:
        """Write one file of the form to a temporary file (counted: past the upload limit it is refused), then check
        and store it as an unattached upload of the case (of the support request). Runs in a worker thread."""
        most = limits.max_upload_for(case_files.ACCEPTS)
        if spool is not None:
            spool.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="paht-page-upload-", dir=spool))
        try:
            path, seen = work / "file", 0
            upload.file.seek(0)
            with open(path, "wb") as out:
                while chunk := upload.file.read(SPOOL_CHUNK):
                    seen += len(chunk)
                    if seen > most:
                        raise refuse_too_large(None, most)
                    out.write(chunk)
            return case_files.store_upload(ctx.engine, storage, user.subject, report_id, support_id, upload.filename or "", path,
                                           limits, datetime.now(timezone.utc))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    async def with_files(form, user: Principal, step, report_id: str = "", support_id: str = ""):
        """Store the form's files, then run `step(file ids)`. A refused file stops before the step (nothing attached,
        and what this post stored is removed again); so does a refused step."""
        chosen = chosen_files(form)
        if not chosen:
            return await step([])
        if len(chosen) > case_files.MAX_FILES:
            raise InvalidInput(f"At most {case_files.MAX_FILES} files may be attached at once.",
                               f"Mỗi lần đính kèm tối đa {case_files.MAX_FILES} tệp.", field="files")
        if support_id:
            report_id = await asyncio.to_thread(case_files.check_support_uploader, ctx.uow(), user, support_id)
        else:
            await asyncio.to_thread(case_files.check_case_uploader, ctx.uow(), user, report_id)
        limits = MediaLimits.from_settings(ctx.settings)
        stored: list[case_files.CaseFile] = []
        try:
            for upload in chosen:
                stored.append(await asyncio.to_thread(spool_and_store, upload, user, report_id, support_id, limits))
            return await step([f.id for f in stored])
        except BaseException:
            await asyncio.to_thread(case_files.discard, ctx.engine, storage, stored)
            raise

    def kept_fields(form) -> dict:
        return {k: v for k, v in form.multi_items() if k != "csrf_token" and isinstance(v, str)}

    # --- the work list -----------------------------------------------------------------------------------

    @router.get("/handling/")
    async def my_cases(request: Request, cursor: str | None = Query(default=None, max_length=500)):
        user = optional_user(request)
        if user is None:
            return RedirectResponse("/auth/login?next=/handling/", status_code=303)
        # ?scope=finished: the approved, refused-back and taken-back cases (anything else: those still in hand)
        scope = Scope.FINISHED if request.query_params.get("scope") == Scope.FINISHED.value else Scope.IN_HAND
        try:
            page = await asyncio.to_thread(handlers.work_list, ctx.reads(), user, None, cursor, None, scope)
        except InvalidInput:
            return RedirectResponse("/handling/", status_code=303)  # a stale or mangled cursor: start again
        inbox = await asyncio.to_thread(handlers.support_inbox, ctx.uow(), user, True) if user.has(*RECEIVERS, *ASSIGNABLE) else []
        return render(request, "cases.html", user=user, page=page, inbox=len(inbox), done=done_label(request, CASE_ACTIONS),
                      done_report=request.query_params.get("report", "")[:36], scope=scope.value)

    # --- one case ----------------------------------------------------------------------------------------

    def case_view(user: Principal, report_id: str) -> tuple[Case, list[HistoryLine], list[SupportRequest], list[case_files.CaseFile]]:
        case = handlers.get_case(ctx.uow(), user, report_id)
        return (case, handlers.history(ctx.uow(), user, report_id), handlers.support_of_case(ctx.uow(), user, report_id),
                case_files.files_of_case(ctx.uow(), user, report_id))

    async def case_page(request: Request, user: Principal, report_id: str, status_code: int = 200, error: dict | None = None,
                        error_action: str = "", kept: dict | None = None, contact: dict | None = None) -> Response:
        now = datetime.now(timezone.utc)
        try:
            case, lines, support, attached = await asyncio.to_thread(case_view, user, report_id)
        except DomainError as exc:
            code, message = refusal(exc)
            return error_page(request, user, status_code if error else code, error or message)
        allowed = allowed_for(user, case)
        people, units = [], []
        if allowed.assign_staff and directory is not None:
            try:
                people = await handlers.assignable_people(ctx.uow(), directory, user, report_id)
            except DomainError:
                people = []  # the directory is away: the leader types the account instead
        if allowed.coordinator and directory is not None and hasattr(directory, "list_children"):
            try:
                units = [u for u in await directory.list_children(case.lead_agency_id)]
            except DomainError:
                units = []
        in_force = await directory.list_units() if directory is not None and hasattr(directory, "list_units") else []
        supporters = supporters_by_agency(in_force, case.lead_unit_id) if allowed.ask_support else []  # none: the id is typed
        org_names = {u.id: u.name for u in in_force}
        names = {p.subject: p.name for p in people}
        if directory is not None and case.lead_unit_id and not names:
            try:  # the people of the lead unit by name, not by account (the leader's choice above has them already)
                names = {p.subject: p.name for p in await directory.list_people(case.lead_unit_id)}
            except DomainError:
                names = {}  # the directory is away: the accounts stand for the names
        kept = kept or {}
        kv = lambda action, name, default="": kept.get(name, default) if error_action == action else (default or "")  # noqa: E731
        return render(request, "case.html", status_code, kv=kv, user=user, case=case, history=list(reversed(lines)), support=support,
                      files=attached,
                      clocks=clocks_of(case, lines, now), allowed=allowed, people=people, units=units, supporters=supporters, now=now,
                      names=names, org_names=org_names,
                      error=error, error_action=error_action, done=done_label(request, CASE_ACTIONS),
                      support_due=default_support_due(now), today=handlers.province_today(), contact=contact)

    @router.get("/handling/cases/{report_id}")
    async def case_get(request: Request, report_id: str):
        user, away = signed_in(request)
        if away:
            return away
        if not looks_like_id(report_id):
            return error_page(request, user, 404, handlers._not_found(report_id[:36]).detail)
        return await case_page(request, user, report_id)

    async def perform(action: str, user: Principal, report_id: str, form) -> None:
        value = lambda name: str(form.get(name) or "")  # noqa: E731  (a form field as text)
        optional = lambda name: value(name) if value(name).strip() else None  # noqa: E731
        uow = ctx.uow()
        if action == "assign-unit":
            await handlers.assign_unit(uow, directory, user, report_id, value("unit_id"), value("message"))
        elif action == "refuse":
            await asyncio.to_thread(handlers.refuse_by_agency, uow, user, report_id, value("reason"))
        elif action == "assign-staff":
            await handlers.assign_staff(uow, directory, user, report_id, value("staff_subject"), value("message"),
                                        [str(v) for v in form.getlist("co_staff")])
        elif action == "refuse-unit":
            await asyncio.to_thread(handlers.refuse_by_unit, uow, user, report_id, value("reason"))
        elif action == "draft":
            finished, when = value("finished") != "0", parse_date(value("completion_date"))
            await with_files(form, user, lambda ids: asyncio.to_thread(lambda: handlers.draft_result(
                uow, user, report_id, value("answer_text"), finished=finished, completion_date=when, message=value("message"), files=ids)),
                report_id=report_id)
        elif action == "approve":
            text = optional("answer_text")
            finished = value("finished") != "0" if text is not None else None
            when = parse_date(value("completion_date")) if text is not None and not finished else None
            await asyncio.to_thread(lambda: handlers.approve_result(uow, user, report_id, text, finished=finished,
                                                                    completion_date=when, message=value("message")))
        elif action == "log":
            await with_files(form, user, lambda ids: asyncio.to_thread(handlers.log_work, uow, user, report_id, value("text"), ids),
                             report_id=report_id)
        elif action in ("propose-return", "send-back", "keep", "return-to-staff", "clarification-return"):
            use_case = {"propose-return": handlers.propose_return, "send-back": handlers.send_back, "keep": handlers.keep_case,
                        "return-to-staff": handlers.return_to_staff, "clarification-return": handlers.return_clarification}[action]
            await asyncio.to_thread(use_case, uow, user, report_id, value("reason"))
        elif action == "support":
            await handlers.request_support(uow, directory, user, report_id, value("org_id"), value("question"),
                                           parse_local_time(value("due_at")))
        elif action == "clarification-draft":
            await asyncio.to_thread(handlers.draft_clarification, uow, user, report_id, value("text"), value("message"))
        elif action == "clarification-approve":
            await asyncio.to_thread(handlers.approve_clarification, uow, user, report_id, optional("text"), value("message"))

    @router.post("/handling/cases/{report_id}/contact")
    async def contact_post(request: Request, report_id: str, purpose: str = Form("")):
        """The reporter's contact, released by intake to this person and audited there; shown on this answer only
        (never in a URL, never cached)."""
        user, away = signed_in(request)
        if away:
            return away
        if not looks_like_id(report_id):
            return pages.error(request, 404, "error.not_found")
        try:
            c = await handlers.reporter_contact(ctx.uow(), contacts, user, bearer_token(request), report_id, purpose)
        except DomainError as exc:
            status_code, message = refusal(exc)
            return await case_page(request, user, report_id, status_code, message, "contact", {"purpose": purpose})
        response = await case_page(request, user, report_id, contact={"name": c.name, "phone": c.phone, "email": c.email})
        response.headers["Cache-Control"] = "no-store"
        return response

    async def case_too_large(request: Request, too_large: FormTooLarge) -> Response:
        """A case form over the body limit (the route did not run): the case page, the reason on that form, what was
        typed kept."""
        user, report_id, action, away = form_target(request, "report_id", CASE_ACTIONS)
        if away:
            return away
        return await case_page(request, user, report_id, 413, too_large.message, action, too_large.kept)

    @router.post("/handling/cases/{report_id}/{action}")
    @on_too_large(case_too_large)
    async def case_post(request: Request, report_id: str, action: str):
        user, report_id, action, away = form_target(request, "report_id", CASE_ACTIONS)
        if away:
            return away
        form = await request.form()
        try:
            await perform(action, user, report_id, form)
        except (DomainError, StaleDataError) as exc:
            status_code, message = refusal(exc)
            return await case_page(request, user, report_id, status_code, message, action, kept_fields(form))
        finally:
            await form.close()
        try:  # after a refusal or a send-back the person may no longer see the case: back to their list
            await asyncio.to_thread(handlers.get_case, ctx.uow(), user, report_id)
        except NotFound:
            return back("/handling/", "done", done=action, report=report_id)
        return back(f"/handling/cases/{report_id}", "done", done=action)

    # --- support asked of us (step 5, the receiving side) -----------------------------------------------------

    @router.get("/handling/support")
    async def inbox(request: Request, all: str = ""):
        user, away = signed_in(request)
        if away:
            return away
        pairs = await asyncio.to_thread(handlers.support_inbox, ctx.uow(), user, all != "1")
        return render(request, "support_inbox.html", user=user, pairs=pairs, show_all=all == "1")

    async def support_page(request: Request, user: Principal, support_id: str, status_code: int = 200, error: dict | None = None,
                           error_action: str = "", kept: dict | None = None) -> Response:
        try:
            req, case = await asyncio.to_thread(handlers.get_support, ctx.uow(), user, support_id)
            attached = await asyncio.to_thread(case_files.files_of_support, ctx.uow(), user, req.report_id, support_id)
        except DomainError as exc:
            code, message = refusal(exc)
            return error_page(request, user, code, message)
        receiver = user.has(*RECEIVERS) and user.org_unit == req.supporter_org_id
        can_decide = receiver and req.status == SupportStatus.REQUESTED.value
        can_answer = user.has(*ASSIGNABLE) and user.subject == req.supporter_staff and req.status == SupportStatus.ACCEPTED.value
        people = []
        if can_decide and directory is not None:
            try:
                people = [p for p in await directory.list_people(req.supporter_org_id)
                          if p.active and set(p.roles) & set(ASSIGNABLE)]
            except DomainError:
                people = []
        kept = kept or {}
        kv = lambda action, name, default="": kept.get(name, default) if error_action == action else (default or "")  # noqa: E731
        return render(request, "support.html", status_code, kv=kv, user=user, req=req, case=case, can_decide=can_decide,
                      can_answer=can_answer, files=attached, people=people, error=error, error_action=error_action,
                      done=done_label(request, SUPPORT_ACTIONS), sees_case=case.visible_to(user))

    @router.get("/handling/support/{support_id}")
    async def support_get(request: Request, support_id: str):
        user, away = signed_in(request)
        if away:
            return away
        if not looks_like_id(support_id):
            return error_page(request, user, 404, handlers._support_not_found(support_id[:36]).detail)
        return await support_page(request, user, support_id)

    async def support_too_large(request: Request, too_large: FormTooLarge) -> Response:
        """A support form over the body limit (the route did not run): the request's page, as case_too_large."""
        user, support_id, action, away = form_target(request, "support_id", SUPPORT_ACTIONS)
        if away:
            return away
        return await support_page(request, user, support_id, 413, too_large.message, action, too_large.kept)

    @router.post("/handling/support/{support_id}/{action}")
    @on_too_large(support_too_large)
    async def support_post(request: Request, support_id: str, action: str):
        user, support_id, action, away = form_target(request, "support_id", SUPPORT_ACTIONS)
        if away:
            return away
        form = await request.form()
        value = lambda name: str(form.get(name) or "")  # noqa: E731
        try:
            if action == "accept":
                await handlers.accept_support(ctx.uow(), directory, user, support_id, value("staff_subject"), value("message"))
            elif action == "refuse":
                await asyncio.to_thread(handlers.refuse_support, ctx.uow(), user, support_id, value("reason"))
            else:
                await with_files(form, user, lambda ids: asyncio.to_thread(
                    handlers.answer_support, ctx.uow(), user, support_id, value("answer_text"), ids), support_id=support_id)
        except (DomainError, StaleDataError) as exc:
            status_code, message = refusal(exc)
            return await support_page(request, user, support_id, status_code, message, action, kept_fields(form))
        finally:
            await form.close()
        try:
            await asyncio.to_thread(handlers.get_support, ctx.uow(), user, support_id)
        except NotFound:
            return back("/handling/support", "", done=action)
        return back(f"/handling/support/{support_id}", "done", done=action)

    return router
