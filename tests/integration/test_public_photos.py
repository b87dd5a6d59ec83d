"""A report's photos on the public side, on a real database (PostgreSQL when DATABASE_URL is set): the IOC blurs
rectangles or withholds a file (the API and the console's form), intake serves the blurred derivative at its public
address only while the report may be public, and publication shows what intake's events listed, only for a public
report; the two services agree on when that is (decision 0023)."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat
from sqlalchemy import select

from paht.intake.v1 import events_pb2 as ev
from paht.runtime.http import TOKEN_COOKIE
from paht.runtime.storage import LocalDiskStorage
from services.intake import bootstrap as intake_boot
from services.intake.adapters.orm import report_media, reports
from services.publication import bootstrap as publication_boot
from tests.integration.test_handling_races import together
from tests.support import media_files as mf
from tests.support.live_server import live_server
from tests.support.reporters import reporter_session
from tests.support.services import deliver, migrated_context, outbox_envelopes, token_for
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration
BOX = {"x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}
REPORT = {
    "reporter": {"name": "Trần Văn Bình", "email": "binh@example.vn"},
    "title": "Xe tải đỗ chắn lối vào trường học",
    "description": "Một xe tải đỗ trên vỉa hè trước cổng trường tiểu học từ sáng, học sinh phải đi xuống lòng đường.",
    "location": {"lat": 17.4702, "lon": 106.6188},
    "topic_code": "road-damage",
    "acknowledged": True,
}


def checkerboard_with_gps(size=(800, 600), square: int = 8) -> bytes:
    """A photo as a phone takes it (EXIF with a GPS position) of the hardest thing to hide: black and white squares."""
    im = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(im)
    for y in range(0, size[1], square):
        for x in range(0, size[0], square):
            if (x // square + y // square) % 2:
                draw.rectangle([x, y, x + square - 1, y + square - 1], fill=(0, 0, 0))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=mf.gps_exif())
    return out.getvalue()


class Site:
    """Intake (with its media storage) and publication on the same database, and the events between them."""

    def __init__(self, settings, tmp_path: Path):
        self.settings = settings
        self.intake = migrated_context(intake_boot.SPEC, settings)
        self.storage = LocalDiskStorage(tmp_path / "media")
        self.intake.media_storage, self.intake.media_spool = self.storage, tmp_path / "spool"
        self.intake_app = intake_boot.build_http(self.intake, FakeTaxonomy())
        self.client = TestClient(self.intake_app)
        self.publication = migrated_context(publication_boot.SPEC, settings)
        self.public = TestClient(publication_boot.build_http(self.publication))
        self.reporter = reporter_session(self.intake)

    def close(self) -> None:
        self.intake.engine.dispose()
        self.publication.engine.dispose()

    def ioc(self, roles=("ioc_operator",), user="ioc") -> dict:
        return {"Authorization": "Bearer " + token_for(self.settings, user, list(roles), "ioc-tinh")}

    def upload(self, data: bytes) -> str:
        r = self.client.post("/api/intake/v1/uploads", content=data, headers=self.reporter)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def submit(self, *files: bytes, **change) -> tuple[str, list[str]]:
        ids = [self.upload(f) for f in files]
        r = self.client.post("/api/intake/v1/reports", json={**REPORT, **change, "media": ids}, headers=self.reporter)
        assert r.status_code == 201, r.text
        return r.json()["id"], ids

    def accept(self, rid: str) -> None:
        r = self.client.post(f"/api/intake/v1/reports/{rid}/accept", json={"topic_code": "road-damage"}, headers=self.ioc())
        assert r.status_code == 200, r.text

    def redact(self, rid: str, mid: str, public: bool = True, blur=(), headers=None):
        return self.client.put(f"/api/intake/v1/reports/{rid}/media/{mid}/redaction", json={"public": public, "blur": list(blur)},
                               headers=self.ioc() if headers is None else headers)

    def files(self, rid: str) -> dict[str, dict]:
        r = self.client.get(f"/api/intake/v1/reports/{rid}/media", headers=self.ioc())
        assert r.status_code == 200, r.text
        return {f["id"]: f for f in r.json()["items"]}

    def events(self, rid: str) -> list:
        return [e.decode() for e in outbox_envelopes(self.intake) if e.report_id == rid]

    def publish_events(self) -> None:
        """Deliver intake's events to publication as its consumer would (each once: a repeat is a duplicate)."""
        for envelope in outbox_envelopes(self.intake):
            deliver(self.publication, envelope)

    def shown(self, rid: str) -> list[dict] | None:
        """What publication's public JSON view lists (None: the report has no public view)."""
        self.publish_events()
        r = self.public.get(f"/api/publication/v1/reports/{rid}")
        return r.json()["media"] if r.status_code == 200 else None


