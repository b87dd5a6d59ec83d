"""Emergency forwarding's repository: every query about forwards to 113/114/115."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.dispatch.adapters import orm_emergency  # noqa: F401  (maps EmergencyForward before the queries name its columns)
from services.dispatch.domain.emergency import ALERT_LEASE, EmergencyForward, ForwardState

AWAITING = ForwardState.ACKNOWLEDGED.value  # awaiting = every state but this one


class SqlEmergencyForwards:
    def __init__(self, session: Session):
        self.session = session

    def get(self, forward_id: str) -> EmergencyForward | None:
        return self.session.get(EmergencyForward, forward_id)

    def add(self, forward: EmergencyForward) -> None:
        self.session.add(forward)

    def of_report(self, report_id: str) -> list[EmergencyForward]:
        """Every forward of one report, oldest first."""
        q = (select(EmergencyForward).where(EmergencyForward.report_id == report_id)
             .order_by(EmergencyForward.forwarded_at, EmergencyForward.id))
        return list(self.session.execute(q).scalars())

    def of_reports(self, report_ids: Iterable[str]) -> dict[str, list[EmergencyForward]]:
        """Forwards of several reports (a page of a work list), by report, oldest first."""
        ids = list(dict.fromkeys(report_ids))
        found: dict[str, list[EmergencyForward]] = {rid: [] for rid in ids}
        if not ids:
            return found
        q = select(EmergencyForward).where(EmergencyForward.report_id.in_(ids)).order_by(EmergencyForward.forwarded_at, EmergencyForward.id)
        for forward in self.session.execute(q).scalars():
            found[forward.report_id].append(forward)
        return found

    def awaiting(self, services: Iterable[str] | None = None, limit: int = 200) -> list[EmergencyForward]:
        """Forwards not acknowledged yet (of some services, or all), oldest first: the longest wait on top."""
        q = select(EmergencyForward).where(EmergencyForward.state != AWAITING)
        if services is not None:
            q = q.where(EmergencyForward.service.in_(list(services)))
        q = q.order_by(EmergencyForward.forwarded_at, EmergencyForward.id).limit(limit)
        return list(self.session.execute(q).scalars())

    def due_for_delivery(self, now: datetime, limit: int) -> list[str]:
        """Ids of pending forwards whose next delivery attempt is due, oldest due first."""
        q = (select(EmergencyForward.id)
             .where(EmergencyForward.state == ForwardState.PENDING.value, EmergencyForward.next_attempt_at <= now)
             .order_by(EmergencyForward.next_attempt_at).limit(limit))
        return list(self.session.execute(q).scalars())

    def due_for_alert(self, now: datetime, limit: int) -> list[str]:
        """Ids of forwards owed a re-alert of the IOC now."""
        q = (select(EmergencyForward.id)
             .where(EmergencyForward.alert_due_at.is_not(None), EmergencyForward.alert_due_at <= now)
             .order_by(EmergencyForward.alert_due_at).limit(limit))
        return list(self.session.execute(q).scalars())

    def unsent_alerts(self, now: datetime, limit: int) -> list[str]:
        """Ids of forwards whose claimed re-alert never went out and whose claimer's lease ran out."""
        q = (select(EmergencyForward.id)
             .where(EmergencyForward.alerts_sent < EmergencyForward.alerts, EmergencyForward.alert_claimed_at <= now - ALERT_LEASE)
             .order_by(EmergencyForward.alert_claimed_at).limit(limit))
        return list(self.session.execute(q).scalars())


REPOSITORIES = {
    "forwards": SqlEmergencyForwards,
}
