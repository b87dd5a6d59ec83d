"""Intake's cached taxonomy: how often it asks dispatch, and what it falls back on (no database, no network)."""
from __future__ import annotations

import pytest

from paht.runtime.errors import Unavailable
from services.intake.adapters.taxonomy import CachedTaxonomy, TaxonomyUnreachable
from tests.support.taxonomy import TOPICS


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Copy:
    """The stored copy, in memory."""

    def __init__(self, topics=()):
        self.topics = {t.code: t for t in topics}
        self.writes = 0

    def load(self):
        return dict(self.topics)

    def replace(self, topics, now):
        self.topics = {t.code: t for t in topics}
        self.writes += 1


class Dispatch:
    def __init__(self, topics=TOPICS):
        self.topics, self.up, self.calls = list(topics), True, 0

    def __call__(self, wait=False):
        self.calls += 1
        if not self.up:
            raise TaxonomyUnreachable("UNAVAILABLE")
        return self.topics


def make(dispatch, copy, clock):
    return CachedTaxonomy(dispatch, copy, max_age_s=60, retry_s=10, clock=clock)


def test_dispatch_is_asked_once_a_minute_and_its_answer_is_copied():
    dispatch, copy, clock = Dispatch(), Copy(), Clock()
    taxonomy = make(dispatch, copy, clock)
    assert taxonomy.find("road-damage").group_code == "infrastructure" and taxonomy.find("nope") is None
    clock.now += 59
    taxonomy.find("road-damage")
    assert dispatch.calls == 1 and copy.writes == 1 and set(copy.topics) == {t.code for t in TOPICS}
    clock.now += 2
    taxonomy.find("road-damage")
    assert dispatch.calls == 2 and copy.writes == 1  # the same answer: the stored copy is not rewritten
    dispatch.topics = dispatch.topics[1:]
    clock.now += 61
    taxonomy.find(dispatch.topics[0].code)
    assert dispatch.calls == 3 and copy.writes == 2 and set(copy.topics) == {t.code for t in dispatch.topics}


def test_while_dispatch_is_away_the_last_answer_serves_and_dispatch_is_asked_again_after_a_pause():
    dispatch, copy, clock = Dispatch(), Copy(), Clock()
    taxonomy = make(dispatch, copy, clock)
    taxonomy.find("road-damage")
    dispatch.up = False
    clock.now += 61
    assert taxonomy.find("waste-dumping").group_code == "environment"
    assert taxonomy.find("waste-dumping") and dispatch.calls == 2  # no second try within the pause
    clock.now += 11
    taxonomy.find("waste-dumping")
    assert dispatch.calls == 3


def test_after_a_restart_with_dispatch_away_the_stored_copy_serves():
    dispatch, clock = Dispatch(), Clock()
    dispatch.up = False
    taxonomy = make(dispatch, Copy(TOPICS[:2]), clock)
    assert taxonomy.find("traffic-safety").group_code == "security" and taxonomy.find("road-damage") is None
    dispatch.up = True
    clock.now += 11  # dispatch is back: its answer replaces the copy
    assert taxonomy.find("road-damage").group_code == "infrastructure"


def test_without_dispatch_and_without_a_copy_a_lookup_is_unavailable_not_unknown():
    dispatch = Dispatch()
    dispatch.up = False
    with pytest.raises(Unavailable) as away:
        make(dispatch, Copy(), Clock()).find("road-damage")
    assert away.value.detail_vi


def test_a_dispatch_that_lists_no_topics_never_wipes_the_copy():
    copy = Copy(TOPICS)
    taxonomy = make(Dispatch(topics=[]), copy, Clock())
    assert taxonomy.find("road-damage") is not None and copy.writes == 0


def test_the_keeper_s_refresh_says_whether_dispatch_answered():
    dispatch, copy = Dispatch(), Copy()
    taxonomy = make(dispatch, copy, Clock())
    assert taxonomy.refresh() is True
    dispatch.up = False
    assert taxonomy.refresh() is False and taxonomy.find("road-damage") is not None


def test_without_any_copy_dispatch_is_asked_again_at_once_when_it_comes_up():
    """Just after a start, dispatch may still be starting: the first report after it answers is taken."""
    dispatch, copy, clock = Dispatch(), Copy(), Clock()
    dispatch.up = False
    taxonomy = make(dispatch, copy, clock)
    with pytest.raises(Unavailable):
        taxonomy.find("road-damage")
    dispatch.up = True
    clock.now += 1  # well inside the 10 s back-off that applies once a copy exists
    assert taxonomy.find("road-damage").group_code == "infrastructure"
