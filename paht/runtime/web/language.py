"""Language choice, message catalogs and the bilingual JSON error body shared by every service."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from babel import negotiate_locale
from babel.messages.pofile import read_po
from starlette.requests import Request

Lang = Literal["vi", "en"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en")
DEFAULT_LANG: Lang = "vi"
COOKIE_NAME = "paht_lang"
CATALOG_DIR = Path(__file__).resolve().parent / "i18n"
DOMAIN = "paht"


def catalog_path(lang: str) -> Path:
    """Return the gettext catalog file of a language: i18n/<lang>/LC_MESSAGES/paht.po."""
    return CATALOG_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """Load the key → message catalog of one supported language (read once per process)."""
    if lang not in LANGUAGES:
        raise KeyError(f"unsupported language: {lang!r}")
    with open(catalog_path(lang), "rb") as f:
        po = read_po(f, locale=lang, domain=DOMAIN)
    # A fuzzy (unchecked) translation is never shown: the Vietnamese text stands in for it.
    return {m.id: m.string for m in po if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def other_language(lang: str) -> Lang:
    """Return the language the switch link offers."""
    return "en" if lang == "vi" else "vi"


class _KeepMissing(dict):
    """Leave unknown placeholders as written instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def translate(lang: str | None, key: str, **fmt: object) -> str:
    """Look a key up in lang's catalog, then in Vietnamese, then give the key itself."""
    text = None
    if lang in LANGUAGES:
        text = catalog(lang).get(key)
    if text is None:
        text = catalog(DEFAULT_LANG).get(key, key)
    if not fmt:
        return text
    try:
        return text.format_map(_KeepMissing(fmt))
    except (ValueError, IndexError, AttributeError, KeyError):
        # A malformed message must degrade to its raw text, never break a page or an error answer.
        return text


def _from_accept_language(header: str) -> Lang | None:
    """Return the supported language the Accept-Language header prefers (Babel does the matching)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        name, _, value = params.strip().partition("=")
        try:
            q = float(value) if name.strip().lower() == "q" else 1.0
        except ValueError:
            q = 0.0
        if tag.strip() and q > 0:
            ranked.append((-q, position, tag.strip()))
    preferred = [tag for _q, _pos, tag in sorted(ranked)]
    chosen = negotiate_locale(preferred, list(LANGUAGES), sep="-")
    return chosen.split("-")[0].lower() if chosen else None  # type: ignore[return-value]


def query_language(request: Request) -> Lang | None:
    """Return the supported language asked for with ?lang=, if any."""
    asked = request.query_params.get("lang", "").strip().lower()
    return asked if asked in LANGUAGES else None  # type: ignore[return-value]


def pick_language(request: Request) -> Lang:
    """Choose vi or en from ?lang=, then the paht_lang cookie, then Accept-Language."""
    asked = query_language(request)
    if asked:
        return asked
    cookie = request.cookies.get(COOKIE_NAME, "").strip().lower()
    if cookie in LANGUAGES:
        return cookie  # type: ignore[return-value]
    return _from_accept_language(request.headers.get("accept-language", "")) or DEFAULT_LANG


def error_body(lang: str | None, status: int, key: str, **fmt: object) -> dict:
    """Build the bilingual JSON error body; lang (if given) only decides which message comes first."""
    first = lang if lang in LANGUAGES else DEFAULT_LANG
    order = (first, other_language(first))
    return {
        "error": {
            "status": status,
            "code": key,
            "message": {code: translate(code, key, **fmt) for code in order},
        }
    }
