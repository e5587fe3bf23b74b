"""Exercises for notebook 03, CQRS: a read model, a command handler, a stale read explained."""

from __future__ import annotations

from ..cqrs import Projection
from ..events import Event
from ..store import NO_STREAM, InMemoryEventStore
from .framework import Checker, Exercise

__all__ = ["open_orders_read_model", "command_handler", "stale_read"]


def _placed(order_id: str, customer: str, total: int = 10) -> Event:
    return Event("OrderPlaced", {"order_id": order_id, "customer": customer, "total": total})


def _cancelled(order_id: str, customer: str) -> Event:
    return Event("OrderCancelled", {"order_id": order_id, "customer": customer})


# --- 1. add a read model: open orders per customer --------------------------------------------


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


def _test_open_orders(add_read_model, check: Checker) -> None:
    def run(histories):
        store = InMemoryEventStore()
        for stream, events in histories:
            store.append(stream, events)
        projection = Projection("open_orders", store)
        add_read_model(projection)
        projection.catch_up()
        return projection.read_model

    with check.case("no events"):
        check.expect(run([]), {})
    with check.case("asha places one order of total 30"):
        check.expect(run([("order-A1", [_placed("A1", "asha", 30)])]), {"asha": 1})
    with check.case("asha places two orders, ben one"):
        check.expect(
            run(
                [
                    ("order-A1", [_placed("A1", "asha")]),
                    ("order-A2", [_placed("A2", "asha")]),
                    ("order-B1", [_placed("B1", "ben")]),
                ]
            ),
            {"asha": 2, "ben": 1},
        )
    with check.case("asha places two orders and cancels one"):
        check.expect(
            run(
                [
                    ("order-A1", [_placed("A1", "asha")]),
                    ("order-A2", [_placed("A2", "asha"), _cancelled("A2", "asha")]),
                ]
            ),
            {"asha": 1},
        )
    with check.case("an OrderShipped event (it changes no count)"):
        shipped = Event("OrderShipped", {"order_id": "A1", "customer": "asha"})
        check.expect(run([("order-A1", [_placed("A1", "asha"), shipped])]), {"asha": 1})


open_orders_read_model = Exercise(
    "Add a read model: open orders per customer",
    test=_test_open_orders,
    reference=add_open_orders,
    hints=[
        'Register one handler per event type with @projection.on("OrderPlaced") and '
        '@projection.on("OrderCancelled"); each handler gets (view, event).',
        "The view is a dict customer -> number of open orders. view.get(customer, 0) + 1 "
        "handles a customer you have not seen yet.",
        "A cancelled order is no longer open: OrderCancelled takes one off that customer's count.",
    ],
    common_mistakes=[_forgets_cancellations, _sums_totals, _overwrites_the_count],
    explanation=(
        'A read model is shaped for one question; here "how many open orders does this '
        'customer have?" becomes a dictionary lookup. It is a fold of the events: each '
        "handler changes the view a little, and every event type that affects the answer "
        "needs a handler. Forget OrderCancelled and the count looks right until the first "
        "cancellation, then stays wrong forever (rebuild() would fix it once you add the "
        "handler)."
    ),
)


# --- 2. a command handler that rejects an invalid order ---------------------------------------


def place_order(store, order_id, customer, total):
    if not customer:
        raise ValueError("an order needs a customer")
    if total <= 0:
        raise ValueError(f"order total must be positive, not {total}")
    event = Event("OrderPlaced", {"order_id": order_id, "customer": customer, "total": total})
    return store.append(f"order-{order_id}", event, expected_version=NO_STREAM)


def _no_checks(store, order_id, customer, total):
    event = Event("OrderPlaced", {"order_id": order_id, "customer": customer, "total": total})
    return store.append(f"order-{order_id}", event, expected_version=NO_STREAM)


def _checks_after_writing(store, order_id, customer, total):
    event = Event("OrderPlaced", {"order_id": order_id, "customer": customer, "total": total})
    version = store.append(f"order-{order_id}", event, expected_version=NO_STREAM)
    if not customer or total <= 0:
        raise ValueError("invalid order")
    return version


def _allows_duplicates(store, order_id, customer, total):
    if not customer or total <= 0:
        raise ValueError("invalid order")
    event = Event("OrderPlaced", {"order_id": order_id, "customer": customer, "total": total})
    return store.append(f"order-{order_id}", event)


def _allows_zero(store, order_id, customer, total):
    if not customer or total < 0:
        raise ValueError("invalid order")
    event = Event("OrderPlaced", {"order_id": order_id, "customer": customer, "total": total})
    return store.append(f"order-{order_id}", event, expected_version=NO_STREAM)


