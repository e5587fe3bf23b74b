"""Event sourcing, property-based: for any sequence of commands and saves, on both stores,

- the object rebuilt by ``get`` equals the object that ran the commands in memory;
- time travel to every version equals folding that prefix of the stream by hand;
- snapshots (any ``snapshot_every``) never change what is loaded;
- upcasting old events gives today's shape on read and never changes what is stored.
"""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_kit import Aggregate, Event, InMemoryEventStore, Repository, SQLiteEventStore


class Account(Aggregate):
    def __init__(self, id):
        super().__init__(id)
        self.balance = 0
        self.history = []  # a list in the state: snapshots must copy it, not share it

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.record("Deposited", amount=amount)

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.record("Withdrawn", amount=amount)

    def apply(self, event):
        match event.type:
            case "Deposited":
                self.balance += event.data["amount"]
            case "Withdrawn":
                self.balance -= event.data["amount"]
        self.history.append(self.balance)


commands = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(-5, 100)),
        st.tuples(st.just("withdraw"), st.integers(0, 150)),
        st.tuples(st.just("save"), st.just(0)),
    ),
    max_size=40,
)
snapshot_every = st.sampled_from([None, 1, 2, 3, 7])


@contextmanager
def open_store(kind):
    # SQLite in memory: the same SQL and JSON round trip, without an fsync per save (the unit
    # tests in test_sourcing.py use real files).
    store = InMemoryEventStore() if kind == "memory" else SQLiteEventStore(":memory:")
    try:
        yield store
    finally:
        store.close()


def run(repo, script):
    """Run the commands on one in-memory object, saving where the script says; save at the end."""
    account = Account("acc-1")
    account.deposit(1)  # the stream always exists
    for command, amount in script:
        if command == "save":
            repo.save(account)
            continue
        try:
            getattr(account, command)(amount)
        except ValueError:
            pass  # refused by the rules: nothing recorded
    repo.save(account)
    return account


def fold(events):
    account = Account("acc-1")
    for event in events:
        account.apply(event)
    return account


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=80, deadline=None)
@given(script=commands, every=snapshot_every)
def test_get_after_save_equals_the_in_memory_object(kind, script, every):
    with open_store(kind) as store:
        repo = Repository(store, Account, snapshot_every=every)
        account = run(repo, script)
        loaded = repo.get("acc-1")
        assert loaded.snapshot_state() == account.snapshot_state()
        assert loaded.version == account.version == store.stream_version("acc-1")
        assert loaded.balance >= 0


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=50, deadline=None)
@given(script=commands, every=snapshot_every)
def test_time_travel_at_every_version_equals_the_fold_of_that_prefix(kind, script, every):
    with open_store(kind) as store:
        repo = Repository(store, Account, snapshot_every=every)
        account = run(repo, script)
        stored = store.read_stream("acc-1")
        for version in range(1, account.version + 1):
            past = repo.get("acc-1", at_version=version)
            expected = fold(stored[:version])
            assert past.snapshot_state() == expected.snapshot_state()
            assert past.version == version
            assert past.history == account.history[:version]


def rupees_text_to_paise(data):
    return {"amount": int(Decimal(data["amount"]) * 100)}


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=50, deadline=None)
@given(
    deposits=st.lists(st.tuples(st.booleans(), st.integers(1, 10**9)), min_size=1, max_size=25),
    every=snapshot_every,
)
def test_old_and_new_event_shapes_read_as_one_and_stay_as_written(kind, deposits, every):
    """Schema 1 stored rupees as text ("12.05"); schema 2 stores paise (1205)."""
    with open_store(kind) as store:
        events = [
            Event("Deposited", {"amount": f"{paise // 100}.{paise % 100:02d}"})
            if old
            else Event("Deposited", {"amount": paise}, metadata={"schema": 2})
            for old, paise in deposits
        ]
        store.append("acc-1", events)
        stored = [(e.id, e.data, e.metadata) for e in store.read_stream("acc-1")]
        today = type("Account", (Account,), {"upcasters": {("Deposited", 1): rupees_text_to_paise}})
        repo = Repository(store, today, snapshot_every=every)
        account = repo.get("acc-1")
        account.deposit(7)
        repo.save(account)  # may snapshot; the new event is stamped schema 2
        paise = [amount for _, amount in deposits] + [7]
        assert repo.get("acc-1").balance == sum(paise)
        assert [e.data["amount"] for e in repo.history("acc-1")] == paise
        assert [(e.id, e.data, e.metadata) for e in store.read_stream("acc-1")][:-1] == stored
