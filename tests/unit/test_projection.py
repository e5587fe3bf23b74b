"""Projection: position and lag, catch-up, rebuild, failure and resume, live mode, SQLite."""

from __future__ import annotations

import pytest

from eda_kit import Event, Tracer
from eda_kit.cqrs import Projection, ProjectionStalled, SQLiteReadModel
from eda_kit.store import InMemoryEventStore


def placed(order_id, customer="asha", total=10, day="2026-01-05"):
    return Event(
        "OrderPlaced", {"order_id": order_id, "customer": customer, "total": total, "day": day}
    )


def paid(order_id):
    return Event("OrderPaid", {"order_id": order_id})


def order_details(store, **options):
    projection = Projection("order_details", store, **options)

    @projection.on("OrderPlaced")
    def on_placed(view, event):
        view[event.data["order_id"]] = {
            "customer": event.data["customer"],
            "total": event.data["total"],
            "status": "placed",
        }

    @projection.on("OrderPaid")
    def on_paid(view, event):
        view[event.data["order_id"]]["status"] = "paid"

    return projection


@pytest.fixture
def store():
    return InMemoryEventStore()


# --- position, lag, catch_up ---------------------------------------------------------------


def test_a_new_projection_is_at_position_0_with_lag_equal_to_the_store(store):
    store.append("order-A1", [placed("A1"), paid("A1")])
    projection = order_details(store)
    assert (projection.position, projection.lag, projection.status) == (0, 2, "behind")
    assert projection.read_model == {}


def test_catch_up_applies_everything_and_returns_how_many(store):
    store.append("order-A1", [placed("A1"), paid("A1")])
    store.append("order-B2", placed("B2", "ben", 5))
    projection = order_details(store)
    assert projection.catch_up() == 3
    assert projection.read_model == {
        "A1": {"customer": "asha", "total": 10, "status": "paid"},
        "B2": {"customer": "ben", "total": 5, "status": "placed"},
    }
    assert (projection.position, projection.lag, projection.status) == (3, 0, "up to date")
    assert projection.catch_up() == 0  # nothing new


def test_lag_counts_the_events_appended_since_the_last_catch_up(store):
    projection = order_details(store)
    store.append("order-A1", placed("A1"))
    projection.catch_up()
    store.append("order-A1", paid("A1"))
    store.append("order-B2", [placed("B2"), paid("B2")])
    assert projection.lag == 3
    assert projection.read_model["A1"]["status"] == "placed"  # the stale read
    assert projection.catch_up() == 3
    assert projection.lag == 0 and projection.read_model["A1"]["status"] == "paid"


def test_events_without_a_handler_are_passed_over_but_counted(store):
    store.append("order-A1", [placed("A1"), Event("OrderShipped", {"order_id": "A1"})])
    projection = order_details(store)
    assert projection.catch_up() == 2
    assert projection.position == 2 and projection.read_model["A1"]["status"] == "placed"
    assert projection.handles == ["OrderPlaced", "OrderPaid"]


def test_catch_up_to_a_position_stops_there(store):
    store.append("order-A1", [placed("A1"), paid("A1")])
    store.append("order-B2", placed("B2"))
    projection = order_details(store)
    assert projection.catch_up(to_position=1) == 1
    assert projection.read_model == {"A1": {"customer": "asha", "total": 10, "status": "placed"}}
    assert projection.lag == 2
    assert projection.catch_up(to_position=1) == 0
    with pytest.raises(ValueError, match="to_position must be an int >= 0"):
        projection.catch_up(to_position=-1)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 500])
def test_batch_size_does_not_change_the_result(store, batch_size):
    for i in range(7):
        store.append(f"order-{i}", [placed(str(i)), paid(str(i))])
    projection = order_details(store, batch_size=batch_size)
    assert projection.catch_up() == 14
    assert all(order["status"] == "paid" for order in projection.read_model.values())
    assert len(projection.read_model) == 7


def test_a_projection_reads_only_what_is_new(store):
    store.append("order-A1", [placed("A1"), paid("A1")])
    projection = order_details(store)
    projection.catch_up()
    asked = []
    original = store.read_all
    store.read_all = lambda from_position=1, limit=None: (
        asked.append(from_position) or original(from_position, limit)
    )
    store.append("order-B2", placed("B2"))
    projection.catch_up()
    assert asked[0] == 3


# --- several read models from one stream of events -------------------------------------------


