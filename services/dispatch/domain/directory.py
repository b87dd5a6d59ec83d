"""The organisation directory as data: units with validity periods (codes get reused: 2025 reform), topics, staff accounts."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from paht.runtime.text import Label, clean_identifier

UNIT_ID = Label("Organisation unit", "Đơn vị")


def unit_id(value: str) -> str:
    """Return an organisation unit id as sent, cleaned (no control characters: PostgreSQL cannot even look one up)."""
    return clean_identifier(value, UNIT_ID, 80)


@dataclass
class OrgUnit:
    id: str
    code: str
    name: str
    name_en: str
    kind: str
    parent_id: str | None
    hub_node: str
    can_lead: bool
    fields: list = field(default_factory=list)
    valid_from: date = date(2000, 1, 1)
    valid_to: date | None = None  # exclusive
    replaces: list = field(default_factory=list)

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on < self.valid_to)


@dataclass
class Topic:
    code: str
    name: str
    name_en: str
    group_code: str
    group_name: str
    fields: list = field(default_factory=list)
    urgent_hint: bool = False


@dataclass
class Account:
    """A staff member who signs in with the built-in issuer (an OIDC provider keeps its own)."""

    username: str
    display_name: str
    password_hash: str
    roles: list = field(default_factory=list)
    org_unit_id: str = ""
    active: bool = True
