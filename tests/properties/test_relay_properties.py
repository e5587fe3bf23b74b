"""Random interleavings of appends, relay runs and crashes: every event is applied exactly once.

A program appends events to a few streams, runs the relay (sometimes armed to crash at a random
point of the relay or of the consumer's inbox, after a random number of events), and finally
runs a clean relay. However the crashes fall, the consumer (an inbox over SQLite, so a crash
rolls its transaction back as a dying process would) must end with every stored event applied
exactly once, each stream's events in version order, and the relay's position at the end of
the log.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from eda_kit import Event, EventBus, InMemoryEventStore
from eda_kit.errors import SimulatedCrash
from eda_kit.messaging import INBOX_CRASH_POINTS, RELAY_CRASH_POINTS, Relay, SQLiteInbox

crash = st.one_of(
    st.none(),
    st.tuples(st.just("relay"), st.sampled_from(RELAY_CRASH_POINTS), st.integers(0, 4)),
    st.tuples(st.just("inbox"), st.sampled_from(INBOX_CRASH_POINTS), st.integers(0, 4)),
)
program = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.sampled_from(["a", "b", "c"]), st.integers(1, 3)),
        st.tuples(st.just("relay"), crash, st.integers(1, 3)),
    ),
    max_size=12,
)


def apply(event, conn):
    conn.execute(
        "INSERT INTO applied (stream_id, version, event_id) VALUES (?, ?, ?)",
        (event.stream_id, event.version, event.id),
    )


@settings(max_examples=60, deadline=None)
@given(steps=program)
def test_every_event_is_applied_exactly_once_in_stream_order(steps):
    with tempfile.TemporaryDirectory() as folder:
        database = str(Path(folder) / "consumer.db")
        store = InMemoryEventStore()
        setup = SQLiteInbox(database, "consumer")
        setup.connection.execute(
            "CREATE TABLE applied (seq INTEGER PRIMARY KEY, stream_id TEXT, version INT, "
            "event_id TEXT)"
        )
        setup.close()
        for step in steps:
            if step[0] == "append":
                _, stream, count = step
                store.append(stream, [Event("Happened", {"n": i}) for i in range(count)])
                continue
            _, armed, batch_size = step
            who, point, skip = armed if armed else (None, None, 0)
            inbox = SQLiteInbox(
                database, "consumer", crash_at=point if who == "inbox" else None, crash_skip=skip
            )
            bus = EventBus()
            bus.subscribe("#", inbox.subscriber(apply))
            relay = Relay(
                store,
                bus,
                batch_size=batch_size,
                crash_at=point if who == "relay" else None,
                crash_skip=skip,
            )
            try:
                relay.run()
            except SimulatedCrash:
                pass  # the process died; the next step is a restart
            inbox.close()
        inbox = SQLiteInbox(database, "consumer")
        bus = EventBus()
        bus.subscribe("#", inbox.subscriber(apply))
        Relay(store, bus).run()
        rows = inbox.connection.execute(
            "SELECT stream_id, version, event_id FROM applied ORDER BY seq"
        ).fetchall()
        inbox.close()
        stored = [(e.stream_id, e.version, e.id) for e in store.read_all()]
        assert sorted(rows) == sorted(stored)  # each once: nothing lost, nothing twice
        for stream in {s for s, _, _ in stored}:
            versions = [v for s, v, _ in rows if s == stream]
            assert versions == sorted(versions)  # in order within each stream
        assert store.load_checkpoint("relay") == store.last_position()
