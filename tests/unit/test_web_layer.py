"""Check the shared page layer: layout, language choice, static files, catalogs, error bodies."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from paht.runtime.web import (
    COOKIE_NAME,
    Pages,
    catalog,
    error_body,
    mount_static,
    pick_language,
    translate,
)

PAGE = """{% extends "base.html" %}
{% import "_macros.html" as m with context %}
{% block title %}Demo · {{ super() }}{% endblock %}
{% block content %}
<h1>{{ heading }}</h1>
{{ m.status_badge(status) }}
{{ m.field("phone", t("form.phone"), type="tel", required=True, value=phone, autocomplete="tel") }}
{{ m.timeline(entries) }}
{{ m.flash(t("form.success", tracking_code="PA-000123"), "success") }}
{% endblock %}
"""


@pytest.fixture()
def client(tmp_path: Path) -> TestClient:
    (tmp_path / "demo.html").write_text(PAGE, encoding="utf-8")
    pages = Pages([tmp_path])
    app = FastAPI()
    mount_static(app)

    @app.get("/demo")
    def demo(request: Request, heading: str = "Xin chào", phone: str = ""):
        entries = [{"kind": "submitted", "at": datetime(2025, 1, 2, 1, 30, tzinfo=timezone.utc), "label": ""}]
        user = {"name": "Nguyễn Văn A"} if request.query_params.get("staff") else None
        return pages.render(request, "demo.html", heading=heading, phone=phone, status="in_progress",
                            entries=entries, user=user)

    @app.get("/broken")
    def broken(request: Request):
        return pages.error(request, 404, "error.not_found")

    return TestClient(app)


def test_default_language_is_vietnamese(client):
    r = client.get("/demo")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in r.text
    assert "Trang chủ" in r.text and "Gửi phản ánh" in r.text and "Tra cứu" in r.text
    assert 'href="/auth/login">Đăng nhập<' in r.text
    assert 'href="?lang=en"' in r.text
    assert "Trung tâm IOC tỉnh Quảng Bình" in r.text
    assert "Đang xử lý" in r.text  # status badge translated through the macro
    assert "08:30 02/01/2025" in r.text  # 01:30 UTC shown in Vietnam time (UTC+7)
    assert "Gửi phản ánh</span>" in r.text  # empty label falls back to the kind's label
    assert "PA-000123" in r.text
    assert COOKIE_NAME not in r.headers.get("set-cookie", "")


def test_query_parameter_switches_language_and_sets_cookie(client):
    r = client.get("/demo", params={"lang": "en"})
    assert '<html lang="en">' in r.text
    assert "Home" in r.text and "Submit a report" in r.text and "Staff login" in r.text
    assert "Trang chủ" not in r.text
    assert 'href="?lang=vi"' in r.text
    assert f"{COOKIE_NAME}=en" in r.headers["set-cookie"]


def test_cookie_is_honoured_on_the_next_request(client):
    client.get("/demo", params={"lang": "en"})
    r = client.get("/demo")
    assert '<html lang="en">' in r.text
    assert "Home" in r.text


def test_query_parameter_beats_cookie_and_unknown_value_is_ignored(client):
    client.cookies.set(COOKIE_NAME, "en")
    assert '<html lang="vi">' in client.get("/demo", params={"lang": "vi"}).text
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, "en")
    r = client.get("/demo", params={"lang": "fr"})
    assert '<html lang="en">' in r.text
    assert COOKIE_NAME not in r.headers.get("set-cookie", "")


def test_accept_language_is_honoured(client):
    r = client.get("/demo", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in r.text
    r = client.get("/demo", headers={"Accept-Language": "fr-FR,vi;q=0.5,en;q=0.8"})
    assert '<html lang="en">' in r.text
    r = client.get("/demo", headers={"Accept-Language": "de,fr"})
    assert '<html lang="vi">' in r.text


def test_switch_link_keeps_other_query_parameters(client):
    r = client.get("/demo", params={"heading": "x", "lang": "vi"})
    assert 'href="?heading=x&amp;lang=en"' in r.text


def test_signed_in_user_sees_name_and_logout(client):
    r = client.get("/demo", params={"staff": "1"})
    assert "Nguyễn Văn A" in r.text
    assert 'action="/auth/logout"' in r.text and "Đăng xuất" in r.text
    assert 'href="/auth/login"' not in r.text


def test_static_css_is_served(client):
    r = client.get("/static/paht.css")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/css")
    assert len(r.content) < 8 * 1024
    assert client.get("/static/favicon.svg").headers["content-type"].startswith("image/svg+xml")


def test_context_is_autoescaped(client):
    r = client.get("/demo", params={"heading": "<script>alert(1)</script>", "phone": '"><b>'})
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert 'value="&#34;&gt;&lt;b&gt;"' in r.text


def test_error_page_is_bilingual(client):
    r = client.get("/broken")
    assert r.status_code == 404
    assert "Không tìm thấy nội dung yêu cầu." in r.text
    assert "The requested item was not found." in r.text


def test_translate_falls_back_to_vietnamese_then_to_the_key(monkeypatch):
    assert translate("en", "nav.home") == "Home"
    assert translate("vi", "form.success", tracking_code="PA-1").count("PA-1") == 1
    monkeypatch.delitem(catalog("en"), "nav.home")
    assert translate("en", "nav.home") == "Trang chủ"
    assert translate("xx", "nav.home") == "Trang chủ"
    assert translate("en", "no.such.key") == "no.such.key"
    assert translate("vi", "error.wrong_role", other="x").count("{role}") == 1  # placeholder kept when not given


def test_error_body_has_both_languages():
    body = error_body("en", 403, "error.wrong_role", role="ioc_operator")
    err = body["error"]
    assert err["status"] == 403 and err["code"] == "error.wrong_role"
    assert set(err["message"]) == {"vi", "en"}
    assert list(err["message"]) == ["en", "vi"]
    for text in err["message"].values():
        assert "ioc_operator" in text and "{" not in text
    assert err["message"]["vi"] != err["message"]["en"]
    assert list(error_body(None, 400, "error.malformed_json")["error"]["message"]) == ["vi", "en"]


def test_catalogs_have_identical_keys_and_no_empty_values():
    vi, en = catalog("vi"), catalog("en")
    assert set(vi) == set(en)
    for messages in (vi, en):
        assert all(isinstance(v, str) and v.strip() for v in messages.values())
    required = {
        "app.name", "nav.home", "nav.submit", "nav.track", "nav.login", "nav.logout", "nav.ioc_queue",
        "nav.dispatch", "nav.handling", "nav.publication", "form.name", "form.phone", "form.email",
        "form.title", "form.description", "form.topic", "form.address", "form.lat", "form.lon",
        "form.private", "form.urgent", "form.submit", "form.success", "rating.satisfied",
        "rating.acceptable", "rating.unsatisfied", "timeline.title",
        "error.malformed_json", "error.validation", "error.body_too_large", "error.not_found",
        "error.unauthorized", "error.forbidden", "error.conflict_state", "error.wrong_role",
        "error.out_of_scope", "error.unavailable", "error.internal", "error.concurrent_change",
        "error.bad_character", "error.too_short", "error.too_long", "error.no_meaning", "error.bad_cursor",
        "error.malformed_form", "error.too_many_fields", "error.csrf", "error.uri_too_long",
        "error.too_many_requests", "error.bad_request",
    } | {f"status.{s}" for s in ("submitted", "accepted", "refused", "cancelled", "dispatched", "assigned",
                                  "in_progress", "drafted", "approved", "published", "returned")}
    assert required <= set(vi)
    assert vi["app.name"] == "Phản ánh hiện trường" and en["app.name"] == "Field reports"
    assert [vi[f"rating.{r}"] for r in ("satisfied", "acceptable", "unsatisfied")] == [
        "Hài lòng", "Chấp nhận", "Không hài lòng"]
    for messages in (vi, en):
        assert "{tracking_code}" in messages["form.success"]
        # the step's own words come in the error's detail; the generic message shows no raw status
        assert "{" not in messages["error.conflict_state"]
        assert "{role}" in messages["error.wrong_role"]


def test_pick_language_without_a_page():
    def request(query: str = "", headers: list[tuple[bytes, bytes]] | None = None) -> Request:
        return Request({"type": "http", "method": "GET", "path": "/", "query_string": query.encode(),
                        "headers": headers or []})

    assert pick_language(request()) == "vi"
    assert pick_language(request("lang=EN")) == "en"
    assert pick_language(request(headers=[(b"cookie", b"paht_lang=en")])) == "en"
    assert pick_language(request(headers=[(b"accept-language", b"en;q=0, vi;q=0.1")])) == "vi"


ROOT = Path(__file__).resolve().parents[2]


def test_catalogs_are_gettext_files_read_with_babel():
    from babel.messages.pofile import read_po

    from paht.runtime.web.language import CATALOG_DIR, catalog_path

    assert not list(CATALOG_DIR.glob("*.json"))
    for lang in ("vi", "en"):
        po = read_po(open(catalog_path(lang), "rb"))
        assert str(po.locale) == lang
        assert {m.id: m.string for m in po if m.id} == catalog(lang)


def test_every_key_the_code_and_templates_name_is_in_the_catalogs():
    import re

    keys = set(catalog("vi"))
    named: dict[str, set[str]] = {}
    sources = [*ROOT.glob("paht/**/*.py"), *ROOT.glob("services/**/*.py")]
    for path in sources:
        for key in re.findall(r"""["'](error\.[a-z_]+)["']""", path.read_text(encoding="utf-8")):
            named.setdefault(key, set()).add(path.name)
    templates = [*ROOT.glob("services/*/entrypoints/templates/*.html"), *ROOT.glob("paht/runtime/web/templates/*.html")]
    for path in templates:
        for key in re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text(encoding="utf-8")):
            named.setdefault(key, set()).add(path.name)
    missing = {k: sorted(v) for k, v in named.items() if k not in keys and k not in {"error.html"}}
    assert not missing, f"keys missing from paht/runtime/web/i18n/*/LC_MESSAGES/paht.po: {missing}"


