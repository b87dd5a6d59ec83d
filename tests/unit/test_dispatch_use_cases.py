"""Dispatch's use cases on in-memory repositories: no database, the same unit-of-work shape."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime.errors import InvalidInput, NotFound, StateConflict
from paht.runtime.sla import VN, Step, default_engine
from services.dispatch.adapters.schema import load_all
from services.dispatch.domain.directory import OrgUnit, Topic
from services.dispatch.domain.dispatching import DispatchItem, Status
from services.dispatch.service_layer import handlers, routing
from tests.support.fakes import FakeUnitOfWork
from tests.support.services import principal

load_all()  # map the domain classes before making instances: one made unmapped breaks once another test maps its class
IOC = principal("ioc", ["ioc_operator"], "ioc-tinh")
MEMBER = principal("bcd", ["steering_member"], "ban-chi-dao")
ENGINE = default_engine()


class Items:
    def __init__(self, *items: DispatchItem):
        self.items = {i.report_id: i for i in items}

    def get(self, report_id, *, for_change=False):
        return self.items.get(report_id)

    def add(self, item):
        self.items[item.report_id] = item


class Directory:
    """Units and topics in memory; `areas` maps an area code to the ids of the units serving it, `boundaries` a point to codes."""

    def __init__(self, *units: OrgUnit, topics: tuple[Topic, ...] = (), areas: dict | None = None, boundaries: dict | None = None):
        self._units = {u.id: u for u in units}
        self._topics = list(topics)
        self._areas = areas or {}
        self._boundaries = boundaries or {}

    def unit(self, unit_id):
        return self._units.get(unit_id)

    def units(self, parent_id=None, roots_only=False, lead_only=False):
        return [u for u in self._units.values() if u.can_lead or not lead_only]

    def topic(self, code):
        return next((t for t in self._topics if t.code == code), None)

    def locate(self, lat, lon, on):
        return self._boundaries.get((lat, lon), [])

    def units_serving(self, area_code, on):
        return [self._units[i] for i in self._areas.get(area_code, [])]


class Refusal:
    report_id = "r1"


def agency(id: str, kind: str, fields: str, name: str, parent_id: str | None = "province", can_lead: bool = True, hub: str = "") -> OrgUnit:
    return OrgUnit(id=id, code=id.upper(), name=name, name_en=f"EN {name}", kind=kind, parent_id=parent_id, hub_node=hub, can_lead=can_lead,
                   fields=list(fields), valid_from=date(2022, 5, 5))


PROVINCE = agency("province", "province", "", "Tỉnh Quảng Bình", parent_id=None, can_lead=False)
GTVT = agency("so-gtvt", "department", "h", "Sở Giao thông vận tải")
YT = agency("so-yt", "department", "b", "Sở Y tế")
XD = agency("so-xd", "department", "c", "Sở Xây dựng")
DONGHOI = agency("donghoi-city", "district", "n", "UBND thành phố Đồng Hới", hub="donghoi")
CUCO = agency("emergency-114", "emergency", "", "Cứu hỏa 114", can_lead=False)
OLD = OrgUnit(id="so-cu", code="SC", name="Sở cũ", name_en="Old department", kind="department", parent_id="province", hub_node="",
              can_lead=True, fields=["h"], valid_from=date(2022, 5, 5), valid_to=date(2023, 1, 1))
ROADS = Topic(code="roads", name="Hạ tầng giao thông", name_en="Road infrastructure", group_code="g", group_name="G", fields=["h", "c"])
FOOD = Topic(code="food", name="An toàn thực phẩm", name_en="Food safety", group_code="g", group_name="G", fields=["b"])


def directory(**kw) -> Directory:
    return Directory(PROVINCE, GTVT, YT, XD, DONGHOI, CUCO, OLD, topics=(ROADS, FOOD), **kw)


def fresh_item(topic: str = "roads", received: datetime | None = None, urgent: bool = False, **kw) -> DispatchItem:
    return DispatchItem.accepted("r1", received or datetime.now(timezone.utc) - timedelta(minutes=5), urgent, topic, "g", ENGINE, **kw)


def test_dispatch_emits_one_event_with_the_next_version_and_the_deadlines_of_steps_3_and_3_to_6():
    uow = FakeUnitOfWork(items=Items(fresh_item()), directory=directory())
    item = handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "  Gấp  ")
    ((event, report_id, version),) = uow.events
    assert (report_id, version, event.round, event.lead_agency.id, event.note, event.on_time) == ("r1", 1, 1, "so-gtvt", "Gấp", True)
    assert item.status == Status.DISPATCHED.value and event.meta.actor.subject == "ioc" and not event.escalated
    sent = item.rounds[0].dispatched_at
    assert event.agency_due.ToDatetime(tzinfo=timezone.utc) == ENGINE.due(Step.AGENCY, sent, org=("so-gtvt", "province"))
    assert event.handling_due.ToDatetime(tzinfo=timezone.utc) == ENGINE.due(Step.HANDLING, sent, org=("so-gtvt", "province"))
    assert item.rounds[0].dispatched_by == "ioc" and item.rounds[0].agency_name == "Sở Giao thông vận tải"


def test_the_agency_and_its_ancestors_are_the_org_the_engine_resolves_along():
    """A shorter limit set for the province (an ancestor) applies to the department's steps 3-6."""
    from paht.runtime.sla import CalendarData, SlaEngine
    from services.dispatch.service_layer import calendar

    uow = FakeUnitOfWork(items=Items(fresh_item()), directory=directory())
    assert calendar.org_path(uow, GTVT) == ("so-gtvt", "province")
    strict = SlaEngine(CalendarData(agency_limits={"province": 3}))
    start = datetime(2026, 3, 3, 2, 15, tzinfo=timezone.utc)  # Tuesday 09:15 in Vietnam
    assert strict.due(Step.HANDLING, start, org=calendar.org_path(uow, GTVT)) < ENGINE.due(Step.HANDLING, start)


