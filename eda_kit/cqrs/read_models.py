"""Read models that keep their data in SQLite: query them with SQL, update them in transactions.

A projection's read model is whatever its handlers write to. A plain ``dict`` is the simplest;
:class:`SQLiteReadModel` keeps tables instead, so queries can filter, sort and join, each
event's change is one transaction (all of it, or, if the handler raises, none of it) and, in a
file, the data outlive the process.

**The position lives with the data.** A read model in a file must remember how far it got, or
a restart would apply every event again (a counter would count each one twice). It keeps that
position in its own table, ``eda_kit_checkpoints``, and saves it in the *same transaction* as
each event's change. So after any crash, ``kill -9`` included, the data and the position agree:
both have the event or neither has, and a restarted projection resumes exactly after it::

    SCHEMA = "CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer TEXT, total INT)"
    orders = Projection("orders", store,
                        read_model=lambda: SQLiteReadModel(SCHEMA, "orders.db"))
    orders.position        # where the file got to (0 the first time): nothing is applied twice

The same mechanism is open to any store subscriber: ``read_model.checkpoint(name)`` is a
``TransactionalCheckpoint`` (``eda_kit.store.base``), and
``store.subscribe(handler, checkpoint=read_model.checkpoint("name"))`` saves the subscriber's
position in the handler's own transaction.

The file is marked as an eda_kit read model (SQLite's ``application_id`` header field) and
remembers its schema: reopening it with another schema, or opening someone else's database, is
refused with a clear error instead of mixing old and new tables. One connection is shared by
the projection's threads (a live projection applies events on a delivery thread while you
query on yours), behind a lock: a query never sees half of an event's change.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import InvalidType, InvalidValue
from ..store.base import check_name, check_positive_int, check_seconds
from ..store.sqlite_files import (
    DatabaseFile,
    check_database_path,
    describe_database,
    inspect_database,
    storage_error,
)

__all__ = ["SQLiteReadModel", "ReadModelCheckpoint", "APPLICATION_ID"]

#: Stamped in the file header: "an eda_kit read model" (the bytes of "edkr").
APPLICATION_ID = 0x6564_6B72
_STORE_APPLICATION_ID = 0x6564_6B73  # an eda_kit event store (see store/sqlite.py)
_META = "eda_kit_read_model"
_CHECKPOINTS = "eda_kit_checkpoints"
_OWN_TABLES = frozenset({_META, _CHECKPOINTS})
_OWN_SCHEMA = (
    f"CREATE TABLE {_META} (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    f"CREATE TABLE {_CHECKPOINTS} (name TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID",
)


def statements(script: str) -> list[str]:
    """Split an SQL script into its statements (``sqlite3.complete_statement`` knows where
    one ends, semicolons inside strings and triggers included)."""
    found, pending = [], ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                found.append(pending.strip())
            pending = ""
    if pending.strip(" \t\r\n;"):
        raise InvalidValue(f"the schema ends with an incomplete statement: {pending.strip()!r}")
    return found


def _objects(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(type, name) of every table, view and trigger in a database, SQLite's own left out."""
    rows = conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    return [(kind, name) for kind, name in rows if kind in ("table", "view", "trigger")]


