"""Event stores: append-only streams, a global log, optimistic concurrency, subscriptions.

    from eda_kit.store import InMemoryEventStore, SQLiteEventStore, ANY, NO_STREAM, STREAM_EXISTS

    store = SQLiteEventStore("shop.db")          # or InMemoryEventStore()
    store.append("order-A1", [Event("OrderPlaced", {"total": 30})], expected_version=NO_STREAM)
    store.read_stream("order-A1")                # the order's history, version 1, 2, ...
    store.read_all()                             # every event of every stream, position 1, 2, ...
    store.subscribe(handler, checkpoint="emails")  # catch up, then live (on its own thread)
    store.append("order-A1", same_events, expected_version=NO_STREAM)  # a retry: stored once

Modules, one idea each:

    base           the contract: ANY / NO_STREAM / STREAM_EXISTS, WrongExpectedVersion,
                   the EventStore protocol, retries (DuplicateEventId), Snapshot,
                   TransactionalCheckpoint, and the input checks every store shares
    memory         InMemoryEventStore: the contract in a few lists
    sqlite         SQLiteEventStore: the same contract in one SQLite file, safe across processes
    sqlite_files   opening SQLite files safely: paths, other programs' files, driver errors
    subscriptions  StoreSubscription: catch-up then live delivery, checkpoints, polling

Beyond the public API contract (docs/api_contract.md), both stores also offer:

- ``load_checkpoint(name)`` / ``save_checkpoint(name, position)``: a named position kept beside
  the log (what ``subscribe(..., checkpoint=name)`` uses);
- ``subscribe(..., checkpoint=read_model.checkpoint(name))``: the position kept in the
  handler's own database, saved in the handler's own transaction (``TransactionalCheckpoint``);
- ``subscribe(..., name=, live=, batch_size=)`` returning a ``StoreSubscription`` with
  ``poll()``, ``start(interval)`` / ``stop()`` (a background poller), ``wait_until(position)``,
  ``close()``, ``position``, ``lag()``, ``error`` and ``failed_event``;
  ``wait_for_subscribers()`` waits for every live subscription;
- ``tracer=`` (appends are "sent" by their stream, deliveries go to the subscription's name),
  ``closed``, and use as a context manager;
- ``SQLiteEventStore(path, synchronous="FULL" | "NORMAL" | "EXTRA", timeout=30.0)`` and
  ``integrity_check()``.

Stream ids are non-empty ``str`` of at most ``MAX_STREAM_ID_LENGTH`` characters, without NUL
or lone surrogates.
"""

from ..errors import DuplicateEventId
from .base import (
    ANY,
    MAX_STREAM_ID_LENGTH,
    NO_STREAM,
    STREAM_EXISTS,
    EventStore,
    ExpectedVersion,
    Snapshot,
    TransactionalCheckpoint,
    WrongExpectedVersion,
)
from .memory import InMemoryEventStore
from .sqlite import SQLiteEventStore
from .subscriptions import StoreSubscription

__all__ = [
    "ANY",
    "DuplicateEventId",
    "NO_STREAM",
    "STREAM_EXISTS",
    "MAX_STREAM_ID_LENGTH",
    "EventStore",
    "ExpectedVersion",
    "InMemoryEventStore",
    "SQLiteEventStore",
    "Snapshot",
    "StoreSubscription",
    "TransactionalCheckpoint",
    "WrongExpectedVersion",
]
