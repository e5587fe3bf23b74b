"""``PostgresEventStore``: the event store contract on a PostgreSQL server, for many processes.

The same promises as ``SQLiteEventStore`` (streams with contiguous versions, one global log,
optimistic concurrency, atomic batches, catch-up subscriptions, snapshots and checkpoints), on
the database most production event stores are built on. It needs psycopg 3 (``pip install
"eda_kit[postgres]"``) and a server; ``eda_kit.services`` starts a throwaway one for you::

    store = PostgresEventStore("postgresql://postgres@127.0.0.1:5432/test", schema="shop")
    store.append("order-A1", Event("OrderPlaced", {"total": 30}), expected_version=NO_STREAM)

Its tables live in one PostgreSQL *schema* (a namespace inside the database), so several
stores can share one database without seeing each other::

    eda_events     position BIGINT PRIMARY KEY         -- the global log: 1, 2, 3, ...
                   stream_id, version                  -- UNIQUE together
                   type, data, metadata, id, time      -- payloads as JSON text
    eda_log        one row: last_position              -- the position counter (and the lock)
    eda_snapshots  (stream_id, version) -> state
    eda_checkpoints  name -> position

**The gap problem, and the choice made here.** A reader follows the global log by position:
"give me everything after 41". That is only safe if no event can ever *appear* below a position
a reader has already passed. With the obvious design (``position BIGSERIAL``, writers inserting
concurrently) it can: ``nextval()`` is not transactional, so writer A takes position 42, writer
B takes 43 and commits first; a reader sees 43, moves its checkpoint past 42, and when A commits
its event is never delivered. Nothing fails; one event is silently skipped. Rolled-back
transactions leave holes too, so "wait until 42 shows up" can wait forever. Three answers from
the systems this kit learns from:

- *eventsourcing* (Python) takes ``LOCK TABLE ... IN EXCLUSIVE MODE`` in every inserting
  transaction: inserts are serialised, so positions are handed out in commit order. Reads
  (``ACCESS SHARE``) are not blocked.
- *Message DB* takes ``pg_advisory_xact_lock(hash(category))`` in ``write_message``: writes to
  one category (``order-*``) are serialised, which orders each category's log; the global
  position is not protected.
- *Marten* lets appends run concurrently and gives readers a **high-water mark**: the highest
  position below which it believes there are no more holes. A hole older than a threshold is
  assumed to be a rollback and skipped; telling a slow transaction from a rolled-back one is
  the hard part (Marten 9.16.1 fixed cases where the mark ran past in-flight events).

This store does what eventsourcing does, with a row lock instead of a table lock: every append
starts by updating the single row of ``eda_log`` (``last_position = last_position + n``). That
row lock is held until the transaction ends, so appends take positions one transaction at a
time, in commit order, and because the counter is part of the transaction, a rolled-back append
gives its positions back: **the log has no holes at all**. A reader never waits for a gap and
never skips one; it simply reads ``position > checkpoint``. The price is throughput: appends to
one store commit one after another (each waiting for its own disk flush), exactly like SQLite and
eventsourcing; a high-water mark buys concurrent appends at the price of that hard part. For a
course, and for most systems that fit one database, correct and simple wins.

**Appending** is one call of a PL/pgSQL function, ``eda_append(...)``, in one transaction and
one round trip::

    SELECT last_position FROM eda_log FOR UPDATE  -- the lock: waits for the append before us
    SELECT max(version) FROM eda_events WHERE stream_id = ...  -- the actual version
    -- compare with expected_version: on a mismatch return it, write nothing
    UPDATE eda_log SET last_position = last_position + n
    INSERT INTO eda_events ... (versions actual+1.., positions last+1..)
    NOTIFY eda_events_<schema>                  -- delivered to listeners at COMMIT

Under the lock, a conflict can only ever show up as a version mismatch, so concurrent writers
with one expected version get exactly one winner and ``WrongExpectedVersion`` for the rest;
the ``UNIQUE (stream_id, version)`` constraint is the safety net behind it.

**Live subscriptions.** ``NOTIFY`` is only a wake-up call: a store with live subscriptions keeps
one extra connection that ``LISTEN``\\ s, and on each notification its subscriptions read the
*table* from their own position (catch-up), exactly as a poll would. A notification carries
nothing that is trusted. If the listening connection dies (the server restarted, an admin
killed it), notifications sent meanwhile are lost, so after reconnecting every subscription
catches up from its position: nothing is skipped, and nothing is delivered twice. Appends made
through this same store object are delivered right after they commit, as in the other stores.

A listening connection can also die *silently* (a half-open TCP connection: a firewall or NAT
dropped it, the server's host vanished): nothing raises, notifications just stop. Two guards:
the listening connection uses TCP keepalives, so the operating system notices a dead peer
within about half a minute and the listener reconnects (and catches up); and when no
notification has woken the subscriptions for ``poll_seconds`` (5 s by default), the listener
wakes them anyway: a slow poll of the table, so a lost wake-up costs at most that much latency.

Payloads are stored as JSON *text*, exactly as written (``jsonb`` would reorder keys and refuse
``\\u0000``); times as ISO 8601 text, so an event reads back exactly as it was appended. Every
query is parameterised; nothing is pickled.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import DatabaseUnavailable, InvalidType, InvalidValue, StorageError, StoreClosed
from ..events import Event, RecordedEvent
from ..trace import Tracer
from .base import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    ExpectedVersion,
    Snapshot,
    TransactionalCheckpoint,
    WrongExpectedVersion,
    check_events,
    check_expected_version,
    check_limit,
    check_name,
    check_positive_int,
    check_stream_id,
    dump_json,
    encode_state,
    events_from_rows,
    retried_append,
)
from .subscriptions import StoreSubscription, Subscribable

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresEventStore", "SCHEMA_VERSION", "redact_url"]

#: The version of the tables and of eda_append(); raise it whenever either changes.
#: Version 2 added the unique (stream_id, id) index (retries: see store/base.py); a version-1
#: schema is upgraded when opened.
SCHEMA_VERSION = 2
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")
_NO_END = 2**62

# expected_version as the SQL function receives it: a named mode is a negative number.
_EXPECTED_CODES = {id(ANY): -1, id(NO_STREAM): 0, id(STREAM_EXISTS): -2}


def redact_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


def _schema_sql(schema: str) -> list[str]:
    """The statements that create a store's tables and its append function in ``schema``."""
    s = f'"{schema}"'
    return [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"""CREATE TABLE IF NOT EXISTS {s}.eda_events (
            position  BIGINT PRIMARY KEY,
            stream_id TEXT   NOT NULL,
            version   BIGINT NOT NULL,
            type      TEXT   NOT NULL,
            data      TEXT   NOT NULL,
            metadata  TEXT   NOT NULL,
            id        TEXT   NOT NULL,
            time      TEXT   NOT NULL,
            UNIQUE (stream_id, version)
        )""",
        _id_index(s),
        f"""CREATE TABLE IF NOT EXISTS {s}.eda_log (
            one_row        BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one_row),
            last_position  BIGINT  NOT NULL,
            schema_version INTEGER NOT NULL
        )""",
        f"""INSERT INTO {s}.eda_log (last_position, schema_version)
            VALUES (0, {SCHEMA_VERSION}) ON CONFLICT DO NOTHING""",
        f"""CREATE TABLE IF NOT EXISTS {s}.eda_snapshots (
            stream_id TEXT   NOT NULL,
            version   BIGINT NOT NULL,
            state     TEXT   NOT NULL,
            PRIMARY KEY (stream_id, version)
        )""",
        f"""CREATE TABLE IF NOT EXISTS {s}.eda_checkpoints (
            name     TEXT   PRIMARY KEY,
            position BIGINT NOT NULL
        )""",
        # The append, as one function: one round trip, one transaction. Returns
        # (appended, version): (true, new version), or (false, actual version) on a mismatch.
        f"""CREATE OR REPLACE FUNCTION {s}.eda_append(
            p_stream TEXT, p_expected BIGINT, p_types TEXT[], p_data TEXT[],
            p_metadata TEXT[], p_ids TEXT[], p_times TEXT[], p_writer TEXT,
            OUT appended BOOLEAN, OUT version BIGINT)
        LANGUAGE plpgsql AS $$
        DECLARE
            n      INTEGER := coalesce(cardinality(p_types), 0);
            last   BIGINT;
            actual BIGINT;
        BEGIN
            -- 1. The lock: one append at a time, so positions follow commit order.
            SELECT last_position INTO last FROM {s}.eda_log FOR UPDATE;
            -- 2. The check, under the lock (each statement sees the appends before us).
            SELECT coalesce(max(e.version), 0) INTO actual
              FROM {s}.eda_events e WHERE e.stream_id = p_stream;
            IF NOT (p_expected = -1                          -- ANY
                    OR (p_expected = -2 AND actual > 0)      -- STREAM_EXISTS
                    OR p_expected = actual) THEN             -- NO_STREAM (0) or exact
                appended := FALSE; version := actual;
                RETURN;
            END IF;
            IF n > 0 THEN
                -- 3. Take n positions (given back if this transaction rolls back) ...
                UPDATE {s}.eda_log SET last_position = last_position + n;
                -- 4. ... and store the batch: versions actual+1.., positions last+1..
                INSERT INTO {s}.eda_events
                       (position, stream_id, version, type, data, metadata, id, time)
                SELECT last + i, p_stream, actual + i, p_types[i], p_data[i], p_metadata[i],
                       p_ids[i], p_times[i]
                  FROM generate_subscripts(p_types, 1) AS i;
                -- 5. Wake the listeners (sent at COMMIT, never for a rollback).
                PERFORM pg_notify('eda_events_{schema}', (last + n)::text || ' ' || p_writer);
            END IF;
            appended := TRUE; version := actual + n;
        END $$""",
    ]


