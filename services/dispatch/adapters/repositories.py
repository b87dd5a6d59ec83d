"""Dispatch's repositories: every query the use cases need, one class per aggregate or table family."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, func, select, text, tuple_, update
from sqlalchemy.orm import Session

from paht.runtime import db
from services.dispatch.adapters.orm import (
    boundaries,
    directory_revisions,
    revoked_tokens,
    sign_in_counters,
    sign_in_locks,
    taxonomy_revisions,
)
from services.dispatch.domain.areas import Boundary, most_specific_first
from services.dispatch.domain.directory import Account, Kind, OrgUnit, Topic, TopicGroup
from services.dispatch.domain.sign_in import ORDER, Attempt, Counter, Lock, Scope


class SqlDirectory:
    """Organisation units (every version), topic groups and topics, their revisions, and area boundaries."""

    # One transaction at a time changes the directory or the taxonomy (PostgreSQL; SQLite's BEGIN IMMEDIATE already is).
    LOCKS = {"directory": 0x5041485401, "taxonomy": 0x5041485402, "boundaries": 0x5041485403}
    REVISIONS = {"directory": directory_revisions, "taxonomy": taxonomy_revisions}

    def __init__(self, session: Session):
        self.session = session

    # ---- units
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

    def ioc_id(self) -> str:
        """The id of this node's provincial IOC (who holds the clocks of steps 1, 2 and 8): "" when the directory has none."""
        q = (select(OrgUnit.id).where(OrgUnit.kind == Kind.IOC.value, OrgUnit.hub_node == "")
             .order_by(OrgUnit.valid_to.is_not(None), OrgUnit.valid_from.desc()).limit(1))
        return self.session.execute(q).scalar() or ""

    def all_units(self) -> list[OrgUnit]:
        """Every version of every unit, in the order of the file they came from."""
        return list(self.session.execute(select(OrgUnit).order_by(OrgUnit.position, OrgUnit.id)).scalars())

    def count_units(self) -> int:
        return self.session.execute(select(func.count()).select_from(OrgUnit)).scalar_one()

    def replace_units(self, units: list[OrgUnit]) -> dict[str, int]:
        """Make the stored units exactly these (kept rows updated in place); return how many were added, changed, removed."""
        current = {u.id: u for u in self.all_units()}
        counts = {"added": 0, "changed": 0, "removed": 0}
        wanted = {u.id for u in units}
        for old in current.values():
            if old.id not in wanted:
                self.session.delete(old)
                counts["removed"] += 1
        for new in units:
            old = current.get(new.id)
            if old is None:
                self.session.add(new)
                counts["added"] += 1
                continue
            changed = False
            for name in UNIT_COLUMNS:
                value = getattr(new, name)
                if getattr(old, name) != value:
                    setattr(old, name, list(value) if isinstance(value, list) else value)
                    changed = changed or name != "position"  # moving in the file is no change of the unit
            counts["changed"] += changed
        self.session.flush()
        return counts

    def units_serving(self, area_code: str, on: date) -> list[OrgUnit]:
        """Units in force on a day whose areas include the area or one of its ancestors, most specific first.

        The ancestors of an area come from the unit tree: the administrative unit in force with that code,
        then its administrative ancestors (a ward, its district, the province).
        """
        in_force = [u for u in self.all_units() if u.in_force(on)]
        chain = area_chain(area_code, in_force, {u.id: u for u in self.all_units()})
        rank = {code: i for i, code in enumerate(chain)}
        serving = [(min(rank[c] for c in u.areas if c in rank), u) for u in in_force if any(c in rank for c in (u.areas or []))]
        serving.sort(key=lambda pair: (pair[0], not pair[1].can_lead, pair[1].position, pair[1].id))
        return [u for _, u in serving]

    def dispatched_to(self) -> dict[str, list[str]]:
        """Reports now dispatched to each lead agency (step 2 done, the agency has them): unit id → report ids."""
        from services.dispatch.adapters.orm_step2 import dispatch_items

        t = dispatch_items.c
        out: dict[str, list[str]] = {}
        query = select(t.report_id, t.lead_agency_id).where(t.status == "dispatched", t.lead_agency_id != "")
        for report_id, agency in self.session.execute(query):
            out.setdefault(agency, []).append(report_id)
        return out

    # ---- taxonomy
    def topics(self) -> list[Topic]:
        return list(self.session.execute(select(Topic).order_by(Topic.position, Topic.code)).scalars())

    def topic(self, code: str) -> Topic | None:
        return self.session.get(Topic, code)

    def groups(self) -> list[TopicGroup]:
        return list(self.session.execute(select(TopicGroup).order_by(TopicGroup.position, TopicGroup.code)).scalars())

    def count_topics(self) -> int:
        return self.session.execute(select(func.count()).select_from(Topic)).scalar_one()

    def replace_taxonomy(self, groups: list[TopicGroup], topics: list[Topic]) -> dict[str, int]:
        """Make the stored groups and topics exactly these; return how many topics were added, changed, removed."""
        counts = {"added": 0, "changed": 0, "removed": 0}
        for cls, new_rows, columns in ((TopicGroup, groups, GROUP_COLUMNS), (Topic, topics, TOPIC_COLUMNS)):
            current = {r.code: r for r in self.session.execute(select(cls)).scalars()}
            wanted = {r.code for r in new_rows}
            for old in current.values():
                if old.code not in wanted:
                    self.session.delete(old)
                    counts["removed"] += cls is Topic
            self.session.flush()
            for new in new_rows:
                old = current.get(new.code)
                if old is None:
                    self.session.add(new)
                    counts["added"] += cls is Topic
                    continue
                changed = False
                for name in columns:
                    value = getattr(new, name)
                    if getattr(old, name) != value:
                        setattr(old, name, list(value) if isinstance(value, list) else value)
                        changed = changed or name != "position"
                counts["changed"] += changed and cls is Topic
            self.session.flush()
        return counts

    def add(self, thing: OrgUnit | Topic | TopicGroup) -> None:
        self.session.add(thing)

    # ---- revisions
    def lock(self, what: str) -> None:
        """Hold the change lock of the directory, the taxonomy or the boundaries until the transaction ends."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self.LOCKS[what]})

    def latest_revision(self, what: str) -> dict | None:
        table = self.REVISIONS[what]
        row = self.session.execute(select(table).order_by(table.c.revision.desc()).limit(1)).mappings().first()
        return dict(row) if row is not None else None

    def add_revision(self, what: str, revision: int, at: datetime, by: str, source: str, sha256: str, counts: dict, snapshot: str) -> None:
        self.session.execute(self.REVISIONS[what].insert().values(revision=revision, at=at, by=by, source=source, sha256=sha256,
                                                                  counts=counts, snapshot=snapshot))

    def revisions(self, what: str, limit: int = 200) -> list[dict]:
        """The newest revisions first, without their snapshots."""
        t = self.REVISIONS[what]
        q = select(t.c.revision, t.c.at, t.c.by, t.c.source, t.c.sha256, t.c.counts).order_by(t.c.revision.desc()).limit(limit)
        return [dict(r) for r in self.session.execute(q).mappings()]

    def revision(self, what: str, number: int) -> dict | None:
        t = self.REVISIONS[what]
        row = self.session.execute(select(t).where(t.c.revision == number)).mappings().first()
        return dict(row) if row is not None else None

    # ---- boundaries
    def boundaries(self) -> list[Boundary]:
        return list(self.session.execute(select(Boundary).order_by(Boundary.code, Boundary.valid_from)).scalars())

    def replace_boundaries(self, found: list[Boundary]) -> None:
        self.session.execute(delete(boundaries))
        self.session.add_all(found)
        self.session.flush()

    def locate(self, lat: float, lon: float, on: date) -> list[str]:
        """Area codes whose boundary in force on a day contains the point, most specific (smallest) first."""
        b = boundaries.c
        q = select(Boundary).where(b.min_lat <= lat, b.max_lat >= lat, b.min_lon <= lon, b.max_lon >= lon,
                                   (b.valid_from.is_(None)) | (b.valid_from <= on), (b.valid_to.is_(None)) | (b.valid_to > on))
        return most_specific_first([x for x in self.session.execute(q).scalars() if x.contains(lat, lon)])


UNIT_COLUMNS = ("code", "name", "name_en", "kind", "parent_id", "hub_node", "can_lead", "fields", "valid_from", "valid_to", "replaces",
                "areas", "position")
GROUP_COLUMNS = ("name", "name_en", "position", "valid_from", "valid_to")
TOPIC_COLUMNS = ("name", "name_en", "group_code", "group_name", "group_name_en", "fields", "urgent_hint", "position", "valid_from",
                 "valid_to", "keywords")


def area_chain(area_code: str, in_force: list[OrgUnit], everything: dict[str, OrgUnit]) -> list[str]:
    """The area and its ancestors' codes, from the administrative units of the tree (the area first)."""
    chain = [area_code]
    start = next((u for u in in_force if u.code == area_code and Kind(u.kind).administrative), None) if area_code else None
    node, seen = (everything.get(start.parent_id or "") if start else None), set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        if node.kind in ADMINISTRATIVE_KINDS and node.code not in chain:
            chain.append(node.code)
        node = everything.get(node.parent_id or "")
    return chain


