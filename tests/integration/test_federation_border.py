"""The province's sync as the border of federation, on a real database: what it sends a hub, what it lets in from one,
and what it refuses (a stale epoch, a report the hub does not own) — kept, never applied, never lost."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime import federation
from paht.runtime.events.consumer import ANY, Outcome
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.sync.v1 import events_pb2 as sync_ev
from services.sync import bootstrap
from services.sync.adapters.orm import refused_events
from services.sync.service_layer import border
from tests.support.services import deliver, migrated_context
from tests.support.services import test_settings as make_settings

pytestmark = pytest.mark.integration
HUB = "donghoi"


@pytest.fixture
def province(settings):
    """The province's sync with the Đồng Hới hub declared (the test's own node id keeps it apart on a shared NATS)."""
    s = make_settings(settings.data, db_schema_prefix=settings.db_schema_prefix, node_id=settings.node_id, hubs=HUB)
    c = migrated_context(bootstrap.SPEC, s)
    yield c
    c.engine.dispose()


def outbox(ctx) -> list[tuple[str, Envelope]]:
    table = ctx.spec.event_tables["outbox"]
    with ctx.engine.connect() as conn:
        rows = conn.execute(table.select().order_by(table.c.seq)).all()
    return [(r.subject, Envelope.from_nats(dict(r.headers), r.payload)) for r in rows]


def dispatched(ctx, report_id: str, agency: str, hub: str, round: int, version: int) -> Envelope:
    event = dispatch_ev.ReportDispatched(lead_agency=common_pb2.OrgRef(id=agency, code=agency, name=agency), hub_node=hub,
                                         round=round, title="Ổ gà trước số 12 Lý Thường Kiệt")
    event.meta.report_id, event.meta.report_version = report_id, version
    return Envelope.for_event(event, node_id=ctx.settings.node_id, service="dispatch", report_id=report_id, version=version)


def from_hub(report_id: str, version: int, epoch: int, event=None, node: str = HUB) -> Envelope:
    event = event or handling_ev.ResultApproved(answer_text="Đã sửa xong mặt đường.")
    event.meta.report_id, event.meta.report_version, event.meta.epoch, event.meta.node_id = report_id, version, epoch, node
    return Envelope.for_event(event, node_id=node, service="handling", report_id=report_id, version=version)


def let_in(ctx, envelope: Envelope) -> Outcome:
    return ctx.applier().apply(envelope, {ANY: border.let_in})


def refused(ctx) -> list:
    with ctx.engine.connect() as conn:
        return conn.execute(select(refused_events).order_by(refused_events.c.refused_at)).all()


def test_a_report_dispatched_to_a_hub_agency_goes_to_that_hub_with_its_epoch_and_what_follows_goes_too(province):
    node = province.settings.node_id
    report = new_id()
    assert deliver(province, dispatched(province, report, "ward-donghoi-2025", HUB, 1, 1)) is Outcome.APPLIED
    rows = outbox(province)
    sent = [(s, e) for s, e in rows if s.startswith(f"paht.{node}.for-{HUB}.")]
    # to its owner with the epoch; and, apart (its own id, marked as a copy), for the hub's read-only copy of the report
    assert [(e.type, e.extra.get(federation.COPY_HEADER)) for _, e in sent] == [
        ("paht.dispatch.v1.ReportDispatched", None), ("paht.dispatch.v1.ReportDispatched", "area")]
    subject, envelope = sent[0]
    assert subject == f"paht.{node}.for-{HUB}.ReportDispatched" and envelope.report_version == 1
    assert envelope.decode().meta.epoch == 1 and envelope.decode().title.startswith("Ổ gà")
    assert envelope.extra[federation.ORIGIN_VERSION] == "1"
    copy = sent[1][1]
    assert copy.report_version == 1 and copy.id != envelope.id and copy.decode().meta.epoch == 0  # the copy's own sequence
    # the grant itself is the province's record (its own stream), not sent
    assert [e.type for s, e in rows if s.startswith(f"paht.{node}.sync.")] == ["paht.sync.v1.OwnershipGranted"]

    # the IOC returns the approved answer at step 8: it follows the report to its owner, numbered without gaps
    returned = publication_ev.PublicationReturned(reason="Bổ sung ảnh sau khi sửa")
    env = Envelope.for_event(returned, node_id=node, service="publication", report_id=report, version=7)
    assert deliver(province, env) is Outcome.EARLY  # publication's versions 1-6 have not come: order is kept
    for v in range(1, 7):
        filler = publication_ev.ReportRated(comment="Tốt") if v == 6 else publication_ev.ClarificationRequested(question="?")
        deliver(province, Envelope.for_event(filler, node_id=node, service="publication", report_id=report, version=v))
    assert deliver(province, env) is Outcome.APPLIED
    to_hub = [e for s, e in outbox(province) if s.startswith(f"paht.{node}.for-{HUB}.") and e.producer == "publication"]
    # the hub's own numbering of what it gets, the owner's events and the copy each in its own sequence (the rating
    # and the return also go to its copy; the clarification requests only to its handling)
    owner = [e for e in to_hub if not e.extra.get(federation.COPY_HEADER)]
    copied = [e for e in to_hub if e.extra.get(federation.COPY_HEADER)]
    assert [e.report_version for e in owner] == [1, 2, 3, 4, 5, 6, 7]
    assert [(e.type.rsplit(".", 1)[1], e.report_version) for e in copied] == [("ReportRated", 1), ("PublicationReturned", 2)]
    assert owner[-1].type == "paht.publication.v1.PublicationReturned"

    # a report the province handles itself: nothing goes to any hub
    other = new_id()
    deliver(province, dispatched(province, other, "so-gtvt", "", 1, 1))
    assert not [e for s, e in outbox(province) if e.report_id == other and ".for-" in s]


def test_a_hub_event_at_the_current_epoch_is_let_in_and_a_stale_one_is_refused_and_kept(province):
    node = province.settings.node_id
    report = new_id()
    deliver(province, dispatched(province, report, "ward-donghoi-2025", HUB, 1, 1))
    accepted = handling_ev.CaseAssigned()
    assert let_in(province, from_hub(report, 1, 1, accepted)) is Outcome.APPLIED
    inbound = [(s, e) for s, e in outbox(province) if s.startswith(f"{federation.INBOUND_ROOT}.{node}.")]
    assert [(s, e.report_version, e.origin_node) for s, e in inbound] == [(f"pahtfed.{node}.{HUB}.handling.CaseAssigned", 1, HUB)]

    # the IOC dispatches it again, to a provincial agency: the hub is told, its epoch ends
    deliver(province, dispatched(province, report, "so-gtvt", "", 2, 2))
    told = [e for s, e in outbox(province) if s.startswith(f"paht.{node}.for-{HUB}.") and e.type.endswith("OwnershipRecalled")]
    assert len(told) == 1 and told[0].decode().epoch == 1 and told[0].decode().node_id == HUB

    # the hub, cut off, approved meanwhile: refused, kept whole, not let in; the next one waits for nothing
    late = from_hub(report, 2, 1)
    assert let_in(province, late) is Outcome.APPLIED  # handled (refused): the hub's sequence moves on
    assert let_in(province, late) is Outcome.DUPLICATE  # a second delivery changes nothing
    rows = refused(province)
    assert [(r.event_id, r.origin_node, r.epoch, r.owner_node, r.reason) for r in rows] == [
        (late.id, HUB, 1, "province", "not the owner")]
    assert Envelope.from_nats(dict(rows[0].headers), rows[0].payload).decode().answer_text == "Đã sửa xong mặt đường."
    assert len([s for s, _ in outbox(province) if s.startswith(f"{federation.INBOUND_ROOT}.{node}.")]) == 1

    # granted to the hub again (a new epoch): events of the old epoch are refused, the new one's let in, numbered on
    deliver(province, dispatched(province, report, "ward-donghoi-2025", HUB, 3, 3))
    regranted = [e for s, e in outbox(province) if s.startswith(f"paht.{node}.for-{HUB}.") and e.type.endswith("ReportDispatched")
                 and federation.COPY_HEADER not in e.extra]
    epoch = regranted[-1].decode().meta.epoch
    assert epoch == 3  # 1 at the hub, 2 back at the province, 3 at the hub again
    assert let_in(province, from_hub(report, 3, epoch)) is Outcome.APPLIED
    assert let_in(province, from_hub(report, 4, 1)) is Outcome.APPLIED
    assert [r.reason for r in refused(province)] == ["not the owner", "stale epoch"]
    inbound = [e for s, e in outbox(province) if s.startswith(f"{federation.INBOUND_ROOT}.{node}.")]
    assert [e.report_version for e in inbound] == [1, 2]  # no gap where the refused ones were
    assert inbound[-1].extra[federation.ORIGIN_VERSION] == "3"


def test_events_from_a_node_that_is_not_a_peer_or_about_a_report_never_granted_are_refused(province):
    report = new_id()
    assert let_in(province, from_hub(report, 1, 1)) is Outcome.APPLIED  # never dispatched to the hub
    assert let_in(province, from_hub(new_id(), 1, 1, node="quangninh")) is Outcome.APPLIED
    assert sorted(r.reason for r in refused(province)) == ["node 'quangninh' is not a peer of this node", "not the owner"]


def test_reordered_and_duplicated_deliveries_from_the_hub_change_nothing(province):
    node = province.settings.node_id
    report = new_id()
    deliver(province, dispatched(province, report, "ward-donghoi-2025", HUB, 1, 1))
    first, second = from_hub(report, 1, 1, handling_ev.CaseAssigned()), from_hub(report, 2, 1)
    assert let_in(province, second) is Outcome.EARLY
    assert let_in(province, first) is Outcome.APPLIED
    assert let_in(province, second) is Outcome.APPLIED
    assert let_in(province, first) is Outcome.DUPLICATE and let_in(province, second) is Outcome.DUPLICATE
    inbound = [e for s, e in outbox(province) if s.startswith(f"{federation.INBOUND_ROOT}.{node}.")]
    assert [(e.type.rsplit(".", 1)[1], e.report_version) for e in inbound] == [("CaseAssigned", 1), ("ResultApproved", 2)]


def test_the_hub_lets_in_what_the_province_sends_it(settings):
    hub = make_settings(settings.data, db_schema_prefix=settings.db_schema_prefix, node_id=HUB + settings.node_id[:4],
                        parent_node=settings.node_id)
    ctx = migrated_context(bootstrap.SPEC, hub)
    try:
        report = new_id()
        recalled = sync_ev.OwnershipRecalled(node_id=hub.node_id, epoch=1, reason="re-dispatched")
        env = Envelope.for_event(recalled, node_id=settings.node_id, service="sync", report_id=report, version=1)
        assert ctx.applier().apply(env, {ANY: border.let_in}) is Outcome.APPLIED
        (subject, envelope), = [(s, e) for s, e in outbox(ctx)]
        assert subject == f"pahtfed.{hub.node_id}.{settings.node_id}.sync.OwnershipRecalled"
        assert envelope.id == env.id and envelope.position_key(hub.node_id) == f"{settings.node_id}.sync:{report}"
        # the hub's border reads the province's stream of what is for it, in the province's domain
        (border_sub,) = [s for s in ctx.spec.subscriptions(ctx) if s.domain]
        assert (border_sub.domain, border_sub.stream, border_sub.durable) == (
            settings.node_id, f"PAHT_{settings.node_id.upper()}_FOR_{hub.node_id.upper()}", f"border-{hub.node_id}")
        assert not border_sub.required
    finally:
        ctx.engine.dispose()


def test_the_status_counts_refused_events_per_peer_and_lists_them_for_the_ioc(province):
    from fastapi.testclient import TestClient

    from tests.support.services import token_for

    report = new_id()
    deliver(province, dispatched(province, report, "ward-donghoi-2025", HUB, 1, 1))
    let_in(province, from_hub(report, 1, 7))  # an epoch the province never granted
    client = TestClient(bootstrap.build_http(province))
    ioc = {"Authorization": f"Bearer {token_for(province.settings, 'ioc', ['ioc_operator'], 'ioc-tinh')}"}
    status = client.get("/api/sync/v1/status", headers=ioc).json()
    assert (status["role"], status["hubs"], status["refused_events"]) == ("province", [HUB], 1)
    (peer,) = status["peers"]
    assert (peer["peer"], peer["refused_events"]) == (HUB, 1)
    (item,) = client.get("/api/sync/v1/refused", headers=ioc).json()["items"]
    assert (item["report_id"], item["type"], item["epoch"], item["owner_node"], item["owner_epoch"], item["reason"]) == (
        report, "ResultApproved", 7, HUB, 1, "stale epoch")


def test_reference_data_goes_to_every_hub_and_a_hub_declared_later_gets_the_latest_revision(province, settings):
    from paht.runtime.ids import CALENDAR_ID

    node = province.settings.node_id

    def calendar(revision: int) -> Envelope:
        event = dispatch_ev.CalendarPublished(revision=revision, calendar_json='{"holidays": []}')
        event.meta.report_id, event.meta.report_version = CALENDAR_ID, revision
        return Envelope.for_event(event, node_id=node, service="dispatch", report_id=CALENDAR_ID, version=revision)

    for revision in (1, 2):
        assert deliver(province, calendar(revision)) is Outcome.APPLIED
    sent = [e for s, e in outbox(province) if s == f"paht.{node}.for-{HUB}.CalendarPublished"]
    assert [(e.decode().revision, e.report_version) for e in sent] == [(1, 1), (2, 2)]

    # the province declares a second hub: at start it gets revision 2, once
    later = make_settings(settings.data, db_schema_prefix=settings.db_schema_prefix, node_id=node, hubs=f"{HUB},quangtrach")
    ctx = migrated_context(bootstrap.SPEC, later)
    try:
        for _ in range(2):
            with ctx.uow() as uow:
                border.send_reference_to_new_hubs(uow)
                uow.commit()
        got = [e for s, e in outbox(ctx) if s == f"paht.{node}.for-quangtrach.CalendarPublished"]
        assert [(e.decode().revision, e.report_version) for e in got] == [(2, 1)]
        assert len([1 for s, _ in outbox(ctx) if s == f"paht.{node}.for-{HUB}.CalendarPublished"]) == 2  # nothing resent
    finally:
        ctx.engine.dispose()


def test_a_recall_by_the_ioc_ends_the_hubs_epoch_at_once_and_the_hub_is_told(province):
    node = province.settings.node_id
    report = new_id()
    deliver(province, dispatched(province, report, "ward-donghoi-2025", HUB, 1, 1))
    recall = dispatch_ev.ReportRecalled(round=1, reason="Phường mất kết nối quá lâu")
    recall.meta.report_id, recall.meta.report_version = report, 2
    assert deliver(province, Envelope.for_event(recall, node_id=node, service="dispatch", report_id=report, version=2)) is Outcome.APPLIED
    told = [e.decode() for s, e in outbox(province) if s == f"paht.{node}.for-{HUB}.OwnershipRecalled"]
    assert [(t.node_id, t.epoch, t.reason) for t in told] == [(HUB, 1, "Phường mất kết nối quá lâu")]
    assert let_in(province, from_hub(report, 1, 1)) is Outcome.APPLIED
    assert [r.reason for r in refused(province)] == ["not the owner"]
    # dispatched to the hub again: a new epoch, and the hub's events of it are let in
    deliver(province, dispatched(province, report, "ward-donghoi-2025", HUB, 2, 3))
    again = [e.decode() for s, e in outbox(province) if s == f"paht.{node}.for-{HUB}.ReportDispatched" and federation.COPY_HEADER not in e.extra]
    assert [d.meta.epoch for d in again] == [1, 3]
    assert let_in(province, from_hub(report, 2, 3)) is Outcome.APPLIED
    assert len([1 for s, _ in outbox(province) if s.startswith(f"{federation.INBOUND_ROOT}.{node}.")]) == 1


def test_a_batch_is_let_in_in_one_transaction_with_each_reports_numbering_kept(province):
    node = province.settings.node_id
    a, b = new_id(), new_id()
    for rid in (a, b):
        deliver(province, dispatched(province, rid, "ward-donghoi-2025", HUB, 1, 1))
    batch = [from_hub(a, 1, 1, handling_ev.CaseAssigned()), from_hub(b, 1, 1, handling_ev.CaseAssigned()),
             from_hub(a, 2, 9), from_hub(a, 3, 1), from_hub(b, 2, 1)]  # a's second event carries an epoch never granted
    (sub,) = [s for s in province.spec.subscriptions(province) if s.domain == HUB]
    outcomes = province.applier().apply_batch(batch, {ANY: border.let_in}, "sync", sub.preload)
    assert outcomes == [Outcome.APPLIED] * 5
    inbound = [e for s, e in outbox(province) if s.startswith(f"{federation.INBOUND_ROOT}.{node}.")]
    assert [(e.report_id == a, e.report_version, e.extra[federation.ORIGIN_VERSION]) for e in inbound] == [
        (True, 1, "1"), (False, 1, "1"), (True, 2, "3"), (False, 2, "2")]
    assert [(r.report_id, r.origin_version) for r in refused(province)] == [(a, 2)]
    # the counters were written once at the commit: the next event of each report goes on from them
    assert let_in(province, from_hub(a, 4, 1)) is Outcome.APPLIED
    assert [e.report_version for s, e in outbox(province) if s.startswith(f"{federation.INBOUND_ROOT}.") and e.report_id == a] == [1, 2, 3]
