"""SQLiteEventStore's own promises: a file that survives restarts, crashes and other processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from eda_kit import Event
from eda_kit.errors import StorageError, StoreLocked
from eda_kit.store import NO_STREAM, SQLiteEventStore, WrongExpectedVersion
from eda_kit.store import sqlite as sqlite_module

ROOT = Path(__file__).resolve().parents[2]


def ev(type_="Happened", **data):
    return Event(type_, data)


def wait_until(condition, seconds=10.0):
    """Wait for a condition another thread/process makes true (a deadline, not a timing check)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# --- the file -----------------------------------------------------------------------------------


def test_reopening_the_file_gives_everything_back(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as store:
        store.append(
            "order-A1",
            [
                Event("OrderPlaced", {"total": 30}, metadata={"by": "asha"}),
                Event("OrderPaid", {"amount": 30}),
            ],
            expected_version=NO_STREAM,
        )
        store.append("order-B2", Event("OrderPlaced", {"total": 5}))
        store.save_snapshot("order-A1", 2, {"status": "paid"})
        store.save_checkpoint("dashboard", 2)
        before = [e.to_dict() for e in store.read_all()]

    with SQLiteEventStore(str(path)) as store:  # a "restart": a new object on the same file
        assert [e.to_dict() for e in store.read_all()] == before
        assert store.streams() == ["order-A1", "order-B2"]
        assert store.stream_version("order-A1") == 2
        assert store.load_snapshot("order-A1").state == {"status": "paid"}
        assert store.load_checkpoint("dashboard") == 2
        assert store.append("order-A1", ev("OrderShipped"), expected_version=2) == 3
        assert store.last_position() == 4


def test_a_checkpointed_subscriber_resumes_after_a_restart(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as store:
        store.append("s", [ev("A"), ev("B")])
        seen = []
        store.subscribe(lambda e: seen.append(e.type), checkpoint="mailer")
        assert seen == ["A", "B"]
    with SQLiteEventStore(path) as store:
        store.append("s", ev("C"))
        seen = []
        store.subscribe(lambda e: seen.append(e.type), checkpoint="mailer")
        assert seen == ["C"]


def test_the_file_uses_wal_and_full_sync_by_default(tmp_path):
    with SQLiteEventStore(tmp_path / "a.db") as store:
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with SQLiteEventStore(tmp_path / "b.db", synchronous="normal") as store:
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert store.synchronous == "NORMAL"


def test_payloads_are_stored_as_json_text(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as store:
        store.append("s", Event("OrderPlaced", {"total": 30, "note": "é"}, metadata={"c": "1"}))
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT type, data, metadata, typeof(time) FROM events").fetchone() == (
        "OrderPlaced",
        '{"total":30,"note":"é"}',
        '{"c":"1"}',
        "text",
    )
    raw.close()


def test_memory_database_works_for_throwaway_use():
    with SQLiteEventStore(":memory:") as store:
        assert store.append("s", [ev(), ev()]) == 2
        assert [e.position for e in store.read_all()] == [1, 2]


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database " * 100)
    with pytest.raises(ValueError, match="not a usable eda_kit event store"):
        SQLiteEventStore(path)
    assert path.read_text().startswith("these are my notes")


def test_a_file_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(ValueError, match="schema version 99"):
        SQLiteEventStore(path)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"synchronous": "OFF"}, ValueError, "synchronous must be one of NORMAL, FULL, EXTRA"),
        ({"timeout": -1}, ValueError, "timeout must be a number of seconds"),
        ({"path": 42}, TypeError, "path must be a str or a path"),
    ],
)
def test_bad_options_are_refused(tmp_path, kwargs, error, message):
    options = {"path": tmp_path / "x.db", **kwargs}
    with pytest.raises(error, match=message):
        SQLiteEventStore(**options)


