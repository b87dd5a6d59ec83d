"""Handling under federation, on a real database: the province keeps no case of a hub's agency (and gives back one it
had); the hub opens it with the epoch the province granted, stamps every event with it, and closes it when recalled."""
from __future__ import annotations

import asyncio

import pytest

from paht.runtime.errors import StateConflict
from paht.runtime.events.consumer import Outcome
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.sync.v1 import events_pb2 as sync_ev
from services.handling import bootstrap
from services.handling.service_layer import handlers
from services.handling.adapters.directory import OrgUnitInfo
from services.handling.domain.case import CandidatePerson
from tests.support.handling import FakeOrgDirectory, dispatched
from tests.support.services import migrated_context, outbox_envelopes, principal
from tests.support.services import test_settings as make_settings

pytestmark = pytest.mark.integration
WARD = ("ward-donghoi-2025", "Phường Đồng Hới")
coordinator = principal("donghoi", ["agency_coordinator"], "ward-donghoi-2025")
HUB_DIRECTORY = FakeOrgDirectory([OrgUnitInfo("ward-donghoi-2025", "Phường Đồng Hới", "", "ward")],
                                 [CandidatePerson("canbophuong", "Cán bộ phường", "ward-donghoi-2025", ("staff",), True)])


def apply(ctx, envelope: Envelope) -> Outcome:
    """Apply as the node's consumers would, whichever subscription (local or inbound) brings the event."""
    return ctx.applier().apply(envelope, {k: v for s in ctx.subscriptions() for k, v in s.handlers.items()})


@pytest.fixture
def province(settings):
    c = migrated_context(bootstrap.SPEC, make_settings(settings.data, db_schema_prefix=settings.db_schema_prefix,
                                                       node_id=settings.node_id, hubs="donghoi"))
    yield c
    c.engine.dispose()


@pytest.fixture
def hub(settings, tmp_path):
    c = migrated_context(bootstrap.SPEC, make_settings(tmp_path / "hub", db_schema_prefix=settings.db_schema_prefix + "h",
                                                       node_id="donghoi", parent_node=settings.node_id))
    yield c
    c.engine.dispose()
    from tests.conftest import _drop_schemas

    _drop_schemas(settings.db_schema_prefix + "h")


def test_the_province_opens_no_case_of_a_hub_agency_and_takes_back_one_it_had(province):
    rid = new_id()
    assert apply(province, dispatched(province, rid, agency=WARD, hub_node="donghoi")) is Outcome.APPLIED
    with pytest.raises(Exception):
        handlers.find_case(province.uow(), rid)
    # a case handled here, then dispatched again to an agency of the hub: it leaves this node's queues
    other = new_id()
    apply(province, dispatched(province, other))
    assert apply(province, dispatched(province, other, version=2, agency=WARD, round=2, hub_node="donghoi")) is Outcome.APPLIED
    case = handlers.find_case(province.uow(), other)
    assert case.status == "recalled"
    lines = handlers.history(province.uow(), principal("sogtvt", ["agency_coordinator"], "so-gtvt"), other)
    assert lines[-1].action == "recalled"


def test_the_hub_handles_at_the_granted_epoch_and_a_recall_closes_the_case(hub, settings):
    rid = new_id()
    sent = dispatched(hub, rid, agency=WARD, hub_node="donghoi")
    event = sent.decode()
    event.meta.epoch = 4
    sent = Envelope.for_event(event, node_id=settings.node_id, service="dispatch", report_id=rid, version=1)
    assert apply(hub, sent) is Outcome.APPLIED
    case = handlers.find_case(hub.uow(), rid)
    assert (case.status, case.epoch) == ("awaiting_agency", 4)
    asyncio.run(handlers.assign_unit(hub.uow(), HUB_DIRECTORY, coordinator, rid, "ward-donghoi-2025"))
    (assigned,) = [e for e in outbox_envelopes(hub) if e.report_id == rid]
    assert assigned.decode().meta.epoch == 4 and assigned.origin_node == "donghoi"

    # a recall of an older epoch changes nothing; the current one closes the case, and nothing more can be done
    for epoch, version in ((3, 1), (4, 2)):
        recall = sync_ev.OwnershipRecalled(node_id="donghoi", epoch=epoch, reason="re-dispatched")
        recall.meta.report_id = rid
        env = Envelope.for_event(recall, node_id=settings.node_id, service="sync", report_id=rid, version=version)
        assert apply(hub, env) is Outcome.APPLIED
        assert handlers.find_case(hub.uow(), rid).status == ("awaiting_unit_leader" if epoch == 3 else "recalled")
    with pytest.raises(StateConflict):
        asyncio.run(handlers.assign_staff(hub.uow(), HUB_DIRECTORY, principal("phuong", ["unit_leader"], "ward-donghoi-2025"),
                                          rid, "canbophuong"))


def test_a_support_request_to_an_organisation_of_another_node_is_refused_with_the_reason(hub, province, settings):
    from datetime import datetime, timedelta, timezone

    from paht.runtime.errors import InvalidInput
    from tests.support.handling import PEOPLE, UNITS

    due = datetime.now(timezone.utc) + timedelta(days=2)
    ward = OrgUnitInfo("ward-donghoi-2025", "Phường Đồng Hới", "", "ward", "donghoi")
    both = FakeOrgDirectory([*UNITS, ward], [*PEOPLE, *HUB_DIRECTORY.people.values()])
    # on the hub: a provincial department's people are not here
    rid = new_id()
    sent = dispatched(hub, rid, agency=WARD, hub_node="donghoi")
    event = sent.decode()
    event.meta.epoch = 1
    apply(hub, Envelope.for_event(event, node_id=settings.node_id, service="dispatch", report_id=rid, version=1))
    leader = principal("phuong", ["unit_leader"], "ward-donghoi-2025")
    asyncio.run(handlers.assign_unit(hub.uow(), both, coordinator, rid, "ward-donghoi-2025"))
    asyncio.run(handlers.assign_staff(hub.uow(), both, leader, rid, "canbophuong"))
    with pytest.raises(InvalidInput) as refused:
        asyncio.run(handlers.request_support(hub.uow(), both, leader, rid, "so-gtvt", "Đề nghị cho ý kiến về mặt đường.", due))
    assert f"nút '{settings.node_id}'" in refused.value.detail_vi and "cannot cross nodes" in refused.value.detail_en
    # on the province: the ward (on the declared hub) is asked from its own node, not from here
    other = new_id()
    apply(province, dispatched(province, other))
    gtvt_leader, staff = principal("truongphong", ["unit_leader"], "so-gtvt-kcht"), principal("canbo", ["staff"], "so-gtvt-kcht")
    asyncio.run(handlers.assign_unit(province.uow(), both, principal("sogtvt", ["agency_coordinator"], "so-gtvt"), other, "so-gtvt-kcht"))
    asyncio.run(handlers.assign_staff(province.uow(), both, gtvt_leader, other, "canbo"))
    with pytest.raises(InvalidInput) as refused:
        asyncio.run(handlers.request_support(province.uow(), both, staff, other, "ward-donghoi-2025", "Đề nghị phường xác minh.", due))
    assert "nút 'donghoi'" in refused.value.detail_vi
    # an organisation of the same node: asked as always
    req = asyncio.run(handlers.request_support(province.uow(), both, staff, other, "so-xd", "Đề nghị cho ý kiến về cao độ.", due))
    assert req.supporter_org_id == "so-xd"
