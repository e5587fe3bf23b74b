"""Property: a trace never shows an effect before its cause.

Random chains of listeners on one traced ``AsyncEventEmitter``: plain and coroutine
listeners, each may await a few times, emit events further down the chain (each new event
names its cause in ``metadata["causation_id"]``) and raise at the end. Whatever the
interleaving, in the trace:

- an event is sent before any of its deliveries;
- a delivery is recorded (dispatched) before anything its listener emitted, and ends
  (delivered / failed) after all of it;
- a listener the failure of an earlier one stopped is "skipped", never also delivered.

The old emitter recorded a coroutine's delivery only when it ended, after what it emitted:
01's replay listed "Kitchen emits food.ready" before the delivery that caused it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from eda_kit import Event, Tracer
from eda_kit.emitter import AsyncEventEmitter

EVENTS = ["e0", "e1", "e2", "e3"]

# A listener's script: ("wait",) or ("emit", k): emit EVENTS[k], k after its own event.
step = st.one_of(st.just(("wait",)), st.tuples(st.just("emit"), st.integers(1, 3)))
listener_spec = st.fixed_dictionaries(
    {
        "is_async": st.booleans(),
        "script": st.lists(step, max_size=4),
        "raises": st.booleans(),
    }
)
plan = st.lists(st.lists(listener_spec, max_size=3), min_size=4, max_size=4)


@dataclass
class Chain:
    emitter: AsyncEventEmitter
    caused_by: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (cause, name)


def build(plan: list[list[dict]], tracer: Tracer) -> Chain:
    chain = Chain(AsyncEventEmitter(tracer, name="chain"))
    emitter = chain.emitter
    emitter.on("error", lambda error: None)  # async failures land here; the trace shows them

    def children(level: int, spec: dict, name: str, event: Event) -> list[Event]:
        made = []
        for action in spec["script"]:
            if action[0] == "emit" and level + action[1] < len(EVENTS):
                child = Event(EVENTS[level + action[1]], metadata={"causation_id": event.id})
                chain.caused_by[child.id] = (event.id, name)
                made.append(child)
            else:
                made.append(None)  # a wait
        return made

    for level, specs in enumerate(plan):
        for number, spec in enumerate(specs):
            name = f"{EVENTS[level]}_listener_{number}"

            if spec["is_async"]:

                async def listener(event, spec=spec, name=name, level=level):
                    for child in children(level, spec, name, event):
                        if child is None:
                            await asyncio.sleep(0)
                        else:
                            emitter.emit(child.type, child)
                    if spec["raises"]:
                        raise RuntimeError(name)

            else:

                def listener(event, spec=spec, name=name, level=level):
                    for child in children(level, spec, name, event):
                        if child is not None:
                            emitter.emit(child.type, child)
                    if spec["raises"]:
                        raise RuntimeError(name)

            listener.__qualname__ = name
            emitter.on(EVENTS[level], listener)
    return chain


def check_causality(tracer: Tracer, chain: Chain) -> None:
    records = [r for r in tracer.records if r.event != "error"]  # errors carry no Event
    sent = {r.event_id: r.seq for r in records if r.target is None and r.event_id}
    rows: dict[tuple[str | None, str], list] = {}
    for r in records:
        if r.target is not None:
            rows.setdefault((r.event_id, r.target), []).append(r)
    for (event_id, target), steps in rows.items():
        assert sent[event_id] < steps[0].seq, f"{target} got {event_id} before it was sent"
        outcomes = [s.outcome for s in steps]
        assert outcomes in (
            ["delivered"],
            ["failed"],
            ["skipped"],
            ["dispatched", "delivered"],
            ["dispatched", "failed"],
        ), f"{target} / {event_id}: {outcomes}"
    for child, (cause, name) in chain.caused_by.items():
        if child not in sent:
            continue  # never emitted: its listener raised before reaching it
        steps = rows[(cause, name)]
        assert steps[0].seq < sent[child], f"{child} sent before {name} got {cause}"
        assert steps[0].outcome == "dispatched"
        assert sent[child] < steps[-1].seq, f"{name} ended before emitting {child}"


@settings(max_examples=200, deadline=None)
@given(plan)
def test_no_record_shows_an_effect_before_its_cause(plan):
    tracer = Tracer()
    chain = build(plan, tracer)

    async def scenario():
        try:
            chain.emitter.emit("e0", Event("e0"))
        except RuntimeError:
            pass  # a plain listener raised: the emit stopped, as in Node
        while chain.emitter.pending:
            await chain.emitter.drain()

    asyncio.run(scenario())
    check_causality(tracer, chain)


def test_the_check_catches_an_effect_listed_before_its_cause():
    """The old order (a coroutine's delivery recorded only when it ended) fails the check."""
    tracer = Tracer()
    chain = Chain(AsyncEventEmitter())
    order = Event("order.placed")
    food = Event("food.ready", metadata={"causation_id": order.id})
    chain.caused_by[food.id] = (order.id, "Kitchen")
    tracer.record("Waiter", "order.placed", None, "sent", event_id=order.id)
    tracer.record("Kitchen", "food.ready", None, "sent", event_id=food.id)
    tracer.record("Waiter", "order.placed", "Kitchen", "delivered", event_id=order.id)
    try:
        check_causality(tracer, chain)
    except AssertionError as error:
        assert "sent before Kitchen got" in str(error)
    else:
        raise AssertionError("the effect-before-cause trace passed the check")