ADMINISTRATIVE_KINDS = {k.value for k in Kind if k.administrative}


class SqlAccounts:
    """Staff accounts of the built-in issuer."""

    def __init__(self, session: Session):
        self.session = session

    def get(self, username: str) -> Account | None:
        return self.session.get(Account, username)

    def all(self) -> list[Account]:
        return list(self.session.execute(select(Account).order_by(Account.username)).scalars())

    def active_in_unit(self, org_unit_id: str) -> list[Account]:
        q = select(Account).where(Account.org_unit_id == org_unit_id, Account.active.is_(True)).order_by(Account.username)
        return list(self.session.execute(q).scalars())

    def active_by_unit(self) -> dict[str, list[str]]:
        """Active people by unit id (for refusing to remove a unit people still belong to)."""
        out: dict[str, list[str]] = {}
        q = select(Account.org_unit_id, Account.username).where(Account.active.is_(True)).order_by(Account.username)
        for unit, username in self.session.execute(q):
            out.setdefault(unit, []).append(username)
        return out

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
                values = {"scope": scope.value, "username": username, "address": address, "failures": 0}
                self.session.execute(db.upsert(sign_in_counters, tuple(values), ()), values)  # created if missing
                row = self._row(scope, attempt, for_update=True)
            counters[scope] = self._counter(row)
        return counters

    def save(self, counters: dict[Scope, Counter]) -> None:
        t = sign_in_counters.c
        for c in counters.values():
            self.session.execute(
                update(sign_in_counters)
                .where(t.scope == c.scope, t.username == c.username, t.address == c.address)
                .values(failures=c.failures, locked_until=c.locked_until, last_failure_at=c.last_failure_at,
                        last_success_at=c.last_success_at)
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
        return self.session.execute(db.upsert(revoked_tokens, tuple(values), ()), values).rowcount == 1

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
