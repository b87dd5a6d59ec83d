"""Two people act on the same case at the same moment through a real HTTP server: exactly one wins,
and the other hears in the procedure's words what happened (409), not "forbidden" or "changed"."""
from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from paht.runtime.ids import new_id
from tests.support.handling import FakeOrgDirectory, dispatched
from tests.support.live_server import live_server
from tests.support.services import deliver, migrated_context, principal, token_for
from services.handling import bootstrap
from services.handling.service_layer import handlers

ROUNDS = 6
ANSWER = "Đã vá ổ gà trên đường Quang Trung ngày 12/3."
directory = FakeOrgDirectory()
coordinator = principal("sogtvt", ["agency_coordinator"], "so-gtvt")
leader = principal("truongphong", ["unit_leader"], "so-gtvt-kcht")
staff = principal("canbo", ["staff"], "so-gtvt-kcht")


@pytest.fixture
def ctx(settings):
    context = migrated_context(bootstrap.SPEC, settings)
    yield context
    context.engine.dispose()


@pytest.fixture
def server(ctx):
    """Handling's HTTP app on a real server: several requests at once, like production."""
    with live_server(bootstrap.build_http(ctx, directory=directory)) as url:
        yield url


def together(*requests) -> list[httpx.Response]:
    """Fire the requests from as many threads at the same moment; return the answers in order."""
    barrier = threading.Barrier(len(requests))
    answers: list[httpx.Response | None] = [None] * len(requests)

    def fire(i, method, url, body, headers):
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            answers[i] = client.request(method, url, json=body, headers=headers)

    threads = [threading.Thread(target=fire, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers  # type: ignore[return-value]


def auth(settings, subject: str, role: str, org_unit: str) -> dict:
    return {"Authorization": f"Bearer {token_for(settings, subject, [role], org_unit)}"}


def new_case(ctx, stage: str) -> str:
    rid = new_id()
    deliver(ctx, dispatched(ctx, rid))
    asyncio.run(handlers.assign_unit(ctx.uow(), directory, coordinator, rid, "so-gtvt-kcht"))
    if stage == "drafted":
        asyncio.run(handlers.assign_staff(ctx.uow(), directory, leader, rid, "canbo"))
        handlers.draft_result(ctx.uow(), staff, rid, ANSWER)
    return rid


def assert_one_winner(answers: list[httpx.Response], losing_words: dict[int, set[str]]) -> int:
    """Check that exactly one request won and the other lost with a 409 in the procedure's words; return the winner."""
    codes = [a.status_code for a in answers]
    assert sorted(codes) == [200, 409], [a.text for a in answers]
    winner = codes.index(200)
    error = answers[1 - winner].json()["error"]
    assert error["code"] == "error.conflict_state"
    assert error["detail"]["en"] in losing_words[winner], error["detail"]
    assert error["detail"]["vi"] and error["detail"]["vi"] != error["detail"]["en"]
    return winner


def test_assigning_staff_and_refusing_the_unit_at_once(ctx, server, settings):
    """Two leaders of the lead unit decide step 4 differently at the same moment."""
    chief = auth(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    deputy = auth(settings, "phophong", "unit_leader", "so-gtvt-kcht")
    losing_words = {
        0: {"The unit leader has already accepted this case and assigned a staff member; the unit can no longer refuse it."},
        1: {"The lead unit has already refused this case; it is back with the lead agency."},
    }
    winners = []
    for _ in range(ROUNDS):
        rid = new_case(ctx, "awaiting_unit_leader")
        base = f"{server}/api/handling/v1/cases/{rid}"
        answers = together(("POST", f"{base}/assign-staff", {"staff_subject": "canbo"}, chief),
                           ("POST", f"{base}/refuse-unit", {"reason": "Không thuộc chức năng của phòng"}, deputy))
        winners.append(assert_one_winner(answers, losing_words))
        case = handlers.find_case(ctx.uow(), rid)
        assert (case.status, case.version) == (("in_progress", 2) if winners[-1] == 0 else ("awaiting_agency", 2))
    # A leader of another unit, who never had the case, is still told it is none of theirs.
    r = httpx.post(f"{server}/api/handling/v1/cases/{rid}/assign-staff", json={"staff_subject": "canbo"},
                   headers=auth(settings, "thanhtra", "unit_leader", "so-gtvt-thanhtra"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "error.out_of_scope"


def test_approving_and_returning_the_draft_at_once(ctx, server, settings):
    """Step 7 decided twice at the same moment: approve and return to staff."""
    chief = auth(settings, "truongphong", "unit_leader", "so-gtvt-kcht")
    deputy = auth(settings, "phophong", "unit_leader", "so-gtvt-kcht")
    losing_words = {
        0: {"This step is not possible now: the report is approved by the unit leader and waiting for the IOC to publish the answer."},
        1: {"This step is not possible now: the report is back with its staff member: the unit leader returned the draft for completion."},
    }
    for _ in range(ROUNDS):
        rid = new_case(ctx, "drafted")
        base = f"{server}/api/handling/v1/cases/{rid}"
        answers = together(("POST", f"{base}/approve", {}, chief),
                           ("POST", f"{base}/return-to-staff", {"reason": "Bổ sung hình ảnh sau khi vá"}, deputy))
        winner = assert_one_winner(answers, losing_words)
        assert handlers.find_case(ctx.uow(), rid).status == ("approved" if winner == 0 else "returned_to_staff")


def test_the_receiving_leader_and_its_coordinator_answer_one_support_request_at_once_one_wins(ctx, server, settings):
    """Two people of the receiving side act on the same support request: one accepts, the other refuses."""
    from datetime import datetime, timedelta, timezone

    for _ in range(ROUNDS):
        rid = new_case(ctx, "drafted")
        handlers.return_to_staff(ctx.uow(), leader, rid, "Bổ sung ý kiến Sở Xây dựng")
        req = asyncio.run(handlers.request_support(ctx.uow(), directory, staff, rid, "so-xd", "Đề nghị cho ý kiến về cao độ mặt đường.",
                                                   datetime.now(timezone.utc) + timedelta(days=2)))
        base = f"{server}/api/handling/v1/support/{req.id}"
        answers = together(
            ("POST", f"{base}/accept", {"staff_subject": "canbo-qhkt"}, auth(settings, "soxd", "agency_coordinator", "so-xd")),
            ("POST", f"{base}/refuse", {"reason": "Không thuộc chức năng của Sở"}, auth(settings, "soxd", "agency_coordinator", "so-xd")),
        )
        winner = assert_one_winner(answers, {0: {"This is not possible now: the support request is accepted and being prepared."},
                                             1: {"This is not possible now: the support request is refused."}})
        assert answers[winner].json()["status"] == ("accepted" if winner == 0 else "refused")
        lines = [line.action for line in handlers.history(ctx.uow(), leader, rid)]
        assert lines.count("support_accepted") + lines.count("support_refused") == 1
