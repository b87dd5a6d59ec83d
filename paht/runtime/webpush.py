"""Web Push to reporters' browsers: one interface, a real adapter (RFC 8030 delivery, RFC 8291 message encryption,
RFC 8292 VAPID) and a development outbox.

The sibling of `paht.runtime.sms` and `paht.runtime.mail`. The real adapter needs a VAPID key pair: the private key
(P-256, PEM) from `PAHT_VAPID_PRIVATE_KEY_FILE`; the public key the browser subscribes with is derived from it.
Without one, the subscribe button is not shown; production then refuses to push ("not configured"), and the
embedded run writes what it would have pushed to <data>/dev-outbox/push.jsonl.

It is written on `cryptography` and PyJWT, which PAHT already depends on (pywebpush, MPL-2.0, would have been
acceptable, but brings http-ece, py-vapid, requests and aiohttp for the same few steps). Every message is
encrypted for the one browser (aes128gcm, a fresh key and salt each time), so the push service reads nothing; the
caller's idempotency key becomes the `Topic` header, so a message sent again while the first still waits at the push
service replaces it instead of arriving twice. No endpoint (it identifies a browser) and no text is logged.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from paht.runtime.errors import Unavailable
from paht.runtime.ids import new_id
from paht.runtime.settings import Settings

if TYPE_CHECKING:  # imported where a message is sent: httpx costs each service ~4 MB at idle
    import httpx

log = logging.getLogger(__name__)
RECORD_SIZE = 4096
MAX_PAYLOAD = 3000  # push services take about 4 kB encrypted; a notice is far shorter


class PushUnavailable(Unavailable):
    """The push service did not take the message (down, refused, too slow, or push not configured)."""

    def __init__(self, detail_en: str = "The push notification could not be sent right now.",
                 detail_vi: str = "Hiện chưa gửi được thông báo đẩy.", **params):
        super().__init__(detail_en, detail_vi, **params)


class PushGone(PushUnavailable):
    """The subscription no longer exists (404/410): the browser unsubscribed or its permission was withdrawn."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class PushSubscription:
    """What a browser's PushSubscription.toJSON() gives: the endpoint and the keys to encrypt for it."""

    endpoint: str
    p256dh: str   # base64url, the browser's P-256 public key (65 bytes uncompressed)
    auth: str     # base64url, 16 bytes of authentication secret

    def __repr__(self) -> str:  # the endpoint identifies a browser: never in a log line
        return "PushSubscription(…)"


class WebPush(Protocol):
    public_key: str | None  # the VAPID public key for the browser's applicationServerKey; None: push not offered

    def send(self, subscription: PushSubscription, payload: dict, *, key: str | None = None, ttl_s: int = 86400) -> str:
        """Deliver `payload` (JSON) to one browser; return the push service's message id. Raise PushGone when the
        subscription is dead, PushUnavailable otherwise."""


def encrypt(payload: bytes, p256dh: str, auth: str, *, salt: bytes | None = None,
            sender_key: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    """Encrypt a message for one browser (RFC 8291, content coding aes128gcm, one record)."""
    ua_public = unb64url(p256dh)
    auth_secret = unb64url(auth)
    if len(ua_public) != 65 or len(auth_secret) != 16:
        raise ValueError("not a Web Push subscription's keys")
    receiver = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public)
    sender_key = sender_key or ec.generate_private_key(ec.SECP256R1())
    as_public = sender_key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    shared = sender_key.exchange(ec.ECDH(), receiver)
    ikm = HKDF(hashes.SHA256(), 32, salt=auth_secret, info=b"WebPush: info\x00" + ua_public + as_public).derive(shared)
    salt = salt or os.urandom(16)
    cek = HKDF(hashes.SHA256(), 16, salt=salt, info=b"Content-Encoding: aes128gcm\x00").derive(ikm)
    nonce = HKDF(hashes.SHA256(), 12, salt=salt, info=b"Content-Encoding: nonce\x00").derive(ikm)
    ciphertext = AESGCM(cek).encrypt(nonce, payload + b"\x02", None)  # \x02: the last (and only) record
    return salt + struct.pack("!IB", RECORD_SIZE, len(as_public)) + as_public + ciphertext


