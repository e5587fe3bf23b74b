"""``SQLiteEventStore``: the event store contract in one SQLite file, safe across processes.

Why SQLite? It is a real database in a single file, in Python's standard library, and it
gives us the three things an event store needs: atomic transactions (a batch is stored
whole or not at all, even if the process is killed half-way), durable commits (``fsync``),
and one writer at a time across processes (its write lock).

The file holds three tables::

    events       position INTEGER PRIMARY KEY   -- the global log: 1, 2, 3, ...
                 stream_id, version             -- UNIQUE together: one event per version
                 type, data, metadata           -- data and metadata as JSON text
                 id, time                       -- UNIQUE (stream_id, id); time as ISO 8601
    snapshots    (stream_id, version) -> state  -- JSON; beside the log, never in it
    checkpoints  name -> position               -- where each named subscriber got to

and, in SQLite's file header, ``application_id`` = ``APPLICATION_ID`` ("this is an eda_kit event
store") and ``user_version`` = ``SCHEMA_VERSION``. A file that is not empty and not an eda_kit
store (another program's database) is refused before anything in it changes.

**Appending** is one transaction::

    BEGIN IMMEDIATE                  -- take the write lock now (waits up to `timeout` s)
    SELECT max(version) FROM events WHERE stream_id = ?      -- the actual version
    -- compare with expected_version: on mismatch ROLLBACK, raise WrongExpectedVersion
    INSERT INTO events ... (one row per event, versions actual+1, actual+2, ...)
    COMMIT                           -- with synchronous=FULL: on disk when this returns

``BEGIN IMMEDIATE`` is the important word: the version check and the insert happen while
this connection holds the only write lock, so no other process can slip an event in
between. (A plain ``BEGIN`` would read first and ask for the lock later, and two processes
could both read version 3.) The ``UNIQUE (stream_id, version)`` constraint is the safety
net: if it ever fires, the store re-reads the stream and raises ``WrongExpectedVersion``,
never a raw ``IntegrityError``. The ``UNIQUE (stream_id, id)`` index does the same for event
ids: a happy append pays one index insert per event, and only a collision looks further, to tell
a retry (the same events again: nothing written, the first result returned) from a
``DuplicateEventId`` (see ``store/base.py``).

**Durability.** The file uses write-ahead logging (WAL: readers never block the writer and
vice versa) with ``synchronous=FULL`` by default, the same as the ``eventsourcing``
library: when ``append`` returns, the events survive a power cut. ``synchronous="NORMAL"``
is the documented faster switch: still atomic and never corrupt, still safe if the *process*
crashes, but the last few commits may be lost if the *machine* loses power.

**Threads.** One store object has one connection, guarded by a lock, so subscriptions may
poll from a background thread. For more parallelism across processes, open one store
object per process: SQLite coordinates them through the file.

Every query is parameterised (``?``), payloads are JSON, nothing is pickled. Errors from the
``sqlite3`` driver never escape raw: they become ``StorageError`` (``StoreLocked`` for a lock
held too long) naming the file and the stream (``store/sqlite_files.py``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..errors import InvalidType, InvalidValue, StorageError, StoreClosed, StoreLocked
from ..events import Event, RecordedEvent, build_recorded
from ..trace import Tracer
from .base import (
    ANY,
    ExpectedVersion,
    Snapshot,
    WrongExpectedVersion,
    check_events,
    check_expected_version,
    check_limit,
    check_name,
    check_positive_int,
    check_seconds,
    check_stream_id,
    decode_stored_json,
    dump_json,
    encode_state,
    events_from_rows,
    retried_append,
    unreadable_rows,
    version_matches,
)
from .sqlite_files import (
    DatabaseFile,
    check_database_path,
    describe_database,
    inspect_database,
    is_busy,
    storage_error,
)
from .subscriptions import Subscribable

__all__ = ["SQLiteEventStore", "SYNCHRONOUS_MODES"]

#: Accepted ``synchronous`` settings, safest last. FULL is the default.
SYNCHRONOUS_MODES = ("NORMAL", "FULL", "EXTRA")

#: The file format this code writes. Version 1 (eda_kit 0.1) had no unique event ids; it is
#: upgraded in place on open.
SCHEMA_VERSION = 2
#: Stamped in the file header: "an eda_kit event store" (the bytes of "edks").
APPLICATION_ID = 0x6564_6B73
_V1_TABLES = frozenset({"events", "snapshots", "checkpoints"})
_ID_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS events_stream_ids ON events (stream_id, id)"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        position  INTEGER PRIMARY KEY,
        stream_id TEXT    NOT NULL,
        version   INTEGER NOT NULL,
        type      TEXT    NOT NULL,
        data      TEXT    NOT NULL,
        metadata  TEXT    NOT NULL,
        id        TEXT    NOT NULL,
        time      TEXT    NOT NULL,
        UNIQUE (stream_id, version)
    )""",
    # streams() in order of first append: a small index of each stream's first event.
    """CREATE INDEX IF NOT EXISTS events_stream_starts
        ON events (position, stream_id) WHERE version = 1""",
    """CREATE TABLE IF NOT EXISTS snapshots (
        stream_id TEXT    NOT NULL,
        version   INTEGER NOT NULL,
        state     TEXT    NOT NULL,
        PRIMARY KEY (stream_id, version)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS checkpoints (
        name     TEXT    PRIMARY KEY,
        position INTEGER NOT NULL
    ) WITHOUT ROWID""",
    _ID_INDEX,
)

