"""Submissions that arrive together are written in one transaction (paht.runtime.uow.GroupCommit), and each
request still gets its own answer: its own report, its own error, the stored report for a resent key."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, func, select

from paht.runtime.errors import InvalidInput
from services.intake.adapters.orm import reporters, reports
from services.intake.bootstrap import SPEC
from services.intake.service_layer import submission
from tests.support.services import migrated_context, outbox_envelopes
from tests.support.taxonomy import FakeTaxonomy

pytestmark = pytest.mark.integration


def cmd(n: int, **changes) -> submission.SubmitReport:
    values = dict(name="Lê Thị Mai", phone="0914222333", email="mai@example.vn", title=f"Cống thoát nước bị tắc số {n}",
                  description="Nước tràn lên mặt đường mỗi khi mưa to, xe máy đi qua rất khó khăn.", lat=17.47, lon=106.61,
                  owner="reporter:group", channel="app", verification="otp")
    values.update(changes)
    return submission.SubmitReport(**values)


@pytest.fixture
def ctx(settings):
    return migrated_context(SPEC, settings)


def commits_of(ctx) -> list[int]:
    seen = [0]

    @event.listens_for(ctx.engine, "commit")
    def _count(_conn):
        seen[0] += 1

    return seen


def run_together(ctx, commands: list[submission.SubmitReport], fail: set[int] = frozenset()):
    """Queue every submission at once (one batch) and return each caller's result or error."""
    desk, taxonomy = submission.desk(ctx.uow), FakeTaxonomy()

    def unit(i: int, prepared):
        def together(uow):
            if i in fail:
                raise InvalidInput("refused for the test", "bị từ chối để thử")
            return submission.record(uow, prepared)

        def alone():
            if i in fail:
                raise InvalidInput("refused for the test", "bị từ chối để thử")
            return submission.write_alone(ctx.uow(), prepared)

        return desk.run(together, alone, note=prepared.reporter)

    async def main():
        return await asyncio.gather(*(unit(i, submission.prepare(taxonomy, c)) for i, c in enumerate(commands)), return_exceptions=True)

    return asyncio.run(main())


def stored(ctx) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(reports)).scalar_one()


def test_submissions_queued_together_share_one_commit_and_each_gets_its_own_report(ctx):
    commits = commits_of(ctx)
    results = run_together(ctx, [cmd(n) for n in range(12)])
    assert commits[0] == 1
    assert len({r.report.id for r in results}) == 12 and len({r.report.tracking_code for r in results}) == 12
    assert stored(ctx) == 12
    events = outbox_envelopes(ctx)
    assert sorted(e.report_id for e in events) == sorted(r.report.id for r in results)
    assert {e.report_version for e in events} == {1}


def test_one_refused_submission_fails_alone_and_the_others_are_stored(ctx):
    commits = commits_of(ctx)
    results = run_together(ctx, [cmd(n) for n in range(6)], fail={3})
    assert isinstance(results[3], InvalidInput)
    kept = [r for i, r in enumerate(results) if i != 3]
    assert all(isinstance(r, submission.Submitted) and not r.replayed for r in kept)
    assert stored(ctx) == 5 and len(outbox_envelopes(ctx)) == 5
    assert commits[0] == 5  # the batch was rolled back, then each written alone
    assert {e.report_version for e in outbox_envelopes(ctx)} == {1}  # written again, still the report's first event


def test_a_key_sent_twice_in_one_batch_is_one_report(ctx):
    results = run_together(ctx, [cmd(1, idempotency_key="draft-9"), cmd(1, idempotency_key="draft-9"), cmd(2)])
    first, again, other = results
    assert again.report.id == first.report.id and again.replayed and not first.replayed
    assert other.report.id != first.report.id
    assert stored(ctx) == 2 and len(outbox_envelopes(ctx)) == 2


def test_the_reporters_of_a_batch_are_read_in_one_query_and_a_new_one_is_stored_once(ctx):
    run_together(ctx, [cmd(0), cmd(1, phone="0905000111", email="an@example.vn")])  # two reporters known beforehand
    statements: list[str] = []

    @event.listens_for(ctx.engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement, *_args):
        if "FROM reporters" in statement:
            statements.append(statement)

    batch = [cmd(2), cmd(3, phone="0905000111", email="an@example.vn"), cmd(4, phone="0977000222", email="moi@example.vn"),
             cmd(5, phone="0977000222", email="moi@example.vn"), cmd(6)]
    results = run_together(ctx, batch)
    assert len(statements) == 2  # one read for the whole batch; one more for the newcomer, after its insert
    with ctx.engine.connect() as conn:
        ids = dict(conn.execute(select(reporters.c.phone, reporters.c.id)).all())
    assert len(ids) == 3
    assert [r.report.reporter_id for r in results] == [ids["0914222333"], ids["0905000111"], ids["0977000222"],
                                                        ids["0977000222"], ids["0914222333"]]


def test_a_batch_that_fails_forgets_the_reporter_it_had_added(ctx):
    results = run_together(ctx, [cmd(0, phone="0977000333", email="ba@example.vn"), cmd(1)], fail={1})
    assert isinstance(results[1], InvalidInput)
    with ctx.engine.connect() as conn:
        stored_ids = set(conn.execute(select(reporters.c.id)).scalars())
    assert results[0].report.reporter_id in stored_ids  # written again alone: its reporter with it, not a rolled-back id