def topic_for(key: str) -> str:
    """The Topic header for an idempotency key: at most 32 characters of the URL-safe alphabet."""
    return b64url(hashlib.sha256(key.encode()).digest())[:32]


class VapidWebPush:
    """Push through the browser vendor's push service, identified by our VAPID key."""

    def __init__(self, private_key_pem: bytes, subject: str, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None):
        self._key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(self._key, ec.EllipticCurvePrivateKey) or self._key.curve.name != "secp256r1":
            raise ValueError("the VAPID key must be a P-256 (prime256v1) private key")
        self.public_key = b64url(self._key.public_key().public_bytes(serialization.Encoding.X962,
                                                                     serialization.PublicFormat.UncompressedPoint))
        self.subject, self.timeout_s, self._transport = subject, timeout_s, transport

    def _authorization(self, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": int(time.time()) + 12 * 3600, "sub": self.subject}
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"typ": "JWT"})
        return f"vapid t={token}, k={self.public_key}"

    def send(self, subscription: PushSubscription, payload: dict, *, key: str | None = None, ttl_s: int = 86400) -> str:
        if urlsplit(subscription.endpoint).scheme != "https":
            raise PushGone("A push endpoint must be an https address.", "Địa chỉ nhận thông báo đẩy phải là https.")
        body = encrypt(json.dumps(payload, ensure_ascii=False).encode()[:MAX_PAYLOAD], subscription.p256dh, subscription.auth)
        headers = {"Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream", "TTL": str(ttl_s),
                   "Urgency": "normal", "Authorization": self._authorization(subscription.endpoint)}
        if key:
            headers["Topic"] = topic_for(key)
        import httpx

        try:
            with httpx.Client(timeout=self.timeout_s, transport=self._transport) as client:
                response = client.post(subscription.endpoint, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("web push not sent: %s", type(exc).__name__)
            raise PushUnavailable() from None
        if response.status_code in (404, 410):
            raise PushGone()
        if not 200 <= response.status_code < 300:
            log.warning("web push refused by the push service: HTTP %d", response.status_code)
            raise PushUnavailable()
        return response.headers.get("Location", "")[-200:] or new_id()


class DevOutboxPush:
    """The embedded run's fake push service: one JSON line per message in <data>/dev-outbox/push.jsonl.

    It offers no public key: the page's subscribe button needs a real one (a browser subscribes at its vendor's
    push service), so in the embedded run subscriptions come from the API (tests, a developer's curl)."""

    public_key = None

    def __init__(self, folder: Path):
        self.path = folder / "push.jsonl"
        self._lock = threading.Lock()

    def send(self, subscription: PushSubscription, payload: dict, *, key: str | None = None, ttl_s: int = 86400) -> str:
        message_id = new_id()
        line = json.dumps({"id": message_id, "endpoint": subscription.endpoint, "payload": payload, "key": key or "",
                           "at": time.time()}, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        return message_id

    def sent(self) -> list[dict]:
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found


class UnconfiguredPush:
    """Production without a VAPID key: no button is shown, and a push is refused as not configured."""

    public_key = None

    def send(self, subscription: PushSubscription, payload: dict, *, key: str | None = None, ttl_s: int = 86400) -> str:
        raise PushUnavailable("Web Push is not configured on this server (no VAPID key).",
                              "Máy chủ chưa được cấu hình thông báo đẩy (chưa có khóa VAPID).")


def push_from(settings: Settings) -> WebPush:
    """The adapter the settings ask for: VAPID when PAHT_VAPID_PRIVATE_KEY_FILE is set, else the dev outbox (outside
    production) or one that refuses (production)."""
    if settings.vapid_private_key_file:
        return VapidWebPush(Path(settings.vapid_private_key_file).read_bytes(), settings.vapid_subject)
    if settings.env == "production":
        return UnconfiguredPush()
    return DevOutboxPush(settings.data / "dev-outbox")
