"""Files people send (a report's photos and videos at intake; the documents, pictures and videos agencies attach
while handling a case): what a file is (from its content, never its name or declared type), whether it is safe
to keep, and the copy that people other than staff may see. The one home of these checks: every service that
receives files calls `examine` here.

Accepted: JPEG, PNG and WebP photos; MP4 (and QuickTime, the same ISO box format, which iPhones record) and
WebM videos; where the caller accepts documents (`MEDIA_AND_DOCUMENTS`), PDF and Office Open XML documents
(DOCX, XLSX) too. Everything else is refused with a message naming what the file looks like (a program, an
archive, a PDF, a web page...). No I/O here beyond reading the file given and writing the public copy asked for.

Photos are checked in three layers, each before the next costs anything:
1. the structure, walked byte by byte: the JPEG segments up to the end-of-image marker, the PNG chunks up to
   IEND, the WebP RIFF chunks up to the RIFF size. Bytes after the image's end are refused: that is where a
   polyglot keeps its second file (a JPEG with a zip or a program appended). Only NUL padding after a JPEG's
   end is tolerated (some cameras pad; NULs carry nothing). The size in the header is read here too, and a
   photo above the pixel limit is refused before anything is decoded (a decompression bomb: a small file that
   decodes to gigabytes). The limit is never above Pillow's own bomb threshold, so Pillow's
   DecompressionBombWarning cannot be reached: a file that would warn is refused first (and Pillow's
   DecompressionBombError, above twice that, is a refusal too).
2. a full decode with Pillow: a truncated or corrupt photo is refused. Animated or multi-picture files (APNG,
   animated WebP, MPO) are refused: a report's photo is one picture.
3. the public copy: turned upright (EXIF orientation), at most `public_max_side` pixels on its longest side,
   re-encoded as JPEG (quality 85) with no metadata at all: no EXIF (so no GPS position), no XMP, no ICC
   profile, no comment. The original is kept as sent, for staff only: it may carry the reporter's position.

A photo anyone may see can also have regions made unreadable (faces, number plates the IOC marked: `Region`,
`regions_from`, `blur_regions`). They are applied to the public copy, never to the original: each rectangle is
cut to coarse blocks (each the mean of its pixels, moved by a little random noise), the blocks smoothed with a
Gaussian blur as wide as a block, and the picture re-encoded as JPEG without metadata. A plain blur can largely be
undone by deconvolution, and a plain pixelation lets someone who guesses the content (a plate's font) compare
guesses block by block; few blocks with noise leave nothing to undo or compare. Outside the rectangles the pixels
are the public copy's (one JPEG generation later). Videos cannot be blurred here: there is no codec on the server.

Videos are not decoded (no codec on the server); their container is walked instead:
- MP4/QuickTime: the first box is `ftyp` with a known brand; every box's size is consistent, the boxes
  exactly cover the file (no trailing bytes), `moov` and `mdat` are there; `moov` and each `trak` are walked
  as well. The public copy is the same bytes with every `udta`, `meta` and `uuid` box inside `moov` and inside
  each `trak` (and at the top level) renamed `free`: players skip `free` boxes, sizes do not change so chunk
  offsets stay valid; their contents are overwritten with zeros, so the position (`©xyz`, Apple's ISO 6709
  location key, XMP) is gone from the copy, not merely hidden.
  What `mdat` holds is opaque media data and is not inspected.
- WebM: an EBML header whose DocType is "webm", then one Segment; its level-1 elements (and a Cluster's
  children) are walked to the end of the file. A Segment of unknown size is accepted (browsers' MediaRecorder
  writes live WebM so): it then ends where the file ends, and the walk still proves that nothing but WebM
  elements lies there. Attachments (files embedded in Matroska) are refused. The public copy of a WebM is the
  file as sent: WebM has no standard place for a position, and browsers' recordings carry none.

Documents are not opened by any document library; their structure is checked instead, and they have no public copy:
- PDF: starts with `%PDF-`, has `%%EOF` within the last 1024 bytes with nothing but whitespace after it (a
  file appended to a PDF, the usual polyglot, lands there), and no ZIP directory at its end.
- DOCX / XLSX: a ZIP starting at its first byte with nothing after its end (no comment, no appended file), whose
  entries include `[Content_Types].xml` and `word/` (DOCX) or `xl/` (XLSX). Refused: encrypted entries, macros
  (`vbaProject.bin`), entry names that are absolute or contain `..`, a total unpacked size above the limit, an
  entry that unpacks more than `max_document_ratio` times its packed size (a zip bomb). Every entry is unpacked
  once, counted as it goes (its CRC is checked, so declared sizes that lie are caught too), and thrown away.
"""
from __future__ import annotations

import hashlib
import math
import ntpath
import os
import posixpath
import shutil
import struct
import threading
import zipfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from paht.runtime.errors import InvalidInput
from paht.runtime.text import Label, clean_optional

