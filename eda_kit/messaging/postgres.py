"""The outbox relay and the inbox on PostgreSQL: several relays at once, ids in one transaction.

**PostgresRelay.** :class:`~eda_kit.messaging.relay.Relay` follows one checkpoint, so two
relays of one name would publish everything twice. On PostgreSQL several relay processes can
share the work safely with ``SELECT ... FOR UPDATE SKIP LOCKED``: each claims rows of a work
queue that no other relay holds, publishes them, and deletes them in the same transaction. The
events table stays the outbox (as for ``Relay``); the queue only says what is left to publish::

    eda_relay_feed   relay -> fed_up_to            -- how far the queue was filled from the log
    eda_relay_queue  (relay, position) -> stream   -- events not yet published by this relay

One round of :meth:`PostgresRelay.run`:

1. **Feed** (short, one relay at a time: ``FOR UPDATE`` on the feed row): copy the positions of
   new events from ``eda_events`` into the queue. Positions are handed out in commit order by
   ``PostgresEventStore``, so nothing can appear behind ``fed_up_to`` later.
2. **Claim**: ``SELECT ... ORDER BY position LIMIT n FOR UPDATE SKIP LOCKED``. Rows another
   relay holds are skipped, never waited for, never taken twice.
3. **Keep each stream in order.** Row-by-row skipping would let this relay publish order-A's
   3rd event while another relay still holds its 2nd. So a claimed row whose stream has an
   earlier row someone else holds is *held back* (it waits for a later round); held-back rows
   do not count towards the batch: the relay claims further rows, passing over the held-back
   streams, until it has ``n`` rows it may publish or nothing is left. (Notebook 08's exercise
   3 is this rule.)
4. **Publish** them in position order (``target.publish`` returns once the broker confirmed),
   then ``DELETE`` them and ``COMMIT``: crash points ``before_publish``, ``after_publish``,
   ``after_checkpoint`` (after the commit), as for ``Relay``.

A crash before the commit keeps the rows (the transaction rolls back and the locks go): the
next round publishes them again. At least once, never lost, never published by two relays at
the same moment, each stream in order.

**PostgresInbox.** The inbox of :mod:`eda_kit.messaging.inbox`, in a PostgreSQL schema: the
message id is inserted (``ON CONFLICT DO NOTHING``: a duplicate inserts nothing and is skipped)
in the transaction that runs the handler, which writes through the connection it is given.
Both commit together, or neither does.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..clock import now as clock_now
from ..errors import DatabaseUnavailable, InvalidType, InvalidValue, RelayStalled, StoreClosed
from ..events import Event, RecordedEvent
from ..store.base import events_from_rows
from ..store.postgres import PostgresEventStore, redact_url
from .crash import CrashSwitch
from .idempotency import check_seconds
from .inbox import Inbox
from .relay import RELAY_CRASH_POINTS, Publisher

__all__ = ["PostgresRelay", "PostgresInbox"]

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")


class PostgresRelay:
    """Publishes ``store``'s events to ``target``; run as many of one ``name`` as you like.

    - ``store``: a :class:`~eda_kit.store.postgres.PostgresEventStore` (the outbox).
    - ``target``: anything with ``publish(event)`` that returns once the event is handed over
      (a ``RabbitMQBus``, an ``EventBus``) and raises when it was not.
    - ``name``: the relay's work queue; relays with one name share it, other names get every
      event too (one queue each).
    - ``batch_size``: rows claimed per round. ``crash_at`` / ``crash_skip`` / ``hard_crash``:
      a :class:`~eda_kit.messaging.crash.CrashSwitch` (points as for ``Relay``).

    The relay uses its own connection (a round holds its transaction open while publishing).
    """

    def __init__(
        self,
        store: PostgresEventStore,
        target: Publisher,
        *,
        name: str = "relay",
        batch_size: int = 100,
        crash_at: str | None = None,
        crash_skip: int = 0,
        hard_crash: bool = False,
    ) -> None:
        if not isinstance(store, PostgresEventStore):
            raise InvalidType(f"a PostgresRelay reads a PostgresEventStore, not {store!r}")
        if not callable(getattr(target, "publish", None)):
            raise InvalidType(f"a relay publishes to something with publish(event), not {target!r}")
        if not isinstance(name, str) or not name.strip():
            raise InvalidValue(f"a relay needs a non-empty name, not {name!r}")
        if type(batch_size) is not int or batch_size < 1:
            raise InvalidValue(f"batch_size must be an int >= 1, not {batch_size!r}")
        self.store = store
        self.target = target
        self.name = name
        self.batch_size = batch_size
        self.crash = CrashSwitch(crash_at, skip=crash_skip, hard=hard_crash)
        self.crash.check_points(RELAY_CRASH_POINTS, "a relay")
        self.published = 0
        #: Rows of the last round left for later: another relay holds an earlier row of
        #: their stream.
        self.waiting = 0
        import psycopg  # present: the store needs it too

        self._psycopg = psycopg
        s = f'"{store.schema}"'
        self._sql: dict[str, Any] = {
            "tables": [
                f"""CREATE TABLE IF NOT EXISTS {s}.eda_relay_feed (
                    relay TEXT PRIMARY KEY, fed_up_to BIGINT NOT NULL)""",
                f"""CREATE TABLE IF NOT EXISTS {s}.eda_relay_queue (
                    relay TEXT NOT NULL, position BIGINT NOT NULL, stream_id TEXT NOT NULL,
                    PRIMARY KEY (relay, position))""",
            ],
            "feed_row": f"INSERT INTO {s}.eda_relay_feed VALUES (%s, 0) ON CONFLICT DO NOTHING",
            "lock_feed": f"SELECT fed_up_to FROM {s}.eda_relay_feed WHERE relay = %s FOR UPDATE",
            "feed": f"""INSERT INTO {s}.eda_relay_queue (relay, position, stream_id)
                SELECT %s, position, stream_id FROM {s}.eda_events
                WHERE position > %s ORDER BY position""",
            "fed": f"""UPDATE {s}.eda_relay_feed SET fed_up_to =
                (SELECT coalesce(max(position), %s) FROM {s}.eda_events) WHERE relay = %s""",
            "claim": f"""SELECT position, stream_id FROM {s}.eda_relay_queue
                WHERE relay = %s AND position > %s AND NOT (stream_id = ANY(%s::text[]))
                ORDER BY position LIMIT %s FOR UPDATE SKIP LOCKED""",
            "streams": f"""SELECT position, stream_id FROM {s}.eda_relay_queue
                WHERE relay = %s AND stream_id = ANY(%s::text[]) AND position <= %s
                ORDER BY position""",
            "events": f"""SELECT position, stream_id, version, type, data, metadata, id, time
                FROM {s}.eda_events WHERE position = ANY(%s) ORDER BY position""",
            "done": f"DELETE FROM {s}.eda_relay_queue WHERE relay = %s AND position = ANY(%s)",
            "pending": f"""SELECT count(*) FROM {s}.eda_relay_queue WHERE relay = %s""",
            "unfed": f"""SELECT count(*) FROM {s}.eda_events WHERE position >
                coalesce((SELECT fed_up_to FROM {s}.eda_relay_feed WHERE relay = %s), 0)""",
        }
        self._conn = store.new_connection("relay")
        try:
            with self._conn.transaction():
                self._conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))",
                    (f"eda_kit relay {store.schema}",),
                )
                for statement in self._sql["tables"]:
                    self._conn.execute(statement)
        except BaseException:
            self._conn.close()
            raise

    def pending(self) -> int:
        """How many events this relay's name has not published yet."""
        conn = self._conn
        queued = conn.execute(self._sql["pending"], (self.name,)).fetchone()
        unfed = conn.execute(self._sql["unfed"], (self.name,)).fetchone()
        return int(queued[0] if queued else 0) + int(unfed[0] if unfed else 0)

    def _feed(self) -> None:
        conn = self._conn
        with conn.transaction():
            conn.execute(self._sql["feed_row"], (self.name,))
            row = conn.execute(self._sql["lock_feed"], (self.name,)).fetchone()
            fed = int(row[0]) if row else 0
            conn.execute(self._sql["feed"], (self.name, fed))
            conn.execute(self._sql["fed"], (fed, self.name))

    def run_once(self, limit: int | None = None) -> int:
        """One round: feed, claim (at most ``limit``), publish what keeps each stream in order;
        return how many went out."""
        psycopg = self._psycopg
        try:
            self._feed()
            with self._conn.transaction():
                ready, mine = self._claim(
                    self.batch_size if limit is None else min(self.batch_size, limit)
                )
                self.waiting = len(mine) - len(ready)
                if not ready:
                    return 0
                rows = self._conn.execute(self._sql["events"], (ready,)).fetchall()
                for event in events_from_rows(rows):
                    self._publish(event)
                self._conn.execute(self._sql["done"], (self.name, ready))
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable(
                f"relay {self.name!r} on {redact_url(self.store.url)}: {error}"
            ) from error
        self.crash.reached("after_checkpoint")
        return len(ready)

    def _claim(self, want: int) -> tuple[list[int], set[int]]:
        """Claim rows (``SKIP LOCKED``, position order) until ``want`` of them may be published.

        A claimed row whose stream has an earlier row that this relay does not hold (another
        relay holds it) is held back: it stays locked until the commit but does not count
        towards ``want``, and later rows of its stream are not claimed. Returns the positions
        to publish, in order, and every position claimed."""
        ready: list[int] = []
        mine: set[int] = set()
        held_back: set[str] = set()  # streams with an earlier row another relay holds
        after = 0
        while len(ready) < want:
            claimed = self._conn.execute(
                self._sql["claim"], (self.name, after, sorted(held_back), want - len(ready))
            ).fetchall()
            if not claimed:
                break
            new = {position for position, _ in claimed}
            mine |= new
            after = claimed[-1][0]
            streams = sorted({stream for _, stream in claimed})
            for position, stream in self._conn.execute(
                self._sql["streams"], (self.name, streams, after)
            ).fetchall():
                if position not in mine:
                    held_back.add(stream)  # another relay holds an earlier row of it
                elif position in new and stream not in held_back:
                    ready.append(position)
        return ready, mine

    def _publish(self, event: RecordedEvent) -> None:
        self.crash.reached("before_publish")
        try:
            self.target.publish(event)
        except Exception as error:
            raise RelayStalled(self.name, event, error) from error
        self.published += 1
        self.crash.reached("after_publish")

    def run(self, limit: int | None = None) -> int:
        """Rounds until nothing is left to publish now (or ``limit`` events went out)."""
        if limit is not None and (type(limit) is not int or limit < 0):
            raise InvalidValue(f"limit must be None or an int >= 0, not {limit!r}")
        done = 0
        while limit is None or done < limit:
            sent = self.run_once(None if limit is None else limit - done)
            done += sent
            if not sent and not self.waiting:
                break  # nothing left
            if not sent:
                time.sleep(0.01)  # only rows behind another relay's: let it finish them
        return done

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> PostgresRelay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PostgresRelay {self.name!r}: {self.published} published>"