def _id_index(s: str) -> str:
    """One event id per stream: what tells a retried append from a new one."""
    return (
        f"CREATE UNIQUE INDEX IF NOT EXISTS eda_events_stream_ids ON {s}.eda_events (stream_id, id)"
    )


def _encode(event: Event) -> tuple[str, str, str, str, str]:
    """The text columns of one event, checked for what PostgreSQL text can't hold."""
    data, metadata = event.data, event.metadata
    columns = (
        event.type,
        "{}" if isinstance(data, dict) and not data else dump_json(data),
        "{}" if not metadata else dump_json(metadata),
        event.id,
        event.time.isoformat(),
    )
    if "\x00" in event.type or "\x00" in event.id:
        raise InvalidValue(
            f"event {event.type!r}: type and id must not contain NUL characters ('\\x00'); "
            "PostgreSQL text can't store them"
        )
    return columns


class PostgresEventStore(Subscribable):
    """An event store in a PostgreSQL schema (tables created if missing; reopened as they are).

    - ``url``: a libpq connection string, e.g. ``"postgresql://postgres@127.0.0.1:5432/test"``.
    - ``schema``: the PostgreSQL schema holding the tables (created if missing): lowercase
      letters, digits and ``_``, at most 48 characters. Default ``"public"``.
    - ``connect_timeout``: seconds to wait for the server before ``DatabaseUnavailable``.
    - ``poll_seconds``: live subscriptions read the table at least this often even when no
      ``NOTIFY`` woke them (a listener that died silently, a notification lost). Default 5.
    - ``tracer``: records each appended event ("sent") and subscription delivery.

    One store object holds one connection (guarded by a lock, so subscriptions may poll from a
    background thread) and, while it has live subscriptions, one listening connection. Open
    one store object per process. Use it as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "public",
        connect_timeout: float = 5.0,
        poll_seconds: float = 5.0,
        tracer: Tracer | None = None,
    ) -> None:
        super().__init__(tracer)
        try:
            import psycopg
        except ImportError as error:  # pragma: no cover  (the extra is missing)
            raise ImportError(
                'PostgresEventStore needs psycopg 3: pip install "eda_kit[postgres]"'
            ) from error
        if not isinstance(url, str) or not url:
            raise InvalidType(f"url must be a non-empty str, not {url!r}")
        if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
            raise InvalidValue(
                f"schema must be lowercase letters, digits and '_' (at most 48, not starting "
                f"with a digit), not {schema!r}"
            )
        if not isinstance(connect_timeout, int | float) or not 0 < connect_timeout < 3600:
            raise InvalidValue(
                f"connect_timeout must be seconds in (0, 3600), not {connect_timeout!r}"
            )
        if not isinstance(poll_seconds, int | float) or not 0.05 <= poll_seconds <= 3600:
            raise InvalidValue(
                f"poll_seconds must be seconds in [0.05, 3600], not {poll_seconds!r}"
            )
        self._psycopg = psycopg
        self.url = url
        self.schema = schema
        self.poll_seconds = float(poll_seconds)
        self.channel = f"eda_events_{schema}"
        self.connect_timeout = float(connect_timeout)
        self._writer = secrets.token_hex(8)  # tells our own NOTIFYs from other writers'
        self._lock = threading.RLock()
        self._closed = False
        self._listener: _Listener | None = None
        self._sql = _Statements(schema)
        self._conn = self._connect("open the event store")
        try:
            self._setup()
        except BaseException:
            self._conn.close()
            raise

    # --- connections ------------------------------------------------------------------------

    def _connect(self, doing: str, role: str = "store") -> psycopg.Connection[Any]:
        """A new connection, named ``eda_kit store <schema>`` (or ``listener``) on the server."""
        # The listener only ever waits: TCP keepalives let the OS notice a dead peer (a
        # half-open connection) in about 10 + 5 * 3 s, so it raises and the listener reconnects.
        keepalives: dict[str, Any] = (
            {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
             "keepalives_count": 3}
            if role == "listener"
            else {}
        )  # fmt: skip
        try:
            return self._psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=max(1, round(self.connect_timeout)),
                application_name=f"eda_kit {role} {self.schema}",
                **keepalives,
            )
        except self._psycopg.OperationalError as error:
            raise self._unavailable(doing, error) from error

    def new_connection(self, role: str) -> psycopg.Connection[Any]:
        """A new autocommit connection to this store's database, named ``eda_kit <role>
        <schema>`` on the server; for components that need their own transactions (a relay)."""
        self._check_open()
        return self._connect(f"open a connection for {role}", role)

    def _unavailable(self, doing: str, error: BaseException) -> DatabaseUnavailable:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return DatabaseUnavailable(
            f"PostgreSQL at {redact_url(self.url)} (schema {self.schema!r}): could not {doing}: "
            f"{reason}"
        )

    @contextmanager
    def _connection(self, doing: str, *, retry: bool) -> Iterator[psycopg.Connection[Any]]:
        """The store's connection, under the lock; reconnects if it broke since last time.

        ``retry``: the call is a read, safe to run again once on a fresh connection.
        """
        psycopg = self._psycopg
        with self._lock:
            self._check_open()
            if self._conn.closed:
                self._conn = self._connect(doing)
            try:
                yield self._conn
            except psycopg.OperationalError as error:
                if not self._conn.closed and not self._conn.broken:
                    raise  # a server-side error that is not about the connection
                if not retry:
                    raise self._unavailable(doing, error) from error
                self._conn.close()
                raise _Retry(error) from error

    def _read(
        self, doing: str, query: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run a read query; after a broken connection, reconnect and run it once more."""
        try:
            with self._connection(doing, retry=True) as conn:
                return conn.execute(query, params).fetchall()
        except _Retry:
            with self._connection(doing, retry=False) as conn:
                return conn.execute(query, params).fetchall()

    def _setup(self) -> None:
        psycopg = self._psycopg
        conn = self._conn
        try:
            with conn.transaction():
                # Two processes creating the same schema at once would collide in the catalog.
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"eda_kit schema {self.schema}",)
                )
                exists = conn.execute(
                    "SELECT 1 FROM information_schema.tables "
                    "WHERE table_schema = %s AND table_name = 'eda_log'",
                    (self.schema,),
                ).fetchone()
                if exists:  # reopening: touch nothing (appends may be running right now)
                    row = conn.execute(self._sql.schema_version).fetchone()
                    found = row[0] if row else None
                    if found == 1:  # upgrade: unique event ids per stream
                        conn.execute(_id_index(f'"{self.schema}"'))
                        conn.execute(f'UPDATE "{self.schema}".eda_log SET schema_version = 2')
                        return
                    if found != SCHEMA_VERSION:
                        raise StorageError(
                            f"schema {self.schema!r} holds event store tables of version "
                            f"{found}; this eda_kit reads version {SCHEMA_VERSION}"
                        )
                    return
                for statement in _schema_sql(self.schema):
                    conn.execute(statement)
        except psycopg.OperationalError as error:
            raise self._unavailable("create the event store tables", error) from error
        except psycopg.Error as error:
            raise StorageError(
                f"schema {self.schema!r} at {redact_url(self.url)} is not a usable eda_kit "
                f"event store: {str(error).strip()}"
            ) from error

    # --- writing ----------------------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        events: Event | Sequence[Event],
        expected_version: ExpectedVersion | int = ANY,
    ) -> int:
        """Append one event or a batch to ``stream_id``; return the stream's new version.

        One transaction: all the events or none. ``WrongExpectedVersion`` (nothing written)
        when the stream is not at ``expected_version``. An empty batch stores nothing and
        returns the current version (after the check).
        """
        stream_id = check_stream_id(stream_id)
        expected = check_expected_version(expected_version)
        batch = check_events(events)
        encoded = [_encode(event) for event in batch]
        columns = [[row[i] for row in encoded] for i in range(5)]  # types, data, metadata...
        code = _EXPECTED_CODES.get(id(expected), expected)
        doing = f"append to stream {stream_id!r}"
        with self._connection(doing, retry=False) as conn:
            if conn.broken:  # pragma: no cover  (noticed by the check in _connection)
                raise self._unavailable(doing, ConnectionError("connection lost"))
            try:
                appended, version = _row(
                    conn.execute(self._sql.append, (stream_id, code, *columns, self._writer))
                )
            except UnicodeEncodeError as error:
                raise InvalidValue(
                    f"stream {stream_id!r}: an event holds text that is not valid Unicode "
                    f"(a lone surrogate such as '\\ud800'); nothing was written ({error.reason})"
                ) from None
            except self._psycopg.errors.UniqueViolation as error:
                # An event id the stream holds (a retry, or a DuplicateEventId), or, as a
                # safety net, a version taken after all (a concurrency conflict).
                retried = self._retried(conn, stream_id, expected, batch)
                if retried is not None:
                    return retried  # nothing written: no notification, no trace
                actual = _row(conn.execute(self._sql.version, (stream_id,)))[0]
                raise WrongExpectedVersion(stream_id, expected, actual) from error
            if not appended:
                retried = self._retried(conn, stream_id, expected, batch)
                if retried is not None:
                    return retried
                raise WrongExpectedVersion(stream_id, expected, version)
            if self._tracer is not None:
                # Still under the lock: a listener's delivery can't overtake these records.
                for event in batch:
                    self._tracer.record(stream_id, event.type, None, "sent", event_id=event.id)
        if batch:
            self._notify_subscribers()
        return version

    def _retried(
        self,
        conn: psycopg.Connection[Any],
        stream_id: str,
        expected: ExpectedVersion | int,
        batch: tuple[Event, ...],
    ) -> int | None:
        """Is ``batch`` a retry of a stored append? (``base.retried_append`` decides.)"""
        if not batch:
            return None
        rows = conn.execute(self._sql.held_ids, (stream_id, [e.id for e in batch])).fetchall()
        held = {event.id: event for event in events_from_rows(rows)}
        return retried_append(stream_id, expected, batch, held)

    # --- reading ----------------------------------------------------------------------------

    def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events with ``from_version <= version <= to_version``, oldest first."""
        stream_id = check_stream_id(stream_id)
        start = check_positive_int(from_version, "from_version")
        end = _NO_END if to_version is None else check_positive_int(to_version, "to_version", 0)
        self._check_open()
        rows = self._read(
            f"read stream {stream_id!r}", self._sql.read_stream, (stream_id, start, end)
        )
        return events_from_rows(rows)

    def read_all(self, from_position: int = 1, limit: int | None = None) -> list[RecordedEvent]:
        """Events of all streams in global-log order, from ``from_position`` (at most ``limit``)."""
        start = check_positive_int(from_position, "from_position")
        limit = check_limit(limit)
        self._check_open()
        if limit == 0:
            return []
        rows = self._read(
            "read the global log", self._sql.read_all, (start, _NO_END if limit is None else limit)
        )
        return events_from_rows(rows)

    def stream_version(self, stream_id: str) -> int:
        """The stream's current version (0 when absent)."""
        stream_id = check_stream_id(stream_id)
        self._check_open()
        return self._read(f"read stream {stream_id!r}", self._sql.version, (stream_id,))[0][0]

    def last_position(self) -> int:
        """Position of the newest event in the store (0 when empty)."""
        self._check_open()
        return self._read("read the global log", self._sql.last_position)[0][0]

    def streams(self) -> list[str]:
        """All stream ids, in order of their first append."""
        self._check_open()
        return [row[0] for row in self._read("list the streams", self._sql.streams)]

    def replay(self, stream_id: str, handler: Callable[[RecordedEvent], Any]) -> int:
        """Call ``handler(event)`` for each event of the stream, in order; return the count."""
        events = self.read_stream(stream_id)
        for event in events:
            handler(event)
        return len(events)

    # --- snapshots and checkpoints (beside the log, never in it) ----------------------------

    def save_snapshot(self, stream_id: str, version: int, state: Any) -> None:
        """Keep ``state`` (JSON) as the stream's state at ``version`` (1..current version)."""
        stream_id = check_stream_id(stream_id)
        version = check_positive_int(version, "snapshot version")
        text = encode_state(state)
        with self._connection(f"save a snapshot of {stream_id!r}", retry=False) as conn:
            with conn.transaction():
                current = _row(conn.execute(self._sql.version, (stream_id,)))[0]
                if version > current:
                    raise InvalidValue(
                        f"snapshot version {version} is ahead of stream {stream_id!r}, "
                        f"which is at version {current}"
                    )
                conn.execute(self._sql.save_snapshot, (stream_id, version, text))

    def load_snapshot(self, stream_id: str, max_version: int | None = None) -> Snapshot | None:
        """The newest snapshot with ``version <= max_version`` (any version if None), or None."""
        stream_id = check_stream_id(stream_id)
        if max_version is not None:
            max_version = check_positive_int(max_version, "max_version", 0)
        self._check_open()
        rows = self._read(
            f"load a snapshot of {stream_id!r}",
            self._sql.load_snapshot,
            (stream_id, _NO_END if max_version is None else max_version),
        )
        if not rows:
            return None
        return Snapshot(stream_id, rows[0][0], json.loads(rows[0][1]))

    def load_checkpoint(self, name: str) -> int:
        """The position saved under ``name`` (0 if none)."""
        name = check_name(name)
        self._check_open()
        rows = self._read(f"load checkpoint {name!r}", self._sql.load_checkpoint, (name,))
        return rows[0][0] if rows else 0

    def save_checkpoint(self, name: str, position: int) -> None:
        """Save ``position`` (0..last position) under ``name``, replacing any earlier value."""
        name = check_name(name)
        position = check_positive_int(position, "checkpoint position", 0)
        with self._connection(f"save checkpoint {name!r}", retry=False) as conn:
            saved = conn.execute(
                self._sql.save_checkpoint, {"name": name, "position": position}
            ).fetchone()
            if saved is None:
                last = _row(conn.execute(self._sql.last_position))[0]
                raise InvalidValue(
                    f"checkpoint position {position} is beyond the end of the log ({last})"
                )

    # --- live subscriptions -----------------------------------------------------------------

    def subscribe(
        self,
        handler: Callable[..., Any],
        from_position: int = 1,
        *,
        checkpoint: str | TransactionalCheckpoint | None = None,
        name: str | None = None,
        live: bool = True,
        batch_size: int = 100,
    ) -> StoreSubscription:
        """Catch up, then follow the log live (see ``Subscribable.subscribe`` for the options).

        Live subscriptions are woken by PostgreSQL's ``LISTEN``/``NOTIFY``, so appends made by
        other processes arrive without polling.
        """
        self._check_open()
        if live:
            self._ensure_listener()  # listening *before* the catch-up: no append falls between
        return super().subscribe(
            handler,
            from_position,
            checkpoint=checkpoint,
            name=name,
            live=live,
            batch_size=batch_size,
        )

    def _ensure_listener(self) -> None:
        with self._lock:
            if self._listener is None and not self._closed:
                self._listener = _Listener(self)
                self._listener.start()
                self._listener.ready.wait(self.connect_timeout)

    @property
    def listening(self) -> bool:
        """Is the listening connection up (``LISTEN`` active) right now?"""
        listener = self._listener
        return listener is not None and listener.ready.is_set()

    @property
    def listener_reconnects(self) -> int:
        """How many times the listening connection was lost and opened again."""
        return 0 if self._listener is None else self._listener.reconnects

    # --- lifetime ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop subscriptions and the listener, close the connection. Safe to call twice."""
        self._close_subscriptions()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the event store is closed")

    def __enter__(self) -> PostgresEventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = re.sub(r"^[a-z]+://([^@/]*@)?", "", redact_url(self.url))
        state = "closed" if self._closed else "open"
        return f"<PostgresEventStore {where} schema {self.schema!r}: {state}>"


