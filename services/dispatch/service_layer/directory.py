"""Read the organisation directory, topics and people; load the demo data (directory and taxonomy as revision 1)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from paht.runtime.auth import hash_password
from paht.runtime.errors import NotFound
from paht.runtime.text import is_clean
from paht.runtime.uow import UnitOfWork
from services.dispatch.domain.areas import parse_boundaries
from services.dispatch.domain.directory import Account, OrgUnit, Topic
from services.dispatch.domain.directory_format import ImportRefused, Problem, load_yaml
from services.dispatch.domain.directory_import import WHAT, notes_of, parse_directory
from services.dispatch.domain.taxonomy import WHAT as TAXONOMY
from services.dispatch.domain.taxonomy import parse_taxonomy
from services.dispatch.service_layer.directory_publish import SEED_ACTOR, publish_directory, publish_taxonomy, sha256_of, today

SEED = Path(__file__).resolve().parents[1] / "seed"
SEED_DIRECTORY = ("quang-binh-2022.yaml", "quang-tri-2025.yaml")  # loaded together: the demo's whole history
SEED_TAXONOMY = "taxonomy.yaml"
SEED_BOUNDARIES = "boundaries/quang-binh-2022-approximate.geojson"

__all__ = ["today", "get_unit", "list_units", "list_topics", "get_person", "list_people", "tree", "seed_demo", "SEED"]


def get_unit(uow: UnitOfWork, unit_id: str) -> OrgUnit:
    with uow:
        # an id with control characters names no unit (and PostgreSQL cannot even look it up)
        unit = uow.directory.unit(unit_id) if unit_id and is_clean(unit_id) else None
        if unit is None:
            raise NotFound(f"No organisation unit '{unit_id}'.", f"Không có đơn vị '{unit_id}'.")
        return unit


def list_units(uow: UnitOfWork, parent_id: str | None, as_of: date | None, lead_only: bool = False,
               roots_only: bool = False) -> list[OrgUnit]:
    on = as_of or today()
    with uow:
        return [u for u in uow.directory.units(parent_id, roots_only, lead_only) if u.in_force(on)]


def list_topics(uow: UnitOfWork, as_of: date | None = None) -> list[Topic]:
    """The topics in force on a day (today by default), in the taxonomy's order."""
    on = as_of or today()
    with uow:
        return [t for t in uow.directory.topics() if t.in_force(on)]


@dataclass(frozen=True)
class TreeRow:
    depth: int
    unit: OrgUnit


def tree(uow: UnitOfWork, as_of: date | None = None) -> list[TreeRow]:
    """The units in force on a day as an indented tree, in the file's order.

    A unit whose parent is not in force that day (the provincial agencies kept under the old province
    after 1 July 2025) is shown as a root, so nothing in force is hidden.
    """
    on = as_of or today()
    with uow:
        units = [u for u in uow.directory.all_units() if u.in_force(on)]
    ids = {u.id for u in units}
    children: dict[str | None, list[OrgUnit]] = {}
    for u in units:
        children.setdefault(u.parent_id if u.parent_id in ids else None, []).append(u)
    rows: list[TreeRow] = []

    def walk(parent: str | None, depth: int) -> None:
        for u in children.get(parent, []):
            if depth > 30 or any(r.unit.id == u.id for r in rows):
                continue
            rows.append(TreeRow(depth, u))
            walk(u.id, depth + 1)

    walk(None, 0)
    return rows


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
    return {"subject": row.username, "name": row.display_name, "org_unit_id": row.org_unit_id, "roles": list(row.roles or []),
            "active": bool(row.active)}


def seed_units() -> tuple[list[OrgUnit], str, str]:
    """The demo directory: both seed files read as one (units, notes, sha256 of the files); refused like any import."""
    texts = [(SEED / "directory" / name).read_text(encoding="utf-8") for name in SEED_DIRECTORY]
    docs = [load_yaml(t, WHAT) for t in texts]
    merged = {"format": docs[0].get("format"), "units": [u for d in docs for u in d.get("units", [])]}
    problems: list[Problem] = []
    units = parse_directory(merged, problems)
    if problems:
        raise ImportRefused(WHAT, problems)
    return units, "\n\n".join(notes_of(d) for d in docs if notes_of(d)), sha256_of("".join(texts))


def seed_demo(uow: UnitOfWork, demo_password: str | None) -> dict[str, int]:
    """Load the directory, the taxonomy and the approximate boundary into empty tables, publish each as revision 1
    (also for tables filled before revisions existed), and add the demo accounts when a demo password is given; idempotent."""
    counts = {"org_units": 0, "topics": 0, "accounts": 0}
    people = json.loads((SEED / "accounts.json").read_text(encoding="utf-8"))["accounts"]
    source = " + ".join(SEED_DIRECTORY)
    with uow:
        uow.directory.lock("directory")
        if uow.directory.latest_revision("directory") is None:
            if uow.directory.count_units() == 0:
                units, notes, sha = seed_units()
                counts["org_units"] = len(units)
            else:  # a database filled before revisions: its rows become revision 1 as they are
                units, notes, sha, source = uow.directory.all_units(), "", "", "seed (existing rows)"
            publish_directory(uow, units, notes, by="seed", actor=SEED_ACTOR, source=source, sha256=sha)
    with uow:
        uow.directory.lock("taxonomy")
        if uow.directory.latest_revision("taxonomy") is None:
            if uow.directory.count_topics() == 0:
                text = (SEED / SEED_TAXONOMY).read_text(encoding="utf-8")
                groups, topics = parse_taxonomy(load_yaml(text, TAXONOMY))
                counts["topics"], sha, source = len(topics), sha256_of(text), SEED_TAXONOMY
            else:
                groups, topics, sha, source = uow.directory.groups(), uow.directory.topics(), "", "seed (existing rows)"
            publish_taxonomy(uow, groups, topics, by="seed", actor=SEED_ACTOR, source=source, sha256=sha)
    with uow:
        if not uow.directory.boundaries():
            uow.directory.replace_boundaries(parse_boundaries(json.loads((SEED / SEED_BOUNDARIES).read_text(encoding="utf-8"))))
        missing = [p for p in people if uow.accounts.get(p["username"]) is None] if demo_password else []
        if missing:  # each demo account once: a demo database made before an account was added gets it too
            hashed = hash_password(demo_password)
            for p in missing:
                uow.accounts.add(Account(username=p["username"], display_name=p["display_name"], password_hash=hashed,
                                         roles=p["roles"], org_unit_id=p["org_unit_id"], active=True))
                counts["accounts"] += 1
        uow.commit()
    return counts
