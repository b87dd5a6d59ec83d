"""The IOC administrator's use cases: import and export the directory, the taxonomy, people and boundaries;
revisions; topic edits; passwords and deactivation.

Every import is the file checked whole and applied whole in one transaction, or refused whole with every
offending row named (ImportRefused, 422); nothing is ever half-imported.
"""
from __future__ import annotations

import json
from dataclasses import fields as dc_fields
from dataclasses import replace
from datetime import date

from paht.runtime.auth import Principal, hash_password
from paht.runtime.errors import InvalidInput, NotFound, StateConflict
from paht.runtime.text import Label, clean_optional, is_clean
from paht.runtime.uow import UnitOfWork, actor_of
from services.dispatch.domain.areas import WHAT as BOUNDARIES
from services.dispatch.domain.areas import parse_boundaries
from services.dispatch.domain.directory import Account
from services.dispatch.domain.directory_format import ImportRefused, Problem, load_yaml
from services.dispatch.domain.directory_import import WHAT as DIRECTORY
from services.dispatch.domain.directory_import import dangling, dump_directory, notes_of, parse_directory
from services.dispatch.domain.directory_people import (
    WHAT as PEOPLE,
)
from services.dispatch.domain.directory_people import (
    check_password,
    dump_people,
    dump_people_csv,
    parse_people,
    read_csv,
)
from services.dispatch.domain.taxonomy import WHAT as TAXONOMY
from services.dispatch.domain.taxonomy import as_document, dump_taxonomy, parse_taxonomy
from services.dispatch.domain.taxonomy import edit_topic as edited
from services.dispatch.service_layer.directory_publish import ImportResult, publish_directory, publish_taxonomy, sha256_of, today

KINDS = ("directory", "taxonomy")
SOURCE = Label("Source", "Nguồn")
TOPIC_NAME = Label("Topic name", "Tên lĩnh vực")


def _source(source: str) -> str:
    return clean_optional(source, SOURCE, 200, multiline=False) or "api"


def _what(what: str) -> str:
    if what not in KINDS:
        raise NotFound(f"No history named '{what[:40]}' (directory or taxonomy).",
                       f"Không có lịch sử '{what[:40]}' (directory hoặc taxonomy).")
    return what


# ---- directory
def in_use(uow: UnitOfWork) -> dict[str, list[tuple[str, str]]]:
    """What depends on each unit now: reports dispatched to it (step 2 done) and active people belonging to it."""
    uses: dict[str, list[tuple[str, str]]] = {}
    for unit_id, reports in uow.directory.dispatched_to().items():
        shown = ", ".join(reports[:5]) + ("…" if len(reports) > 5 else "")
        uses.setdefault(unit_id, []).append((f"{len(reports)} report(s) dispatched to it ({shown})",
                                             f"{len(reports)} phản ánh đang được chuyển đến ({shown})"))
    for unit_id, people in uow.accounts.active_by_unit().items():
        shown = ", ".join(people[:5]) + ("…" if len(people) > 5 else "")
        uses.setdefault(unit_id, []).append((f"{len(people)} active person(s) belong to it ({shown})",
                                             f"{len(people)} cán bộ đang hoạt động thuộc đơn vị ({shown})"))
    return uses


def import_directory(uow: UnitOfWork, user: Principal, text: str, source: str, on: date | None = None) -> ImportResult:
    """Replace the whole directory by a file: checked whole, refused whole, or written as the next revision and published."""
    source = _source(source)
    problems: list[Problem] = []
    data = load_yaml(text, DIRECTORY)
    units = parse_directory(data, problems)
    if problems:
        raise ImportRefused(DIRECTORY, problems)
    with uow:
        uow.directory.lock("directory")  # a second import waits here, then checks against the first one's result
        problems = dangling(uow.directory.all_units(), units, in_use(uow), on or today())
        if problems:
            raise ImportRefused(DIRECTORY, problems)
        return publish_directory(uow, units, notes_of(data), by=user.subject, actor=actor_of(user), source=source, sha256=sha256_of(text))