def _test_place_order(handler, check: Checker) -> None:
    def rejected(store, what, **order):
        """The order must raise and leave the store as it was."""
        before = store.last_position()
        try:
            handler(store, **order)
        except Exception:
            pass
        else:
            check.fail(f"{what} was accepted; it should raise (e.g. ValueError)")
        check.expect(
            store.last_position(),
            before,
            "events in the store afterwards: a refused command writes nothing",
        )

    store = InMemoryEventStore()
    with check.case("a valid order A1 for asha, total 30"):
        check.expect(handler(store, "A1", "asha", 30), 1, "the return value (new version)")
        written = [(e.stream_id, e.type, dict(e.data)) for e in store.read_all()]
        check.expect(
            written,
            [("order-A1", "OrderPlaced", {"order_id": "A1", "customer": "asha", "total": 30})],
            "what the store holds",
        )
    with check.case("an order with total -5"):
        rejected(store, "an order with total -5", order_id="B1", customer="ben", total=-5)
    with check.case("an order with total 0"):
        rejected(store, "an order with total 0", order_id="B2", customer="ben", total=0)
    with check.case("an order with no customer"):
        rejected(store, "an order with customer ''", order_id="B3", customer="", total=5)
    with check.case("placing order A1 a second time"):
        rejected(store, "a second order A1", order_id="A1", customer="asha", total=30)


command_handler = Exercise(
    "A command handler that rejects an invalid order",
    test=_test_place_order,
    reference=place_order,
    hints=[
        "Check first, write last: raise ValueError for a bad total or a missing customer "
        "before you touch the store.",
        "A total of 0 is not a valid order either: the rule is total > 0.",
        "An order can be placed only once: append with expected_version=NO_STREAM, and the "
        "store refuses a second OrderPlaced for the same order (WrongExpectedVersion).",
    ],
    common_mistakes=[_no_checks, _checks_after_writing, _allows_duplicates, _allows_zero],
    explanation=(
        "The write side is where the rules live. A command may be refused; an event may not "
        "(it already happened). So the handler checks everything, then records the fact. "
        "Raising after the append is too late: the event is in the store and every "
        'projection will see it. NO_STREAM turns "this order must not exist yet" into a '
        "check the store makes atomically, even with two writers racing."
    ),
)


# --- 3. explain a stale read: which events are in the lag? ----------------------------------


def unseen_events(store, projection):
    return [(e.position, e.type) for e in store.read_all(from_position=projection.position + 1)]


def _off_by_one(store, projection):
    return [(e.position, e.type) for e in store.read_all(from_position=projection.position)]


def _everything(store, projection):
    return [(e.position, e.type) for e in store.read_all()]


def _first_lag_events(store, projection):
    return [(e.position, e.type) for e in store.read_all()[: projection.lag]]


def _test_unseen(unseen, check: Checker) -> None:
    store = InMemoryEventStore()
    projection = Projection("order_details", store)
    projection.on("OrderPlaced", lambda view, e: view.__setitem__(e.data["order_id"], "placed"))
    projection.on("OrderPaid", lambda view, e: view.__setitem__(e.data["order_id"], "paid"))

    with check.case("an empty store"):
        check.expect(unseen(store, projection), [])
    store.append("order-A1", _placed("A1", "asha"))
    with check.case("one event, not caught up yet"):
        check.expect(unseen(store, projection), [(1, "OrderPlaced")])
    projection.catch_up()
    with check.case("caught up (lag 0)"):
        check.expect(unseen(store, projection), [])
    store.append("order-A1", Event("OrderPaid", {"order_id": "A1"}))
    store.append("order-B1", _placed("B1", "ben"))
    with check.case("caught up to position 1, then two more events (lag 2)"):
        got = unseen(store, projection)
        check.expect(got, [(2, "OrderPaid"), (3, "OrderPlaced")])
        check.expect(len(got), projection.lag, "how many, compared with projection.lag")


stale_read = Exercise(
    "Explain a stale read: the events in the lag",
    test=_test_unseen,
    reference=unseen_events,
    hints=[
        "projection.position is the position of the last event the projection applied.",
        "The events it has not seen start right after it: "
        "store.read_all(from_position=projection.position + 1).",
        "Return (event.position, event.type) pairs; there should be exactly projection.lag "
        "of them.",
    ],
    common_mistakes=[_off_by_one, _everything, _first_lag_events],
    explanation=(
        "A stale read is never a mystery: the read model reflects exactly the events up to "
        "its position, and the lag is the list of events after it. If GetOrder says "
        '"placed" while the order was paid, the OrderPaid event is in that list. That is '
        "also the answer to read-your-own-writes: a command returns the position it wrote, "
        "and a query can wait (or catch up) until the projection has reached it."
    ),
)
