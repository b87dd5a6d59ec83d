"""The one text cleaner: every free text and identifier a person sends passes here before it is stored.

It normalises to NFC, trims, and refuses what no person means to write and what breaks storage or
display: control characters (NUL among them: PostgreSQL cannot store it), bidirectional overrides and
isolates (they make a text read differently from what it is), lone surrogates and non-characters.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from paht.runtime.errors import InvalidInput

# U+202A–U+202E (embeddings, overrides) and U+2066–U+2069 (isolates), plus the implicit marks
# that only matter with them.
BIDI_CONTROLS = frozenset(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])
LINE_BREAKS = frozenset("\n\r\t")


@dataclass(frozen=True)
class Label:
    """What a field is called, for people reading an error."""

    en: str
    vi: str


def forbidden_character(text: str, multiline: bool) -> str | None:
    """Return the first character the cleaner refuses, or None."""
    if (text.replace("\n", "").replace("\r", "").replace("\t", "") if multiline else text).isprintable():
        return None  # the usual text, checked in C: every refused character is a control, format or unassigned one
    for ch in text:
        if ch in LINE_BREAKS:
            if multiline:
                continue
            return ch
        if ch in BIDI_CONTROLS:
            return ch
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs", "Cn", "Co"):
            return ch
    return None


def has_control(text: str) -> bool:
    """Say whether a text holds a control character (C0 or C1, NUL and tab included): what no URL may carry."""
    return not text.isprintable() and any(unicodedata.category(ch) == "Cc" for ch in text)


def has_letter_or_digit(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def _refuse_character(label: Label, ch: str) -> InvalidInput:
    code = f"U+{ord(ch):04X}"
    return InvalidInput(
        f"{label.en} contains a character that is not allowed ({code}: control or direction-changing character).",
        f"{label.vi} chứa ký tự không được phép ({code}: ký tự điều khiển hoặc đổi chiều văn bản).",
        key="error.bad_character",
        field=label.en,
    )


def clean_text(value: str | None, label: Label, min_len: int, max_len: int, *, multiline: bool = True,
               require_meaning: bool = True) -> str:
    """Return the text NFC-normalised and trimmed, or raise InvalidInput saying what is wrong with it.

    `require_meaning`: a non-empty text must hold at least one letter or digit (a title of
    zero-width spaces or combining marks alone says nothing).
    """
    text = unicodedata.normalize("NFC", value or "").strip()
    bad = forbidden_character(text, multiline)
    if bad is not None:
        raise _refuse_character(label, bad)
    if len(text) < min_len:
        raise InvalidInput(f"{label.en} is too short (at least {min_len} characters).", f"{label.vi} quá ngắn (tối thiểu {min_len} ký tự).",
                           key="error.too_short", field=label.en)
    if len(text) > max_len:
        raise InvalidInput(f"{label.en} is too long (at most {max_len} characters).", f"{label.vi} quá dài (tối đa {max_len} ký tự).",
                           key="error.too_long", field=label.en)
    if text and require_meaning and not has_letter_or_digit(text):
        raise InvalidInput(f"{label.en} must contain at least one letter or digit.", f"{label.vi} phải có ít nhất một chữ cái hoặc chữ số.",
                           key="error.no_meaning", field=label.en)
    return text


def clean_optional(value: str | None, label: Label, max_len: int, *, multiline: bool = True) -> str:
    """Return an optional text cleaned (empty stays empty)."""
    return clean_text(value, label, 0, max_len, multiline=multiline, require_meaning=False)


def clean_identifier(value: str | None, label: Label, max_len: int = 100) -> str:
    """Return a code, id or user name: one line, no controls, at most max_len characters."""
    return clean_text(value, label, 1, max_len, multiline=False, require_meaning=False)


def is_clean(value: str) -> bool:
    """Say whether a string holds nothing the cleaner refuses (for guards at the transport edge)."""
    return forbidden_character(value, multiline=True) is None


def unaccent(text: str) -> str:
    """Return text without Vietnamese diacritics, keeping its case ("Đường Lê Lợi" -> "Duong Le Loi"): what an SMS
    carries, since brandname SMS in Vietnam go without diacritics (GSM-7, 160 characters a message)."""
    decomposed = unicodedata.normalize("NFD", (text or "").replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def fold(text: str) -> str:
    """Return text for matching: lower case, Vietnamese diacritics removed, đ as d ("Đường" -> "duong").

    The one folding every search and comparison uses, so that "duong" finds "đường" everywhere.
    """
    decomposed = unicodedata.normalize("NFD", (text or "").lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
