"""Exercises for notebook 03, CQRS: a read model, a command handler that decides, a stale read.

Every checker builds a store with several orders (so a stream's version and the store's global
position are different numbers), runs the answer and the reference on it, and compares what a
user could see: the read model, what the command returned or raised, what the store holds.
"""

from __future__ import annotations

from ..cqrs import Projection
from ..events import Event
from ..store import ANY, InMemoryEventStore, WrongExpectedVersion
from .framework import Exercise, Probe, Raised, Returned

__all__ = [
    "open_orders_read_model",
    "command_handler",
    "stale_read",
    "add_open_orders",
    "add_item",
    "ORDER_LIMIT",
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


def _counts(model):
    # A customer with no open order may be 0 or absent: both answer "how many?" right.
    return {key: count for key, count in model.items() if not str(key).startswith("_") and count}


def _run_open_orders(add_read_model, orders):
    """Half the orders are in the store before the first catch_up, the rest after it. Then the
    read model is rebuilt from the events, and a second projection is built over the same store
    (another process starting): a read model is a fold of the events alone, so all three agree.
    Counts kept anywhere but in the read model (a dict the handlers close over) are counted
    again by the rebuild."""
    half = len(orders) // 2
    store = _store_with(orders[:half])
    projection = Projection("open_orders", store)
    add_read_model(projection)
    projection.catch_up()
    for order_id, customer, life in orders[half:]:
        for kind in life:
            store.append(f"order-{order_id}", _event(kind, order_id, customer))
    projection.catch_up()
    seen = {"caught up": _counts(projection.read_model)}
    projection.rebuild()
    seen["after rebuild()"] = _counts(projection.read_model)
    fresh = Projection("open_orders", store)
    add_read_model(fresh)
    fresh.catch_up()
    seen["a fresh projection over the same store"] = _counts(fresh.read_model)
    return seen


open_orders_read_model = Exercise(
    "Add a read model: open orders per customer",
    reference=add_open_orders,
    run=_run_open_orders,
    describe=_describe_orders,
    probes=[
        Probe("no events", []),
        Probe("asha places one order", [("A1", "asha", ["OrderPlaced"])]),
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
# 2. a command handler: a rule over several events, kept even with a rival writer

#: The most one order may come to (the kitchen's rule for a single table).
ORDER_LIMIT = 200


def add_item(store, order_id, item, price):
    stream = f"order-{order_id}"
    history = store.read_stream(stream)  # load
    status, total = None, 0
    for event in history:
        if event.type == "OrderPlaced":
            status, total = "placed", event.data["total"]
        elif event.type == "ItemAdded":
            total += event.data["price"]
        elif event.type in ("OrderPaid", "OrderCancelled"):
            status = "closed"
    if status != "placed":  # decide
        raise ValueError(f"order {order_id} is not open: items can't be added")
    if price <= 0:
        raise ValueError(f"an item's price must be positive, not {price}")
    if total + price > ORDER_LIMIT:
        raise ValueError(f"order {order_id} would come to {total + price}, over {ORDER_LIMIT}")
    added = Event("ItemAdded", {"order_id": order_id, "item": item, "price": price})
    # record, only if the stream is still as we read it (else: WrongExpectedVersion)
    return store.append(stream, added, expected_version=len(history))


def _no_expected_version(store, order_id, item, price):  # decides on one state, writes onto another
    history = store.read_stream(f"order-{order_id}")
    types = [e.type for e in history]
    total = sum(e.data.get("total", 0) + e.data.get("price", 0) for e in history)
    if "OrderPlaced" not in types or "OrderPaid" in types or "OrderCancelled" in types:
        raise ValueError("not open")
    if price <= 0 or total + price > ORDER_LIMIT:
        raise ValueError("refused")
    event = Event("ItemAdded", {"order_id": order_id, "item": item, "price": price})
    return store.append(f"order-{order_id}", event)


def _checks_after_writing(store, order_id, item, price):
    history = store.read_stream(f"order-{order_id}")
    event = Event("ItemAdded", {"order_id": order_id, "item": item, "price": price})
    version = store.append(f"order-{order_id}", event, expected_version=len(history))
    total = sum(e.data.get("total", 0) + e.data.get("price", 0) for e in history)
    if not history or price <= 0 or total + price > ORDER_LIMIT:
        raise ValueError("refused")
    return version


def _forgets_the_items(store, order_id, item, price):  # the limit checked on the first total only
    history = store.read_stream(f"order-{order_id}")
    types = [e.type for e in history]
    if "OrderPlaced" not in types or "OrderPaid" in types or "OrderCancelled" in types:
        raise ValueError("not open")
    if price <= 0 or history[0].data["total"] + price > ORDER_LIMIT:
        raise ValueError("refused")
    event = Event("ItemAdded", {"order_id": order_id, "item": item, "price": price})
    return store.append(f"order-{order_id}", event, expected_version=len(history))


def _returns_the_global_position(store, order_id, item, price):
    history = store.read_stream(f"order-{order_id}")
    types = [e.type for e in history]
    total = sum(e.data.get("total", 0) + e.data.get("price", 0) for e in history)
    if "OrderPlaced" not in types or "OrderPaid" in types or "OrderCancelled" in types:
        raise ValueError("not open")
    if price <= 0 or total + price > ORDER_LIMIT:
        raise ValueError("refused")
    event = Event("ItemAdded", {"order_id": order_id, "item": item, "price": price})
    store.append(f"order-{order_id}", event, expected_version=len(history))
    return store.last_position()


def _add_with_match(store, order_id, item, price):  # right: match, and the last event's version
    history = store.read_stream(f"order-{order_id}")
    state, total = "unknown", 0
    for event in history:
        match event.type:
            case "OrderPlaced":
                state, total = "open", event.data["total"]
            case "ItemAdded":
                total += event.data["price"]
            case "OrderPaid" | "OrderCancelled":
                state = "closed"
    if state != "open" or not 0 < price <= ORDER_LIMIT - total:
        raise ValueError(f"can't add {item} ({price}) to order {order_id}")
    event = Event("ItemAdded", {"order_id": order_id, "item": item, "price": price})
    return store.append(f"order-{order_id}", event, expected_version=history[-1].version)


def _add_reading_the_version_first(store, order_id, item, price):  # right: version, then events
    stream = f"order-{order_id}"
    version = store.stream_version(stream)
    events = store.read_stream(stream)
    kinds = {e.type for e in events}
    total = sum(
        e.data["total"] if e.type == "OrderPlaced" else e.data.get("price", 0) for e in events
    )
    if "OrderPlaced" not in kinds or kinds & {"OrderPaid", "OrderCancelled"}:
        raise ValueError(f"order {order_id} is not open")
    if price <= 0 or total + price > ORDER_LIMIT:
        raise ValueError(f"{item} at {price} is refused")
    data = {"order_id": order_id, "item": item, "price": price}
    return store.append(stream, Event("ItemAdded", data), expected_version=version)


class _RivalStore(InMemoryEventStore):
    """A store where another writer appends to ``target`` right after you first read its
    events (or, if you append without reading, just before your append). Reading only the
    stream's version does not set the rival off: a handler decides on the events it read."""

    def __init__(self, target, rival_event):
        super().__init__()
        self.target, self.rival_event, self.armed = target, rival_event, False

    def _strike(self, stream_id):
        if self.armed and stream_id == self.target:
            self.armed = False
            InMemoryEventStore.append(self, self.target, self.rival_event, ANY)

    def read_stream(self, stream_id, from_version=1, to_version=None):
        events = super().read_stream(stream_id, from_version, to_version)
        self._strike(stream_id)
        return events

    def append(self, stream_id, events, expected_version=ANY):
        self._strike(stream_id)
        return super().append(stream_id, events, expected_version)


def _item_event(order_id, step):
    """An order's event from a short description: "placed 30", "item 25", "paid", "cancelled"."""
    kind, _, amount = step.partition(" ")
    if kind == "placed":
        return Event(
            "OrderPlaced", {"order_id": order_id, "customer": "asha", "total": int(amount)}
        )
    if kind == "item":
        return Event("ItemAdded", {"order_id": order_id, "item": "extra", "price": int(amount)})
    return Event({"paid": "OrderPaid", "cancelled": "OrderCancelled"}[kind], {"order_id": order_id})


def _is_open(life):
    return bool(life) and life[-1] not in ("paid", "cancelled")


def _check_history(case):
    """Refuse a history no order could have (an item before the order was placed, or after it
    was paid): a shrunk input must still be a story that can happen."""
    for order_id, life in case["orders"]:
        for index, step in enumerate(life):
            kind = step.partition(" ")[0]
            if (kind == "placed") != (index == 0) or (index and not _is_open(life[:index])):
                raise ValueError(f"order {order_id} can't have {life}")
    if case.get("rival"):
        lives = dict(case["orders"])
        if not _is_open(lives.get(case["order"], [])):
            raise ValueError(f"a rival can only write to an open order, not {case['order']}")


def _run_add_item(add, case):
    """``case``: each order's life so far, the item to add, and an optional rival who writes
    to that order right after the answer reads it."""
    _check_history(case)
    target = case["order"]
    rival = _item_event(target, case["rival"]) if case.get("rival") else None
    store = _RivalStore(f"order-{target}", rival)
    for order_id, life in case["orders"]:
        for step in life:
            store.append(f"order-{order_id}", _item_event(order_id, step))
    store.armed = rival is not None
    try:
        result = Returned(add(store, target, case["item"], case["price"]))
    except WrongExpectedVersion:
        result = "refused by the store: WrongExpectedVersion"
    except ValueError:
        result = "refused by a rule: ValueError"
    except Exception as error:
        result = Raised(type(error).__name__, str(error), exact=True)
    stored = [(e.stream_id, e.version, e.type, dict(e.data)) for e in store.read_all()]
    return {"result": result, "stored": stored}


def _describe_add_item(case):
    orders = "; ".join(f"{o}: {', '.join(life)}" for o, life in case["orders"])
    rival = (
        f", and a rival writes '{case['rival']}' right after you read" if case.get("rival") else ""
    )
    return f"add {case['item']} at {case['price']} to {case['order']} (orders {orders}){rival}"


def _generate_add_item(rng, size):
    orders = []
    for number in range(rng.randint(1, 2 + size // 3)):
        life = [f"placed {rng.randint(1, 150)}"]
        life += [f"item {rng.randint(1, 60)}" for _ in range(rng.randint(0, 1 + size // 2))]
        if rng.random() < 0.3:
            life.append(rng.choice(["paid", "cancelled"]))  # closed: nothing comes after
        orders.append((f"A{number}", life))
    known = [order_id for order_id, _ in orders]
    case = {
        "orders": orders,
        "order": rng.choice([*known, *known, "Z9"]),
        "item": rng.choice(["chai", "dosa"]),
        "price": rng.choice([0, 1, rng.randint(1, 120), rng.randint(1, 120)]),
    }
    if rng.random() < 0.3 and _is_open(dict(orders).get(case["order"], [])):
        case["rival"] = rng.choice(["paid", f"item {rng.randint(1, 60)}"])
    return case


command_handler = Exercise(
    "A command handler: a rule over several events, kept even with a rival writer",
    reference=add_item,
    run=_run_add_item,
    describe=_describe_add_item,
    probes=[
        Probe(
            "add chai at 20 to A1, placed at 30",
            {"orders": [("A1", ["placed 30"])], "order": "A1", "item": "chai", "price": 20},
        ),
        Probe(
            "add to B1 in a store that holds other orders (version != position)",
            {
                "orders": [("A1", ["placed 30", "item 5"]), ("B1", ["placed 12"])],
                "order": "B1",
                "item": "chai",
                "price": 20,
            },
        ),
        Probe(
            "A1 is at 190 after two items: one more at 15 would make 205",
            {
                "orders": [("A1", ["placed 100", "item 50", "item 40"])],
                "order": "A1",
                "item": "dosa",
                "price": 15,
            },
        ),
        Probe(
            "A1 is at 190: an item at exactly 10 brings it to the limit, 200",
            {
                "orders": [("A1", ["placed 100", "item 50", "item 40"])],
                "order": "A1",
                "item": "dosa",
                "price": 10,
            },
        ),
        Probe(
            "A1 is already paid",
            {"orders": [("A1", ["placed 30", "paid"])], "order": "A1", "item": "chai", "price": 5},
        ),
        Probe(
            "an item with price 0",
            {"orders": [("A1", ["placed 30"])], "order": "A1", "item": "chai", "price": 0},
        ),
        Probe(
            "Z9 was never placed",
            {"orders": [("A1", ["placed 30"])], "order": "Z9", "item": "chai", "price": 5},
        ),
        Probe(
            "a rival adds an item at 60 between your read and your append (A1 at 100, yours 60)",
            {
                "orders": [("A1", ["placed 100"])],
                "order": "A1",
                "item": "dosa",
                "price": 60,
                "rival": "item 60",
            },
        ),
        Probe(
            "a rival adds an item at 5 between your read and your append (A1 at 100, yours "
            "20: both fit, but you decided on a stale order: WrongExpectedVersion, let out)",
            {
                "orders": [("A1", ["placed 100"])],
                "order": "A1",
                "item": "chai",
                "price": 20,
                "rival": "item 5",
            },
        ),
        Probe(
            "a rival pays A1 between your read and your append",
            {
                "orders": [("A1", ["placed 30"])],
                "order": "A1",
                "item": "chai",
                "price": 5,
                "rival": "paid",
            },
        ),
    ],
    generate=_generate_add_item,
    hints=[
        "Load, decide, record. Read the order's stream and fold it: is the order still open "
        "(placed, not paid, not cancelled), and what does it come to so far (the OrderPlaced "
        "total plus every ItemAdded price)?",
        "Refuse (ValueError, before writing) a closed or unknown order, a price of 0 or less, "
        "and an item that takes the order over ORDER_LIMIT. Then make the append conditional: "
        "expected_version = the version you read (the number of events in the stream), so a "
        "rival's write in between makes the store refuse with WrongExpectedVersion.",
        "history = store.read_stream(stream); fold it; raise ValueError for the three refusals; "
        "then return store.append(stream, Event('ItemAdded', {'order_id': order_id, 'item': "
        "item, 'price': price}), expected_version=len(history)).",
    ],
    common_mistakes=[
        _no_expected_version,
        _checks_after_writing,
        _forgets_the_items,
        _returns_the_global_position,
    ],
    also_correct=[_add_with_match, _add_reading_the_version_first],
    explanation=(
        "The write side is where the rules live, and this rule (an order comes to at most "
        "200) depends on every event of the order, not just the last. A command may be "
        "refused; an event may not (it already happened). So the handler folds the stream, "
        "checks everything, then records the fact, and only if the stream is still the one it "
        "checked: two waiters adding 60 each to an order at 100 would both pass the check, and "
        "only the expected version stops the second one from taking the order to 220."
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
