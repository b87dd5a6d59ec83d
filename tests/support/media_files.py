"""Photos and videos made in the test: Pillow images with a GPS position, hand-built MP4 boxes and WebM elements."""
from __future__ import annotations

import io
import os
import struct

from PIL import ExifTags, Image

# Where the "reporter" stood: these must never reach a public copy.
LAT, LON = (17.0, 28.0, 6.0), (106.0, 37.0, 20.0)
ISO6709 = b"+17.4683+106.6222/"
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="17,28.1N"/></rdf:RDF></x:xmpmeta>')


def gps_exif(orientation: int = 1) -> Image.Exif:
    """EXIF with a GPS position, a camera and an orientation, written with Pillow's Image.Exif."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = LAT
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = LON
    return exif


def picture(size=(600, 400), mode="RGB") -> Image.Image:
    """A picture with some detail (a plain one compresses to nothing), top half red, bottom half blue."""
    im = Image.new(mode, size, (200, 30, 30) + ((255,) if mode == "RGBA" else ()))
    im.paste((30, 30, 200) + ((255,) if mode == "RGBA" else ()), (0, size[1] // 2, size[0], size[1]))
    noise = Image.effect_noise(size, 40).convert(mode)
    return Image.blend(im, noise, 0.15)


def jpeg(size=(600, 400), orientation: int = 1, gps: bool = True, **save) -> bytes:
    out = io.BytesIO()
    extra = {"exif": gps_exif(orientation), "xmp": XMP, "comment": b"taken at home"} if gps else {}
    picture(size).save(out, "JPEG", quality=90, **extra, **save)
    return out.getvalue()


def png(size=(300, 200), mode="RGB") -> bytes:
    out = io.BytesIO()
    picture(size, mode).save(out, "PNG", exif=gps_exif())
    return out.getvalue()


def webp(size=(300, 200)) -> bytes:
    out = io.BytesIO()
    picture(size).save(out, "WEBP", quality=80, exif=gps_exif())
    return out.getvalue()


def animated_png() -> bytes:
    out = io.BytesIO()
    frames = [picture((64, 64)), picture((64, 64)).rotate(90)]
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:])
    return out.getvalue()


def _png_chunk(ctype: bytes, data: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge picture: a decompression bomb's shape."""
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + _png_chunk(b"IEND", b"")


def png_with_bad_data() -> bytes:
    """Every chunk in its place, but the picture data does not decompress: only decoding finds out."""
    ihdr = struct.pack(">IIBBBBB", 10, 10, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"not zlib data") + _png_chunk(b"IEND", b"")


def zip_file() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("payload.exe", b"MZ" + b"\x00" * 100)
    return out.getvalue()


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run in DOS mode."
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="5"/></svg>'


# --- MP4 -------------------------------------------------------------------------------------------------------

def box(btype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def large_box(btype: bytes, payload: bytes) -> bytes:
    """A box with a 64-bit size (size field 1)."""
    return struct.pack(">I", 1) + btype + struct.pack(">Q", 16 + len(payload)) + payload


def mp4(brand: bytes = b"isom", mdat_bytes: int = 2000, large_mdat: bool = False, with_position: bool = True) -> bytes:
    """ftyp, moov (mvhd, a trak with its own udta, a udta and an Apple meta, each with the position), mdat."""
    xyz = box(b"\xa9xyz", struct.pack(">HH", len(ISO6709), 0x15C7) + ISO6709) if with_position else b""
    trak = box(b"trak", box(b"tkhd", b"\x00" * 84) + box(b"mdia", box(b"mdhd", b"\x00" * 24)) + box(b"udta", xyz))
    meta = box(b"meta", b"\x00" * 4 + box(b"hdlr", b"\x00" * 8 + b"mdta" + b"\x00" * 13)
               + box(b"keys", b"\x00" * 8 + box(b"mdta", b"com.apple.quicktime.location.ISO6709"))
               + box(b"ilst", box(b"\x00\x00\x00\x01", box(b"data", b"\x00" * 8 + ISO6709))))
    moov = box(b"moov", box(b"mvhd", b"\x00" * 100) + trak + box(b"udta", xyz) + meta)
    ftyp = box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand + b"iso2mp41")
    data = os.urandom(mdat_bytes)
    return ftyp + moov + (large_box(b"mdat", data) if large_mdat else box(b"mdat", data))


# --- WebM ------------------------------------------------------------------------------------------------------

def _ebml_id(ident: int) -> bytes:
    return ident.to_bytes((ident.bit_length() + 7) // 8, "big")


def _ebml_size(n: int) -> bytes:
    return bytes([0x80 | n]) if n < 127 else b"\x01" + n.to_bytes(7, "big")


def element(ident: int, payload: bytes) -> bytes:
    return _ebml_id(ident) + _ebml_size(len(payload)) + payload


UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def webm(doctype: bytes = b"webm", unknown_sizes: bool = False, attachment: bool = False) -> bytes:
    """An EBML header, then a Segment with Info, Tracks and two Clusters (of unknown size in a live recording)."""
    header = element(0x1A45DFA3, element(0x4286, b"\x01") + element(0x42F7, b"\x01") + element(0x4282, doctype)
                     + element(0x4287, b"\x04") + element(0x4285, b"\x02"))
    info = element(0x1549A966, element(0x2AD7B1, (1_000_000).to_bytes(3, "big")))
    tracks = element(0x1654AE6B, element(0xAE, element(0xD7, b"\x01") + element(0x83, b"\x01") + element(0x86, b"V_VP8")))

    def cluster_body(t: int) -> bytes:
        return element(0xE7, bytes([t])) + element(0xA3, b"\x81\x00\x00\x80" + os.urandom(300))

    extra = element(0x1941A469, element(0x61A7, element(0x466E, b"run.exe") + element(0x465C, b"MZ" + b"\x00" * 30))) if attachment else b""
    if unknown_sizes:
        clusters = b"".join(_ebml_id(0x1F43B675) + b"\xff" + cluster_body(t) for t in (0, 1))
        return header + _ebml_id(0x18538067) + UNKNOWN_SIZE + info + tracks + extra + clusters
    clusters = b"".join(element(0x1F43B675, cluster_body(t)) for t in (0, 1))
    return header + element(0x18538067, info + tracks + extra + clusters)
