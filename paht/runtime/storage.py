"""Where files live: one small interface, the local disk in the embedded run, S3-compatible object storage in production.

A service never builds a path or an object URL itself: it names a blob by a key (``reports/<id>/original``)
and hands a finished local file to ``put_file``. Keys are checked here, the same way for every adapter, so
that no key can name anything outside the storage (``..``, absolute paths, backslashes, empty segments).
Writes are whole or nothing: the local disk writes a temporary file and renames it into place; an S3 object
appears only when its upload completed.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator, Protocol

if TYPE_CHECKING:
    from paht.runtime.settings import Settings

CHUNK = 64 * 1024
MAX_KEY = 200  # report_media.original_key / public_key
# segments of letters, digits, '.', '_' and '-', each starting with a letter or digit (so never '.' or '..')
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
# The uploads the edge and the body limit stream through instead of holding in memory (the route enforces its own limits).
# A `*` segment stands for one path segment (an id).
UPLOAD_PATHS = ("/api/intake/v1/uploads", "/api/handling/v1/cases/*/files", "/api/handling/v1/support/*/files")


class BlobMissing(LookupError):
    """No blob has this key."""


def check_key(key: str) -> str:
    """Return the key when it can only name a blob inside the storage; raise ValueError otherwise."""
    if not isinstance(key, str) or len(key) > MAX_KEY or not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class BlobStorage(Protocol):
    """What media need from a storage; every method takes a key checked by check_key."""

    def put_file(self, key: str, source: Path, media_type: str) -> None:
        """Store a finished local file under the key (the source stays where it is); replaces a blob of that key."""

    def open(self, key: str) -> BinaryIO:
        """Return the blob for reading (BlobMissing when there is none); the caller closes it."""

    def stream(self, key: str, chunk_size: int = CHUNK, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Yield the blob's bytes in chunks, all of them or `length` from `start` (a video player's byte range);
        BlobMissing, raised at once, when there is none."""

    def size(self, key: str) -> int:
        """Return the blob's size in bytes (BlobMissing when there is none)."""

    def delete(self, key: str) -> None:
        """Remove the blob; nothing happens when there is none (a sweep may meet half-removed uploads)."""

    def exists(self, key: str) -> bool:
        """Say whether a blob has this key."""


def _chunks(handle: BinaryIO, chunk_size: int, length: int | None = None) -> Iterator[bytes]:
    with handle:
        left = length
        while left is None or left > 0:
            chunk = handle.read(chunk_size if left is None else min(chunk_size, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


class LocalDiskStorage:
    """Blobs as files under one folder (the embedded run's ``<data>/media``); atomic: temporary file, fsync, rename."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:  # a symlink planted inside cannot lead out either
            raise ValueError(f"not a storage key: {key!r}")
        return path

    def put_file(self, key: str, source: Path, media_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)  # readers see the old blob or the whole new one, never a part
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobMissing(key) from None

    def stream(self, key: str, chunk_size: int = CHUNK, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        handle = self.open(key)
        handle.seek(start)
        return _chunks(handle, chunk_size, length)

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise BlobMissing(key)
        return path.stat().st_size

    def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        # drop the key's now-empty folders (reports/<id>/), never the root itself
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Storage:
    """Blobs as objects of one bucket of S3-compatible storage (MinIO, Ceph, AWS), path-style addressing.

    boto3 is imported here only, so the embedded run never needs it. One client serves the process
    (boto3 clients are thread-safe); the bucket is made by operations, not by PAHT.
    """

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
            aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _missing(self, exc: Exception) -> bool:
        from botocore.exceptions import ClientError

        if not isinstance(exc, ClientError):
            return False
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def put_file(self, key: str, source: Path, media_type: str) -> None:
        # upload_file sends large files in parts; the object exists only once every part is in
        self.client.upload_file(str(source), self.bucket, check_key(key), ExtraArgs={"ContentType": media_type})

    def open(self, key: str, byte_range: str | None = None) -> BinaryIO:
        extra = {"Range": byte_range} if byte_range else {}
        try:
            return self.client.get_object(Bucket=self.bucket, Key=check_key(key), **extra)["Body"]
        except Exception as exc:
            if self._missing(exc):
                raise BlobMissing(key) from None
            raise

    def stream(self, key: str, chunk_size: int = CHUNK, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        if length == 0:
            self.size(key)  # BlobMissing all the same
            return iter(())
        wanted = start > 0 or length is not None
        body = self.open(key, f"bytes={start}-{'' if length is None else start + length - 1}" if wanted else None)

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

        return chunks()

    def size(self, key: str) -> int:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=check_key(key))["ContentLength"])
        except Exception as exc:
            if self._missing(exc):
                raise BlobMissing(key) from None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))  # S3 answers 204 for a missing key too

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
            return True
        except BlobMissing:
            return False


def storage_from(settings: "Settings") -> BlobStorage:
    """Return the storage the settings name (once per process: the S3 client is shared)."""
    if settings.media_storage == "s3":
        if not settings.s3_bucket:
            raise ValueError("PAHT_MEDIA_STORAGE=s3 needs PAHT_S3_BUCKET (and usually PAHT_S3_ENDPOINT_URL)")
        return S3Storage(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
                         access_key=settings.s3_access_key, secret_key=settings.s3_secret_key)
    return LocalDiskStorage(Path(settings.data) / "media")


def max_upload_bytes(settings: "Settings") -> int:
    """The largest body an upload may have (the largest file of any kind); the route then applies its kind's own limit."""
    return max(settings.media_max_photo_bytes, settings.media_max_video_bytes, settings.media_max_document_bytes)


def streamed_uploads(settings: "Settings") -> dict[str, int]:
    """The upload paths and their body limit, for the body limit middleware and the edge."""
    return {path: max_upload_bytes(settings) for path in UPLOAD_PATHS}


def streamed_limit(streamed: dict[str, int], path: str) -> int | None:
    """The body limit of an upload path (exact, or matching a pattern whose `*` segments stand for one segment each)."""
    exact = streamed.get(path)
    if exact is not None:
        return exact
    parts = path.split("/")
    for pattern, limit in streamed.items():
        if "*" not in pattern:
            continue
        wanted = pattern.split("/")
        if len(wanted) == len(parts) and all(w == p or (w == "*" and p) for w, p in zip(wanted, parts)):
            return limit
    return None
