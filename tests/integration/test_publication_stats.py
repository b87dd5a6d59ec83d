"""The statistics on a real database (SQLite, and PostgreSQL when DATABASE_URL is set): the read model keeps each report's
facts and the per-day rollup whatever order events come in; the API, its exports and its pages give the same figures
from the rollup and from the facts; who may see them; what is refused; the migration fills the reports already there."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from alembic import command
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select, text

from paht.common.v1 import common_pb2
from paht.dispatch.v1 import events_pb2 as dispatch_ev
from paht.handling.v1 import events_pb2 as handling_ev
from paht.intake.v1 import events_pb2 as intake_ev
from paht.runtime import db, migrations
from paht.runtime.events.consumer import Outcome
from paht.runtime.events.envelope import Envelope
from paht.runtime.ids import new_id
from paht.runtime.sla import VN
from services.publication import bootstrap
from services.publication.adapters import stats as stats_tables
from services.publication.adapters.orm import report_stats, stats_days, stats_durations
from services.publication.domain.stats import MEASURES
from services.publication.service_layer import feedback, handlers
from tests.integration.test_publication_portal import publish_names
from tests.support.services import deliver, migrated_context, principal, token_for

pytestmark = pytest.mark.integration
API = "/api/publication/v1/stats"
IOC = principal("op1", ["ioc_operator"], "ioc-tinh")
NOW = datetime.now(timezone.utc).replace(microsecond=0)
T0 = NOW - timedelta(days=2)
AGENCY_A = common_pb2.OrgRef(id="so-xd", code="SXD", name="Sở Xây dựng")
AGENCY_B = common_pb2.OrgRef(id="cty-dien", code="PC", name="Công ty Điện lực")
UNIT = common_pb2.OrgRef(id="so-xd-hatang", code="HT", name="Phòng Hạ tầng")


class Producer:
    """One producer's events about one report, numbered 1, 2, 3... at `start` + minutes."""

    def __init__(self, node: str, name: str, report_id: str, start: datetime):
        self.node, self.name, self.report_id, self.start, self.version = node, name, report_id, start, 0

    def __call__(self, event, minutes: float) -> Envelope:
        self.version += 1
        when = self.start + timedelta(minutes=minutes)
        event.meta.report_id, event.meta.report_version = self.report_id, self.version
        event.meta.occurred_at.FromDatetime(when)
        return Envelope.for_event(event, node_id=self.node, service=self.name, report_id=self.report_id, version=self.version,
                                  time=when.isoformat().replace("+00:00", "Z"))


STAGES = ("submitted", "accepted", "dispatched", "assigned", "drafted", "approved", "published")