def test_an_urgent_report_is_dispatched_as_urgent_so_handling_puts_it_first():
    uow = FakeUnitOfWork(items=Items(fresh_item(urgent=True)), directory=directory())
    handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "")
    ((event, _report_id, _version),) = uow.events
    assert event.urgent


def test_unknown_reports_and_agencies_are_not_found_and_nothing_is_emitted():
    uow = FakeUnitOfWork(items=Items(fresh_item()), directory=directory())
    with pytest.raises(NotFound):
        handlers.dispatch_to_lead_agency(uow, IOC, "nope", "so-gtvt", "")
    with pytest.raises(NotFound):
        handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-nowhere", "")
    assert uow.events == []


@pytest.mark.parametrize("agency_id, words", [
    ("emergency-114", "cannot be a lead agency"),
    ("province", "cannot be a lead agency"),
    ("so-cu", "not in force"),
])
def test_an_agency_that_cannot_lead_is_refused_in_both_languages(agency_id, words):
    items = Items(fresh_item())
    uow = FakeUnitOfWork(items=items, directory=directory())
    with pytest.raises(InvalidInput) as refused:
        handlers.dispatch_to_lead_agency(uow, IOC, "r1", agency_id, "")
    assert words in refused.value.detail_en and refused.value.detail_vi != refused.value.detail_en
    assert uow.events == [] and items.get("r1").status == Status.AWAITING_DISPATCH.value and items.get("r1").rounds == []


def test_an_agency_without_competence_needs_a_written_reason_which_travels_with_the_round():
    items = Items(fresh_item("food"))
    uow = FakeUnitOfWork(items=items, directory=directory())
    with pytest.raises(InvalidInput) as refused:
        handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "")
    assert "competence_reason" in refused.value.detail_en and "thẩm quyền" in refused.value.detail_vi
    with pytest.raises(InvalidInput) as short:
        handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "", competence_reason="  ngắn  ")
    assert short.value.key == "error.too_short"
    assert uow.events == []
    reason = "Bếp ăn nằm trong bến xe do Sở quản lý"
    item = handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "", competence_reason=f" {reason} ")
    ((event, _rid, _version),) = uow.events
    assert event.competence_reason == reason and item.rounds[0].competence_reason == reason