def _row(cursor: Any) -> tuple[Any, ...]:
    """The one row a query of this store always returns."""
    row = cursor.fetchone()
    if row is None:  # pragma: no cover  (every such query returns exactly one row)
        raise StorageError("the database returned no row where one was expected")
    return tuple(row)


class _Retry(Exception):
    """Internal: the connection broke during a read; run it again on a fresh one."""


class _Statements:
    """The SQL of one store, with its schema filled in once."""

    def __init__(self, schema: str) -> None:
        s = f'"{schema}"'
        columns = "position, stream_id, version, type, data, metadata, id, time"
        # %b: the five arrays travel in binary, so their JSON texts need no quoting and
        # escaping one by one (that, not the server, was most of a batch's time in Python).
        self.append = (
            f"SELECT appended, version FROM {s}.eda_append("
            "%s, %s, %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %s)"
        )
        self.version = f"SELECT coalesce(max(version), 0) FROM {s}.eda_events WHERE stream_id = %s"
        self.held_ids = (
            f"SELECT {columns} FROM {s}.eda_events WHERE stream_id = %s AND id = ANY(%s) "
            "ORDER BY position"
        )
        self.read_stream = (
            f"SELECT {columns} FROM {s}.eda_events WHERE stream_id = %s "
            "AND version BETWEEN %s AND %s ORDER BY version"
        )
        self.read_all = (
            f"SELECT {columns} FROM {s}.eda_events WHERE position >= %s ORDER BY position LIMIT %s"
        )
        self.last_position = f"SELECT coalesce(max(position), 0) FROM {s}.eda_events"
        self.streams = f"SELECT stream_id FROM {s}.eda_events WHERE version = 1 ORDER BY position"
        self.schema_version = f"SELECT schema_version FROM {s}.eda_log"
        self.save_snapshot = (
            f"INSERT INTO {s}.eda_snapshots (stream_id, version, state) VALUES (%s, %s, %s) "
            "ON CONFLICT (stream_id, version) DO UPDATE SET state = excluded.state"
        )
        self.load_snapshot = (
            f"SELECT version, state FROM {s}.eda_snapshots WHERE stream_id = %s "
            "AND version <= %s ORDER BY version DESC LIMIT 1"
        )
        self.load_checkpoint = f"SELECT position FROM {s}.eda_checkpoints WHERE name = %s"
        # Saves only a position within the log; returns no row (saves nothing) otherwise.
        self.save_checkpoint = (
            f"INSERT INTO {s}.eda_checkpoints (name, position) "
            "SELECT %(name)s, %(position)s WHERE %(position)s <= "
            f"(SELECT coalesce(max(position), 0) FROM {s}.eda_events) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position RETURNING position"
        )


