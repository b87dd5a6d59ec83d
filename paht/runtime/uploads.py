"""Receiving an upload over HTTP: the raw file as the request body (never multipart: the CSRF guard reads a form whole,
and a form part's declared type means nothing here anyway), its name in `X-Filename` (percent-encoded UTF-8).

Shared by every service that takes files (intake's photos and videos, handling's attachments). The body is written
to a temporary file as it arrives and counted: past the limit the answer is 413 at once, a file of a type not
accepted is refused as soon as its first bytes show it, and a client that leaves halfway leaves nothing behind (the
caller removes the temporary folder; nothing was stored). What a file is comes from its content only
(paht.runtime.media); the declared Content-Type is ignored. The body limit middleware and the edge let these paths
stream (paht.runtime.storage.UPLOAD_PATHS).
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import JSONResponse

from paht.runtime import media as checks
from paht.runtime.errors import InvalidInput
from paht.runtime.http import problem
from paht.runtime.media import MEDIA, Accepts, MediaLimits


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
