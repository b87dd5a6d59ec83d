"""Reporters who prove their phone, over HTTP on a real database: the SMS code, its limits, sessions by cookie
or token, sign-out, the development page, and two taps at once (real threads; PostgreSQL when DATABASE_URL is set)."""
from __future__ import annotations

import dataclasses
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from paht.runtime.app import make_app
from paht.runtime.db import make_engine
from paht.runtime.errors import InvalidInput, StateConflict, TooManyRequests
from paht.runtime.settings import Settings
from paht.runtime.sms import DevOutboxSms, SmsUnavailable
from paht.runtime.web.security import REPORTER_COOKIE
from services.intake.adapters.identity import otp_key
from services.intake.adapters.orm import otp_challenges, rate_counters, reporter_sessions
from services.intake.bootstrap import SPEC
from services.intake.domain.identity import SendLimits
from services.intake.entrypoints import api, reporter_api
from services.intake.service_layer import identity
from tests.support.services import migrated_context
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration

PHONE = "0912345678"
START = datetime(2026, 11, 28, 1, 0, 5, tzinfo=timezone.utc)


class Clock:
    """The time the code desk sees; tests move it."""

    def __init__(self, at: datetime = START):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta) -> None:
        self.at += timedelta(**delta)


class FailingSms:
    """A provider that is down (or, with `fail=False`, the outbox behind it)."""

    def __init__(self, outbox: DevOutboxSms):
        self.outbox, self.fail = outbox, True

    def send(self, phone: str, text: str, *, purpose: str) -> str:
        if self.fail:
            raise SmsUnavailable()
        return self.outbox.send(phone, text, purpose=purpose)


def intake_app(ctx, sms=None, clock=None):
    """Intake's shared protections with the reporter routes (the gateway and clock given) and the submission API."""
    app = make_app(ctx, "PAHT intake (test)", "reporters")
    app.include_router(reporter_api.build_router(ctx, sms=sms, clock=clock))
    app.include_router(api.build_router(ctx, FakeTaxonomy()))
    return app


@dataclasses.dataclass
class Desk:
    ctx: object
    client: TestClient
    outbox: DevOutboxSms
    clock: Clock

    def ask(self, phone: str = PHONE, **headers):
        return self.client.post("/api/intake/v1/otp", json={"phone": phone}, headers=headers)

    def code(self, phone: str = PHONE) -> str:
        return re.search(r"\b(\d{6})\b", self.outbox.recent(phone, 1)[0]["text"]).group(1)

    def verify(self, challenge_id: str, code: str, phone: str = PHONE, session: str = "token"):
        return self.client.post("/api/intake/v1/otp/verify", json={"challenge_id": challenge_id, "phone": phone, "code": code, "session": session})

    def rows(self, table) -> list:
        with self.ctx.engine.connect() as conn:
            return conn.execute(select(table)).mappings().all()


@pytest.fixture
def make_desk(settings):
    contexts = []

    def make(sms=None, **overrides) -> Desk:
        ctx = migrated_context(SPEC, settings.model_copy(update=overrides))
        contexts.append(ctx)
        outbox = DevOutboxSms(settings.data / "dev-outbox")
        clock = Clock()
        return Desk(ctx, TestClient(intake_app(ctx, sms if sms is not None else outbox, clock)), outbox, clock)

    yield make
    for ctx in contexts:
        ctx.engine.dispose()


@pytest.fixture
def desk(make_desk) -> Desk:
    return make_desk()


def csrf_token(client: TestClient) -> str:
    """The CSRF token a page with a form hands out in its cookie (its script finds the same token in the form's field):
    made here as the site makes it, since this app mounts no page with a form."""
    from paht.runtime.web.security import CSRF_COOKIE, new_csrf_token

    token = new_csrf_token()
    client.cookies.set(CSRF_COOKIE, token)
    return token


def test_a_code_goes_by_sms_and_opens_an_app_session(desk):
    r = desk.ask("+84 912 345 678")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["resend_after_s"] == 60
    assert datetime.fromisoformat(body["expires_at"]) == START + timedelta(minutes=5)
    (sent,) = desk.outbox.recent()
    assert sent["phone"] == PHONE and sent["purpose"] == "otp" and sent["text"].isascii()
    code = desk.code()
    (row,) = desk.rows(otp_challenges)
    assert row["id"] == body["challenge_id"] and code not in str(dict(row).values()) and row["attempts"] == 0

    r = desk.verify(body["challenge_id"], code)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store" and REPORTER_COOKIE not in r.headers.get("set-cookie", "")
    out = r.json()
    assert out["token"].startswith("rpt_") and out["phone"] == "09xxxxx678" and out["origin"] == "app"
    assert datetime.fromisoformat(out["expires_at"]) == START + timedelta(days=30)
    (stored,) = desk.rows(reporter_sessions)
    assert stored["token_hash"] != out["token"] and out["token"] not in str(dict(stored).values())

    me = desk.client.get("/api/intake/v1/me", headers={"Authorization": f"Bearer {out['token']}"})
    assert me.status_code == 200 and me.json()["phone"] == "09xxxxx678" and me.json()["origin"] == "app"
    assert desk.client.get("/api/intake/v1/me").status_code == 401


