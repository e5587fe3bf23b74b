"""Reliable messaging: effects exactly once on top of delivery at least once.

idempotency         idempotency keys; IdempotencyStore: claim first, one runner, the first
                    outcome replayed, same key same request, keys expire (in memory)
idempotency_sqlite  SQLiteIdempotencyStore: the same rules in a file, shared by processes,
                    with a transactional form (key and local change in one commit)
sqlite_db           opening a service's SQLite file for these tables, errors naming the file
"""

from .idempotency import (
    Deduplicator,
    IdempotencyRecord,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    idempotency_key,
)
from .idempotency_sqlite import SQLiteIdempotencyStore

__all__ = [
    "idempotency_key",
    "IdempotencyStore",
    "IdempotencyRecord",
    "InMemoryIdempotencyStore",
    "SQLiteIdempotencyStore",
    "Deduplicator",
]
