"""Step 2's routing rules without I/O: competence by field and by level, the place, the ranking and its reasons."""
from __future__ import annotations

from datetime import date

import pytest

from services.dispatch.adapters.schema import load_all
from services.dispatch.domain.directory import OrgUnit
from services.dispatch.domain.routing import (
    GENERIC_POINTS,
    PLACE_POINTS,
    Place,
    PlaceSource,
    Territory,
    competence,
    may_lead,
    needs_competence_reason,
    rank,
)

load_all()  # map the domain classes before making instances: one made unmapped breaks once another test maps its class


def unit(id: str, kind: str, fields: str = "", can_lead: bool = True, hub: str = "", areas: tuple[str, ...] = (),
         name: str = "") -> OrgUnit:
    return OrgUnit(id=id, code=id.upper(), name=name or f"Đơn vị {id}", name_en=f"Unit {id}", kind=kind, parent_id=None, hub_node=hub,
                   can_lead=can_lead, fields=list(fields), valid_from=date(2022, 5, 5), areas=list(areas))


POLICE = unit("cong-an-tinh", "central_agency", "a", areas=("44",))
TRANSPORT = unit("so-gtvt", "department", "h", areas=("44",))
ENVIRONMENT = unit("so-tnmt", "department", "e", areas=("44",))
HEALTH = unit("so-yt", "department", "b", areas=("44",))
WASTE = unit("cty-moitruong", "enterprise", "k", areas=("450",))
DONGHOI = unit("donghoi-city", "district", "n", hub="donghoi", areas=("450",))
MINHHOA = unit("district-minhhoa", "district", "n", areas=("452",))
EMERGENCY = unit("emergency-114", "emergency", "a")            # data error: can_lead on an emergency line
COMMITTEE = unit("ban-chi-dao", "steering_committee", "n")       # data error too
IOC = unit("ioc-tinh", "ioc", "n")
ALL = [POLICE, TRANSPORT, ENVIRONMENT, HEALTH, WASTE, DONGHOI, MINHHOA, EMERGENCY, COMMITTEE, IOC]

UNKNOWN = Place()
# A report in ward 18853 of Đồng Hới: served by the city, the province-wide agencies and the Đồng Hới waste company.
IN_DONGHOI = Place(PlaceSource.LOCATION, ("18853", "450", "44"),
                   frozenset({"donghoi-city", "cong-an-tinh", "so-gtvt", "so-tnmt", "so-yt", "cty-moitruong"}))


def ids(suggestions) -> list[str]:
    return [s.agency.id for s in suggestions]


def test_the_emergency_lines_the_committee_and_the_ioc_never_lead_whatever_their_data_says():
    assert not any(may_lead(u) for u in (EMERGENCY, COMMITTEE, IOC))
    assert may_lead(POLICE) and may_lead(DONGHOI) and not may_lead(unit("x", "department", "h", can_lead=False))
    assert not {"emergency-114", "ban-chi-dao", "ioc-tinh"} & set(ids(rank("anhn", ALL, UNKNOWN)))


def test_the_topics_main_field_outranks_its_other_fields():
    # traffic safety: a (police) first, then h (transport)
    ranked = rank(["a", "h"], ALL, UNKNOWN)
    assert ids(ranked)[:2] == ["cong-an-tinh", "so-gtvt"]
    police, transport = ranked[0], ranked[1]
    assert police.score > transport.score and police.competent and transport.competent
    assert "main field" in police.reasons[0].en and "lĩnh vực chính" in police.reasons[0].vi
    assert "one of the topic's fields" in transport.reasons[0].en


def test_every_reason_is_explained_in_both_languages_and_the_score_is_their_sum():
    for s in rank(["k", "e", "n"], ALL, IN_DONGHOI):
        assert s.score == sum(r.points for r in s.reasons)
        for r in s.reasons:
            assert r.en and r.vi and r.en != r.vi and r.code in {"field", "by_level", "place", "hub"}