def test_a_competent_agency_needs_no_reason_and_a_local_committee_is_competent_by_level_in_its_area():
    uow = FakeUnitOfWork(items=Items(fresh_item("food")), directory=directory())
    handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-yt", "")
    # roads (h, c) in an area Đồng Hới serves: the city's People's Committee shares h by level
    here = directory(areas={"18853": ["donghoi-city", "so-gtvt"]})
    uow = FakeUnitOfWork(items=Items(fresh_item(area_code="18853")), directory=here)
    uow.hubs = ("donghoi",)  # the province declared the Đồng Hới hub: its cases are handled there
    handlers.dispatch_to_lead_agency(uow, IOC, "r1", "donghoi-city", "")
    ((event, _rid, _version),) = uow.events
    assert event.hub_node == "donghoi" and event.competence_reason == ""
    # no hub declared: the directory still places the city on the hub (the round keeps it), the province handles it
    uow = FakeUnitOfWork(items=Items(fresh_item(area_code="18853")), directory=here)
    item = handlers.dispatch_to_lead_agency(uow, IOC, "r1", "donghoi-city", "")
    ((event, _rid, _version),) = uow.events
    assert event.hub_node == "" and item.rounds[0].hub_node == "donghoi"
    # the same report placed in another district's area: the city is outside its territory there
    elsewhere = directory(areas={"19000": ["so-gtvt"]})
    with pytest.raises(InvalidInput):
        handlers.dispatch_to_lead_agency(FakeUnitOfWork(items=Items(fresh_item(area_code="19000")), directory=elsewhere), IOC, "r1",
                                         "donghoi-city", "")


def test_the_map_location_wins_over_the_area_code_when_a_boundary_contains_it():
    d = directory(areas={"18853": ["donghoi-city"], "19000": ["so-gtvt"]}, boundaries={(17.47, 106.62): ["18853", "450"]})
    item = fresh_item(location=(17.47, 106.62), area_code="19000")
    uow = FakeUnitOfWork(items=Items(item), directory=d)
    found = routing.suggest(uow, "r1", datetime.now(timezone.utc))
    assert found.place.source.value == "location" and found.place.area_codes == ("18853", "450")
    city = next(s for s in found.items if s.agency.id == "donghoi-city")
    assert "Serves area 18853" in city.reasons[-2].en and "map location" in city.reasons[-2].en
    # a point outside every boundary: the area code decides, and Đồng Hới does not serve 19000
    unplaced = routing.suggest(FakeUnitOfWork(items=Items(fresh_item(location=(10.0, 10.0), area_code="19000")), directory=d), "r1",
                               datetime.now(timezone.utc))
    assert unplaced.place.source.value == "area_code" and "donghoi-city" not in [s.agency.id for s in unplaced.items]
    assert uow.events == []  # suggestions never dispatch


def test_a_refusal_reopens_step_two_with_its_reason_and_a_clock_from_the_refusal():
    items = Items(fresh_item())
    uow = FakeUnitOfWork(items=items, directory=directory())
    with pytest.raises(StateConflict):  # never dispatched: the event cannot apply, so it is parked, not dropped
        handlers.on_case_refused_by_agency(uow, handling_ev.CaseRefusedByAgency(), Refusal())
    handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "")
    refusal = handling_ev.CaseRefusedByAgency(reason="Không thuộc thẩm quyền của Sở")
    refused_at = datetime(2026, 3, 3, 3, 0, tzinfo=timezone.utc)  # 10:00 in Vietnam
    refusal.meta.occurred_at.FromDatetime(refused_at)
    handlers.on_case_refused_by_agency(uow, refusal, Refusal())
    item = items.get("r1")
    assert item.status == Status.REFUSED_BY_AGENCY.value and item.lead_agency_id == ""
    assert item.last_refusal.refusal_reason == "Không thuộc thẩm quyền của Sở" and item.last_refusal.refused_at == refused_at
    assert item.clock_start == refused_at and item.dispatch_due == refused_at + timedelta(hours=1)
    with pytest.raises(NotFound):
        handlers.on_case_refused_by_agency(FakeUnitOfWork(items=Items()), handling_ev.CaseRefusedByAgency(), Refusal())


def test_the_place_of_an_accepted_report_is_kept_for_routing_and_a_broken_location_is_dropped():
    items = Items()
    accepted = intake_ev.ReportAccepted(topic_code="roads", group_code="g", area_code="18853")
    accepted.location.lat, accepted.location.lon = 17.468, 106.622
    accepted.received_at.FromDatetime(datetime(2026, 3, 2, 14, 59, 59, tzinfo=timezone.utc))  # 21:59:59 in Vietnam

    class Envelope:
        report_id = "r1"

    handlers.on_report_accepted(FakeUnitOfWork(items=items), accepted, Envelope())
    item = items.get("r1")
    assert (item.location, item.area_code) == ((17.468, 106.622), "18853")
    assert item.dispatch_due == datetime(2026, 3, 2, 22, 59, 59, tzinfo=VN)
    nowhere = intake_ev.ReportAccepted(topic_code="roads")
    nowhere.location.lat = 123.0  # not on Earth
    Envelope.report_id = "r2"
    handlers.on_report_accepted(FakeUnitOfWork(items=items), nowhere, Envelope())
    assert items.get("r2").location is None and items.get("r2").area_code == ""


