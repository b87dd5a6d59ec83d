"""The SMS gateway: the brandname-SMS adapter against a real local HTTP server (body, signature, failures),
the development outbox, and which one the settings choose (never the outbox in production)."""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from paht.runtime.notify import sign
from paht.runtime.settings import Settings
from paht.runtime.sms import DevOutboxSms, HttpBrandnameSms, SmsUnavailable, UnconfiguredSms, sms_from

pytestmark = pytest.mark.integration

PHONE = "0912345678"
TEXT = "PAHT: Ma xac thuc cua ban la 042917, hieu luc 5 phut. Khong chia se ma nay voi bat ky ai."
SECRET = "provider-shared-secret"


class Provider:
    """A tiny brandname-SMS provider on 127.0.0.1: records each request, answers as told."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status, self.answer = 200, {"CodeResult": "100", "SMSID": "sms-778899"}
        self.hang = threading.Event()   # set: answer; clear: keep the caller waiting
        self.hang.set()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                provider.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                provider.hang.wait(30)
                data = json.dumps(provider.answer).encode()
                self.send_response(provider.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.hang.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider():
    p = Provider()
    yield p
    p.close()


def test_a_message_is_posted_with_brandname_phone_text_and_key_and_signed(provider, caplog):
    gateway = HttpBrandnameSms(provider.url, "api-key-123", SECRET, "QUANGBINH-S", timeout_s=5)
    with caplog.at_level(logging.DEBUG):
        message_id = gateway.send(PHONE, TEXT, purpose="otp")
    assert message_id == "sms-778899"
    (request,) = provider.requests
    assert request["path"] == "/sms/send"
    body = json.loads(request["body"])
    assert body["brandname"] == "QUANGBINH-S" and body["phone"] == "84912345678" and body["text"] == TEXT
    assert body["api_key"] == "api-key-123" and body["purpose"] == "otp" and body["request_id"]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-type"] == "application/json" and headers["idempotency-key"] == body["request_id"]
    assert headers["x-paht-signature"] == sign(SECRET, request["body"], headers["x-paht-timestamp"])
    assert SECRET not in request["body"].decode()
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert PHONE not in logged and "912345678" not in logged and "042917" not in logged and "09xxxxx678" in logged


def test_a_provider_answer_without_an_id_gives_our_request_id(provider):
    provider.answer = ["accepted"]
    gateway = HttpBrandnameSms(provider.url, None, None, "QUANGBINH-S")
    message_id = gateway.send(PHONE, TEXT, purpose="otp")
    (request,) = provider.requests
    assert message_id == json.loads(request["body"])["request_id"]
    assert "x-paht-signature" not in {k.lower() for k in request["headers"]}  # no secret, no signature


@pytest.mark.parametrize("status", [400, 401, 500, 503, 302])
def test_anything_but_2xx_is_sms_unavailable(provider, status, caplog):
    provider.status = status
    with pytest.raises(SmsUnavailable) as failed, caplog.at_level(logging.DEBUG):
        HttpBrandnameSms(provider.url, "k", SECRET, "QUANGBINH-S").send(PHONE, TEXT, purpose="otp")
    assert failed.value.detail_vi and failed.value.detail_en and "SMS" in failed.value.detail_en
    assert str(status) in " ".join(r.getMessage() for r in caplog.records)
    assert PHONE not in caplog.text and "042917" not in caplog.text


def test_a_provider_that_does_not_answer_in_time_is_sms_unavailable(provider):
    provider.hang.clear()
    with pytest.raises(SmsUnavailable):
        HttpBrandnameSms(provider.url, "k", SECRET, "QUANGBINH-S", timeout_s=0.2).send(PHONE, TEXT, purpose="otp")
    assert len(provider.requests) == 1


def test_a_provider_that_is_not_there_is_sms_unavailable(provider):
    url = provider.url
    provider.close()
    with pytest.raises(SmsUnavailable):
        HttpBrandnameSms(url, "k", SECRET, "QUANGBINH-S", timeout_s=2).send(PHONE, TEXT, purpose="otp")


def test_the_dev_outbox_keeps_each_message_and_reads_the_newest_first(tmp_path):
    outbox = DevOutboxSms(tmp_path / "dev-outbox")
    assert outbox.recent() == []
    first = outbox.send(PHONE, "PAHT: Ma xac thuc cua ban la 111111", purpose="otp")
    outbox.send("0987654321", "PAHT: Ma xac thuc cua ban la 222222", purpose="otp")
    with outbox.path.open("a", encoding="utf-8") as f:
        f.write('{"cut by a cra')  # a line a crash left half-written
    outbox.send(PHONE, "PAHT: Ma xac thuc cua ban la 333333", purpose="otp")
    mine = outbox.recent(PHONE)
    assert [m["text"][-6:] for m in mine] == ["333333", "111111"] and mine[1]["id"] == first
    assert all(set(m) >= {"phone", "text", "purpose", "at"} for m in mine)
    assert len(outbox.recent()) == 3 and len(outbox.recent(limit=1)) == 1


def test_the_settings_choose_the_provider_the_outbox_or_nothing_in_production(tmp_path):
    assert isinstance(sms_from(Settings(env="test", data=tmp_path, sms_gateway_url="https://sms.example/send")), HttpBrandnameSms)
    assert isinstance(sms_from(Settings(env="development", data=tmp_path)), DevOutboxSms)
    production = dict(env="production", data=tmp_path, database_url="postgresql://x/y", nats_url="nats://x:4222")
    assert isinstance(sms_from(Settings(**production, sms_gateway_url="https://sms.example/send")), HttpBrandnameSms)
    refusing = sms_from(Settings(**production))
    assert isinstance(refusing, UnconfiguredSms)
    with pytest.raises(SmsUnavailable) as refused:
        refusing.send(PHONE, TEXT, purpose="otp")
    assert "tổng đài" in refused.value.detail_vi
    assert not (tmp_path / "dev-outbox").exists()


def test_the_gateway_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PAHT_SMS_GATEWAY_URL", "https://sms.example/send")
    monkeypatch.setenv("PAHT_SMS_GATEWAY_KEY", "key-1")
    monkeypatch.setenv("PAHT_SMS_GATEWAY_SECRET", "secret-1")
    monkeypatch.setenv("PAHT_SMS_BRANDNAME", "QB-TEST")
    monkeypatch.setenv("PAHT_SMS_TIMEOUT_S", "2.5")
    gateway = sms_from(Settings(env="test", data=tmp_path))
    assert (gateway.url, gateway.api_key, gateway.secret, gateway.brandname, gateway.timeout_s) == (
        "https://sms.example/send", "key-1", "secret-1", "QB-TEST", 2.5)
