"""``SQLiteEventStore``: being written (issue 4); InMemoryEventStore works now."""

from __future__ import annotations

__all__ = ["SQLiteEventStore"]


class SQLiteEventStore:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError("SQLiteEventStore is coming in the next commit")
