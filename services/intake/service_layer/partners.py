"""Partner apps (e.g. Đồng Hới's SmartCity app): API keys, rate limits, channel names.

Each partner has its own key, its own limit of requests per minute and the channel name its reports
are recorded under. The key is shown once, when it is made (created or rotated); only its SHA-256 is
kept (a key is 32 random bytes: a plain hash is enough, nothing to guess), with its first characters
to tell keys apart in lists. A rotated key replaces the old one at once; a deactivated partner's key
is refused at once (nothing is cached).
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from paht.runtime import db
from paht.runtime.errors import InvalidInput, NotFound, StateConflict
from paht.runtime.text import Label, clean_text
from services.intake.adapters.orm import partner_apps

log = logging.getLogger(__name__)

KEY_PREFIX = "pk_"
KEY_MAX_LEN = 100
SHOWN_PREFIX = 8  # characters of the key kept in clear, to tell keys apart
MAX_RATE = 100_000
_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_CHANNEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
NAME = Label("Partner name", "Tên đối tác")


@dataclass(frozen=True)
class PartnerApp:
    id: str
    name: str
    channel_name: str
    rate_per_minute: int
    verifies_phone: bool
    active: bool
    key_prefix: str = ""
    created_at: datetime | None = None

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "channel_name": self.channel_name, "rate_per_minute": self.rate_per_minute,
                "verifies_phone": self.verifies_phone, "active": self.active, "key_prefix": self.key_prefix,
                "created_at": self.created_at.isoformat() if self.created_at else None}


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _partner(row) -> PartnerApp:
    return PartnerApp(row["id"], row["name"], row["channel_name"], row["rate_per_minute"], row["verifies_phone"], row["active"],
                      row["key_prefix"], row["created_at"])


def check_id(value: str, what: tuple[str, str] = ("Partner id", "Mã đối tác"), pattern: re.Pattern = _ID, max_len: int = 40) -> str:
    value = (value or "").strip()
    if not pattern.match(value):
        raise InvalidInput(f"{what[0]} must be lower-case letters, digits and hyphens (at most {max_len}), e.g. smartcity-donghoi.",
                           f"{what[1]} chỉ gồm chữ thường không dấu, chữ số và dấu gạch ngang (tối đa {max_len} ký tự), ví dụ smartcity-donghoi.",
                           field=what[0])
    return value


def check_rate(rate: int) -> int:
    if not isinstance(rate, int) or isinstance(rate, bool) or not 1 <= rate <= MAX_RATE:
        raise InvalidInput(f"The rate limit is a number of requests per minute from 1 to {MAX_RATE}.",
                           f"Giới hạn là số yêu cầu mỗi phút, từ 1 đến {MAX_RATE}.", field="rate_per_minute")
    return rate


def create(engine, *, id: str, name: str, channel_name: str, rate_per_minute: int, verifies_phone: bool = False,
           now: datetime | None = None, key: str | None = None) -> tuple[PartnerApp, str]:
    """Register a partner app; return it and its API key (shown this once). `key` is for the demo data only (seed_demo)."""
    id = check_id(id)
    channel_name = check_id(channel_name, ("Channel name", "Tên kênh"), _CHANNEL, 60)
    name = clean_text(name, NAME, 2, 200, multiline=False)
    rate_per_minute = check_rate(rate_per_minute)
    key = key or new_key()
    values = {"id": id, "name": name, "channel_name": channel_name, "key_hash": key_hash(key), "key_prefix": key[:SHOWN_PREFIX],
              "rate_per_minute": rate_per_minute, "verifies_phone": bool(verifies_phone), "active": True,
              "created_at": now or datetime.now(timezone.utc)}
    try:
        with engine.begin() as conn:
            taken = conn.execute(select(partner_apps.c.id).where((partner_apps.c.id == id) | (partner_apps.c.channel_name == channel_name))).first()
            if taken is not None:
                raise _taken(id, channel_name)
            conn.execute(insert(partner_apps).values(**values))
    except IntegrityError:  # two administrators at once: the database's unique keys decide
        raise _taken(id, channel_name) from None
    log.info("partner app %s created (key %s…)", id, values["key_prefix"])
    return _partner(values), key


def _taken(id: str, channel_name: str) -> StateConflict:
    return StateConflict(f"A partner app with the id '{id}' or the channel '{channel_name}' exists already.",
                         f"Đã có ứng dụng đối tác với mã '{id}' hoặc kênh '{channel_name}'.")


def list_all(engine) -> list[PartnerApp]:
    with db.reading(engine) as conn:
        return [_partner(r) for r in conn.execute(select(partner_apps).order_by(partner_apps.c.id)).mappings()]


def get(engine, partner_id: str) -> PartnerApp:
    with db.reading(engine) as conn:
        row = conn.execute(select(partner_apps).where(partner_apps.c.id == partner_id)).mappings().first()
    if row is None:
        raise _unknown(partner_id)
    return _partner(row)


def _unknown(partner_id: str) -> NotFound:
    return NotFound(f"No partner app '{partner_id}'.", f"Không có ứng dụng đối tác '{partner_id}'.")


def deactivate(engine, partner_id: str) -> PartnerApp:
    """Refuse the partner's key from now on (its reports stay). Doing it twice is harmless."""
    with engine.begin() as conn:
        if conn.execute(update(partner_apps).where(partner_apps.c.id == partner_id).values(active=False)).rowcount == 0:
            raise _unknown(partner_id)
    log.info("partner app %s deactivated", partner_id)
    return get(engine, partner_id)


