"""Where a report is: a pin inside the province, an address, or both. No I/O here (the outline is given).

The province's outline is data (a GeoJSON polygon; the 2025 merger changed it once already). A pin
outside it is refused with a message a citizen understands; a report needs a pin or an address.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from paht.runtime.errors import InvalidInput

DEFAULT_OUTLINE = Path(__file__).resolve().parents[1] / "seed" / "province.geojson"


@dataclass(frozen=True)
class Outline:
    """A polygon's outer ring as (lon, lat) pairs, and its box for a quick first test."""

    name: str
    ring: tuple[tuple[float, float], ...]

    @classmethod
    def from_geojson(cls, data: dict) -> "Outline":
        geometry = data.get("geometry", data)
        if geometry.get("type") != "Polygon" or not geometry.get("coordinates"):
            raise ValueError("the province outline must be a GeoJSON Polygon")
        ring = tuple((float(lon), float(lat)) for lon, lat, *_ in geometry["coordinates"][0])
        if len(ring) < 4:
            raise ValueError("the province outline needs at least three corners")
        return cls(name=str((data.get("properties") or {}).get("name", "")), ring=ring)

    @classmethod
    def load(cls, path: Path | None = None) -> "Outline":
        return cls.from_geojson(json.loads(Path(path or DEFAULT_OUTLINE).read_text(encoding="utf-8")))

    def contains(self, lat: float, lon: float) -> bool:
        """Ray casting over the outer ring (a point on the edge may fall either way; the outline is coarse anyway)."""
        inside = False
        ring = self.ring
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1]):
            if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
                inside = not inside
        return inside


_default: Outline | None = None


def province() -> Outline:
    """The outline in force (loaded once per process)."""
    global _default
    if _default is None:
        _default = Outline.load()
    return _default


def use_outline(outline: Outline | None) -> None:
    """Set the outline in force (PAHT_PROVINCE_OUTLINE at start-up; tests)."""
    global _default
    _default = outline


def check_place(lat: float | None, lon: float | None, address_text: str, *, required: bool = True) -> None:
    """Refuse a half-given pin, a pin outside the province, and (when required) a report with neither pin nor address."""
    if (lat is None) != (lon is None):
        raise InvalidInput("Give both latitude and longitude, or neither.", "Cần nhập cả vĩ độ và kinh độ, hoặc bỏ trống cả hai.", field="location")
    if lat is None:
        if required and not address_text.strip():
            raise InvalidInput("Say where it is: put a pin on the map or write the address.",
                               "Cần cho biết địa điểm: chọn vị trí trên bản đồ hoặc ghi địa chỉ.", field="location")
        return
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput("The coordinates are impossible.", "Tọa độ không hợp lệ.", field="location")
    if not province().contains(lat, lon):
        raise InvalidInput("The place is outside the province: PAHT takes reports about places in the province only.",
                           "Vị trí nằm ngoài địa bàn tỉnh: hệ thống chỉ tiếp nhận phản ánh về địa điểm trong tỉnh.", field="location")
