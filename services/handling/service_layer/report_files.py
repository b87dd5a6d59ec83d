"""On a hub node (federation): the report's own photos and videos, copied from the province's intake once the case
arrives, so that the hub's people see them as the province's do — even while the link is down.

The province's intake gives a file only to the hub that owns the report now, against the hub's secret, and keeps a
record of every copy (services/intake/entrypoints/media_api.py, `to_hub`). Copies are made by a background job of
the hub's handling, with retries (the link may be down for hours); until a file is copied the case page says so.
"""
from __future__ import annotations

import logging
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, select

from paht.runtime import db
from paht.runtime.errors import NotFound
from paht.runtime.uow import UnitOfWork
from services.handling.adapters.orm import report_file_copies as copies

log = logging.getLogger(__name__)
URL = "/api/handling/v1/cases/{}/report-files/{}"
PROVINCE_URL = "/intake/media/{}/public"
BATCH = 10
MAX_WAIT_S = 300.0  # the longest pause between two tries of one file (the link may be down for hours)


class Gone(Exception):
    """The province will not give this file to this hub (the report is no longer its, or the file is unknown)."""


def key(media_id: str) -> str:
    return f"handling/report/{media_id}"


def file_url(uow_or_settings, report_id: str, media_id: str) -> str:
    """Where the people handling a case open one of the report's files: on a hub its copy here, else intake's."""
    on_hub = bool(getattr(uow_or_settings, "parent_node", ""))
    return URL.format(report_id, media_id) if on_hub else PROVINCE_URL.format(media_id)


def note_files_to_copy(uow: UnitOfWork, report_id: str, media: list[dict]) -> None:
    """On a hub, when a case arrives (or a new round of it): its files wait to be copied (in the consumer's transaction)."""
    if not uow.parent_node or not media:
        return
    s = uow.session
    known = set(s.execute(select(copies.c.media_id).where(copies.c.report_id == report_id)).scalars())
    now = datetime.now(timezone.utc)
    rows = [{"media_id": m["id"], "report_id": report_id, "media_type": str(m.get("media_type", ""))[:100], "status": "waiting",
             "attempts": 0, "next_try_at": now, "copied_at": None, "error": ""} for m in media if m.get("id") and m["id"] not in known]
    if rows:
        s.execute(copies.insert(), rows)


def copy_due(engine: Engine, storage, fetch, now: datetime | None = None) -> int:
    """Copy the files whose turn has come; return how many were tried. `fetch(media_id, into: Path) -> media type` raises
    Gone, or anything else for a try to repeat later."""
    now = now or datetime.now(timezone.utc)
    with db.reading(engine) as conn:
        due = conn.execute(select(copies).where(copies.c.status == "waiting", copies.c.next_try_at <= now)
                           .order_by(copies.c.next_try_at).limit(BATCH)).all()
    for row in due:
        values: dict
        with tempfile.TemporaryDirectory(prefix="paht-copy-") as work:
            path = Path(work) / "file"
            try:
                media_type = fetch(row.media_id, path) or row.media_type
                storage.put_file(key(row.media_id), path, media_type)
                values = {"status": "copied", "copied_at": datetime.now(timezone.utc), "media_type": media_type[:100], "error": ""}
            except Gone as exc:
                values = {"status": "gone", "error": str(exc)[:300]}
            except Exception as exc:  # the link, the province or the disk: later, less often
                wait = min(MAX_WAIT_S, 2.0 * 2 ** min(row.attempts, 10))
                values = {"attempts": row.attempts + 1, "next_try_at": datetime.now(timezone.utc) + timedelta(seconds=wait),
                          "error": f"{type(exc).__name__}: {exc}"[:300]}
                if row.attempts in (0, 5):
                    log.warning("copying file %s of report %s from the province failed (%s); trying again in %.0f s",
                                row.media_id, row.report_id, values["error"], wait)
        with engine.begin() as conn:
            conn.execute(copies.update().where(copies.c.media_id == row.media_id).values(**values))
    return len(due)


def copied(engine: Engine, report_id: str, media_id: str):
    """The copy of one of a report's files, or NotFound (also while it is still being copied, with that said)."""
    with db.reading(engine) as conn:
        row = conn.execute(select(copies).where(copies.c.media_id == media_id, copies.c.report_id == report_id)).first()
    if row is None or row.status == "gone":
        raise NotFound("This file was not found.", "Không tìm thấy tệp.")
    if row.status != "copied":
        raise NotFound("This file is still being copied from the province; try again shortly.",
                       "Tệp đang được sao chép từ tỉnh về; vui lòng thử lại sau ít phút.")
    return row


def http_fetcher(settings):
    """Fetch from the province's intake with this hub's secret (settings.parent_url, settings.join_secret_file)."""
    import httpx

    limit = max(settings.media_max_video_bytes, settings.media_max_photo_bytes) + 1_000_000

    def fetch(media_id: str, into: Path) -> str:
        secret = Path(settings.join_secret_file).read_text(encoding="utf-8").strip()
        url = f"{settings.parent_url.rstrip('/')}/api/intake/v1/federation/{settings.node_id}/files/{media_id}"
        with httpx.stream("GET", url, headers={"Authorization": f"Bearer {secret}"}, timeout=30.0) as r:
            if r.status_code == 404:
                raise Gone("the province does not give this file to this hub (report recalled, or unknown file)")
            r.raise_for_status()
            size = 0
            with into.open("wb") as out:
                for chunk in r.iter_bytes(64 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise ValueError("the file is larger than any PAHT accepts")
                    out.write(chunk)
            return r.headers.get("content-type", "").split(";")[0].strip()

    return fetch
