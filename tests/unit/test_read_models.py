"""SQLiteReadModel: tables in memory or in a file, the position kept in the same transaction.

The promises under test, each with the failure it names: a restart in a fresh process resumes
exactly where the file got to; a kill -9 inside the transaction (after the change, before the
commit) and right after the commit both leave data and position agreeing; two processes on
one read model never apply an event twice; another program's file is refused untouched.
"""

from __future__ import annotations

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
from eda_kit.cqrs import SQLiteReadModel
from eda_kit.cqrs.read_models import statements
from eda_kit.store import SQLiteEventStore, TransactionalCheckpoint

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = (
    "CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0);"
    "CREATE TABLE applied (position INTEGER PRIMARY KEY)"
)


def counter(path):
    raw = sqlite3.connect(path)
    try:
        n = raw.execute("SELECT n FROM counter").fetchone()[0]
        applied = [row[0] for row in raw.execute("SELECT position FROM applied ORDER BY 1")]
        positions = dict(raw.execute("SELECT name, position FROM eda_kit_checkpoints"))
    finally:
        raw.close()
    return n, applied, positions


# --- the file ------------------------------------------------------------------------------------


def test_a_file_keeps_its_tables_and_rows_across_reopening(tmp_path):
    path = tmp_path / "orders.db"
    db = SQLiteReadModel(SCHEMA, path)
    db.execute("UPDATE counter SET n = 5")
    db.close()
    again = SQLiteReadModel(SCHEMA, path)  # the schema is not run a second time
    assert again.query("SELECT n FROM counter") == [{"n": 5}]
    assert repr(again) == "<SQLiteReadModel in 'orders.db': tables applied, counter>"
    again.close()


def test_reopening_with_another_schema_is_refused(tmp_path):
    path = tmp_path / "orders.db"
    SQLiteReadModel(SCHEMA, path).close()
    with pytest.raises(ValueError, match="was built with another schema.*delete the file"):
        SQLiteReadModel("CREATE TABLE other (x)", path)


