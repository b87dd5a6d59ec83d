"""Real Chromium against `paht up`: the public portal on a phone (390x844) and a desk (1280x800).

Two reports go through step 1 (the walkthrough: "Ổ gà lớn trên đường Quang Trung", at the same spot in Đồng Hới).
On a phone a citizen types "duong" without diacritics and finds them, filters by status, then opens the map:
the two reports are drawn there (a cluster of two, then the markers once zoomed in) from the GeoJSON API. No
internet in tests: the tile URL setting is empty, so the map draws its markers on a blank background.
Screenshots go to test-artifacts/screenshots/portal-*.png.
"""
from __future__ import annotations

import re
import threading
import uuid

import pytest
from playwright import sync_api

from tests.e2e import test_browser
from tests.e2e.harness import BACKENDS, Client, backend_env, cleanup_backend, start_paht, stop_paht
from tests.e2e.test_browser import DESK, assert_readable, browser, shots  # noqa: F401  (fixtures)
from tests.e2e.test_dispatch_console import walk_until

expect = sync_api.expect
pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module", params=BACKENDS)
def paht_portal(request, tmp_path_factory):
    tag = "p" + uuid.uuid4().hex[:8]
    data = tmp_path_factory.mktemp("portal") / "data"
    running = start_paht(data, {**backend_env(request.param, tag), "PAHT_MAP_TILES_URL": ""})
    yield running
    stop_paht(running)
    cleaner = threading.Thread(target=cleanup_backend, args=(request.param, tag))
    cleaner.start()
    cleaner.join(timeout=60)


def open_page(browser, url: str, viewport: dict, locale: str = "vi-VN"):  # noqa: F811
    phone = viewport is PHONE
    context = browser.new_context(base_url=url, viewport=viewport, locale=locale, is_mobile=phone, has_touch=phone)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", lambda msg: "Content Security Policy" in msg.text and test_browser.CSP_VIOLATIONS.append(f"{page.url}: {msg.text}"))
    return context, page


def test_a_citizen_finds_reports_without_diacritics_and_sees_them_on_the_map(paht_portal, browser, shots):  # noqa: F811
    url = paht_portal.url
    first, second = walk_until(url, "accepted"), walk_until(url, "accepted")
    c = Client(url)
    c.wait_for("/api/publication/v1/reports?q=duong", None,
               check=lambda r: r.status_code == 200 and {first, second} <= {i["id"] for i in r.json()["items"]})

    context, page = open_page(browser, url, PHONE)
    page.goto("/")
    page.fill("#q", "duong quang trung")
    page.click("#search-button")
    expect(page).to_have_url(re.compile(r"q=duong\+quang\+trung"))
    results = page.locator("#reports li")
    expect(results.filter(has_text="Ổ gà lớn trên đường Quang Trung")).to_have_count(2)
    expect(page.locator("#total")).to_contain_text("2 phản ánh")
    assert_readable(page)
    shots(page, "portal-search-phone")

    page.fill("#q", "duong khong co o day")
    page.click("#search-button")
    expect(page.locator("#reports")).to_contain_text("Không có phản ánh nào phù hợp")

    page.goto("/?q=duong&status=accepted&from=2020-01-01&to=2019-01-01")  # a period that ends before it starts
    expect(page.locator(".flash-error")).to_contain_text("Ngày kết thúc trước ngày bắt đầu")

    page.goto("/?q=duong")
    page.click("#map-link")
    expect(page).to_have_url(re.compile(r"/map\?q=duong"))
    the_map = page.locator("#portal-map")
    expect(the_map).to_have_attribute("data-loaded", "points")
    # both reports are at the same spot: markercluster draws them as one cluster of 2
    expect(page.locator("#portal-map .marker-cluster")).to_have_count(1)
    expect(page.locator("#portal-map .marker-cluster")).to_contain_text("2")
    expect(page.locator("#map-status")).to_contain_text("2 phản ánh")
    assert_readable(page)
    shots(page, "portal-map-phone")
    page.locator("#portal-map .marker-cluster").click()  # spiderfies (same spot) or zooms in: the markers appear
    expect(page.locator("#portal-map .leaflet-marker-icon:not(.marker-cluster)")).to_have_count(2)
    page.locator("#portal-map .leaflet-marker-icon:not(.marker-cluster)").first.click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("Ổ gà lớn trên đường Quang Trung")
    expect(popup.get_by_role("link")).to_have_attribute("href", re.compile(r"^/reports/"))
    context.close()

    context, page = open_page(browser, url, DESK, locale="en-GB")
    page.goto("/map?lang=en")
    expect(page.locator("#portal-map")).to_have_attribute("data-loaded", "points")
    expect(page.locator("#map-status")).to_contain_text("reports in the area in view")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert_readable(page)
    shots(page, "portal-map-desk")
    page.goto("/?lang=en")
    expect(page.get_by_role("button", name="Search")).to_be_visible()
    shots(page, "portal-home-desk")
    context.close()
    assert not [v for v in test_browser.CSP_VIOLATIONS if "/map" in v or v.split(":")[0].endswith("/")], test_browser.CSP_VIOLATIONS
