"""Uploads over HTTP on a real database: checked by content, stored whole or not at all, streamed (413 while the
body is still coming, a cut upload leaves nothing, through the edge too), attached once, swept when abandoned."""
from __future__ import annotations

import hashlib
import io
import os
import selectors
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from sqlalchemy import func, select, update

from paht.runtime.edge import build_edge_app
from paht.runtime.errors import InvalidInput
from paht.runtime.storage import LocalDiskStorage
from services.intake.adapters.orm import report_media
from services.intake.bootstrap import SPEC, build_http
from paht.runtime.media import MediaLimits
from services.intake.entrypoints import media_sweeper
from services.intake.service_layer import media
from tests.support import media_files as mf
from tests.support.live_server import live_server
from tests.support.reporters import reporter_session
from tests.support.services import migrated_context, outbox_envelopes, token_for
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration
UPLOADS = "/api/intake/v1/uploads"
REPORT = {
    "reporter": {"name": "Trần Văn Bình", "email": "binh@example.vn"},
    "title": "Ổ gà lớn trên đường Quang Trung",
    "description": "Ổ gà sâu khoảng 20 cm giữa làn xe máy, trước số 12 Quang Trung, nhiều xe suýt ngã.",
    "location": {"lat": 17.4702, "lon": 106.6188},
    "acknowledged": True,
}


class Service:
    def __init__(self, ctx, storage: LocalDiskStorage, spool: Path, app):
        self.ctx, self.storage, self.spool, self.app = ctx, storage, spool, app
        self.client = TestClient(app)

    def rows(self) -> list:
        with self.ctx.engine.connect() as conn:
            return conn.execute(select(report_media)).all()

    def blobs(self) -> list[Path]:
        return [p for p in self.storage.root.rglob("*") if p.is_file()]

    def spooled(self) -> list[Path]:
        # os.walk passes over a folder the server removes while we look (rglob would raise)
        return [Path(folder) / name for folder, _dirs, files in os.walk(self.spool) for name in files]

    def spooled_at_least(self, n: int) -> bool:
        """Whether a file being received holds n bytes (the server may delete it between the listing and the look)."""
        for path in self.spooled():
            try:
                if path.stat().st_size >= n:
                    return True
            except FileNotFoundError:
                continue
        return False

    def nothing_stored(self) -> bool:
        return self.rows() == [] and self.blobs() == [] and self.spooled() == []


def make_service(settings, tmp_path) -> Service:
    ctx = migrated_context(SPEC, settings)
    storage = LocalDiskStorage(tmp_path / "media")
    spool = tmp_path / "spool"
    ctx.media_storage, ctx.media_spool = storage, spool  # what bootstrap's media router uses
    app = build_http(ctx, FakeTaxonomy())
    return Service(ctx, storage, spool, app)


@pytest.fixture
def svc(settings, tmp_path):
    service = make_service(settings, tmp_path)
    yield service
    service.ctx.engine.dispose()


@pytest.fixture
def small(settings, tmp_path):
    """A service whose photos may be at most 200 kB and videos 400 kB."""
    service = make_service(settings.model_copy(update={"media_max_photo_bytes": 200_000, "media_max_video_bytes": 400_000}), tmp_path)
    yield service
    service.ctx.engine.dispose()


def operator(settings, roles=("ioc_operator",), user="tongdai1") -> dict[str, str]:
    return {"Authorization": "Bearer " + token_for(settings, user, list(roles), "ioc-tinh")}


def upload(client, data: bytes, headers: dict, name: str | None = None, content_type: str = "application/octet-stream"):
    extra = {"X-Filename": quote(name)} if name else {}
    return client.post(UPLOADS, content=data, headers={**headers, **extra, "Content-Type": content_type})


