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
    with pytest.raises(ValueError, match="positive"):
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
