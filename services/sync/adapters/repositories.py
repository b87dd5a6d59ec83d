"""Sync's repository: ownership records, one per report."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.sync.domain.ownership import Ownership
from paht.runtime.db import among


class SqlOwnerships:
    """Who owns each report's handling steps (uow.ownerships)."""

    def __init__(self, session: Session):
        self.session = session

    def get(self, report_id: str, for_change: bool = False) -> Ownership | None:
        return self.session.get(Ownership, report_id, with_for_update=for_change or None)

    def load_many(self, report_ids: list[str]) -> None:
        """Bring several reports' rows into the session at once (later get() calls find them there)."""
        if report_ids:
            # held here: the session's identity map keeps objects only as long as someone else does
            self._held = self.session.execute(select(Ownership).where(among(self.session, Ownership.report_id, report_ids))).scalars().all()

    def get_or_start(self, report_id: str) -> Ownership:
        """Load a report's ownership for update, or start it at the province when its first dispatch arrives."""
        own = self.session.get(Ownership, report_id, with_for_update=True)
        if own is None:
            own = Ownership(report_id=report_id)
            self.session.add(own)
        return own

    def count_by_node(self) -> dict[str, int]:
        rows = self.session.execute(select(Ownership.node_id, func.count()).group_by(Ownership.node_id)).all()
        return {node: n for node, n in rows}
