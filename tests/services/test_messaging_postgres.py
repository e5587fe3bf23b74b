"""The outbox relay and the inbox on PostgreSQL (and on to RabbitMQ), under the failures they name.

Two relay *processes* share one queue with SKIP LOCKED: no event is published twice and every
stream goes out in order; a relay killed with SIGKILL mid-batch loses nothing; the relay
publishes from PostgreSQL to RabbitMQ at least once and the consumer's inbox absorbs the
duplicate a crash between publish and commit causes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from eda_kit import Event
from eda_kit.errors import SimulatedCrash
from eda_kit.messaging.postgres import PostgresInbox, PostgresRelay
from tests.services.support import unique_name

STREAMS = 6
PER_STREAM = 15


def fill(store) -> None:
    for version in range(1, PER_STREAM + 1):
        for stream in range(STREAMS):
            store.append(f"order-{stream}", Event("Step", {"v": version}))


_RELAY = """
import sys, time, psycopg
from eda_kit.store.postgres import PostgresEventStore
from eda_kit.messaging.postgres import PostgresRelay
url, schema, who, crash = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

class Recorder:                                   # the "broker": a table, in publish order
    def __init__(self):
        self.conn = psycopg.connect(url, autocommit=True)
    def publish(self, event):
        time.sleep(0.002)                         # let the two relays interleave
        self.conn.execute(
            f'INSERT INTO "{schema}".published (relay, event_id, stream_id, version) '
            "VALUES (%s, %s, %s, %s)", (who, event.id, event.stream_id, event.version))

store = PostgresEventStore(url, schema=schema)
relay = PostgresRelay(store, Recorder(), name="broker", batch_size=7,
                      crash_at=crash if crash != "none" else None, crash_skip=20,
                      hard_crash=True)
print("ready", flush=True)
sys.stdin.readline()
while relay.run():
    pass
print("done", relay.published, flush=True)
"""


def published(pg, schema):
    import psycopg

    with psycopg.connect(pg.url, autocommit=True) as conn:
        return conn.execute(
            f'SELECT relay, event_id, stream_id, version FROM "{schema}".published ORDER BY seq'
        ).fetchall()


def make_published_table(pg, schema):
    import psycopg

    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{schema}".published (seq BIGSERIAL PRIMARY KEY, relay TEXT, '
            "event_id TEXT, stream_id TEXT, version BIGINT)"
        )


def start_relays(pg, schema, crashes):
    relays = [
        subprocess.Popen(
            [sys.executable, "-c", _RELAY, pg.url, schema, f"relay-{n}", crash],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n, crash in enumerate(crashes)
    ]
    for relay in relays:
        assert relay.stdout.readline().strip() == "ready"
    for relay in relays:
        relay.stdin.write("go\n")
        relay.stdin.flush()
    return relays


def in_order_per_stream(rows) -> bool:
    seen: dict[str, list[int]] = {}
    for _, _, stream, version in rows:
        seen.setdefault(stream, []).append(version)
    return all(versions == sorted(versions) for versions in seen.values())


def test_two_relay_processes_never_publish_a_row_twice_and_keep_each_stream_in_order(pg):
    store = pg.store()
    fill(store)
    make_published_table(pg, store.schema)
    relays = start_relays(pg, store.schema, ["none", "none"])
    outputs = [relay.communicate(timeout=120)[0] for relay in relays]
    assert all(relay.returncode == 0 for relay in relays), outputs
    rows = published(pg, store.schema)
    ids = [event_id for _, event_id, _, _ in rows]
    assert len(ids) == len(set(ids)) == STREAMS * PER_STREAM  # each exactly once
    assert sorted(ids) == sorted(e.id for e in store.read_all())
    assert in_order_per_stream(rows)
    assert {relay for relay, *_ in rows} == {"relay-0", "relay-1"}  # both did work


def test_a_relay_killed_mid_batch_loses_nothing_and_the_other_finishes_in_order(pg):
    store = pg.store()
    fill(store)
    make_published_table(pg, store.schema)
    relays = start_relays(pg, store.schema, ["after_publish", "none"])
    relays[0].wait(timeout=120)
    assert relays[0].returncode == -signal.SIGKILL  # kill -9 after its 21st publish
    relays[1].communicate(timeout=120)
    leftover = PostgresRelay(store, _Nowhere(), name="broker")  # anything still queued?
    assert leftover.pending() == 0
    leftover.close()
    rows = published(pg, store.schema)
    ids = {event_id for _, event_id, _, _ in rows}
    assert ids == {e.id for e in store.read_all()}  # nothing lost
    assert len(rows) >= len(ids)  # (the killed relay's uncommitted batch went out again)
    first_time = {}
    for row in rows:
        first_time.setdefault(row[1], row)
    assert in_order_per_stream(sorted(first_time.values(), key=rows.index))


class _Nowhere:
    def publish(self, event):
        raise AssertionError("nothing should be left to publish")


class _Held:
    """A target whose publish waits until released: its relay holds its claimed rows."""

    def __init__(self):
        self.started, self.release, self.events = threading.Event(), threading.Event(), []

    def publish(self, event):
        self.started.set()
        assert self.release.wait(30)
        self.events.append((event.stream_id, event.version))


class _Kept:
    def __init__(self):
        self.events = []

    def publish(self, event):
        self.events.append((event.stream_id, event.version))


def test_rows_held_back_behind_another_relay_do_not_use_up_the_batch(pg):
    """Relay 1 holds order-A's first row mid-publish. Relay 2 (batch of 2) passes over
    order-A's second row (held back, not counted) and still publishes two rows: B's and C's."""
    store = pg.store()
    store.append("order-A", [Event("Step", {"v": 1}), Event("Step", {"v": 2})])
    store.append("order-B", Event("Step", {"v": 1}))
    store.append("order-C", Event("Step", {"v": 1}))
    held, kept = _Held(), _Kept()
    first = PostgresRelay(store, held, name="broker", batch_size=1)
    second = PostgresRelay(store, kept, name="broker", batch_size=2)
    try:
        first._feed()
        busy = threading.Thread(target=first.run_once)
        busy.start()
        assert held.started.wait(30)  # relay 1 holds order-A v1, inside its transaction
        assert second.run_once() == 2
        assert kept.events == [("order-B", 1), ("order-C", 1)]
        assert second.waiting == 1  # order-A v2: behind relay 1's row
        held.release.set()
        busy.join(30)
        assert held.events == [("order-A", 1)]
        assert second.run() == 1
        assert kept.events[-1] == ("order-A", 2)
        assert second.pending() == 0
    finally:
        held.release.set()
        first.close()
        second.close()


