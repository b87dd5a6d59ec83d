"""Handling's sweeper of attachments no step took: older than intake's keeping time (`media_unattached_keep_h`) they go,
row and blobs; a recent one and an attached one stay; two sweepers at once remove a file once; a file attached while
a sweep runs is never touched. On SQLite, and on PostgreSQL when DATABASE_URL is set (the threads then race for real)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from paht.runtime.errors import InvalidInput
from services.handling import bootstrap
from services.handling.adapters.orm import case_files
from services.handling.entrypoints import file_sweeper
from services.handling.service_layer import files
from tests.integration.test_handling_files import ANSWER, Service, _jpeg, case_with_staff, pdf

pytestmark = pytest.mark.integration


@pytest.fixture
def svc(settings, tmp_path):
    service = Service(settings, tmp_path)
    yield service
    service.ctx.engine.dispose()


def age(svc, file_id: str, hours: float) -> None:
    """Make a file look uploaded `hours` ago."""
    with svc.ctx.engine.begin() as conn:
        conn.execute(update(case_files).where(case_files.c.id == file_id)
                     .values(uploaded_at=datetime.now(timezone.utc) - timedelta(hours=hours)))


def blobs_of(svc, file_id: str) -> list:
    return [p for p in svc.blobs() if file_id in str(p)]


def test_handling_runs_the_sweeper_in_the_background_with_intakes_keeping_time():
    assert bootstrap.SPEC.background_local == {"case file sweeper": bootstrap.sweep_files,
                                               "report files from the province": bootstrap.copy_report_files}


def test_an_old_unattached_upload_goes_with_its_blobs_a_recent_one_and_an_attached_one_stay(svc):
    rid, leader, staff, base = case_with_staff(svc)
    keep_h = svc.ctx.settings.media_unattached_keep_h
    abandoned = svc.upload(f"{base}/files", _jpeg(), staff, name="anh.jpg").json()  # a photo: two blobs
    abandoned_doc = svc.upload(f"{base}/files", pdf(), staff).json()  # a document: one blob
    fresh = svc.upload(f"{base}/files", pdf(), staff).json()
    document = pdf()  # Pillow writes the time into a PDF: keep the bytes sent
    attached = svc.upload(f"{base}/files", document, staff).json()
    assert svc.client.post(f"{base}/draft", json={"answer_text": ANSWER, "files": [attached["id"]]}, headers=staff).status_code == 200
    for f in (abandoned, abandoned_doc, attached):
        age(svc, f["id"], keep_h + 1)
    age(svc, fresh["id"], keep_h - 1)
    assert len(blobs_of(svc, abandoned["id"])) == 2 and len(svc.blobs()) == 5

    assert file_sweeper.sweep_once(svc.ctx, svc.storage) == 2
    assert {r.id for r in svc.rows()} == {fresh["id"], attached["id"]}
    assert blobs_of(svc, abandoned["id"]) == [] and blobs_of(svc, abandoned_doc["id"]) == [] and len(svc.blobs()) == 2
    assert svc.client.get(f"/api/handling/v1/files/{attached['id']}", headers=leader).content == document
    assert file_sweeper.sweep_once(svc.ctx, svc.storage) == 0
    # past the keeping time the fresh one goes too, never the attached one
    later = datetime.now(timezone.utc) + timedelta(hours=keep_h)
    assert file_sweeper.sweep_once(svc.ctx, svc.storage, later) == 1
    assert [r.id for r in svc.rows()] == [attached["id"]] and len(svc.blobs()) == 1


def test_two_sweeps_at_once_remove_a_file_once(svc):
    rid, leader, staff, base = case_with_staff(svc)
    future = datetime.now(timezone.utc) + timedelta(days=2)
    for _ in range(3):
        ids = [svc.upload(f"{base}/files", _jpeg(), staff).json()["id"] for _ in range(4)]
        barrier = threading.Barrier(2)
        swept: list = [None, None]

        def sweep(i):
            barrier.wait()
            swept[i] = files.sweep_unattached(svc.ctx.engine, svc.storage, future, batch=2)

        threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sum(swept) == len(ids), swept  # each file counted by exactly one sweeper
        assert svc.rows() == [] and svc.blobs() == []


def test_a_sweep_and_an_attachment_racing_for_one_file_never_both_win(svc):
    rid, leader, staff, base = case_with_staff(svc)
    future = datetime.now(timezone.utc) + timedelta(days=2)
    for round_ in range(5):
        file_id = svc.upload(f"{base}/files", _jpeg(), staff).json()["id"]
        barrier = threading.Barrier(2)
        swept: list[int] = []
        outcome: list = []

        def sweep():
            barrier.wait()
            swept.append(files.sweep_unattached(svc.ctx.engine, svc.storage, future))

        def take():
            with svc.ctx.uow() as uow:
                barrier.wait()
                try:
                    files.attach(uow.session, "canbo", [file_id], rid, f"log:round-{round_}", datetime.now(timezone.utc))
                    uow.session.commit()
                    outcome.append("ok")
                except InvalidInput as exc:
                    uow.session.rollback()
                    outcome.append(exc)

        threads = [threading.Thread(target=sweep), threading.Thread(target=take)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        rows = {r.id: r.attached_to for r in svc.rows()}
        if outcome == ["ok"]:  # attached: its row and its blobs are whole
            assert swept == [0] and rows[file_id] == f"log:round-{round_}" and len(blobs_of(svc, file_id)) == 2
        else:  # swept: the attachment was refused and nothing of the file is left
            assert isinstance(outcome[0], InvalidInput) and swept == [1]
            assert file_id not in rows and blobs_of(svc, file_id) == []
