"""The people file (format paht-people/1, or CSV): staff accounts without any password.

    format: paht-people/1
    people:
    - username: sogtvt                  # the sign-in name (lower-case letters, digits, '.', '_', '-')
      display_name: Lê Quang Huy (Sở Giao thông vận tải)
      roles: [agency_coordinator]       # paht.runtime.roles.Role values only
      org_unit_id: so-gtvt              # a unit in force today (for an active person)
      active: true                      # false: keeps the person and their history, but they cannot sign in

CSV has the header ``username,display_name,roles,org_unit_id,active`` with roles separated by spaces.

An import adds or updates the people it lists and leaves the others as they are (deactivate someone with
``active: false``). No row may carry a password or a hash: a person created by an import has no password
and cannot sign in until an administrator sets one.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from paht.runtime.roles import Role
from paht.runtime.text import Label
from services.dispatch.domain.directory import Account
from services.dispatch.domain.directory_format import ImportRefused, Problem, Row, dump_yaml, rows, where

FORMAT = "paht-people/1"
WHAT = Label("The list of people", "Danh sách cán bộ")
PERSON_FIELDS = ("username", "display_name", "roles", "org_unit_id", "active")
CSV_HEADER = ["username", "display_name", "roles", "org_unit_id", "active"]
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
NAME = Label("Display name", "Tên hiển thị")
MIN_PASSWORD, MAX_PASSWORD = 10, 200


@dataclass(frozen=True)
class PersonRow:
    """One person as a file gives them (no password)."""

    username: str
    display_name: str
    roles: tuple[str, ...]
    org_unit_id: str
    active: bool


def parse_people(data, units_in_force: set[str], known_units: set[str]) -> list[PersonRow]:
    """Check a people document whole; raise ImportRefused listing every offending row."""
    problems: list[Problem] = []
    people: list[PersonRow] = []
    seen: dict[str, int] = {}
    valid_roles = {r.value for r in Role}
    for index, item in enumerate(rows(data, "people", WHAT, FORMAT, problems, 50_000)):
        if isinstance(item, dict) and any("pass" in str(k).lower() or "hash" in str(k).lower() for k in item):
            problems.append(Problem(where("people", index, item), "must not carry a password or a hash: set passwords one by one.",
                                    "không được chứa mật khẩu hay mã băm: đặt mật khẩu cho từng người."))
            continue
        row = Row(where("people", index, item), item, problems, PERSON_FIELDS)
        raw = row.data.get("username")
        username = raw.strip().lower() if isinstance(raw, str) else ""
        if not USERNAME_RE.match(username):
            row.fail(f"username '{str(raw)[:100]}' is not a sign-in name (lower-case letters, digits, '.', '_', '-').",
                     f"tên đăng nhập '{str(raw)[:100]}' không hợp lệ (chữ thường, số, '.', '_', '-').")
        elif username in seen:
            row.fail(f"duplicate username '{username}' (also people[{seen[username]}]).",
                     f"tên đăng nhập '{username}' bị trùng (cũng ở people[{seen[username]}]).")
        seen.setdefault(username, index)
        roles = row.strings("roles", 40)
        bad = [r for r in roles if r not in valid_roles]
        if bad or not roles:
            known = ", ".join(sorted(valid_roles))
            row.fail(f"roles must be one or more of {known}" + (f"; unknown: {', '.join(bad)}." if bad else "."),
                     f"vai trò phải là một hoặc nhiều trong {known}" + (f"; không hợp lệ: {', '.join(bad)}." if bad else "."))
        unit = row.identifier("org_unit_id")
        active = row.flag("active", True)
        if unit and unit not in known_units:
            row.fail(f"unknown organisation unit '{unit}'.", f"không có đơn vị '{unit}'.")
        elif unit and active and unit not in units_in_force:
            row.fail(f"organisation unit '{unit}' is not in force today: an active person must belong to a unit in force.",
                     f"đơn vị '{unit}' không còn hiệu lực hôm nay: cán bộ đang hoạt động phải thuộc một đơn vị còn hiệu lực.")
        people.append(PersonRow(username, row.text("display_name", NAME, 200), tuple(r for r in roles if r in valid_roles), unit, active))
    if problems:
        raise ImportRefused(WHAT, problems)
    return people


def read_csv(text: str) -> dict:
    """Turn a CSV file into the document parse_people reads (roles separated by spaces, active true/false)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    people = []
    for line in reader:
        row = {k: v for k, v in line.items() if k is not None}
        if "roles" in row:
            row["roles"] = [r for r in re.split(r"[\s;|]+", row["roles"] or "") if r]
        if "active" in row:
            flag = (row["active"] or "").strip().lower()
            if flag in ("", "true", "1", "yes", "có"):
                row["active"] = True
            elif flag in ("false", "0", "no", "không"):
                row["active"] = False
        people.append(row)
    return {"format": FORMAT, "people": people}


def person_row(a: Account) -> dict:
    """One account as a row of the file: never its password hash."""
    return {"username": a.username, "display_name": a.display_name, "roles": list(a.roles or []), "org_unit_id": a.org_unit_id,
            "active": bool(a.active)}


def dump_people(accounts: list[Account]) -> str:
    return dump_yaml({"format": FORMAT, "people": [person_row(a) for a in sorted(accounts, key=lambda a: a.username)]})


def dump_people_csv(accounts: list[Account]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for a in sorted(accounts, key=lambda a: a.username):
        writer.writerow([a.username, a.display_name, " ".join(a.roles or []), a.org_unit_id, "true" if a.active else "false"])
    return out.getvalue()


def check_password(password: str) -> str:
    """Return a new password if it is long enough; it is hashed, never stored or logged as such."""
    from paht.runtime.errors import InvalidInput

    if not isinstance(password, str) or not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        raise InvalidInput(f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
                           f"Mật khẩu phải có từ {MIN_PASSWORD} đến {MAX_PASSWORD} ký tự.")
    if password != password.strip() or any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise InvalidInput("A password may not start or end with spaces or hold control characters.",
                           "Mật khẩu không được bắt đầu, kết thúc bằng dấu cách hoặc chứa ký tự điều khiển.")
    return password