def test_another_programs_database_is_refused_untouched(tmp_path):
    path = tmp_path / "crm.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE customers (name TEXT)")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"not an eda_kit read model \(tables customers\)"):
        SQLiteReadModel(SCHEMA, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.db"]


def test_an_event_store_file_is_not_a_read_model(tmp_path):
    path = tmp_path / "shop.db"
    SQLiteEventStore(path).close()
    with pytest.raises(ValueError, match="is an eda_kit event store, not a read model"):
        SQLiteReadModel(SCHEMA, path)


@pytest.mark.parametrize(
    ("where", "message"),
    [("folder", "is a folder, not a file"), ("missing", "does not exist")],
)
def test_paths_that_cannot_work_are_named(tmp_path, where, message):
    path = tmp_path if where == "folder" else tmp_path / "nope" / "r.db"
    with pytest.raises(ValueError, match=message):
        SQLiteReadModel(SCHEMA, path)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(TypeError, match="schema must be SQL text"):
        SQLiteReadModel(None)
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        SQLiteReadModel(SCHEMA, tmp_path / "r.db", timeout=float("nan"))
    with pytest.raises(ValueError, match="incomplete statement"):
        SQLiteReadModel("CREATE TABLE t (x); CREATE TABLE u ('")
    with pytest.raises(
        ValueError, match=r"schema does not run: near \";\": syntax error, in 'CREATE TABLE u \(;'"
    ):
        SQLiteReadModel("CREATE TABLE t (x); CREATE TABLE u (")


def test_schema_scripts_split_where_sqlite_says_statements_end():
    script = (
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 'c'; END;\n;"
    )
    assert statements(script) == [
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');",
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 'c'; END;",
    ]


# --- transactions and checkpoints -------------------------------------------------------------


def test_a_transaction_is_all_or_nothing_and_queries_from_other_threads_wait_for_it(tmp_path):
    db = SQLiteReadModel(SCHEMA, tmp_path / "r.db")
    seen = []
    inside = threading.Event()

    def reader():
        inside.wait()
        seen.append(db.query_one("SELECT n FROM counter")["n"])

    thread = threading.Thread(target=reader)
    thread.start()
    with db.transaction():
        db.execute("UPDATE counter SET n = n + 1")
        inside.set()
        time.sleep(0.05)  # the reader is now waiting; it must not see n = 1 before the commit
        assert seen == []
        db.execute("UPDATE counter SET n = n + 1")
    thread.join()
    assert seen == [2]
    with pytest.raises(ZeroDivisionError), db.transaction():
        db.execute("UPDATE counter SET n = 100")
        raise ZeroDivisionError("boom")
    assert db.query_one("SELECT n FROM counter") == {"n": 2}
    db.close()


def test_a_checkpoint_is_saved_in_the_transaction_and_checked_like_a_version(tmp_path):
    db = SQLiteReadModel(SCHEMA, tmp_path / "r.db")
    checkpoint = db.checkpoint("dashboard")
    assert isinstance(checkpoint, TransactionalCheckpoint)
    assert checkpoint.load() == 0
    with checkpoint.transaction() as unit:
        assert checkpoint.saved(unit) == 0
        unit.execute("UPDATE counter SET n = n + 1")
        checkpoint.save(unit, 1)
    assert checkpoint.load() == 1 and db.checkpoints() == {"dashboard": 1}
    with pytest.raises(ZeroDivisionError):
        with checkpoint.transaction() as unit:
            checkpoint.save(unit, 2)
            raise ZeroDivisionError("boom")
    assert checkpoint.load() == 1  # rolled back with the transaction
    with pytest.raises(ValueError, match="non-empty"):
        db.checkpoint("")
    db.close()


def test_reset_empties_tables_and_positions_in_one_step(tmp_path):
    db = SQLiteReadModel(SCHEMA + "; CREATE VIEW v AS SELECT n FROM counter", tmp_path / "r.db")
    with db.transaction():
        db.execute("UPDATE counter SET n = 9")
        db.checkpoint("p").save(db, 9)
    db.reset()
    assert db.query("SELECT n FROM v") == [{"n": 0}]
    assert db.checkpoints() == {}
    db.close()


def test_reset_refuses_to_drop_tables_its_schema_does_not_make(tmp_path):
    """An inbox or idempotency keys sharing the read model's file ("shop.db" for everything)
    used to be dropped by rebuild(): handled ids and keys gone, duplicates run again."""
    from eda_kit.messaging import SQLiteIdempotencyStore, SQLiteInbox

    path = tmp_path / "shop.db"
    db = SQLiteReadModel(SCHEMA, path)
    with SQLiteInbox(path, "emails") as inbox:
        inbox.handle(Event("OrderPlaced", id="evt-1"), lambda event, conn: None)
    with SQLiteIdempotencyStore(path) as keys:
        keys.run("order-A1/charge", lambda: "ch_1")
    db.execute("UPDATE counter SET n = 9")
    with pytest.raises(ValueError, match="idempotency_keys, inbox") as refused:
        db.reset()
    assert "its schema does not make" in str(refused.value)
    assert db.query_one("SELECT n FROM counter") == {"n": 9}  # nothing dropped, nothing emptied
    with SQLiteInbox(path, "emails") as inbox:
        assert inbox.seen("evt-1")
    db.close()


# --- store.subscribe(handler, checkpoint=db.checkpoint(...)): the handler's own transaction ----


def test_a_subscription_saves_its_position_in_the_handlers_transaction(tmp_path):
    store = SQLiteEventStore(tmp_path / "shop.db")
    store.append("clock", [Event("Tick") for _ in range(5)])
    db = SQLiteReadModel(SCHEMA, tmp_path / "r.db")

    def count(event, unit):
        unit.execute("UPDATE counter SET n = n + 1")
        unit.execute("INSERT INTO applied VALUES (?)", (event.position,))
        if event.position == 4:
            raise ConnectionError("the handler fails after writing")

    with pytest.raises(ConnectionError):
        store.subscribe(count, checkpoint=db.checkpoint("counter"))
    assert counter(tmp_path / "r.db") == (3, [1, 2, 3], {"counter": 3})  # 4's change undone

    def fixed(event, unit):
        unit.execute("UPDATE counter SET n = n + 1")
        unit.execute("INSERT INTO applied VALUES (?)", (event.position,))

    sub = store.subscribe(fixed, checkpoint=db.checkpoint("counter"))
    assert sub.name == "counter" and sub.position == 5
    store.append("clock", Event("Tick"))
    store.wait_for_subscribers()
    assert counter(tmp_path / "r.db") == (6, [1, 2, 3, 4, 5, 6], {"counter": 6})
    store.close()


def test_a_checkpoint_of_the_wrong_kind_is_refused(tmp_path):
    store = SQLiteEventStore(tmp_path / "shop.db")
    with pytest.raises(TypeError, match="checkpoint must be a name .* not int"):
        store.subscribe(print, checkpoint=3)
    store.close()


_SUBSCRIBER = """
import os, signal, sys
from eda_kit.cqrs import SQLiteReadModel
from eda_kit.store import SQLiteEventStore
store_path, model_path, kill_at, where = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
SCHEMA = {schema!r}
store = SQLiteEventStore(store_path)
db = SQLiteReadModel(SCHEMA, model_path)
checkpoint = db.checkpoint("counter")

class Killing:
    # A checkpoint that dies right after its transaction commits, at position kill_at.
    name = "counter"
    load = checkpoint.load
    saved = checkpoint.saved
    save = checkpoint.save
    def transaction(self):
        outer = checkpoint.transaction()
        class Block:
            def __enter__(self):
                return outer.__enter__()
            def __exit__(self, *exc):
                done = outer.__exit__(*exc)
                if where == "after-commit" and current[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                return done
        return Block()

current = [0]
def count(event, unit):
    current[0] = event.position
    unit.execute("UPDATE counter SET n = n + 1")
    unit.execute("INSERT INTO applied VALUES (?)", (event.position,))
    if where == "before-commit" and event.position == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)   # the change is made, the commit is not

sub = store.subscribe(count, checkpoint=Killing(), batch_size=7)
print(sub.position, flush=True)
"""


def run(script, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("where", ["before-commit", "after-commit"])
def test_kill_9_inside_or_right_after_the_transaction_never_applies_twice_or_skips(tmp_path, where):
    store_path, model_path = tmp_path / "shop.db", tmp_path / "r.db"
    with SQLiteEventStore(store_path) as store:
        store.append("clock", [Event("Tick") for _ in range(20)])
    script = _SUBSCRIBER.format(schema=SCHEMA)

    killed = run(script, store_path, model_path, 9, where)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    kept = 8 if where == "before-commit" else 9
    assert counter(model_path) == (kept, list(range(1, kept + 1)), {"counter": kept})

    for _ in range(3):  # fresh processes, again and again: nothing twice, nothing skipped
        again = run(script, store_path, model_path, 0, "none")
        assert again.returncode == 0, again.stderr
        assert again.stdout == "20\n"
        assert counter(model_path) == (20, list(range(1, 21)), {"counter": 20})


_PROJECTOR = """
import os, sys, time
from eda_kit import Projection
from eda_kit.cqrs import SQLiteReadModel
from eda_kit.store import SQLiteEventStore
store = SQLiteEventStore(sys.argv[1])
ticks = Projection("ticks", store, read_model=lambda: SQLiteReadModel({schema!r}, sys.argv[2]))

calls = [0]

@ticks.on("Tick")
def tick(db, event):
    calls[0] += 1
    db.execute("UPDATE counter SET n = n + 1")
    db.execute("INSERT INTO applied VALUES (?)", (event.position,))

print("started", flush=True)
if len(sys.argv) > 3:  # a starting gun, so that racers really race
    while not os.path.exists(sys.argv[3]):
        time.sleep(0.001)
ticks.catch_up()
print(ticks.position, flush=True)
print(calls[0], file=sys.stderr, flush=True)
"""


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_a_projection_killed_at_any_moment_resumes_exactly(tmp_path, delay):
    store_path, model_path = tmp_path / "shop.db", tmp_path / "r.db"
    with SQLiteEventStore(store_path, synchronous="NORMAL") as store:
        for _ in range(20):
            store.append("clock", [Event("Tick") for _ in range(100)])
    script = _PROJECTOR.format(schema=SCHEMA)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", script, store_path, model_path], stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout.readline() == b"started\n"
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    if model_path.exists():
        n, applied, positions = counter(model_path)
        assert n == len(applied) == positions.get("ticks", 0)
        assert applied == list(range(1, n + 1))
    finished = run(script, store_path, model_path)
    assert finished.stdout.splitlines() == ["started", "2000"], finished.stderr
    assert counter(model_path) == (2000, list(range(1, 2001)), {"ticks": 2000})


def test_two_processes_on_one_read_model_never_apply_an_event_twice(tmp_path):
    store_path, model_path = tmp_path / "shop.db", tmp_path / "r.db"
    with SQLiteEventStore(store_path, synchronous="NORMAL") as store:
        for _ in range(10):
            store.append("clock", [Event("Tick") for _ in range(100)])
    SQLiteReadModel(SCHEMA, model_path).close()  # created once, before the race
    script = _PROJECTOR.format(schema=SCHEMA)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    gun = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, store_path, model_path, gun],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout.readline() == b"started\n"
    gun.touch()
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    assert [out.split() for out, _ in outputs] == [[b"1000"]] * 2
    assert counter(model_path) == (1000, list(range(1, 1001)), {"ticks": 1000})
    calls = [int(err.split()[-1]) for _, err in outputs]
    assert sum(calls) >= 1000  # each event applied once, whichever racer got it
