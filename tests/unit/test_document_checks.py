"""Documents agencies attach (PDF, DOCX, XLSX) are checked by their content like photos and videos: paht.runtime.media."""
from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from paht.runtime import media
from paht.runtime.errors import InvalidInput
from paht.runtime.media import MEDIA_AND_DOCUMENTS, MediaKind, MediaLimits
from tests.support import media_files as mf

CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


def pdf() -> bytes:
    """A real PDF, made by Pillow from a picture."""
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (200, 30, 30)).save(out, "PDF")
    return out.getvalue()


def office(part: str = "word/document.xml", extra: dict[str, bytes] | None = None, content: bytes = b"<w:document/>") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", b"<Relationships/>")
        z.writestr(part, content)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def check(tmp_path, data: bytes, limits: MediaLimits | None = None, accepts=MEDIA_AND_DOCUMENTS):
    source = tmp_path / "upload"
    source.write_bytes(data)
    return media.examine(source, tmp_path / "public", limits or MediaLimits(), accepts)


def refused(tmp_path, data: bytes, limits: MediaLimits | None = None, accepts=MEDIA_AND_DOCUMENTS) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check(tmp_path, data, limits, accepts)
    err = caught.value
    assert err.detail_en and err.detail_vi and err.detail_en != err.detail_vi  # bilingual, as intake refuses
    return err


def test_a_real_pdf_docx_and_xlsx_are_accepted_without_a_public_copy(tmp_path):
    checked = check(tmp_path, pdf())
    assert (checked.kind, checked.media_type, checked.width) == (MediaKind.DOCUMENT, "application/pdf", None)
    assert not (tmp_path / "public").exists()
    assert check(tmp_path, office()).media_type == media.DOCX
    assert check(tmp_path, office("xl/workbook.xml", content=b"<workbook/>")).media_type == media.XLSX


def test_photos_and_videos_are_still_accepted_with_documents(tmp_path):
    assert check(tmp_path, mf.jpeg()).kind == MediaKind.PHOTO
    assert check(tmp_path, mf.mp4()).kind == MediaKind.VIDEO


def test_intake_still_refuses_documents(tmp_path):
    assert "PDF" in refused(tmp_path, pdf(), accepts=media.MEDIA).detail_en
    assert "ZIP" in refused(tmp_path, office(), accepts=media.MEDIA).detail_en


def test_a_renamed_program_and_other_kinds_are_refused_naming_what_they_are(tmp_path):
    err = refused(tmp_path, b"MZ\x90\x00" + bytes(200))
    assert "Windows program" in err.detail_en and "PDF, DOCX, XLSX" in err.detail_en
    assert "ZIP archive" in refused(tmp_path, _zip({"a.txt": b"hello"})).detail_en
    assert "password" in refused(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)).detail_en


def _zip(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


def test_a_pdf_cut_short_or_with_a_file_after_its_end_is_refused(tmp_path):
    whole = pdf()
    assert "end-of-file" in refused(tmp_path, whole[: len(whole) // 2]).detail_en
    assert "extra data" in refused(tmp_path, whole + b"MZ" + bytes(100)).detail_en


def test_polyglots_of_pdf_and_zip_are_refused(tmp_path):
    refused(tmp_path, pdf() + office())                        # a PDF with a DOCX appended
    refused(tmp_path, office() + pdf())                        # a DOCX with a PDF appended
    stored = _zip({"[Content_Types].xml": CONTENT_TYPES, "%PDF-1.7": b"%PDF-1.7 hidden", "word/document.xml": b"<w/>"},
                  zipfile.ZIP_STORED)
    assert "PDF" in refused(tmp_path, stored).detail_en       # a PDF reader would find a PDF in its first KB


def test_a_zip_bomb_and_a_package_too_large_unpacked_are_refused(tmp_path):
    bomb = office(content=bytes(30_000_000))
    assert len(bomb) < 100_000
    assert "unpacks" in refused(tmp_path, bomb).detail_en
    assert "unpacks" in refused(tmp_path, office(), MediaLimits(max_document_unpacked_bytes=100)).detail_en


def test_entries_outside_the_package_encryption_and_macros_are_refused(tmp_path):
    assert "outside" in refused(tmp_path, office(extra={"../../etc/cron.d/x": b"boom"})).detail_en
    assert "outside" in refused(tmp_path, office(extra={"/abs/path": b"boom"})).detail_en
    assert "macros" in refused(tmp_path, office("xl/workbook.xml", extra={"xl/vbaProject.bin": b"\x00" * 10})).detail_en
    data = bytearray(office())
    at = data.find(b"PK\x01\x02")
    while at >= 0:  # mark every entry encrypted in the central directory
        data[at + 8] |= 0x1
        at = data.find(b"PK\x01\x02", at + 4)
    assert "encrypted" in refused(tmp_path, bytes(data)).detail_en


def test_a_document_too_large_is_refused_with_its_limit(tmp_path):
    err = refused(tmp_path, pdf(), MediaLimits(max_document_bytes=100))
    assert "A document may be at most" in err.detail_en and "Tài liệu" in err.detail_vi
