"""Integrity of the dispatch seed data: organisation directory (two YAML files read as one), taxonomy and demo accounts."""
import json
import unicodedata
from collections import Counter, defaultdict
from datetime import date
from functools import cache
from pathlib import Path

import pytest
import yaml

from services.dispatch.domain.directory_import import parse_directory, unit_row

SEED = Path(__file__).resolve().parents[2] / "services" / "dispatch" / "seed"
DIRECTORY_FILES = ("directory/quang-binh-2022.yaml", "directory/quang-tri-2025.yaml")

KINDS = {"province", "ioc", "district_ioc", "steering_committee", "department", "central_agency", "enterprise",
         "district", "ward", "commune", "unit", "emergency"}
AGENCY_KINDS = {"department", "central_agency", "enterprise", "district", "ward", "commune"}
FIELD_LETTERS = set("abcdefghijklmn")
ROLES = {"ioc_operator", "ioc_editor", "ioc_admin", "agency_coordinator", "unit_leader", "staff", "steering_member", "emergency_desk"}
REFORM = date(2025, 7, 1)

# DOMAIN.md section 10 (GSO codes).
DISTRICTS = {"450": "Thành phố Đồng Hới", "452": "Huyện Minh Hóa", "453": "Huyện Tuyên Hóa",
             "454": "Huyện Quảng Trạch", "455": "Huyện Bố Trạch", "456": "Huyện Quảng Ninh",
             "457": "Huyện Lệ Thủy", "458": "Thị xã Ba Đồn"}
DONGHOI_OLD = {
    "18853": ("ward", "Phường Hải Thành"), "18856": ("ward", "Phường Đồng Phú"),
    "18859": ("ward", "Phường Bắc Lý"), "18865": ("ward", "Phường Nam Lý"),
    "18868": ("ward", "Phường Đồng Hải"), "18871": ("ward", "Phường Đồng Sơn"),
    "18874": ("ward", "Phường Phú Hải"), "18877": ("ward", "Phường Bắc Nghĩa"),
    "18880": ("ward", "Phường Đức Ninh Đông"), "18883": ("commune", "Xã Quang Phú"),
    "18886": ("commune", "Xã Lộc Ninh"), "18889": ("commune", "Xã Bảo Ninh"),
    "18892": ("commune", "Xã Nghĩa Ninh"), "18895": ("commune", "Xã Thuận Đức"),
    "18898": ("commune", "Xã Đức Ninh"),
}
DONGHOI_NEW = {
    ("18880", "Phường Đồng Hới"): {"18853", "18856", "18865", "18868", "18874", "18880", "18889", "18898"},
    ("18859", "Phường Đồng Thuận"): {"18859", "18883", "18886"},
    ("18871", "Phường Đồng Sơn"): {"18871", "18877", "18892", "18895"},
}
# DOMAIN.md section 4, verbatim.
TOPIC_NAMES = {
    "Phòng chống dịch Covid-19": ["Dấu hiệu vi phạm phòng, chống dịch Covid-19",
                                  "Thông tin giả, sai sự thật", "Đề nghị hỗ trợ khẩn cấp"],
    "An ninh trật tự, an toàn giao thông": ["Trật tự, an toàn giao thông", "Tệ nạn xã hội",
                                            "Hoạt động tội phạm, vi phạm pháp luật"],
    "Xây dựng, trật tự đô thị": ["Xả rác bừa bãi", "Lấn chiếm lòng lề đường", "Trật tự nơi công cộng",
                                 "Quảng cáo, rao vặt, tờ rơi", "Xây dựng trái phép, ảnh hưởng lân cận"],
    "Dịch vụ, vệ sinh, môi trường": ["Dịch vụ du lịch", "Vệ sinh an toàn thực phẩm",
                                     "Điện, nước, chiếu sáng công cộng", "Bụi bẩn, ô nhiễm môi trường",
                                     "Thu gom, xử lý nước thải, chất thải"],
    "Vấn đề kinh tế, xã hội khác": ["Lấn chiếm đất đai", "Khai thác tài nguyên, khoáng sản",
                                    "Hạ tầng giao thông, viễn thông", "Phòng chống thiên tai, dịch bệnh",
                                    "Các hành vi không phù hợp khác"],
}