def test_several_read_models_from_the_same_events(store):
    store.append("order-A1", [placed("A1", "asha", 30, "2026-01-05"), paid("A1")])
    store.append("order-B2", placed("B2", "ben", 12, "2026-01-05"))
    store.append("order-C3", placed("C3", "asha", 8, "2026-01-06"))

    per_customer = Projection("orders_per_customer", store)

    @per_customer.on("OrderPlaced")
    def count(view, event):
        view[event.data["customer"]] = view.get(event.data["customer"], 0) + 1

    per_day = Projection("revenue_per_day", store)

    @per_day.on("OrderPlaced")
    def revenue(view, event):
        view[event.data["day"]] = view.get(event.data["day"], 0) + event.data["total"]

    details = order_details(store)
    for projection in (details, per_customer, per_day):
        projection.catch_up()
    assert details.read_model["A1"]["status"] == "paid"
    assert per_customer.read_model == {"asha": 2, "ben": 1}
    assert per_day.read_model == {"2026-01-05": 42, "2026-01-06": 8}


# --- rebuild ------------------------------------------------------------------------------


def test_rebuild_replays_from_scratch_into_a_fresh_read_model(store):
    store.append("order-A1", [placed("A1"), paid("A1")])
    projection = order_details(store)
    projection.catch_up()
    projection.read_model["A1"]["status"] = "corrupted by hand"
    projection.read_model["ghost"] = {}
    assert projection.rebuild() == 2
    assert projection.read_model == {"A1": {"customer": "asha", "total": 10, "status": "paid"}}
    assert projection.position == 2


def test_rebuild_after_changing_the_shape(store):
    store.append("order-A1", [placed("A1", total=30), paid("A1")])
    store.append("order-B2", placed("B2", total=5))
    projection = order_details(store)
    projection.catch_up()

    @projection.on("OrderPlaced", replace=True)
    def summary_line(view, event):  # new shape: one line of text per order
        view[event.data["order_id"]] = f"{event.data['customer']}: {event.data['total']}"

    projection.on("OrderPaid", lambda view, event: None, replace=True)
    assert projection.lag == 0  # changing handlers does not re-apply anything by itself
    projection.rebuild()
    assert projection.read_model == {"A1": "asha: 30", "B2": "asha: 5"}


def test_a_second_handler_for_an_event_type_is_refused_unless_replacing(store):
    projection = order_details(store)
    with pytest.raises(ValueError, match="already handles 'OrderPlaced'.*replace=True"):
        projection.on("OrderPlaced", lambda view, event: None)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"name": ""}, ValueError, "non-empty name"),
        ({"read_model": {}}, TypeError, "factory .* got a dict instance"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive int"),
        ({"batch_size": True}, ValueError, "batch_size must be a positive int"),
        ({"store": {}}, TypeError, "dict has no read_all"),
    ],
)
def test_bad_construction_is_refused(store, kwargs, error, match):
    arguments = {"name": "p", "store": store, **kwargs}
    with pytest.raises(error, match=match):
        Projection(**arguments)


def test_bad_handlers_are_refused(store):
    projection = Projection("p", store)
    with pytest.raises(ValueError, match="event type must be a non-empty name"):
        projection.on("", lambda view, event: None)
    with pytest.raises(TypeError, match="must be callable"):
        projection.on("OrderPlaced", "not a function")


# --- failure and resume -------------------------------------------------------------------


def fragile_revenue(store):
    """Revenue per day whose handler needs 'day' (which one bad event lacks)."""
    projection = Projection("revenue_per_day", store)

    @projection.on("OrderPlaced")
    def add(view, event):
        day = event.data["day"]
        view[day] = view.get(day, 0) + event.data["total"]

    return projection


def test_a_failing_handler_stalls_the_projection_at_that_event(store):
    store.append("order-A1", placed("A1", total=30))
    store.append("order-B2", Event("OrderPlaced", {"order_id": "B2", "total": 12}))  # no day
    store.append("order-C3", placed("C3", total=8))
    projection = fragile_revenue(store)
    with pytest.raises(ProjectionStalled) as caught:
        projection.catch_up()
    stalled = caught.value
    assert str(stalled) == (
        "projection 'revenue_per_day' stalled at position 2 (OrderPlaced in stream 'order-B2'): "
        "KeyError: 'day'. Its position did not move: fix the handler or the data, then call "
        "catch_up()."
    )
    assert isinstance(stalled.error, KeyError) and stalled.__cause__ is stalled.error
    assert stalled.event.position == 2 and stalled.projection == "revenue_per_day"
    assert projection.error is stalled
    assert (projection.status, projection.position, projection.lag) == ("stalled", 1, 2)
    assert projection.read_model == {"2026-01-05": 30}  # event 3 was not applied either


