"""Upcasting: old event shapes brought up to date on read; stored events never rewritten."""

from __future__ import annotations

import pytest
from accounts import BankAccount, opened_account  # the design document's account

from eda_kit import (
    Event,
    Repository,
)
from eda_kit.payloads import FrozenDict

# --------------------------------------------------------------------------------------
# Upcasting


def declaring(table, base=BankAccount):
    """The account class of today's code, declaring its event schemas once."""
    return type(base.__name__, (base,), {"upcasters": table})


def rupees_to_paise(data):
    """Deposited v1 carried rupees as text; v2 carries paise as an int."""
    return {"amount": round(float(data["amount"]) * 100)}


def old_deposits(store):
    """What version 1 of the bank wrote: no schema in the metadata, rupees as text."""
    store.append(
        "acc-7",
        [
            Event("AccountOpened", {"owner": "ravi"}),
            Event("Deposited", {"amount": "500.00"}),
            Event("Deposited", {"amount": "12.50"}),
        ],
    )


def test_old_events_are_upcast_on_read_and_never_rewritten(store):
    old_deposits(store)
    repo = Repository(store, declaring({("Deposited", 1): rupees_to_paise}))
    account = repo.get("acc-7")
    assert account.balance == 51250  # paise
    stored = store.read_stream("acc-7")
    assert [e.data for e in stored][1:] == [{"amount": "500.00"}, {"amount": "12.50"}]
    assert all("schema" not in e.metadata for e in stored)
    seen = repo.history("acc-7")
    assert [e.data for e in seen][1:] == [{"amount": 50000}, {"amount": 1250}]
    assert [e.metadata.get("schema") for e in seen] == [None, 2, 2]  # only upcast ones change
    assert [(e.id, e.version, e.position) for e in seen] == [
        (e.id, e.version, e.position) for e in stored
    ]


def test_new_events_are_stamped_with_the_current_schema_and_not_upcast_again(store):
    old_deposits(store)
    repo = Repository(store, declaring({("Deposited", 1): rupees_to_paise}))
    account = repo.get("acc-7")
    account.deposit(100)  # today's shape: paise
    account.withdraw(50)
    repo.save(account)
    stored = store.read_stream("acc-7")
    assert [(e.type, e.metadata.get("schema")) for e in stored[3:]] == [
        ("Deposited", 2),
        ("Withdrawn", 1),
    ]
    assert repo.get("acc-7").balance == 51250 + 100 - 50


def test_an_event_appended_directly_is_schema_1_unless_stamped_as_the_docs_say(store):
    """Outside a repository nothing stamps: the module docstring's warning, and its fix."""
    from eda_kit.sourcing.upcasting import Upcasters

    old_deposits(store)
    Account = declaring({("Deposited", 1): rupees_to_paise})
    repo = Repository(store, Account)
    store.append("acc-7", repo.upcasters.stamp(Event("Deposited", {"amount": 100})))
    store.append("acc-7", Upcasters.of_class(Account).stamp(Event("Deposited", {"amount": 1})))
    assert repo.get("acc-7").balance == 51250 + 100 + 1  # stamped: read as today's shape
    store.append("acc-7", Event("Deposited", {"amount": 100}))  # unstamped: "schema 1"
    assert repo.get("acc-7").balance == 51250 + 101 + 10000  # upcast: 100 times too large


def test_upcasters_chain(store):
    old_deposits(store)

    def add_currency(data):
        return {**data, "currency": "INR"}

    seen = []

    class Audited(BankAccount):
        def apply(self, event):
            seen.append(dict(event.data))
            super().apply(event)

    Audited.upcasters = {("Deposited", 1): rupees_to_paise, ("Deposited", 2): add_currency}
    repo = Repository(store, Audited)
    assert repo.get("acc-7").balance == 51250
    assert seen[1] == {"amount": 50000, "currency": "INR"}
    assert repo.upcasters.current_schema("Deposited") == 3


def test_an_event_newer_than_the_code_is_refused(store):
    store.append("acc-9", Event("Deposited", {"amount": 5}, metadata={"schema": 3}))
    repo = Repository(store, declaring({("Deposited", 1): rupees_to_paise}))
    with pytest.raises(ValueError, match="is schema 3, newer than this code knows"):
        repo.get("acc-9")


@pytest.mark.parametrize(
    ("table", "error", "message"),
    [
        ({("Deposited", 2): rupees_to_paise}, ValueError, "must form a chain from schema 1"),
        ({"Deposited": rupees_to_paise}, ValueError, "must be \\(event type, schema"),
        ({("Deposited", 0): rupees_to_paise}, ValueError, "must be \\(event type, schema"),
        ({("", 1): rupees_to_paise}, ValueError, "must be \\(event type, schema"),
        ({("Deposited", 1): "rupees_to_paise"}, TypeError, "must be a function"),
        ([("Deposited", 1)], TypeError, "upcasters must be a dict"),
    ],
)
def test_bad_upcaster_tables_are_refused(store, table, error, message):
    with pytest.raises(error, match=message):
        Repository(store, declaring(table))


