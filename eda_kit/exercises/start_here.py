"""Exercises for notebook 00, Start here: a warm-up to learn how checking works."""

from __future__ import annotations

from ..events import Event
from .framework import Checker, Exercise

__all__ = ["warm_up", "revenue"]


def revenue(events):
    revenue = 0
    for event in events:
        if event.type == "OrderPlaced":
            revenue += event.data["total"]
        elif event.type == "OrderRefunded":
            revenue -= event.data["amount"]
    return revenue


def _ignores_refunds(events):
    return sum(e.data["total"] for e in events if e.type == "OrderPlaced")


def _adds_everything(events):
    return sum(e.data.get("total", 0) + e.data.get("amount", 0) for e in events)


def _reads_every_total(events):
    return sum(e.data["total"] for e in events)


def _test_revenue(revenue, check: Checker) -> None:
    placed_30 = Event("OrderPlaced", {"order_id": "A1", "total": 30})
    placed_12 = Event("OrderPlaced", {"order_id": "A2", "total": 12})
    refunded_5 = Event("OrderRefunded", {"order_id": "A1", "amount": 5})
    shipped = Event("OrderShipped", {"order_id": "A2"})

    with check.case("no events at all"):
        check.expect(revenue([]), 0)
    with check.case("one OrderPlaced with total 30"):
        check.expect(revenue([placed_30]), 30)
    with check.case("two orders, 30 and 12"):
        check.expect(revenue([placed_30, placed_12]), 42)
    with check.case("order of 30, then a refund of 5"):
        check.expect(revenue([placed_30, refunded_5]), 25)
    with check.case("an OrderShipped event (it carries no money)"):
        check.expect(revenue([placed_12, shipped]), 12)


warm_up = Exercise(
    "Revenue from a list of order events",
    test=_test_revenue,
    reference=revenue,
    hints=[
        "Walk the events in order and keep a running total, starting at 0.",
        "Look at event.type to decide what an event does to the total: "
        "OrderPlaced adds data['total'], OrderRefunded subtracts data['amount'].",
        "Events of other types (like OrderShipped) leave the total alone.",
    ],
    common_mistakes=[_ignores_refunds, _adds_everything, _reads_every_total],
    explanation=(
        "This is a fold: start from an initial value and let each event change it. "
        "Every event type must be considered, including the ones that take money away; "
        "forgetting one gives a number that looks plausible and is wrong. Event sourcing "
        "(notebook 04) is this same idea, applied to a whole object."
    ),
)
