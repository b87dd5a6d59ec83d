"""Where a calendar comes from: `load_calendar(path_or_none)`, the one seam for every reader.

Today: None gives the default calendar (national holidays and default hours, no admin data); a path
reads a JSON (.json) or YAML (any other name) file in CalendarData's dict shape. Later the CLI may also
read the calendar stored in dispatch's database here, behind the same function.

YAML 1.1 reads some plain words in surprising ways; the loader here keeps them as the text a person
wrote: `13:30` stays "13:30" (not the base-60 number 810) and `off`/`on`/`yes`/`no` stay words (not
booleans); only `true`/`false` are booleans.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from paht.runtime.errors import InvalidInput
from paht.runtime.sla.data import CalendarData

_STR, _INT, _FLOAT, _BOOL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool"))
MAX_FILE_BYTES = 5 * 1024 * 1024


class _CalendarLoader(yaml.SafeLoader):
    """SafeLoader that keeps sexagesimal-looking times and yes/no/on/off words as text."""

    def resolve(self, kind, value, implicit):
        tag = super().resolve(kind, value, implicit)
        if kind is yaml.ScalarNode and implicit[0]:
            if tag in (_INT, _FLOAT) and ":" in value:
                return _STR
            if tag == _BOOL and value.lower() not in ("true", "false"):
                return _STR
        return tag


def parse_calendar_text(text: str, *, yaml_text: bool = True, source: tuple[str, str] = ("The calendar", "Lịch")) -> CalendarData:
    """Build a CalendarData from JSON or YAML text; any problem is InvalidInput saying what and where."""
    try:
        data = yaml.load(text, Loader=_CalendarLoader) if yaml_text else json.loads(text)
    except (yaml.YAMLError, ValueError) as exc:
        kind = "YAML" if yaml_text else "JSON"
        reason = str(exc).replace("\n", " ")
        raise InvalidInput(f"{source[0]} is not valid {kind}: {reason}", f"{source[1]} không phải {kind} hợp lệ: {reason}") from None
    return CalendarData.from_dict(data)


def load_calendar(path: str | Path | None = None) -> CalendarData:
    """The calendar to compute with: the default one for None, else the one in a JSON or YAML file."""
    if path is None:
        return CalendarData()
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(f"The calendar file {path} is larger than {MAX_FILE_BYTES // 1024 // 1024} MB.",
                               f"Tệp lịch {path} lớn hơn {MAX_FILE_BYTES // 1024 // 1024} MB.")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(f"Cannot read the calendar file {path}: {reason}.", f"Không đọc được tệp lịch {path}: {reason}.") from None
    return parse_calendar_text(text, yaml_text=path.suffix.lower() != ".json", source=(f"The calendar file {path}", f"Tệp lịch {path}"))
