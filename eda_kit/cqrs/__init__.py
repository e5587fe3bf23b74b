"""CQRS: one path for changing things (commands), another for asking (queries).

    buses        CommandBus (one handler per command: check rules, append events) and
                 QueryBus (one handler per query: read read models only)
    projection   Projection: folds the store's events into a read model; position, lag,
                 catch_up(), rebuild(), start() to follow the store live, wait_until()
    transactions one event, one transaction: how each kind of read model applies an event
                 all or nothing (a dict's undo log included)
    read_models  SQLiteReadModel: a read model in SQLite tables, in memory or in a file that
                 keeps its position in the same transaction as each change

The two sides meet only in the event store, so the read side is eventually consistent:
``projection.lag`` says by how many events it is behind.
"""

from ..errors import ProjectionStalled, UnknownCommand, UnknownQuery
from .buses import CommandBus, QueryBus
from .projection import Projection
from .read_models import SQLiteReadModel

__all__ = [
    "CommandBus",
    "QueryBus",
    "UnknownCommand",
    "UnknownQuery",
    "Projection",
    "ProjectionStalled",
    "SQLiteReadModel",
]
