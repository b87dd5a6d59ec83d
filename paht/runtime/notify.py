"""Notifications to staff: one interface, a real webhook adapter and a development outbox.

The SLA monitor tells the person responsible and their leader that a deadline is near or missed; the
emergency watch tells the IOC that 113/114/115 did not acknowledge. Each notice carries an idempotency
key, so a notice sent again (a retry, a second replica) is recognisable by the receiver and by the
development outbox, which keeps one line per key.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from paht.runtime.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    key: str                    # idempotency key, e.g. "sla:<clock id>:breach"
    kind: str                   # "sla_warning", "sla_breach", "emergency_unacknowledged", ...
    to: tuple[str, ...]         # staff subjects, or "org:<unit id>" for the people of a unit
    subject: tuple[str, str]    # (English, Vietnamese)
    body: tuple[str, str] = ("", "")
    link: str = ""              # path of the page to open, e.g. /dispatch/console
    report_id: str = ""
    extra: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return asdict(self)


class Notifier(Protocol):
    def send(self, notice: Notice) -> None:
        """Deliver the notice or raise (the caller retries); sending one key twice must be harmless."""


class DevOutboxNotifier:
    """The embedded run's fake gateway: one JSON line per notice key in <data>/dev-outbox/notifications.jsonl."""

    def __init__(self, folder: Path):
        self.path = folder / "notifications.jsonl"
        self._lock = threading.Lock()
        self._seen: set[str] | None = None

    def _keys(self) -> set[str]:
        if self._seen is None:
            self._seen = set()
            if self.path.exists():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    try:
                        self._seen.add(json.loads(line)["key"])
                    except (ValueError, KeyError):
                        continue
        return self._seen

    def send(self, notice: Notice) -> None:
        with self._lock:
            if notice.key in self._keys():
                return
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps({**notice.as_json(), "at": time.time()}, ensure_ascii=False) + "\n")
            self._seen.add(notice.key)

    def sent(self) -> list[dict]:
        """Return every notice in the outbox (for the development page and tests)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """Return the signature of a webhook body: hex HMAC-SHA256 over "<timestamp>.<body>"."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """POST each notice as JSON to the notification gateway, signed (X-PAHT-Timestamp, X-PAHT-Signature)."""

    def __init__(self, url: str, secret: str | None, timeout_s: float = 5.0):
        self.url, self.secret, self.timeout_s = url, secret, timeout_s

    def send(self, notice: Notice) -> None:
        body = json.dumps(notice.as_json(), ensure_ascii=False).encode()
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": notice.key, "X-PAHT-Timestamp": stamp}
        if self.secret:
            headers["X-PAHT-Signature"] = sign(self.secret, body, stamp)
        import httpx  # here, not at the top: it costs each service ~4 MB at idle

        response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
        response.raise_for_status()


class ConsoleOnlyNotifier:
    """Production without a gateway: notices are logged (without personal data) and shown in the consoles only."""

    def send(self, notice: Notice) -> None:
        log.warning("no notification gateway configured: %s %s for %s", notice.kind, notice.key, ",".join(notice.to))


def notifier_from(settings: Settings) -> Notifier:
    """Return the notifier the settings ask for: the webhook when set, else the dev outbox (not in production)."""
    if settings.notify_webhook_url:
        return WebhookNotifier(settings.notify_webhook_url, settings.notify_webhook_secret)
    if settings.env == "production":
        return ConsoleOnlyNotifier()
    return DevOutboxNotifier(settings.data / "dev-outbox")
