"""Step 2's repositories: dispatch items (with their rounds and escalations), the IOC's work list, the Committee's list."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from paht.runtime.paging import Page, SortKey, fetch_page
from services.dispatch.adapters import orm_step2  # noqa: F401  (maps DispatchItem before the sort keys name its columns)
from services.dispatch.domain.dispatching import WAITING, DispatchItem, Status

# The IOC's step-2 work list (and the Committee's): urgent first, then the nearest deadline, then the report id.
QUEUE_ORDER = (
    SortKey(DispatchItem.urgent, descending=True, kind="bool"),
    SortKey(DispatchItem.dispatch_due, kind="datetime"),
    SortKey(DispatchItem.report_id),
)


class SqlDispatchItems:
    def __init__(self, session: Session):
        self.session = session

    def get(self, report_id: str, *, for_change: bool = False) -> DispatchItem | None:
        """Return an item, or None; `for_change` locks its row until the unit of work ends.

        Two operators acting on one report at once: the second waits for the first, then decides on
        what the first left, and hears in the procedure's words why its step no longer fits (409).
        """
        return self.session.get(DispatchItem, report_id, with_for_update=for_change or None)

    def add(self, item: DispatchItem) -> None:
        self.session.add(item)

    def waiting(self, cursor: str | None, limit: int | None, statuses: Iterable[Status] = WAITING) -> Page:
        """Return one page of the reports in the given step-2 statuses, in the work list's order, with the total."""
        query = select(DispatchItem).where(DispatchItem.status.in_([s.value for s in statuses]))
        return fetch_page(self.session, query, QUEUE_ORDER, cursor, limit)


REPOSITORIES = {
    "items": SqlDispatchItems,
}
