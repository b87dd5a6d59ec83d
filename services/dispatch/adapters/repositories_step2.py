"""Step 2's repositories: dispatch items and the IOC's work list."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from paht.runtime.paging import Page, SortKey, fetch_page
from services.dispatch.adapters import orm_step2  # noqa: F401  (maps DispatchItem before the sort keys name its columns)
from services.dispatch.domain.dispatching import WAITING, DispatchItem

# The IOC's step-2 work list: urgent first, then the nearest deadline, then the report id.
QUEUE_ORDER = (
    SortKey(DispatchItem.urgent, descending=True, kind="bool"),
    SortKey(DispatchItem.dispatch_due, kind="datetime"),
    SortKey(DispatchItem.report_id),
)


class SqlDispatchItems:
    def __init__(self, session: Session):
        self.session = session

    def get(self, report_id: str) -> DispatchItem | None:
        return self.session.get(DispatchItem, report_id)

    def add(self, item: DispatchItem) -> None:
        self.session.add(item)

    def waiting(self, cursor: str | None, limit: int | None) -> Page:
        """Return one page of the reports waiting for step 2, in the work list's order, with the total."""
        query = select(DispatchItem).where(DispatchItem.status.in_([s.value for s in WAITING]))
        return fetch_page(self.session, query, QUEUE_ORDER, cursor, limit)



REPOSITORIES = {
    "items": SqlDispatchItems,
}
