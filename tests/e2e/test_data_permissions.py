"""A real `paht up` (embedded): the data folder is private (issue 5, item 7) and the edge's answers carry
the security headers, no `server` header, and refuse a cross-site form (items 3 and 4)."""
from __future__ import annotations

import os
import re
import stat
import uuid

import httpx
import pytest

from paht.runtime.walkthrough import REPORT
from tests.e2e.harness import Client, backend_env, start_paht, stop_paht
from tests.support.reporters import signed_in_over_http

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    data = tmp_path_factory.mktemp("perms") / "data"
    # What an older version left: a world-readable folder and file, which `paht up` must tighten.
    (data / "db").mkdir(parents=True)
    os.chmod(data, 0o755)
    os.chmod(data / "db", 0o755)
    (data / "db" / "left-over.txt").write_text("old")
    os.chmod(data / "db" / "left-over.txt", 0o644)
    r = start_paht(data, backend_env("embedded", "p" + uuid.uuid4().hex[:8]))
    yield r
    stop_paht(r)


def test_every_folder_is_0700_and_every_file_0600(running):
    submitted = Client(running.url).post("/api/intake/v1/reports", "citizen", json=REPORT, timeout=10)
    assert submitted.status_code == 201, submitted.text  # reporters' personal data is now on disk
    seen = {"dirs": 0, "files": 0}
    loose = []
    for folder, dirs, files in os.walk(running.data):
        mode = stat.S_IMODE(os.stat(folder).st_mode)
        seen["dirs"] += 1
        if mode != 0o700:
            loose.append((folder, oct(mode)))
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            seen["files"] += 1
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode != 0o600:
                loose.append((path, oct(mode)))
    names = {name for _f, _d, files in os.walk(running.data) for name in files}
    assert {"intake.sqlite3", "token.pem", "token.pub.pem", "intake.log", "left-over.txt"} <= names
    assert any(n.endswith("-wal") for n in names) and any((running.data / "nats").rglob("*"))
    assert not loose, loose


def test_the_edge_sends_security_headers_and_no_server_header(running):
    for path in ("/", "/intake/report", "/api/dispatch/v1/topics", "/static/paht.css", "/nowhere", "/healthz"):
        r = httpx.get(f"{running.url}{path}", timeout=10)
        assert "server" not in r.headers, path
        assert "script-src 'self'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY", path
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"], path


def test_a_cross_site_form_is_refused_and_the_real_form_works(running):
    with httpx.Client(base_url=running.url, timeout=10) as browser:
        page = browser.get("/intake/report")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        signed_in_over_http(browser, "0912000111", session="cookie")  # the reporter's cookie: what a forged form would ride on
        form = {"name": "Lê Thị Mai", "phone": "0912000111", "email": "mai@example.vn", "title": "Nắp cống bị vỡ",
                "description": "Nắp cống trước số 8 đường Hùng Vương bị vỡ, rất nguy hiểm cho xe máy.", "csrf_token": token,
                "address_text": "8 Hùng Vương, Đồng Hới", "acknowledged": "true"}
        forged = browser.post("/intake/report", data=form, headers={"Origin": "https://evil.example"})
        assert forged.status_code == 403 and "Biểu mẫu" in forged.text
        missing = browser.post("/intake/report", data={k: v for k, v in form.items() if k != "csrf_token"})
        assert missing.status_code == 403
        real = browser.post("/intake/report", data=form, headers={"Origin": running.url})
        assert real.status_code == 201, real.text[:500]
