"""Files attached while handling a case, through the HTTP API on a real database: upload (checked by content, stored
under handling/), attach by id with the step (draft, work note, support answer), list and download with the case's
access rule, events carrying them."""
from __future__ import annotations

import hashlib
import io
import os
import socket
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from paht.runtime.ids import new_id
from paht.runtime.storage import LocalDiskStorage
from services.handling import bootstrap
from services.handling.adapters.orm import case_files
from tests.support.handling import FakeOrgDirectory, dispatched
from tests.support.live_server import live_server
from tests.support.services import deliver, migrated_context, outbox_envelopes, token_for

pytestmark = pytest.mark.integration
ANSWER = "Đã vá ổ gà trên đường Quang Trung ngày 12/3."


def pdf(pad: int = 0) -> bytes:
    """A real PDF (Pillow's), optionally made larger by a comment after its header."""
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (30, 120, 30)).save(out, "PDF")
    data = out.getvalue()
    if pad:
        first = data.index(b"\n") + 1
        data = data[:first] + b"%" + b"x" * pad + b"\n" + data[first:]
    return data


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", b"<Types/>")
        z.writestr("word/document.xml", "<w:document>Biên bản kiểm tra hiện trường</w:document>")
    return out.getvalue()


class Service:
    def __init__(self, settings, tmp_path):
        self.settings = settings
        self.ctx = migrated_context(bootstrap.SPEC, settings)
        self.storage = LocalDiskStorage(tmp_path / "media")
        self.spool = tmp_path / "spool"
        self.ctx.media_storage, self.ctx.media_spool = self.storage, self.spool
        self.app = bootstrap.build_http(self.ctx, directory=FakeOrgDirectory())
        self.client = TestClient(self.app)

    def auth(self, subject: str, role: str, org_unit: str) -> dict:
        return {"Authorization": f"Bearer {token_for(self.settings, subject, [role], org_unit)}"}

    def rows(self) -> list:
        with self.ctx.engine.connect() as conn:
            return conn.execute(select(case_files)).all()

    def blobs(self) -> list[Path]:
        return [p for p in self.storage.root.rglob("*") if p.is_file()]

    def spooled(self) -> list[Path]:
        return [Path(folder) / name for folder, _dirs, files in os.walk(self.spool) for name in files]

    def upload(self, path: str, data: bytes, headers: dict, name: str | None = None):
        extra = {"Content-Type": "application/octet-stream"}
        if name is not None:
            extra["X-Filename"] = quote(name)
        return self.client.post(path, content=data, headers={**headers, **extra})


@pytest.fixture
def svc(settings, tmp_path):
    service = Service(settings, tmp_path)
    yield service
    service.ctx.engine.dispose()


@pytest.fixture
def small(settings, tmp_path):
    """Documents of at most 5 kB."""
    service = Service(settings.model_copy(update={"media_max_document_bytes": 5_000}), tmp_path)
    yield service
    service.ctx.engine.dispose()


def case_with_staff(svc) -> tuple[str, dict, dict, dict]:
    """A case at the transport department's infrastructure unit, assigned to canbo: (id, leader, staff, base path)."""
    rid = new_id()
    deliver(svc.ctx, dispatched(svc.ctx, rid))
    leader = svc.auth("truongphong", "unit_leader", "so-gtvt-kcht")
    staff = svc.auth("canbo", "staff", "so-gtvt-kcht")
    base = f"/api/handling/v1/cases/{rid}"
    assert svc.client.post(f"{base}/assign-unit", json={"unit_id": "so-gtvt-kcht"},
                           headers=svc.auth("sogtvt", "agency_coordinator", "so-gtvt")).status_code == 200
    assert svc.client.post(f"{base}/assign-staff", json={"staff_subject": "canbo"}, headers=leader).status_code == 200
    return rid, leader, staff, base


