"""The protections every service shares (issue 5, items 3, 4, 6, 9, 11): security headers, CSRF,
the public address behind trusted proxies only, refused URLs and bodies, and the catch-all 500."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI, Form, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from paht.runtime.http import install_protections
from paht.runtime.proxies import public_base, request_origin
from paht.runtime.settings import Settings
from paht.runtime.web import Pages
from paht.runtime.web.security import CONTENT_SECURITY_POLICY, CSRF_COOKIE

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted([*ROOT.glob("services/*/entrypoints/templates/*.html"), *ROOT.glob("paht/runtime/web/templates/*.html")])
PAGE = """{% extends "base.html" %}{% block content %}
<form method="post" action="/thing">{{ csrf_field() }}<input name="what"><button>Go</button></form>{% endblock %}"""
EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


class Thing(BaseModel):
    what: str


def build(tmp_path: Path, **settings) -> tuple[TestClient, list]:
    """A bare app with the shared protections, a page with a form, form and JSON endpoints, and one that breaks."""
    (tmp_path / "page.html").write_text(PAGE, encoding="utf-8")
    pages = Pages([tmp_path])
    app = FastAPI()
    install_protections(app, Settings(env="test", data=tmp_path, **settings))
    changes: list = []

    @app.get("/page")
    def page(request: Request):
        return pages.render(request, "page.html")

    @app.post("/thing")
    def thing(what: str = Form("")):
        changes.append(what)
        return {"ok": True}

    @app.post("/api/thing")
    def api_thing(body: Thing):
        changes.append(body.what)
        return {"ok": True}

    @app.post("/auth/token")
    def token(username: str = Form("")):
        return {"access_token": "t"}

    @app.get("/boom")
    def boom():
        raise RuntimeError("unexpected")

    @app.get("/cookie")
    def cookie():
        from fastapi.responses import JSONResponse

        response = JSONResponse({"ok": True})
        response.set_cookie("paht_token", "x", httponly=True, samesite="lax")
        return response

    return TestClient(app, raise_server_exceptions=False), changes


@pytest.fixture
def client(tmp_path):
    return build(tmp_path)


def token_of(client: TestClient) -> str:
    page = client.get("/page")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


# ---- item 3: security headers ---------------------------------------------------------------

def test_every_kind_of_response_carries_the_security_headers_and_no_server(client):
    c, _ = client
    responses = [c.get("/page"), c.get("/nowhere"), c.post("/api/thing", json={}), c.get("/boom"), c.get("/cookie"),
                 c.post("/thing", data={"what": "x"})]
    assert [r.status_code for r in responses] == [200, 404, 422, 500, 200, 403]
    for r in responses:
        for name, value in EXPECTED.items():
            assert r.headers.get(name) == value, (r.request.url, name)
        policy = r.headers["permissions-policy"]
        assert "camera=()" in policy and "microphone=()" in policy and "geolocation=(self)" in policy
        assert "server" not in r.headers
        assert "strict-transport-security" not in r.headers  # off outside production unless asked
    assert "secure" not in c.get("/cookie").headers["set-cookie"].lower()


def test_the_policy_forbids_inline_script_and_framing():
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self'" and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"


def test_hsts_and_secure_cookies_when_asked_and_by_default_in_production(tmp_path):
    c, _ = build(tmp_path, hsts=True, secure_cookies=True)
    r = c.get("/cookie")
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert "; Secure" in r.headers["set-cookie"]
    assert "; Secure" in c.get("/page").headers["set-cookie"]  # the CSRF cookie too
    production = Settings(env="production", database_url="postgresql://x/y", nats_url="nats://x:4222")
    assert production.secure_cookies is True and production.hsts is True
    assert Settings(env="development").secure_cookies is False


def test_templates_hold_no_inline_script_handler_or_style():
    assert TEMPLATES
    assert re.search(r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>", "<script>alert(1)</script>")
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>", '<script type="application/json" id="x">')
    for path in TEMPLATES:
        html = path.read_text(encoding="utf-8")
        # a JSON data block (type="application/json") is data the page's scripts read, never run: CSP allows it
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>", html), path
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), path
        assert not re.search(r"\sstyle\s*=", html, re.I), path


def test_every_post_form_in_every_template_carries_the_csrf_field():
    forms = 0
    for path in TEMPLATES:
        html = path.read_text(encoding="utf-8")
        for form in re.finditer(r"<form\b[^>]*>(.*?)</form>", html, re.S | re.I):
            if re.search(r'method="post"', form.group(0)[:200], re.I):
                forms += 1
                assert "csrf_field()" in form.group(1), f"{path.name}: {form.group(0)[:80]}"
    assert forms >= 4  # login, logout, the citizen's report, the IOC's publish and return


# ---- item 4: CSRF ---------------------------------------------------------------------------

def test_a_page_sets_the_token_cookie_once_and_writes_it_in_its_forms(client):
    c, _ = client
    first = c.get("/page")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    token = re.search(r'name="csrf_token" value="([^"]+)"', first.text).group(1)
    assert c.cookies[CSRF_COOKIE] == token
    again = c.get("/page")
    assert "set-cookie" not in again.headers and token in again.text


def test_the_real_form_flow_works(client):
    c, changes = client
    token = token_of(c)
    r = c.post("/thing", data={"what": "ok", "csrf_token": token}, headers={"Origin": "http://testserver"})
    assert r.status_code == 200 and changes == ["ok"]


def test_a_form_without_or_with_a_wrong_token_is_refused_with_a_bilingual_page(client):
    c, changes = client
    token_of(c)
    for data in ({"what": "x"}, {"what": "x", "csrf_token": "A" * 43}):
        r = c.post("/thing", data=data)
        assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
        assert "Biểu mẫu đã hết hạn" in r.text and "This form has expired" in r.text
    c.cookies.clear()
    assert c.post("/thing", data={"what": "x", "csrf_token": "A" * 43}).status_code == 403  # no cookie at all
    assert changes == []


def test_a_cross_origin_post_with_a_valid_staff_cookie_and_token_is_refused(client):
    c, changes = client
    token = token_of(c)
    c.cookies.set("paht_token", "a-valid-staff-token")
    for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}, {"Origin": "null"}):
        r = c.post("/thing", data={"what": "x", "csrf_token": token}, headers=headers)
        assert r.status_code == 403, headers
        r = c.post("/api/thing", json={"what": "x"}, headers={**headers, "X-CSRF-Token": token})
        assert r.status_code == 403 and r.json()["error"]["code"] == "error.csrf"
    assert changes == []


def test_json_with_the_staff_cookie_needs_the_token_header_but_bearer_calls_do_not(client):
    c, changes = client
    token = token_of(c)
    c.cookies.set("paht_token", "a-valid-staff-token")
    r = c.post("/api/thing", json={"what": "x"})
    assert r.status_code == 403 and set(r.json()["error"]["message"]) == {"vi", "en"}
    assert c.post("/api/thing", json={"what": "cookie"}, headers={"X-CSRF-Token": token}).status_code == 200
    c.cookies.clear()
    bearer = {"Authorization": "Bearer x", "Origin": "https://evil.example"}
    assert c.post("/api/thing", json={"what": "bearer"}, headers=bearer).status_code == 200
    assert c.post("/api/thing", json={"what": "anonymous"}).status_code == 200  # no cookie: nothing a browser could forge
    assert c.post("/auth/token", data={"username": "ioc"}).status_code == 200  # the OAuth2 endpoint sets no cookie
    assert changes == ["cookie", "bearer", "anonymous"]


# ---- item 6: the public address -------------------------------------------------------------

def _request(peer: str, headers: dict) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": b"", "scheme": "http",
                    "server": ("127.0.0.1", 8000), "client": (peer, 5000), "headers": [(b"host", b"127.0.0.1:8000"), *raw]})


def test_forwarded_headers_count_only_from_a_trusted_proxy():
    settings = Settings(env="test")
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    assert public_base(_request("203.0.113.9", forged), settings) == "http://127.0.0.1:8000"
    assert public_base(_request("127.0.0.1", forged), settings) == "https://evil.example"  # the edge vouches for it
    assert request_origin(_request("127.0.0.1", {"X-Forwarded-Host": "a b/c"}), settings) == "http://127.0.0.1:8000"
    ingress = Settings(env="test", trusted_proxies="10.0.0.0/8")
    assert public_base(_request("10.2.3.4", forged), ingress) == "https://evil.example"
    assert public_base(_request("127.0.0.1", forged), ingress) == "http://127.0.0.1:8000"
    configured = Settings(env="test", public_url="https://paht.quangbinh.gov.vn/")
    assert public_base(_request("127.0.0.1", forged), configured) == "https://paht.quangbinh.gov.vn"
    with pytest.raises(ValueError):
        Settings(env="test", trusted_proxies="not-a-network")


# ---- items 9 and 19: URLs a handler must never see -------------------------------------------

@pytest.mark.parametrize("url", ["/page/%00", "/page?code=%00", "/page?code=a%0Db", "/page?x=%7F", "/p%C2%85", "/page?x=a%09b"])
def test_a_control_character_in_the_path_or_query_is_a_400(client, url):
    c, _ = client
    r = c.get(url)
    assert r.status_code == 400 and r.json()["error"]["code"] == "error.bad_character"
    assert set(r.json()["error"]["message"]) == {"vi", "en"}


def test_an_over_long_url_is_a_414_and_ordinary_text_passes(client):
    c, _ = client
    r = c.get("/page?code=" + "A" * 20_000)  # 100,000 through the edge: tests/integration/test_edge.py
    assert r.status_code == 414 and r.json()["error"]["code"] == "error.uri_too_long"
    assert c.get("/page?code=Đồng+Hới%20Quảng Bình").status_code == 200


# ---- item 11: each refused body has its own code --------------------------------------------

def test_each_kind_of_unreadable_body_has_its_own_code(client):
    c, _ = client
    token = token_of(c)
    many = {f"f{i}": "x" for i in range(5000)}
    urlencoded = c.post("/thing", data={**many, "csrf_token": token})
    multipart = c.post("/thing", data={**many, "csrf_token": token}, files={"photo": ("a.jpg", b"x", "image/jpeg")})
    bearer_multipart = c.post("/thing", data=many, files={"photo": ("a.jpg", b"x", "image/jpeg")}, headers={"Authorization": "Bearer x"})
    broken = c.post("/thing", content=b"--x\r\nnonsense", headers={"Content-Type": "multipart/form-data", "Authorization": "Bearer x"})
    bad_json = c.post("/api/thing", content=b"{not json", headers={"Content-Type": "application/json"})
    codes = [(r.status_code, r.json()["error"]["code"]) for r in (urlencoded, multipart, bearer_multipart, broken, bad_json)]
    assert codes == [(400, "error.too_many_fields"), (400, "error.too_many_fields"), (400, "error.too_many_fields"),
                     (400, "error.malformed_form"), (400, "error.malformed_json")]


# ---- item 20: an unexpected error ------------------------------------------------------------

def test_an_unexpected_error_is_a_bilingual_500(client):
    c, _ = client
    r = c.get("/boom")
    assert r.status_code == 500 and r.json()["error"]["code"] == "error.internal"
    assert set(r.json()["error"]["message"]) == {"vi", "en"}



def test_the_api_docs_page_runs_no_inline_script(tmp_path):
    from paht.runtime.app import add_docs_route

    app = FastAPI(docs_url=None)
    install_protections(app, Settings(env="test", data=tmp_path))
    add_docs_route(app, "/api/demo/docs", "/api/demo/openapi.json", "Demo")
    r = TestClient(app).get("/api/demo/docs")
    assert r.status_code == 200 and 'data-openapi="/api/demo/openapi.json"' in r.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text)
    script_src = next(p for p in r.headers["content-security-policy"].split(";") if p.strip().startswith("script-src"))
    assert "unsafe" not in script_src and "'self'" in script_src
    assert r.headers["x-frame-options"] == "DENY"


def test_head_is_answered_like_get_without_a_body():
    """Monitors and link checkers send HEAD; FastAPI routes declare GET only."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from fastapi.testclient import TestClient

    from paht.runtime.http import install_protections
    from paht.runtime.settings import Settings

    app = FastAPI()
    install_protections(app, Settings(env="test"))

    @app.get("/")
    async def home():
        return HTMLResponse("<p>Phản ánh mới nhất</p>")

    client = TestClient(app)
    got, head = client.get("/"), client.head("/")
    assert head.status_code == got.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["content-security-policy"] and "server" not in head.headers
    assert client.head("/missing").status_code == 404


