"""Point in polygon (ray casting with holes, bounding box first), boundary files, most specific area first."""
from __future__ import annotations

from datetime import date

import pytest

from services.dispatch.domain.areas import geometry_area, geometry_contains, most_specific_first, parse_boundaries
from services.dispatch.domain.directory_format import ImportRefused


def square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def feature(code, geometry, **props):
    return {"type": "Feature", "properties": {"code": code, **props}, "geometry": geometry}


DONUT = {"type": "Polygon", "coordinates": [square(106.0, 17.0, 107.0, 18.0), square(106.4, 17.4, 106.6, 17.6)]}


def test_a_point_in_the_hole_is_outside():
    assert geometry_contains(DONUT, 17.2, 106.2)
    assert not geometry_contains(DONUT, 17.5, 106.5)  # in the hole
    assert not geometry_contains(DONUT, 18.5, 106.5)  # north of it
    assert geometry_area(DONUT) == pytest.approx(1.0 - 0.04)


def test_a_concave_polygon_and_a_multipolygon():
    ell = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2], [0, 0]]]}
    assert geometry_contains(ell, 0.5, 0.5) and geometry_contains(ell, 1.5, 0.5) and not geometry_contains(ell, 1.5, 1.5)
    two = {"type": "MultiPolygon", "coordinates": [[square(0, 0, 1, 1)], [square(5, 5, 6, 6)]]}
    assert geometry_contains(two, 5.5, 5.5) and not geometry_contains(two, 3, 3)


def test_a_file_reads_with_bounding_boxes_and_the_smallest_area_comes_first():
    found = parse_boundaries({"type": "FeatureCollection", "features": [
        feature("44", {"type": "Polygon", "coordinates": [square(105.6, 16.9, 107.1, 18.1)]}, approximate=True, valid_to="2025-07-01"),
        feature("450", DONUT, name="Đồng Hới"),
    ]})
    province, city = found
    assert (province.min_lon, province.min_lat, province.max_lon, province.max_lat) == (105.6, 16.9, 107.1, 18.1)
    assert province.approximate and province.in_force(date(2025, 6, 30)) and not province.in_force(date(2025, 7, 1))
    assert province.contains(17.2, 106.2) and not province.contains(19.0, 106.2)
    assert most_specific_first([b for b in found if b.contains(17.2, 106.2)]) == ["450", "44"]
    assert most_specific_first([b for b in found if b.contains(17.5, 106.5)]) == ["44"]  # the city's hole


@pytest.mark.parametrize("feat, words", [
    (feature("450", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}), "the ring is not closed"),
    (feature("450", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}), "at least 4 positions"),
    (feature("450", {"type": "Point", "coordinates": [0, 0]}), "Polygon or a MultiPolygon"),
    (feature("450", {"type": "Polygon", "coordinates": [square(0, 0, 200, 1)]}), "is not a [longitude, latitude] position"),
    (feature(450, DONUT), "properties.code must be"),
    (feature("450", DONUT, valid_from="2025-07-01", valid_to="2025-01-01"), "is not after valid_from"),
])
def test_each_refusal_names_its_feature(feat, words):
    with pytest.raises(ImportRefused) as refused:
        parse_boundaries({"type": "FeatureCollection", "features": [feature("44", DONUT), feat]})
    assert refused.value.problems[0].where.startswith("features[1]") and words in refused.value.problems[0].en


def test_two_boundaries_of_one_code_may_not_overlap_in_time():
    with pytest.raises(ImportRefused) as refused:
        parse_boundaries({"type": "FeatureCollection", "features": [feature("44", DONUT, valid_to="2025-07-01"),
                                                                    feature("44", DONUT, valid_from="2025-06-01")]})
    assert "overlap in time" in refused.value.problems[0].en
    assert len(parse_boundaries({"type": "FeatureCollection", "features": [
        feature("44", DONUT, valid_to="2025-07-01"), feature("44", DONUT, valid_from="2025-07-01")]})) == 2
