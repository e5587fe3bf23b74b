"""``SQLiteIdempotencyStore``: idempotency keys in a SQLite file, shared by processes.

The rules are :class:`~eda_kit.messaging.idempotency.IdempotencyStore`'s; this module only
keeps them in a table, usually in the service's own database file::

    idempotency_keys   key PRIMARY KEY, state ('running' | 'succeeded' | 'failed'),
                       fingerprint, request, owner, token,
                       claimed_at, expires_at, finished_at,   -- UTC, fixed-width ISO text
                       result (JSON), error_type, error_message

A claim is one short transaction (``BEGIN IMMEDIATE``: look the key up, insert "running",
``COMMIT``), so two processes can never both claim a key: SQLite's write lock puts one after
the other, and the second finds the first's row. The work then runs *outside* any
transaction, and a second short transaction records its outcome. If the process is killed
in between, the committed "running" row stays: the key is in doubt (see the rules).

**The transactional form** closes that gap when the work is a change in the same database::

    store = SQLiteIdempotencyStore("payments.db")

    def record_payment(conn, order_id, amount):          # conn: inside the store's transaction
        conn.execute("INSERT INTO payments VALUES (?, ?)", (order_id, amount))
        return {"payment_id": f"pay-{order_id}"}

    store.run_in_transaction("order-A1/pay", record_payment, "A1", 30)

Claim, change and outcome commit together: a ``kill -9`` anywhere before ``COMMIT`` leaves
neither the payment nor the key, and the retry simply runs. A concurrent call with the key
waits on SQLite's write lock (up to ``timeout``), then finds the outcome and replays it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..clock import now as clock_now
from ..errors import IdempotencyKeyInUse, InvalidType, InvalidValue, NotJSON, StoreClosed
from ..payloads import freeze_trusted
from .idempotency import (
    DEFAULT_TTL,
    Claim,
    IdempotencyRecord,
    IdempotencyStore,
    State,
    check_key,
    check_seconds,
    json_text,
)
from .sqlite_db import begin_write, check_table, open_database, storage_error

__all__ = ["SQLiteIdempotencyStore"]

TABLE = "idempotency_keys"
_COLUMNS = (
    "key",
    "state",
    "fingerprint",
    "request",
    "owner",
    "token",
    "claimed_at",
    "expires_at",
    "finished_at",
    "result",
    "error_type",
    "error_message",
)
_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        key           TEXT PRIMARY KEY,
        state         TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
        fingerprint   TEXT NOT NULL,
        request       TEXT NOT NULL,
        owner         TEXT NOT NULL,
        token         TEXT NOT NULL,
        claimed_at    TEXT NOT NULL,
        expires_at    TEXT NOT NULL,
        finished_at   TEXT,
        result        TEXT,
        error_type    TEXT,
        error_message TEXT
    ) WITHOUT ROWID""",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_running ON {TABLE} (claimed_at) WHERE state = 'running'",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM {TABLE}"
_INSERT = (
    f"INSERT OR REPLACE INTO {TABLE} (key, state, fingerprint, request, owner, token, "
    "claimed_at, expires_at) VALUES (?, 'running', ?, ?, ?, ?, ?, ?)"
)
_FINISH = (
    f"UPDATE {TABLE} SET state = ?, finished_at = ?, result = ?, error_type = ?, "
    "error_message = ? WHERE key = ? AND token = ?"
)


