"""SMS to reporters (their one-time codes): one interface, a real brandname-SMS adapter and a development outbox.

Vietnamese providers (eSMS, VNPT, Viettel, MobiFone...) all take a JSON POST with the registered
brandname, the phone, the text and an API key; `HttpBrandnameSms` sends exactly that, signed like the
staff notifier's webhook (X-PAHT-Timestamp, X-PAHT-Signature: HMAC-SHA256 over "<timestamp>.<body>")
so a provider bridge can tell our requests from anyone's. A 2xx answer means the provider took the
message; anything else, or no answer in time, raises `SmsUnavailable` (a 503 for the caller).

The development outbox writes each message to <data>/dev-outbox/sms.jsonl, where the embedded run's
demo page shows it. It is never used in production: a code written to disk there would be a way round
the check, so production without a gateway refuses to send.

Neither adapter logs a phone number (only its masked form, 09xxxxx678) nor a message's text.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from paht.runtime.errors import Unavailable
from paht.runtime.ids import new_id
from paht.runtime.notify import sign
from paht.runtime.settings import Settings

if TYPE_CHECKING:  # imported where a message is sent: httpx costs each service ~4 MB at idle
    import httpx

log = logging.getLogger(__name__)


class SmsUnavailable(Unavailable):
    """The SMS provider did not take the message (down, refused, too slow, or none configured)."""

    def __init__(self, detail_en: str = "The SMS could not be sent right now; please try again in a few minutes.",
                 detail_vi: str = "Hiện chưa gửi được tin nhắn SMS; vui lòng thử lại sau ít phút.", **params):
        super().__init__(detail_en, detail_vi, **params)


class SmsGateway(Protocol):
    def send(self, phone: str, text: str, *, purpose: str, key: str | None = None) -> str:
        """Send `text` to `phone` (0XXXXXXXXX); return the provider's message id, or raise SmsUnavailable.

        `key` is the caller's idempotency key for this message (a notice sent again after a crash carries the same
        one): the HTTP adapter sends it as `Idempotency-Key` and `request_id`, so a provider that honours it sends
        the message once; one that does not may send it twice (at least once, never lost)."""


def mask_phone(phone: str) -> str:
    """Return a phone number as logs and screens may show it: 0912345678 -> 09xxxxx678."""
    if len(phone) < 6:
        return "x" * len(phone)
    return phone[:2] + "x" * (len(phone) - 5) + phone[-3:]


def international(phone: str) -> str:
    """Return a Vietnamese number as the providers want it: 0912345678 -> 84912345678."""
    return "84" + phone[1:] if phone.startswith("0") else phone.lstrip("+")


class HttpBrandnameSms:
    """POST each message as JSON to a brandname-SMS provider (or the province's SMS bridge)."""

    def __init__(self, url: str, api_key: str | None, secret: str | None, brandname: str, timeout_s: float = 5.0):
        self.url, self.api_key, self.secret, self.brandname, self.timeout_s = url, api_key, secret, brandname, timeout_s

    def send(self, phone: str, text: str, *, purpose: str, key: str | None = None) -> str:
        request_id = key or new_id()  # also the Idempotency-Key: a provider that sees it twice sends once
        body = json.dumps({"request_id": request_id, "brandname": self.brandname, "phone": international(phone), "text": text,
                           "purpose": purpose, "api_key": self.api_key or ""}, ensure_ascii=False).encode()
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": request_id, "X-PAHT-Timestamp": stamp}
        if self.secret:
            headers["X-PAHT-Signature"] = sign(self.secret, body, stamp)
        import httpx

        try:
            response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            log.warning("sms to %s (%s) not sent: %s", mask_phone(phone), purpose, type(exc).__name__)
            raise SmsUnavailable() from None
        if not 200 <= response.status_code < 300:
            log.warning("sms to %s (%s) refused by the provider: HTTP %d", mask_phone(phone), purpose, response.status_code)
            raise SmsUnavailable()
        log.info("sms to %s (%s) sent", mask_phone(phone), purpose)
        return _message_id(response) or request_id


def _message_id(response: httpx.Response) -> str:
    """The provider's id of the message, when its answer names one (field names differ between providers)."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    for name in ("message_id", "messageId", "id", "SMSID", "smsid", "MsgId"):
        value = data.get(name)
        if isinstance(value, (str, int)) and str(value):
            return str(value)[:100]
    return ""


class DevOutboxSms:
    """The embedded run's fake provider: one JSON line per message in <data>/dev-outbox/sms.jsonl."""

    def __init__(self, folder: Path):
        self.path = folder / "sms.jsonl"
        self._lock = threading.Lock()

    def send(self, phone: str, text: str, *, purpose: str, key: str | None = None) -> str:
        message_id = new_id()
        record = {"id": message_id, "phone": phone, "text": text, "purpose": purpose, "at": time.time()}
        if key:
            record["key"] = key  # as a provider keeps the request's idempotency key
        line = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self.path.open("a+b") as out:
                if out.tell() > 0:
                    out.seek(-1, 2)
                    if out.read(1) != b"\n":  # a line a crash cut short: ours starts on a line of its own
                        line = "\n" + line
                out.write((line + "\n").encode())
        return message_id

    def recent(self, phone: str | None = None, limit: int = 20) -> list[dict]:
        """Return the newest messages first (to one phone when given), for the demo page and tests."""
        if not self.path.exists():
            return []
        found = []
        for line in reversed(self.path.read_text(encoding="utf-8").splitlines()):
            try:
                message = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash
            if phone is None or message.get("phone") == phone:
                found.append(message)
                if len(found) >= limit:
                    break
        return found


class UnconfiguredSms:
    """Production without a gateway: every send is refused (codes are never written to disk there)."""

    def send(self, phone: str, text: str, *, purpose: str, key: str | None = None) -> str:
        log.error("no SMS gateway configured (PAHT_SMS_GATEWAY_URL): %s to %s not sent", purpose, mask_phone(phone))
        raise SmsUnavailable("SMS codes are not available: the SMS gateway is not configured. Please call the hotline.",
                             "Hệ thống chưa cấu hình cổng gửi tin nhắn SMS nên chưa gửi được mã xác thực. Vui lòng gọi tổng đài.")


def sms_from(settings: Settings) -> SmsGateway:
    """Return the gateway the settings ask for: the provider when PAHT_SMS_GATEWAY_URL is set, else the dev outbox
    (outside production) or a gateway that refuses to send (production)."""
    if settings.sms_gateway_url:
        return HttpBrandnameSms(settings.sms_gateway_url, settings.sms_gateway_key, settings.sms_gateway_secret,
                                settings.sms_brandname, settings.sms_timeout_s)
    if settings.env == "production":
        log.error("PAHT_SMS_GATEWAY_URL is not set: reporters cannot get SMS codes")
        return UnconfiguredSms()
    return DevOutboxSms(settings.data / "dev-outbox")


def is_dev_outbox(gateway: SmsGateway, settings: Settings) -> bool:
    """Tell whether demo codes may be shown: the dev outbox is in use and this is not production."""
    return isinstance(gateway, DevOutboxSms) and settings.env != "production"