def test_catch_up_after_a_fix_continues_from_the_failing_event(store):
    store.append("order-A1", placed("A1", total=30))
    store.append("order-B2", Event("OrderPlaced", {"order_id": "B2", "total": 12}))
    store.append("order-C3", placed("C3", total=8))
    projection = fragile_revenue(store)
    with pytest.raises(ProjectionStalled):
        projection.catch_up()
    with pytest.raises(ProjectionStalled):  # no fix yet: stalls again at the same place
        projection.catch_up()
    assert projection.position == 1

    @projection.on("OrderPlaced", replace=True)
    def add(view, event):
        day = event.data.get("day", "unknown day")
        view[day] = view.get(day, 0) + event.data["total"]

    assert projection.catch_up() == 2
    assert projection.error is None and projection.status == "up to date"
    assert projection.read_model == {"2026-01-05": 38, "unknown day": 12}


def test_a_sqlite_read_model_rolls_back_a_half_applied_event(store):
    schema = (
        "CREATE TABLE orders (order_id TEXT PRIMARY KEY, total INT);"
        "CREATE TABLE totals (customer TEXT PRIMARY KEY, spent INT)"
    )
    projection = Projection("orders_sql", store, read_model=lambda: SQLiteReadModel(schema))

    @projection.on("OrderPlaced")
    def insert(db, event):
        db.execute(
            "INSERT INTO orders VALUES (?, ?)", (event.data["order_id"], event.data["total"])
        )
        db.execute(
            "INSERT INTO totals VALUES (?, ?) ON CONFLICT (customer) DO UPDATE "
            "SET spent = spent + excluded.spent",
            (event.data["customer"], event.data["total"]),
        )  # KeyError on the bad one

    store.append("order-A1", placed("A1", total=30))
    store.append("order-B2", Event("OrderPlaced", {"order_id": "B2", "total": 12}))
    with pytest.raises(ProjectionStalled, match="KeyError: 'customer'"):
        projection.catch_up()
    db = projection.read_model
    assert db.query("SELECT * FROM orders") == [{"order_id": "A1", "total": 30}]  # B2 undone
    assert db.query_one("SELECT spent FROM totals WHERE customer = ?", ("asha",)) == {"spent": 30}
    assert db.query_one("SELECT * FROM orders WHERE order_id = 'B2'") is None


def test_failures_are_traced(store):
    tracer = Tracer()
    store.append("order-A1", placed("A1", total=30))
    store.append("order-B2", Event("OrderPlaced", {"order_id": "B2", "total": 12}))
    projection = Projection("revenue_per_day", store, tracer=tracer)
    projection.on("OrderPlaced", lambda view, event: view.update({event.data["day"]: 1}))
    with pytest.raises(ProjectionStalled):
        projection.catch_up()
    assert [(r.event, r.target, r.outcome, r.detail, r.via) for r in tracer] == [
        ("OrderPlaced", "revenue_per_day", "delivered", "", "order-A1"),
        ("OrderPlaced", "revenue_per_day", "failed", "KeyError: 'day'", "order-B2"),
    ]


# --- live mode ------------------------------------------------------------------------------


def test_live_mode_catches_up_then_follows_new_appends(store):
    store.append("order-A1", placed("A1"))
    projection = order_details(store).start()
    assert projection.live and projection.position == 1
    store.append("order-A1", paid("A1"))
    assert projection.wait_until(timeout=30)  # applied on the delivery thread, just after
    assert projection.read_model["A1"]["status"] == "paid" and projection.lag == 0
    projection.stop()
    assert not projection.live
    store.append("order-B2", placed("B2"))
    assert "B2" not in projection.read_model and projection.lag == 1
    projection.stop()  # stopping twice is fine


