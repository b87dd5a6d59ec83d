"""Photos and videos of reports: an upload is checked and stored before the report exists, then attached in the
submission's own transaction (or an edit's), and swept when it is never attached.

Uploading first keeps the submission itself small and atomic: the report, its history line, its files and
its ReportSubmitted event commit together or not at all; a file is attached by one conditional UPDATE, so a
file belongs to one report only, and only the caller who uploaded it (its `owner`) can attach it.

Each upload has two blobs: `reports/<media id>/original`, the file as sent (staff only: a photo may carry the
reporter's GPS position), and `reports/<media id>/public`, the copy anyone else may see (paht/runtime/media.py).
A photo the IOC blurred has a third, `reports/<media id>/shown-<random>`: the public copy with the rectangles made
unreadable (service_layer/redaction.py), a new key for every change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from paht.runtime import db
from paht.runtime.errors import InvalidInput
from paht.runtime.ids import looks_like_id, new_id
from paht.runtime import uploads
from paht.runtime.media import MediaLimits, clean_filename
from paht.runtime.storage import BlobStorage
from services.intake.adapters.orm import report_media, reporters, reports
from services.intake.domain.redaction import may_be_public, shown_by_default
from services.intake.domain.vocabulary import MediaKind

SWEEP_BATCH = 200
# The public address's extension, by the type of what is served (a public copy's type: paht.runtime.media).
EXTENSIONS = {"image/jpeg": "jpg", "video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}


@dataclass(frozen=True)
class MediaRecord:
    """One stored file (a row of report_media)."""

    id: str
    report_id: str | None
    owner: str
    kind: str
    media_type: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    original_key: str
    public_key: str
    filename: str
    position: int
    uploaded_at: datetime
    public_width: int | None = None
    public_height: int | None = None
    shown: bool = False
    blur: list = field(default_factory=list)
    redaction_version: int = 0
    redacted_key: str = ""

    @property
    def public_media_type(self) -> str:
        """Photos are re-encoded as JPEG for the public; a video's public copy keeps its type."""
        return "image/jpeg" if self.kind == MediaKind.PHOTO.value else self.media_type

    @property
    def shown_key(self) -> str:
        """The blob the public sees: the blurred copy, or the public copy when nothing is blurred."""
        return self.redacted_key or self.public_key

    @property
    def public_url(self) -> str:
        """Where the public sees this version of the IOC's choice (served only while it may be public: media_api.py)."""
        return f"/intake/public-media/{self.id}-{self.redaction_version}.{EXTENSIONS.get(self.public_media_type, 'bin')}"

    @property
    def shown_size(self) -> tuple[int | None, int | None]:
        """The size of what the public sees: the public copy's (rows older than that column: the picture's, upright)."""
        if self.public_width and self.public_height:
            return self.public_width, self.public_height
        return self.width, self.height


def _record(row) -> MediaRecord:
    return MediaRecord(**{name: getattr(row, name) for name in MediaRecord.__dataclass_fields__})


def keys_for(media_id: str) -> tuple[str, str]:
    """The storage keys of an upload's original and public copy."""
    return f"reports/{media_id}/original", f"reports/{media_id}/public"


def store_upload(engine: Engine, storage: BlobStorage, owner: str, filename: str, source: Path, limits: MediaLimits,
                 now: datetime) -> MediaRecord:
    """Check a received file by its content, store it and its public copy, and record it as not yet attached; stored
    whole (two blobs and a row) or not at all (paht.runtime.uploads.store_checked)."""
    filename = clean_filename(filename)
    if not owner:
        raise InvalidInput("An upload needs a signed-in sender.", "Cần xác thực người gửi trước khi tải tệp lên.")
    media_id = new_id()
    original_key, public_key = keys_for(media_id)

    def record(checked, size: int, digest: str, _has_public: bool) -> MediaRecord:
        row = dict(id=media_id, report_id=None, owner=owner, kind=checked.kind.value, media_type=checked.media_type, size_bytes=size,
                   sha256=digest, width=checked.width, height=checked.height, original_key=original_key, public_key=public_key,
                   filename=filename, position=0, uploaded_at=now, public_width=checked.public_width,
                   public_height=checked.public_height, shown=shown_by_default(checked.kind.value), blur=[], redaction_version=0,
                   redacted_key="")
        with engine.begin() as conn:
            conn.execute(insert(report_media).values(**row))
        return MediaRecord(**row)

    return uploads.store_checked(storage, Path(source), (original_key, public_key), limits, record)


def _not_attachable() -> InvalidInput:
    return InvalidInput("This file was not found, is not yours or is already attached to a report; upload it again.",
                        "Không tìm thấy tệp, tệp không phải của bạn hoặc đã được đính kèm vào phản ánh khác; vui lòng tải lên lại.",
                        field="media")


