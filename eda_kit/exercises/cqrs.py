"""Exercises for notebook 03, CQRS: a read model, a command handler that decides, a stale read.

Every checker builds a store with several orders (so a stream's version and the store's global
position are different numbers), runs the answer and the reference on it, and compares what a
user could see: the read model, what the command returned or raised, what the store holds.
"""

from __future__ import annotations

from ..cqrs import Projection
from ..events import Event
from ..store import ANY, InMemoryEventStore
from .framework import Exercise, Probe, Raised, outcome

__all__ = [
    "open_orders_read_model",
    "command_handler",
    "stale_read",
    "add_open_orders",
    "cancel_order",
    "unseen_events",
]

_CUSTOMERS = ["asha", "ben", "chen"]


def _event(kind, order_id, customer, total=10):
    """The events of the exercises, built from short plain-data descriptions."""
    data = {"order_id": order_id, "customer": customer}
    if kind == "OrderPlaced":
        data["total"] = total
    elif kind == "OrderQuoted":  # a price offered: it carries a total and a customer too
        data["total"] = total
    return Event(kind, data)


def _generate_orders(rng, size):
    """A list of (order_id, customer, [event types]) telling each order's life so far."""
    orders = []
    for number in range(rng.randint(0, size + 1)):
        customer = rng.choice(_CUSTOMERS)
        life = ["OrderPlaced"]
        if rng.random() < 0.3:
            life = ["OrderQuoted", *life]
        for _ in range(rng.randint(0, 2)):
            if life[-1] in ("OrderCancelled", "OrderShipped"):
                break
            life.append(rng.choice(["OrderPaid", "OrderCancelled", "OrderShipped"]))
        if rng.random() < 0.1:
            life = ["OrderQuoted"]  # a quote that never became an order
        orders.append((f"A{number}", customer, life))
    return orders


def _store_with(orders, interleave=True):
    """A store holding the orders' events, in a round-robin order across orders."""
    store = InMemoryEventStore()
    lives = [list(life) for _, _, life in orders]
    while any(lives):
        for (order_id, customer, _), life in zip(orders, lives):
            if life:
                store.append(f"order-{order_id}", _event(life.pop(0), order_id, customer))
                if not interleave:
                    while life:
                        store.append(f"order-{order_id}", _event(life.pop(0), order_id, customer))
    return store


def _describe_orders(orders):
    return "orders [" + "; ".join(f"{o} ({c}): {', '.join(life)}" for o, c, life in orders) + "]"


# ======================================================================================
# 1. add a read model: open orders per customer


def add_open_orders(projection):
    @projection.on("OrderPlaced")
    def placed(view, event):
        customer = event.data["customer"]
        view[customer] = view.get(customer, 0) + 1

    @projection.on("OrderCancelled")
    def cancelled(view, event):
        customer = event.data["customer"]
        view[customer] = view[customer] - 1


def _forgets_cancellations(projection):
    @projection.on("OrderPlaced")
    def placed(view, event):
        customer = event.data["customer"]
        view[customer] = view.get(customer, 0) + 1


def _sums_totals(projection):
    @projection.on("OrderPlaced")
    def placed(view, event):
        customer = event.data["customer"]
        view[customer] = view.get(customer, 0) + event.data["total"]

    @projection.on("OrderCancelled")
    def cancelled(view, event):
        view[event.data["customer"]] -= 1


def _overwrites_the_count(projection):
    @projection.on("OrderPlaced")
    def placed(view, event):
        view[event.data["customer"]] = 1

    @projection.on("OrderCancelled")
    def cancelled(view, event):
        view[event.data["customer"]] = 0


def _counts_every_event_with_a_customer(projection):  # dispatches on the data, not the type
    for kind in ("OrderPlaced", "OrderQuoted"):

        @projection.on(kind)
        def placed(view, event):
            view[event.data["customer"]] = view.get(event.data["customer"], 0) + 1

    @projection.on("OrderCancelled")
    def cancelled(view, event):
        view[event.data["customer"]] -= 1


def _closes_when_shipped(projection):  # shipped is not cancelled: the order stays open
    @projection.on("OrderPlaced")
    def placed(view, event):
        view[event.data["customer"]] = view.get(event.data["customer"], 0) + 1

    for kind in ("OrderCancelled", "OrderShipped"):

        @projection.on(kind)
        def closed(view, event):
            view[event.data["customer"]] -= 1


