"""The reporter's notices and browser subscriptions in intake's database: the only queries over them.

`uow.notices` in the use cases and consumers (rows written in the transaction of the change); the sender's claims
(one replica per row: FOR UPDATE SKIP LOCKED on PostgreSQL, the one writer at a time of SQLite's BEGIN IMMEDIATE).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from paht.runtime import db
from paht.runtime.webpush import PushSubscription
from services.intake.adapters.orm import push_subscriptions, reporter_notifications, reporters, reports

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


@dataclass(frozen=True)
class NoticeRow:
    """A notice as the reporter's page lists it."""

    id: str
    kind: str
    channel: str
    text: str
    status: str
    created_at: datetime
    sent_at: datetime | None


def endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


class SqlNotices:
    """Reporters' notices (one row per change and channel) and the browsers subscribed to Web Push."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, rows: list[dict]) -> int:
        """Write the rows; a row whose key is already there is skipped (an event seen twice makes no second notice).
        Return how many were written."""
        if not rows:
            return 0
        return sum(len(self.session.execute(db.upsert(reporter_notifications, tuple(row), ("key",), returning=("id",)), row).all())
                   for row in rows)

    def has_push(self, phone: str) -> bool:
        return self.session.execute(select(push_subscriptions.c.id).where(push_subscriptions.c.phone == phone).limit(1)).first() is not None

    def of_report(self, report_id: str) -> list[NoticeRow]:
        n = reporter_notifications.c
        rows = self.session.execute(select(n.id, n.kind, n.channel, n.text, n.status, n.created_at, n.sent_at)
                                    .where(n.report_id == report_id).order_by(n.created_at, n.channel, n.id)).all()
        return [NoticeRow(*row) for row in rows]

    # ---- browsers

    def subscribe(self, id: str, phone: str, subscription: PushSubscription, now: datetime) -> None:
        """Keep a browser's subscription for this phone; the same browser subscribing again replaces its keys (and its
        owner: the phone now signed in on it)."""
        digest = endpoint_hash(subscription.endpoint)
        values = {"phone": phone, "endpoint": subscription.endpoint, "p256dh": subscription.p256dh, "auth": subscription.auth,
                  "created_at": now}
        row = {"id": id, "endpoint_hash": digest, **values}
        self.session.execute(db.upsert(push_subscriptions, tuple(row), ("endpoint_hash",), replace=tuple(values)), row)

    def unsubscribe(self, phone: str, endpoint: str) -> bool:
        p = push_subscriptions.c
        return bool(self.session.execute(delete(push_subscriptions).where(p.endpoint_hash == endpoint_hash(endpoint),
                                                                          p.phone == phone)).rowcount)

    def subscriptions(self, phone: str) -> list[PushSubscription]:
        p = push_subscriptions.c
        rows = self.session.execute(select(p.endpoint, p.p256dh, p.auth).where(p.phone == phone).order_by(p.created_at)).all()
        return [PushSubscription(*row) for row in rows]

    def forget_browser(self, endpoint: str) -> None:
        """The push service said the subscription is gone: forget it."""
        self.session.execute(delete(push_subscriptions).where(push_subscriptions.c.endpoint_hash == endpoint_hash(endpoint)))

    # ---- the sender

    def claim_due(self, now: datetime, until: datetime, claim: str, limit: int) -> list[dict]:
        """Take up to `limit` rows due now for this sender: pending ones whose time has come, and ones whose previous
        sender's lease ran out (it died between taking and recording). Each is marked as this claim's, with one attempt
        more, until `until`. Returns the rows with the reporter's phone and e-mail (read here, kept only in memory)."""
        n = reporter_notifications.c
        due = or_(and_(n.status == PENDING, n.next_attempt_at <= now), and_(n.status == SENDING, n.claimed_until < now))
        query = select(n.id).where(due).order_by(n.next_attempt_at, n.id).limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)  # another replica takes other rows instead of waiting
        ids = list(self.session.scalars(query))
        if not ids:
            return []
        self.session.execute(update(reporter_notifications).where(n.id.in_(ids))
                             .values(status=SENDING, claim=claim, claimed_until=until, attempts=n.attempts + 1))
        rows = self.session.execute(
            select(n.id, n.report_id, n.reporter_id, n.kind, n.channel, n.text, n.subject, n.key, n.attempts,
                   reporters.c.phone, reporters.c.email, reports.c.tracking_code)
            .join(reporters, reporters.c.id == n.reporter_id, isouter=True)
            .join(reports, reports.c.id == n.report_id, isouter=True)
            .where(n.id.in_(ids)).order_by(n.next_attempt_at, n.id)).all()
        return [row._asdict() for row in rows]

    def set_text(self, notice_id: str, claim: str, text: str) -> None:
        n = reporter_notifications.c
        self.session.execute(update(reporter_notifications).where(n.id == notice_id, n.claim == claim).values(text=text))

    def finish(self, notice_id: str, claim: str, **values) -> bool:
        """Record the outcome of a claim, only if the row is still that claim's (a sender whose lease ran out and whose
        row another sender took records nothing). Return whether it did."""
        n = reporter_notifications.c
        statement = update(reporter_notifications).where(n.id == notice_id, n.claim == claim, n.status == SENDING)
        return bool(self.session.execute(statement.values(claimed_until=None, **values)).rowcount)

    def counts(self) -> dict[str, int]:
        """How many rows in each status (tests, operators)."""
        n = reporter_notifications.c
        return dict(self.session.execute(select(n.status, func.count()).group_by(n.status)).all())

