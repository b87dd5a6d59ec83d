"""Which cases a person may see: the one rule, from which the Python check and the SQL condition derive.

The IOC sees every case; anyone else sees a case when one of their roles ties an attribute of theirs
to an attribute of the case (the lead agency's coordinator: the agency's cases, and so on).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from paht.runtime import roles
from paht.runtime.roles import Role


class Person(Protocol):
    """The signed-in person as the domain needs them (a runtime Principal fits)."""

    subject: str
    org_unit: str

    def has(self, *roles: str) -> bool: ...


@dataclass(frozen=True)
class Sight:
    """A person holding `role` sees the cases whose `case_attribute` equals their `person_attribute` (or, when `among`,
    holds it among its values)."""

    role: Role
    case_attribute: str
    person_attribute: str
    among: bool = False


SEES_ALL: tuple[str, ...] = roles.IOC
SIGHTS: tuple[Sight, ...] = (
    Sight(Role.AGENCY_COORDINATOR, "lead_agency_id", "org_unit"),
    Sight(Role.UNIT_LEADER, "lead_unit_id", "org_unit"),
    Sight(Role.STAFF, "staff_subject", "subject"),
    Sight(Role.UNIT_LEADER, "staff_subject", "subject"),  # a leader who assigned the case to themselves
    Sight(Role.STAFF, "co_staff", "subject", among=True),  # other staff assigned with the one in charge
    Sight(Role.UNIT_LEADER, "co_staff", "subject", among=True),
)


def sight_lines(person: Person) -> list[tuple[str, Any, bool]] | None:
    """Return the (case attribute, value, among) triples any of which lets the person see a case; None: sees all."""
    if person.has(*SEES_ALL):
        return None
    lines = []
    for sight in SIGHTS:
        value = getattr(person, sight.person_attribute, "")
        line = (sight.case_attribute, value, sight.among)
        if value and person.has(sight.role.value) and line not in lines:
            lines.append(line)
    return lines


def sees(person: Person, case: Any) -> bool:
    """Say whether a person may see a case."""
    lines = sight_lines(person)
    return lines is None or any((value in getattr(case, attribute)) if among else getattr(case, attribute) == value
                                for attribute, value, among in lines)
