"""The taxonomy file (format paht-taxonomy/1): groups and topics of reports with their history, and topic edits.

Appendix II.1 names 5 groups and 21 topics and lets the province change them at any time, so they are
data with validity (a topic is retired by setting valid_to, never deleted: old reports keep naming it)::

    format: paht-taxonomy/1
    groups:
    - code: security                  # lower-case letters, digits, '-'
      name: An ninh trật tự, an toàn giao thông
      name_en: Security, public order and traffic safety
      valid_from: 2022-05-05          # null = always
      valid_to: null                  # exclusive; null = open
      topics:
      - code: traffic-safety          # unique across groups
        name: Trật tự, an toàn giao thông
        name_en: Traffic order and safety
        fields: [a, h]                # fields of competence a–n (at least one): routing matches them to agencies
        urgent_hint: false            # reports on it are often urgent (113/114/115)
        keywords: [tai nạn, va chạm]  # words citizens use for it (optional): the report form suggests the topic from them
        valid_from: 2022-05-05
        valid_to: null

Refused, each naming its row: unknown fields or letters, duplicate codes, a topic without fields, valid_to not
after valid_from, a topic in force outside its group's validity.
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from paht.runtime.errors import InvalidInput
from paht.runtime.text import Label, clean_text
from services.dispatch.domain.directory import FIELD_LETTERS, Topic, TopicGroup
from services.dispatch.domain.directory_format import ImportRefused, Problem, Row, dump_yaml, rows, where

FORMAT = "paht-taxonomy/1"
WHAT = Label("The taxonomy", "Danh mục nhóm và lĩnh vực phản ánh")
GROUP_FIELDS = ("code", "name", "name_en", "valid_from", "valid_to", "topics")
TOPIC_FIELDS = ("code", "name", "name_en", "fields", "urgent_hint", "valid_from", "valid_to", "keywords")
MAX_KEYWORDS = 40
KEYWORD = Label("Keyword", "Từ khóa")
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
NAME = Label("Name", "Tên")
NAME_EN = Label("English name", "Tên tiếng Anh")


def _code(row: Row) -> str:
    value = row.data.get("code")
    if not isinstance(value, str) or not CODE_RE.match(value):
        row.fail(f"code '{str(value)[:60]}' is not a code (lower-case letters, digits, '-'; at most 60).",
                 f"mã '{str(value)[:60]}' không hợp lệ (chữ thường, số, '-'; tối đa 60 ký tự).")
        return ""
    return value


def _period(row: Row) -> tuple[date | None, date | None]:
    start, end = row.day("valid_from", False), row.day("valid_to", False)
    if start is not None and end is not None and end <= start:
        row.fail(f"valid_to {end} is not after valid_from {start}.", f"valid_to {end} không sau valid_from {start}.")
    return start, end


def _fields(row: Row) -> list[str]:
    fields = row.strings("fields", 1)
    bad = [f for f in fields if f not in FIELD_LETTERS]
    if bad:
        row.fail(f"unknown field(s) of competence {', '.join(bad)}; letters a–n only.",
                 f"lĩnh vực thẩm quyền không hợp lệ {', '.join(bad)}; chỉ các chữ a–n.")
    elif not fields:
        row.fail("fields is missing: a topic needs at least one field of competence (a–n).",
                 "thiếu fields: mỗi lĩnh vực phản ánh cần ít nhất một lĩnh vực thẩm quyền (a–n).")
    return [f for f in fields if f in FIELD_LETTERS]


def _keywords(row: Row) -> list[str]:
    """Free words (Vietnamese or English), each one line of at most 60 characters; duplicates dropped."""
    value = row.data.get("keywords")
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_KEYWORDS or not all(isinstance(v, str) for v in value):
        row.fail(f"keywords must be a list of at most {MAX_KEYWORDS} words.", f"keywords phải là danh sách tối đa {MAX_KEYWORDS} từ khóa.")
        return []
    out: list[str] = []
    for item in value:
        try:
            word = clean_text(item, KEYWORD, 1, 60, multiline=False)
        except InvalidInput as exc:
            row.fail(f"keywords: {exc.detail_en}", f"keywords: {exc.detail_vi}")
            continue
        if word not in out:
            out.append(word)
    return out


def parse_taxonomy(data) -> tuple[list[TopicGroup], list[Topic]]:
    """Read and check a taxonomy document whole; raise ImportRefused listing every offending row."""
    problems: list[Problem] = []
    groups: list[TopicGroup] = []
    topics: list[Topic] = []
    seen: dict[str, str] = {}
    for gi, item in enumerate(rows(data, "groups", WHAT, FORMAT, problems, 200)):
        gwhere = where("groups", gi, item)
        row = Row(gwhere, item, problems, GROUP_FIELDS)
        start, end = _period(row)
        group = TopicGroup(code=_code(row), name=row.text("name", NAME, 300), name_en=row.text("name_en", NAME_EN, 300, required=False),
                           position=gi, valid_from=start, valid_to=end)
        if group.code in seen:
            row.fail(f"duplicate code '{group.code}' (also {seen[group.code]}).",
                     f"mã '{group.code}' bị trùng (cũng ở {seen[group.code]}).")
        seen.setdefault(group.code, gwhere)
        groups.append(group)
        items = row.data.get("topics")
        if not isinstance(items, list) or not items:
            row.fail("topics must be a list of at least one topic.", "topics phải là danh sách có ít nhất một lĩnh vực.")
            continue
        for ti, titem in enumerate(items[:500]):
            twhere = f"{gwhere}.{where('topics', ti, titem)}"
            trow = Row(twhere, titem, problems, TOPIC_FIELDS)
            tstart, tend = _period(trow)
            topic = Topic(code=_code(trow), name=trow.text("name", NAME, 300), name_en=trow.text("name_en", NAME_EN, 300, required=False),
                          group_code=group.code, group_name=group.name, group_name_en=group.name_en, fields=_fields(trow),
                          urgent_hint=trow.flag("urgent_hint"), position=len(topics), valid_from=tstart, valid_to=tend,
                          keywords=_keywords(trow))
            if topic.code in seen:
                trow.fail(f"duplicate code '{topic.code}' (also {seen[topic.code]}).",
                          f"mã '{topic.code}' bị trùng (cũng ở {seen[topic.code]}).")
            seen.setdefault(topic.code, twhere)
            if (start and (tstart is None or tstart < start)) or (end and (tend is None or tend > end)):
                trow.fail(f"the topic is in force outside its group's validity ({start or '…'} – {end or '…'}).",
                          f"lĩnh vực có hiệu lực ngoài thời gian hiệu lực của nhóm ({start or '…'} – {end or '…'}).")
            topics.append(topic)
    if problems:
        raise ImportRefused(WHAT, problems)
    return groups, topics


def dump_taxonomy(groups: list[TopicGroup], topics: list[Topic]) -> str:
    """Write the taxonomy file: groups in their order, each with its topics in theirs."""
    out = []
    for g in sorted(groups, key=lambda g: (g.position, g.code)):
        mine = sorted((t for t in topics if t.group_code == g.code), key=lambda t: (t.position, t.code))
        out.append({"code": g.code, "name": g.name, "name_en": g.name_en, "valid_from": g.valid_from, "valid_to": g.valid_to,
                    "topics": [{"code": t.code, "name": t.name, "name_en": t.name_en, "fields": list(t.fields),
                                "urgent_hint": bool(t.urgent_hint), "valid_from": t.valid_from, "valid_to": t.valid_to,
                                **({"keywords": list(t.keywords)} if t.keywords else {})} for t in mine]})
    return dump_yaml({"format": FORMAT, "groups": out})


def edit_topic(topics: list[Topic], code: str, *, name: str | None = None, name_en: str | None = None, fields: list[str] | None = None,
               valid_to: date | None = None, retire: bool = False, urgent_hint: bool | None = None) -> list[Topic]:
    """Return the topics with one changed (renamed, fields changed, retired from valid_to); the caller re-checks the whole."""
    found = [t for t in topics if t.code == code]
    if not found:
        from paht.runtime.errors import NotFound

        raise NotFound(f"No topic '{code}'.", f"Không có lĩnh vực '{code}'.")
    changes: dict = {}
    if name is not None:
        changes["name"] = name
    if name_en is not None:
        changes["name_en"] = name_en
    if fields is not None:
        changes["fields"] = list(fields)
    if urgent_hint is not None:
        changes["urgent_hint"] = urgent_hint
    if retire:
        changes["valid_to"] = valid_to
    return [replace(t, **changes) if t.code == code else t for t in topics]


def as_document(groups: list[TopicGroup], topics: list[Topic]) -> dict:
    """The taxonomy as the parsed document a file would give (to re-check an edit with the import's rules)."""
    import yaml

    return yaml.safe_load(dump_taxonomy(groups, topics))
