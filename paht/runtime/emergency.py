"""The three emergency services of the procedure (113, 114, 115): one vocabulary for intake and dispatch.

A citizen marks a report "urgent" and says which service it needs (intake); the IOC forwards it
there within 10 minutes (dispatch). The value is the number people dial, which is also what the
events carry.
"""
from __future__ import annotations

from enum import Enum

from paht.runtime.errors import InvalidInput


class EmergencyService(str, Enum):
    """The three emergency services of the procedure; the value is the number people dial."""

    POLICE_113 = "113"
    FIRE_RESCUE_114 = "114"
    AMBULANCE_115 = "115"

    @property
    def label(self) -> tuple[str, str]:
        """(English, Vietnamese) name of the service."""
        return SERVICE_LABELS[self]

    @classmethod
    def parse(cls, value: str | None) -> "EmergencyService":
        """Return the service a person or a desk named ("113", "114", "115"), or refuse it in both languages."""
        try:
            return cls(str(value or "").strip())
        except ValueError:
            raise InvalidInput("The emergency service must be 113, 114 or 115.", "Dịch vụ khẩn cấp phải là 113, 114 hoặc 115.",
                               field="service") from None


SERVICE_LABELS: dict[EmergencyService, tuple[str, str]] = {
    EmergencyService.POLICE_113: ("113 Police", "113 Công an"),
    EmergencyService.FIRE_RESCUE_114: ("114 Fire and rescue", "114 Chữa cháy, cứu nạn cứu hộ"),
    EmergencyService.AMBULANCE_115: ("115 Ambulance", "115 Cấp cứu y tế"),
}
