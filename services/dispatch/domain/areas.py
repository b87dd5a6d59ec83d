"""Areas and their boundaries: which administrative areas (GSO codes) contain a point, on a given day.

Boundaries come from a GeoJSON FeatureCollection, one Feature per area version::

    {"type": "FeatureCollection", "features": [
      {"type": "Feature",
       "properties": {"code": "44", "name": "…", "valid_from": "2022-05-05", "valid_to": "2025-07-01", "approximate": true},
       "geometry": {"type": "Polygon", "coordinates": [[[105.6, 16.9], [107.1, 16.9], [107.1, 18.1], [105.6, 18.1], [105.6, 16.9]]]}}]}

Coordinates are [longitude, latitude] (RFC 7946); a Polygon is an outer ring then its holes; each ring is
closed (first position = last). The point-in-polygon test is our own ray casting (with holes), behind a
bounding-box check; areas are compared in square degrees, which is enough to say which is the smaller.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from math import isfinite

from paht.runtime.text import Label
from services.dispatch.domain.directory_format import ID_RE, ImportRefused, Problem, Row

WHAT = Label("The boundaries", "Ranh giới địa bàn")
MAX_POSITIONS = 500_000
FEATURE_PROPERTIES = ("code", "name", "valid_from", "valid_to", "approximate")
NAME = Label("Name", "Tên")


@dataclass
class Boundary:
    """One area's boundary over one validity period."""

    code: str
    name: str
    geometry: dict  # GeoJSON Polygon or MultiPolygon
    valid_from: date | None = None
    valid_to: date | None = None  # exclusive
    approximate: bool = False
    min_lon: float = 0.0
    min_lat: float = 0.0
    max_lon: float = 0.0
    max_lat: float = 0.0
    area: float = 0.0  # square degrees, for "most specific first"
    id: int | None = field(default=None)

    def in_force(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on < self.valid_to)

    def contains(self, lat: float, lon: float) -> bool:
        if not (self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon):
            return False
        return geometry_contains(self.geometry, lat, lon)


def polygons(geometry: dict) -> list[list[list[list[float]]]]:
    """The polygons of a Polygon or MultiPolygon, each a list of rings of [lon, lat]."""
    if geometry.get("type") == "Polygon":
        return [geometry["coordinates"]]
    return list(geometry["coordinates"])


def in_ring(lat: float, lon: float, ring: list[list[float]]) -> bool:
    """Ray casting: count crossings of a ray going east from the point."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def geometry_contains(geometry: dict, lat: float, lon: float) -> bool:
    """Inside one polygon's outer ring and in none of its holes."""
    for rings in polygons(geometry):
        if rings and in_ring(lat, lon, rings[0]) and not any(in_ring(lat, lon, hole) for hole in rings[1:]):
            return True
    return False


def ring_area(ring: list[list[float]]) -> float:
    """Shoelace formula, in square degrees."""
    total = 0.0
    for (x1, y1, *_), (x2, y2, *_) in zip(ring, ring[1:]):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def geometry_area(geometry: dict) -> float:
    return sum(ring_area(rings[0]) - sum(ring_area(h) for h in rings[1:]) for rings in polygons(geometry) if rings)


def _check_ring(ring, row: Row, label: str) -> int:
    if not isinstance(ring, list) or len(ring) < 4:
        row.fail(f"{label}: a ring needs at least 4 positions.", f"{label}: mỗi vòng cần ít nhất 4 điểm.")
        return 0
    for pos in ring:
        numbers = isinstance(pos, list) and len(pos) >= 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and isfinite(v) for v in pos[:3])
        if not numbers or not (-180 <= pos[0] <= 180 and -90 <= pos[1] <= 90):
            row.fail(f"{label}: '{str(pos)[:60]}' is not a [longitude, latitude] position.",
                     f"{label}: '{str(pos)[:60]}' không phải một điểm [kinh độ, vĩ độ].")
            return 0
    if ring[0][:2] != ring[-1][:2]:
        row.fail(f"{label}: the ring is not closed (the first and last positions differ).",
                 f"{label}: vòng không khép kín (điểm đầu và điểm cuối khác nhau).")
    return len(ring)


