"""Choreography: the order saga with no orchestrator, just services reacting to events.

An orchestrated saga (:mod:`eda_kit.saga`) has a conductor that calls each service in turn.
A *choreographed* saga has none: each service listens on the bus for the events it cares
about, does its part, and announces what happened. Compensation is choreographed too: a
failure is an event, and the services that have something to undo listen for it::

    heard                       who reacts                   and announces
    order.created               InventoryService reserves    inventory.reserved / .rejected
    inventory.reserved          PaymentService charges       payment.charged / .declined
    payment.charged             OrderService confirms        order.confirmed / .confirmation_failed
    payment.declined            InventoryService releases    inventory.released
    inventory.rejected, .released  OrderService cancels      order.cancelled

The charge is the pivot, as in the orchestrated saga: once the card is charged the flow only
goes forward. A confirmation that fails is not undone (no refund, no release): the order
service keeps the order pending and retries the confirmation forward
(:meth:`OrderService.retry_confirmations`), the same lesson as a ``kind="retriable"`` step.

Nobody holds the whole flow: it lives in the subscriptions. That is the appeal (services stay
independent, adding a listener needs no change elsewhere) and the danger (to know what
happens when payment fails you read three services; a cycle of events is easy to create and
hard to see). The flow graph of the trace (``viz.draw_flow(tracer)``) is how you get the
picture back.

:func:`run_order_choreography` builds the three services on a fresh ``EventBus`` and places one
order; ``fail`` names the step that goes wrong, with the same step names as the orchestrated
saga of notebook 05 (``reserve_inventory``, ``charge_payment``, ``confirm_order``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidValue
from ..events import Event
from ..pubsub.bus import EventBus
from ..trace import Tracer

__all__ = [
    "OrderService",
    "InventoryService",
    "PaymentService",
    "run_order_choreography",
    "ChoreographyOutcome",
    "STEPS",
]

#: The steps a failure can be injected into (``create_order`` is the request itself).
STEPS = ("reserve_inventory", "charge_payment", "confirm_order")


class _Service:
    """What the three services share: a name, the bus, and which step should fail."""

    name = "Service"

    def __init__(
        self, bus: EventBus, fail: str | None = None, sent_log: list[str] | None = None
    ) -> None:
        self.bus = bus
        self.fail = fail
        self.state: dict[str, str] = {}  # order_id -> this service's view of the order
        self.sent_log = sent_log if sent_log is not None else []  # topics sent, shared

    def emit(self, topic: str, order_id: str, **data: Any) -> None:
        self.sent_log.append(topic)
        self.bus.publish(Event(topic, {"order_id": order_id, **data}), source=self.name)

    def listen(self, pattern: str, handler: Any) -> None:
        self.bus.subscribe(pattern, handler, name=self.name)


class OrderService(_Service):
    name = "OrderService"

    def __init__(
        self, bus: EventBus, fail: str | None = None, sent_log: list[str] | None = None
    ) -> None:
        super().__init__(bus, fail, sent_log)
        self.unconfirmed: dict[str, Event] = {}  # charged orders whose confirmation failed
        self.listen("payment.charged", self.confirm)
        self.listen("inventory.rejected", self.cancel)
        self.listen("inventory.released", self.cancel)

    def place(self, order_id: str, amount: int) -> None:
        self.state[order_id] = "pending"
        self.emit("order.created", order_id, amount=amount)

    def confirm(self, event: Event) -> None:
        order_id = event.data["order_id"]
        if self.fail == "confirm_order":  # after the pivot: keep it, retry forward later
            self.unconfirmed[order_id] = event
            self.emit("order.confirmation_failed", order_id, amount=event.data["amount"])
            return
        self.unconfirmed.pop(order_id, None)
        self.state[order_id] = "confirmed"
        self.emit("order.confirmed", order_id)

    def retry_confirmations(self) -> list[str]:
        """Try every failed confirmation again (forward recovery); return the orders confirmed.

        Confirming is idempotent (a confirmed order stays confirmed), so a retry that races
        another is harmless. Still failing (``fail`` still set)? The orders stay waiting.
        """
        for event in list(self.unconfirmed.values()):
            self.confirm(event)
        return sorted(o for o, state in self.state.items() if state == "confirmed")

    def cancel(self, event: Event) -> None:
        order_id = event.data["order_id"]
        self.state[order_id] = "cancelled"
        self.emit("order.cancelled", order_id)


class InventoryService(_Service):
    name = "InventoryService"

    def __init__(
        self, bus: EventBus, fail: str | None = None, sent_log: list[str] | None = None
    ) -> None:
        super().__init__(bus, fail, sent_log)
        self.listen("order.created", self.reserve)
        self.listen("payment.declined", self.release)

    def reserve(self, event: Event) -> None:
        order_id = event.data["order_id"]
        if self.fail == "reserve_inventory":
            self.emit("inventory.rejected", order_id)
            return
        self.state[order_id] = "reserved"
        self.emit("inventory.reserved", order_id, amount=event.data["amount"])

    def release(self, event: Event) -> None:
        order_id = event.data["order_id"]
        self.state[order_id] = "released"
        self.emit("inventory.released", order_id)


class PaymentService(_Service):
    name = "PaymentService"

    def __init__(
        self, bus: EventBus, fail: str | None = None, sent_log: list[str] | None = None
    ) -> None:
        super().__init__(bus, fail, sent_log)
        self.listen("inventory.reserved", self.charge)

    def charge(self, event: Event) -> None:
        order_id = event.data["order_id"]
        if self.fail == "charge_payment":
            self.emit("payment.declined", order_id)
            return
        self.state[order_id] = "charged"
        self.emit("payment.charged", order_id, amount=event.data["amount"])


@dataclass(frozen=True)
class ChoreographyOutcome:
    """Where one order ended up in each service, and the events that got it there."""

    order: str
    inventory: str
    payment: str
    events: list[str] = field(default_factory=list)


def run_order_choreography(
    order_id: str = "A1", amount: int = 30, *, fail: str | None = None, tracer: Tracer | None = None
) -> ChoreographyOutcome:
    """Place one order with the three services on a fresh bus; ``fail`` one step (or none)."""
    if fail is not None and fail not in STEPS:
        raise InvalidValue(f"fail must be one of {list(STEPS)} or None, got {fail!r}")
    bus = EventBus(tracer)
    sent: list[str] = []  # every topic any service published, in order
    orders = OrderService(bus, fail, sent)
    inventory = InventoryService(bus, fail, sent)
    payments = PaymentService(bus, fail, sent)
    orders.place(order_id, amount)
    return ChoreographyOutcome(
        order=orders.state.get(order_id, "none"),
        inventory=inventory.state.get(order_id, "none"),
        payment=payments.state.get(order_id, "none"),
        events=sent,
    )