def _keeps_sets_of_orders(projection):  # right: the open orders themselves, counted on read
    @projection.on("OrderPlaced")
    def placed(view, event):
        view.setdefault("_open", {}).setdefault(event.data["customer"], set())
        view["_open"][event.data["customer"]].add(event.data["order_id"])
        view[event.data["customer"]] = len(view["_open"][event.data["customer"]])

    @projection.on("OrderCancelled")
    def cancelled(view, event):
        view["_open"][event.data["customer"]].discard(event.data["order_id"])
        view[event.data["customer"]] = len(view["_open"][event.data["customer"]])


def _one_handler_with_match(projection):  # right: one function, registered for both types
    def open_orders(view, event):
        change = 1 if event.type == "OrderPlaced" else -1
        view[event.data["customer"]] = view.get(event.data["customer"], 0) + change

    projection.on("OrderPlaced", open_orders)
    projection.on("OrderCancelled", open_orders)


def _run_open_orders(add_read_model, orders):
    """Half the orders are in the store before the first catch_up, the rest after it."""
    half = len(orders) // 2
    store = _store_with(orders[:half])
    projection = Projection("open_orders", store)
    add_read_model(projection)
    projection.catch_up()
    for order_id, customer, life in orders[half:]:
        for kind in life:
            store.append(f"order-{order_id}", _event(kind, order_id, customer))
    projection.catch_up()
    model = projection.read_model
    # A customer with no open order may be 0 or absent: both answer "how many?" right.
    return {key: count for key, count in model.items() if not str(key).startswith("_") and count}


open_orders_read_model = Exercise(
    "Add a read model: open orders per customer",
    reference=add_open_orders,
    run=_run_open_orders,
    describe=_describe_orders,
    probes=[
        Probe("no events", []),
        Probe("asha places one order of total 30", [("A1", "asha", ["OrderPlaced"])]),
        Probe(
            "asha places two orders, ben one",
            [("A1", "asha", ["OrderPlaced"]), ("A2", "asha", ["OrderPlaced"])]
            + [("B1", "ben", ["OrderPlaced"])],
        ),
        Probe(
            "asha places two orders and cancels one",
            [("A1", "asha", ["OrderPlaced"]), ("A2", "asha", ["OrderPlaced", "OrderCancelled"])],
        ),
        Probe(
            "asha cancels both her orders",
            [
                ("A1", "asha", ["OrderPlaced", "OrderCancelled"]),
                ("A2", "asha", ["OrderPlaced", "OrderCancelled"]),
            ],
        ),
        Probe(
            "an OrderShipped and an OrderPaid event (they change no count)",
            [("A1", "asha", ["OrderPlaced", "OrderPaid", "OrderShipped"])],
        ),
        Probe(
            "an OrderQuoted event carrying a customer (a price offered, not an order)",
            [("Q1", "ben", ["OrderQuoted"]), ("A1", "asha", ["OrderPlaced"])],
        ),
    ],
    generate=_generate_orders,
    hints=[
        "Register one handler per event type with @projection.on(...); each handler gets "
        "(view, event). Which event types open an order, and which close one?",
        "The view is a dict customer -> number of open orders. view.get(customer, 0) handles a "
        "customer you have not seen yet. Decide by event.type, never by which keys the data has.",
        "OrderPlaced: view[customer] = view.get(customer, 0) + 1. OrderCancelled: "
        "view[customer] -= 1. Every other event (paid, shipped, quoted) changes no count.",
    ],
    common_mistakes=[
        _forgets_cancellations,
        _sums_totals,
        _overwrites_the_count,
        _counts_every_event_with_a_customer,
        _closes_when_shipped,
    ],
    also_correct=[_keeps_sets_of_orders, _one_handler_with_match],
    explanation=(
        'A read model is shaped for one question; here "how many open orders does this '
        'customer have?" becomes a dictionary lookup. It is a fold of the events: each '
        "handler changes the view a little, and every event type that affects the answer "
        "needs a handler, while the others (paid, shipped, quoted) must be left alone even "
        "though they carry a customer. Forget OrderCancelled and the count looks right until "
        "the first cancellation, then stays wrong forever (rebuild() fixes it once you add "
        "the handler)."
    ),
)


# ======================================================================================
# 2. a command handler that decides from the stream and writes only if nothing changed