def report(ctx, settings, *, start: datetime = T0, until: str = "approved", channel: int = intake_ev.CHANNEL_WEB, agency=AGENCY_A,
           topic: str = "giao-thong", area: str = "18856", private: bool = False, secret: bool = False, ref: str = "rep-1",
           due: dict | None = None, handling_first: bool = False, title: str = "Ổ gà trên đường Lý Thường Kiệt") -> str:
    """A report received at `start`: accepted +10 min, dispatched +20, unit +30, staff +40, draft +50, approved +60 (and published
    now, by the IOC, when `until` is "published"). `due` moves deadlines (minutes after start): dispatch 60, agency 35, handling
    5 days, approval 1 day by default."""
    due = {"dispatch": 60, "agency": 35, "handling": 5 * 24 * 60, "approval": 24 * 60, **(due or {})}
    rid = new_id()
    intake, dispatch, handling = (Producer(settings.node_id, n, rid, start) for n in ("intake", "dispatch", "handling"))
    stage = STAGES.index(until)
    submitted = intake_ev.ReportSubmitted(tracking_code="QB-" + rid[-8:-4].upper() + "-" + rid[-4:].upper(), reporter_ref=ref, title=title,
                                          description="Ổ gà sâu giữa đường.", address_text="Lý Thường Kiệt", area_code=area, channel=channel,
                                          private_result=private)
    submitted.received_at.FromDatetime(start)
    events = {"intake": [intake(submitted, 0)], "dispatch": [], "handling": []}
    if stage >= 1:
        events["intake"].append(intake(intake_ev.ReportAccepted(topic_code=topic, state_secret=secret, private_result=private), 10))
    if stage >= 2:
        dispatched = dispatch_ev.ReportDispatched(lead_agency=agency, round=1)
        for name in ("dispatch_due", "agency_due", "handling_due"):
            getattr(dispatched, name).FromDatetime(start + timedelta(minutes=due[name.removesuffix("_due")]))
        events["dispatch"].append(dispatch(dispatched, 20))
    if stage >= 3:
        events["handling"] += [handling(handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_UNIT, agency=agency, unit=UNIT), 30),
                               handling(handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_STAFF, agency=agency, unit=UNIT,
                                                                 staff_subject="canbo"), 40)]
    if stage >= 4:
        drafted = handling_ev.ResultDrafted(draft_id="d1", answer_text="Nháp", unit=UNIT)
        drafted.approval_due.FromDatetime(start + timedelta(minutes=50 + due["approval"]))
        events["handling"].append(handling(drafted, 50))
    if stage >= 5:
        events["handling"].append(handling(handling_ev.ResultApproved(draft_id="d1", answer_text="Đã vá ổ gà ngày 03/5. Trân trọng.",
                                                                      unit=UNIT, agency=agency), 60))
    order = ("intake", "handling", "dispatch") if handling_first else ("intake", "dispatch", "handling")
    for producer in order:
        for envelope in events[producer]:
            assert deliver(ctx, envelope) is Outcome.APPLIED
    if stage >= 6:
        handlers.publish_result(ctx.uow(), IOC, rid, None)
    return rid


@pytest.fixture
def ctx(settings):
    c = migrated_context(bootstrap.SPEC, settings)
    yield c
    c.engine.dispose()


@pytest.fixture
def client(ctx):
    return TestClient(bootstrap.build_http(ctx))


def bearer(settings, roles: list[str], who: str = "op1", org: str = "ioc-tinh") -> dict:
    return {"Authorization": f"Bearer {token_for(settings, who, roles, org)}"}


def ioc(settings) -> dict:
    return bearer(settings, ["ioc_operator"])


def period(**more) -> dict:
    return {"from": (T0 - timedelta(days=1)).astimezone(VN).date().isoformat(), "to": NOW.astimezone(VN).date().isoformat(), **more}


def figures(client, settings, **params) -> dict:
    r = client.get(API, params=period(**params), headers=ioc(settings))
    assert r.status_code == 200, r.text
    return r.json()


def by(rows: list[dict]) -> dict:
    return {r["code"]: r["reports"] for r in rows}


def steps(view: dict) -> dict:
    return {s["step"]: s for s in view["steps"]}


def rollup_rows(conn) -> tuple[set, set]:
    days = {tuple(r) for r in conn.execute(select(stats_days.c.dim, stats_days.c.day, stats_days.c.code, *(stats_days.c[m] for m in MEASURES)))
            if any(r[3:])}
    durations = {tuple(r) for r in conn.execute(select(stats_durations)) if r.reports}
    return days, durations


# --- what is counted -------------------------------------------------------------------------------------------------