def test_the_facts_handling_needs_travel_from_acceptance_to_the_dispatched_event():
    """Title, who reports, private result and state secret: kept at acceptance, announced with every round."""
    items = Items()
    accepted = intake_ev.ReportAccepted(topic_code="roads", group_code="g", title="  Cống thoát nước bị vỡ  ",
                                        reporter_kind="organisation", private_result=True, state_secret=True)
    accepted.received_at.FromDatetime(datetime.now(timezone.utc) - timedelta(minutes=5))

    class Envelope:
        report_id = "r1"

    handlers.on_report_accepted(FakeUnitOfWork(items=items), accepted, Envelope())
    item = items.get("r1")
    assert (item.title, item.reporter_kind, item.private_result, item.state_secret) == ("Cống thoát nước bị vỡ", "organisation", True, True)
    uow = FakeUnitOfWork(items=items, directory=directory())
    handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "")
    ((event, _report_id, _version),) = uow.events
    assert (event.title, event.reporter_kind, event.private_result, event.state_secret) == ("Cống thoát nước bị vỡ", "organisation", True, True)


def test_a_state_secret_flag_changed_after_dispatch_is_passed_on_to_the_lead_agency():
    items = Items()

    class Envelope:
        report_id = "r1"

    handlers.on_report_accepted(FakeUnitOfWork(items=items), intake_ev.ReportAccepted(topic_code="roads", group_code="g"), Envelope())
    quiet = FakeUnitOfWork(items=items)
    handlers.on_report_classified(quiet, intake_ev.ReportClassified(state_secret=True), Envelope())
    quiet.commit()
    assert items.get("r1").state_secret is True and quiet.events == []  # not dispatched yet: the dispatch will carry it
    uow = FakeUnitOfWork(items=items, directory=directory())
    handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "")
    assert uow.events[0][0].state_secret is True
    later = FakeUnitOfWork(items=items)
    handlers.on_report_classified(later, intake_ev.ReportClassified(state_secret=False), Envelope())
    later.commit()  # as the consumer's unit of work does
    ((event, report_id, version),) = later.events
    assert (type(event).__name__, event.state_secret, report_id, version) == ("ReportReclassified", False, "r1", uow.events[0][2] + 1)
    again = FakeUnitOfWork(items=items)
    handlers.on_report_classified(again, intake_ev.ReportClassified(state_secret=False), Envelope())
    again.commit()
    assert again.events == []  # the same flag again changes nothing


def test_an_acceptance_from_before_reporter_kind_was_sent_is_a_person_with_a_public_result():
    items = Items()

    class Envelope:
        report_id = "r1"

    handlers.on_report_accepted(FakeUnitOfWork(items=items), intake_ev.ReportAccepted(topic_code="roads", group_code="g"), Envelope())
    uow = FakeUnitOfWork(items=items, directory=directory())
    handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "")
    ((event, _report_id, _version),) = uow.events
    assert (event.title, event.reporter_kind, event.private_result, event.state_secret) == ("", "person", False, False)


# --- the Steering Committee -------------------------------------------------------------------------------

