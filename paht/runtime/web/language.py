"""Language choice, message catalogs and the bilingual JSON error body shared by every service."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from starlette.requests import Request

Lang = Literal["vi", "en"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en")
DEFAULT_LANG: Lang = "vi"
COOKIE_NAME = "paht_lang"
CATALOG_DIR = Path(__file__).resolve().parent / "i18n"


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """Load the flat key → message catalog of one supported language."""
    if lang not in LANGUAGES:
        raise KeyError(f"unsupported language: {lang!r}")
    with open(CATALOG_DIR / f"{lang}.json", encoding="utf-8") as f:
        return json.load(f)


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
    """Return the supported language with the highest q in an Accept-Language header."""
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        candidate = (q, -position, primary)
        if best is None or candidate > best:
            best = candidate
    return best[2] if best else None


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