def test_volumes_steps_agencies_and_satisfaction_of_a_period(ctx, settings, client):
    publish_names(ctx, settings)
    a1 = report(ctx, settings, until="published", ref="rep-a1")
    a2 = report(ctx, settings, until="published", channel=intake_ev.CHANNEL_APP, due={"agency": 25, "approval": 5}, ref="rep-a2")
    report(ctx, settings, until="drafted", channel=intake_ev.CHANNEL_CALL_CENTER, topic="moi-truong")
    b1 = report(ctx, settings, until="published", agency=AGENCY_B, topic="dien-nuoc-chieu-sang", handling_first=True, ref="rep-b1")
    report(ctx, settings, until="accepted", private=True)
    report(ctx, settings, until="submitted", channel=intake_ev.CHANNEL_OPEN311)
    feedback.rate(ctx.uow(), a1, ["rep-a1"], "satisfied", None)
    feedback.rate(ctx.uow(), a2, ["rep-a2"], "unsatisfied", "Chưa vá xong")
    feedback.rate(ctx.uow(), b1, ["rep-b1"], "acceptable", None)
    feedback.change_rating(ctx.uow(), a2, ["rep-a2"], "acceptable", None)

    v = figures(client, settings)
    assert v["source"] == "rollup"
    assert v["totals"] == {"received": 6, "not_eligible": 0, "published": 3, "open": 3, "rated": 3}
    assert by(v["by_channel"]) == {"web": 3, "app": 1, "call_center": 1, "open311": 1}
    assert [c["name"] for c in v["by_channel"] if c["code"] == "call_center"] == [{"vi": "Tổng đài", "en": "Call centre"}]
    assert by(v["by_topic"]) == {"giao-thong": 3, "moi-truong": 1, "dien-nuoc-chieu-sang": 1, "": 1}
    assert by(v["by_group"]) == {"ha-tang": 4, "moi-truong-nhom": 1, "": 1}
    assert by(v["by_status"]) == {"published": 3, "drafted": 1, "accepted": 1, "submitted": 1}
    assert sum(b["reports"] for b in v["series"]) == 6

    s = steps(v)
    assert (s["receive"]["done"], s["receive"]["mean_seconds"], s["receive"]["timed"]) == (5, 600, None)  # step 1: no deadline of its own
    assert (s["dispatch"]["done"], s["dispatch"]["mean_seconds"], s["dispatch"]["on_time"], s["dispatch"]["timed"]) == (4, 1200, 4, 4)
    assert (s["agency"]["done"], s["agency"]["on_time"], s["agency"]["timed"]) == (4, 3, 4)  # a2's unit came after its 25 min
    assert (s["handling"]["done"], s["handling"]["mean_seconds"], s["handling"]["on_time_rate"]) == (4, 1800, 1.0)
    assert (s["approval"]["done"], s["approval"]["on_time"], s["approval"]["timed"]) == (3, 2, 3)  # a2 approved 10 min after a 5 min due
    assert (s["publish"]["done"], s["publish"]["on_time"]) == (3, 0)  # approved two days ago, published now: late
    assert s["agency"]["p90_seconds"] >= 600 and s["total"]["done"] == 3

    agencies = {a["id"]: a for a in v["agencies"]}
    assert set(agencies) == {"so-xd", "cty-dien"}
    assert agencies["so-xd"]["name"] == {"vi": "Sở Xây dựng", "en": "Sở Xây dựng"} and agencies["so-xd"]["reports"] == 3
    a_steps = {x["step"]: x for x in agencies["so-xd"]["steps"]}
    assert (a_steps["agency"]["on_time"], a_steps["agency"]["timed"]) == (2, 3)
    assert agencies["so-xd"]["satisfaction"] == {"rated": 2, "satisfied": 1, "acceptable": 1, "unsatisfied": 0,
                                                 "satisfied_rate": 0.5, "content_rate": 1.0}
    assert agencies["cty-dien"]["satisfaction"]["acceptable"] == 1
    assert v["satisfaction"]["rated"] == 3 and v["satisfaction"]["content_rate"] == 1.0
    assert "rep-a1" not in str(v)  # the reporter's pseudonym never leaves the read model


def test_the_facts_of_the_matching_reports_give_the_rollups_figures(ctx, settings, client):
    publish_names(ctx, settings)
    for i in range(7):
        report(ctx, settings, until=STAGES[i % len(STAGES)], channel=(intake_ev.CHANNEL_WEB, intake_ev.CHANNEL_APP)[i % 2],
               agency=(AGENCY_A, AGENCY_B)[i % 3 == 0], due={"agency": 25 + 5 * i}, handling_first=i % 2 == 0, ref=f"rep-{i}")
    whole = figures(client, settings)
    narrowed = figures(client, settings, area="18856")  # every report is there: the same figures, read from report_stats
    assert narrowed["source"] == "reports" and whole["source"] == "rollup"
    for key in ("totals", "series", "by_status", "by_group", "by_topic", "by_area", "by_channel", "steps", "agencies", "satisfaction"):
        assert narrowed[key] == whole[key], key
    web = figures(client, settings, channel="web")
    assert web["totals"]["received"] == by(whole["by_channel"])["web"] and by(web["by_channel"]) == {"web": by(whole["by_channel"])["web"]}
    assert figures(client, settings, agency="cty-dien")["totals"]["received"] == next(a["reports"] for a in whole["agencies"] if a["id"] == "cty-dien")
    assert figures(client, settings, group="ha-tang")["totals"]["received"] == 6  # the one not accepted yet has no topic