_COLUMNS = "position, stream_id, version, type, data, metadata, id, time"
_SELECT_VERSION = "SELECT max(version) FROM events WHERE stream_id = ?"
_INSERT = (
    "INSERT INTO events (stream_id, version, type, data, metadata, id, time) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_STREAM_COLUMNS = "position, version, type, data, metadata, id, time"
_READ_STREAM = (
    f"SELECT {_STREAM_COLUMNS} FROM events WHERE stream_id = ? AND version BETWEEN ? AND ? "
    "ORDER BY version"
)
_READ_ALL = f"SELECT {_COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?"
_NO_END = 2**62  # "no upper bound" for version and position ranges
_LAST_POSITION = "SELECT max(position) FROM events"
_STREAMS = "SELECT stream_id FROM events WHERE version = 1 ORDER BY position"
_HELD_IDS = (
    f"SELECT {_COLUMNS} FROM events WHERE stream_id = ? "
    "AND id IN (SELECT value FROM json_each(?)) ORDER BY position"
)


def _to_stream_events(stream_id: str, rows: list[tuple[Any, ...]]) -> list[RecordedEvent]:
    """Like ``base.events_from_rows``, for rows of one stream (its id is not fetched again)."""
    decode = decode_stored_json
    parse_time = datetime.fromisoformat
    make = build_recorded
    return [
        make(
            type_,
            decode(data),
            decode(metadata),
            id_,
            parse_time(time_),
            stream_id,
            version,
            position,
        )
        for position, version, type_, data, metadata, id_, time_ in rows
    ]


def _encode(event: Event) -> tuple[str, str, str, str, str]:
    """The text columns of one event (before the transaction: bad payloads fail here)."""
    data = event.data
    metadata = event.metadata
    return (
        event.type,
        "{}" if isinstance(data, dict) and not data else dump_json(data),
        "{}" if not metadata else dump_json(metadata),
        event.id,
        event.time.isoformat(),
    )


class SQLiteEventStore(Subscribable):
    """An event store in one SQLite file (created if missing; reopened with everything in it).

    - ``path``: the file (``str`` or ``os.PathLike``); ``":memory:"`` for a private,
      throwaway database (then nothing is shared or kept).
    - ``synchronous``: ``"FULL"`` (default: durable when ``append`` returns), ``"NORMAL"``
      (faster; may lose the last commits on power loss, never on a process crash) or
      ``"EXTRA"``.
    - ``timeout``: seconds to wait for another process's write lock before giving up with a
      ``TimeoutError`` (conflicts on a stream never wait: they raise WrongExpectedVersion).
    - ``tracer``: records each appended event ("sent") and subscription delivery.

    Use it as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        timeout: float = 30.0,
        tracer: Tracer | None = None,
    ) -> None:
        super().__init__(tracer)
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidType(f"path must be a str or a path, not {type(path).__name__}")
        mode = str(synchronous).upper()
        if mode not in SYNCHRONOUS_MODES:
            raise InvalidValue(
                f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, not {synchronous!r}"
            )
        self.timeout = check_seconds(timeout, "timeout")
        self.path = check_database_path(os.fspath(path), "event store")
        self.synchronous = mode
        self._lock = threading.RLock()
        self._closed = False
        # Look before touching: another program's database is refused unchanged.
        _check_kind(inspect_database(self.path, "event store"), self.path)
        try:
            # isolation_level=None: we write BEGIN/COMMIT ourselves. check_same_thread=False:
            # the lock above makes sharing the connection with delivery threads safe.
            self._conn = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise storage_error(error, self.path, "opening the event store") from error
        try:
            self._setup()
        except sqlite3.DatabaseError as error:
            self._conn.close()
            if is_busy(error):
                raise storage_error(error, self.path, "opening the event store") from error
            raise InvalidValue(
                f"{self.path!r} is not a usable eda_kit event store ({error})"
            ) from error
        except BaseException:
            self._conn.close()
            raise

    def _setup(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        if self.path != ":memory:":
            # Switching to WAL needs a moment of exclusive access; retry while others open.
            self._retry_while_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        self._begin()
        try:
            found = describe_database(conn)  # again, now under the write lock
            _check_kind(found, self.path)
            if found.user_version < SCHEMA_VERSION:
                for statement in _SCHEMA[:-1]:
                    conn.execute(statement)
                self._add_id_index()
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _add_id_index(self) -> None:
        """The unique (stream_id, id) index; a version-1 file may hold an id twice."""
        try:
            self._conn.execute(_ID_INDEX)
        except sqlite3.IntegrityError as error:
            stream_id, event_id, count = self._conn.execute(
                "SELECT stream_id, id, count(*) FROM events GROUP BY stream_id, id "
                "HAVING count(*) > 1 LIMIT 1"
            ).fetchone()
            raise StorageError(
                f"{self.path!r} was written by an older eda_kit that stored event {event_id!r} "
                f"{count} times in stream {stream_id!r}; this version keeps event ids unique "
                "per stream, so it can't open the file as it is. It was left unchanged: copy "
                "its events into a new store, giving the repeats new ids"
            ) from error

    def _retry_while_busy(self, action: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return action()
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
                if time.monotonic() > deadline:
                    raise self._timeout_error() from error
                time.sleep(0.01)

    def _timeout_error(self) -> StoreLocked:
        return StoreLocked(
            f"could not get the write lock on {self.path!r} within {self.timeout} s: "
            "another process holds it (raise timeout= if that is expected)"
        )

    def _begin(self) -> None:
        """Start a write transaction, holding SQLite's write lock until COMMIT/ROLLBACK."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if is_busy(error):
                raise self._timeout_error() from error
            raise

    def _failed(self, error: sqlite3.Error, doing: str, stream_id: str | None = None) -> Exception:
        """A driver error as the kit's (rolling back a transaction left open by it)."""
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:  # pragma: no cover  (the connection itself is gone)
            pass
        return storage_error(error, self.path, doing, stream_id)

    # --- writing -------------------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        events: Event | Sequence[Event],
        expected_version: ExpectedVersion | int = ANY,
    ) -> int:
        """Append one event or a batch to ``stream_id``; return the stream's new version.

        One transaction: all the events or none. ``WrongExpectedVersion`` (nothing written)
        when the stream is not at ``expected_version``. The same events appended again at the
        same expected version (a retry) store nothing and return the first append's result;
        other known event ids raise ``DuplicateEventId`` (see ``store/base.py``). An empty
        batch stores nothing and returns the current version (after the check).
        """
        stream_id = check_stream_id(stream_id)
        expected = check_expected_version(expected_version)
        batch = check_events(events)
        encoded = [_encode(event) for event in batch]
        with self._lock:
            self._check_open()
            try:
                version, wrote = self._append_locked(stream_id, expected, batch, encoded)
            except sqlite3.Error as error:
                raise self._failed(error, "appending to", stream_id) from error
        if wrote and batch:
            if self._tracer is not None:
                for event in batch:
                    self._tracer.record(stream_id, event.type, None, "sent", event_id=event.id)
            self._notify_subscribers()
        return version

    def _append_locked(
        self,
        stream_id: str,
        expected: ExpectedVersion | int,
        batch: tuple[Event, ...],
        encoded: list[tuple[str, str, str, str, str]],
    ) -> tuple[int, bool]:
        """(the stream's version, whether anything was written); the caller holds the lock."""
        conn = self._conn
        self._begin()
        try:
            actual = conn.execute(_SELECT_VERSION, (stream_id,)).fetchone()[0] or 0
            if not version_matches(expected, actual):
                retried = self._retried(stream_id, expected, batch)
                if retried is None:
                    raise WrongExpectedVersion(stream_id, expected, actual)
                conn.execute("ROLLBACK")
                return retried, False
            if encoded:
                conn.executemany(
                    _INSERT, [(stream_id, actual + i, *row) for i, row in enumerate(encoded, 1)]
                )
            conn.execute("COMMIT")
            return actual + len(batch), True
        except sqlite3.IntegrityError as error:
            # An event id the stream already holds (a retry, or a DuplicateEventId). Or, should
            # the version check under BEGIN IMMEDIATE ever miss, a version taken by someone
            # else: a concurrency conflict, reported as one (never a raw IntegrityError).
            conn.execute("ROLLBACK")
            retried = self._retried(stream_id, expected, batch)
            if retried is None:
                actual = conn.execute(_SELECT_VERSION, (stream_id,)).fetchone()[0] or 0
                raise WrongExpectedVersion(stream_id, expected, actual) from error
            return retried, False
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _retried(
        self, stream_id: str, expected: ExpectedVersion | int, batch: tuple[Event, ...]
    ) -> int | None:
        """Is ``batch`` a retry of a stored append? (``base.retried_append`` decides.)"""
        if not batch:
            return None
        ids = dump_json([event.id for event in batch])
        rows = self._conn.execute(_HELD_IDS, (stream_id, ids)).fetchall()
        held = {event.id: event for event in self._events(rows)}
        return retried_append(stream_id, expected, batch, held)

    # --- reading -------------------------------------------------------------------------

    def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events with ``from_version <= version <= to_version``, oldest first."""
        stream_id = check_stream_id(stream_id)
        start = check_positive_int(from_version, "from_version")
        with self._lock:
            self._check_open()
            end = _NO_END if to_version is None else check_positive_int(to_version, "to_version", 0)
            try:
                rows = self._conn.execute(_READ_STREAM, (stream_id, start, end)).fetchall()
            except sqlite3.Error as error:
                raise self._failed(error, "reading", stream_id) from error
        try:
            return _to_stream_events(stream_id, rows)
        except (ValueError, RecursionError) as error:
            full = [(row[0], stream_id, *row[1:]) for row in rows]
            raise unreadable_rows(repr(self.path), full, error) from error

    def read_all(self, from_position: int = 1, limit: int | None = None) -> list[RecordedEvent]:
        """Events of all streams in global-log order, from ``from_position`` (at most ``limit``)."""
        start = check_positive_int(from_position, "from_position")
        limit = check_limit(limit)
        with self._lock:
            self._check_open()
            try:
                rows = self._conn.execute(
                    _READ_ALL, (start, -1 if limit is None else limit)
                ).fetchall()
            except sqlite3.Error as error:
                raise self._failed(error, "reading the log of") from error
        return self._events(rows)

    def _events(self, rows: list[tuple[Any, ...]]) -> list[RecordedEvent]:
        try:
            return events_from_rows(rows)
        except (ValueError, RecursionError) as error:
            raise unreadable_rows(repr(self.path), rows, error) from error

    def _query(
        self, sql: str, params: tuple[Any, ...], doing: str, stream_id: str | None = None
    ) -> Any:
        """One row of a read-only query (the caller holds the lock)."""
        try:
            return self._conn.execute(sql, params).fetchone()
        except sqlite3.Error as error:
            raise self._failed(error, doing, stream_id) from error

    def stream_version(self, stream_id: str) -> int:
        """The stream's current version (0 when absent)."""
        stream_id = check_stream_id(stream_id)
        with self._lock:
            self._check_open()
            row = self._query(_SELECT_VERSION, (stream_id,), "reading", stream_id)
            return row[0] or 0

    def last_position(self) -> int:
        """Position of the newest event in the store (0 when empty)."""
        with self._lock:
            self._check_open()
            return self._query(_LAST_POSITION, (), "reading the log of")[0] or 0

    def streams(self) -> list[str]:
        """All stream ids, in order of their first append."""
        with self._lock:
            self._check_open()
            try:
                return [row[0] for row in self._conn.execute(_STREAMS)]
            except sqlite3.Error as error:
                raise self._failed(error, "listing the streams of") from error

    def replay(self, stream_id: str, handler: Callable[[RecordedEvent], Any]) -> int:
        """Call ``handler(event)`` for each event of the stream, in order; return the count."""
        events = self.read_stream(stream_id)
        for event in events:
            handler(event)
        return len(events)

    # --- snapshots and checkpoints (beside the log, never in it) --------------------------

    def save_snapshot(self, stream_id: str, version: int, state: Any) -> None:
        """Keep ``state`` (JSON) as the stream's state at ``version`` (1..current version).

        Saving again at the same version replaces it. Streams and positions don't change.
        """
        stream_id = check_stream_id(stream_id)
        version = check_positive_int(version, "snapshot version")
        text = encode_state(state)
        with self._lock:
            self._check_open()
            conn = self._conn
            try:
                self._begin()
                try:
                    current = conn.execute(_SELECT_VERSION, (stream_id,)).fetchone()[0] or 0
                    if version > current:
                        raise InvalidValue(
                            f"snapshot version {version} is ahead of stream {stream_id!r}, "
                            f"which is at version {current}"
                        )
                    conn.execute(
                        "INSERT OR REPLACE INTO snapshots (stream_id, version, state) "
                        "VALUES (?, ?, ?)",
                        (stream_id, version, text),
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise self._failed(error, "saving a snapshot of", stream_id) from error

    def load_snapshot(self, stream_id: str, max_version: int | None = None) -> Snapshot | None:
        """The newest snapshot with ``version <= max_version`` (any version if None), or None."""
        stream_id = check_stream_id(stream_id)
        if max_version is not None:
            max_version = check_positive_int(max_version, "max_version", 0)
        with self._lock:
            self._check_open()
            row = self._query(
                "SELECT version, state FROM snapshots WHERE stream_id = ? AND version <= ? "
                "ORDER BY version DESC LIMIT 1",
                (stream_id, _NO_END if max_version is None else max_version),
                "loading a snapshot of",
                stream_id,
            )
        if row is None:
            return None
        return Snapshot(stream_id, row[0], json.loads(row[1]))

    def load_checkpoint(self, name: str) -> int:
        """The position saved under ``name`` (0 if none)."""
        name = check_name(name)
        with self._lock:
            self._check_open()
            row = self._query(
                "SELECT position FROM checkpoints WHERE name = ?",
                (name,),
                f"loading checkpoint {name!r} of",
            )
        return 0 if row is None else row[0]

    def save_checkpoint(self, name: str, position: int) -> None:
        """Save ``position`` (0..last position) under ``name``, replacing any earlier value."""
        name = check_name(name)
        position = check_positive_int(position, "checkpoint position", 0)
        with self._lock:
            self._check_open()
            last = self.last_position()
            if position > last:
                raise InvalidValue(
                    f"checkpoint position {position} is beyond the end of the log ({last})"
                )
            try:
                self._retry_while_busy(
                    lambda: self._conn.execute(
                        "INSERT INTO checkpoints (name, position) VALUES (?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                        (name, position),
                    )
                )
            except sqlite3.Error as error:
                raise self._failed(error, f"saving checkpoint {name!r} of") from error

    # --- lifetime ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop subscriptions and close the file. Safe to call twice."""
        self._close_subscriptions()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the event store is closed")

    def integrity_check(self) -> str:
        """SQLite's own check of the file: ``"ok"`` when all is well."""
        with self._lock:
            self._check_open()
            return self._query("PRAGMA integrity_check", (), "checking")[0]

    def __enter__(self) -> SQLiteEventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"synchronous={self.synchronous}"
        return f"<SQLiteEventStore {os.path.basename(self.path)!r}: {state}>"


def _check_kind(found: DatabaseFile | None, path: str) -> None:
    """Refuse a file that is not an eda_kit event store (or is one from a newer eda_kit)."""
    if found is None or found.empty:
        return  # a new store
    if found.application_id == APPLICATION_ID or (
        found.application_id == 0 and found.user_version == 1 and found.tables == _V1_TABLES
    ):
        if found.user_version > SCHEMA_VERSION:
            raise InvalidValue(
                f"{path!r} has event store schema version {found.user_version}; this eda_kit "
                f"reads versions up to {SCHEMA_VERSION} (upgrade eda_kit)"
            )
        return  # ours (version 1 files have no application id yet)
    if found.application_id == 0 and found.user_version > SCHEMA_VERSION and not found.tables:
        raise InvalidValue(
            f"{path!r} has schema version {found.user_version}; this eda_kit reads event "
            f"stores up to version {SCHEMA_VERSION}"
        )
    owner = (
        f"application id {found.application_id:#x}"
        if found.application_id
        else "tables " + ", ".join(sorted(found.tables))
    )
    raise InvalidValue(
        f"{path!r} is another program's SQLite database ({owner}), not an eda_kit event "
        "store; it was left untouched. Give the event store a file of its own"
    )
