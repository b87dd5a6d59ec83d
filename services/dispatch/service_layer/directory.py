"""Read the organisation directory and topics; load the demo data; sign staff in."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

from paht.runtime.auth import TokenIssuer, check_password, hash_password
from paht.runtime.errors import NotFound, Unauthorized
from paht.runtime.uow import UnitOfWork
from services.dispatch.adapters.orm import accounts
from services.dispatch.domain.directory import OrgUnit, Topic

SEED = Path(__file__).resolve().parents[1] / "seed"
_DUMMY_HASH = hash_password("not-a-real-password")


def today() -> date:
    """Today in Vietnam: validity periods are Vietnamese calendar days."""
    from services.dispatch.domain.deadlines import VN

    return datetime.now(VN).date()


def get_unit(uow: UnitOfWork, unit_id: str) -> OrgUnit:
    with uow:
        unit = uow.session.get(OrgUnit, unit_id)
        if unit is None:
            raise NotFound(f"No organisation unit '{unit_id}'.", f"Không có đơn vị '{unit_id}'.")
        return unit


def list_units(uow: UnitOfWork, parent_id: str | None, as_of: date | None, lead_only: bool = False, roots_only: bool = False) -> list[OrgUnit]:
    on = as_of or today()
    with uow:
        q = select(OrgUnit).order_by(OrgUnit.kind, OrgUnit.name)
        if parent_id:
            q = q.where(OrgUnit.parent_id == parent_id)
        elif roots_only:
            q = q.where(OrgUnit.parent_id.is_(None))
        if lead_only:
            q = q.where(OrgUnit.can_lead.is_(True))
        return [u for u in uow.session.execute(q).scalars() if u.in_force(on)]


def list_topics(uow: UnitOfWork) -> list[Topic]:
    with uow:
        return list(uow.session.execute(select(Topic).order_by(Topic.group_code, Topic.code)).scalars())


def get_person(uow: UnitOfWork, subject: str) -> dict:
    """Return one staff member (no password hash, no contact data)."""
    with uow:
        row = uow.session.execute(select(accounts).where(accounts.c.username == subject.strip().lower())).first()
    if row is None:
        raise NotFound(f"No staff member '{subject}'.", f"Không có cán bộ '{subject}'.")
    return _person(row)


def list_people(uow: UnitOfWork, org_unit_id: str, role: str = "") -> list[dict]:
    """Return the active people of one unit, optionally only those with a role."""
    with uow:
        rows = uow.session.execute(
            select(accounts).where(accounts.c.org_unit_id == org_unit_id, accounts.c.active.is_(True)).order_by(accounts.c.username)
        ).all()
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
        s = uow.session
        if s.execute(select(func.count()).select_from(OrgUnit)).scalar() == 0:
            for u in units:
                s.add(
                    OrgUnit(
                        id=u["id"], code=u["code"], name=u["name"], name_en=u.get("name_en", ""), kind=u["kind"],
                        parent_id=u.get("parent_id"), hub_node=u.get("hub_node", ""), can_lead=bool(u.get("can_lead")),
                        fields=u.get("fields", []), valid_from=date.fromisoformat(u["valid_from"]),
                        valid_to=date.fromisoformat(u["valid_to"]) if u.get("valid_to") else None,
                        replaces=u.get("replaces", []),
                    )
                )
                counts["org_units"] += 1
        if s.execute(select(func.count()).select_from(Topic)).scalar() == 0:
            for g in groups:
                for t in g["topics"]:
                    s.add(Topic(code=t["code"], name=t["name"], name_en=t.get("name_en", ""), group_code=g["code"],
                                group_name=g["name"], fields=t.get("fields", []), urgent_hint=bool(t.get("urgent_hint"))))
                    counts["topics"] += 1
        if demo_password and s.execute(select(func.count()).select_from(accounts)).scalar() == 0:
            hashed = hash_password(demo_password)
            for p in people:
                s.execute(accounts.insert().values(username=p["username"], display_name=p["display_name"], password_hash=hashed,
                                                   roles=p["roles"], org_unit_id=p["org_unit_id"], active=True))
                counts["accounts"] += 1
        uow.commit()
    return counts


def sign_in(uow: UnitOfWork, issuer: TokenIssuer, username: str, password: str) -> tuple[str, dict]:
    """Check a staff member's password and return (token, account)."""
    with uow:
        row = uow.session.execute(select(accounts).where(accounts.c.username == username.strip().lower())).first()
    if row is None:
        check_password(_DUMMY_HASH, password)  # same work whether or not the name exists
    if row is None or not row.active or not check_password(row.password_hash, password):
        raise Unauthorized("Wrong username or password.", "Sai tên đăng nhập hoặc mật khẩu.")
    token = issuer.issue(row.username, row.display_name, list(row.roles), row.org_unit_id)
    return token, {"username": row.username, "name": row.display_name, "roles": list(row.roles), "org_unit": row.org_unit_id}