def test_the_rollup_is_always_the_sum_of_the_facts_whatever_order_events_come_in(ctx, settings):
    rid = report(ctx, settings, until="approved", handling_first=True)
    # the agency refuses; round 2 goes to another agency, whose unit (from handling) arrives before dispatch's round 2
    dispatch = Producer(settings.node_id, "dispatch", rid, T0)
    dispatch.version = 1
    handling = Producer(settings.node_id, "handling", rid, T0)
    handling.version = 4
    assert deliver(ctx, handling(handling_ev.CaseRefusedByAgency(agency=AGENCY_A, reason="Không thuộc thẩm quyền"), 70)) is Outcome.APPLIED
    assert deliver(ctx, handling(handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_UNIT, agency=AGENCY_B, unit=UNIT), 100)) is Outcome.APPLIED
    round2 = dispatch_ev.ReportDispatched(lead_agency=AGENCY_B, round=2)
    round2.agency_due.FromDatetime(T0 + timedelta(minutes=95))
    assert deliver(ctx, dispatch(round2, 80)) is Outcome.APPLIED
    report(ctx, settings, until="published", ref="rep-p")
    with ctx.engine.connect() as conn:
        facts = conn.execute(select(report_stats).where(report_stats.c.report_id == rid)).one()
        assert (facts.agency_id, facts.agency_s, facts.agency_met, facts.handling_s) == ("cty-dien", 20 * 60, False, None)
        kept = rollup_rows(conn)
    with ctx.engine.begin() as conn:
        assert stats_tables.rebuild(conn) == 2
    with ctx.engine.connect() as conn:
        assert rollup_rows(conn) == kept


# --- the overdue list -----------------------------------------------------------------------------------------------

def test_the_overdue_list_names_the_step_each_late_report_is_stuck_at_and_no_secret(ctx, settings, client):
    stuck = report(ctx, settings, until="dispatched", title="Cây đổ chắn đường")
    report(ctx, settings, until="dispatched", secret=True, title="Nội dung mật")
    report(ctx, settings, until="dispatched", private=True, title="Việc riêng của tôi")
    report(ctx, settings, until="drafted", due={"approval": 60})  # step 7 due 50 + 60 min after T0
    report(ctx, settings, until="published", agency=AGENCY_B)  # published: never overdue
    report(ctx, settings, until="dispatched", start=NOW - timedelta(minutes=10), due={"agency": 600})  # not due yet
    v = figures(client, settings)
    overdue = v["overdue"]
    assert overdue["total"] == 4
    first = overdue["items"][0]
    assert first["step"] == "agency" and first["late_seconds"] >= 2 * 86400 - 40 * 60
    assert [o["step"] for o in overdue["items"]] == ["agency", "agency", "agency", "approval"]
    titles = {o["title"] for o in overdue["items"]}
    assert "Cây đổ chắn đường" in titles and "Nội dung mật" not in str(v) and "Việc riêng của tôi" not in str(v)
    assert {o["url"] for o in overdue["items"] if o["title"] is None} == {None}
    assert next(o for o in overdue["items"] if o["report_id"] == stuck)["agency"]["id"] == "so-xd"
    assert figures(client, settings, agency="cty-dien")["overdue"]["total"] == 0


