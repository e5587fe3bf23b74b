"""The choreographed order flow: services reacting to each other's events on the bus."""

from __future__ import annotations

import pytest

from eda_kit import Tracer
from eda_kit.saga.choreography import run_order_choreography


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
        (
            "confirm_order",
            "cancelled",
            "released",
            "refunded",
            [
                "order.created",
                "inventory.reserved",
                "payment.charged",
                "order.confirmation_failed",
                "payment.refunded",
                "inventory.released",
                "order.cancelled",
            ],
        ),
    ],
)
def test_a_failure_event_makes_the_services_undo_what_they_did(
    fail, order, inventory, payment, events
):
    outcome = run_order_choreography(fail=fail)
    assert (outcome.order, outcome.inventory, outcome.payment) == (order, inventory, payment)
    assert outcome.events == events
    # nothing is refunded that was never charged, nothing released that was never reserved
    assert outcome.payment != "refunded" or "payment.charged" in outcome.events
    assert outcome.inventory != "released" or "inventory.reserved" in outcome.events


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
