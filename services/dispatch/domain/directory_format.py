"""What every directory file (units, taxonomy, people, boundaries) shares: reading YAML safely, reading one
field of one row, and refusing a whole file with the list of every offending row.

An import is checked whole and refused whole: each check adds a Problem naming where it is (a YAML path and
the row's id) instead of stopping at the first, so the administrator fixes the file in one go.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import yaml

from paht.runtime.errors import InvalidInput
from paht.runtime.text import Label, clean_optional, clean_text

MAX_SHOWN = 50           # problems written out in the error's detail (all of them stay on the exception)
MAX_LIST = 100           # items in one row's list (fields, areas, roles, replaces)
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one row of an import, in both languages."""

    where: str  # e.g. "units[12] (so-xd)"
    en: str
    vi: str

    def as_json(self) -> dict:
        return {"where": self.where, "en": self.en, "vi": self.vi}


class ImportRefused(InvalidInput):
    """An import refused whole; `problems` lists every offending row (422, like any invalid input)."""

    def __init__(self, what: Label, problems: list[Problem]):
        self.problems = list(problems)
        shown = self.problems[:MAX_SHOWN]
        more_en = f"\n… and {len(self.problems) - MAX_SHOWN} more." if len(self.problems) > MAX_SHOWN else ""
        more_vi = f"\n… và {len(self.problems) - MAX_SHOWN} lỗi khác." if len(self.problems) > MAX_SHOWN else ""
        super().__init__(
            f"{what.en} was not imported: nothing was changed. {len(self.problems)} problem(s):\n"
            + "\n".join(f"- {p.where}: {p.en}" for p in shown) + more_en,
            f"{what.vi} chưa được nhập: không có gì thay đổi. {len(self.problems)} lỗi:\n"
            + "\n".join(f"- {p.where}: {p.vi}" for p in shown) + more_vi,
        )


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases: a small file must not expand into a huge one."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(text: str, what: Label):
    """Parse a YAML (or JSON) document; a syntax error is one Problem naming its line."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else "file"
        reason = getattr(exc, "problem", None) or str(exc)
        raise ImportRefused(what, [Problem(line, f"not readable as YAML ({reason}).", f"không đọc được theo định dạng YAML ({reason}).")])


class _Dumper(yaml.SafeDumper):
    """Block mappings (one field a line), lists of codes on one line: `fields: [a, h]`; never an alias."""

    def ignore_aliases(self, data) -> bool:
        return True


def _list(dumper: yaml.SafeDumper, value: list):
    flat = all(not isinstance(v, (dict, list)) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat)


_Dumper.add_representer(list, _list)


def dump_yaml(data) -> str:
    """Write a document the way every export does: UTF-8 text, keys in the given order, one field a line."""
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000, default_flow_style=False)


class Row:
    """Read the fields of one mapping row, collecting problems instead of raising."""

    def __init__(self, where: str, data, problems: list[Problem], known: tuple[str, ...]):
        self.where = where
        self.problems = problems
        self.data = data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            self.fail("is not a mapping of fields (key: value).", "không phải một danh sách trường (khóa: giá trị).")
        unknown = [str(k) for k in self.data if k not in known]
        if unknown:
            self.fail(f"unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(known)}.",
                      f"trường không hợp lệ {', '.join(sorted(unknown))}; các trường được phép: {', '.join(known)}.")

    def fail(self, en: str, vi: str) -> None:
        self.problems.append(Problem(self.where, en, vi))

    def text(self, key: str, label: Label, max_len: int, required: bool = True, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(f"{key} is missing.", f"thiếu {key}.")
            return default
        if not isinstance(value, str):
            self.fail(f"{key} must be text (put it in quotes).", f"{key} phải là chuỗi ký tự (đặt trong dấu nháy).")
            return default
        try:
            if required:
                return clean_text(value, label, 1, max_len, multiline=False)
            return clean_optional(value, label, max_len, multiline=False)
        except InvalidInput as exc:
            self.fail(f"{key}: {exc.detail_en}", f"{key}: {exc.detail_vi}")
            return default

    def identifier(self, key: str, required: bool = True) -> str:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                self.fail(f"{key} is missing.", f"thiếu {key}.")
            return ""
        if not isinstance(value, str) or not ID_RE.match(value):
            self.fail(f"{key} '{str(value)[:80]}' is not an id (letters, digits, '.', '_', '-'; at most 80).",
                      f"{key} '{str(value)[:80]}' không phải mã hợp lệ (chữ, số, '.', '_', '-'; tối đa 80 ký tự).")
            return ""
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false.", f"{key} phải là true hoặc false.")
            return default
        return value

    def day(self, key: str, required: bool) -> date | None:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                self.fail(f"{key} is missing (a date, YYYY-MM-DD).", f"thiếu {key} (ngày, dạng YYYY-MM-DD).")
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.fail(f"{key} '{str(value)[:40]}' is not a date (YYYY-MM-DD).", f"{key} '{str(value)[:40]}' không phải ngày (YYYY-MM-DD).")
        return None

    def strings(self, key: str, max_len: int = 80) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > MAX_LIST:
            self.fail(f"{key} must be a list (at most {MAX_LIST} items).", f"{key} phải là một danh sách (tối đa {MAX_LIST} mục).")
            return []
        out: list[str] = []
        for item in value:
            if not isinstance(item, str) or not item or len(item) > max_len or not ID_RE.match(item):
                self.fail(f"{key}: '{str(item)[:80]}' is not a valid code (put it in quotes).",
                          f"{key}: '{str(item)[:80]}' không phải mã hợp lệ (đặt trong dấu nháy).")
                continue
            if item not in out:
                out.append(item)
        return out


def rows(data, key: str, what: Label, fmt: str, problems: list[Problem], max_rows: int) -> list:
    """Return the list under `key` of a document, or [] with a problem saying why not."""
    if not isinstance(data, dict):
        problems.append(Problem("file", f"must be a mapping with a '{key}' list (format {fmt}).",
                                f"phải là một bảng có danh sách '{key}' (định dạng {fmt})."))
        return []
    declared = data.get("format", fmt)
    if declared != fmt:
        problems.append(Problem("format", f"'{declared}' is not {fmt}.", f"'{declared}' không phải định dạng {fmt}."))
    items = data.get(key)
    if not isinstance(items, list):
        problems.append(Problem(key, f"'{key}' must be a list.", f"'{key}' phải là một danh sách."))
        return []
    if len(items) > max_rows:
        problems.append(Problem(key, f"too many rows ({len(items)}; at most {max_rows}).",
                                f"quá nhiều dòng ({len(items)}; tối đa {max_rows})."))
        return []
    return items


def where(key: str, index: int, item) -> str:
    """Name a row for people: its YAML path and, when it has one, its id or code."""
    name = (item.get("id") or item.get("code") or item.get("username")) if isinstance(item, dict) else None
    return f"{key}[{index}]" + (f" ({str(name)[:80]})" if name else "")
