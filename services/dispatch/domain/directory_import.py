"""The organisation directory file (format paht-directory/1): read it, check it whole, write it back.

A file is the whole directory: every version of every unit, one row each, in the order people read
them (the order is kept: an export lists units as they were imported). Rows::

    format: paht-directory/1
    notes: free text (kept with the revision, shown by exports)
    units:
    - id: so-xd                 # the version's own id (letters, digits, '.', '_', '-'), never reused
      code: SXD                 # GSO code of an administrative unit, or the agency's internal code (text: quote numbers)
      kind: department          # one of Kind (province, ioc, district_ioc, steering_committee, department,
                                #  central_agency, enterprise, district, ward, commune, unit, emergency)
      name: Sở Xây dựng         # Vietnamese name (required)
      name_en: Department of Construction
      parent_id: province-quangbinh   # null for a root
      hub_node: ''              # node hosting its handling; '' = the province
      can_lead: true            # may be chosen as lead agency (never an emergency line, the committee or an IOC)
      fields: [c]               # fields of competence, letters a–n; a lead agency needs at least one
      areas: ['44']             # GSO codes of the areas it serves; when absent: an administrative unit
                                #  (province, district, ward, commune) serves its own code, any other unit
                                #  what its parent serves
      valid_from: 2022-05-05    # first day in force
      valid_to: null            # first day no longer in force (exclusive); null = open
      replaces: []              # ids of the versions it took over (reform of 1 July 2025)

Refused, each naming its row: unknown field, kind or letter of competence; duplicate id; unknown parent or
replaced id; a parent cycle; a parent not in force when its child starts; two versions of one code whose
validity overlaps; valid_to not after valid_from; can_lead on a kind that never leads, or without fields.
"""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import date

from paht.runtime.text import Label
from services.dispatch.domain.directory import FIELD_LETTERS, Kind, OrgUnit
from services.dispatch.domain.directory_format import Problem, Row, dump_yaml, rows, where

FORMAT = "paht-directory/1"
WHAT = Label("The organisation directory", "Danh bạ tổ chức")
MAX_UNITS = 20_000
UNIT_FIELDS = ("id", "code", "kind", "name", "name_en", "parent_id", "hub_node", "can_lead", "fields", "areas",
               "valid_from", "valid_to", "replaces")
HUB_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
NAME = Label("Name", "Tên")
NAME_EN = Label("English name", "Tên tiếng Anh")
CODE = Label("Code", "Mã")


