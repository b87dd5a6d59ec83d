from datetime import date, datetime, timedelta, timezone

import pytest

from paht.runtime.errors import InvalidInput, StateConflict
from services.dispatch.domain.directory import OrgUnit
from services.dispatch.domain.dispatching import DispatchItem, Status
from services.sync.domain.ownership import Ownership

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)  # 10:00 in Vietnam


def agency(**kw):
    values = dict(id="so-gtvt", code="SGTVT", name="Sở Giao thông vận tải", name_en="Department of Transport", kind="department",
                  parent_id=None, hub_node="", can_lead=True, valid_from=date(2022, 5, 5))
    values.update(kw)
    return OrgUnit(**values)


def test_accepted_report_gets_the_step_two_clock():
    item = DispatchItem.accepted("r1", NOW, False, "t", "g")
    assert item.status == Status.AWAITING_DISPATCH.value and item.dispatch_due == NOW + timedelta(hours=1)


def test_dispatch_to_exactly_one_lead_agency_once():
    item = DispatchItem.accepted("r1", NOW, False, "t", "g")
    assert item.dispatch_to_lead_agency(agency(), NOW + timedelta(minutes=30), "") is True
    assert item.round == 1 and item.lead_agency_id == "so-gtvt"
    with pytest.raises(StateConflict):
        item.dispatch_to_lead_agency(agency(id="so-yte"), NOW, "")


def test_late_dispatch_is_recorded_as_not_on_time():
    item = DispatchItem.accepted("r1", NOW, False, "t", "g")
    assert item.dispatch_to_lead_agency(agency(), NOW + timedelta(hours=2), "") is False


def test_units_that_cannot_lead_or_have_ended_are_refused():
    item = DispatchItem.accepted("r1", NOW, False, "t", "g")
    with pytest.raises(InvalidInput):
        item.dispatch_to_lead_agency(agency(can_lead=False), NOW, "")
    with pytest.raises(InvalidInput):
        item.dispatch_to_lead_agency(agency(valid_to=date(2025, 7, 1)), NOW, "")


def test_refusal_by_the_agency_reopens_step_two_on_a_new_clock():
    item = DispatchItem.accepted("r1", NOW, False, "t", "g")
    item.dispatch_to_lead_agency(agency(), NOW, "")
    later = NOW + timedelta(hours=3)
    item.refused_by_agency(later)
    assert item.status == Status.REFUSED_BY_AGENCY.value and item.dispatch_due == later + timedelta(hours=1)
    item.dispatch_to_lead_agency(agency(id="so-xd"), later, "")
    assert item.round == 2


def test_ownership_follows_dispatch_with_fenced_epochs():
    own = Ownership(report_id="r1")
    assert own.follow_dispatch("", "so-gtvt") == (None, None) and own.node_id == "province"
    recalled, granted = own.follow_dispatch("donghoi", "donghoi-city")
    assert recalled is None and granted == ("donghoi", 1)
    assert own.accepts("donghoi", 1) and not own.accepts("donghoi", 0)
    recalled, granted = own.follow_dispatch("", "so-xd")
    assert recalled == ("donghoi", 1) and granted is None
    assert not own.accepts("donghoi", 1) and own.epoch == 2


def test_ownership_is_seen_by_the_ioc_and_by_its_lead_agency_only():
    from tests.support.services import principal

    own = Ownership(report_id="r1")
    own.follow_dispatch("", "so-gtvt")
    assert own.visible_to(principal("ioc", ["ioc_operator"], "ioc-tinh"))
    assert own.visible_to(principal("admin", ["ioc_admin"], "ioc-tinh"))
    assert own.visible_to(principal("sogtvt", ["agency_coordinator"], "so-gtvt"))
    assert not own.visible_to(principal("capnuoc", ["agency_coordinator"], "cty-capnuoc"))
    assert not own.visible_to(principal("canbo", ["staff"], "so-gtvt-kcht"))
    assert not Ownership(report_id="r2").visible_to(principal("nobody", ["staff"], ""))  # no lead agency yet: nobody's but the IOC's