@pytest.fixture
def site(settings, tmp_path):
    s = Site(settings, tmp_path)
    yield s
    s.close()


def picture(response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


def detail(im: Image.Image, box) -> tuple[float, float]:
    """(spread of the grey levels, strength of the edges) inside a box."""
    grey = im.convert("L")
    return ImageStat.Stat(grey.crop(box)).stddev[0], ImageStat.Stat(grey.filter(ImageFilter.FIND_EDGES).crop(box)).mean[0]


def test_the_ioc_blurs_a_photo_and_the_public_sees_only_the_blurred_copy_of_an_accepted_report(site):
    rid, (photo,) = site.submit(checkerboard_with_gps())
    (before,) = site.files(rid).values()
    assert (before["public"], before["version"], before["blur"], before["kind"]) == (True, 0, [], "photo")  # shown by default

    saved = site.redact(rid, photo, blur=[BOX])
    assert saved.status_code == 200, saved.text
    assert (saved.json()["version"], saved.json()["blur"]) == (1, [BOX])
    url = saved.json()["public_url"]
    assert url == f"/intake/public-media/{photo}-1.jpg"
    assert site.client.get(url).status_code == 404  # not before step 1 accepts the report

    site.accept(rid)
    served = site.client.get(url)
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "public, max-age=300"
    assert served.headers["content-security-policy"] == "sandbox"
    for marker in (b"Exif", b"GPS", b"PhoneMaker"):
        assert marker not in served.content
    shown = picture(served)
    assert not shown.getexif() and shown.size == (800, 600)
    spread, edges = detail(shown, (210, 160, 590, 440))
    assert spread < 12 and edges < 1  # the squares inside the rectangle are gone
    staff_copy = picture(site.client.get(f"/intake/media/{photo}/public", headers=site.ioc()))
    assert detail(staff_copy, (210, 160, 590, 440))[1] > 20  # the IOC's own copy keeps them
    outside = ImageChops.difference(staff_copy.convert("L"), shown.convert("L")).crop((620, 0, 800, 600))
    assert ImageStat.Stat(outside).mean[0] < 6  # and outside the rectangle the public sees what the IOC sees
    assert site.client.get(f"/intake/public-media/{photo}-0.jpg").status_code == 404  # the unblurred default is gone
    assert site.client.get(f"/intake/public-media/{photo}-1.png").status_code == 404
    assert site.client.head(url).status_code == 200

    accepted = [e for e in site.events(rid) if isinstance(e, ev.ReportAccepted)][0]
    assert [(m.id, m.url, m.width, m.height, m.version) for m in accepted.public_media] == [(photo, url, 800, 600, 1)]
    assert [type(e).__name__ for e in site.events(rid)] == ["ReportSubmitted", "PublicMediaChanged", "ReportAccepted"]

    # publication: the report's JSON view, its page and Open311 name the blurred copy and nothing else
    assert site.shown(rid) == [{"url": url, "width": 800, "height": 600, "media_type": "image/jpeg", "kind": "photo"}]
    page = site.public.get(f"/reports/{rid}")
    assert page.status_code == 200 and f'src="{url}"' in page.text and f'href="{url}"' in page.text
    assert f"/intake/media/{photo}" not in page.text
    open311 = site.public.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert open311["media_url"] == "http://testserver" + url

    # a second look after acceptance: one more rectangle is a new version and a new address; the old one is gone
    with site.intake.engine.connect() as conn:
        old_key = conn.execute(select(report_media.c.redacted_key).where(report_media.c.id == photo)).scalar()
    assert old_key.startswith(f"reports/{photo}/shown-") and site.storage.exists(old_key)
    again = site.redact(rid, photo, blur=[BOX, {"x": 0.0, "y": 0.0, "w": 0.2, "h": 0.2}])
    assert again.status_code == 200 and again.json()["version"] == 2
    assert site.client.get(url).status_code == 404
    assert site.client.get(again.json()["public_url"]).status_code == 200
    assert not site.storage.exists(old_key)  # the replaced derivative is removed
    changed = site.events(rid)[-1]
    assert isinstance(changed, ev.PublicMediaChanged) and changed.public_media[0].url == again.json()["public_url"]
    assert [m["url"] for m in site.shown(rid)] == [again.json()["public_url"]]
    lines = site.client.get(f"/api/intake/v1/reports/{rid}/history", headers=site.ioc()).json()["items"]
    assert [line["text"] for line in lines if line["action"] == "media_redacted"] == [
        "Ảnh 1: công khai, làm mờ 1 vùng", "Ảnh 1: công khai, làm mờ 2 vùng"]


def test_a_withheld_photo_and_a_video_not_shown_are_never_served(site):
    rid, (photo, video) = site.submit(mf.jpeg(), mf.mp4())
    site.accept(rid)
    files = site.files(rid)
    assert files[video]["public"] is False and files[video]["public_url"] is None  # a video is withheld by default
    assert site.client.get(f"/intake/public-media/{video}-0.mp4").status_code == 404
    shown_url = files[photo]["public_url"]
    assert site.client.get(shown_url).status_code == 200  # the photo, as the reporter's public copy: not blurred, no metadata
    assert [m["url"] for m in site.shown(rid)] == [shown_url]

    withheld = site.redact(rid, photo, public=False, blur=[BOX])
    assert withheld.status_code == 200 and withheld.json()["public_url"] is None
    for version in (0, 1):
        assert site.client.get(f"/intake/public-media/{photo}-{version}.jpg").status_code == 404
    assert site.shown(rid) == []
    assert site.public.get(f"/open311/v2/requests/{rid}.json").json()[0]["media_url"] is None

    refused = site.redact(rid, video, blur=[BOX])
    assert refused.status_code == 422
    assert "video" in refused.json()["error"]["detail"]["en"] and "video" in refused.json()["error"]["detail"]["vi"]
    shown = site.redact(rid, video, public=True)
    assert shown.status_code == 200
    played = site.client.get(shown.json()["public_url"], headers={"Range": "bytes=0-99"})
    assert played.status_code == 206 and played.headers["content-type"] == "video/mp4" and len(played.content) == 100
    assert mf.ISO6709 not in site.client.get(shown.json()["public_url"]).content  # the video's public copy: no position
    assert [m["kind"] for m in site.shown(rid)] == ["video"]


def test_every_file_of_a_private_or_state_secret_report_is_a_404(site):
    private, (mine,) = site.submit(mf.jpeg(), private_result=True)
    site.accept(private)
    url = site.files(private)[mine]["public_url"]
    assert site.client.get(url).status_code == 404
    assert site.shown(private) is None and site.public.get(f"/reports/{private}").status_code == 404

    rid, (photo,) = site.submit(mf.jpeg(), title="Biển quảng cáo lấn chiếm vỉa hè")
    site.accept(rid)
    url = site.files(rid)[photo]["public_url"]
    assert site.client.get(url).status_code == 200
    secret = site.client.post(f"/api/intake/v1/reports/{rid}/classify", json={"state_secret": True}, headers=site.ioc())
    assert secret.status_code == 200
    assert site.client.get(url).status_code == 404  # at once, at intake; publication hides the whole report
    assert site.shown(rid) is None
    site.client.post(f"/api/intake/v1/reports/{rid}/classify", json={"state_secret": False}, headers=site.ioc())
    assert site.client.get(url).status_code == 200 and [m["url"] for m in site.shown(rid)] == [url]


def test_only_the_ioc_chooses_and_rectangles_that_cannot_be_one_are_a_422_in_both_languages(site):
    rid, (photo,) = site.submit(mf.jpeg())
    other, (elsewhere,) = site.submit(mf.jpeg(), title="Cây đổ chắn ngang đường Trần Hưng Đạo")
    assert site.redact(rid, photo, headers={}).status_code == 401
    assert site.redact(rid, photo, headers=site.reporter).status_code == 401  # a reporter's session is no staff sign-in
    staff = site.redact(rid, photo, headers=site.ioc(roles=("staff",), user="canbo"))
    assert staff.status_code == 403
    assert site.client.get(f"/api/intake/v1/reports/{rid}/media", headers=site.ioc(roles=("staff",), user="canbo")).status_code == 403
    for blur in ([{"x": 0.9, "y": 0.1, "w": 0.2, "h": 0.2}], [{"x": 0.1, "y": 0.1, "w": 0, "h": 0.2}],
                 [{"x": -1, "y": 0.1, "w": 0.2, "h": 0.2}], [BOX] * 21, [{**BOX, "z": 1}], [{"x": "a", "y": 0, "w": 1, "h": 1}]):
        bad = site.redact(rid, photo, blur=blur)
        assert bad.status_code == 422, (blur, bad.text)
        assert bad.json()["error"]["detail"]["vi"] and bad.json()["error"]["detail"]["en"]
    assert site.redact(rid, elsewhere, blur=[BOX]).status_code == 404  # a file of another report
    assert site.redact(rid, "not-an-id", blur=[BOX]).status_code == 404
    assert site.files(rid)[photo]["version"] == 0  # nothing of that changed anything
    site.storage.delete(f"reports/{photo}/public")  # a storage that lost the public copy: said so, never a 500
    lost = site.redact(rid, photo, blur=[BOX])
    assert lost.status_code == 404 and "không thể làm mờ" in lost.json()["error"]["detail"]["vi"]
    assert site.files(rid)[photo]["version"] == 0

    site.client.post(f"/api/intake/v1/reports/{other}/refuse", json={"reason": "out_of_scope", "reason_text": "Không thuộc phạm vi."},
                     headers=site.ioc())
    late = site.redact(other, elsewhere, public=False)
    assert late.status_code == 409 and late.json()["error"]["code"] == "error.conflict_state"


def test_the_console_form_saves_the_rectangles_drawn_with_its_csrf_token(site):
    rid, (photo,) = site.submit(mf.jpeg())
    site.client.cookies.set(TOKEN_COOKIE, token_for(site.settings, "ioc", ["ioc_operator"], "ioc-tinh"))
    page = site.client.get(f"/intake/queue/{rid}")
    assert page.status_code == 200 and "data-redact" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    action = f"/intake/queue/{rid}/media/{photo}/redaction"
    form = {"csrf_token": token, "public": "true", "blur": '[{"x":0.1,"y":0.2,"w":0.3,"h":0.4}]'}
    forged = site.client.post(action, data=form, headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403 and site.files(rid)[photo]["version"] == 0
    saved = site.client.post(action, data=form, headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/intake/queue/{rid}?done=redaction#media-{photo}"
    assert site.files(rid)[photo]["blur"] == [{"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}]
    bad = site.client.post(action, data={**form, "blur": "[{"}, headers={"Origin": "http://testserver"})
    assert bad.status_code == 422 and "Không đọc được các vùng làm mờ" in bad.text  # the console again, saying why
    withheld = site.client.post(action, data={"csrf_token": token, "blur": "[]"}, headers={"Origin": "http://testserver"},
                                follow_redirects=False)
    assert withheld.status_code == 303 and site.files(rid)[photo]["public"] is False  # an unticked box withholds


def test_two_operators_saving_one_photo_at_once_both_land_one_after_the_other(site):
    rid, (photo,) = site.submit(mf.jpeg())
    url = f"/api/intake/v1/reports/{rid}/media/{photo}/redaction"
    with live_server(site.intake_app) as base:
        answers = together(("PUT", base + url, {"public": True, "blur": [BOX]}, site.ioc(user="ioc")),
                           ("PUT", base + url, {"public": True, "blur": [BOX, BOX]}, site.ioc(user="ioc2")))
    assert sorted(a.status_code for a in answers) == [200, 200], [a.text for a in answers]
    assert sorted(a.json()["version"] for a in answers) == [1, 2]
    last = max(answers, key=lambda a: a.json()["version"]).json()
    assert site.files(rid)[photo]["blur"] == last["blur"]
    versions = [e.meta.report_version for e in site.events(rid)]
    assert versions == sorted(versions) == list(range(1, len(versions) + 1))  # the report's events in order, none lost
    keys = {p.name for p in (site.storage.root / "reports" / photo).iterdir()}
    assert sum(1 for k in keys if k.startswith("shown-")) == 1  # the derivative of the version replaced was removed


@pytest.mark.parametrize("private_result", [False, True])
def test_intake_and_publication_agree_on_when_a_report_s_files_are_public(site, private_result):
    """For each way a report can stand (waiting, accepted, refused; flagged or not): intake serves its photo exactly when
    publication lists it (one rule at intake, `may_be_public`; publication's `is_listed`, from the same facts)."""
    cases = []
    for decision in ("waiting", "accepted", "refused"):
        for secret in (False, True):
            rid, (photo,) = site.submit(mf.jpeg(), private_result=private_result,
                                        title=f"Ống nước vỡ trên đường Quang Trung {decision} {secret}")
            if secret:
                site.client.post(f"/api/intake/v1/reports/{rid}/classify", json={"state_secret": True}, headers=site.ioc())
            if decision == "accepted":
                site.accept(rid)
            elif decision == "refused":
                site.client.post(f"/api/intake/v1/reports/{rid}/refuse", json={"reason": "unclear_or_test", "reason_text": "Nội dung gửi thử."},
                                 headers=site.ioc())
            cases.append((decision, secret, rid, photo))
    for decision, secret, rid, photo in cases:
        served = site.client.get(f"/intake/public-media/{photo}-0.jpg").status_code == 200
        listed = bool(site.shown(rid))
        assert served == listed, (decision, secret, private_result)
        assert served is (decision == "accepted" and not secret and not private_result)
        with site.intake.engine.connect() as conn:
            status = conn.execute(select(reports.c.status).where(reports.c.id == rid)).scalar()
        assert status == {"waiting": "submitted", "accepted": "accepted", "refused": "refused"}[decision]