def test_the_relays_claim_is_notebook_08s_exercise_3_rule(pg):
    """Notebook 08 says PostgresRelay claims exactly as exercise 3's reference does: on the
    exercise's own generated inputs (another relay holding some streams' oldest rows, in an
    open transaction), the relay's claim publishes the rows the reference picks."""
    import psycopg

    from eda_kit.exercises.postgres_and_rabbitmq import claim, claim_rows

    store = pg.store()
    relay = PostgresRelay(store, _Nowhere(), name="rule")
    queue = f'"{store.schema}".eda_relay_queue'
    with psycopg.connect(pg.url, autocommit=True) as other:
        for pending, locked, limit in claim_rows.generated_inputs(40, seed=8):
            other.execute(f"DELETE FROM {queue}")
            for position, stream in pending:
                other.execute(f"INSERT INTO {queue} VALUES ('rule', %s, %s)", (position, stream))
            other.execute("BEGIN")
            other.execute(
                f"SELECT 1 FROM {queue} WHERE relay = 'rule' AND position = ANY(%s) FOR UPDATE",
                (list(locked),),
            )
            relay.batch_size = limit
            try:
                with relay._conn.transaction():
                    ready, _ = relay._claim(limit)
                    raise _Undo
            except _Undo:
                pass
            other.execute("ROLLBACK")
            expected = [position for position, _ in claim(pending, set(locked), limit)]
            assert ready == expected, (pending, locked, limit)
    relay.close()


class _Undo(Exception):
    """Leaves a claim's transaction without committing anything."""


def test_relays_of_different_names_each_get_every_event(pg):
    store = pg.store()
    store.append("s", [Event("A"), Event("B")])
    got: dict[str, list[str]] = {"mail": [], "audit": []}

    class Target:
        def __init__(self, name):
            self.name = name

        def publish(self, event):
            got[self.name].append(event.type)

    for name in got:
        with PostgresRelay(store, Target(name), name=name) as relay:
            assert relay.run() == 2
            assert relay.run() == 0 and relay.pending() == 0
    assert got == {"mail": ["A", "B"], "audit": ["A", "B"]}


# --- the inbox ----------------------------------------------------------------------------


@pytest.fixture
def inbox_schema(pg):
    schema = pg.new_schema()
    return schema


