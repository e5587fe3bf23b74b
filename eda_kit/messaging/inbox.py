"""The inbox: a consumer that handles each message once, however often it arrives.

At-least-once delivery (a relay re-publishing after a crash, a broker redelivering an
unacknowledged message, a bus retrying) means a consumer sees some messages twice. The inbox
remembers the id of every message it has handled, **in the same transaction as the
handler's change**::

    BEGIN
      INSERT INTO inbox (consumer, message_id) ...   -- already there? a duplicate: skip
      ... the handler's own change, on the same connection ...
    COMMIT                                           -- both, or neither

- A duplicate finds its id and is skipped: ``handle`` returns ``False``.
- A handler that raises rolls back its change *and* the id: the message is not handled, and
  its redelivery runs the handler again.
- A crash (``kill -9``) anywhere before ``COMMIT`` rolls back both, too; after ``COMMIT``
  both are kept and the redelivery is skipped. There is no moment where the change is kept
  and the id is not, or the reverse: that is the whole point. (Recording the id *after* the
  change, in a separate step, would double-apply after a crash between the two; recording it
  *before* would lose the message.)

The message id is the event's ``id``, which the relay republishes unchanged. A publisher
that *retries* by building a new event for the same fact sends a new id: the inbox cannot
tell, so such facts need an idempotency key in the data (see
:mod:`eda_kit.messaging.idempotency`).

The reverse mistake loses a message: the stores keep ids unique *per stream* (KurrentDB's rule),
so one ``Event`` object appended to two streams is two messages with one id, and the inbox skips
the second as a duplicate. An event that belongs in two streams is two events: give the copy an
id of its own (``Event(e.type, e.data, e.metadata)``).

Two backends: :class:`SQLiteInbox` (the ids in the consumer's own database, so its tables and
the ids share a transaction; the handler gets the ``sqlite3.Connection``) and
:class:`InMemoryInbox` (the handler gets a working copy of a JSON ``state`` dict that replaces
the real one only if it returns). Use either as a bus subscriber::

    bus.subscribe("order.placed", inbox.subscriber(reserve_stock), name="Inventory")

Crash points, for notebooks and tests: ``before_handler`` (id claimed in the open
transaction), ``after_handler`` (change made, not committed), ``after_commit``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ..clock import now as clock_now
from ..errors import InvalidType, InvalidValue, StoreClosed
from ..events import Event
from ..payloads import check_storable_text, freeze_json, thaw
from .crash import CrashSwitch
from .idempotency import check_seconds
from .sqlite_db import begin_write, check_table, open_database

__all__ = ["Inbox", "InMemoryInbox", "SQLiteInbox", "INBOX_CRASH_POINTS"]

#: Where an inbox can be made to crash, in the order it passes them for each message.
INBOX_CRASH_POINTS: Final = ("before_handler", "after_handler", "after_commit")


class Inbox(ABC):
    """Handle each message id once per ``consumer``, atomically with the handler's change.

    ``handled`` counts messages this object handled; ``duplicates`` those it skipped.
    """

    def __init__(
        self,
        consumer: str,
        *,
        crash_at: str | None = None,
        crash_skip: int = 0,
        hard_crash: bool = False,
        clock: Callable[[], datetime] = clock_now,
    ) -> None:
        if not isinstance(consumer, str) or not consumer.strip():
            raise InvalidValue(f"an inbox needs a non-empty consumer name, not {consumer!r}")
        check_storable_text(consumer, "consumer name")
        if not callable(clock):
            raise InvalidType(f"clock must be a function returning a datetime, not {clock!r}")
        self.consumer = consumer
        self.clock = clock
        self.crash = CrashSwitch(crash_at, skip=crash_skip, hard=hard_crash)
        self.crash.check_points(INBOX_CRASH_POINTS, "an inbox")
        self.handled = 0
        self.duplicates = 0

    @abstractmethod
    def handle(self, event: Event, handler: Callable[[Event, Any], Any]) -> bool:
        """Run ``handler(event, tx)`` unless ``event.id`` was handled; True if it ran now.

        ``tx`` is where the change goes so that it commits with the id (the backend says
        what it is). If the handler raises, nothing is kept and the error propagates.
        """

    @abstractmethod
    def seen(self, message_id: str) -> bool:
        """Whether ``message_id`` was handled by this consumer (and not purged)."""

    @abstractmethod
    def purge(self, older_than: float | timedelta) -> int:
        """Forget ids handled more than ``older_than`` seconds ago; return how many.

        An inbox only absorbs duplicates it still remembers: keep ids longer than the
        longest redelivery can take (a relay down for a day re-publishes a day's events).
        """

    @abstractmethod
    def __len__(self) -> int: ...

    def subscriber(self, handler: Callable[[Event, Any], Any]) -> Callable[[Event], bool]:
        """A one-argument function for ``bus.subscribe``: ``handle(event, handler)``."""
        if not callable(handler):
            raise InvalidType(f"an inbox subscriber needs a handler function, not {handler!r}")

        def deliver(event: Event) -> bool:
            return self.handle(event, handler)

        deliver.__name__ = getattr(handler, "__name__", "handler")
        deliver.__qualname__ = getattr(handler, "__qualname__", deliver.__name__)
        return deliver

    def _message_id(self, event: Event) -> str:
        if not isinstance(event, Event):
            raise InvalidType(f"an inbox handles Events, not {type(event).__name__}")
        return event.id


class InMemoryInbox(Inbox):
    """An inbox in memory. ``handler(event, state)`` changes a working copy of ``state``.

    ``state`` is a dict of JSON values (default ``{}``): the consumer's data, kept here so it
    can commit together with the ids. The handler gets a fresh deep copy; only when it
    returns does the copy become ``inbox.state`` and the id get recorded, in one step under a
    lock. If it raises, ``state`` is untouched. (The copy costs time proportional to the
    state: fine for a notebook, not for a big read model; that is what SQLite is for.)
    """

    def __init__(
        self,
        consumer: str,
        state: dict[str, Any] | None = None,
        *,
        crash_at: str | None = None,
        crash_skip: int = 0,
        clock: Callable[[], datetime] = clock_now,
    ) -> None:
        super().__init__(consumer, crash_at=crash_at, crash_skip=crash_skip, clock=clock)
        if state is not None and not isinstance(state, dict):
            raise InvalidType(f"state must be a dict of JSON values, not {type(state).__name__}")
        self.state: dict[str, Any] = thaw(freeze_json(state or {}, "state"))
        self._ids: dict[str, datetime] = {}
        self._lock = threading.RLock()

    def handle(self, event: Event, handler: Callable[[Event, Any], Any]) -> bool:
        """``handler(event, state_copy)`` once per event id; the copy replaces ``state``."""
        message_id = self._message_id(event)
        with self._lock:
            if message_id in self._ids:
                self.duplicates += 1
                return False
            working = thaw(self.state)
            self.crash.reached("before_handler")
            handler(event, working)
            self.crash.reached("after_handler")
            new_state = thaw(freeze_json(working, "state"))  # still JSON? (checked before commit)
            self.state = new_state
            self._ids[message_id] = self.clock()
            self.handled += 1
        self.crash.reached("after_commit")
        return True

    def seen(self, message_id: str) -> bool:
        with self._lock:
            return message_id in self._ids

    def purge(self, older_than: float | timedelta) -> int:
        cutoff = self.clock() - timedelta(seconds=check_seconds(older_than, "older_than"))
        with self._lock:
            old = [m for m, at in self._ids.items() if at < cutoff]
            for message_id in old:
                del self._ids[message_id]
        return len(old)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def __repr__(self) -> str:
        return (
            f"<InMemoryInbox {self.consumer!r}: {self.handled} handled, "
            f"{self.duplicates} duplicates skipped>"
        )


TABLE = "inbox"
_COLUMNS = ("consumer", "message_id", "handled_at")
_SCHEMA = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    consumer   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    PRIMARY KEY (consumer, message_id)
) WITHOUT ROWID"""


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class SQLiteInbox(Inbox):
    """An inbox table in the consumer's SQLite file. ``handler(event, conn)`` writes through
    ``conn``, the inbox's ``sqlite3.Connection``, inside the transaction that records the id.

    Put the consumer's own tables in the same file. The handler must not commit or roll back.
    ``timeout``: seconds to wait for another connection's write lock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        consumer: str,
        *,
        timeout: float = 30.0,
        crash_at: str | None = None,
        crash_skip: int = 0,
        hard_crash: bool = False,
        clock: Callable[[], datetime] = clock_now,
    ) -> None:
        super().__init__(
            consumer, crash_at=crash_at, crash_skip=crash_skip, hard_crash=hard_crash, clock=clock
        )
        self.timeout = check_seconds(timeout, "timeout")
        self.path = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
        self._conn = open_database(path, timeout=self.timeout, what="inbox")
        self._lock = threading.RLock()
        self._closed = False
        try:
            check_table(self._conn, TABLE, _COLUMNS, str(self.path), "inbox")
            self._conn.execute(_SCHEMA)
        except BaseException:
            self._conn.close()
            raise

    @property
    def connection(self) -> sqlite3.Connection:
        """The inbox's connection: read the consumer's tables through it."""
        self._check_open()
        return self._conn

    def handle(self, event: Event, handler: Callable[[Event, Any], Any]) -> bool:
        """``handler(event, conn)`` once per event id, in the transaction that records it."""
        message_id = self._message_id(event)
        with self._lock:
            self._check_open()
            conn = self._conn
            begin_write(conn, str(self.path), self.timeout)
            try:
                inserted = conn.execute(
                    f"INSERT OR IGNORE INTO {TABLE} (consumer, message_id, handled_at) "
                    "VALUES (?, ?, ?)",
                    (self.consumer, message_id, _text(self.clock())),
                ).rowcount
                if not inserted:
                    conn.execute("ROLLBACK")
                    self.duplicates += 1
                    return False
                self.crash.reached("before_handler")
                handler(event, conn)
                if not conn.in_transaction:
                    raise InvalidValue(
                        f"the handler of inbox {self.consumer!r} ended the transaction itself "
                        f"(COMMIT or ROLLBACK) while handling {event.type} {event.id}: its change "
                        "and the message id are no longer atomic. Let the inbox commit."
                    )
                self.crash.reached("after_handler")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self.handled += 1
        self.crash.reached("after_commit")
        return True

    def seen(self, message_id: str) -> bool:
        with self._lock:
            self._check_open()
            row = self._conn.execute(
                f"SELECT 1 FROM {TABLE} WHERE consumer = ? AND message_id = ?",
                (self.consumer, message_id),
            ).fetchone()
        return row is not None

    def purge(self, older_than: float | timedelta) -> int:
        cutoff = self.clock() - timedelta(seconds=check_seconds(older_than, "older_than"))
        with self._lock:
            self._check_open()
            begin_write(self._conn, str(self.path), self.timeout)
            try:
                count = self._conn.execute(
                    f"DELETE FROM {TABLE} WHERE consumer = ? AND handled_at < ?",
                    (self.consumer, _text(cutoff)),
                ).rowcount
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        return int(count)

    def __len__(self) -> int:
        with self._lock:
            self._check_open()
            return int(
                self._conn.execute(
                    f"SELECT count(*) FROM {TABLE} WHERE consumer = ?", (self.consumer,)
                ).fetchone()[0]
            )

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"the inbox {self.consumer!r} on {self.path!r} is closed")

    def close(self) -> None:
        """Close the file. Safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> SQLiteInbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<SQLiteInbox {self.consumer!r} in {os.path.basename(str(self.path))!r}: "
            f"{self.handled} handled, {self.duplicates} duplicates skipped>"
        )