def test_staff_upload_attach_to_the_draft_and_the_leader_lists_and_downloads_it(svc):
    rid, leader, staff, base = case_with_staff(svc)
    report = pdf(pad=1_200_000)  # above the 1 MB body limit of ordinary requests: uploads stream
    r = svc.upload(f"{base}/files", report, staff, name="Biên bản hiện trường.pdf")
    assert r.status_code == 201, r.text
    up = r.json()
    assert (up["kind"], up["media_type"], up["size_bytes"], up["attached_to"], up["filename"]) == (
        "document", "application/pdf", len(report), None, "Biên bản hiện trường.pdf")
    photo = svc.upload(f"{base}/files", _jpeg(), leader, name="anh.jpg").json()  # the unit leader may add files too
    assert photo["kind"] == "photo"
    assert {str(p.relative_to(svc.storage.root)).split("/")[0] for p in svc.blobs()} == {"handling"}

    assert svc.client.get(f"{base}/files", headers=leader).json()["items"] == []  # nothing attached yet
    r = svc.client.post(f"{base}/draft", json={"answer_text": ANSWER, "files": [up["id"]]}, headers=staff)
    assert r.status_code == 200, r.text
    draft_id = r.json()["draft_id"]

    listed = svc.client.get(f"{base}/files", headers=leader).json()["items"]
    assert [(f["id"], f["attached_to"]) for f in listed] == [(up["id"], f"draft:{draft_id}")]
    got = svc.client.get(f"/api/handling/v1/files/{up['id']}", headers=leader)
    assert got.status_code == 200 and got.content == report
    assert got.headers["content-type"] == "application/pdf" and got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;") and "Bi%C3%AAn" in got.headers["content-disposition"]

    other_unit = svc.auth("thanhtra", "unit_leader", "so-gtvt-thanhtra")
    assert svc.client.get(f"/api/handling/v1/files/{up['id']}", headers=other_unit).status_code == 404
    assert svc.client.get(f"{base}/files", headers=other_unit).status_code == 404
    assert svc.client.get(f"/api/handling/v1/files/{up['id']}").status_code == 401  # no public route

    # the same file cannot be attached again, nor somebody else's
    svc.client.post(f"{base}/return-to-staff", json={"reason": "Bổ sung ảnh sau khi vá"}, headers=leader)
    r = svc.client.post(f"{base}/log", json={"text": "Đã gửi biên bản kiểm tra hiện trường.", "files": [up["id"]]}, headers=staff)
    assert r.status_code == 422 and r.json()["error"]["message"]["vi"]
    r = svc.client.post(f"{base}/draft", json={"answer_text": ANSWER, "files": [photo["id"]]}, headers=staff)
    assert r.status_code == 422  # the leader's upload is not the staff member's
    assert svc.client.get(f"/api/handling/v1/files/{photo['id']}", headers=staff).status_code == 404  # not attached, not theirs
    assert [f["id"] for f in svc.client.get(f"{base}/files", headers=leader).json()["items"]] == [up["id"]]  # the refusal changed nothing

    # a work note with a file; the draft again, approved: the events carry the files
    note_file = svc.upload(f"{base}/files", docx(), staff, name="bien-ban.docx").json()
    assert note_file["media_type"].endswith("wordprocessingml.document")
    r = svc.client.post(f"{base}/log", json={"text": "Đã đo kích thước ổ gà: 1,2 m.", "files": [note_file["id"]]}, headers=staff)
    assert r.status_code == 200, r.text
    second = svc.upload(f"{base}/files", pdf(), staff).json()
    r = svc.client.post(f"{base}/draft", json={"answer_text": ANSWER, "files": [second["id"]]}, headers=staff)
    new_draft = r.json()["draft_id"]
    assert svc.client.post(f"{base}/approve", json={}, headers=leader).status_code == 200
    events = {e.type.rsplit(".", 1)[-1]: e.decode() for e in outbox_envelopes(svc.ctx)}  # the last of each type
    assert [a.id for a in events["ResultDrafted"].attachments] == [second["id"]]
    assert [(a.id, a.sha256, a.url) for a in events["ResultApproved"].attachments] == [
        (second["id"], second["sha256"], f"/api/handling/v1/files/{second['id']}")]
    assert [a.id for a in events["WorkLogged"].attachments] == [note_file["id"]]
    listed = {f["id"]: f["attached_to"] for f in svc.client.get(f"{base}/files", headers=staff).json()["items"]}
    assert listed[second["id"]] == f"draft:{new_draft}" and listed[note_file["id"]].startswith("log:")
    history = svc.client.get(f"{base}/history", headers=staff).json()["items"]
    assert history[-3]["action"] == "work_logged"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (10, 10, 200)).save(out, "JPEG")
    return out.getvalue()


def test_uploads_are_checked_by_content_and_refused_files_leave_nothing(svc, small):
    rid, leader, staff, base = case_with_staff(svc)
    r = svc.upload(f"{base}/files", b"MZ\x90\x00" + bytes(500), staff, name="bien-ban.pdf")
    assert r.status_code == 422 and "Windows program" in r.json()["error"]["detail"]["en"]
    assert r.json()["error"]["detail"]["vi"]
    other = svc.auth("canbo2", "staff", "so-gtvt-kcht")  # same unit, not in charge: the case is not theirs to see
    assert svc.upload(f"{base}/files", pdf(), other).status_code == 404
    coordinator = svc.auth("sogtvt", "agency_coordinator", "so-gtvt")  # sees the case, does not act on it now
    assert svc.upload(f"{base}/files", pdf(), coordinator).status_code == 403
    outsider = svc.auth("canbo-qhkt", "staff", "so-xd-qhkt")
    assert svc.upload(f"{base}/files", pdf(), outsider).status_code == 404
    assert svc.rows() == [] and svc.blobs() == [] and svc.spooled() == []

    rid, leader, staff, base = case_with_staff(small)
    r = small.upload(f"{base}/files", pdf(pad=20_000), staff)
    assert r.status_code == 413 and "A document may be at most" in r.text and r.json()["error"]["message"]["vi"]
    assert small.rows() == [] and small.blobs() == [] and small.spooled() == []