@pytest.mark.parametrize("header, expected", [
    ("vi-VN,vi;q=0.9,en-US;q=0.8", "vi"),
    ("en-GB,en;q=0.9", "en"),
    ("EN", "en"),
    ("fr-CA, fr;q=0.9, en-US;q=0.5, vi;q=0.4", "en"),
    ("*", "vi"),
    ("vi;q=0, en;q=abc", "vi"),
])
def test_accept_language_is_negotiated_with_babel(header, expected):
    req = Request({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                   "headers": [(b"accept-language", header.encode())]})
    assert pick_language(req) == expected


def test_ports_for_services_come_from_outside_the_range_outgoing_connections_use():
    from paht.runtime.supervisor import _ephemeral_range, free_port, port_is_free

    low, high = _ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50  # never the same one twice
    assert all(p < low or p > high for p in ports) and all(port_is_free(p) for p in ports)


def test_the_edges_port_is_never_handed_to_a_service(monkeypatch):
    """The edge binds its port after the services are planned; a service given that port would answer in its place."""
    import paht.runtime.supervisor as supervisor

    edge = supervisor.free_port()
    supervisor._handed_out.discard(edge)  # as in `paht up`: chosen by whoever started it, not by this process
    supervisor.reserve_port(edge)
    real = supervisor.random.randint
    picks = iter([edge, edge])  # the random choice lands on the edge's port twice, then anywhere
    monkeypatch.setattr(supervisor.random, "randint", lambda a, b: next(picks, None) or real(a, b))
    assert supervisor.free_port() != edge