def export_directory(uow: UnitOfWork, as_of: date | None = None) -> str:
    """The directory as a file: every version of every unit, or (as_of) only those in force that day."""
    with uow:
        units = uow.directory.all_units()
        latest = uow.directory.latest_revision("directory")
    notes = notes_of(load_yaml(latest["snapshot"], DIRECTORY)) if latest else ""
    if as_of is not None:
        units = [u for u in units if u.in_force(as_of)]
        notes = (f"Units in force on {as_of.isoformat()} only (not the whole history).\n\n" + notes).strip()
    return dump_directory(units, notes)


# ---- taxonomy
def import_taxonomy(uow: UnitOfWork, user: Principal, text: str, source: str) -> ImportResult:
    """Replace the whole taxonomy by a file; the next revision, published (TaxonomyPublished)."""
    source = _source(source)
    groups, topics = parse_taxonomy(load_yaml(text, TAXONOMY))
    with uow:
        uow.directory.lock("taxonomy")
        return publish_taxonomy(uow, groups, topics, by=user.subject, actor=actor_of(user), source=source, sha256=sha256_of(text))


def export_taxonomy(uow: UnitOfWork, as_of: date | None = None) -> str:
    with uow:
        groups, topics = uow.directory.groups(), uow.directory.topics()
    if as_of is not None:
        groups = [g for g in groups if g.in_force(as_of)]
        topics = [t for t in topics if t.in_force(as_of)]
    return dump_taxonomy(groups, topics)


def edit_topic(uow: UnitOfWork, user: Principal, code: str, *, name: str | None = None, name_en: str | None = None,
               fields: list[str] | None = None, urgent_hint: bool | None = None, retire: bool = False,
               valid_to: date | None = None) -> ImportResult:
    """Rename a topic, change its fields of competence or urgency, or retire it (valid_to; today if none): a new taxonomy revision."""
    if retire and valid_to is None:
        valid_to = today()
    with uow:
        uow.directory.lock("taxonomy")
        groups, topics = uow.directory.groups(), uow.directory.topics()
        if not is_clean(code or "") or uow.directory.topic(code) is None:
            raise NotFound(f"No topic '{code[:60]}'.", f"Không có lĩnh vực '{code[:60]}'.")
        current = uow.directory.topic(code)
        if retire and current.valid_from and valid_to <= current.valid_from:
            raise InvalidInput(f"A topic is retired after it starts ({current.valid_from}).",
                               f"Chỉ có thể ngừng lĩnh vực sau ngày bắt đầu ({current.valid_from}).")
        changed = edited([_copy(t) for t in topics], code, name=name, name_en=name_en, fields=fields, urgent_hint=urgent_hint,
                         valid_to=valid_to, retire=retire)
        document = as_document([_copy(g) for g in groups], changed)
        new_groups, new_topics = parse_taxonomy(document)  # the same checks as a file: bad letters, names, dates refused
        text = dump_taxonomy(new_groups, new_topics)
        return publish_taxonomy(uow, new_groups, new_topics, by=user.subject, actor=actor_of(user), source="api: topic " + code,
                                sha256=sha256_of(text))


def _copy(row):
    """A detached copy of a mapped row (so that an edit never changes the stored one before it is checked)."""
    return replace(row, **{f.name: getattr(row, f.name) for f in dc_fields(row)})


# ---- revisions
def list_revisions(uow: UnitOfWork, what: str) -> list[dict]:
    with uow:
        return uow.directory.revisions(_what(what))


def get_revision(uow: UnitOfWork, what: str, number: int) -> dict:
    with uow:
        found = uow.directory.revision(_what(what), number)
    if found is None:
        raise NotFound(f"No {what} revision {number}.", f"Không có phiên bản {number} của {what}.")
    return found


