"""A taxonomy for tests: a few topics with their groups, in memory, behind intake's Taxonomy port."""
from __future__ import annotations

from paht.runtime.errors import Unavailable
from services.intake.domain.taxonomy import Topic

TOPICS = (
    Topic("traffic-safety", "Trật tự, an toàn giao thông", "security", "An ninh trật tự, an toàn giao thông"),
    Topic("trat-tu-giao-thong", "Trật tự giao thông", "an-ninh", "An ninh"),
    Topic("road-damage", "Hư hỏng đường giao thông", "infrastructure", "Hạ tầng giao thông"),
    Topic("waste-dumping", "Đổ rác thải không đúng nơi quy định", "environment", "Môi trường"),
    Topic("any-topic", "Lĩnh vực bất kỳ", "any-group", "Nhóm bất kỳ"),
)


class FakeTaxonomy:
    """Answers from a fixed list; `unavailable=True` behaves like dispatch away with no copy (503)."""

    def __init__(self, topics=TOPICS, unavailable: bool = False):
        self._topics = {t.code: t for t in topics}
        self.unavailable = unavailable
        self.lookups: list[str] = []

    def find(self, code: str) -> Topic | None:
        self.lookups.append(code)
        if self.unavailable:
            raise Unavailable("Topics cannot be checked now.", "Chưa thể kiểm tra lĩnh vực.")
        return self._topics.get(code)

    def topics(self, on=None) -> dict[str, Topic]:
        if self.unavailable:
            raise Unavailable("Topics cannot be checked now.", "Chưa thể kiểm tra lĩnh vực.")
        return dict(self._topics)