def parse_directory(data, problems: list[Problem]) -> list[OrgUnit]:
    """Read the units of a directory document; add a Problem for every offending row (nothing raised)."""
    units: list[OrgUnit] = []
    explicit_areas: set[str] = set()
    for index, item in enumerate(rows(data, "units", WHAT, FORMAT, problems, MAX_UNITS)):
        row = Row(where("units", index, item), item, problems, UNIT_FIELDS)
        kind = row.data.get("kind")
        if kind not in {k.value for k in Kind}:
            row.fail(f"unknown kind '{str(kind)[:40]}'; known: {', '.join(k.value for k in Kind)}.",
                     f"loại đơn vị '{str(kind)[:40]}' không hợp lệ; các loại: {', '.join(k.value for k in Kind)}.")
        fields = row.strings("fields", 1)
        bad = [f for f in fields if f not in FIELD_LETTERS]
        if bad or any(f != f.lower() for f in fields):
            row.fail(f"unknown field(s) of competence {', '.join(bad)}; letters a–n only.",
                     f"lĩnh vực thẩm quyền không hợp lệ {', '.join(bad)}; chỉ các chữ a–n.")
        hub = row.data.get("hub_node") or ""
        if not isinstance(hub, str) or (hub and not HUB_RE.match(hub)):
            row.fail(f"hub_node '{str(hub)[:40]}' is not a node name (lower-case letters, digits, '-').",
                     f"hub_node '{str(hub)[:40]}' không phải tên nút (chữ thường, số, '-').")
            hub = ""
        unit = OrgUnit(
            id=row.identifier("id"), code=row.text("code", CODE, 40), name=row.text("name", NAME, 300),
            name_en=row.text("name_en", NAME_EN, 300, required=False), kind=str(kind or ""),
            parent_id=row.identifier("parent_id", required=False) or None, hub_node=hub, can_lead=row.flag("can_lead"),
            fields=sorted(set(fields) & FIELD_LETTERS), valid_from=row.day("valid_from", True) or date.min,
            valid_to=row.day("valid_to", False), replaces=row.strings("replaces"), areas=row.strings("areas", 40),
            position=index,
        )
        if unit.valid_to is not None and unit.valid_from != date.min and unit.valid_to <= unit.valid_from:
            row.fail(f"valid_to {unit.valid_to} is not after valid_from {unit.valid_from}.",
                     f"valid_to {unit.valid_to} không sau valid_from {unit.valid_from}.")
        if unit.can_lead and kind in {k.value for k in Kind} and not Kind(kind).may_lead:
            label = Kind(kind).label
            row.fail(f"can_lead is not allowed for a unit of kind {kind} ({label.en}): it never leads.",
                     f"không được đặt can_lead cho đơn vị loại {kind} ({label.vi}): loại này không bao giờ chủ trì xử lý.")
        elif unit.can_lead and not fields:
            row.fail("can_lead needs at least one field of competence (a–n).", "can_lead cần ít nhất một lĩnh vực thẩm quyền (a–n).")
        if "areas" in row.data:
            explicit_areas.add(unit.id)
        units.append(unit)
    check_tree(units, problems)
    derive_areas(units, explicit_areas)
    return units


def _name(units: list[OrgUnit], unit: OrgUnit) -> str:
    return f"units[{unit.position}] ({unit.id})"


def check_tree(units: list[OrgUnit], problems: list[Problem]) -> None:
    """Ids unique, parents and replaced units known, no cycle, parents in force at the start, no overlapping versions."""
    by_id: dict[str, OrgUnit] = {}
    for u in units:
        if not u.id:
            continue
        if u.id in by_id:
            problems.append(Problem(_name(units, u), f"duplicate id '{u.id}' (also units[{by_id[u.id].position}]).",
                                    f"mã đơn vị '{u.id}' bị trùng (cũng ở units[{by_id[u.id].position}])."))
        else:
            by_id[u.id] = u
    for u in units:
        if u.parent_id and u.parent_id not in by_id:
            problems.append(Problem(_name(units, u), f"unknown parent '{u.parent_id}'.", f"không có đơn vị cấp trên '{u.parent_id}'."))
        elif u.parent_id:
            parent = by_id[u.parent_id]
            if parent.id != u.id and u.valid_from != date.min and not parent.in_force(u.valid_from):
                problems.append(Problem(
                    _name(units, u), f"its parent '{parent.id}' is not in force on {u.valid_from}, the day it starts.",
                    f"đơn vị cấp trên '{parent.id}' không còn hiệu lực vào ngày {u.valid_from}, ngày đơn vị này bắt đầu."))
        for old in u.replaces:
            if old not in by_id:
                problems.append(Problem(_name(units, u), f"replaces an unknown unit '{old}'.",
                                        f"thay thế một đơn vị không tồn tại '{old}'."))
            elif old == u.id:
                problems.append(Problem(_name(units, u), "replaces itself.", "tự thay thế chính nó."))
    for u in units:  # a parent cycle: walking up from u comes back to u
        seen, node = {u.id}, by_id.get(u.parent_id or "")
        while node is not None:
            if node.id in seen:
                if node.id == u.id:
                    problems.append(Problem(_name(units, u), f"parent cycle: '{u.id}' is its own ancestor.",
                                            f"vòng lặp cấp trên: '{u.id}' là cấp trên của chính nó."))
                break
            seen.add(node.id)
            node = by_id.get(node.parent_id or "")
    by_code: dict[str, list[OrgUnit]] = defaultdict(list)
    for u in units:
        if u.code and u.valid_from != date.min and by_id.get(u.id) is u:  # a duplicated row is already refused as such
            by_code[u.code].append(u)
    for code, versions in by_code.items():
        versions.sort(key=lambda v: (v.valid_from, v.position))
        for a, b in zip(versions, versions[1:]):
            if a.overlaps(b):
                problems.append(Problem(
                    _name(units, b), f"overlap versions: code {code} is also '{a.id}' (units[{a.position}]) on {b.valid_from}.",
                    f"các phiên bản chồng lấn: mã {code} cũng là '{a.id}' (units[{a.position}]) vào ngày {b.valid_from}."))


