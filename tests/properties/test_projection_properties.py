"""Properties of projections, for any history of events and any catch-up schedule.

- after ``catch_up()``, a projection's read model equals a plain fold of all the events,
  however the appends and catch-ups were interleaved (and however big the batches);
- ``rebuild()`` gives the very same read model;
- ``lag`` is exactly the number of events appended since the projection last caught up.

The expected values are computed here independently, with ordinary loops over the event
list: the projections' handlers are not reused to check themselves.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from eda_kit import Event
from eda_kit.cqrs import Projection, SQLiteReadModel
from eda_kit.store import InMemoryEventStore

CUSTOMERS = ["asha", "ben", "chen"]
DAYS = ["2026-01-05", "2026-01-06", "2026-01-07"]


# --- the projections under test ---------------------------------------------------------------


def details_projection(store, batch_size):
    projection = Projection("order_details", store, batch_size=batch_size)

    @projection.on("OrderPlaced")
    def placed(view, event):
        view[event.data["order_id"]] = {
            "customer": event.data["customer"],
            "total": event.data["total"],
            "status": "placed",
        }

    @projection.on("OrderCancelled")
    def cancelled(view, event):
        view[event.data["order_id"]]["status"] = "cancelled"

    return projection


def per_customer_projection(store, batch_size):
    projection = Projection("orders_per_customer", store, batch_size=batch_size)

    @projection.on("OrderPlaced")
    def placed(view, event):
        view[event.data["customer"]] = view.get(event.data["customer"], 0) + 1

    return projection


SCHEMA = "CREATE TABLE revenue (day TEXT PRIMARY KEY, amount INT NOT NULL)"


def revenue_projection(store, batch_size):
    """Revenue per day in SQLite; a cancelled order's total comes off its day."""
    projection = Projection(
        "revenue_per_day", store, batch_size=batch_size, read_model=lambda: SQLiteReadModel(SCHEMA)
    )

    def add(db, day, amount):
        db.execute(
            "INSERT INTO revenue VALUES (?, ?) ON CONFLICT (day) DO UPDATE "
            "SET amount = amount + excluded.amount",
            (day, amount),
        )

    projection.on("OrderPlaced", lambda db, e: add(db, e.data["day"], e.data["total"]))
    projection.on("OrderCancelled", lambda db, e: add(db, e.data["day"], -e.data["total"]))
    return projection


def read(projection):
    model = projection.read_model
    if isinstance(model, SQLiteReadModel):
        return {row["day"]: row["amount"] for row in model.query("SELECT * FROM revenue")}
    return model


# --- independent folds (what the read models must equal) ----------------------------------


def expected_details(events):
    view = {}
    for event in events:
        if event.type == "OrderPlaced":
            view[event.data["order_id"]] = {
                "customer": event.data["customer"],
                "total": event.data["total"],
                "status": "placed",
            }
        elif event.type == "OrderCancelled":
            view[event.data["order_id"]]["status"] = "cancelled"
    return view


def expected_per_customer(events):
    return dict(Counter(e.data["customer"] for e in events if e.type == "OrderPlaced"))


def expected_revenue(events):
    revenue = {}
    for event in events:
        sign = {"OrderPlaced": 1, "OrderCancelled": -1}.get(event.type)
        if sign is not None:
            day = event.data["day"]
            revenue[day] = revenue.get(day, 0) + sign * event.data["total"]
    return revenue


PROJECTIONS = [
    (details_projection, expected_details),
    (per_customer_projection, expected_per_customer),
    (revenue_projection, expected_revenue),
]


# --- histories: orders placed, some cancelled, some noise; catch-ups sprinkled in -----------


@st.composite
def histories(draw):
    """A list of steps: ("append", stream, [events]) or ("catch_up", None, None)."""
    steps, open_orders, count = [], {}, 0
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["place", "place", "cancel", "noise", "catch_up"]))
        if kind == "place":
            count += 1
            order_id = f"O{count}"
            data = {
                "order_id": order_id,
                "customer": draw(st.sampled_from(CUSTOMERS)),
                "total": draw(st.integers(1, 500)),
                "day": draw(st.sampled_from(DAYS)),
            }
            open_orders[order_id] = data
            events = [Event("OrderPlaced", data)]
            if draw(st.booleans()):  # sometimes a batch: placed and shipped together
                events.append(Event("OrderShipped", {"order_id": order_id}))
            steps.append(("append", f"order-{order_id}", events))
        elif kind == "cancel" and open_orders:
            order_id = draw(st.sampled_from(sorted(open_orders)))
            data = open_orders.pop(order_id)
            steps.append(("append", f"order-{order_id}", [Event("OrderCancelled", data)]))
        elif kind == "noise":
            steps.append(("append", "other", [Event("NewsletterSent", {"n": count})]))
        else:
            steps.append(("catch_up", None, None))
    return steps