def test_an_upcaster_that_edits_the_stored_event_in_place_is_stopped(store):
    old_deposits(store)

    def in_place(data):
        data["amount"] = round(float(data["amount"]) * 100)
        return data

    repo = Repository(store, declaring({("Deposited", 1): in_place}))
    with pytest.raises(TypeError, match="read-only") as caught:
        repo.get("acc-7")
    assert any("while upcasting" in note and "in_place" in note for note in caught.value.__notes__)
    assert store.read_stream("acc-7")[1].data == {"amount": "500.00"}


@pytest.mark.parametrize(
    ("upcaster", "message"),
    [
        (lambda data: None, "the upcaster returned None"),
        (lambda data: {"amount": {1, 2}}, "object of type set is not JSON"),
    ],
)
def test_an_upcaster_must_return_new_json_data(store, upcaster, message):
    old_deposits(store)
    repo = Repository(store, declaring({("Deposited", 1): upcaster}))
    with pytest.raises(TypeError, match=message):
        repo.get("acc-7")


def test_upcasting_and_snapshots_together(store):
    old_deposits(store)
    repo = Repository(store, declaring({("Deposited", 1): rupees_to_paise}), snapshot_every=2)
    account = repo.get("acc-7")
    account.deposit(50)
    account.deposit(50)
    repo.save(account)  # snapshot at 5, taken from the upcast state
    assert store.load_snapshot("acc-7").state["state"]["balance"] == 51350
    assert repo.get("acc-7").balance == 51350
    assert repo.get("acc-7", at_version=2).balance == 50000


def test_event_payloads_seen_by_apply_are_read_only(store):
    repo = Repository(store, BankAccount)
    repo.save(opened_account())
    assert all(isinstance(e.data, FrozenDict) for e in repo.history("acc-1"))


def test_upcasting_never_changes_what_is_stored_or_its_order(store):
    """Many old and new events interleaved: apply sees one shape, the store keeps both."""
    old_and_new = []
    for i in range(1, 30):
        if i % 3:
            old_and_new.append(Event("Deposited", {"amount": f"{i}.{i % 10}0"}))
        else:
            old_and_new.append(Event("Deposited", {"amount": i * 100}, metadata={"schema": 2}))
    store.append("acc-mix", old_and_new)
    before = [(e.id, e.data, e.metadata) for e in store.read_stream("acc-mix")]
    repo = Repository(store, declaring({("Deposited", 1): rupees_to_paise}), snapshot_every=4)
    expected = sum(
        round(float(e.data["amount"]) * 100) if "schema" not in e.metadata else e.data["amount"]
        for e in old_and_new
    )
    assert repo.get("acc-mix").balance == expected
    assert [(e.id, e.data, e.metadata) for e in store.read_stream("acc-mix")] == before
    assert all(type(e.data["amount"]) is int for e in repo.history("acc-mix"))


# --------------------------------------------------------------------------------------
# Schema versions belong to event types, declared once on the class


def test_a_repository_of_its_own_upcasters_is_refused(store):
    with pytest.raises(ValueError, match=r"declared once, on the aggregate class.*BankAccount"):
        Repository(store, BankAccount, upcasters={("Deposited", 1): rupees_to_paise})


def test_every_repository_stamps_the_same_schema_and_reads_the_same_values(tmp_path):
    """The bug this fixes: a deposit saved through a plain repository came back 100x too large.

    Saves go through differently configured repositories (no snapshots, snapshots every
    event, every 3 events) on both stores; every one of them reads every account back with
    the same balance, and every new Deposited is stamped schema 2.
    """
    from eda_kit import InMemoryEventStore, SQLiteEventStore

    Account = declaring({("Deposited", 1): rupees_to_paise})
    for store in (InMemoryEventStore(), SQLiteEventStore(tmp_path / "accounts.db")):
        old_deposits(store)  # 500.00 + 12.50 rupees, written as schema 1 long ago
        repositories = [
            Repository(store, Account),
            Repository(store, Account, snapshot_every=1),
            Repository(store, Account, snapshot_every=3),
        ]
        for i, saving in enumerate(repositories):
            account = saving.get("acc-7")
            account.deposit(100 * (i + 1))  # paise, today's shape
            saving.save(account)
        expected = 51250 + 100 + 200 + 300
        for reading in repositories:
            assert reading.get("acc-7").balance == expected
        stored = store.read_stream("acc-7")
        assert [e.metadata.get("schema") for e in stored if e.type == "Deposited"] == [
            None,
            None,
            2,
            2,
            2,
        ]
        store.close()


def test_the_class_declaration_is_checked_and_named(store):
    Broken = declaring({("Deposited", 2): rupees_to_paise})
    with pytest.raises(ValueError, match=r"BankAccount.upcasters: upcasters for 'Deposited' must"):
        Repository(store, Broken)