class _Listener(threading.Thread):
    """The listening connection: wakes the store's subscriptions on each ``NOTIFY``.

    A notification is only a hint that something was appended: subscriptions then read the
    table from their own positions. After the connection was lost, every subscription catches
    up, since notifications sent meanwhile were not seen. (The first connection needs no
    catch-up: ``subscribe`` starts listening before its own catch-up read.) When no
    notification came for ``store.poll_seconds``, it wakes them anyway (a slow poll).
    """

    def __init__(self, store: PostgresEventStore) -> None:
        super().__init__(name=f"eda_kit listener {store.schema}", daemon=True)
        self._store = store
        self._stopping = threading.Event()
        self.ready = threading.Event()  # LISTEN is active
        self.reconnects = 0
        self.polls = 0  # wake-ups by the slow poll, not by a notification
        self._conn: Any = None

    def run(self) -> None:
        store = self._store
        psycopg = store._psycopg
        delay = 0.05
        while not self._stopping.is_set():
            try:
                self._conn = store._connect("listen for appends", "listener")
                with self._conn as conn:
                    conn.execute(f'LISTEN "{store.channel}"')
                    self.ready.set()
                    delay = 0.05
                    if self.reconnects:
                        store._notify_subscribers()  # catch up on what we did not hear
                    woken = time.monotonic()
                    while not self._stopping.is_set():
                        # Returns at the first notification (or after a short while, to
                        # look at _stopping and the poll): each one is only a wake-up call.
                        wait = min(0.5, store.poll_seconds)
                        notes = list(conn.notifies(timeout=wait, stop_after=1))
                        heard = any(not n.payload.endswith(store._writer) for n in notes)
                        if heard or time.monotonic() - woken >= store.poll_seconds:
                            woken = time.monotonic()
                            self.polls += not heard
                            store._notify_subscribers()
            except (psycopg.Error, DatabaseUnavailable):
                pass  # the connection is gone: reconnect below, then catch up
            except StoreClosed:  # the store was closed under us
                return
            self.ready.clear()
            if self._stopping.wait(delay):
                return
            self.reconnects += 1
            delay = min(delay * 2, 2.0)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)
