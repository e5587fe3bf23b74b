"""``PostgresReadModel``: a read model in PostgreSQL tables, its position in the same transaction.

A projection applies each event to its read model and remembers how far it got. If the change
and the position are saved in two steps, a crash between them applies the event twice (or
skips it). Here both live in the read model's own schema, and every event is one transaction::

    BEGIN
      SELECT position FROM eda_read_positions WHERE name = 'orders' FOR UPDATE  -- take turns
      -- the handler's change, on the same connection
      UPDATE eda_read_positions SET position = 42 WHERE name = 'orders'
    COMMIT                                                       -- both, or neither

``model.checkpoint(name)`` is that position as a *transactional checkpoint* (the protocol
``store.subscribe(handler, checkpoint=...)`` and ``Projection`` use for ``SQLiteReadModel``):
``load()``, ``transaction()`` (which locks the position's row first, so two processes running
the same projection take turns instead of both applying an event), ``saved(unit)`` and
``save(unit, position)``. The store can be any event store; the read model only needs a
PostgreSQL (often the same server as a ``PostgresEventStore``, in another schema)::

    SCHEMA = "CREATE TABLE orders (order_id TEXT PRIMARY KEY, total INT)"
    orders = PostgresReadModel(url, SCHEMA, schema="orders_view")

    def placed(event, db):
        db.execute("INSERT INTO orders VALUES (%s, %s)",
                   (event.data["order_id"], event.data["total"]))

    store.subscribe(placed, checkpoint=orders.checkpoint("orders"))

or as a ``Projection``'s read model, given as a *factory* (``rebuild()`` makes a fresh one)::

    orders = Projection("orders", store,
                        read_model=lambda: PostgresReadModel(url, SCHEMA, schema="orders_view"))

    @orders.on("OrderPlaced")
    def placed(db, event):                       # (read model, event), as for any projection
        db.execute("INSERT INTO orders VALUES (%s, %s)", ...)

A projection restarted in a fresh process resumes after the saved position: an event is
applied once, even when the process was killed inside a handler's transaction
(``tests/services/test_read_model_postgres.py``).

Table names in the handler's SQL are found in the model's schema (it is first on the
connection's ``search_path``). Payloads never pass through ``eval`` or pickle; queries are
parameterised (``%s``).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import DatabaseUnavailable, InvalidType, InvalidValue, StorageError
from ..store.base import check_name, check_positive_int
from ..store.postgres import redact_url

__all__ = ["PostgresReadModel", "PostgresCheckpoint"]

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")
_POSITIONS = "eda_read_positions"


class PostgresReadModel:
    """Read-model tables in a PostgreSQL ``schema`` (created, with ``schema_sql``, if missing).

    - ``url``: a libpq connection string; ``schema_sql``: the ``CREATE TABLE`` statements of
      the read model (run when the schema is new, and by ``reset()``).
    - Handlers write with ``execute``, queries read with ``query`` / ``query_one`` (rows as
      dicts). ``transaction()`` makes a block all or nothing; ``checkpoint(name)`` keeps a
      subscriber's position in the same transactions.

    One connection, guarded by a lock (a live subscription may call from its own thread).
    """

    def __init__(self, url: str, schema_sql: str, *, schema: str) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError as error:  # pragma: no cover  (the extra is missing)
            raise ImportError(
                'PostgresReadModel needs psycopg 3: pip install "eda_kit[postgres]"'
            ) from error
        if not isinstance(schema_sql, str):
            raise InvalidType(f"schema_sql must be SQL text, not {type(schema_sql).__name__}")
        if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
            raise InvalidValue(
                f"schema must be lowercase letters, digits and '_' (at most 48), not {schema!r}"
            )
        self._psycopg = psycopg
        self.url = url
        self.schema = schema
        self.schema_sql = schema_sql
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self.connection = psycopg.connect(
                url,
                autocommit=True,
                row_factory=dict_row,
                application_name=f"eda_kit read model {schema}",
                options=f"-c search_path={schema}",
            )
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable(
                f"read model {schema!r} on {redact_url(url)}: could not connect: {error}"
            ) from error
        try:
            with self.connection.transaction():
                self.connection.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"eda_kit read model {schema}",)
                )
                exists = self.connection.execute(
                    "SELECT 1 FROM information_schema.tables "
                    "WHERE table_schema = %s AND table_name = %s",
                    (schema, _POSITIONS),
                ).fetchone()
                if not exists:
                    self.connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                    self._create()
        except psycopg.Error as error:
            self.connection.close()
            raise StorageError(
                f"read model {schema!r}: could not create its tables: {error}"
            ) from error

    def _create(self) -> None:
        self.connection.execute(
            f"CREATE TABLE {_POSITIONS} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
        )
        if self.schema_sql.strip():
            self.connection.execute(self.schema_sql)

    # --- reading and writing ------------------------------------------------------------

    def execute(self, sql: str, params: Any = ()) -> int:
        """Run one statement that changes data; return the number of rows it changed."""
        with self._lock:
            return int(self.connection.execute(sql, params).rowcount)

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Rows of a ``SELECT``, each as a dict of column -> value."""
        with self._lock:
            return list(self.connection.execute(sql, params).fetchall())

    def query_one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        """The first row of a ``SELECT`` as a dict, or ``None`` when there is none."""
        with self._lock:
            row = self.connection.execute(sql, params).fetchone()
        return None if row is None else dict(row)

    @contextmanager
    def transaction(self) -> Iterator[PostgresReadModel]:
        """All changes inside happen together, or (if something raises) not at all."""
        with self._lock:
            with self.connection.transaction():
                yield self

    # --- positions ----------------------------------------------------------------------

    def checkpoint(self, name: str) -> PostgresCheckpoint:
        """The position of subscriber ``name``, kept in this read model (transactional)."""
        return PostgresCheckpoint(self, check_name(name))

    def checkpoints(self) -> dict[str, int]:
        """Every position kept here: subscriber name -> position."""
        rows = self.query(f"SELECT name, position FROM {_POSITIONS} ORDER BY name")
        return {row["name"]: int(row["position"]) for row in rows}

    def reset(self) -> None:
        """Empty the read model in one transaction: drop its tables, create them again, forget
        every position. (A crash half-way leaves the old read model as it was.)

        Tables that ``schema_sql`` does not make (an event store, an inbox or another read
        model sharing the schema) are never dropped: ``reset()`` refuses, naming them.
        """
        with self._lock:
            made = self._schema_tables() | {_POSITIONS}
            with self.transaction():
                tables = [
                    row["tablename"]
                    for row in self.connection.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1",
                        (self.schema,),
                    )
                ]
                others = [name for name in tables if name not in made]
                if others:
                    raise InvalidValue(
                        f"the read model's schema {self.schema!r} also holds "
                        f"{', '.join(others)}, which its schema_sql does not make (an event "
                        "store? an inbox? another read model?): emptying it would drop them "
                        "too. Give the read model a schema of its own"
                    )
                for name in tables:
                    self.connection.execute(f'DROP TABLE IF EXISTS "{name}" CASCADE')
                self._create()

    def _schema_tables(self) -> set[str]:
        """The tables ``schema_sql`` makes: run in a scratch schema, then rolled back."""
        scratch = f"eda_scratch_{secrets.token_hex(6)}"
        made: set[str] = set()
        try:
            with self.connection.transaction(force_rollback=True):
                self.connection.execute(f'CREATE SCHEMA "{scratch}"')
                self.connection.execute(f'SET LOCAL search_path = "{scratch}"')
                if self.schema_sql.strip():
                    self.connection.execute(self.schema_sql)
                made = {
                    row["tablename"]
                    for row in self.connection.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = %s", (scratch,)
                    )
                }
        except self._psycopg.Error as error:
            raise StorageError(
                f"read model {self.schema!r}: could not tell which tables schema_sql makes "
                f"(run in an empty schema, it failed: {error})"
            ) from error
        return made

    def close(self) -> None:
        with self._lock:
            self.connection.close()

    def __enter__(self) -> PostgresReadModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PostgresReadModel schema {self.schema!r}>"