def _check_geometry(geometry, row: Row) -> int:
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        row.fail("geometry must be a Polygon or a MultiPolygon.", "geometry phải là Polygon hoặc MultiPolygon.")
        return 0
    coords = geometry.get("coordinates")
    shapes = [coords] if geometry["type"] == "Polygon" else coords
    if not isinstance(shapes, list) or not shapes:
        row.fail("geometry has no coordinates.", "geometry không có tọa độ.")
        return 0
    count = 0
    for pi, rings in enumerate(shapes):
        if not isinstance(rings, list) or not rings:
            row.fail(f"polygon {pi} has no ring.", f"đa giác {pi} không có vòng nào.")
            continue
        for ri, ring in enumerate(rings):
            count += _check_ring(ring, row, f"polygon {pi}, ring {ri}")
            if count > MAX_POSITIONS:
                row.fail(f"too many positions (at most {MAX_POSITIONS}).", f"quá nhiều điểm (tối đa {MAX_POSITIONS}).")
                return count
    return count


def parse_boundaries(data) -> list[Boundary]:
    """Check a GeoJSON FeatureCollection whole; raise ImportRefused listing every offending feature."""
    problems: list[Problem] = []
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise ImportRefused(WHAT, [Problem("file", "must be a GeoJSON FeatureCollection.", "phải là một GeoJSON FeatureCollection.")])
    out: list[Boundary] = []
    total = 0
    for index, feature in enumerate(data["features"]):
        props = feature.get("properties") if isinstance(feature, dict) else None
        code = props.get("code") if isinstance(props, dict) else None
        row = Row(f"features[{index}]" + (f" ({str(code)[:40]})" if code else ""), props if isinstance(props, dict) else {}, problems,
                  FEATURE_PROPERTIES)
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            row.fail("is not a GeoJSON Feature.", "không phải một GeoJSON Feature.")
            continue
        if not isinstance(code, str) or not ID_RE.match(code) or len(code) > 40:
            row.fail("properties.code must be the area's GSO code, as text.", "properties.code phải là mã GSO của địa bàn, dạng chuỗi.")
        start, end = row.day("valid_from", False), row.day("valid_to", False)
        if start and end and end <= start:
            row.fail(f"valid_to {end} is not after valid_from {start}.", f"valid_to {end} không sau valid_from {start}.")
        before = len(problems)
        total += _check_geometry(feature.get("geometry"), row)
        if total > MAX_POSITIONS:
            row.fail(f"the file has too many positions (at most {MAX_POSITIONS}).", f"tệp có quá nhiều điểm (tối đa {MAX_POSITIONS}).")
            break
        if len(problems) > before:
            continue
        geometry = {"type": feature["geometry"]["type"], "coordinates": feature["geometry"]["coordinates"]}
        lons = [p[0] for rings in polygons(geometry) for p in rings[0]]
        lats = [p[1] for rings in polygons(geometry) for p in rings[0]]
        out.append(Boundary(code=str(code), name=row.text("name", NAME, 300, required=False), geometry=geometry, valid_from=start,
                            valid_to=end, approximate=row.flag("approximate"), min_lon=min(lons), min_lat=min(lats),
                            max_lon=max(lons), max_lat=max(lats), area=geometry_area(geometry)))
    by_code: dict[str, list[Boundary]] = defaultdict(list)
    for b in out:
        by_code[b.code].append(b)
    for code, versions in by_code.items():
        versions.sort(key=lambda b: b.valid_from or date.min)
        for a, b in zip(versions, versions[1:]):
            if (b.valid_from or date.min) < (a.valid_to or date.max):
                problems.append(Problem(f"code {code}", f"two boundaries of code {code} overlap in time (from {b.valid_from or 'always'}).",
                                        f"hai ranh giới của mã {code} chồng lấn về thời gian (từ {b.valid_from or 'luôn luôn'})."))
    if problems:
        raise ImportRefused(WHAT, problems)
    return out


def most_specific_first(found: list[Boundary]) -> list[str]:
    """Area codes of the boundaries containing a point, smallest area first (a ward before its district)."""
    codes: list[str] = []
    for b in sorted(found, key=lambda b: (b.area, b.code)):
        if b.code not in codes:
            codes.append(b.code)
    return codes
