"""Files attached while handling a case: the documents, pictures and videos staff report the result with (step 6:
"kèm văn bản, tài liệu, hình ảnh, video clip liên quan"), note in the work log, or a supporting side sends with its
answer (5.2: "thông tin, văn bản, tài liệu, hình ảnh").

As at intake, a file is uploaded first (checked by its content in paht.runtime.media, stored through the same
BlobStorage under `handling/<file id>/...`, one row in `case_files`), then attached by id in the step's own
transaction: one conditional UPDATE per file (`WHERE attached_to = ''`), so two steps cannot take the same file,
and only the person who uploaded it, for that case (or that support request), can attach it.

Who may see an attached file: whoever may see the case; a supporting side only the files of its own support
request(s). Nobody else learns that a file exists (404). No public route serves these files.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from paht.common.v1 import common_pb2
from paht.runtime import uploads
from paht.runtime.auth import Principal
from paht.runtime.errors import Forbidden, InvalidInput, NotFound
from paht.runtime.ids import looks_like_id, new_id
from paht.runtime.media import MEDIA_AND_DOCUMENTS, MediaLimits, clean_filename
from paht.runtime.roles import Role
from paht.runtime.storage import BlobStorage
from paht.runtime.uow import UnitOfWork
from services.handling.adapters.orm import case_files, support_requests
from services.handling.domain.case import ASSIGNABLE, Case
from services.handling.domain.support import SupportRequest, SupportStatus

MAX_FILES = 10  # attached by one step
ACCEPTS = MEDIA_AND_DOCUMENTS
URL = "/api/handling/v1/files/{}"


@dataclass(frozen=True)
class CaseFile:
    """One row of case_files."""

    id: str
    report_id: str
    support_id: str
    owner: str
    kind: str
    media_type: str
    size_bytes: int
    sha256: str
    original_key: str
    public_key: str
    filename: str
    uploaded_at: datetime
    attached_to: str
    attached_at: datetime | None


def _file(row) -> CaseFile:
    return CaseFile(**{name: getattr(row, name) for name in CaseFile.__dataclass_fields__})


def keys_for(file_id: str) -> tuple[str, str]:
    return f"handling/{file_id}/original", f"handling/{file_id}/public"


def attachments(files: Iterable[CaseFile]) -> list[common_pb2.Attachment]:
    """The files as the events carry them (the URL is handling's staff-only download)."""
    return [common_pb2.Attachment(id=f.id, media_type=f.media_type, url=URL.format(f.id), size_bytes=f.size_bytes, sha256=f.sha256)
            for f in files]


# --- who may upload -----------------------------------------------------------------------------------------

def _case_not_found(report_id: str) -> NotFound:
    return NotFound(f"No case for report {report_id}.", f"Không tìm thấy hồ sơ xử lý của phản ánh {report_id}.")


def _support_not_found(support_id: str) -> NotFound:
    return NotFound(f"No support request {support_id}.", f"Không tìm thấy đề nghị phối hợp {support_id}.")


def acts_on(case: Case, user: Principal) -> bool:
    """Whoever may add files to the case now: its staff (in charge or with them), or the lead unit's leader."""
    return (user.has(Role.UNIT_LEADER.value) and bool(case.lead_unit_id) and user.org_unit == case.lead_unit_id) or (
        user.has(*ASSIGNABLE) and case.on_team(user))


def check_case_uploader(uow: UnitOfWork, user: Principal, report_id: str) -> None:
    """Before a body is read: the person may add files to this case (404 when they may not see it, 403 otherwise)."""
    with uow:
        case = uow.cases.get(report_id)
        if case is None or not case.visible_to(user):
            raise _case_not_found(report_id)
        if not acts_on(case, user):
            raise Forbidden("Only the staff assigned to this case or the lead unit's leader may add files to it.",
                            "Chỉ cán bộ được giao xử lý hoặc lãnh đạo đơn vị chủ trì được đính kèm tệp vào hồ sơ này.")


def check_support_uploader(uow: UnitOfWork, user: Principal, support_id: str) -> str:
    """Before a body is read: the person is assigned to this support request, which still waits for its answer;
    return the request's report id."""
    with uow:
        req = uow.support.get(support_id)
        if req is None or not req.addressed_to(user):
            raise _support_not_found(support_id)
        if req.supporter_staff != user.subject or not user.has(*ASSIGNABLE) or req.status != SupportStatus.ACCEPTED.value:
            raise Forbidden("Only the person assigned to this support request may add files to its answer, before answering.",
                            "Chỉ cán bộ được giao thực hiện phối hợp được đính kèm tệp vào câu trả lời, trước khi trả lời.")
        return req.report_id


# --- upload -------------------------------------------------------------------------------------------------

def store_upload(engine: Engine, storage: BlobStorage, owner: str, report_id: str, support_id: str, filename: str, source: Path,
                 limits: MediaLimits, now: datetime) -> CaseFile:
    """Check a received file by its content, store it (and a photo's or video's copy without location metadata), and
    record it as not yet attached; stored whole (blobs and row) or not at all (paht.runtime.uploads.store_checked)."""
    filename = clean_filename(filename)
    file_id = new_id()
    original_key, public_key = keys_for(file_id)

    def record(checked, size: int, digest: str, has_public: bool) -> CaseFile:
        row = dict(id=file_id, report_id=report_id, support_id=support_id, owner=owner, kind=checked.kind.value,
                   media_type=checked.media_type, size_bytes=size, sha256=digest, original_key=original_key,
                   public_key=public_key if has_public else "", filename=filename, uploaded_at=now, attached_to="", attached_at=None)
        with engine.begin() as conn:
            conn.execute(insert(case_files).values(**row))
        return CaseFile(**row)

    return uploads.store_checked(storage, Path(source), (original_key, public_key), limits, record, ACCEPTS)


# --- attach -------------------------------------------------------------------------------------------------

def _not_attachable() -> InvalidInput:
    return InvalidInput("A file was not found, is not yours, belongs to another case or is already attached; upload it again.",
                        "Không tìm thấy tệp, tệp không phải của bạn, thuộc hồ sơ khác hoặc đã được đính kèm; vui lòng tải lên lại.",
                        field="files")


def attach(session: Session, owner: str, file_ids: Iterable[str], report_id: str, target: str, now: datetime,
           support_id: str = "") -> list[CaseFile]:
    """Attach the owner's own unattached uploads of this case (of this support request) to `target`, in the caller's
    transaction; return them in the order given. Each by one conditional UPDATE: of two steps racing for one file,
    exactly one gets it, the other is refused (and its whole step rolls back)."""
    file_ids = list(file_ids)
    if not file_ids:
        return []
    if len(file_ids) > MAX_FILES:
        raise InvalidInput(f"At most {MAX_FILES} files may be attached at once.", f"Mỗi lần đính kèm tối đa {MAX_FILES} tệp.", field="files")
    if len(set(file_ids)) != len(file_ids):
        raise InvalidInput("The same file is attached twice.", "Một tệp được đính kèm hai lần.", field="files")
    if not all(looks_like_id(f) for f in file_ids):
        raise _not_attachable()
    for file_id in file_ids:
        done = session.execute(update(case_files).where(
            case_files.c.id == file_id, case_files.c.owner == owner, case_files.c.report_id == report_id,
            case_files.c.support_id == support_id, case_files.c.attached_to == "",
        ).values(attached_to=target, attached_at=now))
        if done.rowcount != 1:
            raise _not_attachable()
    rows = {r.id: _file(r) for r in session.execute(select(case_files).where(case_files.c.id.in_(file_ids))).all()}
    return [rows[f] for f in file_ids]


def attached_to(session: Session, report_id: str, target: str) -> list[CaseFile]:
    """The files attached to one step (a draft, a log line, a support answer), in upload order."""
    rows = session.execute(select(case_files).where(case_files.c.report_id == report_id, case_files.c.attached_to == target)
                           .order_by(case_files.c.uploaded_at, case_files.c.id)).all()
    return [_file(r) for r in rows]


# --- sweep -------------------------------------------------------------------------------------------------

def sweep_unattached(engine: Engine, storage: BlobStorage, older_than: datetime, batch: int = uploads.SWEEP_BATCH) -> int:
    """Remove uploads no step took (`attached_to = ''`) and uploaded before `older_than`: rows, then their blobs; return
    how many went. Each row is removed by exactly one replica, and a file being attached keeps its row and blobs
    (paht.runtime.uploads.remove_unattached)."""
    return uploads.sweep_unattached(engine, storage, case_files, case_files.c.attached_to == "", older_than, batch)


def discard(engine: Engine, storage: BlobStorage, stored: Iterable[CaseFile]) -> None:
    """Remove uploads just stored whose step did not happen (a page post refused after its files were stored): as
    the sweeper would later, by the same conditional DELETE, so a file attached after all is kept."""
    for f in stored:
        uploads.remove_unattached(engine, storage, case_files, case_files.c.attached_to == "", f.id, f.original_key, f.public_key)


# --- read ---------------------------------------------------------------------------------------------------

def _supports_seen(session: Session, user: Principal, report_id: str) -> set[str]:
    """The support requests of a case whose receiving side the person is on."""
    rows = session.execute(select(support_requests).where(support_requests.c.report_id == report_id)).all()
    seen = set()
    for r in rows:
        req = SupportRequest(**{k: getattr(r, k) for k in SupportRequest.__dataclass_fields__})
        if req.addressed_to(user):
            seen.add(req.id)
    return seen


def files_of_case(uow: UnitOfWork, user: Principal, report_id: str) -> list[CaseFile]:
    """A case's attached files for whoever may see the case; the supporting side: its own support's files only."""
    with uow:
        case = uow.cases.get(report_id)
        if case is None:
            raise _case_not_found(report_id)
        query = select(case_files).where(case_files.c.report_id == report_id, case_files.c.attached_to != "")
        if not case.visible_to(user):
            supports = _supports_seen(uow.session, user, report_id)
            if not supports:
                raise _case_not_found(report_id)
            query = query.where(case_files.c.attached_to.in_([f"support:{s}" for s in supports]))
        rows = uow.session.execute(query.order_by(case_files.c.attached_at, case_files.c.uploaded_at, case_files.c.id)).all()
        return [_file(r) for r in rows]


def files_of_support(uow: UnitOfWork, user: Principal, report_id: str, support_id: str) -> list[CaseFile]:
    """The files attached to one support request's answer, by files_of_case's rule (the same people may download them)."""
    return [f for f in files_of_case(uow, user, report_id) if f.attached_to == f"support:{support_id}"]


def file_for(uow: UnitOfWork, user: Principal, file_id: str) -> CaseFile:
    """One file for a person who may see it (the uploader sees their own upload, attached or not); else 404."""
    missing = NotFound("This file was not found.", "Không tìm thấy tệp.")
    if not looks_like_id(file_id):
        raise missing
    with uow:
        row = uow.session.execute(select(case_files).where(case_files.c.id == file_id)).first()
        if row is None:
            raise missing
        found = _file(row)
        if found.owner == user.subject:
            return found
        if not found.attached_to:
            raise missing
        case = uow.cases.get(found.report_id)
        if case is not None and case.visible_to(user):
            return found
        if found.attached_to.startswith("support:") and found.attached_to.removeprefix("support:") in _supports_seen(
                uow.session, user, found.report_id):
            return found
        raise missing
