"""SLA clocks on a real database: every step's clock opened and stopped by the events of every service,
the monitor's warnings and breaches exactly once (also with two monitors at once on PostgreSQL), the
notices owed to people, the overdue lists, and the business calendar's revisions."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.publication.v1 import events_pb2 as publication_ev
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import CALENDAR_ID, new_id
from paht.runtime.notify import DevOutboxNotifier
from paht.runtime.sla import Step, default_engine
from services.dispatch.adapters.orm_clocks import sla_notices
from services.dispatch.bootstrap import SPEC, build_http, seed
from services.dispatch.service_layer import monitor
from tests.support.services import deliver, migrated_context, outbox_envelopes, token_for

pytestmark = pytest.mark.integration
UTC = timezone.utc
# Tuesday 3 March 2026, 09:00 in Vietnam (02:00 UTC): a plain working day, far from Tết.
ARRIVAL = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
def dispatch(settings):
    settings = settings.model_copy(update={"demo_password": "mật-khẩu-thử"})
    ctx = migrated_context(SPEC, settings)
    seed(ctx)
    yield ctx
    ctx.engine.dispose()


def envelope(ctx, producer: str, event, report_id: str, version: int, at: datetime) -> Envelope:
    event.meta.occurred_at.FromDatetime(at)
    return Envelope.for_event(event, node_id=ctx.settings.node_id, service=producer, report_id=report_id, version=version)


def accepted(ctx, report_id: str, at: datetime = ARRIVAL, urgent: bool = False) -> Envelope:
    event = intake_ev.ReportAccepted(topic_code="ha-tang-giao-thong", group_code="kinh-te-xa-hoi", urgent=urgent)
    event.received_at.FromDatetime(at)
    return envelope(ctx, "intake", event, report_id, 1, at)


def dispatched(ctx, report_id: str, at: datetime, agency: str = "so-gtvt", on_time: bool = True) -> Envelope:
    engine = default_engine()
    event = dispatch_ev.ReportDispatched(lead_agency=common_pb2.OrgRef(id=agency), round=1, on_time=on_time)
    event.agency_due.FromDatetime(engine.due(Step.AGENCY, at, org=(agency,)))
    event.handling_due.FromDatetime(engine.due(Step.HANDLING, at, org=(agency,)))
    return envelope(ctx, "dispatch", event, report_id, 1, at)


def clocks_of(ctx, report_id: str) -> dict[str, dict]:
    return {c["step"] + ("" if c["n"] == 1 else f"#{c['n']}"): c for c in monitor.clocks_of_report(ctx.uow(), report_id)}


def sla_events(ctx) -> list:
    return [e for e in outbox_envelopes(ctx) if e.type.endswith(("SlaWarning", "SlaBreached"))]


def test_the_step_2_clock_runs_from_arrival_to_the_item_s_deadline_and_warns_at_80_percent(dispatch):
    report = new_id()
    deliver(dispatch, accepted(dispatch, report))
    clock = clocks_of(dispatch, report)["dispatch"]
    assert clock["due_at"] == (ARRIVAL + timedelta(hours=1)).isoformat()  # 09:00 by day: 1 hour
    assert clock["warn_at"] == (ARRIVAL + timedelta(minutes=48)).isoformat()
    assert clock["responsible_org"] == "ioc-tinh" and clock["state"] == "open"
    assert monitor.monitor_pass(dispatch.uow(), ARRIVAL + timedelta(minutes=47)).warned == 0
    assert monitor.monitor_pass(dispatch.uow(), ARRIVAL + timedelta(minutes=48)).warned == 1
    assert monitor.monitor_pass(dispatch.uow(), ARRIVAL + timedelta(minutes=59)).warned == 0  # once only
    second = monitor.monitor_pass(dispatch.uow(), ARRIVAL + timedelta(minutes=61))
    assert (second.warned, second.breached) == (0, 1)
    assert monitor.monitor_pass(dispatch.uow(), ARRIVAL + timedelta(hours=5)).breached == 0
    events = sla_events(dispatch)
    assert [e.type.rsplit(".", 1)[1] for e in events] == ["SlaWarning", "SlaBreached"]
    warning = events[0].decode()
    assert warning.clock.report_id == report and warning.step == "dispatch" and warning.elapsed_ratio == pytest.approx(0.8)
    assert [e.report_version for e in events] == [1, 2]  # ordered under the clock's own stream
    with dispatch.engine.connect() as conn:
        notices = {r.key: r.notice for r in conn.execute(select(sla_notices)).all()}
    assert set(notices) == {f"sla_warning:{report}:dispatch:1", f"sla_breach:{report}:dispatch:1"}
    assert "ioc" in notices[f"sla_breach:{report}:dispatch:1"]["to"]  # the IOC operators hear of it


def test_a_clock_found_already_late_is_warned_then_breached_in_one_pass(dispatch):
    report = new_id()
    deliver(dispatch, accepted(dispatch, report))
    result = monitor.monitor_pass(dispatch.uow(), ARRIVAL + timedelta(days=1))
    assert (result.warned, result.breached) == (1, 1)
    assert [e.report_version for e in sla_events(dispatch)] == [1, 2]


def test_every_step_s_clock_follows_the_report_through_the_procedure(dispatch):
    report = new_id()
    deliver(dispatch, accepted(dispatch, report))
    at = ARRIVAL + timedelta(minutes=30)
    deliver(dispatch, dispatched(dispatch, report, at))
    c = clocks_of(dispatch, report)
    assert c["dispatch"]["state"] == "stopped" and c["dispatch"]["met"] is True
    assert c["agency"]["due_at"] == (at + timedelta(hours=1)).isoformat() and c["agency"]["responsible_org"] == "so-gtvt"
    assert c["handling"]["due_at"] == (at + timedelta(days=7)).isoformat()  # 5 working days: next Tuesday, same time

    assigned = handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_UNIT, unit=common_pb2.OrgRef(id="so-gtvt-p-kcht"))
    deliver(dispatch, envelope(dispatch, "handling", assigned, report, 1, at + timedelta(minutes=20)))
    staff = handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_STAFF, unit=common_pb2.OrgRef(id="so-gtvt-p-kcht"),
                                     staff_subject="canbo")
    deliver(dispatch, envelope(dispatch, "handling", staff, report, 2, at + timedelta(minutes=40)))
    c = clocks_of(dispatch, report)
    assert c["agency"]["met"] is True and c["handling"]["responsible_subject"] == "canbo"

    drafted_at = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)  # Thursday 16:00 in Vietnam
    drafted = handling_ev.ResultDrafted(unit=common_pb2.OrgRef(id="so-gtvt-p-kcht"))
    drafted.approval_due.FromDatetime(default_engine().due(Step.APPROVAL, drafted_at))
    deliver(dispatch, envelope(dispatch, "handling", drafted, report, 3, drafted_at))
    c = clocks_of(dispatch, report)
    assert c["handling"]["state"] == "stopped" and c["handling"]["met"] is True
    assert c["approval"]["due_at"] == datetime(2026, 3, 6, 9, 0, tzinfo=UTC).isoformat()  # Friday 16:00
    assert c["approval"]["responsible_org"] == "so-gtvt-p-kcht"

    returned = handling_ev.ResultReturned(reason="Bổ sung ảnh hiện trường sau khi sửa.")
    deliver(dispatch, envelope(dispatch, "handling", returned, report, 4, drafted_at + timedelta(hours=1)))
    c = clocks_of(dispatch, report)
    assert c["handling"]["state"] == "open" and c["approval"]["state"] == "stopped"
    drafted2 = handling_ev.ResultDrafted(unit=common_pb2.OrgRef(id="so-gtvt-p-kcht"))
    deliver(dispatch, envelope(dispatch, "handling", drafted2, report, 5, drafted_at + timedelta(hours=2)))
    approved_at = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)  # Friday 22:30 in Vietnam: a night arrival for step 8
    deliver(dispatch, envelope(dispatch, "handling", handling_ev.ResultApproved(), report, 6, approved_at))
    c = clocks_of(dispatch, report)
    assert c["approval#2"]["met"] is False  # due Friday 17:00 (reported after hours Thursday): approved at 22:30, late
    assert c["publish"]["due_at"] == datetime(2026, 3, 7, 0, 0, tzinfo=UTC).isoformat()  # 07:00 Saturday: the IOC works 24/7
    published = publication_ev.ResultPublished(on_time=True)
    published.publish_due.FromDatetime(datetime(2026, 3, 7, 0, 0, tzinfo=UTC))
    published.published_at.FromDatetime(datetime(2026, 3, 6, 23, 30, tzinfo=UTC))
    deliver(dispatch, envelope(dispatch, "publication", published, report, 1, datetime(2026, 3, 6, 23, 30, tzinfo=UTC)))
    c = clocks_of(dispatch, report)
    assert c["publish"]["state"] == "stopped" and c["publish"]["met"] is True
    assert not [k for k, v in c.items() if v["state"] == "open"]

    # After publication: a clarification (1 working day at the unit), then through the IOC as the answer went
    asked_at = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # Monday 09:00
    deliver(dispatch, envelope(dispatch, "publication", publication_ev.ClarificationRequested(clarification_id="c1"), report, 2, asked_at))
    deliver(dispatch, envelope(dispatch, "handling", handling_ev.ClarificationGiven(clarification_id="c1"), report, 7,
                               asked_at + timedelta(hours=3)))
    c = clocks_of(dispatch, report)
    assert c["clarify"]["state"] == "stopped" and c["clarify"]["met"] is True
    assert c["publish#2"]["state"] == "open" and c["publish#2"]["due_at"] == (asked_at + timedelta(hours=4)).isoformat()  # 1 h
    back = publication_ev.ClarificationSentBack(clarification_id="c1", reason="Ghi rõ tuyến đường.")
    deliver(dispatch, envelope(dispatch, "publication", back, report, 3, asked_at + timedelta(hours=3, minutes=30)))
    c = clocks_of(dispatch, report)
    assert c["publish#2"]["state"] == "stopped" and c["clarify#2"]["state"] == "open"
    deliver(dispatch, envelope(dispatch, "handling", handling_ev.ClarificationGiven(clarification_id="c1"), report, 8,
                               asked_at + timedelta(hours=5)))
    shown = publication_ev.ClarificationPublished(clarification_id="c1")
    shown.published_at.FromDatetime(asked_at + timedelta(hours=5, minutes=20))
    deliver(dispatch, envelope(dispatch, "publication", shown, report, 4, asked_at + timedelta(hours=5, minutes=20)))
    c = clocks_of(dispatch, report)
    assert c["clarify#2"]["met"] is True and c["publish#3"]["state"] == "stopped" and c["publish#3"]["met"] is True
    assert not [k for k, v in c.items() if v["state"] == "open"]


def test_a_refusal_at_step_3_cancels_the_agency_s_clocks_and_opens_step_2_again(dispatch):
    report = new_id()
    deliver(dispatch, accepted(dispatch, report))
    client = TestClient(build_http(dispatch))
    headers = {"Authorization": "Bearer " + token_for(dispatch.settings, "ioc", ["ioc_operator"], "ioc-tinh")}
    r = client.post(f"/api/dispatch/v1/reports/{report}/dispatch", json={"agency_id": "so-gtvt"}, headers=headers)
    assert r.status_code == 200, r.text
    own = [e for e in outbox_envelopes(dispatch) if e.type.endswith("ReportDispatched")][-1]
    deliver(dispatch, own)
    refused = handling_ev.CaseRefusedByAgency(agency=common_pb2.OrgRef(id="so-gtvt"), reason="Không thuộc thẩm quyền của Sở.")
    deliver(dispatch, envelope(dispatch, "handling", refused, report, 1, datetime.now(UTC)))
    c = clocks_of(dispatch, report)
    assert c["agency"]["state"] == "cancelled" and c["handling"]["state"] == "cancelled"
    assert c["dispatch#2"]["state"] == "open"


def test_two_monitors_at_once_announce_each_clock_exactly_once(dispatch):
    reports = [new_id() for _ in range(120)]
    for report in reports:
        deliver(dispatch, accepted(dispatch, report))
    later = ARRIVAL + timedelta(days=2)
    results, errors = [], []
    start = threading.Barrier(3)

    def run():
        start.wait()
        try:
            results.append(monitor.monitor_pass(dispatch.uow(), later, batch=25))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(r.breached for r in results) == 120 and sum(r.warned for r in results) == 120
    events = sla_events(dispatch)
    assert len(events) == 240 and len({(e.report_id, e.report_version) for e in events}) == 240
    with dispatch.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sla_notices)).scalar_one() == 240


def test_notices_are_sent_once_and_a_failing_gateway_is_retried_later(dispatch, tmp_path):
    report = new_id()
    deliver(dispatch, accepted(dispatch, report))
    monitor.monitor_pass(dispatch.uow(), ARRIVAL + timedelta(hours=2))

    class Down:
        def send(self, notice):
            raise ConnectionError("gateway down")

    assert monitor.send_notices(dispatch.uow(), Down()) == 0
    outbox = DevOutboxNotifier(tmp_path)
    assert monitor.send_notices(dispatch.uow(), outbox) == 0  # both wait out their back-off
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert monitor.send_notices(dispatch.uow(), outbox, later) == 2
    assert monitor.send_notices(dispatch.uow(), outbox, later + timedelta(hours=1)) == 0
    sent = outbox.sent()
    assert sorted(n["kind"] for n in sent) == ["sla_breach", "sla_warning"]
    assert all(report[:8] in n["subject"][1] for n in sent)


def test_overdue_lists_per_agency_and_per_step_for_the_ioc_and_the_steering_committee(dispatch):
    late, fresh = new_id(), new_id()
    deliver(dispatch, accepted(dispatch, late, at=datetime.now(UTC) - timedelta(hours=3)))
    deliver(dispatch, dispatched(dispatch, late, datetime.now(UTC) - timedelta(days=20)))
    deliver(dispatch, accepted(dispatch, fresh, at=datetime.now(UTC)))
    client = TestClient(build_http(dispatch))

    def get(path, who=("ioc", ["ioc_operator"], "ioc-tinh")):
        return client.get(path, headers={"Authorization": "Bearer " + token_for(dispatch.settings, *who)})

    by_org = get("/api/dispatch/v1/sla/overdue?by=org")
    assert by_org.status_code == 200, by_org.text
    groups = {g["key"]: g for g in by_org.json()["groups"]}
    assert groups["so-gtvt"]["overdue"] == 2  # steps 3 and 3-6 both late
    assert {i["report_id"] for i in by_org.json()["items"]} == {late}
    by_step = get("/api/dispatch/v1/sla/overdue?by=step&step=handling", ("bcd", ["steering_member"], "ban-chi-dao")).json()
    assert [i["step"] for i in by_step["items"]] == ["handling"] and by_step["items"][0]["standing"] == "overdue"
    assert get("/api/dispatch/v1/sla/overdue?by=nonsense").status_code == 422
    assert get("/api/dispatch/v1/sla/overdue", ("canbo", ["staff"], "so-gtvt-p-kcht")).status_code == 403
    page = client.get("/dispatch/sla?by=step", headers={"Authorization": "Bearer " + token_for(dispatch.settings, "ioc", ["ioc_operator"], "ioc-tinh")})
    assert page.status_code == 200 and "quá hạn" in page.text.lower()


def test_the_calendar_is_saved_whole_as_revisions_and_published(dispatch):
    client = TestClient(build_http(dispatch))
    admin = {"Authorization": "Bearer " + token_for(dispatch.settings, "admin", ["ioc_admin"], "ioc-tinh")}
    operator = {"Authorization": "Bearer " + token_for(dispatch.settings, "ioc", ["ioc_operator"], "ioc-tinh")}
    first = client.get("/api/dispatch/v1/calendar").json()
    assert first["revision"] == 1  # the seed's default calendar
    data = dict(first["calendar"])
    data["days"] = [{"day": "2026-12-24", "kind": "off", "name": "Nghỉ bù (thử)", "org_id": ""}]
    assert client.put("/api/dispatch/v1/calendar", json=data, headers=operator).status_code == 403
    saved = client.put("/api/dispatch/v1/calendar?note=thêm ngày nghỉ", json=data, headers=admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["revision"] == 2
    again = client.put("/api/dispatch/v1/calendar", json=data, headers=admin)
    assert again.json()["revision"] == 2  # unchanged: no new revision
    bad = dict(data, days=[{"day": "2026-13-01", "kind": "off", "name": "x", "org_id": ""}])
    refused = client.put("/api/dispatch/v1/calendar", json=bad, headers=admin)
    assert refused.status_code == 422 and "2026-13-01" in json.dumps(refused.json(), ensure_ascii=False)
    assert client.get("/api/dispatch/v1/calendar").json()["revision"] == 2  # nothing half-saved
    published = [e for e in outbox_envelopes(dispatch) if e.type.endswith("CalendarPublished")]
    assert [(e.report_id, e.report_version) for e in published] == [(CALENDAR_ID, 1), (CALENDAR_ID, 2)]
    assert json.loads(published[-1].decode().calendar_json)["days"][0]["day"] == "2026-12-24"
    revisions = client.get("/api/dispatch/v1/calendar/revisions", headers=admin).json()["items"]
    assert [r["revision"] for r in revisions] == [2, 1] and revisions[0]["by"] == "admin"


def test_paht_sla_due_uses_the_calendar_dispatch_stores(dispatch):
    import os
    import subprocess
    import sys

    client = TestClient(build_http(dispatch))
    admin = {"Authorization": "Bearer " + token_for(dispatch.settings, "admin", ["ioc_admin"], "ioc-tinh")}
    data = dict(client.get("/api/dispatch/v1/calendar").json()["calendar"])
    data["days"] = [{"day": "2026-03-04", "kind": "off", "name": "Nghỉ đột xuất (thử)", "org_id": ""}]  # a Wednesday
    assert client.put("/api/dispatch/v1/calendar", json=data, headers=admin).status_code == 200
    env = dict(os.environ, PAHT_DATA=str(dispatch.settings.data), PAHT_DB_SCHEMA_PREFIX=dispatch.settings.db_schema_prefix)

    def due(*extra):
        run = subprocess.run([sys.executable, "-m", "paht.runtime.cli", "sla", "due", "approval", "2026-03-03T16:00:00+07:00", *extra],
                             env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip().splitlines()[-1], run.stderr

    stored, said = due()
    assert stored == "2026-03-05T16:00:00+07:00" and "revision 2" in said  # Wednesday is off: Thursday 16:00
    builtin, said = due("--builtin")
    assert builtin == "2026-03-04T16:00:00+07:00" and "built-in" in said


def test_the_administrator_edits_the_calendar_on_its_page_and_a_wrong_entry_is_shown_not_saved(dispatch):
    import re

    from paht.runtime.http import TOKEN_COOKIE

    client = TestClient(build_http(dispatch))
    client.cookies.set(TOKEN_COOKIE, token_for(dispatch.settings, "admin", ["ioc_admin"], "ioc-tinh"))
    page = client.get("/dispatch/admin/calendar")
    assert page.status_code == 200 and 'id="calendar-revision"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    text = "version: 1\ndays:\n- {day: '2026-12-31', kind: 'off', name: 'Nghỉ cuối năm', org_id: ''}\n"
    origin = {"Origin": "http://testserver"}
    bad = client.post("/dispatch/admin/calendar", data={"csrf_token": token, "calendar": text.replace("2026-12-31", "2026-12-32")},
                      headers=origin)
    assert bad.status_code == 422 and "2026-12-32" in bad.text and "Nghỉ cuối năm" in bad.text  # what was typed is kept
    assert client.post("/dispatch/admin/calendar", data={"calendar": text}, headers=origin).status_code == 403  # no CSRF token
    saved = client.post("/dispatch/admin/calendar", data={"csrf_token": token, "calendar": text, "note": "Tết dương lịch"},
                        headers=origin, follow_redirects=True)
    assert saved.status_code == 200 and "Nghỉ cuối năm" in saved.text and "phiên bản 2" in saved.text
    client.cookies.set(TOKEN_COOKIE, token_for(dispatch.settings, "ioc", ["ioc_operator"], "ioc-tinh"))
    assert client.get("/dispatch/admin/calendar").status_code == 403
