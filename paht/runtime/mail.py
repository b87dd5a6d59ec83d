"""E-mail to reporters (the notices of their reports): one interface, a real SMTP adapter and a development outbox.

The sibling of `paht.runtime.sms`: the same shape (`send(...) -> message id`, a refusal as `EmailUnavailable`, a
503 for a caller), the same development outbox folder, the same rule that production without a server refuses to
send rather than write mail to disk.

`SmtpEmail` speaks SMTP with the standard library (smtplib, STARTTLS or TLS from the start, optional login). The
caller's idempotency key becomes the Message-ID, so a notice sent again after a crash is the same message to any
mail system that drops repeated Message-IDs (and to the reader's client, which shows one). Nothing here logs an
address (only its masked form) nor a message's text.
"""
from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

from paht.runtime.errors import Unavailable
from paht.runtime.ids import new_id
from paht.runtime.settings import Settings

log = logging.getLogger(__name__)


class EmailUnavailable(Unavailable):
    """The mail server did not take the message (down, refused, too slow, or none configured)."""

    def __init__(self, detail_en: str = "The e-mail could not be sent right now.",
                 detail_vi: str = "Hiện chưa gửi được thư điện tử.", **params):
        super().__init__(detail_en, detail_vi, **params)


class EmailSender(Protocol):
    def send(self, to: str, subject: str, text: str, *, purpose: str, key: str | None = None) -> str:
        """Send a plain-text message; return its Message-ID, or raise EmailUnavailable."""


def mask_email(address: str) -> str:
    """Return an address as logs may show it: thu.nguyen@example.vn -> t***@example.vn."""
    local, _, domain = (address or "").partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def message_id(key: str | None, sender: str) -> str:
    """A Message-ID made from the idempotency key (the same key, the same id), in the sender's domain."""
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "paht.invalid"
    token = hashlib.sha256(key.encode()).hexdigest()[:32] if key else new_id()
    return f"<{token}@{domain}>"


def build_message(sender: str, to: str, subject: str, text: str, key: str | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(key, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to a notice
    message.set_content(text)  # UTF-8, Vietnamese with its diacritics
    return message


class SmtpEmail:
    """Send each message through an SMTP server (the province's mail relay or a provider's submission port)."""

    def __init__(self, host: str, port: int, sender: str, user: str | None = None, password: str | None = None,
                 tls: str = "starttls", timeout_s: float = 10.0):
        self.host, self.port, self.sender, self.user, self.password, self.tls, self.timeout_s = (
            host, port, sender, user, password, tls, timeout_s)

    def send(self, to: str, subject: str, text: str, *, purpose: str, key: str | None = None) -> str:
        message = build_message(self.sender, to, subject, text, key)
        try:
            if self.tls == "ssl":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with client:
                if self.tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.user:
                    client.login(self.user, self.password or "")
                client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("e-mail to %s (%s) not sent: %s", mask_email(to), purpose, type(exc).__name__)
            raise EmailUnavailable() from None
        log.info("e-mail to %s (%s) sent", mask_email(to), purpose)
        return message["Message-ID"]


class DevOutboxEmail:
    """The embedded run's fake mail server: one JSON line per message in <data>/dev-outbox/email.jsonl."""

    def __init__(self, folder: Path, sender: str = "PAHT <no-reply@paht.invalid>"):
        self.path = folder / "email.jsonl"
        self.sender = sender
        self._lock = threading.Lock()

    def send(self, to: str, subject: str, text: str, *, purpose: str, key: str | None = None) -> str:
        mid = message_id(key, self.sender)
        line = json.dumps({"id": mid, "to": to, "subject": subject, "text": text, "purpose": purpose, "key": key or "",
                           "at": time.time()}, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        return mid

    def sent(self) -> list[dict]:
        """Every message in the outbox, oldest first (for tests and the demo)."""
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash
        return found


class UnconfiguredEmail:
    """Production without a mail server: every send is refused (the notice waits and is tried again)."""

    def send(self, to: str, subject: str, text: str, *, purpose: str, key: str | None = None) -> str:
        log.error("no mail server configured (PAHT_SMTP_HOST): %s to %s not sent", purpose, mask_email(to))
        raise EmailUnavailable("E-mail is not configured on this server.", "Máy chủ chưa được cấu hình gửi thư điện tử.")


def email_from(settings: Settings) -> EmailSender:
    """The sender the settings ask for: SMTP when PAHT_SMTP_HOST is set, else the dev outbox (outside production) or a
    sender that refuses (production)."""
    if settings.smtp_host:
        return SmtpEmail(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_user, settings.smtp_password,
                         settings.smtp_tls, settings.smtp_timeout_s)
    if settings.env == "production":
        return UnconfiguredEmail()
    return DevOutboxEmail(settings.data / "dev-outbox", settings.smtp_from)
