"""Uploads, from the request to their removal. Receiving one over HTTP: the raw file as the request body (never multipart: the CSRF guard reads a form whole,
and a form part's declared type means nothing here anyway), its name in `X-Filename` (percent-encoded UTF-8).

Shared by every service that takes files (intake's photos and videos, handling's attachments). The body is written
to a temporary file as it arrives and counted: past the limit the answer is 413 at once, a file of a type not
accepted is refused as soon as its first bytes show it, and a client that leaves halfway leaves nothing behind (the
caller removes the temporary folder; nothing was stored). What a file is comes from its content only
(paht.runtime.media); the declared Content-Type is ignored. The body limit middleware and the edge let these paths
stream (paht.runtime.storage.UPLOAD_PATHS). Storing a received file whole or not at all (store_checked), and removing
uploads no step took (sweep_unattached, sweep_periodically) are shared the same way; each service keeps its own table.
"""
from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import JSONResponse
from opentelemetry import trace
from sqlalchemy import ColumnElement, Engine, Table, delete, select

from paht.runtime import db
from paht.runtime import media as checks
from paht.runtime.errors import InvalidInput
from paht.runtime.http import problem
from paht.runtime.media import MEDIA, Accepts, CheckedFile, MediaLimits
from paht.runtime.storage import BlobStorage

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
T = TypeVar("T")
SWEEP_BATCH = 200
SWEEP_INTERVAL_S = 300.0  # far shorter than the keeping time: an upload outlives it by at most this


def filename_from(header: str) -> str:
    """The cleaned file name from X-Filename; InvalidInput when it is not percent-encoded UTF-8."""
    try:
        return checks.clean_filename(unquote(header, encoding="utf-8", errors="strict"))
    except UnicodeDecodeError:
        raise InvalidInput("X-Filename must be percent-encoded UTF-8.", "Tiêu đề X-Filename phải là UTF-8 được mã hóa phần trăm.",
                           field="X-Filename") from None


def too_large(limit: int, kind=None) -> JSONResponse:
    err = checks.refuse_too_large(kind, limit)
    return problem(413, "error.body_too_large", err.detail_en, err.detail_vi, limit=limit)


async def receive(request: Request, path: Path, limits: MediaLimits, declared: int | None, accepts: Accepts = MEDIA) -> JSONResponse | None:
    """Write the body to `path` as it arrives; return the 413 (at once) when it grows past its kind's limit.

    The kind is known from the first bytes: a file of no accepted type is refused then (InvalidInput), before
    the rest is read. Raises ClientDisconnect when the client leaves halfway.
    """
    limit, head, seen, kind = limits.max_upload_for(accepts), b"", 0, None
    with open(path, "wb") as out:
        async for chunk in request.stream():
            seen += len(chunk)
            if kind is None:
                head += chunk[:checks.SNIFF_BYTES]
                if len(head) >= checks.SNIFF_BYTES:
                    kind = checks.sniff(head, accepts).kind
                    limit = limits.max_bytes(kind)
                    if declared is not None and declared > limit:  # an honest length says now what counting would say later
                        return too_large(limit, kind)
            if seen > limit:
                return too_large(limit, kind)
            out.write(chunk)
    return None


def store_checked(storage: BlobStorage, source: Path, keys: tuple[str, str], limits: MediaLimits,
                  record: Callable[[CheckedFile, int, str, bool], T], accepts: Accepts = MEDIA) -> T:
    """Check a received file by its content, store it under keys[0] and, for a photo or video, its copy without location
    metadata under keys[1]; then `record(checked, size, sha256, has_public)` writes the caller's row. Refused files
    raise InvalidInput before anything is stored; if anything fails once a blob is written, the blobs written are
    removed again: a file is stored whole (blobs and row) or not at all."""
    source = Path(source)
    with tempfile.TemporaryDirectory(prefix="paht-upload-") as work:
        public = Path(work) / "public"
        with checks.DECODING:
            checked = checks.examine(source, public, limits, accepts)
        size, digest = source.stat().st_size, checks.sha256_of(source)
        has_public = checked.kind != checks.MediaKind.DOCUMENT
        written: list[str] = []
        try:
            storage.put_file(keys[0], source, checked.media_type)
            written.append(keys[0])
            if has_public:
                storage.put_file(keys[1], public, checked.public_media_type)
                written.append(keys[1])
            return record(checked, size, digest, has_public)
        except BaseException:
            for key in written:
                try:
                    storage.delete(key)
                except Exception:  # the sweep cannot find blobs without a row: say so, with the key only
                    log.exception("could not remove the blob %s of a failed upload", key)
            raise


def remove_unattached(engine: Engine, storage: BlobStorage, table: Table, unattached: ColumnElement, file_id: str,
                      *keys: str) -> bool:
    """Delete an upload's row if it is still unattached and, only then, its blobs; say whether this call removed it.

    The row goes first, by a conditional DELETE in its own transaction: an upload being attached at that moment keeps
    its row (one of the two statements waits for the other, and only one finds it unattached) and its blobs are never
    touched; of several replicas sweeping at once, each row is removed by exactly one."""
    with engine.begin() as conn:
        gone = conn.execute(delete(table).where(table.c.id == file_id, unattached)).rowcount
    if gone != 1:
        return False  # attached meanwhile, or another process removed it: not ours to touch
    for key in keys:
        if not key:
            continue  # a document has no public copy
        try:
            storage.delete(key)
        except Exception:  # the row is gone: an orphan blob costs space, never a wrong answer
            log.exception("could not remove the blob %s of an upload never attached", key)
    return True


def sweep_unattached(engine: Engine, storage: BlobStorage, table: Table, unattached: ColumnElement, older_than: datetime,
                     batch: int = SWEEP_BATCH) -> int:
    """Remove the uploads of `table` (columns id, original_key, public_key, uploaded_at) that are `unattached` and were
    uploaded before `older_than`: rows, then their blobs; return how many went."""
    removed = 0
    while True:  # every row of a batch is then gone or attached: the next query never sees it again
        with db.reading(engine) as conn:
            stale = conn.execute(select(table.c.id, table.c.original_key, table.c.public_key)
                                 .where(unattached, table.c.uploaded_at < older_than)
                                 .order_by(table.c.uploaded_at, table.c.id).limit(batch)).all()
        removed += sum(remove_unattached(engine, storage, table, unattached, *row) for row in stale)
        if len(stale) < batch:
            return removed


async def sweep_periodically(label: str, keep_h: float, sweep_once: Callable[[], int]) -> None:
    """Run a sweeper's pass every few minutes (a quarter of the keeping time when that is shorter), each pass a span."""
    interval = min(SWEEP_INTERVAL_S, max(1.0, keep_h * 3600 / 4))
    while True:
        with tracer.start_as_current_span(f"{label} pass") as span:
            swept = await asyncio.to_thread(sweep_once)
            span.set_attribute("paht.media.swept", swept)
        if swept:
            log.info("%s: %d upload(s) never attached removed", label, swept)
        await asyncio.sleep(interval)