def test_a_local_peoples_committee_is_competent_by_level_only_for_its_own_area():
    # pollution (e): the environment department holds it; a district shares it by level, for its own area only
    ranked = rank(["e"], ALL, IN_DONGHOI)
    assert ids(ranked)[:2] == ["so-tnmt", "donghoi-city"] and "district-minhhoa" not in ids(ranked)
    city = ranked[1]
    assert [r.code for r in city.reasons] == ["by_level", "place", "hub"]
    assert "18853" in city.reasons[1].en and "map location" in city.reasons[1].en and city.reasons[1].points == PLACE_POINTS
    assert "donghoi" in city.reasons[2].en and city.reasons[2].points == 0  # the hub is shown, it scores nothing
    # place unknown: no committee is the one of the place, so none is competent by level (the IOC needs a reason)
    assert not {"donghoi-city", "district-minhhoa"} & set(ids(rank(["e"], ALL, UNKNOWN)))
    assert needs_competence_reason(DONGHOI, ["e"], UNKNOWN) and not needs_competence_reason(DONGHOI, ["e"], IN_DONGHOI)


def test_a_field_no_peoples_committee_shares_is_never_theirs_by_level():
    # telecom infrastructure (m) is the operators' alone; water supply (j) the water company's
    assert competence(DONGHOI, ["m"], IN_DONGHOI) == () and competence(DONGHOI, ["j"], UNKNOWN) == ()
    assert [r.code for r in competence(DONGHOI, ["h"], IN_DONGHOI)] == ["by_level"]


def test_serving_the_place_decides_between_equals_and_an_agency_outside_its_area_is_not_competent():
    # littering (k, e, n) in Đồng Hới: the waste company holds k; the city serves the place, which lifts it to the
    # environment department's level; a department holding only "other fields" (n) scores little
    general = unit("so-ct", "department", "n")  # no area data: the whole province
    ranked = rank(["k", "e", "n"], [*ALL, general], IN_DONGHOI)
    scores = {s.agency.id: s.score for s in ranked}
    assert ids(ranked)[0] == "cty-moitruong" and scores["donghoi-city"] == scores["so-tnmt"] > scores["so-ct"] == GENERIC_POINTS
    unplaced = {s.agency.id: s.score for s in rank(["k", "e", "n"], ALL, UNKNOWN)}
    # unplaced, the city keeps only its own "other fields" (n): the place is what made it competent for k and e
    assert unplaced["donghoi-city"] == GENERIC_POINTS < scores["donghoi-city"] and unplaced["so-tnmt"] == scores["so-tnmt"]
    elsewhere = Place(PlaceSource.AREA_CODE, ("19000",), frozenset({"district-minhhoa", "cong-an-tinh"}))
    assert IN_DONGHOI.territory_of(WASTE) is Territory.SERVES and elsewhere.territory_of(WASTE) is Territory.OUTSIDE
    assert "cty-moitruong" not in ids(rank(["k"], ALL, elsewhere))
    # a provincial agency with no area data is taken as serving the whole province
    bare = unit("so-ct", "department", "n")
    assert elsewhere.territory_of(bare) is Territory.UNKNOWN and competence(bare, ["n"], elsewhere)
    assert "from the area given" in rank(["n"], [MINHHOA], elsewhere)[0].reasons[-1].en


def test_a_topic_without_fields_suggests_the_local_units_serving_the_place():
    assert ids(rank([], ALL, IN_DONGHOI)) == ["donghoi-city"]
    assert rank([], ALL, UNKNOWN) == []


def test_ties_are_broken_by_name_then_id_and_the_limit_holds():
    a, b = unit("z-1", "enterprise", "m", name="Viettel"), unit("a-2", "enterprise", "m", name="FPT")
    c = unit("b-3", "enterprise", "m", name="FPT")
    assert ids(rank(["m"], [a, b, c], UNKNOWN)) == ["a-2", "b-3", "z-1"]
    assert ids(rank(["m"], [a, b, c], UNKNOWN, limit=2)) == ["a-2", "b-3"]


def test_extra_matching_fields_add_to_the_main_one():
    both = unit("both", "department", "ah")
    assert rank(["a", "h"], [both, POLICE], UNKNOWN)[0].agency is both


@pytest.mark.parametrize("agency, fields, place, needed", [
    (HEALTH, ["b"], UNKNOWN, False),            # its own field
    (TRANSPORT, ["b"], UNKNOWN, True),          # none of the topic's fields: the IOC must say why
    (DONGHOI, ["e"], IN_DONGHOI, False),        # by level, in its own area
    (MINHHOA, ["e"], IN_DONGHOI, True),         # by level, but another district's area
    (TRANSPORT, [], IN_DONGHOI, False),         # a topic without fields: nothing to check against
], ids=["own-field", "no-field", "by-level-here", "by-level-elsewhere", "no-topic-fields"])
def test_when_a_dispatch_needs_a_written_competence_reason(agency, fields, place, needed):
    assert needs_competence_reason(agency, fields, place) is needed
