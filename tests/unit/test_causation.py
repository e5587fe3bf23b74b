"""Correlation, causation and actor: filled in wherever one thing leads to another."""

from __future__ import annotations

import asyncio

import pytest
from accounts import BankAccount

from eda_kit import CommandBus, Event, EventBus, InMemoryEventStore, Repository, reproducible
from eda_kit.causation import (
    Cause,
    causation_trace,
    caused_by,
    chain,
    current_cause,
    follow_up,
)
from eda_kit.errors import InvalidType, InvalidValue
from eda_kit.events import RecordedEvent


def keys(event):
    return {
        k: event.metadata[k]
        for k in ("correlation_id", "causation_id", "actor", "command")
        if k in event.metadata
    }


def test_an_event_created_while_another_is_handled_is_caused_by_it():
    with reproducible():
        placed = Event("OrderPlaced", metadata={"actor": "asha"})
        assert current_cause() is None
        with caused_by(placed, actor="inventory") as cause:
            assert cause == Cause("evt-0001", "evt-0001", "inventory")
            reserved = Event("StockReserved")
            with caused_by(reserved):  # still the inventory service acting
                charged = Event("PaymentCharged", metadata={"actor": "payments"})
        outside = Event("Unrelated")
    assert keys(reserved) == {  # asha's actor is not copied: inventory recorded it
        "correlation_id": "evt-0001",
        "causation_id": "evt-0001",
        "actor": "inventory",
    }
    assert keys(charged) == {
        "correlation_id": "evt-0001",
        "causation_id": "evt-0002",
        "actor": "payments",
    }  # its own actor wins
    assert outside.metadata == {}
    assert [e.type for e in chain([placed, reserved, charged, outside], charged)] == [
        "OrderPlaced",
        "StockReserved",
        "PaymentCharged",
    ]
    assert follow_up(charged) == {"correlation_id": "evt-0001", "causation_id": "evt-0003"}
    assert follow_up(charged, actor="shipping")["actor"] == "shipping"


def test_causation_trace_turns_causation_ids_into_who_sent_what_to_whom():
    """The picture of a conversation, from the events alone (viz.flow_graph reads a Tracer)."""
    with reproducible():
        placed = Event("OrderPlaced", {"order_id": "A1"}, metadata={"actor": "asha"})
        with caused_by(placed, actor="Inventory"):
            reserved = Event("StockReserved", {"order_id": "A1"})
        with caused_by(placed, actor="Payments"):
            paid = Event("PaymentTaken", {"order_id": "A1"})
        with caused_by(paid, actor="Shipping"):
            shipped = Event("OrderShipped", {"order_id": "A1"})
        lonely = Event("Audited")  # no actor, no cause among the events
    steps = causation_trace([placed, reserved, paid, shipped, lonely])
    assert [(r.source, r.event, r.target, r.outcome, r.event_id) for r in steps] == [
        ("asha", "OrderPlaced", None, "sent", placed.id),
        ("asha", "OrderPlaced", "Inventory", "delivered", placed.id),
        ("Inventory", "StockReserved", None, "sent", reserved.id),
        ("asha", "OrderPlaced", "Payments", "delivered", placed.id),
        ("Payments", "PaymentTaken", None, "sent", paid.id),
        ("Payments", "PaymentTaken", "Shipping", "delivered", paid.id),
        ("Shipping", "OrderShipped", None, "sent", shipped.id),
        ("unknown", "Audited", None, "sent", lonely.id),
    ]
    with pytest.raises(InvalidType, match="events with an id and metadata"):
        causation_trace([{"type": "OrderPlaced"}])


def test_a_conversation_started_by_hand():
    with caused_by(correlation_id="req-7", actor="asha"):
        event = Event("Clicked")
        with caused_by(causation_id="cmd-9"):  # nested: joins the conversation
            inner = Event("Inner")
    assert keys(event) == {"correlation_id": "req-7", "causation_id": "req-7", "actor": "asha"}
    assert keys(inner) == {"correlation_id": "req-7", "causation_id": "cmd-9", "actor": "asha"}
    with pytest.raises(InvalidValue, match="needs an event"):
        with caused_by():
            pass
    with pytest.raises(InvalidValue, match="actor"):
        with caused_by(correlation_id="x", actor=""):
            pass
    with pytest.raises(InvalidType):
        with caused_by("not an event"):
            pass


def test_recorded_events_built_by_hand_are_not_stamped():
    with caused_by(correlation_id="req-1"):
        recorded = RecordedEvent("X", stream_id="s", version=1, position=1)
    assert recorded.metadata == {}


def test_the_bus_makes_a_handlers_events_caused_by_the_event_it_handles():
    with reproducible():
        bus = EventBus()
        seen = []

        def reserve(event):
            bus.publish(Event("stock.reserved", {"order_id": event.data["order_id"]}))

        bus.subscribe("order.created", reserve, name="Inventory")
        bus.subscribe("stock.reserved", seen.append, name="Shipping")
        bus.publish(Event("order.created", {"order_id": "A1"}, metadata={"actor": "asha"}))
    assert keys(seen[0]) == {  # recorded by the subscriber that reacted
        "correlation_id": "evt-0001",
        "causation_id": "evt-0001",
        "actor": "Inventory",
    }