def test_a_cookie_session_is_the_web_origin_and_its_sign_out_needs_the_csrf_header(desk):
    challenge = desk.ask().json()["challenge_id"]
    r = desk.verify(challenge, desk.code(), session="cookie")
    assert r.status_code == 200 and r.json()["token"] is None and r.json()["origin"] == "web"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{REPORTER_COOKIE}=rpt_")
    assert all(part in cookie.lower() for part in ("httponly", "samesite=lax", "path=/", "max-age=2592000"))
    me = desk.client.get("/api/intake/v1/me")
    assert me.status_code == 200 and me.json()["origin"] == "web"

    forged = desk.client.post("/api/intake/v1/session/sign-out", json={})
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["error"]["detail"]["en"]
    assert desk.client.get("/api/intake/v1/me").status_code == 200  # still signed in
    token = csrf_token(desk.client)
    cross_site = desk.client.post("/api/intake/v1/session/sign-out", json={}, headers={"X-CSRF-Token": token, "Origin": "https://evil.example"})
    assert cross_site.status_code == 403

    out = desk.client.post("/api/intake/v1/session/sign-out", json={}, headers={"X-CSRF-Token": token})
    assert out.status_code == 200 and out.json() == {"signed_out": True}
    assert REPORTER_COOKIE in out.headers["set-cookie"] and "max-age=0" in out.headers["set-cookie"].lower()
    assert desk.client.get("/api/intake/v1/me").status_code == 401


def test_a_signed_out_token_is_refused_at_once_for_reading_and_for_submitting(desk):
    token = desk.verify(desk.ask().json()["challenge_id"], desk.code()).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert identity.session_for_token(desk.ctx.engine, token).phone == PHONE
    r = desk.client.post("/api/intake/v1/session/sign-out", headers=bearer)
    assert r.status_code == 200 and r.json() == {"signed_out": True}
    assert identity.session_for_token(desk.ctx.engine, token) is None
    assert desk.client.get("/api/intake/v1/me", headers=bearer).status_code == 401
    report = {"reporter": {"name": "Lê Văn Hải", "email": "hai@example.vn"}, "title": "Đèn đường hỏng",
              "description": "Ba cột đèn trên đường Hữu Nghị không sáng từ tuần trước.", "address_text": "Đường Hữu Nghị, Đồng Hới",
              "acknowledged": True}
    assert desk.client.post("/api/intake/v1/reports", json=report, headers=bearer).status_code == 401
    assert desk.client.post("/api/intake/v1/session/sign-out", headers=bearer).json() == {"signed_out": False}


def test_an_expired_session_is_refused(desk):
    token = desk.verify(desk.ask().json()["challenge_id"], desk.code()).json()["token"]
    assert identity.session_for_token(desk.ctx.engine, token, now=datetime.now(timezone.utc) + timedelta(days=31)) is None


def test_a_sign_out_on_another_replica_ends_the_session_here_within_the_read_period(desk, monkeypatch):
    monkeypatch.setattr(identity, "SESSION_READ_S", 0.3)
    token = desk.verify(desk.ask().json()["challenge_id"], desk.code()).json()["token"]
    here, other = desk.ctx.engine, make_engine(desk.ctx.settings, "intake")  # two replicas: each its own connections and memory
    assert identity.session_for_token(here, token) is not None
    assert identity.sign_out(other, token) is True
    assert identity.session_for_token(other, token) is None  # at once where it was signed out
    time.sleep(0.35)
    assert identity.session_for_token(here, token) is None  # and here once the read period has passed
    other.dispose()


