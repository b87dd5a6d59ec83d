"""Sign-in throttling on a real database (issue 5, item 1): 429 with Retry-After, counters that survive a
restart, a pair locked harder than the account, an audit of every lock, and parallel attempts all counted."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from fastapi.testclient import TestClient

from paht.runtime.auth import TokenIssuer
from paht.runtime.errors import TooManyRequests, Unauthorized
from services.dispatch.bootstrap import SPEC, build_http, seed
from services.dispatch.domain.sign_in import FORGET_AFTER, RULES, Attempt, Scope
from services.dispatch.service_layer import sign_in
from tests.support.live_server import live_server
from tests.support.services import migrated_context

pytestmark = pytest.mark.integration
PASSWORD = "mật-khẩu-thử"
ATTACKER, OWNER = ("203.0.113.66", 40000), ("198.51.100.20", 40000)
PAIR_TRIES = RULES[Scope.PAIR].free + 1  # the free failures, then the one that sets the lock


@pytest.fixture
def dispatch(settings):
    ctx = migrated_context(SPEC, settings.model_copy(update={"demo_password": PASSWORD}))
    seed(ctx)
    yield ctx
    ctx.engine.dispose()


@pytest.fixture
def hashes(monkeypatch):
    """Count the password checks (the argon2 work) that sign-in really does."""
    calls = []
    real = sign_in.check_password

    def counting(stored, password):
        calls.append(1)
        return real(stored, password)

    monkeypatch.setattr(sign_in, "check_password", counting)
    return calls


def counter(ctx, scope: Scope, attempt: Attempt):
    with ctx.uow() as uow:
        return uow.sign_in.read(attempt)[scope]


def test_a_brute_force_gets_429_with_retry_after_and_no_more_hashing(dispatch, hashes):
    client = TestClient(build_http(dispatch), client=ATTACKER)
    answers = [client.post("/auth/token", data={"username": "ioc", "password": f"guess-{i}"}) for i in range(290)]
    statuses = [r.status_code for r in answers]
    assert statuses[:PAIR_TRIES] == [401] * PAIR_TRIES and set(statuses[PAIR_TRIES:]) == {429}
    refused = answers[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= RULES[Scope.PAIR].base_s
    assert refused.json()["error"]["code"] == "error.too_many_requests" and refused.json()["error"]["detail"]["vi"]
    assert len(hashes) == PAIR_TRIES  # refused attempts never reach the password check
    right = client.post("/auth/token", data={"username": "ioc", "password": PASSWORD})
    assert right.status_code == 429  # the pair stays locked, even for the right password
    (lock,) = sign_in.locks_of(dispatch.uow(), "ioc")
    assert (lock["scope"], lock["address"], lock["failures"]) == ("pair", ATTACKER[0], PAIR_TRIES) and lock["locked_until"] > lock["at"]


def test_the_login_form_is_throttled_too_and_says_so_in_the_visitors_language(dispatch, hashes):
    client = TestClient(build_http(dispatch), client=ATTACKER)
    client.get("/auth/login")
    form = {"username": "canbo", "password": "sai", "next": "/", "csrf_token": client.cookies.get("paht_csrf")}
    statuses = [client.post("/auth/login", data=form, follow_redirects=False).status_code for _ in range(PAIR_TRIES + 3)]
    assert statuses == [401] * PAIR_TRIES + [429] * 3
    page = client.post("/auth/login", data={**form, "password": PASSWORD}, follow_redirects=False)
    assert page.status_code == 429 and int(page.headers["Retry-After"]) >= 1 and "Đăng nhập sai quá nhiều lần" in page.text
    english = client.post("/auth/login?lang=en", data=form, headers={"Accept-Language": "en"}, follow_redirects=False)
    assert english.status_code == 429 and "Too many wrong sign-ins" in english.text
    assert len(hashes) == PAIR_TRIES


def test_counters_survive_a_restart(dispatch, settings):
    client = TestClient(build_http(dispatch), client=ATTACKER)
    for _ in range(PAIR_TRIES):
        client.post("/auth/token", data={"username": "ioc", "password": "sai"})
    dispatch.engine.dispose()
    restarted = migrated_context(SPEC, dispatch.settings)  # a new process: new engine, nothing in memory
    again = TestClient(build_http(restarted), client=ATTACKER).post("/auth/token", data={"username": "ioc", "password": PASSWORD})
    assert again.status_code == 429
    restarted.engine.dispose()


def test_the_owner_signs_in_from_elsewhere_while_the_attackers_pair_is_locked(dispatch):
    attacker = TestClient(build_http(dispatch), client=ATTACKER)
    for _ in range(PAIR_TRIES + 5):
        attacker.post("/auth/token", data={"username": "ioc", "password": "sai"})
    assert attacker.post("/auth/token", data={"username": "ioc", "password": PASSWORD}).status_code == 429
    owner = TestClient(build_http(dispatch), client=OWNER)
    assert owner.post("/auth/token", data={"username": "ioc", "password": PASSWORD}).status_code == 200
    attempt = Attempt.of("ioc", OWNER[0])
    assert counter(dispatch, Scope.PAIR, attempt).last_success_at is not None
    assert counter(dispatch, Scope.ACCOUNT, attempt).failures == PAIR_TRIES  # the owner's try was given back


def test_a_right_password_clears_the_pairs_failures(dispatch):
    client = TestClient(build_http(dispatch), client=OWNER)
    for _ in range(PAIR_TRIES - 2):
        assert client.post("/auth/token", data={"username": "ioc", "password": "sai"}).status_code == 401
    assert client.post("/auth/token", data={"username": "ioc", "password": PASSWORD}).status_code == 200
    assert counter(dispatch, Scope.PAIR, Attempt.of("ioc", OWNER[0])).failures == 0
    for _ in range(PAIR_TRIES - 1):  # a fresh allowance: the earlier failures do not add up to a lock
        assert client.post("/auth/token", data={"username": "ioc", "password": "sai"}).status_code == 401


def test_parallel_attempts_from_many_addresses_are_all_counted(dispatch, monkeypatch):
    """Concurrent units of work (40 threads) on one account: exactly the free tries plus one reach the check."""
    checked = []

    def slow_wrong(stored, password):  # the hash's time, without its memory: the race window stays open
        checked.append(1)
        time.sleep(0.05)
        return False

    monkeypatch.setattr(sign_in, "check_password", slow_wrong)
    issuer = TokenIssuer.from_settings(dispatch.settings)
    start = threading.Barrier(40)

    def attempt(i: int) -> str:
        start.wait()
        try:
            sign_in.sign_in(dispatch.uow(), issuer, Attempt.of("truongphong", f"10.1.{i}.1"), "sai")
        except Unauthorized:
            return "wrong"
        except TooManyRequests:
            return "locked"
        return "signed in"

    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(attempt, range(40)))
    tries = RULES[Scope.ACCOUNT].free + 1
    assert outcomes.count("wrong") == tries == len(checked) and outcomes.count("locked") == 40 - tries
    assert counter(dispatch, Scope.ACCOUNT, Attempt.of("truongphong", "10.1.0.1")).failures == tries


def test_parallel_wrong_sign_ins_at_a_real_server_are_all_counted(dispatch, hashes):
    """40 parallel requests at a real HTTP server, one client behind the edge: every checked attempt counted once."""
    app = build_http(dispatch)
    behind_edge = {"X-Forwarded-For": "203.0.113.77"}  # the server's peer is 127.0.0.1, a trusted proxy
    start = threading.Barrier(40)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=40)) as http:
        def attempt(i: int) -> int:
            start.wait()
            return http.post("/auth/token", data={"username": "sogtvt", "password": f"guess-{i}"}, headers=behind_edge).status_code

        with ThreadPoolExecutor(40) as pool:
            statuses = list(pool.map(attempt, range(40)))
        after = http.post("/auth/token", data={"username": "sogtvt", "password": PASSWORD}, headers=behind_edge)
    assert set(statuses) <= {401, 429, 503} and statuses.count(401) == PAIR_TRIES == len(hashes)
    assert after.status_code == 429 and after.headers["Retry-After"]
    attempt = Attempt.of("sogtvt", "203.0.113.77")
    assert counter(dispatch, Scope.PAIR, attempt).failures == counter(dispatch, Scope.ACCOUNT, attempt).failures == PAIR_TRIES


def test_counters_nobody_touched_for_a_day_are_forgotten_but_known_pairs_stay(dispatch):
    now = datetime.now(timezone.utc)
    long_ago = now - FORGET_AFTER - timedelta(hours=1)
    issuer = TokenIssuer.from_settings(dispatch.settings)
    with pytest.raises(Unauthorized):
        sign_in.sign_in(dispatch.uow(), issuer, Attempt.of("nobody", "192.0.2.1"), "sai", now=long_ago)
    sign_in.sign_in(dispatch.uow(), issuer, Attempt.of("ioc", "192.0.2.2"), PASSWORD, now=long_ago)
    with dispatch.uow() as uow:
        forgotten = uow.sign_in.forget_before(now - FORGET_AFTER, now)
        uow.commit()
    assert forgotten == 5  # "nobody": pair, account, address; "ioc": account and address, whose try was given back
    assert counter(dispatch, Scope.PAIR, Attempt.of("ioc", "192.0.2.2")).last_success_at is not None  # known pair kept
