"""Reliable messaging: making at-least-once delivery safe.

idempotency  idempotency keys and a memory of processed keys, so a retry does not
             repeat the work
"""

from .idempotency import Deduplicator, idempotency_key

__all__ = ["idempotency_key", "Deduplicator"]