def _text(moment: datetime) -> str:
    """UTC, fixed width (always with microseconds), so text order is time order in SQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _record(row: tuple[Any, ...]) -> tuple[IdempotencyRecord, str]:
    (key, state, fingerprint, request, owner, _token, claimed, expires, finished, result) = row[:10]
    record = IdempotencyRecord(
        key=key,
        state=state,
        request=request,
        owner=owner,
        claimed_at=datetime.fromisoformat(claimed),
        expires_at=datetime.fromisoformat(expires),
        finished_at=None if finished is None else datetime.fromisoformat(finished),
        result=None if result is None else freeze_trusted(json.loads(result)),
        error_type=row[10],
        error_message=row[11],
    )
    return record, fingerprint


class SQLiteIdempotencyStore(IdempotencyStore):
    """Idempotency keys in the SQLite file ``path`` (created if missing), safe across processes.

    ``ttl``, ``owner`` and ``clock`` as in :class:`IdempotencyStore`; ``timeout``: seconds
    to wait for another connection's write lock. Put it in the same file as the data its
    work changes to use :meth:`run_in_transaction`. Use it as a context manager, or
    ``close()`` it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ttl: float | timedelta = DEFAULT_TTL,
        owner: str | None = None,
        clock: Callable[[], datetime] = clock_now,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(ttl=ttl, owner=owner, clock=clock)
        self.timeout = check_seconds(timeout, "timeout")
        self._conn = open_database(path, timeout=self.timeout, what="idempotency store")
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._closed = False
        try:
            check_table(self._conn, TABLE, _COLUMNS, self.path, "idempotency store")
            begin_write(self._conn, self.path, self.timeout)
            for statement in _SCHEMA:
                self._conn.execute(statement)
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._conn.close()
            raise

    @property
    def connection(self) -> sqlite3.Connection:
        """The store's connection to its file: create and read the service's own tables
        through it (writes belong inside :meth:`run_in_transaction`)."""
        self._check_open()
        return self._conn

    # --- the transactional form ---------------------------------------------------------

    def run_in_transaction(
        self,
        key: str,
        fn: Callable[..., Any],
        /,
        *args: Any,
        request: Any = None,
        wait: float = 0,
        release_on: tuple[type[BaseException], ...] = (),
        **kwargs: Any,
    ) -> Any:
        """Like ``run``, but ``fn(conn, *args, **kwargs)`` runs inside the claim's transaction.

        ``conn`` is this store's ``sqlite3.Connection``, in an open write transaction: make
        the local change through it, and do not commit or roll back yourself. The claim, the
        change and the outcome are committed together:

        - ``fn`` returns: change and result commit at once.
        - ``fn`` raises: its change is rolled back (to a savepoint) and the error is recorded
          (replayed later as ``ReplayedFailure``), unless its type is in ``release_on``: then
          nothing at all is kept.
        - the process dies (or a ``SimulatedCrash``): nothing is kept, not even the claim; a
          retry runs ``fn`` as if for the first time.

        A key claimed by a plain ``run`` elsewhere and still running is refused (or waited
        for) exactly as in ``run``.
        """
        key = check_key(key)
        if not callable(fn):
            raise InvalidType(f"run_in_transaction() needs a function to call, got {fn!r}")
        wait = check_seconds(wait, "wait")
        claim = self._new_claim(key, self._request_text(request, args, kwargs))
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                self._check_open()
                outcome = self._attempt_in_transaction(claim, fn, args, kwargs, release_on)
            if outcome is not None:
                return outcome[0]
            if time.monotonic() >= deadline:
                record = self._load(key)
                if record is None:  # released meanwhile: try once more
                    continue
                raise IdempotencyKeyInUse(key, record.owner, record.claimed_at, record.expires_at)
            time.sleep(0.02)

    def _attempt_in_transaction(
        self,
        claim: Claim,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        release_on: tuple[type[BaseException], ...],
    ) -> tuple[Any] | None:
        """One try: (result,) when done or replayed; None when the key is running elsewhere."""
        conn = self._conn
        begin_write(conn, self.path, self.timeout)
        try:
            row = conn.execute(f"{_SELECT} WHERE key = ?", (claim.key,)).fetchone()
            if row is not None and row[7] > _text(claim.claimed_at):
                record, fingerprint = _record(row)
                conn.execute("ROLLBACK")
                if not self._check_found(claim, record, fingerprint):
                    return None  # running elsewhere
                return (self._replay(record),)
            self._insert(claim)
            conn.execute("SAVEPOINT work")
            try:
                result = fn(conn, *args, **kwargs)
            except release_on:
                conn.execute("ROLLBACK")
                raise
            except Exception as error:
                self._record_failure_in_transaction(claim, error)
                raise
            if not conn.in_transaction:
                raise InvalidValue(
                    f"the function given to run_in_transaction ended the transaction itself "
                    f"(COMMIT or ROLLBACK); key {claim.key!r}: its change and the key are no "
                    "longer atomic. Let the store commit."
                )
            try:
                text = json_text(result, "result", canonical=False)
            except NotJSON as error:
                self._record_failure_in_transaction(claim, error)
                raise
            conn.execute("RELEASE work")
            conn.execute(
                _FINISH,
                ("succeeded", _text(self.clock()), text, None, None, claim.key, claim.token),
            )
            conn.execute("COMMIT")
            return (json.loads(text),)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _record_failure_in_transaction(self, claim: Claim, error: Exception) -> None:
        """Undo ``fn``'s change, keep the claim, record the error, commit."""
        conn = self._conn
        if not conn.in_transaction:
            return  # fn ended the transaction: nothing can be recorded atomically
        try:
            conn.execute("ROLLBACK TO work")
            conn.execute("RELEASE work")
            conn.execute(
                _FINISH,
                (
                    "failed",
                    _text(self.clock()),
                    None,
                    type(error).__name__,
                    str(error),
                    claim.key,
                    claim.token,
                ),
            )
            conn.execute("COMMIT")
        except sqlite3.Error:
            # The database itself failed (disk full...): keep nothing, let fn's error out.
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    # --- storage steps --------------------------------------------------------------------

    def _insert(self, claim: Claim) -> None:
        self._conn.execute(
            _INSERT,
            (
                claim.key,
                claim.fingerprint,
                claim.request,
                claim.owner,
                claim.token,
                _text(claim.claimed_at),
                _text(claim.expires_at),
            ),
        )

    def _write(self, action: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``action`` in one write transaction (with the lock), translating errors."""
        with self._lock:
            self._check_open()
            conn = self._conn
            begin_write(conn, self.path, self.timeout)
            try:
                result = action(conn)
                conn.execute("COMMIT")
                return result
            except sqlite3.Error as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise storage_error(error, self.path) from error
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _claim(self, claim: Claim) -> tuple[IdempotencyRecord, str] | None:
        def claim_it(conn: sqlite3.Connection) -> tuple[IdempotencyRecord, str] | None:
            row = conn.execute(f"{_SELECT} WHERE key = ?", (claim.key,)).fetchone()
            if row is not None and row[7] > _text(claim.claimed_at):
                return _record(row)
            self._insert(claim)
            return None

        return self._write(claim_it)

    def _finish(
        self,
        claim: Claim,
        state: State,
        result: str | None,
        error_type: str | None,
        error_message: str | None,
    ) -> None:
        finished_at = _text(self.clock())
        self._write(
            lambda conn: conn.execute(
                _FINISH,
                (state, finished_at, result, error_type, error_message, claim.key, claim.token),
            )
        )

    def _release_claim(self, claim: Claim) -> None:
        self._write(
            lambda conn: conn.execute(
                f"DELETE FROM {TABLE} WHERE key = ? AND token = ?", (claim.key, claim.token)
            )
        )

    def _load(self, key: str) -> IdempotencyRecord | None:
        with self._lock:
            self._check_open()
            row = self._conn.execute(f"{_SELECT} WHERE key = ?", (key,)).fetchone()
        return None if row is None else _record(row)[0]

    def _delete(self, key: str) -> bool:
        cursor = self._write(
            lambda conn: conn.execute(f"DELETE FROM {TABLE} WHERE key = ?", (key,))
        )
        return bool(cursor.rowcount)

    def _running(self) -> list[IdempotencyRecord]:
        with self._lock:
            self._check_open()
            rows = self._conn.execute(
                f"{_SELECT} WHERE state = 'running' ORDER BY claimed_at"
            ).fetchall()
        return [_record(row)[0] for row in rows]

    def _purge(self, moment: datetime) -> int:
        cursor = self._write(
            lambda conn: conn.execute(
                f"DELETE FROM {TABLE} WHERE expires_at <= ?", (_text(moment),)
            )
        )
        return int(cursor.rowcount)

    def _wait_for_outcome(self, key: str, timeout: float) -> None:
        time.sleep(timeout)  # another process may finish it: look again shortly

    def __len__(self) -> int:
        with self._lock:
            self._check_open()
            return int(self._conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])

    # --- lifetime ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"the idempotency store on {self.path!r} is closed")

    def close(self) -> None:
        """Close the file. Safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> SQLiteIdempotencyStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed:
            return f"<SQLiteIdempotencyStore {os.path.basename(self.path)!r}: closed>"
        return (
            f"<SQLiteIdempotencyStore {os.path.basename(self.path)!r}: {len(self)} keys, "
            f"{self.replays} replays>"
        )
