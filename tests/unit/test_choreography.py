"""The choreographed order flow: services reacting to each other's events on the bus."""

from __future__ import annotations

import pytest

from eda_kit import EventBus, Tracer
from eda_kit.saga.choreography import (
    InventoryService,
    OrderService,
    PaymentService,
    run_order_choreography,
)


def test_happy_path_confirms_the_order():
    outcome = run_order_choreography("A1", 30)
    assert (outcome.order, outcome.inventory, outcome.payment) == (
        "confirmed",
        "reserved",
        "charged",
    )
    assert outcome.events == [
        "order.created",
        "inventory.reserved",
        "payment.charged",
        "order.confirmed",
    ]


@pytest.mark.parametrize(
    "fail, order, inventory, payment, events",
    [
        (
            "reserve_inventory",
            "cancelled",
            "none",
            "none",
            ["order.created", "inventory.rejected", "order.cancelled"],
        ),
        (
            "charge_payment",
            "cancelled",
            "released",
            "none",
            [
                "order.created",
                "inventory.reserved",
                "payment.declined",
                "inventory.released",
                "order.cancelled",
            ],
        ),
    ],
)
def test_a_failure_before_the_pivot_makes_the_services_undo_what_they_did(
    fail, order, inventory, payment, events
):
    outcome = run_order_choreography(fail=fail)
    assert (outcome.order, outcome.inventory, outcome.payment) == (order, inventory, payment)
    assert outcome.events == events
    # nothing is refunded that was never charged, nothing released that was never reserved
    assert outcome.payment != "refunded" or "payment.charged" in outcome.events
    assert outcome.inventory != "released" or "inventory.reserved" in outcome.events


def test_a_failed_confirmation_is_retried_forward_not_undone():
    # the charge is the pivot: like the orchestrated saga's retriable confirm_order, a failed
    # confirmation leaves the order pending (stock reserved, card charged) and is retried
    outcome = run_order_choreography(fail="confirm_order")
    assert (outcome.order, outcome.inventory, outcome.payment) == ("pending", "reserved", "charged")
    assert outcome.events == [
        "order.created",
        "inventory.reserved",
        "payment.charged",
        "order.confirmation_failed",
    ]


def test_retry_confirmations_confirms_once_the_fault_is_gone():
    bus = EventBus()
    orders = OrderService(bus, fail="confirm_order")
    InventoryService(bus, fail="confirm_order")
    PaymentService(bus, fail="confirm_order")
    orders.place("A1", 30)
    assert orders.retry_confirmations() == [] and orders.state["A1"] == "pending"
    orders.fail = None
    assert orders.retry_confirmations() == ["A1"]
    assert orders.unconfirmed == {}
    assert orders.retry_confirmations() == ["A1"]  # idempotent: nothing more happens
    assert orders.sent_log.count("order.confirmed") == 1


def test_the_trace_shows_who_talked_to_whom():
    tracer = Tracer()
    run_order_choreography(fail="charge_payment", tracer=tracer)
    deliveries = [(r.source, r.event, r.target) for r in tracer.where(outcome="delivered")]
    assert deliveries == [
        ("OrderService", "order.created", "InventoryService"),
        ("InventoryService", "inventory.reserved", "PaymentService"),
        ("PaymentService", "payment.declined", "InventoryService"),
        ("InventoryService", "inventory.released", "OrderService"),
    ]


def test_unknown_failure_is_refused():
    with pytest.raises(ValueError, match="fail must be one of"):
        run_order_choreography(fail="ship_order")
