"""The one page layer shared by every PAHT service: layout, language, static files, error bodies.

Pages
    ``pages = Pages([Path(__file__).parent / "templates"])`` then
    ``return pages.render(request, "report.html", report=report, user=user)``.
    Service folders are searched first, then ``paht/runtime/web/templates`` (``base.html``,
    ``_macros.html``, ``error.html``). Every template receives ``t(key, **fmt)``, ``lang``,
    ``other_lang``, ``lang_switch_href``, ``request``, ``user`` (or None), ``static_url(path)`` and
    ``csrf_field()``, the hidden CSRF input every POST form must carry (see ``web/security.py``).
    Macros that translate need the context: ``{% import "_macros.html" as m with context %}``.

Language
    ``pick_language`` takes ``?lang=vi|en`` first (``render`` then stores it in the ``paht_lang``
    cookie for a year), then the ``paht_lang`` cookie, then Accept-Language; default ``vi``.
    Catalogs are gettext files ``i18n/<lang>/LC_MESSAGES/paht.po`` (msgid = the key, read with Babel)
    with identical key sets; a missing key falls back to Vietnamese, then to the key itself.
    Accept-Language is matched with Babel's ``negotiate_locale``.

The JSON error body (every API answers 4xx/5xx with it)::

    {"error": {"status": 409,
               "code": "error.conflict_state",
               "message": {"vi": "Không thể ...", "en": "The action ..."}}}

    - ``status`` repeats the HTTP status code;
    - ``code`` is the catalog key: stable, meant for programs; clients match on it, never on text;
    - ``message`` always holds both languages; the caller's language (if known) comes first.

    Build it with ``error_body(lang_or_none, status, key, **fmt)``. Usual pairs: 400
    ``error.malformed_json``, 401 ``error.unauthorized``, 403 ``error.forbidden`` /
    ``error.wrong_role`` (role=) / ``error.out_of_scope``, 404 ``error.not_found``, 405
    ``error.method_not_allowed``, 409 ``error.conflict_state`` (current=, action=), 413
    ``error.body_too_large``, 422 ``error.validation``, 429 ``error.too_many_requests``, 500
    ``error.internal``, 503 ``error.unavailable``. Refused requests: 400 ``error.bad_character``
    (control character in the URL), ``error.malformed_form``, ``error.too_many_fields``,
    ``error.bad_request``; 403 ``error.csrf``; 414 ``error.uri_too_long``.
"""
from paht.runtime.web.language import (
    COOKIE_NAME,
    LANGUAGES,
    catalog,
    error_body,
    other_language,
    pick_language,
    translate,
)
from paht.runtime.web.pages import Pages, mount_static, static_url

__all__ = [
    "COOKIE_NAME",
    "LANGUAGES",
    "Pages",
    "catalog",
    "error_body",
    "mount_static",
    "other_language",
    "pick_language",
    "static_url",
    "translate",
]
