"""PostgresReadModel: a read model and its position in one PostgreSQL transaction.

The position is a transactional checkpoint (the protocol ``store.subscribe(...,
checkpoint=...)`` uses): tested here with the loop that protocol describes, run by two
*processes* at once over one store, and by a process killed with SIGKILL inside its transaction.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from eda_kit import Event
from eda_kit.cqrs.postgres import PostgresReadModel

SCHEMA_SQL = "CREATE TABLE totals (order_id TEXT PRIMARY KEY, total INT NOT NULL)"

# The loop of a transactional checkpoint (see TransactionalCheckpoint), as a projection runs it.
_PROJECTOR = """
import sys, time
from eda_kit.cqrs.postgres import PostgresReadModel
from eda_kit.store.postgres import PostgresEventStore
url, store_schema, model_schema, crash_at = sys.argv[1:5]
store = PostgresEventStore(url, schema=store_schema)
model = PostgresReadModel(url, "CREATE TABLE totals (order_id TEXT PRIMARY KEY, total INT)",
                          schema=model_schema)
checkpoint = model.checkpoint("totals")
print("ready", flush=True)
sys.stdin.readline()
while True:
    with checkpoint.transaction() as db:
        position = checkpoint.saved(db)
        batch = store.read_all(position + 1, limit=1)
        if not batch:
            break
        (event,) = batch
        db.execute("INSERT INTO totals VALUES (%s, %s)", (event.data["id"], event.data["total"]))
        if str(event.position) == crash_at:
            import os, signal
            os.kill(os.getpid(), signal.SIGKILL)      # kill -9 inside the transaction
        checkpoint.save(db, event.position)
print("done", flush=True)
"""


@pytest.fixture
def schemas(pg):
    return pg.store(), pg.new_schema()


def run_projectors(pg, store, model_schema, crashes):
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PROJECTOR, pg.url, store.schema, model_schema, crash],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for crash in crashes
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        process.wait(timeout=120)
    return [process.returncode for process in processes]


def fill(store, count):
    for n in range(count):
        store.append(f"order-{n}", Event("OrderPlaced", {"id": f"o{n}", "total": n}))


def test_two_processes_on_one_checkpoint_apply_each_event_once(pg, schemas):
    store, model_schema = schemas
    fill(store, 60)
    assert run_projectors(pg, store, model_schema, ["none", "none"]) == [0, 0]
    with PostgresReadModel(pg.url, SCHEMA_SQL, schema=model_schema) as model:
        rows = model.query("SELECT order_id, total FROM totals ORDER BY total")
        assert [row["total"] for row in rows] == list(range(60))  # (a twice-applied event
        assert model.checkpoints() == {"totals": 60}  # would break the primary key)


def test_a_projector_killed_inside_its_transaction_keeps_neither_change_nor_position(pg, schemas):
    store, model_schema = schemas
    fill(store, 10)
    assert run_projectors(pg, store, model_schema, ["4"]) == [-signal.SIGKILL]
    with PostgresReadModel(pg.url, SCHEMA_SQL, schema=model_schema) as model:
        assert model.checkpoints() == {"totals": 3}
        assert model.query_one("SELECT count(*) AS n FROM totals") == {"n": 3}
    assert run_projectors(pg, store, model_schema, ["none"]) == [0]  # a restart resumes
    with PostgresReadModel(pg.url, SCHEMA_SQL, schema=model_schema) as model:
        assert model.checkpoints() == {"totals": 10}
        assert model.query_one("SELECT count(*) AS n FROM totals") == {"n": 10}


def test_a_failing_change_rolls_back_with_its_position(pg):
    model = PostgresReadModel(pg.url, SCHEMA_SQL, schema=pg.new_schema())
    checkpoint = model.checkpoint("totals")
    with checkpoint.transaction() as db:
        db.execute("INSERT INTO totals VALUES ('a', 1)")
        checkpoint.save(db, 1)
    with pytest.raises(ZeroDivisionError):
        with checkpoint.transaction() as db:
            db.execute("INSERT INTO totals VALUES ('b', 2)")
            checkpoint.save(db, 2)
            raise ZeroDivisionError
    assert checkpoint.load() == 1
    assert model.query("SELECT order_id FROM totals") == [{"order_id": "a"}]
    model.reset()
    assert model.checkpoints() == {} and model.query("SELECT * FROM totals") == []
    model.close()


def test_bad_schema_names_are_refused():
    with pytest.raises(ValueError, match="schema must be lowercase"):
        PostgresReadModel("postgresql://127.0.0.1:1/x", SCHEMA_SQL, schema="Views")


def test_a_store_subscription_keeps_its_position_in_the_read_model(pg):
    store = pg.store()
    fill(store, 5)
    model = PostgresReadModel(pg.url, SCHEMA_SQL, schema=pg.new_schema())

    def placed(event, db):
        db.execute("INSERT INTO totals VALUES (%s, %s)", (event.data["id"], event.data["total"]))

    subscription = store.subscribe(placed, checkpoint=model.checkpoint("totals"), live=False)
    assert model.checkpoints() == {"totals": 5}
    subscription.close()
    fill_more = Event("OrderPlaced", {"id": "late", "total": 99})
    store.append("order-late", fill_more)
    again = store.subscribe(placed, checkpoint=model.checkpoint("totals"), live=False)
    assert model.checkpoints() == {"totals": 6}  # resumed after 5: nothing applied twice
    assert model.query_one("SELECT count(*) AS n FROM totals") == {"n": 6}
    again.close()
    model.close()