def noise_png(size=(800, 600)) -> bytes:
    """A photo of random pixels: over 1 MB as PNG (noise does not compress)."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "PNG")
    return out.getvalue()


def eventually(predicate, timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# --- uploading -------------------------------------------------------------------------------------------------

def test_an_operator_uploads_a_photo_and_staff_get_the_original_and_the_clean_copy(svc, settings):
    original = mf.jpeg((640, 480))
    r = upload(svc.client, original, operator(settings), name="ảnh hiện trường.JPG", content_type="text/html")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "kind", "media_type", "size_bytes", "sha256", "width", "height"}
    assert (body["kind"], body["media_type"], body["size_bytes"], body["width"], body["height"]) == ("photo", "image/jpeg", len(original), 640, 480)
    assert body["sha256"] == hashlib.sha256(original).hexdigest()
    (row,) = svc.rows()
    assert row.report_id is None and row.owner == "staff:tongdai1" and row.filename == "ảnh hiện trường.JPG"
    assert svc.spooled() == []

    # an agency's staff member sees a report's files only while handling its case: an upload of no report is not theirs
    assert svc.client.get(f"/intake/media/{body['id']}", headers=operator(settings, ("staff",), "canbo")).status_code == 404
    got = svc.client.get(f"/intake/media/{body['id']}", headers=operator(settings, ("ioc_editor",), "bientap"))  # any IOC role
    assert got.status_code == 200 and got.content == original
    assert got.headers["content-type"] == "image/jpeg" and got.headers["content-length"] == str(len(original))
    assert got.headers["cache-control"] == "private, max-age=3600" and got.headers["content-disposition"] == "inline"
    assert got.headers["content-security-policy"] == "sandbox" and got.headers["x-content-type-options"] == "nosniff"

    public = svc.client.get(f"/intake/media/{body['id']}/public", headers=operator(settings))
    assert public.status_code == 200 and public.headers["content-type"] == "image/jpeg"
    assert public.headers["content-security-policy"] == "sandbox"
    copy = Image.open(io.BytesIO(public.content))
    assert copy.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {} and dict(copy.getexif()) == {}
    assert public.headers["content-length"] == str(len(public.content))


def test_a_video_upload_keeps_the_position_for_staff_only(svc, settings):
    original = mf.mp4()
    r = upload(svc.client, original, operator(settings), name="clip.mov")
    assert r.status_code == 201 and r.json()["kind"] == "video" and r.json()["media_type"] == "video/mp4"
    media_id = r.json()["id"]
    assert svc.client.get(f"/intake/media/{media_id}", headers=operator(settings)).content == original
    public = svc.client.get(f"/intake/media/{media_id}/public", headers=operator(settings))
    assert public.headers["content-type"] == "video/mp4" and len(public.content) == len(original) and mf.ISO6709 not in public.content


def test_videos_are_served_in_byte_ranges_as_players_ask(svc, settings):
    original = mf.mp4(mdat_bytes=5000)
    media_id = upload(svc.client, original, operator(settings)).json()["id"]
    url, size = f"/intake/media/{media_id}", len(original)
    part = svc.client.get(url, headers={**operator(settings), "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == original[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{size}" and part.headers["content-length"] == "10"
    assert part.headers["accept-ranges"] == "bytes" and part.headers["content-security-policy"] == "sandbox"
    tail = svc.client.get(url, headers={**operator(settings), "Range": "bytes=-7"})
    assert tail.status_code == 206 and tail.content == original[-7:]
    rest = svc.client.get(url, headers={**operator(settings), "Range": f"bytes={size - 3}-"})
    assert rest.status_code == 206 and rest.content == original[-3:]
    beyond = svc.client.get(url, headers={**operator(settings), "Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"
    several = svc.client.get(url, headers={**operator(settings), "Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == original


def test_uploading_needs_a_caller_and_media_need_staff_or_their_reporter(svc, settings):
    r = upload(svc.client, mf.jpeg(), {})
    assert r.status_code == 401
    assert r.json()["error"]["detail"]["vi"] and r.json()["error"]["detail"]["en"] and r.json()["error"]["detail"]["vi"] != r.json()["error"]["detail"]["en"]
    assert upload(svc.client, mf.jpeg(), operator(settings, ("staff",), "canbo")).status_code == 401  # not the call centre
    assert svc.nothing_stored()

    media_id = upload(svc.client, mf.jpeg(), operator(settings)).json()["id"]
    assert svc.client.get(f"/intake/media/{media_id}").status_code == 401
    assert svc.client.get(f"/intake/media/{media_id}/public").status_code == 404
    someone = reporter_session(svc.ctx, "0905000111")
    assert svc.client.get(f"/intake/media/{media_id}", headers=someone).status_code == 401
    assert svc.client.get(f"/intake/media/{media_id}/public", headers=someone).status_code == 404
    assert svc.client.get("/intake/media/not-an-id/public", headers=operator(settings)).status_code == 404
    assert svc.client.get("/intake/media/0190a6b2-7c1e-7000-8000-000000000001", headers=operator(settings)).status_code == 404


def test_a_reporter_uploads_submits_and_sees_the_public_copy_of_their_own_report_only(svc, settings):
    mine = reporter_session(svc.ctx, "0912345678")
    photo = upload(svc.client, mf.jpeg(), mine, name="o-ga.jpg")
    video = upload(svc.client, mf.webm(), mine)
    assert photo.status_code == 201 and video.status_code == 201 and video.json()["media_type"] == "video/webm"
    # before the report is sent, the sender may look at its own upload
    assert svc.client.get(f"/intake/media/{photo.json()['id']}/public", headers=mine).status_code == 200
    r = svc.client.post("/api/intake/v1/reports", json={**REPORT, "media": [video.json()["id"], photo.json()["id"]]}, headers=mine)
    assert r.status_code == 201, r.text
    report_id = r.json()["id"]
    with svc.ctx.sessions() as session:
        files = [(m.id, m.position) for m in media.media_of(session, report_id)]
    assert files == [(video.json()["id"], 0), (photo.json()["id"], 1)]
    (event,) = [e.decode() for e in outbox_envelopes(svc.ctx) if e.type.endswith("ReportSubmitted")]
    assert [(a.id, a.media_type, a.sha256) for a in event.media] == [
        (video.json()["id"], "video/webm", video.json()["sha256"]), (photo.json()["id"], "image/jpeg", photo.json()["sha256"])]

    again = reporter_session(svc.ctx, "0912345678")  # the same phone, a later session (another device)
    assert svc.client.get(f"/intake/media/{photo.json()['id']}/public", headers=again).status_code == 200
    assert svc.client.get(f"/intake/media/{photo.json()['id']}", headers=again).status_code == 401  # the original is for staff
    other = reporter_session(svc.ctx, "0905999888")
    assert svc.client.get(f"/intake/media/{photo.json()['id']}/public", headers=other).status_code == 404
    # someone else cannot attach the same files to a report of theirs
    stolen = svc.client.post("/api/intake/v1/reports", json={**REPORT, "media": [photo.json()["id"]]}, headers=other)
    assert stolen.status_code == 422 and "not yours" in stolen.json()["error"]["detail"]["en"]


@pytest.mark.parametrize("name, data, fragment", [
    ("photo.jpg", mf.EXE, "Windows program"),
    ("photo.jpg", mf.jpeg() + mf.zip_file(), "extra data after its end"),
    ("bomb.png", mf.png_claiming(100_000, 100_000), "too many pixels"),
    ("page.png", mf.HTML, "web page"),
    ("doc.webp", mf.PDF, "PDF"),
    ("empty.jpg", b"", "empty"),
])
def test_refused_files_get_a_bilingual_4xx_and_nothing_is_stored(svc, settings, name, data, fragment):
    r = upload(svc.client, data, operator(settings), name=name, content_type="image/jpeg")
    assert r.status_code == 422, r.text
    detail = r.json()["error"]["detail"]
    assert fragment in detail["en"] and detail["vi"] and detail["vi"] != detail["en"]
    assert svc.nothing_stored()


def test_a_bad_file_name_header_is_refused(svc, settings):
    r = svc.client.post(UPLOADS, content=mf.jpeg(), headers={**operator(settings), "X-Filename": "%FF%FE"})
    assert r.status_code == 422 and "X-Filename" in r.json()["error"]["detail"]["en"]
    r = upload(svc.client, mf.jpeg(), operator(settings), name="C:\\fakepath\\a\u202eb.jpg")
    assert r.status_code == 422 and "U+202E" in r.json()["error"]["detail"]["en"]
    assert svc.nothing_stored()


def test_uploads_pass_the_1_mb_body_limit_but_forms_to_the_same_path_do_not(svc, settings):
    big = noise_png()
    assert len(big) > settings.max_body_bytes
    r = upload(svc.client, big, operator(settings))
    assert r.status_code == 201, r.text
    assert r.json()["size_bytes"] == len(big)
    form = svc.client.post(UPLOADS, content=b"a=" + b"x" * (settings.max_body_bytes + 10), headers={
        **operator(settings), "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 413


# --- streaming: real sockets against a real server --------------------------------------------------------------

def _connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _request_head(base: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {UPLOADS} HTTP/1.1", f"Host: {urlsplit(base).netloc}", *[f"{k}: {v}" for k, v in headers.items()], "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        rest += piece
    return status, rest


def chunked_upload_refused_while_streaming(base: str, auth: dict, limit: int) -> tuple[int, bytes, int]:
    """Send a chunked photo body of 64 kB chunks; once past the limit, stop sending and wait for the answer.
    Return (status, body, bytes sent): the answer came without the rest of the body."""
    sock = _connect(base)
    try:
        sock.sendall(_request_head(base, {**auth, "Content-Type": "image/jpeg", "Transfer-Encoding": "chunked"}))
        chunk, sent = mf.jpeg((64, 64))[:64] + os.urandom(65536 - 64), 0
        while sent <= limit:
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
            chunk = os.urandom(65536)
        with selectors.DefaultSelector() as waiting:  # epoll: any descriptor number (select() stops at 1024)
            waiting.register(sock, selectors.EVENT_READ)
            assert waiting.select(30), "no answer while the body was still open"
        status, body = _read_response(sock)
        return status, body, sent
    finally:
        sock.close()


def test_an_upload_over_its_limit_gets_413_while_its_chunked_body_is_still_coming(small, settings):
    with live_server(small.app) as base:
        status, body, sent = chunked_upload_refused_while_streaming(base, operator(settings), 200_000)
    assert status == 413 and sent < 400_000  # the body never ended: the answer did not wait for it
    assert b"200 kB" in body or b"0.2 MB" in body
    assert eventually(small.nothing_stored)


def test_an_honest_length_over_the_limit_is_refused_before_any_body(small, settings):
    with live_server(small.app) as base:
        sock = _connect(base)
        try:
            sock.sendall(_request_head(base, {**operator(settings), "Content-Type": "video/mp4", "Content-Length": "999999999"}))
            status, _ = _read_response(sock)
        finally:
            sock.close()
    assert status == 413 and small.nothing_stored()


def cut_upload(base: str, auth: dict, spool_has, data: bytes) -> None:
    """Declare the whole file, send half of it, wait until the server holds that half, then hang up."""
    half = len(data) // 2
    sock = _connect(base)
    try:
        sock.sendall(_request_head(base, {**auth, "Content-Type": "image/png", "Content-Length": str(len(data))}) + data[:half])
        assert eventually(lambda: spool_has(half)), "the server never received the first half"
    finally:
        sock.close()


def test_an_upload_cut_halfway_leaves_no_row_no_blob_and_no_temporary_file(svc, settings):
    data = noise_png((400, 300))

    def spool_has(n: int) -> bool:
        return svc.spooled_at_least(n)

    with live_server(svc.app) as base:
        cut_upload(base, operator(settings), spool_has, data)
        assert eventually(lambda: svc.spooled() == [])
    assert svc.nothing_stored()


def edge_in_front_of(service: Service):
    """The embedded run's edge in front of the intake service, both real servers."""
    import contextlib

    @contextlib.contextmanager
    def run():
        with live_server(service.app) as upstream:
            with live_server(build_edge_app({"intake": upstream}, None, service.ctx.settings)) as base:
                yield base

    return run()


