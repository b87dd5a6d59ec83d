"""Sync's use cases on a fake unit of work with an in-memory repository (no database)."""
from __future__ import annotations

import pytest

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.runtime.errors import NotFound
from paht.runtime.events.envelope import Envelope
from paht.sync.v1 import events_pb2 as sync_ev
from services.sync.domain.ownership import Ownership
from services.sync.service_layer import handlers
from tests.support.fakes import FakeUnitOfWork
from tests.support.services import principal

IOC = principal("ioc", ["ioc_operator"], "ioc-tinh")


class InMemoryOwnerships:
    def __init__(self):
        self.rows: dict[str, Ownership] = {}

    def get(self, report_id: str) -> Ownership | None:
        return self.rows.get(report_id)

    def get_or_start(self, report_id: str) -> Ownership:
        return self.rows.setdefault(report_id, Ownership(report_id=report_id))

    def count_by_node(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for own in self.rows.values():
            counts[own.node_id] = counts.get(own.node_id, 0) + 1
        return counts


@pytest.fixture
def uow():
    return FakeUnitOfWork(ownerships=InMemoryOwnerships())


def dispatched(uow, report_id: str, agency: str, hub: str = "") -> None:
    event = dispatch_ev.ReportDispatched(lead_agency=common_pb2.OrgRef(id=agency, name=agency), hub_node=hub, round=1)
    envelope = Envelope.for_event(event, node_id="test", service="dispatch", report_id=report_id, version=1,
                                  id=f"e-{report_id}-{agency}", time="2026-05-04T02:00:00Z")
    with uow:
        handlers.on_report_dispatched(uow, event, envelope)
        uow.commit()


def test_a_dispatch_to_a_hub_grants_it_and_a_redispatch_recalls_it(uow):
    dispatched(uow, "r1", "donghoi-city", hub="donghoi")
    dispatched(uow, "r1", "so-xd")
    [(granted, _, v1), (recalled, _, v2)] = uow.events
    assert isinstance(granted, sync_ev.OwnershipGranted) and granted.node_id == "donghoi" and granted.epoch == 1
    assert isinstance(recalled, sync_ev.OwnershipRecalled) and recalled.epoch == 1 and (v1, v2) == (1, 2)
    assert uow.ownerships.count_by_node() == {"province": 1}  # the status API counts the same (tests/integration)


def test_ownership_is_told_to_the_ioc_and_the_lead_agency_and_unknown_to_everyone_else(uow):
    dispatched(uow, "r1", "so-gtvt")
    assert handlers.get_ownership(uow, IOC, "r1").lead_agency_id == "so-gtvt"
    assert handlers.get_ownership(uow, principal("sogtvt", ["agency_coordinator"], "so-gtvt"), "r1").node_id == "province"
    with pytest.raises(NotFound) as hidden:
        handlers.get_ownership(uow, principal("capnuoc", ["agency_coordinator"], "cty-capnuoc"), "r1")
    with pytest.raises(NotFound) as unknown:
        handlers.get_ownership(uow, IOC, "never-dispatched")
    assert hidden.value.detail == unknown.value.detail  # the same answer: existence is not revealed
    assert "never-dispatched" not in uow.ownerships.rows  # nothing invented
    with pytest.raises(NotFound):
        handlers.ownership_of(uow, "\x00")