def test_the_inbox_handles_an_id_once_atomically_with_the_change(pg, inbox_schema):
    inbox = PostgresInbox(pg.url, "billing", schema=inbox_schema)
    conn = inbox.connection
    conn.execute(f'CREATE TABLE "{inbox_schema}".charges (order_id TEXT, amount INT)')

    def charge(event, tx):
        tx.execute(
            f'INSERT INTO "{inbox_schema}".charges VALUES (%s, %s)',
            (event.data["order_id"], event.data["amount"]),
        )
        if event.data["amount"] < 0:
            raise ValueError("negative amount")

    event = Event("order.paid", {"order_id": "A1", "amount": 30})
    assert inbox.handle(event, charge) is True
    assert inbox.handle(event, charge) is False  # the redelivery: skipped
    bad = Event("order.paid", {"order_id": "B2", "amount": -1})
    with pytest.raises(ValueError):
        inbox.handle(bad, charge)
    assert not inbox.seen(bad.id)  # rolled back with the change: it will be handled again
    rows = conn.execute(f'SELECT order_id, amount FROM "{inbox_schema}".charges').fetchall()
    assert rows == [("A1", 30)]
    assert (inbox.handled, inbox.duplicates, len(inbox)) == (1, 1, 1)
    inbox.close()


_INBOX_CRASH = """
import sys
from eda_kit import Event
from eda_kit.messaging.postgres import PostgresInbox
url, schema, event_id = sys.argv[1], sys.argv[2], sys.argv[3]
inbox = PostgresInbox(url, "billing", schema=schema, crash_at="after_handler", hard_crash=True)
def charge(event, tx):
    tx.execute(f'INSERT INTO "{schema}".charges VALUES (%s)', (event.id,))
inbox.handle(Event("order.paid", id=event_id), charge)
"""


def test_a_consumer_killed_inside_its_transaction_keeps_neither_change_nor_id(pg, inbox_schema):
    inbox = PostgresInbox(pg.url, "billing", schema=inbox_schema)
    inbox.connection.execute(f'CREATE TABLE "{inbox_schema}".charges (event_id TEXT)')
    child = subprocess.run(
        [sys.executable, "-c", _INBOX_CRASH, pg.url, inbox_schema, "evt-7"], timeout=60
    )
    assert child.returncode == -signal.SIGKILL
    assert not inbox.seen("evt-7")
    assert inbox.connection.execute(f'SELECT * FROM "{inbox_schema}".charges').fetchall() == []
    inbox.close()


# --- PostgreSQL -> relay -> RabbitMQ -> inbox --------------------------------------------------


def test_the_relay_publishes_to_rabbitmq_at_least_once_and_the_inbox_absorbs_the_duplicate(
    pg, inbox_schema, amqp_url
):
    from eda_kit.pubsub.rabbitmq import RabbitMQBus

    store = pg.store()
    bus = RabbitMQBus(amqp_url, prefix=unique_name("m"))
    inbox = PostgresInbox(pg.url, "inventory", schema=inbox_schema)
    inbox.connection.execute(f'CREATE TABLE "{inbox_schema}".reserved (order_id TEXT)')
    handled, deliveries = threading.Event(), []
    lock = threading.Lock()

    def reserve(event, tx):
        tx.execute(f'INSERT INTO "{inbox_schema}".reserved VALUES (%s)', (event.data["id"],))

    def consume(event):
        with lock:
            deliveries.append(event.id)
            inbox.handle(event, reserve)
            if len(deliveries) == 3:
                handled.set()

    try:
        bus.subscribe("order.placed", consume, name="inventory")
        store.append("order-A1", Event("order.placed", {"id": "A1"}))
        store.append("order-B2", Event("order.placed", {"id": "B2"}))
        crashing = PostgresRelay(store, bus, name="to-rabbit", crash_at="after_publish")
        with pytest.raises(SimulatedCrash):
            crashing.run()  # published A1, died before its batch was committed
        crashing.close()
        with PostgresRelay(store, bus, name="to-rabbit") as relay:
            assert relay.run() == 2  # A1 again, and B2
        assert handled.wait(30)
        time.sleep(0.2)
        assert len(deliveries) == 3 and len(set(deliveries)) == 2  # at least once
        rows = inbox.connection.execute(
            f'SELECT order_id FROM "{inbox_schema}".reserved ORDER BY order_id'
        ).fetchall()
        assert rows == [("A1",), ("B2",)]  # effects exactly once
        assert (inbox.handled, inbox.duplicates) == (2, 1)
    finally:
        bus.remove("inventory")
        bus.delete_exchanges()
        bus.close()
        inbox.close()