def derive_areas(units: list[OrgUnit], explicit: set[str]) -> None:
    """Fill the areas a unit serves when its row gives none: its own code if administrative, else its parent's."""
    by_id = {u.id: u for u in units}
    done: set[str] = set(explicit)

    def resolve(u: OrgUnit, depth: int = 0) -> list:
        if u.id in done or depth > 50:
            return u.areas
        done.add(u.id)
        if u.kind in {k.value for k in Kind} and Kind(u.kind).administrative:
            u.areas = [u.code]
        else:
            parent = by_id.get(u.parent_id or "")
            u.areas = list(resolve(parent, depth + 1)) if parent is not None and parent.id != u.id else []
        return u.areas

    for u in units:
        resolve(u)


def dangling(current: list[OrgUnit], new: list[OrgUnit], in_use: dict[str, list[tuple[str, str]]], today: date) -> list[Problem]:
    """Refuse removing (or ending) a unit in force today that reports or people still depend on.

    `in_use` maps a unit id to what depends on it, each as (English, Vietnamese). A unit that was already
    missing or out of force before this import is not this import's doing, so it is not refused.
    """
    before = {u.id: u for u in current}
    after = {u.id: u for u in new}
    problems = []
    for unit_id, uses in sorted(in_use.items()):
        old = before.get(unit_id)
        if old is None or not old.in_force(today):
            continue
        kept = after.get(unit_id)
        if kept is not None and kept.in_force(today):
            continue
        name = f"units[{kept.position}] ({unit_id})" if kept is not None else f"unit {unit_id}"
        state_en = f"is no longer in force on {today}" if kept is not None else "is removed"
        state_vi = f"hết hiệu lực vào ngày {today}" if kept is not None else "bị xóa"
        problems.append(Problem(name, f"{state_en} while still in use: {'; '.join(en for en, _ in uses)}.",
                                f"{state_vi} trong khi vẫn đang được dùng: {'; '.join(vi for _, vi in uses)}."))
    return problems


def unit_row(u: OrgUnit) -> dict:
    """One unit as a row of the file (every field written, so that an export is the full state)."""
    return {
        "id": u.id, "code": u.code, "kind": u.kind, "name": u.name, "name_en": u.name_en, "parent_id": u.parent_id,
        "hub_node": u.hub_node, "can_lead": bool(u.can_lead), "fields": list(u.fields), "areas": list(u.areas or []),
        "valid_from": u.valid_from, "valid_to": u.valid_to, "replaces": list(u.replaces or []),
    }


def dump_directory(units: list[OrgUnit], notes: str = "") -> str:
    """Write units as a directory file, in their kept order; importing it gives the same units back."""
    head = {"format": FORMAT}
    if notes:
        head["notes"] = notes
    ordered = sorted(units, key=lambda u: (u.position, u.id))
    return dump_yaml({**head, "units": [unit_row(u) for u in ordered]})


def notes_of(data) -> str:
    notes = data.get("notes") if isinstance(data, dict) else None
    return notes.strip() if isinstance(notes, str) else ""