def attach(session: Session, owner: str, media_ids: list[str], report_id: str, *, limits: MediaLimits | None = None) -> list[MediaRecord]:
    """Attach uploads of this owner to a report, in the caller's transaction; return the report's new files in order.

    A report's files already attached count towards the limits (a reporter adding files in an edit), and
    the new ones come after them. The report's row is locked first (PostgreSQL), so two edits of one
    report adding files at once cannot pass the limits together. Each file is attached by one conditional
    UPDATE: of two reports racing for the same upload, exactly one gets it, the other is refused.
    """
    limits = limits or MediaLimits()
    media_ids = list(media_ids)
    if not media_ids:
        return []
    if len(set(media_ids)) != len(media_ids):
        raise InvalidInput("The same file is attached twice.", "Một tệp được đính kèm hai lần.", field="media")
    if not all(looks_like_id(m) for m in media_ids):
        raise _not_attachable()
    session.execute(select(reports.c.id).where(reports.c.id == report_id).with_for_update())
    found = dict(session.execute(select(report_media.c.id, report_media.c.kind).where(
        report_media.c.id.in_(media_ids), report_media.c.owner == owner, report_media.c.report_id.is_(None))).all())
    if len(found) != len(media_ids):
        raise _not_attachable()
    existing = dict(session.execute(select(report_media.c.kind, func.count()).where(report_media.c.report_id == report_id)
                                    .group_by(report_media.c.kind)).all())
    for kind in MediaKind:
        total = existing.get(kind.value, 0) + sum(1 for k in found.values() if k == kind.value)
        if total > limits.max_count(kind):
            en, vi = ("photos", "ảnh") if kind == MediaKind.PHOTO else ("videos", "video")
            raise InvalidInput(f"Too many {en}: a report may have at most {limits.max_count(kind)}.",
                               f"Quá nhiều {vi}: mỗi phản ánh có tối đa {limits.max_count(kind)} {vi}.", field="media")
    last = session.execute(select(func.max(report_media.c.position)).where(report_media.c.report_id == report_id)).scalar()
    start = 0 if last is None else last + 1
    for i, media_id in enumerate(media_ids):
        done = session.execute(update(report_media).where(
            report_media.c.id == media_id, report_media.c.owner == owner, report_media.c.report_id.is_(None),
        ).values(report_id=report_id, position=start + i))
        if done.rowcount != 1:  # attached elsewhere (or swept) since we looked
            raise _not_attachable()
    rows = session.execute(select(report_media).where(report_media.c.id.in_(media_ids))).all()
    by_id = {r.id: _record(r) for r in rows}
    return [by_id[m] for m in media_ids]


def media_of(session: Session, report_id: str) -> list[MediaRecord]:
    """The files of a report, in order."""
    rows = session.execute(select(report_media).where(report_media.c.report_id == report_id)
                           .order_by(report_media.c.position, report_media.c.id)).all()
    return [_record(r) for r in rows]


def find(engine: Engine, media_id: str) -> MediaRecord | None:
    """One stored file, attached or not (None for an id that names nothing)."""
    if not looks_like_id(media_id):
        return None
    with db.reading(engine) as conn:
        row = conn.execute(select(report_media).where(report_media.c.id == media_id)).first()
    return _record(row) if row is not None else None


def record_release(engine: Engine, record: MediaRecord, node_id: str, at) -> None:
    """Keep the record of a file copied to a hub node (federation): the audit of what left the province."""
    from paht.runtime.ids import new_id
    from services.intake.adapters.orm import file_releases

    with engine.begin() as conn:
        conn.execute(file_releases.insert().values(id=new_id(), report_id=record.report_id, media_id=record.id, node_id=node_id,
                                                   released_at=at))


def reporter_phone(engine: Engine, report_id: str) -> str | None:
    """The verified phone of a report's reporter: a reporter session may see the public copies of its own reports."""
    with db.reading(engine) as conn:
        return conn.execute(select(reporters.c.phone).select_from(reports.join(reporters, reports.c.reporter_id == reporters.c.id))
                            .where(reports.c.id == report_id)).scalar()


def sweep_unattached(engine: Engine, storage: BlobStorage, older_than: datetime, batch: int = uploads.SWEEP_BATCH) -> int:
    """Remove uploads never attached to a report and uploaded before `older_than` (rows, then their blobs); return how
    many. Several replicas may sweep at once: each row is removed by one (paht.runtime.uploads.remove_unattached)."""
    return uploads.sweep_unattached(engine, storage, report_media, report_media.c.report_id.is_(None), older_than, batch)


def in_report(session: Session, report_id: str, media_id: str) -> MediaRecord | None:
    """One file of a report (None when the id names nothing, or a file of another report or of none)."""
    if not looks_like_id(media_id):
        return None
    row = session.execute(select(report_media).where(report_media.c.id == media_id, report_media.c.report_id == report_id)).first()
    return _record(row) if row is not None else None


def set_redaction(session: Session, record: MediaRecord, shown: bool, blur: list[dict], redacted_key: str) -> bool:
    """Record the IOC's new choice for a file as the next version, if nobody recorded another since `record` was read;
    say whether it was recorded."""
    done = session.execute(update(report_media).where(
        report_media.c.id == record.id, report_media.c.redaction_version == record.redaction_version,
    ).values(shown=shown, blur=blur, redaction_version=record.redaction_version + 1, redacted_key=redacted_key))
    return done.rowcount == 1


def public_file(engine: Engine, media_id: str, version: int) -> MediaRecord | None:
    """The file the public address names, when the public may see it now: the IOC left it shown, this is the current
    version of that choice, and its report may be public (domain/redaction.py `may_be_public`, the one rule); else None.
    Read without taking SQLite's write lock (an image request never waits for a writer)."""
    if not looks_like_id(media_id):
        return None
    query = (select(report_media, reports.c.status, reports.c.private_result, reports.c.state_secret)
             .select_from(report_media.join(reports, reports.c.id == report_media.c.report_id))
             .where(report_media.c.id == media_id))
    with db.reading(engine) as conn:
        row = conn.execute(query).first()
    if row is None or not may_be_public(row.status, bool(row.private_result), bool(row.state_secret)):
        return None
    record = _record(row)
    return record if record.shown and record.redaction_version == version else None
