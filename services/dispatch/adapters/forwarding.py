"""Forwarding urgent reports to the emergency desks (113, 114, 115): one interface, three adapters.

- `HttpWebhookForwarder`: POST the forward as JSON to the desk's URL (PAHT_EMERGENCY_WEBHOOK_113/114/115),
  signed like every PAHT webhook (X-PAHT-Timestamp, X-PAHT-Signature = paht.runtime.notify.sign over
  "<timestamp>.<body>" with PAHT_EMERGENCY_WEBHOOK_SECRET), with a timeout and a few quick retries; the
  desk answers 2xx, optionally with {"reference": "<its case number>"}, which PAHT keeps.
- `DevOutboxForwarder`: the fake desk of the embedded run and of tests: one JSON line per forward in
  <data>/dev-outbox/emergency.jsonl.
- `DeskConsoleForwarder`: production without a desk webhook: the desk's people see the forward on their
  page (/dispatch/emergency) and acknowledge it there; nothing leaves PAHT.

Every forward carries its id as Idempotency-Key, so a forward sent twice (a retry after a lost answer,
a sender that died after posting) is recognisable by the desk.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from paht.runtime.notify import sign
from paht.runtime.settings import Settings
from paht.runtime.text import is_clean
from services.dispatch.domain.emergency import EmergencyService

if TYPE_CHECKING:  # imported where a message is sent: httpx costs each service ~4 MB at idle
    import httpx

log = logging.getLogger(__name__)
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


class ForwardingFailed(Exception):
    """The desk did not take the forward; the sender tries again after a back-off."""


class EmergencyForwarder(Protocol):
    def send(self, payload: dict) -> str:
        """Deliver one forward (payload["forward_id"] identifies it) and return the desk's reference ("" if none);
        raise ForwardingFailed when the desk did not take it. Sending the same forward twice must be harmless."""


class HttpWebhookForwarder:
    """POST each forward to one desk's webhook, signed with the shared secret; retry transient failures quickly."""

    def __init__(self, url: str, secret: str | None, timeout_s: float = 5.0, tries: int = 3, backoff_s: float = 0.5,
                 transport: httpx.BaseTransport | None = None):
        self.url, self.secret, self.timeout_s = url, secret, timeout_s
        self.tries, self.backoff_s = max(1, tries), backoff_s
        self._transport = transport  # tests give a mock transport; production uses the network

    def send(self, payload: dict) -> str:
        import httpx

        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        problem = "not sent"
        with httpx.Client(timeout=self.timeout_s, transport=self._transport) as client:
            for attempt in range(self.tries):
                if attempt:
                    time.sleep(self.backoff_s * 2 ** (attempt - 1))
                stamp = str(int(time.time()))  # signed afresh each try: the desk checks the timestamp's age
                headers = {"Content-Type": "application/json", "Idempotency-Key": str(payload["forward_id"]), "X-PAHT-Timestamp": stamp}
                if self.secret:
                    headers["X-PAHT-Signature"] = sign(self.secret, body, stamp)
                try:
                    response = client.post(self.url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"[:300]
                    continue
                if response.is_success:
                    return desk_reference(response)
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in RETRYABLE:
                    break  # the desk refused this request as such: retrying at once would not help
        raise ForwardingFailed(problem)


def desk_reference(response: httpx.Response) -> str:
    """Return the desk's case number from its answer ({"reference": "..."}), or "" when it gave none."""
    try:
        data = response.json()
    except ValueError:
        return ""
    reference = data.get("reference") if isinstance(data, dict) else None
    if not isinstance(reference, (str, int)) or isinstance(reference, bool):
        return ""
    text = str(reference).strip()[:200]
    return text if is_clean(text) and not any(c in text for c in "\r\n\t") else ""  # a desk's odd answer never blocks delivery


class DevOutboxForwarder:
    """The fake desk: one JSON line per forward id in <data>/dev-outbox/emergency.jsonl (a second send of one id is ignored)."""

    def __init__(self, folder: Path):
        self.path = folder / "emergency.jsonl"
        self._lock = threading.Lock()

    def _seen(self) -> set[str]:
        seen: set[str] = set()
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    seen.add(json.loads(line)["forward_id"])
                except (ValueError, KeyError, TypeError):
                    continue
        return seen

    def send(self, payload: dict) -> str:
        forward_id = str(payload["forward_id"])
        with self._lock:
            if forward_id not in self._seen():
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps({**payload, "received_at": time.time()}, ensure_ascii=False, sort_keys=True) + "\n")
        return f"DEV-{payload.get('service', '')}-{forward_id[-6:].upper()}"

    def sent(self) -> list[dict]:
        """Return every forward the fake desk received (tests, the development page)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


class DeskConsoleForwarder:
    """Production without a desk webhook: the desk works from its page in PAHT; delivery is immediate."""

    def __init__(self, service: str):
        self.service = service

    def send(self, payload: dict) -> str:
        log.warning("no webhook configured for emergency desk %s: forward %s is shown on the desk page only",
                    self.service, payload["forward_id"])
        return ""


def forwarders_from(settings: Settings) -> dict[str, EmergencyForwarder]:
    """Return one forwarder per service: its webhook when set, else the fake desk (the desk page alone in production)."""
    urls = {
        EmergencyService.POLICE_113: settings.emergency_webhook_113,
        EmergencyService.FIRE_RESCUE_114: settings.emergency_webhook_114,
        EmergencyService.AMBULANCE_115: settings.emergency_webhook_115,
    }
    chosen: dict[str, EmergencyForwarder] = {}
    for service, url in urls.items():
        if url:
            chosen[service.value] = HttpWebhookForwarder(url, settings.emergency_webhook_secret)
        elif settings.env == "production":
            chosen[service.value] = DeskConsoleForwarder(service.value)
        else:
            chosen[service.value] = DevOutboxForwarder(settings.data / "dev-outbox")
    return chosen
