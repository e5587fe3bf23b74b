"""What only a real PostgreSQL shows: the gap problem, racing processes, LISTEN/NOTIFY, restarts.

The contract itself (the same tests as the other stores) is in tests/test_store.py. Here every
guarantee is tested with the failure it names: writer *processes* racing, a transaction held
open mid-append, a writer killed with SIGKILL inside its transaction, the listening connection
killed by the server, and a server restart (on a throwaway server, never the shared one).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from eda_kit import Event
from eda_kit.errors import DatabaseUnavailable, InvalidValue, StorageError
from eda_kit.store import NO_STREAM, WrongExpectedVersion
from eda_kit.store.postgres import PostgresEventStore, redact_url
from tests.services.support import drop_schema, unique_name

WRITERS = 8


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


_WRITER = """
import sys
from eda_kit import Event
from eda_kit.store.postgres import PostgresEventStore
url, schema, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = PostgresEventStore(url, schema=schema)
print("ready", flush=True)
sys.stdin.readline()                      # go!
for i in range(count):
    store.append(name, Event("Written", {"writer": name, "i": i}))
store.close()
print("done", flush=True)
"""

# A transaction that has taken its positions (the lock) and then stays open.
_HOLD = """
SELECT appended FROM "{schema}".eda_append(
    'held', 0, ARRAY['Held'], ARRAY['{{}}'], ARRAY['{{}}'], ARRAY['held-1'],
    ARRAY['2026-01-05T09:00:00+00:00'], 'holder')
