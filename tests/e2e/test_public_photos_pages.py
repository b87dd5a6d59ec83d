"""Real Chromium against `paht up`: the IOC draws what to blur on a report's photo at step 1 (with a mouse on a desk,
with a finger on a phone), accepts the report, and the public report page shows the photo blurred, on a phone.

Screenshots (test-artifacts/screenshots/): photos-console-desk.png (the rectangle drawn, before saving),
photos-console-phone.png and photos-console-phone-photo.png (one more drawn with a finger), photos-report-phone.png
(the public page), photos-public-full.png (the blurred picture itself, as the public gets it).
"""
from __future__ import annotations

import io
import uuid

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageStat
from playwright import sync_api

from paht.runtime.walkthrough import reporter_sign_in
from tests.e2e.harness import Client
from tests.e2e.test_browser import ARTIFACT_SHOTS, DESK, PHONE, browser, shots  # noqa: F401  (fixtures)
from tests.e2e.test_intake_pages import assert_readable, new_phone, open_page, settle, sign_in_staff, site  # noqa: F401

expect = sync_api.expect
pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PLATE = (0.36, 0.42, 0.64, 0.58)  # where the number plate is, in fractions of the photo: left, top, right, bottom
FACE = (0.08, 0.10, 0.26, 0.40)   # and a passer-by's face


def street_photo() -> bytes:
    """A street with a parked car's number plate and a passer-by's face, as a phone's JPEG (with its GPS position)."""
    small = Image.new("RGB", (150, 100), (128, 136, 144))
    draw = ImageDraw.Draw(small)
    draw.rectangle([20, 55, 130, 95], fill=(40, 70, 120))                         # the car
    draw.rectangle([55, 42, 95, 58], fill=(245, 245, 235), outline=(0, 0, 0))     # its plate
    draw.text((58, 45), "73A-12", fill=(0, 0, 0))
    draw.ellipse([14, 12, 38, 38], fill=(224, 182, 150))                          # a face
    draw.ellipse([20, 20, 24, 24], fill=(20, 20, 20))
    draw.ellipse([28, 20, 32, 24], fill=(20, 20, 20))
    draw.line([21, 31, 31, 31], fill=(150, 40, 40), width=2)
    picture = small.resize((1200, 800), Image.Resampling.NEAREST)
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (17.0, 28.0, 5.0), 3: "E", 4: (106.0, 37.0, 20.0)}
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()


def drag(page, area, box, *, finger: bool = False) -> None:
    """Draw a rectangle over `box` (fractions) on the photo: with the mouse, or a finger (touch events through CDP)."""
    area.scroll_into_view_if_needed()
    frame = area.locator("img").bounding_box()
    x0, y0 = frame["x"] + box[0] * frame["width"], frame["y"] + box[1] * frame["height"]
    x1, y1 = frame["x"] + box[2] * frame["width"], frame["y"] + box[3] * frame["height"]
    if not finger:
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
        page.mouse.move(x1, y1, steps=4)
        page.mouse.up()
        return
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]})
    for k in range(1, 6):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x0 + (x1 - x0) * k / 5, "y": y0 + (y1 - y0) * k / 5}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def submitted_report(site) -> tuple[str, str, str]:  # noqa: F811
    """A citizen's report with the street photo, through the API as the app sends it: (report id, photo id, title)."""
    title = f"Ô tô đỗ trên vỉa hè đường Trần Hưng Đạo {uuid.uuid4().hex[:4]}"
    with httpx.Client(base_url=site.url, timeout=10) as http:
        reporter = reporter_sign_in(http, new_phone())
        upload = http.post("/api/intake/v1/uploads", content=street_photo(), headers={**reporter, "X-Filename": "o-to.jpg"})
        assert upload.status_code == 201, upload.text
        topic = http.get("/api/intake/v1/topics").json()["items"][0]["code"]
        body = {"reporter": {"name": "Lê Thị Hoa", "email": "hoa.le@example.vn"}, "title": title,
                "description": "Ô tô con đỗ hẳn trên vỉa hè trước số 80 Trần Hưng Đạo cả ngày, người đi bộ phải xuống lòng đường.",
                "topic_code": topic, "location": {"lat": 17.4690, "lon": 106.6210}, "address_text": "80 Trần Hưng Đạo, Đồng Hới",
                "media": [upload.json()["id"]], "acknowledged": True}
        sent = http.post("/api/intake/v1/reports", json=body, headers=reporter)
        assert sent.status_code == 201, sent.text
    return sent.json()["id"], upload.json()["id"], title


def inside(im: Image.Image, box) -> tuple[float, float]:
    """(spread of grey levels, strength of edges) of the picture inside a box given in fractions."""
    w, h = im.size
    crop = (int(box[0] * w) + 4, int(box[1] * h) + 4, int(box[2] * w) - 4, int(box[3] * h) - 4)
    grey = im.convert("L")
    return ImageStat.Stat(grey.crop(crop)).stddev[0], ImageStat.Stat(grey.filter(ImageFilter.FIND_EDGES).crop(crop)).mean[0]


