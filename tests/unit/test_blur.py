"""The regions the IOC marks in a public photo: the rectangles' checks, the blur itself (what was inside is gone, what
was outside is kept, nothing of the original's metadata survives), and the rules around it in intake and publication."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

from paht.runtime.errors import InvalidInput
from paht.runtime.media import MAX_REGIONS, MediaLimits, Region, blur_regions, examine, regions_from
from services.intake.domain.redaction import Redaction, may_be_public, shown_by_default
from services.intake.domain.vocabulary import Status
from services.publication.domain.public_report import PublicMedia, PublicReport, Step, Visibility
from tests.support import media_files as mf

SIZE = (800, 600)
BOX = {"x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}  # pixels 200..600 x 150..450


def checkerboard(size=SIZE, square: int = 8) -> Image.Image:
    """Black and white squares: the highest contrast a picture has, the hardest to hide."""
    im = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(im)
    for y in range(0, size[1], square):
        for x in range(0, size[0], square):
            if (x // square + y // square) % 2:
                draw.rectangle([x, y, x + square - 1, y + square - 1], fill=(0, 0, 0))
    return im


def plate(size=SIZE) -> Image.Image:
    """A number plate filling the rectangle: dark characters eight pixels to a stroke on a light plate, on a grey street."""
    small = Image.new("RGB", (size[0] // 8, size[1] // 8), (120, 130, 140))
    draw = ImageDraw.Draw(small)
    draw.rectangle([25, 19, 74, 55], fill=(235, 235, 225))
    draw.text((27, 22), "73A-12", fill=(10, 10, 10))
    draw.text((27, 38), "QB 345", fill=(10, 10, 10))
    return small.resize(size, Image.Resampling.NEAREST)


def jpeg_file(tmp_path: Path, im: Image.Image, name: str = "public.jpg", **save) -> Path:
    path = tmp_path / name
    im.save(path, "JPEG", quality=90, **save)
    return path


def stats(im: Image.Image, box) -> ImageStat.Stat:
    return ImageStat.Stat(im.convert("L").crop(box))


def edges(im: Image.Image, box) -> float:
    """How much detail a region holds: the mean strength of its edges."""
    return ImageStat.Stat(im.convert("L").filter(ImageFilter.FIND_EDGES).crop(box)).mean[0]


def blurred(tmp_path: Path, im: Image.Image, regions=(BOX,), **save) -> tuple[Image.Image, Image.Image]:
    """(the picture as stored, the picture blurred), both decoded."""
    source = jpeg_file(tmp_path, im, **save)
    out = tmp_path / "shown.jpg"
    size = blur_regions(source, out, regions_from(list(regions)))
    result = Image.open(out)
    assert result.size == size == im.size
    return Image.open(source).convert("RGB"), result.convert("RGB")


@pytest.mark.parametrize("picture", [checkerboard, plate], ids=["checkerboard", "plate text"])
def test_inside_a_rectangle_the_picture_becomes_a_near_uniform_smear(tmp_path, picture):
    before, after = blurred(tmp_path, picture())
    inside = (210, 160, 590, 440)
    assert stats(before, inside).stddev[0] > 40          # the pattern is there to begin with
    assert stats(after, inside).stddev[0] < 12           # after: a few shades at most (the blocks' means, smoothed)
    assert edges(before, inside) > 5 and edges(after, inside) < 1  # and no edge, no stroke is left to read
    # not merely softened: the difference to what was there is as large as the pattern itself
    assert stats(ImageChops.difference(before, after), inside).mean[0] > 30


@pytest.mark.parametrize("picture", [checkerboard, plate], ids=["checkerboard", "plate text"])
def test_outside_the_rectangles_the_picture_is_kept_within_jpeg_tolerance(tmp_path, picture):
    before, after = blurred(tmp_path, picture(), regions=[BOX, {"x": 0.0, "y": 0.0, "w": 0.1, "h": 0.1}])
    diff = ImageChops.difference(before, after).convert("L")
    for outside in ((620, 0, 800, 600), (0, 470, 800, 600), (100, 100, 180, 140)):
        assert ImageStat.Stat(diff.crop(outside)).mean[0] < 6, outside  # one more JPEG generation, nothing else


def test_the_blocks_carry_noise_so_two_blurs_of_one_picture_differ(tmp_path):
    """Guessing what was hidden and comparing blurred guesses with the published blur finds no exact match."""
    source = jpeg_file(tmp_path, plate())
    one, two = tmp_path / "1.jpg", tmp_path / "2.jpg"
    blur_regions(source, one, regions_from([BOX]))
    blur_regions(source, two, regions_from([BOX]))
    inside = (210, 160, 590, 440)
    assert ImageStat.Stat(ImageChops.difference(Image.open(one), Image.open(two)).convert("L").crop(inside)).mean[0] > 0.5


def test_no_metadata_survives_even_from_a_photo_with_a_gps_position(tmp_path):
    """Through the public copy (as intake does) and straight from a JPEG that still carries EXIF GPS, XMP and a comment."""
    original = tmp_path / "original.jpg"
    original.write_bytes(mf.jpeg(size=(640, 480), orientation=6))
    assert Image.open(original).getexif().get_ifd(0x8825)  # the GPS position is in the original
    public = tmp_path / "public.jpg"
    checked = examine(original, public, MediaLimits())
    assert (checked.public_width, checked.public_height) == (480, 640)  # upright
    for source in (public, original):
        out = tmp_path / f"shown-{source.stem}.jpg"
        blur_regions(source, out, regions_from([{"x": 0.1, "y": 0.1, "w": 0.3, "h": 0.2}]))
        data = out.read_bytes()
        with Image.open(out) as im:
            assert not im.getexif() and not im.getexif().get_ifd(0x8825)
            assert not {"exif", "xmp", "comment", "icc_profile", "XML:com.adobe.xmp"} & set(im.info)
        for marker in (b"Exif", b"GPS", b"xmpmeta", b"taken at home", b"PhoneMaker"):
            assert marker not in data, marker


def test_a_rectangle_covers_at_least_what_was_marked_rounding_outwards():
    assert Region(0.1, 0.1, 0.2, 0.2).box(101, 51) == (10, 5, 31, 16)
    assert Region(0.999, 0.999, 0.001, 0.001).box(100, 100) == (99, 99, 100, 100)  # a sliver is still a pixel
    assert Region(0.0, 0.0, 1.0, 1.0).box(7, 3) == (0, 0, 7, 3)


@pytest.mark.parametrize("items, says", [
    ("not a list", "list"),
    ([{"x": 0.1, "y": 0.1, "w": 0.2}], "x, y, w"),
    ([{"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "z": 1}], "x, y, w"),
    (["0.1,0.1,0.2,0.2"], "x, y, w"),
    ([{"x": "0.1", "y": 0.1, "w": 0.2, "h": 0.2}], "must be a number"),
    ([{"x": True, "y": 0.1, "w": 0.2, "h": 0.2}], "must be a number"),
    ([{"x": float("nan"), "y": 0.1, "w": 0.2, "h": 0.2}], "must be a number"),
    ([{"x": -0.1, "y": 0.1, "w": 0.2, "h": 0.2}], "from 0 to 1"),
    ([{"x": 0.1, "y": 1.5, "w": 0.2, "h": 0.2}], "from 0 to 1"),
    ([{"x": 0.1, "y": 0.1, "w": 0, "h": 0.2}], "more than 0"),
    ([{"x": 0.9, "y": 0.1, "w": 0.2, "h": 0.2}], "outside the picture"),
    ([{"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}, {"x": 0.5, "y": 0.5, "w": 0.6, "h": 0.1}], "rectangle 2"),
    ([{"x": 0.01 * i, "y": 0.0, "w": 0.01, "h": 0.01} for i in range(MAX_REGIONS + 1)], f"At most {MAX_REGIONS}"),
])
def test_rectangles_that_cannot_be_one_are_refused_in_both_languages(items, says):
    with pytest.raises(InvalidInput) as refused:
        regions_from(items)
    assert says in refused.value.detail_en
    assert refused.value.detail_vi and refused.value.detail_vi != refused.value.detail_en
    assert refused.value.params["field"] == "blur"


def test_rectangles_within_the_edges_are_taken_a_browser_s_rounding_included():
    regions = regions_from([{"x": 0.5, "y": 0, "w": 0.50001, "h": 1}, {"x": 0, "y": 0, "w": 1, "h": 1}])
    assert regions[0] == Region(0.5, 0.0, 0.5, 1.0) and len(regions) == 2
    assert regions_from([]) == () and regions_from(None) == ()
    assert len(regions_from([BOX] * MAX_REGIONS)) == MAX_REGIONS


def test_photos_are_shown_by_default_videos_withheld_and_a_video_cannot_be_blurred():
    assert shown_by_default("photo") and not shown_by_default("video")
    assert Redaction.decide("video", True, []) == Redaction(True, ())
    with pytest.raises(InvalidInput) as refused:
        Redaction.decide("video", True, [BOX])
    assert "video" in refused.value.detail_en and "video" in refused.value.detail_vi
    choice = Redaction.decide("photo", False, [BOX])
    assert not choice.shown and choice.blur_json() == [BOX]


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("private_result", [False, True])
@pytest.mark.parametrize("state_secret", [False, True])
def test_files_may_be_public_only_for_an_accepted_report_neither_private_nor_secret(status, private_result, state_secret):
    expected = status is Status.ACCEPTED and not private_result and not state_secret
    assert may_be_public(status.value, private_result, state_secret) is expected


def _public_record(**change) -> PublicReport:
    from datetime import datetime, timezone

    report = PublicReport.placeholder("0190e0d0-0000-7000-8000-000000000001")
    report.received_at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    for name, value in change.items():
        setattr(report, name, value)
    return report


def test_publication_shows_the_files_only_while_the_report_is_listed_and_only_paths_of_its_own_site():
    items = [PublicMedia("m1", "/intake/public-media/m1-2.jpg", "image/jpeg", 800, 600, 2),
             PublicMedia("m2", "https://elsewhere.example/x.jpg", "image/jpeg", 10, 10, 1),
             PublicMedia("m3", "//elsewhere.example/x.jpg", "image/jpeg", 10, 10, 1),
             PublicMedia("m4", "javascript:alert(1)", "image/jpeg", 10, 10, 1),
             PublicMedia("m5", "/intake/public-media/m5-1.mp4", "video/mp4", None, None, 1)]
    report = _public_record(status=Step.ACCEPTED.value)
    report.record_public_media(items)
    assert [m.id for m in report.shown_media] == ["m1", "m5"]
    assert report.shown_media[0].is_photo and not report.shown_media[1].is_photo
    for change in ({"status": Step.SUBMITTED.value}, {"status": Step.REFUSED.value}, {"visibility": Visibility.REPORTER_ONLY.value},
                   {"visibility": Visibility.STATE_SECRET.value}):
        hidden = _public_record(**{"status": Step.ACCEPTED.value, **change})
        hidden.record_public_media(items)
        assert hidden.shown_media == [], change


def test_the_photo_a_person_sees_is_the_size_it_is_served_at(tmp_path):
    """The public copy's own size travels with it (a 4000-pixel photo is served at most public_max_side wide)."""
    big = tmp_path / "big.jpg"
    big.write_bytes(mf.jpeg(size=(3000, 2000), gps=False))
    out = tmp_path / "public.jpg"
    checked = examine(big, out, MediaLimits(public_max_side=1200))
    assert (checked.width, checked.height) == (3000, 2000)
    assert (checked.public_width, checked.public_height) == Image.open(out).size == (1200, 800)
    assert io.BytesIO(out.read_bytes()).getbuffer().nbytes > 0
