"""Reporters who prove their phone: one-time codes by SMS and the sessions they open. No I/O here.

A code is 6 random digits, valid 5 minutes. Only HMAC-SHA256(server key, challenge id + code) is kept,
so a copy of the database does not give live codes, and the same code on two challenges hashes
differently. A challenge takes 5 wrong tries, then it is locked and a new code must be asked for; a
code is used once (a second use is a replay); a newer code replaces the older ones of the phone.

A verified code opens a reporter session: a random token (`rpt_…`) of which only the SHA-256 is
stored, valid 30 days, revocable. The site keeps it in an HttpOnly cookie ("web"); an app gets the
token itself ("app").
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from paht.runtime.errors import InvalidInput, StateConflict, TooManyRequests

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
SESSION_TTL = timedelta(days=30)
TOKEN_PREFIX = "rpt_"
TOKEN_MAX_LEN = 100  # rpt_ + 43 characters; anything much longer is not ours
ORIGINS = ("web", "app")
_CODE = re.compile(r"^[0-9]{6}$")


def new_code() -> str:
    """Return 6 random digits (leading zeros kept)."""
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(key: bytes, challenge_id: str, code: str) -> str:
    """Return the stored form of a code: hex HMAC-SHA256 over the challenge id and the code."""
    return hmac.new(key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def sms_text(code: str) -> str:
    """The SMS: Vietnamese without diacritics (brandname SMS are often ASCII-only), the code and a warning."""
    minutes = int(CODE_TTL.total_seconds() // 60)
    return f"PAHT: Ma xac thuc cua ban la {code}, hieu luc {minutes} phut. Khong chia se ma nay voi bat ky ai."


def check_mobile(phone: str) -> str:
    """Refuse a landline (02x): an SMS code can only reach a mobile number."""
    if phone.startswith("02"):
        raise InvalidInput("SMS codes go to mobile numbers: give a mobile number (03x, 05x, 07x, 08x, 09x).",
                           "Mã xác thực được gửi qua SMS: vui lòng nhập số di động (03x, 05x, 07x, 08x, 09x), không dùng số cố định.", field="phone")
    return phone


def check_code_shape(code: str) -> str:
    """Return the code as typed without spaces, or refuse anything but 6 digits (not counted as a try)."""
    code = (code or "").replace(" ", "").strip()
    if not _CODE.match(code):
        raise InvalidInput("The code is the 6 digits of the SMS.", "Mã xác thực gồm 6 chữ số trong tin nhắn SMS.", field="code")
    return code


def check_origin(origin: str) -> str:
    if origin not in ORIGINS:
        raise InvalidInput("A session is kept in a cookie or given as a token.", "Phiên đăng nhập được lưu bằng cookie hoặc cấp dưới dạng token.",
                           field="session")
    return origin


class Verdict(str, Enum):
    """What one try at a challenge gave."""

    OK = "ok"
    WRONG = "wrong"          # counted; the challenge may now be locked
    EXPIRED = "expired"      # too late, or replaced by a newer code
    LOCKED = "locked"        # 5 wrong tries already
    USED = "used"            # the code was used already (replay)


@dataclass
class Challenge:
    """One code sent to one phone (the row of otp_challenges)."""

    id: str
    phone: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    consumed_at: datetime | None = None
    locked_at: datetime | None = None

    @classmethod
    def issue(cls, *, id: str, phone: str, key: bytes, now: datetime, code: str | None = None) -> tuple["Challenge", str]:
        """Return a new challenge and its clear code (sent by SMS, never stored)."""
        code = code or new_code()
        return cls(id=id, phone=phone, code_hash=code_hash(key, id, code), created_at=now, expires_at=now + CODE_TTL), code

    def attempt(self, *, key: bytes, phone: str, code: str, now: datetime) -> Verdict:
        """Try a code; a wrong one (or a phone that is not the challenge's) is counted, the 5th locks the challenge.

        The hash is compared in constant time, and computed whether or not the phone matches."""
        if self.consumed_at is not None:
            return Verdict.USED
        if self.locked_at is not None or self.attempts >= MAX_ATTEMPTS:
            return Verdict.LOCKED
        if now >= self.expires_at:
            return Verdict.EXPIRED
        right = hmac.compare_digest(code_hash(key, self.id, code), self.code_hash)
        if right and secrets.compare_digest(phone.encode(), self.phone.encode()):
            self.consumed_at = now
            return Verdict.OK
        self.attempts += 1
        if self.attempts >= MAX_ATTEMPTS:
            self.locked_at = now
        return Verdict.WRONG

    @property
    def tries_left(self) -> int:
        return max(0, MAX_ATTEMPTS - self.attempts)


def refusal(verdict: Verdict, challenge: Challenge) -> Exception:
    """Return the error a failed try answers with: 422 try again, 409 ask for a new code."""
    if verdict is Verdict.WRONG and challenge.tries_left > 0:
        left = challenge.tries_left
        return InvalidInput(f"The code is not right: {left} tr{'y' if left == 1 else 'ies'} left.",
                            f"Mã xác thực không đúng: còn {left} lần thử.", field="code")
    if verdict in (Verdict.WRONG, Verdict.LOCKED):
        return StateConflict(f"{MAX_ATTEMPTS} wrong codes: this code is locked. Ask for a new code.",
                             f"Nhập sai mã {MAX_ATTEMPTS} lần: mã này đã bị khóa. Vui lòng yêu cầu mã mới.")
    if verdict is Verdict.EXPIRED:
        return StateConflict("This code has expired or a newer code replaced it. Use the latest code, or ask for a new one.",
                             "Mã xác thực đã hết hạn hoặc đã được thay bằng mã mới hơn. Vui lòng dùng mã mới nhất hoặc yêu cầu mã mới.")
    return StateConflict("This code was used already. Ask for a new code to sign in again.",
                         "Mã xác thực này đã được sử dụng. Vui lòng yêu cầu mã mới để đăng nhập lại.")


# ---- sending limits


@dataclass(frozen=True)
class SendLimits:
    """How often codes may be sent (defaults in paht.runtime.settings): a flood of SMS to one phone, or from one
    address to many phones, stops here. An IPv6 client counts by its /64 (what one subscriber gets)."""

    resend_after_s: int = 60     # between two codes to one phone
    per_phone_hour: int = 5
    per_phone_day: int = 10
    per_address_hour: int = 20

    @classmethod
    def from_settings(cls, settings) -> "SendLimits":
        return cls(settings.otp_resend_after_s, settings.otp_per_phone_hour, settings.otp_per_phone_day, settings.otp_per_address_hour)


def address_bucket(address: str) -> str:
    """Return the address a limit is counted for: IPv6 by its /64, IPv4 (and IPv4-mapped) as is."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return (address or "").strip()[:64] or "unknown"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def counter_key(key: bytes, scope: str, value: str, window_s: int) -> str:
    """Return a rate counter's key: the scope, the window and a keyed hash of the phone or address (never the value)."""
    digest = hmac.new(key, f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()[:40]
    return f"otp:{scope}:{window_s}:{digest}"


def too_many_for_phone(retry_after_s: float) -> TooManyRequests:
    wait = _minutes(retry_after_s)
    return TooManyRequests(f"Too many codes were sent to this phone number: try again in {wait} minute(s).",
                           f"Số điện thoại này đã nhận quá nhiều mã xác thực: vui lòng thử lại sau {wait} phút.", retry_after_s=math.ceil(retry_after_s))


def too_many_from_address(retry_after_s: float) -> TooManyRequests:
    wait = _minutes(retry_after_s)
    return TooManyRequests(f"Too many codes were asked for from your network: try again in {wait} minute(s).",
                           f"Có quá nhiều yêu cầu mã xác thực từ mạng của bạn: vui lòng thử lại sau {wait} phút.",
                           retry_after_s=math.ceil(retry_after_s))


def too_soon(retry_after_s: float) -> TooManyRequests:
    wait = max(1, math.ceil(retry_after_s))
    return TooManyRequests(f"A code was just sent to this number: wait {wait} seconds before asking for another.",
                           f"Mã xác thực vừa được gửi đến số này: vui lòng chờ {wait} giây trước khi yêu cầu mã mới.", retry_after_s=wait)


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


# ---- sessions


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str | None) -> bool:
    """Cheap refusal before any query: our tokens start with rpt_ and are not long."""
    return bool(token) and token.startswith(TOKEN_PREFIX) and len(token) <= TOKEN_MAX_LEN