ACCEPTED = "a photo (JPEG, PNG, WebP) or a video (MP4, WebM)"
ACCEPTED_VI = "ảnh (JPEG, PNG, WebP) hoặc video (MP4, WebM)"
SNIFF_BYTES = 64  # enough of the start of a file to say what it is
PUBLIC_JPEG_QUALITY = 85
FILENAME = Label("File name", "Tên tệp")
# Decoding a photo at the pixel limit takes a few hundred MB for a moment: this many at once per process, the others wait.
DECODING = threading.BoundedSemaphore(2)


class MediaKind(str, Enum):
    """What a received file is. Its values are those stored (intake's MediaKind vocabulary has photo and video: equal
    to these, as strings)."""

    PHOTO = "photo"
    VIDEO = "video"
    DOCUMENT = "document"


@dataclass(frozen=True)
class Accepts:
    """What a caller takes: photos and videos always; documents where `documents` (the sentence names them all)."""

    documents: bool
    en: str
    vi: str


MEDIA = Accepts(False, ACCEPTED, ACCEPTED_VI)
MEDIA_AND_DOCUMENTS = Accepts(True, "a photo (JPEG, PNG, WebP), a video (MP4, WebM) or a document (PDF, DOCX, XLSX)",
                              "ảnh (JPEG, PNG, WebP), video (MP4, WebM) hoặc tài liệu (PDF, DOCX, XLSX)")
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_PENDING = "application/zip"  # sniffed from the first bytes; the walk says DOCX or XLSX


def clean_filename(value: str | None) -> str:
    """The name the sender gave, shown only: its last path part (browsers send C:\\fakepath\\...), cleaned, at most 200 characters."""
    name = ntpath.basename(posixpath.basename(value or ""))
    return clean_optional(name, FILENAME, 200, multiline=False)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class MediaLimits:
    """What an upload may be; the defaults are the settings' defaults (paht.runtime.settings)."""

    max_photo_bytes: int = 10_000_000
    max_video_bytes: int = 50_000_000
    max_photos: int = 6          # per report
    max_videos: int = 2          # per report
    max_pixels: int = 40_000_000
    public_max_side: int = 2560
    max_document_bytes: int = 20_000_000
    max_document_unpacked_bytes: int = 100_000_000  # a DOCX/XLSX, all its entries unpacked
    max_document_ratio: int = 100                   # an entry unpacking to more than this many times its packed size: a bomb

    @classmethod
    def from_settings(cls, settings) -> "MediaLimits":
        return cls(settings.media_max_photo_bytes, settings.media_max_video_bytes, settings.media_max_photos,
                   settings.media_max_videos, settings.media_max_pixels, settings.media_public_max_side,
                   settings.media_max_document_bytes, settings.media_max_document_unpacked_bytes, settings.media_max_document_ratio)

    def max_bytes(self, kind: MediaKind) -> int:
        if kind == MediaKind.DOCUMENT:
            return self.max_document_bytes
        return self.max_photo_bytes if kind == MediaKind.PHOTO else self.max_video_bytes

    @property
    def max_upload_bytes(self) -> int:
        """The largest photo or video (before its kind is known)."""
        return max(self.max_photo_bytes, self.max_video_bytes)

    def max_upload_for(self, accepts: Accepts) -> int:
        """The largest file of any kind the caller accepts (before its kind is known)."""
        return max(self.max_upload_bytes, self.max_document_bytes) if accepts.documents else self.max_upload_bytes

    def max_count(self, kind: MediaKind) -> int:
        return self.max_photos if kind == MediaKind.PHOTO else self.max_videos


@dataclass(frozen=True)
class Sniffed:
    kind: MediaKind
    media_type: str


@dataclass(frozen=True)
class CheckedFile:
    """What a file was found to be, and what its public copy is."""

    kind: MediaKind
    media_type: str            # of the original, from its content
    public_media_type: str     # of the copy people other than staff see
    width: int | None          # photos: as a person sees it (after the EXIF orientation); videos: not read
    height: int | None
    public_width: int | None = None   # photos: the public copy's own size (at most public_max_side); videos: not read
    public_height: int | None = None


# --- what a file is -------------------------------------------------------------------------------------------

MP4_BRANDS = frozenset({b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9", b"mp41", b"mp42",
                        b"avc1", b"hvc1", b"av01", b"dash", b"M4V ", b"MSNV", b"mmp4", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"qt  "})
IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"})


def _refuse_type(what_en: str, what_vi: str, accepts: Accepts = MEDIA) -> InvalidInput:
    return InvalidInput(f"This file is {what_en}, not {accepts.en}.", f"Tệp này là {what_vi}, không phải {accepts.vi}.", field="file")


def refuse_empty() -> InvalidInput:
    return InvalidInput("The file is empty.", "Tệp rỗng, không có nội dung.", field="file")