def test_async_publish_and_redelivery_set_the_cause_too():
    bus = EventBus()
    made = []

    async def handler(event):
        made.append(Event("followed"))

    bus.subscribe("a", handler)
    first = Event("a")
    asyncio.run(bus.publish_async(first))
    assert made[0].metadata["causation_id"] == first.id

    broken = {"on": True}

    def flaky(event):
        if broken["on"]:
            raise RuntimeError("down")
        made.append(Event("after redelivery"))

    bus.subscribe("b", flaky, name="Flaky")
    second = Event("b")
    bus.publish(second)
    broken["on"] = False
    bus.redeliver()
    assert made[-1].metadata["causation_id"] == second.id


def test_commands_start_conversations_and_join_running_ones():
    with reproducible():
        store = InMemoryEventStore()
        repo = Repository(store, BankAccount)
        commands = CommandBus()

        @commands.handler("OpenAccount")
        def open_account(account_id, owner):
            account = BankAccount(account_id)
            account.open(owner)
            return repo.save(account)

        commands.dispatch("OpenAccount", account_id="acc-1", owner="asha")
        with caused_by(correlation_id="req-7", actor="asha"):
            commands.dispatch("OpenAccount", account_id="acc-2", owner="asha")
        bus = EventBus()
        bus.subscribe(
            "AccountOpened",
            lambda e: commands.dispatch(
                "OpenAccount", account_id=e.stream_id + "-savings", owner="asha"
            ),
            name="Savings",
        )
        first = store.read_stream("acc-1")[0]
        bus.publish(first)
    assert keys(first) == {
        "correlation_id": "cmd-0001",
        "causation_id": "cmd-0001",
        "command": "OpenAccount",
    }
    second = store.read_stream("acc-2")[0]
    assert keys(second) == {
        "correlation_id": "req-7",
        "causation_id": "req-7",
        "actor": "asha",
        "command": "OpenAccount",
    }
    savings = store.read_stream("acc-1-savings")[0]
    assert keys(savings) == {
        "correlation_id": "cmd-0001",
        "causation_id": first.id,
        "actor": "Savings",
        "command": "OpenAccount",
    }  # the chain runs through the command


def test_record_keeps_metadata_apart_from_data():
    account = BankAccount("acc-1")
    account.record("AccountOpened", {"owner": "asha"}, metadata={"actor": "teller-7"})
    event = account.record("Deposited", amount=500, metadata={"actor": "teller-7"})
    assert event.data == {"amount": 500}
    assert event.metadata == {"actor": "teller-7"}
    assert account.balance == 500
    with pytest.raises(InvalidType, match="both a data dict and keyword fields"):
        account.record("Deposited", {"amount": 1}, amount=2)
    with pytest.raises(InvalidType, match="metadata=...\\) must be a dict"):
        account.record("Deposited", amount=1, metadata="asha")
    with pytest.raises(InvalidType, match="data must be a dict"):
        account.record("Deposited", [1])
    assert account.version == 2


def test_a_saga_steps_events_are_caused_by_the_step_even_in_a_worker_thread():
    from eda_kit import Saga, Step

    made = {}

    def remember(name):
        def action(ctx):
            made[name] = Event(f"{name}.done")

        return action

    saga = Saga(
        "place-order",
        [
            Step("reserve", remember("reserve")),
            Step("charge", remember("charge"), timeout=5, service="PaymentService"),
        ],
    )
    saga.run({}, saga_id="order-A1")
    assert keys(made["reserve"]) == {
        "correlation_id": "order-A1",
        "causation_id": "order-A1/reserve",
        "actor": "place-order",  # no service named: the saga did it
    }
    assert keys(made["charge"]) == {
        "correlation_id": "order-A1",  # ran in a worker thread
        "causation_id": "order-A1/charge",
        "actor": "PaymentService",
    }
    with caused_by(correlation_id="req-7", actor="asha"):
        saga.run({}, saga_id="order-A2")
    assert keys(made["charge"]) == {
        "correlation_id": "req-7",  # the saga joined asha's request
        "causation_id": "order-A2/charge",
        "actor": "PaymentService",
    }


def test_a_projection_handlers_events_are_caused_by_the_event_it_applies():
    from eda_kit import Projection

    store = InMemoryEventStore()
    placed = Event("OrderPlaced", {"order_id": "A1"}, metadata={"correlation_id": "req-9"})
    store.append("order-A1", placed)
    made = []
    alerts = Projection("big-orders", store)

    @alerts.on("OrderPlaced")
    def alert(view, event):
        made.append(Event("BigOrderNoticed", {"order_id": event.data["order_id"]}))

    alerts.catch_up()
    assert keys(made[0]) == {
        "correlation_id": "req-9",
        "causation_id": placed.id,
        "actor": "big-orders",
    }
