"""A report's history at intake: one line per action (who, when, why), and the IOC–reporter messages."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from paht.runtime.ids import new_id
from services.intake.adapters.orm import report_history
from services.intake.domain.vocabulary import Action

# Who acted (the history line's actor_kind): a staff member (actor: their subject), the reporter (never named
# here: the report says who they are), the procedure itself (the 2-day timers), a partner app (actor: its id).
STAFF, REPORTER, SYSTEM, PARTNER = "staff", "reporter", "system", "partner"


@dataclass(frozen=True)
class HistoryLine:
    id: str
    report_id: str
    at: datetime
    actor_kind: str
    actor: str
    action: str
    text: str
    to_reporter: bool

    @property
    def label(self) -> tuple[str, str]:
        """(English, Vietnamese) of what happened."""
        try:
            return Action(self.action).label
        except ValueError:
            return self.action, self.action


def line(report_id: str, action: Action, *, actor_kind: str, at: datetime, actor: str = "", text: str = "",
         to_reporter: bool = False) -> dict:
    """One history line's row."""
    return {"id": new_id(), "report_id": report_id, "at": at, "actor_kind": actor_kind, "actor": actor, "action": action.value,
            "text": text, "to_reporter": to_reporter}


def record(session: Session, report_id: str, action: Action, **details) -> None:
    """Add one line to a report's history, in the caller's transaction."""
    session.execute(_INSERT, line(report_id, action, **details))


def stage(uow, report_id: str, action: Action, **details) -> None:
    """Add one line at the commit, with the other lines of the transaction in one statement (a new report's first line)."""
    uow.stage(report_history, line(report_id, action, **details))


_INSERT = report_history.insert()  # built once: every action of every report writes a line


def of_report(session: Session, report_id: str, *, to_reporter_only: bool = False, limit: int = 500) -> list[HistoryLine]:
    """A report's history, oldest first (two lines of one action are written a microsecond apart to keep their order).

    `to_reporter_only`: what the reporter's own page shows (received, edit requested, edited, decided, messages).
    """
    h = report_history.c
    query = select(report_history).where(h.report_id == report_id)
    if to_reporter_only:
        query = query.where(h.to_reporter.is_(True))
    rows = session.execute(query.order_by(h.at, h.id).limit(limit)).all()
    return [HistoryLine(r.id, r.report_id, r.at, r.actor_kind, r.actor, r.action, r.text, bool(r.to_reporter)) for r in rows]
