"""The sync page `/sync/` on a real database: the province with the Đồng Hới hub declared shows the link to it and a
refused event (linked to its case, with its reason explained); the IOC's operators see it, other staff get the staff
pages' 403, nobody signed in goes to sign in; English on the switch; a node alone says so; nothing personal shows."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paht.runtime.http import TOKEN_COOKIE
from paht.runtime.ids import new_id
from services.sync import bootstrap
from tests.integration.test_federation_border import HUB, dispatched, from_hub, let_in
from tests.integration.test_federation_border import province  # noqa: F401  (fixture)
from tests.support.services import deliver, migrated_context, token_for

pytestmark = pytest.mark.integration
ANSWER = "Đã sửa xong mặt đường."  # the refused event's payload: never on the page


def client_as(ctx, subject: str, role: str, org: str) -> TestClient:
    client = TestClient(bootstrap.build_http(ctx))
    client.cookies.set(TOKEN_COOKIE, token_for(ctx.settings, subject, [role], org, name="Nguyễn Thị Hoa"))
    return client


def test_the_ioc_sees_the_link_to_the_hub_and_the_refused_event_with_its_reason(province):  # noqa: F811
    report = new_id()
    deliver(province, dispatched(province, report, "ward-donghoi-2025", HUB, 1, 1))
    deliver(province, dispatched(province, report, "so-gtvt", "", 2, 2))  # taken back: the hub's epoch 1 ends
    late = from_hub(report, 1, 1)
    let_in(province, late)

    page = client_as(province, "ioc", "ioc_operator", "ioc-tinh").get("/sync/")
    assert page.status_code == 200 and page.headers["content-language"] == "vi"
    assert page.headers["cache-control"] == "no-store" and "default-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert "Đồng bộ liên thông" in html and '<meta http-equiv="refresh" content="5">' in html
    assert f'<code id="node-id">{province.settings.node_id}</code>' in html and "Nút cấp tỉnh" in html
    assert f'id="declared-hubs"><code>{HUB}</code>' in html
    assert f'id="peer-{HUB}"' in html and "Mất kết nối" in html  # no watcher runs here: never reached
    assert f'href="/handling/cases/{report}"' in html and f'id="refused-{late.id}"' in html
    assert "ResultApproved" in html and "không phải nút đang giữ quyền xử lý" in html  # 'not the owner', for people
    assert "hồ sơ của tỉnh vẫn giữ nguyên giá trị" in html
    assert 'href="/sync/" aria-current="page"' in html  # the staff navigation leads here
    assert ANSWER not in html and "binh" not in html.lower()  # the payload stays in the database

    english = client_as(province, "admin", "ioc_admin", "ioc-tinh").get("/sync/?lang=en")
    assert english.status_code == 200 and english.headers["content-language"] == "en"
    assert "Federation sync" in english.text and "Disconnected" in english.text
    assert "not the owner: the report is handled by another node now" in english.text
    assert "the province&#39;s record stands" in english.text and english.cookies.get("paht_lang") == "en"


def test_other_staff_get_the_403_page_and_nobody_signed_in_goes_to_sign_in(province):  # noqa: F811
    staff = client_as(province, "canbo", "staff", "so-gtvt-kcht")
    page = staff.get("/sync/")
    assert page.status_code == 403 and "Trang này dành cho vai trò khác" in page.text and "Quản trị Trung tâm IOC" in page.text
    assert 'href="/sync/"' not in page.text  # not in their navigation either
    editor = client_as(province, "bientap", "ioc_editor", "ioc-tinh").get("/sync/")
    assert editor.status_code == 403  # OPERATIONS: the IOC's operators and administrators, not its editors

    anonymous = TestClient(bootstrap.build_http(province), follow_redirects=False)
    away = anonymous.get("/sync/")
    assert away.status_code == 303 and away.headers["location"] == "/auth/login?next=/sync/"
    assert anonymous.get("/sync").headers["location"] == "/sync/"


def test_a_node_alone_says_so_and_has_no_refused_event(settings):
    ctx = migrated_context(bootstrap.SPEC, settings)
    try:
        client = client_as(ctx, "ioc", "ioc_operator", "ioc-tinh")
        html = client.get("/sync/").text
        assert "Nút này hoạt động độc lập: chưa khai báo nút cấp huyện nào." in html and "Hoạt động độc lập" in html
        assert 'id="no-refused"' in html and "Chưa có sự kiện nào bị từ chối." in html and 'id="peer-' not in html
        english = client.get("/sync/?lang=en").text
        assert "This node runs alone: no hub declared." in english and "No event has been refused." in english
    finally:
        ctx.engine.dispose()