@cache
def load(name):
    text = (SEED / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


@cache
def parsed_units():
    """Both directory files as one, every default filled in (as the seed loads them), dates as text."""
    problems = []
    rows = [u for name in DIRECTORY_FILES for u in load(name)["units"]]
    found = parse_directory({"format": "paht-directory/1", "units": rows}, problems)
    assert problems == []
    return [{**unit_row(u), "valid_from": u.valid_from.isoformat(), "valid_to": u.valid_to.isoformat() if u.valid_to else None}
            for u in found]


def units():
    return parsed_units()


def by_id():
    return {u["id"]: u for u in units()}


def period(u):
    end = date.fromisoformat(u["valid_to"]) if u["valid_to"] else date.max
    return date.fromisoformat(u["valid_from"]), end


def in_force(u, day):
    start, end = period(u)
    return start <= day < end


def topics():
    return [{"urgent_hint": False, **t} for g in load("taxonomy.yaml")["groups"] for t in g["topics"]]


def test_unit_ids_are_unique():
    ids = Counter(u["id"] for u in units())
    assert [i for i, n in ids.items() if n > 1] == []


def test_units_have_known_kinds_hubs_and_periods():
    for u in units():
        assert u["kind"] in KINDS, u["id"]
        assert u["hub_node"] in {"", "donghoi"}, u["id"]
        assert u["id"].isascii() and u["code"] and u["name"] and u["name_en"], u["id"]
        start, end = period(u)
        assert start < end, u["id"]
        assert set(u["fields"]) <= FIELD_LETTERS, u["id"]
        if u["can_lead"]:
            assert u["kind"] in AGENCY_KINDS and u["fields"], u["id"]
        else:
            assert u["fields"] == [], u["id"]


def test_every_parent_exists_and_is_in_force_when_the_child_starts():
    index = by_id()
    for u in units():
        if u["parent_id"] is None:
            assert u["kind"] == "province", u["id"]
            continue
        parent = index.get(u["parent_id"])
        assert parent is not None, u["id"]
        assert in_force(parent, period(u)[0]), u["id"]


def test_units_sharing_a_code_never_overlap_in_time():
    by_code = defaultdict(list)
    for u in units():
        by_code[u["code"]].append(period(u))
    for code, periods in by_code.items():
        periods.sort()
        for (_, end), (start, _) in zip(periods, periods[1:]):
            assert end <= start, code


def test_only_the_2025_reform_reuses_codes():
    counts = Counter(u["code"] for u in units())
    assert {c for c, n in counts.items() if n > 1} == {"44", "18880", "18859", "18871"}


def test_districts_and_donghoi_units_match_section_10():
    old = [u for u in units() if u["valid_to"] == "2025-07-01"]
    assert {u["code"]: u["name"] for u in old if u["kind"] == "district"} == DISTRICTS
    assert all(u["can_lead"] and u["fields"] == ["n"] for u in old if u["kind"] == "district")
    city = next(u for u in old if u["code"] == "450")
    local = {u["code"]: (u["kind"], u["name"]) for u in old
             if u["parent_id"] == city["id"] and u["kind"] in {"ward", "commune"}}
    assert local == DONGHOI_OLD


def test_reform_wards_replace_exactly_the_wards_of_section_10():
    index = by_id()
    reformed = [u for u in units() if u.get("replaces")]
    assert {(u["code"], u["name"]) for u in reformed} == set(DONGHOI_NEW)
    absorbed = []
    for u in reformed:
        old = [index[i] for i in u["replaces"]]
        assert {o["code"] for o in old} == DONGHOI_NEW[(u["code"], u["name"])]
        assert all(o["valid_to"] == u["valid_from"] == "2025-07-01" for o in old)
        assert u["kind"] == "ward" and u["hub_node"] == "donghoi"
        assert index[u["parent_id"]]["code"] == "44" and u["parent_id"] != "province-quangbinh"
        absorbed += u["replaces"]
    assert len(absorbed) == len(set(absorbed)) == 15


def test_donghoi_hub_hosts_exactly_the_donghoi_subtree():
    index = by_id()
    city = next(u for u in units() if u["code"] == "450")

    def under_city(u):
        while u is not None:
            if u["id"] == city["id"]:
                return True
            u = index.get(u["parent_id"])
        return False

    for u in units():
        expected = under_city(u) or bool(u.get("replaces"))
        assert (u["hub_node"] == "donghoi") == expected, u["id"]


def test_emergency_lines_113_114_115():
    lines = {u["code"]: u for u in units() if u["kind"] == "emergency"}
    assert set(lines) == {"113", "114", "115"}
    assert not any(u["can_lead"] for u in lines.values())


def test_every_field_a_to_m_has_a_lead_agency():
    covered = {f for u in units() if u["can_lead"] for f in u["fields"]}
    assert set("abcdefghijklm") <= covered


def test_five_groups_and_twenty_one_topics_verbatim():
    groups = load("taxonomy.yaml")["groups"]
    assert {g["name"]: [t["name"] for t in g["topics"]] for g in groups} == TOPIC_NAMES
    assert len(groups) == 5 and len(topics()) == 21


def test_topic_and_group_codes_are_unique_ascii_kebab_case():
    codes = [g["code"] for g in load("taxonomy.yaml")["groups"]] + [t["code"] for t in topics()]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert code.isascii() and code == code.lower() and " " not in code and "_" not in code, code


def test_topic_fields_are_competence_letters():
    for t in topics():
        assert t["fields"] and set(t["fields"]) <= FIELD_LETTERS, t["code"]
        assert isinstance(t["urgent_hint"], bool), t["code"]


def test_accounts_reference_existing_units_and_known_roles():
    index = by_id()
    accounts = load("accounts.json")["accounts"]
    assert len({a["username"] for a in accounts}) == len(accounts)
    assert {r for a in accounts for r in a["roles"]} == ROLES
    for a in accounts:
        assert a["org_unit_id"] in index, a["username"]
        assert set(a["roles"]) <= ROLES, a["username"]
        assert not any("pass" in key.lower() for key in a), a["username"]


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


@pytest.mark.parametrize("name", [*DIRECTORY_FILES, "taxonomy.yaml", "accounts.json"])
def test_all_text_is_nfc(name):
    bad = [s for s in strings(load(name)) if unicodedata.normalize("NFC", s) != s]
    assert bad == []


@pytest.mark.parametrize("name", ["accounts.json"])
def test_files_are_pretty_printed_utf8(name):
    text = (SEED / name).read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_demo_accounts_for_the_editor_the_steering_committee_and_the_emergency_desks():
    index = by_id()
    accounts = {a["username"]: a for a in load("accounts.json")["accounts"]}
    expected = {"bientap": ("ioc_editor", "ioc"), "bcd": ("steering_member", "steering_committee"),
                "bcd2": ("steering_member", "steering_committee"), "truc113": ("emergency_desk", "emergency"),
                "truc114": ("emergency_desk", "emergency"), "truc115": ("emergency_desk", "emergency")}
    for name, (role, kind) in expected.items():
        assert accounts[name]["roles"] == [role] and index[accounts[name]["org_unit_id"]]["kind"] == kind, name
    assert {index[accounts[f"truc{n}"]["org_unit_id"]]["code"] for n in (113, 114, 115)} == {"113", "114", "115"}


def test_areas_served_follow_the_tree():
    index = by_id()
    assert index["donghoi-ward-18853"]["areas"] == ["18853"] and index["donghoi-city"]["areas"] == ["450"]
    assert index["donghoi-qldt"]["areas"] == ["450"] and index["donghoi-ioc"]["kind"] == "district_ioc"
    assert all(index[i]["areas"] == ["44"] for i in ("so-gtvt", "so-gtvt-kcht", "ioc-tinh", "ban-chi-dao", "emergency-113"))


def test_the_only_boundary_shipped_is_the_old_province_marked_approximate():
    data = load("boundaries/quang-binh-2022-approximate.geojson")
    (feature,) = data["features"]
    assert feature["properties"]["code"] == "44" and feature["properties"]["approximate"] is True
    assert feature["properties"]["valid_to"] == "2025-07-01" and "GẦN ĐÚNG" in feature["properties"]["name"]
