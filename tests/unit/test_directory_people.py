"""The people file: roles from the one vocabulary, units that exist, never a password; CSV as well."""
from __future__ import annotations

import pytest

from paht.runtime.errors import InvalidInput
from services.dispatch.domain.directory import Account
from services.dispatch.domain.directory_format import ImportRefused
from services.dispatch.domain.directory_people import check_password, dump_people, dump_people_csv, parse_people, read_csv

IN_FORCE = {"so-gtvt", "ioc-tinh"}
KNOWN = IN_FORCE | {"donghoi-city"}


def people(*rows) -> dict:
    return {"format": "paht-people/1", "people": list(rows)}


def person(**over) -> dict:
    row = {"username": "sogtvt", "display_name": "Lê Quang Huy", "roles": ["agency_coordinator"], "org_unit_id": "so-gtvt"}
    row.update(over)
    return row


def test_a_good_file_reads_and_names_are_lower_case():
    (p,) = parse_people(people(person(username="SoGTVT")), IN_FORCE, KNOWN)
    assert p.username == "sogtvt" and p.roles == ("agency_coordinator",) and p.active


@pytest.mark.parametrize("row, words", [
    (person(roles=["superuser"]), "unknown: superuser"),
    (person(roles=[]), "roles must be one or more of"),
    (person(org_unit_id="nowhere"), "unknown organisation unit 'nowhere'"),
    (person(org_unit_id="donghoi-city"), "is not in force today"),
    (person(username="bad name!"), "is not a sign-in name"),
    (person(password_hash="$argon2id$..."), "must not carry a password or a hash"),
    (person(password="secret"), "must not carry a password or a hash"),
    (person(email="a@b.c"), "unknown field(s) email"),
])
def test_each_refusal_names_its_row(row, words):
    with pytest.raises(ImportRefused) as refused:
        parse_people(people(person(username="ok"), row), IN_FORCE, KNOWN)
    assert [p.where.split(" ")[0] for p in refused.value.problems] == ["people[1]"] and words in refused.value.problems[0].en


def test_a_deactivated_person_may_stay_in_a_unit_that_ended():
    (p,) = parse_people(people(person(org_unit_id="donghoi-city", active=False)), IN_FORCE, KNOWN)
    assert not p.active


def test_duplicates_are_refused():
    with pytest.raises(ImportRefused) as refused:
        parse_people(people(person(), person(username="SOGTVT")), IN_FORCE, KNOWN)
    assert "duplicate username 'sogtvt' (also people[0])" in refused.value.problems[0].en


def test_csv_reads_like_yaml_and_exports_carry_no_hash():
    text = ("username,display_name,roles,org_unit_id,active\n"
            "sogtvt,Lê Quang Huy,agency_coordinator staff,so-gtvt,true\nold,Cũ,staff,so-gtvt,false\n")
    rows = parse_people(read_csv(text), IN_FORCE, KNOWN)
    assert [(p.username, p.roles, p.active) for p in rows] == [("sogtvt", ("agency_coordinator", "staff"), True),
                                                               ("old", ("staff",), False)]
    accounts = [Account("sogtvt", "Lê Quang Huy", "$argon2id$v=19$secret", ["staff"], "so-gtvt", True)]
    for out in (dump_people(accounts), dump_people_csv(accounts)):
        assert "argon2" not in out and "secret" not in out and "sogtvt" in out
    assert parse_people(read_csv(dump_people_csv(accounts)), IN_FORCE, KNOWN)[0].roles == ("staff",)


def test_passwords_have_ten_to_two_hundred_characters():
    assert check_password("mật-khẩu-đủ-dài") == "mật-khẩu-đủ-dài"
    for bad in ("short", "x" * 201, " leading-space-pw", "tab\tinside-pw"):
        with pytest.raises(InvalidInput):
            check_password(bad)
