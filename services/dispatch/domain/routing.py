"""Step 2's routing rules: who is competent for a report, and the ranked suggestions the IOC confirms. No I/O here.

The procedure (appendix I.2) gives every field of competence (letters a–n) an agency of final
answer, and lets district and commune People's Committees share most fields "by level" (phân cấp)
for their own area. The IOC picks exactly one lead agency "by field, scope and competence"; this
module states those rules once, so that the suggestions the IOC sees and the check made when it
dispatches can never disagree. Suggestions never dispatch by themselves: the IOC confirms one.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Sequence

from services.dispatch.domain.directory import FIELDS, Kind, OrgUnit

# Kinds of unit that act for a local People's Committee and serve an area of their own.
LOCAL_KINDS = frozenset({Kind.DISTRICT, Kind.COMMUNE, Kind.WARD})
# Fields a People's Committee shares "by level" (appendix I.2: "UBND cấp huyện[, cấp xã] được phân cấp"):
# district level in b, c, d, e, f, g, h, i, n; commune level in c, e, f, g, n. A commune-level unit that may
# lead (no district above it since the 2025 reform) stands where the district stood, so it takes the district's.
BY_LEVEL_DISTRICT = frozenset("bcdefghin")
BY_LEVEL_COMMUNE = frozenset("cefgn")

# Points of each reason: the topic's main field outweighs its others; a specialised agency's own field
# outweighs a People's Committee's competence by level; serving the report's area adds to a local unit.
OWN_FIELD_POINTS, BY_LEVEL_POINTS, POSITION_STEP, EXTRA_FIELD_POINTS, PLACE_POINTS = 100, 60, 15, 10, 30
# Field n ("other fields") is held by every general state agency: matching it says little, so it scores low.
GENERIC_FIELD, GENERIC_POINTS = "n", 30


class Territory(str, Enum):
    """Whether a unit serves the place of a report."""

    SERVES = "serves"      # the place is known and the unit serves it
    OUTSIDE = "outside"    # the place is known and the unit does not serve it
    UNKNOWN = "unknown"    # the place is not known, or the unit has no area data (a provincial agency: the whole province)


class PlaceSource(str, Enum):
    """How the place of a report was known."""

    LOCATION = "location"    # its map location, inside a known boundary
    AREA_CODE = "area_code"  # the administrative unit the reporter (or the IOC) named
    NONE = "none"

    @property
    def phrase(self) -> tuple[str, str]:
        return {
            PlaceSource.LOCATION: ("from its map location", "theo vị trí trên bản đồ"),
            PlaceSource.AREA_CODE: ("from the area given with the report", "theo địa bàn ghi trong phản ánh"),
            PlaceSource.NONE: ("place unknown", "chưa rõ địa bàn"),
        }[self]


@dataclass(frozen=True)
class Place:
    """Where a report was made, as far as routing knows: the area codes (most specific first) and the units serving them."""

    source: PlaceSource = PlaceSource.NONE
    area_codes: tuple[str, ...] = ()
    serving: frozenset[str] = frozenset()  # ids of units in force whose areas include the place

    @property
    def known(self) -> bool:
        return self.source is not PlaceSource.NONE and bool(self.area_codes)

    @property
    def area_code(self) -> str:
        return self.area_codes[0] if self.area_codes else ""

    def territory_of(self, unit: OrgUnit) -> Territory:
        if not self.known:
            return Territory.UNKNOWN
        if unit.id in self.serving:
            return Territory.SERVES
        if not is_local(unit) and not unit.areas:
            return Territory.UNKNOWN  # a provincial agency without area data: the whole province
        return Territory.OUTSIDE


@dataclass(frozen=True)
class Reason:
    """One reason for (or about) a suggestion, in English and Vietnamese, with the points it adds."""

    code: str   # "field", "by_level", "place", "hub"
    en: str
    vi: str
    points: int = 0

    def as_json(self) -> dict:
        return {"code": self.code, "en": self.en, "vi": self.vi, "points": self.points}


@dataclass(frozen=True)
class Suggestion:
    agency: OrgUnit
    score: int
    reasons: tuple[Reason, ...]

    @property
    def competent(self) -> bool:
        return any(r.code in ("field", "by_level") for r in self.reasons)


def kind_of(unit: OrgUnit) -> Kind | None:
    try:
        return Kind(unit.kind)
    except ValueError:
        return None


def is_local(unit: OrgUnit) -> bool:
    return kind_of(unit) in LOCAL_KINDS


def may_lead(unit: OrgUnit) -> bool:
    """Say whether the unit can ever be a lead agency: its data says so, and its kind allows it (never the IOC,
    the Steering Committee or 113/114/115, whatever their data says)."""
    kind = kind_of(unit)
    return bool(unit.can_lead) and kind is not None and kind.may_lead and kind is not Kind.PROVINCE


def by_level_fields(unit: OrgUnit) -> frozenset[str]:
    """Fields a local People's Committee shares by level (none for any other unit)."""
    if not is_local(unit):
        return frozenset()
    return BY_LEVEL_COMMUNE if kind_of(unit) in (Kind.COMMUNE, Kind.WARD) and not unit.can_lead else BY_LEVEL_DISTRICT