def test_escalation_extends_the_deadline_from_arrival_and_the_committee_designates_the_lead_agency():
    arrival = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # 09:00 in Vietnam
    items = Items(fresh_item(received=arrival))
    uow = FakeUnitOfWork(items=items, directory=directory())
    item = handlers.escalate(uow, IOC, "r1", "Hai cơ quan đều cho rằng không thuộc thẩm quyền", ["so-gtvt", "so-xd", "so-gtvt"])
    assert item.status == Status.ESCALATED.value and item.dispatch_due == datetime(2026, 3, 2, 10, 30, tzinfo=VN)
    ((escalated, _rid, version),) = uow.events
    assert version == 1 and [a.id for a in escalated.candidate_agencies] == ["so-gtvt", "so-xd"]
    assert escalated.dispatch_due.ToDatetime(tzinfo=timezone.utc) == datetime(2026, 3, 2, 3, 30, tzinfo=timezone.utc)
    with pytest.raises(StateConflict) as dispatch_now:
        handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "")
    assert "withdraw" in dispatch_now.value.detail_en
    with pytest.raises(StateConflict):  # escalated twice
        handlers.escalate(uow, IOC, "r1", "Báo cáo lần thứ hai cho chắc", ["so-gtvt", "so-xd"])
    item = handlers.decide(uow, MEMBER, "r1", "so-xd", "Giao Sở Xây dựng chủ trì xử lý")
    dispatched, _rid, version = uow.events[-1]
    assert version == 2 and dispatched.escalated and dispatched.decision == "Giao Sở Xây dựng chủ trì xử lý"
    assert dispatched.meta.actor.subject == "bcd" and dispatched.lead_agency.id == "so-xd"
    assert (item.rounds[0].designated_by_committee, item.escalations[0].state, item.escalations[0].agency_id) == (True, "decided", "so-xd")
    with pytest.raises(StateConflict) as twice:
        handlers.decide(uow, MEMBER, "r1", "so-gtvt", "Giao Sở Giao thông vận tải chủ trì")
    assert "nothing left to decide" in twice.value.detail_en and len(uow.events) == 2


def test_a_night_arrival_escalated_is_due_at_0730_and_withdrawing_restores_0700():
    arrival = datetime(2026, 3, 2, 16, 30, tzinfo=timezone.utc)  # 23:30 in Vietnam
    items = Items(fresh_item(received=arrival))
    uow = FakeUnitOfWork(items=items, directory=directory())
    handlers.escalate(uow, IOC, "r1", "Hai cơ quan chưa thống nhất phương án", ["so-gtvt", "so-xd"])
    assert items.get("r1").dispatch_due == datetime(2026, 3, 3, 7, 30, tzinfo=VN)
    item = handlers.withdraw_escalation(uow, IOC, "r1", "Hai cơ quan đã thống nhất")
    assert item.status == Status.AWAITING_DISPATCH.value and item.dispatch_due == datetime(2026, 3, 3, 7, 0, tzinfo=VN)
    withdrawn, _rid, version = uow.events[-1]
    assert version == 2 and withdrawn.reason == "Hai cơ quan đã thống nhất"
    assert item.escalations[0].state == "withdrawn" and item.pending_escalation is None
    with pytest.raises(StateConflict):  # nothing left to withdraw
        handlers.withdraw_escalation(uow, IOC, "r1", "")
    with pytest.raises(StateConflict):  # nothing for the committee to decide
        handlers.decide(uow, MEMBER, "r1", "so-xd", "Giao Sở Xây dựng chủ trì xử lý")


@pytest.mark.parametrize("reason, candidates, error", [
    ("Hai cơ quan chưa thống nhất", ["so-gtvt"], InvalidInput),                     # one agency needs no committee
    ("Hai cơ quan chưa thống nhất", ["so-gtvt", "so-gtvt"], InvalidInput),          # the same one twice
    ("ngắn", ["so-gtvt", "so-xd"], InvalidInput),                                   # reason under 10 characters
    ("Hai cơ quan chưa thống nhất", ["so-gtvt", "nowhere"], NotFound),
    ("Hai cơ quan chưa thống nhất", ["so-gtvt", "emergency-114"], InvalidInput),    # cannot lead
    ("Hai cơ quan chưa thống nhất", ["so-gtvt", "so-cu"], InvalidInput),            # not in force
], ids=["one", "same-twice", "short-reason", "unknown", "cannot-lead", "not-in-force"])
def test_an_escalation_names_two_or_more_agencies_that_may_lead_and_says_why(reason, candidates, error):
    items = Items(fresh_item())
    uow = FakeUnitOfWork(items=items, directory=directory())
    with pytest.raises(error) as refused:
        handlers.escalate(uow, IOC, "r1", reason, candidates)
    assert refused.value.detail_en != refused.value.detail_vi
    assert uow.events == [] and items.get("r1").status == Status.AWAITING_DISPATCH.value and items.get("r1").escalations == []


