"""The public API contract (docs/api_contract.md), run as written, in one place.

Each test pastes a snippet of the design document (only setup the document leaves implicit is
added around it), so a rename that breaks the contract fails here first.
"""
# The import lines below are the design's, verbatim (its order, its line lengths).
# ruff: noqa: I001, E501, F401

from __future__ import annotations

import pytest

from eda_kit import Event, EventEmitter, EventBus
from eda_kit import (
    InMemoryEventStore,
    SQLiteEventStore,
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    WrongExpectedVersion,
)
from eda_kit import Aggregate, Repository, CommandBus, QueryBus, Projection, Saga, Step


def test_event():
    event = Event("order.created", {"order_id": "A1"}, metadata={"correlation_id": "c-1"})
    assert event.id and event.time
    with pytest.raises(TypeError, match=r"data\['when'\]"):
        Event("order.created", {"when": object()})


def test_emitter_basics():
    emitter, calls = EventEmitter(), []

    @emitter.on("order.created")
    def log(order):
        calls.append(order)

    assert emitter.emit("order.created", {"order_id": "A1"}) is True
    assert emitter.listeners("order.created") == [log]
    assert emitter.get_max_listeners() == 10
    with pytest.raises(ValueError):
        emitter.emit("error", ValueError("boom"))
    assert calls == [{"order_id": "A1"}]


def test_bus_basics():
    bus, seen = EventBus(), []
    subscription = bus.subscribe("order.*", seen.append, name="inventory")
    bus.subscribe("order.#", lambda event: 1 / 0, name="broken", max_attempts=2)
    bus.publish(Event("order.created", {"order_id": "A1"}))
    assert [e.type for e in seen] == ["order.created"]
    assert [(d.subscriber, d.attempts) for d in bus.dead_letters] == [("broken", 2)]
    subscription.unsubscribe()
    with pytest.raises(ValueError):
        bus.subscribe("order*", seen.append)


def test_store_snippet(tmp_path):
    store = SQLiteEventStore(str(tmp_path / "shop.db"))
    assert (
        store.append(
            "order-A1",
            [Event("OrderPlaced", {"total": 30}), Event("OrderPaid", {"amount": 30})],
            expected_version=NO_STREAM,
        )
        == 2
    )
    with pytest.raises(
        WrongExpectedVersion, match=r"^stream 'order-A1': expected version 1, actual 2$"
    ):
        store.append("order-A1", Event("OrderCancelled"), expected_version=1)
    assert [e.version for e in store.read_stream("order-A1")] == [1, 2]
    store.close()


class BankAccount(Aggregate):
    def __init__(self, id):
        super().__init__(id)
        self.owner = None
        self.balance = 0

    def open(self, owner):
        self.record("AccountOpened", owner=owner)

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.record("Deposited", amount=amount)

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.record("Withdrawn", amount=amount)

    def apply(self, event):
        match event.type:
            case "AccountOpened":
                self.owner = event.data["owner"]
            case "Deposited":
                self.balance += event.data["amount"]
            case "Withdrawn":
                self.balance -= event.data["amount"]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_event_sourcing_snippet(kind, tmp_path):
    store = InMemoryEventStore() if kind == "memory" else SQLiteEventStore(tmp_path / "bank.db")
    repo = Repository(store, BankAccount, snapshot_every=100)
    account = BankAccount("acc-1")
    account.open("asha")
    account.deposit(500)
    account.deposit(500)
    account.withdraw(200)  # noqa: E702
    repo.save(account)
    assert repo.get("acc-1").balance == 800 and repo.get("acc-1").version == 4
    assert repo.get("acc-1", at_version=2).balance == 500
    store.close()


def test_saga_snippet():
    store, done = InMemoryEventStore(), []

    def step(name, fail=False):
        def run(context):
            done.append(name)
            if fail:
                raise RuntimeError(f"{name} failed")

        return run

    create_order, cancel_order = step("create_order"), step("cancel_order")
    reserve, release = step("reserve"), step("release")
    charge, refund = step("charge", fail=True), step("refund")
    confirm = step("confirm")
    saga = Saga(
        "place-order",
        [
            Step("create_order", action=create_order, compensation=cancel_order),
            Step("reserve_inventory", action=reserve, compensation=release, retries=2),
            Step("charge_payment", action=charge, compensation=refund),
            Step("confirm_order", action=confirm),
        ],
        store=store,
    )
    result = saga.run({"order_id": "A1"}, saga_id="order-A1")
    assert result.status == "compensated"
    assert done == ["create_order", "reserve", "charge", "release", "cancel_order"]
    assert [outcome for _, outcome in result.history].count("compensated") == 2
    assert saga.resume("order-A1").status == "compensated"  # finished: nothing runs again
    assert done == ["create_order", "reserve", "charge", "release", "cancel_order"]


def test_cqrs_names():
    store, commands, queries = InMemoryEventStore(), CommandBus(), QueryBus()
    orders = Projection("orders", store)

    @orders.on("OrderPlaced")
    def placed(view, event):
        view[event.stream_id] = event.data["total"]

    @commands.handler("PlaceOrder")
    def place_order(order_id, total):
        return store.append(f"order-{order_id}", Event("OrderPlaced", {"total": total}))

    @queries.handler("GetOrder")
    def get_order(order_id):
        return orders.read_model.get(f"order-{order_id}")

    assert commands.dispatch("PlaceOrder", order_id="A1", total=30) == 1
    assert queries.ask("GetOrder", order_id="A1") is None  # stale until the projection catches up
    assert orders.lag == 1
    orders.catch_up()
    assert queries.ask("GetOrder", order_id="A1") == 30
