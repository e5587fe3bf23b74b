"""What exactly-once effects cost over at-least-once: the inbox, idempotency keys, the relay.

Each contender does the same consumer work per message, one SQLite transaction on a
``synchronous=FULL`` file in WAL mode (the disk's commit dominates): the floor commits the
change alone; ``SQLiteInbox`` adds the message id to the same transaction;
``run_in_transaction`` adds an idempotency key to it; ``run`` claims the key in a transaction
of its own before the work and records the outcome after it (two more commits: the price of
claiming before work that cannot share the transaction). The relay section compares
publishing the log through a ``Relay`` with a plain loop calling ``bus.publish``.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile

from .harness import Row, Section, Skip, best_per_call


def inbox_section(number: int, rounds: int) -> Section:
    try:
        from eda_kit import Event
        from eda_kit.messaging import SQLiteIdempotencyStore, SQLiteInbox
    except ImportError as error:
        raise Skip(f"eda_kit.messaging is missing ({error})") from None

    with tempfile.TemporaryDirectory() as folder:
        floor_conn = sqlite3.connect(os.path.join(folder, "floor.db"), isolation_level=None)
        floor_conn.execute("PRAGMA journal_mode = WAL")
        floor_conn.execute("PRAGMA synchronous = FULL")
        inbox = SQLiteInbox(os.path.join(folder, "inbox.db"), "consumer")
        keys = SQLiteIdempotencyStore(os.path.join(folder, "keys.db"))
        for conn in (floor_conn, inbox.connection, keys.connection):
            conn.execute("CREATE TABLE labels (order_id TEXT)")
        counter = itertools.count()

        def floor() -> None:
            floor_conn.execute("BEGIN IMMEDIATE")
            floor_conn.execute("INSERT INTO labels VALUES (?)", (f"A{next(counter)}",))
            floor_conn.execute("COMMIT")

        def label(event: Event, conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO labels VALUES (?)", (event.data["order_id"],))

        def with_inbox() -> None:
            inbox.handle(Event("OrderPlaced", {"order_id": f"A{next(counter)}"}), label)

        def keyed(conn: sqlite3.Connection, order_id: str) -> None:
            conn.execute("INSERT INTO labels VALUES (?)", (order_id,))

        def with_key_in_transaction() -> None:
            n = next(counter)
            keys.run_in_transaction(f"k{n}", keyed, f"A{n}")

        def with_key_claimed_first() -> None:
            n = next(counter)
            keys.run(f"c{n}", lambda order_id: None, f"A{n}")

        times = best_per_call(
            {
                "floor": floor,
                "inbox": with_inbox,
                "key in transaction": with_key_in_transaction,
                "key claimed first": with_key_claimed_first,
            },
            number=number,
            rounds=rounds,
        )
        floor_conn.close()
        inbox.close()
        keys.close()
    base = times["floor"]
    inbox_ratio = times["inbox"] / base
    return Section(
        "Messaging: effects once on SQLite",
        f"one consumer change per message, synchronous=FULL, best of {rounds} rounds of {number}",
        [
            Row("the change alone, one commit (floor)", base * 1e6, "µs/message", 1.0),
            Row("eda_kit SQLiteInbox.handle", times["inbox"] * 1e6, "µs/message", inbox_ratio),
            Row(
                "eda_kit run_in_transaction",
                times["key in transaction"] * 1e6,
                "µs/message",
                times["key in transaction"] / base,
            ),
            Row(
                "eda_kit run (claim, work, record)",
                times["key claimed first"] * 1e6,
                "µs/message",
                times["key claimed first"] / base,
            ),
        ],
        goal="the inbox at most 1.5x the change alone (the id shares its commit)",
        met=inbox_ratio <= 1.5,
        ratio_label="x floor",
    )


def relay_section(events: int, rounds: int) -> Section:
    try:
        from eda_kit import Event, EventBus, InMemoryEventStore
        from eda_kit.messaging import Relay
    except ImportError as error:
        raise Skip(f"eda_kit.messaging is missing ({error})") from None

    store = InMemoryEventStore()
    store.append("orders", [Event("OrderPlaced", {"n": n}) for n in range(events)])
    log = store.read_all()
    bus = EventBus()
    bus.subscribe("OrderPlaced", lambda event: None)
    names = itertools.count()

    def floor() -> None:
        for event in log:
            bus.publish(event)

    def relay() -> None:
        Relay(store, bus, name=f"r{next(names)}").run()

    def relay_batched() -> None:
        Relay(store, bus, name=f"b{next(names)}", checkpoint_every=100).run()

    times = best_per_call(
        {"floor": floor, "relay": relay, "batched": relay_batched}, number=1, rounds=rounds
    )
    base = times["floor"] / events
    ratio = times["relay"] / times["floor"]
    return Section(
        "Messaging: the relay",
        f"{events:,} stored events published to one subscriber, in memory, best of {rounds}",
        [
            Row("bus.publish in a loop (floor)", base * 1e6, "µs/event", 1.0),
            Row("eda_kit Relay", times["relay"] / events * 1e6, "µs/event", ratio),
            Row(
                "eda_kit Relay, checkpoint_every=100",
                times["batched"] / events * 1e6,
                "µs/event",
                times["batched"] / times["floor"],
            ),
        ],
        goal="the relay at most 5x the plain publish loop (reading the log, saving positions)",
        met=ratio <= 5,
        ratio_label="x floor",
    )