def test_after_a_refusal_the_escalation_counts_from_the_refusal_and_withdrawing_returns_to_the_refused_state():
    items = Items(fresh_item())
    uow = FakeUnitOfWork(items=items, directory=directory())
    handlers.dispatch_to_lead_agency(uow, IOC, "r1", "so-gtvt", "")
    refusal = handling_ev.CaseRefusedByAgency(reason="Không thuộc thẩm quyền")
    refused_at = datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc)  # 08:00 in Vietnam
    refusal.meta.occurred_at.FromDatetime(refused_at)
    handlers.on_case_refused_by_agency(uow, refusal, Refusal())
    item = handlers.escalate(uow, IOC, "r1", "Sở GTVT và Sở XD chưa thống nhất", ["so-gtvt", "so-xd"])
    assert item.dispatch_due == refused_at + timedelta(minutes=90) and item.escalations[0].round == 2
    item = handlers.withdraw_escalation(uow, IOC, "r1")
    assert item.status == Status.REFUSED_BY_AGENCY.value and item.last_refusal.refusal_reason == "Không thuộc thẩm quyền"


def vn(y, mo, d, h, mi=0, s=0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=VN)


@pytest.mark.parametrize("arrival, urgent, due", [
    (vn(2026, 3, 2, 9, 15), False, vn(2026, 3, 2, 10, 15)),      # by day: 1 hour
    (vn(2026, 3, 2, 6, 0), False, vn(2026, 3, 2, 7, 0)),         # 06:00 is day
    (vn(2026, 3, 2, 21, 59), False, vn(2026, 3, 2, 22, 59)),
    (vn(2026, 3, 2, 22, 0), False, vn(2026, 3, 2, 23, 0)),       # 22:00 exactly is day ("từ 06h00 đến 22h00")
    (vn(2026, 3, 2, 22, 0, 1), False, vn(2026, 3, 3, 7, 0)),     # after 22:00: 07:00 next morning
    (vn(2026, 3, 2, 23, 40), False, vn(2026, 3, 3, 7, 0)),
    (vn(2026, 3, 3, 2, 10), False, vn(2026, 3, 3, 7, 0)),        # after midnight the "next morning" is the same day
    (vn(2026, 3, 3, 5, 59), False, vn(2026, 3, 3, 7, 0)),
    (vn(2026, 3, 3, 2, 0), True, vn(2026, 3, 3, 2, 10)),         # urgent: 10 minutes at any hour
], ids=["09:15", "06:00", "21:59", "22:00", "22:00:01", "23:40", "02:10", "05:59", "urgent-02:00"])
def test_the_step_two_deadline_of_an_accepted_report(arrival, urgent, due):
    """The rules the old deadlines module held, now the SLA engine's, as every item applies them."""
    item = DispatchItem.accepted("r1", arrival, urgent, "roads", "g", ENGINE)
    assert item.dispatch_due == due and item.dispatch_due.tzinfo == timezone.utc


# --- the aggregate alone (what tests/unit/test_dispatch_and_sync_domain.py checked before rounds and the engine) ---

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)  # 10:00 in Vietnam


def test_the_item_dispatches_once_on_time_or_late_and_after_a_refusal_again_in_a_new_round():
    item = DispatchItem.accepted("r1", NOW, False, "t", "g", ENGINE)
    assert item.status == Status.AWAITING_DISPATCH.value and item.dispatch_due == NOW + timedelta(hours=1)
    sent = item.dispatch_to_lead_agency(GTVT, NOW + timedelta(minutes=30), "ioc", "")
    assert sent.on_time and (item.round, item.lead_agency_id, sent.round) == (1, "so-gtvt", 1)
    with pytest.raises(StateConflict):
        item.dispatch_to_lead_agency(XD, NOW, "ioc", "")
    later = NOW + timedelta(hours=3)
    item.refused_by_agency(later, "Không thuộc thẩm quyền", ENGINE)
    assert item.status == Status.REFUSED_BY_AGENCY.value and item.dispatch_due == later + timedelta(hours=1)
    again = item.dispatch_to_lead_agency(XD, later + timedelta(hours=2), "ioc", "")
    assert (item.round, again.round, again.on_time) == (2, 2, False)  # two hours after the refusal: late
    assert [(r.round, r.agency_id, r.refusal_reason) for r in item.rounds] == [(1, "so-gtvt", "Không thuộc thẩm quyền"), (2, "so-xd", "")]


def test_the_item_refuses_units_that_cannot_lead_or_have_ended():
    item = DispatchItem.accepted("r1", NOW, False, "t", "g", ENGINE)
    with pytest.raises(InvalidInput):
        item.dispatch_to_lead_agency(agency("x", "department", "h", "X", can_lead=False), NOW, "ioc", "")
    with pytest.raises(InvalidInput):
        item.dispatch_to_lead_agency(OLD, NOW, "ioc", "")
    assert item.status == Status.AWAITING_DISPATCH.value and item.round == 0