# ---- a page form over the body limit (paht/runtime/web/forms.py) ----------------------------------------

def test_a_page_form_over_the_limit_gets_a_page_in_the_persons_language_and_nothing_is_done(tmp_path):
    c, changes = build(tmp_path, max_body_bytes=2_000)
    token = token_of(c)
    big = "x" * 5_000
    page = c.post("/thing", data={"csrf_token": token, "what": big})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "Biểu mẫu chưa được gửi" in page.text and "The form was not sent" in page.text and changes == []
    assert page.text.index('lang="vi">Biểu mẫu') < page.text.index('lang="en">The form')
    c.cookies.set("paht_lang", "en")
    en = c.post("/thing", data={"csrf_token": token, "what": big})
    assert en.status_code == 413 and en.text.index('lang="en">The form') < en.text.index('lang="vi">Biểu mẫu')
    # the form cut for its size still needs its token; programs keep the JSON answer
    assert c.post("/thing", data={"what": big}).status_code == 403
    for r in (c.post("/thing", data={"csrf_token": token, "what": big}, headers={"Accept": "application/json"}),
              c.post("/auth/token", data={"username": big}), c.post("/api/thing", json={"what": big})):
        assert r.status_code == 413 and r.json()["error"]["code"] == "error.body_too_large"
    assert changes == []
    assert c.post("/thing", data={"csrf_token": token, "what": "small"}).status_code == 200 and changes == ["small"]


