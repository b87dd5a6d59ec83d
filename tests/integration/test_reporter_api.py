"""The reporter's own API on a real database: their reports (every row with their verified phone), one report with
what the IOC told them, the edit the IOC asked for (only theirs, only when asked, within the 2 days), a reply."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from paht.intake.v1 import events_pb2 as ev
from paht.runtime.sla import Step, default_engine
from services.intake.adapters.orm import reports
from services.intake.bootstrap import SPEC
from tests.integration.test_intake_step1 import PHONE, WHAT, events_of, intake_app, ioc, kinds, submit
from tests.support.reporters import reporter_session
from tests.support.services import migrated_context

pytestmark = pytest.mark.integration
OTHER = "0987654321"


@pytest.fixture
def ctx(settings):
    context = migrated_context(SPEC, settings)
    yield context
    context.engine.dispose()


@pytest.fixture
def client(ctx):
    return TestClient(intake_app(ctx))


@pytest.fixture
def me(ctx):
    return reporter_session(ctx, PHONE)


def ask_edit(client, settings, rid: str) -> dict:
    r = client.post(f"/api/intake/v1/reports/{rid}/request-edit", json={"what": WHAT}, headers=ioc(settings))
    assert r.status_code == 200, r.text
    return r.json()


def test_without_a_verified_phone_there_is_nothing_to_see(ctx, client):
    rid = submit(ctx)
    for headers in [{}, {"Authorization": "Bearer rpt_" + "x" * 43}, {"Authorization": "Bearer not-a-token"}]:
        for method, path in [("GET", "/api/intake/v1/me/reports"), ("GET", f"/api/intake/v1/me/reports/{rid}"),
                             ("POST", f"/api/intake/v1/me/reports/{rid}/reply")]:
            r = client.request(method, path, json={"text": "Xin chào"} if method == "POST" else None, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["detail"]["vi"], (method, path, headers)


def test_my_reports_are_every_report_sent_from_my_phone_newest_first_with_their_deadlines(ctx, client, settings, me):
    first = submit(ctx)
    second = submit(ctx, email="thu.phan@example.vn")  # the same person with another e-mail address
    theirs = submit(ctx, phone=OTHER, email="nam@example.vn")
    ask_edit(client, settings, first)
    r = client.get("/api/intake/v1/me/reports", headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and [i["id"] for i in body["items"]] == [second, first] and theirs not in r.text
    item = body["items"][1]
    assert item["status"] == "edit_requested" and item["status_label"]["vi"] == "đang chờ người phản ánh bổ sung, chỉnh sửa"
    assert item["edit_request"] == WHAT and item["edit_due"] and item["tracking_code"].startswith("QB-")
    received = datetime.fromisoformat(item["received_at"])
    assert datetime.fromisoformat(item["deadline"]) == default_engine().due(Step.DISPATCH, received)
    page = client.get("/api/intake/v1/me/reports", params={"limit": 1}, headers=me).json()
    assert [i["id"] for i in page["items"]] == [second] and page["next_cursor"]
    rest = client.get("/api/intake/v1/me/reports", params={"limit": 1, "cursor": page["next_cursor"]}, headers=me).json()
    assert [i["id"] for i in rest["items"]] == [first] and rest["next_cursor"] is None


def test_my_report_shows_what_the_ioc_told_me_and_not_what_stays_inside(ctx, client, settings, me):
    rid = submit(ctx)
    ioc_headers = ioc(settings)
    client.post(f"/api/intake/v1/reports/{rid}/contact", json={"purpose": "Gọi điện xác minh"}, headers=ioc_headers)
    client.post(f"/api/intake/v1/reports/{rid}/call", json={"outcome": "not_reached", "note": "Máy bận"}, headers=ioc_headers)
    client.post(f"/api/intake/v1/reports/{rid}/classify", json={"state_secret": True, "note": "Khu vực quân sự"}, headers=ioc_headers)
    client.post(f"/api/intake/v1/reports/{rid}/message", json={"text": "Chúng tôi sẽ gọi lại trong hôm nay."}, headers=ioc_headers)
    ask_edit(client, settings, rid)
    r = client.get(f"/api/intake/v1/me/reports/{rid}", headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [h["action"] for h in body["history"]] == ["submitted", "message", "edit_requested"]
    assert body["history"][1]["text"] == "Chúng tôi sẽ gọi lại trong hôm nay." and body["history"][2]["text"] == WHAT
    assert all("actor" not in h for h in body["history"])
    assert "ioc" not in r.text.replace("ioc_", "") and "Máy bận" not in r.text and "quân sự" not in r.text and "state_secret" not in r.text
    assert body["description"].startswith("Ổ gà rộng nửa mét") and body["location"] == {"lat": 17.4683, "lon": 106.6222}


def test_someone_else_s_report_is_answered_as_one_that_does_not_exist(ctx, client, settings):
    rid = submit(ctx)
    ask_edit(client, settings, rid)
    stranger = reporter_session(ctx, OTHER)
    for method, path, body in [("GET", f"/api/intake/v1/me/reports/{rid}", None),
                               ("POST", f"/api/intake/v1/me/reports/{rid}/edit", {"title": "Tiêu đề của người khác"}),
                               ("POST", f"/api/intake/v1/me/reports/{rid}/reply", {"text": "Tôi trả lời thay"})]:
        r = client.request(method, path, json=body, headers=stranger)
        missing = client.request(method, path.replace(rid, "01900000-0000-7000-8000-000000000000"), json=body, headers=stranger)
        assert r.status_code == missing.status_code == 404
        assert r.json()["error"]["detail"]["en"].replace(rid, "?") == missing.json()["error"]["detail"]["en"].replace(
            "01900000-0000-7000-8000-000000000000", "?")
    assert kinds(ctx, rid) == ["ReportSubmitted", "EditRequested"]


def test_i_edit_my_report_only_when_the_ioc_asked_and_it_goes_back_to_the_ioc(ctx, client, settings, me):
    rid = submit(ctx)
    url = f"/api/intake/v1/me/reports/{rid}/edit"
    early = client.post(url, json={"title": "Ổ gà lớn trước số nhà 120"}, headers=me)
    assert early.status_code == 409 and early.json()["error"]["detail"]["vi"]
    ask_edit(client, settings, rid)
    r = client.post(url, json={"title": "Ổ gà lớn trước số nhà 120 Quang Trung", "location": {"lat": 17.4690, "lon": 106.6230},
                               "occurred_at": (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()}, headers=me)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["edit_due"], r.json()["edit_request"]) == ("submitted", None, None)
    edited = events_of(ctx, rid)[-1]
    assert isinstance(edited, ev.ReportEdited) and edited.title == "Ổ gà lớn trước số nhà 120 Quang Trung"
    assert (edited.location.lat, edited.location.lon) == (17.4690, 106.6230) and edited.description.startswith("Ổ gà rộng nửa mét")
    assert edited.meta.actor.role == "reporter" and PHONE not in edited.SerializeToString().decode("utf-8", "ignore")
    history = client.get(f"/api/intake/v1/me/reports/{rid}", headers=me).json()["history"]
    assert history[-1]["action"] == "edited" and history[-1]["actor_kind"] == "reporter"
    assert "Tiêu đề" in history[-1]["text"] and "Vị trí trên bản đồ" in history[-1]["text"]
    again = client.post(url, json={"title": "Sửa lần nữa cho chắc"}, headers=me)
    assert again.status_code == 409  # no edit asked any more
    waiting = client.get("/api/intake/v1/reports", headers=ioc(settings)).json()["items"]
    assert rid in [i["id"] for i in waiting]  # back in step 1's work list


@pytest.mark.parametrize("body", [
    {"location": {"lat": 21.03, "lon": 105.85}},                      # outside the province
    {"location": None, "address_text": ""},                           # neither pin nor address left
    {"title": "Ổ"},                                                  # too short
    {"description": "Ổ gà\x00 rộng nửa mét giữa làn xe máy."},         # a NUL
    {"topic_code": "no-such-topic"},                                  # an unknown topic
    {"occurred_at": "2099-01-01T08:00:00+07:00"},                     # in the future
    {"occurred_at": "2026-01-01T08:00:00"},                           # without its offset
    {},                                                               # nothing changed
    {"title": "Ổ gà lớn trước số 120", "add_media": ["01900000-0000-7000-8000-000000000000"]},  # a file that is not mine
    {"add_media": ["a", "a"]},                                        # the same file twice
    {"surprise": 1},
])
def test_a_bad_edit_is_a_4xx_in_both_languages_and_changes_nothing(ctx, client, settings, me, body):
    rid = submit(ctx)
    ask_edit(client, settings, rid)
    r = client.post(f"/api/intake/v1/me/reports/{rid}/edit", json=body, headers=me)
    assert r.status_code in (400, 409, 422), r.text
    assert r.json()["error"]["message"]["vi"] and r.json()["error"]["message"]["en"]
    mine = client.get(f"/api/intake/v1/me/reports/{rid}", headers=me).json()
    assert mine["status"] == "edit_requested" and mine["title"] == "Ổ gà lớn trên đường Quang Trung" and mine["location"]["lat"] == 17.4683
    assert kinds(ctx, rid) == ["ReportSubmitted", "EditRequested"]


def upload(ctx, tmp_path, owner: str) -> str:
    """A photo uploaded beforehand (as POST /api/intake/v1/uploads stores it), not attached yet."""
    from paht.runtime.storage import LocalDiskStorage
    from paht.runtime.media import MediaLimits
    from services.intake.service_layer import media
    from tests.support.media_files import jpeg

    source = tmp_path / f"{owner[-6:]}.jpg"
    source.write_bytes(jpeg())
    return media.store_upload(ctx.engine, LocalDiskStorage(tmp_path / "media"), owner, "o-ga.jpg", source, MediaLimits(),
                              datetime.now(timezone.utc)).id


def owner_of(ctx, headers: dict) -> str:
    """Uploads belong to the verified phone behind a session (callers.reporter_owner)."""
    from services.intake.entrypoints.callers import reporter_owner
    from services.intake.service_layer.identity import session_for_token

    return reporter_owner(session_for_token(ctx.engine, headers["Authorization"].removeprefix("Bearer ")).phone)


def test_the_photo_the_ioc_asked_for_is_added_with_the_edit(ctx, client, settings, me, tmp_path):
    rid = submit(ctx)
    ask_edit(client, settings, rid)
    theirs = upload(ctx, tmp_path, owner_of(ctx, reporter_session(ctx, OTHER)))
    r = client.post(f"/api/intake/v1/me/reports/{rid}/edit", json={"add_media": [theirs]}, headers=me)
    assert r.status_code == 422 and kinds(ctx, rid) == ["ReportSubmitted", "EditRequested"]  # someone else's upload
    mine = upload(ctx, tmp_path, owner_of(ctx, me))
    r = client.post(f"/api/intake/v1/me/reports/{rid}/edit", json={"add_media": [mine]}, headers=me)
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
    edited = events_of(ctx, rid)[-1]
    assert isinstance(edited, ev.ReportEdited) and [m.id for m in edited.media] == [mine] and edited.media[0].media_type == "image/jpeg"
    detail = client.get(f"/api/intake/v1/me/reports/{rid}", headers=me).json()
    assert [m["url"] for m in detail["media"]] == [f"/intake/media/{mine}/public"]
    assert detail["history"][-1]["text"] == "Tệp đính kèm (+1)"


def test_an_edit_after_the_two_days_finds_the_report_cancelled(ctx, client, settings, me):
    rid = submit(ctx)
    ask_edit(client, settings, rid)
    with ctx.engine.begin() as conn:  # the 2 days are over; the timer job has not come by yet
        conn.execute(update(reports).where(reports.c.id == rid).values(edit_due=datetime.now(timezone.utc) - timedelta(seconds=1)))
    r = client.post(f"/api/intake/v1/me/reports/{rid}/edit", json={"title": "Ổ gà lớn trước số nhà 120"}, headers=me)
    assert r.status_code == 409 and "02 ngày" in r.json()["error"]["detail"]["vi"]
    assert kinds(ctx, rid) == ["ReportSubmitted", "EditRequested", "ReportCancelled"]
    mine = client.get(f"/api/intake/v1/me/reports/{rid}", headers=me).json()
    assert mine["status"] == "cancelled" and mine["refusal_reason"] == "edit_not_done" and "02 ngày" in mine["reason"]
    assert mine["history"][-1]["action"] == "cancelled" and mine["title"] == "Ổ gà lớn trên đường Quang Trung"


def test_i_reply_to_the_ioc_and_the_event_says_only_that_i_did(ctx, client, settings, me):
    rid = submit(ctx)
    text = "Ổ gà nằm ngay trước cổng nhà số 120, tôi có thể chỉ chỗ."
    r = client.post(f"/api/intake/v1/me/reports/{rid}/reply", json={"text": text}, headers=me)
    assert r.status_code == 200, r.text
    event = events_of(ctx, rid)[-1]
    assert isinstance(event, ev.ReporterReplied) and "cổng nhà".encode() not in event.SerializeToString()
    ioc_view = client.get(f"/api/intake/v1/reports/{rid}/history", headers=ioc(settings)).json()["items"][-1]
    assert (ioc_view["action"], ioc_view["actor_kind"], ioc_view["text"]) == ("reply", "reporter", text)
    for bad in ["", " ", "Tin\x00 nhắn", "x" * 2001]:
        assert client.post(f"/api/intake/v1/me/reports/{rid}/reply", json={"text": bad}, headers=me).status_code == 422
    assert kinds(ctx, rid) == ["ReportSubmitted", "ReporterReplied"]


def test_a_signed_out_session_sees_nothing_at_once(ctx, client, me):
    """A sign-out ends the session at once on the replica that handles it (test_reporter_otp.py: within 2 s on the others)."""
    submit(ctx)
    assert client.get("/api/intake/v1/me/reports", headers=me).status_code == 200
    from services.intake.service_layer import identity

    assert identity.sign_out(ctx.engine, me["Authorization"].removeprefix("Bearer "))  # what the sign-out route does
    assert client.get("/api/intake/v1/me/reports", headers=me).status_code == 401
