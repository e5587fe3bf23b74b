"""Event sourcing, property-based: for any sequence of commands and saves, on both stores,

- the object rebuilt by ``get`` equals the object that ran the commands in memory;
- time travel to every version equals folding that prefix of the stream by hand;
- snapshots (any ``snapshot_every``) never change what is loaded.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_kit import Aggregate, InMemoryEventStore, Repository, SQLiteEventStore


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
    if kind == "memory":
        yield InMemoryEventStore()
        return
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteEventStore(Path(folder) / "p.db")
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
@settings(max_examples=40, deadline=None)
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
@settings(max_examples=25, deadline=None)
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