def test_the_text_fields_that_arrived_whole_are_kept_and_files_are_not():
    from paht.runtime.web.forms import FormTooLarge, is_page_form, kept_fields
    from starlette.datastructures import Headers

    b = "b0und"
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\ntok\r\n"
            f"--{b}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nGhi chú\r\ndòng hai\r\n"
            f"--{b}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF"
            ).encode() + b"x" * 1000
    multipart = f"multipart/form-data; boundary={b}"
    assert kept_fields(body, multipart) == [("csrf_token", "tok"), ("text", "Ghi chú\r\ndòng hai")]
    cut_in_text = body[:body.index("dòng".encode()) + 2]
    assert kept_fields(cut_in_text, multipart) == [("csrf_token", "tok")]
    assert kept_fields(b"csrf_token=tok&text=Ghi+ch%C3%BA&what=xxxx", "application/x-www-form-urlencoded") == [
        ("csrf_token", "tok"), ("text", "Ghi chú")]  # the last pair is where the body was cut
    assert kept_fields(b"garbage", "multipart/form-data") == []
    refused = FormTooLarge(1_000_000, 1_400_000, [("csrf_token", "tok"), ("text", "a"), ("text", "b")])
    assert refused.kept == {"text": "a"}
    assert refused.message["vi"].startswith("Biểu mẫu chưa được gửi") and "1,3 MB" in refused.message["vi"] and "977 KB" in refused.message["vi"]
    assert "1.3 MB" in refused.message["en"]
    barely = FormTooLarge(1_000_000, 1_000_001).message  # the same size written twice would only puzzle
    assert barely["en"].startswith("The form was not sent: with its files it is more than the 977 KB") and barely["en"].count("977 KB") == 1
    assert barely["vi"].count("977 KB") == 1
    form = Headers({"content-type": multipart})
    assert is_page_form("/handling/cases/x/draft", form) and not is_page_form("/api/handling/v1/cases/x/files", form)
    assert not is_page_form("/auth/token", form) and not is_page_form("/handling/x", Headers({"content-type": "application/json"}))
    assert not is_page_form("/handling/x", Headers({"content-type": multipart, "accept": "application/json"}))
    assert is_page_form("/handling/x", Headers({"content-type": multipart, "accept": "text/html,application/xhtml+xml,*/*;q=0.8"}))