def refuse_too_large(kind: MediaKind | None, limit: int) -> InvalidInput:
    en = {MediaKind.PHOTO: "A photo", MediaKind.VIDEO: "A video", MediaKind.DOCUMENT: "A document"}.get(kind, "A file")
    vi = {MediaKind.PHOTO: "Ảnh", MediaKind.VIDEO: "Video", MediaKind.DOCUMENT: "Tài liệu"}.get(kind, "Tệp")
    mb = f"{limit / 1_000_000:g} MB"
    return InvalidInput(f"{en} may be at most {mb}.", f"{vi} không được vượt quá {mb}.", field="file", limit=limit)


def _broken(kind: MediaKind, why_en: str, why_vi: str) -> InvalidInput:
    noun_en, noun_vi = {MediaKind.PHOTO: ("photo", "ảnh"), MediaKind.DOCUMENT: ("document", "tài liệu")}.get(kind, ("video", "video"))
    return InvalidInput(f"This {noun_en} cannot be accepted: {why_en}.", f"Không thể nhận {noun_vi} này: {why_vi}.", field="file")


def _trailing(kind: MediaKind) -> InvalidInput:
    return _broken(kind, "there is extra data after its end (another file may be hidden in it)",
                   "có dữ liệu thừa sau phần kết thúc của tệp (có thể chứa một tệp khác bên trong)")


def _truncated(kind: MediaKind) -> InvalidInput:
    return _broken(kind, "the file is cut short or damaged", "tệp bị thiếu hoặc bị hỏng")


def _bad_structure(kind: MediaKind) -> InvalidInput:
    return _broken(kind, "its parts do not fit together (a damaged file, or extra data after its end)",
                   "cấu trúc tệp không hợp lệ (tệp bị hỏng hoặc có dữ liệu thừa sau phần kết thúc)")


def sniff(head: bytes, accepts: Accepts = MEDIA) -> Sniffed:
    """Say what a file is from its first bytes (at least SNIFF_BYTES of them when the file has that many)."""
    if not head:
        raise refuse_empty()
    if accepts.documents and head.startswith(b"%PDF-"):
        return Sniffed(MediaKind.DOCUMENT, PDF)
    if accepts.documents and head.startswith(b"PK\x03\x04"):
        return Sniffed(MediaKind.DOCUMENT, ZIP_PENDING)  # DOCX or XLSX, or refused, once its entries are read
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(MediaKind.PHOTO, "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(MediaKind.PHOTO, "image/png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(MediaKind.PHOTO, "image/webp")
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i:i + 4] for i in range(16, min(len(head), int.from_bytes(head[:4], "big")) - 3, 4)}
        if brands & IMAGE_BRANDS and head[8:12] not in MP4_BRANDS:
            raise _refuse_type("a HEIC/AVIF photo (please send it as JPEG: most phones can share a photo so)",
                               "ảnh HEIC/AVIF (vui lòng gửi ảnh dạng JPEG: hầu hết điện thoại đều chia sẻ ảnh được như vậy)", accepts)
        if head[8:12] == b"qt  ":
            return Sniffed(MediaKind.VIDEO, "video/quicktime")
        if brands & MP4_BRANDS:
            return Sniffed(MediaKind.VIDEO, "video/mp4")
        raise _refuse_type("an MP4-like file of an unknown kind", "tệp dạng MP4 không rõ loại", accepts)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed(MediaKind.VIDEO, "video/webm")  # DocType checked by the walk
    raise _refuse_type(*_what_else(head), accepts)


def _what_else(head: bytes) -> tuple[str, str]:
    """Name a refused file for people, so they know what they picked by mistake."""
    if head[:2] == b"MZ":
        return "a Windows program (.exe)", "một chương trình Windows (.exe)"
    if head[:4] == b"\x7fELF":
        return "a program (ELF)", "một chương trình (ELF)"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "a ZIP archive (or an Office document)", "một tệp nén ZIP (hoặc tài liệu Office)"
    if head[:4] == b"%PDF":
        return "a PDF document", "một tài liệu PDF"
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return ("an old-format or password-protected Office document (.doc, .xls)",
                "một tài liệu Office định dạng cũ hoặc có mật khẩu (.doc, .xls)")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "a GIF image", "một ảnh GIF"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<"):
        return "a web page or drawing (HTML, SVG, XML)", "một trang web hoặc hình vẽ (HTML, SVG, XML)"
    return "a kind of file that is not accepted", "loại tệp không được chấp nhận"


# --- photos ---------------------------------------------------------------------------------------------------

def _pixel_limit(limits: MediaLimits) -> int:
    """The limit in force: never above Pillow's bomb threshold, so its warning can never be reached."""
    from PIL import Image

    pillow = Image.MAX_IMAGE_PIXELS
    return min(limits.max_pixels, pillow) if pillow else limits.max_pixels