def rotate(engine, partner_id: str) -> tuple[PartnerApp, str]:
    """Give an active partner a new key (shown this once); the old one is refused from now on."""
    key = new_key()
    t = partner_apps.c
    with engine.begin() as conn:
        row = conn.execute(select(t.active).where(t.id == partner_id)).first()
        if row is None:
            raise _unknown(partner_id)
        if not row.active:
            raise StateConflict(f"The partner app '{partner_id}' is deactivated: register it again under a new id.",
                                f"Ứng dụng đối tác '{partner_id}' đã bị vô hiệu hóa: vui lòng đăng ký lại với mã mới.")
        conn.execute(update(partner_apps).where(t.id == partner_id).values(key_hash=key_hash(key), key_prefix=key[:SHOWN_PREFIX]))
    log.info("partner app %s: key rotated (now %s…)", partner_id, key[:SHOWN_PREFIX])
    return get(engine, partner_id), key


def partner_for_key(engine, api_key: str) -> PartnerApp | None:
    """Return the active partner app of an API key, or None."""
    if not api_key or not api_key.startswith(KEY_PREFIX) or len(api_key) > KEY_MAX_LEN:
        return None
    with db.reading(engine) as conn:
        row = conn.execute(select(partner_apps).where(partner_apps.c.key_hash == key_hash(api_key), partner_apps.c.active.is_(True))).mappings().first()
    return _partner(row) if row is not None else None


# The embedded run's demo partner (`paht up` without PAHT_ENV=production): an Open311 client may try POST
# requests at once with this published key (README). Never made in production (no demo password there).
DEMO_PARTNER = {"id": "open311-demo", "name": "Open311 demo client", "channel_name": "open311-demo", "rate_per_minute": 60}
DEMO_API_KEY = "pk_open311-demo-key-not-for-production"


def seed_demo(engine, demo_password: str | None) -> int:
    """Register the demo partner once, with its published key, when the demo data is wanted; return how many were made."""
    if not demo_password:
        return 0
    with db.reading(engine) as conn:
        if conn.execute(select(partner_apps.c.id).where(partner_apps.c.id == DEMO_PARTNER["id"])).first() is not None:
            return 0
    try:
        create(engine, **DEMO_PARTNER, key=DEMO_API_KEY)
    except StateConflict:  # two seeds at once
        return 0
    return 1
