"""PostgresReadModel: a read model and its position in one PostgreSQL transaction.

The position is a transactional checkpoint (the protocol ``store.subscribe(...,
checkpoint=...)`` uses): tested here with the loop that protocol describes, run by two
*processes* at once over one store, and by a process killed with SIGKILL inside its transaction;
then the same through ``Projection(read_model=lambda: PostgresReadModel(...))``, each run a fresh
process (a restart), live over LISTEN/NOTIFY, and rebuilt.
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


# --- Projection(read_model=lambda: PostgresReadModel(...)) ------------------------------------
#
# A projection process over a PostgresEventStore, its read model in PostgreSQL. Each run is a
# fresh process (a restart): it resumes from the position saved in the read model, applies the
# rest, and may be killed with SIGKILL inside a handler's transaction at ``crash_at``.
_PROJECTION = """
import os, signal, sys
from eda_kit import Projection
from eda_kit.cqrs.postgres import PostgresReadModel
from eda_kit.store.postgres import PostgresEventStore
url, store_schema, model_schema, crash_at, to, batch = sys.argv[1:7]
store = PostgresEventStore(url, schema=store_schema)
SCHEMA = "CREATE TABLE totals (order_id TEXT PRIMARY KEY, total INT NOT NULL)"
totals = Projection("totals", store, batch_size=int(batch),
                    read_model=lambda: PostgresReadModel(url, SCHEMA, schema=model_schema))
@totals.on("OrderPlaced")
def placed(db, event):
    db.execute("INSERT INTO totals VALUES (%s, %s)", (event.data["id"], event.data["total"]))
    if str(event.position) == crash_at:
        os.kill(os.getpid(), signal.SIGKILL)          # kill -9 inside the transaction
print("resumed at", totals.position, flush=True)
totals.catch_up(None if to == "end" else int(to))
print("at", totals.position, flush=True)
"""


def fill_mixed(store, orders):
    """``orders`` OrderPlaced events, each followed by an OrderViewed the projection ignores."""
    for n in range(orders):
        store.append(
            f"order-{n}",
            [
                Event("OrderPlaced", {"id": f"o{n}", "total": n}),
                Event("OrderViewed", {"id": f"o{n}"}),
            ],
        )


def run_projection(pg, store, model_schema, *, crash_at="none", to="end", batch=7):
    done = subprocess.run(
        [sys.executable, "-c", _PROJECTION, pg.url, store.schema, model_schema, crash_at, to,
         str(batch)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode in (0, -signal.SIGKILL), done.stderr[-2000:]
    return done.returncode, done.stdout.split("\n")


def totals_in(pg, model_schema):
    with PostgresReadModel(pg.url, SCHEMA_SQL, schema=model_schema) as model:
        rows = model.query("SELECT order_id, total FROM totals ORDER BY total")
        return [row["total"] for row in rows], model.checkpoints()


def test_a_projection_restarted_in_a_fresh_process_resumes_without_double_or_skip(pg):
    store, model_schema = pg.store(), pg.new_schema()
    fill_mixed(store, 20)  # positions 1..40: OrderPlaced at odd positions
    code, out = run_projection(pg, store, model_schema, to="15")
    assert code == 0 and out[:2] == ["resumed at 0", "at 15"]
    assert totals_in(pg, model_schema) == (list(range(8)), {"totals": 15})
    code, out = run_projection(pg, store, model_schema)  # a restart: resumes after 15
    assert code == 0 and out[:2] == ["resumed at 15", "at 40"]
    assert totals_in(pg, model_schema) == (list(range(20)), {"totals": 40})


def test_a_projection_killed_inside_a_handler_applies_that_event_once_after_a_restart(pg):
    store, model_schema = pg.store(), pg.new_schema()
    fill_mixed(store, 20)
    code, out = run_projection(pg, store, model_schema, crash_at="23")  # the 12th order
    assert code == -signal.SIGKILL and out[0] == "resumed at 0"
    # Neither the 12th order's row nor its position survived the kill; events that need no
    # handler (OrderViewed) may be re-read after a restart, never applied twice.
    totals, checkpoints = totals_in(pg, model_schema)
    assert totals == list(range(11)) and 21 <= checkpoints["totals"] <= 22
    code, out = run_projection(pg, store, model_schema)
    assert code == 0 and out[1] == "at 40"
    assert totals_in(pg, model_schema) == (list(range(20)), {"totals": 40})


def test_two_projection_processes_at_once_apply_each_event_once(pg):
    store, model_schema = pg.store(), pg.new_schema()
    fill_mixed(store, 40)
    args = [sys.executable, "-c", _PROJECTION, pg.url, store.schema, model_schema]
    processes = [
        subprocess.Popen(
            [*args, "none", "end", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )  # fmt: skip
        for _ in range(2)
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        assert out.split("\n")[1] == "at 80"
    assert totals_in(pg, model_schema) == (list(range(40)), {"totals": 80})


def test_a_live_projection_follows_other_writers_and_rebuilds(pg):
    from eda_kit import Projection

    store, model_schema = pg.store(), pg.new_schema()
    writer = pg.store(store.schema)  # another store object: another connection, as a process
    fill_mixed(writer, 3)
    totals = Projection(
        "totals",
        store,
        read_model=lambda: PostgresReadModel(pg.url, SCHEMA_SQL, schema=model_schema),
    )

    @totals.on("OrderPlaced")
    def placed(db, event):
        db.execute("INSERT INTO totals VALUES (%s, %s)", (event.data["id"], event.data["total"]))

    totals.start()
    assert totals.position == 6
    writer.append("order-9", Event("OrderPlaced", {"id": "o9", "total": 9}))
    assert totals.wait_until(7, timeout=20)  # woken by NOTIFY, read from the table
    assert totals_in(pg, model_schema) == ([0, 1, 2, 9], {"totals": 7})
    totals.stop()
    assert totals.rebuild() == 7  # emptied in one transaction, replayed from position 1
    assert totals_in(pg, model_schema) == ([0, 1, 2, 9], {"totals": 7})
    totals.read_model.close()


def test_a_read_model_instance_instead_of_a_factory_is_refused_saying_how(pg):
    from eda_kit import Projection

    model = PostgresReadModel(pg.url, SCHEMA_SQL, schema=pg.new_schema())
    with pytest.raises(TypeError, match="factory"):
        Projection("totals", pg.store(), read_model=model)
    model.close()


def test_reset_refuses_to_drop_tables_its_schema_does_not_make(pg):
    from eda_kit import Projection

    store = pg.store()  # an event store, and a read model by mistake in the same schema
    fill(store, 3)
    shared = PostgresReadModel(pg.url, SCHEMA_SQL, schema=store.schema)
    totals = Projection("totals", store, read_model=lambda: shared)

    @totals.on("OrderPlaced")
    def placed(db, event):
        db.execute("INSERT INTO totals VALUES (%s, %s)", (event.data["id"], event.data["total"]))

    assert totals.catch_up() == 3
    with pytest.raises(ValueError, match=r"also holds eda_checkpoints, eda_events, eda_log"):
        totals.rebuild()
    assert len(store.read_all()) == 3  # the events are still there
    assert shared.query_one("SELECT count(*) AS n FROM totals") == {"n": 3}
    shared.close()