class PostgresInbox(Inbox):
    """An inbox table in a PostgreSQL schema. ``handler(event, conn)`` writes through ``conn``
    (a psycopg connection) inside the transaction that records the id; it must not commit.

    Put the consumer's own tables in the same database (any schema), so they share the
    transaction.
    """

    def __init__(
        self,
        url: str,
        consumer: str,
        *,
        schema: str = "public",
        crash_at: str | None = None,
        crash_skip: int = 0,
        hard_crash: bool = False,
        clock: Callable[[], datetime] = clock_now,
    ) -> None:
        super().__init__(
            consumer, crash_at=crash_at, crash_skip=crash_skip, hard_crash=hard_crash, clock=clock
        )
        try:
            import psycopg
        except ImportError as error:  # pragma: no cover  (the extra is missing)
            raise ImportError(
                'PostgresInbox needs psycopg 3: pip install "eda_kit[postgres]"'
            ) from error
        if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
            raise InvalidValue(f"schema must be lowercase letters, digits and '_', not {schema!r}")
        self._psycopg = psycopg
        self.url = url
        self.schema = schema
        self._table = f'"{schema}".eda_inbox'
        self._lock = threading.RLock()
        self._closed = False
        try:
            self._conn = psycopg.connect(url, autocommit=True, application_name="eda_kit inbox")
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable(
                f"inbox {consumer!r} on {redact_url(url)}: could not connect: {error}"
            ) from error
        with self._conn.transaction():
            self._conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"eda_kit inbox {schema}",)
            )
            self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self._conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {self._table} (
                    consumer TEXT NOT NULL, message_id TEXT NOT NULL,
                    handled_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (consumer, message_id))"""
            )

    @property
    def connection(self) -> Any:
        """The inbox's connection (read the consumer's tables through it)."""
        self._check_open()
        return self._conn

    def handle(self, event: Event, handler: Callable[[Event, Any], Any]) -> bool:
        """``handler(event, conn)`` once per event id, in the transaction that records it."""
        message_id = self._message_id(event)
        with self._lock:
            self._check_open()
            conn = self._conn
            with conn.transaction():
                inserted = conn.execute(
                    f"INSERT INTO {self._table} VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (self.consumer, message_id, self.clock()),
                ).rowcount
                if not inserted:
                    self.duplicates += 1
                    return False
                self.crash.reached("before_handler")
                handler(event, conn)
                self.crash.reached("after_handler")
            self.handled += 1
        self.crash.reached("after_commit")
        return True

    def seen(self, message_id: str) -> bool:
        with self._lock:
            self._check_open()
            row = self._conn.execute(
                f"SELECT 1 FROM {self._table} WHERE consumer = %s AND message_id = %s",
                (self.consumer, message_id),
            ).fetchone()
        return row is not None

    def purge(self, older_than: float | timedelta) -> int:
        seconds = (
            older_than.total_seconds()
            if isinstance(older_than, timedelta)
            else check_seconds(older_than, "older_than")
        )
        with self._lock:
            self._check_open()
            return int(
                self._conn.execute(
                    f"DELETE FROM {self._table} WHERE consumer = %s AND handled_at < %s",
                    (self.consumer, self.clock() - timedelta(seconds=seconds)),
                ).rowcount
            )

    def __len__(self) -> int:
        with self._lock:
            self._check_open()
            row = self._conn.execute(
                f"SELECT count(*) FROM {self._table} WHERE consumer = %s", (self.consumer,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"inbox {self.consumer!r} is closed")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> PostgresInbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PostgresInbox {self.consumer!r}: {self.handled} handled, {self.duplicates} dup>"
