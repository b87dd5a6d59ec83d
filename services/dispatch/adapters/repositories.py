"""Dispatch's repositories: every query the use cases need, one class per aggregate or table family."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from services.dispatch.adapters.orm import revoked_tokens, sign_in_counters, sign_in_locks
from services.dispatch.domain.directory import Account, OrgUnit, Topic
from services.dispatch.domain.sign_in import ORDER, Attempt, Counter, Lock, Scope

def insert_if_missing(session: Session, table, values: dict):
    """Return an INSERT that does nothing when the key exists (atomic on PostgreSQL and SQLite alike)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).values(**values).on_conflict_do_nothing()


class SqlDirectory:
    """Organisation units and topics."""

    def __init__(self, session: Session):
        self.session = session

    def unit(self, unit_id: str) -> OrgUnit | None:
        return self.session.get(OrgUnit, unit_id)

    def units(self, parent_id: str | None = None, roots_only: bool = False, lead_only: bool = False) -> list[OrgUnit]:
        q = select(OrgUnit).order_by(OrgUnit.kind, OrgUnit.name)
        if parent_id:
            q = q.where(OrgUnit.parent_id == parent_id)
        elif roots_only:
            q = q.where(OrgUnit.parent_id.is_(None))
        if lead_only:
            q = q.where(OrgUnit.can_lead.is_(True))
        return list(self.session.execute(q).scalars())

    def topics(self) -> list[Topic]:
        return list(self.session.execute(select(Topic).order_by(Topic.group_code, Topic.code)).scalars())

    def count_units(self) -> int:
        return self.session.execute(select(func.count()).select_from(OrgUnit)).scalar_one()

    def count_topics(self) -> int:
        return self.session.execute(select(func.count()).select_from(Topic)).scalar_one()

    def add(self, thing: OrgUnit | Topic) -> None:
        self.session.add(thing)


class SqlAccounts:
    """Staff accounts of the built-in issuer."""

    def __init__(self, session: Session):
        self.session = session

    def get(self, username: str) -> Account | None:
        return self.session.get(Account, username)

    def active_in_unit(self, org_unit_id: str) -> list[Account]:
        q = select(Account).where(Account.org_unit_id == org_unit_id, Account.active.is_(True)).order_by(Account.username)
        return list(self.session.execute(q).scalars())

    def count(self) -> int:
        return self.session.execute(select(func.count()).select_from(Account)).scalar_one()

    def add(self, account: Account) -> None:
        self.session.add(account)


class SqlSignInCounters:
    """The throttle's counters and its audit of locks, updated under row locks (two replicas, parallel attempts)."""

    def __init__(self, session: Session):
        self.session = session

    def read(self, attempt: Attempt) -> dict[Scope, Counter]:
        """Return the attempt's three counters as they are (no lock: for the quick check before any work)."""
        return {scope: self._get(scope, attempt, for_update=False) for scope in ORDER}

    def hold(self, attempt: Attempt) -> dict[Scope, Counter]:
        """Return the attempt's three counters, each row created if missing and locked until commit, in a fixed order."""
        counters = {}
        for scope in ORDER:  # the same order in every transaction: two attempts never wait on each other in a circle
            username, address = attempt.key(scope)
            row = None
            while row is None:  # again if forget_before deleted the row between the two statements
                self.session.execute(insert_if_missing(self.session, sign_in_counters,
                                                       {"scope": scope.value, "username": username, "address": address, "failures": 0}))
                row = self._row(scope, attempt, for_update=True)
            counters[scope] = self._counter(row)
        return counters

    def save(self, counters: dict[Scope, Counter]) -> None:
        t = sign_in_counters.c
        for c in counters.values():
            self.session.execute(
                update(sign_in_counters)
                .where(t.scope == c.scope, t.username == c.username, t.address == c.address)
                .values(failures=c.failures, locked_until=c.locked_until, last_failure_at=c.last_failure_at, last_success_at=c.last_success_at)
            )

    def audit(self, attempt: Attempt, locks: list[Lock], at: datetime) -> None:
        for lock in locks:
            self.session.execute(sign_in_locks.insert().values(at=at, scope=lock.scope, username=attempt.username, address=attempt.address,
                                                               failures=lock.failures, locked_until=lock.locked_until))

    def locks_of(self, username: str) -> list[dict]:
        t = sign_in_locks.c
        rows = self.session.execute(select(sign_in_locks).where(t.username == username).order_by(t.id)).mappings().all()
        return [dict(r) for r in rows]

    def forget_before(self, cutoff: datetime, now: datetime) -> int:
        """Delete counters whose last failure is older than cutoff and that lock nothing and remember no sign-in."""
        t = sign_in_counters.c
        stale = (t.last_failure_at < cutoff) & ((t.locked_until.is_(None)) | (t.locked_until < now)) & t.last_success_at.is_(None)
        # rows an attempt holds right now are skipped, not waited for: no deadlock with an attempt's fixed order
        rows = select(t.scope, t.username, t.address).where(stale).with_for_update(skip_locked=True)
        return self.session.execute(delete(sign_in_counters).where(tuple_(t.scope, t.username, t.address).in_(rows))).rowcount

    def _get(self, scope: Scope, attempt: Attempt, for_update: bool) -> Counter:
        row = self._row(scope, attempt, for_update)
        return self._counter(row) if row is not None else Counter(scope.value, *attempt.key(scope))

    def _row(self, scope: Scope, attempt: Attempt, for_update: bool):
        username, address = attempt.key(scope)
        t = sign_in_counters.c
        q = select(sign_in_counters).where(t.scope == scope.value, t.username == username, t.address == address)
        return self.session.execute(q.with_for_update() if for_update else q).mappings().first()

    @staticmethod
    def _counter(row) -> Counter:
        return Counter(row["scope"], row["username"], row["address"], row["failures"], row["locked_until"], row["last_failure_at"],
                       row["last_success_at"])


class SqlRevokedTokens:
    """Tokens signed out before they expire: the source of truth behind every service's deny-list."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, jti: str, subject: str, expires_at: datetime, now: datetime) -> bool:
        """Record a revocation; return False if the token was already revoked (a second logout)."""
        values = {"jti": jti, "subject": subject, "expires_at": expires_at, "revoked_at": now}
        return self.session.execute(insert_if_missing(self.session, revoked_tokens, values)).rowcount == 1

    def is_revoked(self, jti: str) -> bool:
        return self.session.execute(select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti)).first() is not None

    def live(self, now: datetime, unpublished_only: bool = False) -> list[tuple[str, datetime]]:
        """Return (jti, expires_at) of revoked tokens that have not expired yet."""
        t = revoked_tokens.c
        q = select(t.jti, t.expires_at).where(t.expires_at > now).order_by(t.revoked_at)
        if unpublished_only:
            q = q.where(t.published_at.is_(None))
        return [(r.jti, r.expires_at) for r in self.session.execute(q)]

    def mark_published(self, jtis: list[str], now: datetime) -> None:
        if jtis:
            self.session.execute(update(revoked_tokens).where(revoked_tokens.c.jti.in_(jtis)).values(published_at=now))

    def forget_expired(self, now: datetime) -> int:
        return self.session.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at <= now)).rowcount


REPOSITORIES = {
    "directory": SqlDirectory,
    "accounts": SqlAccounts,
    "sign_in": SqlSignInCounters,
    "revoked": SqlRevokedTokens,
}
