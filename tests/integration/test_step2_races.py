"""Two people act on the same report at the same moment through a real HTTP server: exactly one wins, the other
hears in the procedure's words what happened (409), and exactly one event is announced."""
from __future__ import annotations

import pytest

from services.dispatch.bootstrap import SPEC, build_http
from tests.integration.test_handling_races import together
from tests.integration.test_step2_routing import accepted, auth, events
from tests.support.live_server import live_server
from tests.support.services import migrated_context

pytestmark = pytest.mark.integration
ROUNDS = 5
REASON = "Sở Xây dựng và Sở Giao thông vận tải đều cho rằng không thuộc thẩm quyền"
DECISION = "Giao Sở Xây dựng chủ trì, Sở Giao thông vận tải phối hợp"


@pytest.fixture
def ctx(settings):
    context = migrated_context(SPEC, settings)
    SPEC.seed(context)
    yield context
    context.engine.dispose()


@pytest.fixture
def server(ctx):
    with live_server(build_http(ctx)) as url:
        yield url


def one_winner(answers, losing_words: dict[int, str]) -> int:
    """Check one 200 and one 409 in the procedure's words (both languages); return the winner's index."""
    codes = [a.status_code for a in answers]
    assert sorted(codes) == [200, 409], [a.text for a in answers]
    winner = codes.index(200)
    error = answers[1 - winner].json()["error"]
    assert error["code"] == "error.conflict_state" and losing_words[winner] in error["detail"]["en"], error
    assert error["detail"]["vi"] and error["detail"]["vi"] != error["detail"]["en"]
    return winner


def test_two_operators_dispatching_the_same_report_at_once(ctx, server, settings):
    first, second = auth(settings, "ioc", "ioc_operator", "ioc-tinh"), auth(settings, "ioc2", "ioc_operator", "ioc-tinh")
    winners = []
    for _ in range(ROUNDS):
        rid = accepted(ctx, "street-encroachment")  # fields h, c, n: both departments are competent
        url = f"{server}/api/dispatch/v1/reports/{rid}/dispatch"
        answers = together(("POST", url, {"agency_id": "so-gtvt"}, first), ("POST", url, {"agency_id": "so-xd"}, second))
        winner = one_winner(answers, {0: "already sent to a lead agency", 1: "already sent to a lead agency"})
        winners.append(winner)
        sent = [e for e in events(ctx, "ReportDispatched") if e.meta.report_id == rid]
        assert [(e.round, e.lead_agency.id) for e in sent] == [(1, ("so-gtvt", "so-xd")[winner])]
        assert answers[winner].json()["round"] == 1


def test_dispatching_and_escalating_the_same_report_at_once(ctx, server, settings):
    first, second = auth(settings, "ioc", "ioc_operator", "ioc-tinh"), auth(settings, "ioc2", "ioc_operator", "ioc-tinh")
    for _ in range(ROUNDS):
        rid = accepted(ctx, "street-encroachment")
        base = f"{server}/api/dispatch/v1/reports/{rid}"
        answers = together(("POST", f"{base}/dispatch", {"agency_id": "so-gtvt"}, first),
                           ("POST", f"{base}/escalate", {"reason": REASON, "candidate_agency_ids": ["so-xd", "so-gtvt"]}, second))
        winner = one_winner(answers, {0: "already sent to a lead agency", 1: "withdraw the escalation first"})
        mine = [e for e in events(ctx, "ReportDispatched") + events(ctx, "ReportEscalated") if e.meta.report_id == rid]
        assert len(mine) == 1 and type(mine[0]).__name__ == ("ReportDispatched", "ReportEscalated")[winner]


def test_two_committee_members_deciding_at_once(ctx, server, settings):
    ioc = auth(settings, "ioc", "ioc_operator", "ioc-tinh")
    chair, member = auth(settings, "bcd", "steering_member", "ban-chi-dao"), auth(settings, "bcd2", "steering_member", "ban-chi-dao")
    import httpx

    for _ in range(ROUNDS):
        rid = accepted(ctx, "street-encroachment")
        body = {"reason": REASON, "candidate_agency_ids": ["so-xd", "so-gtvt"]}
        assert httpx.post(f"{server}/api/dispatch/v1/reports/{rid}/escalate", json=body, headers=ioc).status_code == 200
        url = f"{server}/api/dispatch/v1/steering/reports/{rid}/decision"
        answers = together(("POST", url, {"agency_id": "so-xd", "decision": DECISION}, chair),
                           ("POST", url, {"agency_id": "so-gtvt", "decision": DECISION}, member))
        winner = one_winner(answers, {0: "nothing left to decide", 1: "nothing left to decide"})
        sent = [e for e in events(ctx, "ReportDispatched") if e.meta.report_id == rid]
        assert [(e.lead_agency.id, e.meta.actor.subject) for e in sent] == [(("so-xd", "so-gtvt")[winner], ("bcd", "bcd2")[winner])]