def run(steps, make, batch_size):
    """Play the steps against a fresh store; check lag along the way; return both."""
    store = InMemoryEventStore()
    projection = make(store, batch_size)
    appended_since = 0
    for kind, stream, events in steps:
        if kind == "append":
            store.append(stream, events)
            appended_since += len(events)
        else:
            assert projection.lag == appended_since
            assert projection.catch_up() == appended_since
            appended_since = 0
        assert projection.lag == appended_since
    projection.catch_up()
    return store, projection


@settings(max_examples=60, deadline=None)
@given(histories(), st.integers(1, 4), st.sampled_from(range(len(PROJECTIONS))))
def test_after_catch_up_a_projection_equals_a_fold_of_all_events(steps, batch_size, which):
    make, expected = PROJECTIONS[which]
    store, projection = run(steps, make, batch_size)
    assert read(projection) == expected(store.read_all())
    assert projection.position == store.last_position() and projection.lag == 0


@settings(max_examples=40, deadline=None)
@given(histories(), st.sampled_from(range(len(PROJECTIONS))))
def test_rebuild_gives_the_same_read_model(steps, which):
    make, _ = PROJECTIONS[which]
    store, projection = run(steps, make, batch_size=3)
    before = read(projection)
    assert projection.rebuild() == store.last_position()
    assert read(projection) == before


@settings(max_examples=40, deadline=None)
@given(histories(), st.sampled_from(range(len(PROJECTIONS))))
def test_live_mode_gives_the_same_read_model_as_catch_up(steps, which):
    make, expected = PROJECTIONS[which]
    store = InMemoryEventStore()
    projection = make(store, 2).start()
    for kind, stream, events in steps:
        if kind == "append":
            store.append(stream, events)
            assert projection.wait_until(timeout=30) and projection.lag == 0
    assert read(projection) == expected(store.read_all())


# --- a failing handler leaves a dict read model exactly as the events before it left it --------

KEYS = st.sampled_from(["a", "b", "c"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("nest"), KEYS, st.integers(0, 9)),  # view[k]["n"] += x (makes k)
        st.tuples(st.just("append"), KEYS, st.integers(0, 9)),  # view[k]["log"].append(x)
        st.tuples(st.just("delete"), KEYS, st.just(0)),
        st.tuples(st.just("pop"), KEYS, st.just(0)),
        st.tuples(st.just("update"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("clear"), st.just("a"), st.just(0)),
        st.tuples(st.just("values"), st.just("a"), st.integers(0, 9)),  # bump every row
    ),
    max_size=6,
)


def run_ops(view, ops):
    """The same program against a dict or the projection's undo view."""
    for op, key, x in ops:
        if op == "set":
            view[key] = x
        elif op == "nest":
            row = view.setdefault(key, {"n": 0, "log": []})
            if isinstance(row, dict):
                row["n"] += x
        elif op == "append":
            row = view.get(key)
            if isinstance(row, dict):
                row["log"].append(x)
        elif op == "delete":
            if key in view:
                del view[key]
        elif op == "pop":
            view.pop(key, None)
        elif op == "update":
            view.update({key: [x]})
        elif op == "clear":
            view.clear()
        elif op == "values":
            for row in view.values():
                if isinstance(row, dict):
                    row["n"] += x


@settings(max_examples=150, deadline=None)
@given(programs=st.lists(st.tuples(OPS, st.booleans()), min_size=1, max_size=6))
def test_a_failing_dict_handler_undoes_exactly_its_own_changes(programs):
    """Each event runs a little program on the read model, then maybe raises.

    After catch-up stalls at the first raising event, the read model must equal a plain dict
    that ran only the programs of the events before it.
    """
    import copy

    store = InMemoryEventStore()
    for index, _ in enumerate(programs):
        store.append("s", Event("Step", {"index": index}))
    projection = Projection("p", store)

    @projection.on("Step")
    def step(view, event):
        ops, fails = programs[event.data["index"]]
        run_ops(view, ops)
        if fails:
            raise RuntimeError("after the change")

    expected: dict = {}
    stop = next((i for i, (_, fails) in enumerate(programs) if fails), len(programs))
    for ops, _ in programs[:stop]:
        run_ops(expected, ops)
    try:
        projection.catch_up()
    except Exception:
        pass
    assert projection.read_model == copy.deepcopy(expected)
    assert projection.position == stop