class PostgresCheckpoint:
    """A subscriber's position in a :class:`PostgresReadModel` (a transactional checkpoint).

    ``transaction()`` opens the read model's transaction and locks this position's row first
    (``FOR UPDATE``), so two processes applying the same projection take turns.
    """

    def __init__(self, model: PostgresReadModel, name: str) -> None:
        self.model = model
        self.name = name

    def load(self) -> int:
        row = self.model.query_one(
            f"SELECT position FROM {_POSITIONS} WHERE name = %s", (self.name,)
        )
        return 0 if row is None else int(row["position"])

    @contextmanager
    def transaction(self) -> Iterator[PostgresReadModel]:
        with self.model.transaction() as unit:
            conn = self.model.connection
            conn.execute(
                f"INSERT INTO {_POSITIONS} (name, position) VALUES (%s, 0) ON CONFLICT DO NOTHING",
                (self.name,),
            )
            conn.execute(
                f"SELECT position FROM {_POSITIONS} WHERE name = %s FOR UPDATE", (self.name,)
            )
            yield unit

    def saved(self, unit: Any) -> int:
        return self.load()

    def save(self, unit: Any, position: int) -> None:
        position = check_positive_int(position, "checkpoint position", 0)
        self.model.execute(
            f"UPDATE {_POSITIONS} SET position = %s WHERE name = %s", (position, self.name)
        )

    def __repr__(self) -> str:
        return f"<PostgresCheckpoint {self.name!r} at position {self.load()}>"
