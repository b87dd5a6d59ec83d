"""Uploads and downloads of report photos and videos over HTTP.

An upload (received by paht.runtime.uploads, shared with handling's attachments) is the raw file as the request body (never multipart: the CSRF guard reads a form whole, and a
form part's declared type means nothing here anyway); the name, if any, comes in `X-Filename`, percent-encoded
UTF-8. The body is written to a temporary file as it arrives and counted: past the limit the answer is 413 at
once, a file of a type not accepted is refused as soon as its first bytes show it, and a client that leaves
halfway leaves nothing behind (the temporary folder goes, nothing was stored). What a file is comes from its
content only (paht/runtime/media.py); the declared Content-Type is ignored.

Downloads stream from the storage with headers that keep a browser from treating a file as anything but
a file of its type: `Content-Security-Policy: sandbox` (no script of any kind), nosniff (SecurityHeaders),
`Content-Disposition: inline`, private caching only.

The public addresses (`/intake/public-media/<id>-<version>.<ext>`, decision 0023) serve what the IOC left public of
a report's files (a photo with its rectangles blurred, a video shown as it is) to anyone, and only while the report
may be public (service_layer/media.py `public_file`); anything else is a 404 that says nothing of the file. They may
be kept by shared caches for a few minutes only: a state-secret flag or a withheld photo takes them away, and an
address never names anything but one version of one choice, so no cache shows an older picture under it.
The IOC sets the choice with `PUT /api/intake/v1/reports/{id}/media/{media_id}/redaction` (or the console's form).
"""
from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import Field
from starlette.requests import ClientDisconnect

from paht.runtime import roles
from paht.runtime.errors import Forbidden, NotFound, Unauthorized
from paht.runtime.http import bearer_token
from paht.runtime import uploads
from paht.runtime.auth import Principal
from paht.runtime.media import MAX_REGIONS, MediaLimits
from paht.runtime.storage import BlobMissing, BlobStorage
from services.intake.entrypoints.api import Strict
from services.intake.entrypoints.callers import need_caller, resolve_caller
from services.intake.service_layer import media, redaction

log = logging.getLogger(__name__)
UPLOAD_PATH = "/api/intake/v1/uploads"
MEDIA_HEADERS = {"Cache-Control": "private, max-age=3600", "Content-Disposition": "inline", "Content-Security-Policy": "sandbox",
                 "Accept-Ranges": "bytes"}
# A public file: shared caches may keep it, but only briefly, so that taking it away (a state secret, a withheld photo)
# takes effect within minutes; other sites may show it (Open311's media_url).
PUBLIC_HEADERS = {"Cache-Control": "public, max-age=300", "Content-Disposition": "inline", "Content-Security-Policy": "sandbox",
                  "Accept-Ranges": "bytes", "Cross-Origin-Resource-Policy": "cross-origin"}