class SQLiteReadModel:
    """A read model in SQLite tables: the same projection idea, with SQL to query it.

    ``schema`` is the ``CREATE TABLE`` script. The database lives in memory unless you give a
    ``path``; in a file, it keeps its data *and its position* across restarts (see the module
    docs). Handlers write with ``execute``, query handlers read with ``query`` / ``query_one``
    (rows come back as dicts). A ``Projection`` runs each event's handler inside
    ``transaction()`` and saves its position there too, so a handler that fails half-way
    leaves nothing behind. ::

        SCHEMA = "CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer TEXT, total INT)"
        orders = Projection("orders_sql", store, read_model=lambda: SQLiteReadModel(SCHEMA))

        @orders.on("OrderPlaced")
        def placed(db, event):
            db.execute("INSERT INTO orders VALUES (?, ?, ?)",
                       (event.data["order_id"], event.data["customer"], event.data["total"]))

    ``timeout``: seconds to wait for another process's write lock on the file.
    """

    def __init__(
        self, schema: str, path: str | os.PathLike[str] = ":memory:", *, timeout: float = 30.0
    ) -> None:
        if not isinstance(schema, str):
            raise InvalidType(f"schema must be SQL text, not {type(schema).__name__}")
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidType(f"path must be a str or a path, not {type(path).__name__}")
        self.schema = schema
        self.timeout = check_seconds(timeout, "timeout")
        self.path = check_database_path(os.fspath(path), "read model")
        self._statements = statements(schema)
        self._lock = threading.RLock()
        self._in_transaction = False
        _check_kind(inspect_database(self.path, "read model"), self.path)
        try:
            # Autocommit mode: transactions are explicit, in transaction(). The lock above
            # makes sharing the connection with a projection's delivery thread safe.
            self.connection = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise storage_error(error, self.path, "opening the read model") from error
        try:
            self._setup()
        except sqlite3.Error as error:
            self.connection.close()
            raise storage_error(error, self.path, "setting up the read model") from error
        except BaseException:
            self.connection.close()
            raise
        self.connection.row_factory = sqlite3.Row

    def _setup(self) -> None:
        conn = self.connection
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL: a commit survives the process dying (kill -9); a power cut may lose the
            # last commits, data and position together, so the two still agree.
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = describe_database(conn)  # again, under the write lock
            _check_kind(found, self.path)
            if _META in found.tables:
                self._check_schema()
            else:
                self._create()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _run_schema(self) -> None:
        for statement in self._statements:
            try:
                self.connection.execute(statement)
            except sqlite3.Error as error:
                raise InvalidValue(
                    f"the read model's schema does not run: {error}, in {statement!r}"
                ) from error

    def _create(self) -> None:
        conn = self.connection
        self._run_schema()
        for statement in _OWN_SCHEMA:
            conn.execute(statement)
        conn.execute(f"INSERT INTO {_META} VALUES ('schema', ?)", (self.schema,))
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def _check_schema(self) -> None:
        row = self.connection.execute(f"SELECT value FROM {_META} WHERE key = 'schema'").fetchone()
        if row is None or row[0] != self.schema:
            raise InvalidValue(
                f"the read model {self.path!r} was built with another schema. Its tables no "
                "longer match what the handlers expect: delete the file and the projection "
                "rebuilds it from the events (or call rebuild() with the old schema's factory)"
            )

    # --- reading and writing -----------------------------------------------------------

    def execute(self, sql: str, params: Any = ()) -> int:
        """Run one statement that changes data; returns the number of rows it changed."""
        with self._lock:
            return self.connection.execute(sql, params).rowcount

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Rows of a ``SELECT``, each as a dict of column -> value."""
        with self._lock:
            return [dict(row) for row in self.connection.execute(sql, params)]

    def query_one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        """The first row of a ``SELECT`` as a dict, or ``None`` when there is none."""
        with self._lock:
            row = self.connection.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    @contextmanager
    def transaction(self) -> Iterator[SQLiteReadModel]:
        """All changes inside happen together, or (if something raises) not at all.

        In a file, the transaction takes SQLite's write lock at once (``BEGIN IMMEDIATE``), so
        two processes updating one read model take turns instead of failing half-way.
        Other threads wait for the transaction to end before they can query.
        """
        with self._lock:
            if self._in_transaction:  # nested: already covered by the outer one
                yield self
                return
            self.connection.execute("BEGIN" if self.path == ":memory:" else "BEGIN IMMEDIATE")
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

    # --- positions ------------------------------------------------------------------------

    def checkpoint(self, name: str) -> ReadModelCheckpoint:
        """The position of subscriber ``name``, kept in this read model (a
        ``TransactionalCheckpoint``): ``store.subscribe(handler, checkpoint=db.checkpoint("x"))``.
        """
        return ReadModelCheckpoint(self, check_name(name))

    def checkpoints(self) -> dict[str, int]:
        """Every position kept here: subscriber name -> position."""
        rows = self.query(f"SELECT name, position FROM {_CHECKPOINTS} ORDER BY name")
        return {row["name"]: row["position"] for row in rows}

    def reset(self) -> None:
        """Empty the read model: drop its tables, run the schema again, forget positions.

        One transaction: a crash half-way leaves the old read model as it was. Used by
        ``Projection.rebuild()``. Tables the schema does not make (an inbox or idempotency
        keys sharing the file) are never dropped: ``reset()`` refuses, naming them.
        """
        with self.transaction():
            conn = self.connection
            objects = [(kind, name) for kind, name in _objects(conn) if name not in _OWN_TABLES]
            made = set(self._schema_objects())
            others = sorted(name for kind, name in objects if (kind, name) not in made)
            if others:
                raise InvalidValue(
                    f"the read model {self.path!r} also holds {', '.join(others)}, which its "
                    "schema does not make (an inbox? idempotency keys? tables a handler made?): "
                    "emptying it would drop them too. Keep them in a file of their own, or "
                    "declare them in the schema"
                )
            for kind, name in objects:
                if kind != "table":  # views and triggers first: they depend on tables
                    conn.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
            for kind, name in objects:
                if kind == "table":
                    conn.execute(f'DROP TABLE IF EXISTS "{name}"')
            self._run_schema()
            conn.execute(f"DELETE FROM {_CHECKPOINTS}")

    def _schema_objects(self) -> list[tuple[str, str]]:
        """The tables, views and triggers the schema makes (run on a scratch database)."""
        scratch = sqlite3.connect(":memory:")
        try:
            for statement in self._statements:
                scratch.execute(statement)
            return _objects(scratch)
        finally:
            scratch.close()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self.connection.close()

    def __repr__(self) -> str:
        tables = [
            r["name"]
            for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if r["name"] not in _OWN_TABLES
        ]
        where = "" if self.path == ":memory:" else f" in {os.path.basename(self.path)!r}"
        return f"<SQLiteReadModel{where}: tables {', '.join(tables) or 'none'}>"


class ReadModelCheckpoint:
    """A subscriber's position in a :class:`SQLiteReadModel` (a ``TransactionalCheckpoint``).

    ``transaction()`` is the read model's (in a file it takes the write lock at once, so two
    processes take turns); ``saved`` and ``save`` read and write the position inside it.
    """

    def __init__(self, model: SQLiteReadModel, name: str) -> None:
        self.model = model
        self.name = name

    def load(self) -> int:
        return self.saved(self.model)

    def transaction(self) -> Any:
        return self.model.transaction()

    def saved(self, unit: Any) -> int:
        row = self.model.query_one(
            f"SELECT position FROM {_CHECKPOINTS} WHERE name = ?", (self.name,)
        )
        return 0 if row is None else int(row["position"])

    def save(self, unit: Any, position: int) -> None:
        position = check_positive_int(position, "checkpoint position", 0)
        self.model.execute(
            f"INSERT INTO {_CHECKPOINTS} (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (self.name, position),
        )

    def __repr__(self) -> str:
        return f"<ReadModelCheckpoint {self.name!r} at position {self.load()}>"


def _check_kind(found: DatabaseFile | None, path: str) -> None:
    """Refuse a file that is not an eda_kit read model (it is left untouched)."""
    if found is None or found.empty or found.application_id == APPLICATION_ID:
        return
    if found.application_id == _STORE_APPLICATION_ID:
        raise InvalidValue(
            f"{path!r} is an eda_kit event store, not a read model: give the read model a "
            "file of its own (it is rebuilt from the store's events)"
        )
    owner = (
        f"application id {found.application_id:#x}"
        if found.application_id
        else "tables " + ", ".join(sorted(found.tables))
    )
    raise InvalidValue(
        f"{path!r} is not an eda_kit read model ({owner}): it may be another program's "
        "database, or a read model saved without its position by eda_kit 0.1. It was left "
        "untouched: delete it (a read model is rebuilt from the events) or choose another file"
    )
