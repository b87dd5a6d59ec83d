"""The sign-in throttle's rules, without a database (issue 5, item 1)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from paht.runtime.errors import InvalidInput, TooManyRequests
from services.dispatch.domain import sign_in as rules
from services.dispatch.domain.sign_in import RULES, Attempt, Counter, Scope, address_key

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)


class Store:
    """Counters in memory, keyed as the database keys them."""

    def __init__(self):
        self.rows: dict[tuple, Counter] = {}

    def counters(self, attempt: Attempt) -> dict[Scope, Counter]:
        out = {}
        for scope in rules.ORDER:
            username, address = attempt.key(scope)
            out[scope] = self.rows.setdefault((scope.value, username, address), Counter(scope.value, username, address))
        return out

    def fail(self, attempt: Attempt, now: datetime) -> list[rules.Lock]:
        return rules.admit(self.counters(attempt), now)

    def succeed(self, attempt: Attempt, now: datetime) -> None:
        counters = self.counters(attempt)
        locks = rules.admit(counters, now)
        rules.succeeded(counters, locks, now)


def test_the_pair_locks_after_fewer_failures_than_the_account_and_each_lock_doubles():
    store, a = Store(), Attempt.of("ioc", "203.0.113.7")
    assert RULES[Scope.PAIR].free < RULES[Scope.ACCOUNT].free
    for i in range(RULES[Scope.PAIR].free):
        assert store.fail(a, T0 + timedelta(seconds=i)) == []
    locks = store.fail(a, T0 + timedelta(seconds=10))
    assert [(lock.scope, lock.locked_until) for lock in locks] == [("pair", T0 + timedelta(seconds=10 + RULES[Scope.PAIR].base_s))]
    with pytest.raises(TooManyRequests) as refused:
        rules.refuse_if_locked(store.counters(a), T0 + timedelta(seconds=20))
    assert refused.value.retry_after_s == RULES[Scope.PAIR].base_s - 10 and "phút" in refused.value.detail_vi
    after = T0 + timedelta(seconds=10 + RULES[Scope.PAIR].base_s)
    (lock,) = store.fail(a, after)  # the lock ran out: one more try, and the next lock is twice as long
    assert lock.locked_until == after + timedelta(seconds=2 * RULES[Scope.PAIR].base_s)


def test_the_account_lock_stays_short_whatever_an_attacker_does():
    rule = RULES[Scope.ACCOUNT]
    assert rule.cap_s <= 15 * 60
    assert max(rule.lock_s(n) for n in range(1000)) == rule.cap_s


def test_someone_guessing_from_many_addresses_does_not_lock_out_a_pair_that_signed_in_before():
    store = Store()
    owner = Attempt.of("ioc", "198.51.100.20")
    store.succeed(owner, T0)
    for i in range(RULES[Scope.ACCOUNT].free + 1):  # one failure from each of many addresses
        store.fail(Attempt.of("ioc", f"203.0.113.{i}"), T0 + timedelta(minutes=1))
    with pytest.raises(TooManyRequests):
        rules.refuse_if_locked(store.counters(Attempt.of("ioc", "192.0.2.1")), T0 + timedelta(seconds=70))
    rules.refuse_if_locked(store.counters(owner), T0 + timedelta(seconds=70))  # the owner's own address passes


def test_a_right_password_clears_the_pair_and_gives_the_other_scopes_their_try_back():
    store, a = Store(), Attempt.of("ioc", "203.0.113.7")
    for i in range(3):
        store.fail(a, T0)
    store.succeed(a, T0)
    c = store.counters(a)
    assert c[Scope.PAIR].failures == 0 and c[Scope.PAIR].last_success_at == T0
    assert c[Scope.ACCOUNT].failures == 3 and c[Scope.ADDRESS].failures == 3


def test_a_success_that_would_have_locked_leaves_no_lock_behind():
    store, a = Store(), Attempt.of("ioc", "203.0.113.7")
    for i in range(RULES[Scope.PAIR].free):
        store.fail(a, T0)
    store.succeed(a, T0)  # the sixth attempt was the right one
    rules.refuse_if_locked(store.counters(a), T0)


def test_old_failures_are_forgotten():
    store, a = Store(), Attempt.of("ioc", "203.0.113.7")
    for i in range(RULES[Scope.PAIR].free):
        store.fail(a, T0)
    assert store.fail(a, T0 + rules.FORGET_AFTER + timedelta(seconds=1)) == []
    assert store.counters(a)[Scope.PAIR].failures == 1


def test_addresses_and_names_are_keyed_the_same_however_written():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7" and address_key("testclient") == "testclient"
    assert Attempt.of("  IOC ", "203.0.113.7").username == "ioc"
    with pytest.raises(InvalidInput):
        Attempt.of("ioc\x00", "203.0.113.7")
