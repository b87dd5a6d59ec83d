"""Terms of the procedure that more than one service speaks: each is its stored value with its (English, Vietnamese)
wording. A service's own vocabulary builds on `Term` (intake's in services/intake/domain/vocabulary.py); `Channel` lives
here because intake records it and publication's statistics count by it.
"""
from __future__ import annotations

from enum import Enum

from paht.runtime.errors import InvalidInput


class Term(str, Enum):
    """A term of the procedure: `value` is stored and sent, `label` is (English, Vietnamese) for people."""

    def __new__(cls, value: str, en: str, vi: str):
        term = str.__new__(cls, value)
        term._value_ = value
        term.label = (en, vi)
        return term

    @classmethod
    def kind(cls) -> tuple[str, str]:
        """(English, Vietnamese) name of this kind of term, for error messages."""
        return cls.__name__, cls.__name__

    @classmethod
    def parse(cls, value: "str | Term"):
        """Return the term with this value, or raise InvalidInput listing the values there are."""
        try:
            return cls(value)
        except ValueError:
            en, vi = cls.kind()
            known = ", ".join(t.value for t in cls)
            raise InvalidInput(f"Unknown {en} '{value}' (one of: {known}).", f"{vi.capitalize()} '{value}' không hợp lệ (chọn một trong: {known}).") from None


class Channel(Term):
    """How a report reached PAHT."""

    APP = "app", "mobile app", "ứng dụng di động"
    WEB = "web", "web form", "biểu mẫu trên cổng thông tin"
    CALL_CENTER = "call_center", "call centre", "tổng đài"
    PARTNER_APP = "partner_app", "partner app", "ứng dụng của đơn vị đối tác"
    OPEN311 = "open311", "Open311 interface", "giao diện Open311"

    @classmethod
    def kind(cls) -> tuple[str, str]:
        return "channel", "kênh tiếp nhận"