# ---- people
def import_people(uow: UnitOfWork, user: Principal, text: str, source: str, as_csv: bool = False) -> dict:
    """Add or update the people a file lists (never a password); a new person cannot sign in until given one."""
    _source(source)
    data = read_csv(text) if as_csv else load_yaml(text, PEOPLE)
    on = today()
    with uow:
        units = uow.directory.all_units()
        people = parse_people(data, {u.id for u in units if u.in_force(on)}, {u.id for u in units})
        mine = next((p for p in people if p.username == user.subject), None)
        if mine is not None and not mine.active:
            raise ImportRefused(PEOPLE, [Problem(f"people ({user.subject})", "you cannot deactivate your own account.",
                                                 "bạn không thể tự khóa tài khoản của chính mình.")])
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        for p in people:
            account = uow.accounts.get(p.username)
            if account is None:
                uow.accounts.add(Account(username=p.username, display_name=p.display_name, password_hash="", roles=list(p.roles),
                                         org_unit_id=p.org_unit_id, active=p.active))
                counts["added"] += 1
                continue
            values = {"display_name": p.display_name, "roles": list(p.roles), "org_unit_id": p.org_unit_id, "active": p.active}
            if all(getattr(account, k) == v for k, v in values.items()):
                counts["unchanged"] += 1
                continue
            for k, v in values.items():
                setattr(account, k, v)
            counts["updated"] += 1
        uow.commit()
    return counts


def export_people(uow: UnitOfWork, as_csv: bool = False) -> str:
    with uow:
        accounts = uow.accounts.all()
    return dump_people_csv(accounts) if as_csv else dump_people(accounts)


def list_accounts(uow: UnitOfWork) -> list[dict]:
    """Every person with whether they can sign in (never their hash)."""
    with uow:
        return [{"username": a.username, "display_name": a.display_name, "roles": list(a.roles or []), "org_unit_id": a.org_unit_id,
                 "active": bool(a.active), "has_password": a.has_password} for a in uow.accounts.all()]


def _account(uow: UnitOfWork, username: str):
    name = (username or "").strip().lower()
    account = uow.accounts.get(name) if is_clean(name) and len(name) <= 100 else None
    if account is None:
        raise NotFound(f"No staff member '{username[:100]}'.", f"Không có cán bộ '{username[:100]}'.")
    return account


def set_password(uow: UnitOfWork, user: Principal, username: str, password: str) -> dict:
    """Give a person a new password (argon2; run it on the sign-in hashing pool); they sign in with it from now on."""
    check_password(password)
    hashed = hash_password(password)
    with uow:
        account = _account(uow, username)
        account.password_hash = hashed
        uow.commit()
        return {"username": account.username, "has_password": True}


def deactivate(uow: UnitOfWork, user: Principal, username: str) -> dict:
    """Stop a person signing in and being assigned work; their account, roles and history stay."""
    with uow:
        account = _account(uow, username)
        if account.username == user.subject:
            raise StateConflict("You cannot deactivate your own account.", "Bạn không thể tự khóa tài khoản của chính mình.")
        account.active = False
        uow.commit()
        return {"username": account.username, "active": False}


# ---- boundaries
def import_boundaries(uow: UnitOfWork, user: Principal, text: str, source: str) -> dict:
    """Replace every boundary by a GeoJSON FeatureCollection (checked whole)."""
    _source(source)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ImportRefused(BOUNDARIES, [Problem("file", f"not readable as JSON ({exc}).", f"không đọc được theo định dạng JSON ({exc}).")])
    found = parse_boundaries(data)
    with uow:
        uow.directory.lock("boundaries")
        uow.directory.replace_boundaries(found)
        uow.commit()
    return {"boundaries": len(found), "codes": len({b.code for b in found})}


def list_boundaries(uow: UnitOfWork) -> list[dict]:
    with uow:
        return [{"code": b.code, "name": b.name, "valid_from": b.valid_from.isoformat() if b.valid_from else None,
                 "valid_to": b.valid_to.isoformat() if b.valid_to else None, "approximate": b.approximate,
                 "bbox": [b.min_lon, b.min_lat, b.max_lon, b.max_lat]} for b in uow.directory.boundaries()]


def locate(uow: UnitOfWork, lat: float, lon: float, on: date | None = None) -> list[str]:
    with uow:
        return uow.directory.locate(lat, lon, on or today())


def units_serving(uow: UnitOfWork, area_code: str, on: date | None = None):
    with uow:
        return uow.directory.units_serving(area_code, on or today())
