"""Read the organisation directory, topics and people; load the demo data."""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from paht.runtime.auth import hash_password
from paht.runtime.errors import NotFound
from paht.runtime.text import is_clean
from paht.runtime.uow import UnitOfWork
from services.dispatch.domain.directory import Account, OrgUnit, Topic

SEED = Path(__file__).resolve().parents[1] / "seed"


def today() -> date:
    """Today in Vietnam: validity periods are Vietnamese calendar days."""
    from services.dispatch.domain.deadlines import VN

    return datetime.now(VN).date()


def get_unit(uow: UnitOfWork, unit_id: str) -> OrgUnit:
    with uow:
        # an id with control characters names no unit (and PostgreSQL cannot even look it up)
        unit = uow.directory.unit(unit_id) if unit_id and is_clean(unit_id) else None
        if unit is None:
            raise NotFound(f"No organisation unit '{unit_id}'.", f"Không có đơn vị '{unit_id}'.")
        return unit


def list_units(uow: UnitOfWork, parent_id: str | None, as_of: date | None, lead_only: bool = False, roots_only: bool = False) -> list[OrgUnit]:
    on = as_of or today()
    with uow:
        return [u for u in uow.directory.units(parent_id, roots_only, lead_only) if u.in_force(on)]


def list_topics(uow: UnitOfWork) -> list[Topic]:
    with uow:
        return uow.directory.topics()


def get_person(uow: UnitOfWork, subject: str) -> dict:
    """Return one staff member (no password hash, no contact data)."""
    row = None
    if is_clean(subject or "") and len(subject) <= 100:  # anything else names nobody (and PostgreSQL refuses NUL)
        with uow:
            row = uow.accounts.get(subject.strip().lower())
    if row is None:
        raise NotFound(f"No staff member '{subject}'.", f"Không có cán bộ '{subject}'.")
    return _person(row)


def list_people(uow: UnitOfWork, org_unit_id: str, role: str = "") -> list[dict]:
    """Return the active people of one unit, optionally only those with a role."""
    if not is_clean(org_unit_id or "") or len(org_unit_id) > 80:
        return []
    with uow:
        rows = uow.accounts.active_in_unit(org_unit_id)
    return [_person(r) for r in rows if not role or role in (r.roles or [])]


def _person(row) -> dict:
    return {"subject": row.username, "name": row.display_name, "org_unit_id": row.org_unit_id, "roles": list(row.roles or []), "active": bool(row.active)}


def seed_demo(uow: UnitOfWork, demo_password: str | None) -> dict[str, int]:
    """Load the organisation tree and topics, and demo accounts when a demo password is given; idempotent."""
    counts = {"org_units": 0, "topics": 0, "accounts": 0}
    units = json.loads((SEED / "org_units.json").read_text(encoding="utf-8"))["units"]
    groups = json.loads((SEED / "topics.json").read_text(encoding="utf-8"))["groups"]
    people = json.loads((SEED / "accounts.json").read_text(encoding="utf-8"))["accounts"]
    with uow:
        if uow.directory.count_units() == 0:
            for u in units:
                uow.directory.add(
                    OrgUnit(
                        id=u["id"], code=u["code"], name=u["name"], name_en=u.get("name_en", ""), kind=u["kind"],
                        parent_id=u.get("parent_id"), hub_node=u.get("hub_node", ""), can_lead=bool(u.get("can_lead")),
                        fields=u.get("fields", []), valid_from=date.fromisoformat(u["valid_from"]),
                        valid_to=date.fromisoformat(u["valid_to"]) if u.get("valid_to") else None,
                        replaces=u.get("replaces", []),
                    )
                )
                counts["org_units"] += 1
        if uow.directory.count_topics() == 0:
            for g in groups:
                for t in g["topics"]:
                    uow.directory.add(Topic(code=t["code"], name=t["name"], name_en=t.get("name_en", ""), group_code=g["code"],
                                            group_name=g["name"], fields=t.get("fields", []), urgent_hint=bool(t.get("urgent_hint"))))
                    counts["topics"] += 1
        if demo_password and uow.accounts.count() == 0:
            hashed = hash_password(demo_password)
            for p in people:
                uow.accounts.add(Account(username=p["username"], display_name=p["display_name"], password_hash=hashed,
                                         roles=p["roles"], org_unit_id=p["org_unit_id"], active=True))
                counts["accounts"] += 1
        uow.commit()
    return counts
