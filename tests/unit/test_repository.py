"""Repository: save and load by folding events, time travel, concurrency, snapshots.

Every repository test runs against both stores (in memory and SQLite).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from accounts import BankAccount, opened_account  # the design document's account

from eda_kit import (
    Aggregate,
    AggregateNotFound,
    InMemoryEventStore,
    Repository,
    SQLiteEventStore,
    WrongExpectedVersion,
)


class Spy:
    """Wraps a store and remembers which versions ``read_stream`` was asked for."""

    def __init__(self, store):
        self._store = store
        self.reads = []

    def read_stream(self, stream_id, from_version=1, to_version=None):
        self.reads.append((from_version, to_version))
        return self._store.read_stream(stream_id, from_version=from_version, to_version=to_version)

    def __getattr__(self, name):
        return getattr(self._store, name)


# --------------------------------------------------------------------------------------
# Repository: save and get


def test_save_appends_pending_events_and_clears_them(store):
    repo = Repository(store, BankAccount)
    account = opened_account()
    assert repo.save(account) == 4
    assert account.pending == () and account.version == 4
    stored = store.read_stream("acc-1")
    assert [(e.type, e.data, e.version) for e in stored] == [
        ("AccountOpened", {"owner": "asha"}, 1),
        ("Deposited", {"amount": 500}, 2),
        ("Deposited", {"amount": 500}, 3),
        ("Withdrawn", {"amount": 200}, 4),
    ]
    assert [e.metadata["schema"] for e in stored] == [1, 1, 1, 1]  # stamped by save


def test_saving_keeps_event_ids_and_times(store):
    account = opened_account()
    ids = [e.id for e in account.pending]
    times = [e.time for e in account.pending]
    Repository(store, BankAccount).save(account)
    stored = store.read_stream("acc-1")
    assert [e.id for e in stored] == ids
    assert [e.time for e in stored] == times


def test_saving_nothing_writes_nothing(store):
    repo = Repository(store, BankAccount)
    account = opened_account()
    repo.save(account)
    assert repo.save(account) == 4
    assert store.stream_version("acc-1") == 4 and store.last_position() == 4


def test_get_rebuilds_a_fresh_object_from_the_events(store):
    repo = Repository(store, BankAccount)
    account = opened_account()
    repo.save(account)
    loaded = repo.get("acc-1")
    assert loaded is not account
    assert isinstance(loaded, BankAccount)
    assert (loaded.id, loaded.owner, loaded.balance, loaded.version) == ("acc-1", "asha", 800, 4)
    assert loaded.pending == ()


def test_a_loaded_aggregate_continues_where_the_stream_is(store):
    repo = Repository(store, BankAccount)
    repo.save(opened_account())
    account = repo.get("acc-1")
    account.withdraw(300)
    assert repo.save(account) == 5
    assert repo.get("acc-1").balance == 500
    account.deposit(1)  # the same object can be saved again: it knows it is at version 5
    assert repo.save(account) == 6


def test_apply_sees_the_version_before_the_event_both_when_recording_and_loading(store):
    class Diary(Aggregate):
        def __init__(self, id):
            super().__init__(id)
            self.seen = []

        def apply(self, event):
            self.seen.append(self.version)

    repo = Repository(store, Diary)
    diary = Diary("d-1")
    for _ in range(3):
        diary.record("Wrote")
    repo.save(diary)
    assert diary.seen == [0, 1, 2]
    assert repo.get("d-1").seen == [0, 1, 2]


def test_get_of_an_unknown_id_raises_aggregate_not_found(store):
    repo = Repository(store, BankAccount)
    with pytest.raises(AggregateNotFound) as caught:
        repo.get("acc-404")
    assert str(caught.value) == (
        "no BankAccount with id 'acc-404': its stream has no events (was it ever saved?)"
    )
    assert isinstance(caught.value, LookupError)
    assert (caught.value.aggregate_type, caught.value.aggregate_id) == ("BankAccount", "acc-404")
    with pytest.raises(AggregateNotFound):
        repo.history("acc-404")


def test_time_travel_gives_the_state_at_each_version(store):
    repo = Repository(store, BankAccount)
    repo.save(opened_account())
    balances = [repo.get("acc-1", at_version=v).balance for v in range(1, 5)]
    assert balances == [0, 500, 1000, 800]
    assert repo.get("acc-1", at_version=1).owner == "asha"
    assert [repo.get("acc-1", at_version=v).version for v in range(1, 5)] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("at_version", "error", "message"),
    [
        (0, ValueError, "has versions 1 to 4, so at_version=0 does not exist"),
        (5, ValueError, "has versions 1 to 4, so at_version=5 does not exist"),
        (-1, ValueError, "at_version=-1 does not exist"),
        ("2", TypeError, "at_version must be an int, got '2'"),
        (True, TypeError, "at_version must be an int, got True"),
        (2.0, TypeError, "at_version must be an int, got 2.0"),
    ],
)
def test_time_travel_to_a_version_that_does_not_exist_is_refused(store, at_version, error, message):
    repo = Repository(store, BankAccount)
    repo.save(opened_account())
    with pytest.raises(error, match=message):
        repo.get("acc-1", at_version=at_version)


def test_a_time_travelled_copy_cannot_overwrite_the_present(store):
    repo = Repository(store, BankAccount)
    repo.save(opened_account())
    past = repo.get("acc-1", at_version=2)
    past.withdraw(500)  # allowed back then: the balance was 500
    with pytest.raises(WrongExpectedVersion, match="expected version 2, actual 4"):
        repo.save(past)
    assert store.stream_version("acc-1") == 4


def test_history_returns_the_events_apply_sees(store):
    repo = Repository(store, BankAccount)
    repo.save(opened_account())
    assert [e.type for e in repo.history("acc-1")] == [
        "AccountOpened",
        "Deposited",
        "Deposited",
        "Withdrawn",
    ]
    assert [e.version for e in repo.history("acc-1", to_version=2)] == [1, 2]


def test_repository_refuses_bad_arguments(store):
    with pytest.raises(TypeError, match="needs an Aggregate subclass"):
        Repository(store, dict)
    with pytest.raises(TypeError, match="needs an Aggregate subclass"):
        Repository(store, BankAccount("acc-1"))
    with pytest.raises(TypeError, match="is not an event store"):
        Repository({}, BankAccount)

    class NoSnapshots:
        append = read_stream = stream_version = print

    Repository(NoSnapshots(), BankAccount)  # enough without snapshots
    with pytest.raises(TypeError, match=r"it has no save_snapshot\(\)"):
        Repository(NoSnapshots(), BankAccount, snapshot_every=10)
    for bad in (0, -5, True, 2.5, "100"):
        with pytest.raises(ValueError, match="snapshot_every must be a positive int or None"):
            Repository(store, BankAccount, snapshot_every=bad)


def test_an_aggregate_that_needs_more_than_an_id_is_explained(store):
    class Picky(Aggregate):
        def __init__(self, id, currency):
            super().__init__(id)
            self.currency = currency

        def apply(self, event):
            pass

    picky = Picky("p-1", "INR")
    picky.record("Happened")
    repo = Repository(store, Picky)
    repo.save(picky)
    with pytest.raises(TypeError) as caught:
        repo.get("p-1")
    assert "Repository.get builds Picky(id)" in caught.value.__notes__[0]


def test_save_refuses_an_object_of_another_class(store):
    class Other(Aggregate):
        def apply(self, event):
            pass

    other = Other("acc-1")
    other.record("Happened")
    with pytest.raises(TypeError, match="this repository saves BankAccount objects"):
        Repository(store, BankAccount).save(other)
    assert store.stream_version("acc-1") == 0


# --------------------------------------------------------------------------------------
# Concurrency: optimistic, via the store's expected version


def test_two_tellers_one_account_only_one_save_wins(store):
    repo = Repository(store, BankAccount)
    repo.save(opened_account())  # balance 800, version 4
    teller_a = repo.get("acc-1")
    teller_b = repo.get("acc-1")
    teller_a.withdraw(800)
    teller_b.withdraw(800)  # each copy believes 800 is there
    assert repo.save(teller_a) == 5
    with pytest.raises(WrongExpectedVersion) as caught:
        repo.save(teller_b)
    assert str(caught.value) == "stream 'acc-1': expected version 4, actual 5"
    # Nothing of teller B's was written; B still holds its pending event.
    assert store.stream_version("acc-1") == 5
    assert [e.type for e in store.read_stream("acc-1")][-1] == "Withdrawn"
    assert repo.get("acc-1").balance == 0
    assert len(teller_b.pending) == 1
    # The fix: reload, re-run the command (the rules now see the real balance).
    teller_b = repo.get("acc-1")
    with pytest.raises(ValueError, match="insufficient funds"):
        teller_b.withdraw(800)


def test_creating_an_account_whose_id_is_taken_fails(store):
    repo = Repository(store, BankAccount)
    repo.save(opened_account())
    impostor = BankAccount("acc-1")
    impostor.open("mallory")
    with pytest.raises(WrongExpectedVersion, match="expected version 0, actual 4"):
        repo.save(impostor)
    assert repo.get("acc-1").owner == "asha"


def test_racing_threads_lose_no_deposit(store, tmp_path):
    """Four tellers deposit 1 ten times each, retrying on conflicts: the balance is exact."""
    repo = Repository(store, BankAccount)
    account = BankAccount("acc-1")
    account.open("asha")
    repo.save(account)
    conflicts = []
    errors = []

    def teller():
        try:
            # SQLite: each thread its own connection to the same file, like separate processes.
            own = (
                store
                if isinstance(store, InMemoryEventStore)
                else SQLiteEventStore(tmp_path / "bank.db")
            )
            own_repo = Repository(own, BankAccount)
            for _ in range(10):
                while True:
                    copy = own_repo.get("acc-1")
                    copy.deposit(1)
                    try:
                        own_repo.save(copy)
                        break
                    except WrongExpectedVersion:
                        conflicts.append(1)
            if own is not store:
                own.close()
        except Exception as error:  # surfaced below: a thread's exception would vanish
            errors.append(error)

    threads = [threading.Thread(target=teller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = repo.get("acc-1")
    assert (final.balance, final.version) == (40, 41)


# --------------------------------------------------------------------------------------
# Snapshots


def save_one_event_at_a_time(repo, id="acc-1", deposits=10):
    account = BankAccount(id)
    account.open("asha")
    repo.save(account)
    for amount in range(1, deposits + 1):
        account.deposit(amount)
        repo.save(account)
    return account


def test_snapshots_are_taken_every_n_events(store):
    repo = Repository(store, BankAccount, snapshot_every=3)
    save_one_event_at_a_time(repo)  # versions 1..11
    versions = []
    snapshot = store.load_snapshot("acc-1")
    while snapshot is not None:
        versions.append(snapshot.version)
        snapshot = store.load_snapshot("acc-1", max_version=snapshot.version - 1)
    assert versions == [9, 6, 3]
    assert store.load_snapshot("acc-1", max_version=6).state == {
        "aggregate": "BankAccount",
        "schema": 1,
        "state": {"owner": "asha", "balance": 1 + 2 + 3 + 4 + 5},
    }


def test_a_batch_crossing_the_threshold_snapshots_at_its_end(store):
    repo = Repository(store, BankAccount, snapshot_every=3)
    repo.save(opened_account())  # 4 events in one save
    assert store.load_snapshot("acc-1").version == 4


def test_snapshots_never_change_versions_or_positions(store):
    repo = Repository(store, BankAccount, snapshot_every=1)
    save_one_event_at_a_time(repo, deposits=3)
    assert store.stream_version("acc-1") == 4
    assert [e.position for e in store.read_all()] == [1, 2, 3, 4]
    assert store.streams() == ["acc-1"]


def test_get_starts_from_the_newest_snapshot_and_reads_only_later_events(store):
    save_one_event_at_a_time(Repository(store, BankAccount, snapshot_every=4))  # snaps at 4, 8
    spy = Spy(store)
    repo = Repository(spy, BankAccount, snapshot_every=4)
    loaded = repo.get("acc-1")
    assert spy.reads == [(9, 11)]
    assert (loaded.balance, loaded.version) == (sum(range(1, 11)), 11)


def test_time_travel_uses_the_newest_snapshot_at_or_before_the_version(store):
    save_one_event_at_a_time(Repository(store, BankAccount, snapshot_every=4))  # snaps at 4, 8
    spy = Spy(store)
    repo = Repository(spy, BankAccount, snapshot_every=4)
    assert repo.get("acc-1", at_version=7).balance == 1 + 2 + 3 + 4 + 5 + 6
    assert repo.get("acc-1", at_version=8).balance == sum(range(1, 8))
    assert repo.get("acc-1", at_version=2).balance == 1  # before any snapshot
    assert spy.reads == [(5, 7), (9, 8), (1, 2)]


def test_the_snapshot_path_and_the_full_replay_agree_at_every_version(store):
    save_one_event_at_a_time(Repository(store, BankAccount, snapshot_every=2), deposits=12)
    with_snapshots = Repository(store, BankAccount, snapshot_every=2)
    full_replay = Repository(store, BankAccount)
    for version in range(1, 14):
        a = with_snapshots.get("acc-1", at_version=version)
        b = full_replay.get("acc-1", at_version=version)
        assert (a.snapshot_state(), a.version) == (b.snapshot_state(), b.version)


def test_a_repository_without_snapshot_every_ignores_snapshots(store):
    save_one_event_at_a_time(Repository(store, BankAccount, snapshot_every=2))
    spy = Spy(store)
    Repository(spy, BankAccount).get("acc-1")
    assert spy.reads == [(1, 11)]


def test_loading_from_a_snapshot_then_saving_keeps_the_rhythm(store):
    repo = Repository(store, BankAccount, snapshot_every=5)
    save_one_event_at_a_time(repo, deposits=6)  # versions 1..7, snapshot at 5
    account = repo.get("acc-1")  # from the snapshot at 5
    for _ in range(2):
        account.deposit(1)
        repo.save(account)  # 8, 9: not yet 5 past the snapshot
    assert store.load_snapshot("acc-1").version == 5
    account.deposit(1)
    repo.save(account)  # 10
    assert store.load_snapshot("acc-1").version == 10


def test_state_that_is_not_json_fails_the_save_before_anything_is_written(store):
    repo = Repository(store, BankAccount, snapshot_every=2)
    account = opened_account()
    account.opened_at = datetime(2026, 1, 5, tzinfo=UTC)  # not JSON
    with pytest.raises(TypeError) as caught:
        repo.save(account)
    message = str(caught.value)
    assert message.startswith("cannot snapshot BankAccount 'acc-1' at version 4: ")
    assert "BankAccount.opened_at: object of type datetime is not JSON" in message
    assert "Nothing was saved" in message
    assert store.stream_version("acc-1") == 0 and store.load_snapshot("acc-1") is None
    assert len(account.pending) == 4  # the object is unchanged: fix it and save again
    account.opened_at = "2026-01-05"
    assert repo.save(account) == 4
    assert store.load_snapshot("acc-1").state["state"]["opened_at"] == "2026-01-05"


def test_a_save_that_loses_the_race_writes_no_snapshot_either(store):
    repo = Repository(store, BankAccount, snapshot_every=1)
    repo.save(opened_account())  # snapshot at 4
    teller_a, teller_b = repo.get("acc-1"), repo.get("acc-1")
    teller_a.deposit(1)
    teller_b.deposit(2)
    repo.save(teller_a)  # snapshot at 5, balance 801
    with pytest.raises(WrongExpectedVersion):
        repo.save(teller_b)
    assert store.load_snapshot("acc-1").state["state"]["balance"] == 801


def test_a_snapshot_that_fails_after_the_append_loses_only_the_snapshot(store):
    class SnapshotsFail(Spy):
        def save_snapshot(self, stream_id, version, state):
            raise OSError("disk full")

    repo = Repository(SnapshotsFail(store), BankAccount, snapshot_every=2)
    account = opened_account()
    with pytest.raises(OSError, match="disk full"):
        repo.save(account)
    # The events are saved and the object knows it: saving again writes nothing twice.
    assert store.stream_version("acc-1") == 4 and account.pending == ()
    assert store.load_snapshot("acc-1") is None
    assert repo.get("acc-1").balance == 800  # loads by full replay


def test_non_json_state_only_matters_when_a_snapshot_is_due(store):
    account = opened_account()
    account.opened_at = datetime(2026, 1, 5, tzinfo=UTC)
    assert Repository(store, BankAccount).save(account) == 4  # no snapshots: fine


def test_snapshot_state_must_return_a_dict(store):
    class Odd(BankAccount):
        def snapshot_state(self):
            return [self.balance]

    account = Odd("acc-1")
    account.deposit(5)
    with pytest.raises(TypeError, match=r"Odd.snapshot_state\(\) must return a dict, got list"):
        Repository(store, Odd, snapshot_every=1).save(account)
    assert store.stream_version("acc-1") == 0


def test_overridden_snapshot_methods_convert_state(store):
    class Tagged(Aggregate):
        """Keeps a set (not JSON): its snapshot stores a sorted list instead."""

        def __init__(self, id):
            super().__init__(id)
            self.tags = set()

        def apply(self, event):
            self.tags.add(event.data["tag"])

        def snapshot_state(self):
            return {"tags": sorted(self.tags)}

        def restore_state(self, state):
            self.tags = set(state["tags"])

    repo = Repository(store, Tagged, snapshot_every=2)
    item = Tagged("t-1")
    for tag in ["b", "a", "c"]:
        item.record("Tagged", tag=tag)
    repo.save(item)
    assert store.load_snapshot("t-1").state["state"] == {"tags": ["a", "b", "c"]}
    assert repo.get("t-1").tags == {"a", "b", "c"}


def test_a_snapshot_of_another_schema_is_skipped_not_misread(store):
    save_one_event_at_a_time(Repository(store, BankAccount, snapshot_every=2), deposits=5)
    # Same class name, new snapshot_schema: the code changed what the state means.
    Changed = type("BankAccount", (BankAccount,), {"snapshot_schema": 2})
    spy = Spy(store)
    loaded = Repository(spy, Changed, snapshot_every=2).get("acc-1")
    assert spy.reads == [(1, 6)]
    assert loaded.balance == 15


def test_an_unusable_snapshot_falls_back_to_an_older_usable_one(store):
    save_one_event_at_a_time(Repository(store, BankAccount, snapshot_every=2), deposits=5)
    store.save_snapshot("acc-1", 6, {"something": "else"})  # replaces the one at 6
    store.save_snapshot("acc-1", 5, {"aggregate": "Invoice", "schema": 1, "state": {}})
    spy = Spy(store)
    loaded = Repository(spy, BankAccount, snapshot_every=2).get("acc-1")
    assert spy.reads == [(5, 6)]  # from the good snapshot at 4
    assert loaded.balance == 15