def _jpeg_structure(data: bytes) -> tuple[int, int]:
    """Walk a JPEG's segments to its end-of-image marker; return (width, height) of the frame header."""
    kind, n, pos = MediaKind.PHOTO, len(data), 2
    size: tuple[int, int] | None = None
    while True:
        if pos >= n or data[pos] != 0xFF:
            raise _truncated(kind)
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            raise _truncated(kind)
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # RSTn, TEM: no length
            continue
        if pos + 2 > n:
            raise _truncated(kind)
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2 or pos + length > n:
            raise _truncated(kind)
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):  # SOFn
            if length < 7:
                raise _truncated(kind)
            height, width = struct.unpack(">HH", data[pos + 3:pos + 7])
            size = (width, height)
        pos += length
        if marker == 0xDA:  # SOS: entropy-coded data up to the next marker that is not a stuffed 0xFF00 or a RSTn
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= n:
                    raise _truncated(kind)
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    pos += 1 if following == 0xFF else 2
                    continue
                break
    if size is None or 0 in size:
        raise _truncated(kind)
    if data[pos:].strip(b"\x00"):
        raise _trailing(kind)
    return size


def _png_structure(data: bytes) -> tuple[int, int]:
    """Walk a PNG's chunks to IEND; return (width, height) of IHDR."""
    kind, n, pos = MediaKind.PHOTO, len(data), 8
    size: tuple[int, int] | None = None
    first = True
    while True:
        if pos + 12 > n:
            raise _truncated(kind)
        length = int.from_bytes(data[pos:pos + 4], "big")
        ctype = data[pos + 4:pos + 8]
        if length > 0x7FFFFFFF or pos + 12 + length > n:
            raise _truncated(kind)
        if first:
            if ctype != b"IHDR" or length != 13:
                raise _truncated(kind)
            size = struct.unpack(">II", data[pos + 8:pos + 16])
            first = False
        pos += 12 + length
        if ctype == b"IEND":
            break
    if size is None or 0 in size:
        raise _truncated(kind)
    if pos != n:
        raise _trailing(kind)
    return size


def _webp_structure(data: bytes) -> tuple[int, int]:
    """Check the RIFF size against the file and walk its chunks; return (width, height)."""
    kind, n = MediaKind.PHOTO, len(data)
    if n < 20:
        raise _truncated(kind)
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > n:
        raise _truncated(kind)
    if end != n:
        raise _trailing(kind)
    pos, size = 12, None
    while pos < end:
        if pos + 8 > end:
            raise _truncated(kind)
        ctype, length = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + length]
        if pos + 8 + length > end:
            raise _truncated(kind)
        if size is None:
            if ctype == b"VP8X" and length >= 10:
                size = (int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1)
            elif ctype == b"VP8 " and length >= 10 and body[3:6] == b"\x9d\x01\x2a":
                w, h = struct.unpack("<HH", body[6:10])
                size = (w & 0x3FFF, h & 0x3FFF)
            elif ctype == b"VP8L" and length >= 5 and body[0] == 0x2F:
                bits = int.from_bytes(body[1:5], "little")
                size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
            else:
                raise _truncated(kind)
        pos += 8 + length + (length & 1)
    if size is None or 0 in size or pos != end:
        raise _truncated(kind)
    return size


STRUCTURES = {"image/jpeg": _jpeg_structure, "image/png": _png_structure, "image/webp": _webp_structure}
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def _photo(source: Path, media_type: str, public: Path, limits: MediaLimits) -> CheckedFile:
    from PIL import Image, ImageOps

    kind = MediaKind.PHOTO
    data = source.read_bytes()
    width, height = STRUCTURES[media_type](data)
    if width * height > _pixel_limit(limits):
        raise _broken(kind, f"it has too many pixels ({width}×{height}; at most {limits.max_pixels / 1_000_000:g} million)",
                      f"ảnh có quá nhiều điểm ảnh ({width}×{height}; tối đa {limits.max_pixels / 1_000_000:g} triệu)")
    try:
        with Image.open(source, formats=[PILLOW_FORMATS[media_type]]) as im:
            if im.size != (width, height):
                raise _truncated(kind)
            if getattr(im, "n_frames", 1) > 1:
                raise _broken(kind, "it holds several pictures (animated or multi-picture)", "tệp chứa nhiều hình (ảnh động hoặc nhiều ảnh)")
            if media_type == "image/jpeg":  # decode straight to a smaller scale when the photo is large: the whole stream is still read
                im.draft("RGB", (limits.public_max_side, limits.public_max_side))
            im.load()
            orientation = im.getexif().get(0x0112, 1)
            # shrink in place before anything else is made of it: the full picture is held once, never twice
            im.thumbnail((limits.public_max_side, limits.public_max_side), Image.Resampling.LANCZOS)
            ImageOps.exif_transpose(im, in_place=True)  # the picture turned as the camera meant it, without another copy
            copy = _public_image(im, limits.public_max_side)
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _broken(kind, "it has too many pixels", "ảnh có quá nhiều điểm ảnh") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError):
        raise _truncated(kind) from None
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    copy.save(public, "JPEG", quality=PUBLIC_JPEG_QUALITY)  # no optimize pass: it trebles the encoding time for ~5% smaller files
    return CheckedFile(kind, media_type, "image/jpeg", width, height, *copy.size)


