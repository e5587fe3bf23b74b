"""eda_kit: event-driven architecture, hands on.

The companion package of the eda-course notebooks. The core is flat; each concept of the
course is a package of its own:

    events, payloads   Event, RecordedEvent: facts with JSON payloads (checked at the door)
    clock              ids and time; reproducible() for notebooks and tests
    trace              Tracer: who sent what to whom, and how it ended
    errors             EdaKitError and its family: everything the kit raises on purpose
    emitter/           EventEmitter (Node.js semantics), AsyncEventEmitter
    pubsub/            topics (AMQP patterns), EventBus, delivery reports, dead letters;
                       rabbitmq: RabbitMQBus, the same ideas on a broker (aio-pika)
    store/             InMemoryEventStore, SQLiteEventStore, subscriptions, optimistic concurrency;
                       postgres: PostgresEventStore (psycopg 3)
    sourcing/          Aggregate, Repository, snapshots, upcasting
    cqrs/              CommandBus, QueryBus, Projection, read models
    saga/              Saga, Step: compensation, the saga log, faults, choreography
    messaging/         idempotency keys: making at-least-once delivery safe
    viz/               flow graphs, timelines, state plots; the ReplayPlayer widget
    services           find PostgreSQL and RabbitMQ, or start throwaway ones (make services)
    exercises/         the self-checking exercises of each notebook

``import eda_kit`` is light: it loads only the standard library. Each name below is imported
from its module the first time you use it, so ``from eda_kit import EventBus`` costs only the
bus, and matplotlib, networkx and ipywidgets wait until you draw or replay something.
"""

from __future__ import annotations

from .clock import reproducible
from .errors import EdaKitError
from .events import Event, RecordedEvent
from .lazy import lazy_exports
from .trace import Tracer, TraceRecord

#: The version, in one place: pyproject.toml reads it from here.
__version__ = "0.2.0"

# Public name -> the module that defines it (imported on first use).
_LAZY = {
    "EventEmitter": "emitter",
    "AsyncEventEmitter": "emitter",
    "MaxListenersExceededWarning": "emitter",
    "UnhandledErrorEvent": "errors",
    "EventBus": "pubsub",
    "Subscription": "pubsub",
    "DeadLetter": "pubsub",
    "PublishReport": "pubsub",
    "RabbitMQBus": "pubsub.rabbitmq",
    "EventStore": "store",
    "InMemoryEventStore": "store",
    "SQLiteEventStore": "store",
    "PostgresEventStore": "store.postgres",
    "ANY": "store",
    "NO_STREAM": "store",
    "STREAM_EXISTS": "store",
    "WrongExpectedVersion": "errors",
    "DuplicateEventId": "errors",
    "Snapshot": "store",
    "StoreSubscription": "store",
    "Aggregate": "sourcing",
    "Repository": "sourcing",
    "AggregateNotFound": "errors",
    "CommandBus": "cqrs",
    "QueryBus": "cqrs",
    "Projection": "cqrs",
    "SQLiteReadModel": "cqrs",
    "ProjectionStalled": "errors",
    "UnknownCommand": "errors",
    "UnknownQuery": "errors",
    "Saga": "saga",
    "Step": "saga",
    "SagaResult": "saga",
    "ReplayPlayer": "viz",
}
_SUBMODULES = (
    "emitter",
    "pubsub",
    "store",
    "sourcing",
    "cqrs",
    "saga",
    "messaging",
    "services",
    "viz",
    "exercises",
    "errors",
    "payloads",
    "clock",
)

__all__ = [
    "Event",
    "RecordedEvent",
    "TraceRecord",
    "Tracer",
    "EdaKitError",
    "reproducible",
    *_LAZY,
]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals(), submodules=_SUBMODULES)
