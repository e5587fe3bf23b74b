"""eda_kit: event-driven architecture, hands on.

The companion package of the eda-course notebooks. One module per concept:

    events         Event, RecordedEvent: facts with JSON payloads (checked by payloads)
    clock          ids and time; reproducible() for notebooks and tests
    trace          Tracer: who sent what to whom, and how it ended
    emitter        EventEmitter (Node.js semantics); async_emitter: AsyncEventEmitter
    topics, bus, delivery
                   AMQP topic patterns; EventBus: routing, retries; reports, dead letters
    store          InMemoryEventStore, SQLiteEventStore, optimistic concurrency
    aggregate, upcasting, sourcing
                   Aggregate, Repository: state rebuilt from events; snapshots; old shapes
    projection, cqrs
                   CommandBus, QueryBus, Projection: separate write and read sides
    saga, saga_log, faults, idempotency, choreography
                   Saga, Step: long-running work with compensation, crash and resume
    viz            pictures of traces (networkx + matplotlib, loaded on first use)
    widgets        ReplayPlayer (ipywidgets, loaded on first use)
    exercises      the self-checking exercises of each notebook

``import eda_kit`` is light: it loads only the standard library. Each name below is imported
from its module the first time you use it, so ``from eda_kit import EventBus`` costs only the
bus, and matplotlib, networkx and ipywidgets wait until you draw or replay something.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .clock import reproducible
from .events import Event, RecordedEvent
from .trace import Tracer, TraceRecord

__version__ = "0.1.0"

# Public name -> the module that defines it (imported on first use).
_LAZY = {
    "EventEmitter": "emitter",
    "AsyncEventEmitter": "emitter",
    "MaxListenersExceededWarning": "emitter",
    "UnhandledErrorEvent": "emitter",
    "EventBus": "bus",
    "Subscription": "bus",
    "DeadLetter": "bus",
    "PublishReport": "bus",
    "EventStore": "store",
    "InMemoryEventStore": "store",
    "SQLiteEventStore": "store",
    "ANY": "store",
    "NO_STREAM": "store",
    "STREAM_EXISTS": "store",
    "WrongExpectedVersion": "store",
    "Snapshot": "store",
    "StoreSubscription": "store",
    "Aggregate": "sourcing",
    "Repository": "sourcing",
    "AggregateNotFound": "sourcing",
    "CommandBus": "cqrs",
    "QueryBus": "cqrs",
    "Projection": "cqrs",
    "ProjectionStalled": "cqrs",
    "UnknownCommand": "cqrs",
    "UnknownQuery": "cqrs",
    "Saga": "saga",
    "Step": "saga",
    "SagaResult": "saga",
}
_SUBMODULES = {"viz", "widgets", "exercises", "topics"}

__all__ = ["Event", "RecordedEvent", "TraceRecord", "Tracer", "reproducible", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # next time, no lookup
        return value
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'eda_kit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