def test_the_ioc_blurs_a_plate_and_a_face_and_the_public_page_shows_them_blurred(site, browser, shots):  # noqa: F811
    rid, photo, title = submitted_report(site)
    staff = Client(site.url)

    # on a desk: a rectangle over the plate with the mouse; a wrong one drawn, then removed before saving
    context, page = open_page(browser, site.url, DESK)
    try:
        sign_in_staff(page, f"/intake/queue/{rid}")
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        area = page.locator(f"#media-{photo} [data-redact]")
        expect(area.locator("img")).to_be_visible()
        settle(page)
        drag(page, area, PLATE)
        drag(page, area, (0.70, 0.05, 0.95, 0.25))  # a slip of the hand
        expect(area.locator(".blur-box")).to_have_count(2)
        state = page.locator(f"#media-{photo} [data-blur-state]")
        expect(state).to_contain_text("2 vùng sẽ được làm mờ. Chưa lưu.")
        area.get_by_role("button", name="Xóa vùng 2").click()
        expect(area.locator(".blur-box")).to_have_count(1)
        expect(state).to_contain_text("1 vùng sẽ được làm mờ. Chưa lưu.")
        assert_readable(page)
        page.locator(f"#media-{photo}").scroll_into_view_if_needed()
        shots(page, "photos-console-desk")
        page.locator(f"#media-{photo}").get_by_role("button", name="Lưu").click()
        expect(page.locator("main")).to_contain_text("Đã lưu phần công khai của tệp.")
        expect(page.locator(f"#media-{photo} [data-redact] .blur-box")).to_have_count(1)  # drawn again from what was saved
    finally:
        context.close()

    (saved,) = staff.get(f"/api/intake/v1/reports/{rid}/media", "ioc").json()["items"]
    (rect,) = saved["blur"]
    assert abs(rect["x"] - PLATE[0]) < 0.01 and abs(rect["x"] + rect["w"] - PLATE[2]) < 0.01
    assert abs(rect["y"] - PLATE[1]) < 0.01 and abs(rect["y"] + rect["h"] - PLATE[3]) < 0.01
    assert saved["version"] == 1

    # on a phone: the face, with a finger; then step 1 accepts the report
    context, page = open_page(browser, site.url, PHONE)
    try:
        sign_in_staff(page, f"/intake/queue/{rid}")
        area = page.locator(f"#media-{photo} [data-redact]")
        expect(area.locator(".blur-box")).to_have_count(1)
        settle(page)
        area.scroll_into_view_if_needed()
        drag(page, area, FACE, finger=True)
        expect(area.locator(".blur-box")).to_have_count(2)
        assert_readable(page)
        shots(page, "photos-console-phone")
        page.locator(f"#media-{photo}").screenshot(path=str(ARTIFACT_SHOTS / "photos-console-phone-photo.png"))  # the photo up close
        page.locator(f"#media-{photo}").get_by_role("button", name="Lưu").click()
        expect(page.locator("main")).to_contain_text("Đã lưu phần công khai của tệp.")
        accept = page.locator("details.action").filter(has=page.get_by_role("button", name="Tiếp nhận phản ánh"))
        accept.get_by_role("button", name="Tiếp nhận phản ánh").click()
        expect(page.get_by_role("status").first).to_contain_text("Đã tiếp nhận phản ánh")
    finally:
        context.close()

    (saved,) = staff.get(f"/api/intake/v1/reports/{rid}/media", "ioc").json()["items"]
    assert saved["version"] == 2 and len(saved["blur"]) == 2
    url = saved["public_url"]
    staff.wait_for(f"/api/publication/v1/reports/{rid}", check=lambda r: r.status_code == 200 and r.json()["media"])

    # what the public gets: the blurred picture, no position in it
    served = httpx.get(site.url + url, timeout=10)
    assert served.status_code == 200 and served.headers["x-content-type-options"] == "nosniff"
    assert b"Exif" not in served.content and b"GPS" not in served.content
    shown = Image.open(io.BytesIO(served.content))
    original = Image.open(io.BytesIO(street_photo()))
    for box in (PLATE, FACE):
        spread, edges = inside(shown, box)
        assert edges < 2 and spread < 15, (box, spread, edges)
        assert inside(original, box)[1] > 5  # there was something to read there
    assert httpx.get(site.url + url.replace("-2.jpg", "-1.jpg"), timeout=10).status_code == 404  # the earlier version is gone

    # on a phone, the public report page: the thumbnail, a link to the whole blurred picture
    context, page = open_page(browser, site.url, PHONE)
    try:
        page.goto(f"/reports/{rid}")
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        thumb = page.locator("#photos img")
        expect(thumb).to_have_count(1)
        expect(thumb).to_have_attribute("src", url)
        expect(page.locator("#photos a")).to_have_attribute("href", url)
        settle(page)
        assert page.evaluate("document.querySelector('#photos img').naturalWidth") == 1200
        assert page.locator(f"img[src*='/intake/media/{photo}']").count() == 0  # never the staff copy
        assert_readable(page)
        page.locator("#photos").scroll_into_view_if_needed()
        shots(page, "photos-report-phone")
        page.locator("#photos a").click()
        expect(page).to_have_url(site.url + url)
        shots(page, "photos-public-full")
    finally:
        context.close()
