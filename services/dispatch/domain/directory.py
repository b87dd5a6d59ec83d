"""The organisation directory as data: units with validity periods (codes get reused: 2025 reform), topics, staff accounts.

A unit *version* is one row with its own id and a half-open validity [valid_from, valid_to): when the
reform of 1 July 2025 gave code 18880 a new meaning, a new unit (new id) took the code from that day
and the old one ended the day before. Kinds and fields of competence are closed vocabularies, each
defined here once with its English and Vietnamese wording.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from paht.runtime.text import Label, clean_identifier

UNIT_ID = Label("Organisation unit", "Đơn vị")
ALWAYS = date(2000, 1, 1)  # valid_from of data that names no start


def unit_id(value: str) -> str:
    """Return an organisation unit id as sent, cleaned (no control characters: PostgreSQL cannot even look one up)."""
    return clean_identifier(value, UNIT_ID, 80)


class Kind(str, Enum):
    """What an organisation unit is; the procedure's actors (DOMAIN.md §2) and the administrative levels."""

    PROVINCE = "province"                      # the province (its People's Committee): the root of a tree
    IOC = "ioc"                                # the provincial IOC
    DISTRICT_IOC = "district_ioc"              # a district's IOC (Đồng Hới): the hub of its district's reports
    STEERING_COMMITTEE = "steering_committee"  # designates a lead agency when agencies disagree
    DEPARTMENT = "department"                  # a provincial department or agency (Sở, Ban)
    CENTRAL_AGENCY = "central_agency"          # a central agency located in the province (e.g. the provincial Police)
    ENTERPRISE = "enterprise"                  # a state or service enterprise named as lead agency (water, power, telecom...)
    DISTRICT = "district"                      # a district-level People's Committee (huyện, thị xã, thành phố)
    WARD = "ward"                              # a ward People's Committee (phường)
    COMMUNE = "commune"                        # a commune People's Committee (xã)
    UNIT = "unit"                              # a sub-unit of an agency (office, division, team)
    EMERGENCY = "emergency"                    # 113, 114, 115

    @property
    def label(self) -> Label:
        return KIND_LABELS[self]

    @property
    def administrative(self) -> bool:
        """An administrative unit: its code is a GSO code of an area, which it serves itself."""
        return self in ADMINISTRATIVE

    @property
    def may_lead(self) -> bool:
        """Whether a unit of this kind may ever be chosen as lead agency (emergency lines and the committee never)."""
        return self not in NEVER_LEAD


KIND_LABELS: dict[Kind, Label] = {
    Kind.PROVINCE: Label("province", "tỉnh"),
    Kind.IOC: Label("provincial IOC", "Trung tâm IOC tỉnh"),
    Kind.DISTRICT_IOC: Label("district IOC", "Trung tâm IOC cấp huyện"),
    Kind.STEERING_COMMITTEE: Label("Steering Committee", "Ban Chỉ đạo"),
    Kind.DEPARTMENT: Label("department or provincial agency", "Sở, ban, ngành tỉnh"),
    Kind.CENTRAL_AGENCY: Label("central agency in the province", "Cơ quan Trung ương đóng trên địa bàn"),
    Kind.ENTERPRISE: Label("enterprise", "Doanh nghiệp"),
    Kind.DISTRICT: Label("district People's Committee", "UBND cấp huyện"),
    Kind.WARD: Label("ward People's Committee", "UBND phường"),
    Kind.COMMUNE: Label("commune People's Committee", "UBND xã"),
    Kind.UNIT: Label("sub-unit", "Đơn vị trực thuộc"),
    Kind.EMERGENCY: Label("emergency line (113/114/115)", "Đường dây khẩn cấp (113/114/115)"),
}
ADMINISTRATIVE = frozenset({Kind.PROVINCE, Kind.DISTRICT, Kind.WARD, Kind.COMMUNE})
NEVER_LEAD = frozenset({Kind.EMERGENCY, Kind.STEERING_COMMITTEE, Kind.IOC, Kind.DISTRICT_IOC})

# Fields of competence, appendix I.2 (DOMAIN.md §3): the letter, then what it covers.
FIELDS: dict[str, Label] = {
    "a": Label("security, public order, traffic safety", "an ninh, trật tự, an toàn giao thông"),
    "b": Label("health care, food safety", "y tế, an toàn thực phẩm"),
    "c": Label("construction, urban development, housing", "xây dựng, phát triển đô thị, nhà ở"),
    "d": Label("tourism", "du lịch"),
    "e": Label("land, water resources, minerals, environment", "đất đai, tài nguyên nước, khoáng sản, môi trường"),
    "f": Label("labour, social protection, children, social evils", "lao động, an sinh xã hội, trẻ em, tệ nạn xã hội"),
    "g": Label("agriculture, forestry, fisheries, disaster prevention", "nông nghiệp, lâm nghiệp, thủy sản, phòng chống thiên tai"),
    "h": Label("roads, waterways, transport", "giao thông vận tải"),
    "i": Label("press, publishing, telecom, internet", "báo chí, xuất bản, viễn thông, internet"),
    "j": Label("water supply infrastructure", "hạ tầng cấp nước"),
    "k": Label("waste collection, public lighting", "thu gom rác thải, chiếu sáng công cộng"),
    "l": Label("electricity infrastructure", "hạ tầng điện"),
    "m": Label("telecom and cable infrastructure", "hạ tầng viễn thông, truyền hình cáp"),
    "n": Label("other fields", "các lĩnh vực khác"),
}
FIELD_LETTERS = frozenset(FIELDS)


@dataclass
class OrgUnit:
    """One version of an organisation unit: its own id, its code (reusable across versions) and validity."""

    id: str
    code: str
    name: str
    name_en: str
    kind: str
    parent_id: str | None
    hub_node: str
    can_lead: bool
    fields: list = field(default_factory=list)
    valid_from: date = ALWAYS
    valid_to: date | None = None  # exclusive
    replaces: list = field(default_factory=list)
    areas: list = field(default_factory=list)  # GSO codes of the administrative units it serves
    position: int = 0  # order in the imported file, kept by every export

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on < self.valid_to)

    def overlaps(self, other: "OrgUnit") -> bool:
        """Whether two validity periods share a day."""
        return self.valid_from < (other.valid_to or date.max) and other.valid_from < (self.valid_to or date.max)


@dataclass
class TopicGroup:
    """A group of topics (appendix II.1: a) to e)); retired by setting valid_to."""

    code: str
    name: str
    name_en: str
    position: int = 0
    valid_from: date | None = None  # None: always
    valid_to: date | None = None    # exclusive; None: open

    def in_force(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on < self.valid_to)


@dataclass
class Topic:
    """A topic of reports, in one group; group_name/group_name_en repeat the group's names for readers of one topic."""

    code: str
    name: str
    name_en: str
    group_code: str
    group_name: str
    fields: list = field(default_factory=list)
    urgent_hint: bool = False
    group_name_en: str = ""
    position: int = 0
    valid_from: date | None = None  # None: always
    valid_to: date | None = None    # exclusive; None: open
    keywords: list = field(default_factory=list)  # words citizens use for it: the report form suggests the topic from them

    def in_force(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on < self.valid_to)


@dataclass
class Account:
    """A staff member who signs in with the built-in issuer (an OIDC provider keeps its own).

    An empty password_hash means no password was ever set (imported people): nobody can sign in as them
    until an administrator sets one.
    """

    username: str
    display_name: str
    password_hash: str
    roles: list = field(default_factory=list)
    org_unit_id: str = ""
    active: bool = True

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)
