"""The in-memory twin of intake's notices repository (services/intake/adapters/notices.py) for use-case tests."""
from __future__ import annotations


class InMemoryNotices:
    def __init__(self, browsers: dict[str, list] | None = None):
        self.rows: list[dict] = []
        self.browsers = browsers or {}

    def add(self, rows: list[dict]) -> int:
        keys = {r["key"] for r in self.rows}
        new = [r for r in rows if r["key"] not in keys]
        self.rows.extend(new)
        return len(new)

    def has_push(self, phone: str) -> bool:
        return bool(self.browsers.get(phone))

    def of_report(self, report_id: str) -> list[dict]:
        return [r for r in self.rows if r["report_id"] == report_id]
