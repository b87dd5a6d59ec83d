"""Intake's repositories, one per aggregate: the only place that writes queries against the session."""
from __future__ import annotations

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session

from paht.runtime import db
from paht.runtime.db import row_of
from paht.runtime.paging import Page, SortKey, fetch_page
from services.intake.adapters.orm import contact_audit, reporters, reports
from services.intake.domain.report import ContactRelease, Report, Reporter
from services.intake.domain.vocabulary import Status

# Step 1's work list: urgent first, then the oldest (the nearest to its deadline), then id.
WORK_ORDER = (
    SortKey(reports.c.urgent, descending=True, kind="bool"),
    SortKey(reports.c.received_at, kind="datetime"),
    SortKey(reports.c.id),
)


# built once: the submission's path runs it for every report
_REPORTER_ID = select(reporters.c.id).where(reporters.c.phone == bindparam("phone"), reporters.c.email == bindparam("email"))
_REPORTER_IDS = select(reporters.c.id, reporters.c.phone, reporters.c.email).where(
    tuple_(reporters.c.phone, reporters.c.email).in_(bindparam("pairs", expanding=True)))


class SqlReports:
    """Reports, loaded and stored as domain objects."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, report: Report) -> None:
        self.session.add(report)

    @staticmethod
    def stage_new(uow, report: Report) -> None:
        """Write a new report at the commit, with the other new reports of the transaction in one INSERT (the
        submission's path: no unit-of-work bookkeeping for an object written once and not changed here)."""
        uow.stage(reports, row_of(report))

    def get(self, report_id: str) -> Report | None:
        return self.session.get(Report, report_id)

    def by_tracking_code(self, code: str) -> Report | None:
        return self.session.execute(select(Report).where(reports.c.tracking_code == code)).scalar_one_or_none()

    def work_list(self, statuses: tuple[Status, ...], cursor: str | None, limit: int | None) -> Page[Report]:
        """Return one page of the reports in these statuses, in work order, with their total."""
        query = select(Report).where(reports.c.status.in_([s.value for s in statuses]))
        return fetch_page(self.session, query, WORK_ORDER, cursor, limit)


class SqlReporters:
    """Reporters, identified by their (phone, e-mail) pair; and the audit of every contact release."""

    def __init__(self, session: Session):
        self.session = session

    def find_or_add(self, reporter: Reporter) -> Reporter:
        """Return the stored reporter with this phone and e-mail, adding this one if there is none.

        INSERT … ON CONFLICT DO NOTHING then SELECT, in the caller's transaction: of two first
        submissions at once, one inserts and the other waits for it and then finds its row.
        """
        values = {"id": reporter.id, "name": reporter.name, "phone": reporter.phone, "email": reporter.email,
                  "created_at": reporter.created_at}
        self.session.execute(db.upsert(reporters, tuple(values), ("phone", "email")), values)
        return self.session.execute(
            select(Reporter).where(reporters.c.phone == reporter.phone, reporters.c.email == reporter.email)
        ).scalar_one()

    def id_of(self, reporter: Reporter) -> str:
        """The id of the stored reporter with this phone and e-mail, adding this one if there is none (the submission's
        path: most reporters are known, so one indexed read, or none after preload(); a new one is inserted as
        find_or_add does)."""
        key = (reporter.phone, reporter.email)
        if key in self._known:  # read before in this transaction (None: looked for, not stored)
            known = self._known[key]
        else:
            known = self.session.execute(_REPORTER_ID, {"phone": reporter.phone, "email": reporter.email}).scalar_one_or_none()
        if known is None:
            known = self.find_or_add(reporter).id
        self._known[key] = known
        return known

    def preload(self, wanted: list[Reporter]) -> None:
        """Read the stored ids of these reporters in one query, for id_of() in the same transaction (the submissions
        written together)."""
        pairs = list({(r.phone, r.email) for r in wanted if (r.phone, r.email) not in self._known})
        if pairs:
            self._known.update(dict.fromkeys(pairs))
            for rid, phone, email in self.session.execute(_REPORTER_IDS, {"pairs": pairs}):
                self._known[(phone, email)] = rid

    @property
    def _known(self) -> dict[tuple[str, str], str]:
        """(phone, e-mail) → id as read or written in this transaction, None when read and absent (kept on the session:
        one per unit of work; a rollback clears it)."""
        return self.session.info.setdefault("intake.reporter_ids", {})

    def get(self, reporter_id: str) -> Reporter | None:
        return self.session.get(Reporter, reporter_id)

    def record_release(self, release: ContactRelease) -> None:
        """Keep the audit record of one release of a reporter's contact."""
        self.session.execute(contact_audit.insert().values(
            id=release.id, report_id=release.report_id, reporter_id=release.reporter_id, staff_subject=release.staff_subject,
            staff_org_unit=release.staff_org_unit, purpose=release.purpose, released_at=release.released_at,
        ))