"""


class Reader:
    """A checkpointing, live subscriber that records what it got."""

    def __init__(self, store: PostgresEventStore) -> None:
        self.got: list[tuple[int, str, int]] = []
        self.subscription = store.subscribe(self.handle, checkpoint="reader", batch_size=7)

    def handle(self, event) -> None:
        self.got.append((event.position, event.stream_id, event.version))


def check_exactly_once_in_order(reader: Reader, store: PostgresEventStore, expected: int):
    wait_for(lambda: len(reader.got) >= expected, what=f"{expected} deliveries")
    time.sleep(0.2)  # anything delivered twice would show up now
    positions = [position for position, _, _ in reader.got]
    assert positions == list(range(1, expected + 1))  # every event, once, in log order
    assert [e.position for e in store.read_all()] == positions  # and the log has no holes
    by_stream: dict[str, list[int]] = {}
    for _, stream, version in reader.got:
        by_stream.setdefault(stream, []).append(version)
    for versions in by_stream.values():
        assert versions == list(range(1, len(versions) + 1))
    assert store.load_checkpoint("reader") == expected


@pytest.mark.parametrize("outcome", ["COMMIT", "ROLLBACK"])
def test_a_transaction_held_open_mid_append_never_makes_a_reader_skip(pg, outcome):
    import psycopg

    store = pg.store()
    store.append("before", Event("Before"))
    reader = Reader(store)
    holder = psycopg.connect(pg.url, autocommit=True)
    holder.execute("BEGIN")
    assert holder.execute(_HOLD.format(schema=store.schema)).fetchone() == (True,)

    writers = [spawn(_WRITER, pg.url, store.schema, f"writer-{n}", "25") for n in range(WRITERS)]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    time.sleep(1.0)  # the writers now wait for the held transaction's lock
    assert [p for p, _, _ in reader.got] == [1]  # nothing committed after it yet
    assert all(writer.poll() is None for writer in writers)

    holder.execute(outcome)
    holder.close()
    for writer in writers:
        assert finish(writer).strip().endswith("done")
    held = 1 if outcome == "COMMIT" else 0
    check_exactly_once_in_order(reader, store, 1 + held + WRITERS * 25)
    assert store.stream_version("held") == held


_DOOMED = """
import sys, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True)
conn.execute("BEGIN")
conn.execute(sys.argv[2])
print("holding", flush=True)
sys.stdin.readline()
"""


def test_a_writer_killed_inside_its_transaction_leaves_no_gap_and_no_stall(pg):
    store = pg.store()
    reader = Reader(store)
    doomed = spawn(_DOOMED, pg.url, _HOLD.format(schema=store.schema))
    assert doomed.stdout.readline().strip() == "holding"
    writers = [spawn(_WRITER, pg.url, store.schema, f"writer-{n}", "10") for n in range(3)]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"
        writer.stdin.write("go\n")
        writer.stdin.flush()
    time.sleep(0.5)
    assert reader.got == []  # blocked behind the doomed transaction's lock
    doomed.send_signal(signal.SIGKILL)  # kill -9, mid-transaction
    doomed.wait()
    for writer in writers:
        finish(writer)
    check_exactly_once_in_order(reader, store, 30)
    assert store.stream_version("held") == 0  # rolled back by the server: nothing, no hole


_RACER = """
import sys
from eda_kit import Event
from eda_kit.store import WrongExpectedVersion
from eda_kit.store.postgres import PostgresEventStore
store = PostgresEventStore(sys.argv[1], schema=sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
try:
    store.append("account", Event("Withdrawn", {"by": sys.argv[3]}), expected_version=1)
    print("won", flush=True)
except WrongExpectedVersion as error:
    print(f"lost: {error}", flush=True)
"""


def test_concurrent_appends_with_one_expected_version_have_exactly_one_winner(pg):
    store = pg.store()
    store.append("account", Event("Opened"), expected_version=NO_STREAM)
    racers = [spawn(_RACER, pg.url, store.schema, f"p{n}") for n in range(WRITERS)]
    for racer in racers:
        assert racer.stdout.readline().strip() == "ready"
    for racer in racers:  # as close to "at once" as processes get
        racer.stdin.write("go\n")
        racer.stdin.flush()
    outcomes = sorted(finish(racer).strip() for racer in racers)
    assert outcomes.count("won") == 1
    assert outcomes[:-1] == ["lost: stream 'account': expected version 1, actual 2"] * 7
    assert [e.version for e in store.read_stream("account")] == [1, 2]
    assert store.last_position() == 2


def test_appends_of_another_process_arrive_live_through_notify(pg):
    store = pg.store()
    reader = Reader(store)
    writer = spawn(_WRITER, pg.url, store.schema, "other", "5")
    assert writer.stdout.readline().strip() == "ready"
    writer.stdin.write("go\n")
    writer.stdin.flush()
    finish(writer)
    check_exactly_once_in_order(reader, store, 5)
    assert store.listening


def test_a_notification_is_only_a_wake_up_call(pg):
    import psycopg

    store = pg.store()
    reader = Reader(store)
    with psycopg.connect(pg.url, autocommit=True) as conn:  # a bogus NOTIFY, no new event
        conn.execute("SELECT pg_notify(%s, 'position 999 from nobody')", (store.channel,))
    time.sleep(0.3)
    assert reader.got == [] and reader.subscription.error is None
    assert store.load_checkpoint("reader") == 0


def _backend_pids(url: str, application: str) -> list[int]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,)
            )
        ]


def test_a_killed_listening_connection_catches_up_from_the_checkpoint(pg):
    import psycopg

    store = pg.store()
    application = f"eda_kit listener {store.schema}"
    reader = Reader(store)
    other = pg.store(schema=store.schema)
    other.append("s", Event("BeforeTheCut"))
    wait_for(lambda: len(reader.got) == 1, what="the first event")

    (pid,) = _backend_pids(pg.url, application)
    with psycopg.connect(pg.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # the server kills it
        other.append("s", [Event("DuringTheCut"), Event("AlsoDuring")])  # NOTIFY heard by none
    wait_for(lambda: store.listener_reconnects >= 1 and store.listening, what="a reconnect")
    other.append("s", Event("AfterTheCut"))
    check_exactly_once_in_order(reader, store, 4)
    assert _backend_pids(pg.url, application) != [pid]


def test_a_lost_notification_still_arrives_within_the_poll_interval(pg):
    """A listener that hears nothing (here: the other writer's NOTIFYs carry this store's own
    writer id, so the listener takes them for its own and ignores them, as a silently dead
    connection would) still delivers: the slow poll reads the table."""
    store = pg.store(poll_seconds=0.5)
    reader = Reader(store)
    other = pg.store(schema=store.schema)
    other._writer = store._writer  # every NOTIFY it sends is ignored by store's listener
    other.append("s", [Event("Unheard"), Event("AlsoUnheard")])
    started = time.monotonic()
    check_exactly_once_in_order(reader, store, 2)
    assert time.monotonic() - started < 5  # within a few poll intervals, not never
    assert store._listener is not None and store._listener.polls >= 1


def test_the_listening_connection_uses_tcp_keepalives(pg):
    store = pg.store()
    Reader(store)
    assert store._listener is not None
    parameters = store._listener._conn.info.get_parameters()
    assert parameters.get("keepalives") == "1" and parameters.get("keepalives_idle") == "10"


def test_a_killed_store_connection_reconnects_for_the_next_read(pg):
    import psycopg

    store = pg.store()
    store.append("s", Event("One"))
    (pid,) = _backend_pids(pg.url, f"eda_kit store {store.schema}")
    with psycopg.connect(pg.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert [e.type for e in store.read_all()] == ["One"]  # a read is safe to run again
    assert _backend_pids(pg.url, f"eda_kit store {store.schema}") not in ([], [pid])


def test_after_a_server_restart_reads_resume_and_subscribers_catch_up(throwaway_postgres):
    server = throwaway_postgres
    schema = unique_name()
    store = PostgresEventStore(server.url, schema=schema)
    try:
        reader = Reader(store)
        store.append("s", Event("BeforeRestart"))
        server.restart()
        with PostgresEventStore(server.url, schema=schema) as other:
            other.append("s", Event("AfterRestart"))
        check_exactly_once_in_order(reader, store, 2)
        assert store.listener_reconnects >= 1
        assert store.stream_version("s") == 2  # reads reconnect on their own
    finally:
        store.close()
        drop_schema(server.url, schema)


def test_an_append_that_loses_its_connection_says_the_outcome_is_unknown(throwaway_postgres):
    server = throwaway_postgres
    schema = unique_name()
    store = PostgresEventStore(server.url, schema=schema)
    try:
        store.append("s", Event("One"))
        server.stop("immediate")  # a crash
        with pytest.raises(DatabaseUnavailable, match=r"could not append to stream 's'") as caught:
            store.append("s", Event("Two"))
        assert "127.0.0.1" in str(caught.value)
        server.start()
        assert store.append("s", Event("Two"), expected_version=1) == 2  # a new connection
    finally:
        store.close()
        drop_schema(server.url, schema)


# --- bad input and bad servers: a clear error, nothing written -------------------------------


def test_an_unreachable_server_is_a_clear_error_without_the_password():
    url = "postgresql://postgres:s3cret@127.0.0.1:1/test"
    with pytest.raises(
        DatabaseUnavailable, match=r"127\.0\.0\.1:1/test .*could not open"
    ) as caught:
        PostgresEventStore(url, connect_timeout=2)
    assert "s3cret" not in str(caught.value)
    assert redact_url(url) == "postgresql://postgres:***@127.0.0.1:1/test"


@pytest.mark.parametrize("schema", ["Shop", "1shop", "a-b", "x" * 49, "", 'a"; DROP'])
def test_bad_schema_names_are_refused(schema):
    with pytest.raises(ValueError, match="schema must be lowercase"):
        PostgresEventStore("postgresql://127.0.0.1:1/test", schema=schema)


def test_text_postgres_cannot_hold_is_refused_before_anything_is_written(pg):
    store = pg.store()
    with pytest.raises(InvalidValue, match="NUL"):
        store.append("s", [Event("Fine"), Event("Bad\x00Type")])
    with pytest.raises(InvalidValue, match="lone surrogate"):
        store.append("s", [Event("Fine"), Event("Odd\ud800Type")])  # (payloads: refused by Event)
    assert store.last_position() == 0
    store.append("s", Event("Odd", {"text": "a\x00b"}))  # NUL inside JSON is escaped: fine
    assert [e.data for e in store.read_all()] == [{"text": "a\x00b"}]


def test_a_schema_of_another_version_is_refused(pg):
    import psycopg

    store = pg.store()
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f'UPDATE "{store.schema}".eda_log SET schema_version = 99')
    with pytest.raises(StorageError, match="tables of version 99; this eda_kit reads version 2"):
        PostgresEventStore(pg.url, schema=store.schema)


def test_a_version_1_schema_is_upgraded_to_unique_event_ids(pg):
    import psycopg

    store = pg.store()
    placed = Event("OrderPlaced", {"total": 30})
    store.append("order-A1", placed)
    store.close()
    with psycopg.connect(pg.url, autocommit=True) as conn:  # as eda_kit 0.1 left it
        conn.execute(f'DROP INDEX "{store.schema}".eda_events_stream_ids')
        conn.execute(f'UPDATE "{store.schema}".eda_log SET schema_version = 1')
    with PostgresEventStore(pg.url, schema=store.schema) as again:
        assert again.append("order-A1", placed, expected_version=0) == 1  # a retry: recognised
        assert again.last_position() == 1
    with psycopg.connect(pg.url, autocommit=True) as conn:
        version = conn.execute(f'SELECT schema_version FROM "{store.schema}".eda_log').fetchone()
    assert version == (2,)


def test_reopening_a_schema_gives_everything_back(pg):
    store = pg.store()
    store.append("order-A1", [Event("OrderPlaced", {"total": 30}), Event("OrderPaid")])
    store.save_snapshot("order-A1", 2, {"paid": True})
    store.save_checkpoint("emails", 1)
    store.close()
    with PostgresEventStore(pg.url, schema=store.schema) as again:
        assert [(e.version, e.type) for e in again.read_stream("order-A1")] == [
            (1, "OrderPlaced"),
            (2, "OrderPaid"),
        ]
        assert again.load_snapshot("order-A1").state == {"paid": True}
        assert again.load_checkpoint("emails") == 1
        assert again.append("order-A1", Event("OrderShipped"), expected_version=2) == 3
        assert repr(again).startswith("<PostgresEventStore 127.0.0.1:")
    with PostgresEventStore(pg.url, schema=store.schema) as third:
        with pytest.raises(WrongExpectedVersion):
            third.append("order-A1", Event("X"), expected_version=NO_STREAM)
