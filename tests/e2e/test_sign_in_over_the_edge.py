"""Sign-in as real processes behind the edge (issue 5, items 1, 5, 6): a revoked token is refused by every
service, guessing is throttled per client address, and discovery ignores a client's forwarded host."""
from __future__ import annotations

import time

from tests.e2e.harness import DEMO_PASSWORD, Client

SIGNED_IN_PATHS = ("/api/dispatch/v1/queue", "/api/handling/v1/cases", "/api/publication/v1/queue", "/api/intake/v1/reports")


def test_sign_out_reaches_every_service_and_guessing_is_throttled(paht):
    c = Client(paht.url)
    bearer = {"Authorization": f"Bearer {c.sign_in('ioc')}"}
    assert all(c.http.get(path, headers=bearer).status_code == 200 for path in SIGNED_IN_PATHS)
    assert c.http.post("/auth/revoke", headers=bearer).json() == {"revoked": True}
    assert c.http.get("/api/dispatch/v1/queue", headers=bearer).status_code == 401
    deadline = time.monotonic() + 5
    waiting = set(SIGNED_IN_PATHS)
    while waiting and time.monotonic() < deadline:  # the other services hear of it through NATS
        waiting = {path for path in waiting if c.http.get(path, headers=bearer).status_code != 401}
        time.sleep(0.05)
    assert not waiting, f"still accepted after sign-out: {waiting}"

    statuses = [c.http.post("/auth/token", data={"username": "capnuoc", "password": "sai"}).status_code for _ in range(8)]
    assert statuses == [401] * 6 + [429] * 2
    right = c.http.post("/auth/token", data={"username": "capnuoc", "password": DEMO_PASSWORD})
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert c.http.post("/auth/token", data={"username": "canbo", "password": DEMO_PASSWORD}).status_code == 200

    disco = c.http.get("/.well-known/openid-configuration", headers={"X-Forwarded-Host": "evil.example"}).json()
    assert "evil.example" not in disco["jwks_uri"] and disco["jwks_uri"].startswith(paht.url)