def test_a_live_failure_stalls_without_failing_the_writer(store):
    projection = fragile_revenue(store).start()
    store.append("order-A1", placed("A1", total=30))
    version = store.append("order-B2", Event("OrderPlaced", {"order_id": "B2", "total": 12}))
    assert version == 1  # the writer's append succeeded
    store.append("order-C3", placed("C3", total=8))
    assert projection.wait_until(timeout=30) is False  # stalled on the way
    assert projection.status == "stalled" and projection.position == 1
    assert "KeyError: 'day'" in str(projection.error)

    projection.on(
        "OrderPlaced",
        lambda view, event: view.update({"fixed": view.get("fixed", 0) + event.data["total"]}),
        replace=True,
    )
    assert projection.catch_up() == 2  # resumes from the failing event...
    store.append("order-D4", placed("D4", total=1))  # ...and live delivery goes on
    assert projection.wait_until(timeout=30)
    assert projection.read_model == {"2026-01-05": 30, "fixed": 21}
    assert projection.position == 4 and projection.status == "up to date"


def test_wait_until_is_waiting_for_your_own_write(store):
    projection = fragile_revenue(store)
    with pytest.raises(ValueError, match="not live: call catch_up"):
        projection.wait_until(1)
    projection.start()
    store.append("order-A1", placed("A1", total=30))
    written_at = store.last_position()
    assert projection.wait_until(written_at, timeout=30) is True
    assert projection.read_model == {"2026-01-05": 30}
    store.append("order-B2", Event("OrderPlaced", {"order_id": "B2", "total": 12}))
    assert projection.wait_until(timeout=30) is False  # stalled before it got there
    assert projection.status == "stalled"
    projection.stop()


def test_live_mode_applies_each_event_once_even_after_a_manual_catch_up(store):
    projection = Projection("count", store, read_model=list)
    projection.on("Tick", lambda seen, event: seen.append(event.position))
    projection.start()
    for _ in range(3):
        store.append("clock", Event("Tick"))
        projection.catch_up()
    projection.rebuild()
    store.append("clock", Event("Tick"))
    assert projection.wait_until(timeout=30)
    assert projection.read_model == [1, 2, 3, 4]


# --- helpers --------------------------------------------------------------------------------


def test_next_state_is_a_pure_step(store):
    store.append("order-A1", [placed("A1"), paid("A1")])
    projection = order_details(store)
    events = store.read_all()
    state0 = {}
    state1 = projection.next_state(state0, events[0])
    state2 = projection.next_state(state1, events[1])
    assert state0 == {} and state1["A1"]["status"] == "placed"
    assert state2["A1"]["status"] == "paid"
    assert projection.position == 0 and projection.read_model == {}


def test_reprs_tell_the_state(store):
    store.append("order-A1", placed("A1"))
    projection = order_details(store)
    assert repr(projection) == "<Projection 'order_details': position 0, lag 1, behind>"
    db = SQLiteReadModel("CREATE TABLE b (x); CREATE TABLE a (y)")
    assert repr(db) == "<SQLiteReadModel: tables a, b>"


def test_rebuild_closes_the_old_sqlite_read_model(store):
    made = []

    def factory():
        made.append(SQLiteReadModel("CREATE TABLE t (x INT)"))
        return made[-1]

    projection = Projection("t", store, read_model=factory)
    projection.on(
        "Tick", lambda db, event: db.execute("INSERT INTO t VALUES (?)", (event.position,))
    )
    store.append("clock", [Event("Tick"), Event("Tick")])
    projection.catch_up()
    projection.rebuild()
    assert len(made) == 2
    assert projection.read_model.query("SELECT x FROM t") == [{"x": 1}, {"x": 2}]
    with pytest.raises(Exception, match="closed"):
        made[0].query("SELECT 1")


# --- the same projection on the SQLite event store ---------------------------------------------


def test_a_projection_follows_a_sqlite_event_store_too(tmp_path):
    from eda_kit.store import SQLiteEventStore

    with SQLiteEventStore(tmp_path / "shop.db") as store:
        store.append("order-A1", placed("A1", total=30))
        projection = order_details(store).start()
        store.append("order-A1", paid("A1"))
        store.append("order-B2", Event("OrderPaid", {"order_id": "B2"}))  # paid, never placed
        assert projection.wait_until(timeout=30) is False
        assert projection.status == "stalled" and projection.position == 2
        assert "KeyError: 'B2'" in str(projection.error)
        projection.on(
            "OrderPaid",
            lambda view, event: view.get(event.data["order_id"], {}).update(status="paid"),
            replace=True,
        )
        assert projection.catch_up() == 1
        assert projection.read_model == {"A1": {"customer": "asha", "total": 30, "status": "paid"}}
        projection.stop()


