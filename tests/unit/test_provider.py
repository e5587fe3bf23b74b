"""The fake payment provider honours idempotency keys: a retry never charges twice."""

from __future__ import annotations

import threading
import time

import pytest

from eda_kit.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyMismatch,
    InvalidType,
    InvalidValue,
    PaymentDeclined,
    ReplayedFailure,
    ResponseLost,
)
from eda_kit.messaging import FakePaymentProvider, SQLiteIdempotencyStore


def test_without_a_key_every_retry_is_a_new_charge():
    provider = FakePaymentProvider()
    provider.lose_responses(1)
    with pytest.raises(ResponseLost, match="the work may have happened"):
        provider.charge(30)
    assert provider.charge(30)["id"] == "ch_0002"  # the naive retry
    assert provider.total_charged == 60
    assert isinstance(ResponseLost("x"), ConnectionError)


def test_with_a_key_the_retry_gets_the_first_answer():
    provider = FakePaymentProvider()
    provider.lose_responses(2)
    for _ in range(2):
        with pytest.raises(ResponseLost):
            provider.charge(30, idempotency_key="order-A1/pay")
    answer = provider.charge(30, idempotency_key="order-A1/pay")
    assert answer == {"id": "ch_0001", "amount": 30, "currency": "eur", "status": "succeeded"}
    assert provider.total_charged == 30 and provider.calls == 3 and len(provider.charges) == 1
    assert repr(provider) == "<FakePaymentProvider: 1 charges, 30 charged, 3 calls>"


def test_a_key_reused_for_another_amount_is_refused():
    provider = FakePaymentProvider()
    provider.charge(30, idempotency_key="k")
    with pytest.raises(IdempotencyKeyMismatch, match='"amount":30'):
        provider.charge(40, idempotency_key="k")
    assert provider.total_charged == 30


def test_a_decline_is_the_first_outcome_and_is_replayed():
    provider = FakePaymentProvider(card_limit=20)
    with pytest.raises(PaymentDeclined, match="over the card limit of 20"):
        provider.charge(30, idempotency_key="k")
    with pytest.raises(ReplayedFailure, match="PaymentDeclined"):
        provider.charge(30, idempotency_key="k")
    assert provider.charges == []


def test_a_retry_while_the_first_call_runs_is_refused():
    provider = FakePaymentProvider(delay=0.3)
    first = threading.Thread(target=lambda: provider.charge(30, idempotency_key="k"))
    first.start()
    while provider.keys.get("k") is None:  # the first call has claimed the key
        time.sleep(0.001)
    with pytest.raises(IdempotencyKeyInUse):
        provider.charge(30, idempotency_key="k")
    first.join(10)
    assert provider.charge(30, idempotency_key="k")["id"] == "ch_0001"
    assert len(provider.charges) == 1


def test_refunds_honour_keys_too(tmp_path):
    with SQLiteIdempotencyStore(tmp_path / "provider.db", owner="provider") as keys:
        provider = FakePaymentProvider(keys=keys)
        charge = provider.charge(30, idempotency_key="A1/pay")
        provider.lose_responses(1)
        with pytest.raises(ResponseLost):
            provider.refund(charge["id"], idempotency_key="A1/refund")
        assert provider.refund(charge["id"], idempotency_key="A1/refund") == {
            "id": "re_ch_0001",
            "charge": "ch_0001",
            "amount": 30,
        }
        assert provider.total_charged == 0
        with pytest.raises(InvalidValue, match="already refunded"):
            provider.refund(charge["id"])  # no key: a second refund is a new request
        with pytest.raises(InvalidValue, match="no charge"):
            provider.refund("ch_9999")


def test_bad_input():
    with pytest.raises(InvalidValue, match="positive int"):
        FakePaymentProvider().charge(0)
    with pytest.raises(InvalidValue, match="card_limit"):
        FakePaymentProvider(card_limit=-1)
    with pytest.raises(InvalidType, match="IdempotencyStore"):
        FakePaymentProvider(keys={})
    with pytest.raises(InvalidValue, match="delay"):
        FakePaymentProvider(delay=float("nan"))
