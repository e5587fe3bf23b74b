"""Exercises for notebook 00, Start here: a warm-up to learn how checking works."""

from __future__ import annotations

from functools import reduce

from ..events import Event
from .framework import Exercise, Probe

__all__ = ["warm_up", "revenue"]


def revenue(events):
    revenue = 0
    for event in events:
        if event.type == "OrderPlaced":
            revenue += event.data["total"]
        elif event.type == "OrderRefunded":
            revenue -= event.data["amount"]
    return revenue


# --- wrong answers learners give ----------------------------------------------------------------


def _ignores_refunds(events):
    return sum(e.data["total"] for e in events if e.type == "OrderPlaced")


def _adds_everything(events):
    return sum(e.data.get("total", 0) + e.data.get("amount", 0) for e in events)


def _dispatches_on_keys(events):  # looks at the data, not at what happened
    return sum(e.data.get("total", 0) - e.data.get("amount", 0) for e in events)


def _only_the_first_refund(events):
    placed = sum(e.data["total"] for e in events if e.type == "OrderPlaced")
    refund = next((e.data["amount"] for e in events if e.type == "OrderRefunded"), 0)
    return placed - refund


# --- right answers in other styles --------------------------------------------------------------


def _with_reduce(events):
    def step(total, event):
        if event.type == "OrderPlaced":
            return total + event.data["total"]
        if event.type == "OrderRefunded":
            return total - event.data["amount"]
        return total

    return reduce(step, events, 0)


def _with_match(events):
    total = 0
    for event in events:
        match event.type:
            case "OrderPlaced":
                total += event.data["total"]
            case "OrderRefunded":
                total -= event.data["amount"]
    return total


_SIGN = {"OrderPlaced": ("total", 1), "OrderRefunded": ("amount", -1)}


def _with_a_table(events):
    return sum(
        sign * event.data[key]
        for event in events
        if event.type in _SIGN
        for key, sign in [_SIGN[event.type]]
    )


def _with_a_generator(events):  # a generator of signed amounts, summed
    return sum(
        event.data["total"] if event.type == "OrderPlaced" else -event.data["amount"]
        for event in events
        if event.type in ("OrderPlaced", "OrderRefunded")
    )


# --- how the checker compares an answer with the reference ------------------------------------
#
# An input is a list of (type, data) pairs; each run gets freshly built events.


def _run(answer, history):
    return answer([Event(type_, data) for type_, data in history])


def _describe(history):
    words = [
        f"{type_}({', '.join(f'{k}={v}' for k, v in data.items() if k != 'order_id')})"
        for type_, data in history
    ]
    return "events [" + ", ".join(words) + "]"


def _generate(rng, size):
    """Orders, refunds (several), and events that carry money-like keys but move no money."""
    history = []
    for number in range(rng.randint(0, size + 1)):
        order = f"A{number}"
        kind = rng.choice(["placed", "placed", "refunded", "shipped", "quoted", "failed"])
        if kind == "placed":
            history.append(("OrderPlaced", {"order_id": order, "total": rng.randint(1, 60)}))
        elif kind == "refunded":
            history.append(("OrderRefunded", {"order_id": order, "amount": rng.randint(1, 20)}))
        elif kind == "shipped":
            history.append(("OrderShipped", {"order_id": order}))
        elif kind == "quoted":  # a price offered, not money taken
            history.append(("OrderQuoted", {"order_id": order, "total": rng.randint(1, 60)}))
        else:  # a payment that did not go through
            history.append(("PaymentFailed", {"order_id": order, "amount": rng.randint(1, 60)}))
    return history


_PLACED_30 = ("OrderPlaced", {"order_id": "A1", "total": 30})
_PLACED_12 = ("OrderPlaced", {"order_id": "A2", "total": 12})
_REFUND_5 = ("OrderRefunded", {"order_id": "A1", "amount": 5})

warm_up = Exercise(
    "Revenue from a list of order events",
    reference=revenue,
    run=_run,
    describe=_describe,
    probes=[
        Probe("no events at all", []),
        Probe("one OrderPlaced with total 30", [_PLACED_30]),
        Probe("two orders, 30 and 12", [_PLACED_30, _PLACED_12]),
        Probe("order of 30, then a refund of 5", [_PLACED_30, _REFUND_5]),
        Probe(
            "two refunds, 5 and 3",
            [_PLACED_30, _REFUND_5, ("OrderRefunded", {"order_id": "A1", "amount": 3})],
        ),
        Probe(
            "an OrderShipped event (it carries no money)",
            [_PLACED_12, ("OrderShipped", {"order_id": "A2"})],
        ),
        Probe(
            "an OrderQuoted event carrying a total (a price offered, not money taken)",
            [_PLACED_12, ("OrderQuoted", {"order_id": "A3", "total": 40})],
        ),
    ],
    generate=_generate,
    hints=[
        "Walk the events in order and keep a running total, starting at 0.",
        "Look at event.type to decide what an event does to the total: "
        "OrderPlaced adds data['total'], OrderRefunded subtracts data['amount'].",
        "Events of other types (like OrderShipped) leave the total alone, even when their "
        "data happens to have a 'total' or an 'amount'.",
    ],
    common_mistakes=[
        _ignores_refunds,
        _adds_everything,
        _dispatches_on_keys,
        _only_the_first_refund,
    ],
    also_correct=[_with_reduce, _with_match, _with_a_table, _with_a_generator],
    explanation=(
        "This is a fold: start from an initial value and let each event change it. "
        "Every event type must be considered, including the ones that take money away; "
        "forgetting one gives a number that looks plausible and is wrong. Decide by the "
        "event's type (what happened), never by which keys its data has. Event sourcing "
        "(notebook 04) is this same idea, applied to a whole object."
    ),
)
