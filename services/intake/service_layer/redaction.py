"""The IOC's choice of what the public may see of a report's photos and videos: for each file, shown or withheld, and
the rectangles of a photo to blur (faces, number plates). Decision 0023.

Saving a choice for a photo with rectangles makes its public derivative first, outside any transaction (decoding
and encoding take a few tens of milliseconds): the public copy (upright, no metadata) with the rectangles made
unreadable (paht.runtime.media.blur_regions), stored under a new random key. Then one transaction records the
choice as the file's next version (a conditional UPDATE: of two operators saving at once, one wins, the other
decides again on what the first saved), a line in the report's history and `PublicMediaChanged` with the whole list
of public files; the report's own version moves with it, so acceptance (whose `ReportAccepted` carries the same list)
and a save never interleave. The derivative of the version replaced is removed after the commit; a derivative
whose transaction failed is removed at once.
"""
from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.orm.exc import StaleDataError

from paht.runtime import media as checks
from paht.runtime.auth import Principal
from paht.runtime.errors import NotFound
from paht.runtime.storage import BlobMissing, BlobStorage
from paht.runtime.uow import UnitOfWork, actor_of
from services.intake.adapters import history
from services.intake.domain.redaction import Redaction
from services.intake.domain.vocabulary import Action, MediaKind
from services.intake.service_layer import events, media
from services.intake.service_layer.triage import load, require_ioc, retrying

log = logging.getLogger(__name__)


def _no_file(media_id: str) -> NotFound:
    return NotFound("This report has no such photo or video.", "Phản ánh không có hình ảnh, video này.")


def _current(uow: UnitOfWork, report_id: str, media_id: str):
    report = load(uow, report_id)
    record = media.in_report(uow.session, report.id, media_id)
    if record is None:
        raise _no_file(media_id)
    return report, record


def derivative(storage: BlobStorage, record: media.MediaRecord, choice: Redaction) -> str:
    """Store the public copy with the chosen rectangles made unreadable under a new key; return the key ("" when nothing
    is to be blurred, or the file is not shown: the public copy, or nothing, is what the public then gets)."""
    if not choice.blur or not choice.shown:
        return ""
    key = f"reports/{record.id}/shown-{secrets.token_hex(8)}"
    with tempfile.TemporaryDirectory(prefix="paht-redact-") as work:
        source, out = Path(work) / "public.jpg", Path(work) / "shown.jpg"
        try:
            with storage.open(record.public_key) as blob, open(source, "wb") as copy:
                shutil.copyfileobj(blob, copy, 1 << 16)
        except BlobMissing:
            log.warning("media %s has a row but no public copy", record.id)
            raise NotFound("This photo's stored copy was not found; it cannot be blurred (withhold it instead).",
                           "Không tìm thấy bản lưu của ảnh này nên không thể làm mờ (hãy chọn không công khai ảnh).") from None
        with checks.DECODING:
            checks.blur_regions(source, out, choice.blur)
        storage.put_file(key, out, "image/jpeg")
    return key


def _words(record: media.MediaRecord, choice: Redaction) -> str:
    """The history line: which file, and what the public now sees of it (Vietnamese, as the history's other lines)."""
    noun = "Ảnh" if record.kind == MediaKind.PHOTO.value else "Video"
    what = f"{noun} {record.position + 1}"
    if not choice.shown:
        return f"{what}: không công khai"
    return f"{what}: công khai" + (f", làm mờ {len(choice.blur)} vùng" if choice.blur else "")


def save(uow: UnitOfWork, storage: BlobStorage, user: Principal, report_id: str, media_id: str, shown: bool, blur,
         now: datetime | None = None) -> media.MediaRecord:
    """Record the IOC's choice for one file of a report (see the module's docstring); return the file as now recorded."""
    require_ioc(user)
    with uow:
        report, record = _current(uow, report_id, media_id)
        report.require_redactable()
    choice = Redaction.decide(record.kind, shown, blur)
    key = derivative(storage, record, choice)

    def once() -> tuple[media.MediaRecord, str]:
        at = now or datetime.now(timezone.utc)
        with uow:
            report, current = _current(uow, report_id, media_id)
            report.require_redactable()
            if not media.set_redaction(uow.session, current, choice.shown, choice.blur_json(), key):
                raise StaleDataError("another choice was recorded for this file meanwhile")
            history.record(uow.session, report.id, Action.MEDIA_REDACTED, actor_kind=history.STAFF, actor=user.subject, at=at,
                           text=_words(current, choice))
            files = media.media_of(uow.session, report.id)
            uow.emit(events.public_media_changed(files), report_id=report.id, version=report.next_version(), actor=actor_of(user))
            uow.commit()
        saved = next(f for f in files if f.id == current.id)
        return saved, current.redacted_key

    try:
        saved, replaced = retrying(once)
    except BaseException:
        if key:
            _remove(storage, key)
        raise
    if replaced and replaced != key:
        _remove(storage, replaced)  # no address serves it any more (its version is past)
    return saved


def _remove(storage: BlobStorage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:  # an unreachable blob is never served (its version is past); say which, nothing more
        log.exception("could not remove the blurred copy %s", key)


def files_of(uow: UnitOfWork, user: Principal, report_id: str) -> list[media.MediaRecord]:
    """A report's files with the IOC's choice for each (IOC roles)."""
    require_ioc(user)
    with uow:
        report = load(uow, report_id)
        return media.media_of(uow.session, report.id)