def cancel_order(store, order_id):
    stream = f"order-{order_id}"
    history = store.read_stream(stream)  # what we decide on
    status, customer = None, None
    for event in history:
        if event.type == "OrderPlaced":
            status, customer = "placed", event.data["customer"]
        elif event.type == "OrderPaid":
            status = "paid"
        elif event.type == "OrderCancelled":
            status = "cancelled"
    if status != "placed":
        raise ValueError(f"order {order_id} is {status or 'unknown'}: it can't be cancelled")
    cancelled = Event("OrderCancelled", {"order_id": order_id, "customer": customer})
    # Write only if the stream is still as we read it: otherwise WrongExpectedVersion.
    return store.append(stream, cancelled, expected_version=len(history))


def _no_expected_version(store, order_id):  # decides on one state, writes onto another
    history = store.read_stream(f"order-{order_id}")
    types = [e.type for e in history]
    if "OrderPlaced" not in types or "OrderPaid" in types or "OrderCancelled" in types:
        raise ValueError("can't cancel")
    event = Event("OrderCancelled", {"order_id": order_id, "customer": history[0].data["customer"]})
    return store.append(f"order-{order_id}", event)


def _checks_after_writing(store, order_id):
    history = store.read_stream(f"order-{order_id}")
    customer = history[0].data["customer"] if history else None
    event = Event("OrderCancelled", {"order_id": order_id, "customer": customer})
    version = store.append(f"order-{order_id}", event, expected_version=len(history))
    if [e.type for e in history] != ["OrderPlaced"]:
        raise ValueError("can't cancel")
    return version


def _forgets_paid_orders(store, order_id):
    history = store.read_stream(f"order-{order_id}")
    types = [e.type for e in history]
    if "OrderPlaced" not in types or "OrderCancelled" in types:
        raise ValueError("can't cancel")
    event = Event("OrderCancelled", {"order_id": order_id, "customer": history[0].data["customer"]})
    return store.append(f"order-{order_id}", event, expected_version=len(history))


def _returns_the_global_position(store, order_id):
    history = store.read_stream(f"order-{order_id}")
    if [e.type for e in history] != ["OrderPlaced"]:
        raise ValueError("can't cancel")
    event = Event("OrderCancelled", {"order_id": order_id, "customer": history[0].data["customer"]})
    store.append(f"order-{order_id}", event, expected_version=len(history))
    return store.last_position()


def _cancel_with_match(store, order_id):  # right: match, and the version of the last event
    history = store.read_stream(f"order-{order_id}")
    status, customer = "unknown", None
    for event in history:
        match event.type:
            case "OrderPlaced":
                status, customer = "placed", event.data["customer"]
            case "OrderPaid" | "OrderCancelled":
                status = event.type
    if status != "placed":
        raise ValueError(f"order {order_id}: {status}")
    last = history[-1].version
    event = Event("OrderCancelled", {"order_id": order_id, "customer": customer})
    return store.append(f"order-{order_id}", event, expected_version=last)


def _cancel_reading_the_version_first(store, order_id):  # right: the version, then the events
    stream = f"order-{order_id}"
    version = store.stream_version(stream)
    types = [e.type for e in store.read_stream(stream)]
    placed = [e for e in store.read_stream(stream) if e.type == "OrderPlaced"]
    if not placed or "OrderPaid" in types or "OrderCancelled" in types:
        raise ValueError(f"order {order_id} can't be cancelled")
    data = {"order_id": order_id, "customer": placed[0].data["customer"]}
    return store.append(stream, Event("OrderCancelled", data), expected_version=version)


class _RivalStore(InMemoryEventStore):
    """A store where another writer appends to ``target`` right after you first touch it."""

    def __init__(self, target, rival_event):
        super().__init__()
        self.target, self.rival_event, self.armed = target, rival_event, False

    def _strike(self, stream_id):
        if self.armed and stream_id == self.target:
            self.armed = False
            InMemoryEventStore.append(self, self.target, self.rival_event, ANY)

    def stream_version(self, stream_id):
        version = super().stream_version(stream_id)
        self._strike(stream_id)
        return version

    def read_stream(self, stream_id, from_version=1, to_version=None):
        events = super().read_stream(stream_id, from_version, to_version)
        self._strike(stream_id)
        return events

    def append(self, stream_id, events, expected_version=ANY):
        self._strike(stream_id)
        return super().append(stream_id, events, expected_version)