def test_five_wrong_codes_lock_the_challenge_and_the_right_one_no_longer_opens_it(desk):
    challenge = desk.ask().json()["challenge_id"]
    code = desk.code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [desk.verify(challenge, wrong) for _ in range(5)]
    assert [a.status_code for a in answers] == [422, 422, 422, 422, 409]
    assert "còn 4 lần thử" in answers[0].json()["error"]["detail"]["vi"] and "1 try left" in answers[3].json()["error"]["detail"]["en"]
    assert "locked" in answers[4].json()["error"]["detail"]["en"]
    right = desk.verify(challenge, code)
    assert right.status_code == 409 and "mã mới" in right.json()["error"]["detail"]["vi"]
    (row,) = desk.rows(otp_challenges)
    assert row["attempts"] == 5 and row["locked_at"] is not None and row["consumed_at"] is None
    assert desk.rows(reporter_sessions) == []


def test_an_expired_code_a_replayed_code_and_a_replaced_code_each_answer_409(desk):
    first = desk.ask().json()["challenge_id"]
    first_code = desk.code()
    desk.clock.advance(minutes=5)
    expired = desk.verify(first, first_code)
    assert expired.status_code == 409 and "expired" in expired.json()["error"]["detail"]["en"]

    second = desk.ask().json()["challenge_id"]
    second_code = desk.code()
    desk.clock.advance(seconds=61)
    third = desk.ask().json()["challenge_id"]
    replaced = desk.verify(second, second_code)  # still within its 5 minutes, but a newer code was sent
    assert replaced.status_code == 409 and "newer" in replaced.json()["error"]["detail"]["en"]
    assert desk.verify(third, desk.code()).status_code == 200
    replay = desk.verify(third, desk.code())
    assert replay.status_code == 409 and "used" in replay.json()["error"]["detail"]["en"]
    assert len(desk.rows(reporter_sessions)) == 1


def test_a_code_for_another_phone_is_a_wrong_try(desk):
    challenge = desk.ask().json()["challenge_id"]
    r = desk.verify(challenge, desk.code(), phone="0987654321")
    assert r.status_code == 422
    assert desk.rows(otp_challenges)[0]["attempts"] == 1


def test_codes_to_one_phone_are_spaced_and_counted_per_hour_and_per_day(desk):
    assert desk.ask().status_code == 202
    again = desk.ask()
    assert again.status_code == 429 and again.headers["retry-after"] == "60" and "60 giây" in again.json()["error"]["detail"]["vi"]
    desk.clock.advance(seconds=30)
    assert desk.ask().headers["retry-after"] == "30"
    for _ in range(4):  # the hour window of START holds 5 codes
        desk.clock.advance(seconds=61)
        assert desk.ask().status_code == 202
    desk.clock.advance(seconds=61)
    hourly = desk.ask()
    assert hourly.status_code == 429 and "minute" in hourly.json()["error"]["detail"]["en"]
    assert int(hourly.headers["retry-after"]) == 3600 - ((desk.clock.at - START.replace(minute=0, second=0)).seconds)
    assert len(desk.outbox.recent(PHONE, 50)) == 5

    desk.clock.at = START.replace(minute=0, second=0) + timedelta(hours=1)
    for _ in range(5):
        assert desk.ask().status_code == 202
        desk.clock.advance(seconds=61)
    desk.clock.at = START.replace(minute=0, second=0) + timedelta(hours=2)
    daily = desk.ask()  # 10 today
    assert daily.status_code == 429 and int(daily.headers["retry-after"]) > 3600
    assert len(desk.outbox.recent(PHONE, 50)) == 10


def test_one_address_asking_for_many_phones_is_stopped_without_using_up_their_limits(make_desk):
    desk = make_desk(otp_per_address_hour=3)
    phones = ["0905000001", "0905000002", "0905000003", "0905000004"]
    answers = [desk.ask(p) for p in phones]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert "mạng của bạn" in answers[3].json()["error"]["detail"]["vi"] and int(answers[3].headers["retry-after"]) > 0
    with desk.ctx.engine.connect() as conn:
        counters = conn.execute(select(rate_counters.c.key, rate_counters.c.count)).all()
    assert all(p not in key and p[1:] not in key for key, _ in counters for p in phones)  # no phone in a key
    assert sum(n for key, n in counters if key.startswith("otp:address:")) == 3  # the refused one counted nothing
    other = TestClient(desk.client.app, client=("203.113.7.9", 50000))
    assert other.post("/api/intake/v1/otp", json={"phone": phones[3]}).status_code == 202  # its own limits are untouched


def test_a_failed_sms_keeps_no_code_and_counts_nothing(make_desk, settings):
    failing = FailingSms(DevOutboxSms(settings.data / "dev-outbox"))
    desk = make_desk(sms=failing)
    r = desk.ask()
    assert r.status_code == 503 and r.headers["retry-after"] and "SMS" in r.json()["error"]["detail"]["vi"]
    assert desk.rows(otp_challenges) == [] and all(row["count"] == 0 for row in desk.rows(rate_counters))
    failing.fail = False
    assert desk.ask().status_code == 202  # not "wait 60 s": nothing was sent before


