"""Issue 5, item 4 on real services: a cross-site form with a valid staff cookie publishes nothing, and a
forged sign-in (login CSRF) signs nobody in; the real forms keep working."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from paht.runtime.http import TOKEN_COOKIE
from paht.runtime.web.security import CSRF_COOKIE, REPORTER_COOKIE, new_csrf_token
from services.dispatch.bootstrap import SPEC as DISPATCH, build_http as dispatch_http, seed
from services.intake import bootstrap as intake
from services.publication import bootstrap as publication
from services.publication.service_layer import handlers
from tests.integration.test_publication_service import ANSWER, approved_report
from tests.support.reporters import reporter_session
from tests.support.services import migrated_context, outbox_envelopes, token_for
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration
EVIL = {"Origin": "https://evil.example"}
PASSWORD = "mật-khẩu-thử"


def form_token(client: TestClient, page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text).group(1)


def test_a_cross_site_publish_or_return_with_the_staff_cookie_changes_nothing(settings):
    ctx = migrated_context(publication.SPEC, settings)
    try:
        report_id = approved_report(ctx, settings)
        client = TestClient(publication.build_http(ctx))
        client.cookies.set(TOKEN_COOKIE, token_for(settings, "op1", ["ioc_operator"], "ioc-tinh"))
        token = form_token(client, "/publication/queue")
        base = f"/publication/reports/{report_id}"
        attempts = [
            client.post(f"{base}/publish", data={"answer_text": ANSWER, "csrf_token": token}, headers=EVIL, follow_redirects=False),
            client.post(f"{base}/return", data={"reason": "Bổ sung ảnh hiện trường sau khi xử lý.", "csrf_token": token},
                        headers=EVIL, follow_redirects=False),
            client.post(f"{base}/publish", data={"answer_text": ANSWER}, follow_redirects=False),  # same site, no token
        ]
        assert [r.status_code for r in attempts] == [403, 403, 403]
        assert all("Biểu mẫu" in r.text and "This form" in r.text for r in attempts)
        assert handlers.get_public_report(ctx.uow(), report_id)[0].status == "approved"  # nothing changed

        real = client.post(f"{base}/publish", data={"answer_text": ANSWER, "csrf_token": token},
                           headers={"Origin": "http://testserver"}, follow_redirects=False)
        assert real.status_code == 303
        assert handlers.get_public_report(ctx.uow(), report_id)[0].status == "published"
    finally:
        ctx.engine.dispose()


def test_a_forged_sign_in_form_signs_nobody_in(settings):
    ctx = migrated_context(DISPATCH, settings.model_copy(update={"demo_password": PASSWORD}))
    try:
        seed(ctx)
        client = TestClient(dispatch_http(ctx))
        token = form_token(client, "/auth/login")
        form = {"username": "ioc", "password": PASSWORD, "next": "/", "csrf_token": token}
        forged = client.post("/auth/login", data=form, headers=EVIL, follow_redirects=False)
        assert forged.status_code == 403 and TOKEN_COOKIE not in forged.headers.get("set-cookie", "")
        no_token = client.post("/auth/login", data={k: v for k, v in form.items() if k != "csrf_token"}, follow_redirects=False)
        assert no_token.status_code == 403 and TOKEN_COOKIE not in no_token.headers.get("set-cookie", "")
        real = client.post("/auth/login", data=form, headers={"Origin": "http://testserver"}, follow_redirects=False)
        assert real.status_code == 303 and TOKEN_COOKIE in real.headers["set-cookie"]
    finally:
        ctx.engine.dispose()


def test_a_json_post_carrying_the_reporter_cookie_needs_the_csrf_header(settings):
    """A reporter's session cookie is added by the browser to any site's request: without X-CSRF-Token (which only
    this site's pages know) a JSON submission carrying it is refused before anything is stored."""
    ctx = migrated_context(intake.SPEC, settings)
    try:
        client = TestClient(intake.build_http(ctx, FakeTaxonomy()))
        token = reporter_session(ctx, "0905333444", origin="web")["Authorization"].removeprefix("Bearer ")
        client.cookies.set(REPORTER_COOKIE, token)
        report = {"reporter": {"name": "Trần Văn Nam", "email": "nam@example.vn"}, "title": "Cây đổ chắn ngang đường",
                  "description": "Một cây phượng lớn bị đổ chắn ngang đường Nguyễn Du sau cơn giông chiều nay.",
                  "address_text": "Đường Nguyễn Du, Đồng Hới", "acknowledged": True}
        forged = client.post("/api/intake/v1/reports", json=report)
        assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["error"]["detail"]["en"]
        assert client.post("/api/intake/v1/reports", json=report, headers={"X-CSRF-Token": "not-the-cookie-value-" + "x" * 20}).status_code == 403
        assert outbox_envelopes(ctx) == []

        csrf = new_csrf_token()
        client.cookies.set(CSRF_COOKIE, csrf)  # as a page of the site hands it out
        real = client.post("/api/intake/v1/reports", json=report, headers={"X-CSRF-Token": csrf})
        assert real.status_code == 201, real.text
        assert real.json()["channel"] == "web"
    finally:
        ctx.engine.dispose()