def test_the_monthly_report_compares_months_and_lists_what_was_late_at_the_months_end(ctx, settings, client):
    this_month = NOW.astimezone(VN).date().replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    start = datetime(last_month.year, last_month.month, 3, 9, 0, tzinfo=VN).astimezone(timezone.utc)
    late_then = report(ctx, settings, start=start, until="dispatched", title="Đèn tắt cả tháng")
    # done since: its unit came this month, after last month's end
    handling = Producer(settings.node_id, "handling", late_then, datetime.combine(this_month, datetime.min.time(), VN))
    assert deliver(ctx, handling(handling_ev.CaseAssigned(level=handling_ev.ASSIGNMENT_LEVEL_UNIT, agency=AGENCY_A, unit=UNIT), 60)) is Outcome.APPLIED
    report(ctx, settings, start=start, until="published")
    cookie = {"paht_token": token_for(settings, "bcd", ["steering_member"], "ban-chi-dao")}
    page = client.get("/publication/stats/monthly", params={"month": last_month.strftime("%Y-%m")}, cookies=cookie)
    assert page.status_code == 200, page.text
    assert "Đèn tắt cả tháng" in page.text and 'id="m-overdue-table"' in page.text and 'id="compare-table"' in page.text
    assert "Báo cáo tình hình tiếp nhận, xử lý phản ánh hiện trường tháng " + last_month.strftime("%m/%Y") in page.text
    english = client.get("/publication/stats/monthly", params={"month": last_month.strftime("%Y-%m"), "lang": "en"}, cookies=cookie)
    assert "Overdue at month end" in english.text and "Satisfaction per lead agency" in english.text
    assert client.get("/publication/stats/monthly", params={"month": "2026-13"}, cookies=cookie).status_code == 400


# --- who may see them, and what is refused ---------------------------------------------------------------------------