def test_corrupt_json_in_the_file_is_reported_not_misread(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as store:
        store.append("s", ev(n=1))
    raw = sqlite3.connect(path)
    raw.execute("UPDATE events SET data = '{\"n\":1}garbage'")
    raw.commit()
    raw.close()
    with SQLiteEventStore(path) as store, pytest.raises(ValueError, match="corrupt JSON"):
        store.read_all()


# --- two store objects on one file (as two processes would be) --------------------------------


def test_a_second_writer_on_the_same_file_gets_wrong_expected_version(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as a, SQLiteEventStore(path) as b:
        a.append("acc", ev("Opened"))
        version_seen_by_b = b.stream_version("acc")
        a.append("acc", ev("Deposited"), expected_version=1)
        with pytest.raises(WrongExpectedVersion, match="expected version 1, actual 2"):
            b.append("acc", ev("Withdrawn"), expected_version=version_seen_by_b)
        assert [e.type for e in b.read_stream("acc")] == ["Opened", "Deposited"]


def test_poll_finds_events_appended_by_another_store_object(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as writer, SQLiteEventStore(path) as reader:
        seen = []
        sub = reader.subscribe(lambda e: seen.append(e.type))
        writer.append("s", [ev("A"), ev("B")])
        assert seen == []  # no in-process notification across store objects...
        assert sub.poll() == 2  # ...so the reader polls
        assert seen == ["A", "B"]


_APPEND_AND_EXIT = """
import sys, time
from eda_kit import Event
from eda_kit.store import SQLiteEventStore

store = SQLiteEventStore(sys.argv[1])

def slow_mailer(event):                  # a live subscriber, slower than the script
    time.sleep(0.2)
    with open(sys.argv[2], "a") as out:
        out.write(event.type + "\\n")

store.subscribe(slow_mailer)
store.append("order-A1", [Event("OrderPlaced"), Event("OrderPaid")])
print("appended", flush=True)            # and the script ends here, deliveries in flight
"""


def test_a_script_that_ends_right_after_an_append_still_delivers_it(tmp_path):
    """Live delivery runs on its own thread; the end of the program waits for what it owes
    (up to EXIT_WAIT_SECONDS), as when delivery ran inside append."""
    mail = tmp_path / "mail.txt"
    done = subprocess.run(
        [sys.executable, "-c", _APPEND_AND_EXIT, str(tmp_path / "shop.db"), str(mail)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "appended\n" and done.stderr == ""
    assert mail.read_text().split() == ["OrderPlaced", "OrderPaid"]


def test_a_background_poller_delivers_another_writers_events(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as writer, SQLiteEventStore(path) as reader:
        seen = []
        sub = reader.subscribe(lambda e: seen.append(e.type), checkpoint="poller").start(0.01)
        assert sub.polling
        writer.append("s", [ev("A"), ev("B")])
        assert wait_until(lambda: len(seen) == 2), seen
        sub.stop()
        assert not sub.polling
        writer.append("s", ev("C"))
        assert sub.poll() == 1
        assert seen == ["A", "B", "C"]
        assert reader.load_checkpoint("poller") == 3
    with pytest.raises(ValueError, match="interval must be a number of seconds > 0"):
        SQLiteEventStore(":memory:").subscribe(print).start(0)


def test_a_failing_background_handler_keeps_the_event(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as writer, SQLiteEventStore(path) as reader:
        attempts = []

        def flaky(event):
            attempts.append(event.position)
            if len(attempts) < 3:
                raise ConnectionError("down")

        sub = reader.subscribe(flaky, checkpoint="flaky").start(0.01)
        writer.append("s", ev("A"))
        assert wait_until(lambda: sub.position == 1)
        sub.close()
        assert attempts == [1, 1, 1]  # failed twice, then handled: never skipped
        assert sub.error is None
        assert reader.load_checkpoint("flaky") == 1


def test_the_constraint_safety_net_reports_a_conflict_not_an_integrity_error(tmp_path, monkeypatch):
    # Simulate a store that misreads the stream's version (the UNIQUE constraint must catch it).
    with SQLiteEventStore(tmp_path / "shop.db") as store:
        store.append("s", [ev("A"), ev("B")])
        monkeypatch.setattr(
            sqlite_module, "_SELECT_VERSION", "SELECT 0 FROM events WHERE stream_id = ? LIMIT 1"
        )
        with pytest.raises(WrongExpectedVersion, match="stream 's'"):
            store.append("s", ev("C"), expected_version=0)
        monkeypatch.undo()
        assert [e.type for e in store.read_all()] == ["A", "B"]
        assert store.append("s", ev("C"), expected_version=2) == 3


def test_a_write_lock_held_too_long_is_a_clear_timeout(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path, timeout=0.05) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(TimeoutError, match="could not get the write lock"):
                store.append("s", ev())
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert store.append("s", ev()) == 1  # the store still works afterwards


# --- several processes racing on one stream -----------------------------------------------------


def _racer(path: str, writer: int, attempts: int, barrier, results) -> None:
    store = SQLiteEventStore(path)
    appended, conflicts, errors = [], 0, []
    barrier.wait()
    for attempt in range(attempts):
        try:
            version = store.stream_version("counter")
            time.sleep(0.001)  # "read, decide, write": leave room for another writer
            store.append(
                "counter",
                Event("Incremented", {"writer": writer, "attempt": attempt}),
                expected_version=version,
            )
            appended.append(attempt)
        except WrongExpectedVersion:
            conflicts += 1
        except Exception as error:  # any other error is a bug the test must show
            errors.append(f"{type(error).__name__}: {error}")
    store.close()
    results.put((writer, appended, conflicts, errors))


def test_processes_racing_on_one_stream_lose_nothing_and_double_nothing(tmp_path):
    path = str(tmp_path / "race.db")
    SQLiteEventStore(path).close()  # create the file once
    writers, attempts = 4, 40
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers)
    results = context.Queue()
    processes = [
        context.Process(target=_racer, args=(path, w, attempts, barrier, results))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)

    assert [errors for *_, errors in reports] == [[]] * writers  # only WrongExpectedVersion
    assert sum(conflicts for _, _, conflicts, _ in reports) > 0  # the race really happened
    with SQLiteEventStore(path) as store:
        events = store.read_stream("counter")
        assert [e.version for e in events] == list(range(1, len(events) + 1))
        stored = sorted((e.data["writer"], e.data["attempt"]) for e in events)
        claimed = sorted((w, a) for w, appended, _, _ in reports for a in appended)
        assert stored == claimed  # every acknowledged append is there, exactly once
        assert sum(len(appended) + conflicts for _, appended, conflicts, _ in reports) == (
            writers * attempts
        )
        assert store.integrity_check() == "ok"


# --- kill -9 in the middle of batched appends ----------------------------------------------------

_BATCH_WRITER = """
import sys
from eda_kit import Event
from eda_kit.store import SQLiteEventStore
store = SQLiteEventStore(sys.argv[1])
batch = 0
while True:
    version = store.stream_version("batches")
    store.append("batches", [Event("Part", {"batch": batch, "part": i, "pad": "x" * 500})
                             for i in range(50)], expected_version=version)
    batch += 1
    if batch == 2:
        print("writing", flush=True)
"""


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15])
def test_kill_9_during_batched_appends_never_leaves_half_a_batch(tmp_path, delay):
    path = tmp_path / "crash.db"
    SQLiteEventStore(path).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _BATCH_WRITER, str(path)], stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout.readline() == b"writing\n"
        time.sleep(delay)  # kill it somewhere in the middle of its loop
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with SQLiteEventStore(path) as store:
        assert store.integrity_check() == "ok"
        events = store.read_stream("batches")
        assert len(events) >= 100 and len(events) % 50 == 0
        assert [e.version for e in events] == list(range(1, len(events) + 1))
        batches = [(e.data["batch"], e.data["part"]) for e in events]
        assert batches == [(b, i) for b in range(len(events) // 50) for i in range(50)]
        # and the store still takes writes after the crash
        assert store.append("batches", ev(), expected_version=len(events)) == len(events) + 1


def test_the_store_object_can_be_shared_with_threads(tmp_path):
    with SQLiteEventStore(tmp_path / "t.db") as store:

        def work(n):
            for i in range(20):
                store.append(f"thread-{n}", ev(i=i))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert store.last_position() == 80
        assert [store.stream_version(f"thread-{n}") for n in range(4)] == [20] * 4


# --- retries across restarts and crashes ----------------------------------------------------------

_RETRYING_WRITER = """
import sys
from eda_kit import Event
from eda_kit.store import SQLiteEventStore
store = SQLiteEventStore(sys.argv[1])
batch = 0
while True:  # batch b holds ids b-0 .. b-9 and goes after version 10 * b
    events = [Event("Part", {"batch": batch, "part": i}, id=f"{batch}-{i}") for i in range(10)]
    store.append("parts", events, expected_version=10 * batch)
    batch += 1
    if batch == 3:
        print("writing", flush=True)
"""


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.1])
def test_after_kill_9_retrying_the_unacknowledged_batches_stores_each_once(tmp_path, delay):
    """The writer dies without knowing which append was its last; retrying both is safe."""
    path = tmp_path / "retry.db"
    SQLiteEventStore(path).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _RETRYING_WRITER, str(path)], stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout.readline() == b"writing\n"
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()

    with SQLiteEventStore(path) as store:  # "the restarted writer"
        done = store.stream_version("parts") // 10
        for batch in (done - 1, done):  # the last acknowledged one may not have been seen
            events = [
                Event("Part", {"batch": batch, "part": i}, id=f"{batch}-{i}") for i in range(10)
            ]
            assert store.append("parts", events, expected_version=10 * batch) == 10 * batch + 10
        stored = [e.id for e in store.read_stream("parts")]
        assert stored == [f"{b}-{i}" for b in range(done + 1) for i in range(10)]


def test_a_retry_after_a_restart_is_recognised(tmp_path):
    path = tmp_path / "shop.db"
    batch = [Event("OrderPlaced", {"total": 30}), Event("OrderPaid", {"amount": 30})]
    with SQLiteEventStore(path) as store:
        assert store.append("order-A1", batch, expected_version=NO_STREAM) == 2
    with SQLiteEventStore(path) as store:
        assert store.append("order-A1", batch, expected_version=NO_STREAM) == 2
        assert store.last_position() == 2


# --- files that are not ours, paths that can't work ---------------------------------------------


def _file_state(path):
    """Everything a refusal must leave alone: the bytes, and no new side files."""
    folder = Path(path).parent
    return Path(path).read_bytes(), sorted(p.name for p in folder.iterdir())


def test_another_programs_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "crm.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    raw.execute("INSERT INTO customers (name) VALUES ('asha')")
    raw.commit()
    raw.close()
    before = _file_state(path)
    with pytest.raises(ValueError, match=r"another program's SQLite database \(tables customers\)"):
        SQLiteEventStore(path)
    assert _file_state(path) == before
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    assert raw.execute("SELECT name FROM customers").fetchall() == [("asha",)]
    raw.close()


def test_a_database_stamped_by_another_program_is_refused_even_when_empty(tmp_path):
    path = tmp_path / "other.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA application_id = 1234")
    raw.close()
    before = _file_state(path)
    with pytest.raises(ValueError, match="application id 0x4d2"):
        SQLiteEventStore(path)
    assert _file_state(path) == before


def test_the_store_stamps_its_files_and_an_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()  # zero bytes: SQLite calls that an empty database
    with SQLiteEventStore(path) as store:
        store.append("s", ev())
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA application_id").fetchone()[0] == sqlite_module.APPLICATION_ID
    assert raw.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.SCHEMA_VERSION
    raw.close()


def test_a_folder_is_not_a_store_file(tmp_path):
    with pytest.raises(ValueError, match=r"is a folder, not a file: give the event store a file"):
        SQLiteEventStore(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_named(tmp_path):
    path = tmp_path / "no" / "such" / "shop.db"
    with pytest.raises(ValueError, match=r"the folder '.*no/such' does not exist") as caught:
        SQLiteEventStore(path)
    assert str(path) in str(caught.value)
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    ("timeout", "error", "message"),
    [
        (float("inf"), ValueError, "finite"),
        (float("nan"), ValueError, "finite"),
        (-1, ValueError, ">= 0"),
        (1e9, ValueError, "at most 86400 seconds"),
        (True, TypeError, "not bool"),
        ("30", TypeError, "not str"),
    ],
)
def test_timeouts_that_could_never_work_are_refused_at_once(tmp_path, timeout, error, message):
    with pytest.raises(error, match=f"timeout must be .*{message}"):
        SQLiteEventStore(tmp_path / "x.db", timeout=timeout)
    assert not (tmp_path / "x.db").exists()


_V1_SCHEMA = """
CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL,
    version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
    id TEXT NOT NULL, time TEXT NOT NULL, UNIQUE (stream_id, version));
CREATE INDEX events_stream_starts ON events (position, stream_id) WHERE version = 1;
CREATE TABLE snapshots (stream_id TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (stream_id, version)) WITHOUT ROWID;
CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;
PRAGMA user_version = 1;
"""


def _v1_file(path, ids):
    raw = sqlite3.connect(path)
    raw.executescript(_V1_SCHEMA)
    for version, event_id in enumerate(ids, start=1):
        raw.execute(
            "INSERT INTO events (stream_id, version, type, data, metadata, id, time) "
            "VALUES ('s', ?, 'Old', '{}', '{}', ?, '2026-01-05T09:00:00+00:00')",
            (version, event_id),
        )
    raw.commit()
    raw.close()


def test_a_store_file_from_eda_kit_0_1_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    _v1_file(path, ["a", "b"])
    with SQLiteEventStore(path) as store:
        assert [e.id for e in store.read_all()] == ["a", "b"]
        retry = Event("Old", id="b")
        assert store.append("s", retry, expected_version=1) == 2  # the new rule holds
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.SCHEMA_VERSION
    raw.close()


def test_an_old_file_holding_an_id_twice_is_refused_unchanged(tmp_path):
    path = tmp_path / "old.db"
    _v1_file(path, ["a", "a"])  # what eda_kit 0.1 let happen
    with pytest.raises(StorageError, match=r"stored event 'a' 2 times in stream 's'"):
        SQLiteEventStore(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    assert raw.execute("SELECT count(*) FROM events").fetchone()[0] == 2
    raw.close()


def test_driver_errors_become_storage_errors_naming_the_file(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as store:
        for i in range(200):
            store.append(f"order-{i}", Event("OrderPlaced", {"pad": "x" * 200}))
    raw = sqlite3.connect(path)
    page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    root = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    raw.close()
    with open(path, "r+b") as file:  # scribble over the events table's root page
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)
    with SQLiteEventStore(path) as store:
        with pytest.raises(StorageError, match=r"reading the log of '.*shop.db' failed: Data"):
            store.read_all()
        with pytest.raises(
            StorageError, match=r"appending to '.*shop.db' \(stream 'x'\)"
        ) as caught:
            store.append("x", ev())
        assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_a_lock_held_too_long_is_store_locked(tmp_path):
    path = tmp_path / "shop.db"
    with SQLiteEventStore(path, timeout=0.05) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreLocked, match="shop.db"):
                store.append("s", ev())
            with pytest.raises(StoreLocked):
                store.save_checkpoint("c", 0)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


# --- payloads at the edge of what can be stored ---------------------------------------------------


def _nested(depth):
    value = "bottom"
    for _ in range(depth - 1):
        value = [value]
    return {"deep": value} if depth else value


def test_the_deepest_payload_allowed_is_stored_and_read_back(tmp_path):
    from eda_kit.payloads import MAX_DEPTH

    with SQLiteEventStore(tmp_path / "deep.db") as store:
        store.append("s", Event("Deep", _nested(MAX_DEPTH)))
        assert store.read_all()[0].data == _nested(MAX_DEPTH)
        with pytest.raises(TypeError, match="nested more than 100 levels"):
            store.append("s", Event("Deeper", _nested(MAX_DEPTH + 1)))
        assert store.last_position() == 1


def _deepen_second_event(path, depth):
    with SQLiteEventStore(path) as store:
        store.append("s", [ev("Fine"), ev("Fine")])
    raw = sqlite3.connect(path)
    raw.execute("UPDATE events SET data = ? WHERE position = 2", ("[" * depth + "]" * depth,))
    raw.commit()
    raw.close()


def test_a_deeper_payload_written_by_another_tool_still_reads_while_it_can(tmp_path):
    _deepen_second_event(tmp_path / "deep.db", 300)
    with SQLiteEventStore(tmp_path / "deep.db") as store:
        assert str(store.read_all()[1].data).count("[") == 300


def test_a_payload_too_deep_to_read_is_named_not_a_recursion_error(tmp_path):
    depth = 5000
    path = tmp_path / "deep.db"
    _deepen_second_event(path, depth)
    with SQLiteEventStore(path) as store:
        message = rf"position 2 \(stream 's', version 2\) .* nested {depth} levels deep"
        with pytest.raises(ValueError, match=message):
            store.read_all()
        with pytest.raises(ValueError, match=message):
            store.read_stream("s")
        assert [e.position for e in store.read_all(limit=1)] == [1]  # the rest still reads