PUBLIC_NAME = re.compile(r"(?P<id>[0-9A-Za-z-]{1,36})-(?P<version>\d{1,9})\.(?P<ext>[a-z0-9]{2,4})")
ONE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
UPLOAD_BODY = {"requestBody": {"required": True, "description": "The file itself (JPEG, PNG, WebP, MP4, WebM), not a form. "
                               "Optional header X-Filename: the file's name, percent-encoded UTF-8.",
                               "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """The (start, length) of a single `Range: bytes=…` (video players seek with it; Safari plays nothing without it);
    None to send the whole file (no range, or several); False when it lies outside the file (416)."""
    match = ONE_RANGE.fullmatch((header or "").strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # the last N bytes
        n = int(last)
        return (max(0, size - n), min(n, size)) if n > 0 and size > 0 else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end - start + 1


def _not_found() -> NotFound:
    return NotFound("This file was not found.", "Không tìm thấy tệp.")


_filename = uploads.filename_from
_too_large = uploads.too_large
_receive = uploads.receive


class RegionIn(Strict):
    x: float = Field(description="left edge, a fraction of the upright picture's width (0..1)")
    y: float = Field(description="top edge, a fraction of its height (0..1)")
    w: float = Field(description="width, a fraction of the picture's width (more than 0; x + w at most 1)")
    h: float = Field(description="height, a fraction of the picture's height (more than 0; y + h at most 1)")


class RedactionIn(Strict):
    public: bool = Field(description="true: the public may see this file once the report is public; false: withheld")
    blur: list[RegionIn] = Field(default_factory=list, max_length=100,
                                 description=f"rectangles of a photo to make unreadable (at most {MAX_REGIONS}); none for a video")


def redaction_view(record: media.MediaRecord) -> dict:
    """A file as the IOC sees it: its staff addresses, and what the public may see of it (the public address works only
    while the report may be public)."""
    width, height = record.shown_size
    return {"id": record.id, "kind": record.kind, "media_type": record.media_type, "position": record.position,
            "width": width, "height": height, "url": f"/intake/media/{record.id}/public", "original_url": f"/intake/media/{record.id}",
            "public": record.shown, "blur": list(record.blur or []), "version": record.redaction_version,
            "public_url": record.public_url if record.shown else None}


def upload_view(record: media.MediaRecord) -> dict:
    return {"id": record.id, "kind": record.kind, "media_type": record.media_type, "size_bytes": record.size_bytes,
            "sha256": record.sha256, "width": record.width, "height": record.height}


def build_router(ctx, storage: BlobStorage, spool: Path | None = None) -> APIRouter:
    """`spool`: where uploads are written while they arrive (the system's temporary folder unless given)."""
    optional_user, _current_user, _require = ctx.auth
    router = APIRouter(tags=["intake media"])

    def limits() -> MediaLimits:
        return MediaLimits.from_settings(ctx.settings)

    @router.post(UPLOAD_PATH, status_code=201, summary="Upload a photo or video (the raw file as the body) before submitting",
                 openapi_extra=UPLOAD_BODY)
    async def upload(request: Request):
        caller = need_caller(await resolve_caller(ctx, request, optional_user))
        filename = _filename(request.headers.get("x-filename", ""))
        bounds = limits()
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > bounds.max_upload_bytes:
            return _too_large(bounds.max_upload_bytes)
        if spool is not None:
            spool.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="paht-upload-", dir=spool))
        try:
            path = work / "file"
            try:
                refused = await _receive(request, path, bounds, int(declared) if declared.isdigit() else None)
            except ClientDisconnect:
                # the sender left halfway (nobody reads this answer), or the body limit cut an endless body (then it is the answer)
                log.info("an upload ended before its body did; nothing kept")
                return _too_large(bounds.max_upload_bytes)
            if refused is not None:
                return refused
            record = await asyncio.to_thread(media.store_upload, ctx.engine, storage, caller.owner, filename, path, bounds,
                                             datetime.now(timezone.utc))
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
        return JSONResponse(upload_view(record), status_code=201)

    def staff(request: Request):
        user = optional_user(request)
        return user if user is not None and user.has(*roles.ALL) else None

    async def staff_may_see(request: Request, user: Principal, record: media.MediaRecord) -> bool:
        """The IOC (and the province's oversight roles) see every report's files; a person of an agency or unit only
        those of a report whose case they handle — handling, the owner of cases, says so when asked with their own
        token (the same question as for the reporter's contact)."""
        if user.has(*roles.ALL_FILES):
            return True
        if not user.has(*roles.CASE_HANDLERS) or record.report_id is None:
            return False
        from services.intake.bootstrap import case_desk

        return await case_desk(ctx).handles(bearer_token(request), record.report_id)

    async def serve(request: Request, record: media.MediaRecord, key: str, media_type: str, fixed: dict = MEDIA_HEADERS) -> Response:
        try:
            size = await asyncio.to_thread(storage.size, key)
            wanted = byte_range(request.headers.get("range"), size)
            if wanted is False:
                return Response(status_code=416, headers={**fixed, "Content-Range": f"bytes */{size}"})
            start, length = wanted if wanted else (0, size)
            chunks = await asyncio.to_thread(storage.stream, key, 64 * 1024, start, length if wanted else None)
        except BlobMissing:
            log.warning("media %s has a row but no blob", record.id)
            raise _not_found() from None
        headers = {**fixed, "Content-Length": str(length)}
        if wanted:
            headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
        return StreamingResponse(chunks, status_code=206 if wanted else 200, media_type=media_type, headers=headers)

    @router.get("/intake/media/{media_id}", summary="The file as sent (staff only: a photo may carry the reporter's position)")
    async def original(media_id: str, request: Request):
        user = optional_user(request)
        if user is None:
            raise Unauthorized("Sign in with a staff account to see the original file.", "Vui lòng đăng nhập bằng tài khoản cán bộ để xem tệp gốc.")
        if not user.has(*roles.ALL):
            raise Forbidden("Only staff may see the original file.", "Chỉ cán bộ mới được xem tệp gốc.")
        record = await asyncio.to_thread(media.find, ctx.engine, media_id)
        if record is None or not await staff_may_see(request, user, record):
            raise _not_found()  # another agency's report: its files do not exist for them
        return await serve(request, record, record.original_key, record.media_type)

    @router.get("/intake/media/{media_id}/public", summary="The copy without location metadata (staff, or the reporter of the report)")
    async def public(media_id: str, request: Request):
        record = await asyncio.to_thread(media.find, ctx.engine, media_id)
        if record is None:
            raise _not_found()
        user = staff(request)
        allowed = await staff_may_see(request, user, record) if user is not None else await _reporter_may_see(request, record)
        if not allowed:
            raise _not_found()  # not "forbidden": whether a file exists is not told to others
        return await serve(request, record, record.public_key, record.public_media_type)

    @router.get("/api/intake/v1/federation/{hub}/files/{media_id}", tags=["federation"],
                summary="A hub node copies the file of a report it owns (Authorization: Bearer <the hub's secret>): the copy "
                        "without location metadata; every copy is recorded")
    async def to_hub(hub: str, media_id: str, request: Request):
        from paht.runtime import federation, federation_up
        from services.intake.bootstrap import owners

        settings = ctx.settings
        if not federation.NODE_NAME.match(hub) or hub not in federation.hubs(settings):
            raise _not_found()
        federation_up.check_hub_secret(settings.data, hub, request.headers.get("authorization"))
        record = await asyncio.to_thread(media.find, ctx.engine, media_id)
        # only the hub that owns the report now: a recalled hub, or another one, learns nothing (the same 404)
        if record is None or record.report_id is None or await owners(ctx).owner(record.report_id) != hub:
            raise _not_found()
        await asyncio.to_thread(media.record_release, ctx.engine, record, hub, datetime.now(timezone.utc))
        return await serve(request, record, record.public_key, record.public_media_type)

    @router.get("/intake/public-media/{name}", summary="What the IOC left public of a report's photo or video (anyone, while the "
                "report may be public; else 404)")
    async def public_media(name: str, request: Request):
        found = PUBLIC_NAME.fullmatch(name)
        record = await asyncio.to_thread(media.public_file, ctx.engine, found["id"], int(found["version"])) if found else None
        if record is None or record.public_url.rsplit("/", 1)[1] != name:
            raise _not_found()  # withheld, an older version, a report not (or no longer) public: all the same to the public
        return await serve(request, record, record.shown_key, record.public_media_type, PUBLIC_HEADERS)

    operator = Depends(_require(*roles.IOC))

    @router.get("/api/intake/v1/reports/{report_id}/media", tags=["step 1 (IOC)"],
                summary="A report's photos and videos, with what the public may see of each (IOC roles)")
    async def report_media(report_id: str, user: Principal = operator):
        files = await asyncio.to_thread(redaction.files_of, ctx.uow(), user, report_id)
        return {"report_id": report_id, "items": [redaction_view(f) for f in files]}

    @router.put("/api/intake/v1/reports/{report_id}/media/{media_id}/redaction", tags=["step 1 (IOC)"],
                summary="Choose what the public may see of one photo or video: shown or withheld, rectangles to blur (IOC roles)",
                description="Until step 1 refuses or cancels the report (also after acceptance: a face noticed late can still be "
                            "blurred). Rectangles are fractions of the upright picture: {x, y, w, h}, each 0..1, inside the picture, "
                            f"at most {MAX_REGIONS}. A video cannot be blurred: public true shows it as it is (videos are withheld "
                            "until the IOC shows them). Every change is a new version with a new public address.")
    async def set_redaction(report_id: str, media_id: str, body: RedactionIn, user: Principal = operator):
        saved = await asyncio.to_thread(redaction.save, ctx.uow(), storage, user, report_id, media_id, body.public,
                                        [r.model_dump() for r in body.blur])
        return redaction_view(saved)

    async def _reporter_may_see(request: Request, record: media.MediaRecord) -> bool:
        caller = await resolve_caller(ctx, request, optional_user)
        if caller is None or caller.kind == "staff":
            return False
        if record.owner == caller.owner:  # the sender's own upload (a preview before the report is sent)
            return True
        if caller.kind != "reporter" or not caller.phone or record.report_id is None:
            return False
        phone = await asyncio.to_thread(media.reporter_phone, ctx.engine, record.report_id)
        return phone == caller.phone

    return router