_REFUSALS = ("ValueError", "WrongExpectedVersion")


def _run_cancel(cancel, case):
    """``case``: the orders in the store, the order to cancel, and an optional rival who pays
    (or cancels) that order right after the answer first reads it."""
    target = case["cancel"]
    rival_event = None
    customer = next((c for o, c, _ in case["orders"] if o == target), "asha")
    if case.get("rival"):
        rival_event = _event(case["rival"], target, customer)
    store = _RivalStore(f"order-{target}", rival_event)
    for order_id, who, life in case["orders"]:
        for kind in life:
            store.append(f"order-{order_id}", _event(kind, order_id, who))
    store.armed = rival_event is not None
    result = outcome(cancel, store, target, exact=True)
    if isinstance(result, Raised) and result.error in _REFUSALS:
        result = "refused"  # ValueError, or the store's WrongExpectedVersion: both say no
    stored = [(e.stream_id, e.version, e.type, dict(e.data)) for e in store.read_all()]
    return {"result": result, "stored": stored}


def _describe_cancel(case):
    rival = (
        f", and a rival writes {case['rival']} right after you read" if case.get("rival") else ""
    )
    return f"cancel {case['cancel']} with {_describe_orders(case['orders'])}{rival}"


def _generate_cancel(rng, size):
    orders = [
        (order_id, customer, [kind for kind in life if kind != "OrderQuoted"] or ["OrderPlaced"])
        for order_id, customer, life in _generate_orders(rng, size)
    ]
    orders = [o for o in orders if o[2][0] == "OrderPlaced"] or [("A0", "asha", ["OrderPlaced"])]
    known = [order_id for order_id, _, _ in orders]
    case = {"orders": orders, "cancel": rng.choice([*known, *known, "Z9"])}
    if rng.random() < 0.3:
        case["rival"] = rng.choice(["OrderPaid", "OrderCancelled"])
    return case


def _placed(order_id, customer, *more):
    return (order_id, customer, ["OrderPlaced", *more])


command_handler = Exercise(
    "A command handler: cancel an order, only if nothing changed since you looked",
    reference=cancel_order,
    run=_run_cancel,
    describe=_describe_cancel,
    probes=[
        Probe("cancel A1, placed by asha", {"orders": [_placed("A1", "asha")], "cancel": "A1"}),
        Probe(
            "cancel B1 in a store that holds other orders (version != position)",
            {
                "orders": [_placed("A1", "asha", "OrderPaid"), _placed("B1", "ben")],
                "cancel": "B1",
            },
        ),
        Probe(
            "cancel A1, which is already paid",
            {"orders": [_placed("A1", "asha", "OrderPaid")], "cancel": "A1"},
        ),
        Probe(
            "cancel A1 a second time",
            {"orders": [_placed("A1", "asha", "OrderCancelled")], "cancel": "A1"},
        ),
        Probe(
            "cancel Z9, which was never placed", {"orders": [_placed("A1", "asha")], "cancel": "Z9"}
        ),
        Probe(
            "a rival pays A1 between your read and your append",
            {"orders": [_placed("A1", "asha")], "cancel": "A1", "rival": "OrderPaid"},
        ),
        Probe(
            "a rival cancels A1 between your read and your append",
            {"orders": [_placed("A1", "asha")], "cancel": "A1", "rival": "OrderCancelled"},
        ),
    ],
    generate=_generate_cancel,
    hints=[
        "Load, decide, record. Read the order's stream, fold it into a status (placed, paid, "
        "cancelled), and raise ValueError unless the status is 'placed', before writing anything.",
        "Between your read and your append another request may pay the order. Make the append "
        "conditional: expected_version = the version you read (the number of events in the "
        "stream), so the store refuses with WrongExpectedVersion if anything was added since.",
        "history = store.read_stream(stream); fold it; if status != 'placed': raise "
        "ValueError(...); then return store.append(stream, Event('OrderCancelled', "
        "{'order_id': order_id, 'customer': customer}), expected_version=len(history)).",
    ],
    common_mistakes=[
        _no_expected_version,
        _checks_after_writing,
        _forgets_paid_orders,
        _returns_the_global_position,
    ],
    also_correct=[_cancel_with_match, _cancel_reading_the_version_first],
    explanation=(
        "The write side is where the rules live. A command may be refused; an event may not "
        "(it already happened). So the handler reads the current state, checks everything, "
        "then records the fact, and it records it only if the state is still the one it "
        "checked: the expected version turns 'nobody changed this order since I looked' into a "
        "check the store makes atomically. Without it, a cancellation can land on an order "
        "that was paid a millisecond earlier."
    ),
)


