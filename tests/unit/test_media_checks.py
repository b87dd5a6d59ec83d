"""Photos and videos are judged by their content: what is accepted, what is refused (and why, in both languages),
and what the public copy keeps of the original (nothing that says where the reporter stood)."""
from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image

from paht.runtime.errors import InvalidInput
from paht.runtime import media
from paht.runtime.media import MediaLimits
from services.intake.domain.vocabulary import MediaKind
from tests.support import media_files as mf

LIMITS = MediaLimits()


def examine(tmp_path, data: bytes, limits: MediaLimits = LIMITS, name: str = "upload.bin"):
    source, public = tmp_path / name, tmp_path / "public"
    source.write_bytes(data)
    checked = media.examine(source, public, limits)
    assert source.read_bytes() == data, "the original is kept exactly as sent"
    return checked, public.read_bytes()


def refusal(tmp_path, data: bytes, limits: MediaLimits = LIMITS) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        examine(tmp_path, data, limits)
    err = caught.value
    assert err.detail_en and err.detail_vi and err.detail_en != err.detail_vi  # said in both languages
    return err


def no_metadata(public: bytes) -> None:
    """The public copy says nothing of where or how it was taken."""
    im = Image.open(io.BytesIO(public))
    assert im.format == "JPEG"
    assert dict(im.getexif()) == {} and im.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert not {"exif", "xmp", "icc_profile", "comment"} & set(im.info)
    assert b"Exif" not in public[:4096] and b"xmpmeta" not in public and b"PhoneMaker" not in public and b"taken at home" not in public


# --- photos accepted -------------------------------------------------------------------------------------------

def test_a_jpeg_with_a_gps_position_is_accepted_and_its_public_copy_is_upright_and_has_no_metadata(tmp_path):
    original = mf.jpeg((600, 400), orientation=6)  # a phone held upright: stored sideways, EXIF says "turn it"
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test file does carry GPS
    checked, public = examine(tmp_path, original, name="IMG_0001.JPG")
    assert (checked.kind, checked.media_type, checked.public_media_type) == (MediaKind.PHOTO, "image/jpeg", "image/jpeg")
    assert (checked.width, checked.height) == (400, 600)  # as a person sees it
    no_metadata(public)
    copy = Image.open(io.BytesIO(public))
    assert copy.size == (400, 600)
    # the top of the turned picture is what was the left: red on one side, blue on the other, not mixed
    left, right = copy.convert("RGB").getpixel((100, 300)), copy.convert("RGB").getpixel((300, 300))
    assert left[2] > left[0] and right[0] > right[2]


@pytest.mark.parametrize("make, media_type", [(lambda: mf.png((300, 200)), "image/png"), (lambda: mf.webp((300, 200)), "image/webp"),
                                               (lambda: mf.png((300, 200), mode="RGBA"), "image/png")])
def test_png_and_webp_photos_are_accepted_and_re_encoded_without_metadata(tmp_path, make, media_type):
    checked, public = examine(tmp_path, make())
    assert (checked.kind, checked.media_type, checked.width, checked.height) == (MediaKind.PHOTO, media_type, 300, 200)
    no_metadata(public)
    assert Image.open(io.BytesIO(public)).size == (300, 200)


def test_the_public_copy_is_no_larger_than_the_configured_side(tmp_path):
    checked, public = examine(tmp_path, mf.jpeg((1800, 600)), MediaLimits(public_max_side=900))
    assert (checked.width, checked.height) == (1800, 600)
    assert Image.open(io.BytesIO(public)).size == (900, 300)


def test_what_a_file_is_comes_from_its_content_only(tmp_path):
    # named like a program, it is a PNG; named like a photo, a program is refused (examine never sees a name or a declared type)
    checked, _ = examine(tmp_path, mf.png(), name="virus.exe")
    assert checked.media_type == "image/png"
    source = tmp_path / "holiday.jpg"
    source.write_bytes(mf.EXE)
    with pytest.raises(InvalidInput, match="Windows program"):
        media.examine(source, tmp_path / "p", LIMITS)


# --- photos refused --------------------------------------------------------------------------------------------