def field_phrase(letter: str) -> tuple[str, str]:
    label = FIELDS.get(letter)
    return (f"{letter} ({label.en})", f"{letter} ({label.vi})") if label else (letter, letter)


def competence(unit: OrgUnit, topic_fields: Sequence[str], place: Place) -> tuple[Reason, ...]:
    """Return the reasons why a unit is competent for a topic at a place, main field first (empty: not competent).

    A unit is competent for a field it holds itself, or (a local People's Committee) for a field it
    shares by level in the area it serves (so only when the place is known); either way never outside
    the place it serves.
    """
    territory = place.territory_of(unit)
    if territory is Territory.OUTSIDE:
        return ()
    # "by level" is a local committee's share for its own area: with the place unknown, no committee is the one
    own, level = set(unit.fields or []), (by_level_fields(unit) if territory is Territory.SERVES else set())
    matches: list[tuple[int, str, str]] = []  # (position in the topic, kind, letter)
    for pos, letter in enumerate(topic_fields):
        if letter in own:
            matches.append((pos, "field", letter))
        elif letter in level:
            matches.append((pos, "by_level", letter))
    if not matches:
        return ()
    ranked = sorted(matches, key=lambda m: (-_points(*m), m[0]))
    return tuple(_field_reason(pos, kind, letter, main=(i == 0)) for i, (pos, kind, letter) in enumerate(ranked))


def _points(pos: int, kind: str, letter: str) -> int:
    """Points of a field as the main reason: own field over by level, earlier in the topic over later; n always low."""
    if letter == GENERIC_FIELD:
        return GENERIC_POINTS if kind == "field" else GENERIC_POINTS - POSITION_STEP
    base = OWN_FIELD_POINTS if kind == "field" else BY_LEVEL_POINTS
    return max(base - POSITION_STEP * pos, 20)


def _field_reason(pos: int, kind: str, letter: str, main: bool) -> Reason:
    en_field, vi_field = field_phrase(letter)
    which_en = "the topic's main field" if pos == 0 else "one of the topic's fields"
    which_vi = "lĩnh vực chính của chủ đề" if pos == 0 else "một lĩnh vực của chủ đề"
    points = _points(pos, kind, letter) if main else EXTRA_FIELD_POINTS
    if kind == "field":
        return Reason("field", f"Competent for field {en_field}, {which_en}.", f"Có thẩm quyền lĩnh vực {vi_field}, {which_vi}.", points)
    return Reason("by_level", f"As the People's Committee of its area, competent by level for field {en_field}, {which_en}.",
                  f"Là UBND của địa bàn, có thẩm quyền theo phân cấp lĩnh vực {vi_field}, {which_vi}.", points)


def place_reason(unit: OrgUnit, place: Place) -> Reason | None:
    """Return the place's reason for a local unit serving the report's area (None for any other unit)."""
    if place.territory_of(unit) is not Territory.SERVES or not is_local(unit):
        return None
    en_how, vi_how = place.source.phrase
    return Reason("place", f"Serves area {place.area_code}, where the report was made ({en_how}).",
                  f"Phụ trách địa bàn {place.area_code}, nơi xảy ra sự việc ({vi_how}).", PLACE_POINTS)


def hub_reason(unit: OrgUnit) -> Reason | None:
    if not unit.hub_node:
        return None
    return Reason("hub", f"Handled through node '{unit.hub_node}' (a subordinate hub, e.g. a district IOC).",
                  f"Xử lý qua nút '{unit.hub_node}' (nút cấp dưới, ví dụ Trung tâm IOC cấp huyện).")


def rank(topic_fields: Sequence[str], candidates: Iterable[OrgUnit], place: Place, limit: int = 10) -> list[Suggestion]:
    """Return the lead agencies worth suggesting, best first, each with its reasons and score.

    Only units that may lead and are competent for one of the topic's fields are suggested (a topic
    without fields: the local units serving the place). Order: score, then the unit's name, then its id.
    """
    out: list[Suggestion] = []
    for unit in candidates:
        if not may_lead(unit):
            continue
        reasons = list(competence(unit, topic_fields, place))
        near = place_reason(unit, place)
        if not reasons and not (near and not topic_fields):
            continue
        if near:
            reasons.append(near)
        hub = hub_reason(unit)
        if hub:
            reasons.append(hub)
        out.append(Suggestion(unit, sum(r.points for r in reasons), tuple(reasons)))
    out.sort(key=lambda s: (-s.score, s.agency.name, s.agency.id))
    return out[:limit]


def needs_competence_reason(unit: OrgUnit, topic_fields: Sequence[str], place: Place) -> bool:
    """Say whether dispatching to this unit needs the IOC's written reason: the topic names fields and the unit holds none of them here."""
    return bool(topic_fields) and not competence(unit, topic_fields, place)