# ======================================================================================
# 3. explain a stale read: which events are in the lag?


def unseen_events(store, projection):
    return [(e.position, e.type) for e in store.read_all(from_position=projection.position + 1)]


def _off_by_one(store, projection):
    return [(e.position, e.type) for e in store.read_all(from_position=projection.position)]


def _everything(store, projection):
    return [(e.position, e.type) for e in store.read_all()]


def _first_lag_events(store, projection):
    return [(e.position, e.type) for e in store.read_all()[: projection.lag]]


def _last_lag_events(store, projection):  # right, except when the lag is 0: [-0:] is everything
    return [(e.position, e.type) for e in store.read_all()[-projection.lag :]]


def _unseen_as_a_generator(store, projection):  # right: a generator, filtered by position
    return list(
        (event.position, event.type)
        for event in store.read_all()
        if event.position > projection.position
    )


def _unseen_by_counting(store, projection):  # right: the lag says how many; take the last ones
    events = store.read_all()
    return [(e.position, e.type) for e in events[len(events) - projection.lag :]]


def _run_unseen(unseen, script):
    """``script``: a list of steps, each "catch_up" or an event (stream, type) to append. The
    answer is asked after every step."""
    store = InMemoryEventStore()
    projection = Projection("order_details", store)
    projection.on("OrderPlaced", lambda view, e: view.__setitem__(e.stream_id, "placed"))
    projection.on("OrderPaid", lambda view, e: view.__setitem__(e.stream_id, "paid"))
    answers = [list(unseen(store, projection))]
    for step in script:
        if step == "catch_up":
            projection.catch_up()
        else:
            store.append(step[0], Event(step[1], {"order_id": step[0]}))
        answers.append([tuple(pair) for pair in unseen(store, projection)])
    return answers


def _describe_unseen(script):
    return "steps [" + ", ".join(s if s == "catch_up" else f"{s[1]} {s[0]}" for s in script) + "]"


def _generate_unseen(rng, size):
    script = []
    for _ in range(rng.randint(1, size + 3)):
        if rng.random() < 0.3:
            script.append("catch_up")
        else:
            order = rng.choice(["A1", "B1", "C1"])
            script.append((order, rng.choice(["OrderPlaced", "OrderPaid", "OrderShipped"])))
    return script


stale_read = Exercise(
    "Explain a stale read: the events in the lag",
    reference=unseen_events,
    run=_run_unseen,
    describe=_describe_unseen,
    probes=[
        Probe("an empty store", []),
        Probe("one event, not caught up yet", [("A1", "OrderPlaced")]),
        Probe("caught up (lag 0)", [("A1", "OrderPlaced"), "catch_up"]),
        Probe(
            "caught up to position 1, then two more events (lag 2)",
            [("A1", "OrderPlaced"), "catch_up", ("A1", "OrderPaid"), ("B1", "OrderPlaced")],
        ),
        Probe(
            "caught up twice, with events in between",
            [("A1", "OrderPlaced"), "catch_up", ("B1", "OrderPlaced"), "catch_up"]
            + [("A1", "OrderPaid")],
        ),
    ],
    generate=_generate_unseen,
    hints=[
        "projection.position is the position of the last event the projection applied; "
        "projection.lag is how many events come after it.",
        "The events it has not seen start right after its position, and go to the end of "
        "the log. Careful with 'the last lag events' when the lag is 0.",
        "return [(e.position, e.type) for e in "
        "store.read_all(from_position=projection.position + 1)]",
    ],
    common_mistakes=[_off_by_one, _everything, _first_lag_events, _last_lag_events],
    also_correct=[_unseen_as_a_generator, _unseen_by_counting],
    explanation=(
        "A stale read is never a mystery: the read model reflects exactly the events up to "
        "its position, and the lag is the list of events after it. If GetOrder says "
        '"placed" while the order was paid, the OrderPaid event is in that list. That is '
        "also the answer to read-your-own-writes: a command returns the position it wrote, "
        "and a query can wait (or catch up) until the projection has reached it."
    ),
)