def test_the_supporting_side_uploads_for_its_answer_and_sees_only_its_own_files(svc):
    rid, leader, staff, base = case_with_staff(svc)
    mine = svc.upload(f"{base}/files", pdf(), staff).json()
    svc.client.post(f"{base}/log", json={"text": "Đã kiểm tra hiện trường lúc 8 giờ.", "files": [mine["id"]]}, headers=staff)
    soon = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    sid = svc.client.post(f"{base}/support", json={"org_id": "so-xd-qhkt", "question": "Đề nghị cung cấp hồ sơ thiết kế tuyến cống.",
                                                   "due_at": soon}, headers=staff).json()["id"]
    xd_leader = svc.auth("truongphong-qhkt", "unit_leader", "so-xd-qhkt")
    xd_staff = svc.auth("canbo-qhkt", "staff", "so-xd-qhkt")
    support_files = f"/api/handling/v1/support/{sid}/files"
    assert svc.upload(support_files, pdf(), xd_staff).status_code == 404  # not yet assigned: the request is not theirs
    svc.client.post(f"/api/handling/v1/support/{sid}/accept", json={"staff_subject": "canbo-qhkt"}, headers=xd_leader)
    design = svc.upload(support_files, docx(), xd_staff, name="ho-so-thiet-ke.docx").json()
    assert svc.upload(f"{base}/files", pdf(), xd_staff).status_code == 404  # the case itself is not theirs
    # a case upload cannot go into the support answer, nor the support upload into the case's steps
    r = svc.client.post(f"/api/handling/v1/support/{sid}/answer", json={"answer_text": "Hồ sơ thiết kế gửi kèm theo.", "files": [mine["id"]]},
                        headers=xd_staff)
    assert r.status_code == 422
    r = svc.client.post(f"/api/handling/v1/support/{sid}/answer", json={"answer_text": "Hồ sơ thiết kế gửi kèm theo.", "files": [design["id"]]},
                        headers=xd_staff)
    assert r.status_code == 200, r.text
    answered = [e.decode() for e in outbox_envelopes(svc.ctx) if e.type.endswith("SupportAnswered")][0]
    assert [a.id for a in answered.attachments] == [design["id"]]

    assert [f["id"] for f in svc.client.get(f"{base}/files", headers=xd_staff).json()["items"]] == [design["id"]]
    assert [f["id"] for f in svc.client.get(f"{base}/files", headers=xd_leader).json()["items"]] == [design["id"]]
    assert svc.client.get(f"/api/handling/v1/files/{mine['id']}", headers=xd_leader).status_code == 404
    assert svc.client.get(f"/api/handling/v1/files/{design['id']}", headers=xd_leader).status_code == 200
    assert {f["id"] for f in svc.client.get(f"{base}/files", headers=leader).json()["items"]} == {mine["id"], design["id"]}
    assert hashlib.sha256(svc.client.get(f"/api/handling/v1/files/{design['id']}", headers=leader).content).hexdigest() == design["sha256"]


def test_an_upload_cut_halfway_leaves_no_row_no_blob_and_no_temporary_file(svc):
    rid, leader, staff, base = case_with_staff(svc)
    data = pdf(pad=400_000)
    with live_server(svc.app) as host:
        parts = urlsplit(host)
        sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        try:
            head = [f"POST {base}/files HTTP/1.1", f"Host: {parts.netloc}", f"Authorization: {staff['Authorization']}",
                    "Content-Type: application/pdf", f"Content-Length: {len(data)}", "", ""]
            sock.sendall("\r\n".join(head).encode("latin-1") + data[: len(data) // 2])
            assert _eventually(lambda: any(p.stat().st_size >= len(data) // 2 for p in _safe(svc.spooled)))
        finally:
            sock.close()
        assert _eventually(lambda: svc.spooled() == [])
    assert svc.rows() == [] and svc.blobs() == []


def _safe(listing):
    out = []
    for p in listing():
        try:
            p.stat()
            out.append(p)
        except FileNotFoundError:
            pass
    return out


def _eventually(predicate, timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if predicate():
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return False