def test_live_mode_can_poll_for_appends_made_by_another_process(tmp_path):
    import time

    from eda_kit.store import SQLiteEventStore

    def wait_for(position):
        deadline = time.monotonic() + 10  # a generous limit, not a speed requirement
        while projection.position < position and time.monotonic() < deadline:
            time.sleep(0.01)
        return projection.position

    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as reader, SQLiteEventStore(path) as writer:
        projection = order_details(reader).start(poll_every=0.01)
        for i in range(10):  # another store object: like another process
            writer.append(f"order-{i}", [placed(str(i)), paid(str(i))])
        assert wait_for(20) == 20  # only the background poller can have done this
        for i in range(10, 20):
            writer.append(f"order-{i}", [placed(str(i)), paid(str(i))])
            projection.catch_up()  # the main thread catching up meanwhile must not collide
        assert wait_for(40) == 40
        projection.stop()
        assert projection.error is None
        assert [v["status"] for v in projection.read_model.values()] == ["paid"] * 20


def test_without_polling_appends_by_another_store_object_wait_for_catch_up(tmp_path):
    from eda_kit.store import SQLiteEventStore

    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as reader, SQLiteEventStore(path) as writer:
        projection = order_details(reader).start()
        writer.append("order-A1", placed("A1"))
        assert projection.position == 0 and projection.lag == 1
        assert projection.catch_up() == 1
        projection.stop()


# --- all or nothing per event: the dict read model's undo log ---------------------------------


def test_a_dict_read_model_rolls_back_a_half_applied_event(store):
    projection = order_details(store)

    @projection.on("OrderShipped")
    def shipped(view, event):
        order = view[event.data["order_id"]]
        order["status"] = "shipped"  # a nested change...
        view["shipments"] = view.get("shipments", 0) + 1  # ...a new key...
        view[event.data["carrier"]]  # ...then a KeyError

    store.append("order-A1", [placed("A1"), paid("A1")])
    store.append("order-A1", Event("OrderShipped", {"order_id": "A1", "carrier": "dhl"}))
    with pytest.raises(ProjectionStalled, match="KeyError: 'dhl'"):
        projection.catch_up()
    assert projection.read_model == {"A1": {"customer": "asha", "total": 10, "status": "paid"}}
    assert projection.position == 2


def test_a_successful_event_keeps_the_read_models_own_objects(store):
    for i in range(50):
        store.append(f"order-{i}", placed(str(i)))
    projection = order_details(store)
    projection.catch_up()
    before = {key: id(value) for key, value in projection.read_model.items()}
    store.append("order-7", paid("7"))
    projection.catch_up()
    after = {key: id(value) for key, value in projection.read_model.items()}
    assert before == after  # no key was replaced by a copy: the copies are only for undoing


def test_other_read_models_are_not_rolled_back_and_the_docs_say_so(store):
    projection = Projection("seen", store, read_model=list)

    @projection.on("Tick")
    def tick(seen, event):
        seen.append(event.position)
        raise RuntimeError("after the change")

    store.append("clock", Event("Tick"))
    with pytest.raises(ProjectionStalled):
        projection.catch_up()
    assert projection.read_model == [1]  # half-applied: a list has no undo
    import eda_kit.cqrs.projection as module

    assert "can't be rolled back unless they\n  offer ``transaction()``" in module.__doc__


# --- a read model in a file: the position lives with the data -------------------------------

SCHEMA = "CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)"


def counting(store, path, **options):
    projection = Projection(
        "ticks", store, read_model=lambda: SQLiteReadModel(SCHEMA, path), **options
    )
    projection.on("Tick", lambda db, event: db.execute("UPDATE counter SET n = n + 1"))
    return projection


_RESTART = """
import sys
from eda_kit import Projection
from eda_kit.cqrs import SQLiteReadModel
from eda_kit.store import SQLiteEventStore
store = SQLiteEventStore(sys.argv[1])
SCHEMA = "CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)"
ticks = Projection("ticks", store, read_model=lambda: SQLiteReadModel(SCHEMA, sys.argv[2]))
ticks.on("Tick", lambda db, event: db.execute("UPDATE counter SET n = n + 1"))
before = ticks.position
ticks.catch_up()
print(before, ticks.position, ticks.read_model.query_one("SELECT n FROM counter")["n"])
"""


