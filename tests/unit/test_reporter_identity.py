"""Reporters' one-time codes, the rules alone: the code's shape, its keyed hash, expiry, the lock after 5
wrong tries, replay, and what the SMS and the counters may say (never a phone or an address in clear)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from paht.runtime.errors import InvalidInput, StateConflict, TooManyRequests
from paht.runtime.sms import international, mask_phone
from services.intake.domain import identity as rules
from services.intake.domain.identity import MAX_ATTEMPTS, Challenge, Verdict

KEY = b"k" * 32
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
PHONE = "0912345678"


def issued(code: str = "042917") -> Challenge:
    challenge, _ = Challenge.issue(id="0193a0e0-0000-7000-8000-000000000001", phone=PHONE, key=KEY, now=NOW, code=code)
    return challenge


def test_codes_are_six_digits_with_leading_zeros_kept_and_not_all_alike():
    codes = {rules.new_code() for _ in range(500)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 450  # 500 draws from a million: a repeat or two at most


def test_only_a_keyed_hash_of_the_code_is_kept_and_it_differs_per_challenge_and_per_key():
    challenge, code = Challenge.issue(id="c-1", phone=PHONE, key=KEY, now=NOW)
    assert code not in challenge.code_hash and len(challenge.code_hash) == 64
    assert challenge.code_hash == rules.code_hash(KEY, "c-1", code)
    assert rules.code_hash(KEY, "c-2", code) != challenge.code_hash     # the same code on another challenge
    assert rules.code_hash(b"x" * 32, "c-1", code) != challenge.code_hash  # another server key
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=5)


def test_the_right_code_passes_once_and_a_second_use_is_a_replay():
    challenge = issued()
    assert challenge.attempt(key=KEY, phone=PHONE, code="042917", now=NOW + timedelta(minutes=4)) is Verdict.OK
    assert challenge.consumed_at == NOW + timedelta(minutes=4)
    assert challenge.attempt(key=KEY, phone=PHONE, code="042917", now=NOW + timedelta(minutes=4)) is Verdict.USED
    error = rules.refusal(Verdict.USED, challenge)
    assert isinstance(error, StateConflict) and "used" in error.detail_en and "đã được sử dụng" in error.detail_vi


def test_a_code_is_refused_at_five_minutes_and_the_late_try_is_not_counted():
    challenge = issued()
    assert challenge.attempt(key=KEY, phone=PHONE, code="042917", now=NOW + timedelta(minutes=5)) is Verdict.EXPIRED
    assert challenge.attempts == 0 and challenge.consumed_at is None
    assert isinstance(rules.refusal(Verdict.EXPIRED, challenge), StateConflict)


def test_five_wrong_tries_lock_the_challenge_even_for_the_right_code_afterwards():
    challenge = issued()
    messages = []
    for n in range(1, MAX_ATTEMPTS + 1):
        assert challenge.attempt(key=KEY, phone=PHONE, code="000000", now=NOW) is Verdict.WRONG
        assert challenge.attempts == n
        messages.append(rules.refusal(Verdict.WRONG, challenge))
    assert [type(e) for e in messages] == [InvalidInput] * 4 + [StateConflict]
    assert "4 tries left" in messages[0].detail_en and "còn 4 lần thử" in messages[0].detail_vi
    assert "1 try left" in messages[3].detail_en
    assert challenge.locked_at == NOW
    assert challenge.attempt(key=KEY, phone=PHONE, code="042917", now=NOW) is Verdict.LOCKED
    assert challenge.attempts == MAX_ATTEMPTS and challenge.consumed_at is None
    assert "mã mới" in rules.refusal(Verdict.LOCKED, challenge).detail_vi


def test_the_right_code_with_another_phone_is_a_wrong_try():
    challenge = issued()
    assert challenge.attempt(key=KEY, phone="0987654321", code="042917", now=NOW) is Verdict.WRONG
    assert challenge.attempts == 1 and challenge.consumed_at is None


@pytest.mark.parametrize("typed, kept", [("123456", "123456"), (" 123 456 ", "123456"), ("000001", "000001")])
def test_a_code_is_typed_as_six_digits(typed, kept):
    assert rules.check_code_shape(typed) == kept


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12345a", "１２３４５６", "123\x00456"])
def test_anything_but_six_digits_is_refused_in_both_languages(typed):
    with pytest.raises(InvalidInput) as refused:
        rules.check_code_shape(typed)
    assert "6 digits" in refused.value.detail_en and "6 chữ số" in refused.value.detail_vi


def test_the_sms_is_ascii_and_says_the_code_and_its_validity():
    text = rules.sms_text("042917")
    assert text.isascii() and "042917" in text and "5 phut" in text and "Khong chia se" in text


def test_phones_are_masked_for_logs_and_screens_and_sent_internationally():
    assert mask_phone(PHONE) == "09xxxxx678"
    assert international(PHONE) == "84912345678"


def test_counter_keys_hold_neither_the_phone_nor_the_address():
    phone_key = rules.counter_key(KEY, "phone", PHONE, 3600)
    address_key = rules.counter_key(KEY, "address", "203.113.1.20", 3600)
    assert PHONE not in phone_key and "912345678" not in phone_key and "203.113" not in address_key
    assert len(phone_key) <= 120 and phone_key != rules.counter_key(KEY, "phone", PHONE, 86400)
    assert phone_key != rules.counter_key(b"y" * 32, "phone", PHONE, 3600)


def test_an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4():
    assert rules.address_bucket("2001:db8:1:2:aaaa::1") == rules.address_bucket("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert rules.address_bucket("::ffff:203.113.1.20") == "203.113.1.20"
    assert rules.address_bucket("") == "unknown"


def test_limits_answer_429_with_the_time_to_wait():
    assert rules.too_soon(42.2).retry_after_s == 43
    error = rules.too_many_for_phone(1800)
    assert isinstance(error, TooManyRequests) and error.retry_after_s == 1800 and "30 minute" in error.detail_en and "30 phút" in error.detail_vi


def test_session_tokens_are_recognised_by_shape_before_any_query():
    token = rules.new_token()
    assert token.startswith("rpt_") and rules.looks_like_token(token)
    assert rules.token_hash(token) != token and len(rules.token_hash(token)) == 64
    assert not rules.looks_like_token("eyJhbGciOi.staff.jwt")
    assert not rules.looks_like_token("rpt_" + "x" * 200)
    assert not rules.looks_like_token("")


def test_codes_go_to_mobile_numbers_only():
    assert rules.check_mobile("0912345678") == "0912345678"
    with pytest.raises(InvalidInput) as refused:
        rules.check_mobile("02323822123")
    assert "mobile" in refused.value.detail_en and "số di động" in refused.value.detail_vi
