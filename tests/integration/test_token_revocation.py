"""Signing out revokes the token everywhere (issue 5, item 5): dispatch keeps the revocation, publishes it
through NATS, and another service (handling) refuses the token as soon as its watcher hears of it."""
from __future__ import annotations

import asyncio
import threading
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from paht.runtime import revocation
from paht.runtime.events import bus
from services.dispatch import bootstrap as dispatch
from services.handling import bootstrap as handling
from tests.support.services import migrated_context

pytestmark = pytest.mark.integration
PASSWORD = "mật-khẩu-thử"


@pytest.fixture
def contexts(settings):
    settings = settings.model_copy(update={"demo_password": PASSWORD})
    d, h = migrated_context(dispatch.SPEC, settings), migrated_context(handling.SPEC, settings)
    dispatch.seed(d)
    yield d, h
    d.engine.dispose()
    h.engine.dispose()


class EventLoop:
    """What each service's host runs once NATS is up, on a loop of its own: the watcher, dispatch's publisher."""

    def __init__(self, nats_url: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.nc = self.call(bus.connect(nats_url, "test-revocation"))
        self.js = self.nc.jetstream(timeout=5)
        self.tasks = []

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=20)

    def start(self, coro) -> None:
        self.tasks.append(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self, node_id: str) -> None:
        for task in self.tasks:
            task.cancel()

        async def clean():
            await asyncio.sleep(0.1)
            try:
                await self.js.delete_key_value(revocation.bucket_name(node_id))
            finally:
                await self.nc.close()

        self.call(clean())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def eventually_refused(client: TestClient, path: str, token: str, within_s: float = 10.0) -> float:
    """Return how long it took until `path` answered 401 to the token."""
    began = time.monotonic()
    while time.monotonic() - began < within_s:
        if client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 401:
            return time.monotonic() - began
        time.sleep(0.05)
    raise AssertionError(f"{path} still accepts a revoked token after {within_s} s")


def test_logout_and_revoke_refuse_the_token_in_dispatch_and_in_handling(contexts, nats_url):
    d, h = contexts
    events = EventLoop(nats_url)
    try:
        events.start(revocation.watch(events.js, h.settings.node_id, h.settings.token_ttl_s, h.verifier.revoked))
        events.start(dispatch.SPEC.background["revocation publisher"](d, events.js))
        desk, cases = TestClient(dispatch.build_http(d)), TestClient(handling.build_http(h))

        # the browser: sign in with the form, work, sign out with the form
        desk.get("/auth/login")
        csrf = desk.cookies.get("paht_csrf")
        signed_in = desk.post("/auth/login", data={"username": "ioc", "password": PASSWORD, "next": "/", "csrf_token": csrf}, follow_redirects=False)
        assert signed_in.status_code == 303
        cookie = desk.cookies.get("paht_token")
        assert cases.get("/api/handling/v1/cases", headers={"Authorization": f"Bearer {cookie}"}).status_code == 200
        out = desk.post("/auth/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 303 and 'paht_token=""' in out.headers["set-cookie"]
        assert desk.get("/api/dispatch/v1/queue", headers={"Authorization": f"Bearer {cookie}"}).status_code == 401  # at once
        assert eventually_refused(cases, "/api/handling/v1/cases", cookie) < 5

        # a program: revoke its bearer token through the API
        token = desk.post("/auth/token", data={"username": "ioc", "password": PASSWORD}).json()["access_token"]
        assert cases.get("/api/handling/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        revoked = desk.post("/auth/revoke", headers={"Authorization": f"Bearer {token}"})
        assert revoked.status_code == 200 and revoked.json() == {"revoked": True}
        assert desk.post("/auth/revoke", headers={"Authorization": f"Bearer {token}"}).status_code == 401  # already signed out
        assert eventually_refused(cases, "/api/handling/v1/cases", token) < 5

        # a service that starts later learns every revocation still in force from the bucket
        late = migrated_context(handling.SPEC, h.settings)
        events.start(revocation.watch(events.js, late.settings.node_id, late.settings.token_ttl_s, late.verifier.revoked))
        assert eventually_refused(TestClient(handling.build_http(late)), "/api/handling/v1/cases", cookie) < 5
        late.engine.dispose()
    finally:
        events.close(h.settings.node_id)


def test_another_dispatch_replica_refuses_a_revoked_token_without_nats(contexts):
    """NATS down: dispatch's replicas still refuse it, from the table they share (the source of truth)."""
    d, _h = contexts
    replica = migrated_context(dispatch.SPEC, d.settings)
    first, second = TestClient(dispatch.build_http(d)), TestClient(dispatch.build_http(replica))
    token = first.post("/auth/token", data={"username": "ioc", "password": PASSWORD}).json()["access_token"]
    assert second.get("/api/dispatch/v1/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert first.post("/auth/revoke", headers={"Authorization": f"Bearer {token}"}).json() == {"revoked": True}
    assert second.get("/api/dispatch/v1/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    replica.engine.dispose()


def test_a_signed_token_without_exp_is_refused_by_every_service(contexts):
    d, h = contexts
    key = d.settings.token_private_key_file.read_bytes()
    forever = jwt.encode({"iss": "paht", "aud": "paht", "sub": "ioc", "roles": ["ioc_admin"], "org_unit": "ioc-tinh", "iat": int(time.time())},
                         key, algorithm="ES256")
    for client, path in ((TestClient(dispatch.build_http(d)), "/api/dispatch/v1/queue"), (TestClient(handling.build_http(h)), "/api/handling/v1/cases")):
        refused = client.get(path, headers={"Authorization": f"Bearer {forever}"})
        assert refused.status_code == 401 and "exp" in refused.json()["error"]["detail"]["en"]
