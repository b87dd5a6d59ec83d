"""The portal's rules for large numbers: the capped total, the map's world-fixed grid and its cells, the public reads'
ETag. No I/O (the database side is in tests/integration/test_portal_at_scale.py)."""
from __future__ import annotations


from hypothesis import given
from hypothesis import strategies as st

from services.publication.domain import portal
from services.publication.domain.portal import MAP_GRID, MAP_LEVELS, BBox, Total, cell_of, counting_limit, level_for, page_ends_list, total_of
from services.publication.entrypoints.cached import etag_of, matches


def test_a_total_is_an_int_that_says_whether_it_is_exact():
    assert Total(7) == 7 and Total(7).exact and Total(7) + 1 == 8 and str(Total(7)) == "7" and f"{Total(7, exact=False)}" == "7"
    assert not Total(10_000, exact=False).exact and -(-Total(10_000, exact=False) // 20) == 500


def test_a_short_page_tells_the_total_without_counting():
    assert page_ends_list(3, 20, 0) and total_of(3, 20, 0, None) == 3
    assert page_ends_list(5, 20, 40) and total_of(5, 20, 40, None) == 45
    assert page_ends_list(0, 20, 0) and total_of(0, 20, 0, None) == 0
    assert not page_ends_list(0, 20, 40)  # past the end: count, so the site can show the last page
    assert not page_ends_list(20, 20, 0)  # a full page: there may be more


def test_counting_stops_after_the_cap_or_the_end_of_a_deeper_page():
    cap = portal.COUNT_CAP
    assert counting_limit(20, 0) == cap and counting_limit(100, cap) == cap + 100
    exact = total_of(20, 20, 0, cap)
    assert exact == cap and exact.exact
    more = total_of(20, 20, 0, cap + 1)
    assert more == cap and not more.exact  # "more than 10,000"
    deep = total_of(20, 20, cap, cap + 21)
    assert deep == cap + 20 and not deep.exact


@given(st.floats(-180, 179.9), st.floats(-90, 89.9), st.floats(1e-9, 360), st.floats(1e-9, 180))
def test_the_band_has_at_most_the_grid_s_cells_across_and_at_least_half_of_them(west, south, width, height):
    box = BBox(west, south, min(180.0, west + width), min(90.0, south + height))
    if not (box.west < box.east and box.south < box.north):
        return
    band = box.band()
    across = max(box.east - box.west, box.north - box.south) * 2.0 ** band
    assert -8 <= band <= 40
    if -8 < band < 40:
        assert MAP_GRID / 2 < across <= MAP_GRID


@given(st.floats(-180, 180, allow_subnormal=False), st.floats(-90, 90, allow_subnormal=False))
def test_a_cell_of_a_level_groups_exactly_into_the_cells_of_coarser_bands(lon, lat):
    # (a subnormal coordinate, below 1e-307 degrees, may underflow when scaled: no place on Earth is one)
    for level in MAP_LEVELS:
        cx, cy = cell_of(lat, lon, level)
        assert cx <= lon * 2.0 ** level < cx + 1 and cy <= lat * 2.0 ** level < cy + 1
        for band in range(-8, level + 1):
            assert (cx >> (level - band), cy >> (level - band)) == cell_of(lat, lon, band)


def test_a_band_reads_the_coarsest_level_at_least_as_fine():
    assert level_for(-3) == MAP_LEVELS[0] and level_for(8) == 9 and level_for(9) == 9 and level_for(10) == 12
    assert level_for(MAP_LEVELS[-1] + 1) is None
    assert BBox(106.55, 17.42, 106.65, 17.52).band() == 8  # a city on a phone: cells of 1/256 degree, ~26 across


def test_an_etag_matches_itself_weakly_and_in_lists():
    tag = etag_of(b"{}")
    assert matches(tag, tag) and matches(f"W/{tag}", tag) and matches(f'"x", {tag}', tag) and matches("*", tag)
    assert not matches(None, tag) and not matches('"other"', tag) and etag_of(b"[]") != tag