def truncated_jpeg() -> bytes:
    data = mf.jpeg((800, 600))
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize("name, make, fragment_en, fragment_vi", [
    ("empty file", lambda: b"", "empty", "rỗng"),
    ("renamed .exe", lambda: mf.EXE, "Windows program", "chương trình Windows"),
    ("ELF program", lambda: mf.ELF, "program (ELF)", "chương trình (ELF)"),
    ("ZIP archive", mf.zip_file, "ZIP archive", "tệp nén ZIP"),
    ("PDF", lambda: mf.PDF, "PDF document", "tài liệu PDF"),
    ("HTML page", lambda: mf.HTML, "web page", "trang web"),
    ("SVG drawing", lambda: mf.SVG, "web page or drawing", "hình vẽ"),
    ("GIF", lambda: b"GIF89a" + b"\x00" * 40, "GIF", "GIF"),
    ("JPEG with a zip appended (polyglot)", lambda: mf.jpeg() + mf.zip_file(), "extra data after its end", "dữ liệu thừa"),
    ("JPEG with a page appended", lambda: mf.jpeg() + mf.HTML, "extra data after its end", "dữ liệu thừa"),
    ("PNG with a zip appended", lambda: mf.png() + mf.zip_file(), "extra data after its end", "dữ liệu thừa"),
    ("WebP with a zip appended", lambda: mf.webp() + mf.zip_file(), "extra data after its end", "dữ liệu thừa"),
    ("PNG claiming 100000x100000 pixels", lambda: mf.png_claiming(100_000, 100_000), "too many pixels", "quá nhiều điểm ảnh"),
    ("truncated JPEG", truncated_jpeg, "cut short or damaged", "bị hỏng"),
    ("truncated PNG", lambda: mf.png()[:-200], "cut short or damaged", "bị hỏng"),
    ("JPEG whose data is garbage", lambda: mf.jpeg()[:600] + bytes(range(256)) * 20 + b"\xff\xd9", "cut short or damaged", "bị hỏng"),
    ("PNG whose picture data is corrupt", mf.png_with_bad_data, "cut short or damaged", "bị hỏng"),
    ("animated PNG", mf.animated_png, "several pictures", "nhiều hình"),
    ("HEIC photo", lambda: mf.box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic") + b"\x00" * 40, "HEIC", "HEIC"),
])
def test_files_that_are_not_acceptable_photos_are_refused_with_a_reason(tmp_path, name, make, fragment_en, fragment_vi):
    err = refusal(tmp_path, make())
    assert fragment_en in err.detail_en and fragment_vi in err.detail_vi, name


def test_a_photo_above_the_pixel_limit_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    # a real, well-formed 2000x1500 photo: 3 million pixels against a limit of 1 million
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a photo that its header already refused")

    monkeypatch.setattr(Image, "open", no_decoding)
    err = refusal(tmp_path, mf.png((2000, 1500)), MediaLimits(max_pixels=1_000_000))
    assert "2000×1500" in err.detail_en


def test_the_pixel_limit_never_exceeds_pillows_bomb_threshold(tmp_path, monkeypatch):
    # configured above Pillow's threshold, the limit in force is Pillow's: its warning can never be reached
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    err = refusal(tmp_path, mf.png((2000, 1500)), MediaLimits(max_pixels=10**12))
    assert "too many pixels" in err.detail_en


def test_a_photo_over_the_size_limit_is_refused(tmp_path):
    data = mf.jpeg((600, 400))
    err = refusal(tmp_path, data, MediaLimits(max_photo_bytes=len(data) - 1))
    assert "at most" in err.detail_en and "không được vượt quá" in err.detail_vi


def test_nul_padding_after_a_jpeg_is_tolerated_but_nothing_else(tmp_path):
    checked, _ = examine(tmp_path, mf.jpeg() + b"\x00" * 64)
    assert checked.media_type == "image/jpeg"
    refusal(tmp_path, mf.jpeg() + b"\x00" * 64 + b"PK")


def test_sniffing_names_the_types_it_accepts():
    assert media.sniff(mf.jpeg()[:64]) == media.Sniffed(MediaKind.PHOTO, "image/jpeg")
    assert media.sniff(mf.png()[:64]).media_type == "image/png"
    assert media.sniff(mf.webp()[:64]).media_type == "image/webp"
    assert media.sniff(mf.mp4()[:64]) == media.Sniffed(MediaKind.VIDEO, "video/mp4")
    assert media.sniff(mf.webm()[:64]) == media.Sniffed(MediaKind.VIDEO, "video/webm")


# --- MP4 -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("large_mdat", [False, True])
def test_an_mp4_is_accepted_and_its_public_copy_has_no_position_and_the_same_length(tmp_path, large_mdat):
    original = mf.mp4(large_mdat=large_mdat)
    assert original.count(b"\xa9xyz") == 2 and mf.ISO6709 in original
    checked, public = examine(tmp_path, original)
    assert (checked.kind, checked.media_type, checked.public_media_type) == (MediaKind.VIDEO, "video/mp4", "video/mp4")
    assert len(public) == len(original)
    assert b"\xa9xyz" not in public and mf.ISO6709 not in public and b"location" not in public
    # the media data and every offset into it are untouched
    mdat_at = original.index(b"mdat")
    assert public[mdat_at - 4:] == original[mdat_at - 4:]
    # and the copy is itself a valid MP4: walking it finds free boxes where udta and meta were
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(public)
    media.examine(copy, tmp_path / "copy-public", LIMITS)
    assert public.count(b"free") == 3 and b"udta" not in public and b"meta" not in public


def test_an_iphone_quicktime_video_is_kept_as_quicktime(tmp_path):
    checked, public = examine(tmp_path, mf.mp4(brand=b"qt  "))
    assert checked.media_type == "video/quicktime" and mf.ISO6709 not in public


def mp4_parts():
    return mf.box(b"ftyp", b"isom\x00\x00\x02\x00isom"), mf.box(b"moov", mf.box(b"mvhd", b"\x00" * 100)), mf.box(b"mdat", b"\x01" * 500)


@pytest.mark.parametrize("name, make, fragment", [
    ("a zip appended", lambda: mf.mp4() + mf.zip_file(), "do not fit together"),
    ("a few stray bytes appended", lambda: mf.mp4() + b"\x00\x01\x02", "do not fit together"),
    ("a box larger than the file", lambda: mf.mp4()[:-10], "do not fit together"),
    ("no moov", lambda: mp4_parts()[0] + mp4_parts()[2], "moov"),
    ("no mdat", lambda: mp4_parts()[0] + mp4_parts()[1], "mdat"),
    ("two moov", lambda: mp4_parts()[0] + mp4_parts()[1] + mp4_parts()[1] + mp4_parts()[2], "moov"),
    ("an unknown brand", lambda: mf.box(b"ftyp", b"zzzz\x00\x00\x00\x00zzzz") + mp4_parts()[1] + mp4_parts()[2], "unknown kind"),
    ("a box of size 3", lambda: mp4_parts()[0] + b"\x00\x00\x00\x03moov" + mp4_parts()[2], "do not fit together"),
    ("a broken box inside moov",
     lambda: mp4_parts()[0] + mf.box(b"moov", b"\x00\x00\x10\x00trak") + mp4_parts()[2], "do not fit together"),
])
def test_malformed_mp4s_are_refused(tmp_path, name, make, fragment):
    err = refusal(tmp_path, make())
    assert fragment in err.detail_en, name


# --- WebM ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("unknown_sizes", [False, True])
def test_a_webm_is_accepted_and_its_public_copy_is_the_file_as_sent(tmp_path, unknown_sizes):
    original = mf.webm(unknown_sizes=unknown_sizes)
    checked, public = examine(tmp_path, original)
    assert (checked.kind, checked.media_type, checked.public_media_type) == (MediaKind.VIDEO, "video/webm", "video/webm")
    assert public == original


@pytest.mark.parametrize("name, make, fragment", [
    ("a zip appended", lambda: mf.webm() + mf.zip_file(), "extra data after its end"),
    ("a zip appended to a live recording", lambda: mf.webm(unknown_sizes=True) + mf.zip_file(), "do not fit together"),
    ("cut short", lambda: mf.webm()[:-50], "cut short"),
    ("a Matroska file", lambda: mf.webm(doctype=b"matroska"), "not a WebM"),
    ("attached files", lambda: mf.webm(attachment=True), "attached files"),
    ("an EBML header only", lambda: mf.webm()[:40], "cut short"),
])
def test_malformed_webms_are_refused(tmp_path, name, make, fragment):
    err = refusal(tmp_path, make())
    assert fragment in err.detail_en, name


def test_a_video_over_the_size_limit_is_refused(tmp_path):
    data = mf.mp4(mdat_bytes=5000)
    err = refusal(tmp_path, data, MediaLimits(max_video_bytes=4000))
    assert "A video may be at most" in err.detail_en
