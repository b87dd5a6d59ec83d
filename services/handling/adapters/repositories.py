"""Cases as the service layer sees them: load, add, and the work list of the cases a person may see."""
from __future__ import annotations

from sqlalchemy import false, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from paht.runtime.db import among
from paht.runtime.paging import Page, SortKey, fetch_page
from services.handling.adapters.orm import case_history, case_team, cases, support_requests
from services.handling.domain import visibility
from services.handling.domain.case import WORK_ORDER, Case, Person
from services.handling.domain.history import HistoryLine
from services.handling.domain.status import Scope
from services.handling.domain.support import RECEIVERS, SupportRequest

_KINDS = {"urgent": "bool", "handling_due": "datetime"}
WORK_LIST = [SortKey(cases.c[name], descending=desc, kind=_KINDS.get(name, "str")) for name, desc in WORK_ORDER]


# Where an attribute holding several values is searched: its own table of (report_id, value) rows.
_AMONG = {"co_staff": (case_team.c.report_id, case_team.c.subject)}


def visible_to(person: Person, db: Session | Connection) -> ColumnElement:
    """Return the SQL condition of the one visibility rule (domain/visibility.py).

    A sight on a many-valued attribute (the others assigned with the staff member in charge) is looked up first, in
    its own indexed table, and enters the condition as a list of report ids: as a sub-select inside the OR,
    PostgreSQL could serve no part of the OR from an index and read the whole table (70 ms for a unit leader's first
    page among 100,000 cases, instead of 20)."""
    lines = visibility.sight_lines(person)
    if lines is None:
        return true()

    def condition(attribute: str, value, among: bool) -> ColumnElement:
        if not among:
            return cases.c[attribute] == value
        report_id, held = _AMONG[attribute]
        ids = db.execute(select(report_id).where(held == value)).scalars().all()
        return cases.c.report_id.in_(ids) if ids else false()

    return or_(*(condition(*line) for line in lines)) if lines else false()


class SqlCaseRepository:
    """Handling's cases in its own tables; one per unit of work (`uow.cases`)."""

    def __init__(self, session: Session):
        self.session = session

    def get(self, report_id: str, *, for_change: bool = False) -> Case | None:
        """Return a case, or None; `for_change` locks its row until the unit of work ends.

        The lock makes a concurrent step wait for the one before it and then decide on what that
        step left, so the loser of a race hears what happened instead of a bare "changed meanwhile".
        After load_many, a case it locked (or found missing) costs no query.
        """
        info = self.session.info
        if report_id in info.get("handling.absent", ()):
            return None
        if report_id in info.get("handling.locked", ()):
            return self.session.get(Case, report_id)  # in the session, its row locked by load_many
        return self.session.get(Case, report_id, with_for_update=for_change or None)

    def load_many(self, report_ids: list[str]) -> None:
        """Lock and load the cases of a batch of events with one query, in id order (every consumer locks in the same
        order), and note those that do not exist: each event's get() then asks nothing more of the database."""
        ids = sorted(set(report_ids))
        if not ids:
            return
        found = self.session.execute(select(Case).where(among(self.session, cases.c.report_id, ids)).order_by(cases.c.report_id)
                                     .with_for_update()).scalars().all()
        self._held = found  # the session's identity map keeps objects only while someone else does
        locked = {c.report_id for c in found}
        self.session.info["handling.locked"] = locked
        self.session.info["handling.absent"] = set(ids) - locked

    def add(self, case: Case) -> None:
        self.session.info.get("handling.absent", set()).discard(case.report_id)
        self.session.add(case)

    def work_list(self, person: Person, status: str | None, cursor: str | None, limit: int | None,
                  scope: Scope = Scope.IN_HAND) -> Page[Case]:
        """Return one page of the cases a person may see, in one status or in the scope's: urgent first, then nearest
        deadline, then id."""
        query = select(Case).where(visible_to(person, self.session))
        if status:
            query = query.where(cases.c.status == status)
        elif scope.statuses is not None:
            query = query.where(cases.c.status.in_([s.value for s in scope.statuses]))
        return fetch_page(self.session, query, WORK_LIST, cursor, limit)


class SqlCaseHistory:
    """The lines of each case's history (`uow.history`): added with the change they record, never altered."""

    def __init__(self, session: Session):
        self.session = session

    @staticmethod
    def add(uow, line: HistoryLine) -> None:
        """Write the line at the commit, in the same transaction as the case's change and its event."""
        uow.stage(case_history, line.as_row())

    def of_case(self, report_id: str) -> list[HistoryLine]:
        """Every line of a case, oldest first."""
        rows = self.session.execute(
            select(case_history).where(case_history.c.report_id == report_id).order_by(case_history.c.at, case_history.c.id))
        return [HistoryLine(**row._mapping) for row in rows]


class SqlSupportRequests:
    """Step 5's support requests (`uow.support`)."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, request: SupportRequest) -> None:
        self.session.add(request)

    def get(self, support_id: str) -> SupportRequest | None:
        return self.session.get(SupportRequest, support_id)

    def of_case(self, report_id: str) -> list[SupportRequest]:
        """Every support request of a case, oldest first (the lead unit sees them all)."""
        q = select(SupportRequest).where(support_requests.c.report_id == report_id)
        return list(self.session.execute(q.order_by(support_requests.c.created_at, support_requests.c.id)).scalars())

    def addressed_to(self, person: Person, open_only: bool, limit: int) -> list[SupportRequest]:
        """The receiving side's inbox: requests to the person's unit (its leader or coordinator) or assigned to them,
        the nearest deadline first."""
        sights = []
        if person.has(*RECEIVERS) and person.org_unit:
            sights.append(support_requests.c.supporter_org_id == person.org_unit)
        if person.subject:
            sights.append(support_requests.c.supporter_staff == person.subject)
        if not sights:
            return []
        q = select(SupportRequest).where(or_(*sights))
        if open_only:
            q = q.where(support_requests.c.status.in_(("requested", "accepted")))
        q = q.order_by(support_requests.c.due_at, support_requests.c.id).limit(limit)
        return list(self.session.execute(q).scalars())
