"""Aggregate: commands record events, apply() is the only place state changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from accounts import BankAccount, opened_account  # the design document's account

from eda_kit import (
    Aggregate,
    Event,
)

# --------------------------------------------------------------------------------------
# Aggregate on its own


def test_record_applies_the_event_and_keeps_it_pending():
    account = BankAccount("acc-1")
    account.open("asha")
    account.deposit(500)
    assert (account.owner, account.balance, account.version) == ("asha", 500, 2)
    assert [(e.type, e.data) for e in account.pending] == [
        ("AccountOpened", {"owner": "asha"}),
        ("Deposited", {"amount": 500}),
    ]
    assert all(isinstance(e, Event) for e in account.pending)


def test_a_refused_command_records_nothing():
    account = BankAccount("acc-1")
    account.deposit(100)
    with pytest.raises(ValueError, match="insufficient funds"):
        account.withdraw(101)
    with pytest.raises(ValueError, match="deposit must be positive"):
        account.deposit(0)
    assert (account.balance, account.version, len(account.pending)) == (100, 1, 1)


def test_record_refuses_non_json_data_and_keeps_nothing():
    account = BankAccount("acc-1")
    with pytest.raises(TypeError, match=r"data\['when'\]: object of type datetime is not JSON"):
        account.record("Deposited", amount=1, when=datetime(2026, 1, 1, tzinfo=UTC))
    assert (account.balance, account.version, account.pending) == (0, 0, ())


def test_an_event_whose_apply_fails_is_not_kept():
    account = BankAccount("acc-1")
    with pytest.raises(KeyError):
        account.record("Deposited", amont=5)  # typo: apply can't find "amount"
    assert (account.version, account.pending) == (0, ())


def test_type_and_data_keys_may_share_names():
    account = BankAccount("acc-1")
    event = account.record("Noted", type="memo", event_type="x")
    assert event.type == "Noted" and event.data == {"type": "memo", "event_type": "x"}


def test_pending_is_a_read_only_copy():
    account = opened_account()
    pending = account.pending
    assert isinstance(pending, tuple) and len(pending) == 4
    with pytest.raises(TypeError, match="read-only"):
        pending[0].data["owner"] = "mallory"


def test_forgetting_super_init_is_explained():
    class Broken(Aggregate):
        def __init__(self, id):
            self.id = id

        def apply(self, event):
            pass

    with pytest.raises(TypeError, match=r"Broken.__init__ must call super\(\).__init__\(id\)"):
        Broken("b-1").record("Happened")
    assert repr(Broken("b-1")) == "Broken('b-1', version=0)"  # repr still works


def test_base_apply_must_be_written():
    with pytest.raises(NotImplementedError, match="Aggregate must define apply"):
        Aggregate("x").record("Happened")


@pytest.mark.parametrize("bad_id", ["", "   ", None, 7])
def test_aggregate_ids_are_non_empty_strings(bad_id):
    with pytest.raises(ValueError, match="non-empty str"):
        BankAccount(bad_id)


def test_sourcing_package_exports_the_aggregate():
    from eda_kit import sourcing
    from eda_kit.sourcing import aggregate

    assert sourcing.Aggregate is aggregate.Aggregate is Aggregate


def test_repr_shows_id_version_pending_and_state():
    account = BankAccount("acc-1")
    account.open("asha")
    assert repr(account) == "BankAccount('acc-1', version=1, pending=1, owner='asha', balance=0)"


def test_snapshot_state_is_the_public_attributes_as_independent_json():
    account = opened_account()
    account.tags = ["vip"]
    state = account.snapshot_state()
    assert state == {"owner": "asha", "balance": 800, "tags": ["vip"]}
    state["tags"].append("changed")  # a copy: the account is not touched
    assert account.tags == ["vip"]
    fresh = BankAccount("acc-1")
    fresh.restore_state(state)
    assert (fresh.owner, fresh.balance, fresh.tags) == ("asha", 800, ["vip", "changed"])


def test_snapshot_state_names_the_attribute_that_is_not_json():
    account = opened_account()
    account.opened = datetime(2026, 1, 5, tzinfo=UTC)
    with pytest.raises(TypeError, match="BankAccount.opened: object of type datetime is not JSON"):
        account.snapshot_state()
