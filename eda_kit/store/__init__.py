"""Event stores: append-only streams, a global log, optimistic concurrency, subscriptions.

    from eda_kit.store import InMemoryEventStore, SQLiteEventStore, ANY, NO_STREAM, STREAM_EXISTS

    store = SQLiteEventStore("shop.db")          # or InMemoryEventStore()
    store.append("order-A1", [Event("OrderPlaced", {"total": 30})], expected_version=NO_STREAM)
    store.read_stream("order-A1")                # the order's history, version 1, 2, ...
    store.read_all()                             # every event of every stream, position 1, 2, ...
    store.subscribe(handler, checkpoint="emails")  # catch up, then live

Modules, one idea each:

    base           the contract: ANY / NO_STREAM / STREAM_EXISTS, WrongExpectedVersion,
                   the EventStore protocol, Snapshot, and the input checks both stores share
    memory         InMemoryEventStore: the contract in a few lists
    sqlite         SQLiteEventStore: the same contract in one SQLite file, safe across processes
    subscriptions  StoreSubscription: catch-up then live delivery, checkpoints, polling

Beyond the public API contract (docs/api_contract.md), both stores also offer:

- ``load_checkpoint(name)`` / ``save_checkpoint(name, position)``: a named position kept beside
  the log (what ``subscribe(..., checkpoint=name)`` uses);
- ``subscribe(..., name=, live=, batch_size=)`` returning a ``StoreSubscription`` with
  ``poll()``, ``start(interval)`` / ``stop()`` (a background poller), ``close()``,
  ``position``, ``lag()``, ``error`` and ``failed_event``;
- ``tracer=`` (appends are "sent" by their stream, deliveries go to the subscription's name),
  ``closed``, and use as a context manager;
- ``SQLiteEventStore(path, synchronous="FULL" | "NORMAL" | "EXTRA", timeout=30.0)`` and
  ``integrity_check()``.

Stream ids are non-empty ``str`` of at most ``MAX_STREAM_ID_LENGTH`` characters, without NUL.
"""

from .base import (
    ANY,
    MAX_STREAM_ID_LENGTH,
    NO_STREAM,
    STREAM_EXISTS,
    EventStore,
    ExpectedVersion,
    Snapshot,
    WrongExpectedVersion,
)
from .memory import InMemoryEventStore
from .sqlite import SQLiteEventStore
from .subscriptions import StoreSubscription

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "MAX_STREAM_ID_LENGTH",
    "EventStore",
    "ExpectedVersion",
    "InMemoryEventStore",
    "SQLiteEventStore",
    "Snapshot",
    "StoreSubscription",
    "WrongExpectedVersion",
]
