"""Reliable messaging: effects exactly once on top of delivery at least once.

idempotency         idempotency keys; IdempotencyStore: claim first, one runner, the first
                    outcome replayed, same key same request, keys expire (in memory)
idempotency_sqlite  SQLiteIdempotencyStore: the same rules in a file, shared by processes,
                    with a transactional form (key and local change in one commit)
relay               the outbox relay: the store's events published at least once, in order
inbox               each message handled once, atomically with the handler's change
provider            FakePaymentProvider: a remote service that honours idempotency keys
crash               CrashSwitch: make the relay or the inbox die at a named point
postgres            PostgresRelay (several relays share the work: SKIP LOCKED, streams kept
                    in order) and PostgresInbox (import it from eda_kit.messaging.postgres:
                    it needs psycopg)
sqlite_db           opening a service's SQLite file for these tables, errors naming the file
"""

from .crash import CrashSwitch
from .idempotency import (
    Deduplicator,
    IdempotencyRecord,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    idempotency_key,
)
from .idempotency_sqlite import SQLiteIdempotencyStore
from .inbox import INBOX_CRASH_POINTS, Inbox, InMemoryInbox, SQLiteInbox
from .provider import Charge, FakePaymentProvider
from .relay import RELAY_CRASH_POINTS, OutboxSource, Publisher, Relay

__all__ = [
    "idempotency_key",
    "IdempotencyStore",
    "IdempotencyRecord",
    "InMemoryIdempotencyStore",
    "SQLiteIdempotencyStore",
    "Deduplicator",
    "Relay",
    "RELAY_CRASH_POINTS",
    "Publisher",
    "OutboxSource",
    "Inbox",
    "InMemoryInbox",
    "SQLiteInbox",
    "INBOX_CRASH_POINTS",
    "FakePaymentProvider",
    "Charge",
    "CrashSwitch",
]