@pytest.mark.parametrize("path, body, status", [
    ("/api/intake/v1/otp", {"phone": "12345"}, 422),
    ("/api/intake/v1/otp", {"phone": "0232 3822 123"}, 422),  # a landline gets no SMS
    ("/api/intake/v1/otp", {"phone": "0912345678", "extra": 1}, 422),
    ("/api/intake/v1/otp", {"phone": "0" * 500}, 422),
    ("/api/intake/v1/otp", {}, 422),
    ("/api/intake/v1/otp/verify", {"challenge_id": "0193a0e0-0000-7000-8000-000000000001", "phone": PHONE, "code": "123456"}, 404),
    ("/api/intake/v1/otp/verify", {"challenge_id": "'; drop table x", "phone": PHONE, "code": "123456"}, 404),
    ("/api/intake/v1/otp/verify", {"challenge_id": "x", "phone": PHONE, "code": "12a456"}, 422),
    ("/api/intake/v1/otp/verify", {"challenge_id": "x", "phone": PHONE, "code": "123456", "session": "jwt"}, 422),
    ("/api/intake/v1/otp/verify", {"challenge_id": "x", "phone": "abc", "code": "123456"}, 422),
])
def test_bad_input_is_a_bilingual_4xx(desk, path, body, status):
    r = desk.client.post(path, json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["message"]["vi"] and error["message"]["en"]
    assert desk.rows(otp_challenges) == [] and desk.outbox.recent() == []


def test_the_demo_codes_page_and_api_exist_in_the_embedded_run(desk):
    desk.ask()
    code = desk.code()
    page = desk.client.get("/intake/dev/sms")
    assert page.status_code == 200 and code in page.text and "09xxxxx678" in page.text and PHONE not in page.text
    assert "Chỉ dùng khi phát triển" in page.text
    assert "Development only" in desk.client.get("/intake/dev/sms?lang=en").text
    found = desk.client.get("/api/intake/v1/dev/sms", params={"phone": "+84912345678"})
    assert found.status_code == 200 and found.json()["items"][0]["code"] == code
    assert desk.client.get("/api/intake/v1/dev/sms", params={"phone": "0987654321"}).json()["items"] == []


def test_production_shows_no_demo_codes_needs_an_otp_secret_and_never_writes_codes_to_disk(settings, make_desk):
    desk = make_desk()
    production = Settings(env="production", data=settings.data, database_url="postgresql://x/y", nats_url="nats://x:4222",
                          otp_secret="s" * 40, db_schema_prefix=settings.db_schema_prefix)
    ctx = dataclasses.replace(desk.ctx, settings=production)
    with pytest.raises(RuntimeError, match="PAHT_OTP_SECRET"):
        reporter_api.build_router(dataclasses.replace(ctx, settings=production.model_copy(update={"otp_secret": None})))
    app = make_app(ctx, "PAHT intake (production)", "reporters")
    app.include_router(reporter_api.build_router(ctx))  # no PAHT_SMS_GATEWAY_URL
    client = TestClient(app)
    assert client.get("/intake/dev/sms").status_code == 404
    assert client.get("/api/intake/v1/dev/sms", params={"phone": PHONE}).status_code == 404
    r = client.post("/api/intake/v1/otp", json={"phone": PHONE})
    assert r.status_code == 503 and "tổng đài" in r.json()["error"]["detail"]["vi"]
    assert desk.rows(otp_challenges) == [] and not (settings.data / "dev-outbox" / "sms.jsonl").exists()

    given = make_app(ctx, "PAHT intake (production)", "reporters")  # even with the outbox handed in
    given.include_router(reporter_api.build_router(ctx, sms=desk.outbox))
    assert TestClient(given).get("/intake/dev/sms").status_code == 404


def test_the_otp_key_is_made_once_private_and_reused(settings):
    first = otp_key(settings)
    path = settings.data / "keys" / "otp.key"
    assert len(first) == 64 and path.stat().st_mode & 0o077 == 0
    assert otp_key(settings) == first
    assert otp_key(settings.model_copy(update={"otp_secret": "z" * 32})) == b"z" * 32
    with pytest.raises(RuntimeError, match="32"):
        otp_key(settings.model_copy(update={"otp_secret": "short"}))


def test_old_codes_sessions_and_counters_are_deleted_on_the_way(desk):
    long_ago = START - timedelta(days=3)
    with desk.ctx.engine.begin() as conn:
        conn.execute(insert(otp_challenges).values(id="old", phone="0905000009", code_hash="x" * 64, created_at=long_ago,
                                                   expires_at=long_ago + timedelta(minutes=5), attempts=0))
        conn.execute(insert(reporter_sessions).values(token_hash="o" * 64, phone="0905000009", origin="app", created_at=long_ago - timedelta(days=30),
                                                      expires_at=long_ago))
        conn.execute(insert(reporter_sessions).values(token_hash="r" * 64, phone="0905000009", origin="app", created_at=long_ago,
                                                      expires_at=START + timedelta(days=20), revoked_at=long_ago))
        conn.execute(insert(rate_counters).values(key="otp:phone:3600:old", window_start=int(long_ago.timestamp()), count=3))
    assert desk.ask().status_code == 202
    assert [r["phone"] for r in desk.rows(otp_challenges)] == [PHONE]
    assert desk.rows(reporter_sessions) == []
    assert all(r["key"] != "otp:phone:3600:old" for r in desk.rows(rate_counters))


# ---- two taps at once: real threads on the real database


def otp_desk(ctx, outbox: DevOutboxSms, limits: SendLimits = SendLimits()) -> identity.Otp:
    return identity.Otp(ctx.engine, otp_key(ctx.settings), outbox, limits)


def at_once(n: int, work) -> list:
    """Run work(i) in n threads released together; return each one's result or exception."""
    barrier, results = threading.Barrier(n), [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # the answer under test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_taps_with_the_right_code_open_one_session(settings):
    ctx = migrated_context(SPEC, settings)
    try:
        outbox = DevOutboxSms(settings.data / "dev-outbox")
        otp = otp_desk(ctx, outbox)
        for round in range(5):
            phone = f"09050001{round:02d}"
            sent = identity.request_code(otp, phone, "198.51.100.7")
            code = re.search(r"\b(\d{6})\b", outbox.recent(phone, 1)[0]["text"]).group(1)
            results = at_once(4, lambda i: identity.verify_code(otp, sent.challenge_id, phone, code, "app"))
            won = [r for r in results if isinstance(r, tuple)]
            assert len(won) == 1, results
            assert all(isinstance(r, StateConflict) and "used" in r.detail_en for r in results if r not in won)
            with ctx.engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(reporter_sessions).where(reporter_sessions.c.phone == phone)).scalar() == 1
    finally:
        ctx.engine.dispose()


def test_wrong_codes_at_once_lose_no_count_and_lock_at_five(settings):
    ctx = migrated_context(SPEC, settings)
    try:
        outbox = DevOutboxSms(settings.data / "dev-outbox")
        otp = otp_desk(ctx, outbox)
        sent = identity.request_code(otp, PHONE, "198.51.100.7")
        code = re.search(r"\b(\d{6})\b", outbox.recent(PHONE, 1)[0]["text"]).group(1)
        wrong = f"{(int(code) + 7) % 1_000_000:06d}"
        results = at_once(9, lambda i: identity.verify_code(otp, sent.challenge_id, PHONE, wrong, "app"))
        assert sum(isinstance(r, InvalidInput) for r in results) == 4  # tries 1-4
        assert sum(isinstance(r, StateConflict) for r in results) == 5  # the 5th locks; the rest find it locked
        with ctx.engine.connect() as conn:
            row = conn.execute(select(otp_challenges)).mappings().one()
        assert row["attempts"] == 5 and row["locked_at"] is not None
        assert isinstance(at_once(1, lambda i: identity.verify_code(otp, sent.challenge_id, PHONE, code, "app"))[0], StateConflict)
    finally:
        ctx.engine.dispose()


def test_many_requests_for_one_phone_at_once_send_one_code(settings):
    ctx = migrated_context(SPEC, settings)
    try:
        outbox = DevOutboxSms(settings.data / "dev-outbox")
        otp = otp_desk(ctx, outbox)
        results = at_once(6, lambda i: identity.request_code(otp, PHONE, f"198.51.100.{i + 1}"))
        assert sum(isinstance(r, identity.CodeSent) for r in results) == 1, results
        assert all(isinstance(r, TooManyRequests) for r in results if not isinstance(r, identity.CodeSent))
        assert len(outbox.recent(PHONE, 10)) == 1
        with ctx.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(otp_challenges)).scalar() == 1
            # every refused request rolled back its counts: the phone's hour counter holds the one code sent
            counts = conn.execute(select(rate_counters.c.key, rate_counters.c.count)).all()
        assert sorted(n for key, n in counts if key.startswith("otp:phone:")) == [1, 1]
    finally:
        ctx.engine.dispose()