def _public_image(im, max_side: int):
    """The picture anyone may see: RGB (transparency on white), at most max_side, carrying nothing of the original's
    metadata. An RGB picture is changed in place (the caller's own decoded copy: nothing else holds it)."""
    from PIL import Image

    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        im = flat
    elif im.mode != "RGB":
        im = im.convert("RGB")
    im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    im.info = {}  # nothing the original said (EXIF, XMP, ICC, comments) may travel with the copy
    return im


# --- regions made unreadable in a public copy -----------------------------------------------------------------

MAX_REGIONS = 20          # per photo: a photo needing more is better withheld
BLOCKS_ACROSS_SHORT = 3   # a region is cut into blocks at least a third of its shorter side...
BLOCKS_ACROSS_LONG = 6    # ...and at least a sixth of its longer side (a plate: about one block per character or more)
MIN_BLOCK_PX = 8
BLOCK_NOISE = 12          # each block's mean moves by up to this much (of 255), at random: guesses cannot be matched
EDGE_SLACK = 1e-4         # a browser's rounding may put a rectangle's far edge a hair past 1


@dataclass(frozen=True)
class Region:
    """A rectangle to make unreadable, in fractions of the upright public picture: (x, y) is its top-left corner,
    (w, h) its size; every value within 0..1 and the rectangle inside the picture."""

    x: float
    y: float
    w: float
    h: float

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The rectangle in pixels of a picture of this size, rounded outwards (it covers at least what was marked)."""
        left, top = math.floor(self.x * width), math.floor(self.y * height)
        right = min(width, max(left + 1, math.ceil((self.x + self.w) * width)))
        bottom = min(height, max(top + 1, math.ceil((self.y + self.h) * height)))
        return min(left, width - 1), min(top, height - 1), right, bottom

    def as_json(self) -> dict:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}


def _bad_region(n: int, en: str, vi: str) -> InvalidInput:
    return InvalidInput(f"Blur rectangle {n}: {en}", f"Vùng làm mờ thứ {n}: {vi}", field="blur")


def regions_from(items) -> tuple[Region, ...]:
    """The rectangles to blur from what a caller sent (a list of {"x", "y", "w", "h"} fractions of the upright picture);
    InvalidInput, in both languages, naming the first rectangle that cannot be one."""
    if items is None:
        return ()
    if not isinstance(items, (list, tuple)):
        raise InvalidInput("The blur rectangles must be a list.", "Danh sách vùng làm mờ không hợp lệ.", field="blur")
    if len(items) > MAX_REGIONS:
        raise InvalidInput(f"At most {MAX_REGIONS} blur rectangles per photo (withhold the photo instead).",
                           f"Mỗi ảnh có tối đa {MAX_REGIONS} vùng làm mờ (nếu cần nhiều hơn, hãy không công khai ảnh này).",
                           field="blur", limit=MAX_REGIONS)
    regions = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict) or set(item) != {"x", "y", "w", "h"}:
            raise _bad_region(n, "give exactly x, y, w and h.", "cần đúng bốn giá trị x, y, w và h.")
        values = {}
        for name in ("x", "y", "w", "h"):
            value = item[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise _bad_region(n, f"{name} must be a number.", f"{name} phải là một số.")
            values[name] = float(value)
        x, y, w, h = values["x"], values["y"], values["w"], values["h"]
        if not (0 <= x <= 1 and 0 <= y <= 1 and 0 <= w <= 1 and 0 <= h <= 1):
            raise _bad_region(n, "x, y, w and h are fractions of the picture, from 0 to 1.",
                              "x, y, w và h là tỉ lệ so với kích thước ảnh, từ 0 đến 1.")
        if w <= 0 or h <= 0:
            raise _bad_region(n, "its width and height must be more than 0.", "chiều rộng và chiều cao phải lớn hơn 0.")
        if x + w > 1 + EDGE_SLACK or y + h > 1 + EDGE_SLACK:
            raise _bad_region(n, "it reaches outside the picture.", "vùng vượt ra ngoài ảnh.")
        regions.append(Region(x, y, min(w, 1 - x), min(h, 1 - y)))
    return tuple(regions)


def _unreadable(tile):
    """The tile with nothing of its content left to read: coarse blocks of its mean colours (moved by a little noise),
    smoothed across the blocks' edges."""
    from PIL import Image, ImageChops, ImageFilter

    width, height = tile.size
    block = max(MIN_BLOCK_PX, math.ceil(min(width, height) / BLOCKS_ACROSS_SHORT), math.ceil(max(width, height) / BLOCKS_ACROSS_LONG))
    cells = (max(1, math.ceil(width / block)), max(1, math.ceil(height / block)))
    means = tile.resize(cells, Image.Resampling.BOX)  # each cell the mean of the pixels it covers
    shade = Image.frombytes("L", cells, os.urandom(cells[0] * cells[1])).point(lambda v: v % (2 * BLOCK_NOISE + 1))
    means = ImageChops.add(means, Image.merge("RGB", (shade, shade, shade)), offset=-BLOCK_NOISE)  # lighter or darker, same hue
    coarse = means.resize((width, height), Image.Resampling.NEAREST)
    return coarse.filter(ImageFilter.GaussianBlur(radius=block))