def test_only_the_ioc_and_the_steering_committee_see_the_statistics(ctx, settings, client):
    report(ctx, settings)
    assert client.get(API).status_code == 401
    for roles in (["unit_leader"], ["staff"], ["agency_coordinator"], ["emergency_desk"]):
        r = client.get(API, headers=bearer(settings, roles, "someone", "so-gtvt"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "error.wrong_role"
        assert client.get(API + ".csv", headers=bearer(settings, roles, "someone", "so-gtvt")).status_code == 403
    for roles in (["ioc_operator"], ["ioc_editor"], ["ioc_admin"], ["steering_member"]):
        assert client.get(API, headers=bearer(settings, roles)).status_code == 200
    away = client.get("/publication/stats?from=2026-01-01", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/auth/login?next=/publication/stats")
    leader = client.get("/publication/stats", cookies={"paht_token": token_for(settings, "tp", ["unit_leader"], "so-gtvt-kcht")})
    assert leader.status_code == 403
    page = client.get("/publication/stats", cookies={"paht_token": token_for(settings, "bcd", ["steering_member"], "ban-chi-dao")})
    assert page.status_code == 200 and 'href="/publication/stats"' in page.text  # the staff navigation links the page


@pytest.mark.parametrize("params, says", [
    ({"from": "2026-02-30"}, "YYYY-MM-DD"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "ends before it starts"),
    ({"from": "2020-01-01", "to": "2025-01-01"}, "at most 3 years"),
    ({"from": "2025-01-01", "to": "2026-01-31", "every": "day"}, "week or month"),
    ({"topic": "khong-co-linh-vuc"}, "no topic 'khong-co-linh-vuc'"),
    ({"group": "khong-co-nhom"}, "no group"),
    ({"area": "99999"}, "no area"),
    ({"agency": "khong-co-co-quan"}, "no lead agency"),
    ({"channel": "fax"}, "Unknown channel"),
    ({"sort": "desc"}, "Unknown parameter sort"),
    ({"lang": "en"}, "Unknown parameter lang"),  # the JSON names things in both languages already
])
def test_a_request_that_cannot_be_answered_is_a_400_in_both_languages(ctx, settings, client, params, says):
    publish_names(ctx, settings)
    r = client.get(API, params=params, headers=ioc(settings))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "error.bad_stats_query" and says in error["detail"]["en"]
    assert error["detail"]["vi"] != error["detail"]["en"] and error["message"]["vi"] and error["message"]["en"]
    page = client.get("/publication/stats", params=params, cookies={"paht_token": token_for(settings, "op1", ["ioc_operator"], "ioc-tinh")})
    if "lang" not in params:
        assert page.status_code == 400 and str(escape(error["detail"]["vi"]))[:30] in page.text


def test_a_code_counted_in_a_report_is_known_even_when_dispatchs_names_lack_it(ctx, settings, client):
    report(ctx, settings, topic="chu-de-cu", area="77777", agency=common_pb2.OrgRef(id="don-vi-cu", name="Đơn vị cũ"))
    v = figures(client, settings, topic="chu-de-cu", area="77777", agency="don-vi-cu")
    assert v["totals"]["received"] == 1 and v["agencies"][0]["name"]["vi"] == "Đơn vị cũ"


# --- exports ---------------------------------------------------------------------------------------------------------

def test_the_exports_hold_the_same_figures_for_the_same_request(ctx, settings, client):
    publish_names(ctx, settings)
    report(ctx, settings, until="published")
    report(ctx, settings, until="dispatched", channel=intake_ev.CHANNEL_APP, title="=HYPERLINK(\"http://evil\")")
    params = period(channel="app")
    v = client.get(API, params=params, headers=ioc(settings)).json()
    r = client.get(API + ".csv", params=params, headers=ioc(settings))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f'filename="paht-thong-ke_{params["from"]}_{params["to"]}_channel-app.csv"' in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert ["Phản ánh tiếp nhận", str(v["totals"]["received"])] in rows
    assert any(row[:1] == ["Ứng dụng di động"] or "Ứng dụng di động" in row for row in rows)
    assert any(cell.startswith("'=HYPERLINK") for row in rows for cell in row)
    english = client.get(API + ".csv", params={**params, "lang": "en"}, headers=ioc(settings))
    assert "paht-statistics_" in english.headers["content-disposition"] and b"Reports received" in english.content
    x = client.get(API + ".xlsx", params=params, headers=ioc(settings))
    assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.load_workbook(io.BytesIO(x.content))
    assert {"Tổng quan", "Theo kênh tiếp nhận", "Theo cơ quan đầu mối"} <= set(book.sheetnames)
    assert [c.value for c in book["Tổng quan"][5]] == ["Phản ánh tiếp nhận", v["totals"]["received"]]
    assert client.get(API + ".xlsx", params={**params, "from": "bad"}, headers=ioc(settings)).status_code == 400


# --- the migration ---------------------------------------------------------------------------------------------------

BEFORE, STATS = "87d4f410d97b", "5b3f10dd22ba"


def test_the_migration_times_the_reports_already_there_from_their_timeline(settings):
    spec = bootstrap.SPEC
    migrations.upgrade(spec.migrations, settings, "publication", spec.metadata, BEFORE)
    engine = db.make_engine(settings, "publication")
    t = datetime(2025, 3, 10, 1, 0, tzinfo=timezone.utc)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO public_reports (report_id, tracking_code, title, description, topic_code, address_text, area_code, private_result,"
                " urgent, status, received_at, lead_agency_name, lead_unit_name, answer_text, approved_at, published_at, refusal_text, visibility,"
                " version, publish_due, dispatched_at, dispatch_due, agency_due, handling_due, drafted_at, approval_due, reporter_ref, search_text)"
                " VALUES ('old-1', 'QB-OLD1', 'Cũ', 'Mô tả', 'giao-thong', 'Đường', '18856', :f, :f, 'published', :t, 'Sở XD', 'Phòng HT', 'Đáp',"
                " :approved, :published, '', 'public', 1, :pdue, :dispatched, :ddue, :adue, :hdue, :drafted, :apdue, 'rep-9', 'cu')"),
                {"f": False, "t": t, "approved": t + timedelta(hours=3), "published": t + timedelta(hours=4), "pdue": t + timedelta(hours=5),
                 "dispatched": t + timedelta(minutes=20), "ddue": t + timedelta(hours=1), "adue": t + timedelta(minutes=30),
                 "hdue": t + timedelta(days=5), "drafted": t + timedelta(hours=2), "apdue": t + timedelta(days=1)})
            for n, (kind, minutes) in enumerate((("submitted", 0), ("accepted", 10), ("dispatched", 20), ("assigned", 45), ("drafted", 120),
                                                 ("approved", 180), ("published", 240))):
                conn.execute(text("INSERT INTO timeline_entries (id, report_id, kind, at, note) VALUES (:id, 'old-1', :kind, :at, '')"),
                             {"id": f"e{n}", "kind": kind, "at": t + timedelta(minutes=minutes)})
            conn.execute(text("INSERT INTO report_ratings (report_id, score, comment, rated_at, changes) VALUES ('old-1', 'satisfied', '', :t, 0)"),
                         {"t": t + timedelta(days=1)})
        migrations.upgrade(spec.migrations, settings, "publication", spec.metadata, STATS)
        with engine.connect() as conn:
            facts = conn.execute(select(report_stats)).one()
            assert (facts.day, facts.receive_s, facts.agency_s, facts.agency_met, facts.handling_s, facts.approval_s, facts.publish_met,
                    facts.score, facts.channel, facts.agency_id) == (date(2025, 3, 10), 600, 25 * 60, False, 100 * 60, 60 * 60, True,
                                                                      "satisfied", "", "")
            total = conn.execute(select(stats_days).where(stats_days.c.dim == "", stats_days.c.day == date(2025, 3, 10))).one()
            assert (total.reports, total.satisfied, total.agency_timed, total.agency_on_time) == (1, 1, 1, 0)
        cfg = migrations.alembic_config(spec.migrations, settings, "publication", spec.metadata)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, BEFORE)
    finally:
        engine.dispose()


def test_the_sql_overdue_rule_and_the_domains_pick_the_same_reports_and_steps(ctx):
    """adapters/stats.py late_at restates PublicReport.overdue_at: for every status and any times, the same reports, the
    same step, the same deadline (as _shown restates is_public)."""
    import random

    from services.publication.adapters.stats import StatsReader
    from services.publication.domain.public_report import PublicReport
    from services.publication.domain.stats import Every, StatsQuery

    rnd = random.Random(11)
    base = datetime(2026, 1, 10, 1, 0, tzinfo=timezone.utc)

    def maybe(minutes: int):
        return None if rnd.random() < 0.25 else base + timedelta(minutes=rnd.randint(0, minutes))

    reports = []
    with ctx.uow() as uow:
        for i in range(300):
            r = PublicReport(report_id=f"r{i:04d}", status=rnd.choice(["submitted", "accepted", "dispatched", "assigned", "in_progress", "drafted",
                                                                     "approved", "returned_by_ioc", "published", "refused", "cancelled"]),
                             tracking_code=f"QB-{i}", title="T", received_at=base, dispatched_at=maybe(100), dispatch_due=maybe(200),
                             agency_due=maybe(300), unit_assigned_at=maybe(400), handling_due=maybe(500), handled_at=maybe(600),
                             drafted_at=maybe(600), approval_due=maybe(700), leader_approved_at=maybe(800), approved_at=maybe(800),
                             publish_due=maybe(900), published_at=maybe(1000))
            uow.session.add(r)
            reports.append(r)
        uow.commit()
    everything = StatsQuery(date(2026, 1, 1), date(2026, 1, 31), Every.DAY)
    for minutes in (0, 150, 350, 550, 750, 950, 1100):
        when = base + timedelta(minutes=minutes)
        expected = {}
        for r in reports:
            late = r.overdue_at(when)
            if late is not None:
                expected[r.report_id] = (late.clock.value, late.due_at)
        with StatsReader(ctx.engine) as reader:
            found, total = reader.overdue(everything, when, None, False, 10_000)
        assert {r.report_id: (d.clock.value, d.due_at) for r, d in found} == expected and total == len(expected), minutes
        assert [d.due_at for _r, d in found] == sorted(d.due_at for _r, d in found)
