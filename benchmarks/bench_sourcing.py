"""Loading an aggregate: full replay vs snapshot + the events after it."""

from __future__ import annotations

from .harness import Row, Section, Skip, best_of, timed


def sourcing_section(events: int, rounds: int) -> Section:
    try:
        from eda_kit import Aggregate, Repository
        from eda_kit.store import InMemoryEventStore
    except ImportError as error:
        raise Skip(f"eda_kit.sourcing is missing ({error})") from None

    class Account(Aggregate):
        def __init__(self, id):
            super().__init__(id)
            self.balance = 0

        def deposit(self, amount):
            self.record("Deposited", amount=amount)

        def apply(self, event):
            match event.type:
                case "Deposited":
                    self.balance += event.data["amount"]

    def fill(repository: Repository) -> None:
        account = Account("acc-1")
        for start in range(0, events, 1000):
            for _ in range(min(1000, events - start)):
                account.deposit(1)
            repository.save(account)
            account = repository.get("acc-1")

    # Two stores with the same history: one never snapshotted, one snapshotted every 100.
    full, snapshotted = (
        Repository(InMemoryEventStore(), Account),
        Repository(InMemoryEventStore(), Account, snapshot_every=100),
    )
    fill(full)
    fill(snapshotted)
    assert full.get("acc-1").balance == snapshotted.get("acc-1").balance == events
    replay = best_of(rounds, lambda: timed(lambda: full.get("acc-1")))
    snapshot = best_of(rounds, lambda: timed(lambda: snapshotted.get("acc-1")))
    speed_up = replay / snapshot
    return Section(
        "Event sourcing: load an aggregate",
        f"`Repository.get` of an account with {events:,} events, in memory, best of {rounds}",
        [
            Row("full replay", replay * 1e6, "µs", 1.0),
            Row("snapshot every 100 + tail", snapshot * 1e6, "µs", speed_up, ours=True),
        ],
        goal="snapshots at least 10x faster, same state",
        met=speed_up >= 10,
        ratio_label="speed-up",
    )