def blur_regions(public: Path, out: Path, regions: tuple[Region, ...]) -> tuple[int, int]:
    """Write to `out` the public copy `public` (a JPEG this module made) with every region made unreadable, re-encoded
    as JPEG with no metadata; return its (width, height). The picture outside the regions is left as it was."""
    from PIL import Image

    with Image.open(public, formats=["JPEG"]) as im:
        im.load()
        picture = im.convert("RGB") if im.mode != "RGB" else im.copy()
    for region in regions:
        box = region.box(*picture.size)
        picture.paste(_unreadable(picture.crop(box)), box[:2])
    picture.info = {}  # the public copy carries no metadata; neither does this
    picture.save(out, "JPEG", quality=PUBLIC_JPEG_QUALITY)
    return picture.size


# --- videos ---------------------------------------------------------------------------------------------------

# Boxes that carry descriptions of the file (a position among them) rather than media: neutralised in the public copy.
DESCRIPTIVE_BOXES = frozenset({b"udta", b"meta", b"uuid"})


@dataclass(frozen=True)
class Box:
    type: bytes
    start: int       # offset of the box's first byte
    header: int      # 8, 16 for a 64-bit size (and the uuid's 16 bytes are part of the payload)
    end: int         # offset after the box's last byte

    @property
    def payload(self) -> int:
        return self.start + self.header


def _boxes(handle, start: int, end: int, kind: MediaKind = MediaKind.VIDEO) -> list[Box]:
    """The boxes between start and end, which they must cover exactly."""
    boxes, pos = [], start
    while pos < end:
        if pos + 8 > end:
            raise _bad_structure(kind)
        handle.seek(pos)
        head = handle.read(16)
        size, btype = int.from_bytes(head[:4], "big"), head[4:8]
        header = 8
        if size == 1:
            if len(head) < 16:
                raise _bad_structure(kind)
            size, header = int.from_bytes(head[8:16], "big"), 16
        elif size == 0:
            size = end - pos  # to the end of its container
        if not all(0x20 <= b <= 0x7E or b == 0xA9 for b in btype) or size < header or pos + size > end:
            raise _bad_structure(kind)
        boxes.append(Box(btype, pos, header, pos + size))
        pos += size
    return boxes


def _mp4_structure(handle, file_size: int) -> list[Box]:
    """Check the box structure; return the descriptive boxes to neutralise in the public copy."""
    kind = MediaKind.VIDEO
    top = _boxes(handle, 0, file_size)
    if not top or top[0].type != b"ftyp":
        raise _truncated(kind)
    handle.seek(top[0].payload)
    ftyp = handle.read(min(top[0].end - top[0].payload, 256))
    brands = {ftyp[0:4]} | {ftyp[i:i + 4] for i in range(8, len(ftyp) - 3, 4)}
    if not brands & MP4_BRANDS:
        raise _broken(kind, "it is not an MP4 video of a known kind", "không phải video MP4 thuộc loại được hỗ trợ")
    types = [b.type for b in top]
    if types.count(b"moov") != 1 or b"mdat" not in types:
        raise _broken(kind, "it has no video data or no description of it (moov, mdat)", "tệp thiếu dữ liệu video hoặc phần mô tả (moov, mdat)")
    descriptive = [b for b in top if b.type in (b"meta", b"uuid")]
    moov = top[types.index(b"moov")]
    for child in _boxes(handle, moov.payload, moov.end):
        if child.type in DESCRIPTIVE_BOXES:
            descriptive.append(child)
        elif child.type == b"trak":
            descriptive += [g for g in _boxes(handle, child.payload, child.end) if g.type in DESCRIPTIVE_BOXES]
    return descriptive


def _vint(handle, *, is_id: bool) -> tuple[int, int]:
    """Read an EBML variable-length integer: (value, length). An id keeps its marker bits; all ones in a size is -1 (unknown)."""
    first = handle.read(1)
    if not first:
        raise EOFError
    b0 = first[0]
    length = 1
    while length <= 8 and not b0 & (0x80 >> (length - 1)):
        length += 1
    if length > (4 if is_id else 8):
        raise ValueError("bad EBML length")
    rest = handle.read(length - 1)
    if len(rest) != length - 1:
        raise EOFError
    raw = int.from_bytes(first + rest, "big")
    if is_id:
        return raw, length
    value = raw & ((1 << (7 * length)) - 1)
    return (-1 if value == (1 << (7 * length)) - 1 else value), length


EBML, DOCTYPE, SEGMENT, CLUSTER, ATTACHMENTS = 0x1A45DFA3, 0x4282, 0x18538067, 0x1F43B675, 0x1941A469
VOID, CRC32 = 0xEC, 0xBF
SEGMENT_CHILDREN = frozenset({0x114D9B74, 0x1549A966, 0x1654AE6B, 0x1C53BB6B, CLUSTER, 0x1043A770, 0x1254C367, VOID, CRC32})
CLUSTER_CHILDREN = frozenset({0xE7, 0xA3, 0xA0, 0xA7, 0xAB, 0x5854, VOID, CRC32})


