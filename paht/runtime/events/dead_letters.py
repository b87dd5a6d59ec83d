"""Dead letters: events a consumer could not apply, kept for an operator to replay after a fix, or discard.

Nothing is dropped in silence: a parked event stays here (and in the logs, with its report id) until
someone with an operations role decides. While it is parked, later events of the same report from the
same producer wait in JetStream (they are redelivered every minute), so the report never moves on a
gap.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select

from paht.runtime import db
from paht.runtime.errors import InvalidInput, NotFound, StateConflict
from paht.runtime.events.consumer import EventApplier, Outcome, Subscription
from paht.runtime.events.envelope import Envelope
from paht.runtime.text import Label, clean_text


@dataclass
class DeadLetter:
    id: str
    consumer: str
    event_id: str
    ce_type: str
    producer: str
    report_id: str
    report_version: int
    error: str
    attempts: int
    status: str
    parked_at: datetime
    resolved_at: datetime | None
    resolved_by: str

    def as_json(self) -> dict:
        return {
            "id": self.id, "consumer": self.consumer, "event_id": self.event_id, "type": self.ce_type, "producer": self.producer,
            "report_id": self.report_id, "report_version": self.report_version, "error": self.error, "attempts": self.attempts,
            "status": self.status, "parked_at": self.parked_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None, "resolved_by": self.resolved_by or None,
        }


class DeadLetters:
    """List, replay and discard one service's dead letters."""

    def __init__(self, engine, table, applier: EventApplier, subscriptions: list[Subscription]):
        self._engine = engine
        self._t = table
        self._applier = applier
        self._handlers: dict = {}  # by full type name, whichever subscription (or node) brought the event
        for sub in subscriptions:
            self._handlers.update(sub.handlers)

    def _row(self, r) -> DeadLetter:
        return DeadLetter(**{k: getattr(r, k) for k in DeadLetter.__dataclass_fields__})

    def list(self, status: str | None = "parked", limit: int = 100) -> tuple[list[DeadLetter], int]:
        t = self._t
        q = select(t).order_by(t.c.parked_at, t.c.id).limit(limit)
        count = select(func.count()).select_from(t)
        if status:
            q, count = q.where(t.c.status == status), count.where(t.c.status == status)
        with db.reading(self._engine) as conn:
            return [self._row(r) for r in conn.execute(q)], conn.execute(count).scalar_one()

    def _load(self, dead_id: str):
        with db.reading(self._engine) as conn:
            row = conn.execute(select(self._t).where(self._t.c.id == dead_id)).first()
        if row is None:
            raise NotFound(f"No dead letter {dead_id}.", f"Không có sự kiện lỗi {dead_id}.")
        if row.status != "parked":
            raise StateConflict(f"Dead letter {dead_id} was already {row.status}.", f"Sự kiện lỗi {dead_id} đã được xử lý ({row.status}).")
        return row

    def _resolve(self, dead_id: str, status: str, who: str, note: str = "") -> None:
        with self._engine.begin() as conn:
            conn.execute(self._t.update().where(self._t.c.id == dead_id, self._t.c.status == "parked").values(
                status=status, resolved_at=datetime.now(timezone.utc), resolved_by=who[:100],
                error=self._t.c.error + (f"\n[{status} by {who}] {note}" if note else "")))

    def replay(self, dead_id: str, who: str) -> DeadLetter:
        """Apply the parked event again (after a fix); on success it is marked replayed, else it stays parked."""
        row = self._load(dead_id)
        envelope = Envelope.from_nats(dict(row.headers), row.payload)
        try:
            outcome = self._applier.apply(envelope, self._handlers)
        except Exception as exc:
            self._applier.park(envelope, exc, row.attempts + 1)
            raise StateConflict(
                f"The event still cannot be applied: {getattr(exc, 'detail_en', None) or type(exc).__name__}.",
                f"Sự kiện vẫn chưa áp dụng được: {getattr(exc, 'detail_vi', None) or type(exc).__name__}.",
            ) from None
        if outcome is Outcome.EARLY or outcome is Outcome.BLOCKED:
            raise StateConflict("An earlier event of this report has not been applied yet; resolve that one first.",
                                "Một sự kiện trước đó của phản ánh này chưa được áp dụng; hãy xử lý sự kiện đó trước.")
        self._resolve(dead_id, "replayed", who)
        return self.get(dead_id)

    def discard(self, dead_id: str, who: str, reason: str) -> DeadLetter:
        """Skip the parked event for good (an operator's decision, with the reason kept)."""
        reason = clean_text(reason, Label("Reason", "Lý do"), 5, 500)
        row = self._load(dead_id)
        self._applier.discard(Envelope.from_nats(dict(row.headers), row.payload))
        self._resolve(dead_id, "discarded", who, reason)
        return self.get(dead_id)

    def get(self, dead_id: str) -> DeadLetter:
        with db.reading(self._engine) as conn:
            row = conn.execute(select(self._t).where(self._t.c.id == dead_id)).first()
        if row is None:
            raise NotFound(f"No dead letter {dead_id}.", f"Không có sự kiện lỗi {dead_id}.")
        return self._row(row)


def check_status(status: str | None) -> str | None:
    if status in (None, "", "all"):
        return None
    if status not in ("parked", "replayed", "discarded"):
        raise InvalidInput("status must be parked, replayed, discarded or all.", "status phải là parked, replayed, discarded hoặc all.")
    return status
