"""The directory file: every refusal names its row, everything wrong is listed at once, the seed reads and writes back."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import yaml

from services.dispatch.domain.directory import Kind, OrgUnit
from services.dispatch.domain.directory_format import ImportRefused, Problem, load_yaml
from services.dispatch.domain.directory_import import WHAT, dangling, dump_directory, parse_directory

SEED = Path(__file__).resolve().parents[2] / "services" / "dispatch" / "seed" / "directory"


def unit(**over) -> dict:
    row = {"id": "so-xd", "code": "SXD", "kind": "department", "name": "Sở Xây dựng", "parent_id": "root", "can_lead": True,
           "fields": ["c"], "valid_from": "2022-05-05"}
    row.update(over)
    return {k: v for k, v in row.items() if v is not ...}


ROOT = {"id": "root", "code": "44", "kind": "province", "name": "Tỉnh Quảng Bình", "valid_from": "2022-05-05"}


def parse(*rows: dict) -> tuple[list[OrgUnit], list[Problem]]:
    problems: list[Problem] = []
    return parse_directory({"format": "paht-directory/1", "units": [ROOT, *rows]}, problems), problems


def refused(*rows: dict) -> list[Problem]:
    units, problems = parse(*rows)
    assert problems, "expected a refusal"
    return problems


def test_a_good_file_reads_with_derived_areas_and_its_order_kept():
    units, problems = parse(unit(), unit(id="so-xd-vp", code="SXD-VP", kind="unit", parent_id="so-xd", can_lead=..., fields=...),
                            {"id": "d", "code": "450", "kind": "district", "name": "Thành phố Đồng Hới", "parent_id": "root",
                             "valid_from": "2022-05-05", "valid_to": "2025-07-01"},
                            {"id": "w", "code": "18853", "kind": "ward", "name": "Phường Hải Thành", "parent_id": "d",
                             "valid_from": "2022-05-05", "valid_to": "2025-07-01", "areas": ["18853", "18856"]})
    assert problems == []
    areas = {u.id: u.areas for u in units}
    # a department serves the province, its sub-unit what it serves, a district itself; a given list is kept
    assert areas == {"root": ["44"], "so-xd": ["44"], "so-xd-vp": ["44"], "d": ["450"], "w": ["18853", "18856"]}
    assert [u.position for u in units] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("row, where, words", [
    (unit(kind="ministry"), "units[1] (so-xd)", "unknown kind 'ministry'"),
    (unit(fields=["c", "z"]), "units[1] (so-xd)", "unknown field(s) of competence z"),
    (unit(parent_id="nowhere"), "units[1] (so-xd)", "unknown parent 'nowhere'"),
    (unit(valid_to="2022-05-05"), "units[1] (so-xd)", "valid_to 2022-05-05 is not after valid_from 2022-05-05"),
    (unit(valid_to="2021-01-01"), "units[1] (so-xd)", "is not after valid_from"),
    (unit(id="e113", code="113", kind="emergency", can_lead=True, fields=["a"]), "units[1] (e113)",
     "can_lead is not allowed for a unit of kind emergency"),
    (unit(id="bcd", code="BCD", kind="steering_committee", can_lead=True, fields=["n"]), "units[1] (bcd)", "kind steering_committee"),
    (unit(fields=[]), "units[1] (so-xd)", "can_lead needs at least one field"),
    (unit(replaces=["gone"]), "units[1] (so-xd)", "replaces an unknown unit 'gone'"),
    (unit(colour="blue"), "units[1] (so-xd)", "unknown field(s) colour"),
    (unit(code=44), "units[1] (so-xd)", "code must be text"),
    (unit(valid_from="5/5/2022"), "units[1] (so-xd)", "valid_from '5/5/2022' is not a date"),
    (unit(id="so xd"), "units[1] (so xd)", "is not an id"),
    (unit(name="\u202eSở"), "units[1] (so-xd)", "name: Name contains a character that is not allowed"),
    (unit(parent_id="root", valid_from="2021-01-01"), "units[1] (so-xd)", "is not in force on 2021-01-01"),
])
def test_each_refusal_names_its_row(row, where, words):
    problems = refused(row)
    assert any(p.where == where and words in p.en for p in problems), problems
    assert all(p.vi and p.vi != p.en for p in problems)


def test_duplicate_ids_name_both_rows():
    problems = refused(unit(), unit(code="SXD2"))
    assert [(p.where, p.en) for p in problems] == [("units[2] (so-xd)", "duplicate id 'so-xd' (also units[1]).")]


def test_a_parent_cycle_is_refused():
    problems = refused(unit(id="a", code="A", parent_id="b"), unit(id="b", code="B", parent_id="a"))
    assert {p.where for p in problems if "parent cycle" in p.en} == {"units[1] (a)", "units[2] (b)"}


def test_two_versions_of_one_code_may_follow_each_other_but_not_overlap():
    old = unit(id="ward-old", code="18880", kind="ward", name="Phường Đức Ninh Đông", can_lead=..., fields=..., valid_to="2025-07-01")
    follows = unit(id="ward-new", code="18880", kind="ward", name="Phường Đồng Hới", valid_from="2025-07-01", fields=["n"])
    assert parse(old, follows)[1] == []
    overlapping = dict(follows, valid_from="2025-06-30")
    problems = refused(old, overlapping)
    assert [p.where for p in problems] == ["units[2] (ward-new)"] and "overlap versions: code 18880 is also 'ward-old'" in problems[0].en


def test_everything_wrong_is_listed_at_once_and_the_message_says_nothing_changed():
    problems = refused(unit(kind="ministry"), unit(id="x", code="X", fields=["q"]), unit(id="y", code="Y", parent_id="nowhere"))
    assert [p.where for p in problems] == ["units[1] (so-xd)", "units[2] (x)", "units[3] (y)"]
    error = ImportRefused(WHAT, problems)
    assert "nothing was changed. 3 problem(s)" in error.detail_en and "units[2] (x)" in error.detail_en
    assert "không có gì thay đổi" in error.detail_vi and "units[3] (y)" in error.detail_vi


def test_a_file_that_is_not_yaml_or_not_a_directory_is_refused_with_where():
    with pytest.raises(ImportRefused) as bad:
        load_yaml("units:\n  - id: [unclosed\n", WHAT)
    assert bad.value.problems[0].where.startswith("line ")
    problems: list[Problem] = []
    parse_directory(["a", "list"], problems)
    assert problems[0].where == "file"
    problems = []
    parse_directory({"format": "paht-directory/9", "units": []}, problems)
    assert problems[0].where == "format"


def test_yaml_aliases_are_refused():
    text = "x: &a [1, 2]\nunits: [*a]\n"
    with pytest.raises(ImportRefused) as bad:
        load_yaml(text, WHAT)
    assert "aliases" in bad.value.problems[0].en


def test_kinds_are_one_vocabulary_with_both_languages():
    assert {k.value for k in Kind} >= {"ioc", "district_ioc", "steering_committee", "emergency", "province", "unit"}
    assert all(k.label.en and k.label.vi for k in Kind)
    assert not Kind.EMERGENCY.may_lead and not Kind.STEERING_COMMITTEE.may_lead and Kind.DEPARTMENT.may_lead


def seed_units() -> list[OrgUnit]:
    docs = [yaml.safe_load((SEED / name).read_text(encoding="utf-8")) for name in ("quang-binh-2022.yaml", "quang-tri-2025.yaml")]
    problems: list[Problem] = []
    units = parse_directory({"format": "paht-directory/1", "units": [u for d in docs for u in d["units"]]}, problems)
    assert problems == []
    return units


def test_the_seed_files_read_whole_and_an_export_reads_back_to_the_same_units():
    units = seed_units()
    text = dump_directory(units, "notes")
    problems: list[Problem] = []
    again = parse_directory(load_yaml(text, WHAT), problems)
    assert problems == [] and again == units
    assert dump_directory(again, "notes") == text  # export → import → export is identical


def test_the_seed_reuses_codes_across_the_reform_with_new_meanings():
    units = seed_units()
    named = {(u.code, u.valid_from < date(2025, 7, 1)): u.name for u in units if u.code == "18880"}
    assert named == {("18880", True): "Phường Đức Ninh Đông", ("18880", False): "Phường Đồng Hới"}
    donghoi = next(u for u in units if u.id == "ward-donghoi-2025")
    assert donghoi.areas == ["18880"] and len(donghoi.replaces) == 8
    assert next(u for u in units if u.id == "donghoi-ioc").kind == "district_ioc"
    assert next(u for u in units if u.id == "so-gtvt").areas == ["44"]


def test_dangling_references_refuse_removing_or_ending_a_unit_in_use():
    units = seed_units()
    today = date(2026, 11, 28)
    uses = {"so-xd": [("1 report(s) dispatched to it (r1)", "1 phản ánh (r1)")], "ioc-tinh": [("2 active person(s)", "2 cán bộ")],
            "donghoi-ward-18853": [("1 report(s) dispatched to it (r0)", "1 phản ánh (r0)")]}
    without = [u for u in units if u.id != "so-xd"]
    ended = [replace(u, valid_to=date(2026, 1, 1)) if u.id == "ioc-tinh" else u for u in without]
    problems = dangling(units, ended, uses, today)
    assert [(p.where, p.en.split(" while")[0]) for p in problems] == [
        ("units[1] (ioc-tinh)", "is no longer in force on 2026-11-28"), ("unit so-xd", "is removed")]
    assert "1 report(s) dispatched to it (r1)" in problems[1].en and problems[1].vi
    # the old ward already ended before this import: not this import's doing, so not refused
    assert dangling(units, [u for u in units if u.id != "donghoi-ward-18853"], uses, today) == []