def _webm_structure(handle, file_size: int) -> None:
    kind = MediaKind.VIDEO
    try:
        ident, _ = _vint(handle, is_id=True)
        size, _ = _vint(handle, is_id=False)
        if ident != EBML or size < 0 or handle.tell() + size > file_size:
            raise _truncated(kind)
        header_end = handle.tell() + size
        doctype = None
        while handle.tell() < header_end:
            child, _ = _vint(handle, is_id=True)
            length, _ = _vint(handle, is_id=False)
            if length < 0 or handle.tell() + length > header_end:
                raise _truncated(kind)
            value = handle.read(length)
            if child == DOCTYPE:
                doctype = value.rstrip(b"\x00")
        if doctype != b"webm":
            raise _broken(kind, "it is not a WebM video", "không phải video WebM")
        ident, _ = _vint(handle, is_id=True)
        size, _ = _vint(handle, is_id=False)
        if ident != SEGMENT:
            raise _truncated(kind)
        if size >= 0 and handle.tell() + size > file_size:
            raise _truncated(kind)
        if size >= 0 and handle.tell() + size < file_size:
            raise _trailing(kind)
        _walk_segment(handle, file_size)
    except (EOFError, ValueError):
        raise _truncated(kind) from None


def _walk_segment(handle, end: int) -> None:
    """Walk the Segment's level-1 elements to `end`; an unknown-size Cluster ends at the next level-1 element."""
    kind = MediaKind.VIDEO
    seen = set()
    pending = None  # an element id read while walking an unknown-size cluster
    while handle.tell() < end or pending is not None:
        ident = pending if pending is not None else _vint(handle, is_id=True)[0]
        pending = None
        if ident == ATTACHMENTS:
            raise _broken(kind, "it carries attached files", "video có đính kèm tệp khác")
        if ident not in SEGMENT_CHILDREN:
            raise _bad_structure(kind)
        size, _ = _vint(handle, is_id=False)
        seen.add(ident)
        if size >= 0:
            if handle.tell() + size > end:
                raise _truncated(kind)
            handle.seek(handle.tell() + size)
            continue
        if ident != CLUSTER:
            raise _truncated(kind)
        while handle.tell() < end:  # unknown-size cluster: its children, until a level-1 element begins
            child, _ = _vint(handle, is_id=True)
            if child not in CLUSTER_CHILDREN:
                pending = child
                break
            length, _ = _vint(handle, is_id=False)
            if length < 0 or handle.tell() + length > end:
                raise _truncated(kind)
            handle.seek(handle.tell() + length)
    if handle.tell() != end:
        raise _truncated(kind)
    if 0x1654AE6B not in seen:  # Tracks: what the video holds
        raise _truncated(kind)


def _video(source: Path, media_type: str, public: Path) -> CheckedFile:
    size = source.stat().st_size
    with open(source, "rb") as handle:
        if media_type == "video/webm":
            _webm_structure(handle, size)
            descriptive = []
        else:
            descriptive = _mp4_structure(handle, size)
    shutil.copyfile(source, public)
    if descriptive:
        with open(public, "r+b") as out:
            for found in descriptive:
                out.seek(found.start + 4)
                out.write(b"free")  # the size field (and a 64-bit size after the type) stays as it was
                out.seek(found.payload)
                left = found.end - found.payload
                while left > 0:  # and what it said is gone, not merely hidden
                    step = min(left, 1 << 16)
                    out.write(bytes(step))
                    left -= step
    return CheckedFile(MediaKind.VIDEO, media_type, media_type, None, None)


# --- documents -------------------------------------------------------------------------------------------------

PDF_TAIL = 1024          # a PDF reader looks for %%EOF this far from the end
ZIP_EOCD = b"PK\x05\x06"
ZIP_EOCD_SIZE = 22


def _document_refused(why_en: str, why_vi: str) -> InvalidInput:
    return _broken(MediaKind.DOCUMENT, why_en, why_vi)


def _pdf(source: Path, size: int) -> CheckedFile:
    with open(source, "rb") as handle:
        handle.seek(max(0, size - max(PDF_TAIL, 1 << 16)))
        tail = handle.read()
    end = tail.rfind(b"%%EOF")
    if end < 0 or len(tail) - end > PDF_TAIL:
        raise _document_refused("it is cut short or damaged (no end-of-file mark)", "tệp bị thiếu hoặc bị hỏng (không có dấu kết thúc tệp)")
    if tail[end + 5:].strip(b" \t\r\n\x00\x0c"):
        raise _document_refused("there is extra data after its end (another file may be hidden in it)",
                                "có dữ liệu thừa sau phần kết thúc của tệp (có thể chứa một tệp khác bên trong)")
    if ZIP_EOCD in tail[-(ZIP_EOCD_SIZE + PDF_TAIL):]:
        raise _document_refused("it is also a ZIP archive (a file made to be read two ways)", "tệp đồng thời là tệp nén ZIP (tệp hai mặt)")
    return CheckedFile(MediaKind.DOCUMENT, PDF, PDF, None, None)


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts or "\x00" in name