@pytest.fixture
def edge(svc):
    with edge_in_front_of(svc) as base:
        yield base


@pytest.fixture
def small_edge(small):
    with edge_in_front_of(small) as base:
        yield base


def test_through_the_edge_an_upload_streams_to_the_service_and_a_cut_one_leaves_nothing(svc, settings, edge):
    data = noise_png((600, 400))

    def spool_has(n: int) -> bool:  # the service holds the first half while the client has not sent the rest: streamed
        return svc.spooled_at_least(n)

    cut_upload(edge, operator(settings), spool_has, data)
    assert eventually(lambda: svc.spooled() == [])
    assert svc.nothing_stored()

    big = noise_png()
    r = httpx.post(edge + UPLOADS, content=big, headers={**operator(settings), "Content-Type": "image/png"}, timeout=60)
    assert r.status_code == 201, r.text
    assert r.json()["size_bytes"] == len(big) > settings.max_body_bytes


def test_through_the_edge_a_chunked_upload_over_the_limit_gets_413(small, settings, small_edge):
    limit = 400_000  # the edge's own limit: the largest file of any kind

    def endless():
        yield mf.jpeg((64, 64))[:64]
        for _ in range(limit // 65536 + 50):
            yield os.urandom(65536)

    r = httpx.post(small_edge + UPLOADS, content=endless(), headers={**operator(settings), "Content-Type": "image/jpeg"}, timeout=120)
    assert r.status_code == 413
    assert eventually(small.nothing_stored)


# --- attaching ---------------------------------------------------------------------------------------------------

def stored(svc, owner: str = "staff:tongdai1", make=mf.jpeg) -> str:
    src = svc.spool.parent / f"src-{os.urandom(4).hex()}"
    src.write_bytes(make())
    return media.store_upload(svc.ctx.engine, svc.storage, owner, "", src, MediaLimits(), datetime.now(timezone.utc)).id


def report_of(svc, media_id: str) -> str | None:
    with svc.ctx.engine.connect() as conn:
        return conn.execute(select(report_media.c.report_id).where(report_media.c.id == media_id)).scalar()


def test_an_attachment_rolled_back_with_its_transaction_leaves_the_upload_unattached(svc):
    media_id = stored(svc)
    with svc.ctx.uow() as uow:
        (attached,) = media.attach(uow.session, "staff:tongdai1", [media_id], "report-1")
        assert attached.report_id == "report-1"
        uow.session.rollback()
    assert report_of(svc, media_id) is None
    with svc.ctx.uow() as uow:
        media.attach(uow.session, "staff:tongdai1", [media_id], "report-2")
        uow.session.commit()
    assert report_of(svc, media_id) == "report-2"


def test_only_the_uploader_attaches_and_only_once(svc):
    media_id = stored(svc)
    for owner, ids in (("staff:someone-else", [media_id]), ("staff:tongdai1", ["0190a6b2-7c1e-7000-8000-000000000001"]),
                       ("staff:tongdai1", ["../../x"]), ("staff:tongdai1", [media_id, media_id])):
        with svc.ctx.uow() as uow, pytest.raises(InvalidInput):
            media.attach(uow.session, owner, ids, "report-1")
    with svc.ctx.uow() as uow:
        media.attach(uow.session, "staff:tongdai1", [media_id], "report-1")
        uow.session.commit()
    with svc.ctx.uow() as uow, pytest.raises(InvalidInput, match="already attached"):
        media.attach(uow.session, "staff:tongdai1", [media_id], "report-2")
    assert report_of(svc, media_id) == "report-1"


def _race(svc, jobs) -> list:
    """Run each job(session) in its own thread and transaction, all released at once; return what each gave or raised."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i, job):
        with svc.ctx.uow() as uow:
            barrier.wait()
            try:
                job(uow.session)
                uow.session.commit()
                results[i] = "ok"
            except InvalidInput as exc:
                uow.session.rollback()
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_reports_racing_for_one_upload_exactly_one_gets_it(svc):
    for round_ in range(5):
        media_id = stored(svc)
        results = _race(svc, [lambda s, r=r: media.attach(s, "staff:tongdai1", [media_id], f"report-{round_}-{r}") for r in "ab"])
        assert sorted(map(str, results)).count("ok") == 1, results
        loser = next(r for r in results if r != "ok")
        assert isinstance(loser, InvalidInput)
        assert report_of(svc, media_id) in (f"report-{round_}-a", f"report-{round_}-b")


def test_the_limits_per_report_count_the_files_already_attached(svc):
    limits = MediaLimits(max_photos=3, max_videos=1)
    photos = [stored(svc) for _ in range(5)]
    videos = [stored(svc, make=mf.mp4) for _ in range(2)]
    with svc.ctx.uow() as uow, pytest.raises(InvalidInput, match="Too many photos"):
        media.attach(uow.session, "staff:tongdai1", photos[:4], "report-1", limits=limits)
    with svc.ctx.uow() as uow, pytest.raises(InvalidInput, match="Too many videos"):
        media.attach(uow.session, "staff:tongdai1", videos, "report-1", limits=limits)
    with svc.ctx.uow() as uow:
        media.attach(uow.session, "staff:tongdai1", [photos[0], videos[0], photos[1]], "report-1", limits=limits)
        uow.session.commit()
    # an edit adding more: two photos would make four
    with svc.ctx.uow() as uow, pytest.raises(InvalidInput) as refused:
        media.attach(uow.session, "staff:tongdai1", photos[2:4], "report-1", limits=limits)
    assert "at most 3" in refused.value.detail_en and "tối đa 3" in refused.value.detail_vi
    with svc.ctx.uow() as uow:
        (added,) = media.attach(uow.session, "staff:tongdai1", [photos[2]], "report-1", limits=limits)
        uow.session.commit()
    assert added.position == 3
    with svc.ctx.uow() as uow:
        assert [m.id for m in media.media_of(uow.session, "report-1")] == [photos[0], videos[0], photos[1], photos[2]]


def test_two_edits_adding_photos_to_one_report_at_once_cannot_pass_the_limit_together(svc):
    from services.intake.domain.report import Report
    from tests.support.reporters import PHONE

    # a real report row to lock (the lock is what keeps the two edits apart)
    client_headers = reporter_session(svc.ctx, PHONE)
    r = svc.client.post("/api/intake/v1/reports", json=REPORT, headers=client_headers)
    assert r.status_code == 201, r.text
    report_id = r.json()["id"]
    with svc.ctx.uow() as uow:
        assert uow.session.get(Report, report_id) is not None
    limits = MediaLimits(max_photos=4)
    for _ in range(3):
        batches = [[stored(svc) for _ in range(3)] for _ in range(2)]
        results = _race(svc, [lambda s, b=b: media.attach(s, "staff:tongdai1", b, report_id, limits=limits) for b in batches])
        with svc.ctx.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(report_media).where(report_media.c.report_id == report_id)).scalar()
        assert count <= 4, (count, results)
        with svc.ctx.engine.begin() as conn:  # start again with the report empty
            conn.execute(update(report_media).where(report_media.c.report_id == report_id).values(report_id="elsewhere"))
        assert [str(r) for r in results].count("ok") == 1, results


# --- sweeping ----------------------------------------------------------------------------------------------------

def test_the_sweeper_removes_uploads_never_attached_rows_and_blobs(svc):
    kept, abandoned, fresh = stored(svc), stored(svc), stored(svc)
    with svc.ctx.uow() as uow:
        media.attach(uow.session, "staff:tongdai1", [kept], "report-1")
        uow.session.commit()
    old = datetime.now(timezone.utc) - timedelta(hours=svc.ctx.settings.media_unattached_keep_h + 1)
    with svc.ctx.engine.begin() as conn:
        conn.execute(update(report_media).where(report_media.c.id.in_([kept, abandoned])).values(uploaded_at=old))
    assert len(svc.blobs()) == 6
    assert media_sweeper.sweep_once(svc.ctx, svc.storage) == 1
    assert {r.id for r in svc.rows()} == {kept, fresh}
    assert not any(abandoned in str(p) for p in svc.blobs()) and len(svc.blobs()) == 4
    assert media_sweeper.sweep_once(svc.ctx, svc.storage) == 0
    # a day later the fresh one goes too, never the attached one
    later = datetime.now(timezone.utc) + timedelta(hours=svc.ctx.settings.media_unattached_keep_h + 1)
    assert media_sweeper.sweep_once(svc.ctx, svc.storage, later) == 1
    assert [r.id for r in svc.rows()] == [kept] and len(svc.blobs()) == 2


def test_a_sweep_and_an_attachment_racing_for_one_upload_do_not_both_win(svc):
    future = datetime.now(timezone.utc) + timedelta(days=2)
    for _ in range(5):
        media_id = stored(svc)
        barrier = threading.Barrier(2)
        swept: list[int] = []

        def sweep():
            barrier.wait()
            swept.append(media.sweep_unattached(svc.ctx.engine, svc.storage, future))

        sweeper = threading.Thread(target=sweep)
        sweeper.start()
        (result,) = _race(svc, [lambda s: (barrier.wait(), media.attach(s, "staff:tongdai1", [media_id], "report-1"))])
        sweeper.join(60)
        attached = report_of(svc, media_id) == "report-1"
        assert (result == "ok") == attached
        if attached:  # it was attached: its row and files are whole
            assert svc.storage.exists(f"reports/{media_id}/original") and svc.storage.exists(f"reports/{media_id}/public")
        else:  # it was swept: the attachment was refused and nothing of it is left
            assert isinstance(result, InvalidInput) and not svc.storage.exists(f"reports/{media_id}/original")


def test_a_failure_after_the_blobs_were_written_removes_them(svc, monkeypatch):
    src = svc.spool.parent / "src.jpg"
    src.write_bytes(mf.jpeg())

    class Broken(Exception):
        pass

    def broken_insert(*args, **kwargs):
        raise Broken()

    monkeypatch.setattr(media, "insert", broken_insert)
    with pytest.raises(Broken):
        media.store_upload(svc.ctx.engine, svc.storage, "staff:tongdai1", "x.jpg", src, MediaLimits(), datetime.now(timezone.utc))
    assert svc.blobs() == [] and svc.rows() == []
