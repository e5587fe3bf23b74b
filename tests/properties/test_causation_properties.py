"""Causation ids, whatever the shape of the conversation: random trees of events, each made
while its cause is handled, must walk back to their root and draw as who-sent-what-to-whom."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

from eda_kit import Event, reproducible
from eda_kit.causation import causation_trace, caused_by, chain

# Each step: -1 starts a new conversation; n >= 0 reacts to an earlier event (n modulo count).
STEPS = st.lists(st.integers(-1, 50), min_size=1, max_size=30)


def build(steps):
    events, parents = [], []
    for step in steps:
        n = len(events)
        if step < 0 or not events:
            with caused_by(correlation_id=f"conv-{n}", actor=f"user-{n}"):
                events.append(Event(f"Started{n}"))
            parents.append(None)
        else:
            parent = step % n
            with caused_by(events[parent], actor=f"service-{n}"):
                events.append(Event(f"Reacted{n}"))
            parents.append(parent)
    return events, parents


def root_of(parents, i):
    while parents[i] is not None:
        i = parents[i]
    return i


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_every_event_walks_back_to_its_conversations_first_event(steps):
    with reproducible():
        events, parents = build(steps)
    for i, event in enumerate(events):
        root = root_of(parents, i)
        assert event.metadata["correlation_id"] == f"conv-{root}"
        path = [i]
        while parents[path[-1]] is not None:
            path.append(parents[path[-1]])
        assert chain(events, event) == [events[j] for j in reversed(path)]


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_causation_trace_has_one_send_per_event_and_one_delivery_per_cause(steps):
    with reproducible():
        events, parents = build(steps)
    records = list(causation_trace(events))
    sends = [(r.source, r.event, r.event_id) for r in records if r.outcome == "sent"]
    assert sends == [(e.metadata["actor"], e.type, e.id) for e in events]
    deliveries = [(r.source, r.event, r.target) for r in records if r.outcome == "delivered"]
    assert deliveries == [
        (events[p].metadata["actor"], events[p].type, events[i].metadata["actor"])
        for i, p in enumerate(parents)
        if p is not None
    ]
