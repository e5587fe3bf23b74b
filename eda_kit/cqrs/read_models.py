"""Read models that keep their data in SQLite: query them with SQL, update them in transactions.

A projection's read model is whatever its handlers write to. A plain ``dict`` is the simplest;
:class:`SQLiteReadModel` keeps tables instead, so queries can filter, sort and join, and each
event's change can be one transaction (all of it, or, if the handler raises, none of it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["SQLiteReadModel"]


class SQLiteReadModel:
    """A read model in SQLite tables: the same projection idea, with SQL to query it.

    ``schema`` is the ``CREATE TABLE`` script; the database lives in memory unless you give a
    ``path``. Handlers write with ``execute``, query handlers read with ``query`` /
    ``query_one`` (rows come back as dicts). A ``Projection`` runs each event's handler inside
    ``transaction()``, so a handler that fails half-way leaves nothing behind. ::

        SCHEMA = "CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer TEXT, total INT)"
        orders = Projection("orders_sql", store, read_model=lambda: SQLiteReadModel(SCHEMA))

        @orders.on("OrderPlaced")
        def placed(db, event):
            db.execute("INSERT INTO orders VALUES (?, ?, ?)",
                       (event.data["order_id"], event.data["customer"], event.data["total"]))
    """

    def __init__(self, schema: str, path: str = ":memory:") -> None:
        self.schema = schema
        # Autocommit mode: transactions are explicit, in transaction().
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        self.connection.executescript(schema)
        self._in_transaction = False

    def execute(self, sql: str, params: Any = ()) -> int:
        """Run one statement that changes data; returns the number of rows it changed."""
        return self.connection.execute(sql, params).rowcount

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Rows of a ``SELECT``, each as a dict of column -> value."""
        return [dict(row) for row in self.connection.execute(sql, params)]

    def query_one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        """The first row of a ``SELECT`` as a dict, or ``None`` when there is none."""
        row = self.connection.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    @contextmanager
    def transaction(self) -> Iterator[SQLiteReadModel]:
        """All changes inside happen together, or (if something raises) not at all."""
        if self._in_transaction:  # nested: already covered by the outer one
            yield self
            return
        self.connection.execute("BEGIN")
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        else:
            self.connection.execute("COMMIT")
        finally:
            self._in_transaction = False

    def close(self) -> None:
        """Close the database connection."""
        self.connection.close()

    def __repr__(self) -> str:
        tables = [
            r["name"]
            for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return f"<SQLiteReadModel: tables {', '.join(tables) or 'none'}>"
