"""Write a new revision of the directory or the taxonomy and publish it, in one transaction.

Every applied change (an import, a topic edit, the demo seed) goes through here: the state is replaced,
a numbered revision (who, when, from what, counts and the whole state as exported) is written and
DirectoryPublished / TaxonomyPublished is emitted with that number as its version, so other services
follow the revisions in order from the event stream. A change that leaves the state as it is writes no
revision. Two changes at once: the second waits for the first (PostgreSQL advisory lock, SQLite's
BEGIN IMMEDIATE) and becomes the next revision; a clash the lock did not prevent is a 409, never a
duplicate revision.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy.exc import IntegrityError

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import directory_pb2
from paht.dispatch.v1 import events_pb2 as ev
from paht.runtime.errors import ConcurrentChange
from paht.runtime.ids import DIRECTORY_ID, TAXONOMY_ID
from paht.runtime.uow import UnitOfWork
from services.dispatch.domain.directory import OrgUnit, Topic, TopicGroup
from services.dispatch.domain.directory_import import dump_directory
from services.dispatch.domain.taxonomy import dump_taxonomy

SEED_ACTOR = common_pb2.Actor(subject="seed", role="system")


def today() -> date:
    """Today in Vietnam: validity periods are Vietnamese calendar days."""
    from datetime import timedelta

    return datetime.now(timezone(timedelta(hours=7))).date()


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class ImportResult:
    """What an import did: the revision now in force, whether this import made it, and counts."""

    revision: int
    changed: bool
    sha256: str
    counts: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"revision": self.revision, "changed": self.changed, "sha256": self.sha256, "counts": self.counts}


def unit_proto(u: OrgUnit) -> directory_pb2.OrgUnit:
    """One unit version as other services receive it (gRPC answers and DirectoryPublished)."""
    return directory_pb2.OrgUnit(
        id=u.id, code=u.code, name=u.name, kind=u.kind, parent_id=u.parent_id or "", hub_node=u.hub_node, can_lead=u.can_lead,
        valid_from=u.valid_from.isoformat(), valid_to=u.valid_to.isoformat() if u.valid_to else "", name_en=u.name_en,
        field_letters=list(u.fields or []), area_codes=list(u.areas or []),
    )


def topic_proto(t: Topic) -> directory_pb2.Topic:
    """One topic as other services receive it (ListTopics and TaxonomyPublished)."""
    return directory_pb2.Topic(
        code=t.code, name=t.name, group_code=t.group_code, group_name=t.group_name, field_letters=list(t.fields or []),
        name_en=t.name_en, group_name_en=t.group_name_en, valid_from=t.valid_from.isoformat() if t.valid_from else "",
        valid_to=t.valid_to.isoformat() if t.valid_to else "", urgent_hint=t.urgent_hint, keywords=list(t.keywords or []),
    )


def _next_revision(uow: UnitOfWork, what: str, snapshot: str) -> tuple[int, bool]:
    """(the revision to write, True) or (the latest revision, False) when the state would not change."""
    latest = uow.directory.latest_revision(what)
    if latest is not None and latest["snapshot"] == snapshot:
        return latest["revision"], False
    return (latest["revision"] if latest else 0) + 1, True


def _commit(uow: UnitOfWork, what_en: str, what_vi: str) -> None:
    try:
        uow.commit()
    except IntegrityError as exc:  # the lock should prevent it; if not, the revision's key refuses the duplicate
        raise ConcurrentChange(f"Another change of the {what_en} was saved at the same moment; reload it and try again.",
                               f"Một thay đổi khác của {what_vi} vừa được lưu cùng lúc; vui lòng tải lại và thử lại.") from exc


def publish_directory(uow: UnitOfWork, units: list[OrgUnit], notes: str, *, by: str, actor: common_pb2.Actor, source: str,
                      sha256: str) -> ImportResult:
    """Inside an open unit of work holding the directory lock: replace the units, write the revision, emit, commit."""
    snapshot = dump_directory(units, notes)
    revision, changed = _next_revision(uow, "directory", snapshot)
    on = today()
    counts = {"units": len(units), "in_force": sum(1 for u in units if u.in_force(on))}
    if not changed:
        return ImportResult(revision, False, sha256, {**counts, "added": 0, "changed": 0, "removed": 0})
    counts.update(uow.directory.replace_units(units))
    uow.directory.add_revision("directory", revision, datetime.now(timezone.utc), by[:100], source[:200], sha256, counts, snapshot)
    uow.emit(ev.DirectoryPublished(revision=revision, units=[unit_proto(u) for u in sorted(units, key=lambda u: (u.position, u.id))]),
             report_id=DIRECTORY_ID, version=revision, actor=actor)
    _commit(uow, "directory", "danh bạ tổ chức")
    return ImportResult(revision, True, sha256, counts)


def publish_taxonomy(uow: UnitOfWork, groups: list[TopicGroup], topics: list[Topic], *, by: str, actor: common_pb2.Actor, source: str,
                     sha256: str) -> ImportResult:
    """Inside an open unit of work holding the taxonomy lock: replace groups and topics, write the revision, emit, commit."""
    snapshot = dump_taxonomy(groups, topics)
    revision, changed = _next_revision(uow, "taxonomy", snapshot)
    on = today()
    counts = {"groups": len(groups), "topics": len(topics), "in_force": sum(1 for t in topics if t.in_force(on))}
    if not changed:
        return ImportResult(revision, False, sha256, {**counts, "added": 0, "changed": 0, "removed": 0})
    counts.update(uow.directory.replace_taxonomy(groups, topics))
    uow.directory.add_revision("taxonomy", revision, datetime.now(timezone.utc), by[:100], source[:200], sha256, counts, snapshot)
    uow.emit(ev.TaxonomyPublished(revision=revision, topics=[topic_proto(t) for t in sorted(topics, key=lambda t: (t.position, t.code))]),
             report_id=TAXONOMY_ID, version=revision, actor=actor)
    _commit(uow, "taxonomy", "danh mục lĩnh vực")
    return ImportResult(revision, True, sha256, counts)