def _office(source: Path, size: int, limits: MediaLimits) -> CheckedFile:
    """A DOCX or XLSX: a ZIP from its first byte to its last, of an Office package's entries, safe to unpack."""
    with open(source, "rb") as handle:
        head = handle.read(1024)
        handle.seek(max(0, size - ZIP_EOCD_SIZE))
        tail = handle.read()
    if b"%PDF-" in head:  # a PDF reader finds a PDF here: a polyglot
        raise _document_refused("it is also a PDF (a file made to be read two ways)", "tệp đồng thời là tài liệu PDF (tệp hai mặt)")
    if not tail.startswith(ZIP_EOCD) or len(tail) != ZIP_EOCD_SIZE:  # Office writes no comment; anything after the directory is refused
        raise _document_refused("it is cut short, or there is extra data after its end", "tệp bị thiếu, hoặc có dữ liệu thừa sau phần kết thúc")
    try:
        with zipfile.ZipFile(source) as archive:
            entries = archive.infolist()
            names = [e.filename for e in entries]
            if any(_unsafe_name(n) for n in names):
                raise _document_refused("an entry inside names a path outside the document", "có thành phần bên trong trỏ ra ngoài tài liệu")
            if any(e.flag_bits & 0x1 for e in entries):
                raise _document_refused("it is encrypted (send it without a password)", "tệp được mã hóa (vui lòng gửi tệp không đặt mật khẩu)")
            if not entries or min(e.header_offset for e in entries) != 0:
                raise _document_refused("there is extra data before its start", "có dữ liệu thừa trước phần đầu của tệp")
            if "[Content_Types].xml" not in names:
                raise _refuse_type("a ZIP archive", "một tệp nén ZIP", MEDIA_AND_DOCUMENTS)
            if any(n.startswith("word/") for n in names):
                media_type = DOCX
            elif any(n.startswith("xl/") for n in names):
                media_type = XLSX
            else:
                raise _refuse_type("an Office document of another kind", "một tài liệu Office loại khác", MEDIA_AND_DOCUMENTS)
            if any(posixpath.basename(n).lower() == "vbaproject.bin" for n in names):
                raise _document_refused("it carries macros (save it as .docx or .xlsx without macros)",
                                        "tệp chứa macro (vui lòng lưu thành .docx hoặc .xlsx không có macro)")
            declared = sum(e.file_size for e in entries)
            if declared > limits.max_document_unpacked_bytes:
                raise _bomb(limits)
            unpacked = 0
            for entry in entries:
                if entry.file_size > 1_000_000 and entry.file_size > limits.max_document_ratio * max(entry.compress_size, 1):
                    raise _bomb(limits)
                with archive.open(entry) as member:  # unpacked once, counted; the CRC at the end catches sizes that lie
                    while chunk := member.read(1 << 16):
                        unpacked += len(chunk)
                        if unpacked > limits.max_document_unpacked_bytes:
                            raise _bomb(limits)
    except InvalidInput:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, ValueError, RuntimeError):
        raise _document_refused("it is damaged or packed in a way that is not accepted", "tệp bị hỏng hoặc được nén theo cách không được chấp nhận") from None
    return CheckedFile(MediaKind.DOCUMENT, media_type, media_type, None, None)


def _bomb(limits: MediaLimits) -> InvalidInput:
    mb = f"{limits.max_document_unpacked_bytes / 1_000_000:g} MB"
    return _document_refused(f"it unpacks to far more than it weighs (at most {mb}, {limits.max_document_ratio}× its packed size)",
                             f"tệp giải nén ra dung lượng quá lớn (tối đa {mb}, gấp {limits.max_document_ratio} lần dung lượng nén)")


# --- the one entry ---------------------------------------------------------------------------------------------

def examine(source: Path, public: Path, limits: MediaLimits, accepts: Accepts = MEDIA) -> CheckedFile:
    """Check a received file by its content and write its public copy to `public`; raise InvalidInput when refused.

    The caller owns both paths: on a refusal it removes whatever it finds at `public`. A document has no public
    copy: nothing is written to `public` for it.
    """
    size = source.stat().st_size
    if size == 0:
        raise refuse_empty()
    with open(source, "rb") as handle:
        found = sniff(handle.read(SNIFF_BYTES), accepts)
    if size > limits.max_bytes(found.kind):
        raise refuse_too_large(found.kind, limits.max_bytes(found.kind))
    if found.kind == MediaKind.DOCUMENT:
        return _pdf(source, size) if found.media_type == PDF else _office(source, size, limits)
    if found.kind == MediaKind.PHOTO:
        return _photo(source, found.media_type, public, limits)
    return _video(source, found.media_type, public)
