"""Partner apps on a real database: registered by an IOC administrator (API or CLI), the key shown once, its
channel on every report, its rate limit shared by every replica (429), rotation and deactivation at once."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paht.runtime.cli import main as paht
from services.intake.adapters.orm import partner_apps, rate_counters, reports
from services.intake.adapters.rate import limiter_for
from services.intake.bootstrap import SPEC
from services.intake.service_layer import partners
from tests.integration.test_reporter_otp import intake_app
from tests.support.services import migrated_context, token_for

pytestmark = pytest.mark.integration

ADMIN_PATH = "/api/intake/v1/admin/partners"
SMARTCITY = {"id": "smartcity-donghoi", "name": "Ứng dụng Đồng Hới SmartCity", "channel_name": "smartcity-donghoi", "rate_per_minute": 120,
             "verifies_phone": True}
REPORT = {
    "reporter": {"name": "Hoàng Thị Lan", "phone": "0916222333", "email": "lan@example.vn"},
    "title": "Nắp cống bị vỡ trên vỉa hè",
    "description": "Nắp cống trước chợ Đồng Hới bị vỡ, người đi bộ dễ bị ngã vào ban đêm.",
    "address_text": "Chợ Đồng Hới, đường Quách Xuân Kỳ",
    "acknowledged": True,
}


@pytest.fixture
def app(settings):
    ctx = migrated_context(SPEC, settings)
    yield ctx, TestClient(intake_app(ctx))
    ctx.engine.dispose()


def admin(settings, roles=("ioc_admin",)):
    return {"Authorization": "Bearer " + token_for(settings, "quantri", list(roles), "ioc-tinh")}


def submit(client, key):
    return client.post("/api/intake/v1/reports", json=REPORT, headers={"X-API-Key": key})


def test_an_administrator_registers_a_partner_whose_key_is_shown_once_and_submits_on_its_channel(app, settings):
    ctx, client = app
    r = client.post(ADMIN_PATH, json=SMARTCITY, headers=admin(settings))
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    key = r.json()["api_key"]
    partner = r.json()["partner"]
    assert key.startswith("pk_") and partner["key_prefix"] == key[:8] and partner["active"] and partner["rate_per_minute"] == 120
    with ctx.engine.connect() as conn:
        row = conn.execute(select(partner_apps)).mappings().one()
    assert key not in str(dict(row).values()) and row["key_hash"] == partners.key_hash(key)

    listed = client.get(ADMIN_PATH, headers=admin(settings))
    assert listed.status_code == 200 and [p["id"] for p in listed.json()["items"]] == ["smartcity-donghoi"]
    assert key not in listed.text and row["key_hash"] not in listed.text

    sent = submit(client, key)
    assert sent.status_code == 201, sent.text
    assert (sent.json()["channel"], sent.json()["verification"]) == ("partner_app", "partner")
    with ctx.engine.connect() as conn:
        assert conn.execute(select(reports.c.channel_name)).scalar_one() == "smartcity-donghoi"


def test_only_ioc_administrators_manage_partners(app, settings):
    _ctx, client = app
    assert client.get(ADMIN_PATH).status_code == 401
    operator = admin(settings, ("ioc_operator",))
    assert client.get(ADMIN_PATH, headers=operator).status_code == 403
    assert client.post(ADMIN_PATH, json=SMARTCITY, headers=operator).status_code == 403
    assert client.get(ADMIN_PATH, headers=admin(settings)).json() == {"items": []}


@pytest.mark.parametrize("change, status, fragment", [
    ({"id": "SmartCity Đồng Hới"}, 422, "chữ thường"),
    ({"id": ""}, 422, "chữ thường"),
    ({"channel_name": "kênh/1"}, 422, "Tên kênh"),
    ({"name": "\u202egiả mạo"}, 422, "không được phép"),
    ({"name": "x"}, 422, "quá ngắn"),
    ({"rate_per_minute": 0}, 422, "rate_per_minute"),
    ({"key": "pk_mine"}, 422, "key"),
])
def test_bad_partner_details_are_refused_in_both_languages(app, settings, change, status, fragment):
    ctx, client = app
    r = client.post(ADMIN_PATH, json={**SMARTCITY, **change}, headers=admin(settings))
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert fragment in " ".join([*error["message"].values(), *error.get("detail", {}).values()]) and error["message"]["en"]
    assert partners.list_all(ctx.engine) == []


def test_an_id_or_channel_taken_is_a_conflict(app, settings):
    _ctx, client = app
    assert client.post(ADMIN_PATH, json=SMARTCITY, headers=admin(settings)).status_code == 201
    again = client.post(ADMIN_PATH, json={**SMARTCITY, "channel_name": "other"}, headers=admin(settings))
    assert again.status_code == 409 and "đã có" in again.json()["error"]["detail"]["vi"].lower()
    same_channel = client.post(ADMIN_PATH, json={**SMARTCITY, "id": "other-app"}, headers=admin(settings))
    assert same_channel.status_code == 409


def test_a_partner_over_its_rate_gets_429_with_retry_after_and_nothing_is_stored(app, settings):
    ctx, client = app
    limiter_for(ctx.engine).clock = lambda: 1_794_999_980.0  # 20 s into a minute: the three requests share its window
    key = client.post(ADMIN_PATH, json={**SMARTCITY, "rate_per_minute": 2}, headers=admin(settings)).json()["api_key"]
    answers = [submit(client, key) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].headers["retry-after"] == "40" and "2 yêu cầu" in answers[2].json()["error"]["detail"]["vi"]
    with ctx.engine.connect() as conn:
        assert len(conn.execute(select(reports.c.id)).all()) == 2
        (count,) = conn.execute(select(rate_counters.c.count).where(rate_counters.c.key == "partner:smartcity-donghoi")).one()
    assert count == 3
    other = client.post(ADMIN_PATH, json={**SMARTCITY, "id": "hue-s", "channel_name": "hue-s"}, headers=admin(settings)).json()["api_key"]
    assert submit(client, other).status_code == 201  # each partner has its own count


def test_a_rotated_key_replaces_the_old_one_and_a_deactivated_partner_is_refused_at_once(app, settings):
    _ctx, client = app
    old = client.post(ADMIN_PATH, json=SMARTCITY, headers=admin(settings)).json()["api_key"]
    rotated = client.post(f"{ADMIN_PATH}/smartcity-donghoi/rotate", headers=admin(settings))
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new = rotated.json()["api_key"]
    assert new != old and rotated.json()["partner"]["key_prefix"] == new[:8]
    assert submit(client, old).status_code == 401
    assert submit(client, new).status_code == 201

    off = client.post(f"{ADMIN_PATH}/smartcity-donghoi/deactivate", headers=admin(settings))
    assert off.status_code == 200 and off.json()["active"] is False
    assert submit(client, new).status_code == 401
    assert client.post(f"{ADMIN_PATH}/smartcity-donghoi/rotate", headers=admin(settings)).status_code == 409
    assert client.post(f"{ADMIN_PATH}/nobody/deactivate", headers=admin(settings)).status_code == 404
    assert client.post(f"{ADMIN_PATH}/{'x' * 41}/rotate", headers=admin(settings)).status_code == 422


def test_keys_that_are_not_ours_find_no_partner(app):
    ctx, _client = app
    for key in ("", "pk_", "pk_" + "x" * 43, "x" * 500, "pk_" + "y" * 200):
        assert partners.partner_for_key(ctx.engine, key) is None


def test_the_cli_adds_lists_rotates_and_revokes_partners(app, settings, capsys, monkeypatch):
    ctx, client = app
    monkeypatch.setenv("PAHT_DB_SCHEMA_PREFIX", settings.db_schema_prefix)  # the test's own database schema
    data = ["--data", str(settings.data)]
    assert paht(["partner", "add", "--id", "smartcity-donghoi", "--name", "Ứng dụng Đồng Hới SmartCity", "--channel", "smartcity-donghoi",
                 "--rate", "120", "--verifies-phone", *data]) == 0
    out = capsys.readouterr().out
    key = out.split("X-API-Key): ")[1].split()[0]
    assert submit(client, key).status_code == 201

    assert paht(["partner", "list", *data]) == 0
    listed = capsys.readouterr().out
    assert "smartcity-donghoi" in listed and "120/min" in listed and key[:8] in listed and key not in listed

    assert paht(["partner", "add", "--id", "smartcity-donghoi", "--name", "Lần hai", *data]) == 2
    assert "exists already" in capsys.readouterr().err

    assert paht(["partner", "rotate", "smartcity-donghoi", *data]) == 0
    new = capsys.readouterr().out.rsplit(": ", 1)[1].strip()
    assert submit(client, key).status_code == 401 and submit(client, new).status_code == 201

    assert paht(["partner", "revoke", "smartcity-donghoi", *data]) == 0
    assert "deactivated" in capsys.readouterr().out
    assert submit(client, new).status_code == 401
    assert paht(["partner", "revoke", "nobody", *data]) == 2


def test_hits_that_arrive_together_are_counted_together_and_exactly_the_limit_is_let_through(app):
    """Threads hitting at once share transactions (rate.py): the counts are the ones each would have had alone."""
    import threading

    ctx, _client = app
    limiter = limiter_for(ctx.engine)
    limiter.clock = lambda: 1_794_999_990.0
    answers, start = [], threading.Barrier(12)

    def hit(key):
        start.wait()
        for _ in range(10):
            answers.append((key, limiter.hit(key, 25, 60)))

    threads = [threading.Thread(target=hit, args=("partner:a" if i % 3 else "partner:b",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    allowed = {k: sum(1 for key, (ok, _) in answers if key == k and ok) for k in ("partner:a", "partner:b")}
    assert allowed == {"partner:a": 25, "partner:b": 25} and len(answers) == 120
    assert {retry for _, (ok, retry) in answers if not ok} == {30}  # 30 s into its minute
    with ctx.engine.connect() as conn:
        counts = dict(conn.execute(select(rate_counters.c.key, rate_counters.c.count)).all())
    assert counts == {"partner:a": 80, "partner:b": 40}