def test_restarting_in_fresh_processes_never_applies_an_event_twice(tmp_path):
    """The issue's script: one event, three restarts; the counter must read 1, not 3."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from eda_kit.store import SQLiteEventStore

    root = Path(__file__).resolve().parents[2]
    store_path, model_path = tmp_path / "shop.db", tmp_path / "ticks.db"
    with SQLiteEventStore(store_path) as writer:
        writer.append("clock", Event("Tick"))
    outputs = []
    for round_ in range(3):
        if round_ == 2:
            with SQLiteEventStore(store_path) as writer:
                writer.append("clock", Event("Tick"))
        done = subprocess.run(
            [sys.executable, "-c", _RESTART, str(store_path), str(model_path)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(root)},
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.split())
    assert outputs == [["0", "1", "1"], ["1", "1", "1"], ["1", "2", "2"]]


def test_a_new_projection_over_the_same_file_starts_where_it_got_to(tmp_path):
    from eda_kit.store import SQLiteEventStore

    with SQLiteEventStore(tmp_path / "shop.db") as store:
        store.append("clock", [Event("Tick"), Event("Other"), Event("Tick")])
        first = counting(store, tmp_path / "ticks.db")
        assert first.catch_up() == 3
        first.read_model.close()
        second = counting(store, tmp_path / "ticks.db")
        assert (second.position, second.lag) == (3, 0)  # "Other" had no handler: still counted
        store.append("clock", Event("Tick"))
        assert second.catch_up() == 1
        assert second.read_model.query_one("SELECT n FROM counter") == {"n": 3}


def test_a_read_model_ahead_of_its_store_is_refused(tmp_path):
    from eda_kit.store import SQLiteEventStore

    with SQLiteEventStore(tmp_path / "a.db") as store:
        store.append("clock", [Event("Tick"), Event("Tick")])
        counting(store, tmp_path / "ticks.db").catch_up()
    with SQLiteEventStore(tmp_path / "b.db") as other:
        other.append("clock", Event("Tick"))
        with pytest.raises(ValueError, match="at position 2, but the store ends at 1"):
            counting(other, tmp_path / "ticks.db")


def test_rebuild_empties_a_file_read_model_and_refills_it(tmp_path):
    from eda_kit.store import SQLiteEventStore

    with SQLiteEventStore(tmp_path / "shop.db") as store:
        store.append("clock", [Event("Tick"), Event("Tick")])
        projection = counting(store, tmp_path / "ticks.db")
        projection.catch_up()
        projection.read_model.execute("UPDATE counter SET n = 99")  # a corrupted read model
        assert projection.rebuild() == 2
        assert projection.read_model.query_one("SELECT n FROM counter") == {"n": 2}
        assert projection.read_model.checkpoints() == {"ticks": 2}

        projection.read_model.checkpoint("someone-else").save(None, 1)
        with pytest.raises(ValueError, match="also keeps the positions of someone-else"):
            projection.rebuild()


def test_a_live_projection_over_a_sqlite_read_model_follows_another_process(tmp_path):
    """start(poll_every=...) applies events on the poller's thread: no thread errors."""
    import time

    from eda_kit.store import SQLiteEventStore

    path = tmp_path / "shop.db"
    with SQLiteEventStore(path) as reader, SQLiteEventStore(path) as writer:
        projection = counting(reader, tmp_path / "ticks.db").start(poll_every=0.01)
        for _ in range(20):
            writer.append("clock", Event("Tick"))
            projection.read_model.query("SELECT n FROM counter")  # queries from this thread
        deadline = time.monotonic() + 10
        while projection.position < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        projection.stop()
        assert projection.error is None, projection.error
        assert projection.position == 20
        assert projection.read_model.query_one("SELECT n FROM counter") == {"n": 20}


def test_a_live_projection_over_a_sqlite_read_model_takes_appends_from_other_threads(tmp_path):
    """start() + SQLiteReadModel, events appended on writer threads: applied on the delivery
    thread, no "SQLite objects created in a thread" error, each once."""
    import threading

    from eda_kit.store import SQLiteEventStore

    with SQLiteEventStore(tmp_path / "shop.db") as store:
        projection = counting(store, tmp_path / "ticks.db").start()

        def writer():
            for _ in range(10):
                store.append("clock", Event("Tick"))

        threads = [threading.Thread(target=writer) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert projection.wait_until(30, timeout=30) is True
        projection.stop()
        assert projection.error is None, projection.error
        assert projection.read_model.query_one("SELECT n FROM counter") == {"n": 30}
        assert projection.read_model.checkpoints() == {"ticks": 30}
